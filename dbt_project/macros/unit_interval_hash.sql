{#-
    A deterministic number in [0, 1) from a text expression: the first 32 bits of its MD5.

    Holdout groups and capacity order rest on it, so they are stable across days, reruns and
    engines (MD5 is the same everywhere; only turning hex into a number differs). Python
    recomputes the same value in tests: int(md5(text).hexdigest()[:8], 16) / 2**32.
-#}
{% macro unit_interval_hash(text_expression) -%}
    {{ return(adapter.dispatch('unit_interval_hash')(text_expression)) }}
{%- endmacro %}

{% macro default__unit_interval_hash(text_expression) -%}
    cast(('0x' || substr(md5({{ text_expression }}), 1, 8)) as {{ dbt.type_bigint() }}) / 4294967296.0
{%- endmacro %}

{% macro spark__unit_interval_hash(text_expression) -%}
    {#- a double divisor: Spark reads 4294967296.0 as a decimal and divides to 12 digits -#}
    cast(conv(substr(md5({{ text_expression }}), 1, 8), 16, 10) as bigint) / cast(4294967296 as double)
{%- endmacro %}

{% macro bigquery__unit_interval_hash(text_expression) -%}
    cast(concat('0x', substr(to_hex(md5({{ text_expression }})), 1, 8)) as int64) / 4294967296.0
{%- endmacro %}
