"""Fixtures of the dbt tests: the parsed project's manifest, and a read-only connection to the
warehouse a module built (the module names it with a ``built_path`` fixture)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def manifest() -> dict:
    """dbt_project/target/manifest.json (``make dbt-parse``), as dbt wrote it."""
    return json.loads((REPO_ROOT / "dbt_project" / "target" / "manifest.json").read_text())


@pytest.fixture
def con(built_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Read-only, so a module's tests cannot change the warehouse they share; closed after each test."""
    connection = duckdb.connect(str(built_path), read_only=True)
    try:
        yield connection
    finally:
        connection.close()
