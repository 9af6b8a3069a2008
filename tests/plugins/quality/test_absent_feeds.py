"""A feed the operator does not deliver: its presence checks are off, said once per gate run."""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
import yaml

from telco_mart.contract import load_contract
from telco_mart.contract.operator_profile import load_profile
from telco_mart.ingest import ingest
from telco_mart.quality import QualityGateFailed, run_raw_gate_on
from telco_mart.quality.raw import PRESENCE_METRICS, exempt_metrics
from tests.conftest import SMALL_END, SMALL_START


@pytest.fixture(scope="module")
def without_recharges(small_landing: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The small world of an operator with no recharge feed, ingested under a profile that says so."""
    work = tmp_path_factory.mktemp("absent_feeds")
    landing = work / "landing"
    shutil.copytree(small_landing, landing, ignore=shutil.ignore_patterns("recharges"))
    profile = work / "no_recharges.yml"
    profile.write_text(yaml.safe_dump({"feeds": {"recharges": {"delivered": False}}}), encoding="utf-8")
    warehouse = work / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        ingest(con, landing, SMALL_END, progress=lambda _: None, profile=load_profile(str(profile)))
    return warehouse, profile


def gate(warehouse: Path, data_dir: Path, profile=None):
    with duckdb.connect(str(warehouse)) as con:
        try:
            return run_raw_gate_on(con, SMALL_END, "test", data_dir=data_dir, start=SMALL_START, profile=profile)
        except QualityGateFailed as failed:
            return failed


def test_presence_checks_of_a_feed_not_delivered_are_off(without_recharges, tmp_path, caplog) -> None:
    warehouse, profile_path = without_recharges
    # the contract's own profile expects recharges every day: a finding per day
    missing = [
        f for f in gate(warehouse, tmp_path / "default").findings if f.suite == "raw.recharges" and not f.success
    ]
    days = (SMALL_END - SMALL_START).days + 1
    assert {f.expectation for f in missing} == {
        "expect_column_values_to_be_between(files_loaded)",
        "expect_column_values_to_be_between(missing_due_delivery)",  # a fail: recharges are due daily
    }
    assert len(missing) == 2 * days

    profile = load_profile(str(profile_path))
    with caplog.at_level(logging.INFO, logger="telco_mart.quality.gate"):
        outcome = gate(warehouse, tmp_path / "profiled", profile)
    recharges = [f for f in outcome.findings if f.suite == "raw.recharges"]
    assert recharges and all(f.success for f in recharges)  # the row checks still ran, on no rows
    assert not any(metric in f.expectation for metric in PRESENCE_METRICS for f in recharges)
    said = [r.getMessage() for r in caplog.records if "not delivered" in r.getMessage()]
    assert said == [
        "operator profile 'no_recharges': feeds not delivered: recharges; checks off: recharges files_loaded, "
        "volume_ratio, missing_due_delivery, empty_event_files"
    ]


def test_references_to_a_feed_not_delivered_are_not_judged() -> None:
    contract = load_contract()
    profile = load_profile("default")
    assert exempt_metrics(contract.feed("usage_events"), profile) == []
    profile = replace(profile, feeds=profile.feeds | {"cells": replace(profile.feed("cells"), delivered=False)})
    assert exempt_metrics(contract.feed("usage_events"), profile) == ["orphan_rows__cell_id"]
    assert exempt_metrics(contract.feed("cells"), profile) == list(PRESENCE_METRICS)


def test_a_feed_that_governs_contact_cannot_be_declared_absent(tmp_path: Path) -> None:
    from telco_mart.contract.operator_profile import ProfileError

    for feed in ("opt_outs", "contact_history", "subscribers"):
        path = tmp_path / f"no_{feed}.yml"
        path.write_text(yaml.safe_dump({"feeds": {feed: {"delivered": False}}}), encoding="utf-8")
        with pytest.raises(ProfileError, match="cannot be declared absent"):
            load_profile(str(path))
