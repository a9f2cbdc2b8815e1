{{ config(materialized='table') }}
{#- Every product in each customer's history up to as-of, bought or only returned: the list
    recommendations never offer back, and the buyers co-purchases are counted over. Dense integer
    keys for customer and product: the co-purchase self-join and its count run on them about four
    times faster than on the text ids (docs/benchmarks.md). -#}
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

{# keys numbered over the distinct ids (small), then joined back: cheaper than two window
   sorts of every customer x product row #}
customer_keys as (
    select
        customer_ids.customer_id,
        cast(row_number() over (order by customer_ids.customer_id asc nulls last) as integer) as customer_key
    from (select distinct listed.customer_id from listed) as customer_ids
),

product_keys as (
    select
        product_ids.product_id,
        cast(row_number() over (order by product_ids.product_id asc nulls last) as integer) as product_key
    from (select distinct listed.product_id from listed) as product_ids
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
