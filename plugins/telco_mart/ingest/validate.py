"""Row-level validation of a staged file, written as SQL so DuckDB does the work.

Every staged row ends with a string of reasons: empty means it loads, anything else sends it
to quarantine. The reason codes are part of the public contract (docs/ingestion.md):

- ``missing_value:<col>``      a required value is empty
- ``unparseable:<col>``        the text does not convert to the column's type
- ``out_of_range:<col>``       below the column's ``min`` or above its ``max``
- ``invalid_value:<col>``      not one of the column's ``values``
- ``duplicate_key``            the feed key was already seen in this delivery
- ``unknown_reference:<col>``  the referenced feed has no such key
- ``malformed_row``            the line does not split into the header's fields
"""

from __future__ import annotations

from telco_mart.contract import Column, Feed


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def is_text(staged_type: str) -> bool:
    return staged_type.upper() in ("VARCHAR", "STRING", "TEXT")


def typed_name(column: str) -> str:
    """Name of the typed copy of a staged column while its values are checked."""
    return _q(f"__typed_{column}")


def typed_expression(column: Column, staged_type: str = "VARCHAR", alias: str = "i") -> str:
    """The staged value of ``column`` as its contract type (null when text does not convert)."""
    ref = f"{alias}.{_q(column.name)}"
    if not is_text(staged_type):
        return f"try_cast({ref} as {column.duckdb_type})"
    if column.type == "boolean":
        return f"case lower(trim({ref})) when 'true' then true when 'false' then false end"
    if column.type == "string":
        # trim() copies every value; almost none carry spaces, so test the ends first
        return f"case when {ref} like ' %' or {ref} like '% ' then nullif(trim({ref}), '') else nullif({ref}, '') end"
    return f"try_cast(nullif(trim({ref}), '') as {column.duckdb_type})"


def value_checks(column: Column, staged_type: str = "VARCHAR") -> list[tuple[str, str]]:
    """(condition that is true for a bad value, reason) pairs for one column.

    The conditions read the staged value (``"col"``) and its typed copy (``typed_name(col)``),
    so each value is converted once. A column staged in a non-text type (typed Parquet) can
    be neither blank nor unparseable.
    """
    staged = _q(column.name)
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
        allowed = ", ".join(_literal(v) for v in column.values)
        checks.append((f"{typed} not in ({allowed})", f"invalid_value:{column.name}"))
    return checks


def _value_conditions(feed: Feed, staged: dict[str, str]) -> list[tuple[str, str]]:
    return [
        (condition, reason)
        for column in feed.columns
        if column.name in staged
        for condition, reason in value_checks(column, staged[column.name])
    ]


def reasons_expression(feed: Feed, staged: dict[str, str]) -> str:
    """SQL string of the value-level reasons of a staged row, ``'; '``-separated ('' when valid).

    ``staged`` maps each staged contract column to its DuckDB type. A string built with
    ``concat_ws`` costs far less per row than a list.
    """
    parts = [
        f"case when {condition} then {_literal(reason)} end" for condition, reason in _value_conditions(feed, staged)
    ]
    return f"concat_ws('; ', {', '.join(parts)})" if parts else "''"


def any_value_fails(feed: Feed, staged: dict[str, str]) -> str:
    """SQL condition true for a row with at least one value-level reason.

    Rows are filtered on this before their reasons are spelled out: a boolean per check is
    far cheaper than building a string for every valid row of a 100-million-row day.
    """
    conditions = [f"({condition})" for condition, _ in _value_conditions(feed, staged)]
    return " or ".join(conditions) if conditions else "false"


def insert_select(feed: Feed, staged: dict[str, str], source_alias: str = "i") -> str:
    """Select list for the raw table: each staged column as its contract type, nulls for
    columns the file lacks."""
    items = []
    for column in feed.columns:
        if column.name in staged:
            expr = typed_expression(column, staged[column.name], source_alias)
        else:
            expr = f"cast(null as {column.duckdb_type})"
        items.append(f"{expr} as {_q(column.name)}")
    return ",\n    ".join(items)
