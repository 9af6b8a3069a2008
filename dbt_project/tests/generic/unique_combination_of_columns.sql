{#-
    Fails for every combination of `combination_of_columns` that occurs more than once
    in the model: the composite-key counterpart of the built-in `unique` test.

    Usage (model level):
        data_tests:
          - unique_combination_of_columns:
              arguments:
                combination_of_columns: [cell_id, kpi_date]
-#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

{%- set columns_csv = combination_of_columns | join(', ') %}

with

grouped as (

    select
        {{ columns_csv }},
        count(*) as row_count
    from {{ model }}
    group by {{ columns_csv }}

)

select *
from grouped
where row_count > 1

{% endtest %}
