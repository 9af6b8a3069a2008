{% macro vas_held_at_period_end(vas_versions, periods) -%}
    {#-
        The value-added services each subscriber holds at each period's end: every
        subscription as its latest version known at the period end described it, held when
        started by then and not ended before it. One rule for fct_subscriber_monthly's
        vas_services_held and subscriber_products_monthly's per-service flags.
        One row per period and subscription held.
    -#}
    select
        month_start_date,
        subscriber_id,
        service_code
    from (
        select
            {{ periods }}.month_start_date,
            {{ periods }}.period_end_date,
            {{ vas_versions }}.subscriber_id,
            {{ vas_versions }}.service_code,
            {{ vas_versions }}.start_date,
            {{ vas_versions }}.end_date,
            row_number() over (
                partition by {{ periods }}.month_start_date, {{ vas_versions }}.vas_subscription_id
                order by {{ vas_versions }}.updated_at desc
            ) as version_rank
        from {{ vas_versions }}
        inner join {{ periods }}
            on cast({{ vas_versions }}.updated_at as date) <= {{ periods }}.period_end_date
    ) as versions_at_period_end
    where version_rank = 1
        and start_date <= period_end_date
        and (end_date is null or end_date >= period_end_date)
{%- endmacro %}
