"""What the Spark target reads: the warehouse's raw sources shared as Parquet beside it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml

from telco_mart.config import spark_dir_of
from telco_mart.schema import raw_files_root_of
from telco_mart.spark_engine import attach_spark_marts, dbt_source_tables, share_sources_with_spark
from tests.conftest import REPO_ROOT, writable_copy


def test_the_shared_tables_are_every_raw_source_the_dbt_project_reads() -> None:
    declared = set()
    for path in (REPO_ROOT / "dbt_project" / "models" / "staging").glob("*/_*__sources.yml"):
        for source in yaml.safe_load(path.read_text())["sources"]:
            assert source["schema"] == "raw", path
            declared |= {table["name"] for table in source["tables"]}
    tables = dbt_source_tables()
    assert set(tables) == declared and "usage_events" in tables and "published_days" in tables


def test_sharing_links_the_listed_files_and_copies_the_tables(defects_warehouse: Path, tmp_path: Path) -> None:
    warehouse = writable_copy(defects_warehouse, tmp_path)
    # a file ingestion wrote and never listed (a load that died before it committed)
    stray = raw_files_root_of(warehouse) / "usage_events" / "_delivery_date=2026-01-02" / "died-before-commit.parquet"
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"copy (select * from raw.usage_events limit 5) to '{stray}' (format parquet)")
    spark_dir = spark_dir_of(warehouse)
    assert spark_dir == tmp_path / "warehouse.spark"

    for _ in range(2):  # sharing again replaces what was shared
        with duckdb.connect(str(warehouse), read_only=True) as con:
            shared = share_sources_with_spark(con, spark_dir)
            listed = {row[0] for row in con.execute("select path from raw.stored_files").fetchall()}
            counts = {table: con.execute(f"select count(*) from raw.{table}").fetchone()[0] for table in shared}
        sources = spark_dir / "sources"
        assert sorted(p.name for p in sources.iterdir()) == sorted(dbt_source_tables())
        assert shared == counts and shared["usage_events"] > 0 and shared["subscribers"] > 0

        links = sorted((sources / "usage_events").rglob("*.parquet"))
        assert {str(Path("usage_events") / link.relative_to(sources / "usage_events")) for link in links} == listed
        assert all(link.is_symlink() and link.resolve().is_file() for link in links)
        assert stray.name not in {link.name for link in links}

        with duckdb.connect() as reader:
            for table, rows in shared.items():
                files = f"{sources / table}/**/*.parquet"
                assert reader.execute(f"select count(*) from read_parquet('{files}')").fetchone()[0] == rows, table


def test_attached_marts_read_spark_files_in_contract_order_and_types(tmp_path: Path) -> None:
    spark_dir = tmp_path / "warehouse.spark"
    marts = spark_dir / "warehouse" / "marts.db"
    partition = marts / "daily" / "date_day=2026-01-04"
    partition.mkdir(parents=True)
    (marts / "empty").mkdir()
    contracts = {
        # Spark keeps a partition column last; the contract puts it first
        "daily": [("date_day", "date"), ("subscriber_id", "string"), ("amount", "double")],
        "empty": [("subscriber_id", "string"), ("n", "integer")],
    }
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute(f"copy (select 'S1' as subscriber_id, 1.5 as amount) to '{partition}/part-0.parquet'")
        con.execute("create schema marts")
        con.execute("create table marts.daily (date_day date, subscriber_id varchar, amount double)")
        con.execute("create table marts.dq_results (x integer)")  # not a dbt mart: left alone

        assert attach_spark_marts(con, spark_dir, contracts) == ["daily", "empty"]
        assert con.execute("select * from marts.daily").fetchall() == [(date(2026, 1, 4), "S1", 1.5)]
        assert con.execute("describe marts.empty").fetchall()[1][:2] == ("n", "INTEGER")
        assert con.execute("select count(*) from marts.empty").fetchone() == (0,)
        kinds = dict(
            con.execute(
                "select table_name, table_type from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        )
        assert kinds == {"daily": "VIEW", "empty": "VIEW", "dq_results": "BASE TABLE"}

        with pytest.raises(FileNotFoundError, match=r"marts\.missing"):
            attach_spark_marts(con, spark_dir, {"missing": [("a", "string")]})


def test_spark_reads_the_landed_files_kept_as_they_are_with_the_lineage_duckdb_gives_them(tmp_path: Path) -> None:
    """Usage delivered as clean typed Parquet is kept as landed (no lineage columns in the
    file): Spark is shared a copy with them, written once, and reads exactly DuckDB's rows."""
    from telco_mart.generate import generate
    from tests.conftest import SMALL_END, SMALL_START, SMALL_SUBSCRIBERS, ingest_landing

    landing = tmp_path / "landing"
    generate(
        subscribers=SMALL_SUBSCRIBERS, start=SMALL_START, end=SMALL_END, seed=7, out=landing, fmt="parquet",
        events_per_sub_day=4.0,
    )  # fmt: skip
    warehouse = tmp_path / "warehouse.duckdb"
    ingest_landing(landing, warehouse, SMALL_END)
    spark_dir = spark_dir_of(warehouse)
    first_stamps: dict[Path, int] = {}
    for sharing in range(2):  # the second share writes no copy again
        with duckdb.connect(str(warehouse), read_only=True) as con:
            share_sources_with_spark(con, spark_dir, tables=["usage_events"])
            kept = con.execute("select count(*) from raw.stored_files where landed_as_is").fetchone()[0]
            described = con.execute("select column_name from (describe raw.usage_events)").fetchall()
            columns = [name for (name,) in described]
            files = f"{spark_dir / 'sources' / 'usage_events'}/**/*.parquet"
            spark_reads = f"select {', '.join(columns)} from read_parquet('{files}', hive_partitioning = true)"
            duckdb_reads = "select * from raw.usage_events"
            assert con.execute("select count(*) from raw.usage_events").fetchone()[0] > 0
            for one, other in ((spark_reads, duckdb_reads), (duckdb_reads, spark_reads)):
                assert con.execute(f"select count(*) from ({one} except all {other})").fetchone()[0] == 0
        copies = sorted((spark_dir / "landed" / "usage_events").rglob("*"))
        assert kept == (SMALL_END - SMALL_START).days + 1 and len([c for c in copies if c.is_file()]) == kept
        stamps = {copy: copy.stat().st_mtime_ns for copy in copies if copy.is_file()}
        if sharing:
            assert stamps == first_stamps
        first_stamps = stamps

    with duckdb.connect(str(warehouse)) as con:  # a day retracted: its copy goes with the next share
        con.execute("delete from raw.stored_files where delivery_date = ?", [SMALL_END])
        share_sources_with_spark(con, spark_dir, tables=["usage_events"])
    assert len(list((spark_dir / "landed" / "usage_events").rglob("*.parquet"))) == kept - 1
