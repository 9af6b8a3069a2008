"""Shared fixtures: small generated landings and warehouses built through the real layers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "plugins"))

from telco_mart.runtime import NO_TELEMETRY  # noqa: E402

SMALL_START = date(2026, 1, 1)
SMALL_END = date(2026, 1, 4)
SMALL_SUBSCRIBERS = 300


@pytest.fixture(autouse=True, scope="session")
def _no_telemetry() -> Iterator[None]:
    mp = pytest.MonkeyPatch()
    for key, value in NO_TELEMETRY.items():
        mp.setenv(key, value)
    yield
    mp.undo()


@pytest.fixture(scope="session")
def small_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four clean days of generated CSV feeds for 300 subscribers (read-only: copy to modify)."""
    from telco_mart.generate import generate

    out = tmp_path_factory.mktemp("landing")
    generate(
        subscribers=SMALL_SUBSCRIBERS,
        start=SMALL_START,
        end=SMALL_END,
        seed=7,
        out=out,
        fmt="csv",
        events_per_sub_day=4.0,
    )
    return out


@pytest.fixture(scope="session")
def defects_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated CSV feeds with every defect class planted (see _truth/defects.json)."""
    from telco_mart.generate import generate

    out = tmp_path_factory.mktemp("landing_defects")
    generate(
        subscribers=SMALL_SUBSCRIBERS,
        start=SMALL_START,
        end=SMALL_END,
        seed=11,
        out=out,
        fmt="csv",
        defects=True,
        events_per_sub_day=4.0,
    )
    return out


def open_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path))
