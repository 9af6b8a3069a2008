with

source as (

    select * from {{ source('outbox', 'published_contacts') }}

),

renamed as (

    select
        -- ids
        cast(subscriber_id as {{ dbt.type_string() }}) as subscriber_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(run_id as {{ dbt.type_string() }}) as run_id,

        -- attributes
        cast(campaign_kind as {{ dbt.type_string() }}) as campaign_kind,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(offer_code as {{ dbt.type_string() }}) as offer_code,

        -- dates
        cast(contact_date as date) as contact_date,
        cast(published_at as {{ dbt.type_timestamp() }}) as published_at

    from source

)

select * from renamed
