with

source as (

    select * from {{ source('network', 'cells') }}

),

renamed as (

    select
        -- ids
        cast(cell_id as {{ dbt.type_string() }}) as cell_id,
        cast(site_id as {{ dbt.type_string() }}) as site_id,

        -- network identity (optional: an operator keying cells by it composes cell_id from it)
        cast(mcc as {{ dbt.type_string() }}) as mcc,
        cast(mnc as {{ dbt.type_string() }}) as mnc,
        cast(area_code as {{ dbt.type_bigint() }}) as area_code,
        cast(cell_identity as {{ dbt.type_bigint() }}) as cell_identity,

        -- attributes
        cast(region as {{ dbt.type_string() }}) as region,
        cast(technology as {{ dbt.type_string() }}) as technology,
        cast(latitude as {{ type_double() }}) as latitude,
        cast(longitude as {{ type_double() }}) as longitude,
        cast(population_covered as {{ dbt.type_bigint() }}) as population_covered,

        -- timestamps
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,

        -- lineage
        cast(_delivery_date as date) as delivery_date,
        cast(_source_file as {{ dbt.type_string() }}) as source_file,
        cast(_source_line as {{ dbt.type_bigint() }}) as source_line,
        cast(_load_id as {{ dbt.type_string() }}) as load_id,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from source

),

ranked as (

    -- one row per version: the same change delivered twice is kept once,
    -- from the latest load, then the first line of the file
    select
        *,
        row_number() over (
            partition by cell_id, updated_at
            order by loaded_at desc, source_line asc, source_file asc
        ) as version_rank
    from renamed

),

deduplicated as (

    select
        cell_id,
        site_id,
        region,
        technology,
        latitude,
        longitude,
        population_covered,
        mcc,
        mnc,
        area_code,
        cell_identity,
        updated_at,
        delivery_date,
        source_file,
        source_line,
        load_id,
        loaded_at
    from ranked
    where version_rank = 1

)

select * from deduplicated
