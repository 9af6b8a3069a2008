"""Six months of a generated operator through the segment mart: the mix holds month after month.

The generator runs in steady state (telco_mart.generate.dynamics): gross adds replace churn,
data-driven new lines move on at the 12-month line, and each planted group keeps its share.
So the segment mart, built over six months, must show no trend that the world does not have:
every month's unclassified share near the planted noise share plus the rules' misses, no
drift, and each group recovered as well in June as in January. One module-scoped warehouse:
a small world generated and ingested, then only the models the segment mart needs, in one
dbt run (a month per statement of the day-sliced models).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pytest

from telco_mart.generate import DEFAULT_SETTINGS, GROUPS
from tests.conftest import ingest_landing, run_dbt

pytestmark = pytest.mark.dbt

SUBSCRIBERS = 3000
START = date(2026, 1, 1)
END = date(2026, 6, 30)
SEED = 26
MONTHS = [date(2026, month, 1) for month in range(1, 7)]
PLANTED = dict(zip(GROUPS, DEFAULT_SETTINGS.shares.weights(), strict=True))

# Measured on this world (seed 26, 2 usage events a subscriber-day): unclassified 0.136-0.145
# a month; the planted noise group is 0.104-0.108 of the monthly base (about 70 % of it
# unclassified), and the four groups' members outside their rule in a month add the rest, net
# 3.0-3.8 points over the noise share (the demo world, at 5 events a day, fewer: README;
# sparser usage makes usage shares and ranks noisier). Every month must stay within two points
# of noise share + 0.035. (Generator version 3, whose group profiles overlapped more at the
# bands' edges, left 6.8-7.3 points here.)
UNCLASSIFIED_EXPECTED = PLANTED["noise"] + 0.035
# Floors on agreement with the planted group, every month. Measured here: data_driven_new
# 0.96-0.98, high_value_long_tenure 0.82-0.83, voice_biased 0.86-0.88, low_value_suppressed
# 0.92-0.93 (600-900 subscribers a group, so about 1.5-2 points of sampling noise); the floors
# sit 4-5 of those below. Before the steady state, data_driven_new fell from 0.89 to 0.60 over
# the demo's six months.
AGREEMENT_FLOORS = {
    "data_driven_new": 0.90,
    "high_value_long_tenure": 0.75,
    "voice_biased": 0.80,
    "low_value_suppressed": 0.85,
}


@dataclass
class Built:
    warehouse: Path
    truth: Path
    seconds: dict[str, float] = field(default_factory=dict)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    from telco_mart.generate import generate

    work = tmp_path_factory.mktemp("segment_stability")
    landing, warehouse = work / "landing", work / "warehouse.duckdb"
    seconds: dict[str, float] = {}
    began = time.perf_counter()
    generate(
        subscribers=SUBSCRIBERS, start=START, end=END, seed=SEED, out=landing, fmt="parquet", events_per_sub_day=2.0
    )
    ingest_landing(landing, warehouse, END)
    seconds["generate_ingest"] = time.perf_counter() - began
    began = time.perf_counter()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DBT_THREADS", "2")
        run_dbt(
            ["run", "--select", "+subscriber_segments_monthly", "+kpi_value_concentration_monthly"],
            warehouse,
            work / "target",
            {"days_per_statement": 31},
        )
    seconds["dbt"] = time.perf_counter() - began
    return Built(warehouse, landing / "_truth", seconds)


@pytest.fixture
def built_path(built: Built) -> Path:
    return built.warehouse


def _segments_against_truth(con: duckdb.DuckDBPyConnection, truth: Path) -> duckdb.DuckDBPyRelation:
    """Each subscriber-month's segment beside the group it was planted in that month (groups
    change only on month starts, so one spell covers a month)."""
    return con.sql(f"""
        select s.month_start_date, s.subscriber_id, s.segment, g.planted_group
        from marts.subscriber_segments_monthly as s
        inner join read_parquet('{truth / "subscriber_groups.parquet"}') as g
            on g.subscriber_id = s.subscriber_id
            and g.valid_from <= last_day(s.month_start_date)
            and (g.valid_to is null or g.valid_to > s.month_start_date)
    """)


def test_every_subscriber_month_has_one_planted_group(con: duckdb.DuckDBPyConnection, built: Built) -> None:
    segmented = con.sql("select count(*) from marts.subscriber_segments_monthly").fetchall()[0][0]
    rows, distinct = (
        _segments_against_truth(con, built.truth)
        .aggregate("count(*), count(distinct (subscriber_id, month_start_date))")
        .fetchall()[0]
    )
    assert rows == distinct == segmented


def test_planted_groups_hold_their_shares(con: duckdb.DuckDBPyConnection, built: Built) -> None:
    shares = (
        _segments_against_truth(con, built.truth)
        .aggregate(
            "month_start_date, planted_group, count(*) / sum(count(*)) over (partition by month_start_date)",
            "month_start_date, planted_group",
        )
        .fetchall()
    )
    assert {m for m, _, _ in shares} == set(MONTHS)
    off = [(m, g, round(share, 4)) for m, g, share in shares if abs(share - PLANTED[g]) > 0.025]
    assert not off, off


def test_unclassified_share_is_stable_with_no_drift(con: duckdb.DuckDBPyConnection) -> None:
    shares = [
        share
        for _, share in con.sql(
            "select month_start_date, unclassified_share from marts.kpi_value_concentration_monthly order by 1"
        ).fetchall()
    ]
    assert len(shares) == len(MONTHS)
    assert all(abs(share - UNCLASSIFIED_EXPECTED) <= 0.02 for share in shares), shares
    steps = [later - earlier for earlier, later in itertools.pairwise(shares)]
    assert not (all(step > 0 for step in steps) or all(step < 0 for step in steps)), f"monotone: {shares}"
    assert abs(shares[-1] - shares[0]) <= 0.015, shares


def test_each_group_is_recovered_every_month(con: duckdb.DuckDBPyConnection, built: Built) -> None:
    """The old world lost data-driven new agreement month by month (0.89 to 0.60 on the demo)
    as its members aged past the new line; in steady state June recovers as well as January."""
    rows = (
        _segments_against_truth(con, built.truth)
        .filter("planted_group <> 'noise'")
        .aggregate(
            "month_start_date, planted_group, avg(case when segment = planted_group then 1.0 else 0 end)",
            "month_start_date, planted_group",
        )
        .fetchall()
    )
    below = [(m, g, round(a, 3)) for m, g, a in rows if a < AGREEMENT_FLOORS[g]]
    assert not below, below
    by_group: dict[str, list[float]] = {}
    for _, group, agreement in sorted(rows):
        by_group.setdefault(group, []).append(agreement)
    assert all(abs(values[-1] - values[0]) <= 0.06 for values in by_group.values()), by_group
