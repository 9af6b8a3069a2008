"""The marts gate (expectations/marts) and the public marts' enforced contracts.

The gate runs on copies of the session's ``built_warehouse`` (ingested and ``dbt build``-ed
small landing): silent on clean marts, loud on a corrupted mart row, and a warn-only
finding is recorded without stopping the run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from telco_mart.contract.operator_profile import OperatorProfile, load_profile
from telco_mart.gate_settings import QualityConfigError, expectations_dir
from telco_mart.quality import QualityGateFailed, run_marts_gate_on, run_raw_gate_on
from telco_mart.quality.gate import GateOutcome, load_output_suites, report_path
from telco_mart.quality.results import Finding
from telco_mart.schema import copy_warehouse
from tests.conftest import REPO_ROOT, SMALL_END, run_dbt, writable_copy
from tests.plugins.quality.findings import not_passed, query

PUBLIC_MART_FOLDERS = ("core", "subscribers", "network", "churn", "cross_sell")
KPI_TABLES = {
    "kpi_coverage_cell_daily",
    "kpi_coverage_region_daily",
    "kpi_churn_monthly",
    "kpi_cross_sell_monthly",
    "subscriber_segments_monthly",
    "fct_subscriber_daily",
}


def run_gate(
    warehouse: Path,
    data_dir: Path,
    *,
    directory: Path | None = None,
    run_id: str = "test",
    profile: OperatorProfile | None = None,
) -> GateOutcome | QualityGateFailed:
    con = duckdb.connect(str(warehouse))
    try:
        return run_marts_gate_on(con, SMALL_END, run_id, data_dir=data_dir, directory=directory, profile=profile)
    except QualityGateFailed as failed:
        return failed
    finally:
        con.close()


@pytest.fixture
def warehouse(built_warehouse: Path, tmp_path: Path) -> Path:
    return writable_copy(built_warehouse, tmp_path)


#: The four customer groups, whose shares of the base the segment mart's suite bands.
SEGMENTS = sorted(("data_driven_new", "high_value_long_tenure", "low_value_suppressed", "voice_biased"))


def checks_in(findings: list[Finding]) -> set[str]:
    return {f.suite for f in findings}


@pytest.mark.dbt
def test_clean_marts_pass_every_suite_beside_the_raw_results(warehouse: Path, tmp_path: Path) -> None:
    outcome = run_gate(warehouse, tmp_path)
    assert isinstance(outcome, GateOutcome), str(outcome)
    assert not_passed(outcome.findings) == []
    assert checks_in(outcome.findings) == {f"marts.{t}" for t in KPI_TABLES}
    assert outcome.report == report_path(tmp_path, SMALL_END, "marts")
    assert outcome.report == tmp_path / "quality" / "2026-01-04" / "report-marts.html"
    # Not vacuous: the shares were judged, and the reconciliations saw rows on both sides.
    shares = [f for f in outcome.findings if "segment_share__" in f.expectation]
    assert len(shares) == 5 and all(f.observed_number is not None for f in shares)
    assert sum(f.observed_number for f in shares) == pytest.approx(1.0)
    rows = {f.suite: f.observed_number for f in outcome.findings if f.expectation.endswith("(rows)")}
    assert all(n and n > 0 for n in rows.values()), rows
    # The raw stage's results and report live beside the marts stage's: neither replaces the other.
    with duckdb.connect(str(warehouse)) as con:
        raw = run_raw_gate_on(con, SMALL_END, "test-raw", data_dir=tmp_path)
    assert raw.report == tmp_path / "quality/2026-01-04/report-raw.html" and outcome.report.is_file()
    assert dict(query(warehouse, "select stage, count(*) from marts.dq_results group by 1")) == {
        "marts": len(outcome.findings),
        "raw": len(raw.findings),
    }


@pytest.mark.dbt
def test_a_corrupted_mart_row_fails_with_the_expectation_observed_value_and_row(
    warehouse: Path, tmp_path: Path
) -> None:
    with duckdb.connect(str(warehouse)) as con:
        (cell,) = con.execute(
            "select min(cell_id) from marts.kpi_coverage_cell_daily where kpi_date = ?", [SMALL_END]
        ).fetchall()[0]
        con.execute(
            "update marts.kpi_coverage_cell_daily set coverage_rate = 1.5 where kpi_date = ? and cell_id = ?",
            [SMALL_END, cell],
        )
        (region,) = con.execute(
            "select min(region) from marts.kpi_coverage_region_daily where kpi_date = ?", [SMALL_END]
        ).fetchall()[0]
        con.execute(
            "update marts.kpi_coverage_region_daily set call_setup_attempts = call_setup_attempts + 7 "
            "where kpi_date = ? and region = ?",
            [SMALL_END, region],
        )
        # An earlier day's corruption is outside the run's slice: it costs nothing and is not reported.
        con.execute("update marts.kpi_coverage_cell_daily set coverage_rate = 9 where kpi_date < ?", [SMALL_END])

    failed = run_gate(warehouse, tmp_path)
    assert isinstance(failed, QualityGateFailed)
    bad = {(f.suite, f.expectation): f for f in failed.findings if not f.success}
    assert set(bad) == {
        ("marts.kpi_coverage_cell_daily", "expect_column_values_to_be_between(coverage_rate)"),
        ("marts.kpi_coverage_cell_daily", "expect_column_values_to_be_between(rate_formula_mismatch_rows)"),
        ("marts.kpi_coverage_region_daily", "expect_column_values_to_be_between(regions_not_reconciled)"),
        ("marts.kpi_coverage_region_daily", "expect_column_values_to_be_between(rate_formula_mismatch_rows)"),
    }
    rate = bad[("marts.kpi_coverage_cell_daily", "expect_column_values_to_be_between(coverage_rate)")]
    assert rate.severity == "fail" and rate.observed_value.startswith("1 of ")
    assert [(r["cell_id"], r["coverage_rate"]) for r in rate.sample] == [(cell, 1.5)]
    totals = bad[("marts.kpi_coverage_region_daily", "expect_column_values_to_be_between(regions_not_reconciled)")]
    assert totals.observed_value == "1"
    (row,) = totals.sample
    assert row["region"] == region and row["region_call_setup_attempts"] == row["cells_call_setup_attempts"] + 7

    message = str(failed)
    assert "data-quality gate (marts) failed for 2026-01-04" in message
    assert (
        "marts.kpi_coverage_cell_daily on 2026-01-04: expect_column_values_to_be_between(coverage_rate): "
        "observed 1 of 40 rows, expected between 0 and 1"
    ) in message
    assert f"cell_id={cell}" in message and "coverage_rate=1.5" in message
    assert failed.report == report_path(tmp_path, SMALL_END, "marts") and failed.report.is_file()

    stored = query(
        warehouse,
        "select stage, severity, observed_value, details->>'$.sample[0].cell_id', "
        "details->>'$.sample[0].coverage_rate' from marts.dq_results where suite = ? and expectation = ?",
        ["marts.kpi_coverage_cell_daily", "expect_column_values_to_be_between(coverage_rate)"],
    )
    assert stored == [("marts", "fail", "1 of 40 rows", cell, "1.5")]
    (reconciled,) = query(
        warehouse,
        "select observed_number, details->>'$.sample[0].region' from marts.dq_results where expectation = ?",
        ["expect_column_values_to_be_between(regions_not_reconciled)"],
    )
    assert reconciled == (1.0, region)


@pytest.fixture
def narrow_bands(tmp_path: Path) -> Path:
    """expectations/ with a segment band no customer group fits, for the segment mart only."""
    directory = tmp_path / "expectations"
    shutil.copytree(expectations_dir(), directory)
    settings = yaml.safe_load((directory / "gate.yml").read_text())
    settings["tables"] = {"marts.subscriber_segments_monthly": {"segment_share_min": 0.0, "segment_share_max": 0.01}}
    (directory / "gate.yml").write_text(yaml.safe_dump(settings))
    return directory


@pytest.mark.dbt
def test_a_warn_only_finding_is_recorded_and_the_run_goes_on(
    warehouse: Path, tmp_path: Path, narrow_bands: Path
) -> None:
    outcome = run_gate(warehouse, tmp_path, directory=narrow_bands)
    assert isinstance(outcome, GateOutcome), str(outcome)
    assert not outcome.failures
    warned = sorted(f.expectation for f in outcome.warnings)
    assert warned == [f"expect_column_values_to_be_between(segment_share__{s})" for s in SEGMENTS]
    assert outcome.summary()["warned"] == 4
    stored = query(
        warehouse,
        "select severity, observed_number, details->>'$.expected' from marts.dq_results where not success "
        "order by expectation",
    )
    assert [s[0] for s in stored] == ["warn"] * 4
    assert all(0.01 < s[1] < 0.5 and s[2] == "between 0.0 and 0.01" for s in stored), stored
    assert 'data-outcome="warn"' in outcome.report.read_text()


@pytest.mark.dbt
def test_an_operator_profile_sets_its_own_bands_over_gate_yml(
    warehouse: Path, tmp_path: Path, narrow_bands: Path
) -> None:
    """gate.yml's segment band (narrowed here) warns on every group; the operator profile's band,
    laid over it for the same table, passes the same marts."""
    segment_shares = {f"expect_column_values_to_be_between(segment_share__{s})" for s in SEGMENTS}
    with_gate_yml = run_gate(warehouse, tmp_path / "gate_yml", directory=narrow_bands)
    assert {f.expectation for f in with_gate_yml.warnings} == segment_shares

    path = tmp_path / "acme.yml"
    bands = {"segment_share_min": 0.02, "segment_share_max": 0.5}
    path.write_text(yaml.safe_dump({"gate": {"tables": {"marts.subscriber_segments_monthly": bands}}}))
    outcome = run_gate(warehouse, tmp_path / "acme", directory=narrow_bands, profile=load_profile(str(path)))
    assert isinstance(outcome, GateOutcome), str(outcome)
    assert not_passed(outcome.findings) == []
    judged = [f for f in outcome.findings if f.expectation in segment_shares]
    assert len(judged) == 4 and all(f.observed_number is not None for f in judged)
    assert {f.details["expected"] for f in judged} == {"between 0.02 and 0.5"}


@pytest.mark.dbt
@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda s: s["expectations"][0]["kwargs"].update(column="no_such_metric"), "on one of the metrics"),
        (lambda s: s["expectations"][-1]["kwargs"].update(column_A="no_such_column"), "no column"),
        (lambda s: s["meta"]["scope"].update(period="week"), "meta.scope"),
    ],
)
def test_a_malformed_marts_suite_is_refused_before_any_data_is_read(
    built_warehouse: Path, tmp_path: Path, change, complaint: str
) -> None:
    directory = tmp_path / "expectations"
    shutil.copytree(expectations_dir(), directory)
    path = directory / "marts" / "kpi_coverage_cell_daily.json"
    suite = json.loads(path.read_text())
    change(suite)
    path.write_text(json.dumps(suite))
    con = duckdb.connect(str(built_warehouse), read_only=True)
    try:
        with pytest.raises(QualityConfigError, match=complaint):
            load_output_suites(con, "marts", directory)
    finally:
        con.close()


def mart_models() -> list[tuple[str, dict]]:
    models = []
    for folder in PUBLIC_MART_FOLDERS:
        for path in sorted((REPO_ROOT / "dbt_project" / "models" / "marts" / folder).glob("*.yml")):
            models += [(path.name, m) for m in yaml.safe_load(path.read_text()).get("models", [])]
    return models


def test_every_public_mart_has_an_enforced_contract_with_a_type_per_column() -> None:
    models = mart_models()
    sql_models = {
        p.stem
        for folder in PUBLIC_MART_FOLDERS
        for p in (REPO_ROOT / "dbt_project" / "models" / "marts" / folder).glob("*.sql")
    }
    assert {m["name"] for _, m in models} == sql_models
    # An ephemeral mart is no table (it is compiled into its readers), and dbt supports no
    # contract on one; it must say so in its description, so a reader knows it is not served.
    ephemeral = {
        p.stem
        for folder in PUBLIC_MART_FOLDERS
        for p in (REPO_ROOT / "dbt_project" / "models" / "marts" / folder).glob("*.sql")
        if "materialized='ephemeral'" in p.read_text()
    }
    assert ephemeral < sql_models
    # names every engine reads alike: `string` (not varchar, which Spark 4 refuses without a length)
    neutral = {"string", "integer", "bigint", "double", "date", "timestamp", "boolean"}
    for _, model in models:
        if model["name"] in ephemeral:
            assert "Ephemeral" in model["description"] and "contract" not in model.get("config", {}), model["name"]
            continue
        assert model.get("config", {}).get("contract", {}).get("enforced") is True, model["name"]
        types = {c["name"]: c.get("data_type") for c in model["columns"]}
        assert all(types.values()) and set(types.values()) <= neutral, (model["name"], types)


@pytest.mark.dbt
def test_a_mart_drifting_from_its_contract_breaks_the_dbt_build(built_warehouse: Path, tmp_path: Path) -> None:
    """A copy of the project whose model SQL no longer matches its contract: dbt refuses to build it."""
    project = tmp_path / "dbt_project"
    shutil.copytree(REPO_ROOT / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    model = project / "models" / "marts" / "network" / "kpi_coverage_region_daily.sql"
    sql = model.read_text()
    drifted = sql.replace(
        "cast(cell_count as {{ dbt.type_int() }}) as cell_count",
        "cast(cell_count as {{ dbt.type_string() }}) as cell_count",
    )
    assert drifted != sql
    model.write_text(drifted)
    warehouse = tmp_path / "warehouse.duckdb"
    copy_warehouse(built_warehouse, warehouse)
    with pytest.raises(AssertionError) as failed:
        run_dbt(["run", "--select", "kpi_coverage_region_daily"], warehouse, tmp_path / "target", project_dir=project)
    output = str(failed.value)
    assert "contract" in output.lower() and "cell_count" in output, output[-3000:]
    # The published table is untouched: same columns and types as before.
    assert query(
        warehouse,
        "select data_type from information_schema.columns where table_schema = 'marts' "
        "and table_name = 'kpi_coverage_region_daily' and column_name = 'cell_count'",
    ) == [("INTEGER",)]
