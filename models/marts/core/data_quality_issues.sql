{#- Every input row with a problem, with the file it came from, its key and the reason (SPEC
    section 5): nothing is dropped silently. A row that was set aside has is_row_kept false; a
    row kept with a bad optional field nulled (a product's or a line's unit_cost, a customer's
    created_at or email_opt_in) has is_row_kept true. -#}
with

order_lines as (
    select * from {{ ref('int_order_lines_validated') }}
    where dq_reason is not null or field_issue is not null
),

customers as (
    select * from {{ ref('int_customers_validated') }}
    where dq_reason is not null or field_issue is not null
),

products as (
    select * from {{ ref('int_products_validated') }}
    where dq_reason is not null or field_issue is not null
),

product_bundles as (
    select * from {{ ref('int_product_bundles_validated') }}
    where dq_reason is not null
),

sales_targets as (
    select * from {{ ref('int_sales_targets_validated') }}
    where dq_reason is not null
),

fx_rates as (
    select * from {{ ref('int_fx_rates_validated') }}
    where dq_reason is not null
),

issues as (
    select
        'order_lines' as source_file,
        coalesce(order_lines.order_id, '?') || ' / ' || coalesce(order_lines.line_number, '?') as record_key,
        coalesce(order_lines.dq_reason, order_lines.field_issue) as reason,
        order_lines.dq_reason is null as is_row_kept,
        order_lines.order_id,
        order_lines.line_number,
        order_lines.customer_id,
        order_lines.product_id,
        order_lines.detail,
        order_lines.file_row_number
    from order_lines
    union all
    select
        'customers' as source_file,
        coalesce(customers.customer_id, '?') as record_key,
        coalesce(customers.dq_reason, customers.field_issue) as reason,
        customers.dq_reason is null as is_row_kept,
        null as order_id,
        null as line_number,
        customers.customer_id,
        null as product_id,
        customers.detail,
        customers.file_row_number
    from customers
    union all
    select
        'products' as source_file,
        coalesce(products.product_id, '?') as record_key,
        coalesce(products.dq_reason, products.field_issue) as reason,
        products.dq_reason is null as is_row_kept,
        null as order_id,
        null as line_number,
        null as customer_id,
        products.product_id,
        products.detail,
        products.file_row_number
    from products
    union all
    select
        'product_bundles' as source_file,
        coalesce(product_bundles.bundle_id, '?') || ' / ' || coalesce(product_bundles.product_id, '?')
            as record_key,
        product_bundles.dq_reason as reason,
        false as is_row_kept,
        null as order_id,
        null as line_number,
        null as customer_id,
        product_bundles.product_id,
        product_bundles.bundle_name as detail,
        product_bundles.file_row_number
    from product_bundles
    union all
    select
        'sales_targets' as source_file,
        coalesce(sales_targets.customer_id, '?') || ' / '
        || coalesce(cast(sales_targets.target_month as {{ dbt.type_string() }}), '?')
            as record_key,
        sales_targets.dq_reason as reason,
        false as is_row_kept,
        null as order_id,
        null as line_number,
        sales_targets.customer_id,
        null as product_id,
        sales_targets.detail,
        sales_targets.file_row_number
    from sales_targets
    union all
    select
        'fx_rates' as source_file,
        coalesce(fx_rates.currency, '?') || ' / '
        || coalesce(cast(fx_rates.rate_date as {{ dbt.type_string() }}), '?') as record_key,
        fx_rates.dq_reason as reason,
        false as is_row_kept,
        null as order_id,
        null as line_number,
        null as customer_id,
        null as product_id,
        fx_rates.detail,
        fx_rates.file_row_number
    from fx_rates
),

final as (
    select
        cast(issues.source_file as {{ dbt.type_string() }}) as source_file,
        cast(issues.record_key as {{ dbt.type_string() }}) as record_key,
        cast(issues.reason as {{ dbt.type_string() }}) as reason,
        cast(issues.is_row_kept as boolean) as is_row_kept,
        cast(issues.order_id as {{ dbt.type_string() }}) as order_id,
        cast(issues.line_number as {{ dbt.type_string() }}) as line_number,
        cast(issues.customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(issues.product_id as {{ dbt.type_string() }}) as product_id,
        cast(issues.detail as {{ dbt.type_string() }}) as detail,
        cast(issues.file_row_number as bigint) as file_row_number
    from issues
)

select * from final
