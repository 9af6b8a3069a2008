"""The raw contract, loaded once from ``raw_contract.yml``.

Generator, ingestion, docs and the dbt source check all read the feed definitions from
here, so a column added to the YAML reaches every layer without a second edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

CONTRACT_FILE = "raw_contract.yml"

#: Contract type -> DuckDB type used for the typed `raw` tables.
DUCKDB_TYPES: dict[str, str] = {
    "string": "varchar",
    "integer": "bigint",
    "double": "double",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}

FEED_KINDS = ("event", "change", "snapshot")

#: How often a feed is due. ``daily``: a file every delivery date, header-only when nothing
#: happened (a missing day is a missing delivery, not a quiet day); ``monthly``: on the
#: feed's ``due_day_of_month``; ``on_change``: only when something changed (never "missing").
CADENCES = ("daily", "monthly", "on_change")

#: Where a feed's raw rows are kept. ``table``: a DuckDB table in the warehouse file;
#: ``parquet``: warehouse-owned zstd Parquet files partitioned by delivery date, which the
#: ``raw`` view of the same name reads (telco_mart.schema). Feeds whose daily volume grows with
#: the base use ``parquet``: a day costs one file write instead of a table insert, a corrected
#: re-delivery swaps a file, and any engine can read the history.
STORAGES = ("table", "parquet")


class ContractError(ValueError):
    """The contract file itself is malformed."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool
    description: str
    pii: bool = False
    min: float | None = None
    max: float | None = None
    values: tuple[str, ...] | None = None
    references: str | None = None

    @property
    def duckdb_type(self) -> str:
        return DUCKDB_TYPES[self.type]


@dataclass(frozen=True)
class Feed:
    name: str
    source_system: str
    description: str
    kind: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    cadence: str = "daily"
    due_day_of_month: int | None = None
    #: The feed decides who may be contacted (opt-outs, contact history, CRM changes): publish
    #: refuses while it is not complete up to the decision date (consent fails closed).
    governs_contact: bool = False
    storage: str = "table"

    def is_due(self, day: date) -> bool:
        """Whether a delivery of this feed is expected for ``day``."""
        if self.cadence == "daily":
            return True
        if self.cadence == "monthly":
            return day.day == self.due_day_of_month
        return False

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"feed {self.name!r} has no column {name!r}")


#: The zone every stored timestamp is in: a file's values are converted to it at ingestion.
STORED_TIME_ZONE = "UTC"


@dataclass(frozen=True)
class Contract:
    version: int
    feeds: dict[str, Feed]
    time_zone: str = STORED_TIME_ZONE

    def feed(self, name: str) -> Feed:
        try:
            return self.feeds[name]
        except KeyError:
            raise KeyError(f"unknown feed {name!r}; the contract has {sorted(self.feeds)}") from None

    def load_order(self) -> list[str]:
        """Feeds ordered so that every referenced feed comes before the feeds that use it.

        Ingestion checks foreign keys against what is loaded, so the CRM base, plans and cells
        of a day must be in before that day's usage is checked against them.
        """
        order: list[str] = []
        visiting: set[str] = set()

        def visit(name: str) -> None:
            if name in order:
                return
            if name in visiting:
                raise ContractError(f"reference cycle through feed {name!r}")
            visiting.add(name)
            for col in self.feeds[name].columns:
                if col.references and col.references != name:
                    visit(col.references)
            visiting.discard(name)
            order.append(name)

        for name in self.feeds:
            visit(name)
        return order


COLUMN_KEYS = {"type", "required", "description", "pii", "min", "max", "values", "references"}


def _parse_column(feed: str, name: str, spec: dict[str, Any]) -> Column:
    if unknown := set(spec) - COLUMN_KEYS:
        # An unquoted comma in a YAML flow mapping silently makes a stray key: refuse it.
        raise ContractError(f"{feed}.{name}: unknown attributes {sorted(map(str, unknown))}")
    col_type = spec.get("type")
    if col_type not in DUCKDB_TYPES:
        raise ContractError(f"{feed}.{name}: type {col_type!r} is not one of {sorted(DUCKDB_TYPES)}")
    values = spec.get("values")
    return Column(
        name=name,
        type=col_type,
        required=bool(spec.get("required", False)),
        description=str(spec.get("description", "")),
        pii=bool(spec.get("pii", False)),
        min=spec.get("min"),
        max=spec.get("max"),
        values=tuple(str(v) for v in values) if values else None,
        references=spec.get("references"),
    )


def _storage(feed: str, spec: dict[str, Any]) -> str:
    storage = spec.get("storage", "table")
    if storage not in STORAGES:
        raise ContractError(f"{feed}: storage must be one of {STORAGES}, got {storage!r}")
    return str(storage)


def parse_contract(data: dict[str, Any]) -> Contract:
    feeds: dict[str, Feed] = {}
    for feed_name, spec in data["feeds"].items():
        columns = tuple(_parse_column(feed_name, n, s) for n, s in spec["columns"].items())
        names = {c.name for c in columns}
        key = tuple(spec["key"])
        if missing := [k for k in key if k not in names]:
            raise ContractError(f"{feed_name}: key columns {missing} are not columns")
        if spec.get("kind") not in FEED_KINDS:
            raise ContractError(f"{feed_name}: kind must be one of {FEED_KINDS}")
        cadence = spec.get("cadence")
        if cadence not in CADENCES:
            raise ContractError(f"{feed_name}: cadence must be one of {CADENCES}, got {cadence!r}")
        due_day = spec.get("due_day_of_month")
        if (cadence == "monthly") != isinstance(due_day, int) or (due_day is not None and not 1 <= due_day <= 28):
            raise ContractError(f"{feed_name}: a monthly feed (only) states due_day_of_month, 1 to 28")
        feeds[feed_name] = Feed(
            name=feed_name,
            source_system=spec["source_system"],
            description=" ".join(str(spec.get("description", "")).split()),
            kind=spec["kind"],
            key=key,
            columns=columns,
            cadence=cadence,
            due_day_of_month=due_day,
            governs_contact=bool(spec.get("governs_contact", False)),
            storage=_storage(feed_name, spec),
        )
    for feed in feeds.values():
        for col in feed.columns:
            if col.references and col.references not in feeds:
                raise ContractError(f"{feed.name}.{col.name} references unknown feed {col.references!r}")
    time_zone = str(data.get("time_zone", STORED_TIME_ZONE))
    if time_zone != STORED_TIME_ZONE:
        raise ContractError(
            f"time_zone {time_zone!r}: the warehouse stores timestamps in {STORED_TIME_ZONE}; a feed written in "
            "another zone says so in the operator profile"
        )
    return Contract(version=int(data.get("version", 1)), feeds=feeds, time_zone=time_zone)


@cache
def load_contract(path: str | None = None) -> Contract:
    """The project's contract, or another contract file when ``path`` is given (tests)."""
    if path is None:
        text = resources.files(__package__).joinpath(CONTRACT_FILE).read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return parse_contract(yaml.safe_load(text))


def _cadence_text(feed: Feed) -> str:
    if feed.cadence == "monthly":
        return f"monthly, on day {feed.due_day_of_month}"
    return {"daily": "daily (header-only when nothing happened)", "on_change": "on change only"}[feed.cadence]


def render_markdown(contract: Contract) -> str:
    """The contract as the Markdown page in docs/, so people read what the code enforces."""
    lines = [
        "# The raw contract",
        "",
        "Generated from `plugins/telco_mart/contract/raw_contract.yml` by "
        "`telco-mart contract --markdown`; edit the YAML, not this page.",
        "",
        "Files land as `<landing>/<feed>/<YYYY-MM-DD>/<name>.csv` or `.parquet`, the folder "
        "being the delivery date. A file missing a required column is rejected whole; an extra "
        "column is logged and ignored; a row with a null required value, an unparseable value, "
        "a value out of range or outside its value set, a duplicate key or an unknown reference "
        "is quarantined with its reason.",
        "",
        f"Every timestamp is stored in {contract.time_zone}. A file's values are read through its operator "
        "profile (`TELCO_MART_OPERATOR_PROFILE`, [onboarding](onboarding.md)): a timestamp with a UTC offset "
        "(`2026-01-01 23:30:00-05:00`) is converted to UTC (`2026-01-02 04:30:00`), a timestamp without one is "
        "read in the feed's declared time zone (default UTC). Dates and timestamps outside the profile's sane "
        "window (default 1900-01-01 to 2199-12-31 for timestamps, to 9999-12-31 for dates) are quarantined.",
        "",
    ]
    for feed in contract.feeds.values():
        lines += [
            f"## `{feed.name}`",
            "",
            f"{feed.description}",
            "",
            f"Source system `{feed.source_system}`, kind `{feed.kind}`, key `({', '.join(feed.key)})`, "
            f"due {_cadence_text(feed)}."
            + (" Governs contact: publish refuses while it is incomplete." if feed.governs_contact else "")
            + (" Stored as Parquet partitioned by delivery date." if feed.storage == "parquet" else ""),
            "",
            "| column | type | required | checks | description |",
            "| --- | --- | --- | --- | --- |",
        ]
        for col in feed.columns:
            checks = []
            if col.min is not None:
                checks.append(f">= {col.min}")
            if col.max is not None:
                checks.append(f"<= {col.max}")
            if col.values:
                checks.append("in " + ", ".join(col.values))
            if col.references:
                checks.append(f"references `{col.references}`")
            if col.pii:
                checks.append("PII")
            kind = f"{col.type} ({contract.time_zone})" if col.type == "timestamp" else col.type
            lines.append(
                f"| `{col.name}` | {kind} | {'yes' if col.required else 'no'} | "
                f"{'; '.join(checks)} | {col.description} |"
            )
        lines.append("")
    return "\n".join(lines)
