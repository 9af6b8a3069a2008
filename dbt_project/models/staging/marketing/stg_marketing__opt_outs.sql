with

source as (

    select * from {{ source('marketing', 'opt_outs') }}

),

renamed as (

    select
        -- ids
        cast(subscriber_id as {{ dbt.type_string() }}) as subscriber_id,

        -- attributes
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(opted_out as {{ dbt.type_boolean() }}) as is_opted_out,
        cast(do_not_disturb as {{ dbt.type_boolean() }}) as is_do_not_disturb,

        -- timestamps
        cast(effective_at as {{ dbt.type_timestamp() }}) as effective_at,

        -- lineage
        {{ lineage_columns() }}

    from source

),

deduplicated as (

    -- one row per version: the same change delivered twice is kept once,
    -- from the latest load, then the first line of the file
    {{ latest_version('renamed', partition_by=['subscriber_id', 'channel', 'effective_at'], columns=[
        'subscriber_id', 'channel', 'is_opted_out', 'is_do_not_disturb', 'effective_at',
    ]) }}

)

select * from deduplicated
