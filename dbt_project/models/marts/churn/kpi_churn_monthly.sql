{#-
    Churn rate per month and cut: churners over the active base at the start of the month.
    The base at the start of month M is every subscriber in the base at the end of month
    M-1 (subscriber_segments_monthly, status not churned); its cut (segment, region, tenure
    band, lifecycle stage, network-experience band, tariff plan, payment type and the plan's
    contract term) is as of M-1, what was known when the month began: a subscriber who
    changed plan counts against the plan they left the previous month on. A churner is a base
    member with a counted churn event (fct_churn_events, var churn_counted_types) dated in M.

    A table: a few hundred rows a month, rebuilt whole (churn is only known late).
#}

with

segments as (

    select * from {{ ref('subscriber_segments_monthly') }}

),

experience as (

    select * from {{ ref('subscriber_network_experience_monthly') }}

),

subscribers as (

    select * from {{ ref('dim_subscriber') }}

),

monthly_facts as (

    select * from {{ ref('fct_subscriber_monthly') }}

),

plans as (

    select * from {{ ref('dim_plan') }}

),

churn_events as (

    select * from {{ ref('fct_churn_events') }}

),

opening_base as (

    select
        cast({{ dbt.dateadd('month', 1, 'segments.month_start_date') }} as date) as month_start_date,
        segments.subscriber_id,
        segments.segment,
        segments.lifecycle_stage,
        coalesce(subscribers.region, 'unknown') as region,
        case
            when segments.tenure_months < {{ var('segment_new_max_tenure_months') }} then 'new'
            when segments.tenure_months < {{ var('segment_long_min_tenure_months') }} then 'established'
            else 'long'
        end as tenure_band,
        coalesce(experience.experience_band, 'no_usage') as experience_band,
        coalesce(monthly_facts.plan_id, 'unknown') as plan_id,
        coalesce(segments.payment_type, 'unknown') as payment_type,
        case
            when plans.plan_id is null then 'unknown'
            when coalesce(plans.plan_term_months, 0) = 0 then 'no_commitment'
            else {{ dbt.concat([dbt.safe_cast('plans.plan_term_months', dbt.type_string()), "'_months'"]) }}
        end as contract_term
    from segments
    left join experience
        on segments.subscriber_id = experience.subscriber_id
        and segments.month_start_date = experience.month_start_date
    left join subscribers
        on segments.subscriber_id = subscribers.subscriber_id
    left join monthly_facts
        on segments.subscriber_id = monthly_facts.subscriber_id
        and segments.month_start_date = monthly_facts.month_start_date
    left join plans
        on monthly_facts.plan_id = plans.plan_id
    where segments.is_month_complete
        and segments.status <> 'churned'

),

outcomes as (

    select
        opening_base.*,
        case when churn_events.subscriber_id is not null then 1 else 0 end as is_churner
    from opening_base
    left join churn_events
        on opening_base.subscriber_id = churn_events.subscriber_id
        and opening_base.month_start_date = churn_events.churn_month_start_date

),

months_with_data as (

    select distinct month_start_date from segments

),

final as (

    select
        cast(outcomes.month_start_date as date) as month_start_date,
        cast(outcomes.segment as {{ dbt.type_string() }}) as segment,
        cast(outcomes.region as {{ dbt.type_string() }}) as region,
        cast(outcomes.tenure_band as {{ dbt.type_string() }}) as tenure_band,
        cast(outcomes.lifecycle_stage as {{ dbt.type_string() }}) as lifecycle_stage,
        cast(outcomes.experience_band as {{ dbt.type_string() }}) as experience_band,
        cast(outcomes.plan_id as {{ dbt.type_string() }}) as plan_id,
        cast(outcomes.payment_type as {{ dbt.type_string() }}) as payment_type,
        cast(outcomes.contract_term as {{ dbt.type_string() }}) as contract_term,
        cast(count(*) as {{ dbt.type_int() }}) as opening_base,
        cast(sum(outcomes.is_churner) as {{ dbt.type_int() }}) as churners,
        cast(cast(sum(outcomes.is_churner) as {{ type_double() }}) / count(*) as {{ type_double() }}) as churn_rate
    from outcomes
    inner join months_with_data
        on outcomes.month_start_date = months_with_data.month_start_date
    group by
        outcomes.month_start_date,
        outcomes.segment,
        outcomes.region,
        outcomes.tenure_band,
        outcomes.lifecycle_stage,
        outcomes.experience_band,
        outcomes.plan_id,
        outcomes.payment_type,
        outcomes.contract_term

)

select * from final
