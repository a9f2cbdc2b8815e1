{{ config(materialized='table') }}
{#- Every product in each customer's history up to as-of, bought or only returned: the list
    recommendations never offer back, and the buyers co-purchases are counted over. -#}
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
)

select * from listed
