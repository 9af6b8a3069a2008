"""operator_daily runs the raw quality gate between ingestion and dbt, in the warehouse pool."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from telco_mart.runtime import WAREHOUSE_POOL

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dag(tmp_path_factory: pytest.TempPathFactory):
    if not (REPO_ROOT / "dbt_project" / "target" / "manifest.json").exists():
        pytest.fail("dbt_project/target/manifest.json is missing: run `make dbt-parse` (make test does it)")
    mp = pytest.MonkeyPatch()
    data = tmp_path_factory.mktemp("untouched")
    mp.setenv("TELCO_MART_DATA_DIR", str(data))
    mp.setenv("TELCO_MART_WAREHOUSE", str(data / "warehouse.duckdb"))
    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    mp.undo()
    assert bag.import_errors == {}
    return bag.dags["operator_daily"]


def test_the_raw_gate_runs_after_ingest_and_before_every_dbt_task(dag) -> None:
    gate = dag.get_task("quality_gate_raw")
    assert gate.upstream_task_ids == {"ingest"}
    assert gate.pool == WAREHOUSE_POOL
    dbt_tasks = [t for t in dag.tasks if t.task_id.startswith("dbt.")]
    assert dbt_tasks
    for task in dbt_tasks:
        assert "quality_gate_raw" in task.get_flat_relative_ids(upstream=True), task.task_id
    # Nothing but the gate hangs off ingest, so a `fail` stops everything downstream.
    assert dag.get_task("ingest").downstream_task_ids == {"quality_gate_raw"}
