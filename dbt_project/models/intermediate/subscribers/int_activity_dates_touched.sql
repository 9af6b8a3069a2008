{{ config(materialized='ephemeral') }}

{#
    The activity dates an incremental run of the subscriber marts must (re)build: every day
    the delivery-date batch (vars batch_start_date .. batch_end_date, macro
    in_delivery_batch) can have changed, i.e.
      - the delivery dates of the batch themselves: a day's CRM, VAS, broadband and
        complaint changes and its lines in service take effect on the day they arrive;
      - the event dates of the usage, top-ups, bills, adjustments, NPS answers and
        complaints delivered in the batch (for complaints, of the tickets the batch
        delivers first): a late record changes the day it happened on, not the day it
        arrived.

    Ephemeral on purpose: it is compiled into each model that reads it, with that model's
    vars, so every task of a run agrees on the batch without a table that could be stale
    (Cosmos renders ephemeral models as empty tasks). Read only inside is_incremental()
    blocks, so readers declare it with a `-- depends_on:` comment.
#}

with

usage_events as (

    select * from {{ ref('stg_mediation__usage_events') }}

),

recharges as (

    select * from {{ ref('stg_billing__recharges') }}

),

bills as (

    select * from {{ ref('stg_billing__bills') }}

),

adjustments as (

    select * from {{ ref('stg_billing__adjustments') }}

),

nps_responses as (

    select * from {{ ref('stg_crm__nps_responses') }}

),

complaints as (

    select * from {{ ref('stg_crm__complaints') }}

),

calendar as (

    select * from {{ ref('util_days') }}

),

new_complaints as (

    -- a ticket's later versions (in progress, closed) change no count: only the delivery
    -- that first carried a ticket touches the day it was opened on
    select
        complaint_id,
        min(opened_at) as opened_at,
        min(delivery_date) as first_delivery_date
    from complaints
    group by complaint_id

),

touched as (

    select event_date as batch_date
    from usage_events
    where {{ in_delivery_batch('delivery_date') }}

    union

    select recharge_date as batch_date
    from recharges
    where {{ in_delivery_batch('delivery_date') }}

    union

    select issue_date as batch_date
    from bills
    where {{ in_delivery_batch('delivery_date') }}

    union

    select adjustment_date as batch_date
    from adjustments
    where {{ in_delivery_batch('delivery_date') }}

    union

    select response_date as batch_date
    from nps_responses
    where {{ in_delivery_batch('delivery_date') }}

    union

    select cast(opened_at as date) as batch_date
    from new_complaints
    where {{ in_delivery_batch('first_delivery_date') }}

    union

    select date_day as batch_date
    from calendar
    where {{ in_delivery_batch('date_day') }}

)

select cast(batch_date as date) as batch_date
from touched
