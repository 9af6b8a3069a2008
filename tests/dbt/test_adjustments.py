"""Billing adjustments (credits, refunds, one-off charges) flow into revenue and ARPU.

Hand-written adjustment files, as a billing system delivers them, are added to the small
generated world: a refund and a credit (negative), a one-off charge, a correction, a row for
an unknown subscriber and one with a type outside the contract. The warehouse is ingested and
built by the real loader and dbt project up to the day before the world's last day; the last
day then arrives with a late adjustment for an earlier day and is built incrementally with the
DAG's batch vars. Every figure is recomputed here from the files.
"""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.conftest import SMALL_END, SMALL_START, ingest_landing, run_dbt

pytestmark = pytest.mark.dbt

HEADER = ["adjustment_id", "subscriber_id", "adjusted_at", "adjustment_type", "amount", "reason"]
DAY_2 = SMALL_START + timedelta(days=1)
DAY_3 = SMALL_START + timedelta(days=2)


def adjustments_by_delivery(subscribers: list[str]) -> dict[date, list[list[str]]]:
    """What billing delivers, per delivery date; the last one carries a late adjustment."""
    first, second, third = subscribers[:3]
    return {
        DAY_2: [
            ["A1", first, f"{DAY_2} 09:15:00", "refund", "-120.5", "double charge in December"],
            ["A2", first, f"{DAY_2} 17:40:00", "credit", "-30", "network outage compensation"],
            ["A3", second, f"{DAY_2} 11:00:00", "one_off_charge", "25", "SIM replacement"],
            ["A4", "NOBODY", f"{DAY_2} 12:00:00", "credit", "-10", "no such subscriber"],
            ["A5", third, f"{DAY_2} 12:30:00", "goodwill", "-5", "a type outside the contract"],
        ],
        DAY_3: [
            ["A6", third, f"{DAY_3} 08:00:00", "correction", "7.25", "usage rated too low"],
        ],
        SMALL_END: [
            # late: it took effect on day 2 and arrives two days later
            ["A7", second, f"{DAY_2} 23:00:00", "refund", "-10", "SIM replacement partly waived"],
        ],
    }


@pytest.fixture(scope="module")
def built(small_landing: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[tuple[str, date], float]]:
    work = tmp_path_factory.mktemp("adjustments")
    landing = work / "landing"
    shutil.copytree(small_landing, landing)
    with (landing / "subscribers" / str(SMALL_START) / f"subscribers_{SMALL_START}.csv").open() as f:
        subscribers = sorted(row["subscriber_id"] for row in csv.DictReader(f) if row["status"] == "active")
    expected: dict[tuple[str, date], float] = defaultdict(float)
    for delivered, rows in adjustments_by_delivery(subscribers).items():
        folder = landing / "adjustments" / str(delivered)
        folder.mkdir(parents=True)
        with (folder / f"adjustments_{delivered}.csv").open("w", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows([HEADER, *rows])
        for _, subscriber, adjusted_at, kind, amount, _ in rows:
            if subscriber != "NOBODY" and kind != "goodwill":
                expected[(subscriber, date.fromisoformat(adjusted_at[:10]))] += float(amount)

    warehouse, target = work / "warehouse.duckdb", work / "target"
    day_before = SMALL_END - timedelta(days=1)
    ingest_landing(landing, warehouse, day_before)
    # dim_cell too: the daily facts' tests check their cells against it
    run_dbt(["run", "--select", "+fct_subscriber_monthly", "+dim_cell"], warehouse, target)
    ingest_landing(landing, warehouse, SMALL_END)
    batch = {"batch_start_date": str(SMALL_END), "batch_end_date": str(SMALL_END), "run_date": str(SMALL_END)}
    run_dbt(["build", "--select", "stg_billing__adjustments", "fct_subscriber_daily", "fct_subscriber_monthly"],
            warehouse, target, batch)  # fmt: skip
    return warehouse, dict(expected)


def test_every_adjustment_row_is_loaded_or_quarantined_with_its_reason(built: tuple[Path, dict]) -> None:
    warehouse, _ = built
    with duckdb.connect(str(warehouse), read_only=True) as con:
        loaded = {r[0] for r in con.execute("select adjustment_id from raw.adjustments").fetchall()}
        quarantined = {
            identifier: reason
            for identifier in ("A4", "A5")
            for (reason,) in con.execute(
                "select reason from raw.quarantine where feed = 'adjustments' and contains(record, ?)", [identifier]
            ).fetchall()
        }
        (rows_quarantined,) = con.execute("select count(*) from raw.quarantine where feed = 'adjustments'").fetchone()
        amounts = dict(con.execute("select adjustment_id, amount from raw.adjustments").fetchall())
    assert loaded == {"A1", "A2", "A3", "A6", "A7"}
    assert quarantined == {"A4": "unknown_reference:subscriber_id", "A5": "invalid_value:adjustment_type"}
    assert rows_quarantined == 2  # 7 rows read = 5 loaded + 2 quarantined
    assert amounts["A1"] == -120.5 and amounts["A3"] == 25.0  # negative amounts are valid here


def test_revenue_adds_the_adjustments_of_the_day_they_took_effect(built: tuple[Path, dict]) -> None:
    warehouse, expected = built
    with duckdb.connect(str(warehouse), read_only=True) as con:
        days = con.execute(
            """
            select subscriber_id, date_day, adjustment_amount, revenue_amount,
                recurring_fee_amount + rated_usage_amount
            from marts.fct_subscriber_daily
            """
        ).fetchall()
    found = {(s, d): a for s, d, a, *_ in days if a}
    assert found == pytest.approx(expected)
    # the late refund (-10, delivered on the last day) rebuilt day 2 in the incremental run: 25 - 10
    assert sorted(a for (_, d), a in found.items() if d == DAY_2) == pytest.approx([-150.5, 15.0])
    for *_, adjustment, revenue, fee_and_usage in days:
        assert revenue == pytest.approx(fee_and_usage + adjustment)


def test_the_month_carries_them_into_revenue_and_arpu(built: tuple[Path, dict]) -> None:
    warehouse, expected = built
    per_subscriber: dict[str, float] = defaultdict(float)
    for (subscriber, _), amount in expected.items():
        per_subscriber[subscriber] += amount
    with duckdb.connect(str(warehouse), read_only=True) as con:
        months = con.execute(
            """
            select m.subscriber_id, m.adjustment_amount, m.revenue_amount, m.arpu, m.days_in_base, m.days_in_month,
                d.revenue_amount
            from marts.fct_subscriber_monthly as m
            inner join (
                select subscriber_id, sum(revenue_amount) as revenue_amount
                from marts.fct_subscriber_daily group by subscriber_id
            ) as d using (subscriber_id)
            where m.month_start_date = ?
            """,
            [SMALL_START],
        ).fetchall()
    adjustments = {s: a for s, a, *_ in months if a}
    assert adjustments == pytest.approx(dict(per_subscriber), abs=1e-4)
    for subscriber, _, revenue, arpu, days_in_base, days_in_month, daily_revenue in months:
        assert revenue == pytest.approx(daily_revenue, abs=1e-3)
        if subscriber in per_subscriber:
            assert arpu == pytest.approx(revenue * days_in_month / days_in_base, abs=1e-2)
