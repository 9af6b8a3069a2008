"""The raw gate's row-volume check (``volume_ratio``) on feeds that are not delivered daily.

Bills come per billing cycle: the generator issues every postpaid bill of a month on the 1st
of the next one and delivers nothing on the other days. Compared with every earlier delivery
day, each day between two bill runs read as 0 rows against a month of bills and warned (59
false warns in the 181-day demo); gate.yml compares bills with the earlier deliveries on the
same day of the month instead (``volume_basis: same_day_of_month``). Here five real bill
runs (Feb 1 to Jun 1, after the header-only delivery of Jan 1: the world bills nothing before
its first month) are generated and ingested: the clean span raises no volume warn and its
last bill runs are judged, while a missing or shrunk bill run still warns (and fails, below
the fail band).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pyarrow.parquet as pq
import pytest
import yaml

from telco_mart.contract import load_contract
from telco_mart.gate_settings import FeedSettings, QualityConfigError, expectations_dir, load_gate_config
from telco_mart.ingest import ingest
from telco_mart.quality.gate import load_raw_suites
from telco_mart.quality.gx_runner import GxRunner
from telco_mart.quality.raw import _volume, validate_feed
from telco_mart.quality.results import Finding
from telco_mart.schema import copy_warehouse

START, LAST_RUN = dt.date(2026, 1, 1), dt.date(2026, 6, 1)  # bill runs on Feb 1 .. Jun 1
VOLUME = "expect_column_values_to_be_between(volume_ratio)"
#: What bills need in `raw`: the subscribers they reference, and the plans those reference.
FEEDS = ("plans", "subscribers", "bills")


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five months of generated feeds, of which only bills and what they reference is kept."""
    from telco_mart.generate import generate

    work = tmp_path_factory.mktemp("billing_cycles")
    generate(
        subscribers=400, start=START, end=LAST_RUN, seed=5, out=work / "all", fmt="parquet", events_per_sub_day=0.5
    )
    for feed in FEEDS:
        shutil.copytree(work / "all" / feed, work / "landing" / feed)
    return work / "landing"


@pytest.fixture(scope="module")
def before_last_run(landing: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The landing ingested up to the day before the last bill run: read-only for tests."""
    warehouse = tmp_path_factory.mktemp("billing_warehouse") / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        ingest(con, landing, LAST_RUN - dt.timedelta(days=1), progress=lambda _: None)
    return warehouse


def deliver_last_run(before_last_run: Path, landing: Path, tmp_path: Path, rows_kept: float | None = 1.0) -> Path:
    """A copy of the warehouse with Jun 1 ingested: the bill run whole, cut to a share of its
    rows, or missing (``rows_kept=None``: the other feeds arrive, the bills do not)."""
    day = LAST_RUN.isoformat()
    delivered = tmp_path / "landing"
    shutil.copytree(landing, delivered)
    bills = delivered / "bills" / day / f"bills_{day}.parquet"
    if rows_kept is None:
        shutil.rmtree(bills.parent)
    elif rows_kept < 1:
        table = pq.read_table(bills)
        pq.write_table(table.slice(0, int(table.num_rows * rows_kept)), bills)
    warehouse = tmp_path / "warehouse.duckdb"
    copy_warehouse(before_last_run, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        ingest(con, delivered, LAST_RUN, dates=[LAST_RUN], progress=lambda _: None)
    return warehouse


def bills_volume(warehouse: Path, start: dt.date, settings: FeedSettings | None = None) -> dict[dt.date, Finding]:
    """The bills suite's volume findings per day from ``start`` to the last bill run, with
    gate.yml's settings for bills (or ``settings``)."""
    (suite,) = [s for s in load_raw_suites() if s.data_asset == "raw.bills"]
    settings = settings or load_gate_config().for_feed("bills")
    with duckdb.connect(str(warehouse)) as con:
        findings = validate_feed(con, GxRunner(), suite, load_contract(), start, LAST_RUN, settings)
    return {f.run_date: f for f in findings if f.expectation == VOLUME and f.severity == "warn"}


def test_clean_bills_over_five_cycles_raise_no_volume_warn(before_last_run: Path, landing: Path, tmp_path: Path):
    warehouse = deliver_last_run(before_last_run, landing, tmp_path)
    volume = bills_volume(warehouse, START)
    assert len(volume) == (LAST_RUN - START).days + 1
    assert [f"{day}: {f.observed_value}" for day, f in volume.items() if not f.success] == []
    # Not vacuous: the last two bill runs were judged against the three and four before them
    # (the first delivery, Jan 1, is left out as every feed's first delivery is), and they are
    # real bill runs.
    judged = {day: f.observed_number for day, f in volume.items() if f.observed_number is not None}
    assert list(judged) == [dt.date(2026, 5, 1), LAST_RUN]
    assert all(0.8 < ratio < 1.25 for ratio in judged.values()), judged
    assert "of the same day of the month" in volume[LAST_RUN].observed_value
    assert volume[dt.date(2026, 5, 2)].observed_value == (
        "not judged: 0 earlier delivery day(s) on day 2 of the month, 3 needed"
    )
    # What the override fixes: compared with every earlier delivery day (the default basis),
    # the days between bill runs each read as 0 rows and warn.
    daily = bills_volume(warehouse, START, FeedSettings(load_gate_config().defaults))
    warned = {day for day, f in daily.items() if not f.success}
    assert {dt.date(2026, 5, day) for day in range(2, 32)} <= warned


@pytest.mark.parametrize(("rows_kept", "observed"), [(None, "0.00 (0 rows,"), (0.4, "0.4")])
def test_a_missing_or_shrunk_bill_run_still_warns(
    before_last_run: Path, landing: Path, tmp_path: Path, rows_kept: float | None, observed: str
) -> None:
    warehouse = deliver_last_run(before_last_run, landing, tmp_path, rows_kept)
    finding = bills_volume(warehouse, LAST_RUN)[LAST_RUN]
    assert not finding.success and finding.outcome == "warn"
    assert finding.observed_value.startswith(observed), finding.observed_value
    assert finding.details["context"]["history_days"] == 4


def monthly(rows: int = 1000, *, missing: dt.date | None = None) -> list[tuple[dt.date, int]]:
    """Deliveries on the 1st of each month of 2026 up to July (registry rows per day)."""
    return [(dt.date(2026, m, 1), rows) for m in range(1, 8) if dt.date(2026, m, 1) != missing]


def settings(basis: str) -> SimpleNamespace:
    return SimpleNamespace(settings=FeedSettings({**load_gate_config().defaults, "volume_basis": basis}))


@pytest.mark.parametrize(
    ("basis", "day", "per_day", "ratio", "not_judged"),
    [
        ("same_day_of_month", dt.date(2026, 7, 1), monthly(), 1.0, None),
        ("same_day_of_month", dt.date(2026, 7, 2), monthly(), None, "0 earlier delivery day(s) on day 2 of the month"),
        ("same_day_of_month", dt.date(2026, 7, 1), monthly(missing=dt.date(2026, 7, 1)), 0.0, None),
        ("previous_days", dt.date(2026, 7, 2), monthly(), 0.0, None),
        # Mondays deliver 3,000 rows, other days 1,000: each day against its own weekday.
        (
            "same_weekday",
            dt.date(2026, 3, 2),
            [(dt.date(2026, 1, 1) + dt.timedelta(days=n), 3000 if n % 7 == 4 else 1000) for n in range(61)],
            1.0,
            None,
        ),
        (
            "previous_days",
            dt.date(2026, 3, 2),
            [(dt.date(2026, 1, 1) + dt.timedelta(days=n), 3000 if n % 7 == 4 else 1000) for n in range(61)],
            3000 / ((3000 + 6 * 1000) / 7),
            None,
        ),
        # Mondays Jan 5 and 12 before Monday Jan 19: two, three needed.
        ("same_weekday", dt.date(2026, 1, 19), [(dt.date(2026, 1, d), 1000) for d in range(1, 19)], None, "2 earlier"),
    ],
)
def test_the_volume_basis_picks_the_days_compared(basis, day, per_day, ratio, not_judged) -> None:
    value, context = _volume(settings(basis), day, per_day)
    if ratio is None:
        assert value is None and not_judged in context["not_judged"]
    else:
        assert value == pytest.approx(ratio) and "not_judged" not in context


def test_an_unknown_volume_basis_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "expectations"
    shutil.copytree(expectations_dir(), directory)
    data = yaml.safe_load((directory / "gate.yml").read_text())
    data["feeds"]["bills"]["volume_basis"] = "monthly"
    (directory / "gate.yml").write_text(yaml.safe_dump(data))
    with pytest.raises(QualityConfigError, match=r"feeds.bills.volume_basis: 'monthly' is not one of"):
        load_gate_config(directory)
