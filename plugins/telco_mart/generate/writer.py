"""Writes one feed's rows of one delivery day as the file the contract describes.

Columns are selected and cast from the contract on every write, so a builder that gets a
column's order or type wrong fails here, loudly, rather than landing a file that ingestion
would half-accept.

With an operator profile (``telco-mart generate --dialect``), CSV files are written the way
that operator writes them (:mod:`telco_mart.contract.operator_profile`): encoding and byte order mark,
delimiter and quoting, decimal comma, date and timestamp formats (timestamps in the feed's
zone, with their UTC offset when the format has ``%z``), boolean spellings and the operator's
spellings of the closed value sets. The same world then loads to the same rows under that
profile, which is what the dialect end-to-end test holds the pipeline to.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from telco_mart.contract import Contract, Feed
from telco_mart.contract.operator_profile import ISO, FeedDialect, OperatorProfile

FORMATS = ("csv", "parquet")

#: Contract type -> Arrow type of the Parquet column.
ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}

# Arrow renders timestamp[s] as "YYYY-MM-DD HH:MM:SS", the contract's CSV form; coarser
# than the Parquet microseconds, but every generated timestamp is whole seconds.
_CSV_TYPES = {**ARROW_TYPES, "timestamp": pa.timestamp("s")}
# "none" quoting raises if a value would need quotes, so a stray comma in generated text
# fails the run instead of shifting columns in a file. Arrow quotes header names whatever
# the style, so the header line is written separately, bare like the values.
_CSV_OPTIONS = pa_csv.WriteOptions(include_header=False, quoting_style="none", batch_size=65_536)


def _spelled(feed: Feed, table: pa.Table, dialect: FeedDialect) -> pa.Table:
    """Every column as the text the dialect writes for it (nulls stay null: empty fields)."""
    columns = []
    for column in feed.columns:
        values = table.column(column.name)
        if column.type == "timestamp":
            fmt = dialect.timestamp_formats[0]
            if fmt == ISO and dialect.is_utc:
                text = values.cast(pa.string())
            else:
                local = pc.assume_timezone(values, "UTC").cast(pa.timestamp("s", tz=dialect.time_zone))
                text = pc.strftime(local, format="%Y-%m-%d %H:%M:%S" if fmt == ISO else fmt)
        elif column.type == "date":
            fmt = dialect.date_formats[0]
            text = values.cast(pa.string()) if fmt == ISO else pc.strftime(values, format=fmt)
        elif column.type == "boolean" and (dialect.true_values or dialect.false_values):
            yes = dialect.true_values[0] if dialect.true_values else "true"
            no = dialect.false_values[0] if dialect.false_values else "false"
            text = pc.if_else(values, yes, no)
        else:
            text = values.cast(pa.string())
            if column.type == "double" and dialect.decimal_separator != ".":
                text = pc.replace_substring(text, ".", dialect.decimal_separator)
            for contract_value, spelled in _spellings(dialect, column.name).items():
                text = pc.if_else(pc.equal(text, contract_value), spelled, text)
        columns.append(text)
    return pa.table(columns, names=feed.column_names)


def _spellings(dialect: FeedDialect, column: str) -> dict[str, str]:
    """Contract value -> the operator's first spelling of it."""
    out: dict[str, str] = {}
    for spelled, value in dialect.values.get(column, {}).items():
        out.setdefault(value, spelled)
    return out


def write_dialect_csv(path: Path, feed: Feed, table: pa.Table, dialect: FeedDialect) -> None:
    """``table`` (typed, the contract's columns) as the CSV file the dialect's operator delivers."""
    if dialect.quote_char not in ('"', None):
        raise ValueError(f"{feed.name}: the generator writes CSV quoted with '\"' only, not {dialect.quote_char!r}")
    text = _spelled(feed, table, dialect)
    quote = dialect.quote_all and dialect.quote_char is not None
    header = dialect.delimiter.join(f'"{name}"' if quote else name for name in feed.column_names)
    buffer = io.BytesIO()
    pa_csv.write_csv(
        text,
        buffer,
        pa_csv.WriteOptions(
            include_header=False,
            delimiter=dialect.delimiter,
            quoting_style="all_valid" if quote else ("needed" if dialect.quote_char else "none"),
            batch_size=65_536,
        ),
    )
    body = (header + "\n").encode("utf-8") + buffer.getvalue()
    if dialect.encoding not in ("utf-8", "utf_8"):
        body = body.decode("utf-8").encode(dialect.encoding)
    with path.open("wb") as stream:
        if dialect.bom:
            stream.write("\ufeff".encode(dialect.encoding))
        stream.write(body)


def arrow_schema(feed: Feed, fmt: str = "parquet") -> pa.Schema:
    types = _CSV_TYPES if fmt == "csv" else ARROW_TYPES
    return pa.schema([pa.field(c.name, types[c.type]) for c in feed.columns])


def feed_file(out: Path, feed: str, day: dt.date, fmt: str, suffix: str = "") -> Path:
    """``out/<feed>/<YYYY-MM-DD>/<feed>_<YYYY-MM-DD>[_<suffix>].<fmt>``, the landing layout; a
    suffix names a second file of the same feed and day (ingestion loads every file of a day)."""
    stamp = day.isoformat()
    return out / feed / stamp / f"{feed}_{stamp}{'_' + suffix if suffix else ''}.{fmt}"


class FeedWriter:
    """Writes every feed of every day, counting files and rows for the run summary.

    A feed with nothing to deliver on a day it is due (its contract cadence: every day for a
    daily feed) gets a header-only file, as a real extract job delivers one: the warehouse
    tells a quiet day from a missing delivery by it, and consent feeds (opt-outs) must be
    complete before any list is published. On other days (an on-change feed without
    changes, a monthly feed between its due days) it gets no file.
    """

    def __init__(self, out: Path, fmt: str, contract: Contract, profile: OperatorProfile | None = None) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
        if profile is not None and fmt != "csv":
            raise ValueError("an operator dialect is written as CSV (fmt='csv')")
        self.out = out
        self.fmt = fmt
        self.contract = contract
        self.profile = profile
        self.written: set[Path] = set()
        self.rows_per_feed: dict[str, int] = dict.fromkeys(contract.feeds, 0)

    def write(self, feed_name: str, day: dt.date, table: pa.Table | None, suffix: str = "") -> Path | None:
        """The file written, or None when there was nothing to deliver; ``suffix`` names one
        of several files of the feed and day (see ``feed_file``)."""
        dialect = self.profile.feed(feed_name) if self.profile else None
        if dialect is not None and not dialect.delivered:
            return None  # the operator has no such feed
        feed = self.contract.feed(feed_name)
        schema = arrow_schema(feed, self.fmt)
        if table is None or table.num_rows == 0:
            if not feed.is_due(day):
                return None
            table = schema.empty_table()
        if table.column_names != schema.names:
            raise ValueError(f"{feed_name}: built columns {table.column_names} are not the contract's {schema.names}")
        table = table.cast(schema)
        if self.fmt == "csv":
            # pyarrow 26's CSV writer reads past an empty string chunk without a data buffer
            # (a day's contact history is concatenated from per-day tables, some empty) and
            # wrote megabytes of unrelated memory into the file: one chunk per column avoids it
            table = table.combine_chunks()
        path = feed_file(self.out, feed_name, day, self.fmt, suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        if dialect is not None and dialect != FeedDialect(feed=feed_name):
            write_dialect_csv(path, feed, table, dialect)
        elif self.fmt == "csv":
            with path.open("wb") as stream:
                stream.write((",".join(schema.names) + "\n").encode("utf-8"))
                pa_csv.write_csv(table, stream, _CSV_OPTIONS)
        else:
            # Dictionary pages pay off for repeated strings (subscriber, cell, category) but
            # cost time on unique keys, so only non-key string columns get them.
            repeated = [c.name for c in feed.columns if c.type == "string" and c.name not in feed.key]
            pq.write_table(table, path, compression="zstd", use_dictionary=repeated)
        self.written.add(path)
        self.rows_per_feed[feed_name] += table.num_rows
        return path
