"""One world, two spellings: the generated world written in an operator dialect (BOM, `;`,
every value quoted, decimal comma, m/d/Y, Y/N and 1/0, local times in India and New York with
offsets, vendor spellings of closed value sets) runs through the real DAG under that operator
profile and builds exactly the marts, the gate verdicts and the outbox of the contract's own
spelling."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.conftest import SMALL_END, generate_small_world, run_first_day, table_checksums
from tests.e2e.test_operator_daily_e2e import outbox_day

pytestmark = pytest.mark.e2e

DIALECT = "example_operator"


@pytest.fixture(scope="module")
def runs(small_landing: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    dialect_landing = generate_small_world(tmp_path_factory.mktemp("landing_dialect"), DIALECT)
    return {
        "default": run_first_day(
            small_landing, tmp_path_factory.mktemp("run_default"), TELCO_MART_OPERATOR_PROFILE="default"
        ),
        "dialect": run_first_day(
            dialect_landing, tmp_path_factory.mktemp("run_dialect"), TELCO_MART_OPERATOR_PROFILE=DIALECT
        ),
    }


def marts_tables(warehouse: str) -> list[str]:
    """Every mart but the gate's results, whose run ids and times differ by construction."""
    with duckdb.connect(warehouse, read_only=True) as con:
        rows = con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "and table_name <> 'dq_results' order by 1"
        ).fetchall()
    return [name for (name,) in rows]


def test_the_dialect_was_really_spelled_differently(small_landing: Path, runs) -> None:
    dialect_file = next(Path(runs["dialect"]["TELCO_MART_LANDING_DIR"]).glob("usage_events/*/*.csv"))
    default_file = small_landing / dialect_file.relative_to(runs["dialect"]["TELCO_MART_LANDING_DIR"])
    assert dialect_file.read_bytes()[:3] == b"\xef\xbb\xbf" and default_file.read_bytes()[:3] != b"\xef\xbb\xbf"
    with duckdb.connect(runs["dialect"]["TELCO_MART_WAREHOUSE"], read_only=True) as con:
        normalised = con.execute("select sum(rows_normalised) from raw.file_registry").fetchall()[0][0]
        loaded = con.execute("select sum(rows_loaded), sum(rows_quarantined) from raw.file_registry").fetchall()[0]
    assert normalised > 0.9 * loaded[0] and loaded[1] == 0


def test_the_marts_equal_those_of_the_contracts_own_spelling(runs) -> None:
    default, dialect = (runs[k]["TELCO_MART_WAREHOUSE"] for k in ("default", "dialect"))
    tables = marts_tables(default)
    assert len(tables) > 15 and tables == marts_tables(dialect)
    expected = table_checksums(Path(default), tables)
    assert all(rows for parts in expected.values() for rows, _ in parts.values())
    assert table_checksums(Path(dialect), tables) == expected


def test_the_gates_and_the_outbox_agree(runs) -> None:
    verdicts = {}
    for name, env in runs.items():
        with duckdb.connect(env["TELCO_MART_WAREHOUSE"], read_only=True) as con:
            verdicts[name] = con.execute(
                "select stage, suite, expectation, run_date, success, observed_value from marts.dq_results order by all"
            ).fetchall()
    assert verdicts["dialect"] == verdicts["default"]
    lists = {name: outbox_day(env, SMALL_END) for name, env in runs.items()}
    assert "_SUCCESS" in lists["default"]
    assert {n: c for n, c in lists["dialect"].items() if n != "manifest.json"} == {
        n: c for n, c in lists["default"].items() if n != "manifest.json"
    }


def test_the_gate_judged_with_the_profiles_own_band(runs) -> None:
    """The profile's gate: section reaches the DAG's gate through TELCO_MART_OPERATOR_PROFILE:
    the same verdicts as above, against example_operator's service-mix band, not gate.yml's."""
    bands = {}
    for name, env in runs.items():
        with duckdb.connect(env["TELCO_MART_WAREHOUSE"], read_only=True) as con:
            bands[name] = con.execute(
                "select distinct details->>'$.expected' from marts.dq_results where expectation = ?",
                ["expect_column_values_to_be_between(value_share__event_type__data)"],
            ).fetchall()
    assert bands == {"default": [("between 0.2 and 0.8",)], "dialect": [("between 0.2 and 0.9",)]}
