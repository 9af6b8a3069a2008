"""`telco-mart run`'s own logic: the figures it prints per task, and what it keeps out of its log.

The run itself, through a real scheduler, is tested in tests/e2e/test_operating.py.
"""

from __future__ import annotations

from pathlib import Path

from telco_mart.scheduled_run import LogFile, describe_result, is_leak_report

#: What DuckDB's binding library prints when a process exits (from a demo run's log).
LEAK_REPORT = """nanobind: leaked 27 instances!
 - leaked instance 0x559681034e80 of type "_duckdb._sqltypes.DuckDBPyType"
 - ... skipped remainder
nanobind: leaked 15 types!
 - leaked type "ExpectedResultType"
nanobind: this is likely caused by a reference counting issue in the binding code.
See https://nanobind.readthedocs.io/en/latest/refleaks.html"""


def test_each_tasks_summary_becomes_the_figures_a_person_follows() -> None:
    ingested = {
        "run_date": "2026-06-30",
        "dates_scanned": ["2026-01-01", "2026-06-30"],
        "batch_start_date": "2026-01-01",
        "batch_end_date": "2026-06-30",
        "rows_read": 10,
        "rows_loaded": 18_201_344,
        "rows_quarantined": 12,
        "rows_rejected": 0,
        "files_loaded": 2_353,
        "files_skipped": 0,
        "files_rejected": 1,
    }
    assert describe_result(ingested) == (
        "2,353 files loaded, 1 rejected, 18,201,344 rows loaded, 12 quarantined, "
        "dbt batch from 2026-01-01, to 2026-06-30"
    )
    gate = {"stage": "raw", "results": 412, "failed": 0, "warned": 3, "report": "/d/q/report-raw.html", "seconds": 9}
    assert describe_result(gate) == "412 checks, 0 failed, 3 warned, report /d/q/report-raw.html"
    delivered = {"delivery_date": "2026-06-30", "files": 14, "feeds": {"plans": 1, "usage_events": 2}}
    assert describe_result(delivered) == "14 files, from 2 feeds"
    assert describe_result(None) == ""


def test_the_log_file_keeps_everything_but_the_exit_leak_report(tmp_path: Path) -> None:
    assert all(is_leak_report(line) for line in LEAK_REPORT.splitlines())
    assert not is_leak_report("2026-12-04T15:10:38Z [info] DagRun Finished: dag_id=operator_daily")
    log = LogFile(tmp_path / "run.log")
    log.write("scheduler | task started\n" + LEAK_REPORT + "\nscheduler | task done")
    log.close()
    assert (tmp_path / "run.log").read_text() == "scheduler | task started\nscheduler | task done\n"
