"""The marts stage: the metrics the suites of ``expectations/marts/`` judge, table by table.

Run after dbt, on the run date's slice of each public mart (the day for daily tables, the
run date's month for monthly ones; see :mod:`telco_mart.quality.outputs`). Row rules (rates
in [0, 1], keys not null, segments in their set...) live in the suites; what no single row
shows is computed here, each metric one query on the slice and a small slice of the facts
it reconciles with:

=====================================  ==============================================================
``kpi_coverage_cell_daily``
``rows``                               cell rows for the day
``counters_not_reconciled``            cells whose counters differ from stg_network__cell_kpis (a missing side counts)
``rate_formula_mismatch_rows``         rows whose rate is not the ratio of its counters
``null_region_rows``                   cells not (yet) in dim_cell
``kpi_coverage_region_daily``
``regions_not_reconciled``             regions whose totals differ from the sum of their cells' rows
``rate_formula_mismatch_rows``         rows whose rate is not the ratio of its summed counters
``kpi_churn_monthly``
``opening_base_not_reconciled``        |sum(opening_base) - last month's closing base in subscriber_segments_monthly|
``churners_above_churned``             churners counted beyond the subscribers dim_subscriber has churned in the month
``churn_rate``                         sum(churners) / sum(opening_base) (null under share_min_base)
``rate_formula_mismatch_rows``         rows whose churn_rate is not churners / opening_base
``kpi_cross_sell_monthly``
``segments_not_reconciled``            segments whose subscriber_count differs from subscriber_segments_monthly
``groups_not_reconciled``              segment-region groups whose counts differ from subscriber_products_monthly
``rate_formula_mismatch_rows``         rows whose take-up rate is not holders / subscriber_count
``subscriber_segments_monthly``
``rows``                               subscriber rows of the month
``duplicate_subscriber_rows``          rows of a subscriber with more than one row in the month
``base_not_reconciled``                base subscribers (fct_subscriber_monthly) without a row, or the reverse
``segment_share__<segment>``           share of the month's rows in the segment (null under share_min_base)
``fct_subscriber_daily``
``rows``                               subscriber rows for the day
``duplicate_subscriber_rows``          rows of a subscriber with more than one row that day
``usage_events_not_reconciled``        subscribers whose usage_events differ from stg_mediation__usage_events
=====================================  ==============================================================

A new marts suite names one of these metrics (or row rules on its table's columns); a table
with no metrics here can still have a suite of row rules.
"""

from __future__ import annotations

from telco_mart.quality.outputs import Metric

STAGE = "marts"

#: The four customer groups and the rest (subscriber_segments_monthly.segment).
SEGMENTS = ("high_value_long_tenure", "low_value_suppressed", "data_driven_new", "voice_biased", "unclassified")
#: A rate and its formula agree when they differ by no more than this (doubles, not decimals).
RATE_TOLERANCE = 1e-9

_ROWS = Metric("rows", "select count(*) from {table} where {scope}", doc="rows of the slice")

_CELL_COUNTERS = (
    "rsrp_measurements",
    "rsrp_good_measurements",
    "call_setup_attempts",
    "call_setup_successes",
    "dropped_calls",
    "data_session_attempts",
    "data_session_successes",
)
_CELL_RATES = {
    "coverage_rate": ("rsrp_good_measurements", "rsrp_measurements"),
    "call_setup_success_rate": ("call_setup_successes", "call_setup_attempts"),
    "dropped_call_rate": ("dropped_calls", "call_setup_successes"),
    "data_session_success_rate": ("data_session_successes", "data_session_attempts"),
}


def _formula_mismatch(rates: dict[str, tuple[str, str]], keys: str) -> Metric:
    """Rows where a rate is not numerator / denominator (null exactly when the denominator is 0)."""
    broken = " or ".join(
        f"(case when {den} > 0 then {rate} is null or abs({rate} - {num}::double / {den}) > {RATE_TOLERANCE} "
        f"else {rate} is not null end)"
        for rate, (num, den) in rates.items()
    )
    shown = ", ".join(dict.fromkeys(c for rate, (num, den) in rates.items() for c in (rate, num, den)))
    return Metric(
        "rate_formula_mismatch_rows",
        f"select count(*) filter (where {broken}) from {{table}} where {{scope}}",
        sample=f"select {keys}, {shown} from {{table}} where {{scope}} and ({broken})",
        doc="rows whose rate is not the ratio of the counters beside it",
    )


def _counters_differ(left: str, right: str, columns: tuple[str, ...]) -> str:
    return " or ".join(f"{left}.{c} is distinct from {right}.{c}" for c in columns)


_CELL_RECONCILE = f"""
    with mart as (select cell_id, {", ".join(_CELL_COUNTERS)} from {{table}} where {{scope}}),
    facts as (
        select cell_id, {", ".join(_CELL_COUNTERS)} from staging.stg_network__cell_kpis
        where kpi_date = $run_date
    )
    select coalesce(mart.cell_id, facts.cell_id) as cell_id,
        mart.cell_id is not null as in_mart, facts.cell_id is not null as in_facts,
        {", ".join(f"mart.{c} as mart_{c}, facts.{c} as facts_{c}" for c in _CELL_COUNTERS)}
    from mart full join facts on mart.cell_id = facts.cell_id
    where {_counters_differ("mart", "facts", _CELL_COUNTERS)}
"""

_REGION_TOTALS = ("cell_count", "degraded_cell_count", *_CELL_COUNTERS)
_REGION_RECONCILE = f"""
    with mart as (select region, {", ".join(_REGION_TOTALS)} from {{table}} where {{scope}}),
    cells as (
        select coalesce(region, 'unknown') as region, count(*) as cell_count,
            count(*) filter (where is_degraded) as degraded_cell_count,
            {", ".join(f"sum({c}) as {c}" for c in _CELL_COUNTERS)}
        from marts.kpi_coverage_cell_daily where kpi_date = $run_date group by 1
    )
    select coalesce(mart.region, cells.region) as region,
        {", ".join(f"mart.{c} as region_{c}, cells.{c} as cells_{c}" for c in _REGION_TOTALS)}
    from mart full join cells on mart.region = cells.region
    where {_counters_differ("mart", "cells", _REGION_TOTALS)}
"""

_MONTH_BASE = """
    select subscriber_id from marts.fct_subscriber_monthly
    where month_start_date = $period_start and days_in_base > 0
"""
_BASE_RECONCILE = f"""
    with segments as (select subscriber_id from {{table}} where {{scope}}),
    base as ({_MONTH_BASE})
    select coalesce(segments.subscriber_id, base.subscriber_id) as subscriber_id,
        segments.subscriber_id is not null as has_segment_row, base.subscriber_id is not null as in_base
    from segments full join base on segments.subscriber_id = base.subscriber_id
    where segments.subscriber_id is null or base.subscriber_id is null
"""


def _segment_share(segment: str) -> Metric:
    return Metric(
        f"segment_share__{segment}",
        f"""
        select case when count(*) >= $share_min_base then count(*) filter (where segment = '{segment}') / count(*) end,
            count(*) filter (where segment = '{segment}') as subscribers, count(*) as base,
            case when count(*) < $share_min_base
                then 'base of ' || count(*) || ' subscribers is below share_min_base (' || $share_min_base || ')'
            end as not_judged
        from {{table}} where {{scope}}
        """,
        sample=(
            "select segment, count(*) as subscribers, round(count(*) / sum(count(*)) over (), 4) as share "
            "from {table} where {scope} group by 1 order by 2 desc"
        ),
        kind="share",
        doc=f"share of the month's base in segment {segment}",
    )


def _duplicates(key: str) -> Metric:
    return Metric(
        "duplicate_subscriber_rows",
        f"select coalesce(sum(n), 0) from (select count(*) as n from {{table}} where {{scope}} "
        f"group by {key} having count(*) > 1)",
        sample=f"select {key}, count(*) as rows from {{table}} where {{scope}} group by {key} "
        "having count(*) > 1 order by rows desc",
        doc="rows of a subscriber with more than one row in the slice",
    )


_CROSS_SELL_PRODUCTS = (
    "broadband",
    "family_plan",
    "data_pack",
    "video_membership",
    "cloud_storage",
    "music_streaming",
    "content_pack",
    "family_number",
    "data_pack_night",
    "data_pack_weekend",
    "data_pack_addon",
)
#: Holdings are counted over the base at the period end (the take-up denominator).
_CROSS_SELL_GROUP_COUNTS = {
    "subscriber_count": "count(*)",
    "period_end_subscriber_count": "count(*) filter (where is_in_base_at_period_end)",
    "broadband_holders": "count(*) filter (where is_in_base_at_period_end and holds_broadband)",
    "data_pack_holders": "count(*) filter (where is_in_base_at_period_end and holds_data_pack)",
    "composite_subscribers": "count(*) filter (where is_in_base_at_period_end and business_type = 'composite')",
}
_CROSS_SELL_GROUPS = f"""
    with mart as (
        select segment, region, {", ".join(_CROSS_SELL_GROUP_COUNTS)} from {{table}} where {{scope}}
    ),
    facts as (
        select segment, region, {", ".join(f"{sql} as {name}" for name, sql in _CROSS_SELL_GROUP_COUNTS.items())}
        from marts.subscriber_products_monthly where month_start_date = $period_start group by all
    )
    select coalesce(mart.segment, facts.segment) as segment, coalesce(mart.region, facts.region) as region,
        {", ".join(f"mart.{c} as kpi_{c}, facts.{c} as products_{c}" for c in _CROSS_SELL_GROUP_COUNTS)}
    from mart full join facts on mart.segment = facts.segment and mart.region = facts.region
    where {_counters_differ("mart", "facts", tuple(_CROSS_SELL_GROUP_COUNTS))}
"""
_CROSS_SELL_SEGMENTS = """
    with mart as (select segment, sum(subscriber_count) as subscribers from {table} where {scope} group by 1),
    segments as (
        select segment, count(*) as subscribers from marts.subscriber_segments_monthly
        where month_start_date = $period_start group by 1
    )
    select coalesce(mart.segment, segments.segment) as segment, mart.subscribers as kpi_subscribers,
        segments.subscribers as segment_mart_subscribers
    from mart full join segments on mart.segment = segments.segment
    where mart.subscribers is distinct from segments.subscribers
"""

_CHURN_OPENING = """
    select count(*) from marts.subscriber_segments_monthly
    where month_start_date = ($period_start - interval 1 month)::date and is_month_complete and status <> 'churned'
"""
_CHURN_CHURNED = """
    select count(*) from marts.dim_subscriber
    where status = 'churned' and status_date::date between $period_start and $period_end
"""

_USAGE_RECONCILE = """
    with mart as (select subscriber_id, usage_events from {table} where {scope} and usage_events > 0),
    facts as (
        -- staging is a view over raw: the range on the event time lets DuckDB skip the
        -- history's row groups, which a filter on the derived date does not
        select subscriber_id, count(*) as usage_events from staging.stg_mediation__usage_events
        where event_at >= $run_date::timestamp and event_at < $run_date::timestamp + interval 1 day
        group by 1
    )
    select coalesce(mart.subscriber_id, facts.subscriber_id) as subscriber_id,
        mart.usage_events as mart_usage_events, facts.usage_events as staged_events
    from mart full join facts on mart.subscriber_id = facts.subscriber_id
    where mart.usage_events is distinct from facts.usage_events
"""


def _count_of(sql: str, name: str, doc: str) -> Metric:
    """A metric counting the rows of a query that lists offenders, which is also its sample."""
    return Metric(name, f"select count(*) from ({sql})", sample=sql, doc=doc)


#: The metrics of each mart, by data asset: what its suite's ``day`` expectations can name.
METRICS: dict[str, dict[str, Metric]] = {
    "marts.kpi_coverage_cell_daily": {
        m.name: m
        for m in (
            _ROWS,
            _count_of(_CELL_RECONCILE, "counters_not_reconciled", "cells whose counters differ from staging"),
            _formula_mismatch(_CELL_RATES, "cell_id, kpi_date"),
            Metric(
                "null_region_rows",
                "select count(*) from {table} where {scope} and region is null",
                sample="select cell_id, kpi_date, region from {table} where {scope} and region is null",
                doc="cells not (yet) in dim_cell",
            ),
        )
    },
    "marts.kpi_coverage_region_daily": {
        m.name: m
        for m in (
            _ROWS,
            _count_of(_REGION_RECONCILE, "regions_not_reconciled", "regions whose totals differ from their cells"),
            _formula_mismatch(_CELL_RATES, "region, kpi_date"),
        )
    },
    "marts.kpi_churn_monthly": {
        m.name: m
        for m in (
            _ROWS,
            Metric(
                "opening_base_not_reconciled",
                f"""
                select abs(coalesce(sum(opening_base), 0) - ({_CHURN_OPENING})),
                    coalesce(sum(opening_base), 0) as kpi_opening_base,
                    ({_CHURN_OPENING}) as previous_month_closing_base
                from {{table}} where {{scope}}
                    and exists (select 1 from marts.subscriber_segments_monthly where month_start_date = $period_start)
                """,
                sample=(
                    "select segment, sum(opening_base) as opening_base, sum(churners) as churners from {table} "
                    "where {scope} group by 1 order by 1"
                ),
                doc="sum(opening_base) against the closing base of the month before",
            ),
            Metric(
                "churners_above_churned",
                f"""
                select greatest(coalesce(sum(churners), 0) - ({_CHURN_CHURNED}), 0),
                    coalesce(sum(churners), 0) as kpi_churners, ({_CHURN_CHURNED}) as churned_in_month
                from {{table}} where {{scope}}
                """,
                sample=(
                    "select segment, region, churners, opening_base from {table} where {scope} and churners > 0 "
                    "order by churners desc"
                ),
                doc="churners beyond the subscribers dim_subscriber has churned in the month",
            ),
            Metric(
                "churn_rate",
                """
                select case when sum(opening_base) >= $share_min_base then sum(churners) / sum(opening_base) end,
                    coalesce(sum(churners), 0) as churners, coalesce(sum(opening_base), 0) as opening_base,
                    case when coalesce(sum(opening_base), 0) < $share_min_base
                        then 'opening base of ' || coalesce(sum(opening_base), 0)
                            || ' is below share_min_base (' || $share_min_base || ')'
                    end as not_judged
                from {table} where {scope}
                """,
                sample=(
                    "select segment, sum(churners) as churners, sum(opening_base) as opening_base, "
                    "round(sum(churners) / sum(opening_base), 4) as churn_rate from {table} where {scope} "
                    "group by 1 order by 4 desc"
                ),
                kind="share",
                doc="the month's churn rate over the whole opening base",
            ),
            _formula_mismatch({"churn_rate": ("churners", "opening_base")}, "month_start_date, segment, region"),
        )
    },
    "marts.kpi_cross_sell_monthly": {
        m.name: m
        for m in (
            _ROWS,
            _count_of(_CROSS_SELL_SEGMENTS, "segments_not_reconciled", "segments whose counts differ"),
            _count_of(_CROSS_SELL_GROUPS, "groups_not_reconciled", "segment-region groups whose counts differ"),
            _formula_mismatch(
                {
                    **{
                        f"{p}_take_up_rate": (f"{p}_holders", "period_end_subscriber_count")
                        for p in _CROSS_SELL_PRODUCTS
                    },
                    "single_to_composite_conversion_rate": ("converted_to_composite", "single_previous_month"),
                    "broadband_renewal_rate": ("broadband_renewed", "broadband_due_for_renewal"),
                },
                "month_start_date, segment, region",
            ),
        )
    },
    "marts.subscriber_segments_monthly": {
        m.name: m
        for m in (
            _ROWS,
            _duplicates("subscriber_id"),
            _count_of(_BASE_RECONCILE, "base_not_reconciled", "subscribers in the base without a row, or the reverse"),
            *(_segment_share(s) for s in SEGMENTS),
        )
    },
    "marts.fct_subscriber_daily": {
        m.name: m
        for m in (
            _ROWS,
            _duplicates("subscriber_id"),
            _count_of(_USAGE_RECONCILE, "usage_events_not_reconciled", "subscribers whose usage differs"),
        )
    },
}
