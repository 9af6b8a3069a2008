"""Validating an output table (a public mart, later a publish-ready list) for one run date.

The raw gate validates what a delivery brought; the output stages validate what the warehouse
made of it, table by table, on the slice of each table the run built. A suite of an output
stage names that slice in its top-level ``meta``::

    "meta": {"data_asset": "marts.kpi_coverage_cell_daily",
             "scope": {"column": "kpi_date", "period": "day"}}

``period`` is ``day`` (rows whose ``column`` is the run date) or ``month`` (rows whose
``column`` falls in the run date's month: a monthly mart keyed by ``month_start_date``).
Everything below reads that slice plus small slices of the facts it reconciles with, so a
run costs in proportion to the day's (or month's) rows, never to the warehouse's history.

Two batches, as for raw suites (see :mod:`telco_mart.quality.suites`):

- ``rows``: row expectations on the slice (not null, in set, between, column pair), counted
  in one DuckDB scan and judged by GX on the few offending rows fetched (see pushdown.py);
- ``day``: ``expect_column_values_to_be_*`` expectations on a one-row frame of the slice's
  metrics. A stage module (:mod:`telco_mart.quality.marts`) defines each data asset's metrics
  as :class:`Metric` queries; that module and a suite folder are all a new stage needs.

A metric's SQL returns one row: the value first (null when not judged), then any named
columns, kept as the finding's context (a column ``not_judged`` says why there is no value).
Its optional ``sample`` SQL returns a few rows that show why it failed. Both may use
``{table}`` (the data asset, quoted), ``{scope}`` (the slice's predicate on the asset, with
no alias) and the named parameters ``$run_date``, ``$period_start``, ``$period_end`` and
``$<setting>`` for any setting of gate.yml (``$share_min_base``...).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import duckdb
import pandas as pd

from telco_mart.gate_settings import FeedSettings, QualityConfigError
from telco_mart.quality.gx_runner import GxRunner, ValidationError
from telco_mart.quality.pushdown import RowRule, check_rows_expectation, expected_in_words, row_rule
from telco_mart.quality.results import Finding, mask_personal
from telco_mart.quality.suites import Check, GateSuite
from telco_mart.warehouse import quote_ident

Period = Literal["day", "month"]
PERIODS: tuple[Period, ...] = ("day", "month")
_PARAM = re.compile(r"\$([a-z_]+)")


@dataclass(frozen=True)
class Metric:
    """One day metric of an output table: a query on the run's slice, and how to show it."""

    name: str
    sql: str
    sample: str | None = None
    #: ``count`` shows the value as an integer, ``share`` with four decimals.
    kind: Literal["count", "share"] = "count"
    doc: str = ""


@dataclass(frozen=True)
class Scope:
    """The slice of a data asset one run validates."""

    table: str
    column: str
    period: Period
    run_date: dt.date

    @property
    def start(self) -> dt.date:
        return self.run_date if self.period == "day" else self.run_date.replace(day=1)

    @property
    def end(self) -> dt.date:
        if self.period == "day":
            return self.run_date
        following = (self.start + dt.timedelta(days=32)).replace(day=1)
        return following - dt.timedelta(days=1)

    @property
    def quoted_table(self) -> str:
        return ".".join(quote_ident(part) for part in self.table.split("."))

    @property
    def predicate(self) -> str:
        """The slice's condition with DuckDB named parameters (for metric SQL)."""
        return f"{quote_ident(self.column)} between $period_start and $period_end"

    def params(self, sql: str, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The named parameters ``sql`` uses (DuckDB refuses any it does not): the slice's
        dates and the gate.yml settings in force."""
        values = {**(settings or {}), "run_date": self.run_date, "period_start": self.start, "period_end": self.end}
        names = set(_PARAM.findall(sql))
        if unknown := sorted(names - set(values)):
            raise QualityConfigError(f"{self.table}: unknown query parameters {unknown}; known: {sorted(values)}")
        return {name: values[name] for name in names}

    def render(self, sql: str) -> str:
        return sql.replace("{table}", self.quoted_table).replace("{scope}", self.predicate)

    def rows(self, where: str = "true") -> tuple[str, list[Any]]:
        """The slice's rows meeting ``where`` (positional parameters, as the row rules use)."""
        sql = f"select * from {self.quoted_table} where {quote_ident(self.column)} between ? and ? and ({where})"
        return sql, [self.start, self.end]


@cache
def personal_columns(data_asset: str) -> frozenset[str]:
    """The columns of a dbt model tagged personal data (``meta: {pii: true}`` or the tag ``pii``
    on the column, in the model's yml): the only columns a sample never shows."""
    import yaml

    from telco_mart.config import Settings

    model = data_asset.rpartition(".")[2]
    for path in sorted((Settings.from_env().dbt_project_dir / "models").rglob("*.yml")):
        for spec in (yaml.safe_load(path.read_text()) or {}).get("models", []) or []:
            if spec.get("name") != model:
                continue
            personal = set()
            for column in spec.get("columns", []) or []:
                config = column.get("config") or {}
                meta = {**(column.get("meta") or {}), **(config.get("meta") or {})}
                tags = [*(column.get("tags") or []), *(config.get("tags") or [])]
                if meta.get("pii") or "pii" in tags:
                    personal.add(column["name"])
            return frozenset(personal)
    return frozenset()


def suite_scope(suite: GateSuite, run_date: dt.date) -> Scope:
    scope = suite.meta.get("scope") or {}
    column, period = scope.get("column"), scope.get("period")
    if not column or period not in PERIODS:
        raise QualityConfigError(
            f"{suite.path}: meta.scope needs a column and a period in {PERIODS}, e.g. "
            '{"column": "kpi_date", "period": "day"}'
        )
    return Scope(suite.data_asset, column, period, run_date)


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    schema, _, name = table.rpartition(".")
    return [
        row[0]
        for row in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position",
            [schema or "main", name],
        ).fetchall()
    ]


def check_output_suite(suite: GateSuite, metrics: Mapping[str, Metric], columns: list[str]) -> None:
    """Refuse a suite naming a column the table lacks or a metric its stage does not compute."""
    if not columns:
        raise QualityConfigError(f"{suite.name}: table {suite.data_asset} does not exist (was dbt run?)")
    suite_scope(suite, dt.date(2000, 1, 1))
    if suite.meta["scope"]["column"] not in columns:
        raise QualityConfigError(f"{suite.name}: scope column {suite.meta['scope']['column']!r} is not in the table")
    for check in suite.checks:
        if check.batch == "rows":
            check_rows_expectation(check, set(columns))
        elif not check.type.startswith("expect_column_values_to_") or check.kwargs.get("column") not in metrics:
            raise QualityConfigError(
                f"{suite.name}: {check.key} on the day batch must be an expect_column_values_to_* expectation "
                f"on one of the metrics {sorted(metrics)}"
            )


def _records(con: duckdb.DuckDBPyConnection, sql: str, params: Any) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _observed(metric: Metric, value: float | None, context: dict[str, Any]) -> str:
    if value is None:
        return f"not judged: {context['not_judged']}" if context.get("not_judged") else "no value"
    text = f"{value:.4f}" if metric.kind == "share" else f"{int(value):,}"
    shown = {k: v for k, v in context.items() if k != "not_judged" and v is not None}
    if shown:
        text += " (" + ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in shown.items()) + ")"
    return text


@dataclass
class OutputValidation:
    """One suite of an output stage run on one run date."""

    con: duckdb.DuckDBPyConnection
    runner: GxRunner
    stage: str
    suite: GateSuite
    metrics: Mapping[str, Metric]
    scope: Scope
    settings: FeedSettings

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.settings.values)

    def finding(
        self,
        check: Check,
        success: bool,
        observed: str,
        number: float | None,
        details: dict[str, Any] | None = None,
        sample: list[dict[str, Any]] | None = None,
    ) -> Finding:
        return Finding(
            stage=self.stage,
            run_date=self.scope.run_date,
            suite=self.suite.name,
            data_asset=self.suite.data_asset,
            expectation=check.key,
            description=check.description,
            severity=check.severity,
            success=success,
            observed_value=observed,
            observed_number=number,
            details={
                "batch": check.batch,
                "kwargs": check.kwargs,
                "expected": expected_in_words(check, self.parameters),
                "scope": {"column": self.scope.column, "from": self.scope.start, "to": self.scope.end},
                **(details or {}),
            },
            sample=sample or [],
        )

    def _metric(self, metric: Metric) -> tuple[float | None, dict[str, Any]]:
        sql = self.scope.render(metric.sql)
        cursor = self.con.execute(sql, self.scope.params(sql, self.settings.values))
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        row = rows[0] if rows else None
        if row is None:
            return None, {"not_judged": "the metric query returned no row"}
        value = None if row[0] is None else float(row[0])
        return value, dict(zip(names[1:], row[1:], strict=True))

    def _sample(self, metric: Metric) -> list[dict[str, Any]]:
        if not metric.sample:
            return []
        sql = f"select * from ({self.scope.render(metric.sample)}) limit {self.settings.sample_rows}"
        return mask_personal(
            _records(self.con, sql, self.scope.params(sql, self.settings.values)),
            personal_columns(self.suite.data_asset),
        )

    def judge_metrics(self) -> list[Finding]:
        checks = self.suite.batch("day")
        names = list(dict.fromkeys(c.kwargs["column"] for c in checks))
        values, contexts = {}, {}
        for name in names:
            values[name], contexts[name] = self._metric(self.metrics[name])
        frame = pd.DataFrame.from_records([values], columns=names).astype("float64")
        results = self.runner.validate(self.suite, checks, frame, self.parameters)
        findings = []
        for check in checks:
            name = check.kwargs["column"]
            metric, value, context = self.metrics[name], values[name], contexts[name]
            success = bool(results[check.index]["success"])
            findings.append(
                self.finding(
                    check,
                    success,
                    _observed(metric, value, context),
                    value,
                    details={"context": context} if context else None,
                    sample=None if success else self._sample(metric),
                )
            )
        return findings

    def judge_rows(self) -> list[Finding]:
        """Row rules counted in one scan of the slice; GX judges the offending rows fetched."""
        checks = self.suite.batch("rows")
        if not checks:
            return []
        rules: dict[int, RowRule] = {c.index: r for c in checks if (r := row_rule(c, self.parameters))}
        selects, params = ["count(*)"], []
        for rule in rules.values():
            selects.append(f"count(*) filter (where {rule.sql})")
            params += rule.params
        body, scope_params = self.scope.rows()
        total, *counts = self.con.execute(
            f"select {', '.join(selects)} from ({body})", [*params, *scope_params]
        ).fetchall()[0]
        count_of = dict(zip(rules, counts, strict=True))
        failing = [r for i, r in rules.items() if count_of[i]]
        k = self.settings.sample_rows
        if failing:
            parts, fetch = [], []
            for rule in failing:
                part, p = self.scope.rows(rule.sql)
                parts.append(f"({part} limit {k})")
                fetch += [*p, *rule.params]
            suspects_sql, suspects_params = " union ".join(parts), fetch
        else:
            suspects_sql, suspects_params = self.scope.rows("false")
        suspects = (
            self.con.sql(suspects_sql, params=suspects_params).to_arrow_table().to_pandas(types_mapper=pd.ArrowDtype)
        )
        judged = tuple(c for c in checks if failing or c.index not in rules)
        results = self.runner.validate(self.suite, judged, suspects, self.parameters)
        findings = []
        for check in checks:
            if check.index not in rules:  # a schema check
                result = results[check.index]
                observed = str(result.get("observed_value", check.kwargs.get("type_", "as expected")))
                findings.append(self.finding(check, result["success"], observed, None))
                continue
            count = count_of[check.index]
            flagged = results.get(check.index, {}).get("unexpected_index_list") or []
            if bool(count) != bool(flagged):
                raise ValidationError(
                    f"{self.suite.name}: {check.key}: DuckDB counted {count} offending rows and GX flagged "
                    f"{len(flagged)} of the rows fetched; the pushdown predicate disagrees with GX"
                )
            sample = mask_personal(
                [{n: (None if pd.isna(v) else v) for n, v in suspects.iloc[i].items()} for i in flagged[:k]],
                personal_columns(self.suite.data_asset),
            )
            findings.append(
                self.finding(check, count == 0, f"{count:,} of {total:,} rows", float(count), sample=sample)
            )
        return findings


def validate_output(
    con: duckdb.DuckDBPyConnection,
    runner: GxRunner,
    stage: str,
    suite: GateSuite,
    metrics: Mapping[str, Metric],
    run_date: dt.date,
    settings: FeedSettings,
) -> list[Finding]:
    """Every expectation of an output suite on the run date's slice of its table."""
    validation = OutputValidation(con, runner, stage, suite, metrics, suite_scope(suite, run_date), settings)
    findings = validation.judge_metrics() + validation.judge_rows()
    order = {(c.key, c.severity): c.index for c in suite.checks}
    return sorted(findings, key=lambda f: order[(f.expectation, f.severity)])
