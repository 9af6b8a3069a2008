with

source as (

    select * from {{ source('broadband', 'broadband_contracts') }}

),

renamed as (

    select
        -- ids
        cast(contract_id as {{ dbt.type_string() }}) as broadband_contract_id,
        cast(subscriber_id as {{ dbt.type_string() }}) as subscriber_id,
        cast(household_id as {{ dbt.type_string() }}) as household_id,

        -- attributes
        cast(status as {{ dbt.type_string() }}) as status,
        cast(speed_mbps as {{ dbt.type_bigint() }}) as speed_mbps,

        -- measures
        cast(monthly_fee as {{ type_double() }}) as monthly_fee,

        -- dates
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,

        -- timestamps
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,

        -- lineage
        {{ lineage_columns() }}

    from source

),

deduplicated as (

    -- one row per version: the same change delivered twice is kept once,
    -- from the latest load, then the first line of the file
    {{ latest_version('renamed', partition_by=['broadband_contract_id', 'updated_at'], columns=[
        'broadband_contract_id', 'subscriber_id', 'household_id', 'status', 'speed_mbps', 'monthly_fee',
        'start_date', 'end_date', 'updated_at',
    ]) }}

)

select * from deduplicated
