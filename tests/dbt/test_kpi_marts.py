"""KPI marts (coverage, cross-sell, churn) on generated data: figures recompute from the facts.

One module-scoped warehouse, built like test_subscriber_marts: a seeded generated operator is
ingested up to the day before its last day and built, then the last day is ingested and built
incrementally with the DAG's batch vars, then built again. Each KPI is recomputed here in
Python from the rows it summarises, including a region-day where the average of the cells'
rates and the ratio of the summed counters differ.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.conftest import ingest_landing, run_dbt, table_checksums

pytestmark = pytest.mark.dbt

SUBSCRIBERS = 500
START = date(2026, 1, 1)
END = date(2026, 3, 3)  # the last day: ingested and built incrementally
SEED = 11
BATCH_VARS = {"batch_start_date": END.isoformat(), "batch_end_date": END.isoformat(), "run_date": END.isoformat()}
KPI_PATHS = ["path:models/marts/network", "path:models/marts/cross_sell", "path:models/marts/churn"]
KPI_TABLES = (
    "kpi_coverage_cell_daily",
    "kpi_coverage_region_daily",
    "subscriber_products_monthly",
    "kpi_cross_sell_monthly",
    "subscriber_network_experience_monthly",
    "churn_warnings_daily",
    "kpi_churn_monthly",
    "kpi_churn_warning_quality",
)
# Defaults of dbt_project.yml
MAX_COVERAGE, MAX_SETUP_SUCCESS, MIN_DROP_RATE = 0.90, 0.90, 0.03
HORIZON_DAYS = 60


@dataclass
class BuiltKpis:
    warehouse: Path
    truth: Path
    #: Per table, {None: (rows, checksum)} after the first build, after END, after the rerun.
    before: dict[str, dict[None, tuple[int, str]]]
    after: dict[str, dict[None, tuple[int, str]]]
    rerun: dict[str, dict[None, tuple[int, str]]]
    seconds: dict[str, float] = field(default_factory=dict)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltKpis]:
    from telco_mart.generate import generate

    work = tmp_path_factory.mktemp("kpi_marts")
    landing, warehouse, target = work / "landing", work / "warehouse.duckdb", work / "target"
    seconds: dict[str, float] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DBT_THREADS", "4")
        began = time.perf_counter()
        generate(
            subscribers=SUBSCRIBERS, start=START, end=END, seed=SEED, out=landing, fmt="parquet", events_per_sub_day=2.5
        )
        ingest_landing(landing, warehouse, END - timedelta(days=1))
        seconds["generate_ingest"] = time.perf_counter() - began
        began = time.perf_counter()
        run_dbt(["run", "--select", *(f"+{p}" for p in KPI_PATHS)], warehouse, target, BATCH_VARS)
        seconds["first_build"] = time.perf_counter() - began
        before = table_checksums(warehouse, KPI_TABLES)

        ingest_landing(landing, warehouse, END)
        began = time.perf_counter()
        # the daily run of END: the upstream models, then the KPI marts with their tests
        run_dbt(["run", "--select", *(f"+{p}" for p in KPI_PATHS)], warehouse, target, BATCH_VARS)
        run_dbt(["test", "--select", *KPI_PATHS], warehouse, target, BATCH_VARS)
        seconds["daily_build"] = time.perf_counter() - began
        after = table_checksums(warehouse, KPI_TABLES)

        began = time.perf_counter()
        run_dbt(["run", "--select", *KPI_PATHS], warehouse, target, BATCH_VARS)
        seconds["rerun"] = time.perf_counter() - began
        rerun = table_checksums(warehouse, KPI_TABLES)
    yield BuiltKpis(warehouse, landing / "_truth", before, after, rerun, seconds)


@pytest.fixture
def built_path(built: BuiltKpis) -> Path:
    return built.warehouse


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def test_cell_rates_and_flag_recompute_from_the_counters(con: duckdb.DuckDBPyConnection) -> None:
    counters = {
        (cell, day): rest
        for cell, day, *rest in con.execute(
            """
            select cell_id, kpi_date, rsrp_measurements, rsrp_good_measurements, call_setup_attempts,
                call_setup_successes, dropped_calls, data_session_attempts, data_session_successes
            from staging.stg_network__cell_kpis
            """
        ).fetchall()
    }
    mart = con.execute(
        """
        select cell_id, kpi_date, coverage_rate, call_setup_success_rate, dropped_call_rate,
            data_session_success_rate, is_degraded
        from marts.kpi_coverage_cell_daily
        """
    ).fetchall()
    assert {(c, d) for c, d, *_ in mart} == set(counters)
    for cell, day, coverage, setup, drop, data, degraded in mart:
        meas, good, attempts, setups, drops, data_attempts, data_ok = counters[(cell, day)]
        expected = (ratio(good, meas), ratio(setups, attempts), ratio(drops, setups), ratio(data_ok, data_attempts))
        assert (coverage, setup, drop, data) == pytest.approx(expected, rel=1e-12), (cell, day)
        breaks = (
            (expected[0] is not None and expected[0] < MAX_COVERAGE)
            or (expected[1] is not None and expected[1] < MAX_SETUP_SUCCESS)
            or (expected[2] is not None and expected[2] > MIN_DROP_RATE)
        )
        assert degraded == breaks, (cell, day)


def test_planted_degraded_cells_are_flagged(built: BuiltKpis, con: duckdb.DuckDBPyConnection) -> None:
    planted, flagged, flagged_outside = con.execute(
        f"""
        with planted as (select * from read_parquet('{built.truth / "degraded_cells.parquet"}')),
        cell_days as (
            select k.is_degraded,
                exists (
                    select 1 from planted as p
                    where p.cell_id = k.cell_id and k.kpi_date >= p.degraded_from
                        and (p.repaired_on is null or k.kpi_date < p.repaired_on)
                ) as is_planted
            from marts.kpi_coverage_cell_daily as k
        )
        select count(*) filter (where is_planted), count(*) filter (where is_planted and is_degraded),
            count(*) filter (where is_degraded and not is_planted)
        from cell_days
        """
    ).fetchone()
    # measured: every planted cell-day flagged here and on the 3,000-subscriber set. Flags
    # outside the planted days are real threshold breaks of small cells' noisy counters
    # (none on the 3,000-subscriber set, about half the planted count here), not a miss.
    assert planted > 0
    assert flagged / planted >= 0.9, (planted, flagged, flagged_outside)


def test_region_rates_are_ratios_of_sums_not_averages_of_ratios(con: duckdb.DuckDBPyConnection) -> None:
    cells: dict[tuple[str, date], list[tuple]] = defaultdict(list)
    for region, day, *rest in con.execute(
        """
        select coalesce(region, 'unknown'), kpi_date, rsrp_measurements, rsrp_good_measurements,
            call_setup_attempts, call_setup_successes, dropped_calls, population_covered, coverage_rate
        from marts.kpi_coverage_cell_daily
        """
    ).fetchall():
        cells[(region, day)].append(tuple(rest))
    mart = {
        (region, day): rest
        for region, day, *rest in con.execute(
            """
            select region, kpi_date, coverage_rate, call_setup_success_rate, dropped_call_rate,
                population_coverage_rate
            from marts.kpi_coverage_region_daily
            """
        ).fetchall()
    }
    assert set(mart) == set(cells)
    differing = 0
    for key, rows in cells.items():
        meas, good, attempts, setups, drops = (sum(r[i] for r in rows) for i in range(5))
        with_population = [r for r in rows if r[5] and r[0]]
        population_coverage = ratio(
            sum(r[5] * r[1] / r[0] for r in with_population), sum(r[5] for r in with_population)
        )
        expected = (ratio(good, meas), ratio(setups, attempts), ratio(drops, setups), population_coverage)
        assert tuple(mart[key]) == pytest.approx(expected, rel=1e-9), key
        average_of_ratios = statistics.fmean(r[6] for r in rows if r[6] is not None)
        if abs(average_of_ratios - expected[0]) > 1e-4:
            differing += 1
    # the generator's cells differ in traffic, so the two means part on many region-days
    assert differing > 0


def test_products_match_holdings_and_cross_sell_recomputes(con: duckdb.DuckDBPyConnection) -> None:
    mismatched = con.execute(
        """
        select count(*)
        from marts.subscriber_products_monthly as p
        inner join marts.fct_subscriber_monthly as f using (subscriber_id, month_start_date)
        where p.holds_broadband <> coalesce(f.has_broadband, false)
            or p.products_held <> f.products_held
            or (p.business_type = 'composite') <> (f.products_held >= 2)
        """
    ).fetchone()[0]
    assert mismatched == 0
    rows = con.execute(
        """
        select month_start_date, segment, region, is_in_base_at_period_end, holds_broadband, holds_data_pack,
            business_type, previous_business_type, is_broadband_renewed
        from marts.subscriber_products_monthly
        """
    ).fetchall()
    expected: dict[tuple, list[int]] = defaultdict(lambda: [0] * 7)
    for month, segment, region, in_base, broadband, data_pack, business, previous, renewed in rows:
        counts = expected[(month, segment, region)]
        counts[0] += 1
        counts[1] += in_base  # holdings count over the base at the period end
        counts[2] += in_base and broadband
        counts[3] += in_base and data_pack
        counts[4] += previous == "single"
        counts[5] += previous == "single" and business == "composite"
        counts[6] += renewed
    mart = con.execute(
        """
        select month_start_date, segment, region, subscriber_count, period_end_subscriber_count,
            broadband_holders, data_pack_holders, single_previous_month, converted_to_composite,
            broadband_renewed, broadband_take_up_rate
        from marts.kpi_cross_sell_monthly
        """
    ).fetchall()
    assert {tuple(r[:3]) for r in mart} == set(expected)
    for *key, subscribers, end_base, broadband, data_pack, single, converted, renewed, take_up in mart:
        assert [subscribers, end_base, broadband, data_pack, single, converted, renewed] == expected[tuple(key)]
        assert take_up == (pytest.approx(broadband / end_base) if end_base else None)


def test_planted_broadband_less_high_value_subscribers_appear(built: BuiltKpis, con: duckdb.DuckDBPyConnection) -> None:
    planted, found = con.execute(
        f"""
        select count(*), count(*) filter (where p.segment = 'high_value_long_tenure' and not p.holds_broadband)
        from read_parquet('{built.truth / "subscriber_profiles.parquet"}') as t
        inner join marts.subscriber_products_monthly as p using (subscriber_id)
        where t.planted_group = 'high_value_long_tenure' and not t.has_broadband_at_start
            and p.month_start_date = ?
        """,
        [START],
    ).fetchone()
    # measured 0.69 on the 3,000-subscriber set (the miss is the segment mart's agreement)
    assert planted > 0 and found / planted >= 0.55, (planted, found)


def test_churn_by_plan_recomputes_from_crm_versions(con: duckdb.DuckDBPyConnection) -> None:
    """Each month's opening base and churners per plan, payment type and commitment, recomputed
    from the CRM versions as they stood at the end of the previous month (the plan a
    subscriber left the month on, even if it changed since) and the generator's catalogue."""
    from telco_mart.generate.products import PLANS

    terms = {p.plan_id: f"{p.plan_term_months}_months" if p.plan_term_months else "no_commitment" for p in PLANS}
    versions: dict[str, list[tuple[date, str, str]]] = defaultdict(list)
    for subscriber, changed_on, plan, payment in con.execute(
        "select subscriber_id, cast(updated_at as date), plan_id, payment_type from staging.stg_crm__subscribers"
        " order by updated_at"
    ).fetchall():
        versions[subscriber].append((changed_on, plan, payment))
    churned_on = dict(
        con.execute("select subscriber_id, status_date from marts.dim_subscriber where status = 'churned'").fetchall()
    )
    mart = {
        tuple(key): (base, churners)
        for *key, base, churners in con.execute(
            """
            select month_start_date, plan_id, payment_type, contract_term, sum(opening_base), sum(churners)
            from marts.kpi_churn_monthly
            group by all
            """
        ).fetchall()
    }
    months = {key[0] for key in mart}
    assert len(months) >= 2, months  # February and March open on a complete month
    expected: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    plan_changes_seen = 0
    for month in months:
        previous_end = month - timedelta(days=1)
        base = con.execute(
            """
            select subscriber_id from marts.subscriber_segments_monthly
            where month_start_date = ? and is_month_complete and status <> 'churned'
            """,
            [previous_end.replace(day=1)],
        ).fetchall()
        for (subscriber,) in base:
            held = [v for v in versions[subscriber] if v[0] <= previous_end]
            _, plan, payment = held[-1]
            plan_changes_seen += versions[subscriber][-1][1] != plan
            churn = churned_on.get(subscriber)
            counts = expected[(month, plan, payment, terms[plan])]
            counts[0] += 1
            counts[1] += churn is not None and churn.replace(day=1) == month
    assert {key: list(value) for key, value in mart.items()} == dict(expected)
    assert sum(churners for _, churners in mart.values()) > 0
    # the as-of cut matters on this world: some of the base moved plan after the month began
    assert plan_changes_seen > 0


def test_churn_warning_quality_recomputes(built: BuiltKpis, con: duckdb.DuckDBPyConnection) -> None:
    warnings: dict[str, list[date]] = defaultdict(list)
    for subscriber, day in con.execute("select subscriber_id, date_day from marts.churn_warnings_daily").fetchall():
        warnings[subscriber].append(day)
    churns = dict(
        con.execute("select subscriber_id, status_date from marts.dim_subscriber where status = 'churned'").fetchall()
    )
    expected: dict[date, dict[str, object]] = defaultdict(lambda: {"warned": 0, "hit": 0, "churners": 0, "lead": []})
    for subscriber, days in warnings.items():
        firsts: dict[date, date] = {}
        for day in days:
            month = day.replace(day=1)
            firsts[month] = min(firsts.get(month, day), day)
        for month, first in firsts.items():
            expected[month]["warned"] += 1
            churn = churns.get(subscriber)
            expected[month]["hit"] += churn is not None and first <= churn <= first + timedelta(days=HORIZON_DAYS)
    for subscriber, churn in churns.items():
        month = expected[churn.replace(day=1)]
        month["churners"] += 1
        before = [d for d in warnings.get(subscriber, []) if churn - timedelta(days=HORIZON_DAYS) <= d < churn]
        if before:
            month["lead"].append((churn - min(before)).days)
    mart = con.execute(
        """
        select month_start_date, warned_subscribers, warned_then_churned, churners, churners_warned_before,
            median_lead_time_days
        from marts.kpi_churn_warning_quality
        """
    ).fetchall()
    assert {m for m, *_ in mart} == {m for m, v in expected.items() if v["warned"] or v["churners"]}
    for month, warned, hit, churners, warned_before, median_lead in mart:
        e = expected[month]
        assert (warned, hit, churners, warned_before) == (e["warned"], e["hit"], e["churners"], len(e["lead"]))
        assert median_lead == (statistics.median(e["lead"]) if e["lead"] else None)
    # planted churners are warned before they churn. On the 3,000-subscriber, four-month set
    # recall measured 0.36-0.48 in the first two months (the 28+28-day usage trend needs 56
    # days of history) and 0.97-1.00 after; here most churners fall in those first months
    total_churners = sum(e["churners"] for e in expected.values())
    total_warned_before = sum(len(e["lead"]) for e in expected.values())
    assert total_churners > 0 and total_warned_before / total_churners >= 0.2


def test_churn_rate_is_churners_over_opening_base(con: duckdb.DuckDBPyConnection) -> None:
    base = dict(
        con.execute(
            """
            select cast(month_start_date + interval 1 month as date), count(*)
            from marts.subscriber_segments_monthly
            where is_month_complete and status <> 'churned'
            group by all
            """
        ).fetchall()
    )
    mart = con.execute(
        "select month_start_date, sum(opening_base), sum(churners), sum(churners) / sum(opening_base)"
        " from marts.kpi_churn_monthly group by all"
    ).fetchall()
    assert mart
    for month, opening, churners, rate in mart:
        assert opening == base[month]
        assert 0 <= churners <= opening and rate == pytest.approx(churners / opening)


def test_daily_run_is_incremental_and_rerun_changes_nothing(built: BuiltKpis) -> None:
    assert built.rerun == built.after
    assert built.after["kpi_coverage_cell_daily"][None][0] > built.before["kpi_coverage_cell_daily"][None][0]
    print(built.seconds)
