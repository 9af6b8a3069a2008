"""The campaign catalog: read, validate against the audience model, load into the warehouse.

The catalog is data marketing owns (``campaigns/catalog.yml``). dbt evaluates it generically
(``campaign_decisions_daily`` joins the rules to the audience), so a new campaign needs no
Python or SQL change. That only holds if a bad entry is refused *before* anything runs, with
a message naming the entry and the field: a value that slips through does not fail later, it
decides wrongly (a ``.nan`` threshold compiles to an always-true comparison, a ``.nan``
holdout share makes everyone control). Hence a strict schema (pydantic models, below) that
refuses rather than coerces, and the checks that depend on the audience model's yml (its
documented columns are the single list of what a rule may use) run inside the same
validation, fed the columns as validation context.

Every refusal is a ``CatalogError`` listing every problem of the file at once; the DAG's
first task turns exactly that error into a failure without retries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import duckdb
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from telco_mart.config import Settings
from telco_mart.refusals import CatalogError
from telco_mart.schema import CATALOG_TABLES, ensure_catalog_tables
from telco_mart.warehouse import transaction

Kind = Literal["sales", "service"]
Channel = Literal["sms", "outbound_call", "app_push", "retail"]
KINDS: tuple[str, ...] = get_args(Kind)
CHANNELS: tuple[str, ...] = get_args(Channel)
NUMERIC_OPERATORS = ("=", "!=", "<", "<=", ">", ">=")
TEXT_OPERATORS = ("=", "!=", "in", "not in")
BOOLEAN_OPERATORS = ("=", "!=")
OPERATORS = {"number": NUMERIC_OPERATORS, "boolean": BOOLEAN_OPERATORS, "text": TEXT_OPERATORS}
NUMERIC_TYPES = ("integer", "bigint", "double", "float", "decimal", "numeric", "int")
#: Campaign ids and reason codes, matched against the whole value (``fullmatch``: ``$`` would
#: let a trailing newline through, and an id names an outbox file).
IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,62}")

#: Upper bounds of the catalog's whole numbers (docs/campaigns.md). Generous for any operator,
#: and far below 2**31, so every accepted value fits the warehouse's ``integer`` columns.
MAX_PRIORITY = 1_000
MAX_DAYS = 365  # cooldown_days, conversion_window_days, inactive_after_days
MAX_DAILY_CAPACITY = 100_000_000
MAX_MARKETING_CAP = 100  # contacts in the cap's window
MAX_TEXT = 200  # characters of a name, offer code, salt or rule value

#: The dbt model whose columns eligibility rules may name, and where its columns are documented.
AUDIENCE_MODEL = "campaign_audience_daily"
AUDIENCE_YML = Path("models/marts/campaigns/campaign_audience_daily.yml")
#: Audience columns that identify a row rather than describe the subscriber.
AUDIENCE_KEYS = ("subscriber_id", "decision_date")
PRODUCT_PREFIX = "holds_"


@dataclass(frozen=True)
class AudienceColumn:
    name: str
    kind: str  # text, number or boolean
    values: tuple[str, ...] | None  # accepted values, where the model tests them


@dataclass(frozen=True)
class Rule:
    """One eligibility rule as the warehouse stores it (``raw.campaign_eligibility_rules``)."""

    number: int
    column: str
    operator: str
    value_text: str | None
    value_number: float | None
    reason: str


# --------------------------------------------------------------------------- the schema


def _refusal(message: str) -> PydanticCustomError:
    """A validation error whose message is ours, word for word (braces in it are data)."""
    return PydanticCustomError("catalog", "{message}", {"message": message})


def _identifier(value: str) -> str:
    if not IDENTIFIER.fullmatch(value):
        raise _refusal(
            f"must be lowercase letters, digits and underscores, starting with a letter (at most 63), got {value!r}"
        )
    return value


def _one_line(value: str) -> str:
    """Texts end up in CSV files, file names and logs: no line breaks, tabs or other controls."""
    if not value.strip():
        raise _refusal(f"must not be blank, got {value!r}")
    if not value.isprintable():
        raise _refusal(f"must be one line of printable text, got {value!r}")
    return value


def _no_comma(value: str) -> str:
    # Lists travel as ',a,b,' (see RuleEntry.compile): a comma inside a value would split it.
    if "," in value:
        raise _refusal(f"must not contain a comma, got {value!r}")
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT), AfterValidator(_one_line)]
OfferCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT), AfterValidator(_one_line)
]
RuleText = Annotated[Text, AfterValidator(_no_comma)]
Days = Annotated[int, Field(ge=0, le=MAX_DAYS)]
MarketingCap = Annotated[int, Field(ge=0, le=MAX_MARKETING_CAP)]

#: What a rule's value must be, by the kind of column it tests.
RULE_VALUES: dict[str, TypeAdapter[Any]] = {
    "number": TypeAdapter(Annotated[float, Field(strict=True, allow_inf_nan=False)]),
    "boolean": TypeAdapter(Annotated[bool, Field(strict=True)]),
    "text": TypeAdapter(Annotated[RuleText, Field(strict=True)]),
    "list": TypeAdapter(Annotated[list[RuleText], Field(strict=True, min_length=1)]),
}


class _Schema(BaseModel):
    """Strict: no coercion (no ``"5"`` for 5, no ``true`` for 1, no datetime for a date),
    finite numbers only, unknown fields refused, immutable once read."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


def _audience(info: ValidationInfo) -> dict[str, AudienceColumn] | None:
    """The audience model's columns, when validating a catalog file (``load_catalog``)."""
    return (info.context or {}).get("audience")


def _column(info: ValidationInfo) -> AudienceColumn | None:
    """The audience column the rule being validated names, once that name is known to be valid."""
    return (_audience(info) or {}).get(info.data.get("column", ""))


class Policy(_Schema):
    """The contact policy every list obeys (docs/campaigns.md, "Contact policy")."""

    marketing_cap_7_days: MarketingCap
    marketing_cap_30_days: MarketingCap
    holdout_salt: Text
    conversion_window_days: Days
    inactive_after_days: Days
    #: At most one contact per subscriber, channel and day across all campaigns; the decisions
    #: keep service before sales, then priority, then expected value, then campaign id.
    one_contact_per_channel_per_day: bool = True

    @field_validator("marketing_cap_30_days")
    @classmethod
    def _caps_nest(cls, cap_30: int, info: ValidationInfo) -> int:
        # 30 days contain the 7: a smaller 30-day cap would silently become the 7-day cap too.
        cap_7 = info.data.get("marketing_cap_7_days")
        if cap_7 is not None and cap_30 < cap_7:
            raise _refusal(f"must be >= marketing_cap_7_days ({cap_7}), got {cap_30}")
        return cap_30


class RuleEntry(_Schema):
    """One eligibility rule as the catalog writes it, ``{column, op, value, reason}``: the
    column must be documented in the audience model's yml, the operator fit the column's kind
    and the value its type (and accepted values, where the model tests them)."""

    column: str
    op: str
    value: Any  # its type depends on the column: checked by _fits_the_column
    reason: Identifier

    @field_validator("column")
    @classmethod
    def _is_an_audience_column(cls, name: str, info: ValidationInfo) -> str:
        columns = _audience(info)
        if columns is None:
            raise _refusal("rules are checked against the audience model: read the catalog with load_catalog")
        if name not in columns:
            raise _refusal(f"unknown column {name!r} (the audience has: {', '.join(sorted(columns))})")
        return name

    @field_validator("op")
    @classmethod
    def _applies_to_the_column(cls, op: str, info: ValidationInfo) -> str:
        column = _column(info)
        operators = OPERATORS[column.kind] if column else tuple(dict.fromkeys(NUMERIC_OPERATORS + TEXT_OPERATORS))
        if op not in operators:
            target = f"the {column.kind} column {column.name}" if column else "any column"
            raise _refusal(f"{op!r} does not apply to {target} ({', '.join(operators)})")
        return op

    @field_validator("value")
    @classmethod
    def _fits_the_column(cls, value: Any, info: ValidationInfo) -> Any:
        column, op = _column(info), info.data.get("op")
        if column is None or op is None:
            return value  # the column's or the operator's own problem is reported
        shape = "list" if op in ("in", "not in") else column.kind
        value = RULE_VALUES[shape].validate_python(value)
        if shape in ("text", "list") and column.values is not None:
            unknown = [v for v in (value if shape == "list" else [value]) if v not in column.values]
            if unknown:
                raise _refusal(f"{unknown} not among {column.name}'s values ({', '.join(column.values)})")
        return value

    def compile(self, number: int) -> Rule:
        """The stored form: texts in ``value_text``, lists as ``,a,b,`` (so that SQL tests
        membership with one position() on any engine), numbers and booleans (1 and 0) in
        ``value_number``."""
        if isinstance(self.value, list):
            return Rule(number, self.column, self.op, "," + ",".join(self.value) + ",", None, self.reason)
        if isinstance(self.value, str):
            return Rule(number, self.column, self.op, self.value, None, self.reason)
        return Rule(number, self.column, self.op, None, float(self.value), self.reason)


RULE_ENTRIES = TypeAdapter(list[RuleEntry])


class Campaign(_Schema):
    """One campaign. The file lists its rules as ``eligibility`` (``RuleEntry`` mappings);
    the model holds them compiled, as ``rules``. Code and tests may build a campaign directly
    from compiled rules; the checks against the audience model need ``load_catalog``."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    id: Identifier
    name: Text
    kind: Kind
    channel: Channel
    offer_code: OfferCode
    offer_product: str | None = None
    priority: Annotated[int, Field(ge=0, le=MAX_PRIORITY)]
    expected_value: Annotated[float, Field(ge=0)]
    holdout_share: Annotated[float, Field(ge=0, le=0.5)]
    cooldown_days: Days
    daily_capacity: Annotated[int, Field(ge=1, le=MAX_DAILY_CAPACITY)]
    active_from: dt.date
    active_to: dt.date | None = None
    rules: tuple[Rule, ...] = Field(validation_alias="eligibility", min_length=1)

    @field_validator("offer_product")
    @classmethod
    def _is_an_audience_product(cls, product: str | None, info: ValidationInfo) -> str | None:
        columns = _audience(info)
        if product is None or columns is None:
            return product
        products = sorted(name.removeprefix(PRODUCT_PREFIX) for name in columns if name.startswith(PRODUCT_PREFIX))
        if product not in products:
            raise _refusal(f"{product!r} is not a product of the audience ({', '.join(products)})")
        return product

    @field_validator("active_to")
    @classmethod
    def _not_before_the_start(cls, active_to: dt.date | None, info: ValidationInfo) -> dt.date | None:
        active_from = info.data.get("active_from")
        if active_to is not None and active_from is not None and active_to < active_from:
            raise _refusal(f"{active_to} is before active_from {active_from}")
        return active_to

    @field_validator("rules", mode="before")
    @classmethod
    def _compile_the_file_rules(cls, rules: Any, info: ValidationInfo) -> Any:
        # A list is the file's eligibility (a tuple of Rule is a campaign built in code).
        if not isinstance(rules, list):
            return rules
        entries = RULE_ENTRIES.validate_python(rules, context=info.context)
        return tuple(entry.compile(number) for number, entry in enumerate(entries, start=1))

    def is_active(self, day: dt.date) -> bool:
        return self.active_from <= day and (self.active_to is None or day <= self.active_to)


class _CatalogFile(_Schema):
    """The file's top level."""

    policy: Policy
    campaigns: list[Campaign] = Field(min_length=1)


#: The schema of each place in the file, for naming the known fields of an unknown one.
_SCHEMA_AT: dict[tuple[str, ...], type[BaseModel]] = {
    (): _CatalogFile,
    ("policy",): Policy,
    ("campaigns", "#"): Campaign,
    ("campaigns", "#", "eligibility", "#"): RuleEntry,
}
#: Pydantic's error types in the catalog's words; each message ends with the value refused.
_MESSAGES = {
    "int_type": "must be a whole number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "string_type": "must be a text",
    "date_type": "must be a date (YYYY-MM-DD)",
    "model_type": "must be a mapping of fields",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "literal_error": "must be {expected}",
    "greater_than_equal": "must be >= {ge}",
    "less_than_equal": "must be <= {le}",
    "too_short": "must not be empty",
    "string_too_short": "must not be empty",
    "string_too_long": "must be at most {max_length} characters",
}
#: Errors whose refused value says nothing (an empty list shown as the empty tuple it became).
_NO_VALUE = frozenset({"too_short", "string_too_short"})


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
    except OSError as error:
        raise CatalogError(f"campaign catalog {path} cannot be read: {error.strerror}") from None
    try:
        data = yaml.safe_load(raw_text)
    except yaml.YAMLError as error:
        raise CatalogError(f"{path}: not valid YAML: {error}") from None
    problems: list[str] = []
    try:
        # by_name=False: the file says `eligibility`, never the model's own name `rules`.
        document = _CatalogFile.model_validate(
            data, context={"audience": audience_columns(dbt_project_dir)}, by_name=False
        )
    except ValidationError as invalid:
        problems = [_problem(error, data) for error in invalid.errors()]
    problems += _duplicate_ids(data)
    if problems:
        raise CatalogError(f"campaign catalog {path} is not valid:\n  - " + "\n  - ".join(problems))
    version = hashlib.sha256(raw_text).hexdigest()[:12]
    return Catalog(path=path, version=version, policy=document.policy, campaigns=tuple(document.campaigns))


def _problem(error: Any, data: Any) -> str:
    """One pydantic error as ``<entry>: <field>: <what is wrong>, got <value>``."""
    loc, kind = tuple(error["loc"]), error["type"]
    if kind == "invalid_key":
        return f"{_where(loc[:-1], data)}: field names are texts, got {loc[-1]!r}"
    if kind == "catalog":
        message = error["msg"]
    elif kind == "missing":
        message = "required"
    elif kind == "extra_forbidden":
        schema = _SCHEMA_AT.get(tuple("#" if isinstance(part, int) else part for part in loc[:-1]))
        known = [field.validation_alias or name for name, field in (schema.model_fields if schema else {}).items()]
        message = f"unknown field (known: {', '.join(map(str, known))})"
    else:
        template = _MESSAGES.get(kind)
        text = template.format(**error.get("ctx", {})) if template else error["msg"][:1].lower() + error["msg"][1:]
        value = error["input"]
        shown = str(value) if isinstance(value, dt.date) else repr(value)
        message = text if kind in _NO_VALUE else f"{text}, got {shown if len(shown) <= 80 else shown[:77] + '...'}"
    return f"{_where(loc, data)}: {message}"


def _where(loc: tuple[Any, ...], data: Any) -> str:
    """The entry (``policy``, ``campaign 'vip_care'`` or, without a usable id, ``campaigns[3]``)
    and the field within it (``eligibility[0].value``)."""
    if not loc:
        return "catalog"
    if loc[0] == "campaigns" and len(loc) > 1:
        entry = data["campaigns"][loc[1]]
        has_id = isinstance(entry, dict) and isinstance(entry.get("id"), str)
        name, rest = (f"campaign {entry['id']!r}" if has_id else f"campaigns[{loc[1]}]"), loc[2:]
    else:
        name, rest = str(loc[0]), loc[1:]
    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in rest).lstrip(".")
    return f"{name}: {field}" if field else name


def _duplicate_ids(data: Any) -> list[str]:
    """Across entries, so outside the per-campaign schema: each id names one campaign and one file."""
    entries = data.get("campaigns") if isinstance(data, dict) else None
    ids = (
        [e["id"] for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)]
        if isinstance(entries, list)
        else []
    )
    seen: set[str] = set()
    problems = []
    for campaign_id in ids:
        if campaign_id in seen:
            problems.append(f"campaign {campaign_id!r}: id: duplicate campaign id")
        seen.add(campaign_id)
    return problems


# --------------------------------------------------------------------------- warehouse tables


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert by column name: an upgraded table's columns need not be in the declared order."""
    columns = list(CATALOG_TABLES[table])
    if rows:
        con.executemany(
            f"insert into raw.{table} ({', '.join(columns)}) values ({', '.join('?' * len(columns))})",
            [[row[column] for column in columns] for row in rows],
        )


def store_catalog(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> None:
    """Replace the catalog tables in one transaction: dbt never sees half a catalog."""
    ensure_catalog_tables(con)
    loaded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    stamp = {"catalog_version": catalog.version, "loaded_at": loaded_at}
    with transaction(con):
        for table in CATALOG_TABLES:
            con.execute(f"delete from raw.{table}")
        _insert(con, "campaign_policy", [{**stamp, **catalog.policy.model_dump()}])
        _insert(
            con,
            "campaigns",
            [
                {
                    **stamp,
                    **c.model_dump(exclude={"rules"}),
                    "campaign_id": c.id,
                    "campaign_name": c.name,
                    "campaign_kind": c.kind,
                }
                for c in catalog.campaigns
            ],
        )
        _insert(
            con,
            "campaign_eligibility_rules",
            [
                {
                    **stamp,
                    "campaign_id": c.id,
                    "rule_number": r.number,
                    "column_name": r.column,
                    "operator": r.operator,
                    "value_text": r.value_text,
                    "value_number": r.value_number,
                    "reason_code": r.reason,
                }
                for c in catalog.campaigns
                for r in c.rules
            ],
        )


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
