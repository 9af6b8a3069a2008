"""operator_daily: catalog -> ingest -> raw gate -> dbt -> gates -> publish -> summary -> serve, per logical date.

Thin on purpose: the work lives in ``telco_mart`` (plugins/). Backfill a range with
``airflow backfill create --dag-id operator_daily --from-date D1 --to-date D2``.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, chain, dag, get_current_context, task

from telco_mart.config import Settings
from telco_mart.orchestration import dbt_batch_from_ingest, dbt_task_group, fail_without_retry
from telco_mart.runtime import WAREHOUSE_POOL

START_DATE = pendulum.parse(os.environ.get("TELCO_MART_START_DATE", "2026-01-01"), tz="UTC")
SETTINGS = Settings.from_env()


@dag(
    dag_id="operator_daily",
    # Data intervals: the run for day D starts once D is over, with logical date D, so the
    # logical date names the delivery date a run processes (also under backfill).
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": SETTINGS.task_retries,
        "retry_delay": timedelta(seconds=SETTINGS.retry_delay_seconds),
        "retry_exponential_backoff": True,
    },
    tags=["telco_mart", "daily"],
    doc_md=__doc__,
)
def operator_daily() -> None:
    @task(pool=WAREHOUSE_POOL)
    def campaign_catalog() -> dict:
        """Validate campaigns/catalog.yml and load it for dbt: a bad catalog stops the run before anything runs."""
        from telco_mart.campaigns.catalog import CatalogError
        from telco_mart.pipeline import run_load_catalog

        return fail_without_retry(run_load_catalog, CatalogError)

    @task(pool=WAREHOUSE_POOL)
    def ingest() -> dict:
        """Load the logical date's landed files into `raw` (all history on a fresh warehouse)."""
        from telco_mart.pipeline import run_ingest

        context = get_current_context()
        return run_ingest(context["logical_date"].date(), run_id=context["run_id"])

    @task(pool=WAREHOUSE_POOL)
    def quality_gate_raw(ingested: dict) -> dict:
        """Validate the ingested delivery dates against expectations/raw; a `fail` stops the run here."""
        from datetime import date

        from telco_mart.pipeline import run_raw_gate
        from telco_mart.quality import QualityGateFailed

        context = get_current_context()
        return fail_without_retry(
            lambda: run_raw_gate(
                context["logical_date"].date(),
                run_id=context["run_id"],
                start=date.fromisoformat(ingested["batch_start_date"]),
                end=date.fromisoformat(ingested["batch_end_date"]),
            ),
            QualityGateFailed,
        )

    @task(pool=WAREHOUSE_POOL)
    def quality_gate_marts() -> dict:
        """Validate the run date's slice of the public marts (expectations/marts); a `fail` publishes nothing."""
        from telco_mart.pipeline import run_marts_gate
        from telco_mart.quality import QualityGateFailed

        context = get_current_context()
        return fail_without_retry(
            lambda: run_marts_gate(context["logical_date"].date(), run_id=context["run_id"]), QualityGateFailed
        )

    @task(pool=WAREHOUSE_POOL)
    def quality_gate_publish() -> dict:
        """Check the day's lists (expectations/publish: opt-outs, caps...); a `fail` publishes nothing."""
        from telco_mart.pipeline import run_publish_gate
        from telco_mart.quality import QualityGateFailed

        context = get_current_context()
        return fail_without_retry(
            lambda: run_publish_gate(context["logical_date"].date(), run_id=context["run_id"]), QualityGateFailed
        )

    @task(pool=WAREHOUSE_POOL)
    def publish() -> dict:
        """Write the day's target lists to the outbox (atomic) and append them to contact history."""
        from telco_mart.pipeline import run_publish

        context = get_current_context()
        return run_publish(context["logical_date"].date(), run_id=context["run_id"])

    @task(pool=WAREHOUSE_POOL)
    def summarise() -> dict:
        """Log row counts, file registry and quarantine totals for the operator on duty."""
        from telco_mart.pipeline import summarise_run

        return summarise_run(get_current_context()["logical_date"].date())

    @task(pool=WAREHOUSE_POOL)
    def serve() -> dict:
        """Swap in a fresh read-only copy of the public marts for BI tools: they never open the warehouse."""
        from telco_mart.serving import serve_snapshot

        context = get_current_context()
        return serve_snapshot(context["logical_date"].date(), run_id=context["run_id"])

    ingested = ingest()
    campaign_catalog() >> ingested
    transform = dbt_task_group("dbt", dbt_batch_from_ingest("ingest"), SETTINGS)
    chain(
        quality_gate_raw(ingested),
        transform,
        quality_gate_marts(),
        quality_gate_publish(),
        publish(),
        summarise(),
        serve(),
    )


operator_daily()
