{#-
    Percentile bands that hold exactly their share of the base, however many subscribers tie.

    A band read off a rank where ties share one rank (cume_dist, rank) grows or shrinks with
    the ties at its edge: on a base whose revenue is a handful of flat plan fees, the "top
    20 %" by ARPU held 13.7 % of it. So every band is cut from a total order instead:

      value_rank('arpu', 'desc')  ->  row_number() over (partition by month_start_date
                                      order by arpu desc nulls last, md5(subscriber_id), subscriber_id)
      in_percentile_band('arpu_rank', 'base_subscriber_count', var('segment_top_value_share'))
                                  ->  arpu_rank <= 0.2 * base_subscriber_count

    The tie-break is the MD5 of the subscriber id (dbt.hash, the same hex text on every
    engine), then the id itself: deterministic across runs, days and engines; the same for a
    subscriber every month, so a subscriber on a tied edge stays on the same side of it from
    one month to the next; and not correlated with the id's order (ids follow activation, so
    the id alone would favour old or new lines). A band is the first floor(share x base)
    positions: its size is the configured share of the base, less under one subscriber. The
    share is rendered as a literal (a decimal on DuckDB and Spark), so 0.7 x 10 is exactly 7.
    A bottom band is a top band of the reversed order (position base + 1 - rank), so a top
    and a bottom band of one value never overlap while their shares sum to at most 1.
-#}
{% macro value_rank(value, direction='desc', partition_by='month_start_date', id='subscriber_id') -%}
    row_number() over (
        partition by {{ partition_by }}
        order by {{ value }} {{ direction }} nulls last, {{ dbt.hash(id) }}, {{ id }}
    )
{%- endmacro %}

{% macro in_percentile_band(position, base_count, share) -%}
    ({{ position }} <= {{ share }} * {{ base_count }})
{%- endmacro %}
