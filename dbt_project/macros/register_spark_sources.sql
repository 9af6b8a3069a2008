{#-
    on-run-start: on Spark, each raw source becomes a view over the folder that
    telco_mart.spark_engine shared for it (`$TELCO_MART_SPARK_DIR/sources/<table>`), so
    staging's source() reads the rows the DuckDB warehouse holds. Recreated every run (catalog
    entries only, no data moves): a feed's files change from one run to the next. On DuckDB the
    sources are the warehouse's own raw tables and views; nothing to do.
    Only the sources in `raw` (what staging reads); the others (the gate's dq_results, named
    by exposures) are DuckDB's and BI's.
-#}
{% macro register_spark_sources() -%}
    {{ return(adapter.dispatch('register_spark_sources', 'telco_mart')()) }}
{%- endmacro %}

{% macro default__register_spark_sources() -%}
{%- endmacro %}

{% macro spark__register_spark_sources() -%}
    {%- if execute -%}
        {%- set root = env_var('TELCO_MART_SPARK_DIR') ~ '/sources' -%}
        {%- do run_query('create database if not exists raw') -%}
        {%- for source in graph.sources.values() | selectattr('schema', 'equalto', 'raw') -%}
            {%- do run_query('create or replace view raw.' ~ source.identifier
                ~ ' as select * from parquet.`' ~ root ~ '/' ~ source.identifier ~ '`') -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
