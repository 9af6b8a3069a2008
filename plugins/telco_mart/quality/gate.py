"""The raw gate: validate the delivery dates just ingested, record, report, and stop on a fail.

Order matters: results are stored and the report written *before* the gate raises, so the
person paged by a failed run finds the reason in the task log, in ``marts.dq_results`` and
in ``<data_dir>/quality/<run date>/report.html``.

Extension point for the output checks (marts and publish-ready lists, issue "Data-quality
gate"): they get their own stage folder under ``expectations/`` (``marts/``, ``publish/``)
and a module beside :mod:`telco_mart.quality.raw` that computes their day metrics and rows
(opted-out or do-not-disturb contacts, duplicate contacts, caps, control share, list size
against its history; rates in [0, 1], segment shares, KPI reconciliation), then call
:func:`finish` with their findings, exactly as :func:`run_raw_gate_on` does. The publish task
runs after that gate, so a ``fail`` leaves earlier days' outbox untouched.
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
from telco_mart.quality.config import QualityConfigError, expectations_dir, load_gate_config
from telco_mart.quality.gx_runner import GxRunner
from telco_mart.quality.raw import STAGE as RAW_STAGE
from telco_mart.quality.raw import check_suite, validate_feed
from telco_mart.quality.report import render_report, write_report
from telco_mart.quality.results import Finding, store_findings
from telco_mart.quality.suites import GateSuite, load_stage

log = logging.getLogger(__name__)

#: Failures listed in the exception message, and offending rows shown per failure.
MESSAGE_FAILURES = 10
MESSAGE_ROWS = 3


class QualityGateFailed(RuntimeError):
    """An expectation of severity ``fail`` did not hold: nothing downstream may run for the dates."""

    def __init__(self, message: str, findings: list[Finding], report: Path) -> None:
        super().__init__(message)
        self.findings = findings
        self.report = report


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
) -> GateOutcome:
    """Validate every raw feed for the delivery dates ``start``..``end`` (default: the run date)."""
    began = time.perf_counter()
    start, end = start or run_date, end or run_date
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    contract = contract or load_contract()
    directory = directory or expectations_dir()
    config = load_gate_config(directory)
    if unknown := sorted(set(config.feeds) - set(contract.feeds)):
        raise QualityConfigError(f"gate.yml overrides feeds the contract does not have: {unknown}")
    suites = load_raw_suites(directory, contract)
    runner = GxRunner()
    findings: list[Finding] = []
    for suite in suites:
        feed = suite.data_asset.removeprefix("raw.")
        findings += validate_feed(con, runner, suite, contract, start, end, config.for_feed(feed))
    return finish(
        con,
        stage=RAW_STAGE,
        run_id=run_id,
        start=start,
        end=end,
        suites=[s.name for s in suites],
        findings=findings,
        report=data_dir / "quality" / run_date.isoformat() / "report.html",
        began=began,
    )
