{{ config(replace_periods_config('month_start_date')) }}
{{
    config(
        on_schema_change='append_new_columns'
    )
}}

-- depends_on: {{ ref('int_activity_dates_touched') }}

{#-
    Network experience per subscriber and month: the share of the subscriber's usage events
    carried by a cell on a day it was degraded (fct_subscriber_monthly counts them with the
    kpi_coverage_cell_daily rule), and a band: poor from var churn_poor_network_min_share
    (the poor-network churn signal), fair from var network_experience_fair_min_share, else
    good; no_usage without events.

    Incremental: rebuilds the months from the earliest one the batch touched.
#}

with

monthly as (

    select * from {{ ref('fct_subscriber_monthly') }}
    where days_in_base > 0
    {% if is_incremental() %}
        and month_start_date >= {{ subscriber_rebuild_from_month() }}
    {% endif %}

),

final as (

    select
        cast(subscriber_id as {{ dbt.type_string() }}) as subscriber_id,
        cast(month_start_date as date) as month_start_date,
        cast(period_end_date as date) as period_end_date,
        cast(usage_events as {{ dbt.type_bigint() }}) as usage_events,
        cast(degraded_cell_events as {{ dbt.type_bigint() }}) as degraded_cell_events,
        cast({{ safe_ratio('degraded_cell_events', 'usage_events') }} as {{ type_double() }}) as degraded_traffic_share,
        cast(
            case
                when coalesce(usage_events, 0) = 0 then 'no_usage'
                when cast(degraded_cell_events as {{ type_double() }}) / usage_events
                    >= {{ var('churn_poor_network_min_share') }} then 'poor'
                when cast(degraded_cell_events as {{ type_double() }}) / usage_events
                    >= {{ var('network_experience_fair_min_share') }} then 'fair'
                else 'good'
            end as {{ dbt.type_string() }}
        ) as experience_band
    from monthly

)

select * from final
