{{ config(partition_by_period_config('date_day')) }}
{{
    config(
        materialized='day_sliced_incremental',
        unique_key='date_day',
        days_per_statement=var('days_per_statement'),
        on_schema_change='append_new_columns'
    )
}}

{#-
    Rated usage events rolled up to one row per subscriber and day: voice by destination,
    SMS, data by time band, the rated amounts by service, the traffic carried by degraded
    cells and the main serving cell. Sums of amounts and minutes are rounded to 4 decimals
    and of megabytes to 3 (the feed's precision), so a parallel sum gives the same value on
    every run. An incremental run rebuilds the days its batch touched
    (int_activity_dates_touched), so a rerun or a late record replaces whole days.

    Built in day slices (macros/day_sliced_incremental.sql): a run with many days (the first,
    history run; a wide backfill) is one statement per var days_per_statement days, so
    its memory is that of a daily run; as one statement, 90 days of a 1M-subscriber base
    spilled more than 40 GB. dbt's microbatch strategy was measured against it and lost:
    1.3x the CPU over a history, and it cannot rebuild just the scattered days a late file
    touches (dbt_project/README.md, "Why not dbt's microbatch").
#}

{%- set night_start = var('usage_night_start_hour') | int %}
{%- set night_end = var('usage_night_end_hour') | int %}
{%- set busy_start = var('usage_busy_hour_start_hour') | int %}
{%- set busy_end = var('usage_busy_hour_end_hour') | int %}
{%- set business_start = var('usage_business_hours_start_hour') | int %}
{%- set business_end = var('usage_business_hours_end_hour') | int %}

with

usage_events as (

    select * from {{ ref('stg_mediation__usage_events') }}

),

cell_kpis as (

    select * from {{ ref('stg_network__cell_kpis') }}

),

calendar as (

    select * from {{ ref('util_days') }}

),

touched_dates as (

    -- the days the batch touched, read only on an incremental run
    select * from {{ ref('int_activity_dates_touched') }}

),

days_to_build as (

    -- the days this run builds, which only the materialization reads, to cut the run into
    -- slices: the days with usage (a batch without bounds touches every calendar day), on
    -- an incremental run among those the batch touched, read from the events of that range
    -- only, so that a day's run costs that day
    select distinct usage_events.event_date as date_day
    from usage_events
    {% if is_incremental() %}
    where usage_events.event_date in (select touched_dates.batch_date from touched_dates)
        and usage_events.event_at >= (
            select cast(min(touched_dates.batch_date) as {{ dbt.type_timestamp() }}) from touched_dates
        )
        and usage_events.event_at < (
            select {{ dbt.dateadd('day', 1, 'max(touched_dates.batch_date)') }} from touched_dates
        )
    {% endif %}

),

days as (

    -- the days of this statement: the slice's (day_slice), on an incremental run among the
    -- touched ones. The calendar, not days_to_build: the join with the events keeps the
    -- days with usage, and a second read of the events would make the warehouse keep them
    -- in memory or on disk between the two reads
    select
        date_day,
        is_weekend
    from calendar
    where {{ day_slice('date_day') }}
    {% if is_incremental() %}
        and date_day in (select touched_dates.batch_date from touched_dates)
    {% endif %}

),

cell_days_assessed as (

    -- a cell-day is degraded when coverage, call setup success or the drop rate breaks
    -- its threshold (macros/cell_kpi_rates.sql, the rule the coverage KPIs use)
    select
        cell_kpis.cell_id,
        cell_kpis.kpi_date,
        {{ cell_day_is_degraded('cell_kpis') }} as is_degraded
    from cell_kpis
    inner join days
        on cell_kpis.kpi_date = days.date_day

),

events_in_scope as (

    select
        usage_events.subscriber_id,
        usage_events.event_date as date_day,
        usage_events.cell_id,
        usage_events.event_type,
        usage_events.call_type,
        usage_events.charged_amount,
        days.is_weekend,
        extract(hour from usage_events.event_at) as event_hour,
        case
            when usage_events.event_type = 'voice'
                then cast(coalesce(usage_events.duration_seconds, 0) as {{ type_double() }}) / 60
            else 0
        end as voice_minutes,
        case
            when usage_events.event_type = 'data' then coalesce(usage_events.data_mb, 0)
            else 0
        end as data_mb
    from usage_events
    inner join days
        on usage_events.event_date = days.date_day
    -- staging is a view over raw: a range of constant timestamps on the event time itself,
    -- set per statement by the materialization, lets the warehouse skip the storage
    -- blocks of every other day, which neither a join on the derived date nor bounds
    -- computed by a subquery do
    where {{ day_slice_time_range('usage_events.event_at') }}

),

events_classified as (

    select
        events_in_scope.*,
        {%- if night_start > night_end %}
        (events_in_scope.event_hour >= {{ night_start }} or events_in_scope.event_hour < {{ night_end }}) as is_night,
        {%- else %}
        (events_in_scope.event_hour >= {{ night_start }} and events_in_scope.event_hour < {{ night_end }}) as is_night,
        {%- endif %}
        (
            events_in_scope.event_hour >= {{ busy_start }}
            and events_in_scope.event_hour < {{ busy_end }}
        ) as is_busy_hour,
        (
            not events_in_scope.is_weekend
            and events_in_scope.event_hour >= {{ business_start }}
            and events_in_scope.event_hour < {{ business_end }}
        ) as is_business_hours,
        coalesce(cell_days_assessed.is_degraded, false) as is_on_degraded_cell
    from events_in_scope
    left join cell_days_assessed
        on events_in_scope.cell_id = cell_days_assessed.cell_id
        and events_in_scope.date_day = cell_days_assessed.kpi_date

),

usage_per_day as (

    -- counts are count(case ... then 1 end), not sum(case ... then 1 else 0 end): DuckDB
    -- widens a sum of integers to a 128-bit total, and with the 20 totals per subscriber-day
    -- of a long history that makes the aggregation spill to disk
    select
        subscriber_id,
        date_day,
        count(case when event_type = 'voice' then 1 end) as voice_calls,
        sum(voice_minutes) as voice_minutes,
        sum(case when call_type = 'on_net' then voice_minutes else 0 end) as voice_minutes_on_net,
        sum(case when call_type = 'off_net' then voice_minutes else 0 end) as voice_minutes_off_net,
        sum(case when call_type = 'long_distance' then voice_minutes else 0 end) as voice_minutes_long_distance,
        sum(case when call_type = 'roaming' then voice_minutes else 0 end) as voice_minutes_roaming,
        sum(case when is_business_hours then voice_minutes else 0 end) as voice_minutes_business_hours,
        count(case when event_type = 'sms' then 1 end) as sms_count,
        count(
            case when call_type = 'roaming' and event_type in ('voice', 'sms') then 1 end
        ) as roaming_events,
        count(case when event_type = 'data' then 1 end) as data_sessions,
        sum(data_mb) as data_mb,
        sum(case when is_night then 0 else data_mb end) as data_mb_day,
        sum(case when is_night then data_mb else 0 end) as data_mb_night,
        sum(case when is_busy_hour then data_mb else 0 end) as data_mb_busy_hour,
        count(*) as usage_events,
        count(case when is_on_degraded_cell then 1 end) as degraded_cell_events,
        sum(charged_amount) as rated_usage_amount,
        sum(case when event_type = 'voice' then charged_amount else 0 end) as voice_rated_amount,
        sum(case when event_type = 'sms' then charged_amount else 0 end) as sms_rated_amount,
        sum(case when event_type = 'data' then charged_amount else 0 end) as data_rated_amount
    from events_classified
    group by
        subscriber_id,
        date_day

),

events_per_cell as (

    select
        subscriber_id,
        date_day,
        cell_id,
        count(*) as cell_events
    from events_classified
    group by
        subscriber_id,
        date_day,
        cell_id

),

cells_ranked as (

    -- the cell that carried most of the subscriber's events that day ranks first; ties go
    -- to the lowest cell id so the choice is stable
    select
        *,
        row_number() over (
            partition by subscriber_id, date_day
            order by cell_events desc, cell_id asc
        ) as cell_rank
    from events_per_cell

),

main_cells as (

    select
        subscriber_id,
        date_day,
        cell_id as main_cell_id
    from cells_ranked
    where cell_rank = 1

),

final as (

    select
        cast(usage_per_day.subscriber_id as {{ dbt.type_string() }}) as subscriber_id,
        cast(usage_per_day.date_day as date) as date_day,
        cast(usage_per_day.voice_calls as {{ dbt.type_bigint() }}) as voice_calls,
        cast(round(usage_per_day.voice_minutes, 4) as {{ type_double() }}) as voice_minutes,
        cast(round(usage_per_day.voice_minutes_on_net, 4) as {{ type_double() }}) as voice_minutes_on_net,
        cast(round(usage_per_day.voice_minutes_off_net, 4) as {{ type_double() }}) as voice_minutes_off_net,
        cast(round(usage_per_day.voice_minutes_long_distance, 4) as {{ type_double() }}) as voice_minutes_long_distance,
        cast(round(usage_per_day.voice_minutes_roaming, 4) as {{ type_double() }}) as voice_minutes_roaming,
        cast(
            round(usage_per_day.voice_minutes_business_hours, 4) as {{ type_double() }}
        ) as voice_minutes_business_hours,
        cast(usage_per_day.sms_count as {{ dbt.type_bigint() }}) as sms_count,
        cast(usage_per_day.roaming_events as {{ dbt.type_bigint() }}) as roaming_events,
        cast(usage_per_day.data_sessions as {{ dbt.type_bigint() }}) as data_sessions,
        cast(round(usage_per_day.data_mb, 3) as {{ type_double() }}) as data_mb,
        cast(round(usage_per_day.data_mb_day, 3) as {{ type_double() }}) as data_mb_day,
        cast(round(usage_per_day.data_mb_night, 3) as {{ type_double() }}) as data_mb_night,
        cast(round(usage_per_day.data_mb_busy_hour, 3) as {{ type_double() }}) as data_mb_busy_hour,
        cast(usage_per_day.usage_events as {{ dbt.type_bigint() }}) as usage_events,
        cast(usage_per_day.degraded_cell_events as {{ dbt.type_bigint() }}) as degraded_cell_events,
        cast(round(usage_per_day.rated_usage_amount, 4) as {{ type_double() }}) as rated_usage_amount,
        cast(round(usage_per_day.voice_rated_amount, 4) as {{ type_double() }}) as voice_rated_amount,
        cast(round(usage_per_day.sms_rated_amount, 4) as {{ type_double() }}) as sms_rated_amount,
        cast(round(usage_per_day.data_rated_amount, 4) as {{ type_double() }}) as data_rated_amount,
        cast(main_cells.main_cell_id as {{ dbt.type_string() }}) as main_cell_id
    from usage_per_day
    left join main_cells
        on usage_per_day.subscriber_id = main_cells.subscriber_id
        and usage_per_day.date_day = main_cells.date_day

)

select * from final
