{{ config(replace_periods_config('month_start_date')) }}
{{
    config(
        on_schema_change='append_new_columns'
    )
}}

-- depends_on: {{ ref('int_activity_dates_touched') }}

{#-
    Month-over-month segment movements: for each month that has a month before it in the
    data, subscriber counts from the previous month's segment to this month's. A
    subscriber in only one of the two months moves from or to 'not_in_base' (activations,
    churn). Beside the counts, the domain brief's three transformation rates of the month,
    each with its numerator and denominator (the same on every row of a month):
      - voice_biased -> balanced: voice_biased last month, in the base now, balanced usage
        now (calls and data sessions each >= transformation_balanced_min_share of events);
      - single -> composite business: one product last month (mobile only), two or more now;
      - low-value new -> high value: new and low ARPU last month, in the top ARPU band now.
        Tenure cannot jump from new to long within a month, so the month's measurable step
        of that ladder is the move into the top value band; the tenure-gated arrival in
        high_value_long_tenure shows in the counts.
#}

with

segments as (

    select * from {{ ref('subscriber_segments_monthly') }}
    {% if is_incremental() %}
    where month_start_date >= cast(
        {{ dbt.dateadd('month', -1, subscriber_rebuild_from_month()) }} as date
    )
    {% endif %}

),

months as (

    select distinct month_start_date
    from segments

),

month_pairs as (

    select
        months.month_start_date,
        previous_months.month_start_date as previous_month_start_date
    from months
    inner join months as previous_months
        on previous_months.month_start_date
            = cast({{ dbt.dateadd('month', -1, 'months.month_start_date') }} as date)
    {% if is_incremental() %}
    where months.month_start_date >= {{ subscriber_rebuild_from_month() }}
    {% endif %}

),

this_month as (

    select
        month_pairs.month_start_date,
        segments.subscriber_id,
        segments.segment,
        segments.is_balanced_usage,
        segments.is_composite_business,
        segments.is_top_value_band
    from month_pairs
    inner join segments
        on month_pairs.month_start_date = segments.month_start_date

),

previous_month as (

    select
        month_pairs.month_start_date,
        segments.subscriber_id,
        segments.segment,
        segments.is_composite_business,
        segments.is_new_customer and segments.is_low_value as is_low_value_new
    from month_pairs
    inner join segments
        on month_pairs.previous_month_start_date = segments.month_start_date

),

paired as (

    select
        coalesce(this_month.month_start_date, previous_month.month_start_date) as month_start_date,
        coalesce(previous_month.segment, 'not_in_base') as from_segment,
        coalesce(this_month.segment, 'not_in_base') as to_segment,
        previous_month.subscriber_id is not null and this_month.subscriber_id is not null as is_in_both_months,
        previous_month.segment = 'voice_biased' as was_voice_biased,
        not previous_month.is_composite_business as was_single_business,
        previous_month.is_low_value_new as was_low_value_new,
        this_month.is_balanced_usage as is_balanced_now,
        this_month.is_composite_business as is_composite_now,
        this_month.is_top_value_band as is_top_value_now
    from previous_month
    full outer join this_month
        on previous_month.month_start_date = this_month.month_start_date
        and previous_month.subscriber_id = this_month.subscriber_id

),

counts as (

    select
        month_start_date,
        from_segment,
        to_segment,
        count(*) as subscriber_count
    from paired
    group by
        month_start_date,
        from_segment,
        to_segment

),

from_totals as (

    select
        month_start_date,
        from_segment,
        sum(subscriber_count) as from_segment_subscriber_count
    from counts
    group by
        month_start_date,
        from_segment

),

rates as (

    select
        month_start_date,
        sum(case when is_in_both_months and was_voice_biased then 1 else 0 end)
            as voice_biased_base_count,
        sum(case when is_in_both_months and was_voice_biased and is_balanced_now then 1 else 0 end)
            as voice_biased_to_balanced_count,
        sum(case when is_in_both_months and was_single_business then 1 else 0 end)
            as single_business_base_count,
        sum(case when is_in_both_months and was_single_business and is_composite_now then 1 else 0 end)
            as single_to_composite_count,
        sum(case when is_in_both_months and was_low_value_new then 1 else 0 end)
            as low_value_new_base_count,
        sum(case when is_in_both_months and was_low_value_new and is_top_value_now then 1 else 0 end)
            as low_value_new_to_high_value_count
    from paired
    group by month_start_date

),

final as (

    select
        cast(counts.month_start_date as date) as month_start_date,
        cast({{ dbt.dateadd('month', -1, 'counts.month_start_date') }} as date) as previous_month_start_date,
        cast(counts.from_segment as {{ dbt.type_string() }}) as from_segment,
        cast(counts.to_segment as {{ dbt.type_string() }}) as to_segment,
        cast(counts.subscriber_count as {{ dbt.type_bigint() }}) as subscriber_count,
        cast(from_totals.from_segment_subscriber_count as {{ dbt.type_bigint() }}) as from_segment_subscriber_count,
        cast(
            cast(counts.subscriber_count as {{ type_double() }}) / from_totals.from_segment_subscriber_count
            as {{ type_double() }}
        ) as share_of_from_segment,
        cast(rates.voice_biased_base_count as {{ dbt.type_bigint() }}) as voice_biased_base_count,
        cast(rates.voice_biased_to_balanced_count as {{ dbt.type_bigint() }}) as voice_biased_to_balanced_count,
        cast(
            {{ safe_ratio('rates.voice_biased_to_balanced_count', 'rates.voice_biased_base_count') }}
            as {{ type_double() }}
        ) as voice_biased_to_balanced_rate,
        cast(rates.single_business_base_count as {{ dbt.type_bigint() }}) as single_business_base_count,
        cast(rates.single_to_composite_count as {{ dbt.type_bigint() }}) as single_to_composite_count,
        cast(
            {{ safe_ratio('rates.single_to_composite_count', 'rates.single_business_base_count') }}
            as {{ type_double() }}
        ) as single_to_composite_rate,
        cast(rates.low_value_new_base_count as {{ dbt.type_bigint() }}) as low_value_new_base_count,
        cast(rates.low_value_new_to_high_value_count as {{ dbt.type_bigint() }}) as low_value_new_to_high_value_count,
        cast(
            {{ safe_ratio('rates.low_value_new_to_high_value_count', 'rates.low_value_new_base_count') }}
            as {{ type_double() }}
        ) as low_value_new_to_high_value_rate
    from counts
    inner join from_totals
        on counts.month_start_date = from_totals.month_start_date
        and counts.from_segment = from_totals.from_segment
    inner join rates
        on counts.month_start_date = rates.month_start_date

)

select * from final
