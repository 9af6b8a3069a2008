with

source as (

    select * from {{ source('crm', 'complaints') }}

),

renamed as (

    select
        -- ids
        cast(complaint_id as {{ dbt.type_string() }}) as complaint_id,
        cast(subscriber_id as {{ dbt.type_string() }}) as subscriber_id,

        -- attributes
        cast(category as {{ dbt.type_string() }}) as category,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(status as {{ dbt.type_string() }}) as status,

        -- timestamps
        cast(opened_at as {{ dbt.type_timestamp() }}) as opened_at,
        cast(closed_at as {{ dbt.type_timestamp() }}) as closed_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,

        -- lineage
        cast(_delivery_date as date) as delivery_date,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as source_line,
        cast(_load_id as {{ dbt.type_string() }}) as load_id,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from source

),

ranked as (

    -- one row per version: the same change delivered twice is kept once,
    -- from the latest load, then the first line of the file
    select
        *,
        row_number() over (
            partition by complaint_id, updated_at
            order by loaded_at desc, source_line asc, source_file asc
        ) as version_rank
    from renamed

),

deduplicated as (

    select
        complaint_id,
        subscriber_id,
        category,
        channel,
        status,
        opened_at,
        closed_at,
        updated_at,
        delivery_date,
        source_file,
        source_line,
        load_id,
        loaded_at
    from ranked
    where version_rank = 1

)

select * from deduplicated
