"""Reading one landed file into DuckDB as text, with every row's line number.

Validation happens in SQL over an all-text copy of the file, so a bad value becomes a
quarantine reason instead of a reader crash. Rows the CSV parser cannot split (a truncated
last line, a stray blank line) are kept too, as malformed rows with their line text: nothing
a file carries disappears before it is accounted for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from telco_mart.warehouse import fetch_one

INCOMING_TABLE = "_incoming"
MALFORMED_TABLE = "_malformed"

#: Rows per batch streamed from a CSV file: large enough for DuckDB to work efficiently,
#: small enough that a 100-million-row file never sits in memory whole.
CSV_BLOCK_BYTES = 64 << 20


@dataclass
class ReadResult:
    """What was read: the file's header and the malformed lines set aside."""

    header: list[str]
    rows_staged: int = 0
    malformed: list[tuple[int, str]] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return self.rows_staged + len(self.malformed)


def read_header(path: Path) -> list[str]:
    if path.suffix == ".parquet":
        return list(pq.read_schema(path).names)
    with path.open("r", encoding="utf-8", newline="") as fh:
        first = fh.readline().rstrip("\r\n")
    return [name.strip() for name in first.split(",")] if first else []


def stage_file(con: duckdb.DuckDBPyConnection, path: Path, columns: list[str]) -> ReadResult:
    """Make ``path`` readable as ``_incoming(_line, <columns>)``.

    ``columns`` are the contract columns the file has; others in the file are ignored.
    ``_line`` is the physical line number in a CSV (header = 1) or the 1-based row number
    in a Parquet file. A CSV is copied into a temp table as text; a Parquet file is a view.
    """
    header = read_header(path)
    drop_incoming(con)
    con.execute(f"create or replace temp table {MALFORMED_TABLE} (_line bigint, _text varchar)")
    result = ReadResult(header=header)
    if path.suffix == ".parquet":
        _stage_parquet(con, path, columns, result)
    else:
        col_defs = ", ".join(f'"{c}" varchar' for c in columns)
        con.execute(f"create temp table {INCOMING_TABLE} (_line bigint, {col_defs})")
        _stage_csv(con, path, header, columns, result)
    if result.malformed:
        con.executemany(f"insert into {MALFORMED_TABLE} values (?, ?)", result.malformed)
    return result


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
    location = "'" + str(path).replace("'", "''") + "'"
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


def _stage_csv(
    con: duckdb.DuckDBPyConnection, path: Path, header: list[str], columns: list[str], result: ReadResult
) -> None:
    rejected_lines: list[int] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        # Single-threaded reading gives the physical line number of every rejected row.
        result.malformed.append((int(row.number), row.text))
        rejected_lines.append(int(row.number))
        return "skip"

    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(use_threads=False, block_size=CSV_BLOCK_BYTES, column_names=header, skip_rows=1),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid_row, ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            include_columns=columns,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    rows_before_batch = 0
    for batch in reader:
        n = batch.num_rows
        ordinals = np.arange(rows_before_batch + 1, rows_before_batch + n + 1, dtype=np.int64)
        lines = _physical_lines(ordinals, rejected_lines)
        table = pa.Table.from_batches([batch]).append_column("_line", pa.array(lines))
        con.register("_batch", table)
        names = ", ".join(f'"{c}"' for c in columns)
        con.execute(f"insert into {INCOMING_TABLE} (_line, {names}) select _line, {names} from _batch")
        con.unregister("_batch")
        rows_before_batch += n
    result.rows_staged = rows_before_batch


def _physical_lines(ordinals: np.ndarray, rejected_lines: list[int]) -> np.ndarray:
    """Physical line of the k-th good data row, given the lines the parser rejected.

    Without rejects, good row k sits on line k + 1 (the header is line 1). Each rejected
    line r_j (j-th reject, 1-based, sorted) pushes every good row with k >= r_j - j one
    line further down.
    """
    lines = ordinals + 1
    if rejected_lines:
        rejects = np.sort(np.asarray(rejected_lines, dtype=np.int64))
        thresholds = rejects - np.arange(1, len(rejects) + 1)
        lines += np.searchsorted(thresholds, ordinals, side="right")
    return lines
