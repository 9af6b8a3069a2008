"""Day-by-day feeds drawn fresh each day: usage, top-ups, bills, contact history, periodic NPS.

These are the large feeds, so each day is drawn from its own generator and written before
the next, and only the day's rows are ever in memory (of usage, only a block of the day's
subscribers: see ``USAGE_BLOCK_SUBSCRIBERS``). Every draw is a numpy operation over the day's
active subscribers or events; nothing loops over rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from telco_mart.generate.common import (
    DAYS_PER_MONTH,
    dates,
    fixed_ids,
    labels,
    pick,
    pick_rows,
    rng_for,
    seconds_in_day,
    timestamps,
    to_date,
)
from telco_mart.generate.lifecycle import ALL_CHANNELS, OptOutState, nps_scores
from telco_mart.generate.network import Network
from telco_mart.generate.population import Behaviour, Population, group_values
from telco_mart.generate.products import (
    BUNDLE_SHARE,
    CALL_TYPE_WEIGHTS,
    CALL_TYPES,
    CONTACT_CHANNELS,
    CONTACT_RESPONSES,
    DATA_RATE_PER_MB,
    DATA_SESSION_MEAN_SEC,
    EVENT_TYPES,
    HOURS_BUSINESS,
    HOURS_DATA,
    HOURS_NIGHT,
    HOURS_VOICE,
    LEGACY_CAMPAIGNS,
    NIGHT_DATA_FACTOR,
    NPS_TOUCHPOINTS,
    PLAN_CATEGORY,
    PLAN_FEES,
    RECHARGE_CHANNEL_WEIGHTS,
    RECHARGE_CHANNELS,
    RECHARGE_DENOMINATIONS,
    SMS_RATE,
    VOICE_RATE_PER_MIN,
    WEEKDAY_FACTOR,
)
from telco_mart.generate.settings import GeneratorSettings

CAMPAIGN_KINDS = ("sales", "service")


@dataclass
class DayState:
    """What every feed of one day needs to know about the population on that day."""

    day: int
    stamp: str
    active: np.ndarray
    decline: np.ndarray
    plan: np.ndarray
    #: Each line's group that day, and how it behaves in it (moves applied).
    behaviour: Behaviour

    @classmethod
    def of(cls, population: Population, day: int) -> DayState:
        return cls(
            day=day,
            stamp=to_date(day).strftime("%Y%m%d"),
            active=population.active(day),
            decline=population.decline(day),
            plan=population.plan_on(day),
            behaviour=population.behaviour_on(day),
        )


#: Active subscribers whose usage is drawn, held and written at a time. A province's day
#: (10 million subscribers, some 90 million events) does not fit in 24 GiB as one table: the
#: generator was killed at 23 GiB. A block of 2 million subscribers (about 20 million events)
#: takes a few GiB. A day with no more active subscribers than this is drawn in one block,
#: into one file, exactly as before blocks existed.
USAGE_BLOCK_SUBSCRIBERS = 2_000_000


@dataclass
class Usage:
    table: pa.Table
    #: Row number of each event's subscriber and its rated amount, for the monthly bill.
    subscriber: np.ndarray
    charged: np.ndarray
    #: File name suffix of this block ("" when the day is one block, else "part01", ...).
    part: str = ""


def usage_blocks(
    population: Population,
    state: DayState,
    seed: int,
    events_per_sub_day: float,
    block_subscribers: int = USAGE_BLOCK_SUBSCRIBERS,
) -> Iterator[Usage]:
    """Voice, SMS and data records of the day's active subscribers, a block of them at a time.

    Per-subscriber Poisson rates are rescaled over the whole day (not the block) so the day's
    mean per active subscriber is ``events_per_sub_day`` (times the weekday factor); churners'
    rates fall with their decline. Each block's events are in time order, and event ids run
    on from one block to the next, so they stay unique within the day. Mediation platforms
    deliver a day in several files in just this way.
    """
    if block_subscribers < 1:
        raise ValueError(f"block_subscribers must be at least 1, not {block_subscribers}")
    rng = rng_for(seed, state.day, "usage")
    active = np.flatnonzero(state.active)
    weight = state.behaviour.activity[active] * state.decline[active]
    scale = events_per_sub_day * WEEKDAY_FACTOR[(state.day + 3) % 7] / weight.mean() if len(active) else 0.0
    blocks = max(1, -(-len(active) // block_subscribers))
    next_event_id = 1
    for k in range(blocks):
        chunk = slice(k * block_subscribers, (k + 1) * block_subscribers)
        sub = np.repeat(active[chunk], rng.poisson(weight[chunk] * scale))
        usage = _usage_of(population, state, rng, sub, next_event_id)
        usage.part = f"part{k + 1:02d}" if blocks > 1 else ""
        next_event_id += len(sub)
        yield usage


def _usage_of(
    population: Population, state: DayState, rng: np.random.Generator, sub: np.ndarray, first_id: int
) -> Usage:
    """The events of ``sub`` (one entry per event, its subscriber's row number), priced."""
    pop = population
    n = len(sub)
    group = state.behaviour.group[sub]
    mix = state.behaviour.mix[sub]

    u = rng.random(n)
    event_type = (u >= mix[:, 0]).astype(np.int8) + (u >= mix[:, 0] + mix[:, 1])
    voice, sms, data = event_type == 0, event_type == 1, event_type == 2
    night = data & (rng.random(n) < group_values("night_data_share")[group])

    seconds = np.empty(n, dtype=np.int64)
    for profile, mask in ((HOURS_VOICE, ~data), (HOURS_DATA, data & ~night), (HOURS_NIGHT, night)):
        seconds[mask] = seconds_in_day(rng, np.full(int(mask.sum()), state.day), profile)

    sigma = 0.9
    mean_sec = np.where(voice, group_values("voice_mean_sec")[group], DATA_SESSION_MEAN_SEC)
    duration = np.maximum(1, np.rint(mean_sec * rng.lognormal(-(sigma**2) / 2, sigma, n))).astype(np.int64)
    megabytes = group_values("data_mean_mb")[group] * np.where(night, NIGHT_DATA_FACTOR, 1.0)
    megabytes = np.maximum(0.001, np.round(megabytes * rng.lognormal(-0.5, 1.0, n), 3))
    call_type = pick_rows(rng, CALL_TYPE_WEIGHTS, pop.traveller[sub].astype(np.int16))
    slot = np.searchsorted([0.7, 0.8, 0.9], rng.random(n), side="right")
    cell = pop.cells[sub, slot]

    bundled = rng.random(n) < BUNDLE_SHARE[PLAN_CATEGORY[state.plan[sub]], event_type]
    list_price = np.select(
        [voice, sms],
        [np.ceil(duration / 60) * VOICE_RATE_PER_MIN[call_type], SMS_RATE[call_type]],
        megabytes * DATA_RATE_PER_MB,
    )
    charged = np.round(list_price * group_values("price_multiplier")[group] * ~bundled, 2)

    order = np.argsort(seconds, kind="stable")
    sub, charged = sub[order], charged[order]
    voice, sms, data = voice[order], sms[order], data[order]
    table = pa.table(
        {
            "event_id": fixed_ids(f"EV{state.stamp}", np.arange(first_id, first_id + n), 9),
            "subscriber_id": pop.subscriber_ids(sub),
            "event_ts": timestamps(seconds[order]),
            "event_type": labels(EVENT_TYPES, event_type[order]),
            "call_type": labels(CALL_TYPES, call_type[order], null=data),
            "duration_sec": pa.array(duration[order], pa.int64(), mask=sms),
            "data_mb": pa.array(megabytes[order], pa.float64(), mask=~data),
            "cell_id": fixed_ids("C", cell[order] + 1, 6),
            "charged_amount": charged,
        }
    )
    return Usage(table, sub, charged)


def recharge_rows(population: Population, state: DayState, seed: int) -> pa.Table:
    """Prepaid top-ups sized so a month of them matches the subscriber's expected spend.

    A churner tops up less often and smaller amounts as the decline deepens, so the spend
    signal falls faster than usage alone.
    """
    pop = population
    rng = rng_for(seed, state.day, "recharges")
    behaviour = state.behaviour
    eligible = np.flatnonzero(state.active & ~behaviour.postpaid)
    per_month = group_values("recharges_per_month")[behaviour.group[eligible]]
    sub = np.repeat(eligible, rng.poisson(per_month / DAYS_PER_MONTH * np.sqrt(state.decline[eligible])))
    n = len(sub)
    wanted = (
        behaviour.monthly_spend[sub]
        * state.decline[sub]
        / group_values("recharges_per_month")[behaviour.group[sub]]
        * rng.lognormal(-0.02, 0.2, n)
    )
    above = np.clip(np.searchsorted(RECHARGE_DENOMINATIONS, wanted), 1, len(RECHARGE_DENOMINATIONS) - 1)
    below = above - 1
    nearest = np.where(wanted - RECHARGE_DENOMINATIONS[below] < RECHARGE_DENOMINATIONS[above] - wanted, below, above)
    at = seconds_in_day(rng, np.full(n, state.day), HOURS_BUSINESS)
    channel = pick(rng, RECHARGE_CHANNEL_WEIGHTS, n)
    order = np.argsort(at, kind="stable")
    return pa.table(
        {
            "recharge_id": fixed_ids(f"RC{state.stamp}", np.arange(1, n + 1), 7),
            "subscriber_id": pop.subscriber_ids(sub[order]),
            "recharge_ts": timestamps(at[order]),
            "amount": RECHARGE_DENOMINATIONS[nearest[order]],
            "channel": labels(RECHARGE_CHANNELS, channel[order]),
        }
    )


def bill_rows(
    population: Population, month_start: int, month_end: int, issue_day: int, usage_total: np.ndarray
) -> pa.Table:
    """Postpaid bills for one month: the plan fee at the month's end (or churn) plus the
    out-of-bundle usage rated during the month. A line's payment type changes only when it
    moves on, on a month's first day, so it is postpaid all month or not at all."""
    pop = population
    in_month = np.flatnonzero((pop.activation_day <= month_end) & (pop.churn_day > month_start))
    subs = in_month[pop.postpaid_at(in_month, month_end)]
    last_day = np.minimum(pop.churn_day[subs] - 1, month_end)
    recurring = PLAN_FEES[pop.plan_as_of(subs, last_day)]
    usage = np.round(usage_total[subs], 2)
    return pa.table(
        {
            "bill_id": fixed_ids(f"BL{to_date(month_start).strftime('%Y%m')}", subs + 1, 8),
            "subscriber_id": pop.subscriber_ids(subs),
            "bill_month": dates(np.full(len(subs), month_start)),
            "issue_date": dates(np.full(len(subs), issue_day)),
            "amount_due": np.round(recurring + usage, 2),
            "recurring_amount": recurring,
            "usage_amount": usage,
        }
    )


def contact_rows(
    population: Population, opt_outs: OptOutState, day: int, seed: int, settings: GeneratorSettings
) -> pa.Table:
    """The operator's own (pre-warehouse) campaign contacts made on ``day``, with responses.

    Sales contacts skip subscribers who had opted out of the channel (or of all) by then.
    """
    pop = population
    rng = rng_for(seed, day, "contacts")
    eligible = np.flatnonzero(pop.active(day))
    sub = eligible[rng.random(len(eligible)) < settings.monthly_legacy_contacts / DAYS_PER_MONTH]
    campaign = pick(rng, [c.weight for c in LEGACY_CAMPAIGNS], len(sub))
    channel = np.array([CONTACT_CHANNELS.index(c.channel) for c in LEGACY_CAMPAIGNS])[campaign]
    kind = np.array([CAMPAIGN_KINDS.index(c.kind) for c in LEGACY_CAMPAIGNS])[campaign]
    blocked = (
        (kind == 0)
        & (opt_outs.day[sub] <= day)
        & ((opt_outs.channel[sub] == channel) | (opt_outs.channel[sub] == ALL_CHANNELS))
    )
    sub, campaign, channel, kind = sub[~blocked], campaign[~blocked], channel[~blocked], kind[~blocked]
    n = len(sub)
    at = seconds_in_day(rng, np.full(n, day), HOURS_BUSINESS)

    accept = np.array([c.accept_rate for c in LEGACY_CAMPAIGNS])[campaign]
    decline = np.array([c.decline_rate for c in LEGACY_CAMPAIGNS])[campaign]
    u = rng.random(n)
    complain = np.where(kind == 0, 0.01, 0.0)
    response = np.select([u < accept, u < accept + decline, u < accept + decline + complain], [1, 2, 3], 0)
    unknown = rng.random(n) < 0.05
    answered = (response > 0) & ~unknown
    response_at = at + rng.exponential(3 * 3600, n).astype(np.int64) + 60

    order = np.argsort(at, kind="stable")
    return pa.table(
        {
            "contact_id": fixed_ids(f"CH{to_date(day).strftime('%Y%m%d')}", np.arange(1, n + 1), 7),
            "subscriber_id": pop.subscriber_ids(sub[order]),
            "campaign_id": labels([c.campaign_id for c in LEGACY_CAMPAIGNS], campaign[order]),
            "campaign_kind": labels(CAMPAIGN_KINDS, kind[order]),
            "channel": labels(CONTACT_CHANNELS, channel[order]),
            "contacted_at": timestamps(at[order]),
            "response": labels(CONTACT_RESPONSES, response[order], null=unknown[order]),
            "response_at": timestamps(response_at[order], null=~answered[order]),
        }
    )


def periodic_nps_rows(
    population: Population, network: Network, state: DayState, seed: int, settings: GeneratorSettings
) -> pa.Table:
    """The rolling survey: a random slice of active subscribers answers each day.

    Scores fall with a churner's decline and while the home cell is degraded.
    """
    pop = population
    rng = rng_for(seed, state.day, "nps")
    eligible = np.flatnonzero(state.active)
    sub = eligible[rng.random(len(eligible)) < settings.monthly_nps_responses / DAYS_PER_MONTH]
    declining = pop.decline_from[sub] <= state.day
    degraded = network.degraded_on(state.day)[pop.cells[sub, 0]]
    mean = (
        group_values("nps_mean")[state.behaviour.group[sub]]
        - np.where(declining, 1.0 + 3.0 * (1 - state.decline[sub]) / pop.decline_depth, 0.0)
        - 2.5 * degraded
    )
    at = seconds_in_day(rng, np.full(len(sub), state.day), HOURS_BUSINESS)
    order = np.argsort(at, kind="stable")
    return pa.table(
        {
            "response_id": fixed_ids(f"NPS{state.stamp}", np.arange(1, len(sub) + 1), 7),
            "subscriber_id": pop.subscriber_ids(sub[order]),
            "responded_at": timestamps(at[order]),
            "score": nps_scores(rng, mean[order]),
            "touchpoint": labels(NPS_TOUCHPOINTS, np.zeros(len(sub), dtype=np.int8)),
        }
    )
