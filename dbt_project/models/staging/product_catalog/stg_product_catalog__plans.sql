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
        cast(_delivery_date as date) as delivery_date,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as source_line,
        cast(_load_id as {{ dbt.type_string() }}) as load_id,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from source

),

latest_catalogue as (

    -- the newest full catalogue delivered
    select max(delivery_date) as latest_delivery_date
    from renamed

),

ranked as (

    -- every delivery repeats the whole catalogue: keep each plan as its latest delivery
    -- described it (then the latest load, then the first line of the file), so a plan that
    -- left the catalogue keeps its last known terms for the subscribers still on it
    select
        *,
        row_number() over (
            partition by plan_id
            order by delivery_date desc, loaded_at desc, source_line asc, source_file asc
        ) as version_rank
    from renamed

),

deduplicated as (

    select
        ranked.plan_id,
        ranked.plan_name,
        ranked.payment_type,
        ranked.plan_category,
        ranked.is_family_plan,
        ranked.plan_term_months,
        ranked.monthly_fee,
        ranked.data_allowance_mb,
        ranked.voice_allowance_minutes,
        ranked.sms_allowance,
        ranked.delivery_date = latest_catalogue.latest_delivery_date as is_in_latest_catalogue,
        ranked.delivery_date,
        ranked.source_file,
        ranked.source_line,
        ranked.load_id,
        ranked.loaded_at
    from ranked
    cross join latest_catalogue
    where ranked.version_rank = 1

)

select * from deduplicated
