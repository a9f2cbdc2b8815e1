{#- Products typed; tags split into a list. -#}
with

source as (
    {{ read_raw_file(
        'products',
        required_columns=['product_id', 'product_name', 'category'],
        optional_columns=['tags', 'unit_cost'],
    ) }}
),

renamed as (
    select
        nullif(trim(cast(source.product_id as {{ dbt.type_string() }})), '') as product_id,
        cast(source.product_name as {{ dbt.type_string() }}) as product_name,
        coalesce(nullif(trim(cast(source.category as {{ dbt.type_string() }})), ''), 'Uncategorised') as category,
        nullif(trim(cast(source.tags as {{ dbt.type_string() }})), '') as tags,
        try_cast(source.unit_cost as double) as unit_cost,
        cast(source.unit_cost as {{ dbt.type_string() }}) as unit_cost_text,
        source.file_row_number,
        {{ is_unparseable_number('source.unit_cost') }} as is_unit_cost_unparseable
    from source
)

select * from renamed
