{#-
    The first month an incremental run of a monthly subscriber mart rebuilds: a scalar
    subquery giving the first day of the earliest month among the activity dates the
    batch touched (model int_activity_dates_touched).

    Monthly marts rebuild every month from there on, not just the touched ones, because a
    month's row also carries figures that look back (latest NPS, the complaint window,
    lagged ARPU, the previous month of a transition). A daily run touches only its own
    day, so it rebuilds the current month alone; a corrected delivery for an old day
    rebuilds from that day's month.

    Callers read the model inside an is_incremental() block, which dbt does not see at
    parse time, so they declare `-- depends_on: {{ ref('int_activity_dates_touched') }}`.
-#}
{% macro subscriber_rebuild_from_month() -%}
    (
        select cast({{ dbt.date_trunc('month', 'min(touched_dates.batch_date)') }} as date)
        from {{ ref('int_activity_dates_touched') }} as touched_dates
    )
{%- endmacro %}
