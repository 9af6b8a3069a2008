{{ config(materialized='view') }}

{#-
    Every contact the policy counts: the operator's contact history feed and the contacts
    this warehouse published. The channel systems may report a published contact back in the
    feed, so a subscriber, campaign and day present in both is kept once (the feed's row).
-#}

with

feed_contacts as (

    select * from {{ ref('stg_marketing__contacts') }}

),

published_contacts as (

    select * from {{ ref('stg_outbox__published_contacts') }}

),

unioned as (

    select
        subscriber_id,
        campaign_id,
        campaign_kind,
        channel,
        contact_date,
        'feed' as contact_source
    from feed_contacts

    union all

    select
        subscriber_id,
        campaign_id,
        campaign_kind,
        channel,
        contact_date,
        'published' as contact_source
    from published_contacts

),

ranked as (

    select
        *,
        row_number() over (
            partition by subscriber_id, campaign_id, contact_date
            order by case when contact_source = 'feed' then 0 else 1 end, channel
        ) as contact_rank
    from unioned

),

deduplicated as (

    select
        cast(subscriber_id as {{ dbt.type_string() }}) as subscriber_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(campaign_kind as {{ dbt.type_string() }}) as campaign_kind,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(contact_date as date) as contact_date,
        cast(contact_source as {{ dbt.type_string() }}) as contact_source
    from ranked
    where contact_rank = 1

)

select * from deduplicated
