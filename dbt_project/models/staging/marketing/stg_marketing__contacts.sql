with

source as (

    select * from {{ source('marketing', 'contact_history') }}

),

renamed as (

    select
        -- ids
        cast(contact_id as {{ dbt.type_string() }}) as contact_id,
        cast(subscriber_id as {{ dbt.type_string() }}) as subscriber_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,

        -- attributes
        cast(campaign_kind as {{ dbt.type_string() }}) as campaign_kind,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(response as {{ dbt.type_string() }}) as response,

        -- timestamps
        cast(contacted_at as {{ dbt.type_timestamp() }}) as contacted_at,
        cast(contacted_at as date) as contact_date,
        cast(response_at as {{ dbt.type_timestamp() }}) as responded_at,

        -- lineage
        cast(_delivery_date as date) as delivery_date,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as source_line,
        cast(_load_id as {{ dbt.type_string() }}) as load_id,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from source

)

select * from renamed
