"""The DuckDB warehouse: connections, the writers' lock, transactions and quoting.

This module imports no module that owns a table, so every one of them (the ledger, the
campaign catalog, publish, ingestion) can use it; the tables themselves are created by
:mod:`telco_mart.schema`, which sits above their owners.

DuckDB allows one writing process at a time, so every writer (ingestion, dbt, publish)
opens the file through here or through dbt. The DAG serialises its tasks with a one-slot
Airflow pool, but the CLI, a second `airflow dags test` or a benchmark do not go through
that pool: so the warehouse serialises its writers itself, with a lock file beside it
(``<warehouse>.lock``, ``flock``) that every writer takes and that names its holder. A writer
waits for it (``TELCO_MART_LOCK_WAIT_SECONDS``) instead of failing on DuckDB's own lock, and
the kernel releases it when the holding process dies, so a killed run leaves no stale lock.

A warehouse is created only by ``telco-mart init`` (:func:`telco_mart.schema.init_warehouse`): a mistyped
path must not become a new, empty warehouse whose empty contact history lets every cap and
cool-down start from zero.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from telco_mart.config import Settings
from telco_mart.refusals import WarehouseMissing

#: Lineage columns ingestion adds to every raw row, so any warehouse row leads back to a
#: line of a landed file.
LINEAGE_COLUMNS: dict[str, str] = {
    "_source_file": "varchar",
    "_source_line": "bigint",
    "_delivery_date": "date",
    "_load_id": "varchar",
    "_loaded_at": "timestamp",
}


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse's writer lock for longer than a writer waits."""


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


class _ProcessLock:
    """The writer lock as this process holds it: re-entrant within the process (a task that
    opens the warehouse twice, or `airflow dags test` running every task in one process),
    exclusive between processes."""

    def __init__(self) -> None:
        self._guard = threading.RLock()
        self._held: dict[Path, tuple[int, int]] = {}  # lock file -> (fd, depth)

    def acquire(self, warehouse: Path, holder: str, wait_seconds: float) -> None:
        path = lock_path(warehouse)
        with self._guard:
            if path in self._held:
                fd, depth = self._held[path]
                self._held[path] = (fd, depth + 1)
                return
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
            deadline = time.monotonic() + wait_seconds
            announced = False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        owner = _read_owner(fd)
                        os.close(fd)
                        raise WarehouseBusy(
                            f"{warehouse} is being written by {owner}; waited {wait_seconds:.0f} s "
                            "(TELCO_MART_LOCK_WAIT_SECONDS). Runs of the warehouse go one at a time."
                        ) from None
                    if not announced:
                        print(f"waiting for the warehouse writer lock held by {_read_owner(fd)}", flush=True)
                        announced = True
                    time.sleep(0.5)
            os.ftruncate(fd, 0)
            os.pwrite(
                fd,
                json.dumps(
                    {"holder": holder, "pid": os.getpid(), "since": datetime.now(UTC).isoformat(timespec="seconds")}
                ).encode(),
                0,
            )
            self._held[path] = (fd, 1)

    def release(self, warehouse: Path) -> None:
        path = lock_path(warehouse)
        with self._guard:
            if path not in self._held:
                return
            fd, depth = self._held[path]
            if depth > 1:
                self._held[path] = (fd, depth - 1)
                return
            del self._held[path]
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _read_owner(fd: int) -> str:
    try:
        owner = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return "another process"
    return f"{owner.get('holder', '?')} (pid {owner.get('pid', '?')}, since {owner.get('since', '?')})"


_PROCESS_LOCK = _ProcessLock()


@contextmanager
def writer_lock(settings: Settings | None = None, holder: str | None = None) -> Iterator[None]:
    """Hold the warehouse's writer lock (see the module docstring) for the block."""
    settings = settings or Settings.from_env()
    take_writer_lock(settings, holder)
    try:
        yield
    finally:
        release_writer_lock(settings)


def take_writer_lock(settings: Settings, holder: str | None = None) -> None:
    """Take the lock until :func:`release_writer_lock` (or the end of the process): for
    callers that cannot wrap their work in a block, such as dbt's Cosmos tasks."""
    if not settings.warehouse_path.parent.is_dir():
        raise WarehouseMissing(_missing_message(settings.warehouse_path))
    _PROCESS_LOCK.acquire(settings.warehouse_path, holder or _default_holder(), settings.lock_wait_seconds)


def _default_holder() -> str:
    """Who holds the lock, for the message another writer sees: the Airflow task if any."""
    task = " ".join(os.environ.get(k, "") for k in ("AIRFLOW_CTX_DAG_RUN_ID", "AIRFLOW_CTX_TASK_ID")).strip()
    return task or " ".join([Path(sys.argv[0]).name, *sys.argv[1:3]])


def release_writer_lock(settings: Settings) -> None:
    _PROCESS_LOCK.release(settings.warehouse_path)


def _missing_message(path: Path) -> str:
    return (
        f"no warehouse at {path}: check TELCO_MART_WAREHOUSE / TELCO_MART_DATA_DIR, or create a new one with "
        "`telco-mart init` (never created implicitly: an empty warehouse has no contact history to cap against)"
    )


@contextmanager
def connect(
    path: Path | None = None, *, read_only: bool = False, settings: Settings | None = None, create: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse, with memory and thread limits applied as settings.

    A writer holds the warehouse's lock file while the connection is open. The file must
    exist unless ``create`` (only :func:`telco_mart.schema.init_warehouse` passes it).

    The limits are set with SET rather than passed as connection config: DuckDB refuses a
    second connection to a file with a different config in the same process, and dbt-duckdb
    (which Cosmos may run in-process) opens the file with an empty config.
    """
    settings = settings or Settings.from_env()
    path = path or settings.warehouse_path
    if not path.exists() and not create:
        raise WarehouseMissing(_missing_message(path))
    lock_settings = settings if path == settings.warehouse_path else settings.with_warehouse(path)
    if not read_only:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        take_writer_lock(lock_settings)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
        try:
            con.execute(f"set memory_limit = '{settings.duckdb_memory_limit}'")
            con.execute(f"set threads = {int(settings.duckdb_threads)}")
            con.execute("set preserve_insertion_order = false")  # rows carry their line numbers
            yield con
        finally:
            con.close()
    finally:
        if not read_only:
            release_writer_lock(lock_settings)


def quote_ident(name: str) -> str:
    """``name`` as a DuckDB identifier in double quotes, any double quote in it doubled.

    Feed, column and table names come from the contract, an operator profile or a suite, not
    from this code: quoted, a name that is also a keyword (``date``, ``type``) or carries a
    space still names its column. Ingestion and the quality gate both build SQL from such
    names, so the quoting is written here once, beside :func:`connect`.
    """
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """``text`` as a SQL string literal, any single quote in it doubled: file paths and values
    from a contract or profile go into statements that take no parameters (COPY, views, DDL)."""
    return "'" + text.replace("'", "''") + "'"


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One DuckDB transaction around the block: committed at its end, rolled back on error.

    DuckDB may already have rolled back a transaction whose commit failed (a full disk), and
    the rollback then fails with "no transaction is active": the error that caused it is the
    one raised, with the rollback's as a note, never the other way round.
    """
    con.execute("begin transaction")
    try:
        yield
        con.execute("commit")
    except BaseException as error:
        try:
            con.execute("rollback")
        except duckdb.Error as rollback_error:
            error.add_note(f"(rolling back after it failed too: {rollback_error})")
        raise


def fetch_one(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> tuple | None:
    """First row of a query, with the result fully consumed.

    DuckDB 2.0 keeps a partly fetched result open and refuses the next statement on the
    connection, so single-row lookups must drain the result.
    """
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None
