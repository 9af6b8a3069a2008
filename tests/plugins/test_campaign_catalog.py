"""The campaign catalog: the shipped one is valid, a bad one is refused naming entry and field."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from telco_mart.campaigns.catalog import CatalogError, audience_columns, load_catalog, store_catalog
from telco_mart.config import REPO_ROOT

SHIPPED = REPO_ROOT / "campaigns" / "catalog.yml"
#: Every campaign of the domain brief, by the id the shipped catalog gives it.
DOMAIN_CAMPAIGNS = {
    "data_addon_push",
    "data_plan_fit",
    "low_activity_activation",
    "vip_care",
    "broadband_cross_sell",
    "broadband_renewal",
    "churn_win_back",
    "voice_to_bundle",
    "elderly_plan_renewal",
    "complaint_care_call",
    "network_repair_survey",
}


def write_variant(tmp_path: Path, change) -> Path:
    """A copy of the shipped catalog with ``change(data)`` applied."""
    data = yaml.safe_load(SHIPPED.read_text())
    change(data)
    path = tmp_path / "catalog.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def campaign(data: dict, campaign_id: str) -> dict:
    return next(c for c in data["campaigns"] if c["id"] == campaign_id)


def test_the_shipped_catalog_is_valid_and_has_every_domain_campaign() -> None:
    catalog = load_catalog(SHIPPED)
    assert {c.id for c in catalog.campaigns} == DOMAIN_CAMPAIGNS
    assert catalog.policy.marketing_cap_7_days == 2 and catalog.policy.marketing_cap_30_days == 4
    kinds = {c.id: c.kind for c in catalog.campaigns}
    assert {k for k, v in kinds.items() if v == "service"} == {
        "vip_care",
        "elderly_plan_renewal",
        "complaint_care_call",
        "network_repair_survey",
    }
    assert all(c.rules for c in catalog.campaigns)


def test_every_rule_column_is_a_documented_audience_column() -> None:
    columns = audience_columns()
    assert "segment" in columns and columns["segment"].values is not None
    assert columns["is_low_activity"].kind == "boolean"
    assert columns["churn_risk_score"].kind == "number"
    for c in load_catalog(SHIPPED).campaigns:
        assert {r.column for r in c.rules} <= set(columns)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: campaign(d, "vip_care")["eligibility"][0].update(column="segmnet"),
            "campaign 'vip_care': eligibility[0].column: unknown column 'segmnet'",
        ),
        (
            lambda d: campaign(d, "vip_care")["eligibility"][0].update(value="vip"),
            "campaign 'vip_care': eligibility[0].value: ['vip'] not among segment's values",
        ),
        (
            lambda d: campaign(d, "data_addon_push").update(channel="email"),
            "campaign 'data_addon_push': channel: 'email' is not one of",
        ),
        (
            lambda d: campaign(d, "data_addon_push").update(holdout_share=0.9),
            "campaign 'data_addon_push': holdout_share: 0.9 is outside [0, 0.5]",
        ),
        (
            lambda d: campaign(d, "broadband_cross_sell").update(offer_product="fibre"),
            "campaign 'broadband_cross_sell': offer_product: 'fibre' is not a product",
        ),
        (
            lambda d: campaign(d, "churn_win_back")["eligibility"][1].update(op="in"),
            "campaign 'churn_win_back': eligibility[1].op: 'in' does not apply to the number column churn_risk_score",
        ),
        (
            lambda d: campaign(d, "low_activity_activation")["eligibility"][1].update(value="yes"),
            "campaign 'low_activity_activation': eligibility[1].value: is_low_activity is true or false",
        ),
        (
            lambda d: campaign(d, "vip_care").update(daily_capacity=0),
            "campaign 'vip_care': daily_capacity: 0 is outside [1, ...]",
        ),
        (
            lambda d: campaign(d, "vip_care").update(prority=5),
            "campaign 'vip_care': prority: unknown field",
        ),
        (lambda d: campaign(d, "vip_care").pop("offer_code"), "campaign 'vip_care': offer_code: required"),
        (
            lambda d: d["campaigns"].append(dict(campaign(d, "vip_care"))),
            "campaign 'vip_care': id: duplicate campaign id",
        ),
        (
            lambda d: d["policy"].update(marketing_cap_7_days=-1),
            "policy: marketing_cap_7_days: expected a whole number >= 0",
        ),
    ],
)
def test_a_bad_entry_is_refused_naming_the_entry_and_field(tmp_path: Path, change, message: str) -> None:
    with pytest.raises(CatalogError) as refused:
        load_catalog(write_variant(tmp_path, change))
    assert message in str(refused.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    def two_problems(data: dict) -> None:
        campaign(data, "vip_care").update(kind="marketing")
        campaign(data, "data_plan_fit")["eligibility"][0].update(column="nope")

    with pytest.raises(CatalogError) as refused:
        load_catalog(write_variant(tmp_path, two_problems))
    assert "'vip_care': kind" in str(refused.value) and "'data_plan_fit': eligibility[0].column" in str(refused.value)


def test_a_new_campaign_is_data_only_and_loads_into_the_warehouse(tmp_path: Path) -> None:
    def add(data: dict) -> None:
        data["campaigns"].append(
            {
                "id": "roaming_pack",
                "name": "Roaming pack for travellers",
                "kind": "sales",
                "channel": "sms",
                "offer_code": "ROAM_7D",
                "priority": 45,
                "expected_value": 5,
                "holdout_share": 0.1,
                "cooldown_days": 14,
                "daily_capacity": 1000,
                "active_from": "2026-01-01",
                "eligibility": [
                    {"column": "is_roaming_traveller", "op": "=", "value": True, "reason": "tag_roaming"},
                    {"column": "region", "op": "in", "value": ["Nairobi", "Mombasa"], "reason": "coastal_or_capital"},
                ],
            }
        )

    path = write_variant(tmp_path, add)
    path.write_text(path.read_text().replace("active_from: '2026-01-01'", "active_from: 2026-01-01"))
    catalog = load_catalog(path)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    store_catalog(con, catalog)
    store_catalog(con, catalog)  # replaced, never appended
    rules = con.execute(
        "select column_name, operator, value_text, value_number from raw.campaign_eligibility_rules "
        "where campaign_id = 'roaming_pack' order by rule_number"
    ).fetchall()
    counts = con.execute("select count(*), count(distinct catalog_version) from raw.campaigns").fetchall()
    con.close()
    assert rules == [("is_roaming_traveller", "=", None, 1.0), ("region", "in", ",Nairobi,Mombasa,", None)]
    assert counts == [(len(DOMAIN_CAMPAIGNS) + 1, 1)]
