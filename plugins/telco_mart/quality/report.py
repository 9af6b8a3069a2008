"""The HTML report of a gate run: one file that opens anywhere, with no network.

GX's Data Docs load their CSS and JavaScript from CDNs and render broken offline,
and the people who read these reports often sit on networks without internet access. So the
report is plain HTML with its CSS inline, no script, no image and no external reference at
all; a test opens it in headless Chromium with the network disabled.

Findings that are not a pass come first, each with what was expected, what was observed and
a few offending rows; then every expectation of every suite. Over several delivery dates
(the first run takes in the whole landed history) an expectation that passed on every date
is one line, so the report stays readable.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Any

from telco_mart.quality.results import Finding, Outcome

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #1d2330; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.meta { color: #5b6475; margin-bottom: 16px; }
.banner { padding: 10px 14px; border-radius: 6px; font-weight: 600; margin: 12px 0; }
.banner.pass { background: #e3f5e8; color: #14532d; } .banner.warn { background: #fff4d6; color: #7a4b00; }
.banner.fail { background: #fde2e1; color: #8a1c1c; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 14px; }
th, td { border: 1px solid #d9dde5; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f2f4f8; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.badge.pass { background: #d3f0dc; color: #14532d; } .badge.warn { background: #ffe8a3; color: #7a4b00; }
.badge.fail { background: #f9c9c7; color: #8a1c1c; }
.finding { border: 1px solid #d9dde5; border-left-width: 6px; border-radius: 4px; padding: 8px 12px; margin: 10px 0; }
.finding.fail { border-left-color: #c62828; } .finding.warn { border-left-color: #e0a100; }
.sample td, .sample th { font: 12px/1.3 ui-monospace, Menlo, Consolas, monospace; }
code { font: 12px ui-monospace, Menlo, Consolas, monospace; background: #f2f4f8; padding: 0 3px; }
"""


def _badge(outcome: Outcome) -> str:
    return f'<span class="badge {outcome}">{outcome.upper()}</span>'


def _cell(value: Any) -> str:
    if value is None:
        return '<td class="null">&mdash;</td>'
    css = ' class="num"' if isinstance(value, int | float) and not isinstance(value, bool) else ""
    text = value.isoformat() if isinstance(value, dt.date | dt.datetime) else str(value)
    return f"<td{css}>{escape(text)}</td>"


def _sample_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(row.get(c)) for c in columns) + "</tr>" for row in rows)
    return f'<table class="sample"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _finding_block(f: Finding) -> str:
    expected = f.details.get("expected")
    return (
        f'<div class="finding {f.outcome}" data-outcome="{f.outcome}" data-suite="{escape(f.suite)}" '
        f'data-expectation="{escape(f.expectation)}">'
        f"<h3>{_badge(f.outcome)} {escape(f.data_asset)} &middot; <code>{escape(f.expectation)}</code> "
        f"&middot; {f.run_date.isoformat()}</h3>"
        f"<div>{escape(f.description)}</div>"
        f"<div>Observed: <strong>{escape(f.observed_value)}</strong>"
        + (f"; expected {escape(str(expected))}" if expected else "")
        + "</div>"
        + (f"<div>Offending rows ({len(f.sample)} shown):</div>{_sample_table(f.sample)}" if f.sample else "")
        + "</div>"
    )


def _suite_table(findings: list[Finding]) -> str:
    """One line per expectation and severity; over several dates, only the dates that did not pass."""
    by_check: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in findings:
        by_check[(f.expectation, f.severity)].append(f)
    lines = []
    for (expectation, severity), group in by_check.items():
        bad = [f for f in group if not f.success]
        outcome: Outcome = severity if bad else "pass"
        if len(group) == 1:
            observed = escape(group[0].observed_value)
        elif not bad:
            observed = f"passed on all {len(group)} dates"
        else:
            observed = "; ".join(f"{f.run_date.isoformat()}: {escape(f.observed_value)}" for f in bad)
        lines.append(
            f'<tr data-outcome="{outcome}" data-expectation="{escape(expectation)}">'
            f"<td><code>{escape(expectation)}</code></td><td>{escape(group[0].description)}</td>"
            f"<td>{severity}</td><td>{_badge(outcome)}</td><td>{observed}</td></tr>"
        )
    return (
        "<table><thead><tr><th>expectation</th><th>what it checks</th><th>severity</th><th>result</th>"
        f"<th>observed</th></tr></thead><tbody>{''.join(lines)}</tbody></table>"
    )


def render_report(
    *, stage: str, run_id: str, start: dt.date, end: dt.date, findings: Iterable[Finding], seconds: float
) -> str:
    findings = list(findings)
    counts = {o: sum(1 for f in findings if f.outcome == o) for o in ("pass", "warn", "fail")}
    status: Outcome = "fail" if counts["fail"] else "warn" if counts["warn"] else "pass"
    verdict = {
        "fail": f"FAILED: {counts['fail']} expectation(s) at severity fail; nothing downstream runs for these dates",
        "warn": f"PASSED WITH {counts['warn']} WARNING(S)",
        "pass": "PASSED",
    }[status]
    dates = start.isoformat() if start == end else f"{start.isoformat()} to {end.isoformat()}"
    problems = sorted((f for f in findings if not f.success), key=lambda f: (f.outcome != "fail", f.run_date, f.suite))
    by_suite: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_suite[f.suite].append(f)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Data-quality gate ({escape(stage)}) {dates}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Data-quality gate: {escape(stage)} &middot; {dates}</h1>",
        f'<div class="meta">run <code>{escape(run_id)}</code> &middot; {len(by_suite)} suites &middot; '
        f"{len(findings):,} results ({counts['pass']:,} pass, {counts['warn']:,} warn, {counts['fail']:,} fail) "
        f"&middot; {seconds:.1f} s &middot; the same results are in <code>marts.dq_results</code></div>",
        f'<div class="banner {status}" id="verdict" data-outcome="{status}">{escape(verdict)}</div>',
        "<h2>Findings</h2>",
        "".join(_finding_block(f) for f in problems) or "<p>None: every expectation passed.</p>",
        "<h2>Every expectation</h2>",
    ]
    for suite, group in by_suite.items():
        parts.append(f'<h3 id="{escape(suite)}">{escape(suite)}</h3>{_suite_table(group)}')
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(path: Path, html: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path
