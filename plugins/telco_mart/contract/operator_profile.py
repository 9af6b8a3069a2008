"""Operator profiles: how one operator's files spell what the raw contract defines.

The raw contract (``raw_contract.yml``) stays the one source of truth for feeds, columns,
types and rules. A profile (``profiles/<name>.yml`` beside it, or any YAML file) says how an
operator's extracts *write* those values: file encoding and byte order mark, delimiter and
quoting, date and timestamp formats, the time zone naive timestamps are in, boolean
spellings, decimal comma, spellings of the contract's closed value sets (``LTE`` for ``4G``),
the sane window of dates and timestamps, and the feeds the operator does not deliver at all.
Its optional ``gate:`` section sets the data-quality gate's thresholds for this operator, laid
over ``expectations/gate.yml`` (whose values are tuned to the generated world).

Ingestion reads every file through its feed's :class:`FeedDialect` and normalises to the
contract (counting every normalisation in the file registry); the generator writes through
one (``telco-mart generate --dialect``), which is how the tests prove that a world written in
a dialect builds the same marts. ``TELCO_MART_OPERATOR_PROFILE`` selects the profile: a name
under ``profiles/`` or a path (default ``default``, the contract's own spelling).
"""

from __future__ import annotations

import codecs
import datetime as dt
import os
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from telco_mart.contract import Contract, Feed, load_contract
from telco_mart.gate_settings import GateConfig, QualityConfigError, parse_gate_config

PROFILE_ENV = "TELCO_MART_OPERATOR_PROFILE"
DEFAULT_PROFILE = "default"
PROFILES_DIR = "profiles"

#: The format name that means "the contract's own ISO spelling" (DuckDB's cast: ``2026-01-31``,
#: ``2026-01-31 23:59:59``, ``2026-01-31T23:59:59.5``, with or without a UTC offset).
ISO = "iso"

#: The feed a profile may not declare absent: every other feed references it.
BASE_FEED = "subscribers"


class ProfileError(ValueError):
    """An operator profile is malformed or contradicts the contract: found before any file is read."""


@dataclass(frozen=True)
class FeedDialect:
    """How one feed's files are written. Every field has the contract's own spelling as its default."""

    feed: str
    #: False when the operator has no such feed: its presence checks are off (quality/raw.py)
    #: and references to it are not checked at ingestion.
    delivered: bool = True
    encoding: str = "utf-8"
    #: Whether the operator's files start with a byte order mark. The reader removes one
    #: whatever this says (and counts it); the generator writes one when true.
    bom: bool = False
    delimiter: str = ","
    #: None: values are never quoted (a quote is then an ordinary character).
    quote_char: str | None = '"'
    #: Generator only: quote every value and header name, as spreadsheets export.
    quote_all: bool = False
    decimal_separator: str = "."
    thousands_separator: str | None = None
    #: strptime formats tried in order (``iso`` = the contract's spelling); the first that parses wins.
    date_formats: tuple[str, ...] = (ISO,)
    timestamp_formats: tuple[str, ...] = (ISO,)
    #: IANA zone of naive timestamps; a value with a UTC offset (``-05:00``, ``+0530``, ``Z``)
    #: says its own. Timestamps are stored in UTC.
    time_zone: str = "UTC"
    #: Spellings of true and false besides ``true``/``false`` (read case-insensitively; the
    #: generator writes the first).
    true_values: tuple[str, ...] = ()
    false_values: tuple[str, ...] = ()
    #: column -> {operator spelling: contract value}, for columns with a closed value set.
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    #: contract column -> the file's columns whose values, joined by ``-``, make it: how a
    #: network keys a cell, (MCC, MNC, area code, cell identity, radio), becomes the one
    #: ``cell_id`` every feed joins on. Used when a file has the parts and not the column.
    compose: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Sane window of timestamp and date values, inclusive: outside it a value is quarantined
    #: (``out_of_window:<col>``), whatever a file's statistics claim.
    timestamp_window: tuple[dt.datetime, dt.datetime] = (dt.datetime(1900, 1, 1), dt.datetime(2199, 12, 31, 23, 59, 59))
    date_window: tuple[dt.date, dt.date] = (dt.date(1900, 1, 1), dt.date(9999, 12, 31))

    @property
    def is_utc(self) -> bool:
        return self.time_zone in ("UTC", "Etc/UTC", "Z")

    @property
    def reads_like_the_contract(self) -> bool:
        """Whether a file needs nothing beyond the contract's own spelling (the fast path)."""
        return self == FeedDialect(feed=self.feed, delivered=self.delivered, bom=self.bom, quote_all=self.quote_all)


@dataclass(frozen=True)
class OperatorProfile:
    name: str
    source: str
    description: str
    feeds: dict[str, FeedDialect]
    #: The profile's ``gate:`` section: gate settings laid over expectations/gate.yml for this
    #: operator (telco_mart.gate_settings.load_gate_config); None when it sets none.
    gate: GateConfig | None = None

    def feed(self, name: str) -> FeedDialect:
        return self.feeds.get(name) or FeedDialect(feed=name)

    @property
    def absent_feeds(self) -> list[str]:
        """Feeds the operator does not deliver, in the contract's order."""
        return [name for name, dialect in self.feeds.items() if not dialect.delivered]

    def describe(self) -> str:
        """One line per feed that differs from the contract's spelling, for logs and the dry run."""
        lines = [f"operator profile {self.name!r} ({self.source})"]
        default = FeedDialect(feed="")
        for name, dialect in self.feeds.items():
            if not dialect.delivered:
                lines.append(f"  {name}: not delivered by this operator (its presence checks are off)")
                continue
            changes = [
                f"{f.name}={getattr(dialect, f.name)!r}"
                for f in fields(FeedDialect)
                if f.name not in ("feed", "delivered") and getattr(dialect, f.name) != getattr(default, f.name)
            ]
            if changes:
                lines.append(f"  {name}: " + ", ".join(changes))
        if self.gate is not None:
            lines.append("  gate (over expectations/gate.yml): " + ", ".join(self.gate.lines()))
        return "\n".join(lines)


_DIALECT_KEYS = {
    "encoding",
    "bom",
    "delimiter",
    "quote_char",
    "quote_all",
    "decimal_separator",
    "thousands_separator",
    "date_formats",
    "timestamp_formats",
    "time_zone",
    "true_values",
    "false_values",
    "timestamp_window",
    "date_window",
}
_FEED_ONLY_KEYS = {"delivered", "values", "compose"}


def _strings(where: str, value: Any) -> tuple[str, ...]:
    """Text values; an unquoted whole number (``1``, ``0``) is taken as its digits."""
    out = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, int) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str) or not item:
            # YAML 1.1 reads unquoted yes/no/on/off as booleans: say so rather than guess
            raise ProfileError(f"{where}: {item!r} is not a text value (quote it: '{item}')")
        out.append(item)
    return tuple(out)


def _char(where: str, value: Any, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) != 1:
        raise ProfileError(f"{where}: {value!r} must be a single character")
    return value


def _window(where: str, value: Any, kind: type) -> tuple[Any, Any]:
    if not isinstance(value, list) or len(value) != 2:
        raise ProfileError(f"{where}: give [first, last], e.g. ['1900-01-01', '2199-12-31']")
    bounds = []
    for item in value:
        try:
            parsed = item if isinstance(item, kind) else kind.fromisoformat(str(item))
        except ValueError:
            raise ProfileError(f"{where}: {item!r} is not a {kind.__name__}") from None
        bounds.append(parsed)
    if kind is dt.date and isinstance(bounds[0], dt.datetime):
        bounds = [b.date() for b in bounds]
    if kind is dt.datetime and not isinstance(bounds[0], dt.datetime):
        bounds = [dt.datetime.combine(b, dt.time()) for b in bounds]
    if bounds[0] > bounds[1]:
        raise ProfileError(f"{where}: the window runs backwards")
    return bounds[0], bounds[1]


def _dialect_fields(where: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The FeedDialect fields a mapping of profile keys sets, checked one by one."""
    out: dict[str, Any] = {}
    for key, value in spec.items():
        at = f"{where}.{key}"
        if key == "encoding":
            try:
                out[key] = codecs.lookup(str(value)).name
            except LookupError:
                raise ProfileError(f"{at}: unknown encoding {value!r}") from None
        elif key in ("bom", "quote_all"):
            if not isinstance(value, bool):
                raise ProfileError(f"{at}: {value!r} must be true or false")
            out[key] = value
        elif key in ("delimiter", "decimal_separator"):
            out[key] = _char(at, value)
        elif key in ("quote_char", "thousands_separator"):
            out[key] = _char(at, value, optional=True)
        elif key in ("date_formats", "timestamp_formats"):
            formats = _strings(at, value)
            if key == "date_formats" and any("%z" in f for f in formats):
                raise ProfileError(f"{at}: a date has no UTC offset (%z)")
            out[key] = formats
        elif key == "time_zone":
            try:
                ZoneInfo(str(value))
            except (ZoneInfoNotFoundError, ValueError):
                raise ProfileError(f"{at}: {value!r} is not an IANA time zone (e.g. Europe/Berlin, UTC)") from None
            out[key] = str(value)
        elif key in ("true_values", "false_values"):
            out[key] = tuple(v.strip() for v in _strings(at, value))
        elif key == "timestamp_window":
            out[key] = _window(at, value, dt.datetime)
        elif key == "date_window":
            out[key] = _window(at, value, dt.date)
    return out


def _compose_spec(where: str, feed: Feed, spec: Any) -> dict[str, tuple[str, ...]]:
    """``compose: {column: [part, part, ...]}`` checked: a text column of the feed, made of two
    or more named parts of the file (which need not be contract columns)."""
    if spec is None:
        return {}
    if not isinstance(spec, dict) or not spec:
        raise ProfileError(f"{where}: give {{column: [the file columns that make it, in order]}}")
    out: dict[str, tuple[str, ...]] = {}
    for column, parts in spec.items():
        if column not in feed.column_names:
            raise ProfileError(f"{where}.{column}: {feed.name} has no column {column!r}")
        if feed.column(column).type != "string":
            raise ProfileError(
                f"{where}.{column}: only a text column can be composed, not a {feed.column(column).type}"
            )
        names = _strings(f"{where}.{column}", parts) if isinstance(parts, list) else ()
        if len(names) < 2 or len(set(names)) != len(names) or column in names or not all(names):
            raise ProfileError(f"{where}.{column}: give two or more distinct file columns, e.g. [mcc, mnc, lac, ci]")
        out[column] = names
    return out


def parse_profile(data: dict[str, Any], *, name: str, source: str, contract: Contract) -> OperatorProfile:
    """Check a profile document against the contract and build every feed's dialect."""
    if not isinstance(data, dict):
        raise ProfileError(f"{source}: a profile is a YAML mapping")
    if unknown := sorted(set(data) - {"version", "description", "defaults", "feeds", "gate"}):
        raise ProfileError(f"{source}: unknown sections {unknown}")
    defaults = data.get("defaults") or {}
    if unknown := sorted(set(defaults) - _DIALECT_KEYS):
        raise ProfileError(f"{source}: defaults: unknown keys {unknown}; known: {sorted(_DIALECT_KEYS)}")
    base = _dialect_fields("defaults", defaults)
    feeds_spec = data.get("feeds") or {}
    if unknown := sorted(set(feeds_spec) - set(contract.feeds)):
        raise ProfileError(f"{source}: feeds the contract does not have: {unknown}")
    feeds: dict[str, FeedDialect] = {}
    for feed_name, feed in contract.feeds.items():
        spec = feeds_spec.get(feed_name) or {}
        where = f"feeds.{feed_name}"
        if unknown := sorted(set(spec) - _DIALECT_KEYS - _FEED_ONLY_KEYS):
            raise ProfileError(f"{source}: {where}: unknown keys {unknown}")
        dialect = FeedDialect(feed=feed_name, **{**base, **_dialect_fields(where, spec)})
        delivered = spec.get("delivered", True)
        if not isinstance(delivered, bool):
            raise ProfileError(f"{source}: {where}.delivered: {delivered!r} must be true or false")
        if not delivered and feed_name == BASE_FEED:
            raise ProfileError(f"{source}: {where}: the subscriber base cannot be declared absent")
        if not delivered and contract.feed(feed_name).governs_contact:
            raise ProfileError(
                f"{source}: {where}: {feed_name} governs who may be contacted and cannot be declared absent: "
                "without it no list can be published (consent fails closed); deliver it, header-only on quiet days"
            )
        values: dict[str, dict[str, str]] = {}
        for column, mapping in (spec.get("values") or {}).items():
            at = f"{where}.values.{column}"
            if column not in feed.column_names:
                raise ProfileError(f"{source}: {at}: {feed_name} has no column {column!r}")
            allowed = feed.column(column).values
            if not allowed:
                raise ProfileError(f"{source}: {at}: {column} has no closed value set in the contract to map onto")
            if not isinstance(mapping, dict) or not mapping:
                raise ProfileError(f"{source}: {at}: give {{operator spelling: contract value}}")
            checked = {}
            for spelled, target in mapping.items():
                (spelled,) = _strings(at, spelled)
                (target,) = _strings(at, target)
                if target not in allowed:
                    raise ProfileError(f"{source}: {at}: {target!r} is not one of the contract's {list(allowed)}")
                checked[spelled] = target
            values[column] = checked
        compose = _compose_spec(f"{source}: {where}.compose", feed, spec.get("compose"))
        overlap = {v.lower() for v in dialect.true_values} & {v.lower() for v in dialect.false_values}
        if overlap:
            raise ProfileError(f"{source}: {where}: {sorted(overlap)} spell both true and false")
        if dialect.decimal_separator == dialect.thousands_separator:
            raise ProfileError(f"{source}: {where}: the decimal separator must differ from the thousands separator")
        feeds[feed_name] = replace(dialect, delivered=delivered, values=values, compose=compose)
    return OperatorProfile(
        name=name,
        source=source,
        description=" ".join(str(data.get("description", "")).split()),
        feeds=feeds,
        gate=_gate(data.get("gate"), source, contract),
    )


def _gate(section: Any, source: str, contract: Contract) -> GateConfig | None:
    """The profile's ``gate:`` section, checked as gate.yml is (by the same code), with the
    profile file named, so that a typo stops everything before any file is read."""
    if section is None or section == {}:
        return None
    try:
        gate = parse_gate_config(section, source, within="gate", complete=False)
    except QualityConfigError as bad:
        raise ProfileError(str(bad)) from None
    if unknown := sorted(set(gate.feeds) - set(contract.feeds)):
        raise ProfileError(f"{source}: gate: feeds the contract does not have: {unknown}")
    return gate


def profile_location(name_or_path: str | None = None) -> tuple[str, Path | None]:
    """(name, path) of a profile: a bundled name, or a path to a YAML file (``None`` path = bundled)."""
    from telco_mart.config import Settings

    value = name_or_path or Settings.from_env().operator_profile or DEFAULT_PROFILE
    if value.endswith((".yml", ".yaml")) or os.sep in value:
        path = Path(value).expanduser().resolve()
        return path.stem, path
    return value, None


_CACHE: dict[tuple[str, str, int], OperatorProfile] = {}


def load_profile(name_or_path: str | None = None, contract: Contract | None = None) -> OperatorProfile:
    """The operator profile ``name_or_path`` (default: ``$TELCO_MART_OPERATOR_PROFILE`` or ``default``).

    Read again when the file changes, so a long-lived process (Airflow's) sees an edited profile.
    """
    contract = contract or load_contract()
    name, path = profile_location(name_or_path)
    if path is None:
        bundled = resources.files(__package__).joinpath(PROFILES_DIR, f"{name}.yml")
        if not bundled.is_file():
            available = sorted(
                p.name.removesuffix(".yml")
                for p in resources.files(__package__).joinpath(PROFILES_DIR).iterdir()
                if p.name.endswith(".yml")
            )
            raise ProfileError(
                f"no operator profile {name!r}: bundled profiles are {available}; "
                f"or set {PROFILE_ENV} to the path of a YAML file"
            )
        path = Path(str(bundled))
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise ProfileError(f"operator profile {path} not found ({PROFILE_ENV})") from None
    key = (str(path), str(id(contract)), stamp)
    if key not in _CACHE:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        _CACHE[key] = parse_profile(data, name=name, source=str(path), contract=contract)
    return _CACHE[key]
