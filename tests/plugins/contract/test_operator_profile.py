"""Operator profiles: the bundled ones load, a malformed one is refused before any file is read."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from telco_mart.contract import load_contract
from telco_mart.contract.operator_profile import FeedDialect, ProfileError, load_profile, parse_profile

CONTRACT = load_contract()


def parse(document: dict):
    return parse_profile(document, name="test", source="test.yml", contract=CONTRACT)


def test_the_default_profile_is_the_contracts_own_spelling() -> None:
    profile = load_profile("default")
    assert profile.absent_feeds == []
    for feed in CONTRACT.feeds:
        assert profile.feed(feed) == FeedDialect(feed=feed)
        assert profile.feed(feed).reads_like_the_contract


def test_the_example_profile_spells_every_feed_its_way() -> None:
    profile = load_profile("example_operator")
    usage, cells, opt_outs = profile.feed("usage_events"), profile.feed("cells"), profile.feed("opt_outs")
    assert (usage.delimiter, usage.decimal_separator, usage.bom, usage.quote_all) == (";", ",", True, True)
    assert usage.time_zone == "America/New_York" and profile.feed("subscribers").time_zone == "Asia/Kolkata"
    assert cells.values == {"technology": {"GSM": "2G", "UMTS": "3G", "LTE": "4G", "NR": "5G"}}
    assert (opt_outs.true_values, opt_outs.false_values) == (("1",), ("0",))  # a feed's own spelling wins
    assert profile.feed("plans").true_values == ("Y",)


def test_the_environment_selects_the_profile_by_name_or_path(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TELCO_MART_OPERATOR_PROFILE", "example_operator")
    assert load_profile().name == "example_operator"
    path = tmp_path / "mine.yml"
    path.write_text("feeds: {nps_responses: {delivered: false}}\n", encoding="utf-8")
    monkeypatch.setenv("TELCO_MART_OPERATOR_PROFILE", str(path))
    assert load_profile().absent_feeds == ["nps_responses"]
    path.write_text("feeds: {}\n", encoding="utf-8")  # an edited profile is read again
    assert load_profile().absent_feeds == []
    monkeypatch.setenv("TELCO_MART_OPERATOR_PROFILE", "nowhere")
    with pytest.raises(ProfileError, match="no operator profile 'nowhere': bundled profiles are"):
        load_profile()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"defaults": {"delimiter": ";;"}}, "must be a single character"),
        ({"defaults": {"time_zone": "Mars/Olympus"}}, "is not an IANA time zone"),
        ({"defaults": {"encoding": "klingon"}}, "unknown encoding"),
        ({"defaults": {"date_formats": ["%Y-%m-%d %z"]}}, "a date has no UTC offset"),
        ({"defaults": {"true_values": [True]}}, "is not a text value"),  # YAML's unquoted yes
        ({"defaults": {"true_values": ["Y"], "false_values": ["y"]}}, "spell both true and false"),
        ({"defaults": {"decimal_separator": ",", "thousands_separator": ","}}, "decimal separator must differ"),
        ({"defaults": {"timestamp_window": ["2100-01-01", "1900-01-01"]}}, "runs backwards"),
        ({"defaults": {"colour": "blue"}}, "unknown keys"),
        ({"feeds": {"refunds": {}}}, "feeds the contract does not have"),
        ({"feeds": {"subscribers": {"delivered": False}}}, "cannot be declared absent"),
        ({"feeds": {"cells": {"values": {"technology": {"LTE": "4.5G"}}}}}, "not one of the contract's"),
        ({"feeds": {"cells": {"values": {"region": {"N": "north"}}}}}, "no closed value set"),
        ({"feeds": {"cells": {"values": {"colour": {"N": "north"}}}}}, "has no column"),
    ],
)
def test_a_malformed_profile_is_refused_with_the_reason(document: dict, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        parse(document)


def test_windows_and_formats_parse_from_yaml() -> None:
    profile = parse(
        yaml.safe_load(
            """
            defaults:
              timestamp_window: ["2000-01-01", "2030-12-31 23:59:59"]
              date_window: [1950-01-01, 2099-12-31]
              timestamp_formats: "%d.%m.%Y %H:%M"
              true_values: [1, "J"]
            """
        )
    )
    dialect = profile.feed("usage_events")
    assert dialect.timestamp_window == (dt.datetime(2000, 1, 1), dt.datetime(2030, 12, 31, 23, 59, 59))
    assert dialect.date_window == (dt.date(1950, 1, 1), dt.date(2099, 12, 31))
    assert dialect.timestamp_formats == ("%d.%m.%Y %H:%M",)
    assert dialect.true_values == ("1", "J")
