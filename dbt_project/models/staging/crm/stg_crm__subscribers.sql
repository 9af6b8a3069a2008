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
        cast(_delivery_date as date) as delivery_date,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as source_line,
        cast(_load_id as {{ dbt.type_string() }}) as load_id,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from source

),

ranked as (

    -- one row per version: the same change delivered twice is kept once,
    -- from the latest load, then the first line of the file
    select
        *,
        row_number() over (
            partition by subscriber_id, updated_at
            order by loaded_at desc, source_line asc, source_file asc
        ) as version_rank
    from renamed

),

deduplicated as (

    select
        subscriber_id,
        account_id,
        household_id,
        plan_id,
        msisdn,
        full_name,
        id_number,
        birth_date,
        gender,
        region,
        payment_type,
        status,
        is_contact_number_valid,
        activation_date,
        status_date,
        port_out_requested_at,
        updated_at,
        delivery_date,
        source_file,
        source_line,
        load_id,
        loaded_at
    from ranked
    where version_rank = 1

)

select * from deduplicated
