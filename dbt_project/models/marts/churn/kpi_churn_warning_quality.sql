{#-
    Are the early warnings worth acting on? Per month:
      precision: of the subscribers warned in the month, the share with a counted churn
        event within var churn_warning_horizon_days after their first warning that month;
      recall: of the month's churners, the share warned at least once in the horizon
        before their churn date, and how early (lead time = churn date - first warning
        date within the horizon; median and average over the warned churners).
    A month's precision is final once horizon_complete (the horizon has passed by the last
    loaded day). A table: one row a month, rebuilt whole, because outcomes arrive late.
#}

{%- set horizon = var('churn_warning_horizon_days') | int %}

with

warnings as (

    select * from {{ ref('churn_warnings_daily') }}

),

churn_events as (

    select * from {{ ref('fct_churn_events') }}

),

warned_in_month as (

    select
        cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start_date,
        subscriber_id,
        min(date_day) as first_warned_in_month
    from warnings
    group by
        cast({{ dbt.date_trunc('month', 'date_day') }} as date),
        subscriber_id

),

precision_counts as (

    select
        warned_in_month.month_start_date,
        count(*) as warned_subscribers,
        sum(
            case
                when churn_events.churn_date >= warned_in_month.first_warned_in_month
                    and churn_events.churn_date
                        <= cast({{ dbt.dateadd('day', horizon, 'warned_in_month.first_warned_in_month') }} as date)
                    then 1
                else 0
            end
        ) as warned_then_churned
    from warned_in_month
    left join churn_events
        on warned_in_month.subscriber_id = churn_events.subscriber_id
    group by warned_in_month.month_start_date

),

churner_warnings as (

    select
        churn_events.churn_month_start_date as month_start_date,
        churn_events.subscriber_id,
        churn_events.churn_date,
        min(warnings.date_day) as first_warned_date
    from churn_events
    left join warnings
        on churn_events.subscriber_id = warnings.subscriber_id
        and churn_events.churn_date > warnings.date_day
        and warnings.date_day >= cast({{ dbt.dateadd('day', -1 * horizon, 'churn_events.churn_date') }} as date)
    group by
        churn_events.churn_month_start_date,
        churn_events.subscriber_id,
        churn_events.churn_date

),

recall_counts as (

    select
        month_start_date,
        count(*) as churners,
        sum(case when first_warned_date is not null then 1 else 0 end) as churners_warned_before,
        percentile_cont(0.5) within group (
            order by {{ dbt.datediff('first_warned_date', 'churn_date', 'day') }}
        ) as median_lead_time_days,
        avg({{ dbt.datediff('first_warned_date', 'churn_date', 'day') }}) as average_lead_time_days
    from churner_warnings
    group by month_start_date

),

data_end as (

    select max(date_day) as last_loaded_date from warnings

),

months as (

    select month_start_date from precision_counts
    union
    select month_start_date from recall_counts

),

final as (

    select
        cast(months.month_start_date as date) as month_start_date,
        cast(coalesce(precision_counts.warned_subscribers, 0) as {{ dbt.type_int() }}) as warned_subscribers,
        cast(coalesce(precision_counts.warned_then_churned, 0) as {{ dbt.type_int() }}) as warned_then_churned,
        cast(
            {{ safe_ratio('precision_counts.warned_then_churned', 'precision_counts.warned_subscribers') }}
            as {{ type_double() }}
        ) as warning_precision,
        cast(coalesce(recall_counts.churners, 0) as {{ dbt.type_int() }}) as churners,
        cast(coalesce(recall_counts.churners_warned_before, 0) as {{ dbt.type_int() }}) as churners_warned_before,
        cast(
            {{ safe_ratio('recall_counts.churners_warned_before', 'recall_counts.churners') }} as {{ type_double() }}
        ) as warning_recall,
        cast(recall_counts.median_lead_time_days as {{ type_double() }}) as median_lead_time_days,
        cast(recall_counts.average_lead_time_days as {{ type_double() }}) as average_lead_time_days,
        cast(
            cast({{ dbt.dateadd('day', horizon, dbt.last_day('months.month_start_date', 'month')) }} as date)
                <= data_end.last_loaded_date
            as {{ dbt.type_boolean() }}
        ) as is_horizon_complete
    from months
    cross join data_end
    left join precision_counts
        on months.month_start_date = precision_counts.month_start_date
    left join recall_counts
        on months.month_start_date = recall_counts.month_start_date

)

select * from final
