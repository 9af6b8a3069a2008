"""One benchmark step, run in a fresh child process by ``run_benchmark.py``.

Why a child per step: the parent reads the child's own wall time, CPU time and peak RSS
from ``os.wait4``, so each figure belongs to that step alone (a long-lived process would
carry the previous step's peak memory and warm caches into the next one).

Usage (the parent builds these calls; a person rarely needs them):

    python benchmarks/steps.py <step> <params.json> <result.json>

The child writes ``result.json`` with rows in/out, the time spent inside SQL (DuckDB
``execute`` calls, or dbt's run_results), and step details. Environment variables
(``TELCO_MART_*``, ``DBT_THREADS``) come from the parent and point at the benchmark's own
landing folder and warehouse.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The code under measurement: the checkout, or the snapshot of a revision the parent exported.
SOURCE_ROOT = Path(os.environ.get("BENCH_SOURCE_ROOT", REPO_ROOT))
sys.path.insert(0, str(SOURCE_ROOT / "plugins"))


class SqlClock:
    """Seconds spent inside DuckDB calls, so the parent can tell SQL time from the rest."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def timed(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - began
            self.calls += 1


class TimedRelation:
    """A DuckDB relation whose method calls (where lazy relations actually run) are timed."""

    def __init__(self, rel: Any, clock: SqlClock) -> None:
        self._rel = rel
        self._clock = clock

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._rel, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            result = self._clock.timed(attr, *args, **kwargs)
            return TimedRelation(result, self._clock) if type(result).__name__ == "DuckDBPyRelation" else result

        return call


class TimedConnection:
    """Delegates to a DuckDB connection, timing ``execute``, ``executemany`` and ``sql``.

    Results are returned unchanged (``execute`` returns the real connection), so the code
    under measurement behaves exactly as in the DAG; only fetches of already-run results
    fall outside the clock, which undercounts SQL time slightly (the overhead figure is
    then, if anything, too high).
    """

    def __init__(self, con: Any, clock: SqlClock) -> None:
        self._con = con
        self._clock = clock

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self._clock.timed(self._con.execute, *args, **kwargs)

    def executemany(self, *args: Any, **kwargs: Any) -> Any:
        return self._clock.timed(self._con.executemany, *args, **kwargs)

    def sql(self, *args: Any, **kwargs: Any) -> TimedRelation:
        return TimedRelation(self._clock.timed(self._con.sql, *args, **kwargs), self._clock)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def _time_connections(module: Any, clock: SqlClock) -> None:
    """Make ``module.connect`` hand out timed connections (the module's own global)."""
    original = module.connect

    @contextmanager
    def timed_connect(*args: Any, **kwargs: Any) -> Iterator[TimedConnection]:
        with original(*args, **kwargs) as con:
            yield TimedConnection(con, clock)

    module.connect = timed_connect


def step_generate(params: dict[str, Any]) -> dict[str, Any]:
    """The project's generator (the code behind ``telco-mart generate``), all days in one call."""
    from telco_mart.generate import generate

    summary = generate(
        subscribers=int(params["subscribers"]),
        start=date.fromisoformat(params["start"]),
        end=date.fromisoformat(params["end"]),
        seed=int(params["seed"]),
        out=Path(params["landing"]),
        fmt="parquet",
        events_per_sub_day=float(params["events_per_sub_day"]),
        log=print,
    )
    rows = dict(summary.rows_per_feed)
    return {
        "rows_in": 0,
        "rows_out": sum(rows.values()),
        "sql_seconds": None,
        "detail": {"files_written": summary.files_written, "rows_per_feed": rows},
    }


def _per_feed_ingest_clock() -> dict[str, dict[str, float]]:
    """Wrap the loader's per-file function to add up each feed's files, rows and seconds."""
    from telco_mart.ingest import loader

    per_feed: dict[str, dict[str, float]] = {}
    original = loader.ingest_file

    def ingest_file(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        outcome = original(*args, **kwargs)
        entry = per_feed.setdefault(outcome.feed, {"files": 0, "rows_loaded": 0, "seconds": 0.0})
        entry["files"] += 1
        entry["rows_loaded"] += outcome.rows_loaded
        entry["seconds"] += time.perf_counter() - began
        return outcome

    loader.ingest_file = ingest_file
    return per_feed


def step_ingest(params: dict[str, Any]) -> dict[str, Any]:
    """``telco_mart.pipeline.run_ingest`` as the DAG's ``ingest`` task calls it, after the
    ``campaign_catalog`` task's load of the campaign catalog (a few milliseconds).

    With ``dates`` given (a catch-up of several delivery dates in one go) the loader is
    called with that explicit list instead, which the DAG never does.
    """
    from telco_mart import pipeline
    from telco_mart.config import Settings
    from telco_mart.ingest import ingest

    clock = SqlClock()
    _time_connections(pipeline, clock)
    per_feed = _per_feed_ingest_clock()
    run_date = date.fromisoformat(params["run_date"])
    # telco_mart.schema holds it; revisions before that module had it in telco_mart.warehouse
    init_warehouse = next(
        (
            found
            for module in ("telco_mart.schema", "telco_mart.warehouse")
            if (found := getattr(sys.modules.get(module), "init_warehouse", None))
        ),
        None,
    )
    if init_warehouse is not None and not Settings.from_env().warehouse_path.exists():
        init_warehouse()  # the harness's own warehouse: created explicitly, as `telco-mart init` does
    if hasattr(pipeline, "run_load_catalog"):
        # the DAG's first task (campaign_catalog): without it the decisions have no campaigns
        pipeline.run_load_catalog()
    if params.get("dates"):
        settings = Settings.from_env()
        with pipeline.connect(settings=settings) as con:
            summary = ingest(
                con,
                settings.landing_dir,
                run_date,
                dates=[date.fromisoformat(d) for d in params["dates"]],
                run_id=params["run_id"],
                progress=lambda _line: None,
            ).summary()
    else:
        summary = pipeline.run_ingest(run_date, run_id=params["run_id"])
    return {
        "rows_in": int(summary["rows_read"]),
        "rows_out": int(summary["rows_loaded"]),
        "sql_seconds": clock.seconds,
        "detail": {"summary": summary, "per_feed": per_feed, "sql_calls": clock.calls},
    }


def step_gate(params: dict[str, Any]) -> dict[str, Any]:
    """One stage of the quality gate, as the DAG runs it: ``raw`` over the ingested delivery
    dates (after ingest), ``marts`` and ``publish`` on the run date (after dbt, before publish)."""
    from telco_mart import pipeline
    from telco_mart.quality import QualityGateFailed

    clock = SqlClock()
    _time_connections(pipeline, clock)
    stage = params.get("stage", "raw")
    run_date = date.fromisoformat(params["run_date"])
    status, error = "ok", None
    delivery_dates: dict[str, date] = {}
    if stage == "raw":
        delivery_dates = {"start": date.fromisoformat(params["start"]), "end": date.fromisoformat(params["end"])}
    elif (
        stage == "marts"
        and params.get("batch_start")
        and "batch_start" in inspect.signature(pipeline.run_marts_gate).parameters
    ):
        # the dbt batch's days are recorded as built (the ledger's days in order)
        delivery_dates = {"batch_start": date.fromisoformat(params["batch_start"])}
    try:
        summary = pipeline.run_quality_gate(stage, run_date, run_id=params["run_id"], **delivery_dates)
    except QualityGateFailed as failed:
        # A failing gate stops the DAG; the benchmark records it and goes on measuring.
        status, error, summary = "gate_failed", str(failed)[:2000], {}
    return {
        "status": status,
        "error": error,
        "rows_in": None,  # raw: counted by the parent (raw rows of the validated dates)
        "rows_out": int(summary.get("results", 0)),
        "sql_seconds": clock.seconds,
        "detail": {"stage": stage, "summary": summary, "sql_calls": clock.calls},
    }


def _interval_union(intervals: list[tuple[float, float]]) -> float:
    """Wall-clock seconds covered by at least one interval (dbt threads overlap)."""
    total, current_start, current_end = 0.0, None, None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_end is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None:
        total += current_end - current_start
    return total


def summarise_run_results(path: Path) -> dict[str, Any]:
    """SQL time from dbt's run_results.json: summed per node, and as wall-clock union."""
    results = json.loads(path.read_text())["results"]
    execute_intervals: list[tuple[float, float]] = []
    summed = 0.0
    nodes: dict[str, int] = {}
    for result in results:
        nodes[result["status"]] = nodes.get(result["status"], 0) + 1
        for timing in result.get("timing", []):
            if timing.get("name") == "execute" and timing.get("started_at") and timing.get("completed_at"):
                started = datetime.fromisoformat(timing["started_at"].replace("Z", "+00:00")).timestamp()
                completed = datetime.fromisoformat(timing["completed_at"].replace("Z", "+00:00")).timestamp()
                execute_intervals.append((started, completed))
                summed += completed - started
    relations = sorted(
        {r["relation_name"] for r in results if r.get("relation_name") and r["unique_id"].startswith("model.")}
    )
    return {
        "nodes_by_status": nodes,
        "sql_seconds_summed": summed,
        "sql_seconds_union": _interval_union(execute_intervals),
        "relations": relations,
        # each model's own seconds, so a reference can take the models it compares with
        "model_seconds": {
            r["unique_id"].rsplit(".", 1)[-1]: round(r["execution_time"], 3)
            for r in results
            if r["unique_id"].startswith("model.")
        },
        "slowest": sorted(
            ({"node": r["unique_id"], "seconds": round(r["execution_time"], 3)} for r in results),
            key=lambda n: -n["seconds"],
        )[:8],
    }


def step_dbt(params: dict[str, Any]) -> dict[str, Any]:
    """One ``dbt build`` with the DAG's batch and environment, through dbt's in-process runner
    (one writer, dbt threads)."""
    from dbt.cli.main import dbtRunner

    from telco_mart.config import Settings, dbt_batch_environment

    settings = Settings.from_env()
    batch_environment = dbt_batch_environment(params["batch"])
    os.environ.update(settings.dbt_environment() | batch_environment)

    project = SOURCE_ROOT / "dbt_project"
    target = Path(params["target_dir"])
    args = [
        params.get("command", "build"),
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target-path",
        str(target),
        "--log-path",
        str(target / "logs"),
        *params.get("selection", []),
    ]
    on_spark = settings.engine == "spark"
    if on_spark:
        # as the DAG does on Spark (docs/spark.md): DuckDB's staging views and the shared
        # sources before dbt, Spark's marts attached after it; all inside this step's figures
        from telco_mart.pipeline import run_share_spark_sources

        staging = dbtRunner().invoke(
            ["run", *args[1:9], "--target", "dev", "--select", "path:models/staging", "--no-write-json"]
        )
        if not staging.success:
            return {"status": "failed", "error": f"DuckDB staging views: {staging.exception}", "rows_in": None}
        run_share_spark_sources(settings)
        args += ["--target", "spark"]
    print(" ".join(f"{k}={v}" for k, v in batch_environment.items()) + " dbt " + " ".join(args), flush=True)
    outcome = dbtRunner().invoke(args)
    if on_spark and outcome.success:
        from telco_mart.spark_engine import attach_spark_marts, mart_contracts
        from telco_mart.warehouse import connect

        built = {result.node.name for result in outcome.result.results if result.node.resource_type == "model"}
        contracts = {
            name: columns for name, columns in mart_contracts(target / "manifest.json").items() if name in built
        }
        with connect(settings=settings) as con:
            attach_spark_marts(con, settings.spark_dir, contracts)
    if on_spark:
        _wait_for_local_spark()
    run_results = target / "run_results.json"
    summary = summarise_run_results(run_results) if run_results.exists() else {}
    status = "ok" if outcome.success else "failed"
    error = None if outcome.success else f"dbt {args[0]} failed: {outcome.exception or 'see the step log'}"
    return {
        "status": status,
        "error": error,
        "rows_in": None,  # counted by the parent
        "rows_out": None,
        "sql_seconds": summary.get("sql_seconds_union"),
        "detail": summary,
    }


def _wait_for_local_spark() -> None:
    """Stop the session dbt started and wait for its JVM before this step exits.

    Local Spark's work happens in a JVM that PySpark starts as this process's child. Left to
    itself it exits after the step (when its stdin closes) and nobody waits for it, so the
    parent's ``wait4`` would count only the Python side: a few percent of the CPU. Waited for
    here, its CPU time lands in this step's figure and its peak RSS in the step's peak (the
    larger of the two processes', as ``wait4`` reports children).
    """
    from pyspark import SparkContext

    context = SparkContext._active_spark_context
    gateway = SparkContext._gateway
    if context is not None:
        context.stop()
    jvm = getattr(gateway, "proc", None)
    if gateway is None or jvm is None:
        return
    gateway.shutdown()
    if jvm.stdin is not None:
        jvm.stdin.close()  # the JVM's gateway server exits on end of input
    jvm.wait(timeout=300)


def step_publish(params: dict[str, Any]) -> dict[str, Any]:
    """``telco_mart.campaigns.publish.publish_day`` when the campaign engine provides it."""
    try:
        from telco_mart.campaigns import publish
    except ImportError as missing:
        return {"status": "skipped", "error": f"telco_mart.campaigns.publish not importable: {missing}", "rows_in": 0}
    clock = SqlClock()
    for module in (publish, sys.modules.get("telco_mart.pipeline")):
        if module is not None and hasattr(module, "connect"):
            _time_connections(module, clock)
    result = publish.publish_day(date.fromisoformat(params["run_date"]), run_id=params["run_id"])
    rows = [v for k, v in (result or {}).items() if "rows" in k and isinstance(v, int) and not isinstance(v, bool)]
    return {
        "rows_in": None,
        "rows_out": sum(rows) if rows else None,
        "sql_seconds": clock.seconds if clock.calls else None,
        "detail": {"result": json.loads(json.dumps(result, default=str))},
    }


def step_serve(params: dict[str, Any]) -> dict[str, Any]:
    """``telco_mart.serving.serve_snapshot`` as the DAG's last task calls it: the public marts
    copied into the served file BI tools read, swapped in by a rename."""
    try:
        from telco_mart import serving
    except ImportError as missing:
        return {"status": "skipped", "error": f"telco_mart.serving not importable: {missing}", "rows_in": 0}
    clock = SqlClock()
    _time_connections(serving, clock)
    manifest = serving.serve_snapshot(date.fromisoformat(params["run_date"]), run_id=params["run_id"])
    return {
        "rows_in": manifest["total_rows"],  # the marts' rows read, each written once
        "rows_out": manifest["total_rows"],
        "sql_seconds": clock.seconds,
        "detail": {
            "bytes": manifest["bytes"],
            "storage_version": manifest["storage_version"],
            "tables": manifest["tables"],
            "sql_calls": clock.calls,
        },
    }


#: The day's core aggregation written directly against the landed files: the core measures
#: of int_usage_events_aggregated_to_subscriber_days (voice, SMS, data, rated amounts, main
#: cell), without the validation, lineage, de-duplication and history the pipeline keeps. It
#: leaves out the model's degraded-cell join, busy- and business-hour and per-destination
#: splits and rounding, so it is a lower bound for the model's own work, not an equal.
DIRECT_DAILY_FACTS_SQL = """
create table direct_facts as
with events as (
    select subscriber_id, cell_id, event_type, call_type, duration_sec, data_mb, charged_amount,
           cast(event_ts as date) as date_day, hour(event_ts) as hour_of_day
    from read_parquet(?)
),
per_cell as (
    select subscriber_id, date_day, cell_id, count(*) as n from events group by all
),
main_cells as (
    select subscriber_id, date_day, arg_max(cell_id, n) as main_cell_id from per_cell group by all
),
per_day as (
    select subscriber_id, date_day,
        count(*) filter (where event_type = 'voice') as voice_calls,
        coalesce(sum(duration_sec) filter (where event_type = 'voice'), 0) / 60.0 as voice_minutes,
        coalesce(sum(duration_sec) filter (where event_type = 'voice' and call_type = 'roaming'), 0) / 60.0
            as voice_minutes_roaming,
        count(*) filter (where event_type = 'sms') as sms_count,
        count(*) filter (where event_type = 'data') as data_sessions,
        coalesce(sum(data_mb), 0) as data_mb,
        coalesce(sum(data_mb) filter (where hour_of_day >= 22 or hour_of_day < 5), 0) as data_mb_night,
        count(*) as usage_events,
        coalesce(sum(charged_amount), 0) as rated_usage_amount
    from events group by all
)
select per_day.*, main_cells.main_cell_id
from per_day left join main_cells using (subscriber_id, date_day)
"""


def _timed_on_landed_usage(params: dict[str, Any], database: str, sql: str, table: str) -> dict[str, Any]:
    """Run ``sql`` (one ``?``: the day's landed usage files) with the warehouse's DuckDB
    settings on ``database``, and count what went in and what ``table`` holds after."""
    import duckdb

    from telco_mart.config import Settings

    settings = Settings.from_env()
    pattern = str(Path(params["landing"]) / "usage_events" / params["day"] / "*.parquet")
    con = duckdb.connect(database)
    try:
        con.execute(f"set memory_limit = '{settings.duckdb_memory_limit}'")
        con.execute(f"set threads = {int(settings.duckdb_threads)}")
        con.execute("set preserve_insertion_order = false")  # as the warehouse's own connection
        began = time.perf_counter()
        con.execute(sql, [pattern])
        sql_seconds = time.perf_counter() - began
        rows_in = con.execute("select count(*) from read_parquet(?)", [pattern]).fetchall()[0][0]
        rows_out = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    finally:
        con.close()
    return {"rows_in": rows_in, "rows_out": rows_out, "sql_seconds": sql_seconds, "detail": {"files": pattern}}


def step_direct_query(params: dict[str, Any]) -> dict[str, Any]:
    """Reference (a): landed usage files to per-subscriber daily facts in one DuckDB query."""
    return _timed_on_landed_usage(params, ":memory:", DIRECT_DAILY_FACTS_SQL, "direct_facts")


def step_direct_load(params: dict[str, Any]) -> dict[str, Any]:
    """Reference (a)'s floor for keeping the events: the day's landed usage files copied as
    they are into a table of a scratch DuckDB file and committed, with no check, no
    lineage and no other history. Any pipeline that keeps a queryable copy of the events in
    the warehouse pays at least this; the scratch file is removed afterwards."""
    scratch = Path(params["scratch"])
    scratch.unlink(missing_ok=True)
    try:
        return _timed_on_landed_usage(
            params, str(scratch), "create table landed_copy as select * from read_parquet(?)", "landed_copy"
        )
    finally:
        scratch.unlink(missing_ok=True)
        Path(f"{scratch}.wal").unlink(missing_ok=True)


STEPS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "generate": step_generate,
    "ingest": step_ingest,
    "gate": step_gate,
    "dbt": step_dbt,
    "publish": step_publish,
    "serve": step_serve,
    "direct_query": step_direct_query,
    "direct_load": step_direct_load,
}


def main(argv: list[str]) -> int:
    step, params_path, result_path = argv
    # the step's log is where a person follows a long step (file by file for ingest), as the
    # task log does in Airflow; without a handler the pipeline's progress lines are dropped
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stdout)
    params = json.loads(Path(params_path).read_text())
    try:
        result = STEPS[step](params)
        result.setdefault("status", "ok")
    except Exception as exc:  # the parent records the failure and decides whether to go on
        traceback.print_exc()
        result = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:2000]}
    Path(result_path).write_text(json.dumps(result, indent=2, default=str))
    return 0 if result["status"] in ("ok", "skipped", "gate_failed") else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
