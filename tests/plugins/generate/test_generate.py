"""The synthetic generator: files land as the contract says, clean data is clean, the planted
truth is really in the data, and the planted defects are where defects.json says."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from telco_mart.contract import Feed, load_contract
from telco_mart.generate import DEFAULT_SETTINGS, GROUPS, NOT_GENERATED, GroupShares, generate
from telco_mart.generate.common import day_number
from telco_mart.generate.dynamics import month_of_completing
from telco_mart.generate.network import build_network
from telco_mart.generate.population import build_population
from telco_mart.generate.writer import arrow_schema

CONTRACT = load_contract()
GENERATED_FEEDS = [feed for feed in CONTRACT.feeds.values() if feed.name not in NOT_GENERATED]
START = dt.date(2026, 1, 1)
#: The long clean run: five months, so churners' declines, degradations and bills all show.
CLEAN = {
    "subscribers": 800,
    "start": START,
    "end": dt.date(2026, 5, 31),
    "seed": 7,
    "events_per_sub_day": 4.0,
}
#: Short runs for byte comparisons; they cross a month end so a bill file is in them.
SMALL = {"subscribers": 250, "start": dt.date(2026, 1, 1), "end": dt.date(2026, 2, 2), "seed": 11}


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _feed_glob(out: Path, feed: str, fmt: str = "csv") -> str:
    return str(out / feed / "*" / f"{feed}_*.{fmt}")


def _read(con: duckdb.DuckDBPyConnection, out: Path, feed: Feed, fmt: str = "csv") -> duckdb.DuckDBPyRelation:
    """A feed's files as one typed relation with its delivery date; CSV parsing is strict, so
    an unparseable value fails the read."""
    if fmt == "parquet":
        source = f"read_parquet('{_feed_glob(out, feed.name, fmt)}', filename = true)"
    else:
        columns = ", ".join(f"'{c.name}': '{c.duckdb_type}'" for c in feed.columns)
        source = (
            f"read_csv('{_feed_glob(out, feed.name)}', header = true, auto_detect = false, delim = ',', "
            f"quote = '\"', nullstr = '', columns = {{{columns}}}, dateformat = '%Y-%m-%d', "
            f"timestampformat = '%Y-%m-%d %H:%M:%S', filename = true)"
        )
    names = ", ".join(feed.column_names)
    return con.sql(
        f"select {names}, cast(regexp_extract(filename, '(\\d{{4}}-\\d{{2}}-\\d{{2}})', 1) as date) "
        f"as delivery_date from {source}"
    )


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    lines: list[str] = []
    summary = generate(out=out, fmt="csv", log=lines.append, **CLEAN)
    assert summary.out == out
    assert any(line.startswith("day 2026-03-01:") for line in lines)
    assert summary.files_written == sum(1 for p in out.rglob("*.csv") if "_truth" not in p.parts)
    assert summary.rows_per_feed["usage_events"] > 0
    return out


@pytest.fixture(scope="module")
def con(clean: Path) -> duckdb.DuckDBPyConnection:
    """The clean run's feeds and truth files as DuckDB tables, each file read once."""
    connection = duckdb.connect()
    for feed in GENERATED_FEEDS:
        _read(connection, clean, feed).create(feed.name)
    for name in ("subscriber_profiles", "subscriber_groups", "degraded_cells"):
        connection.sql(f"create table {name} as select * from '{clean / '_truth' / name}.parquet'")
    return connection


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small_csv")
    generate(out=out, fmt="csv", **SMALL)
    return out


@pytest.fixture(scope="module")
def defects_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("defects")
    generate(subscribers=400, start=START, end=START + dt.timedelta(days=4), seed=3, out=out, defects=True)
    return out


# --- files and determinism ------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(small_csv: Path, tmp_path: Path) -> None:
    generate(out=tmp_path, fmt="csv", **SMALL)
    assert _files(tmp_path) == _files(small_csv)


def test_another_seed_gives_other_data(small_csv: Path, tmp_path: Path) -> None:
    generate(out=tmp_path, fmt="csv", **{**SMALL, "seed": SMALL["seed"] + 1})
    usage = "usage_events/2026-01-05/usage_events_2026-01-05.csv"
    assert (tmp_path / usage).read_bytes() != (small_csv / usage).read_bytes()
    plans = "plans/2026-01-05/plans_2026-01-05.csv"
    assert (tmp_path / plans).read_bytes() == (small_csv / plans).read_bytes()  # the catalog is fixed


def test_feeds_land_daily_with_the_contract_columns_in_order(small_csv: Path) -> None:
    """Every file has the contract header. A feed is delivered every day its cadence makes it
    due, header-only when it has nothing to say (a real extract job's empty delivery); on
    other days (an on-change feed without changes) it has no file."""
    days = {SMALL["start"] + dt.timedelta(days=n) for n in range((SMALL["end"] - SMALL["start"]).days + 1)}
    header_only = 0
    for feed in CONTRACT.feeds.values():
        if feed.name in NOT_GENERATED:
            assert not (small_csv / feed.name).exists(), feed.name
            continue
        files = sorted((small_csv / feed.name).glob("*/*.csv"))
        assert files, f"{feed.name} never delivered"
        for path in files:
            assert path.name == f"{feed.name}_{path.parent.name}.csv"
            lines = path.read_text(encoding="utf-8").split("\n")
            assert lines[0] == ",".join(feed.column_names), path
            assert len(lines) >= 2 and lines[-1] == "", f"{path} lacks the final newline"
            if len(lines) == 2:
                header_only += 1
                assert feed.is_due(dt.date.fromisoformat(path.parent.name)), f"{path}: an empty file on a day not due"
        delivered = {dt.date.fromisoformat(p.name) for p in (small_csv / feed.name).iterdir()}
        assert {d for d in days if feed.is_due(d)} <= delivered, f"{feed.name} missed a day it is due"
    assert header_only, "the small world has quiet days (no NPS answer, no opt-out): they deliver header-only files"
    for feed in ("plans", "usage_events", "cell_kpis_daily", "contact_history", "opt_outs"):
        assert {dt.date.fromisoformat(p.name) for p in (small_csv / feed).iterdir()} == days, feed
    # the first cycle day bills nothing (the world has no month before it); the next bills January
    assert sorted(p.name for p in (small_csv / "bills").iterdir()) == ["2026-01-01", "2026-02-01"]
    assert {p.name for p in small_csv.iterdir()} == {*CONTRACT.feeds, "_truth"} - NOT_GENERATED


def test_csv_layout_is_plain(small_csv: Path) -> None:
    text = (small_csv / "subscribers" / "2026-01-01" / "subscribers_2026-01-01.csv").read_text(encoding="utf-8")
    assert "\r" not in text and '"' not in text
    row = next(csv.DictReader(text.splitlines()))
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["activation_date"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", row["updated_at"])
    assert row["contact_number_valid"] in {"true", "false"}
    assert row["port_out_requested_at"] == ""


def test_parquet_has_contract_types_and_the_same_data_as_csv(small_csv: Path, tmp_path: Path) -> None:
    parquet, again = tmp_path / "parquet", tmp_path / "again"
    generate(out=parquet, fmt="parquet", **SMALL)
    generate(out=again, fmt="parquet", **SMALL)
    assert _files(parquet) == _files(again)
    connection = duckdb.connect()
    for feed in GENERATED_FEEDS:
        some_file = next((parquet / feed.name).rglob("*.parquet"))
        assert pq.read_schema(some_file).remove_metadata() == arrow_schema(feed, "parquet")
        csv_rel = _read(connection, small_csv, feed)
        parquet_rel = _read(connection, parquet, feed, "parquet")
        assert csv_rel.count("*").fetchall()[0] == parquet_rel.count("*").fetchall()[0], feed.name
        assert csv_rel.except_(parquet_rel).count("*").fetchall()[0] == (0,), feed.name
        assert parquet_rel.except_(csv_rel).count("*").fetchall()[0] == (0,), feed.name


def test_a_day_larger_than_a_usage_block_lands_in_part_files(small_csv: Path, tmp_path: Path) -> None:
    """What keeps a province-size day in memory: usage drawn and written a block of
    subscribers at a time, one file per block, every other feed unchanged."""
    generate(out=tmp_path, fmt="csv", usage_block_subscribers=60, **SMALL)
    connection = duckdb.connect()
    day = SMALL["end"]
    day_files = sorted((tmp_path / "usage_events" / day.isoformat()).iterdir())
    assert len(day_files) > 2
    assert [p.name for p in day_files] == [f"usage_events_{day}_part{k:02d}.csv" for k in range(1, len(day_files) + 1)]
    parts = [
        connection.read_csv(str(p), all_varchar=True).select("event_id, subscriber_id, event_ts").fetchall()
        for p in day_files
    ]
    for rows in parts:
        assert [r[2] for r in rows] == sorted(r[2] for r in rows), "each part is in time order"
    ids = [r[0] for rows in parts for r in rows]
    stamp = day.strftime("%Y%m%d")
    assert ids == [f"EV{stamp}{n:09d}" for n in range(1, len(ids) + 1)], "ids run on across parts"
    subscribers_per_part = [{r[1] for r in rows} for rows in parts]
    assert sum(map(len, subscribers_per_part)) == len(set().union(*subscribers_per_part)), (
        "a subscriber's events are in one part"
    )
    # Same day drawn in one block: about as many events (the day's rate is set over the whole
    # base, not per block), and every feed not drawn from usage byte for byte the same.
    unblocked = connection.read_csv(
        str(small_csv / "usage_events" / day.isoformat() / f"usage_events_{day}.csv"), all_varchar=True
    )
    assert len(ids) == pytest.approx(unblocked.count("*").fetchall()[0][0], rel=0.15)
    from_usage = ("usage_events/", "bills/")
    assert {k: v for k, v in _files(tmp_path).items() if not k.startswith(from_usage)} == {
        k: v for k, v in _files(small_csv).items() if not k.startswith(from_usage)
    }


def test_truth_files(clean: Path) -> None:
    truth = clean / "_truth"
    profiles = pq.read_table(truth / "subscriber_profiles.parquet")
    assert profiles.column_names[:10] == [
        "subscriber_id",
        "planted_group",
        "payment_type",
        "activation_date",
        "is_churner",
        "churn_date",
        "decline_from",
        "has_broadband_at_start",
        "home_cell_id",
        "region",
    ]
    assert "age_band" in profiles.column_names
    assert pq.read_table(truth / "subscriber_groups.parquet").column_names == [
        "subscriber_id",
        "planted_group",
        "valid_from",
        "valid_to",
    ]
    assert pq.read_table(truth / "degraded_cells.parquet").column_names == [
        "cell_id",
        "degraded_from",
        "repaired_on",
    ]
    generation = json.loads((truth / "generation.json").read_text())
    assert generation["arguments"]["seed"] == CLEAN["seed"]
    assert generation["settings"]["shares"]["noise"] == DEFAULT_SETTINGS.shares.noise
    assert generation["steady_state"]["gross_adds_mix"]["high_value_long_tenure"] == 0
    assert not (truth / "defects.json").exists()


def test_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="csv"):
        generate(
            subscribers=10,
            start=START,
            end=START + dt.timedelta(days=5),
            seed=1,
            out=tmp_path,
            fmt="parquet",
            defects=True,
        )
    with pytest.raises(ValueError, match="before"):
        generate(subscribers=10, start=START, end=START - dt.timedelta(days=1), seed=1, out=tmp_path)
    with pytest.raises(ValueError, match="at least"):
        generate(subscribers=10, start=START, end=START, seed=1, out=tmp_path, defects=True)


# --- clean data satisfies the contract -------------------------------------------------------


def test_clean_data_satisfies_the_contract(con: duckdb.DuckDBPyConnection) -> None:
    first_seen = {
        "subscribers": "select subscriber_id as k, min(delivery_date) as since from subscribers group by 1",
        "cells": "select cell_id as k, min(delivery_date) as since from cells group by 1",
        "plans": "select plan_id as k, min(delivery_date) as since from plans group by 1",
    }
    for feed in GENERATED_FEEDS:
        rows = con.sql(f"select count(*) from {feed.name}").fetchall()[0][0]
        assert rows > 0, f"{feed.name} is empty"
        key = ", ".join(feed.key)
        distinct = con.sql(f"select count(*) from (select distinct {key} from {feed.name})").fetchall()[0][0]
        if feed.kind != "snapshot":
            assert distinct == rows, f"{feed.name}: duplicate key ({key})"
        for col in feed.columns:
            checks = []
            if col.required:
                checks.append(f"{col.name} is null")
            if col.min is not None:
                checks.append(f"{col.name} < {col.min}")
            if col.max is not None:
                checks.append(f"{col.name} > {col.max}")
            if col.values:
                listed = ", ".join(f"'{v}'" for v in col.values)
                checks.append(f"{col.name} not in ({listed})")
            if col.references:
                checks.append(
                    f"not exists (select 1 from ({first_seen[col.references]}) r "
                    f"where r.k = {feed.name}.{col.name} and r.since <= {feed.name}.delivery_date)"
                )
            for check in checks:
                bad = con.sql(f"select count(*) from {feed.name} where {check}").fetchall()[0][0]
                assert bad == 0, f"{feed.name}: {bad} rows where {check}"


def test_consistency_inside_rows(con: duckdb.DuckDBPyConnection) -> None:
    assert con.sql("""
        select count(*) from cell_kpis_daily
        where rsrp_good_measurements > rsrp_measurements or call_setup_successes > call_setup_attempts
           or dropped_calls > call_setup_successes or data_session_successes > data_session_attempts
    """).fetchall()[0] == (0,)
    assert con.sql("select count(*) from usage_events where cast(event_ts as date) <> delivery_date").fetchall()[0] == (
        0,
    )
    # voice has duration and a call type, data a volume, SMS neither a duration nor a volume
    assert con.sql("""
        select count(*) from usage_events where
            (event_type = 'voice' and (duration_sec is null or call_type is null or data_mb is not null))
         or (event_type = 'data' and (data_mb is null or call_type is not null))
         or (event_type = 'sms' and (duration_sec is not null or data_mb is not null))
    """).fetchall()[0] == (0,)
    # bills come on the 1st for the month before, and add up
    assert con.sql("""
        select count(*) from bills
        where issue_date <> delivery_date or extract(day from issue_date) <> 1
           or bill_month <> issue_date - interval 1 month
           or abs(amount_due - recurring_amount - usage_amount) > 0.011
    """).fetchall()[0] == (0,)
    assert con.sql("select count(distinct bill_month) from bills").fetchall()[0] == (4,)
    assert (
        con.sql("select count(*) from cell_kpis_daily").fetchall()[0][0]
        == con.sql("select count(distinct cell_id) * count(distinct kpi_date) from cell_kpis_daily").fetchall()[0][0]
    )


def test_subscriber_base(con: duckdb.DuckDBPyConnection) -> None:
    first = con.sql(f"select * from subscribers where delivery_date = date '{START}'")
    assert first.count("*").fetchall()[0] == (CLEAN["subscribers"],)
    assert first.filter("status <> 'active'").count("*").fetchall()[0] == (0,)
    msisdns = con.sql("select msisdn, count(distinct subscriber_id) n from subscribers group by 1")
    assert msisdns.filter("n > 1").count("*").fetchall()[0] == (0,)
    assert msisdns.filter("not regexp_full_match(msisdn, '\\+2547\\d{8}')").count("*").fetchall()[0] == (0,)
    assert con.sql("select count(*) from subscribers where full_name is null or id_number is null").fetchall()[0] == (
        0,
    )
    # porting requests are followed by churn; new lines are mostly data-driven new, and never
    # high-value long-tenure (which takes 24 months)
    assert con.sql("""
        select count(*) from subscribers p join subscriber_profiles t using (subscriber_id)
        where p.port_out_requested_at is not null and not (t.is_churner or t.decline_from is not null)
    """).fetchall()[0] == (0,)
    new_lines = dict(
        con.sql(f"""
        select planted_group, count(*) from subscriber_profiles where activation_date > date '{START}' group by 1
    """).fetchall()
    )
    assert "high_value_long_tenure" not in new_lines
    assert new_lines["data_driven_new"] > 0.7 * sum(new_lines.values())


# --- the planted truth shows in the data -----------------------------------------------------


def test_group_mix_is_as_configured(con: duckdb.DuckDBPyConnection) -> None:
    shares = dict(
        con.sql(f"""
        select planted_group, count(*) / sum(count(*)) over () from subscriber_profiles
        where activation_date < date '{START}' group by 1
    """).fetchall()
    )
    expected = dict(zip(GROUPS, DEFAULT_SETTINGS.shares.weights(), strict=True))
    for group in GROUPS:
        assert shares[group] == pytest.approx(expected[group], abs=0.05), group


def test_group_shares_are_configurable(tmp_path: Path) -> None:
    settings = replace(DEFAULT_SETTINGS, shares=GroupShares(0.0, 0.0, 1.0, 0.0, 0.0))
    generate(subscribers=50, start=START, end=START, seed=1, out=tmp_path, settings=settings)
    groups = pq.read_table(tmp_path / "_truth" / "subscriber_profiles.parquet").column("planted_group")
    assert set(groups.to_pylist()) == {"voice_biased"}


def test_groups_behave_as_planted(con: duckdb.DuckDBPyConnection) -> None:
    # each event counts for the group its line was in that day
    usage = {
        row[0]: row[1:]
        for row in con.sql("""
            select g.planted_group, avg((event_type = 'data')::int), avg((event_type = 'voice')::int)
            from usage_events u join subscriber_groups g
                on g.subscriber_id = u.subscriber_id and u.delivery_date >= g.valid_from
                and (g.valid_to is null or u.delivery_date < g.valid_to)
            group by 1
        """).fetchall()
    }
    assert usage["data_driven_new"][0] > 0.7
    assert usage["voice_biased"][1] > 0.6
    spend = con.sql("""
        with topups as (select subscriber_id, sum(amount) v from recharges group by 1),
             billed as (select subscriber_id, sum(amount_due) v from bills group by 1)
        select planted_group, avg(coalesce(t.v, 0) + coalesce(b.v, 0))
        from subscriber_profiles p
        left join topups t using (subscriber_id) left join billed b using (subscriber_id)
        where not is_churner and activation_date < date '2026-01-01' group by 1 order by 2 desc
    """).fetchall()
    assert spend[0][0] == "high_value_long_tenure"
    assert spend[-1][0] == "low_value_suppressed"
    tenure = dict(
        con.sql("""
        select planted_group, max(date '2026-01-01' - activation_date) from subscriber_profiles
        where activation_date < date '2026-01-01' group by 1
    """).fetchall()
    )
    assert tenure["data_driven_new"] < 365


def test_lines_move_on_when_the_segment_mart_stops_calling_them_new(con: duckdb.DuckDBPyConnection) -> None:
    """A data-driven new line moves on on the first day of the month at whose end the
    segment mart's tenure (completed months at the month end) first reaches 12; a grower
    reaches high value where it first reaches 24. Its behaviour changes with its group."""
    moves = con.sql("""
        with spells as (
            select *, lag(planted_group) over (partition by subscriber_id order by valid_from) as previous_group
            from subscriber_groups
        ),
        moves as (
            select s.*, p.activation_date, last_day(s.valid_from) as month_end,
                last_day(s.valid_from - interval 1 day) as previous_month_end
            from spells s join subscriber_profiles p using (subscriber_id)
            where previous_group is not null
        )
        select previous_group, planted_group, day(valid_from),
            datediff('month', activation_date, month_end)
                - (day(month_end) < day(activation_date))::int as tenure,
            datediff('month', activation_date, previous_month_end)
                - (day(previous_month_end) < day(activation_date))::int as tenure_before
        from moves
    """).fetchall()
    assert len(moves) >= 20
    assert {m[2] for m in moves} == {1}
    assert all(m[3] >= 12 > m[4] for m in moves if m[0] == "data_driven_new")
    assert all(m[3] >= 24 > m[4] for m in moves if m[1] == "high_value_long_tenure")
    assert {m[1] for m in moves} >= {"voice_biased", "low_value_suppressed", "high_value_long_tenure"}
    assert {m[1] for m in moves if m[0] == "data_driven_new"} <= {"voice_biased", "low_value_suppressed", "noise"}
    # lines that moved from data-driven new to voice-biased: data-heavy before, voice-heavy after
    before, after = con.sql("""
        select avg((u.event_type = 'data')::int) filter (where u.delivery_date < g.valid_from),
               avg((u.event_type = 'voice')::int) filter (where u.delivery_date >= g.valid_from)
        from subscriber_groups g join usage_events u using (subscriber_id)
        where g.planted_group = 'voice_biased' and g.valid_from > date '2026-01-01'
          and g.subscriber_id in (select subscriber_id from subscriber_groups where planted_group = 'data_driven_new')
    """).fetchall()[0]
    assert before > 0.7 and after > 0.6


def test_each_group_keeps_its_share_month_after_month() -> None:
    """The steady state: on every month's first day of a year, each planted group holds its
    configured share of the base, while lines join, churn and move on every month. The
    world alone (no files), 100,000 lines: sampling noise is about 0.15 points."""
    first, last = day_number(START), day_number(dt.date(2026, 12, 31))
    population = build_population(
        100_000, first, last, 5, DEFAULT_SETTINGS, build_network(100_000, first, last, 5, DEFAULT_SETTINGS), 4.0
    )
    expected = np.array(DEFAULT_SETTINGS.shares.weights())
    month_starts = [day_number(dt.date(2026, month, 1)) for month in range(1, 13)]
    postpaid_shares = []
    for day in month_starts:
        active = np.flatnonzero(population.active(day))
        group = population.group_at(active, day)
        shares = np.bincount(group, minlength=len(GROUPS)) / len(active)
        assert np.abs(shares - expected).max() < 0.006, (dt.date.fromordinal(day + 719163), shares)
        assert len(active) == pytest.approx(100_000, rel=0.02)
        postpaid = population.postpaid_at(active, day)
        postpaid_shares.append(np.bincount(group, weights=postpaid, minlength=len(GROUPS)) / np.bincount(group))
    # a line moving on takes its new group's payment type odds, so each group's mix holds too
    assert np.abs(postpaid_shares[-1] - postpaid_shares[0]).max() < 0.015, postpaid_shares
    joined = np.histogram(population.activation_day[population.n_base :], month_starts)[0]
    churned = np.histogram(population.churn_day, month_starts)[0]
    assert joined.min() > 1_500 and churned.min() > 1_500
    # moves fall on month starts only, from February (the base's data-driven new are all
    # still new on the start day)
    moved = dict(zip(*np.unique(population.moves.day, return_counts=True), strict=True))
    assert set(moved) == set(month_starts[1:]) and min(moved.values()) > 1_000


def test_month_of_completing_follows_the_segment_mart_tenure() -> None:
    """For every activation day of three years (leap day and month ends included): the
    move's month is the first whose end the segment mart sees the line at 12 (24) completed
    months or more, with its formula: whole months to the month end, less one when the
    month end's day is before the activation day (which skips 12 for a 29 February line)."""

    def tenure(activation: dt.date, month_end: dt.date) -> int:
        months = (month_end.year - activation.year) * 12 + month_end.month - activation.month
        return months - (month_end.day < activation.day)

    activations = [dt.date(2023, 1, 1) + dt.timedelta(days=k) for k in range(3 * 365 + 1)]
    for months in (12, 24):
        moves = month_of_completing(np.array([day_number(d) for d in activations]), months)
        for activation, move in zip(activations, moves, strict=True):
            month = dt.date(1970, 1, 1) + dt.timedelta(days=int(move))
            assert month.day == 1
            month_end = (month + dt.timedelta(days=31)).replace(day=1) - dt.timedelta(days=1)
            assert tenure(activation, month_end) >= months, (activation, month)
            assert tenure(activation, month - dt.timedelta(days=1)) < months, (activation, month)


@pytest.mark.parametrize(
    ("shares", "message"),
    [
        (GroupShares(0.30, 0.20, 0.20, 0.20, 0.10), "data_driven_new at 30.0%"),
        (GroupShares(0.02, 0.50, 0.28, 0.10, 0.10), "high_value_long_tenure at 50.0%"),
    ],
)
def test_a_mix_no_flat_base_can_hold_is_refused(shares: GroupShares, message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message):
        generate(
            subscribers=50,
            start=START,
            end=START,
            seed=1,
            out=tmp_path,
            settings=replace(DEFAULT_SETTINGS, shares=shares),
        )


def test_monthly_churn_rate(con: duckdb.DuckDBPyConnection) -> None:
    churned = con.sql("select count(*) from subscribers where status = 'churned'").fetchall()[0][0]
    assert churned == con.sql("select count(*) from subscriber_profiles where is_churner").fetchall()[0][0]
    months = ((CLEAN["end"] - START).days + 1) / 30.4
    assert 0.015 <= churned / CLEAN["subscribers"] / months <= 0.025 + 0.01


def test_churners_decline_then_fall_silent(con: duckdb.DuckDBPyConnection) -> None:
    ratio = con.sql(f"""
        with churners as (
            select subscriber_id, churn_date from subscriber_profiles
            where is_churner and churn_date >= date '{START}' + 125
        ),
        usage as (
            select u.charged_amount,
                u.delivery_date between c.churn_date - 120 and c.churn_date - 91 as early,
                u.delivery_date between c.churn_date - 30 and c.churn_date - 1 as late
            from churners c join usage_events u using (subscriber_id)
        ),
        spend as (
            select sum(charged_amount) filter (where early) early,
                   sum(charged_amount) filter (where late) late,
                   count(*) filter (where early) early_n,
                   count(*) filter (where late) late_n
            from usage
        )
        select (select count(*) from churners), late / early, late_n / early_n from spend
    """).fetchall()[0]
    assert ratio[0] >= 10
    assert ratio[1] < 0.5 and ratio[2] < 0.5
    assert con.sql("""
        select count(*) from usage_events join subscriber_profiles using (subscriber_id)
        where is_churner and delivery_date >= churn_date
    """).fetchall()[0] == (0,)


def test_degraded_cells_show_worse_kpis(con: duckdb.DuckDBPyConnection) -> None:
    assert con.sql("select count(*) from degraded_cells").fetchall()[0][0] >= 1
    rates = con.sql("""
        select sum(rsrp_good_measurements) / sum(rsrp_measurements),
               sum(call_setup_successes) / sum(call_setup_attempts),
               sum(dropped_calls) / sum(call_setup_successes)
        from cell_kpis_daily k left join degraded_cells d using (cell_id)
        group by coalesce(
            k.kpi_date >= d.degraded_from and k.kpi_date < coalesce(d.repaired_on, date '9999-12-31'), false
        )
        order by 1
    """).fetchall()
    (bad_cov, bad_cssr, bad_drop), (good_cov, good_cssr, good_drop) = rates
    assert 0.97 <= good_cov <= 0.995 and 0.96 <= good_cssr <= 0.99 and 0.003 <= good_drop <= 0.007
    assert bad_cov < good_cov - 0.05 and bad_cssr < good_cssr - 0.04 and bad_drop > 2 * good_drop
    # subscribers at home on a degraded cell complain about the network more than the rest
    network_complaints = dict(
        con.sql("""
        select d.cell_id is not null, count(distinct c.complaint_id) / count(distinct p.subscriber_id)
        from subscriber_profiles p left join degraded_cells d on d.cell_id = p.home_cell_id
        left join complaints c on c.subscriber_id = p.subscriber_id and c.category = 'network'
        group by 1
    """).fetchall()
    )
    assert network_complaints[True] > 2 * network_complaints[False]


def test_event_density_matches_the_request(con: duckdb.DuckDBPyConnection) -> None:
    events = con.sql("select count(*) from usage_events").fetchall()[0][0]
    subscriber_days = con.sql(f"""
        select sum(least(coalesce(churn_date, date '{CLEAN["end"]}' + 1), date '{CLEAN["end"]}' + 1)
                   - greatest(activation_date, date '{START}'))
        from subscriber_profiles
    """).fetchall()[0][0]
    assert events / subscriber_days == pytest.approx(CLEAN["events_per_sub_day"], rel=0.03)


# --- planted defects -----------------------------------------------------------------------


def test_defects_are_where_defects_json_says(defects_run: Path) -> None:
    planted = json.loads((defects_run / "_truth" / "defects.json").read_text())
    kinds = {d["defect"] for d in planted}
    assert kinds == {
        "null_key",
        "duplicate_key",
        "unparseable_date",
        "unparseable_number",
        "negative_amount",
        "unknown_foreign_key",
        "duplicated_file_delivery",
        "extra_column",
        "missing_required_column",
        "truncated_file",
    }
    subscribers = {
        row["subscriber_id"]
        for path in defects_run.glob("subscribers/*/*.csv")
        for row in csv.DictReader(path.read_text(encoding="utf-8").splitlines())
    }
    for defect in planted:
        path = defects_run / defect["file"]
        assert path.is_file(), defect
        assert defect["file"].split("/")[1] != START.isoformat(), "defects stay off the first day"
        text = path.read_text(encoding="utf-8")
        lines = text.split("\n")
        header = lines[0].split(",")
        kind, line = defect["defect"], defect["line"]
        if line is None:
            if kind == "duplicated_file_delivery":
                original = path.with_name(path.name.replace("_redelivery", ""))
                assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(original.read_bytes()).digest()
            elif kind == "extra_column":
                assert "promo_flag" in header and defect["expected"] == "extra_column_ignored:promo_flag"
            elif kind == "missing_required_column":
                assert "subscriber_id" not in header
            continue
        raw = lines[line - 1]
        if kind == "truncated_file":
            assert line == len(lines) and not text.endswith("\n")
            assert len(raw.split(",")) < len(header)
            continue
        row = dict(zip(header, next(csv.reader([raw])), strict=True))
        if kind == "null_key":
            assert row["event_id"] == "" and defect["expected"] == "missing_value:event_id"
        elif kind == "duplicate_key":
            assert raw in lines[1 : line - 1]
        elif kind == "unparseable_number":
            with pytest.raises(ValueError):
                float(row["charged_amount"])
        elif kind == "unknown_foreign_key":
            assert row["subscriber_id"] not in subscribers
        elif kind == "unparseable_date":
            with pytest.raises(ValueError):
                dt.datetime.strptime(row["recharge_ts"], "%Y-%m-%d %H:%M:%S")
        elif kind == "negative_amount":
            assert float(row["amount"]) < 0


def test_defect_files_are_otherwise_well_formed(defects_run: Path) -> None:
    """Apart from the truncated line, every line of a defect file has the header's field count."""
    planted = json.loads((defects_run / "_truth" / "defects.json").read_text())
    truncated = {(d["file"], d["line"]) for d in planted if d["defect"] == "truncated_file"}
    for name in {d["file"] for d in planted}:
        with (defects_run / name).open(encoding="utf-8", newline="") as stream:
            rows = list(csv.reader(stream))
        for number, row in enumerate(rows[1:], start=2):
            if (name, number) not in truncated:
                assert len(row) == len(rows[0]), (name, number)
