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
        cast(_delivery_date as date) as delivery_date,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as source_line,
        cast(_load_id as {{ dbt.type_string() }}) as load_id,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from source

)

select * from renamed
