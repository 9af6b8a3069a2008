{{ config(materialized='view') }}

{#-
    Every product take-up a campaign conversion can be: a value-added service or a home
    broadband contract starting. Grain: one row per subscriber, product and take-up date.
    The product names are those of the audience's holds_<product> columns, which is what a
    catalog entry's offer_product names.
-#}

with

vas_subscriptions as (

    select * from {{ ref('stg_vas__subscriptions') }}

),

broadband_contracts as (

    select * from {{ ref('stg_broadband__contracts') }}

),

vas_take_ups as (

    select distinct
        subscriber_id,
        service_code as product,
        start_date as take_up_date
    from vas_subscriptions

),

broadband_take_ups as (

    select distinct
        subscriber_id,
        'broadband' as product,
        start_date as take_up_date
    from broadband_contracts

),

unioned as (

    select * from vas_take_ups
    union
    select * from broadband_take_ups

)

select
    cast(subscriber_id as {{ dbt.type_string() }}) as subscriber_id,
    cast(product as {{ dbt.type_string() }}) as product,
    cast(take_up_date as date) as take_up_date
from unioned
