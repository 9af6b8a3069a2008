"""Publish the day's campaign target lists to the outbox, atomically, and feed contact history.

What marketing pulls is ``<outbox>/<YYYY-MM-DD>/``: one ``<campaign_id>.csv`` per campaign
active that day (header only when nobody was targeted, so "no list" and "empty list" differ),
``manifest.json`` (run, date, per-file rows and sha256, data watermark, catalog version) and
``_SUCCESS``, written last. The day is built in a hidden sibling folder and renamed into
place, so a reader never sees half a day and a failed run leaves the previous version of the
day (and every other day) as it was. Files are written in a fixed order with fixed
formatting, so a rerun over the same decisions gives byte-identical CSVs.

Published days are history. The targeted contacts are appended to ``raw.published_contacts``
and the day to ``raw.published_days`` (with its manifest) in one transaction, which every later
decision's caps and cool-downs read. A rerun of a published day does not publish it again: it
verifies the outbox against the recorded manifest and changes nothing. (A crash after that
commit and before the rename is rolled forward by the rerun: the files are rendered again from
the day's kept decisions and must match the recorded checksums.) Replacing a published day
takes ``telco-mart publish reissue``, which records who and why, sets the old list aside under
``.superseded/`` and lets the next run of the day decide it afresh against every contact
published since.

Before writing, publish refuses (``PublishError``, no retry) when

- the outbox and the warehouse disagree about which days were published (another warehouse's
  outbox, a warehouse restored from an older copy, a mistyped path);
- the day's publish gate did not pass in this run, or another day was published after it
  passed (two runs interleaved: the decisions did not count that day's contacts).

Hidden staging folders that a killed publish left behind are swept at the start. Outbox
files are readable by owner and group only: they are contact lists.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from telco_mart.config import Settings
from telco_mart.ledger import (
    feed_watermarks,
    published_dates,
    record_published_day,
    supersede_published_day,
    warehouse_id,
)
from telco_mart.refusals import PublishError
from telco_mart.schema import ensure_published_contacts_table
from telco_mart.warehouse import connect, fetch_one, transaction

log = logging.getLogger(__name__)

#: The extract's columns, in order (campaign_targets_daily's contract, less the day and kind).
EXTRACT_COLUMNS = (
    "contact_number",
    "subscriber_id",
    "campaign_id",
    "offer_code",
    "channel",
    "priority",
    "reason_codes",
)
MANIFEST = "manifest.json"
SUCCESS = "_SUCCESS"
#: Where reissued days' earlier lists are kept (a dot-folder: readers of the outbox skip those).
SUPERSEDED_FOLDER = ".superseded"
#: Contact lists are personal data: owner and group only.
FILE_MODE = 0o640
FOLDER_MODE = 0o750


@dataclass(frozen=True)
class PublishedFile:
    name: str
    campaign_id: str
    rows: int
    sha256: str


def day_folder(outbox: Path, day: dt.date) -> Path:
    return outbox / day.isoformat()


def render_csv(rows: list[tuple[Any, ...]]) -> bytes:
    """The extract's bytes: UTF-8, header, comma-separated, minimal quoting, LF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(EXTRACT_COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def publish_day(
    run_date: dt.date, run_id: str | None = None, settings: Settings | None = None, *, require_gate: bool = True
) -> dict[str, Any]:
    """Publish ``run_date``'s target lists; return the manifest (also the DAG task's XCom).

    ``require_gate`` (the default) refuses unless the day's publish gate passed in this run
    after the last publish of any other day; only tests of this module turn it off.
    """
    settings = settings or Settings.from_env()
    run_id = run_id or f"manual__{dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}"
    outbox = settings.outbox_dir
    final = day_folder(outbox, run_date)
    with connect(settings=settings) as con:
        ensure_published_contacts_table(con)
        sweep_leftovers(outbox)
        check_outbox_matches_warehouse(con, outbox, except_day=run_date)
        recorded = _recorded_manifest(con, run_date)
        if recorded is not None:
            return _verify_or_roll_forward(con, outbox, run_date, recorded)
        if require_gate:
            _require_publish_gate(con, run_date, run_id)
        lists, campaigns, catalog_version, watermark = _read_day(con, run_date)
        files = _render_files(lists, campaigns)
        manifest = {
            "logical_date": run_date.isoformat(),
            "run_id": run_id,
            "warehouse_id": warehouse_id(con),
            "catalog_version": catalog_version,
            "data_watermark": watermark,
            "governing_feed_watermarks": feed_watermarks(con, run_date),
            "late_deliveries": _late_deliveries(con, run_date),
            "total_rows": sum(f.rows for f, _ in files),
            "files": [
                {"name": f.name, "campaign_id": f.campaign_id, "rows": f.rows, "sha256": f.sha256} for f, _ in files
            ],
        }
        manifest_bytes = render_manifest(manifest)
        if final.exists():
            raise PublishError(
                f"{final} exists but the warehouse has no record of publishing {run_date}: move it aside "
                "(it is not this warehouse's) and rerun"
            )
        staging = _write_staging_folder(outbox, run_date, files, manifest_bytes)
        try:
            _record_contacts(con, run_date, run_id, lists, manifest, manifest_bytes)
        except Exception:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    _swap_into_place(staging, final)
    log.info(
        "published %s: %s contacts in %s files to %s",
        run_date,
        f"{manifest['total_rows']:,}",
        len(files),
        final,
    )
    for f, _ in files:
        log.info("  %-32s %8s rows  sha256 %s", f.name, f"{f.rows:,}", f.sha256[:16])
    if manifest["late_deliveries"]:
        log.info("  late deliveries taken in by this run: %s", manifest["late_deliveries"])
    return manifest


def render_manifest(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()


def outbox_days(outbox: Path) -> list[dt.date]:
    """Days the outbox holds as published (a dated folder with ``_SUCCESS``)."""
    days = []
    for folder in outbox.glob("????-??-??") if outbox.is_dir() else []:
        if (folder / SUCCESS).exists():
            try:
                days.append(dt.date.fromisoformat(folder.name))
            except ValueError:
                continue
    return sorted(days)


def check_outbox_matches_warehouse(
    con: duckdb.DuckDBPyConnection, outbox: Path, except_day: dt.date | None = None
) -> None:
    """Refuse when the outbox and the warehouse's publish record disagree (``except_day`` is
    the day being published, which may be half-way after a crash)."""
    in_outbox = {d for d in outbox_days(outbox) if d != except_day}
    recorded = {d for d in published_dates(con) if d != except_day}
    problems = []
    if only_outbox := sorted(in_outbox - recorded):
        problems.append(
            f"the outbox {outbox} holds published days this warehouse has no record of: "
            f"{', '.join(map(str, only_outbox))}"
        )
    if only_warehouse := sorted(recorded - in_outbox):
        problems.append(
            f"this warehouse recorded published days the outbox lacks: {', '.join(map(str, only_warehouse))}"
        )
    ours = warehouse_id(con)
    foreign = [
        d
        for d in sorted(in_outbox & recorded)
        if (owner := json.loads((day_folder(outbox, d) / MANIFEST).read_text()).get("warehouse_id")) and owner != ours
    ]
    if foreign:
        problems.append(f"days published by another warehouse: {', '.join(map(str, foreign))}")
    if problems:
        raise PublishError(
            "; ".join(problems)
            + f". Is TELCO_MART_WAREHOUSE ({con.execute('pragma database_list').fetchall()[0][2]}) the warehouse "
            "that publishes to this outbox? Nothing was published."
        )


def sweep_leftovers(outbox: Path) -> list[Path]:
    """Remove the hidden staging folders of publishes that were killed half-way."""
    swept = []
    for leftover in sorted(outbox.glob(".????-??-??.publishing-*")) + sorted(outbox.glob(".????-??-??.previous-*")):
        shutil.rmtree(leftover, ignore_errors=True)
        swept.append(leftover)
        log.warning("removed %s, left behind by an interrupted publish", leftover)
    return swept


def _recorded_manifest(con: duckdb.DuckDBPyConnection, day: dt.date) -> dict[str, Any] | None:
    rows = con.execute(
        "select manifest from raw.published_days where publish_date = ? and status = 'published'", [day]
    ).fetchall()
    return json.loads(rows[0][0]) if rows else None


def _verify_or_roll_forward(
    con: duckdb.DuckDBPyConnection, outbox: Path, day: dt.date, recorded: dict[str, Any]
) -> dict[str, Any]:
    """A rerun of a published day: verify it, or finish a publish that crashed before its rename."""
    folder = day_folder(outbox, day)
    if (folder / SUCCESS).exists():
        _, checked = verify_day(outbox, day)
        bad = [f"{f.name}: {f.problem}" for f in checked if not f.ok]
        on_disk = hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest()
        if on_disk != hashlib.sha256(render_manifest(recorded)).hexdigest():
            bad.append(f"{MANIFEST} differs from the one recorded when the day was published")
        if bad:
            raise PublishError(
                f"{day} was published, and its outbox no longer matches what was published: {'; '.join(bad)}. "
                f"Restore it, or reissue the day (telco-mart publish reissue --date {day} ...)"
            )
        log.info(
            "%s was published by run %s; verified unchanged (%s contacts): published days are not rewritten",
            day,
            recorded["run_id"],
            f"{recorded['total_rows']:,}",
        )
        return {**recorded, "already_published": True}
    lists, campaigns, _, _ = _read_day(con, day)
    files = _render_files(lists, campaigns)
    expected = {(e["name"], e["sha256"]) for e in recorded["files"]}
    if {(f.name, f.sha256) for f, _ in files} != expected:
        raise PublishError(
            f"{day} is recorded as published but its outbox folder is missing, and the lists rendered again from "
            "the day's decisions differ from the recorded checksums: restore the folder from backup"
        )
    staging = _write_staging_folder(outbox, day, files, render_manifest(recorded))
    _swap_into_place(staging, folder)
    log.warning("%s: finished a publish that was interrupted before its rename (checksums match the record)", day)
    return {**recorded, "rolled_forward": True}


def _require_publish_gate(con: duckdb.DuckDBPyConnection, day: dt.date, run_id: str) -> None:
    """The day's publish gate passed in this run, and no other day was published since."""
    gate_ran = fetch_one(
        con, "select 1 from information_schema.tables where table_schema = 'marts' and table_name = 'dq_results'"
    )
    checks, failed, validated_at, runs = (
        (0, 0, None, None)
        if not gate_ran
        else fetch_one(
            con,
            """
        select count(*), count(*) filter (where not success and severity = 'fail'), min(validated_at),
            string_agg(distinct run_id, ', ')
        from marts.dq_results where stage = 'publish' and run_date = ?
        """,
            [day],
        )
    )
    if not checks or runs != run_id:
        raise PublishError(
            f"{day}: the publish gate has not passed in this run ({run_id}); the last verdict is from "
            f"{runs or 'no run'}: run the quality_gate_publish task (or `telco-mart quality check --stage publish`) "
            "in the same run before publishing"
        )
    if failed:
        raise PublishError(f"{day}: the publish gate failed {failed} check(s) in this run: nothing is published")
    later = con.execute(
        "select publish_date, published_at from raw.published_days where status = 'published' "
        "and publish_date <> ? and published_at > ? order by published_at",
        [day, validated_at],
    ).fetchall()
    if later:
        raise PublishError(
            f"{day}: {', '.join(str(d) for d, _ in later)} was published after this run's publish gate passed "
            f"({validated_at:%Y-%m-%d %H:%M:%S}), so the day's decisions did not count those contacts: rerun {day}"
        )


def _late_deliveries(con: duckdb.DuckDBPyConnection, day: dt.date) -> list[dict[str, str]]:
    """Files of delivery dates before ``day`` registered since the last day published before
    it (late files, skipped days), by whichever run took them in; none on the first publish,
    whose run took in the history."""
    rows = con.execute(
        """
        select feed, delivery_date, source_file, status from raw.file_registry
        where delivery_date < ? and status in ('loaded', 'rejected')
            and registered_at > (
                select max(published_at) from raw.published_days where status = 'published' and publish_date < ?
            )
        order by 2, 1, 3
        """,
        [day, day],
    ).fetchall()
    return [{"feed": f, "delivery_date": d.isoformat(), "file": p, "status": st} for f, d, p, st in rows]


def reissue_day(day: dt.date, by: str, reason: str, settings: Settings | None = None) -> dict[str, Any]:
    """Set a published day aside so that its next run decides and publishes it afresh.

    The day's contacts leave contact history for ``raw.superseded_contacts`` (kept, with why),
    its outbox folder moves to ``.superseded/<day>.<time>/``, and its record becomes
    ``superseded``. The next run of the day decides it against every contact published since,
    later days included. Tell marketing: a reissue assumes the earlier list was not sent.
    """
    settings = settings or Settings.from_env()
    outbox = settings.outbox_dir
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    with connect(settings=settings) as con:
        ensure_published_contacts_table(con)
        recorded = _recorded_manifest(con, day)
        with transaction(con):
            supersede_published_day(con, day, by, reason)
            con.execute(
                "insert into raw.superseded_contacts select *, ?, ? from raw.published_contacts where contact_date = ?",
                [dt.datetime.now(dt.UTC).replace(tzinfo=None), f"{by}: {reason}", day],
            )
            moved = con.execute("delete from raw.published_contacts where contact_date = ?", [day]).fetchall()
            folder = day_folder(outbox, day)
            aside = outbox / SUPERSEDED_FOLDER / f"{day.isoformat()}.{stamp}"
            if folder.exists():
                aside.parent.mkdir(mode=FOLDER_MODE, exist_ok=True)
                folder.rename(aside)
    log.warning("reissue of %s requested by %s: %s; its earlier list is in %s", day, by, reason, aside)
    return {
        "day": day.isoformat(),
        "superseded_run_id": recorded["run_id"] if recorded else None,
        "contacts_set_aside": moved[0][0] if moved else 0,
        "earlier_list": str(aside),
    }


def _read_day(
    con: duckdb.DuckDBPyConnection, day: dt.date
) -> tuple[dict[str, list[tuple[Any, ...]]], list[tuple[str, str]], str | None, str | None]:
    """The day's targets per campaign, the campaigns active that day, catalog version, watermark."""
    for table in ("marts.campaign_targets_daily", "marts.campaign_decisions_daily"):
        schema, name = table.split(".")
        if not fetch_one(
            con,
            "select 1 from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, name],
        ):
            raise PublishError(f"{table} does not exist: build the dbt project before publishing")
    targets = con.execute(
        f"""
        select {", ".join(EXTRACT_COLUMNS)}, campaign_kind
        from marts.campaign_targets_daily
        where decision_date = ?
        order by campaign_id, subscriber_id
        """,
        [day],
    ).fetchall()
    decided = fetch_one(
        con,
        """
        select count(*) filter (where decision_outcome = 'targeted'), min(catalog_version),
            count(distinct catalog_version)
        from marts.campaign_decisions_daily where decision_date = ?
        """,
        [day],
    )
    targeted, catalog_version, versions = decided if decided else (0, None, 0)
    if targeted != len(targets):
        raise PublishError(
            f"{day}: campaign_decisions_daily has {targeted:,} targeted rows but campaign_targets_daily "
            f"{len(targets):,}: a subscriber without a contact number, or the two models built for different days"
        )
    if versions > 1:
        raise PublishError(f"{day}: decisions were made by {versions} catalog versions; rerun the day")
    campaigns = con.execute(
        """
        select campaign_id, campaign_kind from staging.stg_campaign_catalog__campaigns
        where active_from <= ? and (active_to is null or active_to >= ?)
        order by campaign_id
        """,
        [day, day],
    ).fetchall()
    has_registry = fetch_one(
        con, "select 1 from information_schema.tables where table_schema = 'raw' and table_name = 'file_registry'"
    )
    watermark_row = (
        fetch_one(
            con,
            "select max(delivery_date) from raw.file_registry where status = 'loaded' and delivery_date <= ?",
            [day],
        )
        if has_registry
        else None
    )
    watermark = watermark_row[0].isoformat() if watermark_row and watermark_row[0] else None
    lists: dict[str, list[tuple[Any, ...]]] = {}
    for row in targets:
        lists.setdefault(row[2], []).append(row)
    unknown = sorted(set(lists) - {c for c, _ in campaigns})
    if unknown:
        raise PublishError(f"{day}: targets for campaigns not active in the loaded catalog: {unknown}")
    return lists, campaigns, catalog_version, watermark


def _render_files(
    lists: dict[str, list[tuple[Any, ...]]], campaigns: list[tuple[str, str]]
) -> list[tuple[PublishedFile, bytes]]:
    files = []
    for campaign_id, _kind in campaigns:
        rows = [row[: len(EXTRACT_COLUMNS)] for row in lists.get(campaign_id, [])]
        content = render_csv(rows)
        digest = hashlib.sha256(content).hexdigest()
        files.append((PublishedFile(f"{campaign_id}.csv", campaign_id, len(rows), digest), content))
    return files


def _write_staging_folder(
    outbox: Path, day: dt.date, files: list[tuple[PublishedFile, bytes]], manifest: bytes
) -> Path:
    try:
        outbox.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        staging = outbox / f".{day.isoformat()}.publishing-{uuid.uuid4().hex[:8]}"
        staging.mkdir(mode=FOLDER_MODE)
        os.chmod(staging, FOLDER_MODE)  # whatever the umask left
    except OSError as error:
        raise PublishError(f"cannot write to the outbox {outbox}: {error.strerror or error}") from error
    try:
        for published, content in files:
            _write_durably(staging / published.name, content)
        _write_durably(staging / MANIFEST, manifest)
        _write_durably(staging / SUCCESS, b"")
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise PublishError(f"writing {day}'s lists under {staging} failed: {error.strerror or error}") from error
    return staging


def _write_durably(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, FILE_MODE)


def check_outbox_writable(outbox: Path) -> None:
    """Fail early (before any dbt work) when the lists could not be written at the end."""
    try:
        outbox.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        probe = outbox / f".write-probe-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise PublishError(f"the outbox {outbox} is not writable: {error.strerror or error}") from error


def _record_contacts(
    con: duckdb.DuckDBPyConnection,
    day: dt.date,
    run_id: str,
    lists: dict[str, list[tuple[Any, ...]]],
    manifest: dict[str, Any],
    manifest_bytes: bytes,
) -> None:
    """Contact history and the publish record of the day, in one transaction."""
    published = [row for rows in lists.values() for row in rows]
    # one columnar insert: executemany goes row by row (about 2,000 rows a second)
    contacts = pa.table(
        {
            "subscriber_id": pa.array([row[1] for row in published], pa.string()),
            "campaign_id": pa.array([row[2] for row in published], pa.string()),
            "campaign_kind": pa.array([row[7] for row in published], pa.string()),
            "channel": pa.array([row[4] for row in published], pa.string()),
            "offer_code": pa.array([row[3] for row in published], pa.string()),
        }
    )
    published_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with transaction(con):
        con.register("_published_contacts", contacts)
        con.execute(
            "insert into raw.published_contacts select ?, subscriber_id, campaign_id, campaign_kind, channel, "
            "offer_code, ?, ? from _published_contacts",
            [day, run_id, published_at],
        )
        con.unregister("_published_contacts")
        record_published_day(
            con, day, run_id, manifest["total_rows"], hashlib.sha256(manifest_bytes).hexdigest(), manifest_bytes
        )


def _swap_into_place(staging: Path, final: Path) -> None:
    """Replace ``final`` by ``staging`` with renames only; on failure the old day is restored."""
    previous = final.with_name(f".{final.name}.previous-{uuid.uuid4().hex[:8]}")
    had_previous = final.exists()
    if had_previous:
        final.rename(previous)
    try:
        staging.rename(final)
    except Exception:
        if had_previous:
            previous.rename(final)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if had_previous:
        shutil.rmtree(previous, ignore_errors=True)


# --------------------------------------------------------------------------- reading a day


@dataclass(frozen=True)
class VerifiedFile:
    name: str
    rows: int
    sha256: str
    ok: bool
    problem: str | None


def verify_day(outbox: Path, day: dt.date, campaign_id: str | None = None) -> tuple[dict[str, Any], list[VerifiedFile]]:
    """Check a published day against its manifest: every file present, row count and checksum."""
    folder = day_folder(outbox, day)
    if not (folder / SUCCESS).exists():
        raise PublishError(f"{folder}: no published day here (no {SUCCESS})")
    manifest = json.loads((folder / MANIFEST).read_text())
    checked = []
    for entry in manifest["files"]:
        if campaign_id and entry["campaign_id"] != campaign_id:
            continue
        path = folder / entry["name"]
        if not path.exists():
            checked.append(VerifiedFile(entry["name"], entry["rows"], entry["sha256"], False, "missing"))
            continue
        content = path.read_bytes()
        digest = hashlib.sha256(content).hexdigest()
        rows = max(content.count(b"\n") - 1, 0)
        problem = None
        if digest != entry["sha256"]:
            problem = f"sha256 {digest[:16]}... differs from the manifest's {entry['sha256'][:16]}..."
        elif rows != entry["rows"]:
            problem = f"{rows} rows, the manifest says {entry['rows']}"
        checked.append(VerifiedFile(entry["name"], entry["rows"], digest, problem is None, problem))
    if campaign_id and not checked:
        raise PublishError(f"{folder}: campaign {campaign_id!r} is not in the day's manifest")
    return manifest, checked


def copy_day(outbox: Path, day: dt.date, destination: Path, campaign_id: str | None = None) -> list[Path]:
    """Copy a verified day (or one campaign's file) and its manifest to ``destination``."""
    _, checked = verify_day(outbox, day, campaign_id)
    bad = [f for f in checked if not f.ok]
    if bad:
        raise PublishError(
            "not copying a day that fails verification: " + "; ".join(f"{f.name}: {f.problem}" for f in bad)
        )
    destination.mkdir(parents=True, exist_ok=True)
    folder = day_folder(outbox, day)
    copied = []
    for name in [f.name for f in checked] + [MANIFEST]:
        target = destination / name
        shutil.copy2(folder / name, target)
        copied.append(target)
    return copied
