{{ config(replace_periods_config('month_start_date')) }}
{{
    config(
        on_schema_change='append_new_columns'
    )
}}

-- depends_on: {{ ref('int_activity_dates_touched') }}

{#-
    Product holding per subscriber in the base and month, as of the period end: the mobile
    plan, home broadband, family plan, one flag per value-added service of the catalog (var
    cross_sell_vas_service_codes; codes starting data_pack_ are data packs), single vs
    composite business, the same state a month before (for single -> composite conversion)
    and the broadband contract's expiry and renewal. Open-ended broadband (held, with a null
    broadband_end_date: no fixed term) is never expiring nor due for renewal.

    Holdings are those of fct_subscriber_monthly (products_held, has_broadband,
    broadband_end_date, is_family_plan); only the per-service VAS flags are read here.
    is_in_base_at_period_end marks the lines still in the base at the period end (CRM status
    then not churned): take-up is measured over them, at the same point in time as the
    holdings, so that a month's leavers do not dilute it (a churned line may still hold
    broadband, a contract of its own).

    Incremental: rebuilds the months from the earliest one the batch touched (macro
    subscriber_rebuild_from_month), reading one month before for the previous state.
#}

{%- set service_codes = var('cross_sell_vas_service_codes') %}

with

segments as (

    select * from {{ ref('subscriber_segments_monthly') }}
    {% if is_incremental() %}
    where month_start_date >= {{ subscriber_rebuild_from_month() }}
    {% endif %}

),

monthly as (

    select * from {{ ref('fct_subscriber_monthly') }}
    {% if is_incremental() %}
    where month_start_date >= cast({{ dbt.dateadd('month', -1, subscriber_rebuild_from_month()) }} as date)
    {% endif %}

),

subscribers as (

    select * from {{ ref('dim_subscriber') }}

),

vas_versions as (

    select * from {{ ref('stg_vas__subscriptions') }}

),

periods as (

    select distinct
        month_start_date,
        period_end_date
    from segments

),

vas_held_at_period_end as (

    {{ vas_held_at_period_end('vas_versions', 'periods') }}

),

vas_held as (

    select
        month_start_date,
        subscriber_id,
        {%- for code in service_codes %}
        max(case when service_code = '{{ code }}' then 1 else 0 end) as holds_{{ code }},
        {%- endfor %}
        max(case when service_code like 'data_pack%' then 1 else 0 end) as holds_data_pack
    from vas_held_at_period_end
    group by
        month_start_date,
        subscriber_id

),

previous_month as (

    select
        cast({{ dbt.dateadd('month', 1, 'month_start_date') }} as date) as month_start_date,
        subscriber_id,
        products_held,
        has_broadband,
        broadband_end_date,
        period_end_date
    from monthly

),

joined as (

    select
        segments.subscriber_id,
        segments.month_start_date,
        segments.period_end_date,
        segments.is_month_complete,
        segments.segment,
        segments.lifecycle_stage,
        subscribers.region,
        monthly.plan_id,
        monthly.payment_type,
        monthly.status,
        monthly.has_broadband,
        monthly.broadband_end_date,
        monthly.is_family_plan,
        monthly.vas_services_held,
        monthly.products_held,
        {%- for code in service_codes %}
        coalesce(vas_held.holds_{{ code }}, 0) = 1 as holds_{{ code }},
        {%- endfor %}
        coalesce(vas_held.holds_data_pack, 0) = 1 as holds_data_pack,
        previous_month.products_held as previous_products_held,
        previous_month.has_broadband as previous_has_broadband,
        previous_month.broadband_end_date as previous_broadband_end_date,
        previous_month.period_end_date as previous_period_end_date
    from segments
    inner join monthly
        on segments.subscriber_id = monthly.subscriber_id
        and segments.month_start_date = monthly.month_start_date
    left join subscribers
        on segments.subscriber_id = subscribers.subscriber_id
    left join vas_held
        on segments.subscriber_id = vas_held.subscriber_id
        and segments.month_start_date = vas_held.month_start_date
    left join previous_month
        on segments.subscriber_id = previous_month.subscriber_id
        and segments.month_start_date = previous_month.month_start_date

),

final as (

    select
        cast(subscriber_id as {{ dbt.type_string() }}) as subscriber_id,
        cast(month_start_date as date) as month_start_date,
        cast(period_end_date as date) as period_end_date,
        cast(is_month_complete as {{ dbt.type_boolean() }}) as is_month_complete,
        cast(segment as {{ dbt.type_string() }}) as segment,
        cast(lifecycle_stage as {{ dbt.type_string() }}) as lifecycle_stage,
        cast(coalesce(region, 'unknown') as {{ dbt.type_string() }}) as region,
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,
        cast(payment_type as {{ dbt.type_string() }}) as payment_type,
        cast(coalesce(status <> 'churned', false) as {{ dbt.type_boolean() }}) as holds_mobile_plan,
        cast(coalesce(has_broadband, false) as {{ dbt.type_boolean() }}) as holds_broadband,
        cast(coalesce(is_family_plan, false) as {{ dbt.type_boolean() }}) as holds_family_plan,
        {%- for code in service_codes %}
        cast(holds_{{ code }} as {{ dbt.type_boolean() }}) as holds_{{ code }},
        {%- endfor %}
        cast(holds_data_pack as {{ dbt.type_boolean() }}) as holds_data_pack,
        cast(vas_services_held as {{ dbt.type_int() }}) as vas_services_held,
        cast(products_held as {{ dbt.type_int() }}) as products_held,
        cast(case when products_held >= 2 then 'composite' else 'single' end as {{ dbt.type_string() }})
            as business_type,
        cast(
            case
                when previous_products_held is null then null
                when previous_products_held >= 2 then 'composite'
                else 'single'
            end as {{ dbt.type_string() }}
        ) as previous_business_type,
        cast(broadband_end_date as date) as broadband_end_date,
        cast(
            coalesce(
                has_broadband
                and broadband_end_date
                    <= cast({{ dbt.dateadd('day', var('cross_sell_expiry_near_days'), 'period_end_date') }} as date),
                false
            ) as {{ dbt.type_boolean() }}
        ) as is_broadband_expiring_near,
        cast(
            coalesce(
                has_broadband
                and broadband_end_date
                    <= cast({{ dbt.dateadd('day', var('cross_sell_expiry_far_days'), 'period_end_date') }} as date),
                false
            ) as {{ dbt.type_boolean() }}
        ) as is_broadband_expiring_far,
        -- renewal: the contract held a month before ended by this period end, and the
        -- subscriber holds broadband running past that end date now (a later end date, or
        -- an open-ended contract). Broadband open-ended a month before (end date null) was
        -- due for nothing, and open-ended broadband never expires (the flags above are false)
        cast(
            coalesce(
                previous_has_broadband and previous_broadband_end_date <= period_end_date,
                false
            ) as {{ dbt.type_boolean() }}
        ) as was_broadband_due_for_renewal,
        cast(
            coalesce(
                previous_has_broadband
                and previous_broadband_end_date <= period_end_date
                and has_broadband
                and (broadband_end_date is null or broadband_end_date > previous_broadband_end_date),
                false
            ) as {{ dbt.type_boolean() }}
        ) as is_broadband_renewed,
        cast(coalesce(status <> 'churned', false) as {{ dbt.type_boolean() }}) as is_in_base_at_period_end
    from joined

)

select * from final
