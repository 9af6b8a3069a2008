"""Subscriber marts on generated data: planted profiles recovered, figures reconcile, daily runs are incremental.

One module-scoped warehouse: a generated operator (seeded, so every run sees the same data)
is ingested up to the day before its last day and built, then the last day is ingested
and built incrementally with the DAG's batch vars, then that day is built again. The tests
read the three states.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from tests.conftest import REPO_ROOT, ingest_landing, run_dbt, table_checksums

pytestmark = pytest.mark.dbt

SUBSCRIBERS = 1500
START = date(2026, 1, 1)
END = date(2026, 2, 2)  # the last day: ingested and built incrementally
FULL_MONTH = date(2026, 1, 1)  # the last complete month before END
SEED = 21
# The DAG's vars for the run of END. The first build uses them too: on a fresh warehouse
# nothing is incremental, so they change nothing there, and identical vars let dbt reuse
# its partial parse between the three invocations.
BATCH_VARS = {"batch_start_date": END.isoformat(), "batch_end_date": END.isoformat(), "run_date": END.isoformat()}

SEGMENTS = {"data_driven_new", "high_value_long_tenure", "voice_biased", "low_value_suppressed", "unclassified"}
PII_COLUMNS = {"msisdn", "full_name", "id_number", "birth_date"}
MONTHLY_TABLES = (
    "fct_subscriber_daily",
    "fct_subscriber_monthly",
    "subscriber_segments_monthly",
    "segment_transitions_monthly",
    "kpi_value_concentration_monthly",
)

# Floors on the share of each planted group the segment mart puts back in its group, in
# FULL_MONTH (the group each subscriber was planted in that month: _truth/subscriber_groups).
# Measured on this data set (seed 21, about 270-490 subscribers a group): data_driven_new
# 0.97, high_value_long_tenure 0.89, voice_biased 0.86, low_value_suppressed 0.89; on the demo
# world (20,000, six months) 0.97, 0.85, 0.87-0.88 and 0.95-0.96 every month (README). Each
# floor sits about ten points (four to five standard errors at this size) under what was
# measured here: room for sampling noise, not for a rule that stopped working. (Generator
# version 3 measured 0.98, 0.83, 0.83 and 0.76 here.)
AGREEMENT_FLOORS = {
    "data_driven_new": 0.87,
    "high_value_long_tenure": 0.78,
    "voice_biased": 0.76,
    "low_value_suppressed": 0.79,
}
# The planted noise group is 10 % of the base (about 70 % of it unclassified); the four
# groups' members whose month falls outside their rule add the rest. Measured 0.12-0.14 per
# month here (the month in progress, two days in, included), 0.113-0.116 on the demo world.
UNCLASSIFIED_SHARE_MAX = 0.19
DBT_VARS = yaml.safe_load((REPO_ROOT / "dbt_project" / "dbt_project.yml").read_text())["vars"]


@dataclass
class BuiltMarts:
    warehouse: Path
    truth: Path
    #: Per table, {month: (rows, checksum)} after the first build, after END, after the rerun.
    before: dict[str, dict[date, tuple[int, str]]]
    after: dict[str, dict[date, tuple[int, str]]]
    rerun: dict[str, dict[date, tuple[int, str]]]
    seconds: dict[str, float] = field(default_factory=dict)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltMarts]:
    from telco_mart.generate import generate

    work = tmp_path_factory.mktemp("subscriber_marts")
    landing, warehouse, target = work / "landing", work / "warehouse.duckdb", work / "target"
    seconds: dict[str, float] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DBT_THREADS", "4")
        began = time.perf_counter()
        generate(
            subscribers=SUBSCRIBERS,
            start=START,
            end=END,
            seed=SEED,
            out=landing,
            fmt="parquet",
            events_per_sub_day=4.0,
        )
        seconds["generate"] = time.perf_counter() - began

        began = time.perf_counter()
        ingest_landing(landing, warehouse, END - timedelta(days=1))
        seconds["ingest_history"] = time.perf_counter() - began
        began = time.perf_counter()
        run_dbt(["run"], warehouse, target, BATCH_VARS)
        seconds["first_build"] = time.perf_counter() - began
        before = table_checksums(warehouse, MONTHLY_TABLES, per="month_start_date")

        # the daily run of END: its delivery, then every model and the subscriber marts' tests
        # (the staging layer's own tests are left to the staging suite, for time)
        ingest_landing(landing, warehouse, END)
        began = time.perf_counter()
        run_dbt(
            [
                "build",
                "--exclude",
                "path:models/staging,resource_type:test",
                "path:models/staging,resource_type:unit_test",
            ],
            warehouse,
            target,
            BATCH_VARS,
        )
        seconds["daily_build"] = time.perf_counter() - began
        after = table_checksums(warehouse, MONTHLY_TABLES, per="month_start_date")

        began = time.perf_counter()
        run_dbt(["run"], warehouse, target, BATCH_VARS)
        seconds["rerun"] = time.perf_counter() - began
        rerun = table_checksums(warehouse, MONTHLY_TABLES, per="month_start_date")
    yield BuiltMarts(warehouse, landing / "_truth" / "subscriber_groups.parquet", before, after, rerun, seconds)


@pytest.fixture
def built_path(built: BuiltMarts) -> Path:
    return built.warehouse


def test_segments_recover_the_planted_groups(built: BuiltMarts, con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        f"""
        select truth.planted_group, count(*), avg(case when segments.segment = truth.planted_group then 1.0 else 0 end)
        from marts.subscriber_segments_monthly as segments
        inner join read_parquet('{built.truth}') as truth
            on truth.subscriber_id = segments.subscriber_id
            and truth.valid_from <= last_day(segments.month_start_date)
            and (truth.valid_to is null or truth.valid_to > segments.month_start_date)
        where segments.month_start_date = ? and truth.planted_group <> 'noise'
        group by truth.planted_group
        """,
        [FULL_MONTH],
    ).fetchall()
    agreement = {group: share for group, _, share in rows}
    assert {group: count >= 100 for group, count, _ in rows} == dict.fromkeys(AGREEMENT_FLOORS, True)
    below = {g: round(agreement[g], 3) for g, floor in AGREEMENT_FLOORS.items() if agreement[g] < floor}
    assert not below, f"agreement under the floor: {below} (all: {agreement})"


def test_unclassified_stays_a_small_share_every_month(con: duckdb.DuckDBPyConnection) -> None:
    shares = dict(
        con.execute(
            """
            select month_start_date, avg(case when segment = 'unclassified' then 1.0 else 0 end)
            from marts.subscriber_segments_monthly
            group by month_start_date
            """
        ).fetchall()
    )
    reported = dict(
        con.execute("select month_start_date, unclassified_share from marts.kpi_value_concentration_monthly").fetchall()
    )
    assert set(shares) == {FULL_MONTH, END.replace(day=1)}
    assert all(share <= UNCLASSIFIED_SHARE_MAX for share in shares.values()), shares
    assert {m: round(s, 9) for m, s in shares.items()} == {m: round(s, 9) for m, s in reported.items()}


def test_percentile_bands_hold_exactly_their_share_every_month(con: duckdb.DuckDBPyConnection) -> None:
    """Every band is cut from a total order (ties by md5(subscriber_id)), so it holds
    floor(share x base) subscribers in every month, the month in progress included; each ARPU
    decile holds a tenth, within one. (Generated ARPUs rarely tie: the unit test
    test_subscriber_segments_monthly_bands_hold_their_share_through_ties covers flat fees.)"""
    months = con.execute(
        """
        select s.month_start_date, count(*),
            count(*) filter (where s.is_top_value_band), count(*) filter (where s.is_low_value),
            count(*) filter (where s.is_low_activity), count(*) filter (where s.is_price_sensitive),
            count(*) filter (where s.payment_type = 'prepaid' and f.recharge_count > 0),
            count(*) filter (where s.is_top_value_band and s.is_low_value)
        from marts.subscriber_segments_monthly as s
        inner join marts.fct_subscriber_monthly as f using (subscriber_id, month_start_date)
        group by s.month_start_date
        """
    ).fetchall()
    assert len(months) == 2
    for _, base, top, low, inactive, price_sensitive, recharging, both in months:
        assert top == math.floor(DBT_VARS["segment_top_value_share"] * base)
        assert low == math.floor(DBT_VARS["segment_low_value_share"] * base)
        assert inactive == math.floor(DBT_VARS["segment_low_activity_share"] * base)
        assert price_sensitive == math.floor(DBT_VARS["tag_price_sensitive_recharge_share"] * recharging)
        assert both == 0
    deciles = con.execute(
        "select month_start_date, arpu_decile, count(*) from marts.subscriber_segments_monthly group by all"
    ).fetchall()
    bases = {m: base for m, base, *_ in months}
    assert {(m, d) for m, d, _ in deciles} == {(m, d) for m in bases for d in range(1, 11)}
    assert all(math.floor(bases[m] / 10) <= n <= math.ceil(bases[m] / 10) for m, _, n in deciles), deciles


def test_each_subscriber_in_the_base_has_exactly_one_segment_per_month(con: duckdb.DuckDBPyConnection) -> None:
    duplicates, bad_segments = con.execute(
        """
        select
            count(*) - count(distinct (subscriber_id, month_start_date)),
            count(*) filter (where segment is null or segment not in (?, ?, ?, ?, ?))
        from marts.subscriber_segments_monthly
        """,
        sorted(SEGMENTS),
    ).fetchone()
    assert (duplicates, bad_segments) == (0, 0)
    missing, extra = con.execute(
        """
        with in_base as (
            select subscriber_id, month_start_date from marts.fct_subscriber_monthly where days_in_base > 0
        ),
        segmented as (
            select subscriber_id, month_start_date from marts.subscriber_segments_monthly
        )
        select
            (select count(*) from (select * from in_base except select * from segmented)),
            (select count(*) from (select * from segmented except select * from in_base))
        """
    ).fetchone()
    assert (missing, extra) == (0, 0)


def test_personal_data_stays_in_dim_subscriber(con: duckdb.DuckDBPyConnection) -> None:
    columns = con.execute(
        "select table_name, column_name from information_schema.columns where table_schema = 'marts'"
    ).fetchall()
    # only models tagged pii may hold personal data (dim_subscriber; the publish-ready
    # campaign_targets_daily carries the number to contact)
    pii_models = set()
    for path in (REPO_ROOT / "dbt_project" / "models" / "marts").rglob("*.yml"):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            if "pii" in ((model.get("config") or {}).get("tags") or []):
                pii_models.add(model["name"])
    assert pii_models == {"dim_subscriber", "campaign_targets_daily"}
    leaked = sorted((t, c) for t, c in columns if c in {*PII_COLUMNS, "contact_number"} and t not in pii_models)
    assert leaked == []
    assert {c for t, c in columns if t == "dim_subscriber"} >= PII_COLUMNS
    assert {t for t, _ in columns} >= {*MONTHLY_TABLES, "dim_subscriber", "dim_subscriber_history", "dim_plan"}


def test_value_concentration_is_monotone_and_recomputes(con: duckdb.DuckDBPyConnection) -> None:
    kpis = con.execute(
        """
        select month_start_date, subscriber_count, revenue_share_top_1pct, revenue_share_top_5pct,
            revenue_share_top_10pct, revenue_share_top_20pct
        from marts.kpi_value_concentration_monthly
        order by month_start_date
        """
    ).fetchall()
    assert [k[0] for k in kpis] == [FULL_MONTH, END.replace(day=1)]
    revenue: dict[date, list[float]] = {}
    for month, amount in con.execute(
        "select month_start_date, revenue_amount from marts.fct_subscriber_monthly where days_in_base > 0"
    ).fetchall():
        revenue.setdefault(month, []).append(amount)
    for month, subscribers, *shares in kpis:
        assert 0 < shares[0] <= shares[1] <= shares[2] <= shares[3] <= 1, (month, shares)
        amounts = sorted(revenue[month], reverse=True)
        total = sum(amounts)
        expected = [sum(amounts[: math.ceil(len(amounts) * p / 100)]) / total for p in (1, 5, 10, 20)]
        assert subscribers == len(amounts)
        assert shares == pytest.approx(expected, abs=1e-6), month


def test_transitions_reconcile_with_segments(con: duckdb.DuckDBPyConnection) -> None:
    segments: dict[date, dict[str, str]] = {}
    for subscriber, month, segment in con.execute(
        "select subscriber_id, month_start_date, segment from marts.subscriber_segments_monthly"
    ).fetchall():
        segments.setdefault(month, {})[subscriber] = segment
    transitions = con.execute(
        "select month_start_date, from_segment, to_segment, subscriber_count from marts.segment_transitions_monthly"
    ).fetchall()
    to_month = END.replace(day=1)
    assert {t[0] for t in transitions} == {to_month}
    previous, current = segments[FULL_MONTH], segments[to_month]
    for from_segment in SEGMENTS:
        stayed = sum(n for m, f, t, n in transitions if f == from_segment and t != "not_in_base")
        in_both = sum(1 for s, seg in previous.items() if seg == from_segment and s in current)
        left = sum(n for m, f, t, n in transitions if f == from_segment and t == "not_in_base")
        assert (stayed, stayed + left) == (in_both, sum(1 for seg in previous.values() if seg == from_segment))
    for to_segment in SEGMENTS:
        arrived = sum(n for m, f, t, n in transitions if t == to_segment)
        assert arrived == sum(1 for seg in current.values() if seg == to_segment)


def test_the_daily_run_leaves_earlier_months_untouched(built: BuiltMarts) -> None:
    current = END.replace(day=1)
    for table in MONTHLY_TABLES:
        earlier_before = {m: v for m, v in built.before[table].items() if m < current}
        earlier_after = {m: v for m, v in built.after[table].items() if m < current}
        if table != "segment_transitions_monthly":  # its first month is the month after the first
            assert earlier_before, table
        assert earlier_after == earlier_before, table
    # ... while the current month did take in the new day
    assert built.after["fct_subscriber_daily"][current][0] > built.before["fct_subscriber_daily"][current][0]
    assert built.after["fct_subscriber_monthly"][current] != built.before["fct_subscriber_monthly"][current]


def test_rerunning_the_day_changes_nothing(built: BuiltMarts) -> None:
    assert built.rerun == built.after
