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
  by an unfinished copy, a CSV that is not UTF-8), with the reader's error; its corrected
  copy, a new checksum under the same path, is loaded by the next run.
- Otherwise every row is loaded or quarantined with its reasons, and the registry entry
  records ``rows_read = rows_loaded + rows_quarantined + rows_rejected``.

Each file is one transaction, so a crash leaves either the whole file or none of it.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path

import duckdb
import pyarrow as pa

from telco_mart.contract import Contract, Feed, load_contract
from telco_mart.ingest.reader import INCOMING_TABLE, MALFORMED_TABLE, read_header, stage_file, staged_types
from telco_mart.ingest.validate import (
    _q,
    any_value_fails,
    insert_select,
    reasons_expression,
    typed_expression,
    typed_name,
)
from telco_mart.warehouse import ensure_raw_schema, fetch_one

log = logging.getLogger(__name__)

LANDED_SUFFIXES = (".csv", ".parquet")

#: What reading a file that is not what its name says raises: a file, not the run, is at fault.
UNREADABLE_FILE_ERRORS = (pa.ArrowException, duckdb.IOException, duckdb.InvalidInputException, UnicodeDecodeError)

#: The staged rows that must not load, with their reasons (``_line``, ``_reasons``).
REJECTS_TABLE = "_rejects"

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

    def describe(self) -> str:
        text = (
            f"{self.status:<17} {self.source_file}: read {self.rows_read:,} loaded {self.rows_loaded:,} "
            f"quarantined {self.rows_quarantined:,}"
        )
        if self.rows_rejected:
            text += f" rejected {self.rows_rejected:,}"
        if self.note:
            text += f" ({self.note})"
        return text + f" [{self.seconds:.1f}s]"


@dataclass
class IngestReport:
    run_date: date
    dates: list[date]
    outcomes: list[FileOutcome] = field(default_factory=list)

    @property
    def changed_dates(self) -> list[date]:
        """Delivery dates whose raw rows changed in this run (the dbt batch)."""
        return sorted({o.delivery_date for o in self.outcomes if o.status in ("loaded", "replaced_by_new")})

    def totals(self) -> dict[str, int]:
        keys = ("rows_read", "rows_loaded", "rows_quarantined", "rows_rejected")
        totals = {k: sum(getattr(o, k) for o in self.outcomes) for k in keys}
        for status in ("loaded", "skipped", "skipped_duplicate", "rejected", "replaced_by_new"):
            totals[f"files_{status}"] = sum(1 for o in self.outcomes if o.status == status)
        return totals

    def summary(self) -> dict[str, object]:
        changed = self.changed_dates
        return {
            "run_date": self.run_date.isoformat(),
            "dates_scanned": [d.isoformat() for d in (self.dates[:1] + self.dates[-1:])],
            "batch_start_date": (changed[0] if changed else self.run_date).isoformat(),
            "batch_end_date": (changed[-1] if changed else self.run_date).isoformat(),
            **self.totals(),
        }


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_ingest_tables(con: duckdb.DuckDBPyConnection, contract: Contract) -> None:
    ensure_raw_schema(con, contract)
    con.execute(REGISTRY_DDL)
    con.execute(QUARANTINE_DDL)


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


def dates_to_scan(con: duckdb.DuckDBPyConnection, landing_dir: Path, run_date: date, contract: Contract) -> list[date]:
    """A fresh warehouse takes in all landed history up to the run date; later runs one day.

    Keeping later runs to their own day keeps a daily run's cost proportional to that day's
    data; a late or corrected file for an earlier day is picked up by rerunning that day.
    """
    registered = fetch_one(con, "select count(*) from raw.file_registry")[0]
    if registered == 0:
        return [d for d in delivery_dates_on_disk(landing_dir, contract) if d <= run_date]
    return [run_date]


def ingest(
    con: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    run_date: date,
    *,
    dates: Iterable[date] | None = None,
    run_id: str | None = None,
    contract: Contract | None = None,
    progress: Callable[[str], None] | None = None,
) -> IngestReport:
    """Load every new file landed for the dates in scope into `raw`, feed by feed."""
    contract = contract or load_contract()
    say = progress or log.info
    ensure_ingest_tables(con, contract)
    scan = sorted(dates) if dates is not None else dates_to_scan(con, landing_dir, run_date, contract)
    report = IngestReport(run_date=run_date, dates=scan)
    say(f"ingest: {len(scan)} delivery date(s) from {landing_dir}" + (f" ({scan[0]} .. {scan[-1]})" if scan else ""))
    for feed_name in contract.load_order():
        feed = contract.feed(feed_name)
        for day in scan:
            for path in landed_files(landing_dir / feed_name / day.isoformat(), say):
                outcome = ingest_file(con, feed, path, landing_dir, day, run_id=run_id, contract=contract)
                report.outcomes.append(outcome)
                if outcome.status != "skipped":
                    say(f"{feed_name:<20} {outcome.describe()}")
    totals = report.totals()
    say(
        "ingest done: {files_loaded} loaded, {files_replaced_by_new} replaced, {files_skipped} already loaded, "
        "{files_skipped_duplicate} duplicate deliveries, {files_rejected} rejected; rows read {rows_read:,}, "
        "loaded {rows_loaded:,}, quarantined {rows_quarantined:,}, rejected {rows_rejected:,}".format(**totals)
    )
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
) -> FileOutcome:
    contract = contract or load_contract()
    started = time.perf_counter()
    rel = path.relative_to(landing_dir).as_posix()
    size = path.stat().st_size
    checksum = sha256_of(path)
    outcome = FileOutcome(feed=feed.name, source_file=rel, delivery_date=delivery_date, status="skipped")

    same_path = fetch_one(
        con,
        "select checksum_sha256 from raw.file_registry where source_file = ? and status <> 'replaced' "
        "order by registered_at desc limit 1",
        [rel],
    )
    if same_path and same_path[0] == checksum:
        return outcome
    duplicate_of = fetch_one(
        con,
        "select source_file from raw.file_registry where feed = ? and delivery_date = ? and checksum_sha256 = ? "
        "and status = 'loaded' and source_file <> ? limit 1",
        [feed.name, delivery_date, checksum, rel],
    )

    load_id = str(uuid.uuid4())

    def record(load: Callable[[], None]) -> None:
        """One transaction: the earlier version out, the file's rows in, its registry row."""
        con.execute("begin transaction")
        try:
            if same_path:
                _forget_earlier_version(con, rel)
            load()
            _register(con, load_id, outcome, size, checksum, duplicate_of[0] if duplicate_of else None, run_id)
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise

    def load_rows() -> None:
        if duplicate_of:
            outcome.status = "skipped_duplicate"
            outcome.note = f"same content as {duplicate_of[0]}"
            return
        _load_rows(con, feed, path, rel, delivery_date, load_id, outcome, contract)
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


def _forget_earlier_version(con: duckdb.DuckDBPyConnection, rel: str) -> None:
    feed = rel.split("/", 1)[0]
    con.execute(f"delete from raw.{_q(feed)} where _source_file = ?", [rel])
    con.execute("delete from raw.quarantine where source_file = ?", [rel])
    con.execute(
        "update raw.file_registry set status = 'replaced' where source_file = ? and status <> 'replaced'",
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
) -> None:
    try:
        header = read_header(path)
    except UNREADABLE_FILE_ERRORS as error:
        raise UnreadableFile.of(con, path, error) from error
    missing = [c for c in feed.required_columns if c not in header]
    extra = [c for c in header if c not in feed.column_names]
    if missing:
        _reject_whole(outcome, rel, f"missing required columns: {', '.join(missing)}", _count_rows(con, path))
        return
    notes = []
    if extra:
        notes.append(f"extra columns ignored: {', '.join(extra)}")
        log.warning("%s: %s", rel, notes[-1])
    absent = [c for c in feed.column_names if c not in header]
    if absent:
        notes.append(f"optional columns absent, loaded as null: {', '.join(absent)}")
    present = [c for c in feed.column_names if c in header]

    try:
        read = stage_file(con, path, present)
    except UNREADABLE_FILE_ERRORS as error:
        raise UnreadableFile.of(con, path, error) from error
    staged_as = staged_types(con)
    staged = {c: staged_as[c] for c in present}
    rejected = _find_rejects(con, feed, staged, rel, delivery_date, contract)

    raw_table = f"raw.{_q(feed.name)}"
    keep_valid = f"anti join {REJECTS_TABLE} r on r._line = i._line" if rejected else ""
    con.execute(
        f"insert into {raw_table} select\n    {insert_select(feed, staged)},\n"
        f"    ? as _source_file, i._line, ? as _delivery_date, ? as _load_id, current_timestamp::timestamp\n"
        f"from {INCOMING_TABLE} i {keep_valid}",
        [rel, delivery_date, load_id],
    )
    if rejected:
        record = (
            "to_json(struct_pack("
            + ", ".join(f"{_q(c)} := cast(i.{_q(c)} as varchar)" for c in present)
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
    outcome.status = "loaded"
    outcome.rows_read = read.rows_read
    outcome.rows_loaded = read.rows_staged - rejected
    outcome.rows_quarantined = rejected + len(read.malformed)
    outcome.note = "; ".join(notes) or None
    if outcome.rows_read != outcome.rows_loaded + outcome.rows_quarantined:
        raise RuntimeError(f"{rel}: rows do not reconcile ({outcome.describe()})")


def _find_rejects(
    con: duckdb.DuckDBPyConnection,
    feed: Feed,
    staged: dict[str, str],
    rel: str,
    delivery_date: date,
    contract: Contract,
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
    Returns the number of rejected rows.
    """
    raw_table = f"raw.{_q(feed.name)}"
    typed = ", ".join(f"{typed_expression(feed.column(c), t)} as {typed_name(c)}" for c, t in staged.items())
    joins, ref_reasons, ref_missing = [], [], []
    for n, column in enumerate(c for c in feed.columns if c.references and c.name in staged):
        ref_feed = contract.feed(column.references)
        alias = f"ref{n}"
        joins.append(
            f"left join (select distinct {_q(ref_feed.key[0])} as k from raw.{_q(ref_feed.name)}) {alias} "
            f"on {alias}.k = v.{typed_name(column.name)}"
        )
        missing = f"v.{typed_name(column.name)} is not null and {alias}.k is null"
        ref_missing.append(f"({missing})")
        ref_reasons.append(f"case when {missing} then 'unknown_reference:{column.name}' end")
    con.execute(
        f"""
        create or replace temp table _value_rejects as
        select v._line,
            {reasons_expression(feed, staged)} as _value_reasons,
            {"concat_ws('; ', " + ", ".join(ref_reasons) + ")" if ref_reasons else "''"} as _reference_reasons
        from (select i.*, {typed} from {INCOMING_TABLE} i) v
        {" ".join(joins)}
        where {" or ".join([f"({any_value_fails(feed, staged)})", *ref_missing])}
        """
    )

    # Keys count once among rows whose values are valid: a row quarantined for its values
    # does not make a later, valid row with the same key a duplicate.
    key_typed = {k: typed_expression(feed.column(k), staged[k]) for k in feed.key}
    key_select = ", ".join(f"{expr} as {_q(k)}" for k, expr in key_typed.items())
    valid_rows = (
        f"from {INCOMING_TABLE} i anti join (select _line from _value_rejects where _value_reasons <> '') b "
        "on b._line = i._line"
    )
    con.execute("create or replace temp table _duplicate_lines (_line bigint)")
    con.execute(
        f"create or replace temp table _repeated_keys as select {key_select}, min(i._line) as _first_line "
        f"{valid_rows} group by all having count(*) > 1"
    )
    key_match = " and ".join(f"d.{_q(k)} = {expr}" for k, expr in key_typed.items())
    if fetch_one(con, "select count(*) from _repeated_keys")[0]:
        con.execute(
            f"insert into _duplicate_lines select i._line {valid_rows} "
            f"join _repeated_keys d on {key_match} where i._line > d._first_line"
        )
    other_file_of_the_day = fetch_one(
        con,
        f"select count(*) from (select 1 from {raw_table} where _delivery_date = ? and _source_file <> ? limit 1)",
        [delivery_date, rel],
    )[0]
    if other_file_of_the_day:
        # only the earlier parts' keys this file also has: a day's sixth part file must not
        # aggregate the five before it
        first_key = feed.key[0]
        con.execute(
            f"insert into _duplicate_lines select i._line {valid_rows} semi join "
            f"(select distinct {', '.join(_q(k) for k in feed.key)} from {raw_table} "
            f"where _delivery_date = ? and _source_file <> ? "
            f"and {_q(first_key)} in (select {key_typed[first_key]} from {INCOMING_TABLE} i)) d on {key_match}",
            [delivery_date, rel],
        )
    con.execute(
        f"""
        create or replace temp table {REJECTS_TABLE} as
        with lines as (
            select _line from _value_rejects
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


class UnreadableFile(Exception):
    """A landed file the readers cannot read: it is kept out whole, and the reason said.

    Failing the run instead would hold back every other feed's delivery for one bad file,
    and the error would not name it. Rejected, it is in the registry with the reader's
    message, and the raw gate fails its day (``files_rejected``), so nothing of it reaches
    the marts unnoticed. A CSV's lines are still counted; a Parquet file without a readable
    footer has no row count to give.
    """

    def __init__(self, note: str, rows: int) -> None:
        super().__init__(note)
        self.note = note
        self.rows = rows

    @classmethod
    def of(cls, con: duckdb.DuckDBPyConnection, path: Path, error: Exception) -> UnreadableFile:
        note = f"unreadable {path.suffix.lstrip('.')} file: {str(error).splitlines()[0][:300]}"
        return cls(note, 0 if path.suffix == ".parquet" else _count_rows(con, path))


def _reject_whole(outcome: FileOutcome, rel: str, note: str, rows: int) -> None:
    outcome.status = "rejected"
    outcome.note = note
    outcome.rows_read = outcome.rows_rejected = rows
    log.error("rejected %s: %s; the file is kept out whole and other feeds go on", rel, note)


def _count_rows(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Data rows in a file that is rejected whole, so the registry still accounts for them."""
    if path.suffix == ".parquet":
        return fetch_one(con, "select count(*) from read_parquet(?)", [str(path)])[0]
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
    checksum: str,
    duplicate_of: str | None,
    run_id: str | None,
) -> None:
    status = "loaded" if outcome.status == "replaced_by_new" else outcome.status
    con.execute(
        "insert into raw.file_registry values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, current_timestamp::timestamp)",
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
        ],
    )
