"""A base without usage still has its daily and monthly facts.

An operator may deliver no mediation feed at all, and any operator's usage can be a day late.
The subscriber facts must not vanish with it: every line in the base gets each day the
warehouse holds data for, with its plan fee as revenue and zero usage, and the monthly facts
add those days up. The small generated world is ingested without its usage files and built by
the real dbt project; the expected days and fees are recomputed here from the CRM versions and
the plan catalogue as delivered.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.conftest import SMALL_END, SMALL_START, ingest_landing, run_dbt

pytestmark = pytest.mark.dbt


@pytest.fixture(scope="module")
def warehouse(small_landing: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("base_without_usage")
    landing = work / "landing"
    shutil.copytree(small_landing, landing, ignore=shutil.ignore_patterns("usage_events"))
    assert not (landing / "usage_events").exists()
    path = work / "warehouse.duckdb"
    ingest_landing(landing, path, SMALL_END)
    run_dbt(["run", "--select", "+fct_subscriber_monthly"], path, work / "target")
    return path


def in_base_by_day(con: duckdb.DuckDBPyConnection) -> dict[date, set[str]]:
    """Who is in the base at the end of each day, from the CRM versions as delivered: a line's
    latest version by the day's end, activated by then and not churned."""
    versions: dict[str, list[tuple[date, str, date]]] = defaultdict(list)
    for subscriber, changed_on, status, activated in con.execute(
        "select subscriber_id, cast(updated_at as date), status, activation_date"
        " from staging.stg_crm__subscribers order by updated_at"
    ).fetchall():
        versions[subscriber].append((changed_on, status, activated))
    out: dict[date, set[str]] = {}
    day = SMALL_START
    while day <= SMALL_END:
        out[day] = set()
        for subscriber, history in versions.items():
            held = [v for v in history if v[0] <= day]
            if held and held[-1][1] != "churned" and held[-1][2] <= day:
                out[day].add(subscriber)
        day += timedelta(days=1)
    return out


def test_every_line_in_the_base_has_each_day_with_zero_usage(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from staging.stg_mediation__usage_events").fetchone()[0] == 0
        expected = in_base_by_day(con)
        facts: dict[date, set[str]] = defaultdict(set)
        for subscriber, day, usage in con.execute(
            "select subscriber_id, date_day, usage_events from marts.fct_subscriber_daily where is_in_base"
        ).fetchall():
            assert usage == 0
            facts[day].add(subscriber)
    assert min(len(members) for members in expected.values()) > 250  # of the world's 300 lines
    assert dict(facts) == expected


def test_the_month_adds_up_the_plan_fees_of_those_days(warehouse: Path) -> None:
    from telco_mart.generate.products import PLANS

    fee_per_day = {plan.plan_id: plan.monthly_fee / 31 for plan in PLANS}  # January
    with duckdb.connect(str(warehouse), read_only=True) as con:
        expected: dict[str, float] = defaultdict(float)
        for subscriber, plan in con.execute(
            "select subscriber_id, plan_id from marts.fct_subscriber_daily where is_in_base"
        ).fetchall():
            expected[subscriber] += fee_per_day[plan]
        monthly = dict(
            con.execute(
                "select subscriber_id, revenue_amount from marts.fct_subscriber_monthly"
                " where month_start_date = ? and days_in_base > 0",
                [SMALL_START],
            ).fetchall()
        )
    assert len(monthly) > 250
    assert monthly == pytest.approx(dict(expected), abs=1e-3)  # revenue is kept to 4 decimals
