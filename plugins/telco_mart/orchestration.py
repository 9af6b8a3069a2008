"""Cosmos wiring for the dbt project, so the DAG file stays a few lines long.

Execution: Cosmos LOCAL mode with the in-process dbt runner, one Airflow task per model
(``dbt build`` of the model and its tests; the staging views share one, see below), all
tasks in the one-slot warehouse pool because DuckDB takes a single writer. Measured on the
4-day test landing: in-process 75 s for the whole DAG against 177 s with one dbt subprocess
per task. WATCHER mode (one ``dbt build``) deadlocks under ``airflow dags test``: its
deferred sensors wait for a producer that the test runner never starts. The graph is
rendered from ``target/manifest.json`` (made by ``dbt parse`` at install time) so that
parsing the DAG runs no dbt command.

What a task costs besides its SQL (issue 7, ``airflow dags test`` profiled with py-spy at
2,000 subscribers, where the day's SQL is 45 s of a 267 s run): every dbt invocation
re-reads the partial parse, writes a 2 MB ``manifest.json`` into the task's throw-away
project copy (about 0.8 s), and Cosmos then runs a full ``gc.collect()`` over the task
process's heap (about 1.3 s). So the group keeps the task count down and each task cheap:

- the 34 ``relationships`` tests, which span two models, run as one task after the models
  (``relationship_tests``) instead of one detached task each. They were leaves before too:
  no model waited for them, and the marts gate and publish still do;
- dbt writes no JSON artifacts in these tasks (``DBT_WRITE_JSON=false``): the copy they would
  land in is deleted when the task ends. Cosmos' per-model Airflow assets came from those
  artifacts, so the tasks emit none (``emit_datasets=False``); no DAG is scheduled on them;
- the objects a task process holds before dbt starts (Airflow, the parsed DAG) are frozen out
  of the garbage collector (``gc.freeze``), so Cosmos' collection after dbt only walks what
  dbt allocated;
- staging, all views that rename and cast raw (nothing to retry on its own, a second each),
  is one task (``staging``) that builds every staging view and its one-model tests before
  the first model task. At 1M subscribers the 18 staging tasks cost about a second each of
  start-up against almost no SQL, which put the Airflow day's overhead at 32 % of its wall.
"""

from __future__ import annotations

import functools
import gc
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from airflow.sdk.exceptions import AirflowFailException
from cosmos import (
    DbtTaskGroup,
    ExecutionConfig,
    ProfileConfig,
    ProjectConfig,
    RenderConfig,
)
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior, TestIndirectSelection
from cosmos.operators.local import DbtBuildLocalOperator, DbtRunLocalOperator, DbtTestLocalOperator

from telco_mart.config import Settings, dbt_batch_environment
from telco_mart.runtime import WAREHOUSE_POOL

PROFILE_NAME = "telco_mart"
#: the DuckDB target: the warehouse's own (Settings.dbt_target names the engine's)
DUCKDB_TARGET_NAME = "dev"
#: the task that builds DuckDB's staging views when dbt builds on Spark
DUCKDB_STAGING_TASK_ID = "duckdb_staging_views"
#: dbt's selector for the tests that span two models; they run together in one task.
RELATIONSHIP_TESTS = "test_name:relationships"
RELATIONSHIP_TESTS_TASK_ID = "relationship_tests"
#: dbt's selector for the staging layer, built by one task before the model tasks.
STAGING = "path:models/staging"
STAGING_TASK_ID = "staging"

P = ParamSpec("P")
R = TypeVar("R")


def dbt_batch_from_ingest(ingest_task_id: str) -> dict[str, str]:
    """The dbt batch as environment variables templated from the ingest task's summary: the
    delivery dates it changed, and the run's logical date.

    Environment, not ``--vars``: dbt parses the whole project afresh when its vars change,
    which a new day always does, and the macro that reads these (``batch_setting``) reads
    them only at execution, so each day's first dbt task starts from the partial parse.
    """
    pull = f"ti.xcom_pull(task_ids='{ingest_task_id}')"
    return dbt_batch_environment(
        {
            "batch_start_date": "{{ " + pull + "['batch_start_date'] }}",
            "batch_end_date": "{{ " + pull + "['batch_end_date'] }}",
            "run_date": "{{ ds }}",
        }
    )


def dbt_task_group(
    group_id: str, batch_env: dict[str, str], settings: Settings | None = None, **kwargs: Any
) -> DbtTaskGroup:
    """One task for the staging views, then one task per model (``dbt build`` of the model
    and its one-model tests), then one task for the relationships tests, all in the
    warehouse pool; ``batch_env`` is the batch (``dbt_batch_from_ingest``)."""
    settings = settings or Settings.from_env()
    project_dir: Path = settings.dbt_project_dir
    manifest = project_dir / "target" / "manifest.json"
    env = task_dbt_environment(settings) | batch_env
    profile_config = ProfileConfig(
        profile_name=PROFILE_NAME,
        target_name=settings.dbt_target,
        profiles_yml_filepath=project_dir / "profiles.yml",
    )
    common_args: dict[str, Any] = {
        "pool": WAREHOUSE_POOL,
        "pre_execute": before_dbt,
        "post_execute": after_dbt,
    }
    project_config = ProjectConfig(
        dbt_project_path=project_dir,
        manifest_path=manifest,
        env_vars=env,
        install_dbt_deps=False,  # no dbt packages: `dbt deps` would need the internet
    )
    execution_config = ExecutionConfig(
        execution_mode=ExecutionMode.LOCAL,
        invocation_mode=InvocationMode.DBT_RUNNER,
        # A model's task runs only the tests of that model; the tests that span models
        # (relationships) are left to the task below.
        test_indirect_selection=TestIndirectSelection.CAUTIOUS,
    )
    render_config = RenderConfig(
        load_method=LoadMode.DBT_MANIFEST,
        test_behavior=TestBehavior.BUILD,
        should_detach_multiple_parents_tests=False,
        emit_datasets=False,
        exclude=[STAGING],
    )
    group = DbtTaskGroup(
        group_id=group_id,
        project_config=project_config,
        profile_config=profile_config,
        execution_config=execution_config,
        render_config=render_config,
        operator_args=dict(common_args),
        **kwargs,
    )
    models = list(group.get_leaves())
    first_models = list(group.get_roots())
    # The model tasks' partial-parse cache, so these tasks do not parse the project afresh.
    cache_dir = next((task.cache_dir for task in group.children.values() if getattr(task, "cache_dir", None)), None)
    # The two tasks that select across models (not one model each) are Cosmos operators made
    # by hand: they take the group's own configuration, read from the configs above, so a
    # setting is stated once for the model tasks and these alike.
    selector_task_args: dict[str, Any] = {
        "project_dir": str(project_config.dbt_project_path),
        "manifest_filepath": str(manifest),
        "profile_config": profile_config,
        "invocation_mode": execution_config.invocation_mode,
        "install_deps": project_config.install_dbt_deps,
        "env": project_config.env_vars,
        "cache_dir": cache_dir,
        "emit_datasets": render_config.emit_datasets,
        **common_args,
    }
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"]
    describe_model_tasks(group, nodes)
    with group:
        staging = DbtBuildLocalOperator(
            task_id=STAGING_TASK_ID,
            doc_md=staging_doc(nodes),
            select=STAGING,
            exclude=RELATIONSHIP_TESTS,
            indirect_selection=execution_config.test_indirect_selection.value,
            **selector_task_args,
        )
        relationship_tests = DbtTestLocalOperator(
            task_id=RELATIONSHIP_TESTS_TASK_ID,
            doc_md="The relationships tests (a key that must exist in another model), after every model is built.",
            select=RELATIONSHIP_TESTS,
            **selector_task_args,
        )
    staging >> first_models
    models >> relationship_tests
    return group


def duckdb_staging_views(batch_env: dict[str, str], settings: Settings | None = None) -> DbtRunLocalOperator:
    """When dbt builds on Spark: the staging views on DuckDB too. The marts gate, the publish
    gate and publish run on DuckDB and read three staging views (cell KPIs, usage events, the
    campaign catalog) besides the marts; views only, so seconds (docs/spark.md)."""
    settings = settings or Settings.from_env()
    project_dir: Path = settings.dbt_project_dir
    return DbtRunLocalOperator(
        task_id=DUCKDB_STAGING_TASK_ID,
        doc_md=duckdb_staging_views.__doc__,
        project_dir=str(project_dir),
        manifest_filepath=str(project_dir / "target" / "manifest.json"),
        profile_config=ProfileConfig(
            profile_name=PROFILE_NAME,
            target_name=DUCKDB_TARGET_NAME,
            profiles_yml_filepath=project_dir / "profiles.yml",
        ),
        invocation_mode=InvocationMode.DBT_RUNNER,
        install_deps=False,
        env=task_dbt_environment(settings) | batch_env,
        select=STAGING,
        emit_datasets=False,
        pool=WAREHOUSE_POOL,
        pre_execute=before_dbt,
        post_execute=after_dbt,
    )


def describe_model_tasks(group: DbtTaskGroup, nodes: dict[str, dict]) -> None:
    """Give each model's task the model's description as its Docs in the UI, so the operator
    on duty reads what a failed task builds (its grain, its key) where the failure shows."""
    for unique_id, task in group.tasks_map.items():
        node = nodes.get(unique_id)
        if node is not None and hasattr(task, "doc_md"):
            task.doc_md = model_doc(node)


def model_doc(node: dict) -> str:
    """Markdown for one model's task: what it is, where it lives, what the task runs."""
    name, materialized = node["name"], node["config"].get("materialized", "")
    description = node.get("description", "").strip() or "(no description in the model's YAML)"
    runs = (
        "An ephemeral model: compiled into the models that select from it, so this task runs nothing."
        if materialized == "ephemeral"
        else f"The task runs `dbt build --select {name}`: the model, then its one-model tests."
    )
    return f"**{name}** ({materialized}, `{node['original_file_path']}`)\n\n{description}\n\n{runs}"


def staging_doc(nodes: dict[str, dict]) -> str:
    """Markdown for the staging task: the views it builds, each with the first sentence of its description."""
    views = sorted(
        (node["name"], node.get("description", "").strip().split(". ")[0].rstrip("."))
        for node in nodes.values()
        if node["resource_type"] == "model" and node["original_file_path"].startswith("models/staging/")
    )
    lines = [f"- `{name}`: {summary}" for name, summary in views]
    return (
        "Every staging view (rename and cast of a raw feed) and its one-model tests, in one "
        "`dbt build --select path:models/staging`:\n\n" + "\n".join(lines)
    )


def task_dbt_environment(settings: Settings) -> dict[str, str]:
    """The pipeline's dbt environment, plus no JSON artifacts: a Cosmos task's project copy
    is deleted when it ends, so writing ``manifest.json`` there is wasted (module docstring)."""
    return settings.dbt_environment() | {"DBT_WRITE_JSON": "false"}


def before_dbt(context: Any) -> None:
    """What a dbt task does before dbt starts: take the warehouse's writer lock (as every
    writing task does, so a CLI ingest or a second test run waits instead of colliding with
    dbt) and freeze the start-up heap (:func:`freeze_startup_heap`). A task that fails keeps
    the lock until its process ends, which the kernel then frees."""
    from telco_mart.warehouse import take_writer_lock

    take_writer_lock(Settings.from_env())
    freeze_startup_heap(context)


def after_dbt(context: Any, result: Any = None) -> None:
    """Release the writer lock :func:`before_dbt` took."""
    from telco_mart.warehouse import release_writer_lock

    release_writer_lock(Settings.from_env())


def freeze_startup_heap(context: Any) -> None:
    """Keep Cosmos' ``gc.collect()`` after each dbt call to the objects dbt allocated.

    Everything alive when the task starts (Airflow, the parsed DAG, imported modules) lives
    as long as the task process; freezing it spares the full collection from walking it.
    """
    gc.freeze()


def refuse_without_retry(*refusals: type[Exception]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Mark a task's function as a step whose ``refusals`` retrying cannot fix (a failed
    quality gate, an invalid catalog): stack it under ``@task``.

    Such a refusal becomes ``AirflowFailException``: the task fails at once, with the
    refusal's message (feed or table, expectation, observed value, sample rows) in its log,
    instead of retrying over the same bad data. Any other error keeps the task's retries.
    The wrapper keeps the function's signature (``functools.wraps``), so TaskFlow still passes
    it the context keys it names (``logical_date``, ``run_id``) and the upstream results.
    """

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return function(*args, **kwargs)
            except refusals as refused:
                raise AirflowFailException(str(refused)) from refused

        return run

    return decorate
