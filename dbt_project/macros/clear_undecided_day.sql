{#-
    A pre-hook of the campaign models that are incremental by decision_date: empty the run
    date's rows before the day is replaced, unless the day is published.

    delete+insert deletes only the days its new rows hold: a rerun (or a reissue) whose day now
    decides nothing (every campaign ended, say) would leave the earlier run's rows standing, and
    publish would send a stale list. A published day is history and keeps its rows. Whether the
    day is published is asked first, so the clearing statement is one every engine runs
    (clear_period_sql: a DELETE, or a dropped partition on Spark).
-#}
{% macro clear_undecided_day() -%}
    {%- if is_incremental() -%}
        {%- set day_and_published -%}
            select
                cast({{ campaign_decision_date() }} as {{ dbt.type_string() }}) as decision_date,
                (
                    select count(*) from {{ ref('stg_outbox__published_days') }}
                    where publish_date = {{ campaign_decision_date() }}
                ) as published
        {%- endset -%}
        {%- set decision = run_query(day_and_published).rows[0] -%}
        {%- if decision[0] is not none and decision[1] == 0 -%}
            {{ clear_period_sql(this, 'decision_date', decision[0]) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
