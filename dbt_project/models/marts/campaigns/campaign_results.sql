{{ config(replace_periods_config('send_date')) }}
{{
    config(
        on_schema_change='append_new_columns'
    )
}}

{#-
    Did the campaigns work: per campaign, send date and segment (plus segment 'all'), the
    targeted and control groups, their conversions within the policy's
    conversion_window_days after the send, the conversion rates and the absolute uplift
    (targeted rate minus control rate) with a 95 % normal-approximation interval.

    A conversion is taking up the campaign's offer_product (int_product_take_ups_unioned)
    in (send date, send date + window]; for a campaign without an offer_product it is an
    accepted response in the contact history feed, which only a contacted subscriber can
    give, so such a campaign's uplift is its response rate (conversion_basis says which).

    Incremental: a run rebuilds the send dates whose window is still open (the last
    conversion_window_days + 1 days up to the decision date); is_window_complete says
    whether a row can still change.
-#}

with

decision_day as (

    select {{ campaign_decision_date() }} as decision_date

),

decisions as (

    select * from {{ ref('campaign_decisions_daily') }}

),

take_ups as (

    select * from {{ ref('int_product_take_ups_unioned') }}

),

feed_contacts as (

    select * from {{ ref('stg_marketing__contacts') }}

),

policy as (

    select * from {{ ref('stg_campaign_catalog__policies') }}

),

sends as (

    -- targeted and control rows of the send dates this run (re)builds
    select
        decisions.decision_date as send_date,
        decisions.subscriber_id,
        decisions.campaign_id,
        decisions.offer_product,
        decisions.segment,
        decisions.decision_outcome,
        policy.conversion_window_days
    from decisions
    cross join policy
    cross join decision_day
    where decisions.decision_outcome in ('targeted', 'control')
        and decisions.decision_date <= decision_day.decision_date
    {% if is_incremental() %}
        and decisions.decision_date
            >= {{ dbt.dateadd('day', '-(policy.conversion_window_days + 1)', 'decision_day.decision_date') }}
    {% endif %}

),

product_conversions as (

    select distinct
        sends.send_date,
        sends.subscriber_id,
        sends.campaign_id
    from sends
    inner join take_ups
        on sends.subscriber_id = take_ups.subscriber_id
        and sends.offer_product = take_ups.product
        and sends.send_date < take_ups.take_up_date
        and take_ups.take_up_date <= {{ dbt.dateadd('day', 'sends.conversion_window_days', 'sends.send_date') }}

),

response_conversions as (

    select distinct
        sends.send_date,
        sends.subscriber_id,
        sends.campaign_id
    from sends
    inner join feed_contacts
        on sends.subscriber_id = feed_contacts.subscriber_id
        and sends.campaign_id = feed_contacts.campaign_id
        and feed_contacts.response = 'accepted'
        and sends.send_date <= feed_contacts.contact_date
        and feed_contacts.contact_date <= {{ dbt.dateadd('day', 'sends.conversion_window_days', 'sends.send_date') }}
    where sends.offer_product is null

),

sends_with_outcome as (

    select
        sends.*,
        case
            when sends.offer_product is not null then product_conversions.subscriber_id is not null
            else response_conversions.subscriber_id is not null
        end as is_converted
    from sends
    left join product_conversions
        on sends.send_date = product_conversions.send_date
        and sends.subscriber_id = product_conversions.subscriber_id
        and sends.campaign_id = product_conversions.campaign_id
    left join response_conversions
        on sends.send_date = response_conversions.send_date
        and sends.subscriber_id = response_conversions.subscriber_id
        and sends.campaign_id = response_conversions.campaign_id

),

by_segment as (

    select
        send_date,
        campaign_id,
        segment,
        max(offer_product) as offer_product,
        max(conversion_window_days) as conversion_window_days,
        sum(case when decision_outcome = 'targeted' then 1 else 0 end) as targeted_count,
        sum(case when decision_outcome = 'control' then 1 else 0 end) as control_count,
        sum(case when decision_outcome = 'targeted' and is_converted then 1 else 0 end) as targeted_conversions,
        sum(case when decision_outcome = 'control' and is_converted then 1 else 0 end) as control_conversions
    from sends_with_outcome
    group by send_date, campaign_id, segment

),

all_segments as (

    select
        send_date,
        campaign_id,
        'all' as segment,
        max(offer_product) as offer_product,
        max(conversion_window_days) as conversion_window_days,
        sum(targeted_count) as targeted_count,
        sum(control_count) as control_count,
        sum(targeted_conversions) as targeted_conversions,
        sum(control_conversions) as control_conversions
    from by_segment
    group by send_date, campaign_id

),

unioned as (

    select * from by_segment
    union all
    select * from all_segments

),

rates as (

    select
        *,
        case when targeted_count > 0 then 1.0 * targeted_conversions / targeted_count end as targeted_conversion_rate,
        case when control_count > 0 then 1.0 * control_conversions / control_count end as control_conversion_rate
    from unioned

),

uplift as (

    select
        *,
        targeted_conversion_rate - control_conversion_rate as absolute_uplift,
        case
            when targeted_count > 0 and control_count > 0 then 1.96 * sqrt(
                targeted_conversion_rate * (1 - targeted_conversion_rate) / targeted_count
                + control_conversion_rate * (1 - control_conversion_rate) / control_count
            )
        end as uplift_margin
    from rates

),

final as (

    select
        cast(uplift.send_date as date) as send_date,
        cast(uplift.campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(uplift.segment as {{ dbt.type_string() }}) as segment,
        cast(case when uplift.offer_product is not null then 'product_take_up' else 'accepted_response' end
            as {{ dbt.type_string() }}) as conversion_basis,
        cast(uplift.offer_product as {{ dbt.type_string() }}) as offer_product,
        cast(uplift.targeted_count as {{ dbt.type_bigint() }}) as targeted_count,
        cast(uplift.control_count as {{ dbt.type_bigint() }}) as control_count,
        cast(uplift.targeted_conversions as {{ dbt.type_bigint() }}) as targeted_conversions,
        cast(uplift.control_conversions as {{ dbt.type_bigint() }}) as control_conversions,
        cast(uplift.targeted_conversion_rate as {{ type_double() }}) as targeted_conversion_rate,
        cast(uplift.control_conversion_rate as {{ type_double() }}) as control_conversion_rate,
        cast(uplift.absolute_uplift as {{ type_double() }}) as absolute_uplift,
        cast(uplift.absolute_uplift - uplift.uplift_margin as {{ type_double() }}) as uplift_ci_low,
        cast(uplift.absolute_uplift + uplift.uplift_margin as {{ type_double() }}) as uplift_ci_high,
        cast(
            {{ dbt.dateadd('day', 'uplift.conversion_window_days', 'uplift.send_date') }} <= decision_day.decision_date
            as {{ dbt.type_boolean() }}
        ) as is_window_complete
    from uplift
    cross join decision_day

)

select * from final
