{#-
    Use a model's custom schema verbatim.

    dbt's built-in macro prefixes a custom schema with the target schema
    (`staging_intermediate`); this warehouse has exactly the schemas raw, staging,
    intermediate and marts, whatever the target, so a `+schema` config is used as is and
    a model without one lands in the target schema.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
