"""The publish stage: the metrics the suites of ``expectations/publish/`` judge, before publishing.

Runs after dbt (and after the marts gate) and before the publish task writes the day's
outbox, on the run date's slice of the campaign tables (see :mod:`telco_mart.quality.outputs`).
A ``fail`` here means nothing is published for the date and earlier days' outbox stays as it
was.

The contact policy is checked *independently* of the decisions: every policy metric is
recomputed from the raw tables (``raw.opt_outs``, ``raw.contact_history``, ``raw.complaints``,
``raw.subscribers``, ``raw.usage_events``, the catalog as loaded in ``raw.campaigns`` and
``raw.campaign_policy``) and from the outbox itself (every published day's lists within reach
of the longest cool-down, read from the CSV files, :func:`prepare_publish_inputs`), never from
the staging, intermediate or decision models whose logic made the lists. A bug in the model,
a hand edit of a list or a stale build is caught the same way. Caps and cool-downs count
contacts on either side of the day (a reissued old day meets the days published after it).

=====================================  ==============================================================
``campaign_targets_daily``
``rows``                               target rows of the day
``opted_out_or_dnd_rows``              rows whose subscriber is opted out or do-not-disturb on the run
                                       date, for the row's channel or for ``all``: the latest
                                       preference per subscriber and channel in raw.opt_outs effective
                                       before the day after (of two equally recent, the stricter)
``duplicate_contact_rows``             rows sharing subscriber_id and campaign_id, or contact_number
                                       and campaign_id, with another row of the day
``sales_contacts_over_one_rows``       sales rows of subscribers with more than one sales row that day
``channel_contacts_over_one_rows``     rows of subscribers with more than one row on one channel that
                                       day, when the policy's one_contact_per_channel_per_day holds
``over_cap_subscribers``               sales targets for which some 7 (30) day window holding the run
                                       date would exceed marketing_cap_7_days (_30_days) with this
                                       contact: sales contacts of the contact history feed and of the
                                       outbox's other days, one per subscriber, campaign and day
``cooldown_rows``                      rows whose subscriber was contacted by the same campaign (feed
                                       or outbox, any other day, or the feed on the day) fewer than the
                                       campaign's cooldown_days before or after the run date
``open_complaint_rows``                sales rows of subscribers with a complaint open or in progress
                                       on the run date (latest version per ticket in raw.complaints)
``inactive_rows``                      rows of subscribers not ``active`` on the run date (latest
                                       raw.subscribers version) or without a usage record in the
                                       policy's inactive_after_days up to it (raw.usage_events)
``invalid_or_missing_contact_rows``    rows whose contact_number is null, empty, not E.164
                                       (``+`` and 7 to 15 digits), or marked unreachable by the CRM
                                       (latest raw.subscribers version's contact_number_valid false)
``governing_feeds_incomplete``         feeds that govern contact (opt-outs, contact history, CRM) with
                                       a due delivery date up to the run date that has no loaded file
                                       and no declaration (``telco-mart deliveries declare-empty``)
``unsettled_earlier_days``             days since the last published day before the run date whose
                                       raw gate failed or whose build never passed the marts gate,
                                       and that nobody waived (``telco-mart days waive``)
``empty_lists_despite_audience``       1 when no row of the day is targeted or control while at least
                                       ``empty_list_min_suppressed`` decisions were suppressed for
                                       contactability (invalid number, inactive, opted out, DND): a
                                       rule or a feed turned everyone away
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

import datetime as dt
import json
from pathlib import Path

import duckdb

from telco_mart.contract import Contract, load_contract
from telco_mart.ledger import missing_deliveries
from telco_mart.quality.outputs import Metric

STAGE = "publish"

#: The temp tables :func:`prepare_publish_inputs` stages for the metrics.
OUTBOX_HISTORY = "outbox_history"
GOVERNING_FEED_GAPS = "governing_feed_gaps"

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
        select subscriber_id, channel, opted_out as is_opted_out, do_not_disturb as is_do_not_disturb, effective_at,
            row_number() over (
                partition by subscriber_id, channel
                order by effective_at desc, (opted_out or do_not_disturb) desc
            ) as version_rank
        from raw.opt_outs
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

# ---------------------------------------------------------------- one contact per channel a day

_CHANNEL_PER_SUBSCRIBER = """
    select subscriber_id, channel, count(*) as channel_rows,
        string_agg(campaign_id, ', ' order by campaign_id) as campaigns
    from {table} where {scope}
        and (select bool_or(one_contact_per_channel_per_day) from raw.campaign_policy)
    group by subscriber_id, channel having count(*) > 1
"""
_CHANNEL_OVER_ONE = Metric(
    "channel_contacts_over_one_rows",
    f"select coalesce(sum(channel_rows), 0), count(*) as subscriber_channels from ({_CHANNEL_PER_SUBSCRIBER})",
    sample=f"{_CHANNEL_PER_SUBSCRIBER} order by channel_rows desc, subscriber_id, channel",
    doc="rows of subscribers with more than one row on a channel that day (one contact per channel a day)",
)

# ---------------------------------------------------------------- contacts counted: the feed and the outbox

#: Every contact within a year either side of the run date: the contact history feed's (the
#: run date included: the operator's systems contact too) and the outbox's other days', once
#: per subscriber, campaign and day, with the campaign's kind (the catalog's for the outbox).
_CONTACTS = """
    contacts as (
        select distinct subscriber_id, campaign_id, campaign_kind, contact_date from (
            select subscriber_id, campaign_id, campaign_kind, cast(contacted_at as date) as contact_date
            from raw.contact_history
            where subscriber_id in (select subscriber_id from targets)
                and contacted_at >= cast($run_date as date) - interval 365 day
                and contacted_at < cast($run_date as date) + interval 366 day
            union all
            select outbox.subscriber_id, outbox.campaign_id, campaigns.campaign_kind, outbox.contact_date
            from outbox_history as outbox
            left join raw.campaigns as campaigns on outbox.campaign_id = campaigns.campaign_id
            where outbox.subscriber_id in (select subscriber_id from targets)
        )
    )
"""

# ---------------------------------------------------------------- frequency caps

_OVER_CAP = f"""
    with targets as (
        select distinct subscriber_id from {{table}} where {{scope}} and campaign_kind = 'sales'
    ),
    policy as (
        select max(marketing_cap_7_days) as cap_7_days, max(marketing_cap_30_days) as cap_30_days
        from raw.campaign_policy
    ),
    {_CONTACTS},
    offsets as (select cast(unnest(range(0, 30)) as integer) as k),
    per_window as (
        -- each 7 (30) day window that holds the run date, by the offset k of its last day
        select targets.subscriber_id, offsets.k,
            count(sales.contact_date) filter (
                where offsets.k < 7 and sales.contact_date >= cast($run_date as date) - 6 + offsets.k
                    and sales.contact_date <= cast($run_date as date) + offsets.k
            ) as in_7_days,
            count(sales.contact_date) filter (
                where sales.contact_date >= cast($run_date as date) - 29 + offsets.k
                    and sales.contact_date <= cast($run_date as date) + offsets.k
            ) as in_30_days
        from targets
        cross join offsets
        left join contacts as sales
            on sales.subscriber_id = targets.subscriber_id and sales.campaign_kind = 'sales'
            and sales.contact_date between cast($run_date as date) - 29 and cast($run_date as date) + 29
        group by targets.subscriber_id, offsets.k
    ),
    windows as (
        select subscriber_id, max(in_7_days) as sales_contacts_7_days, max(in_30_days) as sales_contacts_30_days
        from per_window group by subscriber_id
    )
    select windows.subscriber_id, windows.sales_contacts_7_days, policy.cap_7_days,
        windows.sales_contacts_30_days, policy.cap_30_days
    from windows cross join policy
    where windows.sales_contacts_7_days + 1 > policy.cap_7_days
        or windows.sales_contacts_30_days + 1 > policy.cap_30_days
    order by windows.sales_contacts_7_days desc, windows.sales_contacts_30_days desc, windows.subscriber_id
"""

# ---------------------------------------------------------------- cool-downs

_COOLDOWN = f"""
    with targets as (
        select subscriber_id, campaign_id from {{table}} where {{scope}}
    ),
    {_CONTACTS}
    select targets.subscriber_id, targets.campaign_id, campaigns.cooldown_days,
        min(contacts.contact_date) as first_touch, max(contacts.contact_date) as last_touch
    from targets
    inner join raw.campaigns as campaigns on targets.campaign_id = campaigns.campaign_id
    inner join contacts
        on contacts.subscriber_id = targets.subscriber_id and contacts.campaign_id = targets.campaign_id
    where abs(contacts.contact_date - cast($run_date as date)) < campaigns.cooldown_days
    group by all
    order by targets.campaign_id, targets.subscriber_id
"""

# ---------------------------------------------------------------- open complaints

_OPEN_COMPLAINT = """
    with targets as (
        select subscriber_id, campaign_id from {table} where {scope} and campaign_kind = 'sales'
    ),
    versions as (
        select complaint_id, subscriber_id, status, opened_at,
            row_number() over (partition by complaint_id order by updated_at desc, _delivery_date desc) as version_rank
        from raw.complaints
        where _delivery_date <= cast($run_date as date)
            and opened_at < cast($run_date as date) + interval 1 day
            and subscriber_id in (select subscriber_id from targets)
    )
    select targets.subscriber_id, targets.campaign_id, count(*) as open_complaints, min(versions.opened_at) as opened_at
    from targets
    inner join versions on versions.subscriber_id = targets.subscriber_id
    where versions.version_rank = 1 and versions.status in ('open', 'in_progress')
    group by all
    order by targets.campaign_id, targets.subscriber_id
"""

# ---------------------------------------------------------------- inactive or churned

_INACTIVE = """
    with targets as (
        select subscriber_id, campaign_id from {table} where {scope}
    ),
    policy as (select max(inactive_after_days) as inactive_after_days from raw.campaign_policy),
    crm as (
        select subscriber_id, status,
            row_number() over (partition by subscriber_id order by updated_at desc, _delivery_date desc) as version_rank
        from raw.subscribers
        where _delivery_date <= cast($run_date as date)
            and subscriber_id in (select subscriber_id from targets)
    ),
    active_recently as (
        -- a usage record dated within the policy's window; a record is delivered on its day or
        -- later, so the delivery dates before the window hold none of them
        select distinct usage.subscriber_id
        from raw.usage_events as usage cross join policy
        where usage._delivery_date between cast($run_date as date) - policy.inactive_after_days
                and cast($run_date as date)
            and usage.event_ts >= cast($run_date as date) - policy.inactive_after_days * interval 1 day
            and usage.event_ts < cast($run_date as date) + interval 1 day
            and usage.subscriber_id in (select subscriber_id from targets)
    )
    select targets.subscriber_id, targets.campaign_id, crm.status,
        active_recently.subscriber_id is not null as used_the_network_recently
    from targets
    left join crm on crm.subscriber_id = targets.subscriber_id and crm.version_rank = 1
    left join active_recently on active_recently.subscriber_id = targets.subscriber_id
    where crm.status is distinct from 'active' or active_recently.subscriber_id is null
    order by targets.campaign_id, targets.subscriber_id
"""

# ---------------------------------------------------------------- contact numbers

_INVALID_CONTACT = f"""
    with crm as (
        select subscriber_id, contact_number_valid,
            row_number() over (partition by subscriber_id order by updated_at desc, _delivery_date desc) as version_rank
        from raw.subscribers
        where _delivery_date <= cast($run_date as date)
            and subscriber_id in (select subscriber_id from {{table}} where {{scope}})
    )
    select targets.subscriber_id, targets.campaign_id, {_masked("targets.contact_number")} as contact_number,
        case
            when targets.contact_number is null then 'missing'
            when trim(targets.contact_number) = '' then 'empty'
            when not regexp_full_match(targets.contact_number, '{E164}') then 'not E.164'
            else 'unreachable in the CRM'
        end as problem
    from {{table}} as targets
    left join crm on targets.subscriber_id = crm.subscriber_id and crm.version_rank = 1
    where {{scope}}
        and (
            targets.contact_number is null
            or not regexp_full_match(targets.contact_number, '{E164}')
            or crm.contact_number_valid is not distinct from false
        )
    order by targets.campaign_id, targets.subscriber_id
"""

# ---------------------------------------------------------------- consent data complete, days in order

_CONSENT_GAPS = Metric(
    "governing_feeds_incomplete",
    "select count(distinct feed), count(*) as missing_delivery_dates from governing_feed_gaps",
    sample="""
    select feed, count(*) as missing_delivery_dates, min(delivery_date) as first_missing,
        max(delivery_date) as last_missing,
        string_agg(cast(delivery_date as varchar), ', ' order by delivery_date) as dates
    from governing_feed_gaps group by feed order by feed
    """,
    doc="feeds governing contact that are not complete up to the run date",
)

_UNSETTLED = """
    select status.day, status.status, status.note
    from raw.day_status as status
    where status.day < cast($run_date as date)
        and status.status <> 'built'
        and status.day > coalesce(
            (select max(publish_date) from raw.published_days
             where status = 'published' and publish_date < cast($run_date as date)),
            date '0001-01-01'
        )
        and status.day not in (select day from raw.day_waivers)
    order by status.day
"""

# ---------------------------------------------------------------- every list empty

#: Suppressions that say a subscriber may not be contacted at all (not pacing, not product).
_CONTACTABILITY_REASONS = "('invalid_contact_number', 'inactive_or_churned', 'opted_out', 'do_not_disturb')"
_EMPTY_LISTS = Metric(
    "empty_lists_despite_audience",
    f"""
    with day as (
        select count(*) filter (where decision_outcome in ('targeted', 'control')) as sent_or_control,
            count(*) filter (where suppression_reason in {_CONTACTABILITY_REASONS}) as turned_away
        from marts.campaign_decisions_daily where decision_date = cast($run_date as date)
    )
    select case when sent_or_control = 0 and turned_away >= $empty_list_min_suppressed then 1 else 0 end,
        sent_or_control, turned_away
    from day
    """,
    sample=f"""
    select suppression_reason, count(*) as decisions from marts.campaign_decisions_daily
    where decision_date = cast($run_date as date) and suppression_reason in {_CONTACTABILITY_REASONS}
    group by suppression_reason order by decisions desc
    """,
    doc="no list has a target or control while the audience was turned away for contactability",
)

# ---------------------------------------------------------------- list size

#: Suppressions that only pace contacts (spread a list over days), not decide who is addressable.
PACING_REASONS = ("cooldown", "frequency_cap", "lost_arbitration", "channel_taken", "over_capacity")
_PACING_REASONS = "(" + ", ".join(f"'{reason}'" for reason in PACING_REASONS) + ")"

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
            _CHANNEL_OVER_ONE,
            _count_of(_OVER_CAP, "over_cap_subscribers", "sales targets whose contacts + 1 exceed the caps"),
            _count_of(_COOLDOWN, "cooldown_rows", "targets contacted by the campaign within its cool-down"),
            _count_of(_OPEN_COMPLAINT, "open_complaint_rows", "sales targets with an open complaint"),
            _count_of(_INACTIVE, "inactive_rows", "targets not active or without recent usage"),
            _count_of(_INVALID_CONTACT, "invalid_or_missing_contact_rows", "rows without a usable contact number"),
            _CONSENT_GAPS,
            _count_of(_UNSETTLED, "unsettled_earlier_days", "earlier days not built and not waived"),
            _EMPTY_LISTS,
            _LIST_SIZE,
        )
    },
    "marts.campaign_decisions_daily": {m.name: m for m in (_ROWS, _CONTROL_SHARE)},
}


def prepare_publish_inputs(
    con: duckdb.DuckDBPyConnection, outbox: Path | None, run_date: dt.date, contract: Contract | None = None
) -> None:
    """Stage what the metrics read besides tables: the outbox's published lists of the other
    days within reach of the longest cool-down (``outbox_history``), and the due deliveries of
    the feeds that govern contact that are missing up to the run date (``governing_feed_gaps``)."""
    reach = max(
        365,
        *(row[0] or 0 for row in con.execute("select max(cooldown_days) from raw.campaigns").fetchall()),
    )
    files = []
    for folder in sorted(outbox.glob("????-??-??")) if outbox and outbox.is_dir() else []:
        try:
            day = dt.date.fromisoformat(folder.name)
        except ValueError:
            continue
        if day == run_date or abs((day - run_date).days) > reach or not (folder / "_SUCCESS").exists():
            continue
        manifest = json.loads((folder / "manifest.json").read_text())
        files += [(day, folder / entry["name"]) for entry in manifest["files"]]
    con.execute(
        f"create or replace temp table {OUTBOX_HISTORY} "
        "(contact_date date, subscriber_id varchar, campaign_id varchar, channel varchar)"
    )
    if files:
        con.execute("create or replace temp table _outbox_files (filename varchar, contact_date date)")
        con.executemany("insert into _outbox_files values (?, ?)", [(str(path), day) for day, path in files])
        con.execute(
            f"""
            insert into {OUTBOX_HISTORY}
            select f.contact_date, lists.subscriber_id, lists.campaign_id, lists.channel
            from read_csv(?, header = true, all_varchar = true, filename = true, union_by_name = true) as lists
            inner join _outbox_files as f on f.filename = lists.filename
            where lists.subscriber_id is not null
            """,
            [[str(path) for _, path in files]],
        )
    gaps = missing_deliveries(con, run_date, contract or load_contract())
    con.execute(f"create or replace temp table {GOVERNING_FEED_GAPS} (feed varchar, delivery_date date)")
    rows = [(feed, day) for feed, days in gaps.items() for day in days]
    if rows:
        con.executemany(f"insert into {GOVERNING_FEED_GAPS} values (?, ?)", rows)
