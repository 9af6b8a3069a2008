with

source as (

    select * from {{ source('network', 'cell_kpis_daily') }}

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
        {{ lineage_columns() }}

    from source

)

select * from renamed
