"""Findings, and their table ``marts.dq_results`` that BI reads.

One row per expectation, delivery date and run. The table belongs to the gate, not to dbt:
dbt only replaces the relations of its own models, so a table it does not model survives
``dbt build`` (a test holds it to that). A rerun of a date replaces that date's rows for the
suites it validated, so the table holds the latest verdict per date and never a duplicate.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import duckdb
import pyarrow as pa

from telco_mart.quality.suites import Severity
from telco_mart.schema import DQ_RESULTS, ensure_dq_results
from telco_mart.warehouse import transaction

Outcome = Literal["pass", "warn", "fail"]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


PERSONAL_DATA = "(personal data)"


def mask_personal(rows: list[dict[str, Any]], personal: set[str] | frozenset[str]) -> list[dict[str, Any]]:
    """Sample rows with the personal columns' values hidden (whether there is a value shows,
    never which): samples go to marts.dq_results, which BI reads, to the HTML report people
    forward, and into the failure message and so the task log."""
    if not personal:
        return rows
    return [{k: (PERSONAL_DATA if k in personal and v is not None else v) for k, v in row.items()} for row in rows]


def to_json(value: Any) -> str:
    """JSON for details and samples: dates as ISO text, NaN as null."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and math.isnan(v):
            return None
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(value), default=_jsonable, ensure_ascii=False)


@dataclass(frozen=True)
class Finding:
    """The verdict of one expectation on one delivery date."""

    stage: str
    run_date: dt.date
    suite: str
    data_asset: str
    expectation: str
    description: str
    severity: Severity
    success: bool
    observed_value: str
    observed_number: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    sample: list[dict[str, Any]] = field(default_factory=list)

    @property
    def outcome(self) -> Outcome:
        return "pass" if self.success else self.severity


def store_findings(
    con: duckdb.DuckDBPyConnection,
    findings: list[Finding],
    *,
    run_id: str,
    start: dt.date,
    end: dt.date,
    suites: list[str],
) -> None:
    """Replace the results of ``suites`` for the dates ``start``..``end`` by ``findings``, atomically."""
    ensure_dq_results(con)
    validated_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    table = pa.table(
        {
            "run_id": pa.array([run_id] * len(findings), pa.string()),
            "run_date": pa.array([f.run_date for f in findings], pa.date32()),
            "stage": pa.array([f.stage for f in findings], pa.string()),
            "suite": pa.array([f.suite for f in findings], pa.string()),
            "data_asset": pa.array([f.data_asset for f in findings], pa.string()),
            "expectation": pa.array([f.expectation for f in findings], pa.string()),
            "description": pa.array([f.description for f in findings], pa.string()),
            "severity": pa.array([f.severity for f in findings], pa.string()),
            "success": pa.array([f.success for f in findings], pa.bool_()),
            "observed_value": pa.array([f.observed_value for f in findings], pa.string()),
            "observed_number": pa.array([f.observed_number for f in findings], pa.float64()),
            "details": pa.array([to_json({**f.details, "sample": f.sample}) for f in findings], pa.string()),
            "validated_at": pa.array([validated_at] * len(findings), pa.timestamp("us")),
        }
    )
    with transaction(con):
        con.execute(
            f"delete from {DQ_RESULTS} where run_date between ? and ? and list_contains(?, suite)",
            [start, end, suites],
        )
        con.register("_dq_findings", table)
        con.execute(f"insert into {DQ_RESULTS} by name select * replace (details::json as details) from _dq_findings")
        con.unregister("_dq_findings")
