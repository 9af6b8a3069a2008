"""The DuckDB warehouse: connections and the `raw` schema's tables.

DuckDB allows one writing process at a time, so every writer (ingestion, dbt, publish)
opens the file through here or through dbt, and the DAG serialises them with a one-slot
Airflow pool. The `raw` tables are created from the contract, never by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from telco_mart.config import Settings
from telco_mart.contract import Contract, Feed, load_contract

SCHEMAS = ("raw", "staging", "intermediate", "marts")

#: Lineage columns ingestion adds to every raw row, so any warehouse row leads back to a
#: line of a landed file.
LINEAGE_COLUMNS: dict[str, str] = {
    "_source_file": "varchar",
    "_source_line": "bigint",
    "_delivery_date": "date",
    "_load_id": "varchar",
    "_loaded_at": "timestamp",
}


@contextmanager
def connect(
    path: Path | None = None, *, read_only: bool = False, settings: Settings | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse, with memory and thread limits applied as settings.

    The limits are set with SET rather than passed as connection config: DuckDB refuses a
    second connection to a file with a different config in the same process, and dbt-duckdb
    (which Cosmos may run in-process) opens the file with an empty config.
    """
    settings = settings or Settings.from_env()
    path = path or settings.warehouse_path
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        con.execute(f"set memory_limit = '{settings.duckdb_memory_limit}'")
        con.execute(f"set threads = {int(settings.duckdb_threads)}")
        con.execute("set preserve_insertion_order = false")  # rows carry their line numbers
        yield con
    finally:
        con.close()


def raw_table_ddl(feed: Feed) -> str:
    cols = [f"{c.name} {c.duckdb_type}" for c in feed.columns]
    cols += [f"{name} {sql_type}" for name, sql_type in LINEAGE_COLUMNS.items()]
    return f"create table if not exists raw.{feed.name} (\n    " + ",\n    ".join(cols) + "\n)"


def ensure_raw_schema(con: duckdb.DuckDBPyConnection, contract: Contract | None = None) -> None:
    """Create the warehouse schemas, one typed raw table per feed, and the tables the
    warehouse feeds itself (campaign catalog, published contacts), all idempotent.

    The last two exist from the start so that dbt's sources resolve on a fresh warehouse.
    """
    from telco_mart.campaigns.catalog import ensure_catalog_tables
    from telco_mart.publish import ensure_published_contacts_table

    contract = contract or load_contract()
    for schema in SCHEMAS:
        con.execute(f"create schema if not exists {schema}")
    for feed in contract.feeds.values():
        con.execute(raw_table_ddl(feed))
    ensure_catalog_tables(con)
    ensure_published_contacts_table(con)


def fetch_one(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> tuple | None:
    """First row of a query, with the result fully consumed.

    DuckDB 2.0 keeps a partly fetched result open and refuses the next statement on the
    connection, so single-row lookups must drain the result.
    """
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None
