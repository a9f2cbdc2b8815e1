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
        {{ parse_bool('source.email_opt_in') }} as is_email_opt_in,
        cast(source.created_at as {{ dbt.type_string() }}) as created_at_text,
        cast(source.email_opt_in as {{ dbt.type_string() }}) as email_opt_in_text,
        source.file_row_number,
        (
            not {{ is_blank('source.created_at') }}
            and {{ parse_date('source.created_at') }} is null
        ) as is_created_at_unparseable,
        (
            not {{ is_blank('source.email_opt_in') }}
            and {{ parse_bool('source.email_opt_in') }} is null
        ) as is_email_opt_in_unparseable
    from source
)

select * from renamed
