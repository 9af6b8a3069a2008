"""The real operator_daily DAG, run with `airflow dags test` on small generated data."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from telco_mart.runtime import WAREHOUSE_POOL, airflow_environment
from tests.conftest import SMALL_END, SMALL_START

pytestmark = pytest.mark.e2e

AIRFLOW = str(Path(sys.executable).with_name("telco-mart"))


@pytest.fixture(scope="module")
def env(small_landing: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("airflow_home")
    data = tmp_path_factory.mktemp("data")
    environment = airflow_environment(airflow_home=home, base=dict(os.environ, AIRFLOW_HOME=str(home)))
    environment.update(
        TELCO_MART_DATA_DIR=str(data),
        TELCO_MART_LANDING_DIR=str(small_landing),
        TELCO_MART_WAREHOUSE=str(data / "warehouse.duckdb"),
        TELCO_MART_TASK_RETRIES="0",
    )
    airflow(environment, "db", "migrate")
    airflow(environment, "pools", "set", WAREHOUSE_POOL, "1", "single DuckDB writer")
    return environment


def airflow(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([AIRFLOW, "airflow", *args], env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"airflow {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-8000:]}")
    return proc.stdout + proc.stderr


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

    airflow(env, "dags", "test", "operator_daily", first_day.isoformat())
    assert snapshot(env) == after_first


def test_next_day_adds_that_day_only(env: dict[str, str]) -> None:
    before = snapshot(env)
    log = airflow(env, "dags", "test", "operator_daily", SMALL_END.isoformat())
    assert "ingest: 1 delivery date(s)" in log
    after = snapshot(env)
    with duckdb.connect(env["TELCO_MART_WAREHOUSE"], read_only=True) as con:
        per_day = dict(
            con.execute("select delivery_date, count(*) from staging.stg_mediation__usage_events group by 1").fetchall()
        )
        landed_today = con.execute(
            "select sum(rows_loaded) from raw.file_registry where feed = 'usage_events' and delivery_date = ?",
            [SMALL_END],
        ).fetchall()[0][0]
    assert per_day[SMALL_END] == landed_today
    assert after["raw.usage_events"] - before["raw.usage_events"] == landed_today
    assert date.fromisoformat("2026-01-01") in per_day
