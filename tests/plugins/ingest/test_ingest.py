"""Ingestion rules on hand-written files: registry skip/replace, quarantine reasons, line numbers."""

from __future__ import annotations

import os
import shutil
from datetime import date

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from telco_mart.ingest.reader import _physical_lines
from tests.plugins.ingest.feeds import CONTRACT, DAY, EVENT, run, write_feed


def quarantine(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, str]]:
    return con.execute(
        "select source_file, source_line, reason from raw.quarantine order by source_file, source_line"
    ).fetchall()


def registry(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select source_file, status, rows_read, rows_loaded, rows_quarantined, rows_rejected "
        "from raw.file_registry order by registered_at, source_file"
    ).fetchall()


def test_each_bad_value_is_quarantined_with_its_reason_and_line(con, landing):
    events = [
        EVENT,
        EVENT,  # duplicate key, line 3
        {**EVENT, "event_id": ""},  # line 4
        {**EVENT, "event_id": "E4", "charged_amount": "-2"},  # line 5
        {**EVENT, "event_id": "E5", "event_ts": "2026-13-45 99:00:00"},  # line 6
        {**EVENT, "event_id": "E6", "charged_amount": "abc"},  # line 7
        {**EVENT, "event_id": "E7", "subscriber_id": "NOPE"},  # line 8
        {**EVENT, "event_id": "E8", "event_type": "fax"},  # line 9
        {**EVENT, "event_id": "E9", "event_type": "data", "call_type": "", "data_mb": "12.5"},  # line 10
    ]
    write_feed(landing, "usage_events", events, tail="E10,S1,2026-03-01")  # truncated last line 11
    run(con, landing)
    got = [(line, reason) for f, line, reason in quarantine(con) if f.startswith("usage_events")]
    assert got == [
        (3, "duplicate_key"),
        (4, "missing_value:event_id"),
        (5, "out_of_range:charged_amount"),
        (6, "unparseable:event_ts"),
        (7, "unparseable:charged_amount"),
        (8, "unknown_reference:subscriber_id"),
        (9, "invalid_value:event_type"),
        (11, "malformed_row"),
    ]
    loaded = con.execute("select event_id, _source_line from raw.usage_events order by 2").fetchall()
    assert loaded == [("E1", 2), ("E9", 10)]
    (usage,) = [r for r in registry(con) if r[0].startswith("usage_events")]
    assert usage[1:] == ("loaded", 10, 2, 8, 0)


def test_a_typed_parquet_delivery_gets_every_check_in_place(con, landing):
    """Parquet is read where it lies, in the types it was delivered in; a text column (here
    the timestamp) is still converted and checked, and a row with several faults lists them
    all, values first."""
    rows = [
        # event_id, subscriber_id, event_ts (text in this file), event_type, charged_amount
        ("E1", "S1", "2026-03-01 10:00:00", "voice", 1.5),  # row 1: loads
        ("E1", "S1", "2026-03-01 10:00:00", "voice", 1.5),  # 2: repeats row 1
        (" E3 ", "NOPE", "2026-03-01 10:00:00", "voice", -2.0),  # 3: two faults
        ("E3", "S1", "2026-03-01 10:00:00", "voice", 1.0),  # 4: loads; row 3 never counted as E3
        ("E1", "NOPE", "2026-03-01 10:00:00", "voice", 1.0),  # 5: repeat and unknown subscriber
        ("E6", "S1", "not a time", "voice", 1.0),  # 6
        (None, "S1", "2026-03-01 10:00:00", "voice", 1.0),  # 7
        ("  ", "S1", "2026-03-01 10:00:00", "voice", 1.0),  # 8: blank once trimmed
        ("E9", "S1", "2026-03-01 10:00:00", "fax", 1.0),  # 9
    ]
    names = ["event_id", "subscriber_id", "event_ts", "event_type", "charged_amount"]
    table = pa.table({name: [row[i] for row in rows] for i, name in enumerate(names)})
    table = table.append_column("call_type", pa.array(["on_net"] * len(rows)))
    table = table.append_column("duration_sec", pa.array([60] * len(rows), pa.int64()))
    table = table.append_column("cell_id", pa.array(["C1"] * len(rows)))
    folder = landing / "usage_events" / DAY.isoformat()
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "usage_events.parquet")
    run(con, landing)
    assert [(line, reason) for f, line, reason in quarantine(con) if f.startswith("usage_events")] == [
        (2, "duplicate_key"),
        (3, "out_of_range:charged_amount; unknown_reference:subscriber_id"),
        (5, "duplicate_key; unknown_reference:subscriber_id"),
        (6, "unparseable:event_ts"),
        (7, "missing_value:event_id"),
        (8, "missing_value:event_id"),
        (9, "invalid_value:event_type"),
    ]
    loaded = con.execute("select event_id, _source_line, charged_amount from raw.usage_events order by 2").fetchall()
    assert loaded == [("E1", 1, 1.5), ("E3", 4, 1.0)]
    (usage,) = [r for r in registry(con) if r[0].startswith("usage_events")]
    assert usage[1:] == ("loaded", 9, 2, 7, 0)
    record = con.execute("select record from raw.quarantine where source_line = 3").fetchone()[0]
    assert '"event_id":" E3 "' in record  # the row as delivered, for whoever fixes the source


def test_a_key_delivered_in_an_earlier_file_of_the_day_is_a_duplicate(con, landing):
    """A mediation day comes in several files; a record repeated in a later one (here with
    the padding a text export adds) is quarantined, not loaded twice."""
    write_feed(landing, "usage_events", [EVENT, {**EVENT, "event_id": "E2"}], name="usage_events_part01.csv")
    write_feed(
        landing,
        "usage_events",
        [{**EVENT, "event_id": " E2 "}, {**EVENT, "event_id": "E3"}],
        name="usage_events_part02.csv",
    )
    run(con, landing)
    assert [(f.rsplit("/", 1)[1], line, reason) for f, line, reason in quarantine(con)] == [
        ("usage_events_part02.csv", 2, "duplicate_key")
    ]
    loaded = con.execute("select event_id from raw.usage_events order by 1").fetchall()
    assert loaded == [("E1",), ("E2",), ("E3",)]


def test_typed_values_land_in_raw(con, landing):
    write_feed(landing, "usage_events", [{**EVENT, "event_type": "data", "call_type": "", "data_mb": "12.5"}])
    run(con, landing)
    row = con.execute(
        "select event_ts, data_mb, duration_sec, call_type, _delivery_date from raw.usage_events"
    ).fetchall()[0]
    assert str(row[0]) == "2026-03-01 10:00:00"
    assert row[1:] == (12.5, 60, None, DAY)


def test_rerun_of_the_same_day_changes_nothing(con, landing):
    write_feed(landing, "usage_events", [EVENT, {**EVENT, "event_id": "E2", "charged_amount": "-1"}])
    run(con, landing)
    before = (registry(con), quarantine(con), con.execute("select count(*) from raw.usage_events").fetchall())
    report = run(con, landing)
    after = (registry(con), quarantine(con), con.execute("select count(*) from raw.usage_events").fetchall())
    assert before == after
    # registered and unchanged (size and mtime): not even read
    assert {(o.status, o.note) for o in report.outcomes} == {("skipped", "unchanged")}

    # touched but the same content (a copy that kept the bytes): read, found the same, skipped
    path = landing / "usage_events" / DAY.isoformat() / f"usage_events_{DAY.isoformat()}.csv"
    os.utime(path, (path.stat().st_atime + 60, path.stat().st_mtime + 60))
    touched = run(con, landing)
    assert [(o.status, o.note) for o in touched.outcomes if o.delivery_date == DAY and o.feed == "usage_events"] == [
        ("skipped", None)
    ]
    assert (registry(con), quarantine(con)) == before[:2]
    assert {o.note for o in run(con, landing).outcomes} == {"unchanged"}  # the new time is remembered


def test_duplicated_delivery_is_registered_and_not_loaded_twice(con, landing):
    path = write_feed(landing, "usage_events", [EVENT])
    shutil.copy(path, path.with_name("usage_events_2026-03-01_redelivery.csv"))
    run(con, landing)
    assert con.execute("select count(*) from raw.usage_events").fetchall() == [(1,)]
    statuses = {r[0].rsplit("/", 1)[1]: r[1] for r in registry(con)}
    assert statuses["usage_events_2026-03-01_redelivery.csv"] == "skipped_duplicate"


def test_corrected_redelivery_replaces_the_earlier_version(con, landing):
    write_feed(landing, "usage_events", [EVENT, {**EVENT, "event_id": "E2", "charged_amount": "-1"}])
    run(con, landing)
    write_feed(
        landing,
        "usage_events",
        [EVENT, {**EVENT, "event_id": "E2", "charged_amount": "1"}, {**EVENT, "event_id": "E3"}],
    )
    report = run(con, landing)
    assert [o.status for o in report.outcomes if o.feed == "usage_events"] == ["replaced_by_new"]
    assert sorted(con.execute("select event_id from raw.usage_events").fetchall()) == [
        ("E1",),
        ("E2",),
        ("E3",),
    ]
    assert [q for q in quarantine(con) if q[0].startswith("usage_events")] == []
    statuses = [r[1] for r in registry(con) if r[0].startswith("usage_events")]
    assert statuses == ["replaced", "loaded"]
    assert report.changed_dates == [DAY]


def test_missing_required_column_rejects_the_file_and_other_feeds_go_on(con, landing):
    columns = [c for c in CONTRACT.feed("complaints").column_names if c != "subscriber_id"]
    write_feed(landing, "complaints", [{"complaint_id": "K1"}, {"complaint_id": "K2"}], columns=columns)
    write_feed(landing, "usage_events", [EVENT])
    report = run(con, landing)
    (complaints,) = [o for o in report.outcomes if o.feed == "complaints"]
    assert complaints.status == "rejected"
    assert "subscriber_id" in complaints.note
    assert (complaints.rows_read, complaints.rows_rejected) == (2, 2)
    assert con.execute("select count(*) from raw.usage_events").fetchall() == [(1,)]


def test_extra_column_is_ignored_and_missing_optional_column_is_null(con, landing):
    columns = [c for c in CONTRACT.feed("usage_events").column_names if c != "data_mb"] + ["promo_flag"]
    write_feed(landing, "usage_events", [{**EVENT, "promo_flag": "Y"}], columns=columns)
    report = run(con, landing)
    (usage,) = [o for o in report.outcomes if o.feed == "usage_events"]
    assert usage.status == "loaded"
    assert "extra columns ignored: promo_flag" in usage.note
    assert con.execute("select data_mb from raw.usage_events").fetchall() == [(None,)]


def test_an_open_ended_broadband_contract_loads_with_a_null_end_date(con, landing):
    """A rolling home-broadband contract has no end date: the contract's documented open
    value is an empty end_date, which loads as null; an empty start_date is still missing."""
    contract = {
        "contract_id": "B1",
        "subscriber_id": "S1",
        "household_id": "H1",
        "start_date": "2025-06-01",
        "end_date": "",
        "speed_mbps": "100",
        "monthly_fee": "30",
        "status": "active",
        "updated_at": "2026-03-01 08:00:00",
    }
    write_feed(
        landing,
        "broadband_contracts",
        [
            contract,
            {**contract, "contract_id": "B2", "end_date": "2027-05-31"},
            {**contract, "contract_id": "B3", "start_date": ""},
        ],
    )
    run(con, landing)
    loaded = con.execute("select contract_id, end_date from raw.broadband_contracts order by 1").fetchall()
    assert loaded == [("B1", None), ("B2", date(2027, 5, 31))]
    assert [(line, reason) for f, line, reason in quarantine(con) if f.startswith("broadband_contracts")] == [
        (4, "missing_value:start_date")
    ]


def test_every_file_up_to_the_run_date_is_read_once_whenever_it_lands(con, landing):
    """No first-run special case: each run reads what the registry does not hold, for any
    delivery date up to its run date: all history at first, a late file, a skipped day."""
    later, last = date(2026, 3, 2), date(2026, 3, 3)
    write_feed(landing, "usage_events", [{**EVENT, "event_id": "E2"}], day=later)
    write_feed(landing, "usage_events", [{**EVENT, "event_id": "E3"}], day=last)
    first = run(con, landing, day=later)
    assert first.dates == [DAY, later]  # the file of Mar 3 is not the run's to read yet
    assert [o.delivery_date for o in first.outcomes if o.feed == "usage_events"] == [later]

    # a file for Mar 1 lands late, Mar 3 runs: both read, the late one named, the batch from Mar 1
    write_feed(landing, "usage_events", [{**EVENT, "event_id": "E4"}], name="usage_events_late.csv")
    second = run(con, landing, day=last)
    assert sorted((o.source_file, o.status) for o in second.outcomes if o.status != "skipped") == [
        ("usage_events/2026-03-01/usage_events_late.csv", "loaded"),
        ("usage_events/2026-03-03/usage_events_2026-03-03.csv", "loaded"),
    ]
    summary = second.summary()
    assert [d["file"] for d in summary["late_deliveries"]] == ["usage_events/2026-03-01/usage_events_late.csv"]
    assert (summary["batch_start_date"], summary["batch_end_date"]) == ("2026-03-01", "2026-03-03")
    assert con.execute("select count(*) from raw.usage_events").fetchall() == [(3,)]


def test_a_date_stays_queued_for_rebuild_until_a_build_passes(con, landing):
    """A run killed after its ingest leaves its dates queued: the next run's batch covers them."""
    from telco_mart.ledger import clear_pending_rebuilds, pending_rebuilds

    write_feed(landing, "usage_events", [EVENT])
    run(con, landing)
    assert pending_rebuilds(con) == [DAY]
    again = run(con, landing, day=date(2026, 3, 4))  # nothing new: the queued date is still in the batch
    assert again.totals()["files_loaded"] == 0 and again.summary()["batch_start_date"] == DAY.isoformat()
    clear_pending_rebuilds(con, [DAY])  # what the marts gate does once the build passed
    assert run(con, landing, day=date(2026, 3, 4)).summary()["batch_start_date"] == "2026-03-04"


def test_physical_lines_skip_rejected_lines():
    # Lines 2..8 with lines 3 and 6 rejected: good rows sit on 2, 4, 5, 7, 8.
    assert _physical_lines(np.arange(1, 6), [3, 6]).tolist() == [2, 4, 5, 7, 8]
    assert _physical_lines(np.arange(1, 4), []).tolist() == [2, 3, 4]


def test_an_unreadable_file_is_rejected_whole_and_other_files_load(con, landing):
    """A Parquet file cut short by an unfinished copy, or a CSV that is not UTF-8, is kept out
    with the reader's error; the run goes on, and the finished copy loads on the next run."""
    folder = landing / "usage_events" / DAY.isoformat()
    folder.mkdir(parents=True)
    pq.write_table(pa.table({name: [value] for name, value in EVENT.items()}), folder / "part-1.parquet")
    second = pa.table({name: [value] for name, value in {**EVENT, "event_id": "E2"}.items()})
    pq.write_table(second, folder / "part-2.parquet")
    finished = (folder / "part-2.parquet").read_bytes()
    (folder / "part-2.parquet").write_bytes(finished[: len(finished) // 2])
    complaints = write_feed(landing, "complaints", [{"complaint_id": "K1", "subscriber_id": "S1"}])
    complaints.write_bytes(complaints.read_bytes().replace(b"K1", b"K\xff1"))

    report = run(con, landing)

    rejected = {o.source_file: o for o in report.outcomes if o.status == "rejected"}
    cut_short, not_utf8 = f"usage_events/{DAY}/part-2.parquet", f"complaints/{DAY}/complaints_{DAY}.csv"
    assert sorted(rejected) == [not_utf8, cut_short]
    assert rejected[cut_short].note.startswith("unreadable parquet file:")
    assert (rejected[cut_short].rows_read, rejected[cut_short].rows_rejected) == (0, 0)
    assert rejected[not_utf8].note.startswith("unreadable csv file:")
    assert (rejected[not_utf8].rows_read, rejected[not_utf8].rows_rejected) == (1, 1)
    assert con.execute("select event_id from raw.usage_events").fetchall() == [("E1",)]
    notes = dict(con.execute("select source_file, note from raw.file_registry where status = 'rejected'").fetchall())
    assert notes[cut_short] == rejected[cut_short].note

    (folder / "part-2.parquet").write_bytes(finished)  # the copy finishes
    again = run(con, landing)
    assert [(o.source_file, o.status) for o in again.outcomes if o.source_file == cut_short] == [
        (cut_short, "replaced_by_new")
    ]
    assert sorted(con.execute("select event_id from raw.usage_events").fetchall()) == [("E1",), ("E2",)]


def test_a_reader_error_inside_the_warehouse_still_rejects_the_file_alone(con, landing, monkeypatch):
    """DuckDB aborts the transaction a failed statement ran in, so a file whose reading
    fails inside DuckDB is rejected in a transaction of its own; the next files load."""
    from telco_mart.ingest import loader

    folder = landing / "usage_events" / DAY.isoformat()
    folder.mkdir(parents=True)
    for name, event_id in (("part-1.parquet", "E1"), ("part-2.parquet", "E2")):
        pq.write_table(pa.table({k: [v] for k, v in {**EVENT, "event_id": event_id}.items()}), folder / name)
    real_stage_file = loader.stage_file

    def stage_file_failing_for_part_1(con, path, columns, *rest):
        if path.name == "part-1.parquet":
            # what a file DuckDB cannot read does to the load's transaction
            con.execute("select * from read_parquet('/nonexistent/part-1.parquet')")
        return real_stage_file(con, path, columns, *rest)

    monkeypatch.setattr(loader, "stage_file", stage_file_failing_for_part_1)
    report = run(con, landing)

    statuses = {o.source_file.rsplit("/", 1)[-1]: o.status for o in report.outcomes if o.feed == "usage_events"}
    assert statuses == {"part-1.parquet": "rejected", "part-2.parquet": "loaded"}
    rejected = next(o for o in report.outcomes if o.source_file.endswith("part-1.parquet"))
    assert rejected.note.startswith("unreadable parquet file: IO Error")
    assert con.execute("select event_id from raw.usage_events").fetchall() == [("E2",)]
    registered = con.execute(
        "select status, note from raw.file_registry where source_file like '%part-1.parquet'"
    ).fetchall()
    assert registered == [("rejected", rejected.note)]
