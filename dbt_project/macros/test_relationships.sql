{#-
    The relationships test, with the child's distinct values found before the join.

    Overrides dbt's built-in generic test of the same name. dbt's version joins every child
    row to the parent; DuckDB then picks the join's build side from its cardinality
    estimates, and for a raw feed stored as Parquet (a scan filtered on its partition) it
    estimates one row, so it builds the hash table on a day of usage (a million rows) instead
    of on the 133 cells: measured 0.04 s against 0.24 s at 100,000 subscribers. Reducing the
    child to its distinct values first makes both sides small whatever the estimate, and is
    the same plan on any engine.

    A failure returns each missing value once with the rows that carry it (`n_records`), so
    the test's failure count is the number of unknown keys, and the rows are still told.
-#}
{% test relationships(model, column_name, to, field) %}

with

child as (

    select
        {{ column_name }} as from_field,
        count(*) as n_records
    from {{ model }}
    where {{ column_name }} is not null
    group by {{ column_name }}

),

parent as (

    select {{ field }} as to_field
    from {{ to }}

)

select
    child.from_field,
    child.n_records
from child
left join parent
    on child.from_field = parent.to_field
where parent.to_field is null

{% endtest %}
