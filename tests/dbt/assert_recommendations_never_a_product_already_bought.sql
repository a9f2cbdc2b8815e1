{#- No recommendation is a product already in the customer's history (bought or returned):
    returns each recommendation that is. -#}
with

customer_product_recommendations as (
    select * from {{ ref('customer_product_recommendations') }}
),

daily_items as (
    select * from {{ ref('int_order_lines_aggregated_to_days') }}
    where item_level = 'product'
),

already_bought as (
    select distinct
        customer_product_recommendations.customer_id,
        customer_product_recommendations.product_id,
        customer_product_recommendations.reason
    from customer_product_recommendations
    inner join daily_items
        on
            customer_product_recommendations.customer_id = daily_items.customer_id
            and customer_product_recommendations.product_id = daily_items.item_id
)

select * from already_bought
