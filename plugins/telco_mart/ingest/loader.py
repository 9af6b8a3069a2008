"""Loading landed files into the `raw` schema exactly once, with a file registry.

Rules (docs/ingestion.md says the same for operators):

- A file's identity is its path under the landing folder: ``<feed>/<delivery date>/<name>``.
- Same path, same checksum as a registered version: skipped, nothing written (reruns are free
  and change no row count).
- Same checksum as another loaded file of the feed for the same delivery date: registered
  as ``skipped_duplicate`` (a duplicated delivery), no rows loaded. Identical content on
  another day is legitimate (a snapshot feed such as the plan catalogue often repeats).
- Same path, new checksum: a corrected re-delivery. The earlier version's rows and
  quarantine entries are deleted and the new version loaded, in one transaction; the earlier
  registry entry is kept with status ``replaced``.
- A file missing a required column is ``rejected`` whole, with the missing columns named;
  the other feeds go on. So is a file that cannot be read at all (a Parquet file cut short
  by an unfinished copy or with a corrupt page, a CSV that is not in its encoding), with the
  reader's error; its corrected copy, a new checksum under the same path, is loaded by the
  next run. So is an empty file (no header at all), said as such; a file with a header and
  no rows loads nothing and says so in its note.
- Otherwise every row is loaded or quarantined with its reasons, and the registry entry
  records ``rows_read = rows_loaded + rows_quarantined + rows_rejected``.
- Every run reads every file landed for any delivery date up to its run date that the
  registry does not hold yet: a file that lands late, the files of a day that never ran, and
  the rest of a first run that was killed half-way are all taken in by the next run, whatever
  happened before. A registered file whose size and modification time are unchanged is not
  read again (no checksum), so a daily run costs a directory listing for the past, not a
  re-read of it.
- Rows quarantined only for unknown references are checked again at the end of every run
  (``replay_quarantine``): once the referenced subscriber, plan or cell has arrived they load,
  and the registry's counts move with them.
- A delivery taken back by ``retract_delivery`` is ``retracted``: its rows and quarantine
  entries are gone, the same file is not read again, and the other files of its feed and
  date are read afresh by the next run (their duplicates may have been judged against it).
- Each file is read through its feed's dialect in the operator profile
  (:mod:`telco_mart.contract.operator_profile`); values the dialect normalised are counted in the
  registry (``rows_normalised``, and ``normalisations`` per kind and column).

Each file is one transaction, so a crash leaves either the whole file or none of it.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from telco_mart.contract import Contract, Feed, load_contract
from telco_mart.contract.operator_profile import FeedDialect, OperatorProfile, load_profile
from telco_mart.ingest.reader import (
    INCOMING_TABLE,
    MALFORMED_TABLE,
    EmptyFile,
    composed_columns,
    drop_incoming,
    read_header,
    stage_file,
    staged_types,
)
from telco_mart.ingest.validate import (
    any_value_fails,
    insert_select,
    normalisations,
    reasons_expression,
    typed_expression,
    typed_name,
)
from telco_mart.ledger import now, pending_rebuilds, request_rebuild
from telco_mart.schema import (
    ensure_raw_schema,
    forget_raw_files,
    keep_landed_file,
    sha256_of,
    store_raw_rows,
    sweep_raw_files,
)
from telco_mart.warehouse import fetch_one, quote_ident, transaction

log = logging.getLogger(__name__)

LANDED_SUFFIXES = (".csv", ".parquet")

#: What reading a file that is not what its name says raises: a file, not the run, is at fault.
UNREADABLE_FILE_ERRORS = (pa.ArrowException, duckdb.IOException, duckdb.InvalidInputException, UnicodeDecodeError)

#: The staged rows that must not load, with their reasons (``_line``, ``_reasons``).
REJECTS_TABLE = "_rejects"

#: DuckDB optimizers that act on what a file's footer claims instead of on its values. With
#: them, a Parquet file whose statistics say "amounts from 0 to 90" has its ``amount < 0``
#: check folded to false and its row groups skipped, and a corrupt page's negative amounts
#: and timestamps in 289360 BC load with nothing quarantined. Off for every statement that
#: reads a staged Parquet file (a CSV is staged into a temp table whose statistics DuckDB
#: computed from the values).
STATISTICS_OPTIMIZERS = (
    "statistics_propagation",
    "filter_pushdown",
    "row_group_pruner",
    "join_filter_pushdown",
    "compressed_materialization",
    "scalar_fn_pushdown",
)

#: The registry's and the quarantine's tables are defined with every other table in
#: telco_mart.schema (ensure_ingest_tables creates them).

#: Registry statuses of a path that still stand (the others are history of the path).
STANDING_STATUSES = ("loaded", "rejected", "skipped_duplicate", "retracted")


@dataclass
class FileOutcome:
    feed: str
    source_file: str
    delivery_date: date
    status: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_rejected: int = 0
    note: str | None = None
    seconds: float = 0.0
    rows_normalised: int = 0
    normalisations: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        text = (
            f"{self.status:<17} {self.source_file}: read {self.rows_read:,} loaded {self.rows_loaded:,} "
            f"quarantined {self.rows_quarantined:,}"
        )
        if self.rows_rejected:
            text += f" rejected {self.rows_rejected:,}"
        if self.rows_normalised:
            text += f" normalised {self.rows_normalised:,}"
        if self.note:
            text += f" ({self.note})"
        return text + f" [{self.seconds:.1f}s]"


@dataclass
class IngestReport:
    run_date: date
    dates: list[date]
    outcomes: list[FileOutcome] = field(default_factory=list)

    #: Delivery dates whose raw rows changed and are not built yet besides the files loaded now
    #: (an earlier run that stopped before its build passed, replayed quarantine, retracted
    #: deliveries): the dbt batch covers them too.
    rebuilt_dates: set[date] = field(default_factory=set)
    rows_replayed: int = 0

    @property
    def changed_dates(self) -> list[date]:
        """Delivery dates whose raw rows changed in this run (the dbt batch)."""
        loaded = {o.delivery_date for o in self.outcomes if o.status in ("loaded", "replaced_by_new")}
        return sorted(loaded | self.rebuilt_dates)

    @property
    def late_deliveries(self) -> list[FileOutcome]:
        """Files taken in for a delivery date before the run date: late files and skipped days."""
        return [
            o
            for o in self.outcomes
            if o.delivery_date < self.run_date and o.status in ("loaded", "replaced_by_new", "rejected")
        ]

    def totals(self) -> dict[str, int]:
        keys = ("rows_read", "rows_loaded", "rows_quarantined", "rows_rejected")
        totals = {k: sum(getattr(o, k) for o in self.outcomes) for k in keys}
        for status in ("loaded", "skipped", "skipped_duplicate", "rejected", "replaced_by_new"):
            totals[f"files_{status}"] = sum(1 for o in self.outcomes if o.status == status)
        return totals

    def summary(self) -> dict[str, object]:
        """The run's ingest in figures; the dbt batch runs from the earliest changed delivery
        date (the run date when nothing earlier changed) to the run date."""
        changed = [d for d in self.changed_dates if d <= self.run_date]
        files_today = any(o.delivery_date == self.run_date for o in self.outcomes)
        return {
            "run_date": self.run_date.isoformat(),
            "dates_scanned": [d.isoformat() for d in (self.dates[:1] + self.dates[-1:])],
            "batch_start_date": min([*changed, self.run_date]).isoformat(),
            "batch_end_date": self.run_date.isoformat(),
            "files_landed_for_run_date": files_today,
            "late_deliveries": [
                {
                    "feed": o.feed,
                    "delivery_date": o.delivery_date.isoformat(),
                    "file": o.source_file,
                    "status": o.status,
                }
                for o in self.late_deliveries
            ],
            "rows_replayed_from_quarantine": self.rows_replayed,
            **self.totals(),
        }


def ensure_ingest_tables(con: duckdb.DuckDBPyConnection, contract: Contract) -> None:
    ensure_raw_schema(con, contract)


def delivery_dates_on_disk(landing_dir: Path, contract: Contract) -> list[date]:
    dates: set[date] = set()
    for feed in contract.feeds:
        feed_dir = landing_dir / feed
        if not feed_dir.is_dir():
            continue
        for child in feed_dir.iterdir():
            if child.is_dir() and not child.name.startswith(("_", ".")):
                try:
                    dates.add(date.fromisoformat(child.name))
                except ValueError:
                    log.warning("ignoring folder %s: its name is not a delivery date (YYYY-MM-DD)", child)
    return sorted(dates)


def landed_files(day_dir: Path, say: Callable[[str], None] | None = None) -> list[Path]:
    """The files of one feed's delivery folder that ingestion reads, in name order: visible
    ``.csv`` and ``.parquet`` files. Anything else is named through ``say`` and left alone;
    a folder that is not there holds nothing."""
    if not day_dir.is_dir():
        return []
    files = []
    for path in sorted(day_dir.iterdir()):
        if path.name.startswith((".", "_")) or not path.is_file():
            continue
        if path.suffix not in LANDED_SUFFIXES:
            if say:
                say(f"ignoring {path}: not a .csv or .parquet file")
            continue
        files.append(path)
    return files


def feeds_delivered(landing_dir: Path, day: date, contract: Contract) -> dict[str, int]:
    """Files landed for delivery date ``day``, per feed of the contract (feeds without any left out)."""
    counts = {feed: len(landed_files(landing_dir / feed / day.isoformat())) for feed in contract.feeds}
    return {feed: n for feed, n in counts.items() if n}


def dates_to_scan(landing_dir: Path, run_date: date, contract: Contract) -> list[date]:
    """Every delivery date landed up to the run date: the registry, not the run's history,
    says which files are new (a late file, a skipped day, an interrupted first run)."""
    return [d for d in delivery_dates_on_disk(landing_dir, contract) if d <= run_date]


def _file_stamp(path: Path) -> tuple[int, datetime]:
    stat = path.stat()
    return stat.st_size, datetime.fromtimestamp(stat.st_mtime_ns / 1e9, UTC).replace(tzinfo=None)


def _standing_files(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, datetime | None]]:
    """Size and modification time of every path the registry holds a standing version of."""
    rows = con.execute(
        "select source_file, file_size, file_modified_at from raw.file_registry "
        f"where status in ({', '.join(repr(s) for s in STANDING_STATUSES)})"
    ).fetchall()
    return {path: (size, modified) for path, size, modified in rows}


def ingest(
    con: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    run_date: date,
    *,
    dates: Iterable[date] | None = None,
    run_id: str | None = None,
    contract: Contract | None = None,
    progress: Callable[[str], None] | None = None,
    profile: OperatorProfile | None = None,
) -> IngestReport:
    """Load every new file landed for the dates in scope into `raw`, feed by feed, each read
    through its dialect in the operator ``profile`` (default: ``$TELCO_MART_OPERATOR_PROFILE``)."""
    contract = contract or load_contract()
    profile = profile or load_profile(contract=contract)
    say = progress or log.info
    ensure_ingest_tables(con, contract)
    scan = sorted(dates) if dates is not None else dates_to_scan(landing_dir, run_date, contract)
    report = IngestReport(run_date=run_date, dates=scan)
    say(f"ingest: {len(scan)} delivery date(s) from {landing_dir}" + (f" ({scan[0]} .. {scan[-1]})" if scan else ""))
    standing = _standing_files(con)
    for feed_name in contract.load_order():
        feed = contract.feed(feed_name)
        for day in scan:
            for path in landed_files(landing_dir / feed_name / day.isoformat(), say):
                rel = path.relative_to(landing_dir).as_posix()
                if rel in standing and standing[rel] == _file_stamp(path):
                    # registered, and unchanged since: not read again (no checksum)
                    report.outcomes.append(FileOutcome(feed_name, rel, day, "skipped", note="unchanged"))
                    continue
                outcome = ingest_file(
                    con, feed, path, landing_dir, day, run_id=run_id, contract=contract, profile=profile
                )
                report.outcomes.append(outcome)
                if outcome.status != "skipped":
                    late = " (late delivery)" if day < run_date else ""
                    say(f"{feed_name:<20} {outcome.describe()}{late}")
    replayed = replay_quarantine(con, contract, progress=say, profile=profile)
    report.rows_replayed = sum(replayed.values())
    if swept := sweep_raw_files(con):
        say(f"ingest: removed {len(swept)} stored raw file(s) no longer listed (replaced, retracted, uncommitted)")
    report.rebuilt_dates |= set(replayed) | set(pending_rebuilds(con))
    totals = report.totals()
    say(
        "ingest done: {files_loaded} loaded, {files_replaced_by_new} replaced, {files_skipped} already loaded, "
        "{files_skipped_duplicate} duplicate deliveries, {files_rejected} rejected; rows read {rows_read:,}, "
        "loaded {rows_loaded:,}, quarantined {rows_quarantined:,}, rejected {rows_rejected:,}".format(**totals)
        + (f"; {report.rows_replayed:,} quarantined rows loaded now that their reference arrived" if replayed else "")
    )
    if report.late_deliveries:
        late_dates = sorted({o.delivery_date.isoformat() for o in report.late_deliveries})
        say(f"late deliveries taken in: {len(report.late_deliveries)} file(s) for {', '.join(late_dates)}")
    return report


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    feed: Feed,
    path: Path,
    landing_dir: Path,
    delivery_date: date,
    *,
    run_id: str | None = None,
    contract: Contract | None = None,
    profile: OperatorProfile | None = None,
) -> FileOutcome:
    contract = contract or load_contract()
    profile = profile or load_profile(contract=contract)
    started = time.perf_counter()
    rel = path.relative_to(landing_dir).as_posix()
    checksum = sha256_of(path)
    outcome = FileOutcome(feed=feed.name, source_file=rel, delivery_date=delivery_date, status="skipped")

    size, modified_at = _file_stamp(path)
    same_path = fetch_one(
        con,
        "select checksum_sha256, load_id from raw.file_registry where source_file = ? and status <> 'replaced' "
        "order by registered_at desc limit 1",
        [rel],
    )
    if same_path and same_path[0] == checksum:
        # touched but unchanged (a copy that kept the content): remember the new time
        con.execute("update raw.file_registry set file_modified_at = ? where load_id = ?", [modified_at, same_path[1]])
        return outcome
    duplicate_of = fetch_one(
        con,
        "select source_file from raw.file_registry where feed = ? and delivery_date = ? and checksum_sha256 = ? "
        "and status = 'loaded' and source_file <> ? limit 1",
        [feed.name, delivery_date, checksum, rel],
    )

    load_id = str(uuid.uuid4())

    def record(load: Callable[[], None]) -> None:
        """One transaction: the earlier version out, the file's rows in, its registry row, and
        its delivery date queued for rebuild (until a run's build of it passes the marts gate:
        a run killed after this commit leaves the date queued, not forgotten)."""
        with transaction(con):
            if same_path:
                _forget_earlier_version(con, rel, contract)
            load()
            _register(
                con, load_id, outcome, size, modified_at, checksum, duplicate_of[0] if duplicate_of else None, run_id
            )
            if same_path or outcome.status == "loaded":
                request_rebuild(con, [delivery_date], f"{outcome.status} {rel}")

    def load_rows() -> None:
        if duplicate_of:
            outcome.status = "skipped_duplicate"
            outcome.note = f"same content as {duplicate_of[0]}"
            return
        _load_rows(con, feed, path, rel, delivery_date, load_id, outcome, contract, profile, checksum=checksum)
        if same_path and outcome.status == "loaded":
            outcome.status = "replaced_by_new"
            outcome.note = "corrected re-delivery replaced the earlier version" + (
                f"; {outcome.note}" if outcome.note else ""
            )

    try:
        record(load_rows)
    except UnreadableFile as unreadable:
        # the reader's error may have come from inside DuckDB, which aborts the transaction
        # it happened in: the rejection is recorded in a transaction of its own
        record(partial(_reject_whole, outcome, rel, unreadable.note, unreadable.rows))
    outcome.seconds = time.perf_counter() - started
    return outcome


def _forget_earlier_version(con: duckdb.DuckDBPyConnection, rel: str, contract: Contract) -> None:
    feed = contract.feed(rel.split("/", 1)[0])
    if feed.storage == "parquet":
        forget_raw_files(con, feed, rel)
    else:
        con.execute(f"delete from raw.{quote_ident(feed.name)} where _source_file = ?", [rel])
    con.execute("delete from raw.quarantine where source_file = ?", [rel])
    con.execute(
        "update raw.file_registry set status = 'replaced' where source_file = ? "
        "and status not in ('replaced', 'retracted')",
        [rel],
    )


def _load_rows(
    con: duckdb.DuckDBPyConnection,
    feed: Feed,
    path: Path,
    rel: str,
    delivery_date: date,
    load_id: str,
    outcome: FileOutcome,
    contract: Contract,
    profile: OperatorProfile | None = None,
    *,
    checksum: str,
) -> None:
    profile = profile or load_profile(contract=contract)
    dialect = profile.feed(feed.name)
    _restore_optimizers(con)
    try:
        header = read_header(path, dialect)
    except EmptyFile as empty:
        _reject_whole(outcome, rel, str(empty), 0)
        return
    except UNREADABLE_FILE_ERRORS as error:
        raise UnreadableFile.of(con, path, error) from error
    composed = composed_columns(header, dialect)
    available = [*header, *composed]
    missing = [c for c in feed.required_columns if c not in available]
    parts = {part for names in composed.values() for part in names}
    extra = [c for c in header if c not in feed.column_names and c not in parts]
    if missing:
        because = [_missing_column(c, header, dialect) for c in missing]
        _reject_whole(outcome, rel, f"missing required columns: {', '.join(because)}", _count_rows(con, path))
        return
    notes = []
    if extra:
        notes.append(f"extra columns ignored: {', '.join(extra)}")
        log.warning("%s: %s", rel, notes[-1])
    absent = [c for c in feed.column_names if c not in available]
    if absent:
        notes.append(f"optional columns absent, loaded as null: {', '.join(absent)}")
    present = [c for c in feed.column_names if c in available]

    try:
        with _optimizers_off(con, _statistics_optimizers(path.suffix == ".parquet")):
            read = stage_file(con, path, present, dialect)
            staged_as = staged_types(con)
            staged = {c: staged_as[c] for c in present}
            changed_row = _change_on_loading(feed, path, read.header, staged, dialect)
            rejected = _find_rejects(con, feed, staged, rel, delivery_date, contract, profile, changed_row=changed_row)
            outcome.rows_normalised, outcome.normalisations = _count_normalisations(
                con, feed, staged, rejected, dialect
            )
            if (
                changed_row is not None
                and not rejected
                and not fetch_one(con, "select exists (select 1 from _value_rejects where _changed)")[0]
            ):
                keep_landed_file(
                    con,
                    feed,
                    path,
                    delivery_date=delivery_date,
                    source_file=rel,
                    load_id=load_id,
                    checksum=checksum,
                    rows=read.rows_staged,
                    columns=present,
                )
            else:
                _insert_rows(con, feed, staged, present, rel, delivery_date, load_id, rejected, dialect)
    except UNREADABLE_FILE_ERRORS as error:
        # a corrupt page shows when its values are read, after the header and the footer
        raise UnreadableFile.of(con, path, error) from error
    if read.byte_order_mark:
        outcome.normalisations = {"byte_order_mark": 1, **outcome.normalisations}
        notes.append("UTF-8 byte order mark removed")
    if read.rows_read == 0:
        notes.append("header only: no data rows")
    outcome.status = "loaded"
    outcome.rows_read = read.rows_read
    outcome.rows_loaded = read.rows_staged - rejected
    if composed and outcome.rows_loaded:
        # every loaded row's composed value was made here, not read: counted as normalised
        outcome.rows_normalised = outcome.rows_loaded
        outcome.normalisations |= {f"composed:{column}": outcome.rows_loaded for column in composed}
    outcome.rows_quarantined = rejected + len(read.malformed)
    outcome.note = "; ".join(notes) or None
    if outcome.rows_read != outcome.rows_loaded + outcome.rows_quarantined:
        raise RuntimeError(f"{rel}: rows do not reconcile ({outcome.describe()})")


def _change_on_loading(
    feed: Feed, path: Path, header: list[str], staged: dict[str, str], dialect: FeedDialect
) -> str | None:
    """For a landed file that may be kept as the stored file of its rows
    (:func:`telco_mart.schema.keep_landed_file`), the condition on a row of the value check
    (:func:`_find_rejects`) true when loading would store one of its values other than as it
    was landed (trimmed, a blank as null); ``None`` for a file that cannot be kept.

    A file can be kept when it is Parquet, of a feed stored as Parquet, with exactly the
    contract's columns (none extra, which raw never holds, none composed) in the contract's
    types, read through a dialect that respells no value and moves no timestamp (either
    would change every row it touches). The rest is asked of the values, in the value
    check's own pass over the file, over the columns where the two can differ at all.
    """
    if feed.storage != "parquet" or path.suffix != ".parquet":
        return None
    columns = {c.name: c for c in feed.columns}
    if not set(header) <= set(columns) or set(staged) != set(header):
        return None
    if any(staged[name].upper() != columns[name].duckdb_type.upper() for name in staged):
        return None
    if any(dialect.values.get(name) for name in staged) or (
        not dialect.is_utc and any(columns[name].type == "timestamp" for name in staged)
    ):
        return None
    changes = [
        f"not (v.{typed_name(name)} is not distinct from v.{quote_ident(name)})"
        for name in staged
        if typed_expression(columns[name], staged[name], "i", dialect)
        != f"try_cast(i.{quote_ident(name)} as {columns[name].duckdb_type})"
    ]
    return " or ".join(changes) or "false"


def _missing_column(column: str, header: list[str], dialect: FeedDialect) -> str:
    """A missing required column as the rejection names it: a composed one with its missing parts."""
    if column not in dialect.compose:
        return column
    parts = dialect.compose[column]
    return f"{column} (composed from {', '.join(parts)}: no {', '.join(p for p in parts if p not in header)})"


def _insert_rows(
    con: duckdb.DuckDBPyConnection,
    feed: Feed,
    staged: dict[str, str],
    present: list[str],
    rel: str,
    delivery_date: date,
    load_id: str,
    rejected: int,
    dialect: FeedDialect,
) -> None:
    """The staged file's valid rows into raw, its rejects and malformed lines into quarantine."""
    keep_valid = f"anti join {REJECTS_TABLE} r on r._line = i._line" if rejected else ""
    _append_rows(
        con,
        feed,
        f"select\n    {insert_select(feed, staged, dialect=dialect)},\n"
        f"    ? as _source_file, i._line as _source_line, ? as _load_id,\n"
        f"    current_timestamp::timestamp as _loaded_at\n"
        f"from {INCOMING_TABLE} i {keep_valid}",
        [rel, load_id],
        rel,
        delivery_date,
        load_id,
    )
    if rejected:
        record = (
            "to_json(struct_pack("
            + ", ".join(f"{quote_ident(c)} := cast(i.{quote_ident(c)} as varchar)" for c in present)
            + "))::varchar"
        )
        con.execute(
            "insert into raw.quarantine select ?, ?, ?, i._line, r._reasons, "
            f"{record}, ?, current_timestamp::timestamp from {INCOMING_TABLE} i "
            f"join {REJECTS_TABLE} r on r._line = i._line",
            [feed.name, rel, delivery_date, load_id],
        )
    con.execute(
        "insert into raw.quarantine select ?, ?, ?, m._line, 'malformed_row', m._text, ?, current_timestamp::timestamp "
        f"from {MALFORMED_TABLE} m",
        [feed.name, rel, delivery_date, load_id],
    )


def _append_rows(
    con: duckdb.DuckDBPyConnection,
    feed: Feed,
    select_sql: str,
    params: list[object],
    rel: str,
    delivery_date: date,
    load_id: str,
    *,
    name: str | None = None,
) -> None:
    """Rows of one landed file into the feed's raw storage: a Parquet file of its delivery
    date's partition for a feed stored as ``parquet``, an insert into its table otherwise.
    ``select_sql`` gives the feed's columns and the lineage columns but ``_delivery_date``."""
    if feed.storage == "parquet":
        # every caller stores only rows that _find_rejects kept: their keys were checked within
        # the file and against the partition's listed files, which is the proof the flag records
        store_raw_rows(
            con,
            feed,
            select_sql,
            params,
            delivery_date=delivery_date,
            source_file=rel,
            load_id=load_id,
            keys_proven=True,
            name=name,
        )
        return
    con.execute(
        # by name: a column the contract added later sits after the lineage columns in a raw
        # table created before it (ensure_raw_schema appends it)
        f"insert into raw.{quote_ident(feed.name)} by name select *, ? as _delivery_date from ({select_sql}) rows_in",
        [delivery_date, *params],  # bound in the order written: the outer ? comes first
    )


def _count_normalisations(
    con: duckdb.DuckDBPyConnection, feed: Feed, staged: dict[str, str], rejected: int, dialect: FeedDialect
) -> tuple[int, dict[str, int]]:
    """Rows loaded with a value the dialect normalised, and the values per ``<kind>:<column>``.

    One pass over the loaded rows, over the columns a normalisation can touch: on the
    contract's own spelling only the text timestamps (a UTC offset), whose first test is a
    few LIKEs that ``2026-01-31 23:59:59`` never passes.
    """
    conditions = [
        (condition, f"{kind}:{column.name}")
        for column in feed.columns
        if column.name in staged
        for condition, kind in normalisations(column, staged[column.name], dialect)
    ]
    if not conditions:
        return 0, {}
    keep_valid = f"anti join {REJECTS_TABLE} r on r._line = i._line" if rejected else ""
    any_row = " or ".join(f"({c})" for c, _ in conditions)
    counts = fetch_one(
        con,
        f"select count(*) filter (where {any_row}), "
        + ", ".join(f"count(*) filter (where {c})" for c, _ in conditions)
        + f" from {INCOMING_TABLE} i {keep_valid}",
    )
    per_kind = {kind: int(n) for (_, kind), n in zip(conditions, counts[1:], strict=True) if n}
    return int(counts[0]), per_kind


def _temp_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("select table_name from duckdb_tables() where database_name = 'temp'").fetchall()
    return {row[0] for row in rows}


#: Settings a failed statement could not put back, by connection (see _optimizers_off).
_OPTIMIZERS_TO_RESTORE: dict[int, str] = {}


def _set_optimizers(con: duckdb.DuckDBPyConnection, disabled: str) -> None:
    con.execute(f"set disabled_optimizers = '{disabled}'")


def _restore_optimizers(con: duckdb.DuckDBPyConnection) -> None:
    """Put back the optimizers a failed read left off."""
    if (before := _OPTIMIZERS_TO_RESTORE.pop(id(con), None)) is not None:
        _set_optimizers(con, before)


def _statistics_optimizers(parquet: bool, *, but: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The optimizers to turn off for a statement over the staged file (none for a CSV)."""
    return tuple(o for o in STATISTICS_OPTIMIZERS if o not in but) if parquet else ()


@contextmanager
def _optimizers_off(con: duckdb.DuckDBPyConnection, names: Iterable[str]) -> Iterator[None]:
    """Run the block with exactly the DuckDB optimizers ``names`` off, then put back what was.

    Statements over a staged Parquet file run with :data:`STATISTICS_OPTIMIZERS` off, so that
    every check reads the values whatever the footer claims. DuckDB settings are not
    transactional and cannot be changed in an aborted transaction: when a corrupt page fails
    a statement here, the next file's load puts the setting back (or it goes with the
    connection). Nothing else in the project turns optimizers off.
    """
    known = {row[0] for row in con.execute("select name from duckdb_optimizers()").fetchall()}
    wanted = ",".join(sorted(n for n in set(names) if n in known))
    before = fetch_one(con, "select current_setting('disabled_optimizers')")[0]
    if wanted == before:
        yield
        return
    _set_optimizers(con, wanted)
    try:
        yield
    except BaseException:
        try:
            _set_optimizers(con, before)
        except duckdb.Error:
            _OPTIMIZERS_TO_RESTORE[id(con)] = before  # the outermost block, which runs last, wins
        raise
    _set_optimizers(con, before)


def _find_rejects(
    con: duckdb.DuckDBPyConnection,
    feed: Feed,
    staged: dict[str, str],
    rel: str,
    delivery_date: date,
    contract: Contract,
    profile: OperatorProfile | None = None,
    *,
    changed_row: str | None = None,
) -> int:
    """Build ``_rejects(_line, _reasons)``: every staged row that must not load, with why.

    A delivery is almost all valid rows, so the passes are built to cost little when
    nothing is wrong, and only the few bad rows are ever written down:

    1. values and references in one pass, filtered on a cheap boolean before any reason is
       spelled out;
    2. repeated keys within the file, a hash aggregate over the key alone;
    3. keys already loaded from another file of the same delivery date, only when raw
       holds such a file (a day delivered as part files);

    so a valid row is typed twice (here and on its way into raw) but never written twice.
    Values are read through the feed's dialect in ``profile``; a reference to a feed the
    profile declares not delivered is not checked (there is nothing to check it against).
    ``changed_row`` (:func:`_change_on_loading`) also marks the valid rows that loading would
    change, ``_value_rejects._changed``, in the same pass. Returns the number of rejected rows.
    """
    profile = profile or load_profile(contract=contract)
    dialect = profile.feed(feed.name)
    changed_row = changed_row or "false"
    parquet = INCOMING_TABLE not in _temp_tables(con)
    raw_table = f"raw.{quote_ident(feed.name)}"
    typed = ", ".join(
        f"{typed_expression(feed.column(c), t, dialect=dialect)} as {typed_name(c)}" for c, t in staged.items()
    )
    joins, ref_reasons, ref_missing = [], [], []
    checked = [c for c in feed.columns if c.references and c.name in staged and profile.feed(c.references).delivered]
    for n, column in enumerate(checked):
        ref_feed = contract.feed(column.references)
        alias = f"ref{n}"
        joins.append(
            f"left join (select distinct {quote_ident(ref_feed.key[0])} as k "
            f"from raw.{quote_ident(ref_feed.name)}) {alias} "
            f"on {alias}.k = v.{typed_name(column.name)}"
        )
        missing = f"v.{typed_name(column.name)} is not null and {alias}.k is null"
        ref_missing.append(f"({missing})")
        ref_reasons.append(f"case when {missing} then 'unknown_reference:{column.name}' end")
    # Without filter pushdown each typed value is computed once: pushed below the projection,
    # the filter would recompute a timestamp's conversion for every check that names it.
    with _optimizers_off(con, (*_statistics_optimizers(parquet), "filter_pushdown")):
        con.execute(
            f"""
            create or replace temp table _value_rejects as
            select v._line,
                {reasons_expression(feed, staged, dialect)} as _value_reasons,
                {"concat_ws('; ', " + ", ".join(ref_reasons) + ")" if ref_reasons else "''"} as _reference_reasons,
                ({changed_row}) as _changed
            from (select i.*, {typed} from {INCOMING_TABLE} i) v
            {" ".join(joins)}
            where {" or ".join([f"({any_value_fails(feed, staged, dialect)})", *ref_missing, f"({changed_row})"])}
            """
        )

    # Keys count once among rows whose values are valid: a row quarantined for its values
    # does not make a later, valid row with the same key a duplicate.
    key_typed = {k: typed_expression(feed.column(k), staged[k], dialect=dialect) for k in feed.key}
    key_select = ", ".join(f"{expr} as {quote_ident(k)}" for k, expr in key_typed.items())
    valid_rows = (
        f"from {INCOMING_TABLE} i anti join (select _line from _value_rejects where _value_reasons <> '') b "
        "on b._line = i._line"
    )
    con.execute("create or replace temp table _duplicate_lines (_line bigint)")
    con.execute(
        f"create or replace temp table _repeated_keys as select {key_select}, min(i._line) as _first_line "
        f"{valid_rows} group by all having count(*) > 1"
    )
    key_match = " and ".join(f"d.{quote_ident(k)} = {expr}" for k, expr in key_typed.items())
    if fetch_one(con, "select count(*) from _repeated_keys")[0]:
        con.execute(
            f"insert into _duplicate_lines select i._line {valid_rows} "
            f"join _repeated_keys d on {key_match} where i._line > d._first_line"
        )
    with _optimizers_off(con, ()):  # reads raw only: its zone maps hold
        other_file_of_the_day = fetch_one(
            con,
            f"select count(*) from (select 1 from {raw_table} where _delivery_date = ? and _source_file <> ? limit 1)",
            [delivery_date, rel],
        )[0]
    if other_file_of_the_day:
        # only the earlier parts' keys this file also has: a day's sixth part file must not
        # aggregate the five before it; raw's delivery date filter keeps its zone maps
        first_key = feed.key[0]
        with _optimizers_off(con, _statistics_optimizers(parquet, but=("filter_pushdown",))):
            con.execute(
                f"insert into _duplicate_lines select i._line {valid_rows} semi join "
                f"(select distinct {', '.join(quote_ident(k) for k in feed.key)} from {raw_table} "
                f"where _delivery_date = ? and _source_file <> ? "
                f"and {quote_ident(first_key)} in (select {key_typed[first_key]} from {INCOMING_TABLE} i)) d "
                f"on {key_match}",
                [delivery_date, rel],
            )
    con.execute(
        f"""
        create or replace temp table {REJECTS_TABLE} as
        with lines as (
            -- a row kept only for its _changed mark is valid
            select _line from _value_rejects where not _changed or _value_reasons <> '' or _reference_reasons <> ''
            union
            select _line from _duplicate_lines
        )
        select l._line,
            concat_ws('; ',
                nullif(v._value_reasons, ''),
                case when l._line in (select _line from _duplicate_lines) then 'duplicate_key' end,
                nullif(v._reference_reasons, '')
            ) as _reasons
        from lines l
        left join _value_rejects v on v._line = l._line
        """
    )
    return fetch_one(con, f"select count(*) from {REJECTS_TABLE}")[0]


#: Quarantine reasons a later delivery can cure: only these rows are ever replayed.
_ONLY_UNKNOWN_REFERENCES = r"unknown_reference:[a-z_]+(; unknown_reference:[a-z_]+)*"


def replay_quarantine(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    progress: Callable[[str], None] | None = None,
    profile: OperatorProfile | None = None,
) -> dict[date, int]:
    """Load the quarantined rows whose only fault was a reference that has since arrived.

    A usage row of a subscriber whose CRM file was rejected, say, waits in quarantine; once the
    corrected CRM file loads, the row is validated again exactly as on its first read (values,
    references, keys against the rest of its delivery) and loaded under its original file,
    line and load id, and the registry entry's counts move from quarantined to loaded. Rows
    still failing stay as they are. Returns the rows loaded per delivery date (each date is also
    queued for rebuild until a run builds it).
    """
    say = progress or log.info
    profile = profile or load_profile(contract=contract)
    candidates = con.execute(
        "select feed, source_file, delivery_date, load_id, count(*) from raw.quarantine "
        "where regexp_full_match(reason, ?) group by all order by all",
        [_ONLY_UNKNOWN_REFERENCES],
    ).fetchall()
    replayed: dict[date, int] = {}
    for feed_name, rel, delivery_date, load_id, waiting in candidates:
        feed = contract.feed(feed_name)
        with transaction(con):
            loaded = _replay_file(con, feed, rel, delivery_date, load_id, contract, profile)
            if loaded:
                request_rebuild(con, [delivery_date], f"{loaded} quarantined rows of {rel} replayed")
        if loaded:
            replayed[delivery_date] = replayed.get(delivery_date, 0) + loaded
            say(f"{feed_name:<20} replayed {rel}: {loaded:,} of {waiting:,} rows waiting for a reference loaded")
    return replayed


def _replay_file(
    con: duckdb.DuckDBPyConnection,
    feed: Feed,
    rel: str,
    delivery_date: date,
    load_id: str,
    contract: Contract,
    profile: OperatorProfile,
) -> int:
    # a CSV record holds the file's own text (the feed's dialect reads it); a Parquet record
    # holds its typed values written as the contract writes them (the default profile reads it)
    if not rel.endswith(".csv"):
        profile = load_profile("default", contract=contract)
    dialect = profile.feed(feed.name)
    columns = [
        name
        for (name,) in con.execute(
            "select distinct unnest(json_keys(record)) from raw.quarantine where source_file = ? and load_id = ? "
            "and regexp_full_match(reason, ?)",
            [rel, load_id, _ONLY_UNKNOWN_REFERENCES],
        ).fetchall()
        if name in feed.column_names
    ]
    drop_incoming(con)
    extract = ", ".join(f"json_extract_string(record, {_literal_path(c)}) as {quote_ident(c)}" for c in columns)
    con.execute(
        f"create temp table {INCOMING_TABLE} as select source_line as _line, {extract} from raw.quarantine "
        "where source_file = ? and load_id = ? and regexp_full_match(reason, ?)",
        [rel, load_id, _ONLY_UNKNOWN_REFERENCES],
    )
    staged = dict.fromkeys(columns, "VARCHAR")
    # "" names no file: keys are checked against every row of the delivery, this file's included
    _find_rejects(con, feed, staged, "", delivery_date, contract, profile)
    con.execute(
        f"create or replace temp table _replayable as select i._line from {INCOMING_TABLE} i "
        f"anti join {REJECTS_TABLE} r on r._line = i._line"
    )
    loaded = fetch_one(con, "select count(*) from _replayable")[0]
    if not loaded:
        return 0
    _append_rows(
        con,
        feed,
        f"select\n    {insert_select(feed, staged, dialect=dialect)},\n"
        "    ? as _source_file, i._line as _source_line, ? as _load_id, current_timestamp::timestamp as _loaded_at\n"
        f"from {INCOMING_TABLE} i semi join _replayable p on p._line = i._line",
        [rel, load_id],
        rel,
        delivery_date,
        load_id,
        name=f"{load_id}.replayed-{uuid.uuid4().hex[:8]}",
    )
    con.execute(
        "delete from raw.quarantine where source_file = ? and load_id = ? "
        "and source_line in (select _line from _replayable)",
        [rel, load_id],
    )
    con.execute(
        "update raw.file_registry set rows_loaded = rows_loaded + ?, rows_quarantined = rows_quarantined - ?, "
        "note = concat_ws('; ', note, ?) where load_id = ?",
        [loaded, loaded, f"{loaded} row(s) replayed from quarantine on {now():%Y-%m-%d}", load_id],
    )
    return loaded


def _literal_path(column: str) -> str:
    return "'$.\"" + column.replace("'", "''") + "\"'"


class RetractError(ValueError):
    """A delivery that cannot be retracted as asked (unknown, or already retracted)."""


def retract_delivery(
    con: duckdb.DuckDBPyConnection,
    source_file: str,
    retracted_by: str,
    reason: str,
    contract: Contract | None = None,
) -> dict[str, object]:
    """Take back a delivery: its rows, quarantine entries and standing registry entry, in one
    transaction, and queue its delivery date for rebuild.

    The file's registry entry becomes ``retracted`` (with who and why), so the same file is not
    read again while it lies in the landing folder; a new file under its path is read as a
    corrected re-delivery. The other files of the same feed and date are read afresh by the
    next run: their rows may have been quarantined as duplicates of the retracted one.
    """
    contract = contract or load_contract()
    if not retracted_by.strip() or not reason.strip():
        raise RetractError("say who retracts the delivery and why (--by, --reason)")
    standing = con.execute(
        "select load_id, feed, delivery_date, status from raw.file_registry "
        f"where source_file = ? and status in ({', '.join(repr(s) for s in STANDING_STATUSES)})",
        [source_file],
    ).fetchall()
    if not standing:
        raise RetractError(f"no delivery {source_file!r} in the file registry (a path like <feed>/<date>/<file>)")
    _load_id, feed, delivery_date, status = standing[0]
    if status == "retracted":
        raise RetractError(f"{source_file} is already retracted")
    siblings = [
        path
        for (path,) in con.execute(
            "select source_file from raw.file_registry where feed = ? and delivery_date = ? and source_file <> ? "
            "and status in ('loaded', 'skipped_duplicate', 'rejected')",
            [feed, delivery_date, source_file],
        ).fetchall()
    ]
    note = f"retracted by {retracted_by} on {now():%Y-%m-%d %H:%M}: {reason}"
    with transaction(con):
        rows = fetch_one(con, f"select count(*) from raw.{quote_ident(feed)} where _source_file = ?", [source_file])[0]
        _forget_earlier_version(con, source_file, contract)
        con.execute(
            "update raw.file_registry set status = 'retracted', note = concat_ws('; ', note, ?) "
            "where load_id = (select load_id from raw.file_registry where source_file = ? and status = 'replaced' "
            "order by registered_at desc limit 1)",
            [note, source_file],
        )
        for sibling in siblings:
            _forget_earlier_version(con, sibling, contract)
            con.execute(
                "update raw.file_registry set note = concat_ws('; ', note, ?) where source_file = ? "
                "and load_id = (select load_id from raw.file_registry where source_file = ? "
                "order by registered_at desc limit 1)",
                [f"to be read again after {source_file} was retracted", sibling, sibling],
            )
        request_rebuild(con, [delivery_date], f"{source_file} retracted: {reason}")
    sweep_raw_files(con)
    log.warning("retracted %s (%s rows): %s; read again next run: %s", source_file, rows, reason, siblings or "none")
    return {
        "retracted": source_file,
        "feed": feed,
        "delivery_date": delivery_date.isoformat(),
        "rows_removed": rows,
        "read_again_next_run": siblings,
    }


class UnreadableFile(Exception):
    """A landed file the readers cannot read: it is kept out whole, and the reason said.

    Failing the run instead would hold back every other feed's delivery for one bad file,
    and the error would not name it. Rejected, it is in the registry with the reader's
    message, and the raw gate fails its day (``files_rejected``), so nothing of it reaches
    the marts unnoticed. A CSV's lines are still counted, and a Parquet file's rows when its
    footer reads (a corrupt page); a Parquet file without a readable footer has no row count
    to give.
    """

    def __init__(self, note: str, rows: int) -> None:
        super().__init__(note)
        self.note = note
        self.rows = rows

    @classmethod
    def of(cls, con: duckdb.DuckDBPyConnection, path: Path, error: Exception) -> UnreadableFile:
        note = f"unreadable {path.suffix.lstrip('.')} file: {str(error).splitlines()[0][:300]}"
        try:
            rows = _count_rows(con, path)
        except UNREADABLE_FILE_ERRORS:
            rows = 0
        return cls(note, rows)


def _reject_whole(outcome: FileOutcome, rel: str, note: str, rows: int) -> None:
    outcome.status = "rejected"
    outcome.note = note
    outcome.rows_read = outcome.rows_rejected = rows
    log.error("rejected %s: %s; the file is kept out whole and other feeds go on", rel, note)


def _count_rows(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Data rows in a file that is rejected whole, so the registry still accounts for them.

    Read without the warehouse (the footer, the line breaks), so that it also answers after a
    reading error has aborted the load's transaction. A CSV counts lines, not records.
    """
    if path.suffix == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    lines, last = 0, b"\n"
    with path.open("rb") as fh:
        while chunk := fh.read(8 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return max(lines + (0 if last == b"\n" else 1) - 1, 0)


def _register(
    con: duckdb.DuckDBPyConnection,
    load_id: str,
    outcome: FileOutcome,
    size: int,
    modified_at: datetime,
    checksum: str,
    duplicate_of: str | None,
    run_id: str | None,
) -> None:
    status = "loaded" if outcome.status == "replaced_by_new" else outcome.status
    con.execute(
        "insert into raw.file_registry (load_id, feed, delivery_date, source_file, file_size, checksum_sha256, "
        "status, rows_read, rows_loaded, rows_quarantined, rows_rejected, note, duplicate_of, run_id, "
        "rows_normalised, normalisations, registered_at, file_modified_at) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            load_id,
            outcome.feed,
            outcome.delivery_date,
            outcome.source_file,
            size,
            checksum,
            status,
            outcome.rows_read,
            outcome.rows_loaded,
            outcome.rows_quarantined,
            outcome.rows_rejected,
            outcome.note,
            duplicate_of,
            run_id,
            outcome.rows_normalised,
            json.dumps(outcome.normalisations, sort_keys=True) if outcome.normalisations else None,
            now(),  # UTC, as every record of telco_mart.ledger
            modified_at,
        ],
    )
