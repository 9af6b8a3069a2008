"""Where things live and how hard DuckDB may work, read from the environment with documented defaults.

The deployment's settings, one of three settings modules, each for one concern: this one (the
``TELCO_MART_*`` variables below), :mod:`telco_mart.gate_settings` (the quality gate's thresholds,
``expectations/gate.yml`` and an operator profile's ``gate:``) and
:mod:`telco_mart.generate.settings` (the synthetic operator's mix and rates).

Every path the pipeline touches comes from here so that a deployment moves the data
directory with one variable, and tests point a whole run at a temporary folder. The values
are read and checked by pydantic-settings: a bad value stops the command with one line that
names the variable, what it holds and what it accepts (``SettingsError``), before anything
is opened or written.

| variable | default | what |
| --- | --- | --- |
| TELCO_MART_DATA_DIR | `<repo>/data` | root of everything the pipeline writes; when set, it must exist |
| TELCO_MART_LANDING_DIR | `$TELCO_MART_DATA_DIR/landing` | where operator feeds land |
| TELCO_MART_WAREHOUSE | `$TELCO_MART_DATA_DIR/warehouse.duckdb` | the DuckDB warehouse file |
| TELCO_MART_OUTBOX_DIR | `$TELCO_MART_DATA_DIR/outbox` | published campaign target lists |
| TELCO_MART_DBT_PROJECT_DIR | `<repo>/dbt_project` | the dbt project |
| TELCO_MART_CAMPAIGN_CATALOG | `<repo>/campaigns/catalog.yml` | the campaign catalog (docs/campaigns.md) |
| TELCO_MART_OPERATOR_PROFILE | `default` | operator profile: a name or a YAML path (docs/onboarding.md) |
| TELCO_MART_DUCKDB_MEMORY_LIMIT | `8GB` | DuckDB memory cap (a size with its unit, or a % of RAM); spills past it |
| TELCO_MART_DUCKDB_THREADS | number of cores | DuckDB worker threads |
| TELCO_MART_TASK_RETRIES | `2` | Airflow retries of a failed task (with exponential backoff) |
| TELCO_MART_RETRY_DELAY_SECONDS | `60` | first retry delay |
| TELCO_MART_DBT_UNIT_TESTS | `false` | also run dbt's unit tests in the DAG's dbt builds (see `dbt_environment`) |
| TELCO_MART_START_DATE | `2026-01-01` | the DAG's first logical date; a run for an earlier date is refused |
| TELCO_MART_CATCHUP | `false` | whether the scheduler runs every day from the start date that has not run yet |
| TELCO_MART_LOCK_WAIT_SECONDS | `900` | how long a writer waits for the warehouse's writer lock before failing |
| TELCO_MART_SERVING_PATH | `$TELCO_MART_DATA_DIR/serving/telco_mart.duckdb` | the copy of the marts BI opens |
| TELCO_MART_SERVING_STORAGE_VERSION | `v1.0.0` | its DuckDB storage version: the oldest DuckDB to open it |
| TELCO_MART_SERVING_EXCLUDE | `campaign_targets_daily,dim_subscriber` | marts not served (personal data) |
| TELCO_MART_ENGINE | `duckdb` | where dbt builds: `duckdb`, or `spark` (the profile's spark target; docs/spark.md) |

Each run's dbt batch (the delivery dates it rebuilds, the day it decides campaigns for) is not
a setting: the DAG and the benchmark pass it per run as TELCO_MART_BATCH_START_DATE,
TELCO_MART_BATCH_END_DATE and TELCO_MART_RUN_DATE (``dbt_batch_environment``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_PREFIX = "TELCO_MART_"
DEFAULT_START_DATE = date(2026, 1, 1)

#: Each dbt batch setting and the environment variable that carries it into dbt: the name the
#: macro ``dbt_project/macros/batch_setting.sql`` reads at execution (an explicit --vars wins).
BATCH_ENVIRONMENT = {name: f"TELCO_MART_{name.upper()}" for name in ("batch_start_date", "batch_end_date", "run_date")}

#: What DuckDB's memory_limit takes: a size with its unit (1000- or 1024-based), or a share of RAM.
_MEMORY_LIMIT = re.compile(r"^\s*\d+(\.\d+)?\s*([KMGT]i?B|B)\s*$|^\s*\d+(\.\d+)?\s*%\s*$", re.IGNORECASE)


#: The marts kept out of the served copy by default: the two that hold personal data (dbt tag
#: ``pii``: the MSISDN, name, ID number and birth date). Their other columns are served elsewhere
#: (dim_subscriber_history carries the subscriber attributes BI cuts by).
SERVING_EXCLUDE = ("campaign_targets_daily", "dim_subscriber")


def dbt_batch_environment(batch: Mapping[str, str]) -> dict[str, str]:
    """The environment that hands dbt a batch: not ``--vars``, whose change every day would
    make dbt parse the whole project again (about 10 s a call)."""
    return {BATCH_ENVIRONMENT[name]: value for name, value in batch.items()}


class SettingsError(ValueError):
    """A setting the pipeline cannot run with; its message is one line for the person who set it."""


def _accepts(text: str) -> dict[str, Any]:
    """What a field accepts, in the words the one-line error uses."""
    return {"json_schema_extra": {"accepts": text}}


class EnvironmentSettings(BaseSettings):
    """The TELCO_MART_* variables, read and checked by pydantic-settings (``Settings.from_env``).

    Only a value somebody set is validated; the defaults are the documented ones. The paths
    under the data directory default to it once it is known.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,
        extra="ignore",
        populate_by_name=True,
        validate_default=False,
    )

    data_dir: Path = Field(REPO_ROOT / "data", **_accepts("an existing directory"))
    landing_dir: Path | None = Field(None, **_accepts("a directory path"))
    warehouse_path: Path | None = Field(
        None, validation_alias="TELCO_MART_WAREHOUSE", **_accepts("a file path, e.g. data/warehouse.duckdb")
    )
    outbox_dir: Path | None = Field(None, **_accepts("a directory path"))
    dbt_project_dir: Path = Field(REPO_ROOT / "dbt_project", **_accepts("the dbt project's directory"))
    campaign_catalog: Path = Field(REPO_ROOT / "campaigns" / "catalog.yml", **_accepts("a YAML file path"))
    duckdb_memory_limit: str = Field(
        "8GB", **_accepts("a size with its unit, e.g. 8GB, 512MB or 16GiB, or a share of RAM such as 80%")
    )
    duckdb_threads: int = Field(
        default_factory=lambda: os.cpu_count() or 2, ge=1, **_accepts("a whole number of threads, 1 or more")
    )
    task_retries: int = Field(2, ge=0, **_accepts("a whole number of retries, 0 or more"))
    retry_delay_seconds: int = Field(60, ge=0, **_accepts("a whole number of seconds, 0 or more"))
    dbt_unit_tests: bool = Field(False, **_accepts("true or false"))
    start_date: date = Field(DEFAULT_START_DATE, **_accepts("a date, YYYY-MM-DD"))
    catchup: bool = Field(False, **_accepts("true or false"))
    lock_wait_seconds: float = Field(900.0, ge=0, **_accepts("a number of seconds, 0 or more"))
    operator_profile: str = Field("default", **_accepts("a bundled profile's name or a YAML file path"))
    serving_path: Path | None = Field(None, **_accepts("a file path, e.g. data/serving/telco_mart.duckdb"))
    serving_storage_version: str = Field("v1.0.0", **_accepts("a DuckDB storage version, e.g. v1.0.0"))
    # read as text (not JSON): names separated by commas
    serving_exclude: Annotated[tuple[str, ...], NoDecode] = Field(
        SERVING_EXCLUDE, **_accepts("mart names separated by commas")
    )
    engine: Literal["duckdb", "spark"] = Field("duckdb", **_accepts("duckdb or spark"))

    @field_validator("serving_exclude", mode="before")
    @classmethod
    def _names(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(name.strip() for name in value.split(",") if name.strip())
        return value

    @field_validator(
        "data_dir", "landing_dir", "outbox_dir", "dbt_project_dir", "campaign_catalog", "warehouse_path", "serving_path"
    )
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return Path(value).expanduser().resolve()

    @field_validator("data_dir")
    @classmethod
    def _data_dir_exists(cls, value: Path) -> Path:
        """A data directory somebody names must be there: a typo would otherwise become a new,
        empty warehouse. (Only a given value is checked; the default is the repo's own ``data/``.)"""
        if not value.is_dir():
            raise ValueError("it is not a directory" if value.exists() else "it does not exist")
        return value

    @field_validator("duckdb_memory_limit")
    @classmethod
    def _memory_limit(cls, value: str) -> str:
        if not _MEMORY_LIMIT.match(value):
            bare_number = value.strip().replace(".", "", 1).isdigit()
            raise ValueError("a number alone has no unit" if bare_number else "not a size")
        return value.strip()

    @model_validator(mode="after")
    def _paths_under_data_dir(self) -> EnvironmentSettings:
        self.landing_dir = self.landing_dir or self.data_dir / "landing"
        self.warehouse_path = self.warehouse_path or self.data_dir / "warehouse.duckdb"
        self.outbox_dir = self.outbox_dir or self.data_dir / "outbox"
        self.serving_path = self.serving_path or self.data_dir / "serving" / "telco_mart.duckdb"
        return self


@dataclass(frozen=True)
class Settings:
    """The pipeline's settings: ``Settings.from_env()`` everywhere; ``dataclasses.replace`` in tests."""

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
    start_date: date = DEFAULT_START_DATE
    catchup: bool = False
    lock_wait_seconds: float = 900.0
    operator_profile: str = "default"
    serving_path: Path = REPO_ROOT / "data" / "serving" / "telco_mart.duckdb"
    serving_storage_version: str = "v1.0.0"
    serving_exclude: tuple[str, ...] = SERVING_EXCLUDE
    #: where dbt builds: the DuckDB warehouse, or Spark (docs/spark.md); ingestion, the gates
    #: and publish run on DuckDB either way
    engine: str = "duckdb"

    @classmethod
    def from_env(cls) -> Settings:
        """The settings from the environment; ``SettingsError`` (one line) when a value is unusable."""
        try:
            read = EnvironmentSettings()
        except ValidationError as invalid:
            raise SettingsError(describe_errors(invalid)) from None
        return cls(**read.model_dump())

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
        return (
            {"TELCO_MART_WAREHOUSE": str(self.warehouse_path)}
            | ({} if self.dbt_unit_tests else {"DBT_EXCLUDE_RESOURCE_TYPES": "unit_test"})
            | ({"TELCO_MART_SPARK_DIR": str(self.spark_dir)} if self.engine == "spark" else {})
        )

    @property
    def dbt_target(self) -> str:
        """The dbt profile's target for the engine (dbt_project/profiles.yml)."""
        return "spark" if self.engine == "spark" else "dev"

    @property
    def spark_dir(self) -> Path:
        return spark_dir_of(self.warehouse_path)


def spark_dir_of(warehouse: Path) -> Path:
    """``warehouse.duckdb`` -> ``warehouse.spark/``: the Spark target's side of that warehouse
    (shared sources, Spark's tables, its catalog), beside it as its raw folder is."""
    warehouse = warehouse.resolve()
    return warehouse.with_name(warehouse.stem + ".spark")


def environment_variable(field: str) -> str:
    """The variable that sets a field of ``Settings``."""
    alias = EnvironmentSettings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else f"{ENV_PREFIX}{field.upper()}"


def describe_errors(invalid: ValidationError) -> str:
    """Pydantic's errors as one line: each variable, the value it holds, and what it accepts."""
    fields = EnvironmentSettings.model_fields
    by_alias = {environment_variable(name): name for name in fields}
    parts = []
    for error in invalid.errors():
        key = str(error["loc"][0]) if error["loc"] else ""
        field = by_alias.get(key, key)
        if field not in fields:
            parts.append(str(error["msg"]))
            continue
        extra = fields[field].json_schema_extra
        accepts = extra.get("accepts") if isinstance(extra, dict) else None
        reason = str(error["msg"]).removeprefix("Value error, ")
        because = f" ({reason})" if error["type"] == "value_error" else ""
        parts.append(f"{environment_variable(field)}={str(error['input'])!r}: expected {accepts or reason}{because}")
    return "invalid setting " + "; ".join(parts)
