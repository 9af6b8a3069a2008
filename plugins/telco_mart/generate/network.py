"""Radio network: cell inventory, planted degradations, and the daily KPI counters.

Degradations are planted per cell for a period and then repaired, so the warehouse's
coverage and quality marts, the "poor network experience" churn signal and the
after-repair survey campaign all have something true to find.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from telco_mart.generate.common import (
    DAYS_PER_MONTH,
    NEVER,
    SECONDS_PER_DAY,
    dates,
    fixed_ids,
    labels,
    pick,
    rng_for,
    timestamps,
    uniform_days,
)
from telco_mart.generate.products import REGION_NAMES, REGIONS, TECHNOLOGIES, TECHNOLOGY_WEIGHTS
from telco_mart.generate.settings import GeneratorSettings

CELLS_PER_SITE = 3


@dataclass
class Network:
    """Every cell of the horizon, as parallel arrays indexed by cell number."""

    site: np.ndarray
    region: np.ndarray
    technology: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    population: np.ndarray
    population_known: np.ndarray
    commissioned_at: np.ndarray
    #: One later inventory change per cell at most (an upgrade or a new population figure).
    change_day: np.ndarray
    changed_technology: np.ndarray
    changed_population: np.ndarray
    degraded_from: np.ndarray
    repaired_on: np.ndarray
    #: Per-cell KPI levels when healthy and while degraded: coverage, call setup success,
    #: drop rate, data session success.
    healthy: np.ndarray
    degraded: np.ndarray

    @property
    def size(self) -> int:
        return len(self.site)

    def cell_ids(self, cells: np.ndarray) -> pa.Array:
        return fixed_ids("C", np.asarray(cells) + 1, 6)

    def degraded_on(self, day: int) -> np.ndarray:
        return (self.degraded_from <= day) & (day < self.repaired_on)


def build_network(subscribers: int, start: int, end: int, seed: int, settings: GeneratorSettings) -> Network:
    """Sites of three cells spread over the regions, about one cell per ``subscribers_per_cell``.

    Degradations start after the first day so that every degraded cell has a healthy baseline
    to compare against, and last long enough to be seen in daily KPIs and complaints.
    """
    rng = rng_for(seed, 0, "network")
    n_cells = max(settings.min_cells, round(subscribers / settings.subscribers_per_cell))
    n_sites = -(-n_cells // CELLS_PER_SITE)
    # Every region gets a site before the rest are spread by weight, so no region is empty.
    site_region = np.concatenate(
        [np.arange(len(REGIONS)), pick(rng, [r.weight for r in REGIONS], max(0, n_sites - len(REGIONS)))]
    )[:n_sites].astype(np.int8)
    centre = np.array([[r.latitude, r.longitude] for r in REGIONS])
    site_position = centre[site_region] + rng.normal(0.0, 0.12, (n_sites, 2))
    site = np.arange(n_cells) // CELLS_PER_SITE
    window = end - start + 1

    technology = pick(rng, TECHNOLOGY_WEIGHTS, n_cells).astype(np.int8)
    population = np.round(rng.lognormal(np.log(3000.0), 0.6, n_cells)).astype(np.int64)
    population_known = rng.random(n_cells) >= 0.1

    changes = rng.random(n_cells) < min(0.5, settings.monthly_cell_changes * window / DAYS_PER_MONTH)
    change_day, valid = uniform_days(rng, np.full(n_cells, start + 1), np.full(n_cells, end))
    change_day = np.where(changes & valid, change_day, NEVER).astype(np.int32)
    upgrade = (technology == TECHNOLOGIES.index("4G")) & (rng.random(n_cells) < 0.5)
    changed_technology = np.where(upgrade, TECHNOLOGIES.index("5G"), technology).astype(np.int8)
    changed_population = np.where(
        upgrade, population, np.round(population * rng.uniform(0.9, 1.2, n_cells)).astype(np.int64)
    )

    n_degraded = max(1, round(settings.degraded_cell_share * n_cells))
    degraded_cells = rng.choice(n_cells, n_degraded, replace=False)
    degraded_from = np.full(n_cells, NEVER, dtype=np.int32)
    repaired_on = np.full(n_cells, NEVER, dtype=np.int32)
    first = start + 1 + np.floor(rng.random(n_degraded) * max(1, window - 8)).astype(np.int32)
    low, high = settings.degraded_days
    degraded_from[degraded_cells] = first
    repaired_on[degraded_cells] = first + rng.integers(low, high + 1, n_degraded)

    healthy = np.column_stack(
        [
            rng.uniform(0.97, 0.995, n_cells),
            rng.uniform(0.96, 0.99, n_cells),
            rng.uniform(0.003, 0.007, n_cells),
            rng.uniform(0.985, 0.998, n_cells),
        ]
    )
    degraded = np.column_stack(
        [
            healthy[:, 0] * rng.uniform(0.80, 0.90, n_cells),
            healthy[:, 1] - rng.uniform(0.06, 0.12, n_cells),
            healthy[:, 2] * rng.uniform(3.0, 6.0, n_cells),
            healthy[:, 3] - rng.uniform(0.05, 0.10, n_cells),
        ]
    )
    commissioned_day = start - rng.integers(30, 3650, n_cells)
    return Network(
        site=site,
        region=site_region[site],
        technology=technology,
        latitude=np.round(site_position[site, 0], 5),
        longitude=np.round(site_position[site, 1], 5),
        population=population,
        population_known=population_known,
        commissioned_at=commissioned_day * SECONDS_PER_DAY + rng.integers(0, SECONDS_PER_DAY, n_cells),
        change_day=change_day,
        changed_technology=changed_technology,
        changed_population=changed_population,
        degraded_from=degraded_from,
        repaired_on=repaired_on,
        healthy=healthy,
        degraded=degraded,
    )


def cell_rows(network: Network, day: int, first_day: bool, seed: int) -> pa.Table:
    """The first delivery's full inventory, or the cells whose record changed on ``day``."""
    if first_day:
        cells = np.arange(network.size)
        technology = network.technology
        population = network.population
        known = network.population_known
        updated = network.commissioned_at
    else:
        cells = np.flatnonzero(network.change_day == day)
        technology = network.changed_technology[cells]
        population = network.changed_population[cells]
        known = network.population_known[cells] | (technology == network.technology[cells])
        rng = rng_for(seed, day, "network")
        updated = day * SECONDS_PER_DAY + np.sort(rng.integers(8 * 3600, 18 * 3600, len(cells)))
    return pa.table(
        {
            "cell_id": network.cell_ids(cells),
            # network identity, drawn from nothing random: one operator (MCC 639, MNC 02), a
            # tracking area per region, and the cell's number as its identity in that area
            "mcc": pa.array(["639"] * len(cells), pa.string()),
            "mnc": pa.array(["02"] * len(cells), pa.string()),
            "area_code": pa.array(1000 + network.region[cells].astype(np.int64), pa.int64()),
            "cell_identity": pa.array(cells.astype(np.int64) + 1, pa.int64()),
            "site_id": fixed_ids("SITE", network.site[cells] + 1, 5),
            "region": labels(REGION_NAMES, network.region[cells]),
            "technology": labels(TECHNOLOGIES, technology),
            "latitude": network.latitude[cells],
            "longitude": network.longitude[cells],
            "population_covered": pa.array(population, pa.int64(), mask=~known),
            "updated_at": timestamps(updated),
        }
    )


def kpi_rows(network: Network, load: np.ndarray, day: int, seed: int) -> pa.Table:
    """One row of counters per cell for ``day``, drawn around the cell's current level.

    Counts come from binomial draws on the attempts, so successes never exceed attempts and
    good measurements never exceed measurements, in clean data as in real counters.
    """
    rng = rng_for(seed, day, "kpis")
    n = network.size
    levels = np.where(network.degraded_on(day)[:, None], network.degraded, network.healthy)
    levels = np.clip(levels + rng.normal(0.0, 0.002, levels.shape) * [1, 1, 0, 1], 0.0, 1.0)
    daily_load = load * rng.lognormal(0.0, 0.1, n)
    measurements = rng.poisson(daily_load * 40)
    attempts = rng.poisson(daily_load * 3)
    successes = rng.binomial(attempts, levels[:, 1])
    sessions = rng.poisson(daily_load * 8)
    return pa.table(
        {
            "cell_id": network.cell_ids(np.arange(n)),
            "kpi_date": dates(np.full(n, day)),
            "rsrp_measurements": measurements,
            "rsrp_good_measurements": rng.binomial(measurements, levels[:, 0]),
            "call_setup_attempts": attempts,
            "call_setup_successes": successes,
            "dropped_calls": rng.binomial(successes, levels[:, 2]),
            "data_session_attempts": sessions,
            "data_session_successes": rng.binomial(sessions, levels[:, 3]),
        }
    )
