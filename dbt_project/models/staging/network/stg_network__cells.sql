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
        {{ lineage_columns() }}

    from source

),

deduplicated as (

    -- one row per version: the same change delivered twice is kept once,
    -- from the latest load, then the first line of the file
    {{ latest_version('renamed', partition_by=['cell_id', 'updated_at'], columns=[
        'cell_id', 'site_id', 'region', 'technology', 'latitude', 'longitude', 'population_covered',
        'mcc', 'mnc', 'area_code', 'cell_identity', 'updated_at',
    ]) }}

)

select * from deduplicated
