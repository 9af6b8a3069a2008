"""campaign_results measures the uplift the generated world was given, within its interval.

A month of generated data is decided and published for one day; the world's reaction
(generate/responses.py: take-up at a baseline for control, baseline + a planted effect for
targeted) lands as the next two weeks' feeds, goes through ingestion, staging and the
results model, and the measured uplift must hold the planted effect in its 95 % interval.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import duckdb
import pytest

from telco_mart.campaigns.publish import publish_day
from telco_mart.config import Settings
from telco_mart.generate.responses import BASELINE_TAKE_UP, PLANTED_EFFECTS, Send, simulate_responses
from telco_mart.ingest import ingest
from telco_mart.pipeline import run_load_catalog, run_publish_gate
from telco_mart.schema import init_warehouse
from tests.conftest import REPO_ROOT, ingest_landing, run_dbt

SEND_DAY = dt.date(2026, 2, 12)  # mid-cycle: the data add-on push has an audience
WINDOW_END = SEND_DAY + dt.timedelta(days=14)
RESULT_MODELS = [
    "stg_vas__subscriptions",
    "stg_broadband__contracts",
    "stg_marketing__contacts",
    "int_product_take_ups_unioned",
    "campaign_results",
]


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    from telco_mart.generate import generate

    work = tmp_path_factory.mktemp("results")
    landing = work / "landing"
    generate(
        subscribers=2500,
        start=dt.date(2026, 1, 1),
        end=WINDOW_END,
        seed=21,
        out=landing,
        fmt="parquet",
        events_per_sub_day=3.0,
    )
    warehouse = work / "warehouse.duckdb"
    # One contact per channel a day gives VIP care's calls the outbound channel that the
    # broadband cross-sell would use, leaving too few of its sends and controls in a world this
    # small to judge its uplift; this test measures uplift, so the catalog here lets both call.
    catalog = work / "catalog.yml"
    shipped = (REPO_ROOT / "campaigns" / "catalog.yml").read_text()
    policy = "one_contact_per_channel_per_day"
    catalog.write_text(shipped.replace(f"{policy}: true", f"{policy}: false"))
    settings = dataclasses.replace(
        Settings.from_env(),
        data_dir=work,
        warehouse_path=warehouse,
        outbox_dir=work / "outbox",
        landing_dir=landing,
        campaign_catalog=catalog,
    )
    init_warehouse(settings)
    ingest_landing(landing, warehouse, SEND_DAY)
    run_load_catalog(settings)
    run_dbt(["build"], warehouse, work / "target", {"run_date": SEND_DAY.isoformat()})
    run_publish_gate(SEND_DAY, run_id="results-test", settings=settings)
    manifest = publish_day(SEND_DAY, run_id="results-test", settings=settings)

    con = duckdb.connect(str(warehouse))
    sends = [
        Send(s, c, kind, channel, product, outcome == "targeted")
        for s, c, kind, channel, product, outcome in con.execute(
            "select subscriber_id, campaign_id, campaign_kind, channel, offer_product, decision_outcome "
            "from marts.campaign_decisions_daily "
            "where decision_date = ? and decision_outcome in ('targeted', 'control')",
            [SEND_DAY],
        ).fetchall()
    ]
    con.close()
    truth = simulate_responses(SEND_DAY, sends, landing, seed=5, window_days=14)

    con = duckdb.connect(str(warehouse))
    days = [SEND_DAY + dt.timedelta(days=n) for n in range(15)]
    ingest(con, landing, WINDOW_END, dates=days, progress=lambda _: None)
    con.close()
    run_dbt(
        ["build", "--select", *RESULT_MODELS],
        warehouse,
        work / "target",
        {
            "run_date": WINDOW_END.isoformat(),
            "batch_start_date": SEND_DAY.isoformat(),
            "batch_end_date": WINDOW_END.isoformat(),
        },
    )
    con = duckdb.connect(str(warehouse), read_only=True)
    cursor = con.execute("select * from marts.campaign_results where send_date = ?", [SEND_DAY])
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    decided = dict(
        con.execute(
            "select campaign_id || ':' || decision_outcome, count(*) from marts.campaign_decisions_daily "
            "where decision_date = ? group by 1",
            [SEND_DAY],
        ).fetchall()
    )
    con.close()
    return {"rows": rows, "truth": truth, "decided": decided, "manifest": manifest}


def test_groups_reconcile_with_the_decisions_and_the_published_files(measured: dict) -> None:
    published = {f["campaign_id"]: f["rows"] for f in measured["manifest"]["files"]}
    for row in (r for r in measured["rows"] if r["segment"] == "all"):
        campaign = row["campaign_id"]
        assert row["targeted_count"] == measured["decided"].get(f"{campaign}:targeted", 0) == published[campaign]
        assert row["control_count"] == measured["decided"].get(f"{campaign}:control", 0)
        segments = [r for r in measured["rows"] if r["campaign_id"] == campaign and r["segment"] != "all"]
        assert sum(r["targeted_count"] for r in segments) == row["targeted_count"]
        assert row["is_window_complete"]


def test_measured_uplift_holds_the_planted_effect(measured: dict) -> None:
    judged = []
    for campaign_id, effect in PLANTED_EFFECTS.items():
        rows = [r for r in measured["rows"] if r["campaign_id"] == campaign_id and r["segment"] == "all"]
        if not rows or rows[0]["control_count"] < 10 or rows[0]["conversion_basis"] != "product_take_up":
            continue
        row = rows[0]
        judged.append(campaign_id)
        assert row["uplift_ci_low"] <= effect <= row["uplift_ci_high"], (campaign_id, effect, row)
        if row["control_count"] >= 40:
            assert row["uplift_ci_low"] > 0, f"{campaign_id}: a {effect:.0%} effect should be detectable: {row}"
    assert len(judged) >= 2, f"too few campaigns with a control group to judge: {judged}"


def test_a_campaign_without_a_product_converts_by_accepted_response(measured: dict) -> None:
    rows = [r for r in measured["rows"] if r["segment"] == "all" and r["conversion_basis"] == "accepted_response"]
    assert rows
    for row in rows:
        assert row["control_conversions"] == 0  # only a contacted subscriber can answer
        if row["targeted_count"] >= 100:
            expected = BASELINE_TAKE_UP + measured["truth"]["campaigns"][row["campaign_id"]]["effect"]
            margin = 4 * (expected * (1 - expected) / row["targeted_count"]) ** 0.5
            assert abs(row["targeted_conversion_rate"] - expected) <= margin, row
