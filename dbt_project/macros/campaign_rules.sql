{#-
    Generic evaluation of the campaign catalog's eligibility rules and product checks.

    The catalog names audience columns by text (rules.column_name). The rules are compiled
    into SQL at execution, against the audience model's documented columns (the same yml the
    catalog validator reads), so a new campaign needs no SQL change, and a new audience
    column is usable by rules once it is documented.
-#}

{% macro campaign_audience_columns() -%}
    {#- {name: kind} of the audience model's documented columns, kind text/number/boolean. -#}
    {%- set columns = {} -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values()
                if node.resource_type == 'model' and node.name == 'campaign_audience_daily' -%}
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


{% macro campaign_eligibility_predicate(audience, campaigns, rules) -%}
    {#-
        True when the audience row meets every eligibility rule of the campaign row.

        The catalog's rules are read at execution and compiled into one predicate per
        campaign, so eligibility is a filter over subscriber x campaign. Evaluating each
        rule as a row and grouping by subscriber and campaign made an aggregate with one
        group per pair (110 million at 10 million subscribers), which held more than the
        warehouse's memory cap. A campaign without rules is never eligible (the catalog
        validator refuses one), and an unknown value (null) never meets a rule.
    -#}
    {%- if not execute -%}
        false
    {%- elif load_relation(rules) is none -%}
        false /* {{ rules }} is not built yet (a compile before the first build) */
    {%- else -%}
        {%- set columns = campaign_audience_columns() -%}
        {%- set catalog = run_query(
            "select campaign_id, column_name, operator, value_text, value_number from " ~ rules
            ~ " order by campaign_id, rule_number"
        ) -%}
        {%- set by_campaign = {} -%}
        {%- for rule in catalog.rows -%}
            {%- if rule[1] not in columns -%}
                {{ exceptions.raise_compiler_error(
                    "campaign " ~ rule[0] ~ ": rule on " ~ rule[1] ~ ", not a documented column of the audience"
                ) }}
            {%- endif -%}
            {%- do by_campaign.setdefault(rule[0], []).append(
                'coalesce(' ~ _campaign_rule_sql(audience, columns[rule[1]], rule[1], rule[2], rule[3], rule[4]) ~ ', false)'
            ) -%}
        {%- endfor -%}
        {%- if not by_campaign -%}
            false /* the catalog holds no rules */
        {%- else -%}
        case {{ campaigns }}.campaign_id
        {%- for campaign_id, predicates in by_campaign.items() %}
            when {{ _campaign_text_literal(campaign_id) }} then {{ predicates | join(' and ') }}
        {%- endfor %}
            else false
        end
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{% macro _campaign_rule_sql(audience, kind, column_name, operator, value_text, value_number) -%}
    {%- set column = audience ~ '.' ~ column_name -%}
    {%- if kind == 'text' -%}
        {{ _campaign_compare_text(column, operator, _campaign_text_literal(value_text)) }}
    {%- elif kind == 'boolean' -%}
        {{ _campaign_compare('case when ' ~ column ~ ' then 1.0 when not ' ~ column ~ ' then 0.0 end', operator, _campaign_number_literal(value_number)) }}
    {%- else -%}
        {{ _campaign_compare('cast(' ~ column ~ ' as ' ~ type_double() ~ ')', operator, _campaign_number_literal(value_number)) }}
    {%- endif -%}
{%- endmacro %}


{% macro _campaign_text_literal(value) -%}
    '{{ value | replace("'", "''") }}'
{%- endmacro %}


{% macro _campaign_number_literal(value) -%}
    cast('{{ value }}' as {{ type_double() }})
{%- endmacro %}


{% macro _campaign_compare(value, operator, operand) -%}
    {%- set sql_operators = {'=': '=', '!=': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>='} -%}
    {%- if operator not in sql_operators -%}
        {{ exceptions.raise_compiler_error("campaign rule: operator " ~ operator ~ " does not apply to " ~ value) }}
    {%- endif -%}
    {{ value }} {{ sql_operators[operator] }} {{ operand }}
{%- endmacro %}


{% macro _campaign_compare_text(value, operator, operand) -%}
    {%- if operator in ('in', 'not in') -%}
        {{ dbt.position(dbt.concat(["','", value, "','"]), operand) }} {{ '> 0' if operator == 'in' else '= 0' }}
    {%- elif operator in ('=', '!=') -%}
        {{ _campaign_compare(value, operator, operand) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("campaign rule: operator " ~ operator ~ " does not apply to " ~ value) }}
    {%- endif -%}
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
