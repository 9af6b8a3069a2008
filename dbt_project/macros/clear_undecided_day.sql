{#-
    A pre-hook of the campaign models that are incremental by decision_date: empty the run
    date's rows before the day is replaced, unless the day is published.

    delete+insert deletes only the days its new rows hold: a rerun (or a reissue) whose day now
    decides nothing (every campaign ended, say) would leave the earlier run's rows standing, and
    publish would send a stale list. A published day is history and keeps its rows.
-#}
{% macro clear_undecided_day() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where decision_date = {{ campaign_decision_date() }}
            and {{ campaign_decision_date() }} not in (
                select publish_date from {{ ref('stg_outbox__published_days') }}
            )
    {%- endif -%}
{%- endmacro %}
