with

source as (

    select * from {{ source('network', 'cell_kpis_daily') }}

),

renamed as (

    select
        -- ids
        cast(cell_id as {{ dbt.type_string() }}) as cell_id,

        -- dates
        cast(kpi_date as date) as kpi_date,

        -- measures (macros/cell_kpi_counters.sql)
        {%- for counter in cell_kpi_counters() %}
        cast({{ counter }} as {{ dbt.type_bigint() }}) as {{ counter }},
        {%- endfor %}

        -- lineage
        {{ lineage_columns() }}

    from source

)

select * from renamed
