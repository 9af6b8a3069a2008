"""What the DAG's Python tasks do, kept out of the DAG file so it is importable and tested.

Each step opens the warehouse itself and closes it before returning: DuckDB allows one
writing process, and the next task (dbt) needs the file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import duckdb

from telco_mart.config import Settings
from telco_mart.ingest import ingest
from telco_mart.ledger import BUILT, MARTS_GATE_FAILED, RAW_GATE_FAILED, RAW_GATE_PASSED, days_between, mark_days
from telco_mart.refusals import RunDateRefused
from telco_mart.schema import SCHEMAS, ensure_raw_schema
from telco_mart.warehouse import connect

if TYPE_CHECKING:
    from telco_mart.quality import GateOutcome

log = logging.getLogger(__name__)


class NothingDelivered(Exception):
    """No feed has a file for the run's delivery date: there is nothing to ingest, check or build."""


def require_run_date(run_date: date, settings: Settings) -> None:
    """A date before the warehouse's start date is refused (Airflow would run no task for it)."""
    if run_date < settings.start_date:
        raise RunDateRefused(
            f"{run_date} is before the warehouse's start date {settings.start_date} (TELCO_MART_START_DATE): "
            "nothing is run for it"
        )


def require_landing(settings: Settings) -> None:
    """A landing folder that is not there is a wrong setting, never a day without deliveries."""
    if not settings.landing_dir.is_dir():
        raise FileNotFoundError(
            f"landing folder {settings.landing_dir} does not exist; set TELCO_MART_LANDING_DIR or generate "
            "data with `telco-mart generate` (make demo does)"
        )


def check_deliveries(run_date: date, settings: Settings | None = None) -> dict[str, Any]:
    """What landed for delivery date ``run_date``, feed by feed, decided from the landing
    folder alone, before the warehouse is opened.

    Raises ``NothingDelivered`` when no feed has a file for the date (the scheduler's run for
    a day the operator delivered nothing must not rebuild the marts and fail their gate). Late
    files of earlier dates do not count: they wait for the next delivered day, or a rerun.
    """
    from telco_mart.contract import load_contract
    from telco_mart.ingest import feeds_delivered

    settings = settings or Settings.from_env()
    require_run_date(run_date, settings)
    require_landing(settings)
    contract = load_contract()
    delivered = feeds_delivered(settings.landing_dir, run_date, contract)
    if not delivered:
        raise NothingDelivered(
            f"nothing delivered for {run_date}: none of the {len(contract.feeds)} feeds has a file under "
            f"{settings.landing_dir}/<feed>/{run_date}/; the run is skipped (no ingest, no dbt, nothing published)"
        )
    missing = sorted(set(contract.feeds) - set(delivered))
    log.info(
        "delivered for %s: %d files of %d of %d feeds%s",
        run_date,
        sum(delivered.values()),
        len(delivered),
        len(contract.feeds),
        f" (nothing yet from {', '.join(missing)})" if missing else "",
    )
    return {"delivery_date": run_date.isoformat(), "files": sum(delivered.values()), "feeds": delivered}


def run_delivery_check(run_date: date, settings: Settings | None = None) -> dict[str, Any] | bool:
    """The DAG's first task: what was delivered for ``run_date``, or False (logged with the
    reason) when nothing was, which skips the rest of the run."""
    try:
        return check_deliveries(run_date, settings)
    except NothingDelivered as nothing:
        log.warning("%s", nothing)
        return False


def run_ingest(run_date: date, run_id: str | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """Ingest every landed file of a delivery date up to ``run_date`` that the warehouse does
    not hold yet (the run date's files, late files, days that never ran)."""
    settings = settings or Settings.from_env()
    require_run_date(run_date, settings)
    require_landing(settings)
    with connect(settings=settings) as con:
        report = ingest(con, settings.landing_dir, run_date, run_id=run_id, progress=log.info)
    summary = report.summary()
    log.info("ingest summary: %s", summary)
    return summary


def table_row_counts(settings: Settings | None = None) -> dict[str, int]:
    """Rows per table in the warehouse schemas, for run summaries and rerun checks."""
    settings = settings or Settings.from_env()
    with connect(settings=settings) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            f"where table_schema in ({', '.join(repr(s) for s in SCHEMAS)}) order by 1, 2"
        ).fetchall()
        return {
            f"{schema}.{name}": con.execute(f'select count(*) from "{schema}"."{name}"').fetchall()[0][0]
            for schema, name in tables
        }


def summarise_run(run_date: date, settings: Settings | None = None) -> dict[str, Any]:
    """Log what the warehouse holds after a run: a person reads this at the end of the log."""
    settings = settings or Settings.from_env()
    counts = table_row_counts(settings)
    with connect(settings=settings) as con:
        registry = dict(con.execute("select status, count(*) from raw.file_registry group by 1 order by 1").fetchall())
        reasons = con.execute(
            "select split_part(reason, '; ', 1) as reason, count(*) from raw.quarantine "
            "group by 1 order by 2 desc limit 10"
        ).fetchall()
    log.info("warehouse %s after the run of %s", settings.warehouse_path, run_date)
    for table, rows in counts.items():
        log.info("  %-45s %12s rows", table, f"{rows:,}")
    log.info("file registry by status: %s", registry)
    if reasons:
        log.info("quarantine, top reasons: %s", ", ".join(f"{r} ({n:,})" for r, n in reasons))
    return {"run_date": run_date.isoformat(), "tables": counts, "files_by_status": registry}


#: What a stage's judging step gives back: the gate's outcome, or the task's result as it
#: stands when there is nothing more to say (a publish gate on a day already published).
GateJudge = Callable[[duckdb.DuckDBPyConnection, Settings, str], "GateOutcome | dict[str, Any]"]


def _run_gate(stage: str, run_id: str | None, settings: Settings | None, judge: GateJudge) -> dict[str, Any]:
    """The body every stage's task shares, written once: the settings and run id defaulted as
    a manual run's, the warehouse open for the stage's ``judge`` (which records in the ledger
    what the outcome means for the days it covered, and may raise
    ``telco_mart.quality.QualityGateFailed``), and the outcome's summary logged and returned."""
    settings = settings or Settings.from_env()
    run_id = run_id or f"manual__{datetime.now(UTC).isoformat(timespec='seconds')}"
    with connect(settings=settings) as con:
        outcome = judge(con, settings, run_id)
    if isinstance(outcome, dict):
        return outcome
    summary = outcome.summary()
    log.info("%s quality gate: %s", stage, summary)
    return summary


def run_raw_gate(
    run_date: date,
    run_id: str | None = None,
    settings: Settings | None = None,
    *,
    start: date | None = None,
    end: date | None = None,
) -> dict[str, Any]:
    """Validate the delivery dates ``start``..``end`` (default: the run date) against the raw suites.

    Raises ``telco_mart.quality.QualityGateFailed`` on an expectation of severity ``fail``,
    after the results are stored in ``marts.dq_results`` and the report is written.
    """
    from telco_mart.quality import QualityGateFailed, run_raw_gate_on

    days = days_between(start or run_date, end or run_date)

    def judge(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str) -> GateOutcome:
        try:
            outcome = run_raw_gate_on(con, run_date, run_id, data_dir=settings.data_dir, start=start, end=end)
        except QualityGateFailed as failed:
            failing = {f.run_date for f in failed.findings if f.outcome == "fail"}
            mark_days(con, failing, RAW_GATE_FAILED, run_id, str(failed).splitlines()[0])
            mark_days(con, set(days) - failing, RAW_GATE_PASSED, run_id)
            raise
        mark_days(con, days, RAW_GATE_PASSED, run_id)
        return outcome

    return _run_gate("raw", run_id, settings, judge)


def run_marts_gate(
    run_date: date,
    run_id: str | None = None,
    settings: Settings | None = None,
    *,
    batch_start: date | None = None,
) -> dict[str, Any]:
    """Validate the run date's slice of the public marts (the day, or its month for monthly
    marts) against the suites in ``expectations/marts/``, after dbt has built them.

    The delivery days of the dbt batch (``batch_start`` .. ``run_date``) are then recorded as
    built, which lets later days publish (days in order, telco_mart.ledger), and their queued
    rebuilds are done.

    Raises ``telco_mart.quality.QualityGateFailed`` on an expectation of severity ``fail``,
    after the results are stored in ``marts.dq_results`` and the report is written to
    ``<data_dir>/quality/<run date>/report-marts.html``.
    """
    from telco_mart.ledger import clear_pending_rebuilds
    from telco_mart.quality import QualityGateFailed, run_marts_gate_on

    start = min(batch_start or run_date, run_date)

    def judge(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str) -> GateOutcome:
        try:
            outcome = run_marts_gate_on(con, run_date, run_id, data_dir=settings.data_dir)
        except QualityGateFailed as failed:
            mark_days(con, days_between(start, run_date), MARTS_GATE_FAILED, run_id, str(failed).splitlines()[0])
            raise
        mark_days(con, days_between(start, run_date), BUILT, run_id)
        clear_pending_rebuilds(con, days_between(start, run_date))
        return outcome

    return _run_gate("marts", run_id, settings, judge)


def run_publish_gate(run_date: date, run_id: str | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """Validate the run date's target lists and decisions against the suites in
    ``expectations/publish/`` (the contact policy recomputed from raw tables and the outbox:
    opt-outs and do-not-disturb, caps, cool-downs, complaints, inactivity, one contact per
    channel a day, contact numbers; consent feeds complete; earlier days built; control
    share, list size), after dbt and the marts gate and before :func:`run_publish` writes
    the outbox.

    Raises ``telco_mart.quality.QualityGateFailed`` on an expectation of severity ``fail``,
    after the results are stored in ``marts.dq_results`` and the report is written to
    ``<data_dir>/quality/<run date>/report-publish.html``; the publish task must not run then.
    A day already published is judged all the same, but its lists stay as they were published
    (published days are history): a failure then is logged as a warning that names the
    findings and the way to replace the lists (``telco-mart publish reissue``), not raised.
    """
    from telco_mart.campaigns.publish import check_outbox_matches_warehouse
    from telco_mart.ledger import published_day
    from telco_mart.quality import QualityGateFailed, run_publish_gate_on

    def judge(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str) -> GateOutcome | dict[str, Any]:
        # an outbox that is not this warehouse's would be judged as its history: refuse first
        check_outbox_matches_warehouse(con, settings.outbox_dir, except_day=run_date)
        already_published = published_day(con, run_date) is not None
        try:
            return run_publish_gate_on(con, run_date, run_id, data_dir=settings.data_dir, outbox=settings.outbox_dir)
        except QualityGateFailed as failed:
            if not already_published:
                raise
            log.warning(
                "%s was published before these findings, and its lists stay as published; if they must change, "
                "reissue the day (telco-mart publish reissue --date %s --by ... --reason ...):\n%s",
                run_date,
                run_date,
                failed,
            )
            failures = sum(1 for f in failed.findings if f.outcome == "fail")
            return {"stage": "publish", "already_published": True, "failed": failures, "report": str(failed.report)}

    return _run_gate("publish", run_id, settings, judge)


#: The stages of the data-quality gate and the task that runs each, in the order the DAG runs
#: them (expectations/<stage>/): the one table a stage named at run time is looked up in.
QUALITY_GATES: dict[str, Callable[..., dict[str, Any]]] = {
    "raw": run_raw_gate,
    "marts": run_marts_gate,
    "publish": run_publish_gate,
}


def run_quality_gate(stage: str, run_date: date, **options: Any) -> dict[str, Any]:
    """Run one stage of the gate by name (:data:`QUALITY_GATES`), for callers that take the
    stage as a parameter (``telco-mart quality check``, the benchmark); the DAG calls each."""
    if stage not in QUALITY_GATES:
        raise ValueError(f"unknown quality gate stage {stage!r}; stages: {', '.join(QUALITY_GATES)}")
    return QUALITY_GATES[stage](run_date, **options)


def run_load_catalog(settings: Settings | None = None) -> dict[str, Any]:
    """Validate the campaign catalog and load it for dbt; a bad catalog, or an outbox the
    lists could not be written to, stops the run first (before any dbt work)."""
    from telco_mart.campaigns.catalog import describe, load_catalog, store_catalog
    from telco_mart.campaigns.publish import check_outbox_writable

    settings = settings or Settings.from_env()
    catalog = load_catalog(settings.campaign_catalog, settings.dbt_project_dir)
    check_outbox_writable(settings.outbox_dir)
    with connect(settings=settings) as con:
        ensure_raw_schema(con)
        store_catalog(con, catalog)
    log.info("%s", describe(catalog))
    return {"catalog": str(catalog.path), "version": catalog.version, "campaigns": len(catalog.campaigns)}


def run_publish(run_date: date, run_id: str | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """Publish the day's target lists to the outbox (see telco_mart.campaigns.publish)."""
    from telco_mart.campaigns.publish import publish_day

    return publish_day(run_date, run_id=run_id, settings=settings)


def run_share_spark_sources(settings: Settings | None = None) -> dict[str, int]:
    """On the Spark engine, before dbt: the raw sources as Parquet for Spark (telco_mart.spark_engine)."""
    from telco_mart.spark_engine import share_sources_with_spark

    settings = settings or Settings.from_env()
    # not read-only: in one process (`airflow dags test`) dbt-duckdb may still hold the file
    # open for writing, and DuckDB refuses a second connection with another configuration
    with connect(settings=settings) as con:
        shared = share_sources_with_spark(con, settings.spark_dir)
    log.info("shared %d source tables with Spark in %s", len(shared), settings.spark_dir / "sources")
    return shared


def run_attach_spark_marts(settings: Settings | None = None) -> list[str]:
    """On the Spark engine, after dbt: the marts Spark built, as views of the DuckDB warehouse,
    for the marts gate, the publish gate, publish and the served copy."""
    from telco_mart.spark_engine import attach_spark_marts, mart_contracts

    settings = settings or Settings.from_env()
    contracts = mart_contracts(settings.dbt_project_dir / "target" / "manifest.json")
    with connect(settings=settings) as con:
        attached = attach_spark_marts(con, settings.spark_dir, contracts)
    log.info("attached %d marts built by Spark from %s", len(attached), settings.spark_dir / "warehouse")
    return attached
