"""The subscriber population: who they are, what group they were planted in, and their fate.

Everything that happens to a subscriber over the window (activation, plan change, porting
request, churn and the decline before it) is drawn once, up front, as arrays. Each day's
feeds then read the state on that day from the arrays, which keeps the CRM change feed,
usage and billing consistent with each other without carrying state from day to day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from telco_mart.generate.catalog import (
    BUNDLE_SHARE,
    CALL_TYPE_WEIGHTS,
    DATA_RATE_PER_MB,
    ELDERLY_PLAN,
    FAMILY_PLANS,
    FIRST_NAMES,
    HOURS_BUSINESS,
    LAST_NAMES,
    NIGHT_DATA_FACTOR,
    PLAN_CATEGORY,
    PLAN_FEES,
    PLAN_INDEX,
    REGIONS,
    SMS_RATE,
    VOICE_RATE_PER_MIN,
    plan_weight_table,
)
from telco_mart.generate.common import (
    DAYS_PER_MONTH,
    NEVER,
    fixed_ids,
    pick,
    pick_rows,
    rng_for,
    seconds_in_day,
    uniform_days,
)
from telco_mart.generate.network import Network
from telco_mart.generate.settings import GROUP_PROFILES, GROUPS, GeneratorSettings

#: Churn dates are drawn up to this many days past the window, so the window ends with
#: subscribers who are visibly declining but have not left yet (the warning stage).
CHURN_LOOKAHEAD_DAYS = 90
AGE_BANDS = ("18-25", "26-39", "40-59", "60+")
GENDERS = ("F", "M", "U")
DDN, HIGH_VALUE, VOICE_BIASED, LOW_VALUE, NOISE = range(len(GROUPS))


def group_values(attribute: str) -> np.ndarray:
    """One value of a ``GroupProfile`` attribute per group code."""
    return np.array([getattr(GROUP_PROFILES[g], attribute) for g in GROUPS])


@dataclass
class Population:
    """Every subscriber of the horizon (starting base first, then new activations)."""

    n_base: int
    group: np.ndarray
    postpaid: np.ndarray
    activation_day: np.ndarray
    churn_day: np.ndarray
    decline_from: np.ndarray
    #: Porting request timestamp in seconds; -1 when none.
    port_at: np.ndarray
    plan: np.ndarray
    new_plan: np.ndarray
    plan_change_day: np.ndarray
    #: (n, 4) cell numbers; column 0 is the home cell, where most traffic is carried.
    cells: np.ndarray
    region: np.ndarray
    birth_day: np.ndarray
    gender: np.ndarray
    household: np.ndarray
    household_known: np.ndarray
    activity: np.ndarray
    #: (n, 3) probabilities of voice, SMS and data per event.
    mix: np.ndarray
    traveller: np.ndarray
    #: Expected monthly spend (plan fee plus out-of-bundle usage); prepaid top-ups follow it.
    monthly_spend: np.ndarray
    msisdn: np.ndarray
    first_name: np.ndarray
    last_name: np.ndarray
    id_number: np.ndarray
    contact_valid: np.ndarray
    #: How far a churner's activity falls by the churn date (1 - the settings' floor).
    decline_depth: float

    @property
    def size(self) -> int:
        return len(self.group)

    def active(self, day: int) -> np.ndarray:
        return (self.activation_day <= day) & (day < self.churn_day)

    def decline(self, day: int) -> np.ndarray:
        """Activity multiplier: 1, falling linearly to the floor over a churner's decline."""
        out = np.ones(self.size)
        declining = (self.decline_from <= day) & (day < self.churn_day)
        progress = (day - self.decline_from[declining]) / (self.churn_day[declining] - self.decline_from[declining])
        out[declining] = 1.0 - self.decline_depth * progress
        return out

    def plan_on(self, day: int) -> np.ndarray:
        return np.where(self.plan_change_day <= day, self.new_plan, self.plan)

    def subscriber_ids(self, rows: np.ndarray) -> pa.Array:
        return fixed_ids("S", np.asarray(rows) + 1, 8)

    def age_band(self, day: int) -> np.ndarray:
        age = (day - self.birth_day) / 365.25
        return np.searchsorted([26, 40, 60], age, side="right").astype(np.int8)


def build_population(
    subscribers: int,
    start: int,
    end: int,
    seed: int,
    settings: GeneratorSettings,
    network: Network,
    events_per_sub_day: float,
) -> Population:
    """The starting base (groups drawn by the configured shares) plus the window's activations.

    ``events_per_sub_day`` is needed up front because prepaid top-ups are sized from the
    usage a subscriber is expected to be rated for.
    """
    rng = rng_for(seed, 0, "population")
    window = end - start + 1
    n_base = subscribers
    n_new = int(rng.poisson(subscribers * settings.monthly_new_activations * (window - 1) / DAYS_PER_MONTH))
    n = n_base + n_new
    new = np.arange(n) >= n_base

    group = np.concatenate(
        [
            pick(rng, settings.shares.weights(), n_base),
            np.where(rng.random(n_new) < settings.new_activation_data_driven_share, DDN, NOISE),
        ]
    ).astype(np.int8)
    postpaid = rng.random(n) >= group_values("prepaid_share")[group]

    tenure = group_values("tenure_days")[group]
    activation_day = (start - tenure[:, 0] - np.floor(rng.random(n) * (tenure[:, 1] - tenure[:, 0] + 1))).astype(
        np.int32
    )
    activation_day[new], _ = uniform_days(rng, np.full(n_new, start + 1), np.full(n_new, end))

    birth_day = _birth_days(rng, group, start)
    household, household_known = _households(rng, n, n_base)
    household_size = np.bincount(household)[household]
    plan = _plans(rng, group, postpaid, household_size, start - birth_day)

    churn_day, decline_from, port_at = _churn(rng, group, n_base, n, start, end, settings)
    plan_change_day, new_plan = _plan_changes(
        rng, group, postpaid, plan, activation_day, churn_day, start, end, settings
    )

    region_of_sub = pick(rng, [r.weight for r in REGIONS], n)
    cells = _cells(rng, network, region_of_sub)

    sigma = 0.5
    activity = group_values("activity")[group] * rng.lognormal(-(sigma**2) / 2, sigma, n)
    shape = group_values("mix_concentration")[group][:, None] * group_values("mix")[group]
    mix = rng.gamma(np.maximum(shape, 1e-3))
    mix /= mix.sum(axis=1, keepdims=True)
    traveller = rng.random(n) < group_values("roaming_traveller_share")[group]
    base_activity = activity[:n_base].mean() if n_base else 1.0
    monthly_usage = (
        expected_charge_per_event(group, traveller, mix, plan)
        * events_per_sub_day
        * activity
        / base_activity
        * DAYS_PER_MONTH
    )

    return Population(
        n_base=n_base,
        group=group,
        postpaid=postpaid,
        activation_day=activation_day,
        churn_day=churn_day,
        decline_from=decline_from,
        port_at=port_at,
        plan=plan,
        new_plan=new_plan,
        plan_change_day=plan_change_day,
        cells=cells,
        region=network.region[cells[:, 0]],
        birth_day=birth_day,
        gender=pick(rng, [0.49, 0.49, 0.02], n).astype(np.int8),
        household=household,
        household_known=household_known,
        activity=activity,
        mix=mix,
        traveller=traveller,
        monthly_spend=PLAN_FEES[plan] + monthly_usage,
        msisdn=rng.choice(10**8, n, replace=False),
        first_name=rng.integers(0, len(FIRST_NAMES), n).astype(np.int16),
        last_name=rng.integers(0, len(LAST_NAMES), n).astype(np.int16),
        id_number=rng.integers(10_000_000, 40_000_000, n),
        contact_valid=rng.random(n) >= settings.invalid_contact_number_share,
        decline_depth=1.0 - settings.decline_floor,
    )


def expected_charge_per_event(
    group: np.ndarray, traveller: np.ndarray, mix: np.ndarray, plan: np.ndarray
) -> np.ndarray:
    """What one event of each subscriber is rated, on average, under the usage model.

    Prepaid top-ups are sized from this so that recharges and rated usage tell the same
    spend story; it mirrors the pricing in ``activity.usage_blocks``.
    """
    call_mix = CALL_TYPE_WEIGHTS[traveller.astype(int)]
    bundle = BUNDLE_SHARE[PLAN_CATEGORY[plan]]
    minutes = group_values("voice_mean_sec")[group] / 60 + 0.5
    night = group_values("night_data_share")[group]
    megabytes = group_values("data_mean_mb")[group] * (1 + (NIGHT_DATA_FACTOR - 1) * night)
    per_type = np.column_stack(
        [
            minutes * (call_mix @ VOICE_RATE_PER_MIN) * (1 - bundle[:, 0]),
            (call_mix @ SMS_RATE) * (1 - bundle[:, 1]),
            megabytes * DATA_RATE_PER_MB * (1 - bundle[:, 2]),
        ]
    )
    return (mix * per_type).sum(axis=1) * group_values("price_multiplier")[group]


def _birth_days(rng: np.random.Generator, group: np.ndarray, start: int) -> np.ndarray:
    age = np.zeros(len(group))
    for code, name in enumerate(GROUPS):
        members = np.flatnonzero(group == code)
        bands = np.array(GROUP_PROFILES[name].ages)
        band = pick(rng, bands[:, 2], len(members))
        age[members] = bands[band, 0] + rng.random(len(members)) * (bands[band, 1] - bands[band, 0] + 1)
    return (start - np.floor(age * 365.25)).astype(np.int32)


def _households(rng: np.random.Generator, n: int, n_base: int) -> tuple[np.ndarray, np.ndarray]:
    """Household numbers: a quarter of the base shares the previous line's household.

    Consecutive merging makes households of geometric size (mostly singles, some families)
    with one cumulative sum; new activations start households of their own.
    """
    joins = rng.random(n) < 0.25
    joins[0] = False
    joins[n_base:] = False
    household = np.cumsum(~joins) - 1
    known = rng.random(household[-1] + 1 if n else 0) >= 0.15
    return household.astype(np.int32), known[household]


def _plans(
    rng: np.random.Generator,
    group: np.ndarray,
    postpaid: np.ndarray,
    household_size: np.ndarray,
    age_days: np.ndarray,
) -> np.ndarray:
    plan = pick_rows(rng, plan_weight_table(), group * 2 + postpaid)
    elderly = (age_days >= 60 * 365.25) & np.isin(group, [VOICE_BIASED, LOW_VALUE, NOISE])
    elderly &= rng.random(len(group)) < 0.5
    plan[elderly] = np.where(
        postpaid[elderly], PLAN_INDEX[ELDERLY_PLAN["postpaid"]], PLAN_INDEX[ELDERLY_PLAN["prepaid"]]
    )
    family = postpaid & (household_size >= 2) & np.isin(group, [HIGH_VALUE, NOISE]) & ~elderly
    family &= rng.random(len(group)) < 0.5
    plan[family] = np.where(
        rng.random(int(family.sum())) < 0.7, PLAN_INDEX[FAMILY_PLANS[0]], PLAN_INDEX[FAMILY_PLANS[1]]
    )
    return plan


def _churn(
    rng: np.random.Generator,
    group: np.ndarray,
    n_base: int,
    n: int,
    start: int,
    end: int,
    settings: GeneratorSettings,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Churn dates for part of the starting base, the decline before each, porting requests.

    Churn is drawn at the configured monthly rate over the window plus a look-ahead, and
    weighted by group, so churn concentrates where the business expects it.
    """
    horizon = end + CHURN_LOOKAHEAD_DAYS - start
    weight = group_values("churn_weight")[group[:n_base]]
    weight = weight / weight.mean() if n_base else weight
    churns = rng.random(n_base) < np.minimum(0.95, settings.monthly_churn * horizon / DAYS_PER_MONTH * weight)
    churn_day = np.full(n, NEVER, dtype=np.int32)
    day, _ = uniform_days(rng, np.full(n_base, start + 1), np.full(n_base, end + CHURN_LOOKAHEAD_DAYS))
    churn_day[:n_base] = np.where(churns, day, NEVER)

    low, high = settings.decline_days
    decline_from = np.where(churn_day < NEVER, churn_day - rng.integers(low, high + 1, n), NEVER).astype(np.int32)

    port_day = churn_day - rng.integers(1, 11, n)
    ports = (churn_day < NEVER) & (rng.random(n) < settings.port_out_share) & (port_day > start)
    port_at = np.where(ports, seconds_in_day(rng, port_day, HOURS_BUSINESS), -1)
    return churn_day, decline_from, port_at


def _plan_changes(
    rng: np.random.Generator,
    group: np.ndarray,
    postpaid: np.ndarray,
    plan: np.ndarray,
    activation_day: np.ndarray,
    churn_day: np.ndarray,
    start: int,
    end: int,
    settings: GeneratorSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """At most one plan change per subscriber, to another plan their group would choose."""
    n = len(group)
    rate = settings.monthly_plan_changes * (end - start) / DAYS_PER_MONTH
    day, valid = uniform_days(rng, np.maximum(activation_day, start) + 1, np.minimum(churn_day - 1, end))
    candidate = pick_rows(rng, plan_weight_table(), group * 2 + postpaid)
    changes = valid & (rng.random(n) < rate) & (candidate != plan)
    return np.where(changes, day, NEVER).astype(np.int32), np.where(changes, candidate, plan)


def _cells(rng: np.random.Generator, network: Network, region: np.ndarray) -> np.ndarray:
    """A home cell and three other cells per subscriber, all in the subscriber's region."""
    by_region = np.argsort(network.region, kind="stable")
    counts = np.bincount(network.region, minlength=len(REGIONS))
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    draws = np.floor(rng.random((len(region), 4)) * counts[region][:, None]).astype(np.int64)
    return by_region[offsets[region][:, None] + draws].astype(np.int32)
