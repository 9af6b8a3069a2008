with

source as (

    select * from {{ source('crm', 'nps_responses') }}

),

renamed as (

    select
        -- ids
        cast(response_id as {{ dbt.type_string() }}) as nps_response_id,
        cast(subscriber_id as {{ dbt.type_string() }}) as subscriber_id,

        -- attributes
        cast(touchpoint as {{ dbt.type_string() }}) as touchpoint,

        -- measures
        cast(score as {{ dbt.type_bigint() }}) as nps_score,

        -- timestamps
        cast(responded_at as {{ dbt.type_timestamp() }}) as responded_at,
        cast(responded_at as date) as response_date,

        -- lineage
        cast(_delivery_date as date) as delivery_date,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as source_line,
        cast(_load_id as {{ dbt.type_string() }}) as load_id,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from source

)

select * from renamed
