{#-
    The key test of an event feed stored as Parquet: relies on ingestion's proof instead of
    hashing every key of the day a second time.

    Why it may rely on it: ingestion loads a row only after its duplicate-key check, which
    hashes the file's keys (a key twice in the file is quarantined as duplicate_key) and
    checks them against every file already listed for the same delivery date; a quarantined
    row replayed later is checked against the whole partition. Each stored file records that
    check in `raw.stored_files.keys_proven`, in the transaction that lists it. A partition
    whose files are all proven therefore holds each key once: every pair of its files was
    checked when the later of the two was listed. A file stored any other way (a hand edit,
    rows moved from an older warehouse before an upgrade proved them) is null, and one found
    with a repeated key is false; both fail this test.

    It fails, per delivery date in the run's scope (macros/get_where_subquery.sql):
      - for any listed file of the feed that is not proven;
      - when the model's rows differ from the rows the listed files hold, so the model reads
        exactly the proven files (a filter, a join or another feed in staging would show).
    Reads the registry and counts rows: the cost does not grow with the keys.

    Usage (column level, on the feed's contract key; `feed` is the raw feed):
        data_tests:
          - unique_as_proven_at_ingest:
              arguments:
                feed: usage_events
-#}
{% test unique_as_proven_at_ingest(model, column_name, feed) %}

{%- if execute -%}
    {%- set raw_tables = graph.sources.values() | selectattr('schema', 'equalto', 'raw')
        | selectattr('name', 'equalto', feed) | list -%}
    {%- set contract_key = (raw_tables[0].meta.contract_key if raw_tables else none) -%}
    {%- if contract_key != [column_name] -%}
        {{ exceptions.raise_compiler_error(
            "unique_as_proven_at_ingest on " ~ column_name ~ ": ingestion proves the contract key of raw feed '"
            ~ feed ~ "' (" ~ contract_key ~ "), not this column") }}
    {%- endif -%}
{%- endif -%}
{%- set scope = incremental_test_scope() %}

with

stored_files as (

    select
        delivery_date,
        row_count,
        keys_proven
    from {{ source('ingestion', 'stored_files') }}
    where
        feed = '{{ feed }}'
        {%- if scope %}
        and {{ scope }}
        {%- endif %}

),

listed as (

    select
        delivery_date,
        sum(row_count) as listed_rows,
        sum(case when keys_proven then 0 else 1 end) as unproven_files
    from stored_files
    group by delivery_date

),

modelled as (

    select
        delivery_date,
        count(*) as model_rows
    from {{ model }}
    group by delivery_date

),

compared as (

    select
        coalesce(listed.delivery_date, modelled.delivery_date) as delivery_date,
        coalesce(listed.listed_rows, 0) as listed_rows,
        coalesce(modelled.model_rows, 0) as model_rows,
        coalesce(listed.unproven_files, 0) as unproven_files
    from listed
    full outer join modelled
        on listed.delivery_date = modelled.delivery_date

)

select *
from compared
where unproven_files > 0 or listed_rows <> model_rows

{% endtest %}
