"""Gates that fit the operator: the service mix judged on explicit event types, and an operator
profile's ``gate:`` section laid over expectations/gate.yml.

The small generated world is ingested up to the day before its last; each test then delivers
that last day's usage file as a real operator might (as generated, with call_type left empty
for voice and SMS too, or without any data record), ingests it with the real loader and runs
the real raw gate on it, under the bundled default profile or a profile file written here.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
import yaml

from telco_mart.contract.operator_profile import OperatorProfile, ProfileError, load_profile
from telco_mart.gate_settings import load_gate_config
from telco_mart.ingest import ingest
from telco_mart.quality import QualityConfigError, QualityGateFailed, run_raw_gate_on
from telco_mart.quality.results import Finding
from telco_mart.schema import copy_warehouse
from tests.conftest import SMALL_END, SMALL_START

DAY = SMALL_END
SERVICE_MIX = "expect_column_values_to_be_between(value_share__event_type__data)"
#: A usage record, as the CSV reader hands it: column -> text as written.
Record = dict[str, str]


@pytest.fixture(scope="module")
def day_before(small_landing: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small world ingested up to the day before DAY: read-only, copied per delivery."""
    warehouse = tmp_path_factory.mktemp("gate_profile") / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        ingest(con, small_landing, DAY - dt.timedelta(days=1), progress=lambda _: None)
    return warehouse


def deliver(
    small_landing: Path, day_before: Path, work: Path, change: Callable[[list[Record]], list[Record]] | None = None
) -> Path:
    """A copy of the warehouse with DAY's files ingested, its usage file first rewritten by ``change``."""
    landing = work / "landing"
    shutil.copytree(small_landing, landing, ignore=shutil.ignore_patterns("_truth"))
    if change is not None:
        (path,) = (landing / "usage_events" / DAY.isoformat()).glob("*.csv")
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header, records = list(reader.fieldnames or []), list(reader)
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, header, lineterminator="\n")
            writer.writeheader()
            writer.writerows(change(records))
    warehouse = work / "warehouse.duckdb"
    copy_warehouse(day_before, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        ingest(con, landing, DAY, dates=[DAY], progress=lambda _: None)
    return warehouse


def without_call_type_but_for_data(records: list[Record]) -> list[Record]:
    """A switch that writes no call type at all: call_type empty for voice and SMS as for data."""
    return [{**r, "call_type": ""} for r in records]


def without_data_records(records: list[Record]) -> list[Record]:
    """A mediation extract that lost its data sessions: voice and SMS only."""
    return [r for r in records if r["event_type"] != "data"]


def usage_findings(warehouse: Path, data_dir: Path, profile: OperatorProfile | None = None) -> list[Finding]:
    """The raw gate's usage findings for DAY, under ``profile`` (default: the bundled default)."""
    with duckdb.connect(str(warehouse)) as con:
        try:
            outcome = run_raw_gate_on(
                con, DAY, "test", data_dir=data_dir, profile=profile or load_profile("default")
            ).findings
        except QualityGateFailed as failed:
            outcome = failed.findings
    return [f for f in outcome if f.suite == "raw.usage_events"]


def service_mix(findings: list[Finding]) -> Finding:
    (finding,) = [f for f in findings if f.expectation == SERVICE_MIX]
    return finding


def not_passed(findings: list[Finding]) -> list[str]:
    return [f"{f.expectation} [{f.severity}]: {f.observed_value}" for f in findings if not f.success]


def profile_file(path: Path, gate: object) -> Path:
    path.write_text(yaml.safe_dump({"description": "a test operator", "gate": gate}), encoding="utf-8")
    return path


def test_empty_call_types_for_voice_and_sms_are_an_ordinary_service_mix(
    small_landing: Path, day_before: Path, tmp_path: Path
) -> None:
    generated = usage_findings(deliver(small_landing, day_before, tmp_path / "generated"), tmp_path / "generated")
    warehouse = deliver(small_landing, day_before, tmp_path / "no_call_type", without_call_type_but_for_data)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        by_type = dict(
            con.execute(
                "select event_type, count(call_type) from raw.usage_events where _delivery_date = ? group by 1",
                [DAY],
            ).fetchall()
        )
    assert set(by_type) == {"voice", "sms", "data"} and set(by_type.values()) == {0}  # delivered as meant

    findings = usage_findings(warehouse, tmp_path / "no_call_type")
    assert not_passed(findings) == []
    mix = service_mix(findings)
    # the same mix as the generated day: the empty call types change nothing
    assert mix.observed_number == service_mix(generated).observed_number
    assert 0.3 < mix.observed_number < 0.65, mix.observed_value
    assert mix.details["expected"] == "between 0.2 and 0.8"


def test_a_delivery_without_data_records_is_flagged(small_landing: Path, day_before: Path, tmp_path: Path) -> None:
    warehouse = deliver(small_landing, day_before, tmp_path, without_data_records)
    findings = usage_findings(warehouse, tmp_path)
    mix = service_mix(findings)
    assert (mix.success, mix.outcome, mix.observed_value) == (False, "warn", "0.0000")
    # the sample is the day's mix, so the report shows what the day held instead
    assert {row["event_type"] for row in mix.sample} == {"voice", "sms"}
    assert all(row["rows"] > 0 for row in mix.sample)
    assert not_passed(findings) == [f"{SERVICE_MIX} [warn]: 0.0000"]


def test_a_profiles_gate_section_changes_the_verdict_of_a_real_run(
    small_landing: Path, day_before: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An operator whose usage feed carries voice and SMS only (data records come from another
    platform): gate.yml's band warns on every such day, the profile's band passes it."""
    warehouse = deliver(small_landing, day_before, tmp_path, without_data_records)
    assert not service_mix(usage_findings(warehouse, tmp_path / "default")).success

    path = profile_file(
        tmp_path / "voice_and_sms.yml",
        {"feeds": {"usage_events": {"data_event_share_min": 0.0, "data_event_share_max": 0.05}}},
    )
    with caplog.at_level(logging.INFO, logger="telco_mart.quality.gate"):
        findings = usage_findings(warehouse, tmp_path / "profiled", load_profile(str(path)))
    mix = service_mix(findings)
    assert (mix.success, mix.observed_value, mix.details["expected"]) == (True, "0.0000", "between 0.0 and 0.05")
    assert not_passed(findings) == []
    assert (
        "operator profile 'voice_and_sms' sets the gate's feeds.usage_events.data_event_share_max=0.05, "
        "feeds.usage_events.data_event_share_min=0.0 over gate.yml"
    ) in caplog.messages


def test_a_profile_is_laid_over_gate_yml_section_by_section(tmp_path: Path) -> None:
    gate_yml = load_gate_config()
    path = profile_file(
        tmp_path / "acme.yml",
        {
            "defaults": {"empty_event_files_max": 2, "segment_share_max": 0.6},
            "feeds": {"nps_responses": {"empty_event_files_max": 3}},
            "tables": {"marts.subscriber_segments_monthly": {"unclassified_share_max": 0.7}},
        },
    )
    config = load_gate_config(profile=load_profile(str(path)))
    assert config.for_feed("usage_events")["empty_event_files_max"] == 2  # the profile's default
    assert config.for_feed("nps_responses")["empty_event_files_max"] == 3  # the profile's feed
    # what gate.yml says of one feed holds against the profile's defaults
    assert config.for_feed("bills")["empty_event_files_max"] == gate_yml.for_feed("bills")["empty_event_files_max"] == 1
    assert config.for_feed("bills")["volume_basis"] == "same_day_of_month"
    segments = config.for_table("marts.subscriber_segments_monthly")
    assert (segments["segment_share_max"], segments["unclassified_share_max"]) == (0.6, 0.7)
    assert config.for_feed("usage_events")["quarantine_rate_warn"] == gate_yml.defaults["quarantine_rate_warn"]
    # the bundled default profile changes nothing
    assert load_gate_config(profile=load_profile("default")) == gate_yml


@pytest.mark.parametrize(
    ("gate", "complaint"),
    [
        ({"defaults": {"segment_share_maxx": 0.6}}, r"gate\.defaults: unknown settings \['segment_share_maxx'\]"),
        (
            {"feeds": {"usage_events": {"data_share_max": 0.9}}},
            r"gate\.feeds\.usage_events: unknown settings \['data_share_max'\]",
        ),
        ({"bands": {}}, r"gate: unknown sections \['bands'\]"),
        ({"feeds": {"usage": {"sample_rows": 3}}}, r"gate: feeds the contract does not have: \['usage'\]"),
        ({"defaults": {"volume_window_days": 7.5}}, r"gate\.defaults\.volume_window_days: 7\.5 is not an integer"),
        ({"feeds": {"bills": {"volume_basis": "monthly"}}}, r"gate\.feeds\.bills\.volume_basis: 'monthly' is not one"),
        ({"defaults": ["segment_share_max"]}, r"gate\.defaults: give \{setting: value\}"),
        (["segment_share_max"], r"gate: give a mapping with the sections"),
    ],
)
def test_a_malformed_gate_section_is_refused_naming_the_profile(tmp_path: Path, gate: object, complaint: str) -> None:
    path = profile_file(tmp_path / "acme.yml", gate)
    with pytest.raises(ProfileError, match=f"^{re.escape(str(path))}: {complaint}"):
        load_profile(str(path))


def test_a_misspelt_table_in_a_profile_stops_the_gate_before_any_data_is_read(tmp_path: Path) -> None:
    path = profile_file(tmp_path / "acme.yml", {"tables": {"marts.subscriber_segment_monthly": {"sample_rows": 3}}})
    profile = load_profile(str(path))
    refused = pytest.raises(QualityConfigError, match=r"acme\.yml: gate\.tables: no output suite checks \['marts\.")
    with duckdb.connect() as con, refused:  # an empty database: nothing is read before the refusal
        run_raw_gate_on(con, DAY, "test", data_dir=tmp_path, start=SMALL_START, profile=profile)
