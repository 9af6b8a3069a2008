{{ config(materialized='ephemeral') }}

{#-
    The churn events the churn marts count: one row per subscriber whose CRM status is
    churned, dated by its status date and typed port_out (a porting request was received),
    prepaid_inactivity or postpaid_disconnection. Only the types in var churn_counted_types
    are kept. Ephemeral: a filter over dim_subscriber, compiled into its readers. A mart,
    because it reads one: the current CRM version is dim_subscriber's to choose.
#}

{%- set counted_types = var('churn_counted_types') %}

with

subscribers as (

    select * from {{ ref('dim_subscriber') }}

),

typed as (

    select
        subscriber_id,
        cast(status_date as date) as churn_date,
        case
            when port_out_requested_at is not null then 'port_out'
            when payment_type = 'prepaid' then 'prepaid_inactivity'
            else 'postpaid_disconnection'
        end as churn_type
    from subscribers
    where status = 'churned'
        and status_date is not null

)

select
    subscriber_id,
    churn_date,
    cast({{ dbt.date_trunc('month', 'churn_date') }} as date) as churn_month_start_date,
    churn_type
from typed
where churn_type in ({% for t in counted_types %}'{{ t }}'{{ ', ' if not loop.last }}{% endfor %})
