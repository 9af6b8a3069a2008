{#-
    Generic evaluation of the campaign catalog's eligibility rules and product checks.

    The catalog names audience columns by text (rules.column_name). These macros expand one
    CASE branch per column of the audience model, taken from its documented columns (the
    same yml the catalog validator reads), so a new campaign needs no SQL change, and a new
    audience column is usable by rules once it is documented.
-#}

{% macro campaign_audience_columns() -%}
    {#- {name: kind} of the audience model's documented columns, kind text/number/boolean. -#}
    {%- set columns = {} -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values()
                if node.resource_type == 'model' and node.name == 'int_subscribers_prepared_for_campaigns' -%}
            {%- for name, column in node.columns.items() if name not in ('subscriber_id', 'decision_date') -%}
                {%- set data_type = (column.data_type or '') | lower -%}
                {%- if data_type == 'boolean' -%}
                    {%- do columns.update({name: 'boolean'}) -%}
                {%- elif data_type in ('integer', 'bigint', 'double', 'float', 'decimal', 'numeric', 'int') -%}
                    {%- do columns.update({name: 'number'}) -%}
                {%- else -%}
                    {%- do columns.update({name: 'text'}) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(columns) }}
{%- endmacro %}


{% macro campaign_rule_is_met(audience, rules) -%}
    {#- True when the audience row meets the rule; an unknown value (null) never meets one. -#}
    {%- set columns = campaign_audience_columns() -%}
    coalesce(case
    {%- for name, kind in columns.items() %}
        when {{ rules }}.column_name = '{{ name }}' then
        {%- if kind == 'text' %}
            {{ _campaign_compare_text(audience ~ '.' ~ name, rules) }}
        {%- elif kind == 'boolean' %}
            {{ _campaign_compare_number('case when ' ~ audience ~ '.' ~ name ~ ' then 1.0 when not ' ~ audience ~ '.' ~ name ~ ' then 0.0 end', rules) }}
        {%- else %}
            {{ _campaign_compare_number('cast(' ~ audience ~ '.' ~ name ~ ' as ' ~ type_double() ~ ')', rules) }}
        {%- endif %}
    {%- endfor %}
    end, false)
{%- endmacro %}


{% macro _campaign_compare_number(value, rules) -%}
    case {{ rules }}.operator
        when '=' then {{ value }} = {{ rules }}.value_number
        when '!=' then {{ value }} <> {{ rules }}.value_number
        when '<' then {{ value }} < {{ rules }}.value_number
        when '<=' then {{ value }} <= {{ rules }}.value_number
        when '>' then {{ value }} > {{ rules }}.value_number
        when '>=' then {{ value }} >= {{ rules }}.value_number
    end
{%- endmacro %}


{% macro _campaign_compare_text(value, rules) -%}
    case {{ rules }}.operator
        when '=' then {{ value }} = {{ rules }}.value_text
        when '!=' then {{ value }} <> {{ rules }}.value_text
        when 'in' then {{ dbt.position(dbt.concat(["','", value, "','"]), rules ~ '.value_text') }} > 0
        when 'not in' then {{ dbt.position(dbt.concat(["','", value, "','"]), rules ~ '.value_text') }} = 0
    end
{%- endmacro %}


{% macro campaign_holds_offer_product(audience, campaigns) -%}
    {#- True when the subscriber already holds the campaign's offer_product (false without one). -#}
    {%- set columns = campaign_audience_columns() -%}
    coalesce(case {{ campaigns }}.offer_product
    {%- for name, kind in columns.items() if name.startswith('holds_') and kind == 'boolean' %}
        when '{{ name[6:] }}' then {{ audience }}.{{ name }}
    {%- endfor %}
    end, false)
{%- endmacro %}
