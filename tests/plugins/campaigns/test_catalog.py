"""The campaign catalog: the shipped one is valid, a bad one is refused naming entry and field."""

from __future__ import annotations

import copy
import datetime as dt
import functools
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


def shipped() -> dict:
    """The shipped catalog as parsed YAML, a fresh copy each time."""
    return copy.deepcopy(_shipped())


@functools.cache
def _shipped() -> dict:
    return yaml.safe_load(SHIPPED.read_text())


def write_variant(tmp_path: Path, change) -> Path:
    """A copy of the shipped catalog with ``change(data)`` applied."""
    data = shipped()
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
    assert catalog.policy.one_contact_per_channel_per_day is True


def test_every_rule_column_is_a_documented_audience_column() -> None:
    columns = audience_columns()
    assert "segment" in columns and columns["segment"].values is not None
    assert columns["is_low_activity"].kind == "boolean"
    assert columns["churn_risk_score"].kind == "number"
    for c in load_catalog(SHIPPED).campaigns:
        assert {r.column for r in c.rules} <= set(columns)


def rule(data: dict, campaign_id: str, index: int) -> dict:
    return campaign(data, campaign_id)["eligibility"][index]


#: (what is changed in the shipped catalog, a problem the refusal must state: entry, field, why).
BAD_VALUES = {
    # the issue's cases
    "nan as a rule value": (
        lambda d: rule(d, "churn_win_back", 1).update(value=float("nan")),
        "campaign 'churn_win_back': eligibility[1].value: must be a finite number, got nan",
    ),
    "nan holdout share": (
        lambda d: campaign(d, "vip_care").update(holdout_share=float("nan")),
        "campaign 'vip_care': holdout_share: must be a finite number, got nan",
    ),
    "id with a trailing newline": (
        lambda d: campaign(d, "vip_care").update(id="vip_care\n"),
        "campaign 'vip_care\\n': id: must be lowercase letters, digits and underscores",
    ),
    "reason code with a trailing newline": (
        lambda d: rule(d, "vip_care", 0).update(reason="vip\n"),
        "campaign 'vip_care': eligibility[0].reason: must be lowercase letters, digits and underscores",
    ),
    "list where a whole number belongs": (
        lambda d: campaign(d, "vip_care").update(priority=[90]),
        "campaign 'vip_care': priority: must be a whole number, got [90]",
    ),
    "list where a rule's text belongs": (
        lambda d: rule(d, "voice_to_bundle", 0).update(value=["voice_biased"]),
        "campaign 'voice_to_bundle': eligibility[0].value: must be a text, got ['voice_biased']",
    ),
    "mapping where a name belongs": (
        lambda d: campaign(d, "vip_care").update(name={"en": "VIP care"}),
        "campaign 'vip_care': name: must be a text, got {'en': 'VIP care'}",
    ),
    "datetime where a date belongs": (
        lambda d: campaign(d, "vip_care").update(active_from=dt.datetime(2026, 1, 1, 9, 30)),
        "campaign 'vip_care': active_from: must be a date (YYYY-MM-DD), got 2026-01-01 09:30:00",
    ),
    "2**31 daily capacity": (
        lambda d: campaign(d, "vip_care").update(daily_capacity=2**31),
        "campaign 'vip_care': daily_capacity: must be <= 100000000, got 2147483648",
    ),
    "2**31 priority": (
        lambda d: campaign(d, "vip_care").update(priority=2**31),
        "campaign 'vip_care': priority: must be <= 1000, got 2147483648",
    ),
    "2**31 cap": (
        lambda d: d["policy"].update(marketing_cap_7_days=2**31, marketing_cap_30_days=2**31),
        "policy: marketing_cap_7_days: must be <= 100, got 2147483648",
    ),
    "30-day cap under the 7-day cap": (
        lambda d: d["policy"].update(marketing_cap_30_days=1),
        "policy: marketing_cap_30_days: must be >= marketing_cap_7_days (2), got 1",
    ),
    # the same families, elsewhere
    "inf expected value": (
        lambda d: campaign(d, "churn_win_back").update(expected_value=float("inf")),
        "campaign 'churn_win_back': expected_value: must be a finite number, got inf",
    ),
    "-inf as a rule value": (
        lambda d: rule(d, "churn_win_back", 1).update(value=float("-inf")),
        "campaign 'churn_win_back': eligibility[1].value: must be a finite number, got -inf",
    ),
    "bool as a whole number": (
        lambda d: campaign(d, "vip_care").update(cooldown_days=True),
        "campaign 'vip_care': cooldown_days: must be a whole number, got True",
    ),
    "bool as a rule's number": (
        lambda d: rule(d, "churn_win_back", 1).update(value=True),
        "campaign 'churn_win_back': eligibility[1].value: must be a number, got True",
    ),
    "text as a whole number": (
        lambda d: campaign(d, "vip_care").update(cooldown_days="90"),
        "campaign 'vip_care': cooldown_days: must be a whole number, got '90'",
    ),
    "whole number as the policy's boolean": (
        lambda d: d["policy"].update(one_contact_per_channel_per_day=1),
        "policy: one_contact_per_channel_per_day: must be true or false, got 1",
    ),
    "unknown campaign field": (
        lambda d: campaign(d, "vip_care").update(prority=5),
        "campaign 'vip_care': prority: unknown field (known: id, name,",
    ),
    "unknown rule field": (
        lambda d: rule(d, "vip_care", 0).update(values="x"),
        "campaign 'vip_care': eligibility[0].values: unknown field (known: column, op, value, reason)",
    ),
    "unknown policy field": (
        lambda d: d["policy"].update(marketing_cap_1_day=1),
        "policy: marketing_cap_1_day: unknown field",
    ),
    "the model's name for the rules": (
        lambda d: campaign(d, "vip_care").update(rules=campaign(d, "vip_care").pop("eligibility")),
        "campaign 'vip_care': rules: unknown field",
    ),
    "line break in an offer code": (
        lambda d: campaign(d, "vip_care").update(offer_code="VIP\nCARE"),
        "campaign 'vip_care': offer_code: must be one line of printable text, got 'VIP\\nCARE'",
    ),
    "comma in a rule's text": (
        lambda d: rule(d, "vip_care", 0).update(op="in", value=["voice_biased,unclassified"]),
        "campaign 'vip_care': eligibility[0].value[0]: must not contain a comma",
    ),
    # checks against the audience model and the others
    "unknown audience column": (
        lambda d: rule(d, "vip_care", 0).update(column="segmnet"),
        "campaign 'vip_care': eligibility[0].column: unknown column 'segmnet'",
    ),
    "value outside the column's accepted values": (
        lambda d: rule(d, "vip_care", 0).update(value="vip"),
        "campaign 'vip_care': eligibility[0].value: ['vip'] not among segment's values",
    ),
    "operator not for the column's kind": (
        lambda d: rule(d, "churn_win_back", 1).update(op="in"),
        "campaign 'churn_win_back': eligibility[1].op: 'in' does not apply to the number column churn_risk_score",
    ),
    "text for a boolean column": (
        lambda d: rule(d, "low_activity_activation", 1).update(value="yes"),
        "campaign 'low_activity_activation': eligibility[1].value: must be true or false, got 'yes'",
    ),
    "offer product not in the audience": (
        lambda d: campaign(d, "broadband_cross_sell").update(offer_product="fibre"),
        "campaign 'broadband_cross_sell': offer_product: 'fibre' is not a product",
    ),
    "unknown channel": (
        lambda d: campaign(d, "data_addon_push").update(channel="email"),
        "campaign 'data_addon_push': channel: must be 'sms', 'outbound_call', 'app_push' or 'retail', got 'email'",
    ),
    "holdout share over half": (
        lambda d: campaign(d, "data_addon_push").update(holdout_share=0.9),
        "campaign 'data_addon_push': holdout_share: must be <= 0.5, got 0.9",
    ),
    "zero capacity": (
        lambda d: campaign(d, "vip_care").update(daily_capacity=0),
        "campaign 'vip_care': daily_capacity: must be >= 1, got 0",
    ),
    "negative cap": (
        lambda d: d["policy"].update(marketing_cap_7_days=-1),
        "policy: marketing_cap_7_days: must be >= 0, got -1",
    ),
    "end before start": (
        lambda d: campaign(d, "vip_care").update(active_to=dt.date(2025, 12, 31)),
        "campaign 'vip_care': active_to: 2025-12-31 is before active_from 2026-01-01",
    ),
    "no rules": (
        lambda d: campaign(d, "vip_care").update(eligibility=[]),
        "campaign 'vip_care': eligibility: must not be empty",
    ),
    "missing field": (lambda d: campaign(d, "vip_care").pop("offer_code"), "campaign 'vip_care': offer_code: required"),
    "duplicate id": (
        lambda d: d["campaigns"].append(dict(campaign(d, "vip_care"))),
        "campaign 'vip_care': id: duplicate campaign id",
    ),
    "entry without a usable id": (
        lambda d: campaign(d, "vip_care").update(id=7),
        "campaigns[3]: id: must be a text, got 7",
    ),
    "entry that is not a mapping": (lambda d: d["campaigns"].append("vip_care"), "campaigns[11]: must be a mapping"),
}


@pytest.mark.parametrize(("change", "message"), BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_a_bad_value_is_refused_naming_the_entry_and_field(tmp_path: Path, change, message: str) -> None:
    with pytest.raises(CatalogError) as refused:
        load_catalog(write_variant(tmp_path, change))
    assert type(refused.value) is CatalogError
    assert message in str(refused.value)
    assert "pydantic" not in str(refused.value)  # the catalog's words, not the library's


#: The values of the issue's list, all together in one file (one per field: they do not mask each other).
ISSUE_CASES = (
    "nan as a rule value",
    "nan holdout share",
    "list where a rule's text belongs",
    "datetime where a date belongs",
    "2**31 daily capacity",
    "30-day cap under the 7-day cap",
    "inf expected value",
    "bool as a whole number",
    "unknown campaign field",
    "id with a trailing newline",  # last: it renames vip_care, which the others look up
)


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    changes = {name: BAD_VALUES[name][0] for name in ISSUE_CASES}

    def all_of_them(data: dict) -> None:
        for change in changes.values():
            change(data)

    with pytest.raises(CatalogError) as refused:
        load_catalog(write_variant(tmp_path, all_of_them))
    problems = str(refused.value).split("\n  - ")[1:]
    for name in changes:
        _, message = BAD_VALUES[name]
        # the id case renames vip_care: the other vip_care problems then name 'vip_care\n'
        expected = message if name == "id with a trailing newline" else message.replace("'vip_care'", "'vip_care\\n'")
        assert any(expected in problem for problem in problems), (name, problems)
    assert len(problems) == len(changes)


#: Every whole number of the catalog with its documented upper bound (docs/campaigns.md).
UPPER_BOUNDS = [
    ("policy", "marketing_cap_7_days", 100),
    ("policy", "marketing_cap_30_days", 100),
    ("policy", "conversion_window_days", 365),
    ("policy", "inactive_after_days", 365),
    ("vip_care", "priority", 1000),
    ("vip_care", "cooldown_days", 365),
    ("vip_care", "daily_capacity", 100_000_000),
]


@pytest.mark.parametrize(("entry", "field", "bound"), UPPER_BOUNDS, ids=[f for _, f, _ in UPPER_BOUNDS])
def test_a_whole_number_at_its_bound_loads_and_one_more_is_refused(
    tmp_path: Path, entry: str, field: str, bound: int
) -> None:
    def set_to(value: int):
        def change(data: dict) -> None:
            (data["policy"] if entry == "policy" else campaign(data, entry))[field] = value
            if field == "marketing_cap_7_days":
                data["policy"]["marketing_cap_30_days"] = value  # the 30-day cap is never below it

        return change

    catalog = load_catalog(write_variant(tmp_path, set_to(bound)))
    con = duckdb.connect()
    store_catalog(con, catalog)  # the bound fits the warehouse's integer column
    table, key = ("campaign_policy", "true") if entry == "policy" else ("campaigns", f"campaign_id = '{entry}'")
    stored = con.execute(f"select {field} from raw.{table} where {key}").fetchall()
    con.close()
    assert stored == [(bound,)]
    with pytest.raises(CatalogError, match=f"{field}: must be <= {bound}, got {bound + 1}"):
        load_catalog(write_variant(tmp_path, set_to(bound + 1)))


#: Any value YAML can hold, in any place: what marketing might type by mistake.
ANY_VALUE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.sampled_from((2**31 - 1, 2**31, 2**63, -(2**31), float("nan"), float("inf")))  # the edges
    | st.floats()
    | st.text(max_size=8)
    | st.dates()
    | st.datetimes(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4) | st.integers(), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def places(draw: st.DrawFn) -> tuple[str, ...]:
    """A field of the policy, of a campaign or of one of its rules, or a new one beside them."""
    data = _shipped()
    entry = draw(st.sampled_from(data["campaigns"]))
    where = draw(st.sampled_from(("policy", "campaign", "rule", "top")))
    if where == "top":
        return ("top", draw(st.sampled_from(("policy", "campaigns", "extra"))))
    if where == "policy":
        return ("policy", draw(st.sampled_from((*data["policy"], "extra"))))
    if where == "campaign":
        return ("campaign", entry["id"], draw(st.sampled_from((*entry, "extra"))))
    return ("rule", entry["id"], "0", draw(st.sampled_from(("column", "op", "value", "reason", "extra"))))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(place=places(), value=ANY_VALUE)
def test_any_value_anywhere_is_loaded_or_refused_as_a_catalog_error(tmp_path: Path, place, value) -> None:
    """Never a TypeError, an OverflowError or pydantic's own ValidationError: those would make
    the DAG's task retry instead of refusing the catalog."""

    def put(data: dict) -> None:
        if place[0] == "policy":
            data["policy"][place[1]] = value
        elif place[0] == "campaign":
            campaign(data, place[1])[place[2]] = value
        elif place[0] == "rule":
            rule(data, place[1], int(place[2]))[place[3]] = value
        else:
            data[place[1]] = value

    try:
        catalog = load_catalog(write_variant(tmp_path, put))
    except CatalogError as refused:
        problems = str(refused).split("\n  - ")[1:]
        assert problems and all(p.startswith(("policy", "campaign", "catalog", "extra")) for p in problems), problems
    else:
        con = duckdb.connect()
        store_catalog(con, catalog)  # what validates also loads
        con.close()


def test_an_absent_policy_switch_defaults_to_one_contact_per_channel_per_day(tmp_path: Path) -> None:
    absent = load_catalog(write_variant(tmp_path, lambda d: d["policy"].pop("one_contact_per_channel_per_day")))
    assert absent.policy.one_contact_per_channel_per_day is True
    switched_off = write_variant(tmp_path, lambda d: d["policy"].update(one_contact_per_channel_per_day=False))
    assert load_catalog(switched_off).policy.one_contact_per_channel_per_day is False


def test_the_shipped_catalog_stores_one_row_per_campaign_and_rule(tmp_path: Path) -> None:
    catalog = load_catalog(SHIPPED)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    store_catalog(con, catalog)
    policy = con.execute(
        "select catalog_version, marketing_cap_7_days, marketing_cap_30_days, holdout_salt, conversion_window_days, "
        "inactive_after_days, one_contact_per_channel_per_day from raw.campaign_policy"
    ).fetchall()
    vip = con.execute(
        "select campaign_name, campaign_kind, channel, offer_code, offer_product, priority, expected_value, "
        "holdout_share, cooldown_days, daily_capacity, active_from, active_to from raw.campaigns "
        "where campaign_id = 'vip_care'"
    ).fetchall()
    rules = con.execute(
        "select rule_number, column_name, operator, value_text, value_number, reason_code "
        "from raw.campaign_eligibility_rules where campaign_id = 'vip_care' order by rule_number"
    ).fetchall()
    counts = con.execute(
        "select (select count(*) from raw.campaigns), (select count(*) from raw.campaign_eligibility_rules)"
    ).fetchall()
    con.close()
    assert policy == [(catalog.version, 2, 4, "telco-mart-holdout-v1", 14, 30, True)]
    assert vip == [
        (
            "VIP care for high-value long-tenure customers",
            "service",
            "outbound_call",
            "VIP_CARE_CALL",
            None,
            90,
            0.0,
            0.1,
            90,
            500,
            dt.date(2026, 1, 1),
            None,
        )
    ]
    assert rules == [
        (1, "segment", "=", "high_value_long_tenure", None, "segment_high_value_long_tenure"),
        (2, "arpu_decile", "=", None, 1.0, "arpu_top_decile"),
    ]
    assert counts == [(len(DOMAIN_CAMPAIGNS), sum(len(c.rules) for c in catalog.campaigns))]


def test_a_warehouse_from_before_the_policy_switch_gains_its_column(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema raw")
    con.execute(  # raw.campaign_policy as the previous version created it
        "create table raw.campaign_policy (catalog_version varchar, marketing_cap_7_days integer, "
        "marketing_cap_30_days integer, holdout_salt varchar, conversion_window_days integer, "
        "inactive_after_days integer, loaded_at timestamp)"
    )
    con.execute("insert into raw.campaign_policy values ('old', 2, 4, 'salt', 14, 30, now())")
    store_catalog(con, load_catalog(write_variant(tmp_path, lambda d: d["policy"].update(marketing_cap_7_days=3))))
    rows = con.execute(
        "select catalog_version, marketing_cap_7_days, one_contact_per_channel_per_day from raw.campaign_policy"
    ).fetchall()
    con.close()
    assert len(rows) == 1 and rows[0][0] != "old" and rows[0][1:] == (3, True)


def test_campaigns_validate_refuses_a_bad_file_without_a_traceback(tmp_path: Path) -> None:
    bad = write_variant(tmp_path, lambda d: campaign(d, "vip_care").update(holdout_share=float("nan")))
    command = Path(sys.executable).with_name("telco-mart")
    refused = subprocess.run(
        [str(command), "campaigns", "validate", "--catalog", str(bad)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert refused.returncode == 1
    assert "campaign 'vip_care': holdout_share: must be a finite number, got nan" in refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout and refused.stdout == ""


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
