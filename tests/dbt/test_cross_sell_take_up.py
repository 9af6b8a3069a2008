"""Cross-sell take-up on a base with heavy churn equals a recomputation over the period-end base.

Holdings are as of the period end, so the base they are divided by must be the base at the
period end: a month's leavers are in the base on some day of the month, hold nothing of ours
at its end (or hold broadband, a contract of their own), and would dilute every take-up rate.
A generated world losing a fifth of its lines a month makes the two bases far apart; the
figures are recomputed here from the raw CRM and broadband feeds, not from the marts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.conftest import ingest_landing, run_dbt

pytestmark = pytest.mark.dbt

SUBSCRIBERS = 300
START, END = date(2026, 1, 1), date(2026, 3, 10)  # two closed months and one in progress
MONTHLY_CHURN = 0.20
#: A base losing a fifth of its lines a month cannot hold the default fifth of high-value
#: long-tenure lines (too few graduate into value in time); the generator refuses it, so
#: this world plants few of them and more new lines.
SHARES = {
    "data_driven_new": 0.40,
    "high_value_long_tenure": 0.02,
    "voice_biased": 0.30,
    "low_value_suppressed": 0.20,
    "noise": 0.08,
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from telco_mart.generate import DEFAULT_SETTINGS, generate
    from telco_mart.generate.settings import GroupShares

    work = tmp_path_factory.mktemp("cross_sell_take_up")
    landing, warehouse = work / "landing", work / "warehouse.duckdb"
    generate(
        subscribers=SUBSCRIBERS,
        start=START,
        end=END,
        seed=5,
        out=landing,
        fmt="parquet",
        events_per_sub_day=1.0,
        settings=dataclasses.replace(DEFAULT_SETTINGS, monthly_churn=MONTHLY_CHURN, shares=GroupShares(**SHARES)),
    )
    ingest_landing(landing, warehouse, END)
    target, dbt_vars = work / "target", {"run_date": END.isoformat()}
    run_dbt(["run", "--select", "+kpi_cross_sell_monthly"], warehouse, target, dbt_vars)
    run_dbt(["test", "--select", "subscriber_products_monthly", "kpi_cross_sell_monthly"], warehouse, target, dbt_vars)
    yield warehouse


def period_ends() -> list[tuple[date, date]]:
    """(month start, period end): the month's last day, or the last loaded day of the month in progress."""
    months, month = [], START
    while month <= END:
        following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
        months.append((month, min(following - timedelta(days=1), END)))
        month = following
    return months


def recomputed_from_raw(con: duckdb.DuckDBPyConnection, month: date, period_end: date) -> tuple[int, int]:
    """(lines in the base at the period end, of them holding broadband then), from the raw feeds:
    each line's and each contract's latest version known by the period end."""
    return con.execute(
        """
        with line_at_end as (
            select subscriber_id, status, activation_date
            from raw.subscribers
            where cast(updated_at as date) <= $period_end
            qualify row_number() over (partition by subscriber_id order by updated_at desc) = 1
        ),
        base_at_end as (
            select subscriber_id from line_at_end where status <> 'churned' and activation_date <= $period_end
        ),
        contract_at_end as (
            select subscriber_id, status, end_date
            from raw.broadband_contracts
            where cast(updated_at as date) <= $period_end
            qualify row_number() over (partition by contract_id order by updated_at desc) = 1
        ),
        broadband_at_end as (
            select distinct subscriber_id from contract_at_end
            where status in ('active', 'renewed') and (end_date is null or end_date >= $period_end)
        )
        select count(*), count(broadband_at_end.subscriber_id)
        from base_at_end left join broadband_at_end using (subscriber_id)
        """,
        {"period_end": period_end},
    ).fetchone()


def test_take_up_counts_and_divides_by_the_base_at_the_period_end(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for month, period_end in period_ends():
            base, holders = recomputed_from_raw(con, month, period_end)
            month_base, end_base, mart_holders, take_up = con.execute(
                """
                select sum(subscriber_count), sum(period_end_subscriber_count), sum(broadband_holders),
                    sum(broadband_holders) / sum(period_end_subscriber_count)
                from marts.kpi_cross_sell_monthly where month_start_date = $month
                """,
                {"month": month},
            ).fetchone()
            assert (end_base, mart_holders) == (base, holders), month
            assert take_up == pytest.approx(holders / base), month
            if period_end.month != (period_end + timedelta(days=1)).month:
                # a closed month of this world loses enough lines that its base is far above
                # the period-end base: the old denominator diluted take-up by over a tenth
                assert month_base > 1.1 * end_base, (month, month_base, end_base)


def test_every_take_up_rate_of_a_row_is_over_its_period_end_base(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            """
            select period_end_subscriber_count, broadband_holders, broadband_take_up_rate,
                data_pack_holders, data_pack_take_up_rate, composite_subscribers, subscriber_count
            from marts.kpi_cross_sell_monthly
            """
        ).fetchall()
    assert rows
    for end_base, broadband, broadband_rate, data_pack, data_pack_rate, composite, month_base in rows:
        assert end_base <= month_base and max(broadband, data_pack, composite) <= end_base
        if end_base:
            assert broadband_rate == pytest.approx(broadband / end_base)
            assert data_pack_rate == pytest.approx(data_pack / end_base)
        else:
            assert broadband_rate is None and data_pack_rate is None
