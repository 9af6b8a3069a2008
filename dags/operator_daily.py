"""operator_daily: land -> raw -> quality gate -> dbt -> summary, once per logical date.

Thin on purpose: the work lives in ``telco_mart`` (plugins/). Backfill a range with
``airflow backfill create --dag-id operator_daily --from-date D1 --to-date D2``.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, get_current_context, task

from telco_mart.config import Settings
from telco_mart.orchestration import dbt_task_group, dbt_vars_from_ingest
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
    def ingest() -> dict:
        """Load the logical date's landed files into `raw` (all history on a fresh warehouse)."""
        from telco_mart.pipeline import run_ingest

        context = get_current_context()
        return run_ingest(context["logical_date"].date(), run_id=context["run_id"])

    @task(pool=WAREHOUSE_POOL)
    def quality_gate_raw(ingested: dict) -> dict:
        """Validate the ingested delivery dates against expectations/raw; a `fail` stops the run here."""
        from datetime import date

        from airflow.sdk.exceptions import AirflowFailException

        from telco_mart.pipeline import run_raw_gate
        from telco_mart.quality import QualityGateFailed

        context = get_current_context()
        try:
            return run_raw_gate(
                context["logical_date"].date(),
                run_id=context["run_id"],
                start=date.fromisoformat(ingested["batch_start_date"]),
                end=date.fromisoformat(ingested["batch_end_date"]),
            )
        except QualityGateFailed as failed:
            # Bad data does not get better on retry: fail now, with the findings in the log.
            raise AirflowFailException(str(failed)) from failed

    @task(pool=WAREHOUSE_POOL)
    def summarise() -> dict:
        """Log row counts, file registry and quarantine totals for the operator on duty."""
        from telco_mart.pipeline import summarise_run

        return summarise_run(get_current_context()["logical_date"].date())

    ingested = ingest()
    transform = dbt_task_group("dbt", dbt_vars_from_ingest("ingest"), SETTINGS)
    quality_gate_raw(ingested) >> transform >> summarise()


operator_daily()
