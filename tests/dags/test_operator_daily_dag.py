"""DAG integrity: operator_daily imports cleanly and has the structure operations rely on."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from telco_mart.runtime import WAREHOUSE_POOL

REPO_ROOT = Path(__file__).resolve().parents[2]
MANIFEST = REPO_ROOT / "dbt_project" / "target" / "manifest.json"


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module) -> DagBag:
    if not MANIFEST.exists():
        pytest.fail(f"{MANIFEST} is missing: run `make dbt-parse` (make test does it)")
    # Importing the DAG must not touch the warehouse: point it somewhere that must stay empty.
    untouched = tmp_path_factory.mktemp("untouched")
    monkeypatch_module.setenv("TELCO_MART_DATA_DIR", str(untouched))
    monkeypatch_module.setenv("TELCO_MART_WAREHOUSE", str(untouched / "warehouse.duckdb"))
    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert list(untouched.iterdir()) == [], "importing the DAG file did work: it created files"
    return bag


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def dag(dagbag: DagBag):
    return dagbag.dags["operator_daily"]


def test_dag_folder_imports_without_errors(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    assert "operator_daily" in dagbag.dag_ids


def test_schedule_is_daily_by_data_interval_and_one_run_at_a_time(dag) -> None:
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"
    assert dag.timetable.expression in ("@daily", "0 0 * * *")
    assert dag.max_active_runs == 1
    assert dag.catchup is False


def test_every_task_retries_and_takes_the_single_warehouse_slot(dag) -> None:
    for task in dag.tasks:
        if type(task).__name__ == "EmptyOperator":
            continue  # Cosmos renders ephemeral models as placeholders that open nothing
        if task.task_id == "deliveries":
            continue  # it reads the landing folder only, so it never waits behind a writer
        assert task.pool == WAREHOUSE_POOL, task.task_id
    # Retries come from configuration (the test session sets 0); the default is 2.
    from telco_mart.config import Settings

    assert {task.retries for task in dag.tasks} == {Settings.from_env().task_retries}


def test_catalog_then_ingest_then_one_dbt_task_per_model_then_publish_then_summary(dag) -> None:
    catalog = dag.get_task("campaign_catalog")
    ingest = dag.get_task("ingest")
    publish = dag.get_task("publish")
    summarise = dag.get_task("summarise")
    dbt_tasks = [t for t in dag.tasks if t.task_id.startswith("dbt.")]
    models = {p.stem for p in (REPO_ROOT / "dbt_project" / "models").rglob("*.sql")}
    staging = {p.stem for p in (REPO_ROOT / "dbt_project" / "models" / "staging").rglob("stg_*.sql")}
    built = {t.task_id.split(".")[1].removesuffix("_model_build") for t in dbt_tasks}
    assert models - staging <= built, f"models without a task: {models - staging - built}"
    # staging, views only, is one task ahead of every model task (plugins/telco_mart/orchestration.py)
    staging_task = dag.get_task("dbt.staging")
    assert staging_task.select == "path:models/staging" and not (staging & built)
    assert staging_task.upstream_task_ids == {"quality_gate_raw"}
    assert {t.task_id for t in dbt_tasks} - {"dbt.staging"} <= staging_task.get_flat_relative_ids(upstream=False)
    assert catalog.upstream_task_ids == {"deliveries"}
    assert ingest.upstream_task_ids == {"campaign_catalog"}
    for task in dbt_tasks:
        assert "ingest" in task.get_flat_relative_ids(upstream=True), task.task_id
        assert "publish" in task.get_flat_relative_ids(upstream=False), task.task_id
    # nothing is published before every model and test of the day has passed
    assert {t.task_id for t in dbt_tasks} <= publish.get_flat_relative_ids(upstream=True)
    assert publish.upstream_task_ids == {"quality_gate_publish"}
    assert dag.get_task("quality_gate_publish").upstream_task_ids == {"quality_gate_marts"}
    assert publish.downstream_task_ids == {"summarise"}
    assert summarise.downstream_task_ids == {"serve"}
    # BI's copy is refreshed last, only after every gate passed and the lists went out
    serve = dag.get_task("serve")
    assert serve.downstream_task_ids == set()
    assert {"quality_gate_marts", "quality_gate_publish", "publish"} <= serve.get_flat_relative_ids(upstream=True)


def test_a_day_without_deliveries_is_decided_first_and_skips_everything_after(dag) -> None:
    deliveries = dag.get_task("deliveries")
    assert type(deliveries).__name__ == "_ShortCircuitDecoratedOperator"
    assert deliveries.upstream_task_ids == set()
    assert deliveries.ignore_downstream_trigger_rules  # every later task is skipped, not just the next
    assert deliveries.get_flat_relative_ids(upstream=False) == {t.task_id for t in dag.tasks} - {"deliveries"}


def test_each_model_task_documents_its_model_and_the_dag_doc_is_markdown(dag) -> None:
    import json

    nodes = json.loads(MANIFEST.read_text())["nodes"]
    models = [t for t in dag.tasks if t.task_id.endswith("_model_build")]
    assert models
    for task in models:
        name = task.task_id.split(".")[1].removesuffix("_model_build")
        description = nodes[f"model.telco_mart.{name}"]["description"].strip()
        assert description and description in task.doc_md, task.task_id
    staging = dag.get_task("dbt.staging").doc_md
    assert "`stg_crm__subscribers`: CRM subscriber versions" in staging
    assert "``" not in dag.doc_md and "nothing delivered for D" in dag.doc_md  # Markdown, not reST


def test_the_operations_doc_names_every_task_of_the_dag(dag) -> None:
    """docs/operations.md describes today's DAG: a task added without a word there fails here.
    (The per-model dbt tasks come from dbt_project/ and are documented by their model.)"""
    doc = (REPO_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    ours = [t.task_id for t in dag.tasks if not t.task_id.endswith("_model_build")]
    assert len(ours) >= 10
    unnamed = [task_id for task_id in ours if f"`{task_id}`" not in doc]
    assert unnamed == [], f"docs/operations.md does not name these tasks of operator_daily: {unnamed}"


def test_dbt_tasks_get_the_ingested_batch_in_their_environment_not_as_vars(dag) -> None:
    """New --vars every day would make each day's first dbt call parse the whole project."""
    dbt_tasks = [t for t in dag.tasks if t.task_id.startswith("dbt.") and hasattr(t, "env")]
    for task in dbt_tasks:
        assert "xcom_pull(task_ids='ingest')" in task.env["TELCO_MART_BATCH_START_DATE"], task.task_id
        assert "xcom_pull(task_ids='ingest')" in task.env["TELCO_MART_BATCH_END_DATE"], task.task_id
        assert task.env["TELCO_MART_RUN_DATE"] == "{{ ds }}", task.task_id
        assert not task.vars, task.task_id


def test_dbt_tasks_write_the_configured_warehouse_and_leave_unit_tests_to_ci(dag) -> None:
    # (ephemeral models render as empty tasks)
    dbt_tasks = [t for t in dag.tasks if t.task_id.startswith("dbt.") and hasattr(t, "env")]
    assert len(dbt_tasks) > 25  # the staging task, a task per other model, relationship_tests
    for task in dbt_tasks:
        assert task.env["TELCO_MART_WAREHOUSE"].endswith("warehouse.duckdb"), task.task_id
        assert task.env["DBT_EXCLUDE_RESOURCE_TYPES"] == "unit_test", task.task_id


def test_unit_tests_can_be_switched_back_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from telco_mart.config import Settings

    monkeypatch.setenv("TELCO_MART_DBT_UNIT_TESTS", "true")
    assert "DBT_EXCLUDE_RESOURCE_TYPES" not in Settings.from_env().dbt_environment()
    monkeypatch.setenv("TELCO_MART_DBT_UNIT_TESTS", "false")
    assert Settings.from_env().dbt_environment()["DBT_EXCLUDE_RESOURCE_TYPES"] == "unit_test"


def test_relationships_tests_run_once_in_one_task_after_every_model(dag) -> None:
    from telco_mart.orchestration import RELATIONSHIP_TESTS

    tests = dag.get_task("dbt.relationship_tests")
    assert tests.select == RELATIONSHIP_TESTS == "test_name:relationships"
    models = [t for t in dag.tasks if t.task_id.endswith("_model_build")]
    assert models and {t.task_id for t in models} <= tests.get_flat_relative_ids(upstream=True)
    assert tests.downstream_task_ids == {"quality_gate_marts"}
    assert tests.env["DBT_EXCLUDE_RESOURCE_TYPES"] == "unit_test"
    # it reads the model tasks' partial-parse cache rather than parsing the project afresh
    built = next(t for t in models if hasattr(t, "cache_dir"))  # (ephemeral models are empty tasks)
    assert tests.cache_dir is not None and tests.cache_dir == built.cache_dir
    assert not [t.task_id for t in dag.tasks if t.task_id.startswith("dbt.relationships_")]


def test_every_test_that_spans_models_is_a_relationships_test() -> None:
    """The model tasks run their one-model tests (cautious selection); the tests with
    several parents are left to `relationship_tests`, which selects relationships tests
    only, or to `staging`, which selects the whole staging folder, its sources included
    (usage's key test reads ingestion's registry, a source). A new multi-parent test of
    another kind would silently run nowhere: fail here."""
    import json

    manifest = json.loads(MANIFEST.read_text())
    nodes, sources = manifest["nodes"], manifest["sources"]

    def in_staging(unique_id: str) -> bool:
        parent = nodes.get(unique_id) or sources[unique_id]
        return parent["original_file_path"].startswith("models/staging/")

    spanning = [
        node for node in nodes.values() if node["resource_type"] == "test" and len(set(node["depends_on"]["nodes"])) > 1
    ]
    assert len(spanning) >= 30
    others = [
        n["name"]
        for n in spanning
        if (n.get("test_metadata") or {}).get("name") != "relationships"
        and not all(in_staging(parent) for parent in n["depends_on"]["nodes"])
    ]
    assert others == [], f"tests spanning models that no task runs: {others}"
    staged = [n["name"] for n in spanning if (n.get("test_metadata") or {}).get("name") == "unique_as_proven_at_ingest"]
    assert staged == ["unique_as_proven_at_ingest_stg_mediation__usage_events_event_id__usage_events"]


def test_dbt_tasks_skip_artifacts_and_lineage_nobody_reads(dag) -> None:
    from telco_mart.orchestration import after_dbt, before_dbt

    dbt_tasks = [t for t in dag.tasks if t.task_id.startswith("dbt.") and hasattr(t, "env")]
    for task in dbt_tasks:
        assert task.env["DBT_WRITE_JSON"] == "false", task.task_id
        assert task.emit_datasets is False, task.task_id
        # the heap frozen, and the warehouse's writer lock held while dbt writes
        assert (task._pre_execute_hook, task._post_execute_hook) == (before_dbt, after_dbt), task.task_id


def test_freezing_the_start_up_heap_keeps_it_out_of_collections() -> None:
    import gc

    from telco_mart.orchestration import freeze_startup_heap

    before = gc.get_freeze_count()
    try:
        freeze_startup_heap({})
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


def test_on_the_spark_engine_dbt_builds_on_spark_between_duckdb_steps(tmp_path: Path) -> None:
    """TELCO_MART_ENGINE=spark: the same dbt task group on the spark target, with DuckDB's
    staging views and the shared sources before it and Spark's marts attached after it, all
    between the raw gate and the marts gate (docs/spark.md)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("TELCO_MART_DATA_DIR", str(tmp_path))
    mp.setenv("TELCO_MART_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    mp.setenv("TELCO_MART_ENGINE", "spark")
    try:
        bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    finally:
        mp.undo()
    assert bag.import_errors == {}
    dag = bag.dags["operator_daily"]
    order = ["quality_gate_raw", "duckdb_staging_views", "share_spark_sources", "dbt.staging"]
    for before, after in pairwise(order):
        assert after in dag.get_task(before).downstream_task_ids, (before, after)
    assert "attach_spark_marts" in dag.get_task("dbt.relationship_tests").downstream_task_ids
    assert dag.get_task("attach_spark_marts").downstream_task_ids == {"quality_gate_marts"}
    dbt_tasks = [t for t in dag.tasks if t.task_id.startswith("dbt.") and hasattr(t, "env")]
    assert len(dbt_tasks) > 25
    for task in dbt_tasks:
        assert task.profile_config.target_name == "spark", task.task_id
        assert task.env["TELCO_MART_SPARK_DIR"] == str(tmp_path / "warehouse.spark"), task.task_id
    assert dag.get_task("duckdb_staging_views").profile_config.target_name == "dev"
    assert list(tmp_path.iterdir()) == [], "importing the DAG file did work: it created files"
