"""operator_daily: catalog -> ingest -> raw gate -> dbt -> gates -> publish -> summary -> serve, per logical date.

Thin on purpose: the work lives in ``telco_mart`` (plugins/). Backfill a range with
``airflow backfill create --dag-id operator_daily --from-date D1 --to-date D2``.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, chain, dag, get_current_context, task

from telco_mart.config import Settings
from telco_mart.orchestration import dbt_batch_from_ingest, dbt_task_group, fail_without_retry
from telco_mart.runtime import WAREHOUSE_POOL

SETTINGS = Settings.from_env()
START_DATE = pendulum.datetime(SETTINGS.start_date.year, SETTINGS.start_date.month, SETTINGS.start_date.day, tz="UTC")


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
        """Validate campaigns/catalog.yml and load it for dbt, and check the outbox is writable:
        a bad catalog or an unwritable outbox stops the run before anything runs."""
        from telco_mart.campaigns.catalog import CatalogError
        from telco_mart.pipeline import run_load_catalog
        from telco_mart.publish import PublishError
        from telco_mart.warehouse import WarehouseMissing

        return fail_without_retry(run_load_catalog, CatalogError, PublishError, WarehouseMissing)

    @task(pool=WAREHOUSE_POOL)
    def ingest() -> dict:
        """Load every landed file up to the logical date that the warehouse does not hold yet
        (the day's files, late files of earlier days, days that never ran)."""
        from telco_mart.pipeline import RunDateRefused, run_ingest
        from telco_mart.warehouse import WarehouseMissing

        context = get_current_context()
        return fail_without_retry(
            lambda: run_ingest(context["logical_date"].date(), run_id=context["run_id"]),
            WarehouseMissing,
            FileNotFoundError,
            RunDateRefused,
        )

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
    def quality_gate_marts(ingested: dict) -> dict:
        """Validate the run date's slice of the public marts (expectations/marts); a `fail` publishes
        nothing. On a pass the batch's days are recorded as built (later days may publish)."""
        from datetime import date

        from telco_mart.pipeline import run_marts_gate
        from telco_mart.quality import QualityGateFailed

        context = get_current_context()
        return fail_without_retry(
            lambda: run_marts_gate(
                context["logical_date"].date(),
                run_id=context["run_id"],
                batch_start=date.fromisoformat(ingested["batch_start_date"]),
            ),
            QualityGateFailed,
        )

    @task(pool=WAREHOUSE_POOL)
    def quality_gate_publish() -> dict:
        """Check the day's lists (expectations/publish: opt-outs, caps...); a `fail` publishes nothing."""
        from telco_mart.pipeline import run_publish_gate
        from telco_mart.publish import PublishError
        from telco_mart.quality import QualityGateFailed

        context = get_current_context()
        return fail_without_retry(
            lambda: run_publish_gate(context["logical_date"].date(), run_id=context["run_id"]),
            QualityGateFailed,
            PublishError,
        )

    @task(pool=WAREHOUSE_POOL)
    def publish() -> dict:
        """Write the day's target lists to the outbox (atomic) and append them to contact history;
        a day already published is verified, never rewritten."""
        from telco_mart.pipeline import run_publish
        from telco_mart.publish import PublishError

        context = get_current_context()
        return fail_without_retry(
            lambda: run_publish(context["logical_date"].date(), run_id=context["run_id"]), PublishError
        )

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
        quality_gate_marts(ingested),
        quality_gate_publish(),
        publish(),
        summarise(),
        serve(),
    )


operator_daily()
