"""The day-sliced materialization (macros/day_sliced_incremental.sql) on the real usage roll-up.

A run over many days is cut into one statement per ``days_per_statement`` days so its
memory is that of a daily run. These tests build the generated, ingested small landing with
the real dbt and DuckDB: day by day and in one statement the table is the same, on a full
build and on a wide incremental batch, a slice that fails leaves the table as it was, and the
compiled SQL runs as it is (the slice's bounds are session variables, not edits of the SQL).
"""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO_ROOT, SMALL_END, SMALL_START, run_dbt, writable_copy

MODEL = "int_usage_events_aggregated_to_subscriber_days"
TABLE = f"intermediate.{MODEL}"
SLICED = {MODEL: TABLE, "fct_subscriber_daily": "marts.fct_subscriber_daily"}
ONE_STATEMENT = 10_000  # days per statement: any history of this test in one


@pytest.fixture
def warehouse(built_warehouse: Path, tmp_path: Path) -> Path:
    return writable_copy(built_warehouse, tmp_path)


def rows(warehouse: Path, table: str = TABLE) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"select * from {table} order by all").fetchall()


def build(
    warehouse: Path,
    target: Path,
    days_per_statement: int,
    batch: tuple[str, str] | None = None,
    *extra: str,
    model: str = MODEL,
) -> tuple[str, int]:
    dbt_vars = {"days_per_statement": str(days_per_statement)}
    if batch:
        dbt_vars |= {"batch_start_date": batch[0], "batch_end_date": batch[1]}
    output = run_dbt(["run", "--select", model, *extra], warehouse, target, dbt_vars)
    (plan,) = re.findall(rf"{model}: (full build|incremental run), (\d+) statement\(s\)", output)
    return plan[0], int(plan[1])


@pytest.mark.parametrize("model", SLICED)
def test_a_build_day_by_day_equals_the_build_in_one_statement(
    built_warehouse: Path, warehouse: Path, tmp_path: Path, model: str
) -> None:
    table = SLICED[model]
    built_by_dbt_build = rows(built_warehouse, table)
    assert built_by_dbt_build, "the small landing has usage"
    days = len({row[1] for row in rows(built_warehouse)})  # the days with usage
    target = tmp_path / "t"

    assert build(warehouse, target, 1, None, "--full-refresh", model=model) == ("full build", days)
    day_by_day = rows(warehouse, table)
    # each day's statement reads its events by a time range of constants (day_slice_time_range):
    # every staged event is counted once, none at a day's edges lost or taken twice
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (staged,) = con.execute("select count(*) from staging.stg_mediation__usage_events").fetchone()
        (rolled_up,) = con.execute(f"select sum(usage_events) from {TABLE}").fetchone()
    assert rolled_up == staged
    assert build(warehouse, target, ONE_STATEMENT, None, "--full-refresh", model=model) == ("full build", 1)
    assert rows(warehouse, table) == day_by_day == built_by_dbt_build
    assert build(warehouse, target, 2, None, "--full-refresh", model=model) == ("full build", -(-days // 2))
    assert rows(warehouse, table) == built_by_dbt_build
    # a run without batch bounds touches every calendar day: it builds the days with usage
    assert build(warehouse, target, 1, model=model) == ("incremental run", days)
    assert rows(warehouse, table) == built_by_dbt_build


def test_a_wide_incremental_batch_replaces_its_days_one_statement_each(warehouse: Path, tmp_path: Path) -> None:
    before = rows(warehouse)
    with duckdb.connect(str(warehouse)) as con:
        # a stale figure on every day: the batch must replace each of its days, and only those
        con.execute(f"update {TABLE} set usage_events = -1")
    batch = (SMALL_START.isoformat(), (SMALL_END - timedelta(days=1)).isoformat())
    plan, statements = build(warehouse, tmp_path / "t", 1, batch)
    assert plan == "incremental run" and statements >= (SMALL_END - SMALL_START).days
    assert [row for row in rows(warehouse) if row[1] < SMALL_END] == [row for row in before if row[1] < SMALL_END]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        stale_days = con.execute(f"select distinct date_day from {TABLE} where usage_events = -1").fetchall()
    assert stale_days == [(SMALL_END,)]  # the day outside the batch was not touched


def test_a_slice_that_fails_leaves_the_table_as_it_was(warehouse: Path, tmp_path: Path) -> None:
    """The last day's statement fails (a bad cast that only that day's rows reach), after the
    earlier days were replaced: the run fails and the table is the one before it, on an
    incremental batch and on a full refresh."""
    project = tmp_path / "dbt_project"
    shutil.copytree(REPO_ROOT / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    model = next(project.rglob(f"{MODEL}.sql"))
    column = "cast(main_cells.main_cell_id as {{ dbt.type_string() }}) as main_cell_id"
    failing = (
        f"cast(case when usage_per_day.date_day = cast('{SMALL_END}' as date) "
        "then 'not a number ' || usage_per_day.subscriber_id else null end as integer) as fails_on_the_last_day"
    )
    source = model.read_text()
    assert source.count(column) == 1
    model.write_text(source.replace(column, f"{column},\n        {failing}"))
    before = rows(warehouse)
    batch = {"batch_start_date": SMALL_START.isoformat(), "batch_end_date": SMALL_END.isoformat()}
    for extra in ([], ["--full-refresh"]):
        with pytest.raises(AssertionError, match="Conversion Error") as failed:
            run_dbt(["run", "--select", MODEL, *extra], warehouse, tmp_path / "t", batch, project_dir=project)
        assert f"{MODEL}: days {SMALL_END - timedelta(days=1)} .. " in str(failed.value)  # built before the failure
        assert rows(warehouse) == before
    with duckdb.connect(str(warehouse), read_only=True) as con:
        leftovers = con.execute(
            "select table_name from information_schema.tables where table_name like ? and table_name <> ?",
            [f"{MODEL}%", MODEL],
        ).fetchall()
    assert leftovers == []


def test_the_compiled_sql_runs_as_it_is_and_selects_every_day_without_bounds(
    built_warehouse: Path, warehouse: Path, tmp_path: Path
) -> None:
    """The materialization runs the compiled SQL unchanged, with each slice's days set as
    session variables; where nothing sets them (dbt compile, show, an analyst pasting the SQL)
    the same SQL selects every day, as a full build does."""
    target = tmp_path / "t"
    run_dbt(["compile", "--select", MODEL], warehouse, target)
    (compiled,) = (target / "compiled").rglob(f"{MODEL}.sql")
    sql = compiled.read_text()
    assert "getvariable('day_slice_first_day')" in sql and "/* day_slice" not in sql
    with duckdb.connect(str(warehouse), read_only=True) as con:
        every_day = con.execute(f"select * from ({sql}) order by all").fetchall()
        for bound in ("first_day", "last_day"):
            con.execute(f"set variable day_slice_{bound} = date '{SMALL_END}'")
        last_day = con.execute(f"select * from ({sql}) order by all").fetchall()
    assert every_day == rows(built_warehouse)
    assert last_day == [row for row in every_day if row[1] == SMALL_END]
