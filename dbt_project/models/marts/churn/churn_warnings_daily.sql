{{ config(replace_periods_config('date_day')) }}
{{
    config(
        on_schema_change='append_new_columns'
    )
}}

-- depends_on: {{ ref('int_activity_dates_touched') }}

{#-
    Churn early warnings: one row per subscriber in the base and day on which at least one
    signal fired, every fired signal a reason code, the first date a warning fired for the
    subscriber, and a risk score (the sum of the fired signals' weights, var
    churn_warning_weights, capped at 100).

    No look-ahead: the monthly signals (spend decline, usage drop, repeated complaints,
    poor network; thresholds vars churn_*, computed by subscriber_segments_monthly) are
    those of the last closed month, so a day's warning uses only what was known that day.
    Daily signals: usage declining (usage events of the last churn_usage_trend_window_days
    days at least churn_usage_trend_drop_share below the same span before), a porting request
    received by that day, and a broadband contract (held at the end of the previous month)
    ending within churn_broadband_expiry_days.

    Incremental (delete+insert by date_day): rebuilds the days the batch touched; the
    first warning date carries over from the rows already built.
#}

{%- set weights = var('churn_warning_weights') %}
{%- set trend_days = var('churn_usage_trend_window_days') | int %}

with

daily_history as (

    -- the days built plus the two trend windows before them
    select * from {{ ref('fct_subscriber_daily') }}
    where is_in_base
    {% if is_incremental() %}
        and date_day >= cast({{ dbt.dateadd(
            'day',
            -2 * trend_days,
            '(select min(touched_dates.batch_date) from ' ~ ref('int_activity_dates_touched') ~ ' as touched_dates)'
        ) }} as date)
    {% endif %}

),

segments as (

    select * from {{ ref('subscriber_segments_monthly') }}

),

monthly as (

    select * from {{ ref('fct_subscriber_monthly') }}

),

subscribers as (

    select * from {{ ref('dim_subscriber') }}

),

usage_trend as (

    -- usage events in the last churn_usage_trend_window_days days (this day included)
    -- against the same number of days before them; the line must have been in the base
    -- on every day of both windows
    select
        subscriber_id,
        date_day,
        month_start_date,
        sum(usage_events) over (
            partition by subscriber_id order by date_day
            rows between {{ trend_days - 1 }} preceding and current row
        ) as recent_usage_events,
        sum(usage_events) over (
            partition by subscriber_id order by date_day
            rows between {{ 2 * trend_days - 1 }} preceding and {{ trend_days }} preceding
        ) as earlier_usage_events,
        lag(date_day, {{ 2 * trend_days - 1 }}) over (
            partition by subscriber_id order by date_day
        ) as window_start_date
    from daily_history

),

daily as (

    select * from usage_trend
    {% if is_incremental() %}
    where date_day in (select touched_dates.batch_date from {{ ref('int_activity_dates_touched') }} as touched_dates)
    {% endif %}

),

last_closed_month as (

    -- the previous month's signals apply to every day of the next month
    select
        segments.subscriber_id,
        cast({{ dbt.dateadd('month', 1, 'segments.month_start_date') }} as date) as applies_to_month,
        segments.is_spend_declining_signal,
        segments.is_usage_drop_signal,
        segments.is_repeated_complaints_signal,
        segments.is_poor_network_signal,
        monthly.has_broadband,
        monthly.broadband_end_date
    from segments
    inner join monthly
        on segments.subscriber_id = monthly.subscriber_id
        and segments.month_start_date = monthly.month_start_date

),

signals as (

    select
        daily.subscriber_id,
        daily.date_day,
        coalesce(last_closed_month.is_spend_declining_signal, false) as is_spend_decline,
        coalesce(last_closed_month.is_usage_drop_signal, false) as is_usage_drop,
        coalesce(
            daily.window_start_date
                = cast({{ dbt.dateadd('day', -2 * trend_days + 1, 'daily.date_day') }} as date)
            and daily.earlier_usage_events > 0
            and daily.recent_usage_events
                <= (1 - {{ var('churn_usage_trend_drop_share') }}) * daily.earlier_usage_events,
            false
        ) as is_usage_declining,
        coalesce(last_closed_month.is_repeated_complaints_signal, false) as is_repeated_complaints,
        coalesce(last_closed_month.is_poor_network_signal, false) as is_poor_network,
        coalesce(
            last_closed_month.has_broadband
            and last_closed_month.broadband_end_date >= daily.date_day
            and last_closed_month.broadband_end_date
                <= cast({{ dbt.dateadd('day', var('churn_broadband_expiry_days'), 'daily.date_day') }} as date),
            false
        ) as is_broadband_expiring,
        coalesce(cast(subscribers.port_out_requested_at as date) <= daily.date_day, false) as is_port_out
    from daily
    left join last_closed_month
        on daily.subscriber_id = last_closed_month.subscriber_id
        and daily.month_start_date = last_closed_month.applies_to_month
    left join subscribers
        on daily.subscriber_id = subscribers.subscriber_id

),

warned as (

    select
        *,
        {{ dbt.concat([
            "case when is_port_out then 'port_out,' else '' end",
            "case when is_spend_decline then 'spend_decline,' else '' end",
            "case when is_usage_drop then 'usage_drop,' else '' end",
            "case when is_usage_declining then 'usage_declining,' else '' end",
            "case when is_repeated_complaints then 'repeated_complaints,' else '' end",
            "case when is_poor_network then 'poor_network,' else '' end",
            "case when is_broadband_expiring then 'broadband_expiring,' else '' end"
        ]) }} as reason_list_with_trailing_comma,
        (
            case when is_port_out then {{ weights['port_out'] }} else 0 end
            + case when is_spend_decline then {{ weights['spend_decline'] }} else 0 end
            + case when is_usage_drop then {{ weights['usage_drop'] }} else 0 end
            + case when is_usage_declining then {{ weights['usage_declining'] }} else 0 end
            + case when is_repeated_complaints then {{ weights['repeated_complaints'] }} else 0 end
            + case when is_poor_network then {{ weights['poor_network'] }} else 0 end
            + case when is_broadband_expiring then {{ weights['broadband_expiring'] }} else 0 end
        ) as raw_score
    from signals
    where is_port_out or is_spend_decline or is_usage_drop or is_usage_declining or is_repeated_complaints
        or is_poor_network or is_broadband_expiring

),

first_warnings as (

    select
        subscriber_id,
        min(date_day) as first_warned_date
    from (
        select
            subscriber_id,
            date_day
        from warned
        {% if is_incremental() %}
        union all
        select
            subscriber_id,
            first_warned_date as date_day
        from {{ this }}
        where date_day not in (
            select touched_dates.batch_date from {{ ref('int_activity_dates_touched') }} as touched_dates
        )
        {% endif %}
    ) as warned_days
    group by subscriber_id

),

final as (

    select
        cast(warned.subscriber_id as {{ dbt.type_string() }}) as subscriber_id,
        cast(warned.date_day as date) as date_day,
        cast(first_warnings.first_warned_date as date) as first_warned_date,
        cast(
            substring(
                warned.reason_list_with_trailing_comma, 1,
                {{ dbt.length('warned.reason_list_with_trailing_comma') }} - 1
            ) as {{ dbt.type_string() }}
        ) as reason_codes,
        cast(
            (case when warned.is_port_out then 1 else 0 end)
            + (case when warned.is_spend_decline then 1 else 0 end)
            + (case when warned.is_usage_drop then 1 else 0 end)
            + (case when warned.is_usage_declining then 1 else 0 end)
            + (case when warned.is_repeated_complaints then 1 else 0 end)
            + (case when warned.is_poor_network then 1 else 0 end)
            + (case when warned.is_broadband_expiring then 1 else 0 end)
            as {{ dbt.type_int() }}
        ) as signal_count,
        cast(case when warned.raw_score > 100 then 100 else warned.raw_score end as {{ dbt.type_int() }})
            as risk_score,
        cast(warned.is_port_out as {{ dbt.type_boolean() }}) as is_port_out,
        cast(warned.is_spend_decline as {{ dbt.type_boolean() }}) as is_spend_decline,
        cast(warned.is_usage_drop as {{ dbt.type_boolean() }}) as is_usage_drop,
        cast(warned.is_usage_declining as {{ dbt.type_boolean() }}) as is_usage_declining,
        cast(warned.is_repeated_complaints as {{ dbt.type_boolean() }}) as is_repeated_complaints,
        cast(warned.is_poor_network as {{ dbt.type_boolean() }}) as is_poor_network,
        cast(warned.is_broadband_expiring as {{ dbt.type_boolean() }}) as is_broadband_expiring
    from warned
    inner join first_warnings
        on warned.subscriber_id = first_warnings.subscriber_id

)

select * from final
