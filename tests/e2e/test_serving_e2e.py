"""BI readers on the served copy while the real DAG runs a day (issue 20).

Two readers run in their own processes, as BI tools do, for the whole of an
``airflow dags test`` run: one holds a read-only connection open and queries it over and
over (a connection pool's idle connection), the other opens the served file afresh for
every query (a tool that connects per query). Neither may see an error, the run may not
fail or wait for them, and once the DAG's last task has swapped the new copy in, a new
reader sees the new day while the held connection still reads the day it opened.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from telco_mart.serving import manifest_path
from tests.conftest import SERVED_WORLD_END, airflow

pytestmark = pytest.mark.e2e

#: A BI reader: ``hold`` keeps one connection, ``reopen`` connects per query. Each query reads
#: the snapshot's run date and a mart's row count, appended to the log as one JSON line (or
#: the error), until the stop file appears.
READER = r"""
import datetime, json, sys, time
from pathlib import Path
import duckdb

served, mode, log, stop = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
sql = "select max(run_date), (select count(*) from marts.kpi_coverage_cell_daily) from serving.snapshot"
held = duckdb.connect(served, read_only=True) if mode == "hold" else None
with log.open("a") as out:
    while not stop.exists():
        try:
            con = held or duckdb.connect(served, read_only=True)
            run_date, rows = con.execute(sql).fetchall()[0]
            if con is not held:
                con.close()
            out.write(json.dumps({"at": time.time(), "run_date": run_date.isoformat(), "rows": rows}) + "\n")
        except Exception as error:
            out.write(json.dumps({"at": time.time(), "error": f"{type(error).__name__}: {error}"}) + "\n")
        out.flush()
        time.sleep(0.1)
"""


def served_file(env: dict[str, str]) -> Path:
    return Path(env["TELCO_MART_DATA_DIR"]) / "serving" / "telco_mart.duckdb"


def served_run_date(env: dict[str, str]) -> date:
    """What a new reader (another process, as a BI tool is) sees in the served copy now."""
    script = (
        "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
        "print(con.execute('select max(run_date) from serving.snapshot').fetchall()[0][0])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(served_file(env))], capture_output=True, text=True, check=True
    )
    return date.fromisoformat(proc.stdout.strip())


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_readers_never_fail_or_block_the_run_and_a_new_reader_sees_the_new_day(
    served_world: dict[str, str], tmp_path: Path
) -> None:
    env = served_world
    served = served_file(env)
    before = json.loads(manifest_path(served).read_text())
    assert before["run_date"] == (SERVED_WORLD_END - timedelta(days=1)).isoformat()
    stop = tmp_path / "stop"
    logs = {mode: tmp_path / f"{mode}.jsonl" for mode in ("hold", "reopen")}
    readers = [
        subprocess.Popen([sys.executable, "-c", READER, str(served), mode, str(log), str(stop)])
        for mode, log in logs.items()
    ]
    try:
        deadline = time.monotonic() + 60
        while not all(p.exists() and p.stat().st_size for p in logs.values()):  # both are reading
            assert time.monotonic() < deadline, "the readers did not start"
            time.sleep(0.2)
        run_log = airflow(env, "dags", "test", "operator_daily", SERVED_WORLD_END.isoformat())  # raises on failure
        time.sleep(1.0)  # a few more reads after the swap
    finally:
        stop.touch()
        for reader in readers:
            reader.wait(timeout=60)

    assert re.search(rf"served \d+ tables \(.*\) of the run of {SERVED_WORLD_END}", run_log)
    held, reopened = read_log(logs["hold"]), read_log(logs["reopen"])
    assert [r for r in held + reopened if "error" in r] == []
    assert len(held) > 20 and len(reopened) > 20, (len(held), len(reopened))
    # the held connection reads the copy it opened, whole, through the swap
    opened = (before["run_date"], before["tables"]["kpi_coverage_cell_daily"])
    assert {(r["run_date"], r["rows"]) for r in held} == {opened}
    # the reader that reopens sees the old day, then the new one, and never goes back
    dates = [r["run_date"] for r in reopened]
    switch = dates.index(SERVED_WORLD_END.isoformat())
    assert set(dates[:switch]) == {before["run_date"]} and set(dates[switch:]) == {SERVED_WORLD_END.isoformat()}
    after = json.loads(manifest_path(served).read_text())
    assert after["run_date"] == SERVED_WORLD_END.isoformat() == served_run_date(env).isoformat()
    assert after["tables"]["kpi_coverage_cell_daily"] > before["tables"]["kpi_coverage_cell_daily"]
    assert reopened[-1]["rows"] == after["tables"]["kpi_coverage_cell_daily"]
    # the served copy holds what the warehouse holds
    with duckdb.connect(env["TELCO_MART_WAREHOUSE"], read_only=True) as con:
        for table, rows in after["tables"].items():
            assert con.execute(f"select count(*) from marts.{table}").fetchall() == [(rows,)], table


def test_a_run_stopped_by_a_gate_leaves_the_last_good_copy(served_world: dict[str, str]) -> None:
    env = served_world
    served = served_file(env)
    before = {p.name: p.read_bytes() for p in served.parent.iterdir()}
    # the only delivery of the next day is a header-only usage file: the raw gate fails it
    # (an empty event file, and every other due feed missing); a day with no delivery at all
    # would be skipped, not failed
    bad_day = SERVED_WORLD_END + timedelta(days=1)
    landing = Path(env["TELCO_MART_LANDING_DIR"]) / "usage_events"
    header = (landing / SERVED_WORLD_END.isoformat() / f"usage_events_{SERVED_WORLD_END}.csv").open().readline()
    (landing / bad_day.isoformat()).mkdir()
    (landing / bad_day.isoformat() / f"usage_events_{bad_day}.csv").write_text(header)
    log = airflow(env, "dags", "test", "operator_daily", bad_day.isoformat(), expect_failure=True)
    assert "data-quality gate (raw) failed for" in log and "missing_due_delivery" in log, log[-6000:]
    assert {p.name: p.read_bytes() for p in served.parent.iterdir()} == before
    assert served_run_date(env) != bad_day
