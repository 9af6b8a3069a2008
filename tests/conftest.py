"""Shared fixtures: small generated landings and warehouses built through the real layers."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "plugins"))

import atexit  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

from telco_mart.contract import load_contract  # noqa: E402
from telco_mart.runtime import NO_TELEMETRY, airflow_environment  # noqa: E402
from telco_mart.schema import copy_warehouse, store_raw_rows  # noqa: E402

# Airflow reads its configuration when first imported: point it at a throwaway home (SQLite
# metadata, logs) and this repo's DAGs before any test imports it.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="telco-mart-airflow-"))
# ... and remove it when the session ends, or every test run leaves one behind in the temp folder.
atexit.register(shutil.rmtree, _AIRFLOW_HOME, ignore_errors=True)
os.environ.update(
    airflow_environment(airflow_home=_AIRFLOW_HOME, base=dict(os.environ, AIRFLOW_HOME=str(_AIRFLOW_HOME)))
)
os.environ["TELCO_MART_TASK_RETRIES"] = "0"

SMALL_START = date(2026, 1, 1)
SMALL_END = date(2026, 1, 4)
SMALL_SUBSCRIBERS = 300
#: The feeds of the raw contract (messages that count them say this many).
FEED_COUNT = len(load_contract().feeds)


@pytest.fixture(autouse=True, scope="session")
def _no_telemetry() -> Iterator[None]:
    mp = pytest.MonkeyPatch()
    for key, value in NO_TELEMETRY.items():
        mp.setenv(key, value)
    yield
    mp.undo()


def generate_csv_landing(
    out: Path,
    subscribers: int,
    start: date,
    end: date,
    *,
    seed: int = 7,
    defects: bool = False,
    dialect: str | None = None,
) -> Path:
    """Daily CSV feeds from the real generator, 4 usage events per subscriber-day, into ``out``,
    in the contract's own spelling or an operator profile's ``dialect``."""
    from telco_mart.generate import generate

    generate(
        subscribers=subscribers,
        start=start,
        end=end,
        seed=seed,
        out=out,
        fmt="csv",
        defects=defects,
        events_per_sub_day=4.0,
        dialect=dialect,
    )
    return out


@pytest.fixture(scope="session")
def small_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four clean days of generated CSV feeds for 300 subscribers (read-only: copy to modify)."""
    return generate_small_world(tmp_path_factory.mktemp("landing"))


def generate_small_world(out: Path, dialect: str | None = None) -> Path:
    """The small world (300 subscribers, four days) as CSV, in the contract's spelling or ``dialect``."""
    return generate_csv_landing(out, SMALL_SUBSCRIBERS, SMALL_START, SMALL_END, dialect=dialect)


@pytest.fixture(scope="session")
def defects_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated CSV feeds with every defect class planted (see _truth/defects.json)."""
    out = tmp_path_factory.mktemp("landing_defects")
    return generate_csv_landing(out, SMALL_SUBSCRIBERS, SMALL_START, SMALL_END, seed=11, defects=True)


@pytest.fixture(scope="session")
def defects_warehouse(defects_landing: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The defects landing ingested up to its last day: what ingestion quarantined and
    registered, which the ingestion tests read and the raw gate's tests judge."""
    warehouse = tmp_path_factory.mktemp("defects") / "warehouse.duckdb"
    ingest_landing(defects_landing, warehouse, SMALL_END)
    return warehouse


def writable_copy(warehouse: Path, folder: Path) -> Path:
    """A copy of a session's shared warehouse that one test may write (a gate's results, the
    ledger), so the shared one stays as built for every other test."""
    copy = folder / "warehouse.duckdb"
    copy_warehouse(warehouse, copy)
    return copy


def add_raw_rows(con: duckdb.DuckDBPyConnection, feed: str, select_sql: str, params: list, day: date) -> None:
    """Rows put into a raw feed of delivery date ``day`` without ingestion, as a broken load or a
    hand edit would leave them: a table insert, or one more file of a Parquet-stored feed."""
    contract_feed = load_contract().feed(feed)
    if contract_feed.storage == "parquet":
        store_raw_rows(
            con,
            contract_feed,
            select_sql,
            params,
            delivery_date=day,
            source_file="tampered",
            load_id="tampered",
            keys_proven=None,  # nothing checked them
        )
    else:
        con.execute(f"insert into raw.{feed} by name {select_sql}", params)


def open_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path))


def table_checksums(warehouse: Path, tables: Iterable[str], per: str | None = None) -> dict[str, dict]:
    """Per marts table, and per value of the column ``per`` (one part, ``None``, without it):
    the row count and an order-independent md5 of every row's full text. What a rerun must
    reproduce and an incremental run must leave alone."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        out: dict[str, dict] = {}
        for table in tables:
            rows = con.execute(
                f"""
                select part, count(*), md5(string_agg(row_text, chr(10) order by row_text))
                from (select {per or "null"} as part, cast(t as varchar) as row_text from marts.{table} as t)
                group by part
                """
            ).fetchall()
            out[table] = {part: (count, digest) for part, count, digest in rows}
        return out
    finally:
        con.close()


def run_dbt(
    args: list[str],
    warehouse: Path,
    target_dir: Path,
    dbt_vars: dict[str, str] | None = None,
    project_dir: Path | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """Run the real dbt CLI on the project (or a copy of it) against ``warehouse``, with
    ``env`` added to its environment; return its output, raise on failure."""
    import json
    import os
    import subprocess

    from telco_mart.runtime import airflow_environment

    environment = airflow_environment() | (env or {})
    environment["TELCO_MART_WAREHOUSE"] = str(warehouse)
    cmd = [
        str(Path(sys.executable).with_name("dbt")),
        *args,
        "--project-dir",
        str(project_dir or REPO_ROOT / "dbt_project"),
        "--profiles-dir",
        str(project_dir or REPO_ROOT / "dbt_project"),
        "--target-path",
        str(target_dir),
        "--log-path",
        str(target_dir / "logs"),
    ]
    if dbt_vars:
        cmd += ["--vars", json.dumps(dbt_vars)]
    proc = subprocess.run(cmd, env=environment, capture_output=True, text=True, cwd=os.fspath(REPO_ROOT), check=False)
    if proc.returncode != 0:
        raise AssertionError(f"dbt {' '.join(args)} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


class InProcessDbt:
    """The real dbt project run against ``warehouse`` through dbt's in-process runner (as the
    DAG's Cosmos tasks run it), parsed once: for a test that runs dbt many times, e.g. day by day.

    ``run_dbt`` starts a process per call, and dbt re-parses the whole project whenever the vars
    change (every day of a daily loop): about 10 s a call before any model runs. Here the
    project is parsed on the first call and every call gets a copy of that manifest (dbt marks
    the nodes it compiles, so one manifest object cannot serve two invocations). The vars are
    rendered when a model compiles, so each call's ``dbt_vars`` apply. No JSON artifacts and no
    log file are written (about a second a call); a failure raises with each failed
    node's message.
    """

    def __init__(self, warehouse: Path, target_dir: Path) -> None:
        self.warehouse = warehouse
        self.target_dir = target_dir
        self._manifest = None

    def _invoke(self, args: list[str], manifest=None):
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
        from dbt.cli.main import dbtRunner

        project = str(REPO_ROOT / "dbt_project")
        flags = ["--project-dir", project, "--profiles-dir", project, "--target-path", str(self.target_dir)]
        flags += ["--log-path", str(self.target_dir / "logs"), "--log-level-file", "none", "--quiet", "--no-write-json"]
        mp = pytest.MonkeyPatch()
        mp.setenv("TELCO_MART_WAREHOUSE", str(self.warehouse))
        try:
            outcome = dbtRunner(manifest=manifest).invoke([*args, *flags])
        finally:
            mp.undo()
            # dbt-duckdb keeps the database open in the process after a run: release it, so that
            # the file opens between calls with any configuration (read-only too), as after a dbt process.
            DuckDBConnectionManager.close_all_connections()
        if not outcome.success:
            failed = [
                f"{r.node.unique_id}: {r.status}: {r.message}"
                for r in getattr(outcome.result, "results", None) or []
                if r.status not in ("success", "pass", "skipped")
            ]
            raise AssertionError(f"dbt {' '.join(args)} failed: {outcome.exception or ''}\n" + "\n".join(failed))
        return outcome.result

    def __call__(self, args: list[str], dbt_vars: dict[str, str] | None = None) -> None:
        import json

        if self._manifest is None:
            self._manifest = self._invoke(["parse"])
        self._invoke([*args, *(["--vars", json.dumps(dbt_vars)] if dbt_vars else [])], self._manifest.deepcopy())


def ingest_landing(landing: Path, warehouse: Path, run_date: date) -> dict[str, object]:
    """Ingest a landing folder with the real loader (all history up to run_date on a new file)."""
    from telco_mart.ingest import ingest

    con = duckdb.connect(str(warehouse))
    try:
        return ingest(con, landing, run_date, progress=lambda _: None).summary()
    finally:
        con.close()


@pytest.fixture(scope="session")
def built_warehouse(small_landing: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small landing ingested and built by `dbt build` (models and tests): read-only for tests."""
    work = tmp_path_factory.mktemp("built")
    warehouse = work / "warehouse.duckdb"
    ingest_landing(small_landing, warehouse, SMALL_END)
    run_dbt(["build"], warehouse, work / "target")
    return warehouse


#: A world long enough for the month-over-month marts (churn, transitions, cross-sell moves)
#: to have a previous month: what the BI dashboards and the served copy are tested on.
SERVED_WORLD_START = date(2026, 1, 1)
SERVED_WORLD_END = date(2026, 2, 3)
SERVED_WORLD_SUBSCRIBERS = 200


def airflow(env: dict[str, str], *args: str, expect_failure: bool = False) -> str:
    """Run ``telco-mart airflow ...`` (the real Airflow CLI) in ``env``; return its output."""
    import subprocess

    command = [str(Path(sys.executable).with_name("telco-mart")), "airflow", *args]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if expect_failure:
        assert proc.returncode != 0, f"airflow {' '.join(args)} succeeded, a failure was expected"
    elif proc.returncode != 0:
        raise AssertionError(f"airflow {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-8000:]}")
    return proc.stdout + proc.stderr


def dag_environment(landing: Path, home: Path, data: Path, **settings: str) -> dict[str, str]:
    """A migrated Airflow home (the warehouse pool set) running the project's DAG on ``landing``,
    writing under ``data``, whose warehouse ``telco-mart init`` made, as a deployment does once."""
    import subprocess

    from telco_mart.runtime import WAREHOUSE_POOL

    environment = airflow_environment(airflow_home=home, base=dict(os.environ, AIRFLOW_HOME=str(home)))
    environment.update(
        TELCO_MART_DATA_DIR=str(data),
        TELCO_MART_LANDING_DIR=str(landing),
        TELCO_MART_WAREHOUSE=str(data / "warehouse.duckdb"),
        TELCO_MART_TASK_RETRIES="0",
        **settings,
    )
    environment.pop("TELCO_MART_SERVING_PATH", None)  # under the data folder
    airflow(environment, "db", "migrate")
    airflow(environment, "pools", "set", WAREHOUSE_POOL, "1", "single DuckDB writer")
    cli = str(Path(sys.executable).with_name("telco-mart"))
    subprocess.run([cli, "init"], env=environment, check=True, capture_output=True, text=True)
    return environment


def run_first_day(landing: Path, work: Path, **settings: str) -> dict[str, str]:
    """A fresh Airflow home and warehouse under ``work`` with ``settings``; the DAG's first run,
    for SMALL_END, takes in all history (`airflow dags test`). Returns the run's environment."""
    (work / "airflow_home").mkdir()
    (work / "data").mkdir()
    env = dag_environment(landing, work / "airflow_home", work / "data", **settings)
    airflow(env, "dags", "test", "operator_daily", SMALL_END.isoformat())
    return env


def airflow_test_environment(landing: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """:func:`dag_environment` in fresh temporary folders."""
    return dag_environment(landing, tmp_path_factory.mktemp("airflow_home"), tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def served_world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A generated world of 200 subscribers, 2026-01-01 .. 2026-02-03, run through the real
    operator_daily DAG for 2026-02-02: the environment of that run, whose last task served
    the marts to ``$TELCO_MART_DATA_DIR/serving/``. The landing's last day is left for a test
    to run. Tests that run more days change the served copy, so read what it holds, not 2 Feb."""
    landing = generate_csv_landing(
        tmp_path_factory.mktemp("served_world_landing"), SERVED_WORLD_SUBSCRIBERS, SERVED_WORLD_START, SERVED_WORLD_END
    )
    env = airflow_test_environment(landing, tmp_path_factory)
    airflow(env, "dags", "test", "operator_daily", (SERVED_WORLD_END - timedelta(days=1)).isoformat())
    return env


@pytest.fixture(scope="session")
def campaign_warehouse(small_landing: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small landing ingested, the campaign catalog loaded, the campaign models (and what
    they read) built by `dbt run` for the landing's last day: read-only for tests."""
    from telco_mart.campaigns.catalog import load_catalog, store_catalog

    work = tmp_path_factory.mktemp("publish_gate")
    warehouse = work / "warehouse.duckdb"
    ingest_landing(small_landing, warehouse, SMALL_END)
    with duckdb.connect(str(warehouse)) as con:
        store_catalog(con, load_catalog())
    run_dbt(["run", "--select", "+campaign_targets_daily"], warehouse, work / "target", {"run_date": str(SMALL_END)})
    return warehouse
