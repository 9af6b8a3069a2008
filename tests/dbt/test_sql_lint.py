"""The dbt models keep the house SQL style, checked by sqlfluff (issue 23).

The style and every rule left out, with its reason, are in the repository's ``.sqlfluff``.
sqlfluff lints each model as dbt compiles it (its dbt templater, against the profile's
in-memory ``lint`` target: no warehouse, no network). Line length is checked here on the
source text, because sqlfluff's own rule measures the compiled text, where a macro call can
make a short line long. ``make lint`` runs this module; CI runs it inside ``make test``.
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.lint

MODELS = REPO_ROOT / "dbt_project" / "models"
SQLFLUFF = Path(sys.executable).with_name("sqlfluff")


def max_line_length() -> int:
    """The one line-length setting of the SQL style, read from .sqlfluff."""
    config = configparser.ConfigParser()
    config.read(REPO_ROOT / ".sqlfluff")
    return config.getint("sqlfluff", "max_line_length")


def long_lines(paths: list[Path], limit: int, root: Path = REPO_ROOT) -> list[str]:
    """``path:line: N > limit`` for every source line longer than ``limit`` characters."""
    return [
        f"{path.relative_to(root)}:{number}: {len(line)} > {limit}"
        for path in paths
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if len(line) > limit
    ]


def test_models_follow_the_house_sql_style() -> None:
    models = sorted(MODELS.rglob("*.sql"))
    started = time.monotonic()
    result = subprocess.run(
        [str(SQLFLUFF), "lint", str(MODELS.relative_to(REPO_ROOT)), "--format", "json", "--nofail"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        # The dbt templater compiles the project: no telemetry, and the warehouse variable
        # that the dev target needs is not needed by the lint target (nor read).
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        timeout=600,
    )
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    violations = [
        f"{entry['filepath']}:{v['start_line_no']}:{v['start_line_pos']}: {v['code']} {v['description']}"
        for entry in report
        for v in entry["violations"]
    ]
    assert not violations, (
        f"{len(violations)} SQL style violation(s) (see .sqlfluff; `.venv/bin/sqlfluff fix <file>` fixes most, "
        "`.venv/bin/sqlfluff lint <file>` explains):\n" + "\n".join(violations)
    )
    # A model that failed to compile, or one sqlfluff skipped, would be reported as a
    # violation (TMP, PRS) or be missing from the report: every model file is in it.
    linted = {Path(entry["filepath"]).resolve() for entry in report}
    assert linted == {m.resolve() for m in models}, sorted(str(m) for m in {m.resolve() for m in models} - linted)
    print(f"sqlfluff: {len(models)} models linted in {seconds:.1f} s")


def test_model_source_lines_fit_the_line_length() -> None:
    assert long_lines(sorted(MODELS.rglob("*.sql")), max_line_length()) == []


def test_long_lines_finds_a_long_line(tmp_path: Path) -> None:
    model = tmp_path / "model.sql"
    model.write_text("select 1\n" + "-- " + "x" * 10 + "\n")
    assert long_lines([model], 13, root=tmp_path) == []
    assert long_lines([model], 12, root=tmp_path) == ["model.sql:2: 13 > 12"]
