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
            partition by subscriber_id, channel, effective_at
            order by loaded_at desc, source_line asc, source_file asc
        ) as version_rank
    from renamed

),

deduplicated as (

    select
        subscriber_id,
        channel,
        is_opted_out,
        is_do_not_disturb,
        effective_at,
        delivery_date,
        source_file,
        source_line,
        load_id,
        loaded_at
    from ranked
    where version_rank = 1

)

select * from deduplicated
