{#-
    How a model replaces what a run rebuilds, per engine: the one place that knows.

    Every incremental model of this project replaces whole periods (a day, a month, a decision
    date): a run rebuilds the periods its delivery batch touched and leaves the others.
      - DuckDB: `delete+insert` by the period column (dbt's strategy; deletes the periods the
        new rows hold, then inserts them);
      - Spark: the table is Parquet, partitioned by that column, and a run overwrites the
        partitions its new rows hold (`insert_overwrite` with
        `spark.sql.sources.partitionOverwriteMode=dynamic`, set by the profile). Spark rejects
        delete+insert, and DELETE fails on Parquet tables (Delta and Iceberg, which allow it,
        are not installable here); a dynamic partition overwrite does what delete+insert by
        the period does.
    A model keyed by something other than a period (dim_subscriber_history, by subscriber)
    passes `partitioned=false`: on Spark it is rebuilt in full each run (a partition per
    subscriber is no table layout), which gives the same rows as its incremental run.

    Used as `{{ config(replace_periods_config('date_day')) }}` beside the model's other config.
-#}
{% macro replace_periods_config(period_column, partitioned=true) -%}
    {{ return(adapter.dispatch('replace_periods_config', 'telco_mart')(period_column, partitioned)) }}
{%- endmacro %}

{% macro default__replace_periods_config(period_column, partitioned) -%}
    {{ return({'materialized': 'incremental', 'incremental_strategy': 'delete+insert', 'unique_key': period_column}) }}
{%- endmacro %}

{% macro spark__replace_periods_config(period_column, partitioned) -%}
    {%- if not partitioned -%}
        {{ return({'materialized': 'table'}) }}
    {%- endif -%}
    {{ return(dict({'materialized': 'incremental', 'incremental_strategy': 'insert_overwrite',
                    'unique_key': period_column}, **partition_by_period_config(period_column))) }}
{%- endmacro %}


{#-
    The table layout that lets a run replace periods: nothing on DuckDB; on Spark, partitions by
    the period column. The day_sliced_incremental models take it beside their materialization.
-#}
{% macro partition_by_period_config(period_column) -%}
    {{ return(adapter.dispatch('partition_by_period_config', 'telco_mart')(period_column)) }}
{%- endmacro %}

{% macro default__partition_by_period_config(period_column) -%}
    {{ return({}) }}
{%- endmacro %}

{% macro spark__partition_by_period_config(period_column) -%}
    {{ return({'partition_by': [period_column]}) }}
{%- endmacro %}


{#-
    The statement that replaces the periods a temporary relation holds in the target: what the
    day_sliced_incremental materialization runs for each slice of an incremental run.
-#}
{% macro replace_periods_sql(target_relation, temp_relation, period_column, dest_columns) -%}
    {{ return(adapter.dispatch('replace_periods_sql', 'telco_mart')(target_relation, temp_relation, period_column, dest_columns)) }}
{%- endmacro %}

{% macro default__replace_periods_sql(target_relation, temp_relation, period_column, dest_columns) -%}
    {{ return(get_delete_insert_merge_sql(target_relation, temp_relation, period_column, dest_columns, none)) }}
{%- endmacro %}

{% macro spark__replace_periods_sql(target_relation, temp_relation, period_column, dest_columns) -%}
    {#- the target's own column order: Spark keeps the partition column last -#}
    {%- set columns = adapter.get_columns_in_relation(target_relation) | map(attribute='name') | list -%}
    insert overwrite table {{ target_relation }} partition ({{ period_column }})
    select {{ columns | join(', ') }} from {{ temp_relation }}
{%- endmacro %}


{#-
    Empty one period of an incremental table (the campaign models' clear_undecided_day):
    DELETE where the engine has it, dropping the partition on Spark's Parquet tables.
-#}
{% macro clear_period_sql(relation, period_column, day) -%}
    {#- day: YYYY-MM-DD -#}
    {{ return(adapter.dispatch('clear_period_sql', 'telco_mart')(relation, period_column, day)) }}
{%- endmacro %}

{% macro default__clear_period_sql(relation, period_column, day) -%}
    delete from {{ relation }} where {{ period_column }} = cast('{{ day }}' as date)
{%- endmacro %}

{% macro spark__clear_period_sql(relation, period_column, day) -%}
    alter table {{ relation }} drop if exists partition ({{ period_column }} = '{{ day }}')
{%- endmacro %}


{#-
    `listagg` whose order holds on every engine: dbt.listagg's order_by is dropped by
    dbt-spark (collect_list keeps no order), so the reason codes came out unordered there.
-#}
{% macro ordered_listagg(measure, delimiter_text, order_by_column) -%}
    {{ return(adapter.dispatch('ordered_listagg', 'telco_mart')(measure, delimiter_text, order_by_column)) }}
{%- endmacro %}

{% macro default__ordered_listagg(measure, delimiter_text, order_by_column) -%}
    {{ return(dbt.listagg(measure, delimiter_text, 'order by ' ~ order_by_column)) }}
{%- endmacro %}

{% macro spark__ordered_listagg(measure, delimiter_text, order_by_column) -%}
    array_join(transform(
        array_sort(collect_list(named_struct('sort_key', {{ order_by_column }}, 'item', {{ measure }}))),
        entry -> entry.item
    ), {{ delimiter_text }})
{%- endmacro %}
