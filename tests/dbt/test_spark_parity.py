"""The same dbt project on Spark (local, session mode) builds the same marts as on DuckDB.

One small world, two runs as the DAG makes them (the history up to the day before the last,
then the last day as an incremental run), each built by the real dbt on both targets: DuckDB,
and Spark reading the sources that ``telco_mart.spark_sources`` shares beside the warehouse.
After each run every mart table of the DuckDB warehouse is compared, row for row, with the
Parquet files Spark wrote for it, read back through DuckDB (as BI and the publish step would).

Allowed difference, one: a double may differ by one unit of the 4th decimal (plus 1e-9 of its
size). Two marts round averages to 4 decimals, and the engines round differently at a half (Spark rounds
the decimal text of a double half up, DuckDB the binary value), and sums of doubles in another
order differ in the last bits. Every other value, every key and every row count must be equal.
"""

from __future__ import annotations

import math
import os
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from telco_mart.campaigns.catalog import load_catalog, store_catalog
from telco_mart.spark_sources import share_sources_with_spark, spark_dir_of
from tests.conftest import SMALL_END, ingest_landing, run_dbt

REQUIRE_SPARK = bool(os.environ.get("TELCO_MART_REQUIRE_SPARK"))
JAVA = shutil.which("java")
#: one unit of the 4th decimal, with room for the binary error of the two values' difference
DOUBLE_TOLERANCE = 1.5e-4

pytestmark = pytest.mark.skipif(
    not JAVA and not REQUIRE_SPARK, reason="no Java on PATH for local Spark (apt-get install openjdk-17-jre-headless)"
)


def mart_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables where table_catalog = current_database() "
            "and table_schema = 'marts' and table_type = 'BASE TABLE' order by 1"
        ).fetchall()
    ]


def spark_rows(con: duckdb.DuckDBPyConnection, spark_dir: Path, table: str, columns: list[str]) -> list[tuple]:
    folder = spark_dir / "warehouse" / "marts.db" / table
    assert folder.is_dir(), f"Spark wrote no table {table}"
    if not any(folder.rglob("*.parquet")):
        return []
    select = ", ".join(f'"{c}"' for c in columns)
    source = f"read_parquet('{folder}/**/*.parquet', hive_partitioning = true)"
    return con.execute(f"select {select} from {source} order by all").fetchall()


def same_value(duck: object, spark: object) -> bool:
    if isinstance(duck, float) and isinstance(spark, float):
        return math.isclose(duck, spark, rel_tol=1e-9, abs_tol=DOUBLE_TOLERANCE) or (
            math.isnan(duck) and math.isnan(spark)
        )
    return duck == spark


def differences(warehouse: Path) -> dict[str, str]:
    """Per mart table that differs: what differs first."""
    spark_dir = spark_dir_of(warehouse)
    found: dict[str, str] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = mart_tables(con)
        assert len(tables) >= 20, tables
        for table in tables:
            columns = [
                row[0]
                for row in con.execute(
                    "select column_name from information_schema.columns where table_catalog = current_database() "
                    "and table_schema = 'marts' and table_name = ? order by ordinal_position",
                    [table],
                ).fetchall()
            ]
            select = ", ".join(f'"{c}"' for c in columns)
            duck = con.execute(f"select {select} from marts.{table} order by all").fetchall()
            spark = spark_rows(con, spark_dir, table, columns)
            if len(duck) != len(spark):
                found[table] = f"{len(duck)} rows on DuckDB, {len(spark)} on Spark"
                continue
            for duck_row, spark_row in zip(duck, spark, strict=True):
                unequal = [c for c, a, b in zip(columns, duck_row, spark_row, strict=True) if not same_value(a, b)]
                if unequal:
                    found[table] = f"{unequal}: DuckDB {duck_row} / Spark {spark_row}"
                    break
    return found


def build_both(warehouse: Path, work: Path, run_date: date, batch: dict[str, object]) -> None:
    dbt_vars = {
        "run_date": str(run_date),
        "batch_start_date": batch["batch_start_date"],
        "batch_end_date": batch["batch_end_date"],
    }
    run_dbt(["run"], warehouse, work / "target-duckdb", dbt_vars)
    spark_dir = spark_dir_of(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        shared = share_sources_with_spark(con, spark_dir)
    assert shared["usage_events"] > 0 and shared["campaigns"] > 0, shared
    run_dbt(
        ["run", "--target", "spark"],
        warehouse,
        work / "target-spark",
        dbt_vars,
        env={"TELCO_MART_SPARK_DIR": str(spark_dir)},
    )


@pytest.fixture(scope="module")
def two_runs(small_landing: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    work = tmp_path_factory.mktemp("spark_parity")
    warehouse = work / "warehouse.duckdb"
    first_day = SMALL_END - timedelta(days=1)
    batch = ingest_landing(small_landing, warehouse, first_day)
    with duckdb.connect(str(warehouse)) as con:
        store_catalog(con, load_catalog())
    build_both(warehouse, work, first_day, batch)
    after_history = differences(warehouse)
    batch = ingest_landing(small_landing, warehouse, SMALL_END)
    build_both(warehouse, work, SMALL_END, batch)
    return {"history": after_history, "incremental": differences(warehouse)}


def test_every_mart_built_on_spark_equals_the_duckdb_build(two_runs: dict[str, dict[str, str]]) -> None:
    assert two_runs["history"] == {}


def test_an_incremental_run_on_spark_replaces_the_periods_duckdb_replaces(
    two_runs: dict[str, dict[str, str]],
) -> None:
    assert two_runs["incremental"] == {}
