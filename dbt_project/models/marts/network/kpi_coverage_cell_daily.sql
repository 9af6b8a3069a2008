{{ config(replace_periods_config('kpi_date')) }}
{{
    config(
        on_schema_change='append_new_columns'
    )
}}

{#-
    Network quality per cell and day: the counters behind each rate, the rates as ratios of
    those counters, and the degraded flag (vars network_degraded_*, the same rule the
    subscriber facts use for the poor-network churn signal).

    Incremental: rebuilds every kpi_date the delivery batch carried counters for (vars
    batch_start_date .. batch_end_date, macro in_delivery_batch), whole days at a time, so
    a late or corrected delivery for an old day replaces that day.
#}

with

cell_kpis as (

    select * from {{ ref('stg_network__cell_kpis') }}

),

kpi_deliveries as (

    -- a second import of the same model, so that each CTE is read once: DuckDB
    -- materialises a CTE read twice, which copied the whole KPI history on every run
    select
        kpi_date,
        delivery_date
    from {{ ref('stg_network__cell_kpis') }}

),

cells as (

    select * from {{ ref('dim_cell') }}

),

kpi_dates_in_batch as (

    select distinct kpi_date
    from kpi_deliveries
    {% if is_incremental() %}
    where {{ in_delivery_batch('delivery_date') }}
    {% endif %}

),

cell_days as (

    select cell_kpis.*
    from cell_kpis
    inner join kpi_dates_in_batch
        on cell_kpis.kpi_date = kpi_dates_in_batch.kpi_date

),

rated as (

    select
        cell_days.cell_id,
        cell_days.kpi_date,
        cells.region,
        cells.population_covered,
        {%- for counter in cell_kpi_counters() %}
        cell_days.{{ counter }},
        {%- endfor %}
        {{ cell_kpi_rate('coverage_rate', 'cell_days') }} as coverage_rate,
        {{ cell_kpi_rate('call_setup_success_rate', 'cell_days') }} as call_setup_success_rate,
        {{ cell_kpi_rate('dropped_call_rate', 'cell_days') }} as dropped_call_rate,
        {{ cell_kpi_rate('data_session_success_rate', 'cell_days') }} as data_session_success_rate
    from cell_days
    left join cells
        on cell_days.cell_id = cells.cell_id

),

flagged as (

    -- the thresholds of the degraded rule (macros/cell_kpi_rates.sql)
    select
        *,
        {%- for flag, breaks_threshold in cell_kpi_breaches().items() %}
        {{ breaks_threshold }} as {{ flag }}{{ ',' if not loop.last }}
        {%- endfor %}
    from rated

),

final as (

    select
        cast(cell_id as {{ dbt.type_string() }}) as cell_id,
        cast(kpi_date as date) as kpi_date,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(population_covered as {{ dbt.type_bigint() }}) as population_covered,
        {%- for counter in cell_kpi_counters() %}
        cast({{ counter }} as {{ dbt.type_bigint() }}) as {{ counter }},
        {%- endfor %}
        cast(coverage_rate as {{ type_double() }}) as coverage_rate,
        cast(call_setup_success_rate as {{ type_double() }}) as call_setup_success_rate,
        cast(dropped_call_rate as {{ type_double() }}) as dropped_call_rate,
        cast(data_session_success_rate as {{ type_double() }}) as data_session_success_rate,
        cast(is_low_coverage as {{ dbt.type_boolean() }}) as is_low_coverage,
        cast(is_low_call_setup_success as {{ dbt.type_boolean() }}) as is_low_call_setup_success,
        cast(is_high_drop_rate as {{ dbt.type_boolean() }}) as is_high_drop_rate,
        cast({{ cell_kpi_breaches().keys() | join(' or ') }} as {{ dbt.type_boolean() }}) as is_degraded
    from flagged

)

select * from final
