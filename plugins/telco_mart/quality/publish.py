"""The publish stage: the metrics the suites of ``expectations/publish/`` judge, before publishing.

Runs after dbt (and after the marts gate) and before the publish task writes the day's
outbox, on the run date's slice of the campaign tables (see :mod:`telco_mart.quality.outputs`).
A ``fail`` here means nothing is published for the date and earlier days' outbox stays as it
was. Every metric is recomputed from the *inputs* of the decision (opt-out feed, contact
history, catalog policy), not read from the decision's own columns, so a bug in the model, a
hand edit of the list or a stale build is caught the same way:

=====================================  ==============================================================
``campaign_targets_daily``
``rows``                               target rows of the day
``opted_out_or_dnd_rows``              rows whose subscriber is opted out or do-not-disturb on the run
                                       date, for the row's channel or for ``all`` (latest preference
                                       per subscriber and channel in stg_marketing__opt_outs with
                                       effective_at before the day after the run date)
``duplicate_contact_rows``             rows sharing subscriber_id and campaign_id, or contact_number
                                       and campaign_id, with another row of the day
``sales_contacts_over_one_rows``       sales rows of subscribers with more than one sales row that day
``over_cap_subscribers``               sales targets whose counted sales contacts + 1 exceed the
                                       policy's caps (stg_campaign_catalog__policies): contacts of
                                       kind sales in int_contacts_unioned in the 7 / 30 days ending
                                       on the run date, the feed's up to and including the run date,
                                       the published ones before it
``invalid_or_missing_contact_rows``    rows whose contact_number is null, empty, not E.164
                                       (``+`` and 7 to 15 digits), or marked unreachable by the CRM
                                       (dim_subscriber.is_contact_number_valid false)
``list_size_ratio``                    the day's list before pacing (campaign_decisions_daily rows
                                       targeted, control, or held back only by cool-down, caps,
                                       arbitration or capacity) / its mean over the days with a list
                                       among the previous ``list_size_window_days`` (null, "not
                                       judged", under ``list_size_min_history_days`` such days or a
                                       mean under ``list_size_min_mean_rows``)
``campaign_decisions_daily``
``rows``                               decision rows of the day
``control_share_off_campaigns``        campaigns whose control / (control + targeted) is more than
                                       ``control_share_tolerance_sd`` binomial standard deviations
                                       (sqrt(h (1 - h) / n)) from their holdout_share h, judged on
                                       ``control_share_min_rows`` targeted + control rows or more
                                       (null, "not judged", when no campaign has that many)
=====================================  ==============================================================

Offending rows (the metrics' ``sample`` queries) never show a contact number: the target
list is PII, ``marts.dq_results`` and the report are not, so a number shows as
``(personal data)`` (the rows name the subscriber and campaign; the invalid-number sample
says what is wrong with the number).
"""

from __future__ import annotations

from telco_mart.quality.outputs import Metric

STAGE = "publish"

#: A contact number the outbox accepts: E.164, a plus and 7 to 15 digits, no leading zero.
E164 = r"\+[1-9][0-9]{6,14}"


def _masked(column: str) -> str:
    """A contact number as a sample may show it: whether there is one, never which (as the
    raw stage masks the contract's personal data)."""
    return f"case when {column} is not null then '(personal data)' end"


def _count_of(sql: str, name: str, doc: str) -> Metric:
    """A metric counting the rows of a query that lists offenders, which is also its sample."""
    return Metric(name, f"select count(*) from ({sql})", sample=sql, doc=doc)


_ROWS = Metric("rows", "select count(*) from {table} where {scope}", doc="rows of the day")

# ---------------------------------------------------------------- opt-outs and do-not-disturb

_OPTED_OUT = """
    with targets as (
        select subscriber_id, campaign_id, campaign_kind, channel from {table} where {scope}
    ),
    versions as (
        select subscriber_id, channel, is_opted_out, is_do_not_disturb, effective_at,
            row_number() over (
                partition by subscriber_id, channel order by effective_at desc, loaded_at desc
            ) as version_rank
        from staging.stg_marketing__opt_outs
        where effective_at < cast($run_date as date) + interval 1 day
            and subscriber_id in (select subscriber_id from targets)
    ),
    preferences as (select * from versions where version_rank = 1)
    select targets.subscriber_id, targets.campaign_id, targets.campaign_kind, targets.channel,
        coalesce(on_channel.is_opted_out, false) or coalesce(on_all.is_opted_out, false) as is_opted_out,
        coalesce(on_channel.is_do_not_disturb, false) or coalesce(on_all.is_do_not_disturb, false)
            as is_do_not_disturb,
        case
            when coalesce(on_channel.is_opted_out, false) or coalesce(on_channel.is_do_not_disturb, false)
                then targets.channel
            else 'all'
        end as preference_channel,
        case
            when coalesce(on_channel.is_opted_out, false) or coalesce(on_channel.is_do_not_disturb, false)
                then on_channel.effective_at
            else on_all.effective_at
        end as effective_at
    from targets
    left join preferences as on_channel
        on targets.subscriber_id = on_channel.subscriber_id and targets.channel = on_channel.channel
    left join preferences as on_all
        on targets.subscriber_id = on_all.subscriber_id and on_all.channel = 'all'
    where coalesce(on_channel.is_opted_out, false) or coalesce(on_channel.is_do_not_disturb, false)
        or coalesce(on_all.is_opted_out, false) or coalesce(on_all.is_do_not_disturb, false)
    order by targets.campaign_id, targets.subscriber_id
"""

# ---------------------------------------------------------------- duplicates

_WITH_GROUP_COUNTS = """
    with day as (
        select subscriber_id, campaign_id, contact_number,
            count(*) over (partition by campaign_id, subscriber_id) as same_subscriber_rows,
            case when nullif(trim(contact_number), '') is not null
                then count(*) over (partition by campaign_id, contact_number)
            end as same_number_rows
        from {table} where {scope}
    )
"""
_DUPLICATES = Metric(
    "duplicate_contact_rows",
    _WITH_GROUP_COUNTS
    + """
    select count(*) filter (where same_subscriber_rows > 1 or same_number_rows > 1),
        count(*) filter (where same_subscriber_rows > 1) as same_subscriber_rows,
        count(*) filter (where same_number_rows > 1) as same_number_rows
    from day
    """,
    sample=_WITH_GROUP_COUNTS
    + f"""
    select campaign_id, 'subscriber_id' as shared, subscriber_id as subscriber_ids,
        max({_masked("contact_number")}) as contact_number, count(*) as rows
    from day where same_subscriber_rows > 1 group by campaign_id, subscriber_id
    union all
    select campaign_id, 'contact_number', string_agg(distinct subscriber_id, ', '), max({_masked("contact_number")}),
        count(*)
    from day where same_number_rows > 1 group by campaign_id, contact_number
    order by rows desc, campaign_id, shared
    """,
    doc="rows sharing subscriber and campaign, or contact number and campaign, with another row",
)

# ---------------------------------------------------------------- one sales contact a day

_SALES_PER_SUBSCRIBER = """
    select subscriber_id, count(*) as sales_rows, string_agg(campaign_id, ', ' order by campaign_id) as campaigns
    from {table} where {scope} and campaign_kind = 'sales'
    group by subscriber_id having count(*) > 1
"""
_SALES_OVER_ONE = Metric(
    "sales_contacts_over_one_rows",
    f"select coalesce(sum(sales_rows), 0), count(*) as subscribers from ({_SALES_PER_SUBSCRIBER})",
    sample=f"{_SALES_PER_SUBSCRIBER} order by sales_rows desc, subscriber_id",
    doc="sales rows of subscribers with more than one sales row that day",
)

# ---------------------------------------------------------------- frequency caps

_OVER_CAP = """
    with sales_targets as (
        select distinct subscriber_id from {table} where {scope} and campaign_kind = 'sales'
    ),
    policy as (
        select max(marketing_cap_7_days) as cap_7_days, max(marketing_cap_30_days) as cap_30_days
        from staging.stg_campaign_catalog__policies
    ),
    counted as (
        select subscriber_id,
            count(*) filter (where contact_date >= cast($run_date as date) - 6) as sales_contacts_7_days,
            count(*) as sales_contacts_30_days
        from intermediate.int_contacts_unioned
        where campaign_kind = 'sales'
            and contact_date between cast($run_date as date) - 29 and cast($run_date as date)
            and (contact_date < cast($run_date as date) or contact_source = 'feed')
            and subscriber_id in (select subscriber_id from sales_targets)
        group by subscriber_id
    )
    select sales_targets.subscriber_id,
        coalesce(counted.sales_contacts_7_days, 0) as sales_contacts_7_days, policy.cap_7_days,
        coalesce(counted.sales_contacts_30_days, 0) as sales_contacts_30_days, policy.cap_30_days
    from sales_targets
    cross join policy
    left join counted on sales_targets.subscriber_id = counted.subscriber_id
    where coalesce(counted.sales_contacts_7_days, 0) + 1 > policy.cap_7_days
        or coalesce(counted.sales_contacts_30_days, 0) + 1 > policy.cap_30_days
    order by sales_contacts_7_days desc, sales_contacts_30_days desc, subscriber_id
"""

# ---------------------------------------------------------------- contact numbers

_INVALID_CONTACT = f"""
    select targets.subscriber_id, targets.campaign_id, {_masked("targets.contact_number")} as contact_number,
        case
            when targets.contact_number is null then 'missing'
            when trim(targets.contact_number) = '' then 'empty'
            when not regexp_full_match(targets.contact_number, '{E164}') then 'not E.164'
            else 'unreachable in the CRM'
        end as problem
    from {{table}} as targets
    left join marts.dim_subscriber as subscribers on targets.subscriber_id = subscribers.subscriber_id
    where {{scope}}
        and (
            targets.contact_number is null
            or not regexp_full_match(targets.contact_number, '{E164}')
            or subscribers.is_contact_number_valid is not distinct from false
        )
    order by targets.campaign_id, targets.subscriber_id
"""

# ---------------------------------------------------------------- list size

#: Suppressions that only pace contacts (spread a list over days), not decide who is addressable.
_PACING_REASONS = "('cooldown', 'frequency_cap', 'lost_arbitration', 'over_capacity')"

# The list is judged before pacing: targeted and control rows plus those held back only by
# cool-down, caps, arbitration or capacity. The published list itself pulses with pacing (a
# launch day sends the whole backlog, the next days only the newly eligible, and the launch
# group's cool-downs end together 30 days later), which no band on it can tell from a broken
# rule; the list before pacing moves only when a rule, a threshold or a feed changes.
_ADDRESSABLE = f"""
    addressable as (
        select campaign_id, decision_date from marts.campaign_decisions_daily
        where decision_date between cast($run_date as date) - $list_size_window_days and cast($run_date as date)
            and (decision_outcome <> 'suppressed' or suppression_reason in {_PACING_REASONS})
    )
"""
_LIST_HISTORY = f"""
    {_ADDRESSABLE},
    history as (
        select decision_date, count(*) as rows from addressable
        where decision_date < cast($run_date as date)
        group by decision_date
    ),
    summary as (select count(*) as days, avg(rows) as mean_rows from history),
    today as (
        select count(*) as rows from addressable where decision_date = cast($run_date as date)
    ),
    published as (select count(*) as rows from {{table}} where {{scope}})
"""
_LIST_SIZE = Metric(
    "list_size_ratio",
    f"""
    with {_LIST_HISTORY}
    select case
            when summary.days >= $list_size_min_history_days and summary.mean_rows >= $list_size_min_mean_rows
                then today.rows / summary.mean_rows
        end,
        today.rows as rows_before_pacing, published.rows as rows_published, summary.days as history_days,
        round(summary.mean_rows, 1) as history_mean_rows,
        case
            when summary.days < $list_size_min_history_days or summary.mean_rows is null
                then summary.days || ' day(s) with a list in the previous ' || $list_size_window_days
                    || ' days, fewer than list_size_min_history_days (' || $list_size_min_history_days || ')'
            when summary.mean_rows < $list_size_min_mean_rows
                then 'a mean of ' || round(summary.mean_rows, 1) || ' rows is below list_size_min_mean_rows ('
                    || $list_size_min_mean_rows || ')'
        end as not_judged
    from today cross join summary cross join published
    """,
    sample=f"""
    with {_ADDRESSABLE},
    days as (
        select count(distinct decision_date) as history_days from addressable
        where decision_date < cast($run_date as date)
    )
    select campaign_id, count(*) filter (where decision_date = $run_date) as rows_today,
        round(count(*) filter (where decision_date < $run_date) / nullif(max(days.history_days), 0), 1)
            as mean_rows_before,
        max(days.history_days) as history_days
    from addressable cross join days
    group by campaign_id
    order by abs(rows_today - coalesce(mean_rows_before, 0)) desc, campaign_id
    """,
    kind="share",
    doc="the day's list before pacing against the mean of the previous days'",
)

# ---------------------------------------------------------------- control share

_CONTROL_SHARES = """
    with campaigns as (
        select campaign_id,
            count(*) filter (where decision_outcome = 'targeted') as targeted,
            count(*) filter (where decision_outcome = 'control') as control,
            max(holdout_share) as holdout_share
        from {table} where {scope}
        group by campaign_id
    ),
    shares as (
        select *, targeted + control as sends,
            control / nullif(targeted + control, 0) as control_share,
            sqrt(holdout_share * (1 - holdout_share) / nullif(targeted + control, 0)) as standard_deviation,
            targeted + control >= $control_share_min_rows as is_judged
        from campaigns
    ),
    judged as (
        select *,
            is_judged and case
                when standard_deviation > 0
                    then abs(control_share - holdout_share) > $control_share_tolerance_sd * standard_deviation
                else control_share is distinct from holdout_share
            end as is_off
        from shares
    )
"""
_CONTROL_SHARE = Metric(
    "control_share_off_campaigns",
    _CONTROL_SHARES
    + """
    select case when count(*) filter (where is_judged) > 0 then count(*) filter (where is_off) end,
        count(*) filter (where is_judged) as campaigns_judged,
        count(*) filter (where not is_judged) as campaigns_not_judged,
        case when count(*) filter (where is_judged) = 0
            then 'no campaign has control_share_min_rows (' || $control_share_min_rows
                || ') targeted and control rows'
        end as not_judged
    from judged
    """,
    sample=_CONTROL_SHARES
    + """
    select campaign_id, targeted, control, round(control_share, 4) as control_share, holdout_share,
        round(abs(control_share - holdout_share) / nullif(standard_deviation, 0), 2) as standard_deviations
    from judged where is_off
    order by standard_deviations desc nulls first, campaign_id
    """,
    doc="campaigns whose control share is off their holdout share",
)


#: The metrics of each campaign table, by data asset: what its publish suite's ``day``
#: expectations can name.
METRICS: dict[str, dict[str, Metric]] = {
    "marts.campaign_targets_daily": {
        m.name: m
        for m in (
            _ROWS,
            _count_of(_OPTED_OUT, "opted_out_or_dnd_rows", "targets opted out or do-not-disturb on the run date"),
            _DUPLICATES,
            _SALES_OVER_ONE,
            _count_of(_OVER_CAP, "over_cap_subscribers", "sales targets whose contacts + 1 exceed the caps"),
            _count_of(_INVALID_CONTACT, "invalid_or_missing_contact_rows", "rows without a usable contact number"),
            _LIST_SIZE,
        )
    },
    "marts.campaign_decisions_daily": {m.name: m for m in (_ROWS, _CONTROL_SHARE)},
}
