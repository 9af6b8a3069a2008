"""The suites in ``expectations/``: Great Expectations suite files, read into checks.

A suite file is a GX 1.x ``ExpectationSuite`` in JSON, one per data asset (``raw/<feed>.json``
for each raw feed), committed and reviewed like code. Each expectation carries:

- ``severity``: GX's own field. ``critical`` means **fail** (nothing downstream runs for the
  date), ``warning`` means **warn** (recorded, the run goes on). GX's ``info`` is refused: the
  gate has exactly two outcomes, and a third that nobody acts on is noise.
- ``meta.batch``: what the expectation looks at. ``rows`` is the day's rows of the asset;
  ``day`` is a frame of the day's metrics (one row per delivery date, one column per metric,
  computed in DuckDB: quarantine rate, volume against the trailing mean, rows that reference
  no subscriber...). See :mod:`telco_mart.quality.raw` for the metrics of raw feeds.
- ``meta.from_contract: true`` on the expectations derived from the raw contract. They are
  written by ``telco-mart quality scaffold`` and a test keeps them in step with the contract;
  every other expectation is written and owned by people.
- ``description``: one sentence a reader of the report understands.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from telco_mart.gate_settings import SETTING_TYPES, QualityConfigError

Batch = Literal["rows", "day"]
Severity = Literal["warn", "fail"]
BATCHES: tuple[Batch, ...] = ("rows", "day")

#: GX's severity names and the gate's.
SEVERITY_FROM_GX: dict[str, Severity] = {"critical": "fail", "warning": "warn"}
SEVERITY_TO_GX: dict[Severity, str] = {v: k for k, v in SEVERITY_FROM_GX.items()}


@dataclass(frozen=True)
class Check:
    """One expectation of a suite, with what the gate needs to run and report it."""

    suite: str
    index: int
    config: dict[str, Any]
    batch: Batch
    severity: Severity
    description: str
    from_contract: bool

    @property
    def type(self) -> str:
        return self.config["type"]

    @property
    def kwargs(self) -> dict[str, Any]:
        return self.config["kwargs"]

    @property
    def key(self) -> str:
        """How results name the expectation: its type and the columns it is about."""
        cols = [self.kwargs[k] for k in ("column", "column_A", "column_B") if k in self.kwargs]
        return f"{self.type}({', '.join(cols)})" if cols else self.type

    def parameters(self) -> set[str]:
        """Names this expectation takes from gate.yml as ``{"$PARAMETER": name}``."""
        return {v["$PARAMETER"] for v in self.kwargs.values() if isinstance(v, dict) and "$PARAMETER" in v}


@dataclass(frozen=True)
class GateSuite:
    name: str
    data_asset: str
    path: Path
    checks: tuple[Check, ...]
    #: The suite's top-level ``meta`` (``data_asset``; ``scope`` on output stages, see outputs.py).
    meta: dict[str, Any] = field(default_factory=dict)

    def batch(self, batch: Batch) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.batch == batch)

    def gx_suite(self, checks: Iterable[Check]) -> Any:
        """A real GX ``ExpectationSuite`` of the given checks; each expectation's ``id`` is the
        check's index, because GX reorders results when an expectation raises."""
        import great_expectations as gx

        return gx.ExpectationSuite(
            name=self.name,
            expectations=[{**c.config, "id": str(c.index), "severity": SEVERITY_TO_GX[c.severity]} for c in checks],
        )


def _check(suite: str, index: int, config: dict[str, Any], where: str) -> Check:
    meta = config.get("meta") or {}
    batch = meta.get("batch")
    if batch not in BATCHES:
        raise QualityConfigError(f"{where}: meta.batch must be one of {BATCHES}, not {batch!r}")
    gx_severity = config.get("severity")
    if gx_severity not in SEVERITY_FROM_GX:
        raise QualityConfigError(
            f"{where}: severity must be 'critical' (fail) or 'warning' (warn), not {gx_severity!r}"
        )
    if not config.get("description"):
        raise QualityConfigError(f"{where}: every expectation needs a description for the report")
    check = Check(
        suite=suite,
        index=index,
        config={k: v for k, v in config.items() if k != "id"},
        batch=batch,
        severity=SEVERITY_FROM_GX[gx_severity],
        description=" ".join(str(config["description"]).split()),
        from_contract=bool(meta.get("from_contract", False)),
    )
    if unknown := sorted(check.parameters() - set(SETTING_TYPES)):
        raise QualityConfigError(f"{where}: $PARAMETER {unknown} is not a setting of gate.yml")
    return check


def load_suite(path: Path) -> GateSuite:
    """Read one suite file and check it is a valid GX suite with the gate's conventions."""
    data = json.loads(path.read_text(encoding="utf-8"))
    name = data.get("name")
    if name != f"{path.parent.name}.{path.stem}":
        raise QualityConfigError(f"{path}: suite name {name!r} must be {path.parent.name}.{path.stem}")
    checks = tuple(
        _check(name, i, config, f"{path.name} expectation {i} ({config.get('type')})")
        for i, config in enumerate(data.get("expectations", []))
    )
    seen: set[tuple[str, str]] = set()
    for check in checks:
        if (check.key, check.severity) in seen:
            raise QualityConfigError(f"{path}: {check.key} appears twice at severity {check.severity}")
        seen.add((check.key, check.severity))
    meta = data.get("meta") or {}
    suite = GateSuite(name=name, data_asset=meta.get("data_asset", name), path=path, checks=checks, meta=meta)
    # Let GX itself refuse unknown expectation types and bad kwargs.
    try:
        suite.gx_suite(checks)
    except Exception as exc:
        raise QualityConfigError(f"{path}: not a valid Great Expectations suite: {exc}") from exc
    return suite


def load_stage(directory: Path, stage: str) -> list[GateSuite]:
    """Every suite of a stage folder (``raw``, ``marts``...), in name order."""
    folder = directory / stage
    if not folder.is_dir():
        raise QualityConfigError(f"{folder} is missing: the {stage} suites live there")
    return [load_suite(path) for path in sorted(folder.glob("*.json"))]


def suite_document(
    name: str,
    data_asset: str,
    notes: str | None,
    expectations: list[dict[str, Any]],
    meta: dict[str, Any] | None = None,
) -> str:
    """The JSON text of a suite file, laid out the same way every time so diffs stay small."""
    document: dict[str, Any] = {"name": name, "meta": {"data_asset": data_asset, **(meta or {})}}
    if notes:
        document["notes"] = notes
    document["expectations"] = [
        {key: e[key] for key in ("type", "kwargs", "severity", "description", "meta") if key in e} for e in expectations
    ]
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
