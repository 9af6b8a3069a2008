"""Reading one landed file into DuckDB as text, with every row's line number.

Validation happens in SQL over an all-text copy of the file, so a bad value becomes a
quarantine reason instead of a reader crash. Rows the CSV parser cannot split (a truncated
last line, a stray blank line) are kept too, as malformed rows with their line text: nothing
a file carries disappears before it is accounted for.

The header and the rows go through the same CSV reader, with the feed's dialect from the
operator profile (encoding, delimiter, quoting): a byte order mark or a fully quoted header
(RFC 4180) reads as the names it spells. ``_line`` is the physical line a row starts on, also
after values that hold line breaks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from telco_mart.contract.operator_profile import FeedDialect
from telco_mart.warehouse import fetch_one, quote_ident, quote_literal

INCOMING_TABLE = "_incoming"
MALFORMED_TABLE = "_malformed"

#: Rows per batch streamed from a CSV file: large enough for DuckDB to work efficiently,
#: small enough that a 100-million-row file never sits in memory whole.
CSV_BLOCK_BYTES = 64 << 20
#: Bytes read to find a CSV header (and to tell an empty file from one with a header).
HEADER_BLOCK_BYTES = 4 << 20
UTF8_BOM = b"\xef\xbb\xbf"


class EmptyFile(Exception):
    """A file with nothing in it, not even a header: zero bytes, or only blank lines."""


@dataclass
class ReadResult:
    """What was read: the file's header and the malformed lines set aside."""

    header: list[str]
    rows_staged: int = 0
    malformed: list[tuple[int, str]] = field(default_factory=list)
    #: The file started with a UTF-8 byte order mark, which the reader removed.
    byte_order_mark: bool = False

    @property
    def rows_read(self) -> int:
        return self.rows_staged + len(self.malformed)


def has_byte_order_mark(path: Path) -> bool:
    if path.suffix == ".parquet":
        return False
    with path.open("rb") as fh:
        return fh.read(len(UTF8_BOM)) == UTF8_BOM


def _check_not_empty(path: Path, dialect: FeedDialect) -> None:
    if path.stat().st_size == 0:
        raise EmptyFile("empty file (0 bytes): no header, no rows")
    if path.suffix == ".parquet":
        return
    with path.open("rb") as fh:
        start = fh.read(HEADER_BLOCK_BYTES + 1)
    if len(start) <= HEADER_BLOCK_BYTES:
        text = start.removeprefix(UTF8_BOM).decode(dialect.encoding, errors="replace")
        if not text.strip():
            raise EmptyFile(f"empty file ({len(start)} bytes of blank lines): no header, no rows")


def _read_options(dialect: FeedDialect, **kwargs: object) -> pacsv.ReadOptions:
    return pacsv.ReadOptions(use_threads=False, encoding=dialect.encoding, **kwargs)


def _parse_options(dialect: FeedDialect, handler: object = None) -> pacsv.ParseOptions:
    quoting = dialect.quote_char is not None
    return pacsv.ParseOptions(
        delimiter=dialect.delimiter,
        quote_char=dialect.quote_char if quoting else False,
        double_quote=quoting,
        # a quoted value may hold a line break (RFC 4180): the block splitter must know
        newlines_in_values=quoting,
        ignore_empty_lines=False,
        invalid_row_handler=handler,
    )


def _raw_header(path: Path, dialect: FeedDialect) -> list[str]:
    """The header's names as the CSV reader parses them (quotes and a byte order mark removed)."""
    reader = pacsv.open_csv(
        path,
        read_options=_read_options(dialect, block_size=HEADER_BLOCK_BYTES),
        parse_options=_parse_options(dialect, lambda _row: "skip"),
    )
    return list(reader.schema.names)


def read_header(path: Path, dialect: FeedDialect | None = None) -> list[str]:
    """The column names of a landed file; :class:`EmptyFile` when it has none at all."""
    dialect = dialect or FeedDialect(feed="")
    _check_not_empty(path, dialect)
    if path.suffix == ".parquet":
        return list(pq.read_schema(path).names)
    return [name.strip() for name in _raw_header(path, dialect)]


def composed_columns(header: list[str], dialect: FeedDialect) -> dict[str, tuple[str, ...]]:
    """The dialect's composed columns a file with ``header`` gets: those it lacks and has
    every part of (a file that has the column itself is read as it is)."""
    return {
        column: parts
        for column, parts in dialect.compose.items()
        if column not in header and all(part in header for part in parts)
    }


def stage_file(
    con: duckdb.DuckDBPyConnection, path: Path, columns: list[str], dialect: FeedDialect | None = None
) -> ReadResult:
    """Make ``path`` readable as ``_incoming(_line, <columns>)``.

    ``columns`` are the contract columns the file has, composed ones included (the dialect's
    ``compose``: their parts are staged and joined); others in the file are ignored. ``_line``
    is the physical line a row starts on in a CSV (header = 1) or the 1-based row number in a
    Parquet file. A CSV is copied into a temp table as text; a Parquet file is a view (a
    table when a column is composed).
    """
    dialect = dialect or FeedDialect(feed="")
    _check_not_empty(path, dialect)
    parquet = path.suffix == ".parquet"
    raw_names = list(pq.read_schema(path).names) if parquet else _raw_header(path, dialect)
    header = raw_names if parquet else [name.strip() for name in raw_names]
    composed = {c: parts for c, parts in composed_columns(header, dialect).items() if c in columns}
    parts = [part for names in composed.values() for part in names]
    read_columns = list(dict.fromkeys([c for c in columns if c not in composed] + parts))
    drop_incoming(con)
    con.execute(f"create or replace temp table {MALFORMED_TABLE} (_line bigint, _text varchar)")
    result = ReadResult(header=header, byte_order_mark=has_byte_order_mark(path))
    if parquet:
        _stage_parquet(con, path, read_columns, result)
    else:
        col_defs = ", ".join(f'"{c}" varchar' for c in read_columns)
        con.execute(f"create temp table {INCOMING_TABLE} (_line bigint, {col_defs})")
        _stage_csv(con, path, raw_names, read_columns, result, dialect)
    if composed:
        _compose(con, composed)
    if result.malformed:
        con.executemany(f"insert into {MALFORMED_TABLE} values (?, ?)", result.malformed)
    return result


def _compose(con: duckdb.DuckDBPyConnection, composed: dict[str, tuple[str, ...]]) -> None:
    """Add each composed column to the staged file: its parts' trimmed text joined by ``-``,
    null when a part is empty (a required column then quarantines the row as missing)."""
    columns = []
    for column, parts in composed.items():
        texts = [f"nullif(trim(cast({quote_ident(part)} as varchar)), '')" for part in parts]
        any_empty = " or ".join(f"{text} is null" for text in texts)
        joined = " || '-' || ".join(texts)
        columns.append(f"case when {any_empty} then null else {joined} end as {quote_ident(column)}")
    staged = f"{INCOMING_TABLE}_composed"
    con.execute(f"create temp table {staged} as select *, {', '.join(columns)} from {INCOMING_TABLE}")
    drop_incoming(con)
    con.execute(f"alter table {staged} rename to {INCOMING_TABLE}")


def drop_incoming(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the previous file's ``_incoming``, a table (CSV) or a view (Parquet)."""
    kind = fetch_one(
        con,
        "select 'table' from duckdb_tables() where database_name = 'temp' and table_name = ? "
        "union all select 'view' from duckdb_views() where database_name = 'temp' and view_name = ?",
        [INCOMING_TABLE, INCOMING_TABLE],
    )
    if kind:
        con.execute(f"drop {kind[0]} {INCOMING_TABLE}")


def _stage_parquet(con: duckdb.DuckDBPyConnection, path: Path, columns: list[str], result: ReadResult) -> None:
    """Stage a Parquet file as a view over the file, with its own column types.

    Parquet needs no line bookkeeping, so nothing is copied: the checks and the load read
    the file itself, and a valid row is written once, into raw. Columns already stored as
    the contract's type skip the text round trip (the validation sees their DuckDB type and
    converts only text columns), which makes typed deliveries several times cheaper to
    validate than CSV.
    """
    names = ", ".join(f'"{c}"' for c in columns)
    location = quote_literal(str(path))
    con.execute(
        f"create temp view {INCOMING_TABLE} as "
        f"select file_row_number + 1 as _line, {names} from read_parquet({location}, file_row_number = true)"
    )
    result.rows_staged = fetch_one(con, f"select count(*) from {INCOMING_TABLE}")[0]


def staged_types(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """DuckDB type of each staged column (VARCHAR for CSV, the file's own types for Parquet)."""
    rows = con.execute(
        "select column_name, data_type from duckdb_columns() where table_name = ? and database_name = 'temp'",
        [INCOMING_TABLE],
    ).fetchall()
    return {name: data_type.upper() for name, data_type in rows}


def _may_span_lines(path: Path, dialect: FeedDialect) -> bool:
    """Whether a record of the file may run over several lines: only inside quotes, so only
    when the file holds the quote character at all (a bytes search, far cheaper than parsing)."""
    if dialect.quote_char is None:
        return False
    quote = dialect.quote_char.encode(dialect.encoding)
    if quote != dialect.quote_char.encode("ascii"):
        return True  # not an ASCII-compatible encoding (UTF-16...): no shortcut
    with path.open("rb") as fh:
        while chunk := fh.read(8 << 20):
            if quote in chunk:
                return True
    return False


def _stage_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    raw_names: list[str],
    columns: list[str],
    result: ReadResult,
    dialect: FeedDialect,
) -> None:
    rejected_records: list[int] = []
    pending: list[tuple[int, str]] = []  # malformed records not yet given their physical line

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        # Single-threaded reading numbers every rejected record (header = 1) in file order.
        rejected_records.append(int(row.number))
        pending.append((int(row.number), row.text))
        return "skip"

    spans = _may_span_lines(path, dialect)
    header = [name.strip() for name in raw_names]
    # Line breaks inside quoted values push every later record down; to count them exactly
    # every column is parsed, the ones the contract does not know included.
    lines = _LineCounter(offset=sum(name.count("\n") for name in raw_names))
    reader = pacsv.open_csv(
        path,
        read_options=_read_options(dialect, block_size=CSV_BLOCK_BYTES, column_names=header, skip_rows=1),
        parse_options=_parse_options(dialect, on_invalid_row),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            include_columns=header if spans else columns,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    names = ", ".join(f'"{c}"' for c in columns)
    rows_before_batch = 0
    for batch in reader:
        n = batch.num_rows
        ordinals = np.arange(rows_before_batch + 1, rows_before_batch + n + 1, dtype=np.int64)
        records = _physical_lines(ordinals, rejected_records)
        breaks = _line_breaks(batch) if spans else np.zeros(n, dtype=np.int64)
        last = int(records[-1]) if n else 0
        placed = [p for p in pending if p[0] < last]
        pending[:] = [p for p in pending if p[0] >= last]
        good, bad = lines.place(records, breaks, placed, spans)
        result.malformed += bad
        table = pa.Table.from_batches([batch]).select(columns).append_column("_line", pa.array(good))
        con.register("_batch", table)
        con.execute(f"insert into {INCOMING_TABLE} (_line, {names}) select _line, {names} from _batch")
        con.unregister("_batch")
        rows_before_batch += n
    _, bad = lines.place(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), sorted(pending), spans)
    result.malformed += bad
    result.rows_staged = rows_before_batch


def _line_breaks(batch: pa.RecordBatch) -> np.ndarray:
    """Line breaks inside each row's values (quoted values may hold them)."""
    total = np.zeros(batch.num_rows, dtype=np.int64)
    for column in batch.columns:
        total += pc.fill_null(pc.count_substring(column, "\n"), 0).to_numpy(zero_copy_only=False)
    return total


@dataclass
class _LineCounter:
    """Turns record numbers (header = 1) into physical lines, counting the line breaks inside
    the records before each one: ``line = record + breaks in every earlier record``."""

    offset: int = 0

    def place(
        self, records: np.ndarray, breaks: np.ndarray, malformed: list[tuple[int, str]], spans: bool
    ) -> tuple[np.ndarray, list[tuple[int, str]]]:
        """Physical lines of the good rows ``records`` (with ``breaks`` line breaks each) and
        of the ``malformed`` (record, text) rows among them, in one pass in file order."""
        if not spans:
            return records, malformed
        bad_records = np.asarray([r for r, _ in malformed], dtype=np.int64)
        bad_breaks = np.asarray([text.count("\n") for _, text in malformed], dtype=np.int64)
        all_records = np.concatenate([records, bad_records])
        all_breaks = np.concatenate([breaks, bad_breaks])
        order = np.argsort(all_records, kind="stable")
        before = np.cumsum(all_breaks[order]) - all_breaks[order] + self.offset
        lines = np.empty_like(all_records)
        lines[order] = all_records[order] + before
        self.offset += int(all_breaks.sum())
        n = len(records)
        return lines[:n], [(int(line), text) for line, (_, text) in zip(lines[n:], malformed, strict=True)]


def _physical_lines(ordinals: np.ndarray, rejected_lines: list[int]) -> np.ndarray:
    """Record number of the k-th good data row, given the records the parser rejected: its
    physical line when no record runs over several lines (``_LineCounter`` adds those).

    Without rejects, good row k is record k + 1 (the header is record 1). Each rejected
    record r_j (j-th reject, 1-based, sorted) pushes every good row with k >= r_j - j one
    record further down.
    """
    lines = ordinals + 1
    if rejected_lines:
        rejects = np.sort(np.asarray(rejected_lines, dtype=np.int64))
        thresholds = rejects - np.arange(1, len(rejects) + 1)
        lines += np.searchsorted(thresholds, ordinals, side="right")
    return lines
