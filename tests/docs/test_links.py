"""The docs point only at files of this repository, and each of those exists.

A reader of a fresh clone has the repository and nothing else: a link to a web page, to a
file beside the checkout, or to a file since moved or deleted is a dead end for them.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import REPO_ROOT

#: A Markdown link or image, ``[text](target)``, and an HTML ``href``/``src``.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|(?:href|src)=\"([^\"]+)\"")
#: A path that climbs out of its folder (two dots and a slash, then more), in any tracked text file.
CLIMBING_PATH = re.compile(r"(?<![\w.])((?:\.\./)+[\w./-]*\w)")


def tracked(*patterns: str) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", *patterns], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return [REPO_ROOT / name for name in listed.stdout.split()]


def outside_or_missing(source: Path, target: str) -> str | None:
    """Why ``target``, as written in ``source``, is no file of the repository (None when it is one)."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target, flags=re.IGNORECASE):
        return "a URL: it leaves the repository"
    path = target.split("#", 1)[0]
    if not path:
        return None  # an anchor within the page
    resolved = (REPO_ROOT / path.lstrip("/")) if path.startswith("/") else (source.parent / path)
    resolved = resolved.resolve()
    if not resolved.is_relative_to(REPO_ROOT):
        return "outside the repository"
    if not resolved.exists() and not generated(resolved):
        return "not in the repository"
    return None


def generated(path: Path) -> bool:
    """A path git ignores: made at run time (data/, .airflow/), so a fresh clone lacks it rightly."""
    return subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=REPO_ROOT, check=False).returncode == 0


def test_every_link_in_the_docs_is_a_file_of_the_repository() -> None:
    docs = tracked("*.md")
    assert REPO_ROOT / "README.md" in docs and REPO_ROOT / "docs" / "operations.md" in docs
    dead = []
    for doc in docs:
        for match in LINK.finditer(doc.read_text(encoding="utf-8")):
            target = match.group(1) or match.group(2)
            if why := outside_or_missing(doc, target):
                dead.append(f"{doc.relative_to(REPO_ROOT)}: {target} ({why})")
    assert dead == [], "\n".join(dead)


def test_no_tracked_text_names_a_relative_path_that_is_not_there() -> None:
    texts = tracked("*.md", "*.py", "*.yml", "*.yaml", "*.toml", "*.sql", "Makefile")
    dead = []
    for text in texts:
        for match in CLIMBING_PATH.finditer(text.read_text(encoding="utf-8")):
            if why := outside_or_missing(text, match.group(1)):
                dead.append(f"{text.relative_to(REPO_ROOT)}: {match.group(1)} ({why})")
    assert dead == [], "\n".join(dead)
