{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='delivery_date',
        on_schema_change='append_new_columns'
    )
}}

with

source as (

    select * from {{ source('network', 'cell_kpis_daily') }}
    {% if is_incremental() %}
    where {{ in_delivery_batch('_delivery_date') }}
    {% endif %}

),

renamed as (

    select
        -- ids
        cast(cell_id as {{ dbt.type_string() }}) as cell_id,

        -- dates
        cast(kpi_date as date) as kpi_date,

        -- measures
        cast(rsrp_measurements as {{ dbt.type_bigint() }}) as rsrp_measurements,
        cast(rsrp_good_measurements as {{ dbt.type_bigint() }}) as rsrp_good_measurements,
        cast(call_setup_attempts as {{ dbt.type_bigint() }}) as call_setup_attempts,
        cast(call_setup_successes as {{ dbt.type_bigint() }}) as call_setup_successes,
        cast(dropped_calls as {{ dbt.type_bigint() }}) as dropped_calls,
        cast(data_session_attempts as {{ dbt.type_bigint() }}) as data_session_attempts,
        cast(data_session_successes as {{ dbt.type_bigint() }}) as data_session_successes,

        -- lineage
        cast(_delivery_date as date) as delivery_date,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as source_line,
        cast(_load_id as {{ dbt.type_string() }}) as load_id,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from source

),

ranked as (

    -- a delivery loaded twice, or corrected, carries the same row more than once:
    -- keep the latest load, then the first line of the file
    select
        *,
        row_number() over (
            partition by delivery_date, cell_id, kpi_date
            order by loaded_at desc, source_line asc, source_file asc
        ) as version_rank
    from renamed

),

deduplicated as (

    select
        cell_id,
        kpi_date,
        rsrp_measurements,
        rsrp_good_measurements,
        call_setup_attempts,
        call_setup_successes,
        dropped_calls,
        data_session_attempts,
        data_session_successes,
        delivery_date,
        source_file,
        source_line,
        load_id,
        loaded_at
    from ranked
    where version_rank = 1

)

select * from deduplicated
