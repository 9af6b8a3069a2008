"""The served copy of the marts (telco_mart.serving): what it holds, and its swap.

Unit tests on a small hand-made warehouse: the swap's logic (what readers of the old and the
new copy see, what a failure leaves) does not depend on what the marts hold. The DAG's
``serve`` task on real marts, with a reader held open through a run, is in
tests/e2e/test_serving_e2e.py; Superset on a served copy in tests/bi/.
"""

from __future__ import annotations

import dataclasses
import json
import stat
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from telco_mart import serving
from telco_mart.config import SERVING_EXCLUDE, Settings
from tests.conftest import REPO_ROOT

DAY = date(2026, 3, 1)


def make_warehouse(path: Path, *, segments: int) -> None:
    """A warehouse file with a few marts, one of them personal data, and a non-marts table."""
    with duckdb.connect(str(path)) as con:
        for schema in ("raw", "marts"):
            con.execute(f"create schema if not exists {schema}")
        con.execute("create or replace table raw.usage_events as select range as id from range(10)")
        con.execute(
            "create or replace table marts.kpi_segments as "
            f"select 'segment_' || range as segment, range * 1.5 as share from range({segments})"
        )
        con.execute("create or replace table marts.dim_subscriber as select 'S1' as subscriber_id, '555' as msisdn")
        con.execute("create or replace table marts.campaign_targets_daily as select '555' as contact_number")
        con.execute("create or replace table marts.dq_results as select 'raw.bills' as suite, true as success")
        # a mart that is a view, as every mart is with dbt on Spark (spark_engine.attach_spark_marts)
        con.execute("create or replace view marts.kpi_from_spark as select 1 as one")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    base = Settings.from_env()
    settings = dataclasses.replace(
        base,
        data_dir=tmp_path,
        warehouse_path=tmp_path / "warehouse.duckdb",
        serving_path=tmp_path / "serving" / "telco_mart.duckdb",
    )
    make_warehouse(settings.warehouse_path, segments=3)
    return settings


def read_served(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def read_in_new_process(path: Path, sql: str) -> list[list]:
    script = (
        "import duckdb, json, sys; "
        "con = duckdb.connect(sys.argv[1], read_only=True); "
        "print(json.dumps(con.execute(sys.argv[2]).fetchall(), default=str))"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(path), sql], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def test_serves_the_public_marts_with_their_rows_and_records_the_run(settings: Settings) -> None:
    manifest = serving.serve_snapshot(DAY, run_id="scheduled__2026-03-01", settings=settings)
    served = settings.serving_path
    assert manifest["tables"] == {"dq_results": 1, "kpi_from_spark": 1, "kpi_segments": 3}  # no personal data, no raw
    assert read_served(served, "select table_schema, table_name from information_schema.tables order by 2") == [
        ("marts", "dq_results"),
        ("marts", "kpi_from_spark"),  # a table in the copy: it must not read the warehouse's files
        ("marts", "kpi_segments"),
        ("serving", "snapshot"),
    ]
    assert read_served(served, "select segment, share from marts.kpi_segments order by 1") == [
        ("segment_0", 0.0),
        ("segment_1", 1.5),
        ("segment_2", 3.0),
    ]
    inside = read_served(served, "select run_id, run_date, table_name, row_count from serving.snapshot order by 3")
    assert inside == [
        ("scheduled__2026-03-01", DAY, "dq_results", 1),
        ("scheduled__2026-03-01", DAY, "kpi_from_spark", 1),
        ("scheduled__2026-03-01", DAY, "kpi_segments", 3),
    ]
    beside = json.loads(serving.manifest_path(served).read_text())
    assert beside == manifest == serving.read_manifest(served)
    assert beside["run_id"] == "scheduled__2026-03-01" and beside["run_date"] == "2026-03-01"
    assert beside["bytes"] == served.stat().st_size and beside["total_rows"] == 5
    assert sorted(p.name for p in served.parent.iterdir()) == ["telco_mart.duckdb", "telco_mart.json"]


def test_the_served_copy_is_read_only_and_in_the_configured_storage_version(settings: Settings) -> None:
    serving.serve_snapshot(DAY, settings=settings)
    mode = settings.serving_path.stat().st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    with duckdb.connect() as con:
        con.execute(f"attach '{settings.serving_path}' as served (read_only)")
        # the storage version a file was written in decides which DuckDB releases open it
        tags = con.execute("select tags from duckdb_databases() where database_name = 'served'").fetchall()
    assert tags == [({"storage_version": "v1.0.0+"},)]


def test_a_reader_of_the_old_copy_keeps_it_and_the_next_open_sees_the_new_one(settings: Settings) -> None:
    serving.serve_snapshot(DAY, run_id="day1", settings=settings)
    old_reader = duckdb.connect(str(settings.serving_path), read_only=True)
    try:
        assert old_reader.execute("select count(*) from marts.kpi_segments").fetchall() == [(3,)]
        make_warehouse(settings.warehouse_path, segments=5)
        serving.serve_snapshot(date(2026, 3, 2), run_id="day2", settings=settings)  # the reader does not block it
        # the open reader still reads the copy it opened, whole
        assert old_reader.execute("select count(*) from marts.kpi_segments").fetchall() == [(3,)]
        assert old_reader.execute("select distinct run_id from serving.snapshot").fetchall() == [("day1",)]
        # and a new open sees the new copy (in another process: DuckDB hands a process that
        # still has a file open the same database again, whatever was renamed over it since)
        assert read_in_new_process(settings.serving_path, "select count(*) from marts.kpi_segments") == [[5]]
        assert read_in_new_process(settings.serving_path, "select distinct run_id from serving.snapshot") == [["day2"]]
    finally:
        old_reader.close()


def test_a_failed_serve_leaves_the_last_good_copy_and_nothing_else(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    serving.serve_snapshot(DAY, run_id="good", settings=settings)
    before = {p.name: p.read_bytes() for p in settings.serving_path.parent.iterdir()}
    make_warehouse(settings.warehouse_path, segments=7)
    real = serving._served_tables
    monkeypatch.setattr(serving, "_served_tables", lambda con, exclude: [*real(con, exclude), "vanished_mart"])
    with pytest.raises(duckdb.CatalogException, match="vanished_mart"):
        serving.serve_snapshot(date(2026, 3, 2), run_id="bad", settings=settings)
    assert {p.name: p.read_bytes() for p in settings.serving_path.parent.iterdir()} == before
    assert read_served(settings.serving_path, "select count(*) from marts.kpi_segments") == [(3,)]


def test_a_warehouse_without_marts_is_refused_and_serves_nothing(settings: Settings) -> None:
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("drop schema marts cascade")
    with pytest.raises(serving.ServingError, match="no tables in its marts schema"):
        serving.serve_snapshot(DAY, settings=settings)
    assert not settings.serving_path.exists()
    assert list(settings.serving_path.parent.iterdir()) == []


def test_the_halves_of_a_serve_that_died_are_removed_by_the_next(settings: Settings) -> None:
    folder = settings.serving_path.parent
    folder.mkdir(parents=True)
    dead = [folder / ".telco_mart.duckdb.1a2b3c4d.tmp", folder / ".telco_mart.duckdb.1a2b3c4d.tmp.wal"]
    dead.append(folder / ".telco_mart.json.5e6f7a8b.tmp")
    for path in dead:
        path.write_bytes(b"half")
    unrelated = folder / "notes.txt"
    unrelated.write_text("kept")
    serving.serve_snapshot(DAY, settings=settings)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "telco_mart.duckdb", "telco_mart.json"]


def test_the_default_exclusions_are_the_marts_dbt_tags_as_personal_data() -> None:
    manifest = json.loads((REPO_ROOT / "dbt_project" / "target" / "manifest.json").read_text())
    pii_marts = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == "marts" and "pii" in node["tags"]
    }
    assert pii_marts == set(SERVING_EXCLUDE)


def test_settings_read_the_serving_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TELCO_MART_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("TELCO_MART_SERVING_PATH", raising=False)
    assert Settings.from_env().serving_path == tmp_path / "serving" / "telco_mart.duckdb"
    monkeypatch.setenv("TELCO_MART_SERVING_PATH", str(tmp_path / "bi" / "marts.duckdb"))
    monkeypatch.setenv("TELCO_MART_SERVING_STORAGE_VERSION", "v1.4.0")
    monkeypatch.setenv("TELCO_MART_SERVING_EXCLUDE", " dim_subscriber ,, ")
    settings = Settings.from_env()
    assert settings.serving_path == tmp_path / "bi" / "marts.duckdb"
    assert settings.serving_storage_version == "v1.4.0"
    assert settings.serving_exclude == ("dim_subscriber",)
