{#-
    An 8-byte floating point type, for the contract's `double` columns.

    `dbt.type_float()` renders `float`, which is a 4-byte REAL on DuckDB (and Postgres
    `real` semantics elsewhere): amounts and data volumes would lose precision. dbt ships
    no double macro, so this one dispatches like the `dbt.type_*` macros do.
-#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'telco_mart')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    {{ return('double') }}
{%- endmacro %}

{% macro postgres__type_double() -%}
    {{ return('double precision') }}
{%- endmacro %}

{% macro redshift__type_double() -%}
    {{ return('double precision') }}
{%- endmacro %}

{% macro bigquery__type_double() -%}
    {{ return('float64') }}
{%- endmacro %}
