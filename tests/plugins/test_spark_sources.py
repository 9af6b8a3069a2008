"""What the Spark target reads: the warehouse's raw sources shared as Parquet beside it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import yaml

from telco_mart.schema import raw_files_root_of
from telco_mart.spark_sources import dbt_source_tables, share_sources_with_spark, spark_dir_of
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
