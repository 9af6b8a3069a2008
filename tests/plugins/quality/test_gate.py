"""The raw data-quality gate on generated warehouses: silent on clean data, loud on each defect."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from telco_mart.quality import QualityGateFailed, run_raw_gate_on
from telco_mart.quality.gate import GateOutcome, load_raw_suites
from telco_mart.quality.results import Finding
from telco_mart.schema import copy_warehouse
from tests.browser import CHROMIUM, MISSING_REASON, REQUIRE_CHROMIUM, chromium
from tests.conftest import FEED_COUNT, REPO_ROOT, SMALL_END, SMALL_START, add_raw_rows, ingest_landing, run_dbt

MONTH_START, MONTH_END = dt.date(2026, 1, 1), dt.date(2026, 2, 1)  # a month, and the bills of Feb 1
DEFECT_DAYS = [SMALL_START + dt.timedelta(days=n) for n in (1, 2, 3)]


def run_gate(
    warehouse: Path, day: dt.date, data_dir: Path, *, start: dt.date | None = None, run_id: str = "test"
) -> GateOutcome | QualityGateFailed:
    """The gate's outcome, or the exception it raised (with its findings)."""
    con = duckdb.connect(str(warehouse))
    try:
        return run_raw_gate_on(con, day, run_id, data_dir=data_dir, start=start)
    except QualityGateFailed as failed:
        return failed
    finally:
        con.close()


def not_passed(findings: list[Finding]) -> list[str]:
    return [
        f"{f.run_date} {f.suite} {f.expectation} [{f.severity}]: {f.observed_value}" for f in findings if not f.success
    ]


def dq_results(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture(scope="module")
def checks_per_day() -> int:
    return sum(len(s.checks) for s in load_raw_suites())


@pytest.fixture(scope="module")
def clean_warehouse(small_landing: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    warehouse = tmp_path_factory.mktemp("quality_clean") / "warehouse.duckdb"
    ingest_landing(small_landing, warehouse, SMALL_END)
    return warehouse


@pytest.fixture(scope="module")
def defect_findings(defects_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[dt.date, object]:
    """The gate run on each defect day, in the order the DAG would run them."""
    data_dir = tmp_path_factory.mktemp("quality_defects_data")
    return {day: run_gate(defects_warehouse, day, data_dir) for day in DEFECT_DAYS}


def test_clean_days_pass_every_suite(clean_warehouse: Path, tmp_path: Path, checks_per_day: int) -> None:
    outcome = run_gate(clean_warehouse, SMALL_END, tmp_path, start=SMALL_START)
    assert isinstance(outcome, GateOutcome), str(outcome)
    assert not_passed(outcome.findings) == []
    days = (SMALL_END - SMALL_START).days + 1
    assert len(outcome.findings) == checks_per_day * days
    assert dq_results(clean_warehouse, "select count(*), count(distinct suite) from marts.dq_results") == [
        (checks_per_day * days, FEED_COUNT)  # one raw suite per feed of the contract
    ]
    assert outcome.report == tmp_path / "quality" / SMALL_END.isoformat() / "report-raw.html"


@pytest.fixture(scope="module")
def month_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from telco_mart.generate import generate

    work = tmp_path_factory.mktemp("quality_month")
    landing = work / "landing"
    generate(subscribers=400, start=MONTH_START, end=MONTH_END, seed=23, out=landing, fmt="parquet")
    ingest_landing(landing, work / "warehouse.duckdb", MONTH_END)
    return work / "warehouse.duckdb"


def test_a_month_of_clean_days_raises_no_alarm(month_warehouse: Path, tmp_path: Path) -> None:
    outcome = run_gate(month_warehouse, MONTH_END, tmp_path, start=MONTH_START)
    assert isinstance(outcome, GateOutcome), str(outcome)
    assert not_passed(outcome.findings) == []
    # Not vacuous: the volume band was judged, and the month's bills were validated.
    judged = [
        f
        for f in outcome.findings
        if f.suite == "raw.usage_events" and f.expectation.endswith("(volume_ratio)") and f.observed_number
    ]
    assert len(judged) >= 25
    (billed,) = dq_results(month_warehouse, "select count(*) from raw.bills where _delivery_date = ?", [MONTH_END])[0]
    bill_ids = next(
        f
        for f in outcome.findings
        if f.run_date == MONTH_END and f.expectation == "expect_column_values_to_not_be_null(bill_id)"
    )
    assert billed > 0 and bill_ids.observed_value == f"0 of {billed:,} rows"


# defect class -> the quarantine reason (or registry status) that catches it at ingestion, the
# gate expectation that reports it on its day, and the severities that fire there (none: the
# share is under the thresholds, and the reason is recorded in the quarantine rate's details).
DEFECT_CATCHERS: dict[str, tuple[str, str, set[str]]] = {
    "null_key": ("missing_value:event_id", "raw.usage_events:quarantine_rate", set()),
    "duplicate_key": ("duplicate_key", "raw.usage_events:quarantine_rate", set()),
    "unparseable_number": ("unparseable:charged_amount", "raw.usage_events:quarantine_rate", set()),
    "unknown_foreign_key": ("unknown_reference:subscriber_id", "raw.usage_events:quarantine_rate", set()),
    "truncated_file": ("malformed_row", "raw.usage_events:quarantine_rate", set()),
    "unparseable_date": ("unparseable:recharge_ts", "raw.recharges:quarantine_rate", {"warn", "fail"}),
    "negative_amount": ("out_of_range:amount", "raw.recharges:quarantine_rate", {"warn", "fail"}),
    "duplicated_file_delivery": ("skipped_duplicate", "raw.usage_events:files_skipped_duplicate", {"warn"}),
    "missing_required_column": ("rejected", "raw.complaints:files_rejected", {"fail"}),
    "extra_column": ("loaded", "raw.recharges:files_with_schema_drift", {"warn"}),
}


def test_every_planted_defect_class_has_a_catcher(defects_landing: Path) -> None:
    planted = {d["defect"] for d in json.loads((defects_landing / "_truth" / "defects.json").read_text())}
    assert planted == set(DEFECT_CATCHERS)


@pytest.mark.parametrize("defect", sorted(DEFECT_CATCHERS))
def test_each_defect_class_is_caught_by_its_rule(
    defect: str, defects_landing: Path, defects_warehouse: Path, defect_findings: dict
) -> None:
    rule, gate_check, fires = DEFECT_CATCHERS[defect]
    planted = [
        d for d in json.loads((defects_landing / "_truth" / "defects.json").read_text()) if d["defect"] == defect
    ]
    for item in planted:
        day = dt.date.fromisoformat(item["file"].split("/")[1])
        if item["line"] is None:  # a file-level defect: the registry
            (status,) = dq_results(
                defects_warehouse, "select status from raw.file_registry where source_file = ?", [item["file"]]
            )[0]
            assert status == rule
        else:  # a row-level defect: its quarantine reason
            (reason,) = dq_results(
                defects_warehouse,
                "select reason from raw.quarantine where source_file = ? and source_line = ?",
                [item["file"], item["line"]],
            )[0]
            assert rule in reason.split("; ")
        outcome = defect_findings[day]
        suite, metric = gate_check.split(":")
        findings = [f for f in outcome.findings if f.suite == suite and f.expectation.endswith(f"({metric})")]
        assert findings, f"{defect}: no {gate_check} result on {day}"
        fired = {f.severity for f in findings if not f.success}
        assert fired == fires, (defect, [f.observed_value for f in findings])
        if item["line"] is not None:
            reasons = findings[0].details["context"]["reasons"]
            assert rule in reasons, (defect, reasons)


def test_a_fail_stops_with_feed_expectation_observed_value_and_rows(defect_findings: dict) -> None:
    failed = defect_findings[DEFECT_DAYS[1]]
    assert isinstance(failed, QualityGateFailed)
    message = str(failed)
    assert "raw.complaints on 2026-01-03: expect_column_values_to_be_between(files_rejected): observed 1" in message
    assert "missing required columns: subscriber_id" in message
    assert "raw.recharges on 2026-01-03: expect_column_values_to_be_between(quarantine_rate): observed 0.1" in message
    assert "expected at most 0.05" in message
    assert "reason=unparseable:recharge_ts" in message
    assert failed.report.is_file()


def test_a_warn_only_day_is_recorded_and_goes_on(defect_findings: dict, defects_warehouse: Path) -> None:
    outcome = defect_findings[DEFECT_DAYS[0]]
    assert isinstance(outcome, GateOutcome), str(outcome)
    assert not outcome.failures
    assert not_passed(outcome.findings) == [
        "2026-01-02 raw.usage_events expect_column_values_to_be_between(files_skipped_duplicate) [warn]: 1"
    ]
    rows = dq_results(
        defects_warehouse,
        "select suite, expectation, severity, observed_value, details->>'$.sample[0].note' from marts.dq_results "
        "where run_date = ? and not success",
        [DEFECT_DAYS[0]],
    )
    assert rows == [
        (
            "raw.usage_events",
            "expect_column_values_to_be_between(files_skipped_duplicate)",
            "warn",
            "1",
            "same content as usage_events/2026-01-02/usage_events_2026-01-02.csv",
        )
    ]
    assert outcome.summary()["warned"] == 1


def test_a_rerun_replaces_that_days_results(
    defects_warehouse: Path, defect_findings: dict, tmp_path: Path, checks_per_day: int
) -> None:
    day = DEFECT_DAYS[1]
    run_gate(defects_warehouse, day, tmp_path, run_id="rerun")
    assert dq_results(
        defects_warehouse,
        "select count(*), count(distinct run_id), min(run_id) from marts.dq_results where run_date = ?",
        [day],
    ) == [(checks_per_day, 1, "rerun")]


@pytest.fixture
def tampered_warehouse(clean_warehouse: Path, tmp_path: Path) -> Iterator[Path]:
    """Rows that never went through ingestion: what only the gate's second line can catch."""
    warehouse = tmp_path / "tampered.duckdb"
    copy_warehouse(clean_warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        add_raw_rows(
            con,
            "usage_events",
            "(select * replace ('fax' as event_type, -1.0 as charged_amount, 'E-TAMPERED' as event_id) "
            "from raw.usage_events where _delivery_date = ? limit 1) "
            "union all (select * from raw.usage_events where _delivery_date = ? order by event_id desc limit 1)",
            [SMALL_END, SMALL_END],
            SMALL_END,
        )
        con.execute(
            "update raw.cell_kpis_daily set call_setup_successes = call_setup_attempts + 1 "
            "where _delivery_date = ? and cell_id = (select min(cell_id) from raw.cell_kpis_daily)",
            [SMALL_END],
        )
        con.execute("update raw.subscribers set status = 'zombie' where subscriber_id = 'S00000002'")
        con.execute(
            "delete from raw.subscribers where subscriber_id = (select min(subscriber_id) from raw.usage_events "
            "where _delivery_date = ?)",
            [SMALL_END],
        )
    yield warehouse


def test_rows_that_bypass_ingestion_are_caught_by_the_contract_rules(tampered_warehouse: Path, tmp_path: Path) -> None:
    failed = run_gate(tampered_warehouse, SMALL_END, tmp_path, start=SMALL_START)
    assert isinstance(failed, QualityGateFailed)
    bad = {(f.suite, f.expectation): f for f in failed.findings if not f.success}
    in_set = bad[("raw.usage_events", "expect_column_values_to_be_in_set(event_type)")]
    assert in_set.observed_value.startswith("1 of ")
    assert [r["event_id"] for r in in_set.sample] == ["E-TAMPERED"]
    assert bad[("raw.usage_events", "expect_column_values_to_be_between(charged_amount)")].severity == "fail"
    assert ("raw.usage_events", "expect_column_values_to_be_between(rows_registry_mismatch)") in bad
    pair = bad[
        (
            "raw.cell_kpis_daily",
            "expect_column_pair_values_a_to_be_greater_than_b(call_setup_attempts, call_setup_successes)",
        )
    ]
    assert pair.sample and pair.observed_value.startswith("1 of ")
    status = bad[("raw.subscribers", "expect_column_values_to_be_in_set(status)")]
    assert status.run_date == SMALL_START  # the date the tampered row was delivered
    assert status.sample[0]["subscriber_id"] == "S00000002"
    assert status.sample[0]["msisdn"] == status.sample[0]["full_name"] == "(personal data)"
    duplicates = bad[("raw.usage_events", "expect_column_values_to_be_between(duplicate_key_rows)")]
    assert duplicates.observed_value == "2" and duplicates.sample[0]["rows"] == 2
    orphans = bad[("raw.usage_events", "expect_column_values_to_be_between(orphan_rows__subscriber_id)")]
    assert orphans.observed_number and orphans.sample[0]["subscriber_id"]


def test_the_report_is_self_contained(defect_findings: dict) -> None:
    html = defect_findings[DEFECT_DAYS[1]].report.read_text()
    assert "http:" not in html and "https:" not in html
    for external in ("<script", "<link", "<img", "<iframe", "src=", "href=", "url(", "@import"):
        assert external not in html, external


@pytest.mark.skipif(CHROMIUM is None and not REQUIRE_CHROMIUM, reason=MISSING_REASON)
def test_the_report_renders_offline_in_headless_chromium_with_the_failure(
    defect_findings: dict, tmp_path: Path
) -> None:
    report = defect_findings[DEFECT_DAYS[1]].report
    dom = chromium(report.as_uri(), "--dump-dom", profile=tmp_path / "profile")
    assert 'id="verdict" data-outcome="fail"' in dom
    assert (
        'class="finding fail" data-outcome="fail" data-suite="raw.complaints" '
        'data-expectation="expect_column_values_to_be_between(files_rejected)"'
    ) in dom
    assert "missing required columns: subscriber_id" in dom
    shot = tmp_path / "report.png"
    chromium(report.as_uri(), f"--screenshot={shot}", "--window-size=1280,1600", profile=tmp_path / "profile")
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one


@pytest.mark.dbt
def test_dq_results_is_no_dbt_model_and_survives_a_dbt_run(clean_warehouse: Path, tmp_path: Path) -> None:
    manifest = json.loads((REPO_ROOT / "dbt_project" / "target" / "manifest.json").read_text())
    relations = {(n.get("schema"), n.get("alias") or n.get("name")) for n in manifest["nodes"].values()}
    assert ("marts", "dq_results") not in relations, "a dbt model would replace the gate's marts.dq_results"
    warehouse = tmp_path / "warehouse.duckdb"
    copy_warehouse(clean_warehouse, warehouse)
    run_gate(warehouse, SMALL_END, tmp_path)
    before = dq_results(warehouse, "select count(*) from marts.dq_results")
    run_dbt(["run", "--select", "stg_crm__subscribers"], warehouse, tmp_path / "target")
    assert dq_results(warehouse, "select count(*) from marts.dq_results") == before != [(0,)]


def test_samples_never_carry_personal_data() -> None:
    from telco_mart.contract import load_contract
    from telco_mart.quality.raw import _masked

    subscribers = load_contract().feed("subscribers")
    quarantined = {"source_line": 7, "reason": "invalid_value:gender", "record": '{"msisdn": "+2547", "gender": "X"}'}
    malformed = {"source_line": 9, "reason": "malformed_row", "record": "S1,+2547,Amina"}
    masked = _masked(subscribers, [{"subscriber_id": "S1", "full_name": "Amina"}, quarantined, malformed])
    assert masked[0] == {"subscriber_id": "S1", "full_name": "(personal data)"}
    assert json.loads(masked[1]["record"]) == {"msisdn": "(personal data)", "gender": "X"}
    assert "+2547" not in masked[2]["record"]
