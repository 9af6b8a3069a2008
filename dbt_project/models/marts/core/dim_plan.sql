with

plans as (

    select * from {{ ref('stg_product_catalog__plans') }}

),

final as (

    select
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,
        cast(plan_name as {{ dbt.type_string() }}) as plan_name,
        cast(payment_type as {{ dbt.type_string() }}) as payment_type,
        cast(plan_category as {{ dbt.type_string() }}) as plan_category,
        cast(is_family_plan as {{ dbt.type_boolean() }}) as is_family_plan,
        cast(plan_term_months as {{ dbt.type_int() }}) as plan_term_months,
        cast(monthly_fee as {{ type_double() }}) as monthly_fee,
        cast(data_allowance_mb as {{ type_double() }}) as data_allowance_mb,
        cast(voice_allowance_minutes as {{ type_double() }}) as voice_allowance_minutes,
        cast(sms_allowance as {{ dbt.type_bigint() }}) as sms_allowance,
        cast(is_in_latest_catalogue as {{ dbt.type_boolean() }}) as is_in_latest_catalogue,
        cast(delivery_date as date) as catalogue_delivery_date
    from plans

)

select * from final
