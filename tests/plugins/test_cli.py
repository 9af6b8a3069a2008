"""The `telco-mart` command: every command helps (defaults, examples), the old options still work."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
import typer

from telco_mart import cli
from tests.conftest import REPO_ROOT


def commands(command=None, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], object]]:
    """Every command of the app, groups included, with its path (``("quality", "check")``)."""
    command = command or typer.main.get_command(cli.app)
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from commands(sub, (*path, name))


def test_version_prints_the_installed_version(capsys) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"telco-mart {version('telco-mart')}\n"


def test_every_command_has_help_and_examples_of_itself() -> None:
    seen = []
    for path, command in commands():
        seen.append(" ".join(path))
        if getattr(command, "commands", None) and path:
            continue  # a group's own help lists its commands; each of them shows examples
        assert command.help, path
        examples = re.findall(r"^  (telco-mart .*?)\s*(?:#.*)?$", command.epilog or "", flags=re.MULTILINE)
        assert examples, f"telco-mart {' '.join(path)} has no examples"
        for example in examples:
            assert example.startswith(" ".join(["telco-mart", *path])), (path, example)
    # the commands Makefile, tests, benchmarks and docs use are all there
    assert {"generate", "ingest", "contract", "summary", "quality check", "quality scaffold"} <= set(seen)
    assert {"campaigns validate", "targets", "airflow", "run"} <= set(seen)


def test_every_option_says_what_it_does_and_its_default() -> None:
    for path, command in commands():
        ctx = typer.Context(command, info_name="telco-mart")
        for param in command.params:
            if param.param_type_name != "option" or getattr(param, "is_eager", False):
                continue  # --version, --help: actions, not settings
            record = param.get_help_record(ctx)
            assert record and record[1].strip(), (path, param.name)
            assert "[default: " in record[1] or "[required]" in record[1], (path, param.name, record)


def test_the_generators_defaults_are_the_demos() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    demo = dict(re.findall(r"^DEMO_(\w+) \?= (\S+)$", makefile, flags=re.MULTILINE))
    defaults = {p.name: p.default for p in typer.main.get_command(cli.app).commands["generate"].params}
    assert str(defaults["subscribers"]) == demo["SUBSCRIBERS"]
    assert (str(defaults["start"]), str(defaults["end"])) == (demo["START"], demo["END"])
    assert str(defaults["seed"]) == demo["SEED"] and defaults["file_format"] == demo["FORMAT"]
    assert defaults["events_per_sub_day"] == float(demo["EVENTS_PER_SUB_DAY"])


def test_contract_markdown_is_the_rendered_doc_and_plain_contract_one_line_a_feed(capsys, tmp_path: Path) -> None:
    from telco_mart.contract import load_contract

    assert cli.main(["contract", "--markdown"]) == 0
    assert capsys.readouterr().out == (REPO_ROOT / "docs" / "raw_contract.md").read_text(encoding="utf-8")
    assert cli.main(["contract"]) == 0
    lines = capsys.readouterr().out.splitlines()
    feeds = load_contract().feeds
    assert [line.split()[0] for line in lines[2:]] == list(feeds)
    assert cli.main(["contract", "--markdown", "--out", str(tmp_path / "c.md")]) == 0  # what make docs runs
    assert (tmp_path / "c.md").read_text() == (REPO_ROOT / "docs" / "raw_contract.md").read_text()


def test_the_old_generate_and_ingest_options_still_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    landing = tmp_path / "landing"
    argv = ["generate", "--subscribers", "60", "--start", "2026-01-01", "--end", "2026-01-04", "--seed", "7"]
    argv += ["--format", "csv", "--defects", "--events-per-sub-day", "2", "--out", str(landing)]
    assert cli.main(argv) == 0
    assert (landing / "_truth" / "defects.json").exists() and list(landing.glob("usage_events/*/*.csv"))
    capsys.readouterr()
    monkeypatch.setenv("TELCO_MART_DATA_DIR", str(tmp_path))
    warehouse = tmp_path / "w.duckdb"
    argv = ["ingest", "--start", "2026-01-01", "--end", "2026-01-04", "--landing", str(landing)]
    argv += ["--warehouse", str(warehouse), "--fail-on-rejected"]
    assert cli.main(argv) == 2  # never a new, empty warehouse: one line, no traceback
    assert "telco-mart init" in capsys.readouterr().err and not warehouse.exists()
    monkeypatch.setenv("TELCO_MART_WAREHOUSE", str(warehouse))
    assert cli.main(["init"]) == 0
    assert f"warehouse created {warehouse}" in capsys.readouterr().out
    assert cli.main(argv) == 1  # a planted defect is a file rejected whole
    out = capsys.readouterr().out
    report = json.loads(out[out.rindex("\n{\n") + 1 :])  # progress lines, then the summary
    assert report["files_rejected"] >= 1 and report["rows_loaded"] > 0 and warehouse.exists()


def test_airflow_without_arguments_shows_its_own_help(capsys) -> None:
    assert cli.main(["airflow"]) == 0
    out = capsys.readouterr().out
    assert "Run the airflow CLI with this project's environment" in out
    assert "telco-mart airflow dags test operator_daily 2026-06-30" in out


def test_usage_errors_name_the_option_and_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["ingest", "--date", "2026-13-01"])
    assert exited.value.code == 2
    assert "'2026-13-01' is not a date (YYYY-MM-DD)" in capsys.readouterr().err
    assert cli.main(["generate", "--start", "2026-02-01", "--end", "2026-01-01"]) == 2
    assert capsys.readouterr().err == "telco-mart: end 2026-01-01 is before start 2026-02-01\n"
    assert cli.main(["generate", "--defects", "--out", "/nonexistent/x"]) == 2
    assert "--defects plants CSV defects: add --format csv" in capsys.readouterr().err
