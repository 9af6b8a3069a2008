{#-
    Materialization `day_sliced_incremental`: an incremental model with delete+insert by its
    day column (`unique_key`), built one slice of days per statement.

    Why: an aggregation over every day of a long batch (the first, history run; a wide
    backfill) in one statement holds every day's groups at once. At 1,000,000 subscribers and
    90 days the usage roll-up spilled more than 40 GB and the run died with the disk full,
    while one day of it takes about 11 s and 3.4 GiB. Separate statements free each slice's
    memory before the next; pieces of one statement (`union all`) do not, since the engine
    builds every branch's hash table before reading any.

    The model's contract, checked here with a clear error:
      - `unique_key` is its one day column; `days_per_statement` (config, default 1) is the
        slice width;
      - a CTE named `days_to_build` lists the days this run builds (column `date_day`);
        the model's own query does not need to read it, only the probe below does;
      - its day filter is written `{{ day_slice('<column>') }}` (macro below), which is
        `1 = 1` outside this materialization (dbt unit tests, compile) and the slice's
        range in each statement;
      - optionally, a filter on a timestamp column of a large input is written
        `{{ day_slice_time_range('<column>') }}` (any number of times): the slice's days
        as a half-open range of literal timestamps, so that the warehouse skips the
        storage blocks of other days when it scans. A bound computed by a subquery does
        not do that: DuckDB skipped blocks only below the lower one, so at 1M subscribers
        the first day of a 90-day history read all 90 days (22 s) and the last one only
        itself (7 s); with literal bounds each took about 3 s;
      - the model ends with `select * from final`, as every model of this project does.

    A run: one probe query lists the days (the model's SQL ending in `select distinct
    date_day from days_to_build` instead); the days are cut into slices of
    `days_per_statement` days each; then
      - a full build (no table yet, or --full-refresh) creates an intermediate table from
        the first slice, inserts the others and swaps it in at the end, as dbt's table
        materialization does;
      - an incremental run, per slice, builds a temporary table and replaces those days in
        the target (the adapter's delete+insert; schema changes as `on_schema_change` says).
    Everything runs in the model's one transaction: a failed slice leaves the table as it
    was. Each slice logs its days and time, so a long build shows its progress.

    A near relative of dbt Labs' experimental insert_by_period, which also fills a
    placeholder in the compiled SQL; this one takes its days from the model (an incremental
    run's touched days are not a contiguous period) and keeps delete+insert semantics.
-#}

{% macro day_slice(column_name) -%}
    (1 = 1 /* day_slice on {{ column_name }} */)
{%- endmacro %}


{% macro day_slice_time_range(column_name) -%}
    (1 = 1 /* day_slice_time_range on {{ column_name }} */)
{%- endmacro %}


{% macro day_slice_sql(compiled_code, first_day, last_day) -%}
    {#- the compiled SQL with its day_slice filter limited to first_day .. last_day, and
        its day_slice_time_range filters to the timestamps of those days -#}
    {%- set marker = modules.re.compile('\\(1 = 1 /\\* day_slice on ([A-Za-z0-9_.]+) \\*/\\)') -%}
    {%- set time_marker = modules.re.compile('\\(1 = 1 /\\* day_slice_time_range on ([A-Za-z0-9_.]+) \\*/\\)') -%}
    {%- set found = marker.findall(compiled_code) -%}
    {%- if found | length != 1 -%}
        {{ exceptions.raise_compiler_error(
            "day_sliced_incremental: " ~ model.name ~ " must call day_slice(<day column>) exactly once, found "
            ~ (found | length)) }}
    {%- endif -%}
    {%- set column = found[0] -%}
    {%- set predicate -%}
        ({{ column }} >= cast('{{ first_day }}' as date) and {{ column }} <= cast('{{ last_day }}' as date))
    {%- endset -%}
    {%- set day_after = modules.datetime.date.fromisoformat(last_day | string) + modules.datetime.timedelta(days=1) -%}
    {%- set time_predicate -%}
        (\1 >= cast('{{ first_day }} 00:00:00' as {{ dbt.type_timestamp() }})
            and \1 < cast('{{ day_after }} 00:00:00' as {{ dbt.type_timestamp() }}))
    {%- endset -%}
    {{ return(time_marker.sub(time_predicate, marker.sub(predicate, compiled_code))) }}
{%- endmacro %}


{% macro day_slices_to_build(compiled_code, days_per_statement) -%}
    {#- [(first_day, last_day), ...]: the days the probe lists, cut into slices -#}
    {%- set final_select = 'select * from final' -%}
    {%- set body = compiled_code | trim -%}
    {%- if not body.endswith(final_select) -%}
        {{ exceptions.raise_compiler_error(
            "day_sliced_incremental: " ~ model.name ~ " must end with `" ~ final_select ~ "`") }}
    {%- endif -%}
    {%- set probe -%}
        {{ body[:body | length - final_select | length] }}
        select distinct cast(date_day as date) as date_day from days_to_build order by 1
    {%- endset -%}
    {%- set days = run_query(probe).columns[0].values() | map('string') | list -%}
    {%- set slices = [] -%}
    {%- for chunk in days | batch(days_per_statement) -%}
        {%- do slices.append((chunk[0], chunk[-1])) -%}
    {%- endfor -%}
    {{ return(slices) }}
{%- endmacro %}


{% materialization day_sliced_incremental, default %}

    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set backup_relation = make_backup_relation(target_relation, 'table' if existing_relation is none else existing_relation.type) -%}
    {%- set unique_key = config.require('unique_key') -%}
    {%- set days_per_statement = config.get('days_per_statement', 1) | int -%}
    {%- set full_build = existing_relation is none or existing_relation.is_view or should_full_refresh() -%}
    {%- set on_schema_change = incremental_validate_on_schema_change(config.get('on_schema_change'), default='ignore') -%}
    {%- set grant_config = config.get('grants') -%}
    {%- set state = namespace(dest_columns=none, columns_csv=none) -%}
    {%- if unique_key is not string or days_per_statement < 1 -%}
        {{ exceptions.raise_compiler_error(
            "day_sliced_incremental: " ~ model.name ~ " needs unique_key = its one day column and days_per_statement >= 1") }}
    {%- endif -%}

    {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
    {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- set slices = day_slices_to_build(compiled_code, days_per_statement) -%}
    {{ log(model.name ~ ": " ~ ('full build' if full_build else 'incremental run') ~ ", " ~ slices | length
        ~ " statement(s) of up to " ~ days_per_statement ~ " day(s)"
        ~ (", " ~ slices[0][0] ~ " .. " ~ slices[-1][1] if slices else ", no days to build"), info=True) }}

    {%- for slice in slices -%}
        {%- set started = modules.datetime.datetime.now() -%}
        {%- set slice_sql = day_slice_sql(compiled_code, slice[0], slice[1]) -%}
        {%- if full_build and loop.first -%}
            {%- call statement('main') -%}
                {{ create_table_as(False, intermediate_relation, slice_sql) }}
            {%- endcall -%}
            {%- set state.columns_csv = get_quoted_csv(
                adapter.get_columns_in_relation(intermediate_relation) | map(attribute='name')) -%}
        {%- elif full_build -%}
            {%- call statement('main') -%}
                insert into {{ intermediate_relation }} ({{ state.columns_csv }})
                select {{ state.columns_csv }} from (
                    {{ slice_sql }}
                ) as day_slice
            {%- endcall -%}
        {%- else -%}
            {%- set temp_relation = make_temp_relation(target_relation) -%}
            {%- do run_query(create_table_as(True, temp_relation, slice_sql)) -%}
            {%- if loop.first -%}
                {%- do adapter.expand_target_column_types(from_relation=temp_relation, to_relation=target_relation) -%}
                {%- set state.dest_columns = process_schema_changes(on_schema_change, temp_relation, existing_relation)
                    or adapter.get_columns_in_relation(existing_relation) -%}
            {%- endif -%}
            {%- call statement('main') -%}
                {{ get_delete_insert_merge_sql(target_relation, temp_relation, unique_key, state.dest_columns, none) }}
            {%- endcall -%}
            {%- do adapter.drop_relation(temp_relation) -%}
        {%- endif -%}
        {{ log(model.name ~ ": days " ~ slice[0] ~ " .. " ~ slice[1] ~ " built (" ~ loop.index ~ " of " ~ loop.length ~ ", "
            ~ '%.1f' | format((modules.datetime.datetime.now() - started).total_seconds()) ~ " s)", info=True) }}
    {%- endfor -%}

    {%- if not slices -%}
        {#- nothing to build: a full build still leaves an (empty) table of the model's shape -#}
        {%- call statement('main') -%}
            {%- if full_build -%}
                {{ create_table_as(False, intermediate_relation, day_slice_sql(compiled_code, '9999-12-31', '0001-01-01')) }}
            {%- else -%}
                select 1 as nothing_to_build
            {%- endif -%}
        {%- endcall -%}
    {%- endif -%}

    {%- set to_drop = [] -%}
    {%- if full_build -%}
        {%- if existing_relation is not none -%}
            {%- do adapter.rename_relation(existing_relation, backup_relation) -%}
            {%- do to_drop.append(backup_relation) -%}
        {%- endif -%}
        {%- do adapter.rename_relation(intermediate_relation, target_relation) -%}
    {%- endif -%}

    {%- do apply_grants(target_relation, grant_config, should_revoke=should_revoke(existing_relation, full_build)) -%}
    {%- do persist_docs(target_relation, model) -%}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {%- do adapter.commit() -%}
    {%- for relation in to_drop -%}
        {%- do adapter.drop_relation(relation) -%}
    {%- endfor -%}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}

{%- endmaterialization %}
