{{ config(materialized='table') }}
{#- The anchor product of each customer's also_bought recommendations: the product with the
    highest net spend among those bought on the customer's last purchase day (ties: lowest
    product_id). -#}
with

daily_items as (
    select * from {{ ref('int_order_lines_aggregated_to_days') }}
),

customers as (
    select * from {{ ref('int_customers_summarised') }}
),

anchor_candidates as (
    select
        daily_items.customer_id,
        daily_items.item_id as anchor_product_id,
        row_number() over (
            partition by daily_items.customer_id
            order by daily_items.spend_amount desc nulls last, daily_items.item_id asc nulls last
        ) as anchor_rank
    from daily_items
    inner join customers
        on
            daily_items.customer_id = customers.customer_id
            and daily_items.order_date = customers.last_order_date
    where daily_items.item_level = 'product' and daily_items.quantity > 0
),

final as (
    select
        anchor_candidates.customer_id,
        anchor_candidates.anchor_product_id
    from anchor_candidates
    where anchor_candidates.anchor_rank = 1
)

select * from final
