"""The real DAG with dbt on Spark (TELCO_MART_ENGINE=spark) publishes the same lists as on DuckDB.

One world, the DAG's first run for its last day (all history) through Airflow, once on each
engine: on Spark, DuckDB's staging views, the shared sources, the Cosmos task group on the
profile's spark target (local Spark, session mode: `airflow dags test` runs every task in one
process, so one Spark session serves them all), Spark's marts attached back to DuckDB, then the
gates and publish on DuckDB. The published lists are the same bytes, and every gate agreed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import SMALL_END, run_first_day
from tests.dbt.test_spark_parity import REQUIRE_SPARK
from tests.e2e.test_operator_daily_e2e import assert_published_day_reconciles, outbox_day

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not shutil.which("java") and not REQUIRE_SPARK, reason="no Java on PATH for local Spark"),
]


@pytest.fixture(scope="module")
def runs(small_landing: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    return {
        engine: run_first_day(small_landing, tmp_path_factory.mktemp(f"run_{engine}"), TELCO_MART_ENGINE=engine)
        for engine in ("duckdb", "spark")
    }


def gate_verdicts(env: dict[str, str]) -> list[tuple]:
    with duckdb.connect(env["TELCO_MART_WAREHOUSE"], read_only=True) as con:
        return con.execute(
            "select stage, suite, expectation, severity, success, observed_value from marts.dq_results order by all"
        ).fetchall()


def test_the_spark_run_built_its_marts_on_spark(runs: dict[str, dict[str, str]]) -> None:
    warehouse = Path(runs["spark"]["TELCO_MART_WAREHOUSE"])
    built = warehouse.with_name("warehouse.spark") / "warehouse" / "marts.db"
    assert (built / "campaign_targets_daily").is_dir() and any((built / "fct_subscriber_daily").rglob("*.parquet"))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        kind = con.execute(
            "select table_type from information_schema.tables where table_schema = 'marts' "
            "and table_name = 'campaign_targets_daily'"
        ).fetchone()
    assert kind == ("VIEW",)


def test_the_outbox_is_byte_identical_to_the_duckdb_run(runs: dict[str, dict[str, str]]) -> None:
    on_duckdb, on_spark = (outbox_day(runs[engine], SMALL_END) for engine in ("duckdb", "spark"))
    assert_published_day_reconciles(runs["spark"], SMALL_END)
    lists = sorted(name for name in on_duckdb if name not in ("manifest.json", "_SUCCESS"))
    assert lists and sorted(name for name in on_spark if name not in ("manifest.json", "_SUCCESS")) == lists
    for name in lists:
        assert on_spark[name] == on_duckdb[name], name
    # the manifest names its run and time; the files it lists (names, rows, checksums) are the same
    assert json.loads(on_spark["manifest.json"])["files"] == json.loads(on_duckdb["manifest.json"])["files"]


def test_every_gate_judged_the_same(runs: dict[str, dict[str, str]]) -> None:
    assert gate_verdicts(runs["spark"]) == gate_verdicts(runs["duckdb"])


def served_marts(env: dict[str, str]) -> dict[str, int]:
    """The marts in the copy BI reads, with their rows (the manifest beside the served file)."""
    manifest = Path(env["TELCO_MART_DATA_DIR"]) / "serving" / "telco_mart.json"
    return json.loads(manifest.read_text())["tables"]


def test_the_served_copy_holds_the_same_marts(runs: dict[str, dict[str, str]]) -> None:
    """On Spark the public marts are views over Spark's files; BI's copy holds each as a table."""
    on_duckdb = served_marts(runs["duckdb"])
    assert len(on_duckdb) > 15 and "fct_subscriber_daily" in on_duckdb
    assert served_marts(runs["spark"]) == on_duckdb
    served = Path(runs["spark"]["TELCO_MART_DATA_DIR"]) / "serving" / "telco_mart.duckdb"
    with duckdb.connect(str(served), read_only=True) as con:
        kinds = con.execute(
            "select distinct table_type from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
    assert kinds == [("BASE TABLE",)]
