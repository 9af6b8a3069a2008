with

source as (

    select * from {{ source('product_catalog', 'plans') }}

),

renamed as (

    select
        -- ids
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,

        -- attributes
        cast(plan_name as {{ dbt.type_string() }}) as plan_name,
        cast(payment_type as {{ dbt.type_string() }}) as payment_type,
        cast(plan_category as {{ dbt.type_string() }}) as plan_category,
        cast(is_family_plan as {{ dbt.type_boolean() }}) as is_family_plan,
        cast(plan_term_months as {{ dbt.type_bigint() }}) as plan_term_months,

        -- measures
        cast(monthly_fee as {{ type_double() }}) as monthly_fee,
        cast(data_allowance_mb as {{ type_double() }}) as data_allowance_mb,
        cast(voice_allowance_min as {{ type_double() }}) as voice_allowance_minutes,
        cast(sms_allowance as {{ dbt.type_bigint() }}) as sms_allowance,

        -- lineage
        {{ lineage_columns() }}

    from source

),

latest_catalogue as (

    -- the newest full catalogue delivered
    select max(delivery_date) as latest_delivery_date
    from renamed

),

with_latest_catalogue as (

    select
        renamed.*,
        latest_catalogue.latest_delivery_date
    from renamed
    cross join latest_catalogue

),

deduplicated as (

    -- every delivery repeats the whole catalogue: keep each plan as its latest delivery
    -- described it (then the latest load, then the first line of the file), so a plan that
    -- left the catalogue keeps its last known terms for the subscribers still on it
    {{ latest_version('with_latest_catalogue', partition_by=['plan_id'], order_first=['delivery_date desc'],
        columns=[
            'plan_id', 'plan_name', 'payment_type', 'plan_category', 'is_family_plan', 'plan_term_months',
            'monthly_fee', 'data_allowance_mb', 'voice_allowance_minutes', 'sms_allowance',
            'delivery_date = latest_delivery_date as is_in_latest_catalogue',
        ]) }}

)

select * from deduplicated
