{{ config(replace_periods_config('decision_date')) }}
{{
    config(
        pre_hook="{{ clear_undecided_day() }}",
        on_schema_change='append_new_columns',
        full_refresh=false
    )
}}

{#-
    Who is contacted, by which campaign, and why not. One row per subscriber, campaign
    (active on the day, from the catalog) and decision date on which the subscriber met all
    of the campaign's eligibility rules. The decision, first reason that applies wins:

      1. suppressed: invalid_contact_number, inactive_or_churned, opted_out (the campaign's
         channel or all channels), do_not_disturb, open_complaint (sales only),
         product_held (the offer's product), cooldown (the campaign touched the subscriber,
         as a send or as control of a published day, fewer than cooldown_days ago);
      2. suppressed: frequency_cap (sales only: the policy's caps over the 7 and 30 days
         ending on the decision date: the feed's contacts up to that day, this warehouse's
         sends before it, and the send being decided);
      3. suppressed: lost_arbitration (sales only: one sales campaign per subscriber and
         day, by priority, then expected value, then campaign id);
      4. suppressed: channel_taken (with the policy's one_contact_per_channel_per_day: one
         campaign per subscriber, channel and day across all campaigns, service before sales,
         then priority, expected value and campaign id);
      5. suppressed: over_capacity (the campaign's daily_capacity of sends, in a daily
         pseudo-random order);
      6. otherwise control when the holdout hash falls under the campaign's holdout_share,
         else targeted.

    Caps and cool-downs count every contact, whatever its date relative to the decision
    day: the feed's and this warehouse's published ones, earlier and later (a reissued old
    day is decided against the days published after it). The caps count the sales contacts
    within 6 (29) days either side of the day, a superset of every 7 (30) day window that
    holds it, so a decision never breaks a window that later contacts already fill.

    The holdout is applied last on purpose: a control row is a send that would have been
    made, so it passes caps, arbitration and capacity exactly like a targeted row and the
    two groups are comparable for uplift. Control rows do not count as contacts (caps),
    but do start the cool-down once their day is published, as the sends do, so the groups
    stay comparable on later days; a day never published cools down neither.

    Incremental by decision_date and never fully refreshed (full_refresh=false): past
    decisions depend on what had been published by then, so they are history, not a
    derivation. A rerun of a day replaces that day only, and not at all once the day is
    published (stg_outbox__published_days): the select is then empty, delete+insert deletes
    nothing, and the decisions stay those the outbox holds.
-#}

with

published_days as (

    select * from {{ ref('stg_outbox__published_days') }}

),

run_day as (

    select {{ campaign_decision_date() }} as decision_date

),

decision_day as (

    -- the run date, unless it is already published (its decisions are history)
    select run_day.decision_date
    from run_day
    where run_day.decision_date not in (select published_days.publish_date from published_days)

),

audience as (

    select * from {{ ref('campaign_audience_daily') }}

),

campaigns as (

    select * from {{ ref('stg_campaign_catalog__campaigns') }}

),

rules as (

    select * from {{ ref('stg_campaign_catalog__eligibility_rules') }}

),

policy as (

    select * from {{ ref('stg_campaign_catalog__policies') }}

),

opt_outs as (

    select * from {{ ref('stg_marketing__opt_outs') }}

),

contacts as (

    select * from {{ ref('int_contacts_unioned') }}

),

active_campaigns as (

    select campaigns.*
    from campaigns
    cross join decision_day
    where campaigns.active_from <= decision_day.decision_date
        and (campaigns.active_to is null or campaigns.active_to >= decision_day.decision_date)

),

active_rules as (

    select rules.*
    from rules
    inner join active_campaigns
        on rules.campaign_id = active_campaigns.campaign_id

),

eligible as (

    -- the subscriber and campaign pairs that meet every rule of the campaign: the rules
    -- are compiled into one predicate per campaign (macros/campaign_rules.sql), so this is
    -- a filter over subscriber x campaign, not an aggregate with a group per pair. It
    -- carries the audience columns the decision needs, so the audience is read once (a
    -- CTE read twice is held whole in memory)
    select
        audience.decision_date,
        audience.subscriber_id,
        active_campaigns.campaign_id,
        audience.segment,
        audience.lifecycle_stage,
        audience.has_valid_contact_number,
        audience.status,
        audience.days_since_last_activity,
        audience.open_complaints,
        {{ campaign_holds_offer_product('audience', 'active_campaigns') }} as holds_offer_product
    from audience
    inner join decision_day
        on audience.decision_date = decision_day.decision_date
    cross join active_campaigns
    where {{ campaign_eligibility_predicate(
        'audience', 'active_campaigns', ref('stg_campaign_catalog__eligibility_rules')
    ) }}

),

campaign_reason_codes as (

    -- an eligible subscriber met every rule of the campaign, so the reasons are the
    -- campaign's rules in order: listed once per campaign, not per subscriber (an ordered
    -- list per group cannot spill, and ran out of memory at 10 million subscribers)
    select
        campaign_id,
        {{ ordered_listagg('reason_code', "'|'", 'rule_number') }} as eligibility_reason_codes
    from active_rules
    group by campaign_id

),

opt_out_versions as (

    select
        opt_outs.subscriber_id,
        opt_outs.channel,
        opt_outs.is_opted_out,
        opt_outs.is_do_not_disturb,
        row_number() over (
            partition by opt_outs.subscriber_id, opt_outs.channel
            order by opt_outs.effective_at desc, opt_outs.loaded_at desc
        ) as version_rank
    from opt_outs
    cross join decision_day
    where opt_outs.effective_at < {{ dbt.dateadd('day', 1, 'decision_day.decision_date') }}

),

opt_out_state as (

    -- each subscriber's preference per channel (and for 'all') in force on the decision date
    select
        subscriber_id,
        channel,
        is_opted_out,
        is_do_not_disturb
    from opt_out_versions
    where version_rank = 1

),

nearby_contacts as (

    -- every contact within a year either side of the decision date: the feed's (the
    -- operator's own systems, the decision day included) and this warehouse's published ones
    -- (the decision day is not published, or it would not be decided)
    select contacts.*
    from contacts
    cross join decision_day
    where contacts.contact_date between {{ dbt.dateadd('day', -365, 'decision_day.decision_date') }}
        and {{ dbt.dateadd('day', 365, 'decision_day.decision_date') }}

),

marketing_contact_counts as (

    -- sales contacts within 6 (29) days either side: every 7 (30) day window holding the
    -- decision day lies inside, so the cap holds in each of them
    select
        nearby_contacts.subscriber_id,
        sum(
            case
                when nearby_contacts.contact_date between {{ dbt.dateadd('day', -6, 'decision_day.decision_date') }}
                    and {{ dbt.dateadd('day', 6, 'decision_day.decision_date') }} then 1
                else 0
            end
        ) as marketing_contacts_last_7_days,
        sum(
            case
                when nearby_contacts.contact_date between {{ dbt.dateadd('day', -29, 'decision_day.decision_date') }}
                    and {{ dbt.dateadd('day', 29, 'decision_day.decision_date') }} then 1
                else 0
            end
        ) as marketing_contacts_last_30_days
    from nearby_contacts
    cross join decision_day
    where nearby_contacts.campaign_kind = 'sales'
    group by nearby_contacts.subscriber_id

),

previous_touches as (

    select
        subscriber_id,
        campaign_id,
        contact_date as touch_date
    from nearby_contacts

    {% if is_incremental() %}
    union all

    -- control rows start the cool-down as a send would, so only on the days that were
    -- published: a day whose publish was refused sent nobody, and its control rows alone
    -- cooling down would shrink the next days' control groups, day after refused day
    select previous.subscriber_id, previous.campaign_id, previous.decision_date as touch_date
    from {{ this }} as previous
    cross join decision_day
    where previous.decision_outcome = 'control'
        and previous.decision_date <> decision_day.decision_date
        and previous.decision_date in (select published_days.publish_date from published_days)
        and previous.decision_date between {{ dbt.dateadd('day', -365, 'decision_day.decision_date') }}
            and {{ dbt.dateadd('day', 365, 'decision_day.decision_date') }}
    {% endif %}

),

touch_distances as (

    select
        previous_touches.subscriber_id,
        previous_touches.campaign_id,
        previous_touches.touch_date,
        abs({{ dbt.datediff('previous_touches.touch_date', 'decision_day.decision_date', 'day') }}) as days_apart
    from previous_touches
    cross join decision_day

),

nearest_touches as (

    -- the touch of the campaign nearest the decision day, before or after it (the latest
    -- of two equally near): the cool-down runs both ways
    select
        subscriber_id,
        campaign_id,
        touch_date as last_touch_date,
        days_apart as days_from_last_touch
    from (
        select
            *,
            row_number() over (
                partition by subscriber_id, campaign_id order by days_apart asc, touch_date desc
            ) as nearness_rank
        from touch_distances
    ) as ranked_touches
    where nearness_rank = 1

),

candidates as (

    select
        eligible.decision_date,
        eligible.subscriber_id,
        eligible.campaign_id,
        active_campaigns.campaign_kind,
        active_campaigns.channel,
        active_campaigns.offer_code,
        active_campaigns.offer_product,
        active_campaigns.priority,
        active_campaigns.expected_value,
        active_campaigns.holdout_share,
        active_campaigns.cooldown_days,
        active_campaigns.daily_capacity,
        active_campaigns.catalog_version,
        campaign_reason_codes.eligibility_reason_codes,
        eligible.segment,
        eligible.lifecycle_stage,
        eligible.has_valid_contact_number,
        eligible.status,
        eligible.days_since_last_activity,
        eligible.open_complaints,
        eligible.holds_offer_product,
        coalesce(channel_preference.is_opted_out, false) or coalesce(all_channels_preference.is_opted_out, false)
            as is_opted_out,
        coalesce(channel_preference.is_do_not_disturb, false)
            or coalesce(all_channels_preference.is_do_not_disturb, false) as is_do_not_disturb,
        coalesce(marketing_contact_counts.marketing_contacts_last_7_days, 0) as marketing_contacts_last_7_days,
        coalesce(marketing_contact_counts.marketing_contacts_last_30_days, 0) as marketing_contacts_last_30_days,
        nearest_touches.last_touch_date,
        nearest_touches.days_from_last_touch,
        policy.marketing_cap_7_days,
        policy.marketing_cap_30_days,
        policy.inactive_after_days,
        {{ unit_interval_hash(dbt.concat([
            "eligible.subscriber_id", "'|'", "eligible.campaign_id", "'|'", "policy.holdout_salt"
        ])) }}
            as holdout_bucket,
        {{ unit_interval_hash(dbt.concat([
            "eligible.subscriber_id", "'|'", "eligible.campaign_id", "'|'",
            dbt.cast("eligible.decision_date", dbt.type_string()), "'|'", "policy.holdout_salt"
        ])) }} as capacity_order
    from eligible
    inner join active_campaigns
        on eligible.campaign_id = active_campaigns.campaign_id
    inner join campaign_reason_codes
        on eligible.campaign_id = campaign_reason_codes.campaign_id
    cross join policy
    left join opt_out_state as channel_preference
        on eligible.subscriber_id = channel_preference.subscriber_id
        and active_campaigns.channel = channel_preference.channel
    left join opt_out_state as all_channels_preference
        on eligible.subscriber_id = all_channels_preference.subscriber_id
        and all_channels_preference.channel = 'all'
    left join marketing_contact_counts
        on eligible.subscriber_id = marketing_contact_counts.subscriber_id
    left join nearest_touches
        on eligible.subscriber_id = nearest_touches.subscriber_id
        and eligible.campaign_id = nearest_touches.campaign_id

),

policy_checked as (

    select
        *,
        case
            when not has_valid_contact_number then 'invalid_contact_number'
            when status <> 'active'
                or days_since_last_activity is null
                or days_since_last_activity > inactive_after_days then 'inactive_or_churned'
            when is_opted_out then 'opted_out'
            when is_do_not_disturb then 'do_not_disturb'
            when campaign_kind = 'sales' and open_complaints > 0 then 'open_complaint'
            when holds_offer_product then 'product_held'
            when days_from_last_touch is not null and days_from_last_touch < cooldown_days then 'cooldown'
            when campaign_kind = 'sales'
                and (
                    marketing_contacts_last_7_days + 1 > marketing_cap_7_days
                    or marketing_contacts_last_30_days + 1 > marketing_cap_30_days
                ) then 'frequency_cap'
        end as policy_reason
    from candidates

),

arbitration as (

    select
        subscriber_id,
        campaign_id,
        row_number() over (
            partition by subscriber_id
            order by priority desc, expected_value desc, campaign_id asc
        ) as arbitration_rank
    from policy_checked
    where policy_reason is null
        and campaign_kind = 'sales'

),

sales_arbitrated as (

    select
        policy_checked.*,
        arbitration.arbitration_rank,
        coalesce(
            policy_checked.policy_reason,
            case when arbitration.arbitration_rank > 1 then 'lost_arbitration' end
        ) as reason_after_sales_arbitration
    from policy_checked
    left join arbitration
        on policy_checked.subscriber_id = arbitration.subscriber_id
        and policy_checked.campaign_id = arbitration.campaign_id

),

channel_arbitration as (

    -- one campaign per subscriber, channel and day across all campaigns (the policy's
    -- one_contact_per_channel_per_day): service before sales, then priority, expected value
    -- and campaign id. A control row holds the channel as the send it stands for would.
    select
        subscriber_id,
        campaign_id,
        row_number() over (
            partition by subscriber_id, channel
            order by case when campaign_kind = 'service' then 0 else 1 end asc, priority desc, expected_value desc,
                campaign_id asc
        ) as channel_rank
    from sales_arbitrated
    where reason_after_sales_arbitration is null

),

arbitrated as (

    select
        sales_arbitrated.*,
        coalesce(
            sales_arbitrated.reason_after_sales_arbitration,
            case
                when policy.one_contact_per_channel_per_day and channel_arbitration.channel_rank > 1
                    then 'channel_taken'
            end
        ) as reason_after_arbitration,
        sales_arbitrated.holdout_bucket < sales_arbitrated.holdout_share as is_holdout
    from sales_arbitrated
    cross join policy
    left join channel_arbitration
        on sales_arbitrated.subscriber_id = channel_arbitration.subscriber_id
        and sales_arbitrated.campaign_id = channel_arbitration.campaign_id

),

capacity_queue as (

    -- sends already granted ahead of each row: control rows take a place in the order
    -- but use no capacity
    select
        subscriber_id,
        campaign_id,
        coalesce(sum(case when is_holdout then 0 else 1 end) over (
            partition by campaign_id
            order by capacity_order, subscriber_id
            rows between unbounded preceding and 1 preceding
        ), 0) as sends_ahead
    from arbitrated
    where reason_after_arbitration is null

),

decided as (

    select
        arbitrated.*,
        coalesce(
            arbitrated.reason_after_arbitration,
            case when capacity_queue.sends_ahead >= arbitrated.daily_capacity then 'over_capacity' end
        ) as suppression_reason
    from arbitrated
    left join capacity_queue
        on arbitrated.subscriber_id = capacity_queue.subscriber_id
        and arbitrated.campaign_id = capacity_queue.campaign_id

),

final as (

    select
        cast(decision_date as date) as decision_date,
        cast(subscriber_id as {{ dbt.type_string() }}) as subscriber_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(campaign_kind as {{ dbt.type_string() }}) as campaign_kind,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(offer_code as {{ dbt.type_string() }}) as offer_code,
        cast(offer_product as {{ dbt.type_string() }}) as offer_product,
        cast(priority as {{ dbt.type_int() }}) as priority,
        cast(expected_value as {{ type_double() }}) as expected_value,

        -- the decision
        cast(
            case
                when suppression_reason is not null then 'suppressed'
                when is_holdout then 'control'
                else 'targeted'
            end as {{ dbt.type_string() }}
        ) as decision_outcome,
        cast(suppression_reason as {{ dbt.type_string() }}) as suppression_reason,
        cast(
            case
                when suppression_reason is not null then {{ dbt.concat(["'suppressed:'", "suppression_reason"]) }}
                when is_holdout then 'control'
                else 'targeted'
            end as {{ dbt.type_string() }}
        ) as decision,
        cast(eligibility_reason_codes as {{ dbt.type_string() }}) as eligibility_reason_codes,

        -- what decided it
        cast(is_holdout as {{ dbt.type_boolean() }}) as is_holdout,
        cast(holdout_bucket as {{ type_double() }}) as holdout_bucket,
        cast(holdout_share as {{ type_double() }}) as holdout_share,
        cast(arbitration_rank as {{ dbt.type_int() }}) as arbitration_rank,
        cast(marketing_contacts_last_7_days as {{ dbt.type_int() }}) as marketing_contacts_last_7_days,
        cast(marketing_contacts_last_30_days as {{ dbt.type_int() }}) as marketing_contacts_last_30_days,
        cast(last_touch_date as date) as last_touch_date,
        cast(is_opted_out as {{ dbt.type_boolean() }}) as is_opted_out,
        cast(is_do_not_disturb as {{ dbt.type_boolean() }}) as is_do_not_disturb,
        cast(segment as {{ dbt.type_string() }}) as segment,
        cast(lifecycle_stage as {{ dbt.type_string() }}) as lifecycle_stage,
        cast(catalog_version as {{ dbt.type_string() }}) as catalog_version
    from decided

)

select * from final
