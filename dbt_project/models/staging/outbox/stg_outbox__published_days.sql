with

source as (

    select * from {{ source('outbox', 'published_days') }}

),

current_publishes as (

    -- a superseded publish (reissued) no longer stands
    select * from source
    where status = 'published'

),

renamed as (

    select
        cast(publish_date as date) as publish_date,
        cast(run_id as {{ dbt.type_string() }}) as run_id,
        cast(total_rows as {{ dbt.type_bigint() }}) as total_rows,
        cast(published_at as {{ dbt.type_timestamp() }}) as published_at
    from current_publishes

)

select * from renamed
