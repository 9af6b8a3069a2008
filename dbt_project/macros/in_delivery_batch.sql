{#-
    The predicate that limits an incremental run to the delivery dates of the batch:
    `<column> between <batch_start_date> and <batch_end_date>`, both inclusive.

    The bounds are the batch settings `batch_start_date` and `batch_end_date` (YYYY-MM-DD,
    from --vars or the environment, macro batch_setting; by default everything). They are
    checked here, so a typo fails the run instead of silently selecting nothing.
-#}
{% macro in_delivery_batch(column_name) -%}
    {%- set start_date = batch_setting('batch_start_date') -%}
    {%- set end_date = batch_setting('batch_end_date') -%}
    {%- for name, value in [('batch_start_date', start_date), ('batch_end_date', end_date)] -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
            {{ exceptions.raise_compiler_error(
                "batch setting " ~ name ~ " must be a date as YYYY-MM-DD, got '" ~ value ~ "'") }}
        {%- endif -%}
    {%- endfor -%}
    {%- if start_date > end_date -%}
        {{ exceptions.raise_compiler_error(
            "batch_start_date (" ~ start_date ~ ") is after batch_end_date (" ~ end_date ~ ")") }}
    {%- endif -%}
    {{ column_name }} between cast('{{ start_date }}' as date) and cast('{{ end_date }}' as date)
{%- endmacro %}
