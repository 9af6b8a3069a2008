"""The generator's entry point: build the operator's world once, then write it day by day."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from telco_mart import __version__
from telco_mart.contract import load_contract
from telco_mart.contract.operator_profile import load_profile
from telco_mart.generate.activity import (
    USAGE_BLOCK_SUBSCRIBERS,
    DayState,
    bill_rows,
    contact_rows,
    periodic_nps_rows,
    recharge_rows,
    usage_blocks,
)
from telco_mart.generate.common import day_number, to_date
from telco_mart.generate.defects import MIN_DAYS, PlantedDefect, defects_json, plant_defects
from telco_mart.generate.dynamics import steady_state
from telco_mart.generate.lifecycle import (
    ChangeLog,
    OptOutState,
    broadband_log,
    complaints_log,
    opt_out_log,
    subscriber_rows,
    survey_log,
    vas_log,
)
from telco_mart.generate.network import Network, build_network, cell_rows, kpi_rows
from telco_mart.generate.population import Population, build_population
from telco_mart.generate.products import plans_table
from telco_mart.generate.settings import DEFAULT_SETTINGS, GeneratorSettings
from telco_mart.generate.truth import (
    TRUTH_DIR,
    write_degraded_cells,
    write_json,
    write_subscriber_groups,
    write_subscriber_profiles,
)
from telco_mart.generate.writer import FORMATS, FeedWriter

#: Bumped when the same arguments would produce different files, so ``generation.json``
#: tells which generator made a data set (the demo's landing stamp carries it too, so
#: ``make demo`` regenerates a landing an older generator made). 4: group profiles that sit
#: inside their segment rules (``settings.GROUP_PROFILES``).
GENERATOR_VERSION = 4

#: Contract feeds the generated operator never delivers (on-change feeds, so no day misses
#: them): it makes no billing adjustments, so its revenue is plan fees and rated usage, what
#: the planted value bands are drawn on. Tests deliver adjustments as hand-written files.
NOT_GENERATED: frozenset[str] = frozenset({"adjustments"})
#: Every cell carries traffic from outside the modelled base (visitors, other operators'
#: roamers), so even a cell with no home subscribers reports counters.
BACKGROUND_CELL_LOAD = 20.0


@dataclass
class GenerationSummary:
    """What a run wrote. ``files_written`` counts landed feed files (a feed with no rows on a
    day has none; ``_truth`` is not counted); ``rows_per_feed`` counts generated rows, before
    defects are planted."""

    files_written: int
    rows_per_feed: dict[str, int]
    out: Path
    seconds: float
    defects_planted: int = 0


@dataclass
class _World:
    """Everything drawn once for the window; the day loop reads it and draws only the day."""

    network: Network
    population: Population
    cell_load: np.ndarray
    broadband: ChangeLog
    has_broadband: np.ndarray
    vas: ChangeLog
    complaints: ChangeLog
    opt_outs: ChangeLog
    opt_out_state: OptOutState
    surveys: ChangeLog


def generate(
    *,
    subscribers: int,
    start: dt.date,
    end: dt.date,
    seed: int,
    out: Path,
    fmt: str = "csv",
    defects: bool = False,
    events_per_sub_day: float = 10.0,
    log: Callable[[str], None] | None = None,
    settings: GeneratorSettings = DEFAULT_SETTINGS,
    usage_block_subscribers: int = USAGE_BLOCK_SUBSCRIBERS,
    dialect: str | None = None,
) -> GenerationSummary:
    """Write every contract feed for each delivery day from ``start`` to ``end`` into ``out``.

    A day's usage with more active subscribers than ``usage_block_subscribers`` lands as one
    file per block (``usage_events_<date>_part01.parquet``, ...), which bounds the memory a
    province-size day takes. The same arguments give byte-identical files. Files of an
    earlier run in ``out`` that this run does not write are left alone (``_truth/defects.json``
    excepted, so the answer key never describes defects that are not there).

    ``dialect`` names an operator profile (or a path to one): the CSV files are then written
    as that operator writes them (see ``writer.write_dialect_csv``), the same world in
    another spelling; ingest them with ``TELCO_MART_OPERATOR_PROFILE`` set to the same profile.
    """
    _check(subscribers, start, end, seed, fmt, defects, events_per_sub_day)
    if dialect is not None and (fmt != "csv" or defects):
        raise ValueError("a dialect is written as CSV (fmt='csv') and without planted defects")
    began = time.perf_counter()
    say = log or (lambda _line: None)
    out = Path(out)
    first, last = day_number(start), day_number(end)
    contract = load_contract()
    profile = load_profile(dialect, contract) if dialect is not None else None
    world = _build_world(subscribers, first, last, seed, settings, events_per_sub_day)
    population = world.population
    say(
        f"world: {population.n_base:,} subscribers at start, {population.size - population.n_base:,} "
        f"activations to come, {world.network.size:,} cells ({time.perf_counter() - began:.1f}s)"
    )

    writer = FeedWriter(out, fmt, contract, profile)
    usage_this_month = np.zeros(population.size)
    for day in range(first, last + 1):
        date = to_date(day)
        state = DayState.of(population, day)
        bills = None
        if date.day == 1 and day > first:
            month_start = day_number((date - dt.timedelta(days=1)).replace(day=1))
            if month_start >= first:
                bills = bill_rows(population, month_start, day - 1, day, usage_this_month)
            usage_this_month[:] = 0.0
        usage_events = 0
        # Usage is written block by block as it is drawn, so only one block is ever in memory.
        for usage in usage_blocks(population, state, seed, events_per_sub_day, usage_block_subscribers):
            usage_this_month += np.bincount(usage.subscriber, weights=usage.charged, minlength=population.size)
            writer.write("usage_events", date, usage.table, suffix=usage.part)
            usage_events += usage.table.num_rows
        tables = _day_tables(world, state, day == first, seed, settings) | {"bills": bills}
        tables |= dict.fromkeys(NOT_GENERATED)
        if missing := set(contract.feeds) - set(tables) - {"usage_events"}:
            raise RuntimeError(f"the contract has feeds the generator does not build: {sorted(missing)}")
        for feed in contract.load_order():
            if feed != "usage_events":
                writer.write(feed, date, tables[feed])
        say(
            f"day {date}: {usage_events:,} usage events, {tables['recharges'].num_rows:,} recharges, "
            f"{tables['subscribers'].num_rows:,} subscriber rows ({time.perf_counter() - began:.1f}s)"
        )

    planted = plant_defects(out, start, seed, contract) if defects else []
    arguments = {
        "subscribers": subscribers,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "seed": seed,
        "fmt": fmt,
        "defects": defects,
        "events_per_sub_day": events_per_sub_day,
    } | ({"dialect": dialect} if dialect is not None else {})
    _write_truth(out / TRUTH_DIR, world, first, last, planted if defects else None, arguments, settings)
    seconds = time.perf_counter() - began
    files = len(writer.written | {out / d.file for d in planted})
    say(f"done: {files:,} files, {sum(writer.rows_per_feed.values()):,} rows in {seconds:.1f}s")
    return GenerationSummary(files, writer.rows_per_feed, out, seconds, len(planted))


def _build_world(
    subscribers: int, first: int, last: int, seed: int, settings: GeneratorSettings, events_per_sub_day: float
) -> _World:
    network = build_network(subscribers, first, last, seed, settings)
    population = build_population(subscribers, first, last, seed, settings, network, events_per_sub_day)
    broadband, has_broadband, broadband_purchases = broadband_log(population, first, last, seed, settings)
    vas, vas_purchases = vas_log(population, first, last, seed, settings)
    complaints, resolutions = complaints_log(population, network, first, last, seed, settings)
    opt_outs, opt_out_state = opt_out_log(population, first, last, seed, settings)
    return _World(
        network=network,
        population=population,
        cell_load=BACKGROUND_CELL_LOAD + np.bincount(population.cells[:, 0], minlength=network.size),
        broadband=broadband,
        has_broadband=has_broadband,
        vas=vas,
        complaints=complaints,
        opt_outs=opt_outs,
        opt_out_state=opt_out_state,
        surveys=survey_log(population, network, resolutions, [broadband_purchases, vas_purchases], last, seed),
    )


def _day_tables(
    world: _World, state: DayState, first_day: bool, seed: int, settings: GeneratorSettings
) -> dict[str, pa.Table | None]:
    """The day's rows of every feed but usage and bills, which also feed the month's billing.

    The first delivery also carries the contact history of the days before the window, so
    frequency caps have a past to count from on day one.
    """
    population, network, day = world.population, world.network, state.day
    contact_days = range(day - settings.contact_backlog_days, day + 1) if first_day else (day,)
    return {
        "plans": plans_table(),
        "subscribers": subscriber_rows(population, day, first_day, seed),
        "cells": cell_rows(network, day, first_day, seed),
        "recharges": recharge_rows(population, state, seed),
        "broadband_contracts": world.broadband.rows_on(day),
        "vas_subscriptions": world.vas.rows_on(day),
        "cell_kpis_daily": kpi_rows(network, world.cell_load, day, seed),
        "complaints": world.complaints.rows_on(day),
        "nps_responses": pa.concat_tables(
            [periodic_nps_rows(population, network, state, seed, settings), world.surveys.rows_on(day)]
        ).sort_by("responded_at"),
        "contact_history": pa.concat_tables(
            [contact_rows(population, world.opt_out_state, d, seed, settings) for d in contact_days]
        ),
        "opt_outs": world.opt_outs.rows_on(day),
    }


def _write_truth(
    truth: Path,
    world: _World,
    first: int,
    last: int,
    planted: list[PlantedDefect] | None,
    arguments: dict[str, object],
    settings: GeneratorSettings,
) -> None:
    truth.mkdir(parents=True, exist_ok=True)
    defects_file = truth / "defects.json"
    if planted is None:
        defects_file.unlink(missing_ok=True)
    else:
        write_json(defects_file, defects_json(planted))
    write_subscriber_profiles(
        truth / "subscriber_profiles.parquet",
        world.population,
        world.network,
        world.has_broadband,
        first,
        last,
    )
    write_subscriber_groups(truth / "subscriber_groups.parquet", world.population, first, last)
    write_degraded_cells(truth / "degraded_cells.parquet", world.network, last)
    write_json(
        truth / "generation.json",
        {
            "generator_version": GENERATOR_VERSION,
            "package_version": __version__,
            "contract_version": load_contract().version,
            "arguments": arguments,
            "settings": settings.as_dict(),
            "steady_state": steady_state(settings).as_dict(),
        },
    )


class GeneratorArgumentError(ValueError):
    """An argument the generator cannot work with; the message says which and why."""


def _check(subscribers: int, start: dt.date, end: dt.date, seed: int, fmt: str, defects: bool, events: float) -> None:
    if subscribers < 1:
        raise GeneratorArgumentError(f"subscribers must be at least 1, not {subscribers}")
    if end < start:
        raise GeneratorArgumentError(f"end {end} is before start {start}")
    if seed < 0:
        raise GeneratorArgumentError(f"seed must be non-negative, not {seed}")
    if fmt not in FORMATS:
        raise GeneratorArgumentError(f"fmt must be one of {FORMATS}, not {fmt!r}")
    if events < 0:
        raise GeneratorArgumentError(f"events_per_sub_day must be non-negative, not {events}")
    if defects and fmt != "csv":
        raise GeneratorArgumentError("defects=True plants text-level defects and needs fmt='csv'")
    if defects and (end - start).days + 1 < MIN_DAYS:
        raise GeneratorArgumentError(f"defects=True needs a window of at least {MIN_DAYS} days")
