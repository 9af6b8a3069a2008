"""The output gates over a month of clean generated days, run day by day as the DAG runs them.

test_quality_gate.py shows the raw stage raises no alarm over a month of clean days; this
module shows it for the two output stages: the marts gate (expectations/marts, the run date's
slice of the public marts) and the publish gate (expectations/publish, the day's decisions and
target lists). One warehouse for the module, built as operator_daily builds it:

- the campaign catalog loaded, then the history (HISTORY_START..HISTORY_END) ingested and built
  in one batch, as the DAG's first run on a fresh warehouse takes all history;
- then, for each day of MONTH (a calendar month: the monthly marts start a new month on its
  first day, the catalog's campaigns go live on it), what the DAG's tasks do, in order: ingest
  the day, dbt on the day's batch (``batch_*_date`` from the ingest summary, ``run_date`` the
  day), the marts gate, the publish gate, publish (so the next day's caps and cool-downs see the
  day's sends).

dbt runs in-process (``InProcessDbt``: one parse for the module) and runs the models the gates
read, i.e. the tables the output suites name and everything upstream of them, without their dbt
tests (the gates are under test here, and dbt tests change no data). The DAG builds every model
every day; a view holds no data, so the daily runs re-create none (the history build creates them).

SUBSCRIBERS is sized for the checks that only judge enough data: the segment shares need a
month's base of ``share_min_base`` subscribers, the list size a mean of
``list_size_min_mean_rows`` rows a day, and the published lists shrink to under 1 % of the base
a day once the launch backlog is sent (about 80 rows here), so that with a few hundred
subscribers the list checks would see next to nothing. Runtime: about 5 minutes on 2 cores,
three quarters of it dbt (some 7 s a day, dbt's own per-model overhead: the data is small).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import pytest

from telco_mart import pipeline
from telco_mart.config import Settings
from telco_mart.gate_settings import FeedSettings, expectations_dir, load_gate_config
from telco_mart.ledger import BUILT, clear_pending_rebuilds, days_between, mark_days
from telco_mart.quality import QualityGateFailed
from telco_mart.quality.gate import load_output_suites, output_assets
from telco_mart.schema import init_warehouse
from telco_mart.warehouse import connect
from tests.conftest import InProcessDbt

pytestmark = pytest.mark.dbt

SUBSCRIBERS = 10_000
EVENTS_PER_SUB_DAY = 2.0
HISTORY_START, HISTORY_END = dt.date(2025, 12, 18), dt.date(2025, 12, 31)
MONTH = [dt.date(2026, 1, 1) + dt.timedelta(days=n) for n in range(31)]
STAGES = ("marts", "publish")

TARGETS = "publish.campaign_targets_daily"
DECISIONS = "publish.campaign_decisions_daily"
SEGMENTS = "marts.subscriber_segments_monthly"
LIST_SIZE = "expect_column_values_to_be_between(list_size_ratio)"


@dataclasses.dataclass(frozen=True)
class Month:
    warehouse: Path
    #: Days a gate refused (QualityGateFailed): the DAG publishes nothing for them.
    refused: dict[dt.date, str]
    #: Wall seconds per phase of the build (reported by the first test, with -s).
    seconds: dict[str, float]


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Month:
    from telco_mart.generate import generate

    seconds: Counter[str] = Counter()
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[phase] += now - clock
        clock = now

    work = tmp_path_factory.mktemp("quality_month_outputs")
    landing = work / "landing"
    generate(
        subscribers=SUBSCRIBERS,
        start=HISTORY_START,
        end=MONTH[-1],
        seed=23,
        out=landing,
        fmt="parquet",
        events_per_sub_day=EVENTS_PER_SUB_DAY,
    )
    settings = dataclasses.replace(
        Settings.from_env(),
        data_dir=work / "data",
        landing_dir=landing,
        warehouse_path=work / "warehouse.duckdb",
        outbox_dir=work / "data" / "outbox",
        start_date=HISTORY_START,
    )
    dbt = InProcessDbt(settings.warehouse_path, work / "target")
    gated = ["--select", *(f"+{asset.rpartition('.')[2]}" for asset in sorted(output_assets(expectations_dir())))]
    init_warehouse(settings)
    pipeline.run_load_catalog(settings)
    pipeline.run_ingest(HISTORY_END, "history", settings)
    lap("generate and ingest the history")
    dbt(["run", *gated], {"run_date": HISTORY_END.isoformat()})
    with connect(settings=settings) as con:  # recorded as the history run's marts gate would
        history = days_between(HISTORY_START, HISTORY_END)
        mark_days(con, history, BUILT, "history")
        clear_pending_rebuilds(con, history)
    lap("dbt (parse and history)")

    refused: dict[dt.date, str] = {}
    for day in MONTH:
        run_id = f"scheduled__{day.isoformat()}"
        batch = pipeline.run_ingest(day, run_id, settings)
        assert (batch["batch_start_date"], batch["batch_end_date"]) == (day.isoformat(),) * 2, batch
        lap("ingest")
        dbt(
            ["run", *gated, "--exclude", "config.materialized:view"],
            {"batch_start_date": day.isoformat(), "batch_end_date": day.isoformat(), "run_date": day.isoformat()},
        )
        lap("dbt")
        try:
            pipeline.run_marts_gate(day, run_id, settings)
            pipeline.run_publish_gate(day, run_id, settings)
        except QualityGateFailed as failed:
            # The DAG stops here and publishes nothing for the day; the month goes on, so that
            # every alarm of every day shows in marts.dq_results.
            refused[day] = str(failed)
            continue
        finally:
            lap("gates")
        pipeline.run_publish(day, run_id, settings)
        lap("publish")
    return Month(settings.warehouse_path, refused, dict(seconds))


def query(month: Month, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(month.warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def output_findings(month: Month) -> list[tuple]:
    """(run_date, stage, suite, expectation, severity, success, observed_value, observed_number) of
    the month's output-stage results."""
    return query(
        month,
        "select run_date, stage, suite, expectation, severity, success, observed_value, observed_number "
        "from marts.dq_results where stage in ('marts', 'publish') order by run_date, stage, suite, expectation",
    )


def alarms(findings: list[tuple]) -> list[str]:
    return [f"{r[0]} {r[1]} {r[2]} {r[3]} [{r[4]}]: observed {r[6]}" for r in findings if not r[5]]


def by_day(findings: list[tuple], suite: str, expectation: str) -> dict[dt.date, tuple]:
    return {r[0]: r for r in findings if r[2] == suite and r[3] == expectation}


def table_settings(table: str) -> FeedSettings:
    return load_gate_config(expectations_dir()).for_table(table)


def test_the_output_gates_raise_no_alarm_over_a_month_of_clean_days(month: Month) -> None:
    unexpected = alarms(output_findings(month))
    assert unexpected == [], f"{len(unexpected)} alarm(s) on clean days; days a gate refused: {sorted(month.refused)}"
    assert month.refused == {}
    phases = ", ".join(f"{phase} {s:.0f} s" for phase, s in month.seconds.items())
    print(f"\n{len(MONTH)} days built, gated and published in {sum(month.seconds.values()):.0f} s: {phases}")


def test_each_day_holds_the_results_of_both_stages(month: Month) -> None:
    with duckdb.connect(str(month.warehouse), read_only=True) as con:
        suites = {stage: load_output_suites(con, stage) for stage in STAGES}
    checks = {stage: sum(len(s.checks) for s in stage_suites) for stage, stage_suites in suites.items()}
    stored = query(
        month,
        "select run_date, stage, count(*), count(distinct suite) from marts.dq_results "
        "where stage in ('marts', 'publish') group by all order by all",
    )
    assert all(checks.values()) and stored == [
        (day, stage, checks[stage], len(suites[stage])) for day in MONTH for stage in STAGES
    ]


def test_the_checks_were_judged_on_real_data(month: Month) -> None:
    findings = output_findings(month)

    # The segment shares are judged every day, on a base of share_min_base or more.
    shares: defaultdict[dt.date, list[float | None]] = defaultdict(list)
    for r in findings:
        if r[2] == SEGMENTS and "(segment_share__" in r[3]:
            shares[r[0]].append(r[7])
    assert sorted(shares) == MONTH
    assert all(len(s) == 5 and None not in s and sum(s) == pytest.approx(1.0) for s in shares.values()), shares
    base = query(
        month,
        "select min(cast(details->>'$.context.base' as integer)) from marts.dq_results "
        "where suite = ? and expectation like '%(segment_share__unclassified)'",
        [SEGMENTS],
    )[0][0]
    assert base >= table_settings("marts.subscriber_segments_monthly")["share_min_base"]

    # Every daily and monthly mart had rows on every day, and so had the day's lists.
    row_counts = {(r[0], r[2]): r[7] for r in findings if r[3] == "expect_column_values_to_be_between(rows)"}
    tables = {suite for _, suite in row_counts}
    assert tables >= {TARGETS, DECISIONS, SEGMENTS, "marts.fct_subscriber_daily"}
    assert len(row_counts) == len(MONTH) * len(tables)
    assert {key: n for key, n in row_counts.items() if not n} == {}
    targeted = dict(
        query(
            month,
            "select decision_date, count(*) from marts.campaign_decisions_daily "
            "where decision_outcome = 'targeted' group by 1",
        )
    )
    assert all(targeted.get(day, 0) > 0 for day in MONTH), targeted

    # The list size is judged (list_size_min_history_days days with a list, a mean of
    # list_size_min_mean_rows rows) on every day past the first days, and passes. Not because the
    # lists are steady: pacing makes the published list pulse (the launch day sends every
    # campaign's backlog, the launch group's 30-day cool-downs end together), by far more than
    # the band allows, which is why the list is judged before pacing (quality/publish_gate.py).
    list_size = by_day(findings, TARGETS, LIST_SIZE)
    judged = {day: r for day, r in list_size.items() if r[7] is not None}
    assert len(judged) >= len(MONTH) - 3 and all(r[5] for r in judged.values()), {
        day: r[6] for day, r in list_size.items()
    }
    settings = table_settings("marts.campaign_targets_daily")
    daily = [targeted.get(day, 0) for day in MONTH]
    assert max(daily) / min(daily) > settings["list_size_ratio_max"] / settings["list_size_ratio_min"], daily

    # The holdout is judged on the launch day's large lists, and the churn rate every day.
    control = by_day(findings, DECISIONS, "expect_column_values_to_be_between(control_share_off_campaigns)")
    assert control[MONTH[0]][7] == 0, control[MONTH[0]]
    churn = by_day(findings, "marts.kpi_churn_monthly", "expect_column_values_to_be_between(churn_rate)")
    assert sorted(churn) == MONTH and all(r[7] is not None for r in churn.values())

    # Each day's sends were published, and later days' decisions saw them (cool-downs).
    published = dict(query(month, "select contact_date, count(*) from raw.published_contacts group by 1"))
    assert published == {day: n for day, n in targeted.items() if day in MONTH}
    cooldowns = Counter(
        dict(
            query(
                month,
                "select decision_date, count(*) from marts.campaign_decisions_daily "
                "where suppression_reason = 'cooldown' group by 1",
            )
        )
    )
    assert all(cooldowns[day] > 0 for day in MONTH[1:]), cooldowns
