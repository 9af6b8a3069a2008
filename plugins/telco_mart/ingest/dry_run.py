"""A dry run of ingestion: what each landed file would load, normalise and quarantine, and why.

For onboarding an operator (docs/onboarding.md): point it at the extracts and a profile, read
the verdicts, adjust the profile, run it again, and only then run the pipeline. Nothing is
written to the warehouse. The files go through the real ingestion, the same code the DAG
runs, into a scratch DuckDB file in a temporary folder (deleted afterwards), so a verdict
here is the verdict of the real run:

- the scratch file starts with what the warehouse already holds that a file is judged
  against (read-only): the file registry (a file already loaded is reported as such), every
  row of the feeds others reference (subscribers, plans, cells), and the rows of the dates in
  scope (a key delivered in another file of the day is a duplicate);
- then every file of the dates is ingested in the contract's order, as the real run would.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from telco_mart.config import Settings
from telco_mart.contract import Contract, load_contract
from telco_mart.contract.operator_profile import OperatorProfile, load_profile
from telco_mart.ingest.loader import FileOutcome, delivery_dates_on_disk, ensure_ingest_tables, ingest
from telco_mart.schema import store_rows_of
from telco_mart.warehouse import quote_ident

#: How the dry run words each registry status.
VERDICTS = {
    "loaded": "would load",
    "replaced_by_new": "would replace",
    "rejected": "would reject",
    "skipped_duplicate": "duplicate",
    "skipped": "already loaded",
}


@dataclass
class FileVerdict:
    """One file's verdict: the registry outcome it would get, and its quarantine by reason."""

    outcome: FileOutcome
    #: reason -> (rows, first few physical lines)
    reasons: dict[str, tuple[int, list[int]]] = field(default_factory=dict)

    def describe(self) -> list[str]:
        o = self.outcome
        verdict = VERDICTS.get(o.status, o.status)
        if o.status == "skipped":
            return [f"{verdict:<15} {o.source_file} (same checksum as the warehouse's copy)"]
        text = f"{verdict:<15} {o.source_file}"
        if o.status != "skipped_duplicate":
            text += f": read {o.rows_read:,}, load {o.rows_loaded:,}, quarantine {o.rows_quarantined:,}"
        if o.rows_rejected:
            text += f", reject {o.rows_rejected:,}"
        if o.rows_normalised:
            text += f", normalise {o.rows_normalised:,}"
        if o.note:
            text += f" ({o.note})"
        lines = [text]
        if o.normalisations:
            lines.append("    normalised: " + ", ".join(f"{k} {n:,}" for k, n in o.normalisations.items()))
        for reason, (rows, first) in sorted(self.reasons.items(), key=lambda item: -item[1][0]):
            lines.append(f"    {reason:<40} {rows:>9,} rows (lines {', '.join(map(str, first))})")
        return lines

    def as_dict(self) -> dict[str, Any]:
        o = self.outcome
        return {
            "file": o.source_file,
            "feed": o.feed,
            "delivery_date": o.delivery_date.isoformat(),
            "verdict": VERDICTS.get(o.status, o.status),
            "rows_read": o.rows_read,
            "rows_loaded": o.rows_loaded,
            "rows_quarantined": o.rows_quarantined,
            "rows_rejected": o.rows_rejected,
            "rows_normalised": o.rows_normalised,
            "normalisations": o.normalisations,
            "note": o.note,
            "quarantine": {reason: {"rows": n, "lines": lines} for reason, (n, lines) in self.reasons.items()},
        }


@dataclass
class DryRunReport:
    profile: OperatorProfile
    dates: list[date]
    files: list[FileVerdict]

    def totals(self) -> dict[str, int]:
        keys = ("rows_read", "rows_loaded", "rows_quarantined", "rows_rejected", "rows_normalised")
        totals = {k: sum(getattr(f.outcome, k) for f in self.files) for k in keys}
        for status, verdict in VERDICTS.items():
            totals[f"files_{verdict.replace(' ', '_')}"] = sum(1 for f in self.files if f.outcome.status == status)
        return totals

    def describe(self) -> str:
        span = f"{self.dates[0]} .. {self.dates[-1]}" if self.dates else "no delivery dates"
        lines = [f"dry run over {span}; nothing was written to the warehouse", self.profile.describe()]
        if self.profile.absent_feeds:
            lines.append(f"feeds not delivered (presence checks off): {', '.join(self.profile.absent_feeds)}")
        for verdict in self.files:
            lines += verdict.describe()
        lines.append("totals: " + ", ".join(f"{k} {v:,}" for k, v in self.totals().items()))
        return "\n".join(lines)

    def summary(self) -> dict[str, Any]:
        return {
            "profile": self.profile.name,
            "dates": [d.isoformat() for d in self.dates],
            **self.totals(),
            "files": [f.as_dict() for f in self.files],
        }


def _seed_from(con: duckdb.DuckDBPyConnection, warehouse: Path, contract: Contract, dates: list[date]) -> None:
    """Copy into the scratch file what the warehouse holds that the files are judged against."""
    con.execute(f"attach '{str(warehouse).replace(chr(39), chr(39) * 2)}' as warehouse (read_only)")
    try:
        present = {
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables where table_catalog = 'warehouse' "
                "and table_schema = 'raw'"
            ).fetchall()
        }
        if "file_registry" in present:
            con.execute("insert into raw.file_registry by name select * from warehouse.raw.file_registry")
        referenced = {c.references for feed in contract.feeds.values() for c in feed.columns if c.references}
        for name in contract.feeds:
            if name not in present:
                continue
            if contract.feed(name).storage == "parquet":
                # into the scratch's own files: the dry run never writes beside the warehouse
                store_rows_of(
                    con,
                    contract.feed(name),
                    f"warehouse.raw.{quote_ident(name)}",
                    name_suffix="seeded",
                    delivery_dates=None if name in referenced else dates,
                )
                continue
            where = "" if name in referenced else f"where _delivery_date in ({', '.join('?' for _ in dates)})"
            con.execute(
                f"insert into raw.{quote_ident(name)} by name select * from warehouse.raw.{quote_ident(name)} {where}",
                [] if name in referenced else dates,
            )
    finally:
        con.execute("detach warehouse")


def _reasons(con: duckdb.DuckDBPyConnection, source_file: str, lines: int) -> dict[str, tuple[int, list[int]]]:
    rows = con.execute(
        "select source_line, reason from raw.quarantine where source_file = ? order by source_line", [source_file]
    ).fetchall()
    counts: Counter[str] = Counter()
    first: dict[str, list[int]] = {}
    for line, reason in rows:
        for part in reason.split("; "):
            counts[part] += 1
            if len(first.setdefault(part, [])) < lines:
                first[part].append(line)
    return {reason: (n, first[reason]) for reason, n in counts.items()}


def dry_run(
    landing_dir: Path,
    dates: Iterable[date] | None = None,
    *,
    warehouse: Path | None = None,
    contract: Contract | None = None,
    profile: OperatorProfile | None = None,
    settings: Settings | None = None,
    sample_lines: int = 5,
) -> DryRunReport:
    """Ingest the landed files of ``dates`` (default: every delivery date on disk) into a
    scratch copy and report each file's verdict; ``warehouse`` (when it exists) is only read."""
    contract = contract or load_contract()
    profile = profile or load_profile(contract=contract)
    settings = settings or Settings.from_env()
    scan = sorted(dates) if dates is not None else delivery_dates_on_disk(landing_dir, contract)
    if not scan:
        return DryRunReport(profile=profile, dates=[], files=[])
    with (
        tempfile.TemporaryDirectory(prefix="telco-mart-dry-run-") as scratch,
        # a scratch file, not the warehouse: opened directly, with the warehouse's limits
        duckdb.connect(str(Path(scratch) / "dry_run.duckdb")) as con,
    ):
        con.execute(f"set memory_limit = '{settings.duckdb_memory_limit}'")
        con.execute(f"set threads = {int(settings.duckdb_threads)}")
        ensure_ingest_tables(con, contract)
        if warehouse is not None and warehouse.exists():
            _seed_from(con, warehouse, contract, scan)
        report = ingest(
            con, landing_dir, scan[-1], dates=scan, contract=contract, profile=profile, progress=lambda _: None
        )
        files = [
            FileVerdict(o, _reasons(con, o.source_file, sample_lines) if o.rows_quarantined else {})
            for o in report.outcomes
        ]
    return DryRunReport(profile=profile, dates=scan, files=files)
