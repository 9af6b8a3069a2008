{#-
    dbt's is_incremental(), which is true only for `materialized='incremental'`, extended to
    this project's day_sliced_incremental (macros/day_sliced_incremental.sql): a model built
    in day slices is incremental in every other respect, and its SQL branches on this the
    same way. Otherwise as dbt's own: never while parsing, and false on a full refresh or
    when the table does not exist yet.
-#}
{% macro is_incremental() %}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set relation = adapter.get_relation(this.database, this.schema, this.table) -%}
    {{ return(relation is not none
              and relation.type == 'table'
              and model.config.materialized in ('incremental', 'day_sliced_incremental')
              and not should_full_refresh()) }}
{% endmacro %}
