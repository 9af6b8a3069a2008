{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='date_day',
        on_schema_change='append_new_columns'
    )
}}

-- depends_on: {{ ref('int_activity_dates_touched') }}

{#-
    One row per subscriber and day: every day a line is in the base, plus any other day
    with activity (a bill issued after churn, say). Revenue is recognised daily as the
    plan fee spread over the month's days while the line is active, plus the usage rated
    that day, so prepaid and postpaid lines are measured alike and the current month is
    complete up to the last loaded day. Recharges and bills are cash figures beside it.
#}

with

usage_days as (

    select * from {{ ref('int_usage_events_aggregated_to_subscriber_days') }}

),

recharges as (

    select * from {{ ref('stg_billing__recharges') }}

),

bills as (

    select * from {{ ref('stg_billing__bills') }}

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

data_range as (

    -- the fact covers the days usage data exists for
    select
        min(date_day) as first_date,
        max(date_day) as last_date
    from usage_days

),

days as (

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

in_base_days as (

    select
        subscriber_id,
        date_day
    from versions_per_day
    where status <> 'churned'
        and activation_date <= date_day

),

subscriber_days as (

    select subscriber_id, date_day from in_base_days
    union
    select subscriber_id, date_day from usage_in_scope
    union
    select subscriber_id, date_day from recharges_per_day
    union
    select subscriber_id, date_day from bills_per_day

),

joined as (

    select
        subscriber_days.subscriber_id,
        subscriber_days.date_day,
        days.month_start_date,
        days.days_in_month,
        versions_per_day.plan_id,
        versions_per_day.status,
        coalesce(
            versions_per_day.status <> 'churned'
            and versions_per_day.activation_date <= subscriber_days.date_day,
            false
        ) as is_in_base,
        case
            when versions_per_day.status = 'active'
                and versions_per_day.activation_date <= subscriber_days.date_day
                then coalesce(plans.monthly_fee, 0) / days.days_in_month
            else 0
        end as recurring_fee_amount,
        usage_in_scope.voice_calls,
        usage_in_scope.voice_minutes,
        usage_in_scope.voice_minutes_on_net,
        usage_in_scope.voice_minutes_off_net,
        usage_in_scope.voice_minutes_long_distance,
        usage_in_scope.voice_minutes_roaming,
        usage_in_scope.voice_minutes_business_hours,
        usage_in_scope.sms_count,
        usage_in_scope.roaming_events,
        usage_in_scope.data_sessions,
        usage_in_scope.data_mb,
        usage_in_scope.data_mb_day,
        usage_in_scope.data_mb_night,
        usage_in_scope.data_mb_busy_hour,
        usage_in_scope.usage_events,
        usage_in_scope.degraded_cell_events,
        usage_in_scope.rated_usage_amount,
        usage_in_scope.voice_rated_amount,
        usage_in_scope.sms_rated_amount,
        usage_in_scope.data_rated_amount,
        usage_in_scope.main_cell_id,
        recharges_per_day.recharge_count,
        recharges_per_day.recharge_amount,
        bills_per_day.billed_amount
    from subscriber_days
    inner join days
        on subscriber_days.date_day = days.date_day
    left join versions_per_day
        on subscriber_days.subscriber_id = versions_per_day.subscriber_id
        and subscriber_days.date_day = versions_per_day.date_day
    left join plans
        on versions_per_day.plan_id = plans.plan_id
    left join usage_in_scope
        on subscriber_days.subscriber_id = usage_in_scope.subscriber_id
        and subscriber_days.date_day = usage_in_scope.date_day
    left join recharges_per_day
        on subscriber_days.subscriber_id = recharges_per_day.subscriber_id
        and subscriber_days.date_day = recharges_per_day.date_day
    left join bills_per_day
        on subscriber_days.subscriber_id = bills_per_day.subscriber_id
        and subscriber_days.date_day = bills_per_day.date_day

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
        cast(recurring_fee_amount + coalesce(rated_usage_amount, 0) as {{ type_double() }}) as revenue_amount,
        cast(main_cell_id as {{ dbt.type_string() }}) as main_cell_id
    from joined

)

select * from final
