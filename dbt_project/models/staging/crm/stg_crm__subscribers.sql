with

source as (

    select * from {{ source('crm', 'subscribers') }}

),

renamed as (

    select
        -- ids
        cast(subscriber_id as {{ dbt.type_string() }}) as subscriber_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(household_id as {{ dbt.type_string() }}) as household_id,
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,

        -- personal data
        cast(msisdn as {{ dbt.type_string() }}) as msisdn,
        cast(full_name as {{ dbt.type_string() }}) as full_name,
        cast(id_number as {{ dbt.type_string() }}) as id_number,
        cast(birth_date as date) as birth_date,
        cast(gender as {{ dbt.type_string() }}) as gender,

        -- attributes
        cast(region as {{ dbt.type_string() }}) as region,
        cast(payment_type as {{ dbt.type_string() }}) as payment_type,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(contact_number_valid as {{ dbt.type_boolean() }}) as is_contact_number_valid,

        -- dates
        cast(activation_date as date) as activation_date,
        cast(status_date as date) as status_date,

        -- timestamps
        cast(port_out_requested_at as {{ dbt.type_timestamp() }}) as port_out_requested_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,

        -- lineage
        {{ lineage_columns() }}

    from source

),

deduplicated as (

    -- one row per version: the same change delivered twice is kept once,
    -- from the latest load, then the first line of the file
    {{ latest_version('renamed', partition_by=['subscriber_id', 'updated_at'], columns=[
        'subscriber_id', 'account_id', 'household_id', 'plan_id', 'msisdn', 'full_name', 'id_number',
        'birth_date', 'gender', 'region', 'payment_type', 'status', 'is_contact_number_valid',
        'activation_date', 'status_date', 'port_out_requested_at', 'updated_at',
    ]) }}

)

select * from deduplicated
