"""The real dbt project built on generated, ingested data: staging reconciles with raw."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from telco_mart.config import dbt_batch_environment
from telco_mart.schema import copy_warehouse
from tests.conftest import SMALL_END, add_raw_rows, run_dbt

EVENT_MODELS = {
    "usage_events": ("stg_mediation__usage_events", "event_id"),
    "recharges": ("stg_billing__recharges", "recharge_id"),
    "cell_kpis_daily": ("stg_network__cell_kpis", "cell_id || kpi_date"),
    "contact_history": ("stg_marketing__contacts", "contact_id"),
}

#: Usage's key test: it reads ingestion's proof (tests/generic/unique_as_proven_at_ingest.sql).
KEY_TEST = "unique_as_proven_at_ingest_stg_mediation__usage_events_event_id__usage_events"


@pytest.fixture
def built_path(built_warehouse: Path) -> Path:
    return built_warehouse


def test_warehouse_schemas_are_exactly_the_four_layers(con) -> None:
    schemas = {r[0] for r in con.execute("select schema_name from information_schema.schemata").fetchall()}
    # `main` is DuckDB's built-in default schema; nothing is built in it.
    assert schemas - {"main", "information_schema", "pg_catalog"} == {"raw", "staging", "intermediate", "marts"}
    assert con.execute("select count(*) from information_schema.tables where table_schema = 'main'").fetchall() == [
        (0,)
    ]


@pytest.mark.parametrize("feed", sorted(EVENT_MODELS))
def test_event_staging_keeps_one_row_per_raw_key(con, feed: str) -> None:
    model, key = EVENT_MODELS[feed]
    (raw_keys,) = con.execute(f"select count(distinct {key}) from raw.{feed}").fetchall()[0]
    (staged,) = con.execute(f"select count(*) from staging.{model}").fetchall()[0]
    assert staged == raw_keys > 0


def test_subscriber_versions_cover_the_base(con) -> None:
    raw = con.execute("select count(distinct subscriber_id) from raw.subscribers").fetchall()[0][0]
    staged = con.execute("select count(distinct subscriber_id) from staging.stg_crm__subscribers").fetchall()[0][0]
    assert staged == raw > 0


def test_event_staging_is_a_view_over_raw_and_a_day_rebuild_copies_nothing(
    built_warehouse: Path, tmp_path: Path
) -> None:
    """Event staging only renames and casts, and ingestion already makes raw idempotent, so
    staging is views: a day's run writes none of the day's events a second time."""
    copy = tmp_path / "warehouse.duckdb"
    copy_warehouse(built_warehouse, copy)
    models = [model for model, _ in EVENT_MODELS.values()] + ["stg_billing__bills", "stg_crm__nps_responses"]

    def layout() -> tuple[dict[str, str], dict[str, int]]:
        with duckdb.connect(str(copy), read_only=True) as c:
            kinds = dict(
                c.execute(
                    "select table_name, table_type from information_schema.tables where table_schema = 'staging'"
                ).fetchall()
            )
            rows = {f: c.execute(f"select count(*) from raw.{f}").fetchall()[0][0] for f in EVENT_MODELS}
        return kinds, rows

    kinds, raw_before = layout()
    assert {m: kinds.get(m) for m in models} == dict.fromkeys(models, "VIEW")
    day = SMALL_END.isoformat()
    output = run_dbt(
        ["run", "--select", "staging"],
        copy,
        tmp_path / "target",
        {"batch_start_date": day, "batch_end_date": day, "run_date": day},
    )
    assert "view model staging.stg_mediation__usage_events" in output
    assert layout() == (kinds, raw_before)


def test_a_batch_run_tests_the_batch_and_a_full_test_tests_everything(built_warehouse: Path, tmp_path: Path) -> None:
    """Data tests of incremental models are scoped to the batch (macros/get_where_subquery.sql):
    a defect in an earlier delivery date is not re-scanned by today's run, a defect in the batch
    is caught, and a test run with the default vars sees all of history."""
    copy = tmp_path / "warehouse.duckdb"
    copy_warehouse(built_warehouse, copy)
    first_day, last_day = (SMALL_END - timedelta(days=3)).isoformat(), SMALL_END.isoformat()
    with duckdb.connect(str(copy)) as c:
        # a second copy of one event of the first delivery date, as a broken load would leave
        add_raw_rows(
            c,
            "usage_events",
            "select * replace (_source_line + 1000000 as _source_line) from raw.usage_events "
            "where _delivery_date = ? limit 1",
            [first_day],
            date.fromisoformat(first_day),
        )
    select = ["test", "--select", KEY_TEST]

    def unique_test(dbt_vars: dict[str, str] | None) -> str:
        try:
            return run_dbt(select, copy, tmp_path / "target", dbt_vars)
        except AssertionError as failed:
            return str(failed)

    batch = {"batch_start_date": last_day, "batch_end_date": last_day, "run_date": last_day}
    assert f"PASS {KEY_TEST}" in unique_test(batch)
    first = {"batch_start_date": first_day, "batch_end_date": first_day, "run_date": first_day}
    failed = f"FAIL 1 {KEY_TEST}"
    assert failed in unique_test(first)
    assert failed in unique_test(None)
    compiled = next((tmp_path / "target" / "compiled").rglob("unique_as_proven_at_ingest_*.sql"))
    assert "delivery_date between" not in compiled.read_text()  # the full test is not limited


def test_an_event_twice_in_raw_fails_the_key_test_rather_than_being_merged(
    built_warehouse: Path, tmp_path: Path
) -> None:
    """Event staging has no dedupe window: ingestion loads a key once per delivery date, and
    a row that reached raw some other way must stop the build, not be quietly dropped."""
    copy = tmp_path / "warehouse.duckdb"
    copy_warehouse(built_warehouse, copy)
    day = SMALL_END.isoformat()
    with duckdb.connect(str(copy)) as c:
        add_raw_rows(
            c,
            "usage_events",
            "select * replace (_source_line + 1000000 as _source_line) from raw.usage_events "
            "where _delivery_date = ? limit 1",
            [day],
            SMALL_END,
        )
    try:
        output = run_dbt(
            ["build", "--select", "stg_mediation__usage_events"],
            copy,
            tmp_path / "target",
            {"batch_start_date": day, "batch_end_date": day, "run_date": day},
        )
    except AssertionError as failed:
        output = str(failed)
    assert f"FAIL 1 {KEY_TEST}" in output
    with duckdb.connect(str(copy), read_only=True) as c:
        staged, distinct = c.execute(
            "select count(*), count(distinct event_id) from staging.stg_mediation__usage_events "
            "where delivery_date = ?",
            [day],
        ).fetchall()[0]
    assert staged == distinct + 1


def test_the_usage_key_test_fails_when_staging_reads_other_rows_than_the_proven_files(
    built_warehouse: Path, tmp_path: Path
) -> None:
    """The key test relies on ingestion's proof only for rows that come from the proven files:
    a staging view that reads fewer (or other) rows than the listed files hold fails it."""
    copy = tmp_path / "warehouse.duckdb"
    copy_warehouse(built_warehouse, copy)
    day = SMALL_END.isoformat()
    with duckdb.connect(str(copy)) as c:
        c.execute("alter view staging.stg_mediation__usage_events rename to usage_events_as_built")
        c.execute(
            "create view staging.stg_mediation__usage_events as "
            "select * from staging.usage_events_as_built where source_line <> 2"
        )
    batch = {"batch_start_date": day, "batch_end_date": day, "run_date": day}
    try:
        output = run_dbt(["test", "--select", KEY_TEST], copy, tmp_path / "target", batch)
    except AssertionError as failed:
        output = str(failed)
    assert f"FAIL 1 {KEY_TEST}" in output


def test_a_batch_in_the_environment_scopes_the_run_without_a_fresh_parse(built_warehouse: Path, tmp_path: Path) -> None:
    """The DAG hands dbt each day's batch in the environment (macros/batch_setting.sql), read
    only at execution: each day's SQL has that day's dates and dbt starts from the partial
    parse, where new --vars every day made it parse the whole project. By hand, --vars win."""
    copy = tmp_path / "warehouse.duckdb"
    copy_warehouse(built_warehouse, copy)
    target = tmp_path / "target"
    select = ["compile", "--select", "int_activity_dates_touched"]

    def batch(day: str) -> dict[str, str]:
        return {"batch_start_date": day, "batch_end_date": day, "run_date": day}

    def compiled_bounds() -> str:
        sql = next((target / "compiled").rglob("int_activity_dates_touched.sql")).read_text()
        (bounds,) = set(re.findall(r"between cast\('([0-9-]+)' as date\) and cast\('([0-9-]+)' as date\)", sql))
        return bounds

    run_dbt(["parse"], copy, target)
    log = target / "logs" / "dbt.log"
    parsed = len(log.read_text())
    days = [(SMALL_END - timedelta(days=k)).isoformat() for k in (2, 1, 0)]
    for day in days[1:]:
        run_dbt(select, copy, target, env=dbt_batch_environment(batch(day)))
        assert compiled_bounds() == (day, day)
    since_parse = log.read_text()[parsed:]
    assert since_parse.count("no changes found, skipping parsing") == 2
    assert "Unable to do partial parsing" not in since_parse

    run_dbt(select, copy, target, batch(days[0]), env=dbt_batch_environment(batch(days[2])))
    assert compiled_bounds() == (days[0], days[0])
