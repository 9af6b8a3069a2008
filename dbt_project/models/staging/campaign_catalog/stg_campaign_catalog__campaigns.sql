with

source as (

    select * from {{ source('campaign_catalog', 'campaigns') }}

),

renamed as (

    select
        -- ids
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(catalog_version as {{ dbt.type_string() }}) as catalog_version,

        -- attributes
        cast(campaign_name as {{ dbt.type_string() }}) as campaign_name,
        cast(campaign_kind as {{ dbt.type_string() }}) as campaign_kind,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(offer_code as {{ dbt.type_string() }}) as offer_code,
        cast(offer_product as {{ dbt.type_string() }}) as offer_product,
        cast(priority as {{ dbt.type_int() }}) as priority,
        cast(expected_value as {{ type_double() }}) as expected_value,
        cast(holdout_share as {{ type_double() }}) as holdout_share,
        cast(cooldown_days as {{ dbt.type_int() }}) as cooldown_days,
        cast(daily_capacity as {{ dbt.type_int() }}) as daily_capacity,

        -- dates
        cast(active_from as date) as active_from,
        cast(active_to as date) as active_to,
        cast(loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from source

)

select * from renamed
