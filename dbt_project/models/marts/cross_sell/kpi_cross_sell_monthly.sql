{{ config(replace_periods_config('month_start_date')) }}
{{
    config(
        on_schema_change='append_new_columns'
    )
}}

-- depends_on: {{ ref('int_activity_dates_touched') }}

{#-
    Cross-sell figures per month, segment and region, from subscriber_products_monthly:
    holders and take-up of each product, broadband penetration, single -> composite
    conversion, broadband contracts expiring soon and the renewal rate. Every rate is a
    ratio of the counts beside it, so any roll-up (all regions of a segment, say) is the
    sum of the numerators over the sum of the denominators.

    Holdings are as of the period end, so holders, composites and expiring contracts count
    the base at the period end (period_end_subscriber_count), and take-up divides by that
    base: one point in time on both sides. subscriber_count (in the base on any day of the
    month) is kept for volumes; holders over it would be diluted by the month's leavers.
    Conversion and renewal follow last month's state into this one, leavers included (a
    leaver did not convert or renew).

    Incremental: rebuilds the months from the earliest one the batch touched.
#}

{%- set products = ['broadband', 'family_plan', 'data_pack'] + var('cross_sell_vas_service_codes') %}

with

products_monthly as (

    select * from {{ ref('subscriber_products_monthly') }}
    {% if is_incremental() %}
    where month_start_date >= {{ subscriber_rebuild_from_month() }}
    {% endif %}

),

summed as (

    select
        month_start_date,
        segment,
        region,
        count(*) as subscriber_count,
        sum(case when is_in_base_at_period_end then 1 else 0 end) as period_end_subscriber_count,
        {%- for product in products %}
        sum(
            case when is_in_base_at_period_end and holds_{{ product }} then 1 else 0 end
        ) as {{ product }}_holders,
        {%- endfor %}
        sum(
            case when is_in_base_at_period_end and business_type = 'composite' then 1 else 0 end
        ) as composite_subscribers,
        sum(case when previous_business_type = 'single' then 1 else 0 end) as single_previous_month,
        sum(
            case when previous_business_type = 'single' and business_type = 'composite' then 1 else 0 end
        ) as converted_to_composite,
        sum(
            case when is_in_base_at_period_end and is_broadband_expiring_near then 1 else 0 end
        ) as broadband_expiring_near,
        sum(
            case when is_in_base_at_period_end and is_broadband_expiring_far then 1 else 0 end
        ) as broadband_expiring_far,
        sum(case when was_broadband_due_for_renewal then 1 else 0 end) as broadband_due_for_renewal,
        sum(case when is_broadband_renewed then 1 else 0 end) as broadband_renewed
    from products_monthly
    group by
        month_start_date,
        segment,
        region

),

final as (

    select
        cast(month_start_date as date) as month_start_date,
        cast(segment as {{ dbt.type_string() }}) as segment,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(subscriber_count as {{ dbt.type_int() }}) as subscriber_count,
        {%- for product in products %}
        cast({{ product }}_holders as {{ dbt.type_int() }}) as {{ product }}_holders,
        cast(
            {{ safe_ratio(product ~ '_holders', 'period_end_subscriber_count') }} as {{ type_double() }}
        ) as {{ product }}_take_up_rate,
        {%- endfor %}
        cast(composite_subscribers as {{ dbt.type_int() }}) as composite_subscribers,
        cast(single_previous_month as {{ dbt.type_int() }}) as single_previous_month,
        cast(converted_to_composite as {{ dbt.type_int() }}) as converted_to_composite,
        cast(
            {{ safe_ratio('converted_to_composite', 'single_previous_month') }} as {{ type_double() }}
        ) as single_to_composite_conversion_rate,
        cast(broadband_expiring_near as {{ dbt.type_int() }}) as broadband_expiring_near,
        cast(broadband_expiring_far as {{ dbt.type_int() }}) as broadband_expiring_far,
        cast(broadband_due_for_renewal as {{ dbt.type_int() }}) as broadband_due_for_renewal,
        cast(broadband_renewed as {{ dbt.type_int() }}) as broadband_renewed,
        cast(
            {{ safe_ratio('broadband_renewed', 'broadband_due_for_renewal') }} as {{ type_double() }}
        ) as broadband_renewal_rate,
        cast(period_end_subscriber_count as {{ dbt.type_int() }}) as period_end_subscriber_count
    from summed

)

select * from final
