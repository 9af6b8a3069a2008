{{ config(replace_periods_config('month_start_date')) }}
{{
    config(
        on_schema_change='append_new_columns'
    )
}}

-- depends_on: {{ ref('int_activity_dates_touched') }}

{#-
    One row per subscriber and month, rolled up from fct_subscriber_daily. A month still
    running is measured up to its last loaded day (period_end_date); ARPU and the other
    rates are full-month equivalents, so the current month compares with closed ones.
    Holdings (broadband, VAS, plan) and lines are as of period_end_date.

    Incremental: a run rebuilds the months from the earliest one its batch touched
    (macro subscriber_rebuild_from_month), from the daily fact's rows of those months
    only. A daily run therefore re-aggregates the current month's days and nothing else.
#}

with

daily as (

    select * from {{ ref('fct_subscriber_daily') }}
    {% if is_incremental() %}
    where month_start_date >= {{ subscriber_rebuild_from_month() }}
    {% endif %}

),

subscriber_versions as (

    select * from {{ ref('dim_subscriber_history') }}

),

subscribers as (

    select * from {{ ref('dim_subscriber') }}

),

plans as (

    select * from {{ ref('dim_plan') }}

),

broadband_versions as (

    select * from {{ ref('stg_broadband__contracts') }}

),

vas_versions as (

    select * from {{ ref('stg_vas__subscriptions') }}

),

complaint_versions as (

    select * from {{ ref('stg_crm__complaints') }}

),

nps_responses as (

    select * from {{ ref('stg_crm__nps_responses') }}

),

periods as (

    -- each month built, with the last day loaded in it (its end once complete)
    select
        month_start_date,
        cast({{ dbt.last_day('month_start_date', 'month') }} as date) as month_end_date,
        max(date_day) as period_end_date
    from daily
    group by month_start_date

),

usage_per_month as (

    -- sums of doubles are rounded (amounts and minutes to 4 decimals, megabytes to 3): a
    -- parallel sum can differ in its last bits from run to run, which would let ties in
    -- the segment mart's ranks fall differently on a rerun
    select
        subscriber_id,
        month_start_date,
        sum(case when is_in_base then 1 else 0 end) as days_in_base,
        sum(case when usage_events > 0 then 1 else 0 end) as active_days,
        sum(voice_calls) as voice_calls,
        round(sum(voice_minutes), 4) as minutes_of_use,
        round(sum(voice_minutes_on_net), 4) as voice_minutes_on_net,
        round(sum(voice_minutes_off_net), 4) as voice_minutes_off_net,
        round(sum(voice_minutes_long_distance), 4) as voice_minutes_long_distance,
        round(sum(voice_minutes_roaming), 4) as voice_minutes_roaming,
        round(sum(voice_minutes_business_hours), 4) as voice_minutes_business_hours,
        sum(sms_count) as sms_count,
        sum(roaming_events) as roaming_events,
        sum(data_sessions) as data_sessions,
        round(sum(data_mb), 3) as data_mb,
        round(sum(data_mb_day), 3) as data_mb_day,
        round(sum(data_mb_night), 3) as data_mb_night,
        round(sum(data_mb_busy_hour), 3) as data_mb_busy_hour,
        sum(usage_events) as usage_events,
        sum(degraded_cell_events) as degraded_cell_events,
        sum(recharge_count) as recharge_count,
        round(sum(recharge_amount), 4) as recharge_amount,
        round(sum(billed_amount), 4) as billed_amount,
        round(sum(recurring_fee_amount), 4) as recurring_fee_amount,
        round(sum(rated_usage_amount), 4) as rated_usage_amount,
        round(sum(voice_rated_amount), 4) as voice_rated_amount,
        round(sum(sms_rated_amount), 4) as sms_rated_amount,
        round(sum(data_rated_amount), 4) as data_rated_amount,
        round(sum(revenue_amount), 4) as revenue_amount,
        round(sum(adjustment_amount), 4) as adjustment_amount
    from daily
    group by
        subscriber_id,
        month_start_date

),

state_at_period_end as (

    -- every subscriber's CRM state at the end of each period
    select
        periods.month_start_date,
        subscriber_versions.subscriber_id,
        subscriber_versions.account_id,
        subscriber_versions.household_id,
        subscriber_versions.plan_id,
        subscriber_versions.payment_type,
        subscriber_versions.status,
        subscriber_versions.activation_date
    from periods
    inner join subscriber_versions
        on periods.period_end_date >= subscriber_versions.valid_from_date
        and (
            subscriber_versions.valid_to_date is null
            or periods.period_end_date < subscriber_versions.valid_to_date
        )

),

lines_per_account as (

    select
        month_start_date,
        account_id,
        count(*) as account_lines
    from state_at_period_end
    where status <> 'churned'
    group by
        month_start_date,
        account_id

),

lines_per_household as (

    select
        month_start_date,
        household_id,
        count(*) as household_lines
    from state_at_period_end
    where status <> 'churned'
        and household_id is not null
    group by
        month_start_date,
        household_id

),

broadband_as_of_period_end as (

    -- each contract as its latest version known at the period end described it
    select
        periods.month_start_date,
        periods.period_end_date,
        broadband_versions.subscriber_id,
        broadband_versions.broadband_contract_id,
        broadband_versions.status,
        broadband_versions.end_date,
        row_number() over (
            partition by periods.month_start_date, broadband_versions.broadband_contract_id
            order by broadband_versions.updated_at desc
        ) as version_rank
    from broadband_versions
    inner join periods
        on cast(broadband_versions.updated_at as date) <= periods.period_end_date

),

broadband_held as (

    -- a contract is held while active or renewed and not past its end date; an open-ended
    -- one (end_date null, no fixed term) is held for as long as its status says so. The
    -- subscriber's broadband ends at the earliest end of the contracts held, and never
    -- while one of them is open-ended: broadband_end_date is then null (no expiry)
    select
        month_start_date,
        subscriber_id,
        case when count(*) = count(end_date) then min(end_date) end as broadband_end_date
    from broadband_as_of_period_end
    where version_rank = 1
        and status in ('active', 'renewed')
        and (end_date is null or end_date >= period_end_date)
    group by
        month_start_date,
        subscriber_id

),

vas_held_at_period_end as (

    {{ vas_held_at_period_end('vas_versions', 'periods') }}

),

vas_held as (

    select
        month_start_date,
        subscriber_id,
        count(distinct service_code) as vas_services_held
    from vas_held_at_period_end
    group by
        month_start_date,
        subscriber_id

),

complaints_per_month as (

    select
        periods.month_start_date,
        complaint_versions.subscriber_id,
        count(distinct complaint_versions.complaint_id) as complaints_opened
    from complaint_versions
    inner join periods
        on cast(complaint_versions.opened_at as date) >= periods.month_start_date
        and cast(complaint_versions.opened_at as date) <= periods.month_end_date
    group by
        periods.month_start_date,
        complaint_versions.subscriber_id

),

nps_as_of_period_end as (

    -- every answer given by the period end, the latest first, however old
    select
        periods.month_start_date,
        nps_responses.subscriber_id,
        nps_responses.nps_score,
        nps_responses.response_date,
        row_number() over (
            partition by periods.month_start_date, nps_responses.subscriber_id
            order by nps_responses.responded_at desc, nps_responses.nps_response_id desc
        ) as response_rank
    from nps_responses
    inner join periods
        on nps_responses.response_date <= periods.period_end_date

),

latest_nps as (

    select
        month_start_date,
        subscriber_id,
        nps_score as latest_nps_score,
        response_date as latest_nps_date
    from nps_as_of_period_end
    where response_rank = 1

),

joined as (

    select
        usage_per_month.*,
        periods.month_end_date,
        periods.period_end_date,
        {{ dbt.datediff('usage_per_month.month_start_date', 'periods.month_end_date', 'day') }} + 1 as days_in_month,
        state_at_period_end.plan_id,
        state_at_period_end.payment_type,
        state_at_period_end.status,
        state_at_period_end.activation_date,
        subscribers.birth_date,
        subscribers.port_out_requested_at,
        coalesce(plans.is_family_plan, false) as is_family_plan,
        broadband_held.broadband_end_date,
        broadband_held.subscriber_id is not null as has_broadband,
        coalesce(vas_held.vas_services_held, 0) as vas_services_held,
        coalesce(lines_per_account.account_lines, 0) as account_lines,
        coalesce(lines_per_household.household_lines, 0) as household_lines,
        coalesce(complaints_per_month.complaints_opened, 0) as complaints_opened,
        latest_nps.latest_nps_score,
        latest_nps.latest_nps_date
    from usage_per_month
    inner join periods
        on usage_per_month.month_start_date = periods.month_start_date
    left join state_at_period_end
        on usage_per_month.subscriber_id = state_at_period_end.subscriber_id
        and usage_per_month.month_start_date = state_at_period_end.month_start_date
    left join subscribers
        on usage_per_month.subscriber_id = subscribers.subscriber_id
    left join plans
        on state_at_period_end.plan_id = plans.plan_id
    left join broadband_held
        on usage_per_month.subscriber_id = broadband_held.subscriber_id
        and usage_per_month.month_start_date = broadband_held.month_start_date
    left join vas_held
        on usage_per_month.subscriber_id = vas_held.subscriber_id
        and usage_per_month.month_start_date = vas_held.month_start_date
    left join lines_per_account
        on state_at_period_end.account_id = lines_per_account.account_id
        and usage_per_month.month_start_date = lines_per_account.month_start_date
    left join lines_per_household
        on state_at_period_end.household_id = lines_per_household.household_id
        and usage_per_month.month_start_date = lines_per_household.month_start_date
    left join complaints_per_month
        on usage_per_month.subscriber_id = complaints_per_month.subscriber_id
        and usage_per_month.month_start_date = complaints_per_month.month_start_date
    left join latest_nps
        on usage_per_month.subscriber_id = latest_nps.subscriber_id
        and usage_per_month.month_start_date = latest_nps.month_start_date

),

derived as (

    select
        *,
        -- completed months in network at the month end
        ({{ dbt.datediff('activation_date', 'month_end_date', 'month') }})
            - case
                when extract(day from month_end_date) < extract(day from activation_date) then 1
                else 0
            end as tenure_months,
        floor(
            {{ dbt.datediff('birth_date', 'month_end_date', 'day') }} / 365.25
        ) as age_years,
        -- scale month-to-date figures to a full month of days in base
        {{ safe_ratio('days_in_month', 'days_in_base') }} as full_month_factor,
        cast(voice_calls + sms_count as {{ type_double() }}) as calls_and_sms
    from joined

),

final as (

    select
        cast(subscriber_id as {{ dbt.type_string() }}) as subscriber_id,
        cast(month_start_date as date) as month_start_date,
        cast(month_end_date as date) as month_end_date,
        cast(period_end_date as date) as period_end_date,
        period_end_date = month_end_date as is_month_complete,
        cast(days_in_month as {{ dbt.type_int() }}) as days_in_month,
        cast(days_in_base as {{ dbt.type_int() }}) as days_in_base,
        cast(active_days as {{ dbt.type_int() }}) as active_days,

        -- state at the period end
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,
        cast(payment_type as {{ dbt.type_string() }}) as payment_type,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(activation_date as date) as activation_date,
        cast(tenure_months as {{ dbt.type_int() }}) as tenure_months,
        cast(age_years as {{ dbt.type_int() }}) as age_years,

        -- money
        cast(revenue_amount as {{ type_double() }}) as revenue_amount,
        cast(round(revenue_amount * full_month_factor, 4) as {{ type_double() }}) as arpu,
        cast(recurring_fee_amount as {{ type_double() }}) as recurring_fee_amount,
        cast(rated_usage_amount as {{ type_double() }}) as rated_usage_amount,
        cast(voice_rated_amount as {{ type_double() }}) as voice_rated_amount,
        cast(sms_rated_amount as {{ type_double() }}) as sms_rated_amount,
        cast(data_rated_amount as {{ type_double() }}) as data_rated_amount,
        cast(recharge_count as {{ dbt.type_int() }}) as recharge_count,
        cast(recharge_amount as {{ type_double() }}) as recharge_amount,
        cast(billed_amount as {{ type_double() }}) as billed_amount,

        -- usage
        cast(usage_events as {{ dbt.type_bigint() }}) as usage_events,
        cast({{ safe_ratio('usage_events', 'days_in_base') }} as {{ type_double() }}) as usage_events_per_day,
        cast(voice_calls as {{ dbt.type_bigint() }}) as voice_calls,
        cast(minutes_of_use as {{ type_double() }}) as minutes_of_use,
        cast(voice_minutes_on_net as {{ type_double() }}) as voice_minutes_on_net,
        cast(voice_minutes_off_net as {{ type_double() }}) as voice_minutes_off_net,
        cast(voice_minutes_long_distance as {{ type_double() }}) as voice_minutes_long_distance,
        cast(voice_minutes_roaming as {{ type_double() }}) as voice_minutes_roaming,
        cast(voice_minutes_business_hours as {{ type_double() }}) as voice_minutes_business_hours,
        cast(sms_count as {{ dbt.type_bigint() }}) as sms_count,
        cast(roaming_events as {{ dbt.type_bigint() }}) as roaming_events,
        cast(data_sessions as {{ dbt.type_bigint() }}) as data_sessions,
        cast(data_mb / 1024 as {{ type_double() }}) as data_gb,
        cast(data_mb_day / 1024 as {{ type_double() }}) as data_gb_day,
        cast(data_mb_night / 1024 as {{ type_double() }}) as data_gb_night,
        cast(data_mb_busy_hour / 1024 as {{ type_double() }}) as data_gb_busy_hour,
        cast({{ safe_ratio('voice_calls', 'usage_events') }} as {{ type_double() }}) as voice_usage_share,
        cast({{ safe_ratio('data_sessions', 'usage_events') }} as {{ type_double() }}) as data_usage_share,
        cast({{ safe_ratio('voice_rated_amount', 'rated_usage_amount') }} as {{ type_double() }})
            as voice_revenue_share,
        cast({{ safe_ratio('voice_minutes_business_hours', 'minutes_of_use') }} as {{ type_double() }})
            as business_hours_voice_share,
        cast({{ safe_ratio('roaming_events', 'calls_and_sms') }} as {{ type_double() }}) as roaming_event_share,
        cast(degraded_cell_events as {{ dbt.type_bigint() }}) as degraded_cell_events,
        cast({{ safe_ratio('degraded_cell_events', 'usage_events') }} as {{ type_double() }})
            as degraded_traffic_share,
        cast(round(minutes_of_use * full_month_factor, 4) as {{ type_double() }}) as minutes_of_use_full_month,
        cast(round(data_mb / 1024 * full_month_factor, 6) as {{ type_double() }}) as data_gb_full_month,

        -- products and household
        cast(has_broadband as {{ dbt.type_boolean() }}) as has_broadband,
        cast(broadband_end_date as date) as broadband_end_date,
        cast(vas_services_held as {{ dbt.type_int() }}) as vas_services_held,
        cast(is_family_plan as {{ dbt.type_boolean() }}) as is_family_plan,
        cast(
            1
            + case when has_broadband then 1 else 0 end
            + case when is_family_plan then 1 else 0 end
            + vas_services_held
            as {{ dbt.type_int() }}
        ) as products_held,
        cast(account_lines as {{ dbt.type_int() }}) as account_lines,
        cast(household_lines as {{ dbt.type_int() }}) as household_lines,

        -- care
        cast(complaints_opened as {{ dbt.type_int() }}) as complaints_opened,
        cast(latest_nps_score as {{ dbt.type_int() }}) as latest_nps_score,
        cast(latest_nps_date as date) as latest_nps_date,
        coalesce(cast(port_out_requested_at as date) <= period_end_date, false) as is_port_out_requested,

        -- last: added after the first release, appended to existing tables (on_schema_change)
        cast(adjustment_amount as {{ type_double() }}) as adjustment_amount
    from derived

)

select * from final
