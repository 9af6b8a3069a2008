"""What the dbt project reads on the Spark target: the warehouse's sources as Parquet files.

Ingestion, the gates and publish stay on DuckDB (one implementation of the contact policy);
on the Spark target only dbt runs on Spark, and it reads the same raw rows the DuckDB
warehouse holds. Each source table of the dbt project (``schema: raw`` in the staging
``_<source>__sources.yml`` files) is put under ``<warehouse>.spark/sources/<table>/``:

- a feed stored as Parquet (contract ``storage: parquet``): links to the files the registry
  lists (``raw.stored_files``), in their ``_delivery_date=<D>`` folders. Spark reads the very
  partitions DuckDB reads and no copy is made; a file ingestion wrote and never listed (a
  load that died before it committed) is not linked, so Spark cannot read a row DuckDB does not;
- any other source (small daily feeds, the outbox and catalog tables): the table's rows
  written as one Parquet file, replaced whole (written beside, then swapped in).

The dbt project's on-run-start on Spark (macro ``register_spark_sources``) makes
``raw.<table>`` a view over each folder, so staging's ``source()`` reads them unchanged.
The folder beside the warehouse also holds Spark's own table storage (``warehouse/``) and its
catalog (``metastore_db/``): the dbt profile's ``spark`` target reads
``TELCO_MART_SPARK_DIR``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import yaml

from telco_mart.config import REPO_ROOT
from telco_mart.contract import Contract, load_contract
from telco_mart.schema import raw_files_root
from telco_mart.warehouse import quote_ident, quote_literal

STAGING_MODELS = REPO_ROOT / "dbt_project" / "models" / "staging"


def spark_dir_of(warehouse: Path) -> Path:
    """``warehouse.duckdb`` -> ``warehouse.spark/``: Spark's side of that warehouse."""
    warehouse = warehouse.resolve()
    return warehouse.with_name(warehouse.stem + ".spark")


def dbt_source_tables(staging_models: Path = STAGING_MODELS) -> list[str]:
    """The raw tables the dbt project reads, from its sources files: the one list of them."""
    tables: set[str] = set()
    for path in sorted(staging_models.glob("*/_*__sources.yml")):
        for source in (yaml.safe_load(path.read_text()) or {}).get("sources", []):
            if source.get("schema", source["name"]) == "raw":
                tables.update(table["name"] for table in source.get("tables", []))
    return sorted(tables)


def share_sources_with_spark(
    con: duckdb.DuckDBPyConnection,
    spark_dir: Path,
    tables: list[str] | None = None,
    contract: Contract | None = None,
) -> dict[str, int]:
    """Put every source table under ``spark_dir/sources/``; return the rows shared per table."""
    contract = contract or load_contract()
    parquet_feeds = {feed.name for feed in contract.feeds.values() if feed.storage == "parquet"}
    sources = spark_dir / "sources"
    sources.mkdir(parents=True, exist_ok=True)
    shared: dict[str, int] = {}
    for table in tables if tables is not None else dbt_source_tables():
        staged = sources / f"{table}.new"
        shutil.rmtree(staged, ignore_errors=True)
        staged.mkdir()
        if table in parquet_feeds:
            _link_stored_files(con, table, staged)
        else:
            con.execute(
                f"copy (select * from raw.{quote_ident(table)}) to {quote_literal(str(staged / 'rows.parquet'))} "
                "(format parquet, compression zstd)"
            )
        shared[table] = con.execute(f"select count(*) from raw.{quote_ident(table)}").fetchone()[0]
        _swap_in(staged, sources / table)
    return shared


def _link_stored_files(con: duckdb.DuckDBPyConnection, feed: str, folder: Path) -> None:
    root = raw_files_root(con)
    for (path,) in con.execute("select path from raw.stored_files where feed = ? order by path", [feed]).fetchall():
        link = folder / Path(path).relative_to(feed)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(root / path)


def _swap_in(staged: Path, target: Path) -> None:
    """Replace ``target`` by ``staged``: the old folder is renamed aside first, so a reader
    never meets a half-written one, and removed after."""
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staged.rename(target)
    shutil.rmtree(old, ignore_errors=True)
