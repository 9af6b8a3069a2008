{#-
    numerator / denominator as a double, null unless the denominator is positive: a rate or
    share over nothing (a zero or null count, amount or base) is unknown, not zero, and
    never a division by zero. The numerator is cast to double first, so a ratio of two
    counts is a fraction on every engine (int / int truncates on Postgres and Redshift).
    Both arguments are SQL expressions; the denominator is rendered twice, so pass a column
    or a cheap expression.
-#}
{% macro safe_ratio(numerator, denominator) -%}
    case when {{ denominator }} > 0 then cast({{ numerator }} as {{ type_double() }}) / {{ denominator }} end
{%- endmacro %}
