{#-
    The lineage columns of a staged feed, in one place: ingestion adds _delivery_date,
    _source_file, _source_line, _load_id and _loaded_at to every raw row, and each stg_ model
    of a delivered feed ends its select list with them, renamed and cast the same way, so
    every staged row says which delivery, file, line and load it came from. `names_only`
    renders just the staged names (the select list of a relation that already has them, as
    in latest_version). The lines are indented as the models' select lists.
-#}
{% macro lineage_columns(names_only=false) -%}
    {%- set columns = [
        ('_delivery_date', 'date', 'delivery_date'),
        ('_source_file', dbt.type_string(), 'source_file'),
        ('_source_line', dbt.type_bigint(), 'source_line'),
        ('_load_id', dbt.type_string(), 'load_id'),
        ('_loaded_at', dbt.type_timestamp(), 'loaded_at'),
    ] -%}
    {%- for source_column, data_type, name in columns -%}
        {%- if names_only %}{{ name }}{% else %}cast({{ source_column }} as {{ data_type }}) as {{ name }}{% endif -%}
        {{- ',\n        ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
