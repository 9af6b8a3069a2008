with

source as (

    select * from {{ source('billing', 'bills') }}

),

renamed as (

    select
        -- ids
        cast(bill_id as {{ dbt.type_string() }}) as bill_id,
        cast(subscriber_id as {{ dbt.type_string() }}) as subscriber_id,

        -- measures
        cast(amount_due as {{ type_double() }}) as amount_due,
        cast(recurring_amount as {{ type_double() }}) as recurring_amount,
        cast(usage_amount as {{ type_double() }}) as usage_amount,

        -- dates
        cast(bill_month as date) as bill_month,
        cast(issue_date as date) as issue_date,

        -- lineage
        {{ lineage_columns() }}

    from source

)

select * from renamed
