"""The publish gate (expectations/publish): the target lists checked before the outbox is written.

One warehouse per test session (``campaign_warehouse``, in tests/conftest.py), built through
the real layers: the small landing ingested, the campaign catalog loaded, and dbt run with
``run_date`` = the landing's last day, so the campaign models decide that day. Each test
works on a copy: silent on clean lists, loud (``QualityGateFailed``, the expectation, the
observed value and an offending row in ``marts.dq_results``) on a planted opted-out,
duplicate, double-sales, over-cap or number-less target or a broken holdout, and a
warn-only finding (list size) is recorded without stopping the run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from telco_mart.config import Settings
from telco_mart.gate_settings import QualityConfigError, expectations_dir
from telco_mart.pipeline import run_publish_gate
from telco_mart.quality import QualityGateFailed, run_publish_gate_on
from telco_mart.quality.gate import GateOutcome, load_output_suites, report_path
from telco_mart.quality.publish_gate import PACING_REASONS
from tests.conftest import SMALL_END, writable_copy
from tests.plugins.quality.findings import not_passed, query

TARGETS = "publish.campaign_targets_daily"
DECISIONS = "publish.campaign_decisions_daily"


def between(metric: str) -> str:
    return f"expect_column_values_to_be_between({metric})"


@pytest.fixture
def warehouse(campaign_warehouse: Path, tmp_path: Path) -> Path:
    return writable_copy(campaign_warehouse, tmp_path)


def gate_settings(tmp_path: Path, tables: dict[str, dict[str, float | int]]) -> Path:
    """A copy of expectations/ whose gate.yml overrides settings for some tables."""
    directory = tmp_path / "expectations"
    shutil.copytree(expectations_dir(), directory)
    settings = yaml.safe_load((directory / "gate.yml").read_text())
    settings["tables"] = tables
    (directory / "gate.yml").write_text(yaml.safe_dump(settings))
    return directory


def run_gate(warehouse: Path, data_dir: Path, directory: Path | None = None) -> GateOutcome | QualityGateFailed:
    with duckdb.connect(str(warehouse)) as con:
        try:
            return run_publish_gate_on(con, SMALL_END, "test", data_dir=data_dir, directory=directory)
        except QualityGateFailed as failed:
            return failed


@pytest.mark.dbt
def test_clean_lists_pass_and_the_holdout_is_judged_on_enough_rows(warehouse: Path, tmp_path: Path) -> None:
    outcome = run_gate(warehouse, tmp_path)
    assert isinstance(outcome, GateOutcome), str(outcome)
    assert not_passed(outcome.findings) == []
    assert {f.suite for f in outcome.findings} == {TARGETS, DECISIONS}
    assert outcome.report == report_path(tmp_path, SMALL_END, "publish") and outcome.report.is_file()
    assert query(warehouse, "select stage, count(*) from marts.dq_results group by 1") == [
        ("publish", len(outcome.findings))
    ]
    by_key = {(f.suite, f.expectation): f for f in outcome.findings}
    # Not vacuous: the day has lists, and the checks saw them.
    assert by_key[(TARGETS, between("rows"))].observed_number > 100
    assert by_key[(TARGETS, between("opted_out_or_dnd_rows"))].observed_number == 0
    # A first day has no history and the small world's campaigns are under 100 sends: not judged.
    assert by_key[(TARGETS, between("list_size_ratio"))].observed_value.startswith("not judged: 0 day(s)")
    assert by_key[(DECISIONS, between("control_share_off_campaigns"))].observed_value.startswith("not judged")

    # Judged on campaigns of 20 sends or more, the clean holdout is within tolerance.
    directory = gate_settings(tmp_path, {"marts.campaign_decisions_daily": {"control_share_min_rows": 20}})
    judged = run_gate(warehouse, tmp_path / "judged", directory)
    assert isinstance(judged, GateOutcome), str(judged)
    share = next(f for f in judged.findings if f.expectation == between("control_share_off_campaigns"))
    assert share.success and share.observed_number == 0 and share.details["context"]["campaigns_judged"] >= 2


def single_row_targets(con: duckdb.DuckDBPyConnection, kind: str, count: int, taken: set[str]) -> list[tuple]:
    """Target rows of subscribers with one row that day: (subscriber_id, campaign_id, channel)."""
    rows = con.execute(
        "select subscriber_id, campaign_id, channel from marts.campaign_targets_daily where decision_date = ? "
        "and campaign_kind = ? and subscriber_id in (select subscriber_id from marts.campaign_targets_daily "
        "where decision_date = ? group by 1 having count(*) = 1) order by subscriber_id",
        [SMALL_END, kind, SMALL_END],
    ).fetchall()
    picked = [r for r in rows if r[0] not in taken][:count]
    assert len(picked) == count, f"not enough single-row {kind} targets"
    taken.update(r[0] for r in picked)
    return picked


def plant_defects(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """One defect of each class the publish suites fail on; returns who carries which."""
    taken: set[str] = set()
    (opted, _, opted_channel), (dnd, *_) = single_row_targets(con, "sales", 2, taken)
    (two_sales, two_sales_campaign, _), (capped, *_), (published_today, *_) = single_row_targets(con, "sales", 3, taken)
    (duplicated, duplicated_campaign, _), (numberless, *_), (faxed, *_) = single_row_targets(con, "service", 3, taken)
    day = SMALL_END
    morning = dt.datetime.combine(day, dt.time(6))
    # Opted out of the row's channel this morning; do-not-disturb on all channels since three days.
    con.executemany(
        "insert into raw.opt_outs values (?, ?, ?, ?, ?, 'planted.csv', 1, ?, 'planted', ?)",
        [
            [opted, opted_channel, True, False, morning, day, morning],
            [dnd, "all", False, True, morning - dt.timedelta(days=3), day, morning],
        ],
    )
    # The same row twice (same subscriber and campaign, same number).
    con.execute(
        "insert into marts.campaign_targets_daily select * from marts.campaign_targets_daily "
        "where decision_date = ? and subscriber_id = ?",
        [day, duplicated],
    )
    # A second sales campaign for a sales target.
    other = con.execute(
        "select min(campaign_id) from staging.stg_campaign_catalog__campaigns where campaign_kind = 'sales' "
        "and campaign_id <> ?",
        [two_sales_campaign],
    ).fetchone()[0]
    con.execute(
        "insert into marts.campaign_targets_daily select * replace (? as campaign_id) "
        "from marts.campaign_targets_daily where decision_date = ? and subscriber_id = ?",
        [other, day, two_sales],
    )
    # Two sales contacts in the contact history feed in the two days before: with today's, three
    # in 7 days (cap 2). The gate counts the feed and the outbox itself, not the model's inputs:
    # two contacts in raw.published_contacts alone (no outbox file) do not count.
    con.executemany(
        "insert into raw.contact_history values (?, ?, 'planted_sales', 'sales', 'sms', ?, null, null, "
        "'planted.csv', 1, ?, 'planted', now())",
        [[f"planted-{d}", capped, dt.datetime.combine(day - dt.timedelta(days=d), dt.time(9)), day] for d in (1, 2)],
    )
    published = "insert into raw.published_contacts values (?, ?, 'planted_sales', 'sales', 'sms', null, 'x', now())"
    con.executemany(published, [[day - dt.timedelta(days=d), published_today] for d in (1, 2)])
    # A channel no list is sent on: a row check whose sample is the whole row, number included.
    con.execute(
        "update marts.campaign_targets_daily set channel = 'fax' where decision_date = ? and subscriber_id = ?",
        [day, faxed],
    )
    # A row whose number went missing.
    con.execute(
        "update marts.campaign_targets_daily set contact_number = '' where decision_date = ? and subscriber_id = ?",
        [day, numberless],
    )
    # The campaign with the most sends loses its holdout: half its targeted rows become control.
    (campaign,) = con.execute(
        "select campaign_id from marts.campaign_decisions_daily where decision_date = ? "
        "and decision_outcome in ('targeted', 'control') group by 1 order by count(*) desc, 1 limit 1",
        [day],
    ).fetchone()
    con.execute(
        "update marts.campaign_decisions_daily set decision_outcome = 'control' where decision_date = ? "
        "and campaign_id = ? and decision_outcome = 'targeted' and hash(subscriber_id) % 2 = 0",
        [day, campaign],
    )
    return {
        "opted": opted,
        "opted_channel": opted_channel,
        "dnd": dnd,
        "duplicated": duplicated,
        "duplicated_campaign": duplicated_campaign,
        "two_sales": two_sales,
        "capped": capped,
        "numberless": numberless,
        "faxed": faxed,
        "holdout_campaign": campaign,
    }


@pytest.mark.dbt
def test_each_planted_defect_fails_its_expectation_with_the_value_and_an_offending_row(
    warehouse: Path, tmp_path: Path
) -> None:
    with duckdb.connect(str(warehouse)) as con:
        planted = plant_defects(con)
    directory = gate_settings(tmp_path, {"marts.campaign_decisions_daily": {"control_share_min_rows": 20}})
    failed = run_gate(warehouse, tmp_path, directory)
    assert isinstance(failed, QualityGateFailed), str(failed)
    bad = {(f.suite, f.expectation): f for f in failed.findings if not f.success}
    assert set(bad) == {
        (TARGETS, between("opted_out_or_dnd_rows")),
        (TARGETS, between("duplicate_contact_rows")),
        (TARGETS, between("sales_contacts_over_one_rows")),
        (TARGETS, between("channel_contacts_over_one_rows")),  # the duplicate and the second sales row
        (TARGETS, between("over_cap_subscribers")),
        (TARGETS, between("invalid_or_missing_contact_rows")),
        (TARGETS, "expect_column_values_to_be_in_set(channel)"),
        (DECISIONS, between("control_share_off_campaigns")),
    }, not_passed(failed.findings)
    assert {f.severity for f in bad.values()} == {"fail"}

    opted = bad[(TARGETS, between("opted_out_or_dnd_rows"))]
    assert opted.observed_value == "2"
    assert {
        (r["subscriber_id"], r["preference_channel"], r["is_opted_out"], r["is_do_not_disturb"]) for r in opted.sample
    } == {(planted["opted"], planted["opted_channel"], True, False), (planted["dnd"], "all", False, True)}
    duplicates = bad[(TARGETS, between("duplicate_contact_rows"))]
    assert duplicates.observed_value == "2 (same_subscriber_rows 2, same_number_rows 2)"
    assert {(r["campaign_id"], r["shared"], r["rows"]) for r in duplicates.sample} == {
        (planted["duplicated_campaign"], "subscriber_id", 2),
        (planted["duplicated_campaign"], "contact_number", 2),
    }
    assert all(r["contact_number"] == "(personal data)" for r in duplicates.sample)
    two_sales = bad[(TARGETS, between("sales_contacts_over_one_rows"))]
    assert two_sales.observed_value == "2 (subscribers 1)"
    assert [(r["subscriber_id"], r["sales_rows"]) for r in two_sales.sample] == [(planted["two_sales"], 2)]
    capped = bad[(TARGETS, between("over_cap_subscribers"))]
    assert capped.observed_value == "1"
    (row,) = capped.sample
    assert row["subscriber_id"] == planted["capped"] and row["sales_contacts_7_days"] >= 2 and row["cap_7_days"] == 2
    numberless = bad[(TARGETS, between("invalid_or_missing_contact_rows"))]
    assert [(r["subscriber_id"], r["problem"]) for r in numberless.sample] == [(planted["numberless"], "empty")]
    holdout = bad[(DECISIONS, between("control_share_off_campaigns"))]
    assert holdout.observed_number == 1
    (row,) = holdout.sample
    assert row["campaign_id"] == planted["holdout_campaign"] and row["control_share"] > 0.3
    assert row["holdout_share"] == pytest.approx(0.1) and row["standard_deviations"] > 4

    message = str(failed)
    faxed = bad[(TARGETS, "expect_column_values_to_be_in_set(channel)")]
    assert [(r["subscriber_id"], r["channel"], r["contact_number"]) for r in faxed.sample] == [
        (planted["faxed"], "fax", "(personal data)")
    ]
    assert "data-quality gate (publish) failed for 2026-01-04: 8 expectation(s) at severity fail" in message
    assert (
        "marts.campaign_targets_daily on 2026-01-04: expect_column_values_to_be_between(opted_out_or_dnd_rows): "
        "observed 2, expected at most 0"
    ) in message
    assert f"subscriber_id={planted['capped']}" in message
    assert failed.report == report_path(tmp_path, SMALL_END, "publish") and failed.report.is_file()
    stored = query(
        warehouse,
        "select stage, severity, observed_value, details->>'$.sample[0].subscriber_id' from marts.dq_results "
        "where suite = ? and expectation = ?",
        [TARGETS, between("sales_contacts_over_one_rows")],
    )
    assert stored == [("publish", "fail", "2 (subscribers 1)", planted["two_sales"])]
    # No personal data reaches the results BI reads, the report people forward, or the message
    # (the task log): no number, name or ID of any subscriber, nor an MSISDN-shaped text.
    personal = {
        value
        for row in query(warehouse, "select msisdn, full_name, id_number from raw.subscribers")
        for value in row
        if value and len(value) >= 4
    } | {n for (n,) in query(warehouse, "select contact_number from marts.campaign_targets_daily") if n}
    details = " ".join(
        d for (d,) in query(warehouse, "select details::varchar || observed_value from marts.dq_results")
    )
    for place, text in (("dq_results", details), ("report", failed.report.read_text()), ("message", message)):
        leaked = sorted(v for v in personal if v in text)
        assert not leaked, f"personal data in the {place}: {leaked[:5]}"
        assert not re.search(r"\+[1-9][0-9]{6,14}", text), f"an MSISDN-shaped value in the {place}"


@pytest.mark.dbt
def test_a_list_size_off_its_history_warns_and_the_run_goes_on(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three earlier days with the same decisions: today's list before pacing is 1.0 times their
    # mean, above a 0.5 maximum.
    with duckdb.connect(str(warehouse)) as con:
        for days in (1, 2, 3):
            con.execute(
                "insert into marts.campaign_decisions_daily select * replace (decision_date - ? as decision_date) "
                "from marts.campaign_decisions_daily where decision_date = ?",
                [days, SMALL_END],
            )
    directory = gate_settings(tmp_path, {"marts.campaign_targets_daily": {"list_size_ratio_max": 0.5}})
    monkeypatch.setenv("TELCO_MART_EXPECTATIONS_DIR", str(directory))
    settings = dataclasses.replace(Settings.from_env(), warehouse_path=warehouse, data_dir=tmp_path / "data")

    summary = run_publish_gate(SMALL_END, "test-warn", settings)
    assert summary["failed"] == 0 and summary["warned"] == 1
    before_pacing, published = query(
        warehouse,
        "select count(*) filter (where decision_outcome <> 'suppressed' or list_contains(?, suppression_reason)), "
        "count(*) filter (where decision_outcome = 'targeted') "
        "from marts.campaign_decisions_daily where decision_date = ?",
        [list(PACING_REASONS), SMALL_END],
    )[0]
    assert published < before_pacing  # the list is judged before pacing, not as published
    assert summary["warnings"] == [
        "2026-01-04 marts.campaign_targets_daily expect_column_values_to_be_between(list_size_ratio): "
        f"1.0000 (rows_before_pacing {before_pacing}, rows_published {published}, history_days 3, "
        f"history_mean_rows {before_pacing}.0)"
    ]
    stored = query(
        warehouse,
        "select stage, severity, observed_number, details->>'$.expected', details->>'$.sample[0].history_days' "
        "from marts.dq_results where not success",
    )
    assert stored == [("publish", "warn", 1.0, "between 0.2 and 0.5", "3")]
    assert 'data-outcome="warn"' in Path(summary["report"]).read_text()


def test_a_table_override_may_name_a_table_of_any_output_stage(tmp_path: Path) -> None:
    """publish checks tables of the marts schema: the marts stage must not refuse their overrides."""
    directory = gate_settings(
        tmp_path,
        {"marts.campaign_targets_daily": {"list_size_ratio_max": 3.0}, "marts.no_such_table": {"sample_rows": 1}},
    )
    with duckdb.connect() as con:
        for stage in ("marts", "publish"):
            with pytest.raises(QualityConfigError, match=r"no output suite checks: \['marts.no_such_table'\]$"):
                load_output_suites(con, stage, directory)
