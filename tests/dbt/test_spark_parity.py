"""The same dbt project on Spark (local, session mode) builds the same marts as on DuckDB,
and the lists published from them are the same bytes.

One small world run twice side by side through the DAG's own pipeline calls (tests/e2e/world.py:
catalog, ingest, raw gate, dbt, marts gate, publish gate, publish), for two days as the DAG
makes them (the history up to the day before the last, then the last day as an incremental
run): once with dbt on DuckDB, once with dbt on Spark reading the sources that
``telco_mart.spark_engine`` shares beside the warehouse, its marts attached back to DuckDB as
views for the gates and publish. After each day every mart table of the DuckDB build is compared,
row for row, with the Parquet files Spark wrote for it; at the end the two outboxes' lists.

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

from telco_mart.config import spark_dir_of
from telco_mart.spark_engine import attach_spark_marts, mart_contracts, share_sources_with_spark
from telco_mart.warehouse import connect
from tests.conftest import SMALL_END, run_dbt
from tests.e2e.world import World

REQUIRE_SPARK = bool(os.environ.get("TELCO_MART_REQUIRE_SPARK"))
JAVA = shutil.which("java")
#: one unit of the 4th decimal, with room for the binary error of the two values' difference
DOUBLE_TOLERANCE = 1.5e-4

pytestmark = pytest.mark.skipif(
    not JAVA and not REQUIRE_SPARK, reason="no Java on PATH for local Spark (apt-get install openjdk-17-jre-headless)"
)


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


def differences(duckdb_warehouse: Path, spark_dir: Path, tables: list[str]) -> dict[str, str]:
    """Per mart table of the DuckDB build that Spark's files differ from: what differs first."""
    found: dict[str, str] = {}
    assert len(tables) >= 20, tables
    with duckdb.connect(str(duckdb_warehouse), read_only=True) as con:
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


class SparkWorld(World):
    """The same days through the same pipeline calls, with dbt on the Spark target: DuckDB's
    staging views for the gates and publish (they read raw through them), the sources shared,
    `dbt build` on Spark (models and data tests), then Spark's marts attached to the DuckDB
    warehouse as views, which the marts gate, the publish gate and publish read."""

    def build(self, start: date, end: date) -> None:
        batch = {"batch_start_date": start.isoformat(), "batch_end_date": end.isoformat(), "run_date": end.isoformat()}
        warehouse = self.settings.warehouse_path
        spark_dir = spark_dir_of(warehouse)
        target = self.root / "target-spark"
        with self.environment():
            self.dbt(["run", "--select", "path:models/staging"], batch)
            with connect(read_only=True, settings=self.settings) as con:
                share_sources_with_spark(con, spark_dir)
            run_dbt(
                ["build", "--target", "spark", "--exclude-resource-type", "unit_test"],
                warehouse,
                target,
                batch,
                env={"TELCO_MART_SPARK_DIR": str(spark_dir)},
            )
            with connect(settings=self.settings) as con:
                attach_spark_marts(con, spark_dir, mart_contracts(target / "manifest.json"))


def outbox_files(world: World) -> dict[str, bytes]:
    """The outbox's list files, byte for byte (the manifest names its run and warehouse, so
    its lists' checksums are compared through the files themselves)."""
    outbox = world.settings.outbox_dir
    return {
        str(path.relative_to(outbox)): path.read_bytes()
        for path in sorted(outbox.rglob("*"))
        if path.is_file() and path.suffix != ".json"
    }


@pytest.fixture(scope="module")
def two_days(small_landing: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The history up to the day before the last, then the last day, published by both."""
    root = tmp_path_factory.mktemp("spark_parity")
    on_duckdb = World(root / "duckdb", small_landing)
    on_spark = SparkWorld(root / "spark", small_landing)
    result: dict[str, object] = {}
    for run, day in (("history", SMALL_END - timedelta(days=1)), ("incremental", SMALL_END)):
        for world in (on_duckdb, on_spark):
            outcome = world.run_day(day)
            assert outcome.published, (type(world).__name__, day, outcome.refused_at, outcome.error)
        marts = sorted(mart_contracts(on_spark.root / "target-spark" / "manifest.json"))
        result[run] = differences(
            on_duckdb.settings.warehouse_path, spark_dir_of(on_spark.settings.warehouse_path), marts
        )
    result["outboxes"] = (outbox_files(on_duckdb), outbox_files(on_spark))
    return result


def test_every_mart_built_on_spark_equals_the_duckdb_build(two_days: dict[str, object]) -> None:
    assert two_days["history"] == {}


def test_an_incremental_run_on_spark_replaces_the_periods_duckdb_replaces(
    two_days: dict[str, object],
) -> None:
    assert two_days["incremental"] == {}


def test_the_outbox_published_from_spark_marts_is_byte_identical(two_days: dict[str, object]) -> None:
    on_duckdb, on_spark = two_days["outboxes"]
    assert len(on_duckdb) >= 2 and sum(len(content) for content in on_duckdb.values()) > 1000, sorted(on_duckdb)
    assert sorted(on_spark) == sorted(on_duckdb)
    assert on_spark == on_duckdb
