"""The subscriber population: who they are, what group they are planted in, and their fate.

Everything that happens to a subscriber over the window (activation, moving on to another
group, plan change, porting request, churn and the decline before it) is drawn once, up
front, as arrays; how the base is drawn and why it keeps its mix is in ``dynamics``. Each
day's feeds then read the state on that day from the arrays, which keeps the CRM change
feed, usage and billing consistent with each other without carrying state from day to day.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

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
from telco_mart.generate.dynamics import (
    HIGH_VALUE,
    LOW_VALUE,
    NOISE,
    VOICE_BIASED,
    Paths,
    base_paths,
    churn_days,
    new_line_paths,
    steady_state,
)
from telco_mart.generate.network import Network
from telco_mart.generate.products import (
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
from telco_mart.generate.settings import GROUP_PROFILES, GROUPS, GeneratorSettings

#: Churn dates are drawn up to this many days past the window, so the window ends with
#: subscribers who are visibly declining but have not left yet (the warning stage).
CHURN_LOOKAHEAD_DAYS = 90
AGE_BANDS = ("18-25", "26-39", "40-59", "60+")
GENDERS = ("F", "M", "U")


def group_values(attribute: str) -> np.ndarray:
    """One value of a ``GroupProfile`` attribute per group code."""
    return np.array([getattr(GROUP_PROFILES[g], attribute) for g in GROUPS])


@dataclass
class Moves:
    """The window's group changes in day order: the line, the day, the group moved to, and
    how the line behaves from that day (its new group's profile, drawn for it)."""

    row: np.ndarray
    day: np.ndarray
    group: np.ndarray
    activity: np.ndarray
    mix: np.ndarray
    monthly_spend: np.ndarray


@dataclass
class PlanChanges:
    """Every plan change of the window in day order (a line's own, and each move's)."""

    row: np.ndarray
    day: np.ndarray
    plan: np.ndarray


@dataclass
class Behaviour:
    """How every line behaves on a day: its group and that group's profile as drawn for it."""

    group: np.ndarray
    postpaid: np.ndarray
    activity: np.ndarray
    #: (n, 3) probabilities of voice, SMS and data per event.
    mix: np.ndarray
    #: Expected monthly spend (plan fee plus out-of-bundle usage); prepaid top-ups follow it.
    monthly_spend: np.ndarray


@dataclass
class Population:
    """Every subscriber of the horizon (starting base first, then new activations)."""

    n_base: int
    #: The group each line was planted in: at the window start, or at activation for a new
    #: line. ``move_day`` / ``move_group`` say where it goes from there (``dynamics``).
    group: np.ndarray
    #: Payment type at the window start (or activation); a move redraws it (``move_postpaid``).
    postpaid: np.ndarray
    activation_day: np.ndarray
    churn_day: np.ndarray
    decline_from: np.ndarray
    #: Porting request timestamp in seconds; -1 when none.
    port_at: np.ndarray
    #: The plan at the window start (or activation); ``plan_changes`` change it.
    plan: np.ndarray
    plan_changes: PlanChanges
    #: (n, 2) day of each move within the window (NEVER when none), the group moved to and
    #: the payment type taken with it.
    move_day: np.ndarray
    move_group: np.ndarray
    move_postpaid: np.ndarray
    moves: Moves
    #: (n, 4) cell numbers; column 0 is the home cell, where most traffic is carried.
    cells: np.ndarray
    region: np.ndarray
    birth_day: np.ndarray
    gender: np.ndarray
    household: np.ndarray
    household_known: np.ndarray
    #: Behaviour in the planted group (``behaviour_on`` gives it on a day, moves applied).
    activity: np.ndarray
    mix: np.ndarray
    traveller: np.ndarray
    monthly_spend: np.ndarray
    msisdn: np.ndarray
    first_name: np.ndarray
    last_name: np.ndarray
    id_number: np.ndarray
    contact_valid: np.ndarray
    #: How far a churner's activity falls by the churn date (1 - the settings' floor).
    decline_depth: float
    _behaviour: tuple[int, Behaviour] | None = field(default=None, repr=False)

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

    def group_at(self, rows: np.ndarray, days: np.ndarray | int) -> np.ndarray:
        """Each line's group on its day (after that day's move, if any)."""
        return self._at(self.group, self.move_group, rows, days)

    def postpaid_at(self, rows: np.ndarray, days: np.ndarray | int) -> np.ndarray:
        """Whether each line is postpaid on its day (moves fall on month starts, so a line
        keeps one payment type for a whole calendar month)."""
        return self._at(self.postpaid, self.move_postpaid, rows, days)

    def _at(self, initial: np.ndarray, moved: np.ndarray, rows: np.ndarray, days: np.ndarray | int) -> np.ndarray:
        out = initial[rows]
        for k in range(self.move_day.shape[1]):
            out = np.where(self.move_day[rows, k] <= days, moved[rows, k], out)
        return out

    def behaviour_on(self, day: int) -> Behaviour:
        """Group and behaviour of every line on ``day``. Moves fall on month starts, so the
        result is reused until the next move (one copy of the arrays a month, not a day)."""
        applied = int(np.searchsorted(self.moves.day, day, side="right"))
        if self._behaviour is not None and self._behaviour[0] == applied:
            return self._behaviour[1]
        if applied == 0:
            behaviour = Behaviour(self.group, self.postpaid, self.activity, self.mix, self.monthly_spend)
        else:
            rows, last = _last_change_per_row(self.moves.row[:applied])
            everyone = np.arange(self.size)
            behaviour = Behaviour(
                self.group_at(everyone, day),
                self.postpaid_at(everyone, day),
                self.activity.copy(),
                self.mix.copy(),
                self.monthly_spend.copy(),
            )
            behaviour.activity[rows] = self.moves.activity[last]
            behaviour.mix[rows] = self.moves.mix[last]
            behaviour.monthly_spend[rows] = self.moves.monthly_spend[last]
        self._behaviour = (applied, behaviour)
        return behaviour

    def plan_on(self, day: int) -> np.ndarray:
        applied = int(np.searchsorted(self.plan_changes.day, day, side="right"))
        out = self.plan.copy()
        rows, last = _last_change_per_row(self.plan_changes.row[:applied])
        out[rows] = self.plan_changes.plan[last]
        return out

    def plan_as_of(self, rows: np.ndarray, days: np.ndarray) -> np.ndarray:
        """The plan of each of ``rows`` at the end of its own day (a bill's last day)."""
        cutoff = np.full(self.size, -1, dtype=np.int64)
        cutoff[rows] = days
        changes = self.plan_changes
        valid = np.flatnonzero(changes.day <= cutoff[changes.row])
        plan = self.plan.copy()
        changed, last = _last_change_per_row(changes.row[valid])
        plan[changed] = changes.plan[valid[last]]
        return plan[rows]

    def plan_changed_on(self, day: int) -> np.ndarray:
        low, high = np.searchsorted(self.plan_changes.day, [day, day + 1])
        return self.plan_changes.row[low:high]

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
    """The starting base, drawn from the steady state of the configured shares, and the
    window's gross adds, churn and moves (``dynamics``).

    ``events_per_sub_day`` is needed up front because prepaid top-ups are sized from the
    usage a subscriber is expected to be rated for.
    """
    rng = rng_for(seed, 0, "population")
    steady = steady_state(settings)
    window = end - start + 1
    n_base = subscribers
    n_new = int(rng.poisson(subscribers * steady.adds_per_day * (window - 1)))
    n = n_base + n_new

    base_group = pick(rng, steady.shares_on(start), n_base).astype(np.int8)
    base = base_paths(rng, base_group, start, steady, settings)
    new_group, new = new_line_paths(rng, n_new, start, end, steady, settings)
    group = np.concatenate([base_group, new_group])
    activation_day = np.concatenate([base.activation_day, new.activation_day])
    paths = Paths(
        activation_day,
        np.concatenate([base.move_day, new.move_day]),
        np.concatenate([base.move_group, new.move_group]),
    )
    postpaid = rng.random(n) >= group_values("prepaid_share")[group]

    birth_day = _birth_days(rng, group, start)
    household, household_known = _households(rng, n, n_base)
    household_size = np.bincount(household)[household]
    plan = _plans(rng, group, postpaid, household_size, start - birth_day)

    churn_day = churn_days(rng, group, paths, np.maximum(activation_day, start), end + CHURN_LOOKAHEAD_DAYS, steady)
    decline_from, port_at = _declines(rng, activation_day, churn_day, start, settings)
    # A move past the window end, or on or after the churn day, never happens.
    gone = (paths.move_day > end) | (paths.move_day >= churn_day[:, None])
    move_day = np.where(gone, NEVER, paths.move_day).astype(np.int32)
    move_group = np.where(gone, -1, paths.move_group).astype(np.int8)

    region_of_sub = pick(rng, [r.weight for r in REGIONS], n)
    cells = _cells(rng, network, region_of_sub)

    sigma = 0.5
    activity = group_values("activity")[group] * rng.lognormal(-(sigma**2) / 2, sigma, n)
    mix = _mixes(rng, group)
    traveller = rng.random(n) < group_values("roaming_traveller_share")[group]
    base_activity = activity[:n_base].mean() if n_base else 1.0

    def monthly_spend(rows: np.ndarray, groups: np.ndarray, mixes: np.ndarray, plans: np.ndarray, act: np.ndarray):
        usage = expected_charge_per_event(groups, traveller[rows], mixes, plans) * events_per_sub_day * act
        return PLAN_FEES[plans] + usage / base_activity * DAYS_PER_MONTH

    # a line moving on takes its new group's payment type odds, so each group keeps its mix
    move_postpaid = rng.random(move_day.shape) >= group_values("prepaid_share")[np.maximum(move_group, 0)]
    moves, move_plans = _moves(rng, group, activity, move_day, move_group, move_postpaid, monthly_spend)
    plan_changes = _plan_changes(
        rng,
        group,
        postpaid,
        plan,
        activation_day,
        churn_day,
        (move_day, move_group, move_postpaid, move_plans),
        start,
        end,
        settings,
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
        plan_changes=plan_changes,
        move_day=move_day,
        move_group=move_group,
        move_postpaid=move_postpaid,
        moves=moves,
        cells=cells,
        region=network.region[cells[:, 0]],
        birth_day=birth_day,
        gender=pick(rng, [0.49, 0.49, 0.02], n).astype(np.int8),
        household=household,
        household_known=household_known,
        activity=activity,
        mix=mix,
        traveller=traveller,
        monthly_spend=monthly_spend(np.arange(n), group, mix, plan, activity),
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


def _declines(
    rng: np.random.Generator, activation_day: np.ndarray, churn_day: np.ndarray, start: int, settings: GeneratorSettings
) -> tuple[np.ndarray, np.ndarray]:
    """The decline before each churn (never before activation) and the porting requests
    that part of the churners send a few days before leaving."""
    n = len(churn_day)
    churns = churn_day < NEVER
    low, high = settings.decline_days
    decline_from = np.where(
        churns, np.maximum(churn_day - rng.integers(low, high + 1, n), activation_day), NEVER
    ).astype(np.int32)
    port_day = churn_day - rng.integers(1, 11, n)
    ports = churns & (rng.random(n) < settings.port_out_share) & (port_day > np.maximum(start, activation_day))
    port_at = np.where(ports, seconds_in_day(rng, port_day, HOURS_BUSINESS), -1)
    return decline_from, port_at


def _mixes(rng: np.random.Generator, group: np.ndarray) -> np.ndarray:
    """Each line's share of voice, SMS and data: a Dirichlet draw around its group's mix."""
    shape = group_values("mix_concentration")[group][:, None] * group_values("mix")[group]
    mix = rng.gamma(np.maximum(shape, 1e-3))
    return mix / mix.sum(axis=1, keepdims=True)


def _moves(
    rng: np.random.Generator,
    group: np.ndarray,
    activity: np.ndarray,
    move_day: np.ndarray,
    move_group: np.ndarray,
    move_postpaid: np.ndarray,
    monthly_spend: Callable[..., np.ndarray],
) -> tuple[Moves, np.ndarray]:
    """How each moving line behaves after each move: its new group's activity level (the
    line's own factor kept), usage mix and plan (for its payment type after the move), and
    the spend they make.

    Returns the moves in day order and the (n, 2) plan taken at each move (-1 when none).
    """
    move_plans = np.full(move_day.shape, -1, dtype=np.int16)
    parts: list[tuple[np.ndarray, ...]] = []
    previous = group.astype(np.int64)
    level = group_values("activity")
    for k in range(move_day.shape[1]):
        rows = np.flatnonzero(move_day[:, k] < NEVER)
        to = move_group[rows, k].astype(np.int64)
        act = activity[rows] / level[previous[rows]] * level[to]
        mix = _mixes(rng, to)
        plans = pick_rows(rng, plan_weight_table(), to * 2 + move_postpaid[rows, k])
        move_plans[rows, k] = plans
        parts.append((rows, move_day[rows, k], to, act, mix, monthly_spend(rows, to, mix, plans, act)))
        previous[rows] = to
    row, day, to, act, mix, spend = (np.concatenate(p) for p in zip(*parts, strict=True))
    order = np.lexsort((row, day))
    moves = Moves(
        row=row[order],
        day=day[order],
        group=to[order].astype(np.int8),
        activity=act[order],
        mix=mix[order],
        monthly_spend=spend[order],
    )
    return moves, move_plans


def _plan_changes(
    rng: np.random.Generator,
    group: np.ndarray,
    postpaid: np.ndarray,
    plan: np.ndarray,
    activation_day: np.ndarray,
    churn_day: np.ndarray,
    moves: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    start: int,
    end: int,
    settings: GeneratorSettings,
) -> PlanChanges:
    """Each move's plan, plus at most one change of a line's own to another plan its group
    (and payment type, on that day) would choose; none on a move's day."""
    move_day, move_group, move_postpaid, move_plans = moves
    n = len(group)
    rate = settings.monthly_plan_changes * (end - start) / DAYS_PER_MONTH
    day, valid = uniform_days(rng, np.maximum(activation_day, start) + 1, np.minimum(churn_day - 1, end))
    current_group, current_plan = group.astype(np.int64), plan.astype(np.int64)
    current_postpaid = postpaid.astype(np.int64)
    for k in range(move_day.shape[1]):
        moved = move_day[:, k] <= day
        current_group = np.where(moved, move_group[:, k], current_group)
        current_plan = np.where(moved, move_plans[:, k], current_plan)
        current_postpaid = np.where(moved, move_postpaid[:, k], current_postpaid)
    candidate = pick_rows(rng, plan_weight_table(), current_group * 2 + current_postpaid)
    own = valid & (rng.random(n) < rate) & (candidate != current_plan) & (day[:, None] != move_day).all(axis=1)

    moving = move_day < NEVER
    rows = np.concatenate([np.flatnonzero(own), np.nonzero(moving)[0]])
    days = np.concatenate([day[own], move_day[moving]])
    plans = np.concatenate([candidate[own], move_plans[moving]])
    order = np.lexsort((rows, days))
    return PlanChanges(row=rows[order], day=days[order].astype(np.int32), plan=plans[order].astype(np.int16))


def _last_change_per_row(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a day-ordered change list and the index of each one's last change."""
    unique, first_from_end = np.unique(rows[::-1], return_index=True)
    return unique, len(rows) - 1 - first_from_end


def _cells(rng: np.random.Generator, network: Network, region: np.ndarray) -> np.ndarray:
    """A home cell and three other cells per subscriber, all in the subscriber's region."""
    by_region = np.argsort(network.region, kind="stable")
    counts = np.bincount(network.region, minlength=len(REGIONS))
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    draws = np.floor(rng.random((len(region), 4)) * counts[region][:, None]).astype(np.int64)
    return by_region[offsets[region][:, None] + draws].astype(np.int32)
