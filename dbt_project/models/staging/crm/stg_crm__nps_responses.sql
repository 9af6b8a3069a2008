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
        {{ lineage_columns() }}

    from source

)

select * from renamed
