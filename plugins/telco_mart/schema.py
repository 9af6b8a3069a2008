"""Every table the pipeline creates outside dbt is defined here, and only here: the schemas,
one typed raw table per feed of the contract, ingestion's file registry and quarantine, the
ledger's tables, the campaign catalog's, the published and superseded contacts, and the
quality gates' results. Their owners (ingest, ``ledger``, ``campaigns.catalog``,
``campaigns.publish``, ``quality.results``) read and write them and import their names and
``ensure_*`` functions from here; this module imports none of them, so there is no circle.

Why not :mod:`telco_mart.warehouse`: it only connects (and every owner uses it for
connections and transactions), so the tables sit one level above it and below their owners.

A warehouse is created only by ``telco-mart init`` (:func:`init_warehouse`): see
:mod:`telco_mart.warehouse` for why never implicitly.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import duckdb

from telco_mart.config import Settings
from telco_mart.contract import Contract, Feed, load_contract
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


# ----- the ledger (telco_mart.ledger)

LEDGER_TABLES: dict[str, str] = {
    "warehouse_identity": "warehouse_id varchar not null, created_at timestamp not null",
    "day_status": """
        day date not null, status varchar not null, run_id varchar, note varchar, updated_at timestamp not null""",
    "day_waivers": """
        day date not null, waived_by varchar not null, reason varchar not null, waived_at timestamp not null""",
    "delivery_declarations": """
        feed varchar not null, delivery_date date not null, declared_by varchar not null,
        reason varchar not null, declared_at timestamp not null""",
    "published_days": """
        publish_date date not null, status varchar not null, run_id varchar, total_rows bigint not null,
        manifest_sha256 varchar not null, manifest varchar not null, warehouse_id varchar,
        published_at timestamp not null, superseded_at timestamp, superseded_by varchar, supersede_reason varchar""",
    "pending_rebuilds": "delivery_date date not null, reason varchar not null, requested_at timestamp not null",
}


def ensure_ledger_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    for table, columns in LEDGER_TABLES.items():
        con.execute(f"create table if not exists raw.{table} ({columns})")


def ensure_identity(con: duckdb.DuckDBPyConnection, *, create: bool) -> str:
    """The warehouse's id; a new one only for a warehouse being created (or one made before ids)."""
    ensure_ledger_tables(con)
    row = con.execute("select warehouse_id from raw.warehouse_identity").fetchall()
    if row:
        return row[0][0]
    warehouse_id = str(uuid.uuid4())
    con.execute(
        "insert into raw.warehouse_identity values (?, ?)", [warehouse_id, datetime.now(UTC).replace(tzinfo=None)]
    )
    return warehouse_id


# ----- the campaign catalog (telco_mart.campaigns.catalog)

#: The raw tables the catalog is stored in, column -> type. A column added later goes last:
#: ``ensure_catalog_tables`` adds it to an existing warehouse, where it can only go last, so
#: fresh and upgraded warehouses keep the same layout.
CATALOG_TABLES: dict[str, dict[str, str]] = {
    "campaign_policy": {
        "catalog_version": "varchar",
        "marketing_cap_7_days": "integer",
        "marketing_cap_30_days": "integer",
        "holdout_salt": "varchar",
        "conversion_window_days": "integer",
        "inactive_after_days": "integer",
        "loaded_at": "timestamp",
        "one_contact_per_channel_per_day": "boolean",
    },
    "campaigns": {
        "catalog_version": "varchar",
        "campaign_id": "varchar",
        "campaign_name": "varchar",
        "campaign_kind": "varchar",
        "channel": "varchar",
        "offer_code": "varchar",
        "offer_product": "varchar",
        "priority": "integer",
        "expected_value": "double",
        "holdout_share": "double",
        "cooldown_days": "integer",
        "daily_capacity": "integer",
        "active_from": "date",
        "active_to": "date",
        "loaded_at": "timestamp",
    },
    "campaign_eligibility_rules": {
        "catalog_version": "varchar",
        "campaign_id": "varchar",
        "rule_number": "integer",
        "column_name": "varchar",
        "operator": "varchar",
        "value_text": "varchar",
        "value_number": "double",
        "reason_code": "varchar",
        "loaded_at": "timestamp",
    },
}


def ensure_catalog_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the catalog tables, and add the columns a warehouse made by an older version lacks."""
    con.execute("create schema if not exists raw")
    for table, columns in CATALOG_TABLES.items():
        con.execute(f"create table if not exists raw.{table} ({', '.join(f'{c} {t}' for c, t in columns.items())})")
        for column, column_type in columns.items():
            con.execute(f"alter table raw.{table} add column if not exists {column} {column_type}")


# ----- published contacts (telco_mart.campaigns.publish)

PUBLISHED_CONTACTS_DDL = """
create table if not exists raw.published_contacts (
    contact_date date not null,
    subscriber_id varchar not null,
    campaign_id varchar not null,
    campaign_kind varchar not null,
    channel varchar not null,
    offer_code varchar,
    run_id varchar,
    published_at timestamp not null
)
"""


def ensure_published_contacts_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    con.execute(PUBLISHED_CONTACTS_DDL)
    con.execute(
        "create table if not exists raw.superseded_contacts as "
        "select *, cast(null as timestamp) as superseded_at, cast(null as varchar) as supersede_reason "
        "from raw.published_contacts limit 0"
    )


# ----- quality results (telco_mart.quality.results)

DQ_RESULTS = "marts.dq_results"
DQ_RESULTS_DDL = f"""
create table if not exists {DQ_RESULTS} (
    run_id varchar not null,          -- the Airflow run (or the manual run) that validated
    run_date date not null,           -- the delivery date validated
    stage varchar not null,           -- raw (after ingestion), marts (after dbt); publish to come
    suite varchar not null,           -- e.g. raw.usage_events (expectations/raw/usage_events.json)
    data_asset varchar not null,      -- the table validated
    expectation varchar not null,     -- expectation type and the column(s) it is about
    description varchar not null,
    severity varchar not null,        -- warn | fail
    success boolean not null,
    observed_value varchar,           -- what was seen, for people
    observed_number double,           -- the same as a number where there is one, for charts
    details json,                     -- kwargs, context and a few offending rows
    validated_at timestamp not null
)
"""


def ensure_dq_results(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists marts")
    con.execute(DQ_RESULTS_DDL)
