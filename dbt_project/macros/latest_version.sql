{#-
    The dedupe of a change feed, in one place: a select from `relation` (a staged feed, with
    the lineage columns) of one row per `partition_by` (a list: the version's key, e.g. the
    id and its updated_at). The row kept is the one from the latest load (loaded_at), then
    the first line of the file (source_line, then source_file), so the same change delivered
    twice is kept once and a rerun keeps the same row. `columns`: the columns to keep, in
    order (each a column of `relation` or an expression over them); the lineage columns
    follow them. `order_first`: sort keys ranked before the load, e.g. ['delivery_date desc']
    to keep a catalogue entry as its latest delivery described it. A plain row_number() in a
    subquery, neither qualify nor select * exclude: portable.
-#}
{% macro latest_version(relation, partition_by, columns, order_first=[]) -%}
    select
        {% for column in columns %}{{ column }},
        {% endfor %}{{ lineage_columns(names_only=true) }}
    from (
        select
            *,
            row_number() over (
                partition by {{ partition_by | join(', ') }}
                order by {% for key in order_first %}{{ key }}, {% endfor -%}
                    loaded_at desc, source_line asc, source_file asc
            ) as version_rank
        from {{ relation }}
    ) as ranked
    where version_rank = 1
{%- endmacro %}
