"""The data-quality gate's settings, in one module: their names and types, what a gate
document holds, the one parser of it (for ``expectations/gate.yml`` and an operator profile's
``gate:`` section alike), and where the suites and gate.yml live.

Suites say what is checked and how severe a failure is; the shared thresholds live in one
YAML file so that tuning the quarantine rate or the volume band is a one-line change that a
reviewer sees, not an edit of thirteen suites. gate.yml's values are tuned to the generated
world. An operator whose data differs (another service mix, another segment balance) sets its
own in the ``gate:`` section of its operator profile, which has gate.yml's shape and is laid
over it (:meth:`GateConfig.overlaid`), so one operator's tuning never edits the defaults every
other operator and the tests share.

Why outside the quality package, and importing no telco_mart module but the deployment's
:mod:`telco_mart.config`: the operator profile checks its ``gate:`` section with this parser
while it is read, and the quality package imports the profile. Inside that package, importing
the parser would run the package's ``__init__`` (and so the gate, which imports the profile)
from the middle of the profile module: an import circle, which the profile could only dodge
with an import hidden in a function body. (So :func:`load_gate_config` takes anything with a
``gate`` section, :class:`GateSection`, not the profile's class.) Nothing heavy is imported
either, so reading a profile never loads the gate's pandas and Great Expectations.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from telco_mart.config import REPO_ROOT

#: The file of the shared thresholds, in :func:`expectations_dir`.
GATE_CONFIG_FILE = "gate.yml"

#: The sections of gate.yml, and of an operator profile's ``gate:``.
GATE_SECTIONS = ("defaults", "feeds", "tables")

#: What a raw feed's day is compared with for ``volume_ratio`` (gate.yml ``volume_basis``):
#: every earlier delivery day (a daily feed), the earlier delivery days on the same weekday
#: (a feed with a weekly rhythm), or on the same day of the month (a feed delivered on
#: billing-cycle days, such as bills: a day without a cycle has nothing to compare with).
VOLUME_BASES = ("previous_days", "same_weekday", "same_day_of_month")

#: Every setting of gate.yml and the type its value must have. Those the suites name as
#: ``$PARAMETER`` are passed to Great Expectations; the rest steer the metrics queries.
SETTING_TYPES: dict[str, type] = {
    "quarantine_rate_warn": float,
    "quarantine_rate_fail": float,
    "volume_ratio_min": float,
    "volume_ratio_max": float,
    "volume_ratio_fail_min": float,
    "volume_ratio_fail_max": float,
    "empty_event_files_max": int,
    "volume_basis": str,
    "volume_window_days": int,
    "volume_min_history_days": int,
    "volume_min_mean_rows": int,
    "sample_rows": int,
    # raw usage_events: the service mix (share of the day's records that are data sessions)
    "data_event_share_min": float,
    "data_event_share_max": float,
    # marts (expectations/marts): segment shares and churn rate of the month's base
    "segment_share_min": float,
    "segment_share_max": float,
    "unclassified_share_max": float,
    "churn_rate_max": float,
    "share_min_base": int,
    # publish (expectations/publish): list size against its history, control share
    "list_size_ratio_min": float,
    "list_size_ratio_max": float,
    "list_size_window_days": int,
    "list_size_min_history_days": int,
    "list_size_min_mean_rows": int,
    "control_share_tolerance_sd": float,
    "control_share_min_rows": int,
    "empty_list_min_suppressed": int,
}
#: The values a text setting may take.
SETTING_CHOICES: dict[str, tuple[str, ...]] = {"volume_basis": VOLUME_BASES}

#: A setting's value: a threshold, a count or one of its SETTING_CHOICES.
Setting = float | int | str


class QualityConfigError(ValueError):
    """A suite or gate.yml is malformed: found when the gate loads them, before any data is read."""


@dataclass(frozen=True)
class FeedSettings:
    """The gate settings in force for one feed: the defaults with that feed's overrides."""

    values: dict[str, Setting]

    def __getitem__(self, name: str) -> Setting:
        return self.values[name]

    @property
    def sample_rows(self) -> int:
        return int(self.values["sample_rows"])


@dataclass(frozen=True)
class GateConfig:
    """gate.yml's settings (every one in ``defaults``), or a profile's ``gate:`` (only those it changes)."""

    defaults: dict[str, Setting]
    feeds: dict[str, dict[str, Setting]]
    #: Overrides for one output table (``marts.<table>``), as ``feeds`` for a raw feed.
    tables: dict[str, dict[str, Setting]] = field(default_factory=dict)

    def for_feed(self, feed: str) -> FeedSettings:
        return FeedSettings({**self.defaults, **self.feeds.get(feed, {})})

    def for_table(self, table: str) -> FeedSettings:
        return FeedSettings({**self.defaults, **self.tables.get(table, {})})

    def overlaid(self, overrides: GateConfig) -> GateConfig:
        """This configuration with ``overrides`` (an operator profile's ``gate:``) laid over it
        section by section: the overrides' ``defaults`` replace these defaults, and their
        ``feeds.<feed>`` and ``tables.<table>`` the settings of that feed or table.

        A default set in the profile does not undo what gate.yml sets for one feed: those
        overrides say what a feed is (bills come per billing cycle, NPS answers when customers
        answer), not how the generated world happens to look, so they hold until the profile
        names the feed itself.
        """

        def merged(base: dict[str, dict[str, Setting]], over: dict[str, dict[str, Setting]]) -> dict:
            return {name: {**base.get(name, {}), **over.get(name, {})} for name in {**base, **over}}

        return GateConfig(
            defaults={**self.defaults, **overrides.defaults},
            feeds=merged(self.feeds, overrides.feeds),
            tables=merged(self.tables, overrides.tables),
        )

    def lines(self) -> list[str]:
        """One ``section.name=value`` per setting, for the log line saying what a profile changes."""
        out = [f"defaults.{k}={v}" for k, v in self.defaults.items()]
        for section, named in (("feeds", self.feeds), ("tables", self.tables)):
            out += [f"{section}.{name}.{k}={v}" for name, values in named.items() for k, v in values.items()]
        return out


def _checked(where: str, values: Any, *, complete: bool) -> dict[str, Setting]:
    if not isinstance(values, dict):
        raise QualityConfigError(f"{where}: give {{setting: value}}, not {values!r}")
    if unknown := sorted(set(values) - set(SETTING_TYPES)):
        raise QualityConfigError(f"{where}: unknown settings {unknown}; known: {sorted(SETTING_TYPES)}")
    if complete and (missing := sorted(set(SETTING_TYPES) - set(values))):
        raise QualityConfigError(f"{where}: missing settings {missing}")
    checked: dict[str, Setting] = {}
    for name, value in values.items():
        kind = SETTING_TYPES[name]
        if kind is str:
            if value not in SETTING_CHOICES[name]:
                raise QualityConfigError(f"{where}.{name}: {value!r} is not one of {list(SETTING_CHOICES[name])}")
            checked[name] = value
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (kind is int and not isinstance(value, int))
        ):
            raise QualityConfigError(f"{where}.{name}: {value!r} is not {'an integer' if kind is int else 'a number'}")
        checked[name] = kind(value)
    return checked


def parse_gate_config(data: Any, source: str, *, within: str = "", complete: bool) -> GateConfig:
    """Check a gate document the one way, so a typo is refused alike in gate.yml and in an
    operator profile's ``gate:`` section (``source`` the profile file, ``within`` ``"gate"``).

    ``complete``: every setting is required in ``defaults`` (gate.yml, the base); an overlay
    sets only what it changes.
    """
    document = f"{source}: {within}" if within else source
    at = f"{document}." if within else f"{source}: "  # what a setting's path starts with
    if not isinstance(data, dict):
        raise QualityConfigError(f"{document}: give a mapping with the sections {list(GATE_SECTIONS)}")
    if unknown := sorted(set(data) - set(GATE_SECTIONS)):
        raise QualityConfigError(f"{document}: unknown sections {unknown}; known: {list(GATE_SECTIONS)}")
    for section in ("feeds", "tables"):
        if not isinstance(data.get(section) or {}, dict):
            raise QualityConfigError(f"{at}{section}: give {{name: {{setting: value}}}}")
    defaults = _checked(f"{at}defaults", data.get("defaults") or {}, complete=complete)
    feeds = {
        str(feed): _checked(f"{at}feeds.{feed}", overrides or {}, complete=False)
        for feed, overrides in (data.get("feeds") or {}).items()
    }
    tables = {
        str(table): _checked(f"{at}tables.{table}", overrides or {}, complete=False)
        for table, overrides in (data.get("tables") or {}).items()
    }
    return GateConfig(defaults=defaults, feeds=feeds, tables=tables)


class GateSection(Protocol):
    """What :func:`load_gate_config` reads of an operator profile: its ``gate:`` section."""

    @property
    def gate(self) -> GateConfig | None: ...


def expectations_dir() -> Path:
    """The folder of suites and gate.yml: ``$TELCO_MART_EXPECTATIONS_DIR`` or ``<repo>/expectations``."""
    value = os.environ.get("TELCO_MART_EXPECTATIONS_DIR")
    return Path(value).expanduser().resolve() if value else REPO_ROOT / "expectations"


def load_gate_config(directory: Path | None = None, profile: GateSection | None = None) -> GateConfig:
    """Read and check gate.yml, so that a typo fails the gate loudly instead of loosening it,
    with the operator ``profile``'s ``gate:`` section laid over it (:meth:`GateConfig.overlaid`)."""
    path = (directory or expectations_dir()) / GATE_CONFIG_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise QualityConfigError(f"{path} is missing: the gate's thresholds live there") from None
    config = parse_gate_config(data, str(path), complete=True)
    return config.overlaid(profile.gate) if profile is not None and profile.gate is not None else config
