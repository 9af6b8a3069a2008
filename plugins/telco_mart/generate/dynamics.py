"""The world in steady state: who joins, who leaves and who moves on, so each group keeps its share.

A saturated market's base is flat and its mix of customer groups changes slowly; a
generated operator whose mix drifts shows segment dashboards a trend that is an artefact
of the generator. So the world runs on flows that hold each planted group's share, and the
starting base is drawn from the stationary state of those same flows: month six looks like
month one. The flows, as rates per month:

- **Churn.** Every line leaves at its current group's hazard: ``monthly_churn`` weighted by
  the group's ``churn_weight``, normalised so that the base as a whole loses
  ``monthly_churn`` a month. Lines activated in the window churn like the rest.
- **Gross adds.** As many new lines as churn takes, so the base stays flat (in
  expectation). They join as data-driven new, voice-biased, low-value or noise; nobody
  joins as high-value long-tenure, which takes ``long_tenure_months`` to become.
- **Moving on.** A data-driven new subscriber is new until the start of the calendar month
  at whose end they complete ``new_customer_months`` (12): the month the segment mart's
  tenure rule stops calling them new (completed months at the month end). From that day
  they settle into voice_biased, low_value_suppressed or noise. The share that grows into
  value (the domain's "low-value new -> high-value long-tenure" transformation) is noise
  for another year and high_value_long_tenure from the start of the month at whose end
  they complete ``long_tenure_months`` (24). A move changes how the line behaves (usage
  mix, activity, price tier, plan) to its new group's profile, and it is in the planted
  truth (``_truth/subscriber_groups.parquet``).

The adds' mix and where those moving on go are solved from the configured shares
(``steady_state``): data-driven new gets the adds that hold its share against churn and the
twelve-month line; enough of its graduates grow into high value to hold that group's share
against its (low) churn; voice-biased, low-value and noise take the rest of the adds and
the rest of the graduates, each in proportion to what churn takes from it. A mix that no
flat base can hold (say, a data-driven new share that needs more new lines a month than
churn frees) is refused with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from telco_mart.generate.common import DAYS_PER_MONTH, NEVER, pick
from telco_mart.generate.settings import GROUP_PROFILES, GROUPS, GeneratorSettings

DDN, HIGH_VALUE, VOICE_BIASED, LOW_VALUE, NOISE = range(len(GROUPS))
#: Where a data-driven new subscriber goes at the new line: the three mature groups with
#: no tenure rule, or noise on the way to high value (the last entry).
GRADUATE_DESTINATIONS = (VOICE_BIASED, LOW_VALUE, NOISE, HIGH_VALUE)
#: Moves a subscriber can make from the window start on: at the new line, then at the long line.
MAX_MOVES = 2


@dataclass(frozen=True)
class SteadyState:
    """The flows that hold the configured shares. Rates are per subscriber of the base."""

    #: The configured shares (normalised): each group's share of the base on a month's first day.
    shares: np.ndarray
    #: Data-driven new lines a month per line of the base, and the whole months of them a
    #: month's first day holds (the new line less one).
    ddn_adds: float
    ddn_months: int
    #: Churn hazard per day, per group (continuous: ``1 - exp(-30.4 x hazard)`` leave a month).
    hazard: np.ndarray
    #: New lines a day per line of the base (= the base's churn hazard, so the base stays flat).
    adds_per_day: float
    #: Group of a new line, per group (high value never).
    adds_mix: np.ndarray
    #: Destination of a data-driven new subscriber at the new line, per GRADUATE_DESTINATIONS.
    graduate_mix: np.ndarray
    #: Per group, the share of its members who joined it by moving on (tenure counted from
    #: activation, a year or more before they joined the group) rather than as new lines.
    moved_in_share: np.ndarray
    #: Share of the noise group on its way to high value (graduated less than a year ago).
    growing_share_of_noise: float

    def shares_on(self, day: int) -> np.ndarray:
        """Each group's share of the base on ``day``. The shares hold on a month's first day;
        data-driven new then grows through the month with its new lines (it holds the lines
        of the last ``ddn_months`` months and of the month so far) and gives them up on the
        next first day, when that month's graduates move on."""
        month_start = np.datetime64(int(day), "D").astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
        elapsed = (day - int(month_start)) / DAYS_PER_MONTH
        mu = self.hazard[DDN] * DAYS_PER_MONTH
        ddn = min(self.ddn_adds * _survival_integral(mu, self.ddn_months + elapsed), 1.0)
        if self.shares[DDN] >= 1:
            return self.shares.copy()
        out = self.shares * (1 - ddn) / (1 - self.shares[DDN])
        out[DDN] = ddn
        return out

    def as_dict(self) -> dict[str, object]:
        """Plain values for ``generation.json``: the flows a data set was made with."""
        per_month = 1 - np.exp(-self.hazard * DAYS_PER_MONTH)
        return {
            "monthly_churn_by_group": dict(zip(GROUPS, np.round(per_month, 6).tolist(), strict=True)),
            "monthly_gross_adds": round(float(1 - np.exp(-self.adds_per_day * DAYS_PER_MONTH)), 6),
            "gross_adds_mix": dict(zip(GROUPS, np.round(self.adds_mix, 6).tolist(), strict=True)),
            "graduate_mix": dict(
                zip(
                    ["voice_biased", "low_value_suppressed", "noise", "noise_then_high_value_long_tenure"],
                    np.round(self.graduate_mix, 6).tolist(),
                    strict=True,
                )
            ),
            "growing_share_of_noise": round(float(self.growing_share_of_noise), 6),
        }


def steady_state(settings: GeneratorSettings) -> SteadyState:
    """Solve the flows for the configured shares (rates per month, a month being 30.4 days).

    Data-driven new holds share ``s`` on a month's first day when its adds ``a`` a month,
    kept by survival over the last (line - 1) whole months, sum to ``s``; those still in at
    the line (11 to 12 months after joining, by the day of the month they joined) graduate.
    High value is held when ``growers x survival over the noise year = hazard x share``. The
    other three groups each need ``hazard x share`` a month, met by the remaining adds and
    graduates.
    """
    shares = np.array(settings.shares.weights())
    weight = np.array([GROUP_PROFILES[g].churn_weight for g in GROUPS])
    mean_weight = float(shares @ weight) or 1.0
    monthly = np.minimum(settings.monthly_churn * weight / mean_weight, 0.999)
    mu = -np.log1p(-monthly)  # per month
    adds = float(shares @ mu)  # flat base: gross adds = churn

    # Data-driven new on a month's first day: the lines of the last (line - 1) whole months
    # (this month's graduates left today). Each graduates (line - 1) months plus the rest
    # of its joining month after joining, if churn has not taken it first.
    full_months = settings.new_customer_months - 1
    ddn_adds = shares[DDN] / _survival_integral(mu[DDN], full_months)
    residence = full_months + np.linspace(0.0, 1.0, 61)
    graduates = ddn_adds * float(np.mean(np.exp(-mu[DDN] * residence)))
    if ddn_adds > adds * (1 + 1e-9):
        raise ValueError(
            f"data_driven_new at {shares[DDN]:.1%} of the base needs {ddn_adds:.2%} of it in new lines a month, "
            f"but churn frees only {adds:.2%} a month on a flat base: lower its share or raise monthly_churn"
        )

    # Growers: noise for the year between the two lines, then high value.
    gap = settings.long_tenure_months - settings.new_customer_months
    noise_year_survival = float(np.exp(-mu[NOISE] * gap))
    high_value_inflow = mu[HIGH_VALUE] * shares[HIGH_VALUE]
    growers = high_value_inflow / noise_year_survival
    if growers > graduates * (1 + 1e-9):
        raise ValueError(
            f"high_value_long_tenure at {shares[HIGH_VALUE]:.1%} of the base needs {growers:.3%} of it a month "
            f"growing into value, but only {graduates:.3%} a month graduate from data_driven_new: "
            "raise the data_driven_new share or lower high_value_long_tenure's"
        )
    growing_noise = growers * _survival_integral(mu[NOISE], gap)
    if growing_noise > shares[NOISE] * (1 + 1e-9):
        raise ValueError(
            f"noise at {shares[NOISE]:.1%} of the base is smaller than the {growing_noise:.1%} on their way to "
            "high value through it: raise the noise share or lower high_value_long_tenure's"
        )

    need = np.zeros(len(GROUPS))
    for code in (VOICE_BIASED, LOW_VALUE, NOISE):
        need[code] = mu[code] * shares[code]
    need[NOISE] = mu[NOISE] * max(shares[NOISE] - growing_noise, 0.0)
    settled = max(graduates - growers, 0.0)
    other_adds = max(adds - ddn_adds, 0.0)
    total_need = need.sum()
    to_group = need / total_need if total_need > 0 else need

    adds_mix = other_adds * to_group
    adds_mix[DDN] = ddn_adds
    graduate_mix = np.array([settled * to_group[g] for g in GRADUATE_DESTINATIONS[:-1]] + [growers])
    moved_in = np.zeros(len(GROUPS))
    for code in (VOICE_BIASED, LOW_VALUE, NOISE):
        inflow = settled * to_group[code] + other_adds * to_group[code]
        moved_in[code] = settled * to_group[code] / inflow if inflow > 0 else 0.0
    moved_in[HIGH_VALUE] = 1.0
    return SteadyState(
        shares=shares,
        ddn_adds=ddn_adds,
        ddn_months=full_months,
        hazard=mu / DAYS_PER_MONTH,
        adds_per_day=adds / DAYS_PER_MONTH,
        adds_mix=adds_mix / adds_mix.sum() if adds_mix.sum() > 0 else adds_mix,
        graduate_mix=graduate_mix / graduates if graduates > 0 else np.zeros(len(GRADUATE_DESTINATIONS)),
        moved_in_share=moved_in,
        growing_share_of_noise=growing_noise / shares[NOISE] if shares[NOISE] > 0 else 0.0,
    )


def _survival_integral(hazard: float, months: float) -> float:
    """Months a steady inflow of one line a month keeps in a group it can stay ``months`` in
    (the integral of exp(-hazard x t) over [0, months])."""
    return float(months if hazard <= 0 else -np.expm1(-hazard * months) / hazard)


def month_of_completing(activation_day: np.ndarray, months: int) -> np.ndarray:
    """First day of the calendar month at whose end a line activated on ``activation_day``
    has completed ``months`` months in network (or more: see below).

    This is the segment mart's tenure (whole months from activation to the month end, one
    less when the month end's day is before the activation day), so a move made on this day
    lands in the first month the warehouse sees the line past the line: usually the same
    calendar month ``months`` later; the month after for a 29-31 activation day that the
    target month does not have (the mart then counts ``months`` + 1 at that month's end).
    """
    day = np.asarray(activation_day).astype("datetime64[D]")
    month = day.astype("datetime64[M]")
    day_of_month = (day - month.astype("datetime64[D]")).astype(np.int64) + 1
    target = month + months
    target_length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64)
    target = np.where(day_of_month > target_length, target + 1, target)
    return target.astype("datetime64[D]").astype(np.int64).astype(np.int32)


@dataclass
class Paths:
    """Each line's activation day and its group changes from the window start on."""

    activation_day: np.ndarray
    #: (n, MAX_MOVES) day of each move (NEVER when none), in order, and the group moved to.
    move_day: np.ndarray
    move_group: np.ndarray


def base_paths(
    rng: np.random.Generator, group: np.ndarray, start: int, steady: SteadyState, settings: GeneratorSettings
) -> Paths:
    """Activation days of the starting base, drawn from each group's stationary tenure, and the
    moves ahead of them (data-driven new at the new line; noise on its way to high value at
    the long line).

    Tenure in a group with hazard h and a steady inflow is exponential with rate h from the
    day of joining it, capped at ``max_tenure_years``: from activation for those who joined
    as new lines, from the new line (12 months) or the long line (24 months) for those who
    moved in.
    """
    n = len(group)
    activation = np.zeros(n, dtype=np.int64)
    move_day = np.full((n, MAX_MOVES), NEVER, dtype=np.int32)
    move_group = np.full((n, MAX_MOVES), -1, dtype=np.int8)
    hazard = steady.hazard
    cap = int(settings.max_tenure_years * 365.25)
    new_line, long_line = settings.new_customer_months, settings.long_tenure_months

    # Data-driven new: joined within the last year and not yet at the new line on the start day.
    ddn = np.flatnonzero(group == DDN)
    pending = ddn
    while len(pending):
        tenure = 1 + _truncated_exponential(rng, hazard[DDN], 366, len(pending)).astype(np.int64)
        activation[pending] = start - tenure
        pending = pending[month_of_completing(activation[pending], new_line) <= start]
    _plan_graduation(rng, ddn, activation, move_day, move_group, steady, settings)

    # Noise on its way to high value: graduated k whole months ago (k < the gap), so the
    # long line is still ahead; the stationary weight of k falls with the noise hazard.
    noise = np.flatnonzero(group == NOISE)
    growing = noise[rng.random(len(noise)) < steady.growing_share_of_noise]
    gap = long_line - new_line
    months_ago = pick(rng, np.exp(-hazard[NOISE] * DAYS_PER_MONTH * np.arange(gap)), len(growing))
    start_month = np.datetime64(int(start), "D").astype("datetime64[M]")
    graduated = (start_month - months_ago.astype("timedelta64[M]")).astype("datetime64[D]").astype(np.int64)
    activation[growing] = _day_in_month_before(rng, graduated, new_line)
    move_day[growing, 0] = month_of_completing(activation[growing], long_line)
    move_group[growing, 0] = HIGH_VALUE

    # Everyone else: exponential tenure from joining the group, never to move again.
    settled = np.ones(n, dtype=bool)
    settled[ddn] = False
    settled[growing] = False
    for code in (HIGH_VALUE, VOICE_BIASED, LOW_VALUE, NOISE):
        members = np.flatnonzero(settled & (group == code))
        if code == HIGH_VALUE:
            joined_at = np.full(len(members), long_line * DAYS_PER_MONTH)
        else:
            moved_in = rng.random(len(members)) < steady.moved_in_share[code]
            joined_at = np.where(moved_in, new_line * DAYS_PER_MONTH, 0.0)
        in_group = _truncated_exponential(rng, hazard[code], np.maximum(cap - joined_at, 1.0), len(members))
        activation[members] = start - 1 - np.floor(joined_at + in_group).astype(np.int64)
    return Paths(activation.astype(np.int32), move_day, move_group)


def new_line_paths(
    rng: np.random.Generator, count: int, start: int, end: int, steady: SteadyState, settings: GeneratorSettings
) -> tuple[np.ndarray, Paths]:
    """Gross adds over the window: their groups, activation days (uniform over the days after
    the start) and, for data-driven new, their moves at the new line."""
    group = pick(rng, steady.adds_mix, count).astype(np.int8)
    activation = np.floor(start + 1 + rng.random(count) * max(end - start, 0)).astype(np.int64)
    move_day = np.full((count, MAX_MOVES), NEVER, dtype=np.int32)
    move_group = np.full((count, MAX_MOVES), -1, dtype=np.int8)
    ddn = np.flatnonzero(group == DDN)
    _plan_graduation(rng, ddn, activation, move_day, move_group, steady, settings)
    return group, Paths(activation.astype(np.int32), move_day, move_group)


def churn_days(
    rng: np.random.Generator, group: np.ndarray, paths: Paths, origin: np.ndarray, last_day: int, steady: SteadyState
) -> np.ndarray:
    """The day each line churns (NEVER past ``last_day``), at the hazard of the group it is in.

    Hazards are constant within a group, so a line that reaches a move without churning
    draws again from the move on at its new group's hazard (memoryless). Churn falls on
    the day after ``origin`` at the earliest.
    """
    n = len(group)
    at = origin.astype(np.float64)
    churn = np.full(n, np.inf)
    current = group.astype(np.int64)
    for stage in range(MAX_MOVES + 1):
        stage_end = (
            np.where(paths.move_day[:, stage] < NEVER, paths.move_day[:, stage], np.inf)
            if stage < MAX_MOVES
            else np.full(n, np.inf)
        )
        pending = np.isinf(churn) & (at <= last_day)
        rate = steady.hazard[np.maximum(current, 0)]
        wait = np.full(n, np.inf)
        positive = pending & (rate > 0)
        wait[positive] = rng.exponential(1.0 / rate[positive])
        candidate = at + wait
        hit = pending & (candidate < stage_end)
        churn[hit] = candidate[hit]
        at = np.where(pending & ~hit, stage_end, at)
        if stage < MAX_MOVES:
            current = np.where(paths.move_group[:, stage] >= 0, paths.move_group[:, stage], current)
    day = np.floor(churn[np.isfinite(churn)]).astype(np.int64) + 1
    out = np.full(n, NEVER, dtype=np.int32)
    out[np.isfinite(churn)] = np.where(day <= last_day, day, NEVER)
    return out


def _plan_graduation(
    rng: np.random.Generator,
    members: np.ndarray,
    activation: np.ndarray,
    move_day: np.ndarray,
    move_group: np.ndarray,
    steady: SteadyState,
    settings: GeneratorSettings,
) -> None:
    """Data-driven new ``members`` move on at the new line; growers to noise, then to high value."""
    if not len(members):
        return
    destination = np.array(GRADUATE_DESTINATIONS)[pick(rng, steady.graduate_mix, len(members))]
    grows = destination == HIGH_VALUE
    move_day[members, 0] = month_of_completing(activation[members], settings.new_customer_months)
    move_group[members, 0] = np.where(grows, NOISE, destination)
    growers = members[grows]
    move_day[growers, 1] = month_of_completing(activation[growers], settings.long_tenure_months)
    move_group[growers, 1] = HIGH_VALUE


def _day_in_month_before(rng: np.random.Generator, month_start: np.ndarray, months: int) -> np.ndarray:
    """A day in the calendar month ``months`` before each ``month_start`` whose line completes
    ``months`` months in ``month_start``'s month (a day the shorter of the two months has)."""
    month = np.asarray(month_start).astype("datetime64[D]").astype("datetime64[M]")
    earlier = month - months
    length = np.minimum(
        ((earlier + 1).astype("datetime64[D]") - earlier.astype("datetime64[D]")).astype(np.int64),
        ((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")).astype(np.int64),
    )
    offset = np.floor(rng.random(len(month)) * length).astype(np.int64)
    return earlier.astype("datetime64[D]").astype(np.int64) + offset


def _truncated_exponential(rng: np.random.Generator, rate: float, upper: np.ndarray | float, size: int) -> np.ndarray:
    """Draws of an exponential with ``rate`` cut to ``[0, upper)`` (uniform when the rate is 0)."""
    u = rng.random(size)
    upper = np.broadcast_to(np.asarray(upper, dtype=np.float64), (size,))
    if rate <= 0:
        return u * upper
    return -np.log1p(-u * -np.expm1(-rate * upper)) / rate
