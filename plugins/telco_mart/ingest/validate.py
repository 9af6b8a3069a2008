"""Row-level validation of a staged file, written as SQL so DuckDB does the work.

Every staged row ends with a list of reasons: empty means it loads, anything else sends it
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


def value_checks(column: Column) -> list[tuple[str, str]]:
    """(condition that is true for a bad value, reason) pairs for one column."""
    ref = _q(column.name)
    typed = f"try_cast({ref} as {column.duckdb_type})"
    checks: list[tuple[str, str]] = []
    if column.required:
        checks.append((f"{ref} is null or trim({ref}) = ''", f"missing_value:{column.name}"))
    # DuckDB casts 'yes', '1', 't'... to boolean; the contract says true/false only.
    bad = f"lower(trim({ref})) not in ('true', 'false')" if column.type == "boolean" else f"{typed} is null"
    checks.append((f"{ref} is not null and trim({ref}) <> '' and {bad}", f"unparseable:{column.name}"))
    if column.min is not None:
        checks.append((f"{typed} < {column.min}", f"out_of_range:{column.name}"))
    if column.max is not None:
        checks.append((f"{typed} > {column.max}", f"out_of_range:{column.name}"))
    if column.values:
        allowed = ", ".join(_literal(v) for v in column.values)
        checks.append((f"{ref} is not null and {ref} not in ({allowed})", f"invalid_value:{column.name}"))
    return checks


def reasons_expression(feed: Feed, present_columns: list[str]) -> str:
    """SQL list expression of the value-level reasons that apply to a staged row."""
    parts = []
    for column in feed.columns:
        if column.name not in present_columns:
            continue
        for condition, reason in value_checks(column):
            parts.append(f"case when {condition} then {_literal(reason)} end")
    if not parts:
        return "[]::varchar[]"
    return f"list_filter([{', '.join(parts)}], lambda x: x is not null)"


def typed_select(feed: Feed, present_columns: list[str], source_alias: str = "s") -> str:
    """Select list that turns the staged text into the contract's types (nulls for absent columns)."""
    items = []
    for column in feed.columns:
        if column.name in present_columns:
            ref = f"{source_alias}.{_q(column.name)}"
            if column.type == "boolean":
                expr = f"cast(lower(trim({ref})) as boolean)"
            else:
                expr = f"cast(nullif(trim({ref}), '') as {column.duckdb_type})"
        else:
            expr = f"cast(null as {column.duckdb_type})"
        items.append(f"{expr} as {_q(column.name)}")
    return ",\n    ".join(items)
