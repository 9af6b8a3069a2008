"""The warehouse's tables, all created here: the schemas, one typed raw table per feed of the
contract, ingestion's file registry and quarantine, and the tables the ledger, the campaign
catalog and publish own (each created by its owner's ``ensure_*`` function).

Why a module of its own: every table's owner uses :mod:`telco_mart.warehouse` (connections,
transactions), so the code that creates them all cannot live there without an import circle.
It sits above the owners instead; ingestion, which needs the whole schema before its first
load, imports it, so the registry and quarantine it writes are defined here rather than in
:mod:`telco_mart.ingest.loader`.

A warehouse is created only by ``telco-mart init`` (:func:`init_warehouse`): see
:mod:`telco_mart.warehouse` for why never implicitly.
"""

from __future__ import annotations

import duckdb

from telco_mart.campaigns.catalog import ensure_catalog_tables
from telco_mart.campaigns.publish import ensure_published_contacts_table
from telco_mart.config import Settings
from telco_mart.contract import Contract, Feed, load_contract
from telco_mart.ledger import ensure_identity, ensure_ledger_tables
from telco_mart.warehouse import LINEAGE_COLUMNS, connect

SCHEMAS = ("raw", "staging", "intermediate", "marts")

#: Columns the registry gained after its first release: added to an existing warehouse.
REGISTRY_ADDED_COLUMNS = {
    "rows_normalised": "bigint default 0",  # rows loaded with at least one value normalised
    "normalisations": "varchar",  # JSON {"<kind>:<column>": values} (validate.normalisations)
    "file_modified_at": "timestamp",  # the file's mtime: unchanged size and mtime are not read again
}

REGISTRY_DDL = """
create table if not exists raw.file_registry (
    load_id varchar primary key,
    feed varchar not null,
    delivery_date date not null,
    source_file varchar not null,
    file_size bigint not null,
    checksum_sha256 varchar not null,
    status varchar not null,        -- loaded | rejected | skipped_duplicate | replaced
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_quarantined bigint not null,
    rows_rejected bigint not null,  -- rows of a file rejected whole
    note varchar,
    duplicate_of varchar,
    run_id varchar,
    registered_at timestamp not null
)
"""

QUARANTINE_DDL = """
create table if not exists raw.quarantine (
    feed varchar not null,
    source_file varchar not null,
    delivery_date date not null,
    source_line bigint not null,
    reason varchar not null,
    record varchar,
    load_id varchar not null,
    quarantined_at timestamp not null
)
"""


def init_warehouse(settings: Settings | None = None) -> tuple[str, bool]:
    """Create the warehouse (schemas, raw tables, its identity) or confirm an existing one.

    Returns the warehouse id and whether it was created now. The id goes into every outbox
    manifest, so that an outbox and a warehouse that do not belong together are told apart.
    """
    settings = settings or Settings.from_env()
    created = not settings.warehouse_path.exists()
    with connect(settings=settings, create=True) as con:
        ensure_raw_schema(con)
        warehouse_id = ensure_identity(con, create=created)
    return warehouse_id, created


def raw_table_ddl(feed: Feed) -> str:
    cols = [f"{c.name} {c.duckdb_type}" for c in feed.columns]
    cols += [f"{name} {sql_type}" for name, sql_type in LINEAGE_COLUMNS.items()]
    return f"create table if not exists raw.{feed.name} (\n    " + ",\n    ".join(cols) + "\n)"


def ensure_raw_schema(con: duckdb.DuckDBPyConnection, contract: Contract | None = None) -> None:
    """Create the warehouse schemas, one typed raw table per feed, and the tables the
    warehouse feeds itself (campaign catalog, published contacts), all idempotent.

    The last two exist from the start so that dbt's sources resolve on a fresh warehouse.
    """
    contract = contract or load_contract()
    for schema in SCHEMAS:
        con.execute(f"create schema if not exists {schema}")
    for feed in contract.feeds.values():
        con.execute(raw_table_ddl(feed))
    _add_new_contract_columns(con, contract)
    ensure_registry_tables(con)
    ensure_catalog_tables(con)
    ensure_published_contacts_table(con)
    ensure_ledger_tables(con)


def _add_new_contract_columns(con: duckdb.DuckDBPyConnection, contract: Contract) -> None:
    """Give a raw table created before the contract grew a column that column (null in the
    rows already loaded: the feed did not carry it then), so an upgrade needs no rebuild."""
    have = set(
        con.execute(
            "select table_name, column_name from duckdb_columns() where database_name = current_database() "
            "and schema_name = 'raw'"
        ).fetchall()
    )
    for feed in contract.feeds.values():
        for column in feed.columns:
            if (feed.name, column.name) not in have:
                con.execute(f"alter table raw.{feed.name} add column {column.name} {column.duckdb_type}")


def ensure_registry_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The file registry and the quarantine (created with the raw schema, so that every reader,
    the publish gate's consent check included, finds them on any warehouse)."""
    con.execute(REGISTRY_DDL)
    for column, definition in REGISTRY_ADDED_COLUMNS.items():
        con.execute(f"alter table raw.file_registry add column if not exists {column} {definition}")
    con.execute(QUARANTINE_DDL)
