{#-
    Scopes the data tests of an incremental model to what this run rebuilt, so a daily
    build tests that day's rows and its cost stays flat as history grows.

    Overrides dbt's global get_where_subquery (which applies a test's `where` config). A model
    opts in with `meta: {incremental_test_scope: {column: <date column>}}`:
      - a delivery-date column (staging event feeds) is limited to the batch
        batch_start_date .. batch_end_date exactly (macros in_delivery_batch, batch_setting);
      - with `late_arrivals: true` (activity-date columns, e.g. date_day of the daily
        facts) the window starts var incremental_test_late_days earlier, because a late
        record rebuilds the day it happened on.
    With the default batch (everything), as in a plain `dbt build` or `dbt test` by hand,
    nothing is limited: that is the full check. A test's own `where` config still
    applies on top.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set own_where = config.get('where', '') -%}
    {%- if own_where -%}
        {%- do conditions.append('(' ~ own_where ~ ')') -%}
    {%- endif -%}
    {%- set scope = incremental_test_scope() -%}
    {%- if scope -%}
        {%- do conditions.append(scope) -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}


{% macro incremental_test_scope() -%}
    {%- if not execute or model is not mapping or not model.get('attached_node') -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- set tested = graph.nodes.get(model.attached_node) -%}
    {%- set scope = (tested.config.meta or {}).get('incremental_test_scope') if tested else none -%}
    {%- if not scope -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- set start_date = batch_setting('batch_start_date') -%}
    {%- set end_date = batch_setting('batch_end_date') -%}
    {%- if start_date <= '1900-01-01' and end_date >= '9999-12-31' -%}
        {%- do return('') -%}
    {%- endif -%}
    {%- set condition = in_delivery_batch(scope.column) | trim -%}
    {%- if scope.get('late_arrivals') -%}
        {%- set late_days = var('incremental_test_late_days') | int -%}
        {%- set condition = scope.column ~ ' >= ' ~ dbt.dateadd('day', -late_days, "cast('" ~ start_date ~ "' as date)")
            ~ ' and ' ~ scope.column ~ " <= cast('" ~ end_date ~ "' as date)" -%}
    {%- endif -%}
    {%- do return('(' ~ condition ~ ')') -%}
{%- endmacro %}
