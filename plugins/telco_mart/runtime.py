"""The environment Airflow and dbt run in: local paths, and every phone-home switched off.

`telco-mart airflow ...`, the Makefile and the tests all take their environment from
``airflow_environment`` so a demo run, a test run and a developer's shell see one setup.
Values already set by the user win, so a deployment can point anything elsewhere.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from telco_mart.config import REPO_ROOT, Settings

WAREHOUSE_POOL = "duckdb_warehouse"
#: Where the local API server (the UI) listens unless AIRFLOW__API__HOST / AIRFLOW__API__PORT say
#: otherwise: loopback only, so a laptop on a shared network does not serve the UI to it.
API_HOST = "127.0.0.1"
API_PORT = 8080
WAREHOUSE_POOL_DESCRIPTION = "DuckDB allows one writer: every task that opens the warehouse takes this one slot"

#: Telemetry of every component, off: the warehouse runs on networks that forbid it.
NO_TELEMETRY: dict[str, str] = {
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "SCARF_ANALYTICS": "false",
}


def airflow_environment(airflow_home: Path | None = None, base: dict[str, str] | None = None) -> dict[str, str]:
    """The full environment for an Airflow or dbt process of this project."""
    env = dict(os.environ if base is None else base)
    home = airflow_home or Path(env.get("AIRFLOW_HOME", REPO_ROOT / ".airflow"))
    settings = Settings.from_env()
    host = env.setdefault("AIRFLOW__API__HOST", API_HOST)
    port = env.setdefault("AIRFLOW__API__PORT", str(API_PORT))
    defaults = {
        "TELCO_MART_WAREHOUSE": str(settings.warehouse_path),
        "TELCO_MART_LANDING_DIR": str(settings.landing_dir),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__API__EXPOSE_CONFIG": "False",
        # Task processes reach the API server here; follows a port set with AIRFLOW__API__PORT.
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{_loopback(host)}:{port}/execution/",
        "AIRFLOW__COSMOS__PROPAGATE_LOGS": "False",
        # Cosmos keeps dbt's partial parse here; a folder shared with another checkout (the
        # default /tmp/cosmos) makes each dbt task parse the project afresh (about 20 s).
        "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos"),
        # Every task takes the one-slot warehouse pool: more executor slots are idle processes.
        "AIRFLOW__CORE__PARALLELISM": "2",
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT / "plugins"), env.get("PYTHONPATH", "")) if p),
        **NO_TELEMETRY,
    }
    for key, value in defaults.items():
        if key == "PYTHONPATH":
            env[key] = value
        else:
            env.setdefault(key, value)
    env["PATH"] = _with_venv_bin(env.get("PATH", ""))
    return env


def _with_venv_bin(path: str) -> str:
    """PATH with this interpreter's ``bin/`` first: ``airflow standalone`` starts its components
    as plain ``airflow`` (found on PATH), and so does a task's dbt; a shell that never activated
    the virtualenv would fail with ``FileNotFoundError: 'airflow'``."""
    bin_dir = str(Path(sys.executable).parent)  # the venv's bin/, not the interpreter it links to
    return os.pathsep.join([bin_dir, *(p for p in path.split(os.pathsep) if p and p != bin_dir)])


def _loopback(host: str) -> str:
    """The address a local process dials for an API server bound to ``host``."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
