"""Fixtures of the ingestion tests: a warehouse file, and a landing with the reference feeds of a day."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.plugins.ingest.feeds import CELL, PLAN, SUBSCRIBER, write_feed


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    """The plan, the subscriber and the cell that hand-written usage rows refer to."""
    root = tmp_path / "landing"
    write_feed(root, "plans", [PLAN])
    write_feed(root, "subscribers", [SUBSCRIBER])
    write_feed(root, "cells", [CELL])
    return root


@pytest.fixture
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()
