"""Raw feeds stored as Parquet (contract ``storage: parquet``): each loaded file is one
warehouse-owned file of its delivery date's partition, listed in ``raw.stored_files`` and read
through the ``raw`` view; corrections, rejects and failures leave raw equal to what the landed
files say, recomputed here from the files themselves with nothing of ingestion's."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from telco_mart import schema
from telco_mart.contract import load_contract
from telco_mart.ingest import loader
from telco_mart.schema import (
    LandedFileChanged,
    ensure_raw_schema,
    raw_files_root,
    raw_table_ddl,
    sha256_of,
    store_raw_rows,
)
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


# ----- typed Parquet deliveries: a clean file is kept as landed, any other is written

#: The Parquet type of each contract type, as a mediation export writes them.
ARROW_TYPES = {"string": pa.string(), "integer": pa.int64(), "double": pa.float64(), "timestamp": pa.timestamp("us")}


def _arrow_value(text: str | None, contract_type: str) -> object:
    if contract_type == "string" or text is None:
        return text
    if text == "":
        return None
    return {"integer": int, "double": float, "timestamp": datetime.fromisoformat}[contract_type](text)


def write_usage_parquet(
    landing: Path, rows: list[dict[str, str]], *, day=DAY, text_columns: tuple[str, ...] = (), extra: str = ""
) -> Path:
    """Usage rows as a typed Parquet delivery: each contract column in its own type, but
    ``text_columns`` as text; ``extra`` adds a column the contract does not have."""
    arrays = {}
    for column in USAGE.columns:
        if column.name in text_columns:
            arrays[column.name] = pa.array([row.get(column.name) for row in rows], pa.string())
        else:
            values = [_arrow_value(row.get(column.name), column.type) for row in rows]
            arrays[column.name] = pa.array(values, ARROW_TYPES[column.type])
    if extra:
        arrays[extra] = pa.array(["x"] * len(rows), pa.string())
    folder = landing / "usage_events" / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"usage_events_{day.isoformat()}.parquet"
    pq.write_table(pa.table(arrays), path)
    return path


def recomputed_from_parquet(landing: Path) -> list[tuple[str, str, int, float]]:
    """What raw.usage_events must hold, read from the landed Parquet files alone: per delivery
    date, each trimmed event_id's first row whose amount is at least 0, with its row number."""
    expected = []
    for day_dir in sorted((landing / "usage_events").iterdir()):
        seen: set[str] = set()
        for path in sorted(day_dir.glob("*.parquet")):
            for line, row in enumerate(pq.read_table(path).to_pylist(), start=1):
                key, amount = (row["event_id"] or "").strip(), row["charged_amount"]
                if not key or key in seen or amount is None or float(amount) < 0:
                    continue
                seen.add(key)
                expected.append((day_dir.name, key, line, float(amount)))
    return sorted(expected)


def stored_as(con) -> list[tuple[str, bool, bool]]:
    """Per stored usage file: its landed file, whether kept as landed, whether its keys were proven."""
    return con.execute(
        "select source_file, landed_as_is, keys_proven from raw.stored_files where feed = 'usage_events' order by all"
    ).fetchall()


def test_a_clean_parquet_delivery_is_kept_as_landed_and_read_with_its_lineage(con, landing):
    """The landed file is the stored file, byte for byte (its checksum the registry's), and
    the view gives it the lineage a written file holds: its file, load and row number."""
    landed = write_usage_parquet(landing, events("A", 4))
    run(con, landing)
    rel = landed.relative_to(landing).as_posix()
    assert stored_as(con) == [(rel, True, True)]
    path, checksum, load_id, stored_at = con.execute(
        "select path, checksum_sha256, load_id, stored_at from raw.stored_files"
    ).fetchone()
    assert (raw_files_root(con) / path).read_bytes() == landed.read_bytes()
    assert (
        con.execute("select checksum_sha256, load_id from raw.file_registry where source_file = ?", [rel]).fetchone()
        == (checksum, load_id)
        == (sha256_of(landed), load_id)
    )
    assert in_raw(con) == recomputed_from_parquet(landing)
    assert con.execute("select distinct _source_file, _load_id, _loaded_at from raw.usage_events").fetchall() == [
        (rel, load_id, stored_at)
    ]
    assert con.execute("select data_mb, duration_sec from raw.usage_events limit 1").fetchone() == (None, 60)


@pytest.mark.parametrize(
    ("case", "rows", "options"),
    [
        ("a rejected row", [*events("A", 3), {**EVENT, "event_id": "A9", "charged_amount": "-2"}], {}),
        ("a padded key", [*events("A", 3), {**EVENT, "event_id": " A7 "}], {}),
        ("a blank optional value", [*events("A", 3), {**EVENT, "event_id": "A8", "call_type": ""}], {}),
        ("a column raw does not hold", events("A", 3), {"extra": "imsi"}),
        ("a timestamp as text", events("A", 3), {"text_columns": ("event_ts",)}),
    ],
)
def test_a_parquet_delivery_that_loading_would_change_is_written_not_kept(con, landing, case, rows, options):
    landed = write_usage_parquet(landing, rows, **options)
    run(con, landing)
    assert stored_as(con) == [(landed.relative_to(landing).as_posix(), False, True)], case
    assert in_raw(con) == recomputed_from_parquet(landing), case
    assert "imsi" not in [c for (c,) in con.execute("select column_name from (describe raw.usage_events)").fetchall()]
    assert con.execute("select count(*) from raw.usage_events where call_type = ''").fetchone() == (0,)


def test_corrected_parquet_redeliveries_replace_the_kept_file(con, landing):
    """Kept, replaced by a clean correction (kept), then by one with a reject (written): raw
    is each version's rows and only the last version's file stays on disk."""
    write_usage_parquet(landing, events("A", 3))
    run(con, landing)
    for rows, kept in (
        ([*events("A", 2, charged_amount="2.5"), *events("C", 2)], True),
        ([*events("D", 2), {**EVENT, "event_id": "D9", "charged_amount": "-1"}], False),
    ):
        landed = write_usage_parquet(landing, rows)
        report = run(con, landing)
        assert [o.status for o in report.outcomes if o.feed == "usage_events"] == ["replaced_by_new"]
        assert stored_as(con) == [(landed.relative_to(landing).as_posix(), kept, True)]
        assert in_raw(con) == recomputed_from_parquet(landing)
        run(con, landing)  # the next run sweeps the replaced file
        assert len(stored_on_disk(con)) == 1


def test_a_failed_ingest_of_a_clean_parquet_delivery_keeps_the_last_good_rows(con, landing, monkeypatch):
    write_usage_parquet(landing, events("A", 3))
    run(con, landing)
    good = recomputed_from_parquet(landing)
    write_usage_parquet(landing, events("B", 5))
    monkeypatch.setattr(loader, "_register", lambda *a, **k: (_ for _ in ()).throw(OSError("disk gone")))
    with pytest.raises(OSError, match="disk gone"):
        run(con, landing)
    assert in_raw(con) == good and len(stored_on_disk(con)) == 2  # the copy was made, never listed
    monkeypatch.undo()
    run(con, landing)
    assert in_raw(con) == recomputed_from_parquet(landing) != good
    assert len(stored_on_disk(con)) == 1


def test_a_delivery_that_changes_while_it_is_loaded_is_not_kept(con, landing, monkeypatch):
    """The file is overwritten between its checks and its copy (a transfer still writing it):
    the copy's checksum is not the checked file's, nothing is stored, and the next run loads
    the file as it then is."""
    write_usage_parquet(landing, events("A", 3))
    run(con, landing)
    good = recomputed_from_parquet(landing)
    landed = write_usage_parquet(landing, events("B", 3))
    copy = schema._copy_hashing

    def overwritten_first(source: Path, target: Path) -> str:
        if source == landed:
            write_usage_parquet(landing, events("C", 4))
        return copy(source, target)

    monkeypatch.setattr(schema, "_copy_hashing", overwritten_first)
    with pytest.raises(LandedFileChanged, match="changed while it was loaded"):
        run(con, landing)
    monkeypatch.undo()
    assert in_raw(con) == good
    run(con, landing)
    assert in_raw(con) == recomputed_from_parquet(landing) != good
    assert {event_id[0] for _, event_id, *_ in in_raw(con)} == {"C"}
