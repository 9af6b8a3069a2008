"""Operator dialects on hand-written files: each one loads as the contract's own spelling would,
with every normalisation counted, and only what is really bad quarantined."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import duckdb

from telco_mart.contract import load_contract
from tests.plugins.ingest.feeds import (
    CELL,
    DAY,
    EVENT,
    PLAN,
    SUBSCRIBER,
    outcome,
    profile_file,
    quarantined,
    registry_row,
    run,
    write_feed,
)

CONTRACT = load_contract()


def write_text(landing: Path, feed: str, text: str, *, name: str | None = None, encoding: str = "utf-8") -> Path:
    folder = landing / feed / DAY.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"{feed}_{DAY.isoformat()}.csv")
    path.write_bytes(text.encode(encoding))
    return path


def usage_csv(rows: list[dict[str, str]], *, delimiter: str = ",", quote_all: bool = False) -> str:
    columns = CONTRACT.feed("usage_events").column_names

    def cell(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if quote_all else value

    lines = [delimiter.join(cell(c) for c in columns)]
    lines += [delimiter.join(cell(row.get(c, "")) for c in columns) for row in rows]
    return "\n".join(lines) + "\n"


def test_a_header_with_a_byte_order_mark_loads(con, landing):
    """ "CSV UTF-8" from a spreadsheet starts with a byte order mark: it is not part of the first name."""
    write_text(landing, "usage_events", "\ufeff" + usage_csv([EVENT]))
    report = run(con, landing)
    usage = outcome(report, "usage_events")
    assert (usage.status, usage.rows_loaded) == ("loaded", 1)
    assert con.execute("select event_id from raw.usage_events").fetchall() == [("E1",)]
    _, _, _, _, normalised_rows, counts, note = registry_row(con, "usage_events")
    assert json.loads(counts) == {"byte_order_mark": 1}
    assert "byte order mark removed" in note and normalised_rows == 0


def test_a_fully_quoted_header_loads(con, landing):
    """RFC 4180 allows every field quoted, the header's names included."""
    write_text(landing, "usage_events", usage_csv([EVENT, {**EVENT, "event_id": "E2"}], quote_all=True))
    report = run(con, landing)
    assert outcome(report, "usage_events").rows_loaded == 2
    assert quarantined(con, "usage_events") == []


def test_offsets_in_several_zones_are_stored_in_utc(con, landing):
    """A value's own UTC offset wins; the day and hour are those of UTC, not of the writer."""
    values = {
        "E1": ("2026-01-01 23:30:00-05:00", datetime(2026, 1, 2, 4, 30)),  # New York, winter
        "E2": ("2026-03-01 10:00:00+05:30", datetime(2026, 3, 1, 4, 30)),  # India
        "E3": ("2026-03-01T01:15:00+0100", datetime(2026, 3, 1, 0, 15)),  # Berlin, ISO T, no colon
        "E4": ("2026-03-01 10:00:00Z", datetime(2026, 3, 1, 10, 0)),  # Zulu
        "E5": ("2026-03-01 10:00:00", datetime(2026, 3, 1, 10, 0)),  # naive: the feed's zone, UTC
        "E6": ("2026-02-28 22:00:00-10", datetime(2026, 3, 1, 8, 0)),  # Hawaii, hours only
    }
    write_feed(landing, "usage_events", [{**EVENT, "event_id": k, "event_ts": v} for k, (v, _) in values.items()])
    run(con, landing)
    loaded = dict(con.execute("select event_id, event_ts from raw.usage_events").fetchall())
    assert loaded == {k: expected for k, (_, expected) in values.items()}
    _, _, _, _, normalised_rows, counts, _ = registry_row(con, "usage_events")
    assert (normalised_rows, json.loads(counts)) == (5, {"utc_offset:event_ts": 5})


def test_naive_timestamps_are_read_in_the_feeds_declared_zone(con, landing, tmp_path):
    profile = profile_file(tmp_path, {"feeds": {"usage_events": {"time_zone": "America/New_York"}}})
    values = {
        "E1": ("2026-01-01 23:30:00", datetime(2026, 1, 2, 4, 30)),  # EST, UTC-5
        "E2": ("2026-07-01 23:30:00", datetime(2026, 7, 2, 3, 30)),  # EDT, UTC-4
        "E3": ("2026-07-01 23:30:00+00:00", datetime(2026, 7, 1, 23, 30)),  # its own offset wins
    }
    write_feed(landing, "usage_events", [{**EVENT, "event_id": k, "event_ts": v} for k, (v, _) in values.items()])
    run(con, landing, profile)
    loaded = dict(con.execute("select event_id, event_ts from raw.usage_events").fetchall())
    assert loaded == {k: expected for k, (_, expected) in values.items()}
    _, _, _, _, normalised_rows, counts, _ = registry_row(con, "usage_events")
    assert (normalised_rows, json.loads(counts)) == (3, {"time_zone:event_ts": 2, "utc_offset:event_ts": 1})
    # the other feeds keep the profile's default zone
    assert con.execute("select updated_at from raw.cells").fetchall() == [(datetime(2026, 3, 1),)]


def test_us_dates_y_n_booleans_decimal_comma_and_semicolons(con, tmp_path):
    """A European spreadsheet export: `;` between values, decimal comma, m/d/Y dates, Y/N."""
    profile = profile_file(
        tmp_path,
        {
            "defaults": {
                "delimiter": ";",
                "decimal_separator": ",",
                "thousands_separator": ".",
                "date_formats": ["%m/%d/%Y"],
                "timestamp_formats": ["%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M"],
                "true_values": ["Y", "1"],
                "false_values": ["N", "0"],
            }
        },
    )
    landing = tmp_path / "landing"
    plan_columns = CONTRACT.feed("plans").column_names
    plans = {
        **PLAN,
        "monthly_fee": "1.234,50",  # thousands separator and decimal comma
        "data_allowance_mb": "1000",
        "voice_allowance_min": "99,5",
        "is_family_plan": "N",
    }
    family = {**plans, "plan_id": "P2", "is_family_plan": "y", "monthly_fee": "15"}
    bad = {**plans, "plan_id": "P3", "is_family_plan": "maybe"}
    text = ";".join(plan_columns) + "\n" + "\n".join(";".join(r[c] for c in plan_columns) for r in (plans, family, bad))
    write_text(landing, "plans", text + "\n")
    sub_columns = CONTRACT.feed("subscribers").column_names
    subscriber = {
        **SUBSCRIBER,
        "birth_date": "02/03/1990",
        "activation_date": "12/31/2019",
        "status_date": "1/2/2020",
        "contact_number_valid": "0",
        "updated_at": "03/01/2026 07:45",
    }
    write_text(landing, "subscribers", ";".join(sub_columns) + "\n" + ";".join(subscriber[c] for c in sub_columns))
    report = run(con, landing, profile)
    assert quarantined(con, "plans") == [(4, "unparseable:is_family_plan")]
    assert con.execute(
        "select plan_id, monthly_fee, voice_allowance_min, is_family_plan from raw.plans order by 1"
    ).fetchall() == [("P1", 1234.5, 99.5, False), ("P2", 15.0, 99.5, True)]
    assert con.execute(
        "select birth_date, activation_date, status_date, contact_number_valid, updated_at from raw.subscribers"
    ).fetchall() == [(date(1990, 2, 3), date(2019, 12, 31), date(2020, 1, 2), False, datetime(2026, 3, 1, 7, 45))]
    assert outcome(report, "subscribers").normalisations == {
        "date_format:birth_date": 1,
        "date_format:activation_date": 1,
        "date_format:status_date": 1,
        "boolean:contact_number_valid": 1,
        "timestamp_format:updated_at": 1,
    }
    _, _, loaded, _, normalised_rows, counts, _ = registry_row(con, "plans")
    assert (loaded, normalised_rows) == (2, 2)
    assert json.loads(counts) == {
        "thousands_separator:monthly_fee": 1,
        "decimal_comma:monthly_fee": 1,
        "decimal_comma:voice_allowance_min": 2,
        "boolean:is_family_plan": 2,
    }


def test_an_iso_date_is_unparseable_in_a_us_dialect(con, tmp_path):
    """The profile lists the formats the operator writes: anything else is quarantined, not guessed."""
    profile = profile_file(tmp_path, {"defaults": {"date_formats": ["%m/%d/%Y"]}})
    landing = tmp_path / "landing"
    write_feed(landing, "plans", [PLAN])
    write_feed(landing, "subscribers", [{**SUBSCRIBER, "birth_date": "1990-02-03"}])
    run(con, landing, profile)
    assert quarantined(con, "subscribers") == [
        (2, "unparseable:birth_date; unparseable:activation_date; unparseable:status_date")
    ]


def test_value_mappings_reach_the_contracts_closed_set(con, landing, tmp_path):
    profile = profile_file(
        tmp_path,
        {
            "feeds": {
                "cells": {"values": {"technology": {"LTE": "4G", "NR": "5G"}}},
                "usage_events": {"values": {"event_type": {"V": "voice", "D": "data"}}},
            }
        },
    )
    write_feed(
        landing,
        "cells",
        [
            {**CELL, "technology": "LTE"},
            {**CELL, "cell_id": "C2", "technology": "NR"},
            {**CELL, "cell_id": "C3", "technology": "3G"},  # the contract's own spelling still reads
            {**CELL, "cell_id": "C4", "technology": "WiMAX"},  # not in the set, not mapped: quarantined
        ],
    )
    write_feed(landing, "usage_events", [{**EVENT, "event_type": "V"}])
    report = run(con, landing, profile)
    assert con.execute("select cell_id, technology from raw.cells order by 1").fetchall() == [
        ("C1", "4G"),
        ("C2", "5G"),
        ("C3", "3G"),
    ]
    assert quarantined(con, "cells") == [(5, "invalid_value:technology")]
    assert outcome(report, "cells").normalisations == {"value_map:technology": 2}
    assert con.execute("select event_type from raw.usage_events").fetchall() == [("voice",)]


def test_a_feed_in_another_encoding_reads_through_the_profile(con, landing, tmp_path):
    profile = profile_file(tmp_path, {"feeds": {"subscribers": {"encoding": "cp1252"}}})
    columns = CONTRACT.feed("subscribers").column_names
    row = {**SUBSCRIBER, "full_name": "Zoë Müller"}
    write_text(
        landing, "subscribers", ",".join(columns) + "\n" + ",".join(row[c] for c in columns) + "\n", encoding="cp1252"
    )
    run(con, landing, profile)
    assert con.execute("select full_name from raw.subscribers").fetchall() == [("Zoë Müller",)]


def test_a_feed_declared_absent_is_not_a_reference_check(con, tmp_path):
    """An operator without a cell inventory: usage still loads, its cells unchecked."""
    profile = profile_file(tmp_path, {"feeds": {"cells": {"delivered": False}}})
    landing = tmp_path / "landing"
    write_feed(landing, "plans", [PLAN])
    write_feed(landing, "subscribers", [SUBSCRIBER])
    write_feed(landing, "usage_events", [EVENT, {**EVENT, "event_id": "E2", "subscriber_id": "NOPE"}])
    run(con, landing, profile)
    assert con.execute("select event_id, cell_id from raw.usage_events").fetchall() == [("E1", "C1")]
    assert quarantined(con, "usage_events") == [(3, "unknown_reference:subscriber_id")]
    # with the contract's own profile the same cells are unknown references
    again = duckdb.connect(str(tmp_path / "other.duckdb"))
    try:
        run(again, landing)
        assert quarantined(again, "usage_events") == [
            (2, "unknown_reference:cell_id"),
            (3, "unknown_reference:subscriber_id; unknown_reference:cell_id"),
        ]
    finally:
        again.close()


def test_an_existing_registry_gains_the_normalisation_columns(con, landing):
    """A warehouse from before: its registry gets the new columns, its rows keep their values."""
    con.execute("create schema raw")
    con.execute(
        """create table raw.file_registry (load_id varchar primary key, feed varchar not null,
        delivery_date date not null, source_file varchar not null, file_size bigint not null,
        checksum_sha256 varchar not null, status varchar not null, rows_read bigint not null,
        rows_loaded bigint not null, rows_quarantined bigint not null, rows_rejected bigint not null,
        note varchar, duplicate_of varchar, run_id varchar, registered_at timestamp not null)"""
    )
    con.execute(
        "insert into raw.file_registry values ('old', 'plans', date '2026-02-01', 'plans/2026-02-01/p.csv', 1, 'x', "
        "'loaded', 0, 0, 0, 0, null, null, null, timestamp '2026-02-01 00:00:00')"
    )
    write_text(landing, "usage_events", "\ufeff" + usage_csv([EVENT]))
    run(con, landing)
    rows = dict(con.execute("select load_id, rows_normalised from raw.file_registry").fetchall())
    assert rows["old"] == 0 and len(rows) == 5
