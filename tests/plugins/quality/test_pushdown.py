"""Each pushed-down row rule counts exactly the rows Great Expectations calls unexpected.

The gate counts offending rows in DuckDB and lets GX judge only the rows it fetched, so a
predicate narrower than GX's semantics would hide bad rows. Hypothesis draws frames with
nulls and edge values and holds the SQL count to GX's own verdict on the whole frame.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telco_mart.gate_settings import QualityConfigError
from telco_mart.quality.gx_runner import GxRunner
from telco_mart.quality.pushdown import check_rows_expectation, row_rule
from telco_mart.quality.suites import Check, GateSuite

COLUMNS = {"a", "b", "s", "t"}
T0 = dt.datetime(2026, 1, 1)


@pytest.fixture(scope="module")
def runner() -> GxRunner:
    return GxRunner()


def _check(type_: str, kwargs: dict[str, Any]) -> Check:
    config = {"type": type_, "kwargs": kwargs, "severity": "critical", "description": "x", "meta": {"batch": "rows"}}
    return Check("raw.t", 0, config, "rows", "fail", "x", False)


small_ints = st.one_of(st.none(), st.integers(-3, 3))
frames = st.integers(0, 12).flatmap(
    lambda n: st.fixed_dictionaries(
        {
            "a": st.lists(small_ints, min_size=n, max_size=n),
            "b": st.lists(small_ints, min_size=n, max_size=n),
            "s": st.lists(st.one_of(st.none(), st.sampled_from(["x", "y", "z", ""])), min_size=n, max_size=n),
            "t": st.lists(
                st.one_of(st.none(), st.integers(-2, 2).map(lambda h: T0 + dt.timedelta(hours=h))),
                min_size=n,
                max_size=n,
            ),
        }
    )
)
bounds = st.one_of(st.none(), st.integers(-3, 3))
rules = st.one_of(
    st.builds(lambda c: ("expect_column_values_to_not_be_null", {"column": c}), st.sampled_from(sorted(COLUMNS))),
    st.builds(
        lambda vs: ("expect_column_values_to_be_in_set", {"column": "s", "value_set": vs}),
        st.lists(st.sampled_from(["x", "y", ""]), min_size=1, max_size=3, unique=True),
    ),
    st.builds(
        lambda lo, hi, smin, smax: (
            "expect_column_values_to_be_between",
            {"column": "a", "min_value": lo, "max_value": hi, "strict_min": smin, "strict_max": smax},
        ),
        bounds,
        bounds,
        st.booleans(),
        st.booleans(),
    ).filter(
        lambda r: (
            (r[1]["min_value"], r[1]["max_value"]) != (None, None)
            and (None in (r[1]["min_value"], r[1]["max_value"]) or r[1]["min_value"] <= r[1]["max_value"])
        )
    ),
    st.builds(
        lambda h, strict: (
            "expect_column_values_to_be_between",
            {"column": "t", "max_value": T0 + dt.timedelta(hours=h), "strict_max": strict},
        ),
        st.integers(-2, 2),
        st.booleans(),
    ),
    st.builds(
        lambda a, b, eq: (
            "expect_column_pair_values_a_to_be_greater_than_b",
            {"column_A": a, "column_B": b, "or_equal": eq, "ignore_row_if": "either_value_is_missing"},
        ),
        st.sampled_from(["a", "b"]),
        st.sampled_from(["a", "b"]),
        st.booleans(),
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=frames, rule=rules)
def test_sql_count_equals_gx_unexpected_count(runner: GxRunner, data: dict[str, list], rule: tuple) -> None:
    type_, kwargs = rule
    check = _check(type_, kwargs)
    check_rows_expectation(check, COLUMNS)
    table = pa.table(
        {
            "a": pa.array(data["a"], pa.int64()),
            "b": pa.array(data["b"], pa.int64()),
            "s": pa.array(data["s"], pa.string()),
            "t": pa.array(data["t"], pa.timestamp("us")),
        }
    )
    predicate = row_rule(check, {})
    con = duckdb.connect()
    con.register("frame", table)
    (count,) = con.execute(f"select count(*) from frame where {predicate.sql}", list(predicate.params)).fetchall()[0]
    suite = GateSuite("raw.t", "raw.t", Path("t.json"), (check,))
    result = runner.validate(suite, (check,), table.to_pandas(types_mapper=pd.ArrowDtype), {})[0]
    # The runner details failures only: a pass has no unexpected row.
    assert count == result.get("unexpected_count", 0), (kwargs, data)
    assert (count == 0) == result["success"]


def test_parameters_are_resolved_from_gate_settings() -> None:
    check = _check("expect_column_values_to_be_between", {"column": "a", "max_value": {"$PARAMETER": "limit"}})
    assert row_rule(check, {"limit": 0.05}).params == (0.05,)


@pytest.mark.parametrize(
    ("type_", "kwargs", "complaint"),
    [
        ("expect_column_values_to_not_be_null", {"column": "a", "mostly": 0.9}, "mostly"),
        ("expect_column_values_to_match_regex", {"column": "s", "regex": "x"}, "not supported"),
        ("expect_column_values_to_not_be_null", {"column": "nope"}, "no column"),
        ("expect_column_pair_values_a_to_be_greater_than_b", {"column_A": "a", "column_B": "b"}, "ignore_row_if"),
    ],
)
def test_rules_the_pushdown_cannot_run_faithfully_are_refused(type_: str, kwargs: dict, complaint: str) -> None:
    with pytest.raises(QualityConfigError, match=complaint):
        check_rows_expectation(_check(type_, kwargs), COLUMNS)
