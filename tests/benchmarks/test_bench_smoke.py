"""The benchmark harness at a smoke scale: it runs, and its figures add up.

CI keeps ``benchmarks/run_benchmark.py`` working with this test; the real figures come from
``make bench``. No assertion here is about time: a shared CI machine makes any time bound
flaky, and the harness's job is to report times, not to judge them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import REPO_ROOT, open_warehouse

pytestmark = pytest.mark.dbt

HARNESS = REPO_ROOT / "benchmarks" / "run_benchmark.py"
PIPELINE_STEPS = ("ingest", "gate", "dbt", "decisions", "marts_gate", "publish_gate", "publish", "serve")
GATE_STEPS = ("gate", "marts_gate", "publish_gate")
NUMBERS = ("wall_s", "cpu_user_s", "cpu_sys_s", "cpu_s", "peak_rss_mib", "rows_in", "rows_out", "sql_s", "rows_per_s")


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One tiny harness run: 200 subscribers, 2 history days, incremental day 1, dbt models only."""
    results = tmp_path_factory.mktemp("bench-results")
    work = tmp_path_factory.mktemp("bench-work")
    cmd = [
        sys.executable,
        str(HARNESS),
        "--subscribers=200",
        "--history-days=2",
        "--incremental-days=1",
        "--events-per-sub-day=4",
        # models only: the ~300 dbt tests would triple the test's time and measure nothing new
        "--dbt-command=run",
        "--name=smoke",
        f"--results-dir={results}",
        f"--work-dir={work}",
        "--keep-data",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, check=False)
    out_dir = results / "smoke"
    assert proc.returncode == 0, f"harness failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    return {
        "out_dir": out_dir,
        "results": results,
        "cmd": cmd,
        "landing": work / "landing",
        "warehouse": work / "data" / "warehouse.duckdb",
        "doc": json.loads((out_dir / "results.json").read_text()),
    }


def steps_of(doc: dict[str, Any], run: str) -> dict[str, dict[str, Any]]:
    return {s["step"]: s for s in doc["steps"] if s["run"] == run}


def test_results_files_and_machine_context(bench: dict[str, Any]) -> None:
    doc = bench["doc"]
    markdown = (bench["out_dir"] / "results.md").read_text()
    assert "| run | day | k | step |" in markdown
    assert "load average" in markdown
    assert doc["machine"]["cores"] >= 1 and doc["machine"]["memory_total_gib"] > 0
    assert len(doc["load_start"]) == 3 and len(doc["load_end"]) == 3


def test_every_step_is_recorded_with_non_negative_figures(bench: dict[str, Any]) -> None:
    doc = bench["doc"]
    assert steps_of(doc, "setup")["generate"]["status"] == "ok"
    for run in ("history", "incremental"):
        steps = steps_of(doc, run)
        assert set(PIPELINE_STEPS) <= set(steps), f"{run}: {sorted(steps)}"
        for name in PIPELINE_STEPS:
            assert steps[name]["status"] == "ok", steps[name]
    assert {"direct_query", "direct_load", "dbt_daily_facts"} <= set(steps_of(doc, "reference"))
    for step in doc["steps"]:
        for key in NUMBERS:
            assert step[key] is None or step[key] >= 0, (step["run"], step["step"], key, step[key])
        if step["status"] == "ok":
            assert step["wall_s"] > 0 and step["peak_rss_mib"] > 0


def test_row_counts_match_the_warehouse(bench: dict[str, Any]) -> None:
    doc = bench["doc"]
    history, incremental = steps_of(doc, "history"), steps_of(doc, "incremental")
    day = incremental["ingest"]["day"]
    con = open_warehouse(bench["warehouse"])
    try:
        feeds = [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.columns where table_schema = 'raw' "
                "and column_name = '_delivery_date'"
            ).fetchall()
        ]
        raw_total = sum(con.execute(f'select count(*) from raw."{t}"').fetchall()[0][0] for t in feeds)
        raw_day = sum(
            con.execute(f'select count(*) from raw."{t}" where _delivery_date = ?', [day]).fetchall()[0][0]
            for t in feeds
        )
        registry = con.execute(
            "select sum(rows_read), sum(rows_loaded) from raw.file_registry where status = 'loaded'"
        ).fetchall()[0]
        usage_day = con.execute("select count(*) from raw.usage_events where _delivery_date = ?", [day]).fetchall()[0][
            0
        ]
    finally:
        con.close()

    assert history["ingest"]["rows_out"] + incremental["ingest"]["rows_out"] == raw_total
    assert incremental["ingest"]["rows_out"] == raw_day
    assert incremental["gate"]["rows_in"] == incremental["dbt"]["rows_in"] == raw_day
    assert registry == (
        history["ingest"]["rows_in"] + incremental["ingest"]["rows_in"],
        history["ingest"]["rows_out"] + incremental["ingest"]["rows_out"],
    )
    # every generated row was delivered and read (history plus the one incremental day)
    assert steps_of(doc, "setup")["generate"]["rows_out"] == registry[0]
    assert steps_of(doc, "reference")["direct_query"]["rows_in"] == usage_day
    # the floor copies the day's events as they landed, every one of them
    direct_load = steps_of(doc, "reference")["direct_load"]
    assert direct_load["rows_in"] == direct_load["rows_out"] == usage_day
    assert incremental["dbt"]["rows_out"] > 0


def test_serve_step_copies_what_the_served_file_then_holds(bench: dict[str, Any]) -> None:
    serve = steps_of(bench["doc"], "incremental")["serve"]
    served = bench["warehouse"].parent / "serving" / "telco_mart.duckdb"
    manifest = json.loads(served.with_suffix(".json").read_text())
    assert manifest["run_id"].startswith("bench__incremental__")
    assert serve["rows_out"] == manifest["total_rows"] > 0
    assert serve["detail"]["bytes"] == served.stat().st_size
    with duckdb.connect(str(served), read_only=True) as con:
        counts = {t: con.execute(f"select count(*) from marts.{t}").fetchall()[0][0] for t in manifest["tables"]}
    assert counts == manifest["tables"] == serve["detail"]["tables"]


def test_summary_compares_days_and_reports_both_references(bench: dict[str, Any]) -> None:
    summary = bench["doc"]["summary"]
    runs = {(r["run"], r["incremental_day"]) for r in summary["runs"]}
    assert {("history", None), ("incremental", 1)} <= runs
    first = next(r for r in summary["runs"] if r["run"] == "incremental")
    assert first["ratio_to_first"] == 1.0
    # the quality gates' share of the day: all three stages ran and are summed
    gates = steps_of(bench["doc"], "incremental")
    assert first["gate_wall_s"] == pytest.approx(sum(gates[g]["wall_s"] for g in GATE_STEPS), abs=0.01)
    assert all(gates[g]["rows_out"] > 0 for g in GATE_STEPS)
    reference_a = summary["reference_a"]
    assert reference_a["direct_query_wall_s"] > 0 and reference_a["pipeline_wall_s"] > 0
    assert reference_a["subscriber_days"] > 0
    # the SQL-only comparison takes the usage files' ingest and exactly the two daily-fact models
    models = reference_a["pipeline_core_model_sql_s"]
    assert set(models) == {"int_usage_events_aggregated_to_subscriber_days", "fct_subscriber_daily"}
    assert reference_a["pipeline_core_s"] == pytest.approx(
        reference_a["pipeline_ingest_usage_events_file_s"] + sum(models.values()), abs=0.01
    )
    assert reference_a["ratio_core_to_direct_sql"] > 0 and reference_a["ratio_load_floor_to_direct_sql"] > 0
    assert summary["reference_b"] and all(b["sql_s"] >= 0 for b in summary["reference_b"])


def test_a_kept_landing_is_reused_only_for_the_same_generator_arguments(bench: dict[str, Any], tmp_path: Path) -> None:
    """A province-size landing takes minutes to generate: a rerun can take the one an earlier
    run kept, but never one made for another scale, window, seed or density."""
    base = [a for a in bench["cmd"] if not a.startswith(("--name=", "--work-dir=", "--keep-data"))]
    reuse = [*base, "--no-reference", f"--landing={bench['landing']}", f"--work-dir={tmp_path / 'work'}"]

    refused = subprocess.run(
        [*[a for a in reuse if a != "--subscribers=200"], "--subscribers=300", "--name=refused"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    assert refused.returncode != 0
    assert "generated with other arguments" in refused.stderr and "'subscribers': (200, 300)" in refused.stderr

    proc = subprocess.run([*reuse, "--name=reused"], capture_output=True, text=True, cwd=REPO_ROOT, check=False)
    assert proc.returncode == 0, f"harness failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    doc = json.loads((bench["results"] / "reused" / "results.json").read_text())
    generate = steps_of(doc, "setup")["generate"]
    assert generate["status"] == "skipped" and str(bench["landing"]) in generate["error"]
    assert steps_of(doc, "incremental")["publish"]["status"] == "ok"
    assert bench["landing"].is_dir(), "a reused landing is not the run's to delete"


def test_airflow_log_sql_time_counts_each_dbt_run_once() -> None:
    """Reference (b) on Airflow: a dbt task's SQL time is its `Finished running` time, not
    the sum of its nodes (two dbt threads run tests side by side)."""
    sys.path.insert(0, str(HARNESS.parent))
    from run_benchmark import parse_airflow_log

    finished = (
        "\x1b[0m10:00:02  Finished running 1 incremental model, 2 data tests "
        "in 0 hours 0 minutes and 1.70 seconds (1.70s)."
    )
    log = "\n".join(
        [
            "loaded usage_events_2026-01-04.parquet: read 100 rows [2.5s]",
            "\x1b[0m10:00:01  1 of 3 OK created sql incremental model staging.stg_a ... [\x1b[32mOK\x1b[0m in 1.00s]",
            "\x1b[0m10:00:02  2 of 3 PASS not_null_stg_a_id ..... [\x1b[32mPASS\x1b[0m in 0.60s]",
            "\x1b[0m10:00:02  3 of 3 PASS unique_stg_a_id ....... [\x1b[32mPASS\x1b[0m in 0.60s]",
            finished,
            # the same line again (task log and console) counts once
            finished,
            "\x1b[0m10:00:09  Finished running 34 data tests in 0 hours 0 minutes and 3.39 seconds (3.39s).",
        ]
    )
    parsed = parse_airflow_log(log)
    assert parsed["dbt_runs_seen"] == 2 and parsed["dbt_run_seconds"] == pytest.approx(5.09)
    assert parsed["dbt_node_seconds"] == pytest.approx(2.2)  # kept as a detail only
    assert parsed["ingest_file_seconds"] == pytest.approx(2.5)
    assert parsed["sql_seconds"] == pytest.approx(2.5 + 5.09)


def test_a_failed_step_stops_the_runs_after_it_and_still_writes_the_results(
    bench: dict[str, Any], tmp_path: Path
) -> None:
    """A run that fails part-way (here ingest: DuckDB runs out of a 1 MB memory cap) must not
    go on to measure later runs over a half-built warehouse, and what it measured up to the
    failure is still written down."""
    base = [a for a in bench["cmd"] if not a.startswith(("--name=", "--work-dir=", "--keep-data"))]
    cmd = [
        *base,
        "--no-reference",
        "--memory-limit=1MB",
        f"--landing={bench['landing']}",
        f"--work-dir={tmp_path / 'work'}",
        "--name=stopped",
    ]

    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, check=False)

    assert proc.returncode == 1, f"the harness should fail:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    doc = json.loads((bench["results"] / "stopped" / "results.json").read_text())
    ran = [(s["run"], s["step"], s["status"]) for s in doc["steps"]]
    assert ran == [("setup", "generate", "skipped"), ("history", "ingest", "failed")]
    assert "Out of Memory" in doc["steps"][-1]["error"]
    assert any(n.startswith("stopped early: history run") and "ingest failed" in n for n in doc["notes"])
    assert "stopped early" in (bench["results"] / "stopped" / "results.md").read_text()
