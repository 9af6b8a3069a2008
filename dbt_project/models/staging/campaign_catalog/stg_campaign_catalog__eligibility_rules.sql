with

source as (

    select * from {{ source('campaign_catalog', 'campaign_eligibility_rules') }}

),

renamed as (

    select
        -- ids
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(rule_number as {{ dbt.type_int() }}) as rule_number,
        cast(catalog_version as {{ dbt.type_string() }}) as catalog_version,

        -- the rule
        cast(column_name as {{ dbt.type_string() }}) as column_name,
        cast(operator as {{ dbt.type_string() }}) as operator,
        cast(value_text as {{ dbt.type_string() }}) as value_text,
        cast(value_number as {{ type_double() }}) as value_number,
        cast(reason_code as {{ dbt.type_string() }}) as reason_code,

        cast(loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from source

)

select * from renamed
