{#-
    The campaign audience: one row per subscriber in the base on the decision date, with every
    column a catalog eligibility rule may name (documented in _campaigns__models.yml,
    which the catalog validator reads) and the policy inputs the decisions need.

    Only the decision date is built, so its cost follows the day's base, not history: the
    facts are read for the last campaign_activity_lookback_days (activity, data used this
    cycle, main cell) and the cell KPIs for campaign_repair_lookback_days. The look-back
    must cover the catalog policy's inactive_after_days: a subscriber with no usage in it has
    no days_since_last_activity and counts as inactive.
-#}

{%- set repair_lookback_days = var('campaign_repair_lookback_days') | int %}
{%- set main_cell_window_days = var('campaign_main_cell_window_days') | int %}
{%- set activity_lookback_days = var('campaign_activity_lookback_days') | int %}

with

decision_day as (

    select {{ campaign_decision_date() }} as decision_date

),

daily_facts as (

    select * from {{ ref('fct_subscriber_daily') }}

),

segments as (

    select * from {{ ref('subscriber_segments_monthly') }}

),

products as (

    select * from {{ ref('subscriber_products_monthly') }}

),

subscribers as (

    select * from {{ ref('dim_subscriber') }}

),

plans as (

    select * from {{ ref('dim_plan') }}

),

churn_warnings as (

    select * from {{ ref('churn_warnings_daily') }}

),

complaints as (

    select * from {{ ref('stg_crm__complaints') }}

),

cell_days as (

    select * from {{ ref('kpi_coverage_cell_daily') }}

),

recent_facts as (

    -- the look-back every per-subscriber figure below needs, and no more
    select daily_facts.*
    from daily_facts
    cross join decision_day
    where daily_facts.date_day <= decision_day.decision_date
        and daily_facts.date_day > {{ dbt.dateadd('day', -activity_lookback_days, 'decision_day.decision_date') }}

),

base_on_decision_date as (

    -- read from the look-back, not the whole daily fact: a CTE read twice is materialised
    -- (DuckDB), so the daily fact is read once, already cut to the look-back window
    select
        recent_facts.subscriber_id,
        decision_day.decision_date,
        recent_facts.month_start_date,
        recent_facts.plan_id,
        recent_facts.status
    from recent_facts
    inner join decision_day
        on recent_facts.date_day = decision_day.decision_date
    where recent_facts.is_in_base

),

activity as (

    select
        recent_facts.subscriber_id,
        max(case when recent_facts.usage_events > 0 then recent_facts.date_day end) as last_active_date,
        -- rounded to the feed's precision, so a parallel sum gives the same value on every run
        round(
            sum(
                case when recent_facts.month_start_date = base.month_start_date then recent_facts.data_mb else 0 end
            ),
            3
        ) as data_used_mb_cycle
    from recent_facts
    inner join base_on_decision_date as base
        on recent_facts.subscriber_id = base.subscriber_id
    group by recent_facts.subscriber_id

),

main_cell_counts as (

    -- the cell that served the subscriber on most days of the window
    select
        recent_facts.subscriber_id,
        recent_facts.main_cell_id,
        count(*) as days_served
    from recent_facts
    cross join decision_day
    where recent_facts.main_cell_id is not null
        and recent_facts.date_day > {{ dbt.dateadd('day', -main_cell_window_days, 'decision_day.decision_date') }}
    group by recent_facts.subscriber_id, recent_facts.main_cell_id

),

main_cells as (

    select
        subscriber_id,
        main_cell_id
    from (
        select
            subscriber_id,
            main_cell_id,
            row_number() over (partition by subscriber_id order by days_served desc, main_cell_id asc) as cell_rank
        from main_cell_counts
    ) as ranked
    where cell_rank = 1

),

cell_repairs as (

    -- a cell degraded within the look-back but not on the decision date was repaired the
    -- day after its last degraded day
    select
        cell_days.cell_id,
        max(case when cell_days.is_degraded then cell_days.kpi_date end) as last_degraded_date,
        max(case when cell_days.kpi_date = decision_day.decision_date and cell_days.is_degraded then 1 else 0 end)
            as is_degraded_on_decision_date
    from cell_days
    cross join decision_day
    where cell_days.kpi_date <= decision_day.decision_date
        and cell_days.kpi_date > {{ dbt.dateadd('day', -repair_lookback_days, 'decision_day.decision_date') }}
    group by cell_days.cell_id

),

complaint_versions as (

    -- each ticket as last known on the decision date
    select
        complaints.*,
        row_number() over (
            partition by complaints.complaint_id order by complaints.updated_at desc, complaints.delivery_date desc
        ) as version_rank
    from complaints
    cross join decision_day
    where complaints.delivery_date <= decision_day.decision_date
        and complaints.opened_at < {{ dbt.dateadd('day', 1, 'decision_day.decision_date') }}

),

complaint_counts as (

    select
        complaint_versions.subscriber_id,
        sum(case when complaint_versions.status in ('open', 'in_progress') then 1 else 0 end) as open_complaints,
        sum(
            case
                when complaint_versions.opened_at >= {{ dbt.dateadd('day', -29, 'decision_day.decision_date') }}
                    then 1
                else 0
            end
        ) as complaints_last_30_days
    from complaint_versions
    cross join decision_day
    where complaint_versions.version_rank = 1
    group by complaint_versions.subscriber_id

),

joined as (

    select
        base.subscriber_id,
        base.decision_date,

        -- who and where
        base.status,
        subscribers.payment_type,
        subscribers.region,
        base.plan_id,
        plans.plan_category,
        -- unknown is not false: the CRM's validation, when it made one; otherwise the var
        -- contact_number_unknown_is_contactable decides (default: a number in E.164 form is)
        case
            when subscribers.is_contact_number_valid is not null then subscribers.is_contact_number_valid
            when {{ var('contact_number_unknown_is_contactable') }} then {{ is_e164('subscribers.msisdn') }}
            else false
        end as has_valid_contact_number,
        segments.tenure_months,
        segments.age_years,

        -- segment, lifecycle, tags (the month of the decision date, refreshed daily)
        coalesce(segments.segment, 'unclassified') as segment,
        coalesce(segments.lifecycle_stage, 'onboarding') as lifecycle_stage,
        segments.arpu_decile,
        coalesce(segments.is_top_value_band, false) as is_top_value_band,
        coalesce(segments.is_price_sensitive, false) as is_price_sensitive,
        coalesce(segments.is_heavy_data_user, false) as is_heavy_data_user,
        coalesce(segments.is_family_need, false) as is_family_need,
        coalesce(segments.is_elderly, false) as is_elderly,
        coalesce(segments.is_young, false) as is_young,
        coalesce(segments.is_business_user, false) as is_business_user,
        coalesce(segments.is_low_activity, false) as is_low_activity,
        coalesce(segments.is_roaming_traveller, false) as is_roaming_traveller,

        -- churn warning of the day
        churn_warnings.subscriber_id is not null as is_churn_warned,
        coalesce(churn_warnings.risk_score, 0) as churn_risk_score,
        churn_warnings.reason_codes as churn_reason_codes,

        -- products held (the month of the decision date, as of its latest day)
        coalesce(products.holds_broadband, false) as holds_broadband,
        coalesce(products.holds_family_plan, false) as holds_family_plan,
        coalesce(products.holds_video_membership, false) as holds_video_membership,
        coalesce(products.holds_cloud_storage, false) as holds_cloud_storage,
        coalesce(products.holds_music_streaming, false) as holds_music_streaming,
        coalesce(products.holds_content_pack, false) as holds_content_pack,
        coalesce(products.holds_family_number, false) as holds_family_number,
        coalesce(products.holds_data_pack_night, false) as holds_data_pack_night,
        coalesce(products.holds_data_pack_weekend, false) as holds_data_pack_weekend,
        coalesce(products.holds_data_pack_addon, false) as holds_data_pack_addon,
        coalesce(products.holds_data_pack, false) as holds_data_pack,
        coalesce(products.products_held, 1) as products_held,
        case
            when products.broadband_end_date is not null
                then {{ dbt.datediff('base.decision_date', 'products.broadband_end_date', 'day') }}
        end as broadband_days_to_expiry,

        -- plan term: the next anniversary of the activation at a multiple of the term
        subscribers.activation_date,
        plans.plan_term_months,

        -- usage this billing cycle (calendar month)
        extract(day from base.decision_date) as cycle_day,
        coalesce(activity.data_used_mb_cycle, 0) as data_used_mb_cycle,
        plans.data_allowance_mb,
        {{ safe_ratio('coalesce(activity.data_used_mb_cycle, 0)', 'plans.data_allowance_mb') }}
            as data_used_share_of_allowance,
        case
            when activity.last_active_date is not null
                then {{ dbt.datediff('activity.last_active_date', 'base.decision_date', 'day') }}
        end as days_since_last_activity,

        -- service
        coalesce(complaint_counts.open_complaints, 0) as open_complaints,
        coalesce(complaint_counts.complaints_last_30_days, 0) as complaints_last_30_days,
        main_cells.main_cell_id,
        case
            when cell_repairs.last_degraded_date is not null and cell_repairs.is_degraded_on_decision_date = 0
                then {{ dbt.datediff('cell_repairs.last_degraded_date', 'base.decision_date', 'day') }} - 1
        end as days_since_main_cell_repaired

    from base_on_decision_date as base
    left join subscribers
        on base.subscriber_id = subscribers.subscriber_id
    left join plans
        on base.plan_id = plans.plan_id
    left join segments
        on base.subscriber_id = segments.subscriber_id
        and base.month_start_date = segments.month_start_date
    left join products
        on base.subscriber_id = products.subscriber_id
        and base.month_start_date = products.month_start_date
    left join churn_warnings
        on base.subscriber_id = churn_warnings.subscriber_id
        and base.decision_date = churn_warnings.date_day
    left join activity
        on base.subscriber_id = activity.subscriber_id
    left join complaint_counts
        on base.subscriber_id = complaint_counts.subscriber_id
    left join main_cells
        on base.subscriber_id = main_cells.subscriber_id
    left join cell_repairs
        on main_cells.main_cell_id = cell_repairs.cell_id

),

plan_terms as (

    select
        *,
        case
            when plan_term_months > 0 and activation_date is not null
                -- parenthesised: dbt-spark's month datediff is a sum of two terms
                then cast(floor(
                    ({{ dbt.datediff('activation_date', 'decision_date', 'month') }}) / plan_term_months
                ) as {{ dbt.type_int() }}) * plan_term_months
        end as months_to_last_term_start
    from joined

),

plan_term_ends as (

    select
        *,
        case
            when months_to_last_term_start is null then null
            when {{ dbt.dateadd('month', 'months_to_last_term_start', 'activation_date') }} >= decision_date
                then {{ dbt.dateadd('month', 'months_to_last_term_start', 'activation_date') }}
            else {{ dbt.dateadd('month', 'months_to_last_term_start + plan_term_months', 'activation_date') }}
        end as plan_term_end_date
    from plan_terms

),

final as (

    select
        cast(subscriber_id as {{ dbt.type_string() }}) as subscriber_id,
        cast(decision_date as date) as decision_date,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(payment_type as {{ dbt.type_string() }}) as payment_type,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,
        cast(plan_category as {{ dbt.type_string() }}) as plan_category,
        cast(has_valid_contact_number as {{ dbt.type_boolean() }}) as has_valid_contact_number,
        cast(tenure_months as {{ dbt.type_int() }}) as tenure_months,
        cast(age_years as {{ dbt.type_int() }}) as age_years,
        cast(segment as {{ dbt.type_string() }}) as segment,
        cast(lifecycle_stage as {{ dbt.type_string() }}) as lifecycle_stage,
        cast(arpu_decile as {{ dbt.type_int() }}) as arpu_decile,
        cast(is_top_value_band as {{ dbt.type_boolean() }}) as is_top_value_band,
        cast(is_price_sensitive as {{ dbt.type_boolean() }}) as is_price_sensitive,
        cast(is_heavy_data_user as {{ dbt.type_boolean() }}) as is_heavy_data_user,
        cast(is_family_need as {{ dbt.type_boolean() }}) as is_family_need,
        cast(is_elderly as {{ dbt.type_boolean() }}) as is_elderly,
        cast(is_young as {{ dbt.type_boolean() }}) as is_young,
        cast(is_business_user as {{ dbt.type_boolean() }}) as is_business_user,
        cast(is_low_activity as {{ dbt.type_boolean() }}) as is_low_activity,
        cast(is_roaming_traveller as {{ dbt.type_boolean() }}) as is_roaming_traveller,
        cast(is_churn_warned as {{ dbt.type_boolean() }}) as is_churn_warned,
        cast(churn_risk_score as {{ dbt.type_int() }}) as churn_risk_score,
        cast(churn_reason_codes as {{ dbt.type_string() }}) as churn_reason_codes,
        cast(holds_broadband as {{ dbt.type_boolean() }}) as holds_broadband,
        cast(holds_family_plan as {{ dbt.type_boolean() }}) as holds_family_plan,
        cast(holds_video_membership as {{ dbt.type_boolean() }}) as holds_video_membership,
        cast(holds_cloud_storage as {{ dbt.type_boolean() }}) as holds_cloud_storage,
        cast(holds_music_streaming as {{ dbt.type_boolean() }}) as holds_music_streaming,
        cast(holds_content_pack as {{ dbt.type_boolean() }}) as holds_content_pack,
        cast(holds_family_number as {{ dbt.type_boolean() }}) as holds_family_number,
        cast(holds_data_pack_night as {{ dbt.type_boolean() }}) as holds_data_pack_night,
        cast(holds_data_pack_weekend as {{ dbt.type_boolean() }}) as holds_data_pack_weekend,
        cast(holds_data_pack_addon as {{ dbt.type_boolean() }}) as holds_data_pack_addon,
        cast(holds_data_pack as {{ dbt.type_boolean() }}) as holds_data_pack,
        cast(products_held as {{ dbt.type_int() }}) as products_held,
        cast(broadband_days_to_expiry as {{ dbt.type_int() }}) as broadband_days_to_expiry,
        cast(
            case
                when plan_term_end_date is not null
                    then {{ dbt.datediff('decision_date', 'plan_term_end_date', 'day') }}
            end as {{ dbt.type_int() }}
        ) as plan_days_to_term_end,
        cast(cycle_day as {{ dbt.type_int() }}) as cycle_day,
        cast(data_used_mb_cycle as {{ type_double() }}) as data_used_mb_cycle,
        cast(data_allowance_mb as {{ type_double() }}) as data_allowance_mb,
        cast(data_used_share_of_allowance as {{ type_double() }}) as data_used_share_of_allowance,
        cast(days_since_last_activity as {{ dbt.type_int() }}) as days_since_last_activity,
        cast(open_complaints as {{ dbt.type_int() }}) as open_complaints,
        cast(complaints_last_30_days as {{ dbt.type_int() }}) as complaints_last_30_days,
        cast(main_cell_id as {{ dbt.type_string() }}) as main_cell_id,
        cast(days_since_main_cell_repaired as {{ dbt.type_int() }}) as days_since_main_cell_repaired
    from plan_term_ends

)

select * from final
