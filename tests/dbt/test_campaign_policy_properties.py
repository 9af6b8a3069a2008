"""Contact policy is law: properties of the decisions and the published lists over generated cases.

Each hypothesis example is a whole small world: a random catalog (kinds, channels,
priorities, holdout shares, cool-downs, capacities, products, caps) and a random audience
with opt-outs, do-not-disturb flags, contact history, earlier sends and complaints. The real
dbt models decide the day and the real publish task writes the outbox; every property is then
checked against the *inputs*, recomputed here in Python, not against the model's own columns.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import operator
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telco_mart.campaigns.catalog import (
    AUDIENCE_MODEL,
    AUDIENCE_YML,
    Campaign,
    Catalog,
    Policy,
    Rule,
    store_catalog,
)
from telco_mart.campaigns.publish import publish_day
from telco_mart.schema import ensure_raw_schema
from tests.conftest import REPO_ROOT, InProcessDbt, run_dbt

DAY = dt.date(2026, 3, 15)
CHANNELS = ("sms", "outbound_call", "app_push", "retail")
SEGMENTS = ("data_driven_new", "high_value_long_tenure", "voice_biased", "low_value_suppressed", "unclassified")
PRODUCTS = (None, "broadband", "content_pack")
DECISION_MODELS = [
    "stg_campaign_catalog__campaigns",
    "stg_campaign_catalog__eligibility_rules",
    "stg_campaign_catalog__policies",
    "stg_marketing__opt_outs",
    "stg_marketing__contacts",
    "stg_outbox__published_contacts",
    "stg_outbox__published_days",
    "int_contacts_unioned",
    "campaign_decisions_daily",
    "campaign_targets_daily",
]


@dataclass
class Subscriber:
    subscriber_id: str
    segment: str
    churn_risk_score: int
    is_low_activity: bool
    has_valid_contact_number: bool
    status: str
    days_since_last_activity: int | None
    open_complaints: int
    holds_broadband: bool
    holds_content_pack: bool
    # (channel, effective day offset from DAY, opted_out, do_not_disturb)
    preferences: list[tuple[str, int, bool, bool]] = field(default_factory=list)
    # (campaign index or -1 for a legacy campaign, kind, day offset, source feed/published)
    contacts: list[tuple[int, str, int, str]] = field(default_factory=list)


def subscribers_strategy() -> st.SearchStrategy[list[Subscriber]]:
    preference = st.tuples(st.sampled_from((*CHANNELS, "all")), st.integers(-40, 2), st.booleans(), st.booleans())
    contact = st.tuples(
        st.integers(-1, 4),
        st.sampled_from(("sales", "service")),
        st.integers(-35, 1),
        st.sampled_from(("feed", "published")),
    )
    subscriber = st.builds(
        Subscriber,
        subscriber_id=st.just(""),
        segment=st.sampled_from(SEGMENTS),
        churn_risk_score=st.integers(0, 100),
        is_low_activity=st.booleans(),
        has_valid_contact_number=st.sampled_from((True, True, True, False)),
        status=st.sampled_from(("active", "active", "active", "suspended")),
        days_since_last_activity=st.one_of(st.none(), st.integers(0, 45)),
        open_complaints=st.sampled_from((0, 0, 0, 1)),
        holds_broadband=st.booleans(),
        holds_content_pack=st.booleans(),
        preferences=st.lists(preference, max_size=3),
        contacts=st.lists(contact, max_size=6),
    )
    return st.lists(subscriber, min_size=60, max_size=160)


RULE_OPERATORS = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@st.composite
def eligibility_rules(draw: st.DrawFn, number: int) -> Rule:
    """One rule of any kind the catalog allows, as the validator would store it."""
    kind = draw(st.sampled_from(("segment", "low_activity", "risk", "complaints", "activity", "any")))
    if kind == "segment":
        op = draw(st.sampled_from(("in", "not in", "=", "!=")))
        values = sorted(draw(st.sets(st.sampled_from(SEGMENTS), min_size=1, max_size=3)))
        text = "," + ",".join(values) + "," if op in ("in", "not in") else values[0]
        return Rule(number, "segment", op, text, None, "segment_fit")
    if kind == "low_activity":
        op = draw(st.sampled_from(("=", "!=")))
        return Rule(number, "is_low_activity", op, None, float(draw(st.booleans())), "tag_low_activity")
    if kind == "any":
        return Rule(number, "open_complaints", ">=", None, 0.0, "everyone")
    column, values = {
        "risk": ("churn_risk_score", st.integers(0, 80)),
        "complaints": ("open_complaints", st.integers(0, 1)),
        "activity": ("days_since_last_activity", st.integers(0, 45)),  # null for some: never met
    }[kind]
    return Rule(number, column, draw(st.sampled_from(tuple(RULE_OPERATORS))), None, float(draw(values)), kind)


def meets(s: Subscriber, rule: Rule) -> bool:
    """The rule evaluated in Python on the subscriber's inputs: an unknown value never meets one."""
    value = getattr(s, rule.column)
    if value is None:
        return False
    if rule.operator in ("in", "not in"):
        return (value in rule.value_text.strip(",").split(",")) == (rule.operator == "in")
    operand = rule.value_text if rule.value_number is None else rule.value_number
    return RULE_OPERATORS[rule.operator](float(value) if isinstance(value, bool) else value, operand)


@st.composite
def catalogs(draw: st.DrawFn) -> Catalog:
    cap_7 = draw(st.integers(1, 3))
    policy = Policy(
        marketing_cap_7_days=cap_7,
        marketing_cap_30_days=draw(st.integers(cap_7, 6)),
        holdout_salt=draw(st.text("abcdef0123456789", min_size=4, max_size=12)),
        conversion_window_days=14,
        inactive_after_days=30,
    )
    campaigns = []
    for index in range(draw(st.integers(2, 5))):
        rules = tuple(draw(eligibility_rules(number)) for number in range(1, draw(st.integers(1, 2)) + 1))
        campaigns.append(
            Campaign(
                id=f"campaign_{index}",
                name=f"campaign {index}",
                kind=draw(st.sampled_from(("sales", "sales", "service"))),
                channel=draw(st.sampled_from(CHANNELS)),
                offer_code=f"OFFER_{index}",
                offer_product=draw(st.sampled_from(PRODUCTS)),
                priority=draw(st.integers(0, 3)) * 10,  # ties happen: expected value, then id, decide
                expected_value=float(draw(st.integers(0, 2))),
                holdout_share=draw(st.sampled_from((0.0, 0.1, 0.25, 0.5))),
                cooldown_days=draw(st.integers(0, 20)),
                daily_capacity=draw(st.integers(1, 120)),
                active_from=dt.date(2026, 1, 1),
                active_to=None,
                rules=rules,
            )
        )
    return Catalog(path=Path("generated"), version="generated", policy=policy, campaigns=tuple(campaigns))


def audience_types() -> dict[str, str]:
    spec = yaml.safe_load((REPO_ROOT / "dbt_project" / AUDIENCE_YML).read_text())
    model = next(m for m in spec["models"] if m["name"] == AUDIENCE_MODEL)
    return {c["name"]: c["data_type"] for c in model["columns"]}


def build_world(con: duckdb.DuckDBPyConnection, catalog: Catalog, subscribers: list[Subscriber]) -> None:
    ensure_raw_schema(con)
    store_catalog(con, catalog)
    types = audience_types()
    con.execute("create schema if not exists intermediate")
    con.execute("create schema if not exists marts")
    con.execute(
        f"create or replace table marts.{AUDIENCE_MODEL} ("
        + ", ".join(f"{name} {data_type}" for name, data_type in types.items())
        + ")"
    )
    con.execute("create or replace table marts.dim_subscriber (subscriber_id varchar, msisdn varchar)")
    lineage = [f"file_{DAY}.csv", 1, DAY, "load-1", dt.datetime(2026, 3, 15, 23)]
    for s in subscribers:
        row = {name: None for name in types}
        row.update(
            subscriber_id=s.subscriber_id,
            decision_date=DAY,
            status=s.status,
            segment=s.segment,
            churn_risk_score=s.churn_risk_score,
            is_low_activity=s.is_low_activity,
            has_valid_contact_number=s.has_valid_contact_number,
            days_since_last_activity=s.days_since_last_activity,
            open_complaints=s.open_complaints,
            holds_broadband=s.holds_broadband,
            holds_content_pack=s.holds_content_pack,
        )
        con.execute(f"insert into marts.{AUDIENCE_MODEL} values ({', '.join('?' for _ in types)})", list(row.values()))
        con.execute("insert into marts.dim_subscriber values (?, ?)", [s.subscriber_id, "+2547" + s.subscriber_id[-8:]])
        for number, (channel, offset, opted_out, dnd) in enumerate(s.preferences):
            effective = dt.datetime.combine(DAY + dt.timedelta(days=offset), dt.time(8, number))
            con.execute(
                "insert into raw.opt_outs values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [s.subscriber_id, channel, opted_out, dnd, effective, *lineage],
            )
        for number, (campaign_index, kind, offset, source) in enumerate(s.contacts):
            campaign = catalog.campaigns[campaign_index] if 0 <= campaign_index < len(catalog.campaigns) else None
            campaign_id = campaign.id if campaign else f"legacy_{kind}"
            kind = campaign.kind if campaign else kind
            channel = campaign.channel if campaign else "sms"
            day = DAY + dt.timedelta(days=offset)
            if source == "feed":
                con.execute(
                    "insert into raw.contact_history values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        f"C-{s.subscriber_id}-{number}",
                        s.subscriber_id,
                        campaign_id,
                        kind,
                        channel,
                        dt.datetime.combine(day, dt.time(10, number)),
                        "none",
                        None,
                        *lineage,
                    ],
                )
            elif campaign is not None and offset < 0:
                # this warehouse's own sends of earlier days (a day is decided before it is published)
                con.execute(
                    "insert into raw.published_contacts values (?, ?, ?, ?, ?, ?, ?, ?)",
                    [day, s.subscriber_id, campaign_id, kind, channel, campaign.offer_code, "earlier", lineage[-1]],
                )
    # one published row per subscriber, campaign and day, as publish writes them
    con.execute(
        "create or replace table raw.published_contacts as "
        "select distinct on (contact_date, subscriber_id, campaign_id) * from raw.published_contacts"
    )


def holdout_bucket(subscriber_id: str, campaign_id: str, salt: str) -> float:
    return int(hashlib.md5(f"{subscriber_id}|{campaign_id}|{salt}".encode()).hexdigest()[:8], 16) / 2**32


def preference_on_day(s: Subscriber, channel: str, day: dt.date = DAY) -> tuple[bool, bool]:
    """(opted out, do not disturb) in force on ``day`` for a channel, from the raw preference events."""
    state = {"opted_out": False, "dnd": False}
    for target in (channel, "all"):
        events = sorted(
            (offset, number, opted_out, dnd)
            for number, (c, offset, opted_out, dnd) in enumerate(s.preferences)
            if c == target and DAY + dt.timedelta(days=offset) <= day
        )
        if events:
            _, _, opted_out, dnd = events[-1]
            state["opted_out"] |= opted_out
            state["dnd"] |= dnd
    return state["opted_out"], state["dnd"]


def counted_contacts(s: Subscriber, catalog: Catalog) -> list[tuple[str, str, int]]:
    """(campaign_id, kind, day offset) the policy counts: feed up to DAY, own sends before it."""
    seen = set()
    for campaign_index, kind, offset, source in s.contacts:
        campaign = catalog.campaigns[campaign_index] if 0 <= campaign_index < len(catalog.campaigns) else None
        if campaign is None and source == "published":
            continue
        campaign_id = campaign.id if campaign else f"legacy_{kind}"
        kind = campaign.kind if campaign else kind
        if offset > 0 or (source == "published" and offset == 0):
            continue
        seen.add((campaign_id, kind, offset))
    return sorted(seen)


def all_feed_contacts(s: Subscriber, catalog: Catalog) -> set[tuple[str, str, int]]:
    """(campaign_id, kind, day offset) of the subscriber's contacts in the contact history feed."""
    contacts = set()
    for campaign_index, kind, offset, source in s.contacts:
        if source != "feed":
            continue
        campaign = catalog.campaigns[campaign_index] if 0 <= campaign_index < len(catalog.campaigns) else None
        contacts.add((campaign.id if campaign else f"legacy_{kind}", campaign.kind if campaign else kind, offset))
    return contacts


def run_decisions(warehouse: Path, target: Path) -> None:
    run_dbt(["run", "--select", *DECISION_MODELS], warehouse, target, {"run_date": DAY.isoformat()})


def decisions(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select subscriber_id, campaign_id, decision, is_holdout, eligibility_reason_codes "
        "from marts.campaign_decisions_daily where decision_date = ? order by 1, 2",
        [DAY],
    ).fetchall()


@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(catalog=catalogs(), subscribers=subscribers_strategy())
def test_published_lists_obey_the_contact_policy(
    catalog: Catalog, subscribers: list[Subscriber], tmp_path_factory: pytest.TempPathFactory, monkeypatch
) -> None:
    work = tmp_path_factory.mktemp("policy")
    warehouse = work / "warehouse.duckdb"
    for number, s in enumerate(subscribers):
        s.subscriber_id = f"S{number:08d}"
    con = duckdb.connect(str(warehouse))
    build_world(con, catalog, subscribers)
    con.close()

    run_decisions(warehouse, work / "target")
    monkeypatch.setenv("TELCO_MART_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("TELCO_MART_OUTBOX_DIR", str(work / "outbox"))
    manifest = publish_day(DAY, run_id="first", require_gate=False)

    con = duckdb.connect(str(warehouse))
    first_decisions = decisions(con)
    con.close()

    # a rerun after the publish decides the same and publishes the same bytes, once
    run_decisions(warehouse, work / "target")
    rerun = publish_day(DAY, run_id="rerun", require_gate=False)
    con = duckdb.connect(str(warehouse))
    assert decisions(con) == first_decisions
    published_today = con.execute(
        "select count(*) from raw.published_contacts where contact_date = ?", [DAY]
    ).fetchall()
    con.close()
    assert [f["sha256"] for f in rerun["files"]] == [f["sha256"] for f in manifest["files"]]
    assert published_today[0][0] == manifest["total_rows"]

    by_id = {s.subscriber_id: s for s in subscribers}
    published: list[dict[str, str]] = []
    for entry in manifest["files"]:
        content = (work / "outbox" / DAY.isoformat() / entry["name"]).read_bytes()
        assert hashlib.sha256(content).hexdigest() == entry["sha256"]
        published += list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
    targeted = {(s, c) for s, c, decision, *_ in first_decisions if decision == "targeted"}
    assert {(r["subscriber_id"], r["campaign_id"]) for r in published} == targeted  # files reconcile
    assert len(published) == len(targeted)  # no duplicate contact

    policy = catalog.policy
    sales_per_subscriber: Counter[str] = Counter()
    for row in published:
        s = by_id[row["subscriber_id"]]
        campaign = catalog.campaign(row["campaign_id"])
        where = f"{s.subscriber_id} in {campaign.id}"
        opted_out, dnd = preference_on_day(s, campaign.channel)
        assert not opted_out, f"{where}: opted out of {campaign.channel}"
        assert not dnd, f"{where}: do-not-disturb on {campaign.channel}"
        assert s.has_valid_contact_number, where
        assert s.status == "active" and s.days_since_last_activity is not None, where
        assert s.days_since_last_activity <= policy.inactive_after_days, where
        if campaign.offer_product:
            assert not getattr(s, f"holds_{campaign.offer_product}"), f"{where}: already holds the product"
        contacts = counted_contacts(s, catalog)
        touches = [-offset for campaign_id, _, offset in contacts if campaign_id == campaign.id]
        assert all(days >= campaign.cooldown_days for days in touches), f"{where}: inside the cool-down"
        if campaign.kind == "sales":
            sales_per_subscriber[s.subscriber_id] += 1
            assert s.open_complaints == 0, f"{where}: sales contact with an open complaint"
            week = sum(1 for _, kind, offset in contacts if kind == "sales" and offset >= -6)
            month = sum(1 for _, kind, offset in contacts if kind == "sales" and offset >= -29)
            assert week + 1 <= policy.marketing_cap_7_days, f"{where}: over the 7-day cap"
            assert month + 1 <= policy.marketing_cap_30_days, f"{where}: over the 30-day cap"
        assert not holdout_bucket(s.subscriber_id, campaign.id, policy.holdout_salt) < campaign.holdout_share
    assert max(sales_per_subscriber.values(), default=0) <= 1, "two sales campaigns for one subscriber on one day"

    # a decision row exactly for each subscriber and campaign whose every rule holds
    eligible = {
        (s.subscriber_id, c.id) for s in subscribers for c in catalog.campaigns if all(meets(s, r) for r in c.rules)
    }
    assert {(s, c) for s, c, *_ in first_decisions} == eligible

    groups: dict[str, Counter[str]] = defaultdict(Counter)
    for subscriber_id, campaign_id, decision, is_holdout, reasons in first_decisions:
        campaign = catalog.campaign(campaign_id)
        groups[campaign_id][decision] += 1
        assert reasons, "every decision row says why it was eligible"
        # the holdout is the deterministic hash, recomputed here
        assert is_holdout == (holdout_bucket(subscriber_id, campaign_id, policy.holdout_salt) < campaign.holdout_share)
    for campaign_id, counts in groups.items():
        campaign = catalog.campaign(campaign_id)
        assert counts["targeted"] <= campaign.daily_capacity
        sent_or_held = counts["targeted"] + counts["control"]
        if campaign.holdout_share == 0:
            assert counts["control"] == 0
        elif sent_or_held >= 30:
            share = counts["control"] / sent_or_held
            tolerance = 4 * (campaign.holdout_share * (1 - campaign.holdout_share) / sent_or_held) ** 0.5
            assert abs(share - campaign.holdout_share) <= tolerance, (campaign_id, counts)


def test_eligibility_is_every_rule_of_the_campaign(tmp_path: Path) -> None:
    """Each operator on each kind of audience column, alone and two together, as the catalog
    compiles them into SQL (macros/campaign_rules.sql): a decision row for exactly the pairs
    whose every rule holds, evaluated here in Python. A null never meets a rule."""
    single = [
        Rule(1, "segment", "in", ",voice_biased,unclassified,", None, "segment_in"),
        Rule(1, "segment", "not in", ",voice_biased,unclassified,", None, "segment_not_in"),
        Rule(1, "segment", "=", "data_driven_new", None, "segment_is"),
        Rule(1, "segment", "!=", "data_driven_new", None, "segment_is_not"),
        Rule(1, "is_low_activity", "=", None, 1.0, "low_activity"),
        Rule(1, "is_low_activity", "!=", None, 1.0, "not_low_activity"),
        *(Rule(1, "churn_risk_score", op, None, 30.0, "risk") for op in RULE_OPERATORS),
        Rule(1, "days_since_last_activity", "<=", None, 10.0, "recently_active"),
    ]
    combined = (
        Rule(1, "segment", "in", ",voice_biased,high_value_long_tenure,", None, "segment_in"),
        Rule(2, "churn_risk_score", ">=", None, 30.0, "risk"),
    )
    campaigns = tuple(
        Campaign(
            id=f"campaign_{number:02d}",
            name=f"campaign {number}",
            kind="service",
            channel="sms",
            offer_code=f"OFFER_{number}",
            offer_product=None,
            priority=0,
            expected_value=0.0,
            holdout_share=0.0,
            cooldown_days=0,
            daily_capacity=1000,
            active_from=dt.date(2026, 1, 1),
            active_to=None,
            rules=rules,
        )
        for number, rules in enumerate([*((rule,) for rule in single), combined])
    )
    policy = Policy(
        marketing_cap_7_days=2,
        marketing_cap_30_days=4,
        holdout_salt="salt",
        conversion_window_days=14,
        inactive_after_days=30,
    )
    catalog = Catalog(path=Path("generated"), version="generated", policy=policy, campaigns=campaigns)
    subscribers = [
        Subscriber(
            subscriber_id=f"S{number:08d}",
            segment=SEGMENTS[number % len(SEGMENTS)],
            churn_risk_score=number,  # 0..59: below, at and above the 30 of the rules
            is_low_activity=number % 3 == 0,
            has_valid_contact_number=True,
            status="active",
            days_since_last_activity=None if number % 4 == 0 else number % 20,
            open_complaints=0,
            holds_broadband=False,
            holds_content_pack=False,
        )
        for number in range(60)
    ]
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        build_world(con, catalog, subscribers)
    run_decisions(warehouse, tmp_path / "target")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        decided = {(s, c) for s, c, *_ in decisions(con)}

    for campaign in campaigns:
        expected = {s.subscriber_id for s in subscribers if all(meets(s, rule) for rule in campaign.rules)}
        assert 0 < len(expected) < len(subscribers), f"{campaign.id}: the case decides nothing"
        assert {s for s, c in decided if c == campaign.id} == expected, campaign.rules


# ------------------------------------------------------------------ across days: late files, reruns, reissues

DAYS = [DAY + dt.timedelta(days=n) for n in range(5)]


def add_audience_day(con: duckdb.DuckDBPyConnection, subscribers: list[Subscriber], day: dt.date) -> None:
    """The same subscribers as the audience of another decision day."""
    con.execute(
        f"insert into marts.{AUDIENCE_MODEL} select * replace (cast(? as date) as decision_date) "
        f"from marts.{AUDIENCE_MODEL} where decision_date = ?",
        [day, DAY],
    )


def late_opt_outs(con: duckdb.DuckDBPyConnection, subscriber_ids: list[str], effective: dt.date) -> None:
    """Opt-outs of every channel, effective on ``effective``, delivered late (today)."""
    lineage = [f"late_{effective}.csv", 1, DAYS[-1], "late-load", dt.datetime(2026, 3, 20, 23)]
    con.executemany(
        "insert into raw.opt_outs values (?, 'all', true, false, ?, ?, ?, ?, ?, ?)",
        [[s, dt.datetime.combine(effective, dt.time(7)), *lineage] for s in subscriber_ids],
    )


def decide_and_publish(dbt: InProcessDbt, day: dt.date, run_id: str) -> None:
    """The decision models for ``day`` (dbt in-process, parsed once), then the real publish."""
    dbt(["run", "--select", *DECISION_MODELS], {"run_date": day.isoformat()})
    publish_day(day, run_id=run_id, require_gate=False)


@settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(catalog=catalogs(), subscribers=subscribers_strategy(), late_share=st.sampled_from((0.2, 0.5)))
def test_the_policy_holds_across_every_published_day_through_late_files_reruns_and_reissues(
    catalog: Catalog,
    subscribers: list[Subscriber],
    late_share: float,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch,
) -> None:
    """Five decision days, published in order; the third rerun after the fourth (published days
    are history: nothing changes); a late opt-out file for the first day lands after the
    fourth; the second day is reissued after later days were published, and a fifth decided.
    Every property is checked over every published day of the outbox together."""
    from telco_mart.campaigns.publish import reissue_day

    work = tmp_path_factory.mktemp("policy_days")
    warehouse = work / "warehouse.duckdb"
    for number, s in enumerate(subscribers):
        s.subscriber_id = f"S{number:08d}"
    # the same channel for a service and a sales campaign, so that they meet on one subscriber
    if len({c.kind for c in catalog.campaigns}) == 2:
        service = next(c for c in catalog.campaigns if c.kind == "service")
        catalog = dataclasses.replace(
            catalog,
            campaigns=tuple(
                c.model_copy(update={"channel": service.channel})
                if c.kind == "sales" and c is catalog.campaigns[-1]
                else c
                for c in catalog.campaigns
            ),
        )
    with duckdb.connect(str(warehouse)) as con:
        build_world(con, catalog, subscribers)
        for day in DAYS[1:]:
            add_audience_day(con, subscribers, day)
    monkeypatch.setenv("TELCO_MART_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("TELCO_MART_OUTBOX_DIR", str(work / "outbox"))
    dbt = InProcessDbt(warehouse, work / "target")

    known_late: dict[dt.date, set[str]] = {}  # decision day -> late opt-outs known when it was decided
    for day in DAYS[:4]:
        decide_and_publish(dbt, day, f"first-{day}")
        known_late[day] = set()
    before = {p.name: p.read_bytes() for p in sorted((work / "outbox" / DAYS[2].isoformat()).iterdir())}
    decide_and_publish(dbt, DAYS[2], "rerun")  # a published day is not rewritten
    assert {p.name: p.read_bytes() for p in sorted((work / "outbox" / DAYS[2].isoformat()).iterdir())} == before

    late = sorted(s.subscriber_id for s in subscribers)[: int(len(subscribers) * late_share)]
    with duckdb.connect(str(warehouse)) as con:
        late_opt_outs(con, late, DAYS[0])
    reissue_day(DAYS[1], "test", "late opt-out file for the first day")
    decide_and_publish(dbt, DAYS[1], "reissued")
    decide_and_publish(dbt, DAYS[4], "fifth")
    known_late[DAYS[1]] = known_late[DAYS[4]] = set(late)

    published = []
    for day in DAYS:
        folder = work / "outbox" / day.isoformat()
        for path in sorted(folder.glob("*.csv")):
            published += [(day, r) for r in csv.DictReader(io.StringIO(path.read_text()))]
    assert all((work / "outbox" / day.isoformat() / "_SUCCESS").exists() for day in DAYS)
    by_id = {s.subscriber_id: s for s in subscribers}
    policy = catalog.policy

    per_channel: Counter[tuple] = Counter()
    sales_per_day: Counter[tuple] = Counter()
    sends: dict[tuple[str, str], list[dt.date]] = defaultdict(list)
    sales_days: dict[str, list[dt.date]] = defaultdict(list)
    for day, row in published:
        s, campaign = by_id[row["subscriber_id"]], catalog.campaign(row["campaign_id"])
        where = f"{s.subscriber_id} in {campaign.id} on {day}"
        opted_out, dnd = preference_on_day(s, campaign.channel, day)  # preferences landed on time
        assert not opted_out and not dnd, f"{where}: opted out or do-not-disturb"
        assert s.subscriber_id not in known_late[day], f"{where}: opted out by a late file known when decided"
        per_channel[(day, s.subscriber_id, campaign.channel)] += 1
        sends[(s.subscriber_id, campaign.id)].append(day)
        if campaign.kind == "sales":
            sales_per_day[(day, s.subscriber_id)] += 1
            sales_days[s.subscriber_id].append(day)
    assert max(per_channel.values(), default=0) <= 1, "two contacts on one channel for one subscriber on one day"
    assert max(sales_per_day.values(), default=0) <= 1, "two sales contacts for one subscriber on one day"

    for (subscriber_id, campaign_id), days in sends.items():
        campaign = catalog.campaign(campaign_id)
        feed_days = [
            DAY + dt.timedelta(days=offset)
            for index, _kind, offset, source in by_id[subscriber_id].contacts
            if source == "feed" and 0 <= index < len(catalog.campaigns) and catalog.campaigns[index].id == campaign_id
        ]
        touches = sorted(days)
        for i, day in enumerate(touches):
            others = touches[:i] + touches[i + 1 :] + feed_days
            assert all(abs((day - other).days) >= campaign.cooldown_days for other in others), (
                f"{subscriber_id} in {campaign_id}: contacts on {touches} (feed {feed_days}) break a "
                f"{campaign.cooldown_days}-day cool-down"
            )
    published_sales = {
        (row["subscriber_id"], row["campaign_id"], day)
        for day, row in published
        if catalog.campaign(row["campaign_id"]).kind == "sales"
    }
    for subscriber_id, days in sales_days.items():
        # every sales contact counted once per campaign and day, the feed's and the outbox's
        counted = {(c, d) for s, c, d in published_sales if s == subscriber_id} | {
            (campaign_id, DAY + dt.timedelta(days=offset))
            for campaign_id, kind, offset in all_feed_contacts(by_id[subscriber_id], catalog)
            if kind == "sales"
        }
        for day in days:  # every 7 (30) day window holding a published sales contact
            for span, cap in ((7, policy.marketing_cap_7_days), (30, policy.marketing_cap_30_days)):
                for first in (day - dt.timedelta(days=k) for k in range(span)):
                    last = first + dt.timedelta(days=span - 1)
                    in_window = sum(1 for _, d in counted if first <= d <= last)
                    assert in_window <= cap, f"{subscriber_id}: {in_window} sales contacts in {first}..{last}"


def test_a_day_whose_publish_was_refused_cools_down_neither_group(tmp_path: Path, monkeypatch) -> None:
    """A decided day that was never published sent nobody: neither its targeted nor its control
    rows start the cool-down, so the next day decides the same people the same way (the holdout
    hash is the subscriber's). Found on a 90-day run: the control rows alone cooled down, the
    next days' control groups shrank to a few percent, and the publish gate refused every day
    after. A published day cools down both groups."""
    catalog = Catalog(
        path=Path("generated"),
        version="generated",
        policy=Policy(
            marketing_cap_7_days=5,
            marketing_cap_30_days=10,
            holdout_salt="c0ffee",
            conversion_window_days=14,
            inactive_after_days=30,
        ),
        campaigns=(
            Campaign(
                id="campaign_0",
                name="campaign 0",
                kind="sales",
                channel="sms",
                offer_code="OFFER_0",
                priority=10,
                expected_value=1.0,
                holdout_share=0.5,
                cooldown_days=7,
                daily_capacity=1000,
                active_from=dt.date(2026, 1, 1),
                active_to=None,
                rules=(Rule(1, "open_complaints", ">=", None, 0.0, "everyone"),),
            ),
        ),
    )
    subscribers = [
        Subscriber(f"S{n:08d}", "voice_biased", 10, False, True, "active", 1, 0, False, False) for n in range(60)
    ]
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        build_world(con, catalog, subscribers)
        for day in DAYS[1:3]:
            add_audience_day(con, subscribers, day)
    monkeypatch.setenv("TELCO_MART_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("TELCO_MART_OUTBOX_DIR", str(tmp_path / "outbox"))
    dbt = InProcessDbt(warehouse, tmp_path / "target")

    def decided(day: dt.date) -> dict[str, str]:
        dbt(["run", "--select", *DECISION_MODELS], {"run_date": day.isoformat()})
        with duckdb.connect(str(warehouse), read_only=True) as con:
            rows = con.execute(
                "select subscriber_id, decision from marts.campaign_decisions_daily where decision_date = ?", [day]
            ).fetchall()
        return dict(rows)

    first = decided(DAYS[0])  # its publish refused: nothing published
    assert set(first.values()) == {"targeted", "control"} and len(first) == len(subscribers)
    assert decided(DAYS[1]) == first  # neither group cooled down by the unpublished day
    publish_day(DAYS[1], run_id="published", require_gate=False)
    assert set(decided(DAYS[2]).values()) == {"suppressed:cooldown"}  # both groups cooled down
