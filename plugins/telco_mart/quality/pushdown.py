"""Row expectations as DuckDB predicates, so the day's rows are scanned once in the database.

Validating a day of usage (10 million rows) as a pandas DataFrame in Great Expectations took
53 s and 2.7 GB on the benchmark machine; counting the same rules in one DuckDB pass took
2.3 s and 0.6 GB. So a row expectation runs in two steps:

1. DuckDB counts, in one scan of the day's rows, the rows that break each rule (the predicate
   below is true exactly for the rows GX would call unexpected);
2. only for a rule with a count above zero, DuckDB fetches a few of its offending rows and GX
   validates the suite on them, so GX judges and describes the failure (its unexpected values
   and rows) on a frame the size of a sample, not of the day.

The translation covers the expectation types below and nothing else, and refuses ``mostly``
(a tolerated share belongs in a day metric such as ``null_share__<column>``, where the share
is computed over the whole day). ``tests/plugins/quality/test_pushdown.py`` holds each
predicate to GX's own verdict on generated frames.

Schema expectations (columns, types) need no rows: GX checks them on the frame's schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telco_mart.gate_settings import QualityConfigError
from telco_mart.quality.suites import Check
from telco_mart.warehouse import quote_ident

#: Expectations GX judges from the frame's columns and types alone.
SCHEMA_TYPES = frozenset(
    {
        "expect_table_columns_to_match_ordered_list",
        "expect_column_to_exist",
        "expect_column_values_to_be_of_type",
    }
)
#: Row expectations with a predicate below.
ROW_RULE_TYPES = frozenset(
    {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_be_between",
        "expect_column_pair_values_a_to_be_greater_than_b",
    }
)
_REFUSED_KWARGS = ("mostly", "row_condition", "condition_parser")


@dataclass(frozen=True)
class RowRule:
    """A row expectation and the SQL condition that is true for each row it would reject."""

    check: Check
    sql: str
    params: tuple[Any, ...]


def resolve(value: Any, parameters: dict[str, Any]) -> Any:
    """A kwarg's value, with ``{"$PARAMETER": name}`` replaced as GX replaces it."""
    if isinstance(value, dict) and "$PARAMETER" in value:
        return parameters[value["$PARAMETER"]]
    return value


def expected_in_words(check: Check, parameters: dict[str, Any], *, column_pairs: bool = True) -> str | None:
    """What the expectation asks for, in words, with gate.yml's values filled in: a finding's
    ``expected``, written once for the raw and the output stages.

    ``column_pairs=False`` leaves a column-pair check (``column_A`` against ``column_B``)
    without words, as the raw stage's findings have always had it.
    """
    kw = {k: resolve(v, parameters) for k, v in check.kwargs.items()}
    if "value_set" in kw:
        return f"in {sorted(map(str, kw['value_set']))}"
    low, high = kw.get("min_value"), kw.get("max_value")
    if low is not None and high is not None:
        return f"between {low} and {high}"
    if low is not None or high is not None:
        return f"at least {low}" if low is not None else f"at most {high}"
    if column_pairs and "column_A" in kw:
        return f"{kw['column_A']} {'>=' if kw.get('or_equal') else '>'} {kw['column_B']}"
    return None


def check_rows_expectation(check: Check, columns: set[str]) -> None:
    """Refuse, when the suite is loaded, a rows expectation the gate cannot run faithfully."""
    where = f"{check.suite}: {check.key}"
    if check.type not in SCHEMA_TYPES | ROW_RULE_TYPES:
        raise QualityConfigError(
            f"{where}: type not supported on the rows batch; use one of {sorted(SCHEMA_TYPES | ROW_RULE_TYPES)} "
            "or compute a day metric"
        )
    if refused := [k for k in _REFUSED_KWARGS if k in check.kwargs]:
        raise QualityConfigError(f"{where}: {refused} not supported on rows; put a share in a day metric instead")
    named = [check.kwargs[k] for k in ("column", "column_A", "column_B") if k in check.kwargs]
    if missing := [c for c in named if c not in columns]:
        raise QualityConfigError(f"{where}: no column {missing} in {check.suite}")
    if check.type == "expect_column_pair_values_a_to_be_greater_than_b" and (
        check.kwargs.get("ignore_row_if") != "either_value_is_missing"
    ):
        # GX's pandas engine raises on a missing value under the other modes (NA is not a bool).
        raise QualityConfigError(f"{where}: set ignore_row_if to 'either_value_is_missing'")
    if check.type == "expect_column_values_to_be_between" and (
        check.kwargs.get("min_value") is None and check.kwargs.get("max_value") is None
    ):
        raise QualityConfigError(f"{where}: give min_value or max_value")


def row_rule(check: Check, parameters: dict[str, Any]) -> RowRule | None:
    """The predicate of a row expectation, or None for a schema expectation."""
    kw = {k: resolve(v, parameters) for k, v in check.kwargs.items()}
    if check.type in SCHEMA_TYPES:
        return None
    if check.type == "expect_column_values_to_not_be_null":
        return RowRule(check, f"{quote_ident(kw['column'])} is null", ())
    if check.type == "expect_column_values_to_be_in_set":
        values = tuple(kw["value_set"])
        col = quote_ident(kw["column"])
        if not values:
            return RowRule(check, f"{col} is not null", ())
        return RowRule(check, f"{col} is not null and {col} not in ({', '.join('?' * len(values))})", values)
    if check.type == "expect_column_values_to_be_between":
        col = quote_ident(kw["column"])
        bounds, params = [], []
        if kw.get("min_value") is not None:
            bounds.append(f"{col} {'<=' if kw.get('strict_min') else '<'} ?")
            params.append(kw["min_value"])
        if kw.get("max_value") is not None:
            bounds.append(f"{col} {'>=' if kw.get('strict_max') else '>'} ?")
            params.append(kw["max_value"])
        return RowRule(check, f"{col} is not null and ({' or '.join(bounds)})", tuple(params))
    if check.type == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = quote_ident(kw["column_A"]), quote_ident(kw["column_B"])
        op = ">=" if kw.get("or_equal") else ">"
        return RowRule(check, f"{a} is not null and {b} is not null and not ({a} {op} {b})", ())
    raise QualityConfigError(f"{check.suite}: {check.key} has no predicate")  # refused at load already
