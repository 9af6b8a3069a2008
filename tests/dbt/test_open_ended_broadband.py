"""An open-ended broadband contract through the real layers: loaded, held, never expiring.

A small generated world (20 January to 3 February, so that January is a closed month for
the signals read from it) gets a hand-written broadband delivery on its first day for three
of its lines without broadband: OPEN holds an open-ended contract (end_date empty: no fixed
term), MIXED holds an open-ended one and a dated one ending on 20 February, and DATED, the
control, holds only such a dated contract. The feeds go through ingestion, the raw gate and
dbt up to the campaign decisions of 3 February. Open-ended broadband is held and has no end:
OPEN and MIXED hold broadband with no end date, are never expiring, get no near-expiry churn
signal and are not in the broadband renewal audience, while DATED is all of those, which
shows that each check can see what it looks for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from telco_mart.campaigns.catalog import load_catalog, store_catalog
from telco_mart.quality import QualityGateFailed, run_raw_gate_on
from tests.conftest import ingest_landing, run_dbt
from tests.plugins.ingest.feeds import write_feed

pytestmark = pytest.mark.dbt

START, END = dt.date(2026, 1, 20), dt.date(2026, 2, 3)
DATED_END = dt.date(2026, 2, 20)  # within 30 days of every day of February in this world
FEBRUARY = dt.date(2026, 2, 1)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str], list]]:
    """(warehouse, {role: subscriber_id}, the raw gate's broadband findings of the first day)."""
    from telco_mart.generate import generate

    work = tmp_path_factory.mktemp("open_ended_broadband")
    landing, warehouse = work / "landing", work / "warehouse.duckdb"
    generate(subscribers=150, start=START, end=END, seed=3, out=landing, fmt="csv", events_per_sub_day=1.0)
    with duckdb.connect() as con:
        # lines active from before the world to its end, delivered on its first day, without broadband
        candidates = [
            row[0]
            for row in con.execute(
                f"""
                select subscriber_id
                from read_csv('{landing}/subscribers/*/*.csv', all_varchar = true)
                where subscriber_id in (
                    select subscriber_id from read_csv('{landing}/subscribers/{START}/*.csv', all_varchar = true)
                )
                    and subscriber_id not in (
                        select subscriber_id from read_csv('{landing}/broadband_contracts/*/*.csv', all_varchar = true)
                    )
                qualify row_number() over (partition by subscriber_id order by updated_at desc) = 1
                    and status = 'active' and activation_date < '2025-01-01'
                order by subscriber_id
                limit 3
                """
            ).fetchall()
        ]
    roles = dict(zip(("open", "mixed", "dated"), candidates, strict=True))
    contract = {
        "household_id": "",
        "start_date": "2025-02-21",
        "speed_mbps": "100",
        "monthly_fee": "3999",
        "status": "active",
        "updated_at": f"{START} 08:00:00",
    }
    dated = {**contract, "end_date": DATED_END.isoformat()}
    write_feed(
        landing,
        "broadband_contracts",
        [
            {**contract, "contract_id": "OPEN-1", "subscriber_id": roles["open"], "end_date": ""},
            {**contract, "contract_id": "MIXED-1", "subscriber_id": roles["mixed"], "end_date": ""},
            {**dated, "contract_id": "MIXED-2", "subscriber_id": roles["mixed"]},
            {**dated, "contract_id": "DATED-1", "subscriber_id": roles["dated"]},
        ],
        day=START,
        name="open_ended_contracts.csv",
    )
    ingest_landing(landing, warehouse, END)
    with duckdb.connect(str(warehouse)) as con:
        try:
            findings = run_raw_gate_on(con, START, "open-ended", data_dir=work).findings
        except QualityGateFailed as failed:
            findings = failed.findings
        store_catalog(con, load_catalog())
    targets = ["+churn_warnings_daily", "+kpi_cross_sell_monthly", "+campaign_decisions_daily"]
    dbt_vars = {"run_date": END.isoformat()}
    run_dbt(["run", "--select", *targets], warehouse, work / "target", dbt_vars)
    # the data tests of the models a null end date goes through hold on it
    tested = ["stg_broadband__contracts", "fct_subscriber_monthly", "subscriber_products_monthly"]
    run_dbt(["test", "--select", *tested, "--exclude-resource-type", "unit_test"], warehouse, work / "target", dbt_vars)
    yield warehouse, roles, [f for f in findings if f.suite == "raw.broadband_contracts"]


@pytest.fixture
def built_path(world: tuple[Path, dict[str, str], list]) -> Path:
    return world[0]


def test_open_ended_contracts_load_and_pass_the_raw_gate(world, con: duckdb.DuckDBPyConnection) -> None:
    loaded = con.execute(
        "select contract_id, end_date from raw.broadband_contracts "
        "where regexp_matches(contract_id, '^(OPEN|MIXED|DATED)-') order by 1"
    ).fetchall()
    assert loaded == [("DATED-1", DATED_END), ("MIXED-1", None), ("MIXED-2", DATED_END), ("OPEN-1", None)]
    assert con.execute("select count(*) from raw.quarantine where feed = 'broadband_contracts'").fetchone() == (0,)
    findings = world[2]
    assert findings and [f"{f.expectation}: {f.observed_value}" for f in findings if not f.success] == []


def test_open_ended_broadband_is_held_with_no_end_date(world, con: duckdb.DuckDBPyConnection) -> None:
    roles = world[1]
    held = con.execute(
        """
        select subscriber_id, month_start_date, has_broadband, broadband_end_date
        from marts.fct_subscriber_monthly where subscriber_id in (?, ?, ?)
        order by subscriber_id, month_start_date
        """,
        [roles["open"], roles["mixed"], roles["dated"]],
    ).fetchall()
    expected = {"open": (True, None), "mixed": (True, None), "dated": (True, DATED_END)}
    assert held == sorted(
        (subscriber, month, *expected[role])
        for month in (dt.date(2026, 1, 1), FEBRUARY)
        for role, subscriber in roles.items()
    )


def test_open_ended_broadband_is_never_expiring_in_the_cross_sell_marts(world, con: duckdb.DuckDBPyConnection) -> None:
    roles = world[1]
    products = dict(
        (row[0], row[1:])
        for row in con.execute(
            """
            select subscriber_id, holds_broadband, is_broadband_expiring_near, is_broadband_expiring_far
            from marts.subscriber_products_monthly where month_start_date = ? and is_in_base_at_period_end
            """,
            [FEBRUARY],
        ).fetchall()
    )
    assert products[roles["open"]] == products[roles["mixed"]] == (True, False, False)
    assert products[roles["dated"]] == (True, True, True)
    # the KPI counts the same holders and expiring contracts
    kpi = con.execute(
        "select sum(broadband_holders), sum(broadband_expiring_near), sum(broadband_expiring_far) "
        "from marts.kpi_cross_sell_monthly where month_start_date = ?",
        [FEBRUARY],
    ).fetchone()
    assert kpi == tuple(sum(flags[n] for flags in products.values()) for n in range(3))


def test_open_ended_broadband_gives_no_near_expiry_churn_signal(world, con: duckdb.DuckDBPyConnection) -> None:
    roles = world[1]
    signalled = con.execute(
        """
        select subscriber_id, count(*) from marts.churn_warnings_daily
        where is_broadband_expiring and date_day >= ? group by 1
        """,
        [FEBRUARY],
    ).fetchall()
    days = (END - FEBRUARY).days + 1
    assert {s: n for s, n in signalled if s in roles.values()} == {roles["dated"]: days}


def test_open_ended_broadband_is_not_in_the_renewal_audience(world, con: duckdb.DuckDBPyConnection) -> None:
    roles = world[1]
    audience = {
        row[0]
        for row in con.execute(
            "select subscriber_id from marts.campaign_decisions_daily "
            "where decision_date = ? and campaign_id = 'broadband_renewal'",
            [END],
        ).fetchall()
    }
    assert audience & set(roles.values()) == {roles["dated"]}
