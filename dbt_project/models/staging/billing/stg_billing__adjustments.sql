with

source as (

    select * from {{ source('billing', 'adjustments') }}

),

renamed as (

    select
        -- ids
        cast(adjustment_id as {{ dbt.type_string() }}) as adjustment_id,
        cast(subscriber_id as {{ dbt.type_string() }}) as subscriber_id,

        -- attributes
        cast(adjustment_type as {{ dbt.type_string() }}) as adjustment_type,
        cast(reason as {{ dbt.type_string() }}) as adjustment_reason,

        -- measures
        cast(amount as {{ type_double() }}) as adjustment_amount,

        -- timestamps
        cast(adjusted_at as {{ dbt.type_timestamp() }}) as adjusted_at,
        cast(adjusted_at as date) as adjustment_date,

        -- lineage
        {{ lineage_columns() }}

    from source

)

select * from renamed
