{{ config(partition_by_period_config('date_day')) }}
{{
    config(
        materialized='day_sliced_incremental',
        unique_key='date_day',
        days_per_statement=var('days_per_statement'),
        on_schema_change='append_new_columns'
    )
}}

-- depends_on: {{ ref('int_activity_dates_touched') }}

{#- Each source of a subscriber-day and the columns it brings; a version row opens the
    day only while the line is in the base, any activity opens it (see source_rows). -#}
{%- set day_sources = [
    {'cte': 'versions_per_day',
     'opens_day': "case when status <> 'churned' and activation_date <= date_day then 1 else 0 end",
     'columns': ['plan_id', 'status', 'activation_date']},
    {'cte': 'usage_in_scope', 'opens_day': '1', 'columns': [
        'voice_calls', 'voice_minutes', 'voice_minutes_on_net', 'voice_minutes_off_net',
        'voice_minutes_long_distance', 'voice_minutes_roaming', 'voice_minutes_business_hours',
        'sms_count', 'roaming_events', 'data_sessions', 'data_mb', 'data_mb_day', 'data_mb_night',
        'data_mb_busy_hour', 'usage_events', 'degraded_cell_events', 'rated_usage_amount',
        'voice_rated_amount', 'sms_rated_amount', 'data_rated_amount', 'main_cell_id']},
    {'cte': 'recharges_per_day', 'opens_day': '1', 'columns': ['recharge_count', 'recharge_amount']},
    {'cte': 'bills_per_day', 'opens_day': '1', 'columns': ['billed_amount']},
    {'cte': 'adjustments_per_day', 'opens_day': '1', 'columns': ['adjustment_amount']},
] %}
{%- set day_columns = [] %}
{%- for source in day_sources %}{% do day_columns.extend(source.columns) %}{% endfor %}

{#-
    One row per subscriber and day: every day a line is in the base, plus any other day
    with activity (a bill issued after churn, say). Revenue is recognised daily as the
    plan fee spread over the month's days while the line is active, plus the usage rated
    that day, plus the billing adjustments that took effect that day (credits and refunds
    negative, one-off charges positive), so prepaid and postpaid lines are measured alike
    and the current month is complete up to the last loaded day. Recharges and bills are
    cash figures beside it.
#}

with

usage_days as (

    select * from {{ ref('int_usage_events_aggregated_to_subscriber_days') }}

),

usage_dates as (

    -- a second import of the same model, so that each CTE is read once: DuckDB
    -- materialises a CTE read twice, which here meant copying every column of the whole
    -- usage history on each daily run (memory and time that grew with history)
    select date_day from {{ ref('int_usage_events_aggregated_to_subscriber_days') }}

),

crm_delivery_dates as (

    select delivery_date as date_day from {{ ref('stg_crm__subscribers') }}

),

recharges as (

    select * from {{ ref('stg_billing__recharges') }}

),

bills as (

    select * from {{ ref('stg_billing__bills') }}

),

adjustments as (

    select * from {{ ref('stg_billing__adjustments') }}

),

subscriber_versions as (

    select * from {{ ref('dim_subscriber_history') }}

),

plans as (

    select * from {{ ref('dim_plan') }}

),

calendar as (

    select * from {{ ref('dim_date') }}

),

covered_dates as (

    -- the days the warehouse holds data for: those with usage, and those the CRM delivered
    -- on, so the base has its days (fee revenue, days in base, no usage) where no usage
    -- arrived: an operator without a mediation feed, or a day whose usage is late
    select date_day from usage_dates
    union all
    select date_day from crm_delivery_dates

),

data_range as (

    select
        min(date_day) as first_date,
        max(date_day) as last_date
    from covered_dates

),

days_to_build as (

    -- the days this run builds (on an incremental run those its batch touched); the
    -- materialization builds them a slice at a time (macros/day_sliced_incremental.sql;
    -- not dbt's microbatch, whose one contiguous window cannot follow the scattered days a
    -- late file touches: dbt_project/README.md, "Why not dbt's microbatch")
    select
        calendar.date_day,
        calendar.month_start_date,
        calendar.days_in_month
    from calendar
    inner join data_range
        on calendar.date_day between data_range.first_date and data_range.last_date
    {% if is_incremental() %}
    where calendar.date_day in (
        select touched_dates.batch_date
        from {{ ref('int_activity_dates_touched') }} as touched_dates
    )
    {% endif %}

),

days as (

    -- the days of this statement
    select *
    from days_to_build
    where {{ day_slice('date_day') }}

),

usage_in_scope as (

    select usage_days.*
    from usage_days
    inner join days
        on usage_days.date_day = days.date_day

),

recharges_per_day as (

    select
        recharges.subscriber_id,
        recharges.recharge_date as date_day,
        count(*) as recharge_count,
        sum(recharges.recharge_amount) as recharge_amount
    from recharges
    inner join days
        on recharges.recharge_date = days.date_day
    group by
        recharges.subscriber_id,
        recharges.recharge_date

),

bills_per_day as (

    -- a bill counts on the day it is issued (the first of the month after the billed one)
    select
        bills.subscriber_id,
        bills.issue_date as date_day,
        sum(bills.amount_due) as billed_amount
    from bills
    inner join days
        on bills.issue_date = days.date_day
    group by
        bills.subscriber_id,
        bills.issue_date

),

adjustments_per_day as (

    -- an adjustment counts on the day it took effect, whenever it was delivered
    select
        adjustments.subscriber_id,
        adjustments.adjustment_date as date_day,
        sum(adjustments.adjustment_amount) as adjustment_amount
    from adjustments
    inner join days
        on adjustments.adjustment_date = days.date_day
    group by
        adjustments.subscriber_id,
        adjustments.adjustment_date

),

versions_per_day as (

    -- the CRM state at the end of each day: the version valid when the day closed
    select
        subscriber_versions.subscriber_id,
        days.date_day,
        subscriber_versions.plan_id,
        subscriber_versions.status,
        subscriber_versions.activation_date
    from subscriber_versions
    inner join days
        on subscriber_versions.valid_from_date <= days.date_day
        and (
            subscriber_versions.valid_to_date is null
            or subscriber_versions.valid_to_date > days.date_day
        )

),

source_rows as (

    -- every source's rows for a subscriber-day stacked, to be folded into one row below.
    -- One aggregation instead of a left join per source: an aggregation spills to disk,
    -- while a chain of wide hash joins over a long first run ran out of memory (100,000
    -- subscribers over 90 days failed at DuckDB's 8 GB cap).
    {% for source in day_sources %}
    select
        subscriber_id,
        date_day,
        {{ source.opens_day }} as opens_day,
        {% for column in day_columns -%}
        {{ column if column in source.columns else 'null' }} as {{ column }}{{ ',' if not loop.last }}
        {% endfor -%}
    from {{ source.cte }}
    {% if not loop.last %}
    union all
    {% endif %}
    {%- endfor %}

),

subscriber_days as (

    -- each source has at most one row per subscriber-day, so max() picks its value
    select
        subscriber_id,
        date_day,
        {% for column in day_columns -%}
        max({{ column }}) as {{ column }}{{ ',' if not loop.last }}
        {% endfor -%}
    from source_rows
    group by
        subscriber_id,
        date_day
    having max(opens_day) = 1

),

joined as (

    select
        subscriber_days.*,
        days.month_start_date,
        coalesce(
            subscriber_days.status <> 'churned'
            and subscriber_days.activation_date <= subscriber_days.date_day,
            false
        ) as is_in_base,
        case
            when subscriber_days.status = 'active'
                and subscriber_days.activation_date <= subscriber_days.date_day
                then coalesce(plans.monthly_fee, 0) / days.days_in_month
            else 0
        end as recurring_fee_amount
    from subscriber_days
    inner join days
        on subscriber_days.date_day = days.date_day
    left join plans
        on subscriber_days.plan_id = plans.plan_id

),

final as (

    select
        cast(subscriber_id as {{ dbt.type_string() }}) as subscriber_id,
        cast(date_day as date) as date_day,
        cast(month_start_date as date) as month_start_date,
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(is_in_base as {{ dbt.type_boolean() }}) as is_in_base,
        cast(coalesce(voice_calls, 0) as {{ dbt.type_bigint() }}) as voice_calls,
        cast(coalesce(voice_minutes, 0) as {{ type_double() }}) as voice_minutes,
        cast(coalesce(voice_minutes_on_net, 0) as {{ type_double() }}) as voice_minutes_on_net,
        cast(coalesce(voice_minutes_off_net, 0) as {{ type_double() }}) as voice_minutes_off_net,
        cast(coalesce(voice_minutes_long_distance, 0) as {{ type_double() }}) as voice_minutes_long_distance,
        cast(coalesce(voice_minutes_roaming, 0) as {{ type_double() }}) as voice_minutes_roaming,
        cast(coalesce(voice_minutes_business_hours, 0) as {{ type_double() }}) as voice_minutes_business_hours,
        cast(coalesce(sms_count, 0) as {{ dbt.type_bigint() }}) as sms_count,
        cast(coalesce(roaming_events, 0) as {{ dbt.type_bigint() }}) as roaming_events,
        cast(coalesce(data_sessions, 0) as {{ dbt.type_bigint() }}) as data_sessions,
        cast(coalesce(data_mb, 0) as {{ type_double() }}) as data_mb,
        cast(coalesce(data_mb_day, 0) as {{ type_double() }}) as data_mb_day,
        cast(coalesce(data_mb_night, 0) as {{ type_double() }}) as data_mb_night,
        cast(coalesce(data_mb_busy_hour, 0) as {{ type_double() }}) as data_mb_busy_hour,
        cast(coalesce(usage_events, 0) as {{ dbt.type_bigint() }}) as usage_events,
        cast(coalesce(degraded_cell_events, 0) as {{ dbt.type_bigint() }}) as degraded_cell_events,
        cast(coalesce(recharge_count, 0) as {{ dbt.type_bigint() }}) as recharge_count,
        cast(coalesce(recharge_amount, 0) as {{ type_double() }}) as recharge_amount,
        cast(coalesce(billed_amount, 0) as {{ type_double() }}) as billed_amount,
        cast(recurring_fee_amount as {{ type_double() }}) as recurring_fee_amount,
        cast(coalesce(rated_usage_amount, 0) as {{ type_double() }}) as rated_usage_amount,
        cast(coalesce(voice_rated_amount, 0) as {{ type_double() }}) as voice_rated_amount,
        cast(coalesce(sms_rated_amount, 0) as {{ type_double() }}) as sms_rated_amount,
        cast(coalesce(data_rated_amount, 0) as {{ type_double() }}) as data_rated_amount,
        cast(
            recurring_fee_amount + coalesce(rated_usage_amount, 0) + coalesce(adjustment_amount, 0)
            as {{ type_double() }}
        ) as revenue_amount,
        cast(main_cell_id as {{ dbt.type_string() }}) as main_cell_id,
        -- last: added after the first release, appended to existing tables (on_schema_change)
        cast(coalesce(adjustment_amount, 0) as {{ type_double() }}) as adjustment_amount
    from joined

)

select * from final
