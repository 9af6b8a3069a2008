"""The real operator_daily DAG, run with `airflow dags test` on small generated data."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.conftest import FEED_COUNT, SMALL_END, SMALL_START, airflow, airflow_test_environment

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def env(small_landing: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    landing = tmp_path_factory.mktemp("landing_copy") / "landing"  # the last test delivers one more day into it
    shutil.copytree(small_landing, landing)
    return airflow_test_environment(landing, tmp_path_factory)


def outbox_day(env: dict[str, str], day: date) -> dict[str, bytes]:
    """Every file of a published day, by name (empty when the day was never published)."""
    folder = Path(env["TELCO_MART_DATA_DIR"]) / "outbox" / day.isoformat()
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.is_dir() else {}


def assert_published_day_reconciles(env: dict[str, str], day: date) -> None:
    """The outbox day is complete, its checksums hold, and it is exactly the day's targeted decisions."""
    files = outbox_day(env, day)
    assert "_SUCCESS" in files and "manifest.json" in files, sorted(files)
    manifest = json.loads(files["manifest.json"])
    assert manifest["logical_date"] == day.isoformat()
    published = set()
    for entry in manifest["files"]:
        content = files[entry["name"]]
        assert hashlib.sha256(content).hexdigest() == entry["sha256"]
        rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
        assert len(rows) == entry["rows"]
        published |= {(r["subscriber_id"], r["campaign_id"]) for r in rows}
    with duckdb.connect(env["TELCO_MART_WAREHOUSE"], read_only=True) as con:
        targeted = set(
            con.execute(
                "select subscriber_id, campaign_id from marts.campaign_decisions_daily "
                "where decision_date = ? and decision_outcome = 'targeted'",
                [day],
            ).fetchall()
        )
        contacts = con.execute("select count(*) from raw.published_contacts where contact_date = ?", [day]).fetchall()
    assert published == targeted and len(published) == manifest["total_rows"]
    assert contacts[0][0] == manifest["total_rows"]  # appended to contact history once


def snapshot(env: dict[str, str]) -> dict[str, int]:
    """Row counts of every table, plus the registry's and quarantine's size."""
    with duckdb.connect(env["TELCO_MART_WAREHOUSE"], read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('raw', 'staging', 'intermediate', 'marts')"
        ).fetchall()
        return {f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchall()[0][0] for s, t in tables}


def test_first_run_takes_all_history_and_a_rerun_changes_nothing(env: dict[str, str]) -> None:
    first_day = SMALL_END - timedelta(days=1)
    log = airflow(env, "dags", "test", "operator_daily", first_day.isoformat())
    assert f"ingest: {(first_day - SMALL_START).days + 1} delivery date(s)" in log
    after_first = snapshot(env)
    assert after_first["raw.usage_events"] > 0
    assert after_first["staging.stg_mediation__usage_events"] > 0
    with duckdb.connect(env["TELCO_MART_WAREHOUSE"], read_only=True) as con:
        assert con.execute("select max(delivery_date) from staging.stg_mediation__usage_events").fetchall() == [
            (first_day,)
        ]

    assert_published_day_reconciles(env, first_day)
    published = outbox_day(env, first_day)

    airflow(env, "dags", "test", "operator_daily", first_day.isoformat())
    assert snapshot(env) == after_first  # decisions and contact history included: nothing doubled
    rerun = outbox_day(env, first_day)
    assert {n: c for n, c in rerun.items() if n != "manifest.json"} == {
        n: c for n, c in published.items() if n != "manifest.json"
    }, "a rerun of a date gives byte-identical lists"


def test_next_day_adds_that_day_only(env: dict[str, str]) -> None:
    before = snapshot(env)
    log = airflow(env, "dags", "test", "operator_daily", SMALL_END.isoformat())
    # every landed date is looked at, but only the new day's files are read
    assert f"ingest: {(SMALL_END - SMALL_START).days + 1} delivery date(s)" in log
    assert "late deliveries taken in" not in log
    after = snapshot(env)
    with duckdb.connect(env["TELCO_MART_WAREHOUSE"], read_only=True) as con:
        per_day = dict(
            con.execute("select delivery_date, count(*) from staging.stg_mediation__usage_events group by 1").fetchall()
        )
        landed_today = con.execute(
            "select sum(rows_loaded) from raw.file_registry where feed = 'usage_events' and delivery_date = ?",
            [SMALL_END],
        ).fetchall()[0][0]
        read_by_this_run = con.execute(
            "select distinct delivery_date from raw.file_registry where run_id = "
            "(select run_id from raw.file_registry order by registered_at desc limit 1)"
        ).fetchall()
    assert read_by_this_run == [(SMALL_END,)]
    assert per_day[SMALL_END] == landed_today
    assert after["raw.usage_events"] - before["raw.usage_events"] == landed_today
    assert date.fromisoformat("2026-01-01") in per_day
    assert_published_day_reconciles(env, SMALL_END)


def test_a_day_nobody_delivered_for_is_skipped_before_any_work(env: dict[str, str]) -> None:
    empty_day = SMALL_END + timedelta(days=2)
    before = snapshot(env)
    log = airflow(env, "dags", "test", "operator_daily", empty_day.isoformat())
    assert f"nothing delivered for {empty_day}: none of the {FEED_COUNT} feeds has a file" in log
    assert "Running with dbt=" not in log and "ingest: " not in log  # decided before ingest and dbt
    assert snapshot(env) == before and outbox_day(env, empty_day) == {}


def test_a_failed_gate_publishes_nothing_and_leaves_earlier_days_untouched(env: dict[str, str]) -> None:
    # The day after the landing ends, only the plan catalogue arrived: the day has no usage,
    # no CRM, no facts; a gate must stop the run before publish.
    published = {day: outbox_day(env, day) for day in (SMALL_END - timedelta(days=1), SMALL_END)}
    assert all(published.values())
    partial_day = SMALL_END + timedelta(days=1)
    landing = Path(env["TELCO_MART_LANDING_DIR"])
    (landing / "plans" / str(partial_day)).mkdir()
    shutil.copyfile(
        landing / "plans" / str(SMALL_END) / f"plans_{SMALL_END}.csv",
        landing / "plans" / str(partial_day) / f"plans_{partial_day}.csv",
    )
    log = airflow(env, "dags", "test", "operator_daily", partial_day.isoformat(), expect_failure=True)
    assert "delivered for " in log and "data-quality gate (" in log and "failed for" in log
    assert outbox_day(env, partial_day) == {}
    assert {day: outbox_day(env, day) for day in published} == published
    outbox = Path(env["TELCO_MART_DATA_DIR"]) / "outbox"
    assert sorted(p.name for p in outbox.iterdir()) == sorted(d.isoformat() for d in published)  # no leftovers
