"""Validating a raw feed for a range of delivery dates (normally the run's one day).

Ingestion already keeps contract-breaking rows out of `raw` (they go to quarantine), so the
raw gate mostly judges what no single row shows: how much was quarantined or rejected,
whether the day's volume looks like the days before, whether keys repeat, whether every
subscriber, cell and plan referenced exists, how many optional values are missing, whether
records are dated after their delivery. The contract's row rules run again as a second line
of defence: a row that slipped past them (a hand-made insert, a contract change) stops here.

Everything is computed in DuckDB on the rows of the dates validated (``_delivery_date``
between start and end) plus small lookups (the file registry, the referenced feeds' keys),
so the cost follows the day's data, not the warehouse's history. Great Expectations judges
the results: the day metrics as a frame with one row per date, the row rules on the few
offending rows DuckDB fetched (see pushdown.py).

Day metrics, the columns the ``day`` expectations of a raw suite can name:

==============================  ==========================================================
``rows``                        rows of the feed in `raw` for the date
``files_loaded``                files of the date loaded (a daily feed expects at least 1)
``missing_due_delivery``        1 when the contract's cadence makes the feed due on the date and no
                                file loaded, and the operator did not declare the date empty
``empty_event_files``           loaded files of an event feed with no data row (header only)
``files_rejected``              files rejected whole (a required column missing)
``files_skipped_duplicate``     files skipped as a duplicated delivery
``files_with_schema_drift``     loaded files with extra or missing optional columns
``quarantine_rate``             rows quarantined / rows read, over the date's loaded files
``rows_registry_mismatch``      rows in `raw` minus rows the registry says were loaded
``volume_ratio``                rows loaded / trailing mean of earlier delivery days, all or
                                those of the same weekday or day of the month
                                (``volume_basis``; null when not judged: gate.yml)
``duplicate_key_rows``          rows sharing the feed key with another row of the date
``orphan_rows__<column>``       rows whose reference (contract ``references``) is unknown
``null_share__<column>``        share of rows with the optional column empty
``value_share__<column>__<v>``  share of rows whose column holds ``v``, for each value of the
                                column's closed value set (contract ``values``): the mix of
                                a day, such as data sessions among usage records
                                (``value_share__event_type__data``)
``future_rows__<column>``       rows whose date or timestamp falls after the delivery date
==============================  ==========================================================

A feed the operator profile declares not delivered (``delivered: false``,
:mod:`telco_mart.contract.operator_profile`) has its presence checks (:data:`PRESENCE_METRICS`) off,
and every feed its ``orphan_rows__<column>`` checks on references to such a feed: the gate
says so once per run in one info line (:func:`profile_exemptions`), not a warning per day.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

import duckdb
import pandas as pd

from telco_mart.contract import Column, Contract, Feed
from telco_mart.contract.operator_profile import OperatorProfile
from telco_mart.gate_settings import FeedSettings, QualityConfigError
from telco_mart.quality.gx_runner import GxRunner, ValidationError
from telco_mart.quality.pushdown import RowRule, check_rows_expectation, expected_in_words, row_rule
from telco_mart.quality.results import Finding, mask_personal
from telco_mart.quality.suites import Check, GateSuite
from telco_mart.warehouse import LINEAGE_COLUMNS, quote_ident

STAGE = "raw"
#: How ingestion's registry notes name schema drift (telco_mart.ingest.loader); a test with
#: a planted extra column holds the two to the same words.
SCHEMA_DRIFT_NOTES = ("extra columns ignored", "optional columns absent")
_DRIFT_SQL = " or ".join(f"note like '%{text}%'" for text in SCHEMA_DRIFT_NOTES)
_FILE_METRICS = {
    "files_rejected": "rejected",
    "files_skipped_duplicate": "skipped_duplicate",
}


def metric_names(feed: Feed) -> list[str]:
    """The day-metric columns of a feed, in the order the frame has them."""
    names = [
        "rows",
        "files_loaded",
        "files_rejected",
        "files_skipped_duplicate",
        "files_with_schema_drift",
        "quarantine_rate",
        "rows_registry_mismatch",
        "volume_ratio",
        "duplicate_key_rows",
        "missing_due_delivery",
        "empty_event_files",
    ]
    names += [f"orphan_rows__{c.name}" for c in feed.columns if c.references]
    names += [f"null_share__{c.name}" for c in feed.columns if not c.required]
    names += [value_share(c.name, v) for c, v in _closed_values(feed)]
    names += [f"future_rows__{c.name}" for c in feed.columns if c.type in ("date", "timestamp")]
    return names


def value_share(column: str, value: str) -> str:
    """The day metric of the share of rows whose ``column`` holds ``value``."""
    return f"value_share__{column}__{value}"


def _closed_values(feed: Feed) -> list[tuple[Column, str]]:
    """Every (column, value) of the feed's closed value sets, in the contract's order.

    A mix is judged on the explicit values, never inferred from an empty optional column: an
    operator may leave call_type empty for SMS as well as for data, but event_type says which
    record is which.
    """
    return [(c, v) for c in feed.columns if c.values for v in c.values]


#: Day metrics that are a share of the day's rows (none on a day without rows).
SHARES = ("null_share__", "value_share__")

#: Day metrics that ask whether a feed arrived (and in what volume): meaningless for a feed the
#: operator does not deliver.
PRESENCE_METRICS = ("files_loaded", "volume_ratio", "missing_due_delivery", "empty_event_files")


def exempt_metrics(feed: Feed, profile: OperatorProfile) -> list[str]:
    """The day metrics of ``feed`` the operator profile turns off: presence of a feed not
    delivered, and references to one (nothing to check them against)."""
    metrics = list(PRESENCE_METRICS) if not profile.feed(feed.name).delivered else []
    metrics += [
        f"orphan_rows__{c.name}" for c in feed.columns if c.references and not profile.feed(c.references).delivered
    ]
    return metrics


def profile_exemptions(contract: Contract, profile: OperatorProfile) -> str | None:
    """The one line a gate run logs about the checks the profile turned off, if any."""
    exempt = {name: m for name, feed in contract.feeds.items() if (m := exempt_metrics(feed, profile))}
    if not exempt:
        return None
    return (
        f"operator profile {profile.name!r}: feeds not delivered: {', '.join(profile.absent_feeds)}; checks off: "
        + "; ".join(f"{name} {', '.join(metrics)}" for name, metrics in exempt.items())
    )


def frame_columns(feed: Feed) -> list[str]:
    """The columns of the rows the ``rows`` expectations see: the raw table's."""
    return [*feed.column_names, *LINEAGE_COLUMNS]


def check_suite(suite: GateSuite, feed: Feed) -> None:
    """Refuse a raw suite naming a column or metric the feed does not have."""
    columns = set(frame_columns(feed))
    metrics = set(metric_names(feed))
    for check in suite.checks:
        if check.batch == "rows":
            check_rows_expectation(check, columns)
        elif not check.type.startswith("expect_column_values_to_") or check.kwargs.get("column") not in metrics:
            raise QualityConfigError(
                f"{suite.name}: {check.key} on the day batch must be an expect_column_values_to_* expectation "
                f"on one of the metrics {metric_names(feed)}"
            )


@dataclass
class _Scope:
    """The feed and dates validated, and the SQL that selects their rows."""

    con: duckdb.DuckDBPyConnection
    feed: Feed
    contract: Contract
    start: dt.date
    end: dt.date
    settings: FeedSettings
    #: The day metrics the suite judges. The value shares are counted only for these: one
    #: count per value of every closed value set would cost the usage scan about 0.7 s per 9
    #: million rows (7 values) for shares no suite reads.
    judged: frozenset[str] = frozenset()

    @property
    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    @property
    def table(self) -> str:
        return f"raw.{quote_ident(self.feed.name)}"

    def rows(self, where: str, params: tuple[Any, ...] = ()) -> tuple[str, list[Any]]:
        """The dates' rows (as ``f``) that meet ``where``, and the query's parameters."""
        sql = f"select * from {self.table} f where f._delivery_date between ? and ? and ({where})"
        return sql, [self.start, self.end, *params]

    def by_day(self, sql: str, params: list[Any]) -> dict[dt.date, tuple]:
        return {row[0]: row[1:] for row in self.con.execute(sql, params).fetchall()}


def _row_pass(scope: _Scope, rules: list[RowRule]) -> dict[dt.date, dict[str, Any]]:
    """One scan of the dates' rows: row count, offending rows per rule, nulls, values of closed
    value sets, future dates."""
    feed = scope.feed
    selects, params = ["count(*)"], []
    for rule in rules:
        selects.append(f"count(*) filter (where {rule.sql})")
        params += rule.params
    optional = [c.name for c in feed.columns if not c.required]
    closed = [(c, v) for c, v in _closed_values(feed) if value_share(c.name, v) in scope.judged]
    dated = [c.name for c in feed.columns if c.type in ("date", "timestamp")]
    selects += [f"count(*) filter (where {quote_ident(c)} is null)" for c in optional]
    for column, value in closed:
        selects.append(f"count(*) filter (where {quote_ident(column.name)} = ?)")
        params.append(value)
    selects += [f"count(*) filter (where {quote_ident(c)}::date > _delivery_date)" for c in dated]
    sql = (
        f"select _delivery_date, {', '.join(selects)} from {scope.table} "
        "where _delivery_date between ? and ? group by 1"
    )
    out: dict[dt.date, dict[str, Any]] = {}
    for day, values in scope.by_day(sql, [*params, scope.start, scope.end]).items():
        rows, rest = values[0], iter(values[1:])
        counts = [next(rest) for _ in rules]
        nulls = [next(rest) for _ in optional]
        holding = [next(rest) for _ in closed]
        future = list(rest)
        out[day] = {
            "rows": rows,
            "rule_counts": dict(zip((r.check.index for r in rules), counts, strict=True)),
            **{f"null_share__{c}": (n / rows if rows else None) for c, n in zip(optional, nulls, strict=True)},
            **{value_share(c.name, v): (n / rows if rows else None) for (c, v), n in zip(closed, holding, strict=True)},
            **{f"future_rows__{c}": n for c, n in zip(dated, future, strict=True)},
        }
    return out


def _registry(scope: _Scope) -> dict[dt.date, dict[str, Any]]:
    """Per date, what the file registry and the quarantine say about the feed's files."""
    sql = f"""
        select delivery_date,
            count(*) filter (where status = 'loaded'),
            count(*) filter (where status = 'rejected'),
            count(*) filter (where status = 'skipped_duplicate'),
            count(*) filter (where status = 'loaded' and ({_DRIFT_SQL})),
            count(*) filter (where status = 'loaded' and rows_read = 0),
            coalesce(sum(rows_read) filter (where status = 'loaded'), 0),
            coalesce(sum(rows_loaded) filter (where status = 'loaded'), 0),
            coalesce(sum(rows_quarantined) filter (where status = 'loaded'), 0)
        from raw.file_registry where feed = ? and delivery_date between ? and ? group by 1
    """
    reasons: dict[dt.date, dict[str, int]] = defaultdict(dict)
    for day, reason, n in scope.con.execute(
        "select delivery_date, reason, count(*) from (select delivery_date, unnest(string_split(reason, '; ')) "
        "as reason from raw.quarantine where feed = ? and delivery_date between ? and ?) group by all "
        "order by 1, 3 desc",
        [scope.feed.name, scope.start, scope.end],
    ).fetchall():
        reasons[day][reason] = n
    out = {}
    for day, (loaded, rejected, duplicate, drift_files, empty, read, rows_loaded, quarantined) in scope.by_day(
        sql, [scope.feed.name, scope.start, scope.end]
    ).items():
        out[day] = {
            "files_loaded": loaded,
            "_empty_files": empty,
            "files_rejected": rejected,
            "files_skipped_duplicate": duplicate,
            "files_with_schema_drift": drift_files,
            "quarantine_rate": quarantined / read if read else None,
            "_rows_loaded": rows_loaded,
            "_quarantine": {"rows_read": read, "rows_quarantined": quarantined, "reasons": reasons.get(day, {})},
        }
    return out


_BASIS_WORDS = {
    "previous_days": "earlier delivery day(s)",
    "same_weekday": "earlier delivery day(s) on a {weekday}",
    "same_day_of_month": "earlier delivery day(s) on day {day.day} of the month",
}


def _same_cycle(basis: str, earlier: dt.date, day: dt.date) -> bool:
    """Whether ``earlier`` is a day ``day`` is compared with under the ``volume_basis``."""
    if basis == "same_weekday":
        return earlier.weekday() == day.weekday()
    if basis == "same_day_of_month":
        return earlier.day == day.day
    return True


def _volume(scope: _Scope, day: dt.date, per_day: list[tuple[dt.date, int]]) -> tuple[float | None, dict[str, Any]]:
    """Rows loaded on ``day`` against the mean of the previous delivery days (those of the same
    weekday or day of the month under that ``volume_basis``), when judgeable."""
    s = scope.settings
    basis = str(s["volume_basis"])
    first = per_day[0][0] if per_day else None
    earlier = [(d, n) for d, n in per_day if first is not None and first < d < day and _same_cycle(basis, d, day)]
    history = earlier[-int(s["volume_window_days"]) :]
    today = sum(n for d, n in per_day if d == day)
    mean = sum(n for _, n in history) / len(history) if history else None
    context: dict[str, Any] = {"rows_loaded": today, "trailing_mean": mean, "history_days": len(history)}
    if basis != "previous_days":
        context["basis"] = basis
    if len(history) < int(s["volume_min_history_days"]):
        words = _BASIS_WORDS[basis].format(weekday=day.strftime("%A"), day=day)
        context["not_judged"] = f"{len(history)} {words}, {s['volume_min_history_days']} needed"
        return None, context
    if mean is None or mean < int(s["volume_min_mean_rows"]):
        context["not_judged"] = f"trailing mean {mean:.1f} rows is below {s['volume_min_mean_rows']}"
        return None, context
    return today / mean, context


def _day_metrics(scope: _Scope, rules: list[RowRule]) -> tuple[pd.DataFrame, dict, dict[dt.date, dict[int, int]]]:
    """The frame of day metrics (one row per date), their context, and the rule counts."""
    feed, con = scope.feed, scope.con
    passes = _row_pass(scope, rules)
    registry = _registry(scope)
    duplicates = _duplicate_key_rows(scope)
    orphans: dict[str, dict[dt.date, tuple]] = {}
    for column in (c for c in feed.columns if c.references):
        sql, params = _orphan_rows(scope, column.name)
        orphans[column.name] = scope.by_day(f"select _delivery_date, count(*) from ({sql}) group by 1", params)
    per_day = con.execute(
        "select delivery_date, sum(rows_loaded) from raw.file_registry where feed = ? and status = 'loaded' "
        "group by 1 order by 1",
        [feed.name],
    ).fetchall()
    declared_empty = {
        d
        for (d,) in con.execute(
            "select delivery_date from raw.delivery_declarations where feed = ? and delivery_date between ? and ?",
            [feed.name, scope.start, scope.end],
        ).fetchall()
    }

    records, context, rule_counts = [], {}, {}
    for day in scope.days:
        rows_pass = passes.get(day, {"rows": 0, "rule_counts": {}})
        reg = registry.get(day, {})
        ratio, volume_context = _volume(scope, day, per_day)
        record: dict[str, Any] = {
            "rows": rows_pass["rows"],
            "files_loaded": reg.get("files_loaded", 0),
            "files_rejected": reg.get("files_rejected", 0),
            "files_skipped_duplicate": reg.get("files_skipped_duplicate", 0),
            "files_with_schema_drift": reg.get("files_with_schema_drift", 0),
            "quarantine_rate": reg.get("quarantine_rate"),
            "rows_registry_mismatch": rows_pass["rows"] - reg.get("_rows_loaded", 0),
            "volume_ratio": ratio,
            "duplicate_key_rows": (duplicates.get(day) or (0,))[0],
            # due by the contract's cadence, and neither delivered nor declared delivered-empty
            "missing_due_delivery": int(
                feed.is_due(day) and not reg.get("files_loaded", 0) and day not in declared_empty
            ),
            "empty_event_files": reg.get("_empty_files", 0) if feed.kind == "event" else 0,
        }
        for column, counts in orphans.items():
            record[f"orphan_rows__{column}"] = (counts.get(day) or (0,))[0]
        for name in metric_names(feed):
            # from the row pass; absent on an empty day, and a value share no check judges
            if name.startswith((*SHARES, "future_rows__")):
                record[name] = rows_pass.get(name, 0 if name.startswith("future_rows__") else None)
        records.append(record)
        context[("quarantine_rate", day)] = reg.get("_quarantine", {"rows_read": 0, "rows_quarantined": 0})
        context[("volume_ratio", day)] = volume_context
        context[("rows_registry_mismatch", day)] = {
            "rows_in_raw": rows_pass["rows"],
            "rows_loaded_per_registry": reg.get("_rows_loaded", 0),
        }
        rule_counts[day] = {**{r.check.index: 0 for r in rules}, **rows_pass["rule_counts"]}
    frame = pd.DataFrame.from_records(records, columns=metric_names(feed)).astype("float64")
    return frame, context, rule_counts


def _duplicate_key_rows(scope: _Scope) -> dict[dt.date, tuple]:
    """Rows per date that share the feed key with another row of the date.

    Grouping 64-bit hashes of the key is about twice as fast as grouping the key's strings
    (10 million usage rows: 4 s against 7 s); the exact count then runs only on the rows
    whose hash repeats, so a hash collision cannot report a duplicate that is not one.
    """
    keys = ", ".join(f"f.{quote_ident(k)}" for k in scope.feed.key)
    return scope.by_day(
        f"""
        with repeated as (
            select _delivery_date, hash({keys}) as h from {scope.table} f
            where _delivery_date between ? and ? group by all having count(*) > 1
        )
        select _delivery_date, sum(n) from (
            select f._delivery_date, count(*) as n from {scope.table} f
            semi join repeated r on r._delivery_date = f._delivery_date and r.h = hash({keys})
            where f._delivery_date between ? and ? group by f._delivery_date, {keys} having count(*) > 1
        ) group by 1
        """,
        [scope.start, scope.end, scope.start, scope.end],
    )


def _orphan_rows(scope: _Scope, column: str) -> tuple[str, list[Any]]:
    """The dates' rows whose ``column`` matches no key of the feed it references."""
    ref = scope.contract.feed(scope.feed.column(column).references or "")
    col = quote_ident(column)
    sql = (
        f"select f.* from {scope.table} f anti join raw.{quote_ident(ref.name)} r "
        f"on r.{quote_ident(ref.key[0])} = f.{col} "
        f"where f._delivery_date between ? and ? and f.{col} is not null"
    )
    return sql, [scope.start, scope.end]


def _records(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _day_sample(scope: _Scope, metric: str, day: dt.date) -> list[dict[str, Any]]:
    """A few rows that show why a day metric failed, for the message and the report."""
    k, feed = scope.settings.sample_rows, scope.feed.name
    lineage = "_source_file, _source_line"
    keys = ", ".join(quote_ident(c) for c in scope.feed.key)
    registry = "select source_file, status, rows_read, note from raw.file_registry where feed = ? and delivery_date = ?"
    if metric in _FILE_METRICS:
        return _records(scope.con, f"{registry} and status = ? limit {k}", [feed, day, _FILE_METRICS[metric]])
    if metric == "files_with_schema_drift":
        return _records(scope.con, f"{registry} and status = 'loaded' and ({_DRIFT_SQL}) limit {k}", [feed, day])
    if metric in ("files_loaded", "rows_registry_mismatch"):
        return _records(scope.con, f"{registry} order by source_file limit {k}", [feed, day])
    if metric == "quarantine_rate":
        return _records(
            scope.con,
            "select source_file, source_line, reason, record from raw.quarantine where feed = ? and delivery_date = ? "
            f"order by source_file, source_line limit {k}",
            [feed, day],
        )
    if metric == "volume_ratio":
        return _records(
            scope.con,
            "select delivery_date, sum(rows_loaded) as rows_loaded from raw.file_registry where feed = ? "
            f"and status = 'loaded' and delivery_date <= ? group by 1 order by 1 desc limit {k + 1}",
            [feed, day],
        )
    if metric == "duplicate_key_rows":
        return _records(
            scope.con,
            f"select {keys}, count(*) as rows from {scope.table} where _delivery_date = ? group by {keys} "
            f"having count(*) > 1 order by rows desc limit {k}",
            [day],
        )
    if metric.startswith("orphan_rows__"):
        column = metric.removeprefix("orphan_rows__")
        sql, params = _orphan_rows(scope, column)
        return _records(
            scope.con,
            f"select {keys}, {quote_ident(column)}, {lineage} from ({sql}) where _delivery_date = ? limit {k}",
            [*params, day],
        )
    if metric.startswith("value_share__"):  # the day's mix of the column, most frequent value first
        column = quote_ident(metric.removeprefix("value_share__").split("__")[0])
        return _records(
            scope.con,
            f"select {column}, count(*) as rows from {scope.table} where _delivery_date = ? group by 1 "
            f"order by rows desc, 1 limit {k}",
            [day],
        )
    if metric.startswith("future_rows__"):
        column = quote_ident(metric.removeprefix("future_rows__"))
        return _records(
            scope.con,
            f"select {keys}, {column}, {lineage} from {scope.table} where _delivery_date = ? "
            f"and {column}::date > _delivery_date order by {lineage} limit {k}",
            [day],
        )
    return []


def _suspects(scope: _Scope, failing: list[RowRule]) -> pd.DataFrame:
    """The offending rows of each failing rule, a few per date; an empty frame of the right
    schema when none fails (GX still checks columns and types on it)."""
    k = scope.settings.sample_rows
    sql, params = f"select * from {scope.table} limit 0", []
    if failing:
        parts = []
        for rule in failing:
            part, p = scope.rows(rule.sql, rule.params)
            parts.append(
                f"({part} qualify row_number() over (partition by _delivery_date order by _source_file, _source_line)"
                f" <= {k})"
            )
            params += p
        sql = " union ".join(parts) + " order by _delivery_date, _source_file, _source_line"
    return scope.con.sql(sql, params=params).to_arrow_table().to_pandas(types_mapper=pd.ArrowDtype)


def _observed(metric: str, value: float | None, context: dict[str, Any]) -> str:
    if value is None:
        return f"not judged: {context['not_judged']}" if "not_judged" in context else "nothing delivered"
    if metric == "quarantine_rate":
        return f"{value:.4f} ({context['rows_quarantined']:,} of {context['rows_read']:,} rows read)"
    if metric == "volume_ratio":
        basis = {"same_weekday": " of the same weekday", "same_day_of_month": " of the same day of the month"}
        return (
            f"{value:.2f} ({context['rows_loaded']:,} rows, trailing mean {context['trailing_mean']:,.1f}"
            f"{basis.get(context.get('basis', ''), '')})"
        )
    if metric.startswith(SHARES):
        return f"{value:.4f}"
    return f"{int(value):,}"


def _finding(
    suite: GateSuite,
    check: Check,
    day: dt.date,
    success: bool,
    observed: str,
    number: float | None,
    parameters: dict[str, Any],
    details: dict[str, Any] | None = None,
    sample: list[dict[str, Any]] | None = None,
) -> Finding:
    return Finding(
        stage=STAGE,
        run_date=day,
        suite=suite.name,
        data_asset=suite.data_asset,
        expectation=check.key,
        description=check.description,
        severity=check.severity,
        success=success,
        observed_value=observed,
        observed_number=number,
        details={
            "batch": check.batch,
            "kwargs": check.kwargs,
            "expected": expected_in_words(check, parameters, column_pairs=False),
            **(details or {}),
        },
        sample=sample or [],
    )


def _judge_days(
    scope: _Scope, runner: GxRunner, suite: GateSuite, frame: pd.DataFrame, context: dict, parameters: dict[str, Any]
) -> list[Finding]:
    """GX on the frame of day metrics: a date fails an expectation when GX flags its row."""
    checks = suite.batch("day")
    results = runner.validate(suite, checks, frame, parameters)
    findings = []
    for check in checks:
        metric = check.kwargs["column"]
        flagged = set(results[check.index].get("unexpected_index_list") or [])
        for i, day in enumerate(scope.days):
            value = frame.at[i, metric]
            number = None if pd.isna(value) else float(value)
            ctx = context.get((metric, day), {})
            success = i not in flagged
            findings.append(
                _finding(
                    suite,
                    check,
                    day,
                    success,
                    _observed(metric, number, ctx),
                    number,
                    parameters,
                    details={"context": ctx} if ctx else None,
                    sample=None if success else _masked(scope.feed, _day_sample(scope, metric, day)),
                )
            )
    return findings


def _judge_rows(
    scope: _Scope,
    runner: GxRunner,
    suite: GateSuite,
    rules: dict[int, RowRule],
    rule_counts: dict[dt.date, dict[int, int]],
    rows_per_day: dict[dt.date, int],
    parameters: dict[str, Any],
) -> list[Finding]:
    """GX on the offending rows DuckDB fetched (and on the schema of the rows).

    On a frame without offending rows GX has nothing to judge for a row rule, whose verdict
    is then DuckDB's zero count; with offending rows GX judges every rule and must agree with
    DuckDB's count on every date, or the gate stops with an error instead of guessing.
    """
    failing = [r for r in rules.values() if any(counts[r.check.index] for counts in rule_counts.values())]
    suspects = _suspects(scope, failing)
    checks = tuple(c for c in suite.batch("rows") if failing or c.index not in rules)
    results = runner.validate(suite, checks, suspects, parameters)
    day_of_row = list(suspects["_delivery_date"])
    findings = []
    for check in suite.batch("rows"):
        if check.index not in rules:  # a schema check: one verdict for every date
            result = results[check.index]
            observed = str(result.get("observed_value", check.kwargs.get("type_", "as expected")))
            for day in scope.days:
                findings.append(_finding(suite, check, day, result["success"], observed, None, parameters))
            continue
        flagged = results.get(check.index, {}).get("unexpected_index_list") or []
        for day in scope.days:
            count = rule_counts[day][check.index]
            mine = [i for i in flagged if day_of_row[i] == day]
            if bool(count) != bool(mine):
                raise ValidationError(
                    f"{suite.name}: {check.key} on {day}: DuckDB counted {count} offending rows and GX flagged "
                    f"{len(mine)} of the rows fetched; the pushdown predicate disagrees with GX"
                )
            sample = _masked(scope.feed, [_row_record(suspects, i) for i in mine[: scope.settings.sample_rows]])
            observed = f"{count:,} of {rows_per_day[day]:,} rows"
            findings.append(_finding(suite, check, day, count == 0, observed, float(count), parameters, sample=sample))
    return findings


def _masked(feed: Feed, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sample rows with the contract's personal data hidden: samples go to marts.dq_results,
    which BI reads, and to a report people forward; neither may carry a name or a number.

    A quarantined record is masked field by field; a line that could not be split (no
    fields to mask) is withheld whole for a feed that holds personal data.
    """
    pii = {c.name for c in feed.columns if c.pii}
    if not pii:
        return rows
    out = []
    for row in mask_personal(rows, pii):
        if isinstance(row.get("record"), str):
            try:
                record = json.loads(row["record"])
                row["record"] = json.dumps(mask_personal([record], pii)[0])
            except (ValueError, AttributeError, TypeError):
                row["record"] = "(line withheld: the feed holds personal data)"
        out.append(row)
    return out


def _row_record(frame: pd.DataFrame, index: int) -> dict[str, Any]:
    row = frame.iloc[index]
    return {name: (None if pd.isna(value) else value) for name, value in row.items() if name != "_load_id"}


def validate_feed(
    con: duckdb.DuckDBPyConnection,
    runner: GxRunner,
    suite: GateSuite,
    contract: Contract,
    start: dt.date,
    end: dt.date,
    settings: FeedSettings,
    profile: OperatorProfile | None = None,
) -> list[Finding]:
    """Every expectation of a raw feed's suite, for each delivery date from start to end
    (but the day checks the operator ``profile`` turns off: :func:`exempt_metrics`)."""
    feed = contract.feed(suite.data_asset.removeprefix("raw."))
    if profile and (exempt := exempt_metrics(feed, profile)):
        kept = tuple(c for c in suite.checks if not (c.batch == "day" and c.kwargs.get("column") in exempt))
        suite = replace(suite, checks=kept)
    judged = frozenset(c.kwargs["column"] for c in suite.batch("day"))
    scope = _Scope(con, feed, contract, start, end, settings, judged)
    parameters = dict(settings.values)
    rules = {check.index: rule for check in suite.batch("rows") if (rule := row_rule(check, parameters))}
    frame, context, rule_counts = _day_metrics(scope, list(rules.values()))
    rows_per_day = {day: int(frame.at[i, "rows"]) for i, day in enumerate(scope.days)}
    findings = _judge_days(scope, runner, suite, frame, context, parameters)
    findings += _judge_rows(scope, runner, suite, rules, rule_counts, rows_per_day, parameters)
    order = {(c.key, c.severity): c.index for c in suite.checks}
    return sorted(findings, key=lambda f: (order[(f.expectation, f.severity)], f.run_date))
