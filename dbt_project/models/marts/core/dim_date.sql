{#-
    The calendar: one row per day between the vars calendar_start_date and
    calendar_end_date, as the date spine builds it (models/utilities/util_days.sql).
#}

with

days as (

    select * from {{ ref('util_days') }}

),

final as (

    select
        date_day,
        month_start_date,
        month_end_date,
        days_in_month,
        year_number,
        quarter_number,
        month_number,
        day_of_month,
        iso_day_of_week,
        week_start_date,
        is_weekend
    from days

)

select * from final
