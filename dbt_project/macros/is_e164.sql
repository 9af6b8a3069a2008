{#-
    True when the expression is a phone number in E.164 form: a plus, then 7 to 15 digits,
    the first not zero. The publish gate checks the same pattern (telco_mart.quality.publish_gate.E164).
-#}
{% macro is_e164(expression) -%}
    {{ return(adapter.dispatch('is_e164')(expression)) }}
{%- endmacro %}

{% macro default__is_e164(expression) -%}
    coalesce(regexp_like({{ expression }}, '^\+[1-9][0-9]{6,14}$'), false)
{%- endmacro %}

{% macro duckdb__is_e164(expression) -%}
    coalesce(regexp_full_match({{ expression }}, '\+[1-9][0-9]{6,14}'), false)
{%- endmacro %}

{% macro spark__is_e164(expression) -%}
    coalesce({{ expression }} rlike '^\\+[1-9][0-9]{6,14}$', false)
{%- endmacro %}
