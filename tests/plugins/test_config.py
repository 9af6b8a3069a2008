"""Settings: read from the environment through pydantic-settings, a bad value refused in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from telco_mart.config import REPO_ROOT, Settings, SettingsError

COMMAND = str(Path(sys.executable).with_name("telco-mart"))


def telco_mart(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """The installed command, as a person runs it, with the given settings (and nothing of this session's)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TELCO_MART_")}
    environment.update(AIRFLOW_HOME=str(tmp_path / "airflow"), **env)
    return subprocess.run([COMMAND, *args], env=environment, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["summary"], {"TELCO_MART_DUCKDB_THREADS": "two"}, "TELCO_MART_DUCKDB_THREADS='two': expected a whole number"),
        (
            ["ingest", "--date", "2026-01-01"],
            {"TELCO_MART_DUCKDB_MEMORY_LIMIT": "8"},
            "TELCO_MART_DUCKDB_MEMORY_LIMIT='8': expected a size with its unit, e.g. 8GB",
        ),
        (
            ["summary"],
            {"TELCO_MART_DATA_DIR": "/nonexistent/telco-mart-data"},
            "TELCO_MART_DATA_DIR='/nonexistent/telco-mart-data': expected an existing directory (it does not exist)",
        ),
        (["airflow", "version"], {"TELCO_MART_START_DATE": "yesterday"}, "TELCO_MART_START_DATE='yesterday'"),
    ],
    ids=["threads-two", "memory-limit-without-unit", "missing-data-dir", "airflow-with-a-bad-start-date"],
)
def test_a_bad_setting_is_one_line_and_exit_code_2(args: list[str], env: dict, says: str, tmp_path: Path) -> None:
    done = telco_mart(args, tmp_path, **env)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"telco-mart: invalid setting {says}"), done.stderr
    assert done.stdout == ""


def test_ingest_without_a_landing_folder_exits_2_and_creates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    done = telco_mart(["ingest", "--date", "2026-01-01"], tmp_path, TELCO_MART_DATA_DIR=str(data))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"telco-mart: landing folder {data / 'landing'} does not exist (set TELCO_MART_LANDING_DIR or --landing)"
    ]
    assert list(data.iterdir()) == []  # no warehouse appeared


def test_the_defaults_and_the_paths_derived_from_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("TELCO_MART_"):
            monkeypatch.delenv(key)
    defaults = Settings.from_env()
    assert defaults.data_dir == REPO_ROOT / "data"  # not checked: the repo's own, made by make demo
    assert defaults.duckdb_memory_limit == "8GB" and defaults.duckdb_threads == (os.cpu_count() or 2)
    assert (defaults.task_retries, defaults.retry_delay_seconds, defaults.dbt_unit_tests) == (2, 60, False)
    assert (str(defaults.start_date), defaults.catchup) == ("2026-01-01", False)
    monkeypatch.setenv("TELCO_MART_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TELCO_MART_OUTBOX_DIR", "relative/outbox")
    monkeypatch.setenv("TELCO_MART_DUCKDB_THREADS", "3")
    monkeypatch.setenv("TELCO_MART_CATCHUP", "true")
    moved = Settings.from_env()
    assert moved.landing_dir == tmp_path / "landing" and moved.warehouse_path == tmp_path / "warehouse.duckdb"
    assert moved.outbox_dir == Path.cwd() / "relative" / "outbox"
    assert moved.duckdb_threads == 3 and moved.catchup is True
    monkeypatch.setenv("TELCO_MART_DATA_DIR", "")  # empty counts as unset, as before
    assert Settings.from_env().data_dir == REPO_ROOT / "data"


def test_every_error_of_one_environment_is_named_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELCO_MART_DUCKDB_THREADS", "0")
    monkeypatch.setenv("TELCO_MART_DBT_UNIT_TESTS", "maybe")
    with pytest.raises(SettingsError) as refused:
        Settings.from_env()
    message = str(refused.value)
    assert "\n" not in message
    assert "TELCO_MART_DUCKDB_THREADS='0': expected a whole number of threads, 1 or more" in message
    assert "TELCO_MART_DBT_UNIT_TESTS='maybe': expected true or false" in message


@pytest.mark.parametrize("limit", ["8GB", "8 GB", "512MB", "1.5GB", "16GiB", "100KB", "80%", "8gb", "2000000B"])
def test_a_memory_limit_the_settings_accept_duckdb_accepts(limit: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELCO_MART_DUCKDB_MEMORY_LIMIT", limit)
    accepted = Settings.from_env().duckdb_memory_limit
    duckdb.connect().execute(f"set memory_limit = '{accepted}'")


@pytest.mark.parametrize("limit", ["8", "lots", "8 gigs", "GB"])
def test_a_memory_limit_the_settings_refuse_duckdb_refuses(limit: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELCO_MART_DUCKDB_MEMORY_LIMIT", limit)
    with pytest.raises(SettingsError, match="TELCO_MART_DUCKDB_MEMORY_LIMIT"):
        Settings.from_env()
    with pytest.raises(duckdb.Error):
        duckdb.connect().execute(f"set memory_limit = '{limit}'")
