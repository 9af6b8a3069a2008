"""A small generated world run day by day through the DAG's own task functions.

The operator_daily DAG is a chain of calls into ``telco_mart.pipeline`` with dbt between
them; :class:`World` makes the same calls, in the same order, with dbt in-process (one
``dbt build`` of the batch instead of one Airflow task per model). The fault-matrix tests run
many days and many faults this way; the e2e tests beside them run the real DAG for the
promises that depend on Airflow itself.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from telco_mart import pipeline
from telco_mart.config import Settings
from telco_mart.schema import init_warehouse
from tests.conftest import InProcessDbt


@dataclasses.dataclass
class DayOutcome:
    """How a day's run ended: published (with its manifest), or refused at a step."""

    day: dt.date
    manifest: dict[str, Any] | None = None
    refused_at: str | None = None
    error: str | None = None
    ingest: dict[str, Any] | None = None

    @property
    def published(self) -> bool:
        return self.manifest is not None


class World:
    """A data folder with a landing, a warehouse made by ``init`` and an outbox."""

    def __init__(self, root: Path, landing: Path, *, copy_landing: bool = True) -> None:
        self.root = root
        self.landing = root / "landing"
        if copy_landing:
            shutil.copytree(landing, self.landing)
        else:
            self.landing = landing
        self.settings = dataclasses.replace(
            Settings.from_env(),
            data_dir=root,
            landing_dir=self.landing,
            warehouse_path=root / "warehouse.duckdb",
            outbox_dir=root / "outbox",
        )
        self.dbt = InProcessDbt(self.settings.warehouse_path, root / "target")
        init_warehouse(self.settings)

    @contextmanager
    def environment(self) -> Iterator[None]:
        """The pipeline reads its settings from the environment (as the DAG's tasks do)."""
        import os

        values = {
            "TELCO_MART_DATA_DIR": str(self.root),
            "TELCO_MART_LANDING_DIR": str(self.landing),
            "TELCO_MART_WAREHOUSE": str(self.settings.warehouse_path),
            "TELCO_MART_OUTBOX_DIR": str(self.settings.outbox_dir),
        }
        saved = {k: os.environ.get(k) for k in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def run_day(self, day: dt.date, run_id: str | None = None) -> DayOutcome:
        """catalog -> ingest -> raw gate -> dbt build of the batch -> marts gate -> publish gate
        -> publish, stopping where the DAG would stop (a refusal is returned, not raised)."""
        from telco_mart.campaigns.catalog import CatalogError
        from telco_mart.campaigns.publish import PublishError
        from telco_mart.quality import QualityGateFailed

        run_id = run_id or f"world__{day.isoformat()}__{dt.datetime.now(dt.UTC):%H%M%S%f}"
        s = self.settings
        outcome = DayOutcome(day)
        step = "campaign_catalog"
        try:
            pipeline.run_load_catalog(s)
            step = "ingest"
            outcome.ingest = pipeline.run_ingest(day, run_id, s)
            start = dt.date.fromisoformat(outcome.ingest["batch_start_date"])
            step = "quality_gate_raw"
            pipeline.run_raw_gate(day, run_id, s, start=start, end=day)
            step = "dbt"
            self.build(start, day)
            step = "quality_gate_marts"
            pipeline.run_marts_gate(day, run_id, s, batch_start=start)
            step = "quality_gate_publish"
            pipeline.run_publish_gate(day, run_id, s)
            step = "publish"
            outcome.manifest = pipeline.run_publish(day, run_id, s)
        except (QualityGateFailed, PublishError, CatalogError, FileNotFoundError) as refused:
            outcome.refused_at, outcome.error = step, str(refused)
        return outcome

    def build(self, start: dt.date, end: dt.date) -> None:
        batch = {"batch_start_date": start.isoformat(), "batch_end_date": end.isoformat(), "run_date": end.isoformat()}
        with self.environment():
            self.dbt(["build", "--exclude-resource-type", "unit_test"], batch)

    # ---------------------------------------------------------------- reading the results

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        with duckdb.connect(str(self.settings.warehouse_path), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def outbox_days(self) -> dict[dt.date, dict[str, bytes]]:
        """Every published day of the outbox: file name -> bytes."""
        out = {}
        for folder in sorted(self.settings.outbox_dir.glob("????-??-??")):
            out[dt.date.fromisoformat(folder.name)] = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
        return out

    def published_rows(self) -> list[dict[str, str]]:
        """Every contact of every published day, with its day."""
        import csv
        import io

        rows = []
        for day, files in self.outbox_days().items():
            manifest = json.loads(files["manifest.json"])
            for entry in manifest["files"]:
                for row in csv.DictReader(io.StringIO(files[entry["name"]].decode())):
                    rows.append({**row, "day": day.isoformat()})
        return rows
