{{ config(replace_periods_config('month_start_date')) }}
{{
    config(
        on_schema_change='append_new_columns'
    )
}}

-- depends_on: {{ ref('int_activity_dates_touched') }}

{#-
    The 80/20 check per month: the share of the month's revenue brought by the top 1, 5,
    10 and 20 % of subscribers in the base, ranked by their revenue in the month. The top
    k % are the first ceil(k % x subscribers) in the revenue order (macro value_rank, ties
    by md5(subscriber_id)); ties cannot change a share, as tied subscribers bring equal
    revenue. Beside it, the share of the base the segment
    mart left unclassified.
#}

{%- set top_percents = [1, 5, 10, 20] %}

with

monthly as (

    select * from {{ ref('fct_subscriber_monthly') }}
    where days_in_base > 0
    {% if is_incremental() %}
        and month_start_date >= {{ subscriber_rebuild_from_month() }}
    {% endif %}

),

segments as (

    select * from {{ ref('subscriber_segments_monthly') }}
    {% if is_incremental() %}
    where month_start_date >= {{ subscriber_rebuild_from_month() }}
    {% endif %}

),

ranked as (

    select
        month_start_date,
        revenue_amount,
        {{ value_rank('revenue_amount', 'desc') }} as revenue_rank,
        count(*) over (partition by month_start_date) as subscriber_count
    from monthly

),

concentration as (

    select
        month_start_date,
        max(subscriber_count) as subscriber_count,
        -- rounded like the monthly fact's amounts, so a rerun gives the same figures
        round(sum(revenue_amount), 4) as total_revenue,
        {%- for percent in top_percents %}
        round(
            sum(
                case
                    when revenue_rank <= ceil(subscriber_count * {{ percent }} / 100.0) then revenue_amount
                    else 0
                end
            ),
            4
        ) as top_{{ percent }}pct_revenue{{ ',' if not loop.last }}
        {%- endfor %}
    from ranked
    group by month_start_date

),

segment_mix as (

    select
        month_start_date,
        count(*) as segmented_subscriber_count,
        sum(case when segment = 'unclassified' then 1 else 0 end) as unclassified_subscriber_count
    from segments
    group by month_start_date

),

final as (

    select
        cast(concentration.month_start_date as date) as month_start_date,
        cast(concentration.subscriber_count as {{ dbt.type_bigint() }}) as subscriber_count,
        cast(concentration.total_revenue as {{ type_double() }}) as total_revenue,
        cast(
            concentration.total_revenue / concentration.subscriber_count as {{ type_double() }}
        ) as revenue_per_subscriber,
        {%- for percent in top_percents %}
        cast(
            {{ safe_ratio('concentration.top_' ~ percent ~ 'pct_revenue', 'concentration.total_revenue') }}
            as {{ type_double() }}
        ) as revenue_share_top_{{ percent }}pct,
        {%- endfor %}
        cast(segment_mix.unclassified_subscriber_count as {{ dbt.type_bigint() }}) as unclassified_subscriber_count,
        cast(
            cast(segment_mix.unclassified_subscriber_count as {{ type_double() }})
                / segment_mix.segmented_subscriber_count
            as {{ type_double() }}
        ) as unclassified_share
    from concentration
    left join segment_mix
        on concentration.month_start_date = segment_mix.month_start_date

)

select * from final
