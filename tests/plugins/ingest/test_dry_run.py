"""The dry run: each file's verdict and its reasons, through the real ingestion, and the warehouse untouched."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from telco_mart.cli import main
from telco_mart.contract.operator_profile import load_profile
from telco_mart.ingest import ingest
from telco_mart.ingest.dry_run import dry_run
from tests.plugins.ingest.feeds import CELL, DAY, EVENT, PLAN, SUBSCRIBER, write_feed

NEXT = DAY + timedelta(days=1)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A warehouse that loaded DAY, a landing that also holds NEXT in a Y/N, m/d/Y dialect."""
    landing = tmp_path / "landing"
    write_feed(landing, "plans", [PLAN])
    write_feed(landing, "subscribers", [SUBSCRIBER])
    write_feed(landing, "cells", [CELL])
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        ingest(con, landing, DAY, progress=lambda _: None)
    write_feed(
        landing,
        "usage_events",
        [
            {**EVENT, "event_ts": "03/02/2026 10:00:00"},
            {**EVENT, "event_id": "E2", "event_ts": "03/02/2026 11:00:00", "event_type": "DATA", "data_mb": '"2,5"'},
            {**EVENT, "event_id": "E3", "event_ts": "2026-03-02 12:00:00"},  # not the operator's format
            {**EVENT, "event_id": "E4", "event_ts": "03/02/2026 13:00:00", "subscriber_id": "S9"},
            {**EVENT, "event_id": "E5", "event_ts": "03/02/2026 14:00:00", "charged_amount": "-1"},
        ],
        day=NEXT,
    )
    write_feed(landing, "complaints", [{"complaint_id": "K1"}], day=NEXT, columns=["complaint_id"])
    profile = tmp_path / "operator.yml"
    profile.write_text(
        yaml.safe_dump(
            {
                "feeds": {
                    "usage_events": {
                        "timestamp_formats": ["%m/%d/%Y %H:%M:%S"],
                        "decimal_separator": ",",
                        "values": {"event_type": {"DATA": "data"}},
                    }
                }
            }
        ),
        encoding="utf-8",
    )
    return landing, warehouse, profile


def fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_each_file_gets_its_verdict_and_the_warehouse_is_untouched(setup) -> None:
    landing, warehouse, profile_path = setup
    before = fingerprint(warehouse)
    report = dry_run(landing, [DAY, NEXT], warehouse=warehouse, profile=load_profile(str(profile_path)))
    assert fingerprint(warehouse) == before
    verdicts = {f.outcome.source_file.split("/")[0]: f for f in report.files}
    assert {feed: v.as_dict()["verdict"] for feed, v in verdicts.items()} == {
        "plans": "already loaded",
        "subscribers": "already loaded",
        "cells": "already loaded",
        "usage_events": "would load",
        "complaints": "would reject",
    }
    usage = verdicts["usage_events"].as_dict()
    # E1 and E2 load; E2 is normalised three ways; the subscriber comes from the warehouse
    assert (usage["rows_read"], usage["rows_loaded"], usage["rows_quarantined"]) == (5, 2, 3)
    assert usage["normalisations"] == {
        "decimal_comma:data_mb": 1,
        "timestamp_format:event_ts": 2,
        "value_map:event_type": 1,
    }
    assert usage["quarantine"] == {
        "unparseable:event_ts": {"rows": 1, "lines": [4]},
        "unknown_reference:subscriber_id": {"rows": 1, "lines": [5]},
        "out_of_range:charged_amount": {"rows": 1, "lines": [6]},
    }
    assert "missing required columns" in verdicts["complaints"].outcome.note
    text = report.describe()
    assert f"would load      usage_events/{NEXT}/usage_events_{NEXT}.csv: read 5, load 2, quarantine 3" in text
    assert "unparseable:event_ts" in text and "(lines 4)" in text


def test_the_real_run_then_gives_the_dry_runs_verdict(setup) -> None:
    landing, warehouse, profile_path = setup
    profile = load_profile(str(profile_path))
    predicted = dry_run(landing, [NEXT], warehouse=warehouse, profile=profile).summary()
    with duckdb.connect(str(warehouse)) as con:
        real = ingest(con, landing, NEXT, dates=[NEXT], progress=lambda _: None, profile=profile)
    assert [(f["file"], f["rows_loaded"], f["rows_quarantined"]) for f in predicted["files"]] == [
        (o.source_file, o.rows_loaded, o.rows_quarantined) for o in real.outcomes
    ]


def test_the_command_line_dry_run(setup, capsys, tmp_path) -> None:
    landing, warehouse, profile_path = setup
    out = tmp_path / "verdicts.json"
    code = main(
        [
            "ingest",
            "--dry-run",
            "--landing",
            str(landing),
            "--warehouse",
            str(warehouse),
            "--profile",
            str(profile_path),
            "--date",
            NEXT.isoformat(),
            "--json",
            str(out),
            "--fail-on-rejected",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 1  # a file would be rejected
    assert "nothing was written to the warehouse" in printed and "would reject" in printed
    assert json.loads(out.read_text())["dates"] == [NEXT.isoformat()]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from raw.usage_events").fetchall() == [(0,)]


def test_a_dry_run_without_a_warehouse_reads_every_landed_date(setup, tmp_path) -> None:
    landing, _, _ = setup
    report = dry_run(landing, warehouse=tmp_path / "none.duckdb")
    assert report.dates == [DAY, NEXT]
    assert not (tmp_path / "none.duckdb").exists()
    assert date.fromisoformat(report.summary()["dates"][-1]) == NEXT
