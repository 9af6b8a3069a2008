"""Where things live, read from the environment with documented defaults.

Every path the pipeline touches comes from here so that a deployment moves the data
directory with one variable, and tests point a whole run at a temporary folder.

| variable | default | what |
| --- | --- | --- |
| TELCO_MART_DATA_DIR | `<repo>/data` | root of everything the pipeline writes |
| TELCO_MART_LANDING_DIR | `$TELCO_MART_DATA_DIR/landing` | where operator feeds land |
| TELCO_MART_WAREHOUSE | `$TELCO_MART_DATA_DIR/warehouse.duckdb` | the DuckDB warehouse file |
| TELCO_MART_OUTBOX_DIR | `$TELCO_MART_DATA_DIR/outbox` | published campaign target lists |
| TELCO_MART_DBT_PROJECT_DIR | `<repo>/dbt_project` | the dbt project |
| TELCO_MART_CAMPAIGN_CATALOG | `<repo>/campaigns/catalog.yml` | the campaign catalog (docs/campaigns.md) |
| TELCO_MART_OPERATOR_PROFILE | `default` | operator profile: a name or a YAML path (docs/onboarding.md) |
| TELCO_MART_DUCKDB_MEMORY_LIMIT | `8GB` | DuckDB memory cap; it spills to disk past it |
| TELCO_MART_DUCKDB_THREADS | number of cores | DuckDB worker threads |
| TELCO_MART_TASK_RETRIES | `2` | Airflow retries of a failed task (with exponential backoff) |
| TELCO_MART_RETRY_DELAY_SECONDS | `60` | first retry delay |
| TELCO_MART_DBT_UNIT_TESTS | `false` | also run dbt's unit tests in the DAG's dbt builds (see `dbt_environment`) |
| TELCO_MART_LOCK_WAIT_SECONDS | `900` | how long a writer waits for the warehouse's writer lock before failing |
| TELCO_MART_START_DATE | `2026-01-01` | the DAG's first logical date; a run for an earlier date is refused |
| TELCO_MART_SERVING_PATH | `$TELCO_MART_DATA_DIR/serving/telco_mart.duckdb` | the copy of the marts BI opens |
| TELCO_MART_SERVING_STORAGE_VERSION | `v1.0.0` | its DuckDB storage version: the oldest DuckDB to open it |
| TELCO_MART_SERVING_EXCLUDE | `campaign_targets_daily,dim_subscriber` | marts not served (personal data) |

Each run's dbt batch (the delivery dates it rebuilds, the day it decides campaigns for) is not
a setting: the DAG and the benchmark pass it per run as TELCO_MART_BATCH_START_DATE,
TELCO_MART_BATCH_END_DATE and TELCO_MART_RUN_DATE (``dbt_batch_environment``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Each dbt batch setting and the environment variable that carries it into dbt: the name the
#: macro ``dbt_project/macros/batch_setting.sql`` reads at execution (an explicit --vars wins).
BATCH_ENVIRONMENT = {name: f"TELCO_MART_{name.upper()}" for name in ("batch_start_date", "batch_end_date", "run_date")}


#: The marts kept out of the served copy by default: the two that hold personal data (dbt tag
#: ``pii``: the MSISDN, name, ID number and birth date). Their other columns are served elsewhere
#: (dim_subscriber_history carries the subscriber attributes BI cuts by).
SERVING_EXCLUDE = ("campaign_targets_daily", "dim_subscriber")


def dbt_batch_environment(batch: Mapping[str, str]) -> dict[str, str]:
    """The environment that hands dbt a batch: not ``--vars``, whose change every day would
    make dbt parse the whole project again (about 10 s a call)."""
    return {BATCH_ENVIRONMENT[name]: value for name, value in batch.items()}


def _path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser().resolve() if value else default


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    landing_dir: Path
    warehouse_path: Path
    outbox_dir: Path
    dbt_project_dir: Path
    campaign_catalog: Path
    duckdb_memory_limit: str
    duckdb_threads: int
    task_retries: int
    retry_delay_seconds: int
    dbt_unit_tests: bool = False
    lock_wait_seconds: float = 900.0
    start_date: date = date(2026, 1, 1)
    operator_profile: str = "default"
    serving_path: Path = REPO_ROOT / "data" / "serving" / "telco_mart.duckdb"
    serving_storage_version: str = "v1.0.0"
    serving_exclude: tuple[str, ...] = SERVING_EXCLUDE

    @classmethod
    def from_env(cls) -> Settings:
        data_dir = _path("TELCO_MART_DATA_DIR", REPO_ROOT / "data")
        return cls(
            data_dir=data_dir,
            landing_dir=_path("TELCO_MART_LANDING_DIR", data_dir / "landing"),
            warehouse_path=_path("TELCO_MART_WAREHOUSE", data_dir / "warehouse.duckdb"),
            outbox_dir=_path("TELCO_MART_OUTBOX_DIR", data_dir / "outbox"),
            dbt_project_dir=_path("TELCO_MART_DBT_PROJECT_DIR", REPO_ROOT / "dbt_project"),
            campaign_catalog=_path("TELCO_MART_CAMPAIGN_CATALOG", REPO_ROOT / "campaigns" / "catalog.yml"),
            duckdb_memory_limit=os.environ.get("TELCO_MART_DUCKDB_MEMORY_LIMIT", "8GB"),
            duckdb_threads=int(os.environ.get("TELCO_MART_DUCKDB_THREADS", os.cpu_count() or 2)),
            task_retries=int(os.environ.get("TELCO_MART_TASK_RETRIES", "2")),
            retry_delay_seconds=int(os.environ.get("TELCO_MART_RETRY_DELAY_SECONDS", "60")),
            dbt_unit_tests=os.environ.get("TELCO_MART_DBT_UNIT_TESTS", "false").strip().lower() in ("1", "true", "yes"),
            lock_wait_seconds=float(os.environ.get("TELCO_MART_LOCK_WAIT_SECONDS", "900")),
            start_date=date.fromisoformat(os.environ.get("TELCO_MART_START_DATE", "2026-01-01")),
            operator_profile=os.environ.get("TELCO_MART_OPERATOR_PROFILE", "default"),
            serving_path=_path("TELCO_MART_SERVING_PATH", data_dir / "serving" / "telco_mart.duckdb"),
            serving_storage_version=os.environ.get("TELCO_MART_SERVING_STORAGE_VERSION", "v1.0.0"),
            serving_exclude=tuple(
                name.strip()
                for name in os.environ.get("TELCO_MART_SERVING_EXCLUDE", ",".join(SERVING_EXCLUDE)).split(",")
                if name.strip()
            ),
        )

    def with_warehouse(self, path: Path) -> Settings:
        """The same settings for another warehouse file (a CLI ``--warehouse``, a test's copy)."""
        return replace(self, warehouse_path=path.expanduser().resolve())

    def dbt_environment(self) -> dict[str, str]:
        """Environment of the pipeline's dbt invocations (the DAG's and the benchmark's).

        dbt's unit tests check the SQL logic on fixed inputs: they belong to CI (``make
        test`` builds with them) and say nothing about the day's data, yet cost about a
        second each in every daily build. The daily run leaves them out unless
        TELCO_MART_DBT_UNIT_TESTS is true; the data tests still run.
        """
        return {"TELCO_MART_WAREHOUSE": str(self.warehouse_path)} | (
            {} if self.dbt_unit_tests else {"DBT_EXCLUDE_RESOURCE_TYPES": "unit_test"}
        )
