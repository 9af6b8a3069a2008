"""The generator's dialects: a world written as an operator spells it loads, under that
operator's profile, to exactly the rows of the contract's own spelling."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
import yaml

from telco_mart.contract import load_contract
from telco_mart.contract.operator_profile import load_profile
from telco_mart.generate import generate
from telco_mart.ingest import ingest

START, END = dt.date(2026, 1, 1), dt.date(2026, 1, 2)
CONTRACT = load_contract()


def world(out: Path, dialect: str | None = None) -> Path:
    generate(subscribers=60, start=START, end=END, seed=3, out=out, events_per_sub_day=3.0, dialect=dialect)
    return out


def raw_rows(landing: Path, warehouse: Path, profile: str) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse)) as con:
        report = ingest(con, landing, END, progress=lambda _: None, profile=load_profile(profile))
        assert report.totals()["rows_quarantined"] == 0 and report.totals()["files_rejected"] == 0
        return {
            feed.name: con.execute(
                f"select {', '.join(feed.column_names)}, _delivery_date, _source_line from raw.{feed.name} order by all"
            ).fetchall()
            for feed in CONTRACT.feeds.values()
        }


@pytest.fixture(scope="module")
def default_rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple]]:
    work = tmp_path_factory.mktemp("default_world")
    return raw_rows(world(work / "landing"), work / "warehouse.duckdb", "default")


def test_the_example_dialect_loads_to_the_same_rows(default_rows, tmp_path: Path) -> None:
    landing = world(tmp_path / "landing", "example_operator")
    usage = next(landing.glob("usage_events/*/*.csv")).read_text(encoding="utf-8-sig")
    assert usage.startswith('"event_id";"subscriber_id"') and "-0500" in usage and ';"DATA";' in usage
    subscribers = next(landing.glob("subscribers/*/*.csv")).read_text(encoding="utf-8-sig")
    assert '"Y"' in subscribers and "/20" in subscribers
    assert raw_rows(landing, tmp_path / "warehouse.duckdb", "example_operator") == default_rows


def test_a_profile_of_ones_own(default_rows, tmp_path: Path) -> None:
    """cp1252, tabs, no quoting, day-first dates, Berlin local times (with DST), yes/no, a feed
    not delivered (it gets no file, and its rows are the only difference)."""
    profile = tmp_path / "berlin.yml"
    profile.write_text(
        yaml.safe_dump(
            {
                "defaults": {
                    "encoding": "cp1252",
                    "delimiter": "\t",
                    "quote_char": None,
                    "date_formats": ["%d.%m.%Y"],
                    "timestamp_formats": ["%d.%m.%Y %H:%M:%S%z"],
                    "time_zone": "Europe/Berlin",
                    "true_values": ["ja"],
                    "false_values": ["nein"],
                },
                "feeds": {"recharges": {"delivered": False}},
            }
        ),
        encoding="utf-8",
    )
    landing = world(tmp_path / "landing", str(profile))
    assert not (landing / "recharges").exists()
    assert "\tnein\t" in next(landing.glob("plans/*/*.csv")).read_text(encoding="cp1252")
    rows = raw_rows(landing, tmp_path / "warehouse.duckdb", str(profile))
    assert rows["recharges"] == [] and default_rows["recharges"]
    assert {k: v for k, v in rows.items() if k != "recharges"} == {
        k: v for k, v in default_rows.items() if k != "recharges"
    }


def test_a_dialect_is_csv_without_planted_defects(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="a dialect is written as CSV"):
        generate(subscribers=5, start=START, end=END, seed=1, out=tmp_path, fmt="parquet", dialect="example_operator")
