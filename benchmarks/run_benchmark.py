"""Benchmark harness for issue 7: what a history run and single days cost, step by step.

It generates operator data with the project's generator (Parquet, realistic density), then
runs the steps the operator_daily DAG runs, each in a fresh child process so that wall
time, CPU time (user + sys) and peak RSS belong to that step alone:

    generate -> [history run] ingest, raw gate, dbt build, decisions, marts gate, publish gate, publish, serve
             -> [incremental day k, for each k asked] the same five steps for one day

The history run is the DAG's first run over a fresh warehouse (ingest takes every landed
date up to its run date). Incremental day k is the k-th delivery date after the history
window. Days between the reported ones are brought in by a "catch-up" (default ``batch``:
one ingest of the gap's dates and one dbt build over them, which the DAG would do one day
at a time; ``daily``: each gap day as a full, measured incremental run). Each is labelled in
the results, so nobody mistakes a catch-up for a daily run.

Two reference figures come from the same run:

(a) the day's core aggregation (landed usage events -> per-subscriber daily facts) as one
    direct DuckDB query over the landed files, against the pipeline's ingest of that day
    plus a ``dbt run`` of every model up to ``fct_subscriber_daily``; also in SQL time
    alone, and against the floor of copying the day's files into a DuckDB table unchecked;
(b) orchestration overhead: wall time minus the time the SQL itself ran (DuckDB calls of
    ingest and gate, dbt run_results execution), as a share of wall, on the step runs and,
    with ``--airflow-day``, on a real ``airflow dags test operator_daily`` of one more day.

Results go to ``benchmarks/results/<scale>-<UTC timestamp>/`` as ``results.json`` and
``results.md``, with the machine (cores, memory, load average at start and end: the figures
of a shared machine under load must say so).

    .venv/bin/python benchmarks/run_benchmark.py --subscribers 100000 --history-days 90 \\
        --incremental-days 1,30,90 [--airflow-day] [--keep-data]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "plugins"))

from telco_mart.runtime import WAREHOUSE_POOL, airflow_environment  # noqa: E402

STEPS_SCRIPT = Path(__file__).resolve().with_name("steps.py")
PIPELINE_STEPS = ("ingest", "gate", "dbt", "decisions", "marts_gate", "publish_gate", "publish", "serve")
GATE_STEPS = ("gate", "marts_gate", "publish_gate")
CAMPAIGNS_PATH = "models/marts/campaigns"
#: The models that take the usage events to per-subscriber daily facts: reference (a)'s pipeline side.
DAILY_FACT_MODELS = ("int_usage_events_aggregated_to_subscriber_days", "fct_subscriber_daily")
#: What a measured revision is made of (``--source``): code, models, suites, catalog, and the
#: steps script, so that it matches the code it calls.
SOURCE_PATHS = ("dags", "plugins", "dbt_project", "expectations", "campaigns", "benchmarks/steps.py")


class RunStopped(Exception):
    """A step failed in a way the DAG would not go on from (ingest, dbt, decisions).

    The runs after it would measure a warehouse the failed step left half-built, so the
    harness stops there, still writes the results of the steps that ran, and exits 1.
    """


@dataclass
class StepResult:
    """One measured child process: a step of one run."""

    run: str  # "setup", "history", "incremental", "catch-up", "reference", "airflow"
    day: str  # the run date (delivery date) the step worked on
    step: str
    status: str
    wall_s: float = 0.0
    cpu_user_s: float = 0.0
    cpu_sys_s: float = 0.0
    peak_rss_mib: float = 0.0
    rows_in: int | None = None
    rows_out: int | None = None
    sql_s: float | None = None
    load_start: float = 0.0
    load_end: float = 0.0
    incremental_day: int | None = None
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def cpu_s(self) -> float:
        return self.cpu_user_s + self.cpu_sys_s

    @property
    def rows_per_s(self) -> float | None:
        rows = self.rows_in if self.rows_in else self.rows_out
        return rows / self.wall_s if rows and self.wall_s > 0 else None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["cpu_s"] = round(self.cpu_s, 3)
        data["rows_per_s"] = round(self.rows_per_s, 1) if self.rows_per_s is not None else None
        return data


def machine_info() -> dict[str, Any]:
    """Cores, memory and versions: the context every figure needs."""
    meminfo: dict[str, int] = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, value = line.split(":", 1)
            meminfo[key] = int(value.split()[0])
    except OSError:
        pass
    cpu_model = ""
    with contextlib.suppress(OSError):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu_model = next((line.split(":", 1)[1].strip() for line in lines if "model name" in line), "")
    import duckdb

    versions = {"python": platform.python_version(), "duckdb": duckdb.__version__}
    try:
        from importlib.metadata import version

        versions |= {name: version(name) for name in ("dbt-core", "dbt-duckdb", "apache-airflow", "astronomer-cosmos")}
    except Exception:  # versions are context, not a reason to fail a benchmark
        pass
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu_model": cpu_model,
        "cores": os.cpu_count(),
        "memory_total_gib": round(meminfo.get("MemTotal", 0) / 2**20, 1),
        "memory_available_gib_at_start": round(meminfo.get("MemAvailable", 0) / 2**20, 1),
        "versions": versions,
    }


class Bench:
    """Runs the steps in child processes and collects their figures."""

    def __init__(self, args: argparse.Namespace, out_dir: Path, work_dir: Path, source_root: Path) -> None:
        self.args = args
        self.source_root = source_root
        # the measured revision's own steps script, so the two always match
        self.steps_script = source_root / STEPS_SCRIPT.relative_to(REPO_ROOT)
        self.out_dir = out_dir
        self.work_dir = work_dir
        self.landing = args.landing or work_dir / "landing"
        self.data_dir = work_dir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)  # the steps refuse a data directory that is not there
        self.warehouse = self.data_dir / "warehouse.duckdb"
        self.logs = out_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        # One dbt target folder for every dbt step, as a deployment keeps one: dbt's partial
        # parsing then reuses the previous parse. run_results.json is read right after each call.
        self.target_dir = str(work_dir / "target")
        self.results: list[StepResult] = []
        self.counter = 0
        self.env = self._environment()
        self.has_campaigns = any((source_root / "dbt_project" / CAMPAIGNS_PATH).glob("**/*.sql"))

    def _environment(self) -> dict[str, str]:
        env = airflow_environment(
            airflow_home=self.work_dir / "airflow",
            base=dict(os.environ, AIRFLOW_HOME=str(self.work_dir / "airflow")),
        )
        env.update(
            TELCO_MART_DATA_DIR=str(self.data_dir),
            TELCO_MART_LANDING_DIR=str(self.landing),
            TELCO_MART_WAREHOUSE=str(self.warehouse),
            TELCO_MART_OUTBOX_DIR=str(self.data_dir / "outbox"),
            TELCO_MART_TASK_RETRIES="0",
            PYTHONUNBUFFERED="1",
            # The code under measurement: the checkout itself or a snapshot of a revision.
            BENCH_SOURCE_ROOT=str(self.source_root),
            PYTHONPATH=os.pathsep.join(
                p for p in (str(self.source_root / "plugins"), os.environ.get("PYTHONPATH", "")) if p
            ),
            AIRFLOW__CORE__DAGS_FOLDER=str(self.source_root / "dags"),
            AIRFLOW__CORE__PLUGINS_FOLDER=str(self.source_root / "plugins"),
            TELCO_MART_DBT_PROJECT_DIR=str(self.source_root / "dbt_project"),
            TELCO_MART_EXPECTATIONS_DIR=str(self.source_root / "expectations"),
        )
        env["TELCO_MART_ENGINE"] = self.args.engine
        if self.args.threads:
            env["TELCO_MART_DUCKDB_THREADS"] = str(self.args.threads)
        if self.args.memory_limit:
            env["TELCO_MART_DUCKDB_MEMORY_LIMIT"] = self.args.memory_limit
        return env

    def say(self, text: str) -> None:
        print(f"[{datetime.now().strftime('%H:%M:%S')}] {text}", flush=True)

    # -- measuring ---------------------------------------------------------------------------
    def measure(self, run: str, day: date, step: str, cmd: list[str], **extra: Any) -> StepResult:
        """Run ``cmd`` as a child; wait4 gives its (and its children's) CPU time and peak RSS."""
        self.counter += 1
        log_path = self.logs / f"{self.counter:03d}-{run}-{day.isoformat()}-{step}.log"
        load_start = os.getloadavg()[0]
        began = time.perf_counter()
        with log_path.open("w") as log:
            proc = subprocess.Popen(cmd, env=self.env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - began
        result = StepResult(
            run=run,
            day=day.isoformat(),
            step=step,
            status="ok" if proc.returncode == 0 else f"exit {proc.returncode}",
            wall_s=round(wall, 3),
            cpu_user_s=round(usage.ru_utime, 3),
            cpu_sys_s=round(usage.ru_stime, 3),
            peak_rss_mib=round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
            load_start=round(load_start, 2),
            load_end=round(os.getloadavg()[0], 2),
            detail={"log": str(log_path.relative_to(self.out_dir))},
            **extra,
        )
        return result

    def step(self, run: str, day: date, step: str, kind: str, params: dict[str, Any], **extra: Any) -> StepResult:
        """Measure one step of ``steps.py`` and merge what the child reported."""
        stem = self.logs / f"{self.counter + 1:03d}-{run}-{day.isoformat()}-{step}"
        params_path = stem.with_name(stem.name + ".params.json")
        result_path = stem.with_name(stem.name + ".result.json")
        params_path.write_text(json.dumps(params, indent=2))
        self.say(f"{run:<11} {day} {step} ...")
        result = self.measure(
            run,
            day,
            step,
            [sys.executable, str(self.steps_script), kind, str(params_path), str(result_path)],
            **extra,
        )
        reported: dict[str, Any] = json.loads(result_path.read_text()) if result_path.exists() else {}
        if result.status == "ok" or reported.get("status") not in (None, "ok"):
            result.status = reported.get("status", result.status)
        result.error = reported.get("error")
        result.rows_in = reported.get("rows_in")
        result.rows_out = reported.get("rows_out")
        result.sql_s = round(reported["sql_seconds"], 3) if reported.get("sql_seconds") is not None else None
        result.detail.update(reported.get("detail") or {})
        self.results.append(result)
        self.say(
            f"{run:<11} {day} {step:<12} {result.status:<8} wall {result.wall_s:8.1f}s cpu {result.cpu_s:8.1f}s "
            f"rss {result.peak_rss_mib:7.0f} MiB rows in {result.rows_in} out {result.rows_out}"
            + (f"  ({result.error[:200]})" if result.error else "")
        )
        return result

    def stop_unless_ok(self, result: StepResult) -> None:
        """Stop the runs after a failed step; a refused gate is an outcome, not a failure."""
        if result.status not in ("ok", "gate_failed"):
            raise RunStopped(
                f"{result.run} run {result.day}: {result.step} {result.status}; the runs after it were not "
                f"started (see {self.out_dir / result.detail['log']})"
            )

    def skipped(self, run: str, day: date, step: str, why: str, **extra: Any) -> StepResult:
        result = StepResult(run=run, day=day.isoformat(), step=step, status="skipped", error=why, **extra)
        self.results.append(result)
        self.say(f"{run:<11} {day} {step:<12} skipped: {why}")
        return result

    # -- warehouse facts, read after a step (never timed) ------------------------------------
    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        import duckdb

        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def raw_rows(self, start: date, end: date) -> int:
        """Rows landed in every raw feed table for delivery dates ``start``..``end``."""
        # the landed feeds: raw tables with lineage columns (not the registry, quarantine or
        # tables other components keep in raw)
        tables = self.query(
            "select table_name from information_schema.columns where table_schema = 'raw' "
            "and column_name = '_delivery_date' order by 1"
        )
        return sum(
            self.query(f'select count(*) from raw."{t}" where _delivery_date between ? and ?', [start, end])[0][0]
            for (t,) in tables
        )

    def relation_rows(self, relations: list[str]) -> int:
        """Rows held by the tables among dbt's relations (views hold none of their own). On the
        Spark engine the marts are DuckDB views over Spark's files and count; Spark's other
        tables (intermediate) are not in DuckDB and do not. A relation is matched by its schema
        and name (dbt names it `"db"."schema"."name"` on DuckDB, `schema`.`name` on Spark)."""
        tables = {
            (schema, name)
            for schema, name in self.query(
                "select table_schema, table_name from information_schema.tables "
                "where table_catalog = current_database() "
                "and (table_type = 'BASE TABLE' or (table_schema = 'marts' and ?))",
                [self.args.engine == "spark"],
            )
        }
        parts = [tuple(part.strip('"`') for part in rel.split("."))[-2:] for rel in relations]
        return sum(
            self.query(f'select count(*) from "{schema}"."{name}"')[0][0]
            for schema, name in parts
            if (schema, name) in tables
        )

    # -- the pipeline's runs -----------------------------------------------------------------
    def pipeline_run(self, run: str, day: date, k: int | None, dates: list[date] | None = None) -> dict[str, Any]:
        """ingest -> raw gate -> dbt -> decisions -> marts gate -> publish gate -> publish -> serve
        for one run date, as the DAG orders them; a failed gate skips publish and serve, as in the DAG."""
        run_id = f"bench__{run}__{day.isoformat()}"
        tag = {"incremental_day": k}
        ingest_params: dict[str, Any] = {"run_date": day.isoformat(), "run_id": run_id}
        if dates:
            ingest_params["dates"] = [d.isoformat() for d in dates]
        ingest = self.step(run, day, "ingest", "ingest", ingest_params, **tag)
        self.stop_unless_ok(ingest)
        summary = ingest.detail["summary"]
        start = date.fromisoformat(summary["batch_start_date"])
        end = date.fromisoformat(summary["batch_end_date"])
        batch = {
            "batch_start_date": start.isoformat(),
            "batch_end_date": end.isoformat(),
            "run_date": day.isoformat(),
        }
        batch_rows = self.raw_rows(start, end)

        gate = self.step(
            run,
            day,
            "gate",
            "gate",
            {"run_date": day.isoformat(), "run_id": run_id, "start": start.isoformat(), "end": end.isoformat()},
            **tag,
        )
        gate.rows_in = batch_rows

        selection = ["--exclude", f"path:{CAMPAIGNS_PATH}"] if self.has_campaigns else []
        dbt = self.step(
            run,
            day,
            "dbt",
            "dbt",
            {"command": self.args.dbt_command, "batch": batch, "target_dir": self.target_dir, "selection": selection},
            **tag,
        )
        dbt.rows_in = batch_rows
        self.stop_unless_ok(dbt)
        dbt.rows_out = self.relation_rows(dbt.detail.get("relations", []))

        if self.has_campaigns:
            decisions = self.step(
                run,
                day,
                "decisions",
                "dbt",
                {
                    "command": self.args.dbt_command,
                    "batch": batch,
                    "target_dir": self.target_dir,
                    "selection": ["--select", f"path:{CAMPAIGNS_PATH}"],
                },
                **tag,
            )
            self.stop_unless_ok(decisions)
            decisions.rows_out = self.relation_rows(decisions.detail.get("relations", []))
        else:
            self.skipped(run, day, "decisions", f"dbt_project/{CAMPAIGNS_PATH} has no models yet", **tag)

        refused = [gate] if gate.status == "gate_failed" else []
        for stage in ("marts", "publish"):
            output_gate = self.step(
                run,
                day,
                f"{stage}_gate",
                "gate",
                {"stage": stage, "run_date": day.isoformat(), "run_id": run_id, "batch_start": start.isoformat()},
                **tag,
            )
            refused += [output_gate] if output_gate.status == "gate_failed" else []
        if refused:
            for step in ("publish", "serve"):
                self.skipped(run, day, step, f"refused by {', '.join(r.step for r in refused)}", **tag)
        else:
            self.step(run, day, "publish", "publish", {"run_date": day.isoformat(), "run_id": run_id}, **tag)
            self.step(run, day, "serve", "serve", {"run_date": day.isoformat(), "run_id": run_id}, **tag)
        return {"batch_start_date": start.isoformat(), "batch_end_date": end.isoformat(), "batch": batch}

    def catch_up(self, days: list[date]) -> None:
        """Bring in the delivery dates between two reported incremental days."""
        if not days:
            return
        if self.args.catch_up == "daily":
            for day in days:
                self.pipeline_run("catch-up", day, None)
            return
        self.say(f"catch-up: {len(days)} day(s) {days[0]} .. {days[-1]} in one ingest and one dbt build")
        self.pipeline_run("catch-up", days[-1], None, dates=days)

    def reference_a(self, day: date, batch: dict[str, str], k: int | None) -> None:
        """Direct query over the day's landed usage files vs ingest + dbt up to the daily facts."""
        params = {"landing": str(self.landing), "day": day.isoformat()}
        self.step("reference", day, "direct_query", "direct_query", params, incremental_day=k)
        scratch = str(self.work_dir / "direct_load.duckdb")
        self.step("reference", day, "direct_load", "direct_load", params | {"scratch": scratch}, incremental_day=k)
        facts = self.step(
            "reference",
            day,
            "dbt_daily_facts",
            "dbt",
            {
                "command": "run",
                "batch": batch,
                "target_dir": self.target_dir,
                "selection": ["--select", "+fct_subscriber_daily"],
            },
            incremental_day=k,
        )
        facts.rows_out = self.relation_rows(facts.detail.get("relations", []))

    def airflow_run(self, day: date) -> None:
        """Reference (b) on the real DAG: ``airflow dags test operator_daily <day>``."""
        telco_mart = str(Path(sys.executable).with_name("telco-mart"))
        project = self.source_root / "dbt_project"
        manifest = project / "target" / "manifest.json"
        self.say("airflow setup: db migrate, pool, dbt parse (not measured as part of the day)")
        for cmd in (
            [telco_mart, "airflow", "db", "migrate"],
            [telco_mart, "airflow", "pools", "set", WAREHOUSE_POOL, "1", "single DuckDB writer"],
        ):
            subprocess.run(cmd, env=self.env, cwd=REPO_ROOT, check=True, capture_output=True)
        if not manifest.exists():
            dbt = str(Path(sys.executable).with_name("dbt"))
            subprocess.run(
                [dbt, "parse", "--project-dir", str(project), "--profiles-dir", str(project), "--quiet"],
                env=self.env,
                cwd=REPO_ROOT,
                check=True,
            )
        self.say(f"airflow     {day} dags test operator_daily ...")
        result = self.measure(
            "airflow", day, "dags_test", [telco_mart, "airflow", "dags", "test", "operator_daily", day.isoformat()]
        )
        log_text = (self.out_dir / result.detail["log"]).read_text(errors="replace")
        result.detail.update(parse_airflow_log(log_text))
        result.sql_s = round(result.detail["sql_seconds"], 3)
        result.rows_in = result.detail.get("ingest_rows_read")
        self.results.append(result)
        self.say(f"airflow     {day} dags_test    {result.status} wall {result.wall_s:.1f}s sql {result.sql_s}s")


def parse_airflow_log(text: str) -> dict[str, Any]:
    """SQL seconds an ``airflow dags test`` log shows: per-file ingest, the gate, dbt nodes.

    The ingest logs each file's seconds with one decimal; the gate logs its whole duration
    (GX included, so the overhead share is if anything understated). For dbt, each task's
    ``Finished running ... (12.34s)``: the time its nodes ran, parse and start-up excluded.
    The nodes' own times (``[OK in 0.35s]``) are kept as a detail but not summed into SQL
    time, since a task's two dbt threads run tests side by side and the sum counts that
    twice. Tasks log through Airflow, so a line can appear twice (task log and console):
    lines are de-duplicated on their text (a task's ``Finished running`` line carries the
    time of day, so two tasks' lines do not collapse into one).
    """
    ansi = re.compile(r"\x1b\[[0-9;]*m")
    lines = list(dict.fromkeys(ansi.sub("", line) for line in text.splitlines()))
    file_line = re.compile(r"(?:loaded|rejected|skipped_duplicate|replaced_by_new)\s+\S+: read .*\[(\d+\.\d+)s\]")
    gate_line = re.compile(r"(?:raw|marts|publish) quality gate: .*'seconds': (\d+(?:\.\d+)?)")
    ingest = [float(m.group(1)) for line in lines if (m := file_line.search(line))]
    gate = [float(m.group(1)) for line in lines if (m := gate_line.search(line))]
    dbt_nodes = [
        float(m.group(1))
        for line in lines
        if (m := re.search(r"\d+ of \d+ (?:OK|PASS|WARN|ERROR|FAIL)\b.*\[[A-Z]+(?: \d+)? in (\d+(?:\.\d+)?)s\]", line))
    ]
    dbt_run_line = re.compile(r"Finished running .* in \d+ hours \d+ minutes and [\d.]+ seconds \((\d+(?:\.\d+)?)s\)")
    dbt_runs = [float(m.group(1)) for line in lines if (m := dbt_run_line.search(line))]
    rows_read = [int(m.group(1).replace(",", "")) for line in lines if (m := re.search(r"rows read ([\d,]+)", line))]
    tasks = sorted({m.group(1) for line in lines if (m := re.search(r"task_id=([\w.]+)", line))})
    return {
        "ingest_file_seconds": round(sum(ingest), 3),
        "ingest_files_seen": len(ingest),
        "gate_seconds": round(sum(gate), 3),
        "dbt_node_seconds": round(sum(dbt_nodes), 3),
        "dbt_nodes_seen": len(dbt_nodes),
        "dbt_run_seconds": round(sum(dbt_runs), 3),
        "dbt_runs_seen": len(dbt_runs),
        "sql_seconds": sum(ingest) + sum(gate) + sum(dbt_runs),
        "ingest_rows_read": rows_read[0] if rows_read else None,
        "airflow_tasks_seen": len(tasks),
    }


# -- summaries -------------------------------------------------------------------------------
def _total(results: list[StepResult], run: str, day: str) -> dict[str, Any]:
    steps = [r for r in results if r.run == run and r.day == day and r.status != "skipped"]
    return {
        "run": run,
        "day": day,
        "wall_s": round(sum(r.wall_s for r in steps), 3),
        "cpu_s": round(sum(r.cpu_s for r in steps), 3),
        "peak_rss_mib": max((r.peak_rss_mib for r in steps), default=0.0),
        "sql_s": round(sum(r.sql_s or 0.0 for r in steps), 3),
        "sql_unknown_steps": [r.step for r in steps if r.sql_s is None],
        "steps": [r.step for r in steps],
        "failed_steps": [r.step for r in steps if r.status not in ("ok", "gate_failed")],
        "rows_in": next((r.rows_in for r in steps if r.step == "ingest"), None),
        "incremental_day": next((r.incremental_day for r in steps), None),
        "gate_wall_s": round(sum(r.wall_s for r in steps if r.step in GATE_STEPS), 3),
    }


def summarise(results: list[StepResult]) -> dict[str, Any]:
    """Per-run totals, day k vs day 1, and the two reference figures."""
    runs = list(dict.fromkeys((r.run, r.day) for r in results if r.run in ("history", "incremental", "catch-up")))
    totals = [_total(results, run, day) for run, day in runs]
    incremental = [t for t in totals if t["run"] == "incremental"]
    first = incremental[0]["wall_s"] if incremental else None
    for t in incremental:
        t["ratio_to_first"] = round(t["wall_s"] / first, 3) if first else None
    summary: dict[str, Any] = {"runs": totals}

    direct = next((r for r in results if r.step == "direct_query" and r.status == "ok"), None)
    facts = next((r for r in results if r.step == "dbt_daily_facts" and r.status == "ok"), None)
    if direct and facts:
        ingest = next(r for r in results if r.run == "incremental" and r.day == direct.day and r.step == "ingest")
        usage_ingest = ingest.detail.get("per_feed", {}).get("usage_events", {}).get("seconds")
        pipeline = ingest.wall_s + facts.wall_s
        model_seconds = facts.detail.get("model_seconds", {})
        core_models = {m: model_seconds.get(m) for m in DAILY_FACT_MODELS}
        core_sql = (
            usage_ingest + sum(core_models.values())
            if usage_ingest is not None and None not in core_models.values()
            else None
        )
        # the usage path alone (issue 24's measure): the usage files' ingest and the roll-up of
        # their events to subscriber-days, what the direct query does, without the facts' joins
        roll_up = core_models[DAILY_FACT_MODELS[0]]
        usage_path = usage_ingest + roll_up if usage_ingest is not None and roll_up is not None else None
        load = next((r for r in results if r.step == "direct_load" and r.status == "ok"), None)
        summary["reference_a"] = {
            "day": direct.day,
            "direct_query_wall_s": direct.wall_s,
            "direct_query_sql_s": direct.sql_s,
            "usage_rows": direct.rows_in,
            "subscriber_days": direct.rows_out,
            "pipeline_ingest_wall_s": ingest.wall_s,
            "pipeline_ingest_usage_events_file_s": round(usage_ingest, 3) if usage_ingest else None,
            "pipeline_dbt_run_to_fct_subscriber_daily_wall_s": facts.wall_s,
            "pipeline_wall_s": round(pipeline, 3),
            "ratio_pipeline_to_direct": round(pipeline / direct.wall_s, 2) if direct.wall_s else None,
            # the same comparison without process start-up and the models the usage facts do
            # not need: the usage files' own ingest and the two models' SQL against the query's
            "pipeline_core_model_sql_s": core_models,
            "pipeline_core_s": round(core_sql, 3) if core_sql is not None else None,
            "ratio_core_to_direct_sql": round(core_sql / direct.sql_s, 2) if core_sql and direct.sql_s else None,
            "pipeline_usage_path_s": round(usage_path, 3) if usage_path is not None else None,
            "ratio_usage_path_to_direct_sql": round(usage_path / direct.sql_s, 2)
            if usage_path and direct.sql_s
            else None,
            # the floor of keeping the events in the warehouse at all (no check, no lineage)
            "direct_load_sql_s": load.sql_s if load else None,
            "ratio_load_floor_to_direct_sql": round(load.sql_s / direct.sql_s, 2)
            if load and load.sql_s and direct.sql_s
            else None,
            "note": "pipeline = that day's ingest step (all feeds) + `dbt run --select +fct_subscriber_daily` "
            "with the day's batch, each a fresh process; direct = one DuckDB query over the day's landed "
            "usage Parquet files in a fresh process (process start-up included on both sides).",
        }

    overhead = []
    for t in incremental:
        known = [s for s in t["steps"] if s not in t["sql_unknown_steps"]]
        walls = sum(r.wall_s for r in results if r.run == "incremental" and r.day == t["day"] and r.step in known)
        if walls:
            overhead.append(
                {
                    "source": "step runs (harness: one child process per step)",
                    "day": t["day"],
                    "incremental_day": t["incremental_day"],
                    "steps": known,
                    "wall_s": round(walls, 3),
                    "sql_s": t["sql_s"],
                    "overhead_share": round(1 - t["sql_s"] / walls, 3),
                }
            )
    for r in results:
        if r.run == "airflow" and r.sql_s is not None and r.wall_s:
            overhead.append(
                {
                    "source": "airflow dags test operator_daily (real DAG, Cosmos LOCAL: one task for staging, "
                    "a task per other model, one for the relationships tests)",
                    "day": r.day,
                    "wall_s": r.wall_s,
                    "sql_s": r.sql_s,
                    "overhead_share": round(1 - r.sql_s / r.wall_s, 3),
                    "parsed": {k: v for k, v in r.detail.items() if k != "log"},
                }
            )
    summary["reference_b"] = overhead
    return summary


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render_markdown(doc: dict[str, Any]) -> str:
    """The human-readable results: machine, per-step table, comparisons, references."""
    m, cfg, s = doc["machine"], doc["config"], doc["summary"]
    lines = [
        f"# Benchmark {doc['name']}",
        "",
        f"- machine: {m['cores']} cores ({m['cpu_model']}), {m['memory_total_gib']} GiB memory, "
        f"{m['memory_available_gib_at_start']} GiB available at start; {m['platform']}",
        f"- load average (1/5/15 min) at start {doc['load_start']}, at end {doc['load_end']}"
        + (" - **measured under load from other processes**" if doc["under_load"] else ""),
        f"- versions: {', '.join(f'{k} {v}' for k, v in m['versions'].items())}",
        f"- scale: {cfg['subscribers']:,} subscribers, {cfg['events_per_sub_day']} usage events per active "
        f"subscriber-day, history {cfg['history_days']} days ({cfg['history_start']} .. {cfg['history_end']}), "
        f"incremental days {cfg['incremental_days']}, catch-up `{cfg['catch_up']}`",
        f"- DuckDB threads {cfg['duckdb_threads']}, memory limit {cfg['duckdb_memory_limit']}, dbt threads "
        f"{cfg['dbt_threads']}, `dbt {cfg['dbt_command']}`"
        + (
            ", **dbt on Spark** (local, session mode; the dbt step includes DuckDB's staging views, sharing the "
            "sources and attaching the marts; CPU and RSS are the Python process's, not Spark's JVM)"
            if cfg.get("engine") == "spark"
            else ""
        ),
        f"- code: {cfg['code']}; started {doc['started_at']}, took {doc['elapsed_s']:,.0f} s",
        "",
        "Each step ran in a fresh child process: wall, CPU (user+sys) and peak RSS are that process's "
        "(and its children's) own, from `wait4`. rows/s = rows in (or out where nothing goes in) per wall second.",
        "",
        "| run | day | k | step | status | wall s | CPU s | peak RSS MiB | rows in | rows out | rows/s | SQL s "
        "| load 1m |",
        "| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in doc["steps"]:
        lines.append(
            f"| {r['run']} | {r['day']} | {_fmt(r['incremental_day'])} | {r['step']} | {r['status']} | "
            f"{_fmt(r['wall_s'])} | {_fmt(r['cpu_s'])} | {_fmt(r['peak_rss_mib'], 0)} | {_fmt(r['rows_in'])} | "
            f"{_fmt(r['rows_out'])} | {_fmt(r['rows_per_s'], 0)} | {_fmt(r['sql_s'])} | "
            + (
                "- |"
                if r["status"] == "skipped" and not r["wall_s"]
                else f"{r['load_start']:.2f}→{r['load_end']:.2f} |"
            )
        )
    lines += [
        "",
        "## Runs (sum of the steps that ran)",
        "",
        "| run | day | k | wall s | CPU s | peak RSS MiB | rows in (ingest) | quality gates s (share) "
        "| vs first incremental day |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t in s["runs"]:
        gate_share = f" ({t['gate_wall_s'] / t['wall_s']:.0%})" if t["wall_s"] else ""
        lines.append(
            f"| {t['run']} | {t['day']} | {_fmt(t['incremental_day'])} | {_fmt(t['wall_s'])} | {_fmt(t['cpu_s'])} | "
            f"{_fmt(t['peak_rss_mib'], 0)} | {_fmt(t['rows_in'])} | {_fmt(t['gate_wall_s'])}{gate_share} | "
            f"{_fmt(t.get('ratio_to_first'), 2)} |"
            + (f" failed: {', '.join(t['failed_steps'])}" if t["failed_steps"] else "")
        )
    if skipped := sorted({f"{r['step']}: {r['error']}" for r in doc["steps"] if r["status"] == "skipped"}):
        lines += ["", "Skipped steps: " + "; ".join(skipped)]
    lines += ["", "## Reference (a): direct query vs ingest + daily facts", ""]
    if a := s.get("reference_a"):
        lines += [
            f"Day {a['day']}: {_fmt(a['usage_rows'])} usage events -> {_fmt(a['subscriber_days'])} subscriber-days.",
            "",
            "| | wall s |",
            "| --- | ---: |",
            f"| direct DuckDB query over the landed files (SQL alone {_fmt(a['direct_query_sql_s'], 2)} s) "
            f"| {_fmt(a['direct_query_wall_s'], 2)} |",
            "| pipeline ingest of the day (usage_events files alone "
            f"{_fmt(a['pipeline_ingest_usage_events_file_s'], 2)} s) | {_fmt(a['pipeline_ingest_wall_s'], 2)} |",
            "| pipeline `dbt run -s +fct_subscriber_daily` "
            f"| {_fmt(a['pipeline_dbt_run_to_fct_subscriber_daily_wall_s'], 2)} |",
            f"| **pipeline / direct** | **{_fmt(a['ratio_pipeline_to_direct'], 2)}x** |",
            "",
            a["note"],
            "",
            "The same comparison without process start-up or the models the usage facts do not need (the "
            "usage files' own seconds in the ingest step, dbt's execution time of the two models):",
            "",
            "| | s |",
            "| --- | ---: |",
            f"| direct DuckDB query | {_fmt(a['direct_query_sql_s'], 2)} |",
            f"| pipeline: ingest of the usage files | {_fmt(a['pipeline_ingest_usage_events_file_s'], 2)} |",
            *(
                f"| pipeline: model `{model}` | {_fmt(seconds, 2)} |"
                for model, seconds in (a.get("pipeline_core_model_sql_s") or {}).items()
            ),
            f"| **pipeline / direct, without start-up** | **{_fmt(a.get('ratio_core_to_direct_sql'), 2)}x** |",
            f"| **usage path (ingest of the usage files + `{DAILY_FACT_MODELS[0]}`) / direct** "
            f"| **{_fmt(a.get('ratio_usage_path_to_direct_sql'), 2)}x** "
            f"({_fmt(a.get('pipeline_usage_path_s'), 2)} s) |",
            f"| floor: the landed files copied into a DuckDB table, no checks | {_fmt(a.get('direct_load_sql_s'), 2)} "
            f"({_fmt(a.get('ratio_load_floor_to_direct_sql'), 2)}x the direct query) |",
        ]
    else:
        lines.append("not measured in this run")
    lines += ["", "## Reference (b): orchestration overhead (wall minus SQL time, share of wall)", ""]
    if s["reference_b"]:
        lines += ["| source | day | wall s | SQL s | overhead |", "| --- | --- | ---: | ---: | ---: |"]
        for b in s["reference_b"]:
            lines.append(
                f"| {b['source']} | {b['day']} | {_fmt(b['wall_s'])} | {_fmt(b['sql_s'])} | {b['overhead_share']:.0%} |"
            )
        lines += [
            "",
            "SQL time: DuckDB calls of ingest and gate (timed in the step), dbt run_results `execute` timings "
            "(union of intervals, since dbt threads overlap). For the Airflow run: per-file ingest seconds, the "
            "gate's logged duration and each dbt task's `Finished running ... (N s)` (its nodes' run, threads not "
            "counted twice), parsed from the `dags test` log.",
        ]
    else:
        lines.append("not measured in this run")
    if doc.get("notes"):
        lines += ["", "## Notes", "", *[f"- {n}" for n in doc["notes"]]]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--history-days", type=int, default=90, help="days in the first (history) run")
    parser.add_argument(
        "--incremental-days", default="1,30,90", help="which incremental days to measure, comma-separated (k >= 1)"
    )
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 1, 1), help="first history date")
    parser.add_argument("--events-per-sub-day", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--catch-up", choices=("batch", "daily"), default="batch", help="how days between reported ones are run"
    )
    parser.add_argument("--reference-day", type=int, help="incremental day for reference (a); default the first")
    parser.add_argument("--no-reference", action="store_true", help="skip reference (a)")
    parser.add_argument(
        "--airflow-day", action="store_true", help="also run the real DAG for one more day (reference b)"
    )
    parser.add_argument(
        "--dbt-command",
        choices=("build", "run"),
        default="build",
        help="dbt command of the dbt and decisions steps: build (models and tests, as the DAG) or run (models only)",
    )
    parser.add_argument(
        "--source",
        default="worktree",
        help="code to measure: 'worktree' (the checkout as it is) or a git revision, exported with "
        "`git archive` into the work folder (steady figures while others edit the checkout)",
    )
    parser.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default="duckdb",
        help="where dbt builds (TELCO_MART_ENGINE; spark: local Spark in session mode, docs/spark.md)",
    )
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: TELCO_MART_DUCKDB_THREADS or cores)")
    parser.add_argument("--memory-limit", help="DuckDB memory limit (default: TELCO_MART_DUCKDB_MEMORY_LIMIT or 8GB)")
    parser.add_argument("--name", help="results folder name (default <scale>-<UTC timestamp>)")
    parser.add_argument("--results-dir", type=Path, default=REPO_ROOT / "benchmarks" / "results")
    parser.add_argument("--work-dir", type=Path, help="landing, warehouse and dbt targets (default <results>/work)")
    parser.add_argument("--keep-data", action="store_true", help="keep the landing folder and warehouse afterwards")
    parser.add_argument(
        "--landing",
        type=lambda p: Path(p).resolve(),
        help="use this landing folder (an earlier run's, kept with --keep-data) instead of generating; "
        "its _truth/generation.json must record the same scale, dates, seed and density",
    )
    args = parser.parse_args(argv)
    args.incremental = sorted({int(k) for k in str(args.incremental_days).split(",") if k.strip()})
    if not args.incremental or args.incremental[0] < 1:
        parser.error("--incremental-days needs one or more days >= 1")
    if args.history_days < 1:
        parser.error("--history-days must be at least 1")
    return args


def prepare_source(source: str, work_dir: Path) -> tuple[Path, dict[str, Any]]:
    """The code to measure, and what it is (commit, and whether the checkout had local edits).

    A revision is exported with ``git archive`` (read-only for the repository) so that a long
    run measures one fixed version even while people edit the checkout.
    """

    def git(*args: str) -> str:
        proc = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    if source == "worktree":
        dirty = git("status", "--porcelain", "--", *SOURCE_PATHS)
        return REPO_ROOT, {"source": "worktree", "head": git("rev-parse", "HEAD"), "local_edits": bool(dirty)}
    commit = git("rev-parse", "--verify", f"{source}^{{commit}}")
    if not commit:
        raise SystemExit(f"--source {source}: not a git revision of {REPO_ROOT}")
    root = work_dir / "source"
    root.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "archive", commit, *SOURCE_PATHS],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    return root, {"source": source, "commit": commit, "local_edits": False}


def check_landing(landing: Path, generation: dict[str, Any]) -> None:
    """Refuse a reused landing folder that another scale, window, seed or density made."""
    recorded = landing / "_truth" / "generation.json"
    if not recorded.exists():
        raise SystemExit(f"--landing {landing}: no {recorded.relative_to(landing)}, so not a generated landing")
    made_with = json.loads(recorded.read_text())["arguments"]
    wanted = generation | {"fmt": "parquet", "defects": False}
    if differ := {k: (made_with.get(k), v) for k, v in wanted.items() if made_with.get(k) != v}:
        raise SystemExit(f"--landing {landing} was generated with other arguments (found, wanted): {differ}")


def scale_name(subscribers: int) -> str:
    for unit, size in (("m", 1_000_000), ("k", 1_000)):
        if subscribers >= size and subscribers % size == 0:
            return f"{subscribers // size}{unit}"
    return str(subscribers)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started_at = datetime.now(UTC)
    name = args.name or f"{scale_name(args.subscribers)}-{started_at.strftime('%Y%m%dT%H%M%SZ')}"
    out_dir = args.results_dir / name
    out_dir.mkdir(parents=True, exist_ok=True)
    work_dir = (args.work_dir or out_dir / "work").resolve()
    if work_dir.exists():
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True)
    source_root, source_info = prepare_source(args.source, work_dir)
    bench = Bench(args, out_dir, work_dir, source_root)
    load_start = [round(x, 2) for x in os.getloadavg()]
    machine = machine_info()
    began = time.perf_counter()

    history_start = args.start
    history_end = args.start + timedelta(days=args.history_days - 1)
    last_k = args.incremental[-1]
    airflow_day = history_end + timedelta(days=last_k + 1) if args.airflow_day else None
    generate_end = airflow_day or history_end + timedelta(days=last_k)
    notes = [
        f"generated {history_start} .. {generate_end} in one generator call (history window, the "
        f"incremental days{', one more day for the Airflow run' if airflow_day else ''}); "
        "the history run ingests every landed date up to its run date, as the DAG's first run does.",
    ]
    bench.say(f"results in {out_dir}; data in {work_dir}")
    generation = {
        "subscribers": args.subscribers,
        "start": history_start.isoformat(),
        "end": generate_end.isoformat(),
        "seed": args.seed,
        "events_per_sub_day": args.events_per_sub_day,
    }
    if args.landing:
        check_landing(args.landing, generation)
        generated = bench.skipped("setup", generate_end, "generate", f"landing reused from {args.landing}")
        notes.append(f"the landing was not generated in this run: reused {args.landing}, same generator arguments")
    else:
        generated = bench.step(
            "setup", generate_end, "generate", "generate", generation | {"landing": str(bench.landing)}
        )
    if generated.status not in ("ok", "skipped"):
        killed = " (killed: most likely out of memory)" if generated.status == "exit -9" else ""
        raise SystemExit(f"generate failed, {generated.status}{killed}; see {out_dir / generated.detail['log']}")
    # Files for days after the run date are on disk from the start, as in the DAG's demo; the
    # first run only scans dates up to its run date.
    try:
        bench.pipeline_run("history", history_end, None)

        reference_k = args.reference_day or args.incremental[0]
        previous = 0
        for k in args.incremental:
            gap = [history_end + timedelta(days=i) for i in range(previous + 1, k)]
            bench.catch_up(gap)
            if gap:
                notes.append(
                    f"incremental days {previous + 1}..{k - 1} ({gap[0]} .. {gap[-1]}) were brought in by a "
                    f"'{args.catch_up}' catch-up before day {k}: "
                    + (
                        "one ingest of those dates, the quality gate over them and one dbt build "
                        "(the batch of those dates)"
                        if args.catch_up == "batch"
                        else "each as a full incremental run"
                    )
                )
            day = history_end + timedelta(days=k)
            info = bench.pipeline_run("incremental", day, k)
            if k == reference_k and not args.no_reference:
                bench.reference_a(day, info["batch"], k)
            previous = k
        if airflow_day:
            bench.airflow_run(airflow_day)
    except RunStopped as stopped:
        bench.say(f"stopped: {stopped}")
        notes.append(f"stopped early: {stopped}")
    load_end = [round(x, 2) for x in os.getloadavg()]
    # Load from others: before the first step only others run; during the run our own child
    # adds up to the number of cores, so more than that is someone else's work.
    cores = os.cpu_count() or 1
    peak_load = max((max(r.load_start, r.load_end) for r in bench.results), default=0.0)
    under_load = load_start[0] > 0.5 or peak_load > cores + 0.5
    doc = {
        "name": name,
        "started_at": started_at.isoformat(timespec="seconds"),
        "elapsed_s": round(time.perf_counter() - began, 1),
        "machine": machine,
        "load_start": load_start,
        "load_end": load_end,
        "under_load": under_load,
        "config": {
            "subscribers": args.subscribers,
            "events_per_sub_day": args.events_per_sub_day,
            "seed": args.seed,
            "history_days": args.history_days,
            "history_start": history_start.isoformat(),
            "history_end": history_end.isoformat(),
            "incremental_days": args.incremental,
            "catch_up": args.catch_up,
            "format": "parquet",
            "duckdb_threads": bench.env.get("TELCO_MART_DUCKDB_THREADS", str(os.cpu_count())),
            "duckdb_memory_limit": bench.env.get("TELCO_MART_DUCKDB_MEMORY_LIMIT", "8GB"),
            "dbt_threads": bench.env.get("DBT_THREADS", "2"),
            "dbt_command": args.dbt_command,
            "engine": args.engine,
            "dbt_execution": "one `dbt build` per run through dbt's in-process runner (dbtRunner), dbt threads; "
            "the DAG itself runs Cosmos LOCAL mode: one task for staging, a task per other model, one for the "
            "relationships tests",
            "campaign_models": bench.has_campaigns,
            "code": source_info,
            "work_dir": str(work_dir),
        },
        "notes": notes,
        "steps": [r.as_json() for r in bench.results],
        "summary": summarise(bench.results),
    }
    (out_dir / "results.json").write_text(json.dumps(doc, indent=2, default=str))
    (out_dir / "results.md").write_text(render_markdown(doc))
    bench.say(f"wrote {out_dir / 'results.md'} and results.json")
    if not args.keep_data:
        shutil.rmtree(work_dir, ignore_errors=True)
    failed = [r for r in bench.results if r.status not in ("ok", "skipped", "gate_failed")]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
