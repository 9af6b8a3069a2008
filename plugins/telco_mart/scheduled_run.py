"""One day of operator_daily through Airflow's own scheduler, followed from the terminal.

``telco-mart run --date D`` (and ``make demo``) runs the DAG the way production does: the
scheduler and its LocalExecutor run each task in its own process, each task writes its log
where the UI reads it, and the run's start and end are the real ones. ``airflow dags test``
does none of that: it runs the tasks inside one process, its logs reach no task log, and it
dates the run's start at its logical date (the demo's run used to show "279d 19h").

If a scheduler already runs on this metadata database (``make ui``), the run goes to it;
otherwise ``airflow standalone`` is started for the run and stopped after it. The terminal
gets one line as each task starts and one as it ends, with the figures it returned; the log
file gets everything: the components' output, then each task's log as it ends.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from telco_mart.runtime import API_PORT, WAREHOUSE_POOL, WAREHOUSE_POOL_DESCRIPTION, airflow_environment

DAG_ID = "operator_daily"
#: How long the components may take to come up, and to go down, before the run gives up on them.
START_TIMEOUT_S = 300
STOP_TIMEOUT_S = 60

#: What each task's returned summary is shown by, in this order: (key, how to show it).
FIGURES: tuple[tuple[str, Callable[[Any], str]], ...] = (
    ("files", lambda v: f"{v:,} files" if isinstance(v, int) else f"{len(v)} lists"),
    ("feeds", lambda v: f"from {len(v)} feeds"),
    ("campaigns", lambda v: f"{v} campaigns"),
    ("version", lambda v: f"catalog version {v}"),
    ("files_loaded", lambda v: f"{v:,} files loaded"),
    ("files_skipped", lambda v: f"{v:,} already loaded"),
    ("files_rejected", lambda v: f"{v:,} rejected"),
    ("rows_loaded", lambda v: f"{v:,} rows loaded"),
    ("rows_quarantined", lambda v: f"{v:,} quarantined"),
    ("batch_start_date", lambda v: f"dbt batch from {v}"),
    ("batch_end_date", lambda v: f"to {v}"),
    ("results", lambda v: f"{v:,} checks"),
    ("failed", lambda v: f"{v} failed"),
    ("warned", lambda v: f"{v} warned"),
    ("total_rows", lambda v: f"{v:,} target rows"),
    ("tables", lambda v: f"{len(v)} tables, {sum(v.values()):,} rows"),
    ("files_by_status", lambda v: ", ".join(f"{n:,} files {status}" for status, n in v.items())),
    ("report", lambda v: f"report {v}"),
)


def describe_result(value: Any) -> str:
    """A task's returned summary (its XCom) as the figures a person follows a run by."""
    if isinstance(value, dict):
        # Nothing of nothing (0 rejected, no report), except a gate's failures: "0 failed" is news.
        shown = [show(value[key]) for key, show in FIGURES if value.get(key) or (key == "failed" and key in value)]
        return ", ".join(shown)
    return "" if value in (None, True) else str(value)[:200]


def is_leak_report(line: str) -> bool:
    """DuckDB's binding library lists the objects still alive when a process exits (about 50
    lines per process); they are harmless at exit and say nothing about the run."""
    text = line.strip()
    return text.startswith(("nanobind: ", "- leaked ", "- ... skipped remainder", "See https://nanobind"))


def duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{seconds:.1f}s"


@dataclass
class RunOutcome:
    """How the followed run ended; ``ok`` is what the command's exit code says."""

    state: str
    run_id: str
    seconds: float
    tasks: dict[str, str] = field(default_factory=dict)
    nothing_delivered: bool = False

    @property
    def ok(self) -> bool:
        return self.state == "success"


class RunError(RuntimeError):
    """The run could not be started or followed (a component did not come up, the DAG did not import)."""


class LogFile:
    """The run's log file, written from several threads, leak reports left out."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[str] = path.open("w", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        lines = [line for line in text.splitlines() if not is_leak_report(line)]
        if lines:
            with self._lock:
                self._file.write("\n".join(lines) + "\n")
                self._file.flush()

    def close(self) -> None:
        self._file.close()


def run_day(run_date: date, log_path: Path, say: Callable[[str], None] = print) -> RunOutcome:
    """Run operator_daily for ``run_date`` through the scheduler and follow it to its end."""
    env = airflow_environment()
    os.environ.update(env)  # before Airflow is imported: it reads its configuration once
    # This process only reads Airflow's database: the terminal gets the run, not Airflow's
    # start-up chatter (the components started below keep their own levels: ``env``).
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "ERROR"
    logging.getLogger("airflow").setLevel(logging.ERROR)
    log = LogFile(log_path)
    try:
        log.write(f"== telco-mart run --date {run_date} ({datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC) ==")
        with airflow_running(env, log, say):
            run_id, unpaused = trigger(run_date, say)
            try:
                return follow(run_id, log, say)
            finally:
                if unpaused:
                    set_paused(True)
                    say(f"{DAG_ID} paused again, as it was (unpause it in the UI to run each day as it ends)")
    finally:
        log.close()


@contextlib.contextmanager
def airflow_running(env: dict[str, str], log: LogFile, say: Callable[[str], None]) -> Iterator[None]:
    """A scheduler for the run: the one already running on this metadata database, or
    ``airflow standalone`` started here and stopped when the run ends."""
    if scheduler_alive():
        say("using the Airflow scheduler already running (make ui)")
        ensure_pool()
        wait_for_dag(None, log)
        yield
        return
    env = dict(env)
    port = int(env.get("AIRFLOW__API__PORT", API_PORT))
    if port_in_use(port):  # something else holds the UI's port: take a free one for this run
        port = free_port()
        env["AIRFLOW__API__PORT"] = str(port)
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://127.0.0.1:{port}/execution/"
    say(f"starting Airflow (scheduler, dag-processor, API server on http://127.0.0.1:{port}) for this run ...")
    began = time.monotonic()
    process = start_standalone(env, subprocess.PIPE)
    pump = threading.Thread(target=lambda: [log.write(line) for line in process.stdout or ()], daemon=True)
    pump.start()
    try:
        wait_for_dag(process, log, port)
        ensure_pool()
        passwords = Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
        say(
            f"Airflow is up ({duration(time.monotonic() - began)}): while the run lasts the UI shows it, "
            f"user admin, password in {passwords}"
        )
        yield
    finally:
        stop(process)
        pump.join(timeout=10)


def scheduler_alive() -> bool:
    from airflow.jobs.job import most_recent_job

    try:
        job = most_recent_job("SchedulerJob")
    except Exception:  # no metadata database yet: nothing runs on it
        return False
    return bool(job and job.is_alive())


def api_answers(port: int | None) -> bool:
    if port is None:
        return True
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5) as answer:
            return answer.status == 200
    except OSError:
        return False


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_pool() -> None:
    """The one-slot warehouse pool every DuckDB task takes (``make ui`` creates it too)."""
    from airflow.models.pool import Pool

    if Pool.get_pool(WAREHOUSE_POOL) is None:
        Pool.create_or_update_pool(WAREHOUSE_POOL, 1, WAREHOUSE_POOL_DESCRIPTION, include_deferred=False)


def wait_for_dag(process: subprocess.Popen | None, log: LogFile, port: int | None = None) -> None:
    """Until the scheduler heartbeats, the DAG is parsed and the API server on ``port`` answers
    (a task started before it fails: its process reports to the API); the DAG's import error
    if it has one."""
    from airflow.models.dag import DagModel
    from airflow.models.errors import ParseImportError
    from airflow.utils.session import create_session
    from sqlalchemy import select

    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process is not None and process.poll() is not None:
            raise RunError(f"airflow standalone stopped (exit {process.returncode}); its output is in {log.path}")
        try:
            with create_session() as session:
                errors = session.scalars(
                    select(ParseImportError.stacktrace).where(ParseImportError.filename.like("%operator_daily.py"))
                ).all()
                dag = session.get(DagModel, DAG_ID)
                ready = dag is not None and not dag.is_stale and scheduler_alive() and api_answers(port)
        except Exception:  # the database is still being created by standalone
            errors, ready = [], False
        if errors:
            raise RunError(f"the DAG file does not import:\n{errors[0].strip().splitlines()[-1]}")
        if ready:
            return
        if time.monotonic() > deadline:
            raise RunError(f"Airflow did not come up within {START_TIMEOUT_S} s; its output is in {log.path}")
        time.sleep(1)


def start_standalone(env: dict[str, str], output: int | None) -> subprocess.Popen:
    """``airflow standalone`` in a process group of its own (``stop`` ends it), its output
    to ``output`` (a pipe, or None for this process's own stdout)."""
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("airflow")), "standalone"],
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # Ctrl-C on our terminal reaches us, never its components directly
        preexec_fn=interruptible,
    )


def serve(say: Callable[[str], None] = print) -> int:
    """``make ui``: Airflow standalone in the foreground, its output on the terminal, until Ctrl-C.

    Ctrl-C in a terminal signals every process of the foreground group at once. Reaching the
    scheduler directly while standalone stops it too left the scheduler hanging on its
    executor's workers (seen with Airflow 3.3.2); here standalone runs in a group of its own
    and gets one SIGINT from us, then stops its components in order, as it is built to.
    """
    env = airflow_environment()
    process = start_standalone(env, None)
    try:
        return process.wait()
    except KeyboardInterrupt:
        say("stopping Airflow (scheduler, dag-processor, API server, triggerer) ...")
        stop(process)
        say("Airflow stopped")
        return 0


def interruptible() -> None:
    """In the child, before exec: Ctrl-C's signal acts again. A process started in the
    background (``&``, nohup, some CI runners) ignores SIGINT, and its children inherit that:
    standalone would then never stop its components when asked to."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop(process: subprocess.Popen) -> None:
    """Stop standalone as Ctrl-C would (it stops its components), then whatever is left of its group."""
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_TIMEOUT_S)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)  # the group it leads: LocalExecutor workers, serve-logs
        except ProcessLookupError:
            break
        time.sleep(2)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def set_paused(paused: bool) -> None:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        session.get(DagModel, DAG_ID).is_paused = paused


def trigger(run_date: date, say: Callable[[str], None]) -> tuple[str, bool]:
    """Queue the run for ``run_date``: a new one, or the existing one cleared (a rerun of the day).
    Returns the run's id and whether the DAG had to be unpaused for it."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance, clear_task_instances
    from airflow.utils.session import create_session
    from airflow.utils.types import DagRunTriggeredByType
    from sqlalchemy import select

    logical_date = datetime(run_date.year, run_date.month, run_date.day, tzinfo=UTC)
    with create_session() as session:
        dag = session.get(DagModel, DAG_ID)
        unpaused = bool(dag.is_paused)
        if unpaused:
            dag.is_paused = False  # a paused DAG's queued runs never start; ``run_day`` pauses it again
            say(f"{DAG_ID} is paused: unpaused for this run")
        existing = session.scalar(select(DagRun).where(DagRun.dag_id == DAG_ID, DagRun.logical_date == logical_date))
        if existing is not None:
            tis = session.scalars(
                select(TaskInstance).where(TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == existing.run_id)
            ).all()
            clear_task_instances(list(tis), session, run_on_latest_version=True)
            say(f"rerunning {DAG_ID} for {run_date} (run {existing.run_id}, cleared)")
            return existing.run_id, unpaused
        run = trigger_dag(
            DAG_ID,
            triggered_by=DagRunTriggeredByType.CLI,
            triggering_user_name="telco-mart run",
            logical_date=logical_date,
            session=session,
        )
        say(f"triggered {DAG_ID} for {run_date} (run {run.run_id})")
        return run.run_id, unpaused


def follow(run_id: str, log: LogFile, say: Callable[[str], None], poll_s: float = 1.0) -> RunOutcome:
    """Print each task as it starts and ends until the run is over; append each task's log to ``log``."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    seen: dict[tuple[str, int], str] = {}
    logged: set[tuple[str, int]] = set()
    began = time.monotonic()
    while True:
        with create_session() as session:
            run = session.scalar(select(DagRun).where(DagRun.dag_id == DAG_ID, DagRun.run_id == run_id))
            tis = session.scalars(
                select(TaskInstance).where(TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == run_id)
            ).all()
            for ti in sorted(tis, key=lambda t: t.start_date or t.end_date or datetime.max.replace(tzinfo=UTC)):
                key, state = (ti.task_id, ti.try_number), str(ti.state or "none")
                if seen.get(key) == state:
                    continue
                seen[key] = state
                report_task(ti, state, session, say)
                if state in ("success", "failed", "up_for_retry") and key not in logged:
                    logged.add(key)
                    log.write(f"\n== {ti.task_id} (try {ti.try_number}): {state} ==\n{task_log_text(ti, session)}")
            run_state = str(run.state)
            if run_state in ("success", "failed"):
                states = {ti.task_id: str(ti.state) for ti in tis}
                seconds = ((run.end_date or datetime.now(UTC)) - (run.start_date or run.end_date)).total_seconds()
                outcome = RunOutcome(run_state, run_id, seconds, states)
                deliveries = states.get("deliveries")
                outcome.nothing_delivered = deliveries == "success" and all(
                    s == "skipped" for t, s in states.items() if t != "deliveries"
                )
                say(summary_line(outcome, run.logical_date, time.monotonic() - began))
                return outcome
        time.sleep(poll_s)


def report_task(ti: Any, state: str, session: Any, say: Callable[[str], None]) -> None:
    clock = datetime.now(UTC).strftime("%H:%M:%S")
    took = f" in {duration((ti.end_date - ti.start_date).total_seconds())}" if ti.start_date and ti.end_date else ""
    if state == "running":
        say(f"{clock}  started   {ti.task_id}")
    elif state == "success":
        figures = describe_result(task_result(ti, session))
        say(f"{clock}  done      {ti.task_id}{took}" + (f": {figures}" if figures else ""))
    elif state in ("failed", "up_for_retry"):
        last = [line for line in task_log_text(ti, session).splitlines() if " error " in line.lower()][-3:]
        verb = "FAILED  " if state == "failed" else "retrying"
        say(f"{clock}  {verb}  {ti.task_id}{took}" + "".join(f"\n            {line[:300]}" for line in last))


def task_result(ti: Any, session: Any) -> Any:
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    row = session.scalar(
        select(XComModel).where(
            XComModel.dag_id == ti.dag_id,
            XComModel.run_id == ti.run_id,
            XComModel.task_id == ti.task_id,
            XComModel.map_index == ti.map_index,
            XComModel.key == "return_value",
        )
    )
    return None if row is None else XComModel.deserialize_value(row)


def task_log_text(ti: Any, session: Any) -> str:
    """The task's log file (JSON lines, as Airflow writes it) as plain lines."""
    from airflow.configuration import conf
    from airflow.utils.log.file_task_handler import FileTaskHandler

    handler = FileTaskHandler(base_log_folder=conf.get("logging", "base_log_folder"))
    path = Path(handler.local_base) / handler._render_filename(ti, ti.try_number, session=session)
    if not path.is_file():
        return f"(no log at {path})"
    lines = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(raw)
        except ValueError:
            lines.append(raw)
            continue
        detail = entry.get("error_detail")
        text = f"{entry.get('timestamp', '')} {entry.get('level', ''):<7} {entry.get('event', '')}"
        lines.append(text + (f" {json.dumps(detail)[:4000]}" if detail else ""))
    return "\n".join(line for line in lines if not is_leak_report(line))


def summary_line(outcome: RunOutcome, logical_date: datetime, followed_s: float) -> str:
    day = logical_date.date() if logical_date else "?"
    if outcome.nothing_delivered:
        return (
            f"{DAG_ID} {day}: nothing delivered for {day}; the run was skipped after `deliveries` "
            f"(no ingest, no dbt, nothing published) in {duration(outcome.seconds)}"
        )
    counts: dict[str, int] = {}
    for state in outcome.tasks.values():
        counts[state] = counts.get(state, 0) + 1
    tally = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    return f"{DAG_ID} {day}: {outcome.state.upper()} in {duration(outcome.seconds)} ({tally})"
