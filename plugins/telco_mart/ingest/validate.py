"""Row-level validation of a staged file, written as SQL so DuckDB does the work.

Every staged row ends with a string of reasons: empty means it loads, anything else sends it
to quarantine. The reason codes are part of the public contract (docs/ingestion.md):

- ``missing_value:<col>``      a required value is empty
- ``unparseable:<col>``        the text does not convert to the column's type
- ``out_of_range:<col>``       below the column's ``min`` or above its ``max``
- ``invalid_value:<col>``      not one of the column's ``values`` (after the profile's spellings)
- ``out_of_window:<col>``      a date or timestamp outside the profile's sane window
- ``duplicate_key``            the feed key was already seen in this delivery
- ``unknown_reference:<col>``  the referenced feed has no such key
- ``malformed_row``            the line does not split into the header's fields

Every value is converted through its feed's dialect (the operator profile,
:mod:`telco_mart.contract.operator_profile`): date and timestamp formats, the time zone of naive
timestamps (stored in UTC; a value's own UTC offset wins), boolean spellings, decimal comma,
spellings of closed value sets. :func:`normalisations` names, per column, the conditions under
which a value was normalised rather than read as the contract spells it, for the registry's
counts. The checks always run on the values themselves, never on a file's statistics.
"""

from __future__ import annotations

import datetime as dt

from telco_mart.contract import Column, Feed
from telco_mart.contract.operator_profile import ISO, FeedDialect
from telco_mart.warehouse import quote_ident, quote_literal

#: The contract's own spelling: what a file is read with when no profile says otherwise.
CONTRACT_DIALECT = FeedDialect(feed="")


def is_text(staged_type: str) -> bool:
    return staged_type.upper() in ("VARCHAR", "STRING", "TEXT")


def typed_name(column: str) -> str:
    """Name of the typed copy of a staged column while its values are checked."""
    return quote_ident(f"__typed_{column}")


def _text(value: str) -> str:
    """The trimmed text of a staged value, null when blank."""
    # trim() copies every value; almost none carry spaces, so test the ends first
    padded = f"{value} like ' %' or {value} like '% '"
    return f"case when {padded} then nullif(trim({value}), '') else nullif({value}, '') end"


def _mapped(column: Column, text: str, dialect: FeedDialect) -> str:
    """``text`` with the profile's spellings of the column's closed value set replaced."""
    mapping = dialect.values.get(column.name)
    if not mapping:
        return text
    whens = " ".join(f"when {quote_literal(k)} then {quote_literal(v)}" for k, v in mapping.items())
    return f"(case {text} {whens} else {text} end)"


def _number_text(ref: str, dialect: FeedDialect, *, decimal: bool) -> str:
    text = f"trim({ref})"
    if dialect.thousands_separator:
        text = f"replace({text}, {quote_literal(dialect.thousands_separator)}, '')"
    if decimal and dialect.decimal_separator != ".":
        text = f"replace({text}, {quote_literal(dialect.decimal_separator)}, '.')"
    return f"nullif({text}, '')"


def has_offset(text: str) -> str:
    """True when a timestamp's text ends in a UTC offset (``-05:00``, ``+0530``, ``+05``, ``Z``).

    The first test is cheap and the contract's own spelling never passes it, so the regular
    expression runs only on values that may carry an offset (a CASE, because DuckDB
    evaluates both sides of an AND).
    """
    maybe = f"contains({text}, '+') or contains({text}, 'Z') or {text} like '%:%-%'"
    return f"(case when {maybe} then regexp_matches({text}, '(Z|[+-][0-9]{{2}}(:?[0-9]{{2}})?)\\s*$') else false end)"


def _parse(text: str, formats: tuple[str, ...], sql_type: str) -> str:
    """``text`` parsed with the first of ``formats`` that fits (``iso`` = DuckDB's cast)."""
    parts = []
    if ISO in formats:
        parts.append(f"try_cast({text} as {sql_type})")
    custom = [f for f in formats if f != ISO]
    if custom:
        listed = ", ".join(quote_literal(f) for f in custom)
        parts.append(f"try_strptime({text}, [{listed}])")
    return parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"


def _naive_formats(dialect: FeedDialect) -> tuple[str, ...]:
    return tuple(f if f == ISO else f.replace("%z", "").rstrip() for f in dialect.timestamp_formats)


def _offset_formats(dialect: FeedDialect) -> tuple[str, ...]:
    return tuple(f if f == ISO or "%z" in f else f + "%z" for f in dialect.timestamp_formats)


def _in_utc(naive: str, dialect: FeedDialect) -> str:
    """A naive timestamp read in the feed's zone, as UTC."""
    if dialect.is_utc:
        return naive
    return f"timezone('UTC', timezone({quote_literal(dialect.time_zone)}, {naive}))"


def _timestamp_from_text(ref: str, dialect: FeedDialect) -> str:
    text = f"nullif(trim({ref}), '')"
    naive = _in_utc(_parse(text, _naive_formats(dialect), "timestamp"), dialect)
    # strptime's %z reads -05:00, -0500 and -05 but not Z
    zoned_text = text if dialect.timestamp_formats == (ISO,) else f"regexp_replace({text}, 'Z$', '+00:00')"
    zoned = _parse(zoned_text, _offset_formats(dialect), "timestamptz")
    # the offset test reads the value untrimmed: trim() copies every value
    return f"(case when {has_offset(ref)} then timezone('UTC', {zoned}) else {naive} end)"


def typed_expression(
    column: Column, staged_type: str = "VARCHAR", alias: str = "i", dialect: FeedDialect | None = None
) -> str:
    """The staged value of ``column`` as its contract type (null when text does not convert),
    read through the feed's ``dialect``."""
    d = dialect or CONTRACT_DIALECT
    ref = f"{alias}.{quote_ident(column.name)}"
    if not is_text(staged_type):
        if column.type == "timestamp" and "TIME ZONE" in staged_type.upper():
            return f"timezone('UTC', {ref})"  # an instant: its UTC wall time
        typed = f"try_cast({ref} as {column.duckdb_type})"
        if column.type == "timestamp":
            return _in_utc(typed, d)
        if column.type == "string":
            return _mapped(column, typed, d)
        return typed
    if column.type == "boolean":
        spelled_true = ", ".join(quote_literal(v.lower()) for v in ("true", *d.true_values))
        spelled_false = ", ".join(quote_literal(v.lower()) for v in ("false", *d.false_values))
        if not (d.true_values or d.false_values):
            return f"case lower(trim({ref})) when 'true' then true when 'false' then false end"
        return (
            f"case when lower(trim({ref})) in ({spelled_true}) then true "
            f"when lower(trim({ref})) in ({spelled_false}) then false end"
        )
    if column.type == "string":
        return _mapped(column, _text(ref), d)
    if column.type in ("integer", "double"):
        return f"try_cast({_number_text(ref, d, decimal=column.type == 'double')} as {column.duckdb_type})"
    text = f"nullif(trim({ref}), '')"
    if column.type == "date":
        parsed = _parse(text, d.date_formats, "date")
        return parsed if d.date_formats == (ISO,) else f"cast({parsed} as date)"
    if column.type == "timestamp":
        return _timestamp_from_text(ref, d)
    return f"try_cast({text} as {column.duckdb_type})"


def normalisations(
    column: Column, staged_type: str, dialect: FeedDialect | None = None, alias: str = "i"
) -> list[tuple[str, str]]:
    """(condition true for a value the dialect normalised, kind) pairs of one column.

    Kinds (the registry's ``normalisations`` counts them as ``<kind>:<column>``):
    ``utc_offset`` a timestamp with its own UTC offset, converted to UTC; ``time_zone`` a naive
    timestamp read in a zone other than UTC; ``timestamp_format``/``date_format`` a value in
    a format other than the contract's; ``boolean`` a spelling other than true/false;
    ``decimal_comma`` and ``thousands_separator`` numbers written so; ``value_map`` a spelling
    of the contract's closed value set.
    """
    d = dialect or CONTRACT_DIALECT
    ref = f"{alias}.{quote_ident(column.name)}"
    typed = typed_expression(column, staged_type, alias, d)
    out: list[tuple[str, str]] = []
    if column.values and d.values.get(column.name):
        keys = ", ".join(quote_literal(k) for k in d.values[column.name])
        value = _text(ref) if is_text(staged_type) else f"try_cast({ref} as varchar)"
        out.append((f"{value} in ({keys})", "value_map"))
    if not is_text(staged_type):
        if column.type == "timestamp" and not d.is_utc and "TIME ZONE" not in staged_type.upper():
            out.append((f"{ref} is not null", "time_zone"))
        return out
    text = f"nullif(trim({ref}), '')"
    if column.type == "boolean" and (d.true_values or d.false_values):
        extra = ", ".join(quote_literal(v.lower()) for v in (*d.true_values, *d.false_values))
        out.append((f"lower(trim({ref})) in ({extra})", "boolean"))
    if column.type in ("integer", "double") and d.thousands_separator:
        out.append((f"{ref} like {quote_literal('%' + d.thousands_separator + '%')}", "thousands_separator"))
    if column.type == "double" and d.decimal_separator != ".":
        out.append((f"{ref} like {quote_literal('%' + d.decimal_separator + '%')}", "decimal_comma"))
    if column.type == "date" and d.date_formats != (ISO,):
        iso = f"try_cast({text} as date) is null and " if ISO in d.date_formats else ""
        out.append((f"{iso}{typed} is not null", "date_format"))
    if column.type == "timestamp":
        offset = has_offset(ref)
        out.append((offset, "utc_offset"))
        if not d.is_utc:
            out.append((f"not {offset} and {typed} is not null", "time_zone"))
        if d.timestamp_formats != (ISO,):
            iso = f"try_cast({text} as timestamptz) is null and " if ISO in d.timestamp_formats else ""
            out.append((f"{iso}{typed} is not null", "timestamp_format"))
    return out


def _window_literal(column: Column, value: dt.date) -> str:
    text = value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return f"{column.duckdb_type} {quote_literal(text)}"


def value_checks(
    column: Column, staged_type: str = "VARCHAR", dialect: FeedDialect | None = None
) -> list[tuple[str, str]]:
    """(condition that is true for a bad value, reason) pairs for one column.

    The conditions read the staged value (``"col"``) and its typed copy (``typed_name(col)``),
    so each value is converted once. A column staged in a non-text type (typed Parquet) can
    be neither blank nor unparseable.
    """
    staged = quote_ident(column.name)
    typed = typed_name(column.name)
    text = is_text(staged_type)
    checks: list[tuple[str, str]] = []
    if column.required:
        if not text:
            blank = f"{staged} is null"
        elif column.type == "string":
            blank = f"{typed} is null"  # the typed copy is the trimmed text, null when blank
        else:
            blank = f"{staged} is null or trim({staged}) = ''"
        checks.append((blank, f"missing_value:{column.name}"))
    if text and column.type != "string":
        checks.append((f"{typed} is null and trim({staged}) <> ''", f"unparseable:{column.name}"))
    elif not text:
        # A typed column of another type (a date delivered as text in Parquet, say).
        checks.append((f"{typed} is null and {staged} is not null", f"unparseable:{column.name}"))
    if column.min is not None:
        checks.append((f"{typed} < {column.min}", f"out_of_range:{column.name}"))
    if column.max is not None:
        checks.append((f"{typed} > {column.max}", f"out_of_range:{column.name}"))
    if column.values:
        allowed = ", ".join(quote_literal(v) for v in column.values)
        checks.append((f"{typed} not in ({allowed})", f"invalid_value:{column.name}"))
    if column.type in ("date", "timestamp"):
        d = dialect or CONTRACT_DIALECT
        low, high = d.date_window if column.type == "date" else d.timestamp_window
        checks.append(
            (
                f"{typed} < {_window_literal(column, low)} or {typed} > {_window_literal(column, high)}",
                f"out_of_window:{column.name}",
            )
        )
    return checks


def _value_conditions(feed: Feed, staged: dict[str, str], dialect: FeedDialect | None) -> list[tuple[str, str]]:
    return [
        (condition, reason)
        for column in feed.columns
        if column.name in staged
        for condition, reason in value_checks(column, staged[column.name], dialect)
    ]


def reasons_expression(feed: Feed, staged: dict[str, str], dialect: FeedDialect | None = None) -> str:
    """SQL string of the value-level reasons of a staged row, ``'; '``-separated ('' when valid).

    ``staged`` maps each staged contract column to its DuckDB type. A string built with
    ``concat_ws`` costs far less per row than a list.
    """
    parts = [
        f"case when {condition} then {quote_literal(reason)} end"
        for condition, reason in _value_conditions(feed, staged, dialect)
    ]
    return f"concat_ws('; ', {', '.join(parts)})" if parts else "''"


def any_value_fails(feed: Feed, staged: dict[str, str], dialect: FeedDialect | None = None) -> str:
    """SQL condition true for a row with at least one value-level reason.

    Rows are filtered on this before their reasons are spelled out: a boolean per check is
    far cheaper than building a string for every valid row of a 100-million-row day.
    """
    conditions = [f"({condition})" for condition, _ in _value_conditions(feed, staged, dialect)]
    return " or ".join(conditions) if conditions else "false"


def insert_select(
    feed: Feed, staged: dict[str, str], source_alias: str = "i", dialect: FeedDialect | None = None
) -> str:
    """Select list for the raw table: each staged column as its contract type, nulls for
    columns the file lacks."""
    items = []
    for column in feed.columns:
        if column.name in staged:
            expr = typed_expression(column, staged[column.name], source_alias, dialect)
        else:
            expr = f"cast(null as {column.duckdb_type})"
        items.append(f"{expr} as {quote_ident(column.name)}")
    return ",\n    ".join(items)
