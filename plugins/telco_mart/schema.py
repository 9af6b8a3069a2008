"""Every table the pipeline creates outside dbt is defined here, and only here: the schemas,
one typed raw table per feed of the contract, ingestion's file registry and quarantine, the
ledger's tables, the campaign catalog's, the published and superseded contacts, and the
quality gates' results; and the warehouse-owned Parquet files behind the raw feeds the
contract stores as ``parquet``, with the ``raw.stored_files`` table that lists them. Their
owners (ingest, ``ledger``, ``campaigns.catalog``, ``campaigns.publish``, ``quality.results``)
read and write them and import their names and
``ensure_*`` functions from here; this module imports none of them, so there is no circle.

Why not :mod:`telco_mart.warehouse`: it only connects (and every owner uses it for
connections and transactions), so the tables sit one level above it and below their owners.

A warehouse is created only by ``telco-mart init`` (:func:`init_warehouse`): see
:mod:`telco_mart.warehouse` for why never implicitly.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from telco_mart.config import Settings
from telco_mart.contract import Contract, Feed, load_contract
from telco_mart.warehouse import LINEAGE_COLUMNS, connect, quote_ident, quote_literal, transaction

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
    ensure_registry_tables(con)
    for feed in contract.feeds.values():
        if feed.storage == "parquet":
            ensure_parquet_feed(con, feed)
        else:
            con.execute(raw_table_ddl(feed))
    _add_new_contract_columns(con, contract)
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
        if feed.storage == "parquet":
            continue  # its view gives a column no file holds yet as null (parquet_feed_view)
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
    con.execute(STORED_FILES_DDL)
    for column, definition in STORED_FILES_ADDED_COLUMNS.items():
        con.execute(f"alter table raw.stored_files add column if not exists {column} {definition}")


# ----- raw feeds kept as Parquet files (contract ``storage: parquet``; telco_mart.ingest)

STORED_FILES_DDL = """
create table if not exists raw.stored_files (
    feed varchar not null,
    delivery_date date not null,      -- the partition: <feed>/_delivery_date=<date>/
    source_file varchar not null,     -- the landed file its rows came from (file_registry.source_file)
    load_id varchar not null,         -- the registry entry that loaded them
    path varchar not null,            -- under the warehouse's raw folder (raw_files_root)
    row_count bigint not null,
    file_size bigint not null,
    checksum_sha256 varchar not null,
    columns varchar not null,         -- the contract columns the file holds, comma-separated
    stored_at timestamp not null,
    keys_proven boolean,              -- see STORED_FILES_ADDED_COLUMNS
    landed_as_is boolean              -- see STORED_FILES_ADDED_COLUMNS
)
"""

#: Columns ``raw.stored_files`` gained after its first release: added to an existing warehouse.
STORED_FILES_ADDED_COLUMNS = {
    # true: the feed key of every row of this file was proven unique in its partition when the
    # file was listed (ingest's duplicate-key check ran against the partition's other files;
    # each later file is checked against this one), so the partition's keys are unique while
    # all its files are true; staging's key test relies on it instead of hashing the keys
    # again (tests/generic/unique_as_proven_at_ingest.sql). false: checked, and a key repeats.
    # null: stored without the check (an upgrade proves these once: prove_stored_keys).
    "keys_proven": "boolean",
    # true: the file is the landed Parquet file itself, copied byte for byte (its checksum is
    # the registry's checksum of the landed file), without lineage columns: the feed's view
    # gives them from this row (source_file, load_id, stored_at as the load time, the row
    # number as the source line). Ingest keeps a landed file so only when storing it changes
    # no value: no reject, no normalisation, exactly the contract's columns and types
    # (keep_landed_file). false: written by store_raw_rows, lineage in it (null: before the column).
    "landed_as_is": "boolean",
}

#: Lineage columns a stored file holds: the delivery date is its partition folder's name.
STORED_LINEAGE = [c for c in LINEAGE_COLUMNS if c != "_delivery_date"]


def raw_files_root(con: duckdb.DuckDBPyConnection) -> Path:
    """The folder beside the warehouse file that holds its Parquet-stored raw feeds
    (``warehouse.duckdb`` -> ``warehouse.raw/``): it belongs to that warehouse, and goes
    with it when the two are copied or moved together."""
    row = con.execute("select path from duckdb_databases() where database_name = current_database()").fetchone()
    if not row or not row[0]:
        raise RuntimeError("a feed stored as Parquet needs a warehouse file; this connection is in memory")
    return raw_files_root_of(Path(row[0]))


def raw_files_root_of(warehouse: Path) -> Path:
    warehouse = warehouse.resolve()
    return warehouse.with_name(warehouse.stem + ".raw")


def copy_warehouse(source: Path, target: Path, contract: Contract | None = None) -> None:
    """Copy a closed warehouse: its file and its raw folder, with the copy's views pointed at the
    copy's own files. A warehouse is both; a copy of the file alone reads the original's files
    until its views are refreshed, and then nothing."""
    shutil.copyfile(source, target)
    if raw_files_root_of(source).is_dir():
        shutil.copytree(raw_files_root_of(source), raw_files_root_of(target))
    contract = contract or load_contract()
    with duckdb.connect(str(target)) as con:
        views = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'raw' and table_type = 'VIEW'"
            ).fetchall()
        }
        for feed in contract.feeds.values():
            if feed.name in views:  # a warehouse from before the feed was stored as files has a table
                refresh_parquet_feed_view(con, feed)


def store_raw_rows(
    con: duckdb.DuckDBPyConnection,
    feed: Feed,
    select_sql: str,
    params: list[object],
    *,
    delivery_date: date,
    source_file: str,
    load_id: str,
    keys_proven: bool | None,
    name: str | None = None,
    refresh: bool = True,
) -> int:
    """Write the rows of ``select_sql`` as one Parquet file of the feed's ``delivery_date``
    partition, list it in ``raw.stored_files`` and point the feed's view at it (unless not
    ``refresh``: a caller storing several files refreshes once at the end); returns the
    rows written. ``select_sql`` gives the feed's columns by name (values already of their
    contract types or castable to them) and the lineage columns except ``_delivery_date``.
    ``keys_proven``: whether the caller proved the rows' feed keys unique among themselves
    and against the partition's listed files (ingest does; ``None`` for rows stored unchecked).

    Call it inside the load's transaction: the file is on disk before the commit, but only
    the committed ``stored_files`` row and view make it part of the feed, so a load that
    rolls back or dies leaves an unlisted file that :func:`sweep_raw_files` removes. A file is
    never overwritten: each load and each replay writes a new name.
    """
    relative = f"{feed.name}/_delivery_date={delivery_date.isoformat()}/{name or load_id}.parquet"
    path = raw_files_root(con) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    typed = [f"cast({quote_ident(c.name)} as {c.duckdb_type}) as {quote_ident(c.name)}" for c in feed.columns]
    typed += [f"cast({c} as {LINEAGE_COLUMNS[c]}) as {c}" for c in STORED_LINEAGE]
    (rows,) = con.execute(
        f"copy (select {', '.join(typed)} from ({select_sql}) rows_to_store) to {quote_literal(str(path))} "
        "(format parquet, compression zstd)",
        params,
    ).fetchone()
    if not rows:
        path.unlink()
        return 0
    con.execute(
        "insert into raw.stored_files (feed, delivery_date, source_file, load_id, path, row_count, file_size, "
        "checksum_sha256, columns, stored_at, keys_proven, landed_as_is) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            feed.name,
            delivery_date,
            source_file,
            load_id,
            relative,
            rows,
            path.stat().st_size,
            sha256_of(path),
            ",".join(feed.column_names),
            datetime.now(UTC).replace(tzinfo=None),
            keys_proven,
            False,
        ],
    )
    if refresh:
        refresh_parquet_feed_view(con, feed)
    return int(rows)


class LandedFileChanged(RuntimeError):
    """The landed file changed while it was being loaded: what was checked is not what would
    be kept. Nothing is stored; the task's retry loads the file as it now is."""


def keep_landed_file(
    con: duckdb.DuckDBPyConnection,
    feed: Feed,
    landed: Path,
    *,
    delivery_date: date,
    source_file: str,
    load_id: str,
    checksum: str,
    rows: int,
    columns: list[str],
) -> None:
    """List a landed Parquet file, copied byte for byte into its delivery date's partition,
    as the stored file of its rows; the feed's view reads it with the lineage it lacks.

    Why keep it rather than write the rows again (:func:`store_raw_rows`): re-encoding a day
    of events as Parquet was the largest single cost of the day's usage ingest, and the file
    the operator delivered already is typed Parquet. The caller keeps a file only when
    storing its rows would change nothing: every row valid (no reject to leave out), every
    value loaded as it is (no normalisation, no trimming), exactly the contract's columns
    and types; and it proved the rows' keys as for a written file. The copy's checksum must
    be the one the registry records for the landed file (``checksum``), or the file changed
    after it was checked (:class:`LandedFileChanged`). Like :func:`store_raw_rows`: inside
    the load's transaction, a new name each time, an unlisted copy swept later.
    """
    relative = f"{feed.name}/_delivery_date={delivery_date.isoformat()}/{load_id}.parquet"
    path = raw_files_root(con) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if _copy_hashing(landed, path) != checksum:
        path.unlink()
        raise LandedFileChanged(f"{source_file} changed while it was loaded; nothing was stored from it")
    con.execute(
        "insert into raw.stored_files (feed, delivery_date, source_file, load_id, path, row_count, file_size, "
        "checksum_sha256, columns, stored_at, keys_proven, landed_as_is) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            feed.name,
            delivery_date,
            source_file,
            load_id,
            relative,
            rows,
            path.stat().st_size,
            checksum,
            ",".join(c.name for c in feed.columns if c.name in columns),
            datetime.now(UTC).replace(tzinfo=None),
            True,
            True,
        ],
    )
    refresh_parquet_feed_view(con, feed)


def forget_raw_files(con: duckdb.DuckDBPyConnection, feed: Feed, source_file: str) -> None:
    """Take a landed file's stored rows out of the feed (inside the caller's transaction);
    the files themselves go with the next :func:`sweep_raw_files`, after the commit."""
    con.execute("delete from raw.stored_files where feed = ? and source_file = ?", [feed.name, source_file])
    refresh_parquet_feed_view(con, feed)


def sweep_raw_files(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Delete the Parquet files under the warehouse's raw folder that ``raw.stored_files`` does
    not list: a replaced or retracted delivery's, or one a rolled-back or killed load wrote.

    Only a writer runs it, under the warehouse's writer lock, so no load of another process is
    between writing its file and committing it. Returns the paths removed (relative).
    """
    try:
        root = raw_files_root(con)
    except RuntimeError:
        return []
    if not root.is_dir():
        return []
    listed = {path for (path,) in con.execute("select path from raw.stored_files").fetchall()}
    removed = []
    for path in sorted(root.glob("*/_delivery_date=*/*.parquet")):
        relative = path.relative_to(root).as_posix()
        if relative not in listed:
            path.unlink()
            removed.append(relative)
    return removed


def parquet_feed_view(con: duckdb.DuckDBPyConnection, feed: Feed) -> str:
    """The ``raw.<feed>`` view over the feed's stored files, in the raw table's column order.

    The files :func:`store_raw_rows` wrote are read together: the delivery date is the
    partition folder's name (``hive_partitioning``), so a filter on ``_delivery_date`` opens
    that day's files only. A column the contract gained after some files were written reads
    as null in them (``union_by_name`` only when the files differ); one no file holds yet is a
    typed null. Each landed file kept as it is (:func:`keep_landed_file`) is a branch of its
    own, its lineage written into the branch as constants, so the same filter drops the
    branches of other days before any file is opened.
    """
    files = con.execute(
        "select path, columns, coalesce(landed_as_is, false), source_file, load_id, stored_at, delivery_date "
        "from raw.stored_files where feed = ? order by delivery_date, path",
        [feed.name],
    ).fetchall()
    if not files:
        nulls = [f"cast(null as {c.duckdb_type}) as {c.name}" for c in feed.columns]
        nulls += [f"cast(null as {t}) as {c}" for c, t in LINEAGE_COLUMNS.items()]
        return f"select {', '.join(nulls)} where false"
    root = raw_files_root(con)
    written = [(path, columns) for path, columns, as_is, *_ in files if not as_is]
    branches = []
    if written:
        held = set.union(*(set(cols.split(",")) for _, cols in written))
        differ = len({cols for _, cols in written}) > 1
        paths = ", ".join(quote_literal(str(root / path)) for path, _ in written)
        branches.append(
            f"select {', '.join([*_feed_columns(feed, held), *LINEAGE_COLUMNS])} from read_parquet([{paths}], "
            f"hive_partitioning = true, hive_types = {{'_delivery_date': date}}, union_by_name = {str(differ).lower()})"
        )
    for path, columns, as_is, source_file, load_id, stored_at, delivery_date in files:
        if as_is:
            branches.append(
                _landed_file_select(
                    feed, root / path, set(columns.split(",")), source_file, load_id, stored_at, delivery_date
                )
            )
    return "\nunion all\n".join(branches)


def _feed_columns(feed: Feed, held: set[str]) -> list[str]:
    return [c.name if c.name in held else f"cast(null as {c.duckdb_type}) as {c.name}" for c in feed.columns]


def _landed_file_select(
    feed: Feed,
    path: Path,
    held: set[str],
    source_file: str,
    load_id: str,
    loaded_at: datetime,
    delivery_date: date,
    *,
    with_delivery_date: bool = True,
) -> str:
    """A kept landed file's rows in the raw view's columns: its own values, and the lineage a
    written file holds in its columns given from its ``raw.stored_files`` row."""
    lineage = {
        "_source_file": f"cast({quote_literal(source_file)} as {LINEAGE_COLUMNS['_source_file']})",
        "_source_line": f"cast(file_row_number + 1 as {LINEAGE_COLUMNS['_source_line']})",
        "_delivery_date": f"cast({quote_literal(delivery_date.isoformat())} as {LINEAGE_COLUMNS['_delivery_date']})",
        "_load_id": f"cast({quote_literal(load_id)} as {LINEAGE_COLUMNS['_load_id']})",
        "_loaded_at": f"cast({quote_literal(loaded_at.isoformat(sep=' '))} as {LINEAGE_COLUMNS['_loaded_at']})",
    }
    if not with_delivery_date:
        del lineage["_delivery_date"]
    select = [*_feed_columns(feed, held), *(f"{expr} as {name}" for name, expr in lineage.items())]
    return f"select {', '.join(select)} from read_parquet({quote_literal(str(path))}, file_row_number = true)"


def landed_file_with_lineage(con: duckdb.DuckDBPyConnection, feed: Feed, path: str) -> str:
    """The rows of the kept landed file ``path`` (as ``raw.stored_files`` lists it) with the
    lineage columns a written file holds, the delivery date left to its folder: for a reader
    that cannot be given the view, such as Spark (:mod:`telco_mart.spark_engine`)."""
    columns, source_file, load_id, stored_at, delivery_date = con.execute(
        "select columns, source_file, load_id, stored_at, delivery_date from raw.stored_files "
        "where feed = ? and path = ? and landed_as_is",
        [feed.name, path],
    ).fetchone()
    return _landed_file_select(
        feed,
        raw_files_root(con) / path,
        set(columns.split(",")),
        source_file,
        load_id,
        stored_at,
        delivery_date,
        with_delivery_date=False,
    )


def refresh_parquet_feed_view(con: duckdb.DuckDBPyConnection, feed: Feed) -> None:
    con.execute(f"create or replace view raw.{feed.name} as {parquet_feed_view(con, feed)}")


def ensure_parquet_feed(con: duckdb.DuckDBPyConnection, feed: Feed) -> None:
    """The feed's view; a warehouse made before the feed was stored as Parquet has its raw
    table moved into files first, one per loaded file, in one transaction."""
    kind = con.execute(
        "select table_type from information_schema.tables where table_catalog = current_database() "
        "and table_schema = 'raw' and table_name = ?",
        [feed.name],
    ).fetchone()
    if kind and kind[0] == "BASE TABLE":
        moving = f"_{feed.name}_moving_to_files"
        with transaction(con):
            con.execute(f"alter table raw.{quote_ident(feed.name)} rename to {quote_ident(moving)}")
            store_rows_of(con, feed, f"raw.{quote_ident(moving)}", name_suffix="moved")
            con.execute(f"drop table raw.{quote_ident(moving)}")
        return
    refresh_parquet_feed_view(con, feed)
    prove_stored_keys(con, feed)


def store_rows_of(
    con: duckdb.DuckDBPyConnection,
    feed: Feed,
    relation: str,
    *,
    name_suffix: str,
    delivery_dates: list[date] | None = None,
) -> int:
    """Store the raw rows of ``relation`` (a raw table or view of the feed, with its lineage
    columns) as files of this warehouse, one per loaded file, so that a landed file's rows can
    still be forgotten on their own; only ``delivery_dates`` when given. Returns the rows."""
    scope = f"where _delivery_date in ({', '.join('?' for _ in delivery_dates)})" if delivery_dates else ""
    loads = con.execute(
        f"select distinct _delivery_date, _source_file, _load_id from {relation} {scope} order by all",
        delivery_dates or [],
    ).fetchall()
    stored = 0
    for delivery_date, source_file, load_id in loads:
        stored += store_raw_rows(
            con,
            feed,
            f"select * exclude (_delivery_date) from {relation} "
            "where _delivery_date = ? and _source_file = ? and _load_id = ? order by _source_line",
            [delivery_date, source_file, load_id],
            delivery_date=delivery_date,
            source_file=source_file,
            load_id=load_id,
            keys_proven=None,
            name=f"{load_id}.{name_suffix}",
            refresh=False,
        )
    refresh_parquet_feed_view(con, feed)
    prove_stored_keys(con, feed)
    return stored


def prove_stored_keys(con: duckdb.DuckDBPyConnection, feed: Feed) -> dict[date, bool]:
    """Settle ``keys_proven`` for the feed's files stored without the check (rows moved from an
    older warehouse's table, a dry run's seeded copies, a warehouse from before the column):
    one pass over each such partition's keys, so that staging's key test can rely on the flag
    from then on. Returns, per partition checked, whether its keys are unique."""
    dates = [
        day
        for (day,) in con.execute(
            "select distinct delivery_date from raw.stored_files where feed = ? and keys_proven is null order by 1",
            [feed.name],
        ).fetchall()
    ]
    if not dates:
        return {}
    keys = ", ".join(quote_ident(k) for k in feed.key)
    repeated = {
        day
        for (day,) in con.execute(
            f"select distinct _delivery_date from (select _delivery_date from raw.{quote_ident(feed.name)} "
            f"where _delivery_date in ({', '.join('?' for _ in dates)}) group by _delivery_date, {keys} "
            "having count(*) > 1)",
            dates,
        ).fetchall()
    }
    verdicts = {day: day not in repeated for day in dates}
    for day, unique in verdicts.items():
        con.execute(
            "update raw.stored_files set keys_proven = ? where feed = ? and delivery_date = ? and keys_proven is null",
            [unique, feed.name, day],
        )
    return verdicts


def _copy_hashing(source: Path, target: Path) -> str:
    """Copy ``source`` to ``target`` and return the sha256 of the bytes written: the copy's
    checksum in the same read, not a second pass over a day's events."""
    digest = hashlib.sha256()
    with source.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(8 << 20):
            digest.update(chunk)
            writer.write(chunk)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    """A file's checksum, read in 8 MiB blocks (a landed file or a stored one may be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


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
