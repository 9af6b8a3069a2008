with

source as (

    select * from {{ source('mediation', 'usage_events') }}

),

renamed as (

    select
        -- ids
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(subscriber_id as {{ dbt.type_string() }}) as subscriber_id,
        cast(cell_id as {{ dbt.type_string() }}) as cell_id,

        -- attributes
        cast(event_type as {{ dbt.type_string() }}) as event_type,
        cast(call_type as {{ dbt.type_string() }}) as call_type,

        -- measures
        cast(duration_sec as {{ dbt.type_bigint() }}) as duration_seconds,
        cast(data_mb as {{ type_double() }}) as data_mb,
        cast(charged_amount as {{ type_double() }}) as charged_amount,

        -- timestamps
        cast(event_ts as {{ dbt.type_timestamp() }}) as event_at,
        cast(event_ts as date) as event_date,

        -- lineage
        {{ lineage_columns() }}

    from source

)

select * from renamed
