with

cell_versions as (

    select * from {{ ref('stg_network__cells') }}

),

ranked as (

    -- the cell feed is a change feed: the current inventory is each cell's latest version
    select
        *,
        row_number() over (
            partition by cell_id
            order by updated_at desc, loaded_at desc
        ) as version_rank
    from cell_versions

),

final as (

    select
        cast(cell_id as {{ dbt.type_string() }}) as cell_id,
        cast(site_id as {{ dbt.type_string() }}) as site_id,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(technology as {{ dbt.type_string() }}) as technology,
        cast(latitude as {{ type_double() }}) as latitude,
        cast(longitude as {{ type_double() }}) as longitude,
        cast(population_covered as {{ dbt.type_bigint() }}) as population_covered,
        cast(mcc as {{ dbt.type_string() }}) as mcc,
        cast(mnc as {{ dbt.type_string() }}) as mnc,
        cast(area_code as {{ dbt.type_bigint() }}) as area_code,
        cast(cell_identity as {{ dbt.type_bigint() }}) as cell_identity,
        cast(updated_at as {{ dbt.type_timestamp() }}) as last_changed_at
    from ranked
    where version_rank = 1

)

select * from final
