{{ config(replace_periods_config('decision_date')) }}
{{
    config(
        pre_hook="{{ clear_undecided_day() }}",
        on_schema_change='fail'
    )
}}

{#-
    The publish-ready target lists: the targeted rows of campaign_decisions_daily with the
    number to contact. The publish task writes one CSV per campaign from this table, in this
    column order (the contract below is the extract's format), so it holds PII (msisdn) and
    is tagged pii like dim_subscriber.
-#}

with

decisions as (

    select * from {{ ref('campaign_decisions_daily') }}

),

subscribers as (

    select * from {{ ref('dim_subscriber') }}

),

published_days as (

    select * from {{ ref('stg_outbox__published_days') }}

),

decision_day as (

    -- the run date, unless it is published: then its lists are those in the outbox, kept
    select run_day.decision_date
    from (select {{ campaign_decision_date() }} as decision_date) as run_day
    where run_day.decision_date not in (select published_days.publish_date from published_days)

),

targeted as (

    select decisions.*
    from decisions
    {% if is_incremental() %}
    inner join decision_day
        on decisions.decision_date = decision_day.decision_date
    {% endif %}
    where decisions.decision_outcome = 'targeted'

),

final as (

    select
        cast(targeted.decision_date as date) as decision_date,
        cast(subscribers.msisdn as {{ dbt.type_string() }}) as contact_number,
        cast(targeted.subscriber_id as {{ dbt.type_string() }}) as subscriber_id,
        cast(targeted.campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(targeted.offer_code as {{ dbt.type_string() }}) as offer_code,
        cast(targeted.channel as {{ dbt.type_string() }}) as channel,
        cast(targeted.priority as {{ dbt.type_int() }}) as priority,
        cast(targeted.eligibility_reason_codes as {{ dbt.type_string() }}) as reason_codes,
        cast(targeted.campaign_kind as {{ dbt.type_string() }}) as campaign_kind
    from targeted
    inner join subscribers
        on targeted.subscriber_id = subscribers.subscriber_id

)

select * from final
