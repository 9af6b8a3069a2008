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
      - its day filter is written `{{ day_slice('<column>') }}` (macro below): the column
        between the bounds of the statement being built, read from two session variables
        (`day_slice_bound`) that the materialization sets before each statement, and every
        day where nothing sets them (dbt unit tests, compile, show);
      - optionally, a filter on a timestamp column of a large input is written
        `{{ day_slice_time_range('<column>') }}` (any number of times): the same days as a
        half-open range of timestamps, so that the warehouse skips the storage blocks of
        other days when it scans. DuckDB folds `getvariable()` into a constant while
        planning, so these bounds reach the scan of raw as literal ones do. A bound
        computed by a subquery does not: DuckDB skipped blocks only below the lower one, so
        at 1M subscribers the first day of a 90-day history read all 90 days (22 s) and
        the last one only itself (7 s); with constant bounds each took about 3 s;
      - the model ends with `select * from final`, as every model of this project does.

    A run: one probe query lists the days (the model's SQL ending in `select distinct
    date_day from days_to_build` instead); the days are cut into slices of
    `days_per_statement` days each; then, with each slice's bounds set on the connection,
      - a full build (no table yet, or --full-refresh) creates an intermediate table from
        the first slice, inserts the others and swaps it in at the end, as dbt's table
        materialization does;
      - an incremental run, per slice, builds a temporary table and replaces those days in
        the target (replace_periods_sql: delete+insert, or a partition overwrite on Spark;
        schema changes as `on_schema_change` says).
    Everything runs in the model's one transaction: a failed slice leaves the table as it
    was. Each slice logs its days and time, so a long build shows its progress.

    The compiled SQL is run as it is, once per slice: nothing in it is searched or
    replaced (until issue 23 the filters were markers that a regex filled in per slice).
    The probe is the one edit: it swaps the final `select * from final` for its own select.

    Why not dbt's `microbatch` strategy (dbt-core 1.9+, dbt-duckdb 1.11.1 implements it):
    measured against it in issue 23 (dbt_project/README.md has the figures), it took 1.3x
    the CPU over a history, and it cannot rebuild just what a day's batch touched: its window
    is one contiguous range of event time, while a delivery date's late records touch
    scattered earlier days (a day with a 10-day-late file: 2.9x the CPU to stay correct).
    A near relative of dbt Labs' experimental insert_by_period; this one takes its days from
    the model and keeps delete+insert semantics.
-#}

{% macro day_slice(column_name) -%}
    {#- the day filter: the days of the statement the materialization runs, and every day
        where nothing sets the bounds (dbt unit tests, compile, show) -#}
    ({{ column_name }} between {{ day_slice_bound('first_day') }} and {{ day_slice_bound('last_day') }})
{%- endmacro %}


{% macro day_slice_time_range(column_name) -%}
    {#- the same days as a half-open range of timestamps, for the event time of a large input -#}
    ({{ column_name }} >= cast({{ day_slice_bound('first_day') }} as {{ dbt.type_timestamp() }})
        and {{ column_name }} < cast({{ dbt.dateadd('day', 1, day_slice_bound('last_day')) }} as {{ dbt.type_timestamp() }}))
{%- endmacro %}


{% macro day_slice_bound(name) -%}
    {#- first_day or last_day of the statement being built: a session value the engine reads
        while planning, so the filters above compare with constants and the scan of raw skips
        the storage blocks of other days, as literal bounds do -#}
    {{ return(adapter.dispatch('day_slice_bound')(name)) }}
{%- endmacro %}

{% macro default__day_slice_bound(name) -%}
    {{ exceptions.raise_compiler_error("day_slice: no session variables on adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__day_slice_bound(name) -%}
    {%- set unset = {'first_day': '0001-01-01', 'last_day': '9999-12-31'}[name] -%}
    coalesce(cast(getvariable('day_slice_{{ name }}') as date), cast('{{ unset }}' as date))
{%- endmacro %}


{% macro spark__day_slice_bound(name) -%}
    {#- a Spark 4 session variable, declared for the session by declare_day_slice_bounds
        (on-run-start) -#}
    {%- set unset = {'first_day': '0001-01-01', 'last_day': '9999-12-31'}[name] -%}
    coalesce(system.session.day_slice_{{ name }}, cast('{{ unset }}' as date))
{%- endmacro %}


{% macro declare_day_slice_bounds() -%}
    {#- on-run-start: the session variables that day_slice_bound reads, where the engine
        needs them declared before any statement names them (Spark); nothing on DuckDB -#}
    {{ return(adapter.dispatch('declare_day_slice_bounds')()) }}
{%- endmacro %}

{% macro default__declare_day_slice_bounds() -%}
{%- endmacro %}

{% macro spark__declare_day_slice_bounds() -%}
    {%- do run_query('declare or replace variable day_slice_first_day date default null') -%}
    {%- do run_query('declare or replace variable day_slice_last_day date default null') -%}
{%- endmacro %}


{% macro set_day_slice_bounds(first_day=none, last_day=none) -%}
    {#- the statement that sets the bounds day_slice_bound reads on this connection; without
        days, unsets them -#}
    {{ return(adapter.dispatch('set_day_slice_bounds')(first_day, last_day)) }}
{%- endmacro %}

{% macro default__set_day_slice_bounds(first_day, last_day) -%}
    {{ exceptions.raise_compiler_error("day_slice: no session variables on adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__set_day_slice_bounds(first_day, last_day) -%}
    {%- if first_day is none -%}
        reset variable day_slice_first_day; reset variable day_slice_last_day
    {%- else -%}
        set variable day_slice_first_day = cast('{{ first_day }}' as date);
        set variable day_slice_last_day = cast('{{ last_day }}' as date)
    {%- endif -%}
{%- endmacro %}


{% macro spark__set_day_slice_bounds(first_day, last_day) -%}
    {%- if first_day is none -%}
        set var (day_slice_first_day, day_slice_last_day) = (select cast(null as date), cast(null as date))
    {%- else -%}
        set var (day_slice_first_day, day_slice_last_day) = (select cast('{{ first_day }}' as date), cast('{{ last_day }}' as date))
    {%- endif -%}
{%- endmacro %}


{% macro day_slices_to_build(compiled_code, days_per_statement) -%}
    {#- [(first_day, last_day), ...]: the days the probe lists, cut into slices -#}
    {%- if (day_slice_bound('first_day') | trim) not in compiled_code -%}
        {{ exceptions.raise_compiler_error(
            "day_sliced_incremental: " ~ model.name ~ " must filter its days with day_slice(<day column>)") }}
    {%- endif -%}
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

    {%- do run_query(set_day_slice_bounds()) -%}
    {%- set slices = day_slices_to_build(compiled_code, days_per_statement) -%}
    {{ log(model.name ~ ": " ~ ('full build' if full_build else 'incremental run') ~ ", " ~ slices | length
        ~ " statement(s) of up to " ~ days_per_statement ~ " day(s)"
        ~ (", " ~ slices[0][0] ~ " .. " ~ slices[-1][1] if slices else ", no days to build"), info=True) }}

    {%- for slice in slices -%}
        {%- set started = modules.datetime.datetime.now() -%}
        {%- do run_query(set_day_slice_bounds(slice[0], slice[1])) -%}
        {%- if full_build and loop.first -%}
            {%- call statement('main') -%}
                {{ create_table_as(False, intermediate_relation, compiled_code) }}
            {%- endcall -%}
            {%- set state.columns_csv = get_quoted_csv(
                adapter.get_columns_in_relation(intermediate_relation) | map(attribute='name')) -%}
        {%- elif full_build -%}
            {%- call statement('main') -%}
                insert into {{ intermediate_relation }} ({{ state.columns_csv }})
                select {{ state.columns_csv }} from (
                    {{ compiled_code }}
                ) as day_slice
            {%- endcall -%}
        {%- else -%}
            {%- set temp_relation = make_temp_relation(target_relation) -%}
            {%- do run_query(create_table_as(True, temp_relation, compiled_code)) -%}
            {%- if loop.first -%}
                {%- do adapter.expand_target_column_types(from_relation=temp_relation, to_relation=target_relation) -%}
                {%- set state.dest_columns = process_schema_changes(on_schema_change, temp_relation, existing_relation)
                    or adapter.get_columns_in_relation(existing_relation) -%}
            {%- endif -%}
            {%- call statement('main') -%}
                {{ replace_periods_sql(target_relation, temp_relation, unique_key, state.dest_columns) }}
            {%- endcall -%}
            {%- do adapter.drop_relation(temp_relation) -%}
        {%- endif -%}
        {{ log(model.name ~ ": days " ~ slice[0] ~ " .. " ~ slice[1] ~ " built (" ~ loop.index ~ " of " ~ loop.length ~ ", "
            ~ '%.1f' | format((modules.datetime.datetime.now() - started).total_seconds()) ~ " s)", info=True) }}
    {%- endfor -%}

    {%- if not slices -%}
        {#- nothing to build: a full build still leaves an (empty) table of the model's shape -#}
        {%- do run_query(set_day_slice_bounds('9999-12-31', '0001-01-01')) -%}
        {%- call statement('main') -%}
            {%- if full_build -%}
                {{ create_table_as(False, intermediate_relation, compiled_code) }}
            {%- else -%}
                select 1 as nothing_to_build
            {%- endif -%}
        {%- endcall -%}
    {%- endif -%}

    {%- do run_query(set_day_slice_bounds()) -%}

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
