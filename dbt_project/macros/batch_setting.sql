{#-
    One setting of this run's batch, as a string: batch_start_date or batch_end_date (the
    delivery dates an incremental run rebuilds, YYYY-MM-DD) or run_date (the day campaign
    decisions are made for).

    Where it comes from, first found wins:
      1. `--vars`, as by hand: dbt build --vars '{batch_start_date: "2026-01-02", batch_end_date: "2026-01-02"}';
      2. the environment variable TELCO_MART_BATCH_START_DATE, TELCO_MART_BATCH_END_DATE or
         TELCO_MART_RUN_DATE, which is how the Airflow DAG and the benchmark pass each day;
      3. the default: every delivery date (1900-01-01 .. 9999-12-31) and no run date.

    Why the environment, read only at execution: dbt parses the whole project afresh whenever
    `--vars` differ from the last run (about 10 s a call, every day, at any scale), and
    re-parses a file when an env_var() it read while parsing changes. A value read only when
    `execute` is true does neither, so each day starts from the partial parse. Parsing needs
    no batch: it records refs and configs, which do not depend on it.
-#}
{% macro batch_setting(name) -%}
    {%- set defaults = {'batch_start_date': '1900-01-01', 'batch_end_date': '9999-12-31', 'run_date': ''} -%}
    {%- if name not in defaults -%}
        {{ exceptions.raise_compiler_error("batch_setting: unknown setting '" ~ name ~ "'") }}
    {%- endif -%}
    {%- set given = var(name, '') | string | trim -%}
    {%- if not given and execute -%}
        {%- set given = env_var('TELCO_MART_' ~ (name | upper), '') | trim -%}
    {%- endif -%}
    {%- do return(given or defaults[name]) -%}
{%- endmacro %}
