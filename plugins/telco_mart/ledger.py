"""What the warehouse knows about its own operation: which days are built, published or
waived, which deliveries the operator declared empty, and which warehouse this is.

The pipeline's promises about order and consent are checked against these tables, not
against Airflow's metadata: a run started from the CLI, a second ``airflow dags test`` or a
scheduler that lost its database must meet the same record. Every table here is written by
the commands and tasks named in docs/operations.md, each row with who and why; the tables
are defined in :mod:`telco_mart.schema`, with every other table made outside dbt.

=========================  ==================================================================
``warehouse_identity``     one row: the id ``telco-mart init`` gave this warehouse; every
                           outbox manifest carries it
``day_status``             per delivery day, the last outcome of the run stages that covered
                           it (``DAY_STATUSES``): a day whose raw gate failed, or whose build
                           never passed the marts gate, holds back the publish of later days
``day_waivers``            days the operator let later publishes pass despite their status
``delivery_declarations``  feed and delivery date the operator declared delivered-empty:
                           publish accepts the missing file of a governing feed then
``published_days``         every publish of a day: ``published``, or ``superseded`` by a
                           reissue (with who and why)
``pending_rebuilds``       delivery dates whose raw rows changed outside ingest (a retracted
                           delivery, replayed quarantine): the next run's dbt batch covers them
=========================  ==================================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import duckdb

from telco_mart.contract import Contract, load_contract
from telco_mart.warehouse import transaction

#: A day's build status, as the gates record it. Only ``built`` lets a later day publish.
RAW_GATE_PASSED = "raw_gate_passed"
RAW_GATE_FAILED = "raw_gate_failed"
BUILT = "built"
MARTS_GATE_FAILED = "marts_gate_failed"
DAY_STATUSES = (RAW_GATE_PASSED, RAW_GATE_FAILED, BUILT, MARTS_GATE_FAILED)

PUBLISHED = "published"
SUPERSEDED = "superseded"


class LedgerError(ValueError):
    """An operator command that cannot be recorded as asked (unknown feed, a day not published...)."""


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# --------------------------------------------------------------------------- identity


def warehouse_id(con: duckdb.DuckDBPyConnection) -> str | None:
    rows = con.execute("select warehouse_id from raw.warehouse_identity").fetchall()
    return rows[0][0] if rows else None


# --------------------------------------------------------------------------- days built


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def mark_days(
    con: duckdb.DuckDBPyConnection, days: Iterable[date], status: str, run_id: str | None, note: str | None = None
) -> None:
    """Record ``status`` for each of ``days`` (replacing its earlier one)."""
    if status not in DAY_STATUSES:
        raise ValueError(f"unknown day status {status!r}")
    days = sorted(set(days))
    if not days:
        return
    with transaction(con):
        con.execute("delete from raw.day_status where day in (select unnest(?))", [days])
        con.executemany(
            "insert into raw.day_status values (?, ?, ?, ?, ?)", [[d, status, run_id, note, now()] for d in days]
        )


def unsettled_days(con: duckdb.DuckDBPyConnection, day: date) -> list[tuple[date, str, str | None]]:
    """Days before ``day`` and after the last day published before it that are not built and
    not waived: the publish of ``day`` would skip their facts (days in order)."""
    return con.execute(
        """
        select s.day, s.status, s.note
        from raw.day_status s
        where s.day < ?
            and s.status <> ?
            and s.day > coalesce(
                (select max(publish_date) from raw.published_days where status = ? and publish_date < ?),
                date '0001-01-01'
            )
            and s.day not in (select day from raw.day_waivers)
        order by s.day
        """,
        [day, BUILT, PUBLISHED, day],
    ).fetchall()


def waive_day(con: duckdb.DuckDBPyConnection, day: date, waived_by: str, reason: str) -> None:
    """Let later days publish although ``day`` is not built; its data is taken as it stands
    (its queued rebuild is dropped, so later runs' gates no longer judge it)."""
    _require_text(waived_by, "who waives it (--by)")
    _require_text(reason, "why (--reason)")
    with transaction(con):
        con.execute("insert into raw.day_waivers values (?, ?, ?, ?)", [day, waived_by, reason, now()])
        con.execute("delete from raw.pending_rebuilds where delivery_date = ?", [day])


# --------------------------------------------------------------------------- deliveries


def declare_empty(
    con: duckdb.DuckDBPyConnection,
    feed: str,
    dates: Iterable[date],
    declared_by: str,
    reason: str,
    contract: Contract | None = None,
) -> list[date]:
    """Record that ``feed`` rightly delivered nothing on ``dates``; returns the dates recorded."""
    contract = contract or load_contract()
    if feed not in contract.feeds:
        raise LedgerError(f"unknown feed {feed!r}; the contract has {', '.join(sorted(contract.feeds))}")
    _require_text(declared_by, "who declares it (--by)")
    _require_text(reason, "why (--reason)")
    recorded = sorted(set(dates))
    con.executemany(
        "insert into raw.delivery_declarations values (?, ?, ?, ?, ?)",
        [[feed, d, declared_by, reason, now()] for d in recorded],
    )
    return recorded


def missing_deliveries(
    con: duckdb.DuckDBPyConnection, day: date, contract: Contract | None = None, *, governing_only: bool = True
) -> dict[str, list[date]]:
    """Per feed, the due delivery dates up to ``day`` with no loaded file and no declaration.

    The window starts at the warehouse's first delivery date: what came before it was never
    this warehouse's to have.
    """
    contract = contract or load_contract()
    first = con.execute("select min(delivery_date) from raw.file_registry where status = 'loaded'").fetchall()[0][0]
    if first is None or first > day:
        return {}
    have: dict[str, set[date]] = {}
    for feed, delivered in con.execute(
        """
        select feed, delivery_date from raw.file_registry where status = 'loaded' and delivery_date <= ?
        union
        select feed, delivery_date from raw.delivery_declarations where delivery_date <= ?
        """,
        [day, day],
    ).fetchall():
        have.setdefault(feed, set()).add(delivered)
    missing: dict[str, list[date]] = {}
    for feed in contract.feeds.values():
        if governing_only and not feed.governs_contact:
            continue
        gaps = [d for d in days_between(first, day) if feed.is_due(d) and d not in have.get(feed.name, set())]
        if gaps:
            missing[feed.name] = gaps
    return missing


def feed_watermarks(
    con: duckdb.DuckDBPyConnection, day: date, contract: Contract | None = None
) -> dict[str, str | None]:
    """Per governing feed, the last date up to which it is complete (for the manifest)."""
    contract = contract or load_contract()
    missing = missing_deliveries(con, day, contract)
    first = con.execute("select min(delivery_date) from raw.file_registry where status = 'loaded'").fetchall()[0][0]
    marks: dict[str, str | None] = {}
    for feed in contract.feeds.values():
        if not feed.governs_contact:
            continue
        gaps = missing.get(feed.name)
        if first is None:
            marks[feed.name] = None
        elif not gaps:
            marks[feed.name] = day.isoformat()
        else:
            mark = gaps[0] - timedelta(days=1)
            marks[feed.name] = mark.isoformat() if mark >= first else None
    return marks


def request_rebuild(con: duckdb.DuckDBPyConnection, days: Iterable[date], reason: str) -> None:
    con.executemany(
        "insert into raw.pending_rebuilds values (?, ?, ?)", [[d, reason, now()] for d in sorted(set(days))]
    )


def pending_rebuilds(con: duckdb.DuckDBPyConnection) -> list[date]:
    return [r[0] for r in con.execute("select distinct delivery_date from raw.pending_rebuilds order by 1").fetchall()]


def clear_pending_rebuilds(con: duckdb.DuckDBPyConnection, days: Iterable[date]) -> None:
    days = sorted(set(days))
    if days:
        con.execute("delete from raw.pending_rebuilds where delivery_date in (select unnest(?))", [days])


# --------------------------------------------------------------------------- published days


def published_day(con: duckdb.DuckDBPyConnection, day: date) -> tuple | None:
    """The current publish of ``day`` (run_id, total_rows, manifest_sha256, published_at), if any."""
    rows = con.execute(
        "select run_id, total_rows, manifest_sha256, published_at from raw.published_days "
        "where publish_date = ? and status = ?",
        [day, PUBLISHED],
    ).fetchall()
    return rows[0] if rows else None


def published_dates(con: duckdb.DuckDBPyConnection) -> list[date]:
    return [
        r[0]
        for r in con.execute(
            "select publish_date from raw.published_days where status = ? order by 1", [PUBLISHED]
        ).fetchall()
    ]


def record_published_day(
    con: duckdb.DuckDBPyConnection, day: date, run_id: str, total_rows: int, manifest_sha256: str, manifest: bytes
) -> None:
    con.execute(
        "insert into raw.published_days values (?, ?, ?, ?, ?, ?, ?, ?, null, null, null)",
        [day, PUBLISHED, run_id, total_rows, manifest_sha256, manifest.decode(), warehouse_id(con), now()],
    )


def supersede_published_day(con: duckdb.DuckDBPyConnection, day: date, by: str, reason: str) -> None:
    _require_text(by, "who reissues it (--by)")
    _require_text(reason, "why (--reason)")
    if published_day(con, day) is None:
        raise LedgerError(f"{day} is not published: nothing to reissue (run the day instead)")
    con.execute(
        "update raw.published_days set status = ?, superseded_at = ?, superseded_by = ?, supersede_reason = ? "
        "where publish_date = ? and status = ?",
        [SUPERSEDED, now(), by, reason, day, PUBLISHED],
    )


def _require_text(value: str | None, what: str) -> None:
    if not value or not value.strip():
        raise LedgerError(f"say {what}: the record is for the next person on duty")
