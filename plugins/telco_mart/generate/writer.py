"""Writes one feed's rows of one delivery day as the file the contract describes.

Columns are selected and cast from the contract on every write, so a builder that gets a
column's order or type wrong fails here, loudly, rather than landing a file that ingestion
would half-accept.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from telco_mart.contract import Contract, Feed

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

    def __init__(self, out: Path, fmt: str, contract: Contract) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
        self.out = out
        self.fmt = fmt
        self.contract = contract
        self.written: set[Path] = set()
        self.rows_per_feed: dict[str, int] = dict.fromkeys(contract.feeds, 0)

    def write(self, feed_name: str, day: dt.date, table: pa.Table | None, suffix: str = "") -> Path | None:
        """The file written, or None when there was nothing to deliver; ``suffix`` names one
        of several files of the feed and day (see ``feed_file``)."""
        feed = self.contract.feed(feed_name)
        schema = arrow_schema(feed, self.fmt)
        if table is None or table.num_rows == 0:
            if not feed.is_due(day):
                return None
            table = schema.empty_table()
        if table.column_names != schema.names:
            raise ValueError(f"{feed_name}: built columns {table.column_names} are not the contract's {schema.names}")
        table = table.cast(schema)
        path = feed_file(self.out, feed_name, day, self.fmt, suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.fmt == "csv":
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
