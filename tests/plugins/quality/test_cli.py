"""`telco-mart quality check --stage {raw,marts,publish}`: rerunning a stage of the gate by hand.

The parsing and dispatch are checked with the pipeline's gate functions replaced; then the
real command runs the marts stage on a copy of the session's ``built_warehouse`` and the
publish stage on a copy of ``campaign_warehouse`` (tests/conftest.py), as an operator would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from telco_mart import pipeline
from telco_mart.cli import main
from telco_mart.quality import QualityGateFailed
from telco_mart.schema import copy_warehouse
from tests.conftest import REPO_ROOT, SMALL_END

DAY = "2026-01-04"


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Replace the pipeline's three gates with fakes that record how they were called (in
    the dispatch table a stage named at run time is looked up in)."""
    seen: list[tuple] = []

    def fake(stage: str):
        def gate(run_date: date, **kwargs) -> dict:
            seen.append((stage, run_date, kwargs))
            return {"stage": stage, "failed": 0, "warned": 0, "report": f"/data/quality/{run_date}/report-{stage}.html"}

        return gate

    for stage in ("raw", "marts", "publish"):
        monkeypatch.setitem(pipeline.QUALITY_GATES, stage, fake(stage))
    return seen


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ("raw", date(2026, 1, 4), {"start": None, "end": None})),
        (["--stage", "raw"], ("raw", date(2026, 1, 4), {"start": None, "end": None})),
        (
            ["--start", "2026-01-01", "--end", "2026-01-03"],
            ("raw", date(2026, 1, 4), {"start": date(2026, 1, 1), "end": date(2026, 1, 3)}),
        ),
        (["--stage", "marts"], ("marts", date(2026, 1, 4), {})),
        (["--stage", "publish"], ("publish", date(2026, 1, 4), {})),
    ],
)
def test_each_stage_dispatches_to_its_gate(argv: list[str], expected: tuple, calls: list, capsys) -> None:
    assert main(["quality", "check", "--date", DAY, *argv]) == 0
    assert calls == [expected]
    out, err = capsys.readouterr()
    assert json.loads(out)["stage"] == expected[0]
    assert f"report: /data/quality/{DAY}/report-{expected[0]}.html" in err


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--stage", "marts", "--start", "2026-01-01"], "--start applies only to --stage raw"),
        (
            ["--stage", "publish", "--start", "2026-01-01", "--end", "2026-01-03"],
            "--start and --end apply only to --stage raw",
        ),
        (["--stage", "publish", "--end", "2026-01-03"], "--stage publish checks the run date's slice"),
        (["--start", "2026-01-03", "--end", "2026-01-01"], "run backwards"),
        (["--start", "2026-01-05"], "run backwards"),
        (["--stage", "dbt"], "'dbt' is not one of 'raw', 'marts', 'publish'"),
    ],
)
def test_arguments_that_make_no_sense_are_refused(argv: list[str], complaint: str, calls: list, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["quality", "check", "--date", DAY, *argv])
    assert exited.value.code == 2
    assert complaint in capsys.readouterr().err
    assert calls == []


def test_a_failed_gate_exits_1_with_its_message(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    def failing(run_date: date, **kwargs) -> dict:
        raise QualityGateFailed("data-quality gate (publish) failed for 2026-01-04\nreport: r.html", [], Path("r.html"))

    monkeypatch.setitem(pipeline.QUALITY_GATES, "publish", failing)
    assert main(["quality", "check", "--stage", "publish", "--date", DAY]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "gate (publish) failed for 2026-01-04" in err and "report: r.html" in err


def telco_mart(args: list[str], warehouse: Path, data_dir: Path) -> subprocess.CompletedProcess:
    """The installed `telco-mart` command, on ``warehouse``, writing reports under ``data_dir``."""
    env = dict(os.environ, TELCO_MART_WAREHOUSE=str(warehouse), TELCO_MART_DATA_DIR=str(data_dir))
    command = Path(sys.executable).with_name("telco-mart")
    return subprocess.run(
        [str(command), *args], env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=600
    )


def copy_of(warehouse: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "warehouse.duckdb"
    copy_warehouse(warehouse, copy)
    return copy


def stored(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return dict(con.execute("select stage, count(*) from marts.dq_results group by 1").fetchall())


@pytest.mark.dbt
def test_the_marts_stage_runs_by_hand_and_fails_loudly(built_warehouse: Path, tmp_path: Path) -> None:
    warehouse = copy_of(built_warehouse, tmp_path)
    clean = telco_mart(["quality", "check", "--stage", "marts", "--date", SMALL_END.isoformat()], warehouse, tmp_path)
    assert clean.returncode == 0, clean.stderr[-3000:]
    summary = json.loads(clean.stdout)
    report = tmp_path / "quality" / SMALL_END.isoformat() / "report-marts.html"
    assert summary["stage"] == "marts" and summary["failed"] == 0 and summary["results"] > 0
    assert summary["report"] == str(report) and report.is_file()
    assert f"report: {report}" in clean.stderr
    assert stored(warehouse) == {"marts": summary["results"]}

    with duckdb.connect(str(warehouse)) as con:
        con.execute("update marts.kpi_coverage_cell_daily set coverage_rate = 1.5 where kpi_date = ?", [SMALL_END])
    broken = telco_mart(["quality", "check", "--stage", "marts", "--date", SMALL_END.isoformat()], warehouse, tmp_path)
    assert broken.returncode == 1 and broken.stdout == ""
    assert "data-quality gate (marts) failed for 2026-01-04" in broken.stderr
    assert "marts.kpi_coverage_cell_daily" in broken.stderr and f"report: {report}" in broken.stderr


@pytest.mark.dbt
def test_the_publish_stage_runs_by_hand(campaign_warehouse: Path, tmp_path: Path) -> None:
    warehouse = copy_of(campaign_warehouse, tmp_path)
    run = telco_mart(["quality", "check", "--stage", "publish", "--date", SMALL_END.isoformat()], warehouse, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout)
    report = tmp_path / "quality" / SMALL_END.isoformat() / "report-publish.html"
    assert summary["stage"] == "publish" and summary["failed"] == 0 and summary["results"] > 0
    assert summary["report"] == str(report) and report.is_file()
    assert stored(warehouse) == {"publish": summary["results"]}


def test_an_unknown_stage_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown quality gate stage 'mart'; stages: raw, marts, publish"):
        pipeline.run_quality_gate("mart", date(2026, 1, 4))
