{#- Bundle membership (optional file: no rows when it is absent). -#}
with

source as (
    {{ read_raw_file(
        'product_bundles',
        required_columns=['bundle_id', 'bundle_name', 'product_id'],
        required_file=false,
    ) }}
),

renamed as (
    select
        nullif(trim(cast(source.bundle_id as {{ dbt.type_string() }})), '') as bundle_id,
        cast(source.bundle_name as {{ dbt.type_string() }}) as bundle_name,
        nullif(trim(cast(source.product_id as {{ dbt.type_string() }})), '') as product_id,
        source.file_row_number
    from source
)

select * from renamed
