with

source as (

    select * from {{ source('billing', 'recharges') }}

),

renamed as (

    select
        -- ids
        cast(recharge_id as {{ dbt.type_string() }}) as recharge_id,
        cast(subscriber_id as {{ dbt.type_string() }}) as subscriber_id,

        -- attributes
        cast(channel as {{ dbt.type_string() }}) as channel,

        -- measures
        cast(amount as {{ type_double() }}) as recharge_amount,

        -- timestamps
        cast(recharge_ts as {{ dbt.type_timestamp() }}) as recharged_at,
        cast(recharge_ts as date) as recharge_date,

        -- lineage
        {{ lineage_columns() }}

    from source

)

select * from renamed
