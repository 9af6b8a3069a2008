"""The operator's fixed world: its products (tariff plans and their prices, usage rates),
regions, the campaigns it ran before the warehouse, name lists.

These do not depend on the seed: a plan or a region keeps its id from one generated data
set to the next, so dashboards and tests can name them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from telco_mart.generate.settings import GROUPS


@dataclass(frozen=True)
class Plan:
    plan_id: str
    plan_name: str
    payment_type: str
    plan_category: str
    monthly_fee: float
    data_allowance_mb: float
    voice_allowance_min: float
    sms_allowance: int
    is_family_plan: bool
    plan_term_months: int | None


PLANS: tuple[Plan, ...] = (
    Plan("PRE_DATA_S", "Data Starter 5GB", "prepaid", "data", 250, 5_000, 50, 50, False, None),
    Plan("PRE_DATA_M", "Data Plus 15GB", "prepaid", "data", 600, 15_000, 100, 100, False, None),
    Plan("PRE_DATA_L", "Data Max 40GB", "prepaid", "data", 1_200, 40_000, 200, 200, False, None),
    Plan("PRE_NIGHT", "Night Owl 20GB", "prepaid", "data", 400, 20_000, 50, 50, False, None),
    Plan("PRE_VOICE_S", "Talk 300", "prepaid", "voice", 200, 500, 300, 100, False, None),
    Plan("PRE_VOICE_L", "Talk 1000", "prepaid", "voice", 500, 1_000, 1_000, 200, False, None),
    Plan("PRE_BAL", "Smart Balance", "prepaid", "balanced", 500, 5_000, 300, 200, False, None),
    Plan("PRE_BASIC", "Pay As You Go", "prepaid", "basic", 0, 0, 0, 0, False, None),
    Plan("PRE_BASIC_PLUS", "Basic Plus", "prepaid", "basic", 100, 500, 50, 50, False, None),
    Plan("PRE_ELDER", "Senior Care", "prepaid", "elderly", 150, 500, 200, 100, False, None),
    Plan("POST_DATA_M", "Postpaid Data 30GB", "postpaid", "data", 1_500, 30_000, 300, 300, False, 12),
    Plan("POST_DATA_UNL", "Postpaid Unlimited", "postpaid", "data", 3_000, 100_000, 1_000, 1_000, False, 24),
    Plan("POST_BAL_M", "Postpaid Balance", "postpaid", "balanced", 1_200, 10_000, 500, 300, False, 12),
    Plan("POST_BAL_L", "Postpaid Premier", "postpaid", "balanced", 2_500, 40_000, 2_000, 1_000, False, 24),
    Plan("POST_VOICE", "Postpaid Talk Unlimited", "postpaid", "voice", 1_000, 2_000, 3_000, 500, False, 12),
    Plan("POST_FAMILY_S", "Family Share", "postpaid", "family", 2_500, 50_000, 2_000, 1_000, True, 24),
    Plan("POST_FAMILY_L", "Family Share Premium", "postpaid", "family", 4_000, 100_000, 4_000, 2_000, True, 24),
    Plan("POST_ELDER", "Senior Postpaid", "postpaid", "elderly", 500, 1_000, 500, 200, False, None),
    Plan("POST_BASIC", "Postpaid Essential", "postpaid", "basic", 400, 1_000, 100, 100, False, None),
)
PLAN_INDEX = {p.plan_id: i for i, p in enumerate(PLANS)}
PLAN_FEES = np.array([p.monthly_fee for p in PLANS])
PLAN_CATEGORIES = ("data", "voice", "balanced", "elderly", "family", "basic")
PLAN_CATEGORY = np.array([PLAN_CATEGORIES.index(p.plan_category) for p in PLANS], dtype=np.int8)

#: Which plans each group picks, per payment type, with relative weights.
PLAN_CHOICES: dict[str, dict[str, dict[str, float]]] = {
    "data_driven_new": {
        "prepaid": {"PRE_DATA_S": 3, "PRE_DATA_M": 4, "PRE_DATA_L": 1, "PRE_NIGHT": 2},
        "postpaid": {"POST_DATA_M": 3, "POST_DATA_UNL": 1},
    },
    "high_value_long_tenure": {
        "prepaid": {"PRE_DATA_L": 2, "PRE_BAL": 2, "PRE_VOICE_L": 1},
        "postpaid": {"POST_BAL_L": 3, "POST_DATA_UNL": 2, "POST_BAL_M": 1, "POST_FAMILY_L": 1},
    },
    "voice_biased": {
        "prepaid": {"PRE_VOICE_S": 3, "PRE_VOICE_L": 2, "PRE_BASIC_PLUS": 1},
        "postpaid": {"POST_VOICE": 3, "POST_BASIC": 1},
    },
    "low_value_suppressed": {
        "prepaid": {"PRE_BASIC": 4, "PRE_BASIC_PLUS": 3, "PRE_VOICE_S": 1},
        "postpaid": {"POST_BASIC": 1},
    },
    "noise": {
        "prepaid": {"PRE_DATA_S": 1, "PRE_DATA_M": 1, "PRE_VOICE_S": 1, "PRE_BAL": 1, "PRE_BASIC_PLUS": 1},
        "postpaid": {"POST_DATA_M": 1, "POST_BAL_M": 1, "POST_VOICE": 1, "POST_BASIC": 1},
    },
}
ELDERLY_PLAN = {"prepaid": "PRE_ELDER", "postpaid": "POST_ELDER"}
FAMILY_PLANS = ("POST_FAMILY_S", "POST_FAMILY_L")


def plan_weight_table() -> np.ndarray:
    """(group x payment type) rows of plan weights, row = group code * 2 + postpaid."""
    table = np.zeros((len(GROUPS) * 2, len(PLANS)))
    for g, group in enumerate(GROUPS):
        for postpaid, payment in enumerate(("prepaid", "postpaid")):
            for plan_id, weight in PLAN_CHOICES[group][payment].items():
                table[g * 2 + postpaid, PLAN_INDEX[plan_id]] = weight
    return table


def plans_table() -> pa.Table:
    return pa.Table.from_pylist([p.__dict__ for p in PLANS])


@dataclass(frozen=True)
class Region:
    name: str
    weight: float
    latitude: float
    longitude: float


REGIONS: tuple[Region, ...] = (
    Region("Nairobi", 0.30, -1.286, 36.817),
    Region("Mombasa", 0.12, -4.043, 39.668),
    Region("Kisumu", 0.10, -0.091, 34.768),
    Region("Nakuru", 0.10, -0.303, 36.080),
    Region("Eldoret", 0.09, 0.514, 35.269),
    Region("Nyeri", 0.08, -0.420, 36.947),
    Region("Machakos", 0.11, -1.517, 37.263),
    Region("Garissa", 0.10, -0.453, 39.646),
)
REGION_NAMES = tuple(r.name for r in REGIONS)
TECHNOLOGIES = ("2G", "3G", "4G", "5G")
TECHNOLOGY_WEIGHTS = (0.10, 0.20, 0.55, 0.15)

# Prices of out-of-bundle usage, per call type (on_net, off_net, long_distance, roaming).
CALL_TYPES = ("on_net", "off_net", "long_distance", "roaming")
CALL_TYPE_WEIGHTS = np.array([[0.55, 0.35, 0.08, 0.02], [0.45, 0.25, 0.08, 0.22]])  # row 1: travellers
VOICE_RATE_PER_MIN = np.array([1.5, 3.0, 6.0, 25.0])
SMS_RATE = np.array([0.8, 1.0, 2.0, 10.0])
DATA_RATE_PER_MB = 0.15
#: Data sessions in the night band are this much larger (night packs, downloads).
NIGHT_DATA_FACTOR = 1.8
DATA_SESSION_MEAN_SEC = 600.0
#: Share of voice, SMS and data events that fall inside the plan's allowance (rated 0),
#: per plan category: what a plan is built around is what it bundles.
BUNDLE_SHARE = np.array(
    [
        [0.30, 0.50, 0.85],  # data
        [0.80, 0.80, 0.30],  # voice
        [0.70, 0.70, 0.70],  # balanced
        [0.70, 0.70, 0.30],  # elderly
        [0.85, 0.85, 0.85],  # family
        [0.10, 0.10, 0.10],  # basic
    ]
)
EVENT_TYPES = ("voice", "sms", "data")

# 24-hour activity profiles (relative weights per hour).
HOURS_VOICE = np.array([1, 0.5, 0.3, 0.2, 0.2, 0.4, 1.5, 3, 5, 6, 6, 6, 6, 6, 6, 6, 6, 7, 8, 8, 7, 5, 3, 2.0])
HOURS_DATA = np.array(
    [2, 1, 0.6, 0.4, 0.4, 0.6, 1.5, 3, 4, 4.5, 4.5, 5, 5.5, 5, 4.5, 4.5, 5, 5.5, 6, 7, 7.5, 7, 5.5, 3.5]
)
HOURS_NIGHT = np.array([8, 7, 6, 4, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 8.0])
HOURS_BUSINESS = np.array([0, 0, 0, 0, 0, 0, 0.5, 1, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 3.5, 3, 2.5, 1.5, 0.5, 0.2])
#: Weekday (Monday first) traffic factors; they average 1 over a week.
WEEKDAY_FACTOR = np.array([1.04, 1.04, 1.04, 1.04, 1.04, 0.9, 0.9])

RECHARGE_CHANNELS = ("retail", "app", "voucher", "bank", "ussd")
RECHARGE_CHANNEL_WEIGHTS = (0.15, 0.25, 0.20, 0.10, 0.30)
RECHARGE_DENOMINATIONS = np.array([10, 20, 50, 100, 150, 200, 250, 300, 500, 750, 1000, 1500, 2000, 3000, 5000.0])

BROADBAND_SPEEDS = np.array([20, 50, 100, 200, 500])
BROADBAND_FEES = np.array([1_999.0, 2_999.0, 3_999.0, 5_999.0, 8_999.0])
BROADBAND_SPEED_WEIGHTS = np.array(
    [[0.30, 0.35, 0.25, 0.08, 0.02], [0.05, 0.20, 0.35, 0.25, 0.15]]  # row 1: high value
)
BROADBAND_TERMS_DAYS = np.array([365, 730])
#: What happens when a contract reaches its end: renewed, expired, cancelled early.
BROADBAND_OUTCOMES = (0.55, 0.35, 0.10)

VAS_SERVICES = (
    "video_membership",
    "cloud_storage",
    "music_streaming",
    "data_pack_night",
    "data_pack_weekend",
    "data_pack_addon",
    "family_number",
    "content_pack",
)
VAS_FEES = np.array([300.0, 100.0, 150.0, 100.0, 150.0, 200.0, 50.0, 50.0])
#: Add-on data packs run for a fixed 30 days; the other services are open-ended.
VAS_FIXED_TERM_DAYS = {"data_pack_addon": 30}

COMPLAINT_CATEGORIES = ("network", "billing", "service", "device", "other")
COMPLAINT_WEIGHTS_BASE = (0.15, 0.35, 0.25, 0.15, 0.10)
COMPLAINT_WEIGHTS_CHURNER = (0.20, 0.40, 0.30, 0.0, 0.10)
COMPLAINT_CHANNELS = ("call_center", "app", "retail", "social")
COMPLAINT_CHANNEL_WEIGHTS = (0.50, 0.25, 0.15, 0.10)
COMPLAINT_STATUSES = ("open", "in_progress", "resolved", "closed")

NPS_TOUCHPOINTS = ("periodic", "after_care", "after_repair", "after_purchase")

CONTACT_CHANNELS = ("sms", "outbound_call", "app_push", "retail")
OPT_OUT_CHANNELS = (*CONTACT_CHANNELS, "all")
OPT_OUT_CHANNEL_WEIGHTS = (0.40, 0.30, 0.12, 0.06, 0.12)
CONTACT_RESPONSES = ("none", "accepted", "declined", "complained")


@dataclass(frozen=True)
class LegacyCampaign:
    """A campaign the operator ran before (and beside) the warehouse, found in contact history."""

    campaign_id: str
    kind: str
    channel: str
    weight: float
    accept_rate: float
    decline_rate: float


LEGACY_CAMPAIGNS: tuple[LegacyCampaign, ...] = (
    LegacyCampaign("legacy_sms_promo", "sales", "sms", 0.35, 0.03, 0.03),
    LegacyCampaign("legacy_data_bundle_push", "sales", "app_push", 0.20, 0.06, 0.03),
    LegacyCampaign("legacy_outbound_upsell", "sales", "outbound_call", 0.10, 0.08, 0.15),
    LegacyCampaign("legacy_retail_offer", "sales", "retail", 0.05, 0.15, 0.05),
    LegacyCampaign("legacy_service_notice", "service", "sms", 0.20, 0.0, 0.0),
    LegacyCampaign("legacy_care_call", "service", "outbound_call", 0.10, 0.0, 0.02),
)

FIRST_NAMES = (
    "Wanjiku", "Achieng", "Njeri", "Akinyi", "Wambui", "Chebet", "Mumbua", "Atieno", "Nyambura",
    "Kerubo", "Faith", "Grace", "Mercy", "Esther", "Amina", "Zawadi", "Halima", "Joy", "Lucy", "Mary",
    "Kamau", "Otieno", "Mwangi", "Kiprop", "Omondi", "Mutua", "Kipchoge", "Wafula", "Njoroge",
    "Barasa", "Brian", "Kevin", "Dennis", "Peter", "John", "Hassan", "Juma", "Samuel", "David", "Daniel",
)  # fmt: skip
LAST_NAMES = (
    "Kamau", "Otieno", "Mwangi", "Wanjiru", "Ochieng", "Kiprotich", "Mutua", "Njoroge", "Odhiambo",
    "Wafula", "Kariuki", "Chege", "Kimani", "Onyango", "Muthoni", "Koech", "Barasa", "Nyaga", "Owino",
    "Macharia", "Kiplagat", "Maina", "Ruto", "Omondi", "Gitau", "Ndungu", "Atieno", "Korir", "Wekesa",
    "Mohamed", "Ali", "Hassan", "Juma", "Makau", "Musyoka", "Nzioka", "Cheruiyot", "Langat", "Kibet", "Oduor",
)  # fmt: skip
