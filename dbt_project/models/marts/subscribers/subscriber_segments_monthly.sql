{{ config(replace_periods_config('month_start_date')) }}
{{
    config(
        on_schema_change='append_new_columns'
    )
}}

-- depends_on: {{ ref('int_activity_dates_touched') }}

{#-
    The segment mart: one row per subscriber in the base and month, with exactly one of the
    four customer groups of the domain brief (or unclassified), the lifecycle stage, the
    profile tags, and every figure and rule flag that decided them.

    Precedence (first match wins), value before behaviour: how much a subscriber is worth
    decides how much the operator may spend on the contact, so the two value groups are
    tested before the two behaviour groups.
      1. high_value_long_tenure  long tenure and top ARPU band
      2. low_value_suppressed    low ARPU and low activity
      3. data_driven_new         new and data-dominated usage
      4. voice_biased            voice-dominated usage and spend, little data
      5. unclassified            none of the above
    Only three overlaps are possible with thresholds that keep the bands apart (new < long,
    top + low value shares <= 1, data and voice minimum shares summing above 1):
    high_value_long_tenure over voice_biased, low_value_suppressed over data_driven_new and
    low_value_suppressed over voice_biased. The matches_* flags show every rule that held.

    Bands (top and low ARPU, low activity, ARPU deciles, the price-sensitive tag) are cut
    from total orders, ties broken by md5(subscriber_id), then subscriber_id, so each holds
    exactly floor(share x base) subscribers however many tie on a flat plan fee (macros
    percentile_bands.sql). The low-value band is the top band of the reversed ARPU order.

    Lifecycle (first match wins): warning (any churn signal) > onboarding > introduction >
    maturity, the last three by tenure.

    A month in progress is classified on an estimate of the whole month (month to date
    plus the previous month's daily rate for the days to come; see the completion CTE), so
    the daily refresh of the current month does not swing on its first days' noise.

    Incremental: rebuilds the months from the earliest one the batch touched; reads the
    months before them only for the look-back (lagged figures, the previous month's rate).
#}

{%- set decline_months = var('churn_spend_decline_months') | int %}
{%- set complaint_months = var('churn_complaints_window_months') | int %}
{%- set lookback_months = [decline_months, complaint_months - 1, 1] | max %}

with

monthly as (

    select
        subscriber_id,
        month_start_date,
        month_end_date,
        period_end_date,
        is_month_complete,
        days_in_month,
        days_in_base,
        status,
        payment_type,
        tenure_months,
        age_years,
        products_held,
        revenue_amount,
        usage_events,
        voice_calls,
        data_sessions,
        rated_usage_amount,
        voice_rated_amount,
        arpu as reported_arpu,
        usage_events_per_day as reported_usage_events_per_day,
        data_usage_share as reported_data_usage_share,
        voice_usage_share as reported_voice_usage_share,
        voice_revenue_share as reported_voice_revenue_share,
        complaints_opened,
        degraded_traffic_share,
        has_broadband,
        broadband_end_date,
        is_port_out_requested,
        recharge_count,
        recharge_amount,
        data_gb_full_month,
        minutes_of_use_full_month,
        business_hours_voice_share,
        roaming_events,
        roaming_event_share,
        account_lines,
        household_lines,
        is_family_plan
    from {{ ref('fct_subscriber_monthly') }}
    where days_in_base > 0
    {% if is_incremental() %}
        and month_start_date >= cast(
            {{ dbt.dateadd('month', -1 * lookback_months, subscriber_rebuild_from_month()) }} as date
        )
    {% endif %}

),

look_back as (

    -- the same subscriber's figures 1..n months before, kept only when that row really
    -- is the calendar month n months back
    select
        *,
        {%- for months_back in range(1, lookback_months + 1) %}
        case
            when lag(month_start_date, {{ months_back }}) over (
                    partition by subscriber_id order by month_start_date
                ) = cast({{ dbt.dateadd('month', -1 * months_back, 'month_start_date') }} as date)
                then lag(reported_arpu, {{ months_back }}) over (
                    partition by subscriber_id order by month_start_date
                )
        end as arpu_{{ months_back }}_months_back,
        case
            when lag(month_start_date, {{ months_back }}) over (
                    partition by subscriber_id order by month_start_date
                ) = cast({{ dbt.dateadd('month', -1 * months_back, 'month_start_date') }} as date)
                then lag(complaints_opened, {{ months_back }}) over (
                    partition by subscriber_id order by month_start_date
                )
        end as complaints_{{ months_back }}_months_back,
        {%- endfor %}
        {%- for column in [
            'reported_usage_events_per_day', 'days_in_base', 'revenue_amount', 'usage_events',
            'voice_calls', 'data_sessions', 'rated_usage_amount', 'voice_rated_amount'
        ] %}
        case
            when lag(month_start_date, 1) over (
                    partition by subscriber_id order by month_start_date
                ) = cast({{ dbt.dateadd('month', -1, 'month_start_date') }} as date)
                then lag({{ column }}, 1) over (
                    partition by subscriber_id order by month_start_date
                )
        end as previous_{{ column | replace('reported_', '') }}{{ ',' if not loop.last }}
        {%- endfor %}
    from monthly

),

completion as (

    -- a month in progress is classified on an estimate of the whole month: its month to
    -- date plus, for the days still to come, the previous month's daily rate (when the
    -- line was in the base then and still is). Early in the month the estimate leans on
    -- the previous month, so a segment does not swing on a few days of noise; the weight
    -- falls to nothing by the month end, and a closed month uses its own figures only.
    select
        *,
        case
            when not is_month_complete
                and status <> 'churned'
                and previous_days_in_base > 0
                then {{ dbt.datediff('period_end_date', 'month_end_date', 'day') }}
            else 0
        end as days_estimated_from_previous_month
    from look_back

),

estimated as (

    select
        *,
        case
            when days_estimated_from_previous_month > 0
                then revenue_amount
                    + previous_revenue_amount / previous_days_in_base * days_estimated_from_previous_month
        end as estimated_revenue_amount,
        case
            when days_estimated_from_previous_month > 0
                then usage_events
                    + cast(previous_usage_events as {{ type_double() }})
                    / previous_days_in_base * days_estimated_from_previous_month
        end as estimated_usage_events,
        case
            when days_estimated_from_previous_month > 0
                then voice_calls
                    + cast(previous_voice_calls as {{ type_double() }})
                    / previous_days_in_base * days_estimated_from_previous_month
        end as estimated_voice_calls,
        case
            when days_estimated_from_previous_month > 0
                then data_sessions
                    + cast(previous_data_sessions as {{ type_double() }})
                    / previous_days_in_base * days_estimated_from_previous_month
        end as estimated_data_sessions,
        case
            when days_estimated_from_previous_month > 0
                then rated_usage_amount
                    + previous_rated_usage_amount / previous_days_in_base * days_estimated_from_previous_month
        end as estimated_rated_usage_amount,
        case
            when days_estimated_from_previous_month > 0
                then voice_rated_amount
                    + previous_voice_rated_amount / previous_days_in_base * days_estimated_from_previous_month
        end as estimated_voice_rated_amount,
        days_in_base + days_estimated_from_previous_month as estimated_days_in_base
    from completion

),

rule_figures as (

    -- the figures the rules read: the estimate for a month in progress, else the fact's
    select
        *,
        case
            when days_estimated_from_previous_month > 0
                then round(estimated_revenue_amount / estimated_days_in_base * days_in_month, 4)
            else reported_arpu
        end as arpu,
        case
            when days_estimated_from_previous_month > 0
                then estimated_usage_events / estimated_days_in_base
            else reported_usage_events_per_day
        end as usage_events_per_day,
        case
            when days_estimated_from_previous_month > 0
                then {{ safe_ratio('estimated_data_sessions', 'estimated_usage_events') }}
            else reported_data_usage_share
        end as data_usage_share,
        case
            when days_estimated_from_previous_month > 0
                then {{ safe_ratio('estimated_voice_calls', 'estimated_usage_events') }}
            else reported_voice_usage_share
        end as voice_usage_share,
        case
            when days_estimated_from_previous_month > 0
                then {{ safe_ratio('estimated_voice_rated_amount', 'estimated_rated_usage_amount') }}
            else reported_voice_revenue_share
        end as voice_revenue_share
    from estimated

),

ranked as (

    -- positions in total orders over the month's base (macro value_rank: ties broken by
    -- md5(subscriber_id), then subscriber_id), so every band below holds exactly its share
    select
        *,
        count(*) over (partition by month_start_date) as base_subscriber_count,
        {{ value_rank('arpu', 'desc') }} as arpu_rank,
        {{ value_rank('usage_events_per_day', 'asc') }} as activity_rank,
        case when payment_type = 'prepaid' and recharge_count > 0 then 1 else 0 end as is_recharging_prepaid
    from rule_figures
    {% if is_incremental() %}
    -- the look-back months were read for their lags only
    where month_start_date >= {{ subscriber_rebuild_from_month() }}
    {% endif %}

),

recharge_ranked as (

    -- prepaid lines that topped up, ordered by their average top-up within the month
    select
        *,
        count(*) over (partition by month_start_date, is_recharging_prepaid) as recharging_subscriber_count,
        {{ value_rank(
            safe_ratio('recharge_amount', 'recharge_count'), 'asc',
            partition_by='month_start_date, is_recharging_prepaid'
        ) }} as recharge_rank
    from ranked

),

rule_inputs as (

    select
        *,
        tenure_months < {{ var('segment_new_max_tenure_months') }} as is_new_customer,
        tenure_months >= {{ var('segment_long_min_tenure_months') }} as is_long_tenure,
        {{ in_percentile_band('arpu_rank', 'base_subscriber_count', var('segment_top_value_share')) }}
            as is_top_value_band,
        -- the bottom band by ARPU is the top band of the reversed order
        {{ in_percentile_band(
            'base_subscriber_count + 1 - arpu_rank', 'base_subscriber_count', var('segment_low_value_share')
        ) }} as is_low_value,
        {{ in_percentile_band('activity_rank', 'base_subscriber_count', var('segment_low_activity_share')) }}
            as is_low_activity,
        is_recharging_prepaid = 1
            and {{ in_percentile_band(
                'recharge_rank', 'recharging_subscriber_count', var('tag_price_sensitive_recharge_share')
            ) }} as is_low_recharge,
        coalesce(data_usage_share, 0) >= {{ var('segment_data_driven_min_data_share') }} as is_data_dominant,
        (
            coalesce(voice_usage_share, 0) >= {{ var('segment_voice_biased_min_voice_share') }}
            and coalesce(data_usage_share, 0) <= {{ var('segment_voice_biased_max_data_share') }}
            -- spend: when anything was rated out of bundle, voice must be most of it
            and coalesce(voice_revenue_share, 1) >= {{ var('segment_voice_biased_min_voice_share') }}
        ) as is_voice_dominant,
        (
            coalesce(voice_usage_share, 0) >= {{ var('transformation_balanced_min_share') }}
            and coalesce(data_usage_share, 0) >= {{ var('transformation_balanced_min_share') }}
        ) as is_balanced_usage,
        products_held >= 2 as is_composite_business,

        -- churn signals, each explainable on its own
        coalesce(
            {%- for months_back in range(1, decline_months + 1) %}
            {%- set later = 'arpu' if months_back == 1 else 'arpu_' ~ (months_back - 1) ~ '_months_back' %}
            {{ later }} < arpu_{{ months_back }}_months_back
            and
            {%- endfor %}
            arpu <= (1 - {{ var('churn_spend_decline_min_total_share') }}) * arpu_{{ decline_months }}_months_back,
            false
        ) as is_spend_declining_signal,
        coalesce(
            previous_usage_events_per_day > 0
            and usage_events_per_day
                <= (1 - {{ var('churn_usage_drop_share') }}) * previous_usage_events_per_day,
            false
        ) as is_usage_drop_signal,
        (
            coalesce(complaints_opened, 0)
            {%- for months_back in range(1, complaint_months) %}
            + coalesce(complaints_{{ months_back }}_months_back, 0)
            {%- endfor %}
        ) >= {{ var('churn_complaints_min_count') }} as is_repeated_complaints_signal,
        coalesce(
            degraded_traffic_share >= {{ var('churn_poor_network_min_share') }},
            false
        ) as is_poor_network_signal,
        coalesce(
            has_broadband
            and broadband_end_date
                <= cast({{ dbt.dateadd('day', var('churn_broadband_expiry_days'), 'period_end_date') }} as date),
            false
        ) as is_broadband_expiring_signal,
        coalesce(is_port_out_requested, false) as is_port_out_signal
    from recharge_ranked

),

rules as (

    select
        *,
        is_long_tenure and is_top_value_band as matches_high_value_long_tenure,
        is_low_value and is_low_activity as matches_low_value_suppressed,
        is_new_customer and is_data_dominant as matches_data_driven_new,
        is_voice_dominant as matches_voice_biased,
        (
            case when is_spend_declining_signal then 1 else 0 end
            + case when is_usage_drop_signal then 1 else 0 end
            + case when is_repeated_complaints_signal then 1 else 0 end
            + case when is_poor_network_signal then 1 else 0 end
            + case when is_broadband_expiring_signal then 1 else 0 end
            + case when is_port_out_signal then 1 else 0 end
        ) as churn_signal_count
    from rule_inputs

),

tagged as (

    select
        *,
        is_low_recharge as is_price_sensitive,
        coalesce(data_gb_full_month >= {{ var('tag_heavy_data_min_gb') }}, false) as is_heavy_data_user,
        (
            account_lines >= {{ var('tag_family_min_lines') }}
            or household_lines >= {{ var('tag_family_min_lines') }}
            or has_broadband
            or is_family_plan
        ) as is_family_need,
        coalesce(age_years >= {{ var('tag_elderly_min_age') }}, false) as is_elderly,
        coalesce(age_years < {{ var('tag_young_max_age') }}, false) as is_young,
        coalesce(
            business_hours_voice_share >= {{ var('tag_business_min_business_hours_share') }}
            and minutes_of_use_full_month >= {{ var('tag_business_min_minutes') }},
            false
        ) as is_business_user,
        coalesce(
            roaming_events >= {{ var('tag_roaming_min_events') }}
            and roaming_event_share >= {{ var('tag_roaming_min_share') }},
            false
        ) as is_roaming_traveller
    from rules

),

classified as (

    select
        *,
        case
            when matches_high_value_long_tenure then 'high_value_long_tenure'
            when matches_low_value_suppressed then 'low_value_suppressed'
            when matches_data_driven_new then 'data_driven_new'
            when matches_voice_biased then 'voice_biased'
            else 'unclassified'
        end as segment,
        case
            when churn_signal_count > 0 then 'warning'
            when tenure_months < {{ var('lifecycle_onboarding_max_tenure_months') }} then 'onboarding'
            when tenure_months < {{ var('lifecycle_introduction_max_tenure_months') }} then 'introduction'
            else 'maturity'
        end as lifecycle_stage,
        {{ dbt.concat([
            "case when is_price_sensitive then 'price_sensitive,' else '' end",
            "case when is_heavy_data_user then 'heavy_data_user,' else '' end",
            "case when is_family_need then 'family_need,' else '' end",
            "case when is_elderly then 'elderly,' else '' end",
            "case when is_young then 'young,' else '' end",
            "case when is_business_user then 'business_user,' else '' end",
            "case when is_low_activity then 'low_activity,' else '' end",
            "case when is_roaming_traveller then 'roaming_traveller,' else '' end"
        ]) }} as tag_list_with_trailing_comma
    from tagged

),

final as (

    select
        cast(subscriber_id as {{ dbt.type_string() }}) as subscriber_id,
        cast(month_start_date as date) as month_start_date,
        cast(period_end_date as date) as period_end_date,
        cast(is_month_complete as {{ dbt.type_boolean() }}) as is_month_complete,

        -- the answers
        cast(segment as {{ dbt.type_string() }}) as segment,
        cast(lifecycle_stage as {{ dbt.type_string() }}) as lifecycle_stage,
        cast(ceil(10.0 * arpu_rank / base_subscriber_count) as {{ dbt.type_int() }}) as arpu_decile,
        cast(is_top_value_band as {{ dbt.type_boolean() }}) as is_top_value_band,
        cast(
            case
                when {{ dbt.length('tag_list_with_trailing_comma') }} > 0
                    then substring(
                        tag_list_with_trailing_comma, 1, {{ dbt.length('tag_list_with_trailing_comma') }} - 1
                    )
            end as {{ dbt.type_string() }}
        ) as profile_tags,

        -- the figures that decided them
        cast(tenure_months as {{ dbt.type_int() }}) as tenure_months,
        cast(days_estimated_from_previous_month as {{ dbt.type_int() }}) as days_estimated_from_previous_month,
        cast(arpu as {{ type_double() }}) as arpu,
        cast(cast(arpu_rank as {{ type_double() }}) / base_subscriber_count as {{ type_double() }})
            as arpu_top_rank_share,
        cast(
            cast(base_subscriber_count + 1 - arpu_rank as {{ type_double() }}) / base_subscriber_count
            as {{ type_double() }}
        ) as arpu_bottom_rank_share,
        cast(usage_events_per_day as {{ type_double() }}) as usage_events_per_day,
        cast(
            cast(activity_rank as {{ type_double() }}) / base_subscriber_count as {{ type_double() }}
        ) as activity_bottom_rank_share,
        cast(data_usage_share as {{ type_double() }}) as data_usage_share,
        cast(voice_usage_share as {{ type_double() }}) as voice_usage_share,
        cast(voice_revenue_share as {{ type_double() }}) as voice_revenue_share,
        cast(age_years as {{ dbt.type_int() }}) as age_years,
        cast(payment_type as {{ dbt.type_string() }}) as payment_type,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(products_held as {{ dbt.type_int() }}) as products_held,

        -- rule flags: every rule that held, whatever the precedence picked
        cast(is_new_customer as {{ dbt.type_boolean() }}) as is_new_customer,
        cast(is_long_tenure as {{ dbt.type_boolean() }}) as is_long_tenure,
        cast(is_low_value as {{ dbt.type_boolean() }}) as is_low_value,
        cast(is_low_activity as {{ dbt.type_boolean() }}) as is_low_activity,
        cast(is_data_dominant as {{ dbt.type_boolean() }}) as is_data_dominant,
        cast(is_voice_dominant as {{ dbt.type_boolean() }}) as is_voice_dominant,
        cast(matches_high_value_long_tenure as {{ dbt.type_boolean() }}) as matches_high_value_long_tenure,
        cast(matches_low_value_suppressed as {{ dbt.type_boolean() }}) as matches_low_value_suppressed,
        cast(matches_data_driven_new as {{ dbt.type_boolean() }}) as matches_data_driven_new,
        cast(matches_voice_biased as {{ dbt.type_boolean() }}) as matches_voice_biased,

        -- transformation states
        cast(is_balanced_usage as {{ dbt.type_boolean() }}) as is_balanced_usage,
        cast(is_composite_business as {{ dbt.type_boolean() }}) as is_composite_business,

        -- churn signals (lifecycle warning)
        cast(is_spend_declining_signal as {{ dbt.type_boolean() }}) as is_spend_declining_signal,
        cast(is_usage_drop_signal as {{ dbt.type_boolean() }}) as is_usage_drop_signal,
        cast(is_repeated_complaints_signal as {{ dbt.type_boolean() }}) as is_repeated_complaints_signal,
        cast(is_poor_network_signal as {{ dbt.type_boolean() }}) as is_poor_network_signal,
        cast(is_broadband_expiring_signal as {{ dbt.type_boolean() }}) as is_broadband_expiring_signal,
        cast(is_port_out_signal as {{ dbt.type_boolean() }}) as is_port_out_signal,
        cast(churn_signal_count as {{ dbt.type_int() }}) as churn_signal_count,

        -- profile tags (low_activity is is_low_activity above)
        cast(is_price_sensitive as {{ dbt.type_boolean() }}) as is_price_sensitive,
        cast(is_heavy_data_user as {{ dbt.type_boolean() }}) as is_heavy_data_user,
        cast(is_family_need as {{ dbt.type_boolean() }}) as is_family_need,
        cast(is_elderly as {{ dbt.type_boolean() }}) as is_elderly,
        cast(is_young as {{ dbt.type_boolean() }}) as is_young,
        cast(is_business_user as {{ dbt.type_boolean() }}) as is_business_user,
        cast(is_roaming_traveller as {{ dbt.type_boolean() }}) as is_roaming_traveller
    from classified

)

select * from final
