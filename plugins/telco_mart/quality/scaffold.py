"""Writing the raw suites' contract-derived expectations, so suite and contract never drift.

The raw contract already says each feed's columns, types, required values, value sets,
ranges, key and references. ``telco-mart quality scaffold`` turns that into expectations
(marked ``meta.from_contract``) inside ``expectations/raw/<feed>.json`` and leaves every
other expectation of the file as people wrote it; a test fails when the committed suites no
longer match the contract. A feed new to the contract gets a suite with the standard gate
checks too (rejected files, quarantine rate, volume, duplicate deliveries, schema drift,
registry reconciliation), which people then own like the rest of the suite.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from telco_mart.contract import Contract, Feed
from telco_mart.quality.raw import frame_columns
from telco_mart.quality.suites import SEVERITY_TO_GX, Severity, suite_document

#: Contract type -> the type name GX reports for an Arrow-backed pandas column.
GX_TYPES: dict[str, str] = {
    "string": "str",
    "integer": "int",
    "double": "float",
    "boolean": "bool",
    "date": "date",
    "timestamp": "datetime",
}


def _expectation(
    type_: str, kwargs: dict[str, Any], severity: Severity, description: str, batch: str, *, contract: bool
) -> dict[str, Any]:
    meta: dict[str, Any] = {"batch": batch}
    if contract:
        meta["from_contract"] = True
    return {
        "type": type_,
        "kwargs": kwargs,
        "severity": SEVERITY_TO_GX[severity],
        "description": description,
        "meta": meta,
    }


def contract_expectations(feed: Feed) -> list[dict[str, Any]]:
    """The expectations the contract implies for a feed, in a stable order."""

    def rows(type_: str, kwargs: dict[str, Any], description: str) -> dict[str, Any]:
        return _expectation(type_, kwargs, "fail", description, "rows", contract=True)

    def day(column: str, description: str) -> dict[str, Any]:
        kwargs = {"column": column, "max_value": 0}
        return _expectation("expect_column_values_to_be_between", kwargs, "fail", description, "day", contract=True)

    out = [
        rows(
            "expect_table_columns_to_match_ordered_list",
            {"column_list": frame_columns(feed)},
            "The raw table has the contract's columns in order, then the lineage columns.",
        )
    ]
    for col in feed.columns:
        out.append(
            rows(
                "expect_column_values_to_be_of_type",
                {"column": col.name, "type_": GX_TYPES[col.type]},
                f"{col.name} holds {col.type} values.",
            )
        )
    for col in feed.columns:
        if col.required:
            out.append(
                rows(
                    "expect_column_values_to_not_be_null",
                    {"column": col.name},
                    f"{col.name} is never empty (required).",
                )
            )
        if col.values:
            out.append(
                rows(
                    "expect_column_values_to_be_in_set",
                    {"column": col.name, "value_set": list(col.values)},
                    f"{col.name} is one of {', '.join(col.values)}.",
                )
            )
        if col.min is not None or col.max is not None:
            bounds = {k: v for k, v in (("min_value", col.min), ("max_value", col.max)) if v is not None}
            words = " and ".join(f"{'at least' if k == 'min_value' else 'at most'} {v}" for k, v in bounds.items())
            out.append(
                rows(
                    "expect_column_values_to_be_between",
                    {"column": col.name, **bounds},
                    f"{col.name} is {words}.",
                )
            )
    out.append(day("duplicate_key_rows", f"No two rows of a delivery share the key ({', '.join(feed.key)})."))
    for col in feed.columns:
        if col.references:
            out.append(
                day(
                    f"orphan_rows__{col.name}",
                    f"Every {col.name} exists in raw.{col.references} (referential integrity).",
                )
            )
    return out


def standard_expectations() -> list[dict[str, Any]]:
    """The gate checks every raw feed starts with; people tune them per suite afterwards."""

    def day(column: str, kwargs: dict[str, Any], severity: Severity, description: str) -> dict[str, Any]:
        return _expectation(
            "expect_column_values_to_be_between",
            {"column": column, **kwargs},
            severity,
            description,
            "day",
            contract=False,
        )

    return [
        day("files_rejected", {"max_value": 0}, "fail", "No file of the delivery was rejected whole."),
        day(
            "quarantine_rate",
            {"max_value": {"$PARAMETER": "quarantine_rate_warn"}},
            "warn",
            "At most quarantine_rate_warn (gate.yml) of the rows read were quarantined.",
        ),
        day(
            "quarantine_rate",
            {"max_value": {"$PARAMETER": "quarantine_rate_fail"}},
            "fail",
            "At most quarantine_rate_fail (gate.yml) of the rows read were quarantined.",
        ),
        day(
            "rows_registry_mismatch",
            {"min_value": 0, "max_value": 0},
            "fail",
            "The raw table holds exactly the rows the file registry says were loaded.",
        ),
        day(
            "volume_ratio",
            {"min_value": {"$PARAMETER": "volume_ratio_min"}, "max_value": {"$PARAMETER": "volume_ratio_max"}},
            "warn",
            "Rows loaded are within [volume_ratio_min, volume_ratio_max] (gate.yml) times the trailing mean.",
        ),
        day("files_skipped_duplicate", {"max_value": 0}, "warn", "No file was delivered twice."),
        day(
            "files_with_schema_drift",
            {"max_value": 0},
            "warn",
            "Every file has exactly the contract's columns (no extra column, no optional one missing).",
        ),
    ]


def scaffold_suite(feed: Feed, existing: dict[str, Any] | None) -> str:
    """The suite file's text for a feed: the contract's expectations, then the rest.

    For an existing suite the hand-written expectations are kept as they are, and a
    contract-derived expectation keeps the severity a reviewer gave it.
    """
    name = f"raw.{feed.name}"
    kept = [] if existing is None else [e for e in existing["expectations"] if not e["meta"].get("from_contract")]
    severities = {
        (e["type"], json.dumps(e["kwargs"], sort_keys=True)): e["severity"]
        for e in (existing or {}).get("expectations", [])
        if e["meta"].get("from_contract")
    }
    derived = []
    for expectation in contract_expectations(feed):
        ident = (expectation["type"], json.dumps(expectation["kwargs"], sort_keys=True))
        derived.append({**expectation, "severity": severities.get(ident, expectation["severity"])})
    rest = kept if existing is not None else standard_expectations()
    notes = (existing or {}).get("notes")
    return suite_document(name, name, notes, derived + rest)


def scaffold(contract: Contract, directory: Path, *, write: bool = True) -> list[Path]:
    """Bring every raw suite in step with the contract; the paths whose text changed (or would)."""
    folder = directory / "raw"
    changed = []
    for feed in contract.feeds.values():
        path = folder / f"{feed.name}.json"
        existing = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
        text = scaffold_suite(feed, existing)
        if existing is None or path.read_text(encoding="utf-8") != text:
            changed.append(path)
            if write:
                folder.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    return changed
