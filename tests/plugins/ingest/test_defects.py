"""Every defect the generator plants is caught, with its reason, and every file reconciles."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest


@pytest.fixture(scope="module")
def defects_con(defects_warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Read-only: the raw gate's tests judge the same warehouse."""
    con = duckdb.connect(str(defects_warehouse), read_only=True)
    yield con
    con.close()


def planted(defects_landing: Path) -> list[dict]:
    return json.loads((defects_landing / "_truth" / "defects.json").read_text())


def test_each_planted_row_defect_is_quarantined_with_its_reason(defects_landing, defects_con) -> None:
    for defect in planted(defects_landing):
        if defect["line"] is None:
            continue
        rows = defects_con.execute(
            "select reason from raw.quarantine where source_file = ? and source_line = ?",
            [defect["file"], defect["line"]],
        ).fetchall()
        assert rows, f"not quarantined: {defect}"
        assert defect["expected"] in rows[0][0].split("; "), (defect, rows)


def test_each_planted_file_defect_is_in_the_registry(defects_landing, defects_con) -> None:
    for defect in planted(defects_landing):
        if defect["line"] is not None:
            continue
        status, note = defects_con.execute(
            "select status, note from raw.file_registry where source_file = ?", [defect["file"]]
        ).fetchall()[0]
        expected = defect["expected"]
        if expected == "skipped_duplicate":
            assert status == "skipped_duplicate"
        elif expected.startswith("rejected"):
            assert status == "rejected" and "missing required columns" in note
        elif expected.startswith("extra_column_ignored:"):
            assert status == "loaded" and expected.split(":", 1)[1] in note
        else:
            pytest.fail(f"unknown file-level expectation {expected}")


def test_nothing_else_is_quarantined(defects_landing, defects_con) -> None:
    planted_lines = {(d["file"], d["line"]) for d in planted(defects_landing) if d["line"] is not None}
    quarantined = set(defects_con.execute("select source_file, source_line from raw.quarantine").fetchall())
    assert quarantined == planted_lines


def test_read_equals_loaded_plus_quarantined_for_every_file(defects_con) -> None:
    mismatched = defects_con.execute(
        """
        select r.source_file, r.rows_read, r.rows_loaded, r.rows_quarantined, r.rows_rejected,
               (select count(*) from raw.quarantine q where q.load_id = r.load_id) as quarantine_rows
        from raw.file_registry r
        where r.rows_read <> r.rows_loaded + r.rows_quarantined + r.rows_rejected
           or r.rows_quarantined <> (select count(*) from raw.quarantine q where q.load_id = r.load_id)
        """
    ).fetchall()
    assert mismatched == []


def test_loaded_rows_match_the_registry(defects_con) -> None:
    for feed, registered in defects_con.execute(
        "select feed, sum(rows_loaded) from raw.file_registry where status = 'loaded' group by 1"
    ).fetchall():
        (in_raw,) = defects_con.execute(f"select count(*) from raw.{feed}").fetchall()[0]
        assert in_raw == registered, feed
