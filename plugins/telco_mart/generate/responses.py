"""How the generated world reacts to a published campaign day, with a known, planted effect.

A real operator learns whether a campaign worked from what subscribers do after the send.
Here the world is synthetic, so this module plays the subscribers: given a day's published
targets and the subscribers the warehouse held out as control, it lands the feeds that follow
(the channel's contact history with responses, the VAS subscriptions and broadband contracts
taken up) with a take-up probability of ``baseline`` for control and ``baseline + effect`` for
targeted subscribers. ``campaign_results`` must then measure an uplift whose interval holds
the planted ``effect``: a check of the whole measuring chain, not of one formula.

It reads who was held out from the warehouse's decisions because control subscribers must get
the same baseline chance as targeted ones; nothing else of the warehouse is used.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from telco_mart.contract import Contract, load_contract
from telco_mart.generate.writer import arrow_schema, feed_file

#: Planted absolute uplift of take-up within the window, by campaign id; others get DEFAULT_EFFECT.
PLANTED_EFFECTS: dict[str, float] = {
    "low_activity_activation": 0.20,
    "data_addon_push": 0.25,
    "broadband_cross_sell": 0.15,
    "elderly_plan_renewal": 0.10,
}
DEFAULT_EFFECT = 0.10
BASELINE_TAKE_UP = 0.05
RESPONSES_SUFFIX = "campaign_responses"


@dataclass(frozen=True)
class Send:
    subscriber_id: str
    campaign_id: str
    campaign_kind: str
    channel: str
    offer_product: str | None
    is_targeted: bool  # False: held out as control


def simulate_responses(
    day: dt.date,
    sends: list[Send],
    landing: Path,
    *,
    seed: int,
    window_days: int = 14,
    effects: dict[str, float] | None = None,
    baseline: float = BASELINE_TAKE_UP,
    contract: Contract | None = None,
) -> dict[str, object]:
    """Land the reaction to ``day``'s sends; return (and write to ``_truth/``) what was planted."""
    effects = {**PLANTED_EFFECTS, **(effects or {})}
    contract = contract or load_contract()
    rng = np.random.default_rng([seed, day.toordinal()])
    sends = sorted(sends, key=lambda s: (s.campaign_id, s.subscriber_id))
    draws = rng.random(len(sends))
    delays = rng.integers(1, window_days + 1, len(sends))
    contacts, vas, broadband = [], [], []
    planted: dict[str, dict[str, float | int]] = {}
    for number, (send, draw, delay) in enumerate(zip(sends, draws, delays, strict=True)):
        effect = effects.get(send.campaign_id, DEFAULT_EFFECT)
        converts = draw < baseline + (effect if send.is_targeted else 0.0)
        stats = planted.setdefault(send.campaign_id, {"effect": effect, "baseline": baseline, "sends": 0})
        stats["sends"] = int(stats["sends"]) + 1
        take_up_day = day + dt.timedelta(days=int(delay))
        if send.is_targeted:
            contacts.append(
                {
                    "contact_id": f"CR-{day:%Y%m%d}-{number:07d}",
                    "subscriber_id": send.subscriber_id,
                    "campaign_id": send.campaign_id,
                    "campaign_kind": send.campaign_kind,
                    "channel": send.channel,
                    "contacted_at": dt.datetime.combine(day, dt.time(18, 0)),
                    "response": "accepted" if converts else "none",
                    "response_at": dt.datetime.combine(day, dt.time(19, 0)) if converts else None,
                }
            )
        if not converts or send.offer_product is None:
            continue
        if send.offer_product == "broadband":
            broadband.append(
                {
                    "contract_id": f"BBR-{day:%Y%m%d}-{number:07d}",
                    "subscriber_id": send.subscriber_id,
                    "household_id": None,
                    "start_date": take_up_day,
                    "end_date": take_up_day.replace(year=take_up_day.year + 1),
                    "speed_mbps": 100,
                    "monthly_fee": 25.0,
                    "status": "active",
                    "updated_at": dt.datetime.combine(take_up_day, dt.time(9, 0)),
                }
            )
        else:
            vas.append(
                {
                    "vas_subscription_id": f"VASR-{day:%Y%m%d}-{number:07d}",
                    "subscriber_id": send.subscriber_id,
                    "service_code": send.offer_product,
                    "start_date": take_up_day,
                    "end_date": None,
                    "monthly_fee": 3.0,
                    "updated_at": dt.datetime.combine(take_up_day, dt.time(9, 0)),
                }
            )
    written = []
    written += _land(landing, contract, "contact_history", contacts, lambda r: day)
    written += _land(landing, contract, "vas_subscriptions", vas, lambda r: r["start_date"])
    written += _land(landing, contract, "broadband_contracts", broadband, lambda r: r["start_date"])
    truth = {"day": day.isoformat(), "window_days": window_days, "campaigns": planted}
    truth_dir = landing / "_truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    (truth_dir / f"campaign_effects_{day.isoformat()}.json").write_text(json.dumps(truth, indent=2, sort_keys=True))
    return {**truth, "files": [str(p) for p in written]}


def _land(landing: Path, contract: Contract, feed_name: str, rows: list[dict], delivery_day) -> list[Path]:
    """One Parquet file per delivery day, beside the day's regular file of the feed."""
    feed = contract.feed(feed_name)
    schema = arrow_schema(feed, "parquet")
    by_day: dict[dt.date, list[dict]] = {}
    for row in rows:
        by_day.setdefault(delivery_day(row), []).append(row)
    written = []
    for day, day_rows in sorted(by_day.items()):
        table = pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in day_rows], schema=schema)
        path = feed_file(landing, feed_name, day, "parquet", suffix=RESPONSES_SUFFIX)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        written.append(path)
    return written
