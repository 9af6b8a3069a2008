{{ config(replace_periods_config('kpi_date')) }}
{{
    config(
        on_schema_change='append_new_columns'
    )
}}

-- depends_on: {{ ref('stg_network__cell_kpis') }}

{#-
    Network quality per region and day, rolled up from kpi_coverage_cell_daily: every rate
    is a ratio of the summed counters (weighted by measurements or attempts, never an
    average of the cells' rates), plus population-weighted coverage over the cells whose
    population is known, each compared with its target (vars network_target_*).

    Incremental: rebuilds the kpi_dates the batch delivered counters for, from the cell
    mart's rows of those days (which the same run has just rebuilt).
#}

with

cell_days as (

    select * from {{ ref('kpi_coverage_cell_daily') }}
    {% if is_incremental() %}
    where kpi_date in (
        select distinct kpi_date
        from {{ ref('stg_network__cell_kpis') }}
        where {{ in_delivery_batch('delivery_date') }}
    )
    {% endif %}

),

summed as (

    select
        coalesce(region, 'unknown') as region,
        kpi_date,
        count(*) as cell_count,
        sum(case when is_degraded then 1 else 0 end) as degraded_cell_count,
        {%- for counter in cell_kpi_counters() %}
        sum({{ counter }}) as {{ counter }},
        {%- endfor %}
        sum(
            case when population_covered > 0 and rsrp_measurements > 0 then population_covered end
        ) as population_known,
        -- a sum of doubles is rounded (to a millionth of a resident): a parallel sum can
        -- differ in its last bits from run to run, and a rerun must reproduce the row
        round(
            sum(
                case
                    when population_covered > 0 and rsrp_measurements > 0
                        then population_covered * coverage_rate
                end
            ),
            6
        ) as population_with_good_signal
    from cell_days
    group by coalesce(region, 'unknown'), kpi_date

),

rated as (

    select
        *,
        {{ cell_kpi_rate('coverage_rate') }} as coverage_rate,
        {{ cell_kpi_rate('call_setup_success_rate') }} as call_setup_success_rate,
        {{ cell_kpi_rate('dropped_call_rate') }} as dropped_call_rate,
        {{ cell_kpi_rate('data_session_success_rate') }} as data_session_success_rate,
        {{ safe_ratio('population_with_good_signal', 'population_known') }} as population_coverage_rate
    from summed

),

final as (

    select
        cast(region as {{ dbt.type_string() }}) as region,
        cast(kpi_date as date) as kpi_date,
        cast(cell_count as {{ dbt.type_int() }}) as cell_count,
        cast(degraded_cell_count as {{ dbt.type_int() }}) as degraded_cell_count,
        {%- for counter in cell_kpi_counters() %}
        cast({{ counter }} as {{ dbt.type_bigint() }}) as {{ counter }},
        {%- endfor %}
        cast(population_known as {{ dbt.type_bigint() }}) as population_known,
        cast(coverage_rate as {{ type_double() }}) as coverage_rate,
        cast(population_coverage_rate as {{ type_double() }}) as population_coverage_rate,
        cast(call_setup_success_rate as {{ type_double() }}) as call_setup_success_rate,
        cast(dropped_call_rate as {{ type_double() }}) as dropped_call_rate,
        cast(data_session_success_rate as {{ type_double() }}) as data_session_success_rate,
        cast(
            coalesce(population_coverage_rate, coverage_rate) >= {{ var('network_target_coverage') }}
            as {{ dbt.type_boolean() }}
        ) as meets_coverage_target,
        cast(
            call_setup_success_rate >= {{ var('network_target_call_setup_success') }} as {{ dbt.type_boolean() }}
        ) as meets_call_setup_success_target,
        cast(dropped_call_rate <= {{ var('network_target_dropped_call_rate') }} as {{ dbt.type_boolean() }})
            as meets_dropped_call_target
    from rated

)

select * from final
