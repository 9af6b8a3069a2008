{#-
    The date spine: one row per day between the vars calendar_start_date and
    calendar_end_date, with its calendar attributes. A utility, not data: generated from the
    vars alone, read by the intermediate models that need days (which may not read a mart)
    and published as the mart dim_date. Day of week is counted from 1900-01-01, a Monday, so
    it is the ISO number (1 = Monday) on every engine without an engine-specific weekday
    function.
#}

with

spine as (

    {{ dbt.date_spine(
        'day',
        "cast('" ~ var('calendar_start_date') ~ "' as date)",
        "cast('" ~ var('calendar_end_date') ~ "' as date)"
    ) }}

),

days as (

    select cast(date_day as date) as date_day
    from spine

),

months as (

    select
        date_day,
        cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start_date,
        cast({{ dbt.last_day('date_day', 'month') }} as date) as month_end_date,
        {{ dbt.datediff("cast('1900-01-01' as date)", 'date_day', 'day') }} as days_since_1900
    from days

),

final as (

    select
        date_day,
        month_start_date,
        month_end_date,
        cast(extract(day from month_end_date) as {{ dbt.type_int() }}) as days_in_month,
        cast(extract(year from date_day) as {{ dbt.type_int() }}) as year_number,
        cast(extract(quarter from date_day) as {{ dbt.type_int() }}) as quarter_number,
        cast(extract(month from date_day) as {{ dbt.type_int() }}) as month_number,
        cast(extract(day from date_day) as {{ dbt.type_int() }}) as day_of_month,
        cast(mod(days_since_1900, 7) + 1 as {{ dbt.type_int() }}) as iso_day_of_week,
        cast({{ dbt.dateadd('day', '-1 * mod(days_since_1900, 7)', 'date_day') }} as date) as week_start_date,
        mod(days_since_1900, 7) >= 5 as is_weekend
    from months

)

select * from final
