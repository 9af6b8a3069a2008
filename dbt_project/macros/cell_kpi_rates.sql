{#-
    The network rates as ratios of their counters, and the degraded cell-day rule (vars
    network_degraded_*), in one place: the cell and region coverage KPIs and the subscriber
    facts' poor-network signal must agree on both. `counters` is the relation (alias) that
    holds the counter columns under their staged names; empty for unqualified columns.
-#}

{% macro cell_kpi_rate(rate, counters='') -%}
    {#- A rate over a counter with no attempts is unknown (null), not zero (safe_ratio). The
        counters are those of cell_kpi_counters. -#}
    {%- set ratios = {
        'coverage_rate': ('rsrp_good_measurements', 'rsrp_measurements'),
        'call_setup_success_rate': ('call_setup_successes', 'call_setup_attempts'),
        'dropped_call_rate': ('dropped_calls', 'call_setup_successes'),
        'data_session_success_rate': ('data_session_successes', 'data_session_attempts'),
    } -%}
    {%- if rate not in ratios -%}
        {{ exceptions.raise_compiler_error("cell_kpi_rate: unknown rate " ~ rate ~ " (" ~ ratios.keys() | join(', ') ~ ")") }}
    {%- endif -%}
    {%- set prefix = counters ~ '.' if counters else '' -%}
    {%- set numerator = prefix ~ ratios[rate][0] -%}
    {%- set denominator = prefix ~ ratios[rate][1] -%}
    {{ safe_ratio(numerator, denominator) }}
{%- endmacro %}


{% macro cell_kpi_breaches(counters='') -%}
    {#- {flag: SQL condition} of each threshold of the degraded rule; an unknown rate breaks none. -#}
    {{ return({
        'is_low_coverage':
            'coalesce(' ~ cell_kpi_rate('coverage_rate', counters) ~ ' < ' ~ var('network_degraded_max_coverage') ~ ', false)',
        'is_low_call_setup_success':
            'coalesce(' ~ cell_kpi_rate('call_setup_success_rate', counters) ~ ' < '
            ~ var('network_degraded_max_call_setup_success') ~ ', false)',
        'is_high_drop_rate':
            'coalesce(' ~ cell_kpi_rate('dropped_call_rate', counters) ~ ' > '
            ~ var('network_degraded_min_dropped_call_rate') ~ ', false)',
    }) }}
{%- endmacro %}


{% macro cell_day_is_degraded(counters='') -%}
    {#- A cell-day is degraded when it breaks any threshold of the rule. -#}
    ({{ cell_kpi_breaches(counters).values() | join(' or ') }})
{%- endmacro %}
