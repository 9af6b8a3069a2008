"""operator_daily: one delivery date through catalog, ingest, gates, dbt, publish and serve (DOC_MD below).

Thin on purpose: the work lives in ``telco_mart`` (plugins/); docs/operations.md names every task.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, chain, dag, task

from telco_mart.config import Settings
from telco_mart.orchestration import dbt_batch_from_ingest, dbt_task_group, duckdb_staging_views, refuse_without_retry
from telco_mart.refusals import CatalogError, PublishError, QualityGateFailed, RunDateRefused, WarehouseMissing
from telco_mart.runtime import WAREHOUSE_POOL

SETTINGS = Settings.from_env()
START_DATE = pendulum.datetime(SETTINGS.start_date.year, SETTINGS.start_date.month, SETTINGS.start_date.day, tz="UTC")

#: The DAG's page in the UI (Markdown).
DOC_MD = """
### operator_daily: one delivery date, from landed files to campaign target lists

A run's logical date is the **delivery date** it processes; the run for day D starts once D is over.

1. `deliveries`: does any feed have a file for D? If none, the run stops here as
   **nothing delivered for D**: every later task is *skipped*, nothing is rebuilt or published.
2. `campaign_catalog`: validates `campaigns/catalog.yml` and checks the outbox is writable
   (a bad catalog or an unwritable outbox fails the run first).
3. `ingest`: loads every landed file of a delivery date up to D that the warehouse does not
   hold yet (D's files, late files, days that never ran), and replays quarantined rows whose
   reference has arrived.
4. `quality_gate_raw`: the raw suites (`expectations/raw/`) over the batch's delivery dates;
   a `fail` stops the run before dbt.
5. `dbt`: `staging` (every staging view), one task per model (its **Docs** is the model's
   description), then `relationship_tests`.
6. `quality_gate_marts` (the batch's days are then recorded as built), `quality_gate_publish`:
   the day's lists against the contact policy recomputed from raw data and the outbox,
   consent feeds complete, earlier days built.
7. `publish`: the target lists to `data/outbox/D/` (a day already published is verified, never
   rewritten); `summarise`: row counts in the task log; `serve`: the read-only copy of the
   marts that BI tools open.

Every task that opens the DuckDB file takes the one-slot pool `duckdb_warehouse` and the
warehouse's own lock file. Operating notes: `docs/operations.md`. Reports: `data/quality/D/`.
"""


@dag(
    dag_id="operator_daily",
    # Data intervals: the run for day D starts once D is over, with logical date D, so the
    # logical date names the delivery date a run processes (also under backfill).
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=START_DATE,
    catchup=SETTINGS.catchup,
    max_active_runs=1,
    default_args={
        "retries": SETTINGS.task_retries,
        "retry_delay": timedelta(seconds=SETTINGS.retry_delay_seconds),
        "retry_exponential_backoff": True,
    },
    tags=["telco_mart", "daily"],
    doc_md=DOC_MD,
)
def operator_daily() -> None:
    # Context keys (logical_date, run_id) are TaskFlow parameters: Airflow passes each task
    # the ones its function names. Refusals (@refuse_without_retry) fail the task at once.

    @task.short_circuit
    def deliveries(*, logical_date: datetime) -> dict | bool:
        """Skip the run when no feed has a file for the logical date (decided from the landing folder alone)."""
        from telco_mart.pipeline import run_delivery_check

        return run_delivery_check(logical_date.date())

    @task(pool=WAREHOUSE_POOL)
    @refuse_without_retry(CatalogError, PublishError, WarehouseMissing)
    def campaign_catalog() -> dict:
        """Validate campaigns/catalog.yml and load it for dbt, and check the outbox is writable:
        a bad catalog or an unwritable outbox stops the run before anything runs."""
        from telco_mart.pipeline import run_load_catalog

        return run_load_catalog()

    @task(pool=WAREHOUSE_POOL)
    @refuse_without_retry(WarehouseMissing, FileNotFoundError, RunDateRefused)
    def ingest(*, logical_date: datetime, run_id: str) -> dict:
        """Load every landed file up to the logical date that the warehouse does not hold yet
        (the day's files, late files of earlier days, days that never ran)."""
        from telco_mart.pipeline import run_ingest

        return run_ingest(logical_date.date(), run_id=run_id)

    @task(pool=WAREHOUSE_POOL)
    @refuse_without_retry(QualityGateFailed)
    def quality_gate_raw(ingested: dict, *, logical_date: datetime, run_id: str) -> dict:
        """Validate the ingested delivery dates against expectations/raw; a `fail` stops the run here."""
        from telco_mart.pipeline import run_raw_gate

        return run_raw_gate(
            logical_date.date(),
            run_id=run_id,
            start=date.fromisoformat(ingested["batch_start_date"]),
            end=date.fromisoformat(ingested["batch_end_date"]),
        )

    @task(pool=WAREHOUSE_POOL)
    @refuse_without_retry(QualityGateFailed)
    def quality_gate_marts(ingested: dict, *, logical_date: datetime, run_id: str) -> dict:
        """Validate the run date's slice of the public marts (expectations/marts); a `fail` publishes
        nothing. On a pass the batch's days are recorded as built (later days may publish)."""
        from telco_mart.pipeline import run_marts_gate

        return run_marts_gate(
            logical_date.date(), run_id=run_id, batch_start=date.fromisoformat(ingested["batch_start_date"])
        )

    @task(pool=WAREHOUSE_POOL)
    @refuse_without_retry(QualityGateFailed, PublishError)
    def quality_gate_publish(*, logical_date: datetime, run_id: str) -> dict:
        """Check the day's lists (expectations/publish: opt-outs, caps...); a `fail` publishes nothing."""
        from telco_mart.pipeline import run_publish_gate

        return run_publish_gate(logical_date.date(), run_id=run_id)

    @task(pool=WAREHOUSE_POOL)
    @refuse_without_retry(PublishError)
    def publish(*, logical_date: datetime, run_id: str) -> dict:
        """Write the day's target lists to the outbox (atomic) and append them to contact history;
        a day already published is verified, never rewritten."""
        from telco_mart.pipeline import run_publish

        return run_publish(logical_date.date(), run_id=run_id)

    @task(pool=WAREHOUSE_POOL)
    def summarise(*, logical_date: datetime) -> dict:
        """Log row counts, file registry and quarantine totals for the operator on duty."""
        from telco_mart.pipeline import summarise_run

        return summarise_run(logical_date.date())

    @task(pool=WAREHOUSE_POOL)
    def serve(*, logical_date: datetime, run_id: str) -> dict:
        """Swap in a fresh read-only copy of the public marts for BI tools: they never open the warehouse."""
        from telco_mart.serving import serve_snapshot

        return serve_snapshot(logical_date.date(), run_id=run_id)

    @task(pool=WAREHOUSE_POOL)
    def share_spark_sources() -> dict:
        """Spark engine: the raw sources as Parquet beside the warehouse, for dbt on Spark."""
        from telco_mart.pipeline import run_share_spark_sources

        return run_share_spark_sources()

    @task(pool=WAREHOUSE_POOL)
    def attach_spark_marts() -> list:
        """Spark engine: the marts Spark built, as DuckDB views, for the gates, publish and serve."""
        from telco_mart.pipeline import run_attach_spark_marts

        return run_attach_spark_marts()

    ingested = ingest()
    deliveries() >> campaign_catalog() >> ingested
    batch = dbt_batch_from_ingest("ingest")
    transform = dbt_task_group("dbt", batch, SETTINGS)
    if SETTINGS.engine == "spark":
        # dbt on Spark; ingestion, the gates and publish on DuckDB (docs/spark.md)
        transform = [duckdb_staging_views(batch, SETTINGS), share_spark_sources(), transform, attach_spark_marts()]
    else:
        transform = [transform]
    chain(
        quality_gate_raw(ingested),
        *transform,
        quality_gate_marts(ingested),
        quality_gate_publish(),
        publish(),
        summarise(),
        serve(),
    )


operator_daily()
