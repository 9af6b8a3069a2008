{#-
    The day campaign decisions are made for, as a SQL date expression.

    The DAG passes its logical date as the batch setting `run_date` (YYYY-MM-DD, macro
    batch_setting: --vars or TELCO_MART_RUN_DATE). By hand, without it,
    decisions are made for the latest day of the subscriber facts, so a plain `dbt build`
    decides "today" of whatever the warehouse holds.
-#}
{% macro campaign_decision_date() -%}
    {%- set run_date = batch_setting('run_date') -%}
    {%- if run_date -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', run_date) -%}
            {{ exceptions.raise_compiler_error("batch setting run_date must be a date as YYYY-MM-DD, got '" ~ run_date ~ "'") }}
        {%- endif -%}
        cast('{{ run_date }}' as date)
    {%- else -%}
        (select max(latest_facts.date_day) from {{ ref('fct_subscriber_daily') }} as latest_facts)
    {%- endif -%}
{%- endmacro %}
