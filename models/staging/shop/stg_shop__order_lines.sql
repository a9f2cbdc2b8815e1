{#- Order lines typed: ids as trimmed text, numbers and dates parsed (null when unparseable),
    with flags that keep the raw text's problems visible for data_quality_issues. -#}
with

source as (
    {{ read_raw_file(
        'order_lines',
        required_columns=['order_id', 'line_number', 'customer_id', 'product_id', 'ordered_at', 'quantity', 'unit_price'],
        optional_columns=['line_amount', 'unit_cost', 'currency'],
    ) }}
),

renamed as (
    select
        nullif(trim(cast(source.order_id as {{ dbt.type_string() }})), '') as order_id,
        nullif(trim(cast(source.line_number as {{ dbt.type_string() }})), '') as line_number,
        nullif(trim(cast(source.customer_id as {{ dbt.type_string() }})), '') as customer_id,
        nullif(trim(cast(source.product_id as {{ dbt.type_string() }})), '') as product_id,
        {{ parse_date('source.ordered_at') }} as ordered_date,
        try_cast(source.quantity as double) as quantity,
        try_cast(source.unit_price as double) as unit_price,
        try_cast(source.line_amount as double) as line_amount,
        try_cast(source.unit_cost as double) as unit_cost,
        upper(nullif(trim(cast(source.currency as {{ dbt.type_string() }})), '')) as currency,
        cast(source.ordered_at as {{ dbt.type_string() }}) as ordered_at_text,
        (
            nullif(trim(cast(source.ordered_at as {{ dbt.type_string() }})), '') is not null
            and {{ parse_date('source.ordered_at') }} is null
        ) as is_ordered_at_unparseable,
        (
            {{ is_unparseable_number('source.quantity') }}
            or {{ is_unparseable_number('source.unit_price') }}
            or {{ is_unparseable_number('source.line_amount') }}
            or {{ is_unparseable_number('source.unit_cost') }}
        ) as has_unparseable_number,
        (
            nullif(trim(cast(source.quantity as {{ dbt.type_string() }})), '') is null
            or nullif(trim(cast(source.unit_price as {{ dbt.type_string() }})), '') is null
        ) as has_missing_number
    from source
)

select * from renamed
