"""What the output stages' tests read back: a gate's findings that did not pass, and a query
of the gated warehouse (read-only, so the gate's next run can write)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from telco_mart.quality.results import Finding


def not_passed(findings: list[Finding]) -> list[str]:
    return [f"{f.suite} {f.expectation} [{f.severity}]: {f.observed_value}" for f in findings if not f.success]


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()
