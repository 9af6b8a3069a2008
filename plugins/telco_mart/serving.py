"""The served copy of the public marts: the one file BI tools open, never the warehouse.

Why a copy at all: DuckDB allows one writing process or many reading ones, never both. A BI
tool that opened the warehouse failed with "Could not set lock" whenever a DAG task held it,
and a pool's idle read-only connection made the next writer (ingest) fail. The warehouse
also uses DuckDB 2.0 storage, which the DuckDB 1.x drivers inside BI tools cannot open.

So, after the day's gates have passed and the lists are published, the DAG's ``serve`` task
copies the public marts (every table of the warehouse's ``marts`` schema except the personal
data ones, ``TELCO_MART_SERVING_EXCLUDE``) into a new DuckDB file written in an older storage
version (``TELCO_MART_SERVING_STORAGE_VERSION``, default ``v1.0.0``: DuckDB 1.0 and every
later version opens it), beside the file it replaces under a hidden name. The file is
checkpointed, synced, made read-only and renamed over the served one. A rename is atomic: a
reader that has the old file open keeps reading the old file's inode until it closes it,
and the next open finds the new one (in a process that still holds a connection to the old
file, DuckDB hands out that database again until the last one closes). Nothing here ever
waits for a reader, and no reader can wait for it: the served copy is only ever replaced,
never written in place. When
anything fails before the rename, the half-written file is removed and the last good copy
stays where it was; a run stopped by a gate never reaches this task.

The format was chosen by measurement (README, "For analysts"): Parquet per mart was cheaper
to write (at the demo scale, by hand: 8.5 s and 154 MB against 17 s and 249 MB), but the one file swaps
in with one rename where a folder of files cannot be swapped atomically for its readers, keeps
the marts' types and schemas, and is what Superset's DuckDB driver and every DuckDB-based
tool open as it is; anyone who wants Parquet or CSV gets it from the file with one ``copy``.

What the copy holds is recorded twice: inside the file (``serving.snapshot``, one row per
served table, with the run, the run date and the rows), atomic with the data; and beside it
in ``<name>.json`` (the same, for people and for tools that do not read DuckDB), replaced
right after the file.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from telco_mart.config import Settings
from telco_mart.warehouse import connect, quote_literal

log = logging.getLogger(__name__)

#: The warehouse schema the served tables come from, and their schema in the copy (the same
#: name, so a query written against the warehouse's marts runs unchanged on the copy).
MARTS_SCHEMA = "marts"
#: The copy's own schema: what it holds and where it came from.
SNAPSHOT_SCHEMA = "serving"
SNAPSHOT_TABLE = f"{SNAPSHOT_SCHEMA}.snapshot"
#: The new copy's name while the warehouse's connection has it attached.
SERVED_ALIAS = "served_copy"


class ServingError(RuntimeError):
    """The served copy could not be refreshed; the last good copy is still in place."""


@dataclass(frozen=True)
class ServedTable:
    name: str
    rows: int


def manifest_path(served: Path) -> Path:
    """The JSON beside the served file that says what it holds (``telco_mart.json``)."""
    return served.with_suffix(".json")


def _served_tables(con: duckdb.DuckDBPyConnection, exclude: tuple[str, ...]) -> list[str]:
    """The warehouse's public marts: its ``marts`` relations, less the excluded (personal data) ones.

    Views too: with dbt on Spark each mart is a view over Spark's Parquet files
    (``telco_mart.spark_engine.attach_spark_marts``), and the served copy must hold it as a table.
    """
    rows = con.execute(
        """
        select table_name from information_schema.tables
        where table_catalog = current_database() and table_schema = ? and table_type in ('BASE TABLE', 'VIEW')
        order by table_name
        """,
        [MARTS_SCHEMA],
    ).fetchall()
    tables = [name for (name,) in rows if name not in exclude]
    if not tables:
        raise ServingError(f"the warehouse has no tables in its {MARTS_SCHEMA} schema to serve: build the marts first")
    return tables


def _write_copy(
    target: Path, *, run_id: str, run_date: dt.date, served_at: dt.datetime, settings: Settings
) -> list[ServedTable]:
    """Copy the public marts from the warehouse into a new file ``target`` and close it.

    The warehouse is opened as every task opens it (``telco_mart.warehouse.connect``): under
    ``airflow dags test`` all tasks share a process, and DuckDB refuses to open a file the
    process already holds unless through the same database.
    """
    with connect(settings=settings) as con:
        con.execute(
            f"attach {quote_literal(str(target))} as {SERVED_ALIAS} "
            f"(storage_version {quote_literal(settings.serving_storage_version)})"
        )
        try:
            tables = _served_tables(con, settings.serving_exclude)
            con.execute(f"create schema {SERVED_ALIAS}.{MARTS_SCHEMA}")
            served = []
            for name in tables:
                relation = f'{MARTS_SCHEMA}."{name}"'
                con.execute(f"create table {SERVED_ALIAS}.{relation} as select * from {relation}")
                rows = con.execute(f"select count(*) from {SERVED_ALIAS}.{relation}").fetchall()[0][0]
                served.append(ServedTable(name, rows))
            con.execute(f"create schema {SERVED_ALIAS}.{SNAPSHOT_SCHEMA}")
            con.execute(
                f"""
                create table {SERVED_ALIAS}.{SNAPSHOT_TABLE} (
                    run_id varchar not null, run_date date not null, served_at timestamp not null,
                    table_schema varchar not null, table_name varchar not null, row_count bigint not null
                )
                """
            )
            con.executemany(
                f"insert into {SERVED_ALIAS}.{SNAPSHOT_TABLE} values (?, ?, ?, ?, ?, ?)",
                [[run_id, run_date, served_at, MARTS_SCHEMA, t.name, t.rows] for t in served],
            )
            con.execute(f"checkpoint {SERVED_ALIAS}")
        finally:
            con.execute(f"detach database if exists {SERVED_ALIAS}")
        return served


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace(source: Path, target: Path) -> None:
    """Rename ``source`` over ``target`` and make the rename durable (fsync of the folder)."""
    os.replace(source, target)
    _fsync(target.parent)


def remove_leftovers(target: Path) -> list[Path]:
    """Half-written copies of runs that died before their rename (our hidden names only)."""
    removed = []
    for name in (target.name, manifest_path(target).name):
        for leftover in target.parent.glob(f".{name}.*.tmp*"):
            leftover.unlink(missing_ok=True)
            removed.append(leftover)
    return removed


def serve_snapshot(run_date: dt.date, run_id: str | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """Refresh the served copy from the warehouse; return what it now holds (the DAG task's XCom)."""
    settings = settings or Settings.from_env()
    run_id = run_id or f"manual__{dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}"
    target = settings.serving_path
    if not settings.warehouse_path.exists():
        raise ServingError(f"no warehouse at {settings.warehouse_path}: nothing to serve")
    target.parent.mkdir(parents=True, exist_ok=True)
    for leftover in remove_leftovers(target):
        log.info("removed %s, left by a serve that did not finish", leftover)
    began = time.perf_counter()
    served_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tables = _write_copy(staging, run_id=run_id, run_date=run_date, served_at=served_at, settings=settings)
        Path(f"{staging}.wal").unlink(missing_ok=True)  # empty after the checkpoint; never served
        staging.chmod(0o444)  # the served copy is read-only: a reader cannot take a write lock
        _fsync(staging)
        _replace(staging, target)
    except Exception:
        staging.unlink(missing_ok=True)
        Path(f"{staging}.wal").unlink(missing_ok=True)
        raise
    manifest = {
        "file": target.name,
        "run_id": run_id,
        "run_date": run_date.isoformat(),
        "served_at": served_at.isoformat(),
        "storage_version": settings.serving_storage_version,
        "bytes": target.stat().st_size,
        "seconds": round(time.perf_counter() - began, 3),
        "schema": MARTS_SCHEMA,
        "tables": {t.name: t.rows for t in tables},
        "total_rows": sum(t.rows for t in tables),
    }
    json_staging = target.with_name(f".{manifest_path(target).name}.{uuid.uuid4().hex[:8]}.tmp")
    json_staging.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    _replace(json_staging, manifest_path(target))
    log.info(
        "served %s tables (%s rows, %.1f MB) of the run of %s to %s in %.1f s",
        len(tables),
        f"{manifest['total_rows']:,}",
        manifest["bytes"] / 1e6,
        run_date,
        target,
        manifest["seconds"],
    )
    return manifest


def read_manifest(served: Path) -> dict[str, Any] | None:
    """What the served copy beside it holds, or None before the first serve."""
    path = manifest_path(served)
    return json.loads(path.read_text()) if path.exists() else None
