{#- Monthly targets (optional file: no rows when it is absent). -#}
with

source as (
    {{ read_raw_file(
        'sales_targets',
        required_columns=['customer_id', 'month', 'target_amount'],
        required_file=false,
    ) }}
),

renamed as (
    select
        nullif(trim(cast(source.customer_id as {{ dbt.type_string() }})), '') as customer_id,
        {{ parse_date('source.month') }} as target_month,
        try_cast(source.target_amount as double) as target_amount,
        cast(source.target_amount as {{ dbt.type_string() }}) as target_amount_text,
        cast(source.month as {{ dbt.type_string() }}) as month_text,
        source.file_row_number
    from source
)

select * from renamed
