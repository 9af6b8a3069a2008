with

source as (

    select * from {{ source('vas', 'vas_subscriptions') }}

),

renamed as (

    select
        -- ids
        cast(vas_subscription_id as {{ dbt.type_string() }}) as vas_subscription_id,
        cast(subscriber_id as {{ dbt.type_string() }}) as subscriber_id,

        -- attributes
        cast(service_code as {{ dbt.type_string() }}) as service_code,

        -- measures
        cast(monthly_fee as {{ type_double() }}) as monthly_fee,

        -- dates
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,

        -- timestamps
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,

        -- lineage
        {{ lineage_columns() }}

    from source

),

deduplicated as (

    -- one row per version: the same change delivered twice is kept once,
    -- from the latest load, then the first line of the file
    {{ latest_version('renamed', partition_by=['vas_subscription_id', 'updated_at'], columns=[
        'vas_subscription_id', 'subscriber_id', 'service_code', 'monthly_fee', 'start_date', 'end_date',
        'updated_at',
    ]) }}

)

select * from deduplicated
