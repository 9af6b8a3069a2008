"""Tunable defaults of the synthetic operator: group mix, behaviour per group, event rates.

Every number the generator plants lives here, in frozen dataclasses, so a test or a demo
can ask for another mix (``dataclasses.replace(DEFAULT_SETTINGS, shares=...)``) and a
reader can see in one place what the warehouse is expected to rediscover.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

#: The planted customer groups, in code order (codes index this tuple). ``noise`` is the
#: mixed-behaviour remainder that the warehouse should mostly leave unclassified or spread.
GROUPS = (
    "data_driven_new",
    "high_value_long_tenure",
    "voice_biased",
    "low_value_suppressed",
    "noise",
)


@dataclass(frozen=True)
class GroupShares:
    """Share of the base planted in each group, at the start and (steady state) every month
    after; normalised, so they need not sum to 1.

    Data-driven new is capped by the flows: at most about a year of gross adds, which on a
    flat base equal churn (2 % a month: about 20 % of the base). 18 % leaves an eighth of
    the adds to the other groups (``dynamics.steady_state``).
    """

    data_driven_new: float = 0.18
    high_value_long_tenure: float = 0.20
    voice_biased: float = 0.32
    low_value_suppressed: float = 0.20
    noise: float = 0.10

    def weights(self) -> list[float]:
        values = [getattr(self, name) for name in GROUPS]
        if min(values) < 0 or sum(values) <= 0:
            raise ValueError(f"group shares must be non-negative and not all zero: {values}")
        total = sum(values)
        return [v / total for v in values]


@dataclass(frozen=True)
class GroupProfile:
    """How one planted group behaves. Rates are per subscriber unless said otherwise."""

    #: Relative event rate; the day's rates are rescaled so the overall mean is the
    #: requested events per active subscriber.
    activity: float
    #: Expected share of voice, SMS and data among the group's events.
    mix: tuple[float, float, float]
    #: Dirichlet concentration around ``mix``: low values give mixed, individual behaviour.
    mix_concentration: float
    voice_mean_sec: float
    data_mean_mb: float
    #: Share of data sessions in the night band (22:00-05:00), where sessions are larger.
    night_data_share: float
    #: Multiplier on list prices of out-of-bundle usage (value tier).
    price_multiplier: float
    prepaid_share: float
    recharges_per_month: float
    broadband_share: float
    vas_share: float
    #: Relative churn hazard of the group's members (``GeneratorSettings.monthly_churn``).
    churn_weight: float
    #: Age bands (low, high, weight) the group's birth dates are drawn from.
    ages: tuple[tuple[int, int, float], ...]
    roaming_traveller_share: float
    nps_mean: float
    #: Relative weights of each VAS service (contract order) when the group subscribes.
    vas_weights: tuple[float, ...]
    #: Relative weight of the group among subscribers who take a new broadband contract.
    broadband_uptake_weight: float


#: Each group's behaviour sits well inside its rule in the segment mart, so a member falls
#: outside it only at the edges of the distributions, not as a matter of course:
#: - high value is mostly postpaid (10 % prepaid): a prepaid line's ARPU is its top-ups, which
#:   fall under the top 20 % ARPU band more often than a postpaid bill does;
#: - low value is the least active by far (a quarter of the mean event rate, voice-biased just
#:   over it) and almost all prepaid (96 %), so it fills most of the bottom 30 % activity and
#:   ARPU bands and leaves voice-biased lines out of them.
#: Generator version 3 (high value 20 % prepaid, low value at 0.35 and 92 % prepaid,
#: voice-biased at 0.9) left a fifth of high-value and a sixth of low-value lines outside their
#: rule every month on the demo world; measured figures are in the README.
GROUP_PROFILES: dict[str, GroupProfile] = {
    "data_driven_new": GroupProfile(
        activity=1.3,
        mix=(0.10, 0.07, 0.83),
        mix_concentration=40.0,
        voice_mean_sec=70.0,
        data_mean_mb=45.0,
        night_data_share=0.35,
        price_multiplier=1.0,
        prepaid_share=0.75,
        recharges_per_month=5.0,
        broadband_share=0.04,
        vas_share=0.45,
        churn_weight=1.2,
        ages=((18, 25, 0.8), (26, 34, 0.2)),
        roaming_traveller_share=0.02,
        nps_mean=7.0,
        vas_weights=(3, 1, 3, 4, 3, 3, 0.2, 2),
        broadband_uptake_weight=1.0,
    ),
    "high_value_long_tenure": GroupProfile(
        activity=1.4,
        mix=(0.35, 0.10, 0.55),
        mix_concentration=40.0,
        voice_mean_sec=150.0,
        data_mean_mb=25.0,
        night_data_share=0.08,
        price_multiplier=2.0,
        prepaid_share=0.1,
        recharges_per_month=3.0,
        broadband_share=0.62,
        vas_share=0.5,
        churn_weight=0.35,
        ages=((28, 45, 0.5), (46, 62, 0.5)),
        roaming_traveller_share=0.12,
        nps_mean=8.0,
        vas_weights=(4, 4, 2, 0.5, 0.5, 1, 3, 0.5),
        broadband_uptake_weight=6.0,
    ),
    "voice_biased": GroupProfile(
        activity=1.05,
        mix=(0.72, 0.16, 0.12),
        mix_concentration=40.0,
        voice_mean_sec=210.0,
        data_mean_mb=4.0,
        night_data_share=0.05,
        price_multiplier=1.0,
        prepaid_share=0.65,
        recharges_per_month=4.0,
        broadband_share=0.15,
        vas_share=0.15,
        churn_weight=1.2,
        ages=((35, 59, 0.62), (60, 85, 0.38)),
        roaming_traveller_share=0.02,
        nps_mean=7.5,
        vas_weights=(0.5, 0.2, 0.5, 0.2, 0.2, 0.2, 4, 1),
        broadband_uptake_weight=1.0,
    ),
    "low_value_suppressed": GroupProfile(
        activity=0.25,
        mix=(0.35, 0.30, 0.35),
        mix_concentration=40.0,
        voice_mean_sec=80.0,
        data_mean_mb=6.0,
        night_data_share=0.08,
        price_multiplier=0.6,
        prepaid_share=0.96,
        recharges_per_month=2.0,
        broadband_share=0.03,
        vas_share=0.05,
        churn_weight=1.8,
        ages=((18, 40, 0.5), (41, 75, 0.5)),
        roaming_traveller_share=0.01,
        nps_mean=6.5,
        vas_weights=(0.2, 0.1, 0.5, 0.5, 0.5, 0.5, 0.5, 3),
        broadband_uptake_weight=0.3,
    ),
    "noise": GroupProfile(
        activity=1.0,
        mix=(0.33, 0.20, 0.47),
        mix_concentration=1.5,
        voice_mean_sec=120.0,
        data_mean_mb=15.0,
        night_data_share=0.12,
        price_multiplier=1.0,
        prepaid_share=0.55,
        recharges_per_month=3.5,
        broadband_share=0.15,
        vas_share=0.25,
        churn_weight=1.0,
        ages=((18, 30, 0.35), (31, 59, 0.5), (60, 80, 0.15)),
        roaming_traveller_share=0.04,
        nps_mean=7.0,
        vas_weights=(1, 1, 1, 1, 1, 1, 1, 1),
        broadband_uptake_weight=1.0,
    ),
}


@dataclass(frozen=True)
class GeneratorSettings:
    """Rates of the planted phenomena; the defaults reproduce the domain brief's figures."""

    shares: GroupShares = field(default_factory=GroupShares)
    #: Share of the base that churns per month (the brief: 1.5-2.5 %); gross adds replace it,
    #: so the base stays flat (``dynamics``).
    monthly_churn: float = 0.02
    #: A data-driven new subscriber moves on at the start of the month in which they complete
    #: this many months in network: the segment mart's default "new" line
    #: (``segment_new_max_tenure_months``).
    new_customer_months: int = 12
    #: Those who grow into high value get there at this many months (the mart's
    #: ``segment_long_min_tenure_months``).
    long_tenure_months: int = 24
    #: The longest tenure in the starting base (the network's age).
    max_tenure_years: float = 20.0
    #: Days over which a churner's usage and spend fall before the churn date.
    decline_days: tuple[int, int] = (75, 105)
    #: What is left of a churner's activity on the churn date.
    decline_floor: float = 0.2
    #: Share of churners who request porting their number out first.
    port_out_share: float = 0.35
    monthly_plan_changes: float = 0.01
    invalid_contact_number_share: float = 0.005
    #: Subscribers per radio cell, and the smallest network generated.
    subscribers_per_cell: int = 150
    min_cells: int = 40
    degraded_cell_share: float = 0.05
    degraded_days: tuple[int, int] = (5, 21)
    monthly_cell_changes: float = 0.03
    monthly_complaints: float = 0.015
    #: Expected complaints of one churner over its decline, and of one subscriber whose
    #: home cell is degraded over the degraded period.
    churner_complaints: float = 0.6
    degraded_home_complaints: float = 0.35
    monthly_nps_responses: float = 0.03
    monthly_legacy_contacts: float = 1.0
    #: Days of contact history the first delivery carries.
    contact_backlog_days: int = 30
    opted_out_share: float = 0.05
    monthly_new_opt_outs: float = 0.004
    monthly_new_broadband: float = 0.004
    monthly_new_vas: float = 0.012
    monthly_vas_endings: float = 0.03

    def as_dict(self) -> dict[str, object]:
        """Plain values for ``generation.json``."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = {name: getattr(value, name) for name in GROUPS} if isinstance(value, GroupShares) else value
        return out


DEFAULT_SETTINGS = GeneratorSettings()
