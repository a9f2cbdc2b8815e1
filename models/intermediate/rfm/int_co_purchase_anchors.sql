{#- The anchor products in use (int_customers_anchored) on their dense keys, each with the most
    co-purchase candidates any customer holding that anchor can need: recommendations_per_reason
    plus the products in that customer's history (those are never offered back). With tag
    narrowing any candidate may be filtered out later, so none is cut. Both ways of counting
    co-purchases (int_products_co_purchased) rank and cut by this list. -#}
{%- set per_reason = var('recommendations_per_reason', 5) | int %}
{%- set match_tags = var('discovery_match_tags', false) in [true, 'true', 'True', 1] %}
with

customers_anchored as (
    select * from {{ ref('int_customers_anchored') }}
),

customer_products as (
    select * from {{ ref('int_customer_products_listed') }}
),

product_keys as (
    select distinct
        customer_products.product_key,
        customer_products.product_id
    from customer_products
),

customer_product_counts as (
    select
        customer_products.customer_id,
        count(*) as product_count
    from customer_products
    group by customer_products.customer_id
),

final as (
    select
        product_keys.product_key as anchor_product_key,
        product_keys.product_id as anchor_product_id,
        {%- if match_tags %}
            2147483647 as candidate_limit
        {%- else %}
            {{ per_reason }} + max(customer_product_counts.product_count) as candidate_limit
        {%- endif %}
    from customers_anchored
    inner join customer_product_counts
        on customers_anchored.customer_id = customer_product_counts.customer_id
    inner join product_keys
        on customers_anchored.anchor_product_id = product_keys.product_id
    group by
        product_keys.product_key,
        product_keys.product_id
)

select * from final
