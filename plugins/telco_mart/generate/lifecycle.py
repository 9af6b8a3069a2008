"""Change feeds whose rows follow a story over days: CRM, broadband, VAS, complaints, opt-outs, surveys.

A complaint is opened, then resolved and closed days later; a broadband contract is renewed
or expires at its end date. Each story is drawn once for the whole window, vectorised, as
rows tagged with the day they are delivered; the day loop only slices out its rows. These
feeds are small (a few rows per hundred subscribers a day), so holding the window's rows
costs little, unlike usage, which is drawn day by day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from telco_mart.generate.common import (
    DAYS_PER_MONTH,
    NEVER,
    SECONDS_PER_DAY,
    dates,
    fixed_ids,
    labels,
    pick,
    pick_rows,
    rng_for,
    seconds_in_day,
    timestamps,
    uniform_days,
)
from telco_mart.generate.dynamics import HIGH_VALUE
from telco_mart.generate.network import Network
from telco_mart.generate.population import GENDERS, Population, group_values
from telco_mart.generate.products import (
    BROADBAND_FEES,
    BROADBAND_OUTCOMES,
    BROADBAND_SPEED_WEIGHTS,
    BROADBAND_SPEEDS,
    BROADBAND_TERMS_DAYS,
    COMPLAINT_CATEGORIES,
    COMPLAINT_CHANNEL_WEIGHTS,
    COMPLAINT_CHANNELS,
    COMPLAINT_STATUSES,
    COMPLAINT_WEIGHTS_BASE,
    COMPLAINT_WEIGHTS_CHURNER,
    FIRST_NAMES,
    HOURS_BUSINESS,
    LAST_NAMES,
    NPS_TOUCHPOINTS,
    OPT_OUT_CHANNEL_WEIGHTS,
    OPT_OUT_CHANNELS,
    PLAN_CATEGORIES,
    PLAN_CATEGORY,
    PLANS,
    REGION_NAMES,
    VAS_FEES,
    VAS_FIXED_TERM_DAYS,
    VAS_SERVICES,
)
from telco_mart.generate.settings import GeneratorSettings

HOUR = 3600
BROADBAND_STATUSES = ("active", "renewed", "expired", "cancelled")
SUBSCRIBER_STATUSES = ("active", "suspended", "churned")
PAYMENT_TYPES = ("prepaid", "postpaid")
ALL_CHANNELS = OPT_OUT_CHANNELS.index("all")


class ChangeLog:
    """A window's rows of one feed, each tagged with its delivery day, sliced day by day."""

    def __init__(self, table: pa.Table, day: np.ndarray) -> None:
        order = np.argsort(day, kind="stable")
        self._table = table.take(pa.array(order))
        self._day = np.asarray(day)[order]

    def rows_on(self, day: int) -> pa.Table:
        low, high = np.searchsorted(self._day, [day, day + 1])
        return self._table.slice(low, high - low)


@dataclass
class Purchases:
    """New broadband contracts and VAS subscriptions: who bought what when (after-purchase surveys)."""

    subscriber: np.ndarray
    day: np.ndarray


@dataclass
class OptOutState:
    """Each subscriber's standing opt-out from the first delivery: channel code (-1 none) and day.

    Legacy campaigns in contact history respect these, as the operator's old tooling did.
    """

    channel: np.ndarray
    day: np.ndarray


def household_ids(population: Population, rows: np.ndarray) -> pa.Array:
    ids = fixed_ids("H", population.household[rows] + 1, 8)
    return pc.if_else(pa.array(population.household_known[rows]), ids, pa.scalar(None, pa.string()))


def subscriber_rows(population: Population, day: int, first_day: bool, seed: int) -> pa.Table:
    """The whole base on the first delivery, then one row per subscriber changed that day.

    Several changes on one day (a plan change and a porting request, say) collapse into one
    row carrying the state at the end of the day, as a CRM extract of changed records would.
    """
    pop = population
    rng = rng_for(seed, day, "subscribers")
    port_day = np.where(pop.port_at >= 0, pop.port_at // SECONDS_PER_DAY, NEVER)
    if first_day:
        rows = np.flatnonzero(pop.activation_day <= day)
        updated = seconds_in_day(rng, pop.activation_day[rows], HOURS_BUSINESS)
    else:
        changed = (pop.activation_day == day) | (port_day == day) | (pop.churn_day == day)
        changed[pop.plan_changed_on(day)] = True
        rows = np.flatnonzero(changed)
        updated = np.where(
            port_day[rows] == day,
            pop.port_at[rows],
            seconds_in_day(rng, np.full(len(rows), day), HOURS_BUSINESS),
        )
    churned = pop.churn_day[rows] <= day
    ported = port_day[rows] <= day
    return pa.table(
        {
            "subscriber_id": pop.subscriber_ids(rows),
            "msisdn": fixed_ids("+2547", pop.msisdn[rows], 8),
            "account_id": fixed_ids("A", pop.household[rows] + 1, 8),
            "household_id": household_ids(pop, rows),
            "full_name": pc.binary_join_element_wise(
                labels(FIRST_NAMES, pop.first_name[rows]), labels(LAST_NAMES, pop.last_name[rows]), " "
            ),
            "id_number": fixed_ids("", pop.id_number[rows], 8),
            "birth_date": dates(pop.birth_day[rows]),
            "gender": labels(GENDERS, pop.gender[rows]),
            "region": labels(REGION_NAMES, pop.region[rows]),
            "plan_id": labels([p.plan_id for p in PLANS], pop.plan_on(day)[rows]),
            "payment_type": labels(PAYMENT_TYPES, pop.postpaid_at(rows, day).astype(np.int8)),
            "activation_date": dates(pop.activation_day[rows]),
            "status": labels(SUBSCRIBER_STATUSES, np.where(churned, 2, 0)),
            "status_date": dates(np.where(churned, pop.churn_day[rows], pop.activation_day[rows])),
            "port_out_requested_at": timestamps(np.maximum(pop.port_at[rows], 0), null=~ported),
            "contact_number_valid": pop.contact_valid[rows],
            "updated_at": timestamps(updated),
        }
    )


def broadband_log(
    population: Population, start: int, end: int, seed: int, settings: GeneratorSettings
) -> tuple[ChangeLog, np.ndarray, Purchases]:
    """Contracts held at the start and bought later, then renewed, expired or cancelled.

    End dates of existing contracts spread over the next 18 months, so renewals fall both
    inside and after the window (the renewal campaign needs contracts near expiry on any
    day). Churners cancel on their churn date. Returns the log, who held broadband at the
    start, and the purchases.
    """
    pop = population
    rng = rng_for(seed, 0, "broadband")
    window = end - start + 1
    base = np.arange(pop.n_base)
    family = PLAN_CATEGORY[pop.plan[base]] == PLAN_CATEGORIES.index("family")
    holders = base[rng.random(pop.n_base) < group_values("broadband_share")[pop.group[base]] + 0.3 * family]
    has_broadband = np.zeros(pop.size, dtype=bool)
    has_broadband[holders] = True

    candidates = np.flatnonzero(~has_broadband)
    weights = group_values("broadband_uptake_weight")[pop.group[candidates]]
    n_new = int(rng.poisson(pop.n_base * settings.monthly_new_broadband * (window - 1) / DAYS_PER_MONTH))
    buyers = (
        np.unique(rng.choice(candidates, n_new, p=weights / weights.sum()))
        if n_new and len(candidates)
        else np.zeros(0, dtype=np.int64)
    )
    buy_day, valid = uniform_days(
        rng, np.maximum(pop.activation_day[buyers], start) + 1, np.minimum(pop.churn_day[buyers] - 1, end)
    )
    buyers, buy_day = buyers[valid], buy_day[valid]

    sub = np.concatenate([holders, buyers])
    k = len(sub)
    term = BROADBAND_TERMS_DAYS[rng.integers(0, len(BROADBAND_TERMS_DAYS), k)]
    existing_end = start + 1 + np.floor(rng.random(len(holders)) * 540).astype(np.int64)
    contract_end = np.concatenate([existing_end, buy_day + term[len(holders) :] - 1])
    contract_start = np.concatenate([existing_end - term[: len(holders)] + 1, buy_day])
    speed = pick_rows(rng, BROADBAND_SPEED_WEIGHTS, (pop.group[sub] == HIGH_VALUE).astype(np.int16))
    first_day = np.concatenate([np.full(len(holders), start), buy_day])
    first_updated = np.concatenate(
        [
            seconds_in_day(rng, contract_start[: len(holders)], HOURS_BUSINESS),
            seconds_in_day(rng, buy_day, HOURS_BUSINESS),
        ]
    )

    rows = [(np.arange(k), contract_start, contract_end, np.zeros(k, np.int8), first_updated, first_day)]
    pending = np.arange(k)
    last_day = first_day.astype(np.int64)
    begin, finish = contract_start.astype(np.int64), contract_end.astype(np.int64)
    while len(pending):
        s, e, last = begin[pending], finish[pending], last_day[pending]
        churn = pop.churn_day[sub[pending]].astype(np.int64)
        u = rng.random(len(pending))
        churn_cancel = churn <= e
        renew = ~churn_cancel & (u < BROADBAND_OUTCOMES[0])
        expire = ~churn_cancel & ~renew & (u < BROADBAND_OUTCOMES[0] + BROADBAND_OUTCOMES[1])
        early, _ = uniform_days(rng, np.maximum(s, start) + 1, e)
        day = np.select(
            [churn_cancel, renew, expire],
            [churn, e - rng.integers(0, 31, len(pending)), e + 1],
            early,
        )
        day = np.maximum(day, last + 1)
        status = np.select([renew, expire], [1, 2], 3).astype(np.int8)
        delivered = day <= end
        new_start = np.where(renew, e + 1, s)
        new_end = np.where(renew, e + term[pending], e)
        rows.append(
            (
                pending[delivered],
                new_start[delivered],
                new_end[delivered],
                status[delivered],
                seconds_in_day(rng, day[delivered], HOURS_BUSINESS),
                day[delivered],
            )
        )
        again = delivered & renew
        begin[pending[again]], finish[pending[again]] = new_start[again], new_end[again]
        last_day[pending[again]] = day[again]
        pending = pending[again]

    contract, row_start, row_end, status, updated, day = (np.concatenate(parts) for parts in zip(*rows, strict=True))
    holder = sub[contract]
    table = pa.table(
        {
            "contract_id": fixed_ids("BB", contract + 1, 7),
            "subscriber_id": pop.subscriber_ids(holder),
            "household_id": household_ids(pop, holder),
            "start_date": dates(row_start),
            "end_date": dates(row_end),
            "speed_mbps": BROADBAND_SPEEDS[speed[contract]],
            "monthly_fee": BROADBAND_FEES[speed[contract]],
            "status": labels(BROADBAND_STATUSES, status),
            "updated_at": timestamps(updated),
        }
    )
    return ChangeLog(table, day), has_broadband, Purchases(buyers, buy_day)


def vas_log(
    population: Population, start: int, end: int, seed: int, settings: GeneratorSettings
) -> tuple[ChangeLog, Purchases]:
    """Value-added services held at the start, new subscriptions, and endings (churners' on churn)."""
    pop = population
    rng = rng_for(seed, 0, "vas")
    window = end - start + 1
    vas_weights = group_values("vas_weights")
    base = np.arange(pop.n_base)
    held = (rng.random(pop.n_base) < group_values("vas_share")[pop.group[base]]) * (1 + (rng.random(pop.n_base) < 0.35))
    existing = np.repeat(base, held)

    share = group_values("vas_share")[pop.group]
    n_new = int(rng.poisson(pop.n_base * settings.monthly_new_vas * (window - 1) / DAYS_PER_MONTH))
    buyers = rng.choice(pop.size, n_new, p=share / share.sum()) if n_new else np.zeros(0, dtype=np.int64)
    buy_day, valid = uniform_days(
        rng, np.maximum(pop.activation_day[buyers], start) + 1, np.minimum(pop.churn_day[buyers] - 1, end)
    )
    buyers, buy_day = buyers[valid], buy_day[valid]

    sub = np.concatenate([existing, buyers])
    k = len(sub)
    first_day = np.concatenate([np.full(len(existing), start), buy_day])
    service = pick_rows(rng, vas_weights, pop.group_at(sub, first_day).astype(np.int16))
    fixed_term = np.zeros(len(VAS_SERVICES), dtype=np.int64)
    for name, days in VAS_FIXED_TERM_DAYS.items():
        fixed_term[VAS_SERVICES.index(name)] = days
    term = fixed_term[service]
    # Fixed-term packs held at the start were bought within their term; others up to two years ago.
    existing_start = start - np.where(
        term[: len(existing)] > 0,
        np.floor(rng.random(len(existing)) * np.maximum(term[: len(existing)], 1)),
        rng.integers(10, 720, len(existing)),
    ).astype(np.int64)
    sub_start = np.concatenate([existing_start, buy_day])
    first_updated = seconds_in_day(rng, np.where(first_day == start, sub_start, first_day), HOURS_BUSINESS)
    fixed_end = np.where(term > 0, sub_start + term - 1, NEVER)

    ending_rate = 1 - np.exp(-settings.monthly_vas_endings * window / DAYS_PER_MONTH)
    ends_by_choice = (term == 0) & (rng.random(k) < ending_rate)
    chosen_end, valid = uniform_days(rng, first_day + 1, np.full(k, end))
    end_day = np.minimum(np.where(ends_by_choice & valid, chosen_end, NEVER), pop.churn_day[sub])
    end_day = np.where((term == 0) & (end_day > first_day) & (end_day <= end), end_day, NEVER)
    ends = np.flatnonzero(end_day < NEVER)

    index = np.concatenate([np.arange(k), ends])
    end_date = np.concatenate([fixed_end, end_day[ends]])
    updated = np.concatenate([first_updated, seconds_in_day(rng, end_day[ends], HOURS_BUSINESS)])
    day = np.concatenate([first_day, end_day[ends]])
    table = pa.table(
        {
            "vas_subscription_id": fixed_ids("VAS", index + 1, 8),
            "subscriber_id": pop.subscriber_ids(sub[index]),
            "service_code": labels(VAS_SERVICES, service[index]),
            "start_date": dates(sub_start[index]),
            "end_date": dates(end_date, null=end_date == NEVER),
            "monthly_fee": VAS_FEES[service[index]],
            "updated_at": timestamps(updated),
        }
    )
    return ChangeLog(table, day), Purchases(buyers, buy_day)


@dataclass
class Resolutions:
    """Complaints resolved within the window, for the after-care survey."""

    subscriber: np.ndarray
    resolved_at: np.ndarray
    network: np.ndarray


def complaints_log(
    population: Population, network: Network, start: int, end: int, seed: int, settings: GeneratorSettings
) -> tuple[ChangeLog, Resolutions]:
    """Tickets from three sources: everyone's background rate, churners during their decline,
    and subscribers whose home cell is degraded (category network, resolved after the repair).

    Each ticket is opened and then, over the following days, may move to in progress,
    resolved and closed; every move is a row delivered on the day it happens.
    """
    pop = population
    rng = rng_for(seed, 0, "complaints")
    low = np.maximum(pop.activation_day.astype(np.int64), start)
    high = np.minimum(pop.churn_day.astype(np.int64) - 1, end)
    home = pop.cells[:, 0]
    degraded_from = network.degraded_from[home].astype(np.int64)
    repaired_on = network.repaired_on[home].astype(np.int64)
    decline_span = np.maximum(pop.churn_day - pop.decline_from, 1)
    degraded_span = np.maximum(repaired_on - degraded_from, 1)
    sources = (
        (low, high, np.full(pop.size, settings.monthly_complaints / DAYS_PER_MONTH)),
        (np.maximum(low, pop.decline_from), high, settings.churner_complaints / decline_span),
        (
            np.maximum(low, degraded_from),
            np.minimum(high, repaired_on - 1),
            settings.degraded_home_complaints / degraded_span,
        ),
    )
    subs, days, kinds = [], [], []
    for kind, (first, last, rate) in enumerate(sources):
        counts = rng.poisson(rate * np.maximum(last - first + 1, 0))
        sub = np.repeat(np.arange(pop.size), counts)
        day, _ = uniform_days(rng, first[sub], last[sub])
        subs.append(sub)
        days.append(day)
        kinds.append(np.full(len(sub), kind, dtype=np.int8))
    sub, day, kind = np.concatenate(subs), np.concatenate(days), np.concatenate(kinds)
    opened = seconds_in_day(rng, day, HOURS_BUSINESS)
    order = np.argsort(opened, kind="stable")
    sub, kind, opened = sub[order], kind[order], opened[order]
    n = len(sub)

    category = np.select(
        [kind == 0, kind == 1],
        [pick(rng, COMPLAINT_WEIGHTS_BASE, n), pick(rng, COMPLAINT_WEIGHTS_CHURNER, n)],
        COMPLAINT_CATEGORIES.index("network"),
    )
    channel = pick(rng, COMPLAINT_CHANNEL_WEIGHTS, n)
    is_network = kind == 2
    repaired = repaired_on[sub]
    resolved_at = opened + rng.integers(4 * HOUR, 8 * SECONDS_PER_DAY, n)
    resolved_at = np.where(
        is_network,
        np.maximum(resolved_at, repaired * SECONDS_PER_DAY + rng.integers(HOUR, 10 * HOUR, n)),
        resolved_at,
    )
    resolved = rng.random(n) < 0.88
    in_progress = rng.random(n) < 0.5
    progressed_at = np.where(
        resolved,
        opened + ((resolved_at - opened) * rng.uniform(0.1, 0.6, n)).astype(np.int64),
        opened + rng.integers(HOUR, 36 * HOUR, n),
    )
    closed = resolved & (rng.random(n) < 0.8)
    closed_at = resolved_at + rng.integers(HOUR, 5 * SECONDS_PER_DAY, n)

    steps = (
        (np.ones(n, dtype=bool), opened, 0),
        (in_progress, progressed_at, 1),
        (resolved, resolved_at, 2),
        (closed, closed_at, 3),
    )
    index = np.concatenate([np.flatnonzero(mask) for mask, _, _ in steps])
    updated = np.concatenate([at[mask] for mask, at, _ in steps])
    status = np.concatenate([np.full(int(mask.sum()), code, dtype=np.int8) for mask, _, code in steps])
    delivered = updated // SECONDS_PER_DAY <= end
    index, updated, status = index[delivered], updated[delivered], status[delivered]
    table = pa.table(
        {
            "complaint_id": fixed_ids("CMP", index + 1, 8),
            "subscriber_id": pop.subscriber_ids(sub[index]),
            "opened_at": timestamps(opened[index]),
            "category": labels(COMPLAINT_CATEGORIES, category[index]),
            "channel": labels(COMPLAINT_CHANNELS, channel[index]),
            "status": labels(COMPLAINT_STATUSES, status),
            "closed_at": timestamps(closed_at[index], null=status != 3),
            "updated_at": timestamps(updated),
        }
    )
    done = resolved & (resolved_at // SECONDS_PER_DAY <= end)
    return ChangeLog(table, updated // SECONDS_PER_DAY), Resolutions(sub[done], resolved_at[done], is_network[done])


def opt_out_log(
    population: Population, start: int, end: int, seed: int, settings: GeneratorSettings
) -> tuple[ChangeLog, OptOutState]:
    """Standing opt-outs on the first delivery (some do-not-disturb, some from every channel),
    a few opt-back-ins, and a trickle of new opt-outs."""
    pop = population
    rng = rng_for(seed, 0, "opt_outs")
    window = end - start + 1
    standing = np.flatnonzero(rng.random(pop.n_base) < settings.opted_out_share)
    channel = pick(rng, OPT_OUT_CHANNEL_WEIGHTS, len(standing))
    past = start - rng.integers(1, 700, len(standing))
    effective = seconds_in_day(rng, past, HOURS_BUSINESS)

    back = rng.random(len(standing)) < 0.08
    back_day, valid = uniform_days(
        rng, np.full(int(back.sum()), start + 1), np.minimum(pop.churn_day[standing[back]] - 1, end)
    )
    back_sub, back_channel, back_day = standing[back][valid], channel[back][valid], back_day[valid]

    n_new = int(rng.poisson(pop.n_base * settings.monthly_new_opt_outs * (window - 1) / DAYS_PER_MONTH))
    new_sub = rng.integers(0, pop.size, n_new)
    new_day, valid = uniform_days(
        rng, np.maximum(pop.activation_day[new_sub], start) + 1, np.minimum(pop.churn_day[new_sub] - 1, end)
    )
    new_sub, new_day = new_sub[valid], new_day[valid]

    sub = np.concatenate([standing, back_sub, new_sub])
    opted_out = np.concatenate(
        [np.ones(len(standing), bool), np.zeros(len(back_sub), bool), np.ones(len(new_sub), bool)]
    )
    do_not_disturb = np.concatenate(
        [rng.random(len(standing)) < 0.2, np.zeros(len(back_sub), bool), rng.random(len(new_sub)) < 0.15]
    )
    codes = np.concatenate([channel, back_channel, pick(rng, OPT_OUT_CHANNEL_WEIGHTS, len(new_sub))])
    at = np.concatenate(
        [
            effective,
            seconds_in_day(rng, back_day, HOURS_BUSINESS),
            seconds_in_day(rng, new_day, HOURS_BUSINESS),
        ]
    )
    day = np.concatenate([np.full(len(standing), start), back_day, new_day])
    _, unique = np.unique(np.column_stack([sub, codes, at]), axis=0, return_index=True)
    unique = np.sort(unique)
    table = pa.table(
        {
            "subscriber_id": pop.subscriber_ids(sub[unique]),
            "channel": labels(OPT_OUT_CHANNELS, codes[unique]),
            "opted_out": opted_out[unique],
            "do_not_disturb": do_not_disturb[unique],
            "effective_at": timestamps(at[unique]),
        }
    )
    state = OptOutState(np.full(pop.size, -1, dtype=np.int16), np.full(pop.size, NEVER, dtype=np.int32))
    state.channel[standing] = channel
    state.day[standing] = past
    return ChangeLog(table, day[unique]), state


def survey_log(
    population: Population,
    network: Network,
    resolutions: Resolutions,
    purchases: list[Purchases],
    end: int,
    seed: int,
) -> ChangeLog:
    """Surveys triggered by an event: after a complaint is resolved, after the home cell is
    repaired, after a purchase. Scores sit lower after network trouble and care contacts."""
    pop = population
    rng = rng_for(seed, 0, "surveys")
    nps_mean = group_values("nps_mean")

    care = rng.random(len(resolutions.subscriber)) < 0.3
    care_sub = resolutions.subscriber[care]
    care_at = resolutions.resolved_at[care] + rng.integers(SECONDS_PER_DAY, 3 * SECONDS_PER_DAY, len(care_sub))
    care_mean = nps_mean[pop.group_at(care_sub, care_at // SECONDS_PER_DAY)] - 2.0 - 1.0 * resolutions.network[care]

    repaired_on = network.repaired_on[pop.cells[:, 0]]
    repaired = np.flatnonzero((repaired_on <= end) & (rng.random(pop.size) < 0.15))
    repair_at = seconds_in_day(rng, repaired_on[repaired] + rng.integers(1, 6, len(repaired)), HOURS_BUSINESS)
    repair_mean = nps_mean[pop.group_at(repaired, repair_at // SECONDS_PER_DAY)] - 1.5

    bought = Purchases(np.concatenate([p.subscriber for p in purchases]), np.concatenate([p.day for p in purchases]))
    asked = rng.random(len(bought.subscriber)) < 0.2
    purchase_sub = bought.subscriber[asked]
    purchase_at = seconds_in_day(rng, bought.day[asked] + rng.integers(2, 8, len(purchase_sub)), HOURS_BUSINESS)
    purchase_mean = nps_mean[pop.group_at(purchase_sub, purchase_at // SECONDS_PER_DAY)] + 0.5

    sub = np.concatenate([care_sub, repaired, purchase_sub])
    at = np.concatenate([care_at, repair_at, purchase_at])
    mean = np.concatenate([care_mean, repair_mean, purchase_mean])
    touchpoint = np.concatenate(
        [
            np.full(len(care_sub), NPS_TOUCHPOINTS.index("after_care")),
            np.full(len(repaired), NPS_TOUCHPOINTS.index("after_repair")),
            np.full(len(purchase_sub), NPS_TOUCHPOINTS.index("after_purchase")),
        ]
    )
    day = at // SECONDS_PER_DAY
    keep = (day <= end) & (day < pop.churn_day[sub]) & (day >= pop.activation_day[sub])
    order = np.flatnonzero(keep)[np.argsort(at[keep], kind="stable")]
    table = pa.table(
        {
            "response_id": fixed_ids("NPX", np.arange(len(order)) + 1, 8),
            "subscriber_id": pop.subscriber_ids(sub[order]),
            "responded_at": timestamps(at[order]),
            "score": nps_scores(rng, mean[order]),
            "touchpoint": labels(NPS_TOUCHPOINTS, touchpoint[order]),
        }
    )
    return ChangeLog(table, day[order])


def nps_scores(rng: np.random.Generator, mean: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(rng.normal(mean, 1.8)), 0, 10).astype(np.int64)
