"""Cells keyed the way networks key them: (MCC, MNC, area code, cell identity, radio).

A real cell list repeats a cell identity in other location areas and on other radios, so a
single-column key built from it quarantines real cells as duplicates. An operator profile
composes the one ``cell_id`` every feed joins on from the parts each file carries; these
tests deliver hand-written cell, usage and cell-KPI files keyed that way.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from telco_mart.contract import load_contract
from telco_mart.contract.operator_profile import OperatorProfile, ProfileError
from tests.plugins.ingest.feeds import CELL, EVENT, outcome, profile_file, quarantined, registry_row, run, write_feed

CONTRACT = load_contract()
NETWORK_KEY = ["mcc", "mnc", "area_code", "cell_identity", "technology"]
USAGE_KEY = ["mcc", "mnc", "lac", "ci", "radio"]
#: Cell identity 7 exists in two location areas and on two radios: four different cells.
CELLS = [
    {**CELL, "cell_id": "", "mcc": "639", "mnc": "02", "area_code": area, "cell_identity": "7", "technology": radio}
    for area in ("100", "200")
    for radio in ("3G", "4G")
]


def composing_profile(tmp_path: Path) -> OperatorProfile:
    return profile_file(
        tmp_path,
        {
            "feeds": {
                "cells": {"compose": {"cell_id": NETWORK_KEY}},
                "usage_events": {"compose": {"cell_id": USAGE_KEY}},
                "cell_kpis_daily": {"compose": {"cell_id": USAGE_KEY}},
            }
        },
    )


def write_network_keyed_cells(landing: Path) -> None:
    """The operator's cell list: network identity and no cell_id column."""
    columns = [c for c in CONTRACT.feed("cells").column_names if c != "cell_id"]
    write_feed(landing, "cells", CELLS, columns=columns)


def test_cells_that_share_a_cell_identity_load_as_distinct_cells(con, landing, tmp_path):
    write_network_keyed_cells(landing)
    report = run(con, landing, composing_profile(tmp_path))
    cells = outcome(report, "cells")
    assert (cells.status, cells.rows_read, cells.rows_loaded, cells.rows_quarantined) == ("loaded", 4, 4, 0)
    loaded = con.execute(
        "select cell_id, mcc, mnc, area_code, cell_identity, technology from raw.cells order by cell_id"
    ).fetchall()
    assert loaded == [
        ("639-02-100-7-3G", "639", "02", 100, 7, "3G"),
        ("639-02-100-7-4G", "639", "02", 100, 7, "4G"),
        ("639-02-200-7-3G", "639", "02", 200, 7, "3G"),
        ("639-02-200-7-4G", "639", "02", 200, 7, "4G"),
    ]
    _, _, _, _, normalised_rows, counts, note = registry_row(con, "cells")
    assert (normalised_rows, json.loads(counts)) == (4, {"composed:cell_id": 4})
    assert note is None or "extra columns" not in note  # the parts are read, not ignored


def test_usage_and_kpis_reach_their_cell_through_the_same_parts(con, landing, tmp_path):
    write_network_keyed_cells(landing)
    usage_columns = [c for c in CONTRACT.feed("usage_events").column_names if c != "cell_id"] + USAGE_KEY
    events = [
        {**EVENT, "event_id": "E1", "mcc": "639", "mnc": "02", "lac": "200", "ci": "7", "radio": "4G"},
        {**EVENT, "event_id": "E2", "mcc": "639", "mnc": "02", "lac": " 100 ", "ci": "7", "radio": "3G"},
        # a cell the list does not have, and a record whose area is missing
        {**EVENT, "event_id": "E3", "mcc": "639", "mnc": "02", "lac": "300", "ci": "7", "radio": "4G"},
        {**EVENT, "event_id": "E4", "mcc": "639", "mnc": "02", "lac": "", "ci": "7", "radio": "4G"},
    ]
    write_feed(landing, "usage_events", events, columns=usage_columns)
    kpi_columns = [c for c in CONTRACT.feed("cell_kpis_daily").column_names if c != "cell_id"] + USAGE_KEY
    kpis = [
        {"kpi_date": "2026-03-01", "mcc": "639", "mnc": "02", "lac": area, "ci": "7", "radio": "4G"}
        | {c: "10" for c in kpi_columns if c not in ("kpi_date", *USAGE_KEY)}
        for area in ("100", "200")
    ]
    write_feed(landing, "cell_kpis_daily", kpis, columns=kpi_columns)
    run(con, landing, composing_profile(tmp_path))
    assert con.execute("select event_id, cell_id from raw.usage_events order by 1").fetchall() == [
        ("E1", "639-02-200-7-4G"),
        ("E2", "639-02-100-7-3G"),  # parts are trimmed
    ]
    lines = dict(quarantined(con, "usage_events"))
    assert sorted(lines.values()) == ["missing_value:cell_id", "unknown_reference:cell_id"]
    assert sorted(r[0] for r in con.execute("select cell_id from raw.cell_kpis_daily").fetchall()) == [
        "639-02-100-7-4G",
        "639-02-200-7-4G",
    ]


def test_without_the_profile_the_cell_list_is_refused_and_says_what_is_missing(con, landing, tmp_path):
    write_network_keyed_cells(landing)
    report = run(con, landing)
    assert outcome(report, "cells").status == "rejected"
    assert "missing required columns: cell_id" in outcome(report, "cells").note
    # with the profile but without one of the parts, the rejection names the part
    columns = [c for c in CONTRACT.feed("cells").column_names if c not in ("cell_id", "mnc")]
    path = write_feed(landing, "cells", CELLS, columns=columns, name="cells_again.csv")
    report = run(con, landing, composing_profile(tmp_path))
    (again,) = [o for o in report.outcomes if o.source_file.endswith(path.name)]
    assert again.status == "rejected"
    assert "cell_id (composed from mcc, mnc, area_code, cell_identity, technology: no mnc)" in again.note


def test_a_file_that_has_cell_id_is_read_as_it_is(con, landing, tmp_path):
    """The fixture's cell list carries cell_id: the profile's composition does not touch it."""
    run(con, landing, composing_profile(tmp_path))
    assert con.execute("select cell_id from raw.cells").fetchall() == [(CELL["cell_id"],)]
    _, _, _, _, normalised_rows, _, _ = registry_row(con, "cells")
    assert normalised_rows == 0


@pytest.mark.parametrize(
    ("compose", "message"),
    [
        ({"latitude": ["a", "b"]}, "only a text column can be composed"),
        ({"cell_id": ["ci"]}, "two or more distinct file columns"),
        ({"cell_id": ["ci", "ci"]}, "two or more distinct file columns"),
        ({"no_such": ["a", "b"]}, "has no column 'no_such'"),
    ],
)
def test_a_malformed_composition_is_refused_with_where(tmp_path, compose, message):
    with pytest.raises(ProfileError, match=message) as refused:
        profile_file(tmp_path, {"feeds": {"cells": {"compose": compose}}})
    assert "feeds.cells.compose" in str(refused.value)


def test_a_parquet_cell_list_with_typed_parts_composes_the_same_key(con, landing, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (landing / "cells" / "2026-03-01" / "cells_2026-03-01.csv").unlink()
    columns = [c for c in CONTRACT.feed("cells").column_names if c != "cell_id"]
    table = pa.table({c: [row.get(c) or None for row in CELLS] for c in columns})
    table = table.set_column(
        columns.index("area_code"), "area_code", pa.array([int(r["area_code"]) for r in CELLS], pa.int64())
    )
    pq.write_table(table, landing / "cells" / "2026-03-01" / "cells.parquet")
    run(con, landing, composing_profile(tmp_path))
    assert sorted(r[0] for r in con.execute("select cell_id from raw.cells").fetchall()) == [
        "639-02-100-7-3G",
        "639-02-100-7-4G",
        "639-02-200-7-3G",
        "639-02-200-7-4G",
    ]


def test_a_warehouse_from_before_the_parts_existed_takes_them_in_place(con, landing, tmp_path):
    """raw.cells created without the network-identity columns (an older release) gets them
    appended by the next run; the rows it held stay, with no parts, and new rows load by name."""
    parts = {"mcc", "mnc", "area_code", "cell_identity"}
    old_columns = [c for c in CONTRACT.feed("cells").columns if c.name not in parts]
    con.execute("create schema raw")
    con.execute(
        "create table raw.cells ("
        + ", ".join(f"{c.name} {c.duckdb_type}" for c in old_columns)
        + ", _source_file varchar, _source_line bigint, _delivery_date date, _load_id varchar, _loaded_at timestamp)"
    )
    con.execute(
        "insert into raw.cells values ('OLD', 'SITE0', 'north', '2G', 0, 0, null, '2026-01-01', "
        "'cells/2026-01-01/c.csv', 2, '2026-01-01', 'l0', '2026-01-01')"
    )
    write_network_keyed_cells(landing)
    (landing / "cells" / "2026-03-01" / "cells_2026-03-01.csv").rename(landing / "cells" / "2026-03-01" / "n.csv")
    run(con, landing, composing_profile(tmp_path))
    rows = con.execute("select cell_id, mnc, area_code, site_id from raw.cells order by cell_id").fetchall()
    assert rows[0] == ("639-02-100-7-3G", "02", 100, CELL["site_id"])
    assert ("OLD", None, None, "SITE0") in rows and len(rows) == 5
