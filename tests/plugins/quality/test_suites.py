"""The committed suites and gate.yml: valid GX, in step with the contract, refused when malformed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from telco_mart.contract import load_contract
from telco_mart.gate_settings import QualityConfigError, expectations_dir, load_gate_config
from telco_mart.quality.gate import load_raw_suites
from telco_mart.quality.scaffold import scaffold

CONTRACT = load_contract()


@pytest.fixture
def suites_copy(tmp_path: Path) -> Path:
    """A writable copy of expectations/ to break or rescaffold."""
    shutil.copytree(expectations_dir(), tmp_path / "expectations")
    return tmp_path / "expectations"


def edit_suite(directory: Path, feed: str, change) -> None:
    path = directory / "raw" / f"{feed}.json"
    document = json.loads(path.read_text())
    change(document["expectations"])
    path.write_text(json.dumps(document, indent=2))


def test_every_feed_has_one_valid_suite_with_severities_and_descriptions() -> None:
    suites = load_raw_suites()
    assert sorted(s.data_asset for s in suites) == sorted(f"raw.{feed}" for feed in CONTRACT.feeds)
    for suite in suites:
        assert {c.severity for c in suite.checks} <= {"warn", "fail"}
        assert all(c.description for c in suite.checks)
        assert {c.batch for c in suite.checks} == {"rows", "day"}, suite.name


def test_committed_suites_are_in_step_with_the_contract() -> None:
    stale = scaffold(CONTRACT, expectations_dir(), write=False)
    assert stale == [], f"run `telco-mart quality scaffold`: {stale} no longer match the raw contract"


def test_scaffold_keeps_hand_written_expectations_and_reviewed_severities(suites_copy: Path) -> None:
    def review(expectations: list[dict]) -> None:
        expectations[1]["severity"] = "warning"  # a reviewer downgraded a contract-derived check
        expectations.append(
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "rows", "min_value": 1},
                "severity": "critical",
                "description": "hand-written",
                "meta": {"batch": "day"},
            }
        )

    edit_suite(suites_copy, "plans", review)
    before = json.loads((suites_copy / "raw" / "plans.json").read_text())["expectations"]
    scaffold(CONTRACT, suites_copy)
    after = json.loads((suites_copy / "raw" / "plans.json").read_text())["expectations"]
    assert after == before


def test_scaffold_writes_a_missing_suite_with_the_standard_gate_checks(suites_copy: Path) -> None:
    committed = (suites_copy / "raw" / "opt_outs.json").read_text()
    (suites_copy / "raw" / "opt_outs.json").unlink()
    assert scaffold(CONTRACT, suites_copy) == [suites_copy / "raw" / "opt_outs.json"]
    written = json.loads((suites_copy / "raw" / "opt_outs.json").read_text())["expectations"]
    columns = {e["kwargs"].get("column") for e in written}
    assert {"files_rejected", "quarantine_rate", "volume_ratio", "orphan_rows__subscriber_id"} <= columns
    # The committed suite is that scaffold plus what people added by hand.
    hand_written = [e for e in json.loads(committed)["expectations"] if e not in written]
    assert all(not e["meta"].get("from_contract") for e in hand_written)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda e: e[0].update(severity="info"), "severity must be"),
        (lambda e: e[0]["meta"].pop("batch"), "meta.batch"),
        (lambda e: e[0].pop("description"), "description"),
        (lambda e: e[-1]["kwargs"].update(column="no_such_metric"), "on one of the metrics"),
        (lambda e: e[1]["kwargs"].update(mostly=0.99), "mostly"),
        (lambda e: e[-1]["kwargs"].update(max_value={"$PARAMETER": "no_such_setting"}), "not a setting"),
        (lambda e: e.append(dict(e[-1])), "appears twice"),
    ],
)
def test_a_malformed_suite_is_refused_before_any_data_is_read(suites_copy: Path, change, complaint: str) -> None:
    edit_suite(suites_copy, "recharges", change)
    with pytest.raises(QualityConfigError, match=complaint):
        load_raw_suites(suites_copy)


def test_gate_settings_have_documented_defaults_and_per_feed_overrides(suites_copy: Path) -> None:
    config = load_gate_config()
    assert config.defaults["quarantine_rate_warn"] == 0.01
    assert config.defaults["quarantine_rate_fail"] == 0.05
    assert (config.defaults["volume_ratio_min"], config.defaults["volume_ratio_max"]) == (0.5, 2.0)
    path = suites_copy / "gate.yml"
    data = yaml.safe_load(path.read_text())
    data["feeds"] = {"recharges": {"quarantine_rate_fail": 0.2}}
    path.write_text(yaml.safe_dump(data))
    overridden = load_gate_config(suites_copy)
    assert overridden.for_feed("recharges")["quarantine_rate_fail"] == 0.2
    assert overridden.for_feed("usage_events")["quarantine_rate_fail"] == 0.05


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda d: d["defaults"].update(quarantine_rate_wran=0.1), "unknown settings"),
        (lambda d: d["defaults"].pop("volume_ratio_min"), "missing settings"),
        (lambda d: d["defaults"].update(volume_window_days="7"), "is not an integer"),
        (lambda d: d["feeds"].update(recharges={"sample_rows": 2.5}), "is not an integer"),
    ],
)
def test_a_malformed_gate_yml_is_refused(suites_copy: Path, change, complaint: str) -> None:
    path = suites_copy / "gate.yml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(QualityConfigError, match=complaint):
        load_gate_config(suites_copy)
