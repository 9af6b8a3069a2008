{#-
    The counters of the daily cell KPI feed, in one place and in column order: the staged
    feed (stg_network__cell_kpis), the cell mart (kpi_coverage_cell_daily) and its regional
    roll-up (kpi_coverage_region_daily) carry the same counters, and every network rate is a
    ratio of two of them (cell_kpi_rate), so a new counter is added here once.
-#}
{% macro cell_kpi_counters() -%}
    {{ return([
        'rsrp_measurements',
        'rsrp_good_measurements',
        'call_setup_attempts',
        'call_setup_successes',
        'dropped_calls',
        'data_session_attempts',
        'data_session_successes',
    ]) }}
{%- endmacro %}
