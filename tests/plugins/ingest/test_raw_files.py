"""Raw feeds stored as Parquet (contract ``storage: parquet``): each loaded file is one
warehouse-owned file of its delivery date's partition, listed in ``raw.stored_files`` and read
through the ``raw`` view; corrections, rejects and failures leave raw equal to what the landed
files say, recomputed here from the files themselves with nothing of ingestion's."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest

from telco_mart.contract import load_contract
from telco_mart.ingest import loader
from telco_mart.schema import ensure_raw_schema, raw_files_root, raw_table_ddl, sha256_of, store_raw_rows
from tests.plugins.ingest.feeds import CELL, DAY, EVENT, PLAN, SUBSCRIBER, run, write_feed

USAGE = load_contract().feed("usage_events")
NEXT = DAY + timedelta(days=1)


def recomputed(landing: Path) -> list[tuple[str, str, int, float]]:
    """What raw.usage_events must hold by the contract, read from the landed CSVs alone:
    per delivery date, each event_id's first row whose amount is a number of at least 0."""
    expected = []
    for day_dir in sorted((landing / "usage_events").iterdir()):
        seen: set[str] = set()
        for path in sorted(day_dir.glob("*.csv")):
            with path.open(encoding="utf-8", newline="") as fh:
                for line, row in enumerate(csv.DictReader(fh), start=2):
                    try:
                        amount = float(row["charged_amount"])
                    except ValueError:
                        continue
                    if amount < 0 or row["event_id"] in seen:
                        continue
                    seen.add(row["event_id"])
                    expected.append((day_dir.name, row["event_id"], line, amount))
    return sorted(expected)


def in_raw(con) -> list[tuple[str, str, int, float]]:
    rows = con.execute(
        "select _delivery_date::varchar, event_id, _source_line, charged_amount from raw.usage_events"
    ).fetchall()
    return sorted(rows)


def stored_on_disk(con) -> list[str]:
    root = raw_files_root(con)
    return sorted(p.relative_to(root).as_posix() for p in root.glob("usage_events/*/*.parquet"))


def events(prefix: str, n: int, **overrides: str) -> list[dict[str, str]]:
    return [{**EVENT, "event_id": f"{prefix}{i}", **overrides} for i in range(n)]


def test_each_loaded_file_is_one_parquet_file_of_its_partition_listed_with_rows_and_checksum(con, landing):
    write_feed(landing, "usage_events", events("A", 3))
    for feed, row in (("plans", PLAN), ("subscribers", SUBSCRIBER), ("cells", CELL)):
        write_feed(landing, feed, [row], day=NEXT)
    write_feed(landing, "usage_events", events("B", 2), day=NEXT)
    run(con, landing, day=NEXT)

    assert con.execute(
        "select table_type from information_schema.tables where table_schema = 'raw' and table_name = 'usage_events'"
    ).fetchall() == [("VIEW",)]
    listed = con.execute(
        "select s.path, s.row_count, s.checksum_sha256, r.rows_loaded, s.load_id = r.load_id "
        "from raw.stored_files s join raw.file_registry r on r.source_file = s.source_file and r.status = 'loaded' "
        "order by s.path"
    ).fetchall()
    assert [path.split("/")[1] for path, *_ in listed] == [f"_delivery_date={DAY}", f"_delivery_date={NEXT}"]
    assert stored_on_disk(con) == [path for path, *_ in listed]
    root = raw_files_root(con)
    for path, rows, checksum, rows_loaded, same_load in listed:
        assert (rows, checksum, same_load) == (rows_loaded, sha256_of(root / path), True)
    assert in_raw(con) == recomputed(landing)
    assert root == Path(
        con.execute("select path from duckdb_databases() where database_name = current_database()").fetchone()[0]
    ).with_name("warehouse.raw")


def test_a_file_with_rejects_stores_only_its_valid_rows(con, landing):
    rows = [*events("A", 4), {**EVENT, "event_id": "A1"}, {**EVENT, "event_id": "A9", "charged_amount": "-2"}]
    write_feed(landing, "usage_events", rows)
    report = run(con, landing)
    usage = next(o for o in report.outcomes if o.feed == "usage_events")
    assert (usage.rows_read, usage.rows_loaded, usage.rows_quarantined) == (6, 4, 2)
    assert in_raw(con) == recomputed(landing)
    assert con.execute("select sum(row_count) from raw.stored_files").fetchall() == [(4,)]


def test_a_corrected_redelivery_swaps_the_partitions_file(con, landing):
    write_feed(landing, "usage_events", events("A", 3))
    run(con, landing)
    before = stored_on_disk(con)
    write_feed(landing, "usage_events", [*events("A", 2, charged_amount="2.5"), *events("C", 2)])
    report = run(con, landing)
    assert [o.status for o in report.outcomes if o.feed == "usage_events"] == ["replaced_by_new"]
    assert in_raw(con) == recomputed(landing)
    after = stored_on_disk(con)
    assert len(after) == 1 and after != before  # the earlier version's file is gone from disk


def test_a_failed_ingest_leaves_the_last_good_rows_and_its_file_is_swept(con, landing, monkeypatch):
    write_feed(landing, "usage_events", events("A", 3))
    run(con, landing)
    good = recomputed(landing)
    files_before = stored_on_disk(con)

    write_feed(landing, "usage_events", events("B", 5))

    def register_fails(*args, **kwargs):
        raise OSError("disk gone while registering")

    monkeypatch.setattr(loader, "_register", register_fails)
    with pytest.raises(OSError, match="disk gone"):
        run(con, landing)
    assert in_raw(con) == good  # the corrected file's rows never became part of raw
    assert len(stored_on_disk(con)) == 2  # its file was written before the rollback ...
    monkeypatch.undo()

    report = run(con, landing)  # ... and the next run loads it again and sweeps the orphan
    assert [o.status for o in report.outcomes if o.feed == "usage_events"] == ["replaced_by_new"]
    assert in_raw(con) == recomputed(landing) != good
    assert len(stored_on_disk(con)) == 1 and stored_on_disk(con) != files_before


def test_a_retracted_delivery_takes_its_file_with_it(con, landing):
    path = write_feed(landing, "usage_events", events("A", 2))
    run(con, landing)
    loader.retract_delivery(con, path.relative_to(landing).as_posix(), "ops", "sent by mistake")
    assert in_raw(con) == []
    assert stored_on_disk(con) == []


def test_a_warehouse_with_the_feed_as_a_table_has_its_rows_moved_into_files(con, landing):
    """An upgrade: the rows a table held stay, with their lineage, one file per loaded file."""
    write_feed(landing, "usage_events", events("A", 3))
    run(con, landing)
    loaded = con.execute("select * from raw.usage_events order by _source_line").fetchall()
    con.execute("create table old_layout as select * from raw.usage_events")
    con.execute("drop view raw.usage_events")
    con.execute("delete from raw.stored_files")
    con.execute(raw_table_ddl(USAGE))
    con.execute("insert into raw.usage_events select * from old_layout")
    ensure_raw_schema(con)
    assert con.execute("select * from raw.usage_events order by _source_line").fetchall() == loaded
    assert con.execute("select count(*), sum(row_count) from raw.stored_files").fetchall() == [(1, 3)]
    assert [proven for *_, proven in proofs(con)] == [True]  # the moved rows' keys, proven on the way
    assert len(stored_on_disk(con)) == 2  # the new file and the old one, swept by the next ingest
    run(con, landing)
    assert len(stored_on_disk(con)) == 1


def proofs(con) -> list[tuple[str, str, bool | None]]:
    return con.execute(
        "select delivery_date::varchar, source_file, keys_proven from raw.stored_files order by all"
    ).fetchall()


def test_each_stored_file_records_the_key_proof_that_staging_relies_on(con, landing):
    """The day's second part file repeats a key of the first: that row is quarantined, and both
    stored files say their keys were proven unique in the partition (staging's key test reads
    this instead of hashing the keys again: tests/generic/unique_as_proven_at_ingest.sql)."""
    write_feed(landing, "usage_events", events("A", 3), name="usage_events_part01.csv")
    write_feed(landing, "usage_events", [*events("A", 1), *events("B", 2)], name="usage_events_part02.csv")
    report = run(con, landing)
    assert [(o.rows_loaded, o.rows_quarantined) for o in report.outcomes if o.feed == "usage_events"] == [
        (3, 0),
        (2, 1),
    ]
    assert in_raw(con) == recomputed(landing)
    assert [proven for *_, proven in proofs(con)] == [True, True]
    keys, distinct = con.execute("select count(*), count(distinct event_id) from raw.usage_events").fetchone()
    assert keys == distinct == 5


def test_files_stored_unchecked_are_proven_once_by_the_next_schema_check(con, landing):
    """A warehouse from before the flag, or rows stored without ingestion's check: the next
    ensure_raw_schema (every ingest runs it) hashes those partitions' keys once and records
    the verdict; a partition with a repeated key is false, which fails staging's key test."""
    write_feed(landing, "usage_events", events("A", 3))
    write_feed(landing, "usage_events", events("B", 2), day=NEXT)
    for feed, row in (("plans", PLAN), ("subscribers", SUBSCRIBER), ("cells", CELL)):
        write_feed(landing, feed, [row], day=NEXT)
    run(con, landing, day=NEXT)
    con.execute("update raw.stored_files set keys_proven = null")  # as an upgrade finds them
    store_raw_rows(  # one event of the next day stored again, unchecked
        con,
        USAGE,
        "select * exclude (_delivery_date) from raw.usage_events where event_id = 'B0'",
        [],
        delivery_date=NEXT,
        source_file="by hand",
        load_id="by hand",
        keys_proven=None,
    )
    ensure_raw_schema(con)
    assert proofs(con) == [
        (str(DAY), f"usage_events/{DAY}/usage_events_{DAY}.csv", True),
        (str(NEXT), "by hand", False),
        (str(NEXT), f"usage_events/{NEXT}/usage_events_{NEXT}.csv", False),
    ]
