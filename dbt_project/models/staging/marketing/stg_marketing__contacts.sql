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
        {{ lineage_columns() }}

    from source

)

select * from renamed
