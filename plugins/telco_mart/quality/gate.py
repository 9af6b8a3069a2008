"""The gate's stages: validate, record, report, and stop on a fail.

Order matters: results are stored and the report written *before* the gate raises, so the
person paged by a failed run finds the reason in the task log, in ``marts.dq_results`` and
in ``<data_dir>/quality/<run date>/report-<stage>.html`` (one report per stage and date).

Stages:

- ``raw`` (:func:`run_raw_gate_on`): the delivery dates just ingested, before dbt; suites in
  ``expectations/raw/``, metrics in :mod:`telco_mart.quality.raw`.
- output stages (:func:`run_stage_on`): the run date's slice of each output table, after the
  work that built it. ``marts`` runs after dbt (suites in ``expectations/marts/``, metrics in
  :mod:`telco_mart.quality.marts`): rates in [0, 1], segment shares, KPI reconciliation.
  ``publish`` (:func:`run_publish_gate_on`) runs after the marts gate and before the publish
  task writes the outbox (suites in ``expectations/publish/``, metrics in
  :mod:`telco_mart.quality.publish_gate`): no opted-out or do-not-disturb target, no duplicate
  contact, one sales contact a day, caps respected, contact numbers usable, control share
  within tolerance of the holdout, list size against its history. The publish task runs only
  after that gate passes, so a ``fail`` publishes nothing for the date and leaves earlier
  days' outbox untouched.

Adding an output stage takes a folder ``expectations/<stage>/`` of suites, each naming its
table and slice in ``meta`` (see :mod:`telco_mart.quality.outputs`), and a module
``telco_mart.quality.<stage>`` defining ``METRICS`` (data asset -> metric name ->
:class:`~telco_mart.quality.outputs.Metric`), entered in :data:`OUTPUT_STAGE_METRICS`; then
``run_stage_on(con, "<stage>", ...)`` runs it. Two stages may check the same table
(``publish`` checks tables of the ``marts`` schema); ``tables.<table>`` in gate.yml applies
to the table whichever stage checks it.

Every stage judges with gate.yml's thresholds under the operator profile's ``gate:`` section
(:func:`gate_config`): the profile of the run (``TELCO_MART_OPERATOR_PROFILE``) unless one is
passed.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from telco_mart.contract import Contract, load_contract
from telco_mart.contract.operator_profile import OperatorProfile, load_profile
from telco_mart.gate_settings import GateConfig, QualityConfigError, expectations_dir, load_gate_config
from telco_mart.quality.gx_runner import GxRunner
from telco_mart.quality.marts import METRICS as MARTS_METRICS
from telco_mart.quality.outputs import Metric, check_output_suite, table_columns, validate_output
from telco_mart.quality.publish_gate import METRICS as PUBLISH_METRICS
from telco_mart.quality.publish_gate import prepare_publish_inputs
from telco_mart.quality.raw import STAGE as RAW_STAGE
from telco_mart.quality.raw import check_suite, profile_exemptions, validate_feed
from telco_mart.quality.report import render_report, write_report
from telco_mart.quality.results import Finding, store_findings
from telco_mart.quality.suites import GateSuite, load_stage
from telco_mart.refusals import QualityGateFailed

log = logging.getLogger(__name__)

#: Failures listed in the exception message, and offending rows shown per failure.
MESSAGE_FAILURES = 10
MESSAGE_ROWS = 3


@dataclass(frozen=True)
class GateOutcome:
    stage: str
    run_id: str
    start: dt.date
    end: dt.date
    findings: list[Finding]
    report: Path
    seconds: float

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.outcome == "fail"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.outcome == "warn"]

    def summary(self) -> dict[str, Any]:
        """What the DAG task returns (XCom): small and JSON-ready."""
        return {
            "stage": self.stage,
            "run_id": self.run_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "results": len(self.findings),
            "failed": len(self.failures),
            "warned": len(self.warnings),
            "warnings": [f"{f.run_date} {f.data_asset} {f.expectation}: {f.observed_value}" for f in self.warnings][
                :20
            ],
            "report": str(self.report),
            "seconds": round(self.seconds, 2),
        }


def load_raw_suites(directory: Path | None = None, contract: Contract | None = None) -> list[GateSuite]:
    """The raw suites, checked against the contract: one per feed, naming only what exists."""
    contract = contract or load_contract()
    suites = load_stage(directory or expectations_dir(), RAW_STAGE)
    names = {s.data_asset.removeprefix("raw.") for s in suites}
    if missing := sorted(set(contract.feeds) - names):
        raise QualityConfigError(f"no raw suite for feeds {missing}: run `telco-mart quality scaffold`")
    if unknown := sorted(names - set(contract.feeds)):
        raise QualityConfigError(f"raw suites for feeds the contract does not have: {unknown}")
    for suite in suites:
        check_suite(suite, contract.feed(suite.data_asset.removeprefix("raw.")))
    return suites


def _describe_row(row: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in row.items() if v is not None)


def failure_message(outcome: GateOutcome) -> str:
    """Names the table, the expectation, the observed value and a few offending rows."""
    dates = outcome.start.isoformat() if outcome.start == outcome.end else f"{outcome.start} to {outcome.end}"
    failures = outcome.failures
    lines = [f"data-quality gate ({outcome.stage}) failed for {dates}: {len(failures)} expectation(s) at severity fail"]
    for f in failures[:MESSAGE_FAILURES]:
        expected = f.details.get("expected")
        lines.append(
            f"- {f.data_asset} on {f.run_date}: {f.expectation}: observed {f.observed_value}"
            + (f", expected {expected}" if expected else "")
        )
        lines += [f"    {_describe_row(row)}" for row in f.sample[:MESSAGE_ROWS]]
    if len(failures) > MESSAGE_FAILURES:
        lines.append(f"- ... and {len(failures) - MESSAGE_FAILURES} more")
    if outcome.warnings:
        lines.append(f"{len(outcome.warnings)} warning(s) besides.")
    lines.append(f"report: {outcome.report}; results: marts.dq_results where run_id = '{outcome.run_id}'")
    return "\n".join(lines)


def finish(
    con: duckdb.DuckDBPyConnection,
    *,
    stage: str,
    run_id: str,
    start: dt.date,
    end: dt.date,
    suites: list[str],
    findings: list[Finding],
    report: Path,
    began: float,
) -> GateOutcome:
    """Store the findings, write the report, and raise :class:`QualityGateFailed` on any fail."""
    store_findings(con, findings, run_id=run_id, start=start, end=end, suites=suites)
    seconds = time.perf_counter() - began
    html = render_report(stage=stage, run_id=run_id, start=start, end=end, findings=findings, seconds=seconds)
    outcome = GateOutcome(stage, run_id, start, end, findings, write_report(report, html), seconds)
    for f in outcome.warnings:
        log.warning("%s %s %s: %s (%s)", f.run_date, f.data_asset, f.expectation, f.observed_value, f.description)
    if outcome.failures:
        raise QualityGateFailed(failure_message(outcome), findings, outcome.report)
    return outcome


def run_raw_gate_on(
    con: duckdb.DuckDBPyConnection,
    run_date: dt.date,
    run_id: str,
    *,
    data_dir: Path,
    start: dt.date | None = None,
    end: dt.date | None = None,
    directory: Path | None = None,
    contract: Contract | None = None,
    profile: OperatorProfile | None = None,
) -> GateOutcome:
    """Validate every raw feed for the delivery dates ``start``..``end`` (default: the run date),
    with the presence checks of feeds the operator ``profile`` declares not delivered off."""
    began = time.perf_counter()
    start, end = start or run_date, end or run_date
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    contract = contract or load_contract()
    directory = directory or expectations_dir()
    profile = profile or load_profile(contract=contract)
    config = gate_config(directory, profile)
    if unknown := sorted(set(config.feeds) - set(contract.feeds)):
        raise QualityConfigError(f"gate.yml overrides feeds the contract does not have: {unknown}")
    suites = load_raw_suites(directory, contract)
    if exemptions := profile_exemptions(contract, profile):
        log.info(exemptions)
    runner = GxRunner()
    findings: list[Finding] = []
    for suite in suites:
        feed = suite.data_asset.removeprefix("raw.")
        findings += validate_feed(con, runner, suite, contract, start, end, config.for_feed(feed), profile)
    return finish(
        con,
        stage=RAW_STAGE,
        run_id=run_id,
        start=start,
        end=end,
        suites=[s.name for s in suites],
        findings=findings,
        report=report_path(data_dir, run_date, RAW_STAGE),
        began=began,
    )


def report_path(data_dir: Path, run_date: dt.date, stage: str) -> Path:
    """Where a stage's report for a run date goes: one file per stage, so stages never overwrite each other."""
    return data_dir / "quality" / run_date.isoformat() / f"report-{stage}.html"


#: Each output stage and the ``METRICS`` of its module (data asset -> metric name -> Metric):
#: written out, so that what a stage computes is one import away from here.
OUTPUT_STAGE_METRICS: dict[str, dict[str, dict[str, Metric]]] = {
    "marts": MARTS_METRICS,
    "publish": PUBLISH_METRICS,
}


def stage_metrics(stage: str) -> dict[str, dict[str, Metric]]:
    """The ``METRICS`` of the output stage ``stage`` (:data:`OUTPUT_STAGE_METRICS`)."""
    if stage == RAW_STAGE or not stage.isidentifier():
        raise QualityConfigError(f"{stage!r} is not an output stage")
    if stage not in OUTPUT_STAGE_METRICS:
        raise QualityConfigError(
            f"no metrics for the {stage} stage: enter its module's METRICS in "
            "telco_mart.quality.gate.OUTPUT_STAGE_METRICS"
        )
    return OUTPUT_STAGE_METRICS[stage]


def output_assets(directory: Path) -> set[str]:
    """The tables the suites of every output stage folder (all but ``raw``) name."""
    stages = sorted(p.name for p in directory.iterdir() if p.is_dir() and p.name != RAW_STAGE and p.name.isidentifier())
    return {suite.data_asset for stage in stages for suite in load_stage(directory, stage)}


def gate_config(directory: Path, profile: OperatorProfile) -> GateConfig:
    """gate.yml with the operator ``profile``'s ``gate:`` section laid over it, said once per
    stage in the log, and refused when either overrides a table no output suite checks (a
    misspelt table would otherwise leave the real one on the defaults, silently)."""
    config = load_gate_config(directory, profile)
    if unknown := sorted(set(config.tables) - output_assets(directory)):
        if profiled := sorted(set(unknown) & set(profile.gate.tables if profile.gate else {})):
            raise QualityConfigError(f"{profile.source}: gate.tables: no output suite checks {profiled}")
        raise QualityConfigError(f"gate.yml overrides tables no output suite checks: {unknown}")
    if profile.gate is not None:
        log.info("operator profile %r sets the gate's %s over gate.yml", profile.name, ", ".join(profile.gate.lines()))
    return config


def load_output_suites(
    con: duckdb.DuckDBPyConnection, stage: str, directory: Path | None = None, profile: OperatorProfile | None = None
) -> list[GateSuite]:
    """An output stage's suites, each checked against its table's columns and the stage's metrics,
    and the gate settings they will run with (gate.yml under the operator ``profile``'s)."""
    directory = directory or expectations_dir()
    metrics = stage_metrics(stage)
    suites = load_stage(directory, stage)
    if not suites:
        raise QualityConfigError(f"{directory / stage} holds no suite")
    gate_config(directory, profile or load_profile())
    for suite in suites:
        check_output_suite(suite, metrics.get(suite.data_asset, {}), table_columns(con, suite.data_asset))
    return suites


def run_stage_on(
    con: duckdb.DuckDBPyConnection,
    stage: str,
    run_date: dt.date,
    run_id: str,
    *,
    data_dir: Path,
    directory: Path | None = None,
    profile: OperatorProfile | None = None,
) -> GateOutcome:
    """Validate the run date's slice of every table an output stage's suites name (``marts``...),
    with the thresholds of gate.yml under the operator ``profile``'s (default: the run's)."""
    began = time.perf_counter()
    directory = directory or expectations_dir()
    profile = profile or load_profile()
    suites = load_output_suites(con, stage, directory, profile)
    config = load_gate_config(directory, profile)  # checked with the suites
    metrics = stage_metrics(stage)
    runner = GxRunner()
    findings: list[Finding] = []
    for suite in suites:
        findings += validate_output(
            con, runner, stage, suite, metrics.get(suite.data_asset, {}), run_date, config.for_table(suite.data_asset)
        )
    return finish(
        con,
        stage=stage,
        run_id=run_id,
        start=run_date,
        end=run_date,
        suites=[s.name for s in suites],
        findings=findings,
        report=report_path(data_dir, run_date, stage),
        began=began,
    )


def run_marts_gate_on(
    con: duckdb.DuckDBPyConnection,
    run_date: dt.date,
    run_id: str,
    *,
    data_dir: Path,
    directory: Path | None = None,
    profile: OperatorProfile | None = None,
) -> GateOutcome:
    """The marts stage (``expectations/marts/``) on the run date's slice of the public marts, after dbt."""
    return run_stage_on(con, "marts", run_date, run_id, data_dir=data_dir, directory=directory, profile=profile)


def run_publish_gate_on(
    con: duckdb.DuckDBPyConnection,
    run_date: dt.date,
    run_id: str,
    *,
    data_dir: Path,
    outbox: Path | None = None,
    directory: Path | None = None,
    profile: OperatorProfile | None = None,
) -> GateOutcome:
    """The publish stage (``expectations/publish/``) on the run date's target lists and decisions,
    after dbt and the marts gate and before the publish task writes the outbox: raises
    :class:`QualityGateFailed` (after storing the results and writing ``report-publish.html``)
    when a list must not go out. ``outbox`` holds the lists published on other days, which the
    caps and cool-downs are checked against (none: nothing published yet)."""
    prepare_publish_inputs(con, outbox, run_date)
    return run_stage_on(con, "publish", run_date, run_id, data_dir=data_dir, directory=directory, profile=profile)
