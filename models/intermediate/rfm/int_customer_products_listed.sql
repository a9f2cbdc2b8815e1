{{ config(materialized='table') }}
{#- Every product in each customer's history up to as-of, bought or only returned: the list
    recommendations never offer back, and the buyers co-purchases are counted over. Dense integer
    keys for customer and product (1 = first id in sort order): both co-purchase counts
    (int_products_co_purchased) run on them, the SQL self-join about four times faster than on the
    text ids. The keys number the distinct ids and are joined back, three times cheaper than
    numbering every row by window (docs/benchmarks.md). -#}
with

daily_items as (
    select * from {{ ref('int_order_lines_aggregated_to_days') }}
),

listed as (
    select
        daily_items.customer_id,
        daily_items.item_id as product_id,
        max(daily_items.quantity) > 0 as is_bought
    from daily_items
    where daily_items.item_level = 'product'
    group by
        daily_items.customer_id,
        daily_items.item_id
),

customer_keys as (
    select
        customers.customer_id,
        cast(row_number() over (order by customers.customer_id asc nulls last) as integer) as customer_key
    from (select distinct listed.customer_id from listed) as customers
),

product_keys as (
    select
        products.product_id,
        cast(row_number() over (order by products.product_id asc nulls last) as integer) as product_key
    from (select distinct listed.product_id from listed) as products
),

final as (
    select
        listed.customer_id,
        listed.product_id,
        listed.is_bought,
        customer_keys.customer_key,
        product_keys.product_key
    from listed
    inner join customer_keys
        on listed.customer_id = customer_keys.customer_id
    inner join product_keys
        on listed.product_id = product_keys.product_id
)

select * from final
