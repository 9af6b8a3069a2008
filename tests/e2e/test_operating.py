"""Operating the DAG as a person does: `telco-mart run` through the real scheduler, `make ui` in a browser.

Everything runs as on a fresh clone's shell: PATH without the virtualenv, a throwaway
AIRFLOW_HOME and data directory, the UI on a free port. A day nobody delivered anything for
goes through Airflow's scheduler (not ``dags test``) and must end skipped, green, within a
minute; then ``make ui`` must come up, let a person log in, and show the DAG, its docs and
that run's task log. Costs about three minutes: two Airflow start-ups.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from telco_mart.scheduled_run import interruptible
from tests.browser import CHROMIUM, MISSING_REASON, REQUIRE_CHROMIUM, Browser
from tests.conftest import FEED_COUNT, REPO_ROOT, SMALL_START

pytestmark = pytest.mark.e2e

TELCO_MART = str(Path(sys.executable).with_name("telco-mart"))
#: Days nobody delivered anything for (the landing holds SMALL_START only).
EMPTY_DAY, OTHER_EMPTY_DAY = "2026-02-01", "2026-02-02"
MODEL = "fct_subscriber_daily"
START_TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening_addresses(port: int) -> set[str]:
    """The local addresses a TCP socket listens on for ``port`` (Linux /proc/net/tcp{,6})."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as rows:
            for row in list(rows)[1:]:
                local, state = row.split()[1], row.split()[3]
                address, hex_port = local.split(":")
                if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                    found.add("127.0.0.1" if address == "0100007F" else address)
    return found


@pytest.fixture(scope="module")
def env(small_landing: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A person's shell: no virtualenv on PATH, nothing of this test session's settings."""
    home = tmp_path_factory.mktemp("operating")
    data = home / "data"
    day = small_landing / "plans" / str(SMALL_START)
    shutil.copytree(day, data / "landing" / "plans" / str(SMALL_START))  # one delivery, on another day
    keep = ("HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
    environment = {k: v for k, v in os.environ.items() if k in keep}
    environment.update(
        PATH="/usr/local/bin:/usr/bin:/bin",
        AIRFLOW_HOME=str(home / "airflow"),
        TELCO_MART_DATA_DIR=str(data),
        AIRFLOW__API__PORT=str(free_port()),
    )
    assert shutil.which("airflow", path=environment["PATH"]) is None, "the venv must not be on PATH"
    return environment


def metadata(env: dict[str, str], sql: str, *params: object) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db")) as con:
        return con.execute(sql, params).fetchall()


def run_day(env: dict[str, str], day: str) -> subprocess.CompletedProcess:
    log = Path(env["AIRFLOW_HOME"]) / f"run-{day}.log"
    return subprocess.run(
        [TELCO_MART, "run", "--date", day, "--log", str(log)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S + 120,
        check=False,
    )


def assert_skipped_within_a_minute(env: dict[str, str], day: str) -> str:
    """The day's run succeeded, every task after `deliveries` skipped, 60 s from queued to end; its run id."""
    ((run_id, state, queued, ended),) = metadata(
        env,
        "select run_id, state, queued_at, end_date from dag_run where dag_id = 'operator_daily' "
        "and date(logical_date) = ?",
        day,
    )
    assert state == "success"
    took = datetime.fromisoformat(ended) - datetime.fromisoformat(queued)
    assert took.total_seconds() < 60, f"the run of {day} took {took} from trigger to end"
    states = dict(metadata(env, "select task_id, state from task_instance where run_id = ?", run_id))
    assert states.pop("deliveries") == "success"
    assert len(states) > 30 and set(states.values()) == {"skipped"}, states
    return run_id


def test_a_day_without_deliveries_goes_through_the_scheduler_and_is_skipped_in_a_minute(env: dict[str, str]) -> None:
    """`telco-mart run` (make demo's) starts Airflow itself here: nothing runs yet."""
    done = run_day(env, EMPTY_DAY)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "starting Airflow" in done.stdout
    assert f"nothing delivered for {EMPTY_DAY}; the run was skipped after `deliveries`" in done.stdout
    assert_skipped_within_a_minute(env, EMPTY_DAY)
    log = (Path(env["AIRFLOW_HOME"]) / f"run-{EMPTY_DAY}.log").read_text()
    assert f"nothing delivered for {EMPTY_DAY}: none of the {FEED_COUNT} feeds has a file" in log  # the task's own log
    assert re.search(r"^scheduler +\| ", log, flags=re.MULTILINE) and "nanobind" not in log  # components' output
    assert metadata(env, "select is_paused from dag where dag_id = 'operator_daily'") == [(1,)]  # as it was
    assert listening_addresses(int(env["AIRFLOW__API__PORT"])) == set(), "Airflow was left running"


@pytest.fixture(scope="module")
def ui(env: dict[str, str]) -> Iterator[str]:
    """`make ui`, as typed in a fresh shell; stopped as Ctrl-C stops it."""
    port = int(env["AIRFLOW__API__PORT"])
    base = f"http://127.0.0.1:{port}"
    output = Path(env["AIRFLOW_HOME"]) / "make-ui.log"
    with output.open("w") as out:
        make = subprocess.Popen(
            ["make", "--no-print-directory", "ui"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=interruptible,  # as in a terminal, even when this test runs in the background
        )
    standalone = None
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not healthy(base):
            assert make.poll() is None, f"make ui stopped ({make.returncode}):\n{output.read_text()[-5000:]}"
            assert time.monotonic() < deadline, f"make ui did not come up:\n{output.read_text()[-5000:]}"
            time.sleep(2)
        standalone = next(
            pid for pid in descendants(make.pid) if b"standalone" in Path(f"/proc/{pid}/cmdline").read_bytes()
        )
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole foreground group
        deadline = time.monotonic() + 90
        while (make.poll() is None or listening_addresses(port)) and time.monotonic() < deadline:
            time.sleep(1)
        stopped = make.poll() is not None and not listening_addresses(port)
        for group in (make.pid, standalone):  # whatever outlived Ctrl-C, so no test leaves Airflow behind
            with contextlib.suppress(ProcessLookupError, TypeError):
                os.killpg(group, signal.SIGKILL)
        make.wait()
    assert stopped, f"make ui did not stop within 90 s of Ctrl-C:\n{output.read_text()[-3000:]}"
    assert "Airflow stopped" in output.read_text()


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/api/v2/monitor/health", timeout=5) as answer:
            health = json.load(answer)
    except OSError:
        return False
    return health["scheduler"]["status"] == "healthy" and health["metadatabase"]["status"] == "healthy"


def test_make_ui_listens_on_loopback_only(env: dict[str, str], ui: str) -> None:
    assert listening_addresses(int(env["AIRFLOW__API__PORT"])) == {"127.0.0.1"}


def test_run_hands_a_day_to_the_scheduler_make_ui_runs(env: dict[str, str], ui: str) -> None:
    done = run_day(env, OTHER_EMPTY_DAY)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "using the Airflow scheduler already running" in done.stdout and "starting Airflow" not in done.stdout
    assert_skipped_within_a_minute(env, OTHER_EMPTY_DAY)


@pytest.mark.skipif(CHROMIUM is None and not REQUIRE_CHROMIUM, reason=MISSING_REASON)
def test_a_person_logs_in_and_finds_the_dag_its_docs_and_the_runs_log(
    env: dict[str, str], ui: str, tmp_path: Path
) -> None:
    password = json.loads((Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated").read_text())
    ((run_id,),) = metadata(
        env, "select run_id from dag_run where dag_id = 'operator_daily' and date(logical_date) = ?", EMPTY_DAY
    )
    manifest = json.loads((REPO_ROOT / "dbt_project" / "target" / "manifest.json").read_text())
    description = manifest["nodes"][f"model.telco_mart.{MODEL}"]["description"].strip()
    browser = Browser(tmp_path / "profile")
    try:
        browser.goto(f"{ui}/dags")
        browser.type_into("input[name=username]", "admin")
        browser.type_into("input[name=password]", password["admin"])
        browser.evaluate("document.querySelector('button[type=submit]').click()")
        browser.wait_for_text("operator_daily")

        browser.goto(f"{ui}/dags/operator_daily")
        docs = open_dialog(browser, "Dag Docs", "Dag Documentation")
        assert "nothing delivered for D" in docs and "`" not in docs, docs  # Markdown rendered, no reST left

        browser.goto(f"{ui}/dags/operator_daily/tasks/dbt.{MODEL}_model_build")
        docs = open_dialog(browser, "Documentation", "Task Documentation")
        assert description[:120] in " ".join(docs.split()), docs

        browser.goto(f"{ui}/dags/operator_daily/runs/{run_id}/tasks/deliveries")
        browser.wait_for_text(f"nothing delivered for {EMPTY_DAY}")  # the task's log, in the UI
    finally:
        browser.close()


def open_dialog(browser: Browser, label: str, heading: str) -> str:
    """Click the button with this accessible name; the text of the dialog it opens (by its heading)."""
    button = f"document.querySelector('button[aria-label={json.dumps(label)}]')"
    browser.wait_for(f"!!{button}")
    browser.evaluate(f"{button}.click()")
    dialogs = "[...document.querySelectorAll('[role=dialog]')].map(d => d.innerText)"
    return browser.wait_for(f"{dialogs}.find(text => text.includes({json.dumps(heading)})) || ''")
