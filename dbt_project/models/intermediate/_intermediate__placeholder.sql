{#-
    Placeholder, never built (enabled=false). It exists so the `models.telco_mart.intermediate`
    block of dbt_project.yml applies to a resource while this folder has no real model yet;
    without it dbt warns "Configuration paths exist ... which do not apply to any resources".
    Delete it once the first intermediate model lands here.
-#}
{{ config(enabled=false) }}

select 1 as placeholder
