{#- Every input row that was set aside, with the file it came from, its key and the reason
    (SPEC section 5): nothing is dropped silently. -#}
with

order_lines as (
    select * from {{ ref('int_order_lines_validated') }}
    where dq_reason is not null
),

customers as (
    select * from {{ ref('int_customers_validated') }}
    where dq_reason is not null
),

products as (
    select * from {{ ref('int_products_validated') }}
    where dq_reason is not null
),

sales_targets as (
    select * from {{ ref('stg_shop__sales_targets') }}
),

fx_rates as (
    select * from {{ ref('stg_shop__fx_rates') }}
),

issues as (
    select
        'order_lines' as source_file,
        coalesce(order_lines.order_id, '?') || ' / ' || coalesce(order_lines.line_number, '?') as record_key,
        order_lines.dq_reason as reason,
        order_lines.order_id,
        order_lines.line_number,
        order_lines.customer_id,
        order_lines.product_id,
        order_lines.ordered_at_text as detail
    from order_lines
    union all
    select
        'customers' as source_file,
        coalesce(customers.customer_id, '?') as record_key,
        customers.dq_reason as reason,
        null as order_id,
        null as line_number,
        customers.customer_id,
        null as product_id,
        customers.customer_name as detail
    from customers
    union all
    select
        'products' as source_file,
        coalesce(products.product_id, '?') as record_key,
        products.dq_reason as reason,
        null as order_id,
        null as line_number,
        null as customer_id,
        products.product_id,
        products.product_name as detail
    from products
    union all
    select
        'sales_targets' as source_file,
        coalesce(sales_targets.customer_id, '?') || ' / '
        || coalesce(cast(sales_targets.target_month as {{ dbt.type_string() }}), '?')
            as record_key,
        case
            when sales_targets.customer_id is null then 'missing key'
            when sales_targets.target_month is null then 'unparseable date'
            else 'unparseable number'
        end as reason,
        null as order_id,
        null as line_number,
        sales_targets.customer_id,
        null as product_id,
        null as detail
    from sales_targets
    where
        sales_targets.customer_id is null
        or sales_targets.target_month is null
        or sales_targets.target_amount is null
    union all
    select
        'fx_rates' as source_file,
        coalesce(fx_rates.currency, '?') || ' / '
        || coalesce(cast(fx_rates.rate_date as {{ dbt.type_string() }}), '?') as record_key,
        case
            when fx_rates.currency is null then 'missing key'
            when fx_rates.rate_date is null then 'unparseable date'
            else 'unparseable or non-positive rate'
        end as reason,
        null as order_id,
        null as line_number,
        null as customer_id,
        null as product_id,
        null as detail
    from fx_rates
    where
        fx_rates.currency is null
        or fx_rates.rate_date is null
        or not coalesce(fx_rates.rate_to_reporting > 0, false)
),

final as (
    select
        cast(issues.source_file as {{ dbt.type_string() }}) as source_file,
        cast(issues.record_key as {{ dbt.type_string() }}) as record_key,
        cast(issues.reason as {{ dbt.type_string() }}) as reason,
        cast(issues.order_id as {{ dbt.type_string() }}) as order_id,
        cast(issues.line_number as {{ dbt.type_string() }}) as line_number,
        cast(issues.customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(issues.product_id as {{ dbt.type_string() }}) as product_id,
        cast(issues.detail as {{ dbt.type_string() }}) as detail
    from issues
)

select * from final
