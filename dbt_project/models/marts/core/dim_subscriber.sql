{#-
    The subscriber dimension: current attributes, personal data included. The only mart
    that carries personal data (tagged pii); every other mart joins on subscriber_id.
#}

with

subscriber_versions as (

    select * from {{ ref('stg_crm__subscribers') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by subscriber_id
            order by updated_at desc, loaded_at desc
        ) as version_rank,
        min(updated_at) over (partition by subscriber_id) as first_recorded_at,
        count(*) over (partition by subscriber_id) as crm_version_count
    from subscriber_versions

),

current_versions as (

    select *
    from ranked
    where version_rank = 1

),

final as (

    select
        cast(subscriber_id as {{ dbt.type_string() }}) as subscriber_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(household_id as {{ dbt.type_string() }}) as household_id,
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,
        cast(payment_type as {{ dbt.type_string() }}) as payment_type,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(status_date as date) as status_date,
        cast(activation_date as date) as activation_date,
        cast(msisdn as {{ dbt.type_string() }}) as msisdn,
        cast(full_name as {{ dbt.type_string() }}) as full_name,
        cast(id_number as {{ dbt.type_string() }}) as id_number,
        cast(birth_date as date) as birth_date,
        cast(gender as {{ dbt.type_string() }}) as gender,
        cast(is_contact_number_valid as {{ dbt.type_boolean() }}) as is_contact_number_valid,
        cast(port_out_requested_at as {{ dbt.type_timestamp() }}) as port_out_requested_at,
        status <> 'churned' as is_in_base,
        cast(first_recorded_at as {{ dbt.type_timestamp() }}) as first_recorded_at,
        cast(updated_at as {{ dbt.type_timestamp() }}) as last_changed_at,
        cast(crm_version_count as {{ dbt.type_int() }}) as crm_version_count
    from current_versions

)

select * from final
