"""The dbt project on Spark, with ingestion, the gates and publish staying on DuckDB.

What Spark reads (the warehouse's sources, shared as Parquet files) and how DuckDB reads
back what Spark built (the marts, as views over Spark's Parquet tables).

Ingestion, the gates and publish stay on DuckDB (one implementation of the contact policy);
on the Spark target only dbt runs on Spark, and it reads the same raw rows the DuckDB
warehouse holds. Each source table of the dbt project (``schema: raw`` in the staging
``_<source>__sources.yml`` files) is put under ``<warehouse>.spark/sources/<table>/``:

- a feed stored as Parquet (contract ``storage: parquet``): links to the files the registry
  lists (``raw.stored_files``), in their ``_delivery_date=<D>`` folders. Spark reads the very
  partitions DuckDB reads and no copy is made; a file ingestion wrote and never listed (a
  load that died before it committed) is not linked, so Spark cannot read a row DuckDB does not.
  A landed file kept as it is lacks the lineage columns DuckDB's view adds: Spark reads a copy
  with them, written once per file (``landed/``);
- any other source (small daily feeds, the outbox and catalog tables): the table's rows
  written as one Parquet file, replaced whole (written beside, then swapped in).

The marts Spark builds are Parquet tables under ``<warehouse>.spark/warehouse/marts.db/``;
:func:`attach_spark_marts` makes each ``marts.<table>`` of the DuckDB warehouse a view over
its files, in the column order and types of the mart's contract, so the marts gate, the
publish gate, publish and the served copy read them as they read DuckDB's own marts: the
contact policy and publish stay one implementation.

The dbt project's on-run-start on Spark (macro ``register_spark_sources``) makes
``raw.<table>`` a view over each folder, so staging's ``source()`` reads them unchanged.
The folder beside the warehouse also holds Spark's own table storage (``warehouse/``) and its
catalog (``metastore_db/``): the dbt profile's ``spark`` target reads
``TELCO_MART_SPARK_DIR``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import yaml

from telco_mart.config import REPO_ROOT
from telco_mart.contract import Contract, Feed, load_contract
from telco_mart.schema import landed_file_with_lineage, raw_files_root
from telco_mart.warehouse import quote_ident, quote_literal

STAGING_MODELS = REPO_ROOT / "dbt_project" / "models" / "staging"


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
    parquet_feeds = {feed.name: feed for feed in contract.feeds.values() if feed.storage == "parquet"}
    sources = spark_dir / "sources"
    sources.mkdir(parents=True, exist_ok=True)
    shared: dict[str, int] = {}
    for table in tables if tables is not None else dbt_source_tables():
        staged = sources / f"{table}.new"
        shutil.rmtree(staged, ignore_errors=True)
        staged.mkdir()
        if table in parquet_feeds:
            _link_stored_files(con, parquet_feeds[table], staged, spark_dir)
        else:
            con.execute(
                f"copy (select * from raw.{quote_ident(table)}) to {quote_literal(str(staged / 'rows.parquet'))} "
                "(format parquet, compression zstd)"
            )
        shared[table] = con.execute(f"select count(*) from raw.{quote_ident(table)}").fetchone()[0]
        _swap_in(staged, sources / table)
    return shared


def _link_stored_files(con: duckdb.DuckDBPyConnection, feed: Feed, folder: Path, spark_dir: Path) -> None:
    """Link the feed's listed files into ``folder``. A landed file kept as it is has no lineage
    columns (DuckDB's view adds them): Spark is linked to a copy with them instead, written
    once under ``spark_dir/landed/`` (file names are never reused), and the copies of files no
    longer listed are removed."""
    root = raw_files_root(con)
    with_lineage = spark_dir / "landed"
    wanted = set()
    listed = con.execute(
        "select path, coalesce(landed_as_is, false) from raw.stored_files where feed = ? order by path", [feed.name]
    ).fetchall()
    for path, as_is in listed:
        target = root / path
        if as_is:
            target = with_lineage / path
            wanted.add(target)
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_name(target.name + ".partial")
                con.execute(
                    f"copy ({landed_file_with_lineage(con, feed, path)}) to {quote_literal(str(partial))} "
                    "(format parquet, compression zstd)"
                )
                partial.rename(target)
        link = folder / Path(path).relative_to(feed.name)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)
    for stale in (with_lineage / feed.name).glob("*/*"):
        if stale not in wanted:
            stale.unlink()


def _swap_in(staged: Path, target: Path) -> None:
    """Replace ``target`` by ``staged``: the old folder is renamed aside first, so a reader
    never meets a half-written one, and removed after."""
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staged.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def mart_contracts(manifest: Path) -> dict[str, list[tuple[str, str]]]:
    """Per mart table, its contract's columns and types in order, from a dbt manifest."""
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"]
    return {
        node["name"]: [(column["name"], column["data_type"]) for column in node["columns"].values()]
        for node in nodes.values()
        if node["resource_type"] == "model"
        and node["schema"] == "marts"
        and node["config"]["materialized"] != "ephemeral"
    }


def attach_spark_marts(
    con: duckdb.DuckDBPyConnection, spark_dir: Path, contracts: dict[str, list[tuple[str, str]]]
) -> list[str]:
    """Make ``marts.<table>`` a view over Spark's files of that mart, for every mart in
    ``contracts`` (:func:`mart_contracts`); a DuckDB-built table of the same name is dropped.
    Returns the tables attached. A mart Spark has not built is an error, not an empty view."""
    con.execute("create schema if not exists marts")
    attached = []
    for table, columns in sorted(contracts.items()):
        folder = spark_dir / "warehouse" / "marts.db" / table
        if not folder.is_dir():
            raise FileNotFoundError(
                f"Spark has not built marts.{table} (no {folder}): run dbt on the spark target first"
            )
        kind = con.execute(
            "select table_type from information_schema.tables where table_catalog = current_database() "
            "and table_schema = 'marts' and table_name = ?",
            [table],
        ).fetchone()
        if kind and kind[0] == "BASE TABLE":
            con.execute(f"drop table marts.{quote_ident(table)}")
        typed = ", ".join(
            f"cast({quote_ident(name)} as {data_type}) as {quote_ident(name)}" for name, data_type in columns
        )
        if any(folder.rglob("*.parquet")):
            files = quote_literal(f"{folder}/**/*.parquet")
            source = f"read_parquet({files}, hive_partitioning = true, union_by_name = true)"
        else:  # an empty table: Spark wrote no file
            source = "(select " + ", ".join(f"null as {quote_ident(name)}" for name, _ in columns) + ") where false"
        con.execute(f"create or replace view marts.{quote_ident(table)} as select {typed} from {source}")
        attached.append(table)
    return attached
