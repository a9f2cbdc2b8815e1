{#- Customers typed; an empty segment becomes null (no segment comparisons for them). -#}
with

source as (
    {{ read_raw_file(
        'customers',
        required_columns=['customer_id', 'customer_name', 'segment'],
        optional_columns=['account_manager', 'created_at', 'email_opt_in'],
    ) }}
),

renamed as (
    select
        nullif(trim(cast(source.customer_id as {{ dbt.type_string() }})), '') as customer_id,
        cast(source.customer_name as {{ dbt.type_string() }}) as customer_name,
        nullif(trim(cast(source.segment as {{ dbt.type_string() }})), '') as segment,
        nullif(trim(cast(source.account_manager as {{ dbt.type_string() }})), '') as account_manager,
        {{ parse_date('source.created_at') }} as created_date,
        {{ parse_bool('source.email_opt_in') }} as is_email_opt_in
    from source
)

select * from renamed
