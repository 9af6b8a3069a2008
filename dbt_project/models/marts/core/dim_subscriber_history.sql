{{ config(replace_periods_config('subscriber_id', partitioned=false)) }}
{{
    config(
        on_schema_change='append_new_columns'
    )
}}

{#-
    SCD2 of the subscriber attributes that segmentation and revenue depend on (plan,
    status, household, account, payment type, region, activation), built from the CRM
    change feed rather than from a periodic copy of the base.

    Guard: a version is closed only by a newer version of the same subscriber. An
    incremental run rebuilds only the subscribers with a version delivered in the batch
    (from all of their versions, so a late or re-delivered version lands in order); every
    other subscriber keeps its rows untouched. A missing or truncated CRM delivery therefore
    cannot end-date anyone: absence from a delivery is never read as a deletion.
#}

{%- set tracked_columns = [
    'account_id', 'household_id', 'plan_id', 'payment_type', 'region',
    'status', 'status_date', 'activation_date'
] %}

with

subscriber_versions as (

    select * from {{ ref('stg_crm__subscribers') }}
    {% if is_incremental() %}
    where subscriber_id in (
        select changed.subscriber_id
        from {{ ref('stg_crm__subscribers') }} as changed
        where {{ in_delivery_batch('changed.delivery_date') }}
    )
    {% endif %}

),

hashed as (

    select
        subscriber_id,
        {{ tracked_columns | join(',\n        ') }},
        updated_at,
        {{ attributes_hash(tracked_columns) }} as attributes_hash
    from subscriber_versions

),

compared as (

    select
        *,
        lag(attributes_hash) over (
            partition by subscriber_id
            order by updated_at
        ) as previous_attributes_hash
    from hashed

),

changes as (

    -- a CRM version opens a new SCD2 row only when a tracked attribute changed; a change
    -- of anything else (a porting request, a name) leaves the current row open
    select *
    from compared
    where previous_attributes_hash is null
        or previous_attributes_hash <> attributes_hash

),

versioned as (

    select
        *,
        updated_at as valid_from,
        lead(updated_at) over (
            partition by subscriber_id
            order by updated_at
        ) as valid_to,
        row_number() over (
            partition by subscriber_id
            order by updated_at
        ) as version_number
    from changes

),

final as (

    select
        cast(
            {{ attributes_hash(['subscriber_id', 'valid_from']) }} as {{ dbt.type_string() }}
        ) as subscriber_version_key,
        cast(subscriber_id as {{ dbt.type_string() }}) as subscriber_id,
        cast(version_number as {{ dbt.type_int() }}) as version_number,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(household_id as {{ dbt.type_string() }}) as household_id,
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,
        cast(payment_type as {{ dbt.type_string() }}) as payment_type,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(status_date as date) as status_date,
        cast(activation_date as date) as activation_date,
        cast(valid_from as {{ dbt.type_timestamp() }}) as valid_from,
        cast(valid_to as {{ dbt.type_timestamp() }}) as valid_to,
        cast(valid_from as date) as valid_from_date,
        cast(valid_to as date) as valid_to_date,
        valid_to is null as is_current
    from versioned

)

select * from final
