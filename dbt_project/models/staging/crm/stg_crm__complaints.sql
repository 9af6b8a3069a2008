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
        {{ lineage_columns() }}

    from source

),

deduplicated as (

    -- one row per version: the same change delivered twice is kept once,
    -- from the latest load, then the first line of the file
    {{ latest_version('renamed', partition_by=['complaint_id', 'updated_at'], columns=[
        'complaint_id', 'subscriber_id', 'category', 'channel', 'status', 'opened_at', 'closed_at',
        'updated_at',
    ]) }}

)

select * from deduplicated
