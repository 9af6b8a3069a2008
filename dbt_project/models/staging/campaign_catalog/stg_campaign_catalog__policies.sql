with

source as (

    select * from {{ source('campaign_catalog', 'campaign_policy') }}

),

renamed as (

    select
        cast(catalog_version as {{ dbt.type_string() }}) as catalog_version,
        cast(marketing_cap_7_days as {{ dbt.type_int() }}) as marketing_cap_7_days,
        cast(marketing_cap_30_days as {{ dbt.type_int() }}) as marketing_cap_30_days,
        cast(holdout_salt as {{ dbt.type_string() }}) as holdout_salt,
        cast(conversion_window_days as {{ dbt.type_int() }}) as conversion_window_days,
        cast(inactive_after_days as {{ dbt.type_int() }}) as inactive_after_days,
        cast(one_contact_per_channel_per_day as {{ dbt.type_boolean() }}) as one_contact_per_channel_per_day,
        cast(loaded_at as {{ dbt.type_timestamp() }}) as loaded_at
    from source

)

select * from renamed
