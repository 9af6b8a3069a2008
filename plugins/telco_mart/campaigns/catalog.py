"""The campaign catalog: read, validate against the audience model, load into the warehouse.

The catalog is data marketing owns (``campaigns/catalog.yml``). dbt evaluates it generically
(``campaign_decisions_daily`` joins the rules to the audience), so a new campaign needs no
Python or SQL change. That only holds if a bad entry is refused *before* anything runs, with
a message naming the entry and the field: hence the strict validation here, against the
audience model's documented columns (its yml is the single list of what a rule may use).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import yaml

from telco_mart.config import Settings

KINDS = ("sales", "service")
CHANNELS = ("sms", "outbound_call", "app_push", "retail")
NUMERIC_OPERATORS = ("=", "!=", "<", "<=", ">", ">=")
TEXT_OPERATORS = ("=", "!=", "in", "not in")
BOOLEAN_OPERATORS = ("=", "!=")
NUMERIC_TYPES = ("integer", "bigint", "double", "float", "decimal", "numeric", "int")
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

#: The dbt model whose columns eligibility rules may name, and where its columns are documented.
AUDIENCE_MODEL = "int_subscribers_prepared_for_campaigns"
AUDIENCE_YML = Path("models/intermediate/campaigns/_int_campaigns__models.yml")
#: Audience columns that identify a row rather than describe the subscriber.
AUDIENCE_KEYS = ("subscriber_id", "decision_date")
PRODUCT_PREFIX = "holds_"

POLICY_FIELDS: dict[str, type] = {
    "marketing_cap_7_days": int,
    "marketing_cap_30_days": int,
    "holdout_salt": str,
    "conversion_window_days": int,
    "inactive_after_days": int,
}
CAMPAIGN_FIELDS = (
    "id",
    "name",
    "kind",
    "channel",
    "offer_code",
    "offer_product",
    "priority",
    "expected_value",
    "holdout_share",
    "cooldown_days",
    "daily_capacity",
    "active_from",
    "active_to",
    "eligibility",
)
REQUIRED_CAMPAIGN_FIELDS = tuple(f for f in CAMPAIGN_FIELDS if f not in ("offer_product", "active_to"))
RULE_FIELDS = ("column", "op", "value", "reason")


class CatalogError(ValueError):
    """The catalog is not valid; the message names every bad entry and field."""


@dataclass(frozen=True)
class AudienceColumn:
    name: str
    kind: str  # text, number or boolean
    values: tuple[str, ...] | None  # accepted values, where the model tests them


@dataclass(frozen=True)
class Rule:
    number: int
    column: str
    operator: str
    value_text: str | None
    value_number: float | None
    reason: str


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    kind: str
    channel: str
    offer_code: str
    offer_product: str | None
    priority: int
    expected_value: float
    holdout_share: float
    cooldown_days: int
    daily_capacity: int
    active_from: dt.date
    active_to: dt.date | None
    rules: tuple[Rule, ...]

    def is_active(self, day: dt.date) -> bool:
        return self.active_from <= day and (self.active_to is None or day <= self.active_to)


@dataclass(frozen=True)
class Policy:
    marketing_cap_7_days: int
    marketing_cap_30_days: int
    holdout_salt: str
    conversion_window_days: int
    inactive_after_days: int


@dataclass(frozen=True)
class Catalog:
    path: Path
    version: str  # sha256 of the file, first 12 hex digits: decisions record which catalog made them
    policy: Policy
    campaigns: tuple[Campaign, ...]

    def campaign(self, campaign_id: str) -> Campaign:
        for campaign in self.campaigns:
            if campaign.id == campaign_id:
                return campaign
        raise KeyError(f"no campaign {campaign_id!r} in {self.path}")


def default_catalog_path() -> Path:
    return Settings.from_env().campaign_catalog


def audience_columns(dbt_project_dir: Path | None = None) -> dict[str, AudienceColumn]:
    """The columns a rule may name, with their kind and accepted values, from the model's yml."""
    project = dbt_project_dir or Settings.from_env().dbt_project_dir
    spec = yaml.safe_load((project / AUDIENCE_YML).read_text())
    model = next((m for m in spec.get("models", []) if m["name"] == AUDIENCE_MODEL), None)
    if model is None:
        raise CatalogError(f"{project / AUDIENCE_YML} does not document {AUDIENCE_MODEL}")
    columns: dict[str, AudienceColumn] = {}
    for column in model["columns"]:
        if column["name"] in AUDIENCE_KEYS:
            continue
        data_type = str(column.get("data_type", "")).lower()
        kind = "boolean" if data_type == "boolean" else "number" if data_type in NUMERIC_TYPES else "text"
        values = None
        for test in column.get("data_tests", []) or []:
            if isinstance(test, dict) and "accepted_values" in test:
                spec_values = test["accepted_values"].get("arguments", test["accepted_values"])["values"]
                values = tuple(str(v) for v in spec_values)
        columns[column["name"]] = AudienceColumn(column["name"], kind, values)
    return columns


def load_catalog(path: Path | None = None, dbt_project_dir: Path | None = None) -> Catalog:
    """Read and validate the catalog; raise CatalogError listing every problem found."""
    path = path or default_catalog_path()
    try:
        raw_text = path.read_bytes()
    except FileNotFoundError:
        raise CatalogError(f"campaign catalog {path} not found (TELCO_MART_CAMPAIGN_CATALOG)") from None
    try:
        data = yaml.safe_load(raw_text)
    except yaml.YAMLError as error:
        raise CatalogError(f"{path}: not valid YAML: {error}") from None
    problems: list[str] = []
    if not isinstance(data, dict) or set(data) - {"policy", "campaigns"}:
        raise CatalogError(f"{path}: expected the top-level keys `policy` and `campaigns` only")
    policy = _parse_policy(data.get("policy"), problems)
    columns = audience_columns(dbt_project_dir)
    products = {name.removeprefix(PRODUCT_PREFIX) for name in columns if name.startswith(PRODUCT_PREFIX)}
    campaigns: list[Campaign] = []
    seen: set[str] = set()
    entries = data.get("campaigns")
    if not isinstance(entries, list) or not entries:
        problems.append("campaigns: expected a non-empty list of campaigns")
        entries = []
    for index, entry in enumerate(entries):
        campaign = _parse_campaign(index, entry, columns, products, problems)
        if campaign is None:
            continue
        if campaign.id in seen:
            problems.append(f"campaign {campaign.id!r}: id: duplicate campaign id")
        seen.add(campaign.id)
        campaigns.append(campaign)
    if problems:
        raise CatalogError(f"campaign catalog {path} is not valid:\n  - " + "\n  - ".join(problems))
    version = hashlib.sha256(raw_text).hexdigest()[:12]
    return Catalog(path=path, version=version, policy=policy, campaigns=tuple(campaigns))  # type: ignore[arg-type]


def _parse_policy(data: Any, problems: list[str]) -> Policy | None:
    if not isinstance(data, dict):
        problems.append("policy: expected a mapping with " + ", ".join(POLICY_FIELDS))
        return None
    for key in sorted(set(data) - set(POLICY_FIELDS)):
        problems.append(f"policy: {key}: unknown field (known: {', '.join(POLICY_FIELDS)})")
    values: dict[str, Any] = {}
    for key, kind in POLICY_FIELDS.items():
        value = data.get(key)
        if kind is int and not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            problems.append(f"policy: {key}: expected a whole number >= 0, got {value!r}")
        elif kind is str and not (isinstance(value, str) and value):
            problems.append(f"policy: {key}: expected a non-empty text, got {value!r}")
        values[key] = value
    if problems:
        return None
    return Policy(**values)


def _parse_campaign(
    index: int,
    entry: Any,
    columns: dict[str, AudienceColumn],
    products: set[str],
    problems: list[str],
) -> Campaign | None:
    if not isinstance(entry, dict):
        problems.append(f"campaigns[{index}]: expected a mapping, got {entry!r}")
        return None
    name = f"campaign {entry['id']!r}" if isinstance(entry.get("id"), str) else f"campaigns[{index}]"
    before = len(problems)

    def bad(field: str, message: str) -> None:
        problems.append(f"{name}: {field}: {message}")

    for key in sorted(set(entry) - set(CAMPAIGN_FIELDS)):
        bad(key, f"unknown field (known: {', '.join(CAMPAIGN_FIELDS)})")
    for key in REQUIRED_CAMPAIGN_FIELDS:
        if entry.get(key) is None:
            bad(key, "required")
    if problems[before:]:
        return None

    if not IDENTIFIER.match(str(entry["id"])):
        bad("id", "lowercase letters, digits and underscores, starting with a letter")
    if entry["kind"] not in KINDS:
        bad("kind", f"{entry['kind']!r} is not one of {', '.join(KINDS)}")
    if entry["channel"] not in CHANNELS:
        bad("channel", f"{entry['channel']!r} is not one of {', '.join(CHANNELS)}")
    if not isinstance(entry["offer_code"], str) or not entry["offer_code"].strip():
        bad("offer_code", "expected a non-empty text")
    offer_product = entry.get("offer_product")
    if offer_product is not None and offer_product not in products:
        bad("offer_product", f"{offer_product!r} is not a product of the audience ({', '.join(sorted(products))})")
    for key, low, high, whole in (
        ("priority", 0, None, True),
        ("expected_value", 0, None, False),
        ("holdout_share", 0, 0.5, False),
        ("cooldown_days", 0, 365, True),
        ("daily_capacity", 1, None, True),
    ):
        value = entry[key]
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or (whole and not isinstance(value, int)):
            bad(key, f"expected a {'whole ' if whole else ''}number, got {value!r}")
        elif value < low or (high is not None and value > high):
            bad(key, f"{value!r} is outside [{low}, {high if high is not None else '...'}]")
    active_from, active_to = entry["active_from"], entry.get("active_to")
    if not isinstance(active_from, dt.date):
        bad("active_from", f"expected a date (YYYY-MM-DD), got {active_from!r}")
    if active_to is not None and not isinstance(active_to, dt.date):
        bad("active_to", f"expected a date (YYYY-MM-DD) or nothing, got {active_to!r}")
    elif isinstance(active_from, dt.date) and active_to is not None and active_to < active_from:
        bad("active_to", f"{active_to} is before active_from {active_from}")

    rules: list[Rule] = []
    eligibility = entry["eligibility"]
    if not isinstance(eligibility, list) or not eligibility:
        bad("eligibility", "expected a non-empty list of rules")
        eligibility = []
    for number, spec in enumerate(eligibility, start=1):
        rule = _parse_rule(f"eligibility[{number - 1}]", number, spec, columns, bad)
        if rule is not None:
            rules.append(rule)
    if problems[before:]:
        return None
    return Campaign(
        id=entry["id"],
        name=str(entry["name"]),
        kind=entry["kind"],
        channel=entry["channel"],
        offer_code=entry["offer_code"].strip(),
        offer_product=offer_product,
        priority=entry["priority"],
        expected_value=float(entry["expected_value"]),
        holdout_share=float(entry["holdout_share"]),
        cooldown_days=entry["cooldown_days"],
        daily_capacity=entry["daily_capacity"],
        active_from=active_from,
        active_to=active_to,
        rules=tuple(rules),
    )


def _parse_rule(field: str, number: int, spec: Any, columns: dict[str, AudienceColumn], bad: Any) -> Rule | None:
    if not isinstance(spec, dict):
        bad(field, f"expected a mapping with {', '.join(RULE_FIELDS)}, got {spec!r}")
        return None
    unknown = sorted(set(spec) - set(RULE_FIELDS))
    missing = [key for key in RULE_FIELDS if key not in spec]
    if unknown or missing:
        bad(field, f"unknown keys {unknown} / missing keys {missing} (a rule has {', '.join(RULE_FIELDS)})")
        return None
    column_name, operator, value, reason = spec["column"], spec["op"], spec["value"], spec["reason"]
    column = columns.get(column_name)
    if column is None:
        bad(f"{field}.column", f"unknown column {column_name!r} (the audience has: {', '.join(sorted(columns))})")
        return None
    if not (isinstance(reason, str) and IDENTIFIER.match(reason)):
        bad(f"{field}.reason", f"{reason!r}: a reason code is lowercase letters, digits and underscores")
    operators = {"number": NUMERIC_OPERATORS, "boolean": BOOLEAN_OPERATORS, "text": TEXT_OPERATORS}[column.kind]
    if operator not in operators:
        bad(f"{field}.op", f"{operator!r} does not apply to the {column.kind} column {column_name} ({operators})")
        return None
    if column.kind == "boolean":
        if not isinstance(value, bool):
            bad(f"{field}.value", f"{column_name} is true or false, got {value!r}")
            return None
        return Rule(number, column_name, operator, None, 1.0 if value else 0.0, reason)
    if column.kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            bad(f"{field}.value", f"{column_name} is a number, got {value!r}")
            return None
        return Rule(number, column_name, operator, None, float(value), reason)
    listed = operator in ("in", "not in")
    items = value if listed else [value]
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        expected = "a non-empty list of texts" if listed else "a text"
        bad(f"{field}.value", f"{column_name} with {operator!r} takes {expected}, got {value!r}")
        return None
    if column.values is not None:
        unknown_values = [v for v in items if v not in column.values]
        if unknown_values:
            bad(f"{field}.value", f"{unknown_values} not among {column_name}'s values ({', '.join(column.values)})")
            return None
    # Lists travel as ',a,b,' so that SQL tests membership with one position() on any engine.
    text = "," + ",".join(items) + "," if listed else items[0]
    return Rule(number, column_name, operator, text, None, reason)


# --------------------------------------------------------------------------- warehouse tables

CATALOG_TABLES: dict[str, str] = {
    "campaign_policy": """
        catalog_version varchar, marketing_cap_7_days integer, marketing_cap_30_days integer,
        holdout_salt varchar, conversion_window_days integer, inactive_after_days integer,
        loaded_at timestamp""",
    "campaigns": """
        catalog_version varchar, campaign_id varchar, campaign_name varchar, campaign_kind varchar,
        channel varchar, offer_code varchar, offer_product varchar, priority integer,
        expected_value double, holdout_share double, cooldown_days integer, daily_capacity integer,
        active_from date, active_to date, loaded_at timestamp""",
    "campaign_eligibility_rules": """
        catalog_version varchar, campaign_id varchar, rule_number integer, column_name varchar,
        operator varchar, value_text varchar, value_number double, reason_code varchar, loaded_at timestamp""",
}


def ensure_catalog_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    for table, columns in CATALOG_TABLES.items():
        con.execute(f"create table if not exists raw.{table} ({columns})")


def store_catalog(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> None:
    """Replace the catalog tables in one transaction: dbt never sees half a catalog."""
    ensure_catalog_tables(con)
    loaded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con.execute("begin transaction")
    try:
        for table in CATALOG_TABLES:
            con.execute(f"delete from raw.{table}")
        p = catalog.policy
        con.execute(
            "insert into raw.campaign_policy values (?, ?, ?, ?, ?, ?, ?)",
            [
                catalog.version,
                p.marketing_cap_7_days,
                p.marketing_cap_30_days,
                p.holdout_salt,
                p.conversion_window_days,
                p.inactive_after_days,
                loaded_at,
            ],
        )
        con.executemany(
            "insert into raw.campaigns values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    catalog.version,
                    c.id,
                    c.name,
                    c.kind,
                    c.channel,
                    c.offer_code,
                    c.offer_product,
                    c.priority,
                    c.expected_value,
                    c.holdout_share,
                    c.cooldown_days,
                    c.daily_capacity,
                    c.active_from,
                    c.active_to,
                    loaded_at,
                ]
                for c in catalog.campaigns
            ],
        )
        con.executemany(
            "insert into raw.campaign_eligibility_rules values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    catalog.version,
                    c.id,
                    r.number,
                    r.column,
                    r.operator,
                    r.value_text,
                    r.value_number,
                    r.reason,
                    loaded_at,
                ]
                for c in catalog.campaigns
                for r in c.rules
            ],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def describe(catalog: Catalog) -> str:
    """One line per campaign, for logs and `telco-mart campaigns validate`."""
    lines = [f"catalog {catalog.path} (version {catalog.version}): {len(catalog.campaigns)} campaigns"]
    for c in sorted(catalog.campaigns, key=lambda c: (-c.priority, c.id)):
        rules = " and ".join(
            f"{r.column} {r.operator} {r.value_text if r.value_text is not None else f'{r.value_number:g}'}"
            for r in c.rules
        )
        lines.append(
            f"  {c.id:<26} {c.kind:<7} {c.channel:<13} priority {c.priority:>3}  holdout {c.holdout_share:.0%}"
            f"  capacity {c.daily_capacity:>6}  when {rules}"
        )
    return "\n".join(lines)


__all__ = [
    "Campaign",
    "Catalog",
    "CatalogError",
    "Policy",
    "Rule",
    "audience_columns",
    "describe",
    "ensure_catalog_tables",
    "load_catalog",
    "store_catalog",
]
