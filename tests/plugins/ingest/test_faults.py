"""Faults that must end in a clear verdict, never in silent loss or bad data: empty files,
line numbers after quoted line breaks, Parquet files whose statistics lie, absurd dates."""

from __future__ import annotations

import datetime as dt
import struct
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from telco_mart.contract import load_contract
from tests.plugins.ingest.feeds import DAY, EVENT, run, write_feed

CONTRACT = load_contract()
USAGE_COLUMNS = CONTRACT.feed("usage_events").column_names


def usage_folder(landing: Path) -> Path:
    folder = landing / "usage_events" / DAY.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_an_empty_file_is_said_to_be_empty(con, landing):
    """Zero bytes (an export that failed before writing) is rejected as empty, not as
    "missing required columns"; blank lines only, the same."""
    folder = usage_folder(landing)
    (folder / "part-1.csv").write_bytes(b"")
    (folder / "part-2.csv").write_bytes(b"\n\n")
    (folder / "part-3.parquet").write_bytes(b"")
    report = run(con, landing)
    notes = {o.source_file.rsplit("/", 1)[1]: (o.status, o.rows_read, o.note) for o in report.outcomes}
    assert notes["part-1.csv"] == ("rejected", 0, "empty file (0 bytes): no header, no rows")
    assert notes["part-2.csv"] == ("rejected", 0, "empty file (2 bytes of blank lines): no header, no rows")
    assert notes["part-3.parquet"] == ("rejected", 0, "empty file (0 bytes): no header, no rows")


def test_a_header_only_file_loads_nothing_and_says_so(con, landing):
    """A file with its header and no row is a different fault from an empty one: the export ran
    and found nothing. It is registered as loaded with 0 rows and a note (the raw gate judges
    the day's volume)."""
    folder = usage_folder(landing)
    (folder / "usage.csv").write_text(",".join(USAGE_COLUMNS) + "\n", encoding="utf-8")
    pq.write_table(pa.table({c: pa.array([], pa.string()) for c in USAGE_COLUMNS}), folder / "usage.parquet")
    report = run(con, landing)
    for name in ("usage.csv", "usage.parquet"):
        (found,) = [o for o in report.outcomes if o.source_file.endswith(name)]
        assert (found.status, found.rows_read, found.note) == ("loaded", 0, "header only: no data rows"), name


def test_source_line_is_the_physical_line_after_quoted_line_breaks(con, landing):
    """docs/ingestion.md promises the physical line: a value with line breaks in quotes
    (a note field, a name) moves every later row down, good rows and quarantined ones."""
    header = ",".join(USAGE_COLUMNS) + ",remark"

    def row(event_id: str, remark: str = "", **changes: str) -> str:
        values = {**EVENT, "event_id": event_id, **changes}
        return ",".join(values.get(c, "") for c in USAGE_COLUMNS) + "," + remark

    lines = [
        header,  # 1
        row("E1", '"first\nsecond"'),  # 2-3: the extra column holds a line break
        row("E2"),  # 4
        row("E3", charged_amount="-1"),  # 5: quarantined
        "E4,S1,2026-03-01",  # 6: malformed
        row("E5", '"a\r\nb\nc"'),  # 7-9
        row("E6", event_type='"da\nta"'),  # 10-11: quarantined, the break in a contract column
        row("E7"),  # 12
    ]
    folder = usage_folder(landing)
    (folder / "usage.csv").write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
    run(con, landing)
    assert con.execute("select event_id, _source_line from raw.usage_events order by 2").fetchall() == [
        ("E1", 2),
        ("E2", 4),
        ("E5", 7),
        ("E7", 12),
    ]
    assert con.execute("select source_line, reason from raw.quarantine order by 1").fetchall() == [
        (5, "out_of_range:charged_amount"),
        (6, "malformed_row"),
        (10, "invalid_value:event_type"),
    ]


def test_physical_lines_of_malformed_rows_after_a_quoted_line_break(con, landing):
    """The parser numbers records; a malformed record after a multi-line one is still named by its line."""
    lines = [
        ",".join(USAGE_COLUMNS),  # 1
        ",".join({**EVENT, "event_id": '"E\n1"'}.get(c, "") for c in USAGE_COLUMNS),  # 2-3
        "broken,row",  # 4
        ",".join({**EVENT, "event_id": "E2"}.get(c, "") for c in USAGE_COLUMNS),  # 5
        "",  # 6: a stray blank line (a row of empty values)
        ",".join({**EVENT, "event_id": "E3"}.get(c, "") for c in USAGE_COLUMNS),  # 7
    ]
    (usage_folder(landing) / "usage.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run(con, landing)
    assert con.execute("select source_line, split_part(reason, ';', 1) from raw.quarantine order by 1").fetchall() == [
        (4, "malformed_row"),
        (6, "missing_value:event_id"),
    ]
    assert con.execute("select event_id, _source_line from raw.usage_events order by 2").fetchall() == [
        ("E\n1", 2),
        ("E2", 5),
        ("E3", 7),
    ]


def lying_parquet(path: Path) -> None:
    """A usage file whose footer statistics still describe the values it was written with,
    after two values in its pages were overwritten (as a corrupt page or a buggy writer
    leaves them): an amount turned negative and a timestamp thrown back to 286,399 BC.

    Written uncompressed and without dictionaries, so each value sits in the file as its
    8 bytes; the changed values are neither a minimum nor a maximum, so the statistics
    (min 1.25, max 10.25; March 2026) do not change with them.
    """
    n = 10
    stamps = [dt.datetime(2026, 3, 1, 10, 0, i) for i in range(n)]
    table = pa.table(
        {
            "event_id": [f"E{i}" for i in range(n)],
            "subscriber_id": ["S1"] * n,
            "event_ts": pa.array(stamps, pa.timestamp("us")),
            "event_type": ["voice"] * n,
            "call_type": ["on_net"] * n,
            "duration_sec": pa.array([60] * n, pa.int64()),
            "data_mb": pa.array([None] * n, pa.float64()),
            "cell_id": ["C1"] * n,
            "charged_amount": [i + 1.25 for i in range(n)],
        }
    )
    pq.write_table(table, path, compression="none", use_dictionary=False, write_statistics=True)
    data = bytearray(path.read_bytes())
    micros = int(stamps[6].replace(tzinfo=dt.UTC).timestamp() * 1e6)
    for old, new in (
        (struct.pack("<d", 5.25), struct.pack("<d", -5.25)),  # E4's amount
        (struct.pack("<q", micros), struct.pack("<q", -9_100_000_000_000_000_000)),  # E6's timestamp
    ):
        assert data.count(old) == 1
        at = data.index(old)
        data[at : at + 8] = new
    path.write_bytes(bytes(data))
    stats = pq.ParquetFile(path).metadata.row_group(0)
    amount = stats.column(USAGE_COLUMNS.index("charged_amount")).statistics
    assert (amount.min, amount.max) == (1.25, 10.25), "the footer still claims no amount below 1.25"


def test_a_parquet_file_whose_statistics_lie_is_checked_on_its_values(con, landing):
    path = usage_folder(landing) / "usage.parquet"
    lying_parquet(path)
    with duckdb.connect() as plain:  # what trusting the statistics finds: nothing
        trusted = plain.execute("select count(*) from read_parquet(?) where charged_amount < 0", [str(path)])
        assert trusted.fetchall() == [(0,)]
    run(con, landing)
    assert con.execute("select source_line, reason from raw.quarantine order by 1").fetchall() == [
        (5, "out_of_range:charged_amount"),
        (7, "out_of_window:event_ts"),
    ]
    assert con.execute("select count(*), min(charged_amount), min(event_ts) from raw.usage_events").fetchall() == [
        (8, 1.25, dt.datetime(2026, 3, 1, 10, 0))
    ]
    # the optimizers are back on for what follows (the warehouse's own zone maps)
    assert con.execute("select current_setting('disabled_optimizers')").fetchall() == [("",)]


def test_dates_and_timestamps_outside_the_sane_window_are_quarantined(con, landing):
    write_feed(
        landing,
        "usage_events",
        [
            {**EVENT, "event_id": "E1", "event_ts": "1899-12-31 23:59:59"},
            {**EVENT, "event_id": "E2", "event_ts": "2200-01-01 00:00:00"},
            {**EVENT, "event_id": "E3", "event_ts": "1900-01-01 00:00:00"},  # the window's first second loads
        ],
    )
    run(con, landing)
    assert con.execute("select source_line, reason from raw.quarantine order by 1").fetchall() == [
        (2, "out_of_window:event_ts"),
        (3, "out_of_window:event_ts"),
    ]
    assert con.execute("select event_id from raw.usage_events").fetchall() == [("E3",)]


def test_a_corrupt_parquet_page_rejects_the_file_alone(con, landing):
    """A page that does not decode fails when its values are read, after the footer: the
    file is rejected with the reader's error and its row count, the others load."""
    folder = usage_folder(landing)
    pq.write_table(pa.table({k: [v] for k, v in EVENT.items()}), folder / "part-1.parquet")
    table = pa.table({k: [v] * 1000 for k, v in {**EVENT, "event_id": "E2"}.items()})
    table = table.set_column(0, "event_id", pa.array([f"E{i}" for i in range(2, 1002)]))
    pq.write_table(table, folder / "part-2.parquet", compression="snappy")
    data = bytearray((folder / "part-2.parquet").read_bytes())
    data[100:400] = b"\xff" * 300  # garbage in the first column's compressed page
    (folder / "part-2.parquet").write_bytes(bytes(data))
    write_feed(landing, "complaints", [{"complaint_id": "K1"}])
    report = run(con, landing)
    statuses = {o.source_file.rsplit("/", 1)[1]: (o.status, o.rows_read) for o in report.outcomes}
    assert statuses["part-1.parquet"] == ("loaded", 1)
    assert statuses["part-2.parquet"] == ("rejected", 1000)
    (rejected,) = [o for o in report.outcomes if o.status == "rejected"]
    assert rejected.note.startswith("unreadable parquet file:")
    assert con.execute("select current_setting('disabled_optimizers')").fetchall() == [("",)]
