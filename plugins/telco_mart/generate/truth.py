"""The answer key: what was planted, written beside the feeds in ``out/_truth``.

The warehouse never reads it (ingestion skips folders starting with ``_``); tests compare
what the marts found (segments, churn warnings, degraded cells, quarantined rows) with it.
A subscriber's group can change within the window (``dynamics``): compare a month's
segments with ``subscriber_groups.parquet``, which says who was in which group when.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from telco_mart.generate.common import dates, labels
from telco_mart.generate.lifecycle import PAYMENT_TYPES
from telco_mart.generate.network import Network
from telco_mart.generate.population import AGE_BANDS, Population
from telco_mart.generate.products import REGION_NAMES
from telco_mart.generate.settings import GROUPS

TRUTH_DIR = "_truth"


def write_subscriber_profiles(
    path: Path, population: Population, network: Network, has_broadband: np.ndarray, start: int, end: int
) -> None:
    """One row per subscriber of the window. ``planted_group`` and ``payment_type`` are as at
    the window start (or at activation, for a line activated in the window); where a line
    moves on later is in ``subscriber_groups``. ``is_churner`` means churned within the window;
    ``decline_from`` is also set for subscribers who decline now and churn after it."""
    pop = population
    rows = np.flatnonzero(pop.activation_day <= end)
    churned = pop.churn_day[rows] <= end
    table = pa.table(
        {
            "subscriber_id": pop.subscriber_ids(rows),
            "planted_group": labels(GROUPS, pop.group[rows]),
            "payment_type": labels(PAYMENT_TYPES, pop.postpaid[rows].astype(np.int8)),
            "activation_date": dates(pop.activation_day[rows]),
            "is_churner": churned,
            "churn_date": dates(pop.churn_day[rows], null=~churned),
            "decline_from": dates(pop.decline_from[rows], null=pop.decline_from[rows] > end),
            "has_broadband_at_start": has_broadband[rows],
            "home_cell_id": network.cell_ids(pop.cells[rows, 0]),
            "region": labels(REGION_NAMES, pop.region[rows]),
            "age_band": labels(AGE_BANDS, pop.age_band(start)[rows]),
        }
    )
    pq.write_table(table, path, compression="zstd")


def write_subscriber_groups(path: Path, population: Population, start: int, end: int) -> None:
    """Who is what, when: one row per subscriber and group held within the window.

    Groups change only when a line moves on (``dynamics``), always on a month's first day, so
    the group held on any day of a month is the month's group. ``valid_from`` is the first
    day in the group within the window (the window start, activation, or the move);
    ``valid_to`` is the day the next group starts, null when the line stays in this one to
    the window end (or churns in it: see ``subscriber_profiles.churn_date``).
    """
    pop = population
    rows = np.flatnonzero(pop.activation_day <= end)
    spells = [(rows, pop.group[rows], np.maximum(pop.activation_day[rows], start))]
    for k in range(pop.move_day.shape[1]):
        moved = rows[pop.move_day[rows, k] <= end]
        spells.append((moved, pop.move_group[moved, k], pop.move_day[moved, k]))
    row, group, valid_from = (np.concatenate(parts) for parts in zip(*spells, strict=True))
    order = np.lexsort((valid_from, row))
    row, group, valid_from = row[order], group[order], valid_from[order]
    same_next = np.append(row[1:] == row[:-1], False)
    valid_to = np.append(valid_from[1:], 0)
    table = pa.table(
        {
            "subscriber_id": pop.subscriber_ids(row),
            "planted_group": labels(GROUPS, group),
            "valid_from": dates(valid_from),
            "valid_to": dates(valid_to, null=~same_next),
        }
    )
    pq.write_table(table, path, compression="zstd")


def write_degraded_cells(path: Path, network: Network, end: int) -> None:
    """Cells degraded within the window; ``repaired_on`` (first healthy day) is null when
    the repair falls after the window."""
    cells = np.flatnonzero(network.degraded_from <= end)
    repaired = network.repaired_on[cells]
    table = pa.table(
        {
            "cell_id": network.cell_ids(cells),
            "degraded_from": dates(network.degraded_from[cells]),
            "repaired_on": dates(repaired, null=repaired > end),
        }
    )
    pq.write_table(table, path, compression="zstd")


def write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
