"""operator_daily runs the raw quality gate between ingestion and dbt, in the warehouse pool."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from telco_mart.runtime import WAREHOUSE_POOL

REPO_ROOT = Path(__file__).resolve().parents[3]


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
    # Besides the gate, only the marts gate reads ingest's summary (the batch it records as
    # built), and it runs after every dbt task: a raw `fail` stops everything downstream.
    assert dag.get_task("ingest").downstream_task_ids == {"quality_gate_raw", "quality_gate_marts"}
    assert "quality_gate_raw" in dag.get_task("quality_gate_marts").get_flat_relative_ids(upstream=True)


def test_the_output_gates_run_after_every_dbt_task_and_before_publish(dag) -> None:
    marts_gate, publish_gate = dag.get_task("quality_gate_marts"), dag.get_task("quality_gate_publish")
    dbt_tasks = {t.task_id for t in dag.tasks if t.task_id.startswith("dbt.")}
    assert dbt_tasks <= marts_gate.get_flat_relative_ids(upstream=True)
    assert publish_gate.upstream_task_ids == {"quality_gate_marts"}
    assert dag.get_task("publish").upstream_task_ids == {"quality_gate_publish"}
    assert {marts_gate.pool, publish_gate.pool} == {WAREHOUSE_POOL}


def test_a_refused_gate_fails_the_task_without_retry_and_other_errors_keep_retrying() -> None:
    import inspect

    from airflow.sdk.exceptions import AirflowFailException

    from telco_mart.orchestration import refuse_without_retry
    from telco_mart.quality import QualityGateFailed

    @refuse_without_retry(QualityGateFailed)
    def refused() -> dict:
        raise QualityGateFailed("data-quality gate (marts) failed for 2026-01-04: ...", [], Path("report.html"))

    @refuse_without_retry(QualityGateFailed)
    def broken() -> dict:
        raise OSError("disk full")

    @refuse_without_retry(QualityGateFailed)
    def passed(ingested: dict, *, logical_date: object, run_id: str) -> dict:
        return {"ok": 1, "run_id": run_id}

    with pytest.raises(AirflowFailException, match=r"gate \(marts\) failed"):
        refused()
    with pytest.raises(OSError):
        broken()
    assert passed({}, logical_date=None, run_id="r") == {"ok": 1, "run_id": "r"}
    # TaskFlow reads the context keys a task wants from its signature: the wrapper keeps it
    assert list(inspect.signature(passed).parameters) == ["ingested", "logical_date", "run_id"]
