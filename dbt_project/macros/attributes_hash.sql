{#-
    A hash of several columns, null-safe: `attributes_hash(['plan_id', 'status'])`.

    Used to tell whether two versions of a record differ in the attributes that matter
    (SCD2 collapsing). Each value is cast to string with nulls spelled `~null~`, and values
    are joined with `|`, so ('a', null) and (null, 'a') hash differently. Portable: only
    dbt.concat and dbt.hash.
-#}
{% macro attributes_hash(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '~null~')") -%}
        {%- if not loop.last -%}
            {%- do parts.append("'|'") -%}
        {%- endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}
