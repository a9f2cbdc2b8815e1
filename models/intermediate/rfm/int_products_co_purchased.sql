{{ config(materialized='table') }}
{#- For each anchor product in use (int_customers_anchored): every other product bought by
    customers who bought the anchor, with the number of such customers and its rank, cut at the
    most candidates any customer with that anchor can need (recommendations_per_reason + the
    products in that customer's history). A table: the co-purchase count is the heaviest step of
    the recommendations and DuckDB plans the joins after it far better on a stored table. -#}
{%- set per_reason = var('recommendations_per_reason', 5) | int %}
{%- set match_tags = var('discovery_match_tags', false) in [true, 'true', 'True', 1] %}
with

customers_anchored as (
    select * from {{ ref('int_customers_anchored') }}
),

customer_products as (
    select * from {{ ref('int_customer_products_listed') }}
),

customer_product_counts as (
    select
        customer_products.customer_id,
        count(*) as product_count
    from customer_products
    group by customer_products.customer_id
),

anchor_limits as (
    select
        customers_anchored.anchor_product_id,
        {%- if match_tags %}
            -- with tag narrowing any candidate can be filtered out later, so none is cut here
            2147483647 as candidate_limit
        {%- else %}
            {{ per_reason }} + max(customer_product_counts.product_count) as candidate_limit
        {%- endif %}
    from customers_anchored
    inner join customer_product_counts
        on customers_anchored.customer_id = customer_product_counts.customer_id
    group by customers_anchored.anchor_product_id
),

anchor_buyers as (
    select
        customer_products.customer_id,
        anchor_limits.anchor_product_id
    from customer_products
    inner join anchor_limits
        on customer_products.product_id = anchor_limits.anchor_product_id
    where customer_products.is_bought
),

co_purchases as (
    select
        anchor_buyers.anchor_product_id,
        customer_products.product_id,
        count(*) as co_buyer_count
    from anchor_buyers
    inner join customer_products
        on
            anchor_buyers.customer_id = customer_products.customer_id
            and anchor_buyers.anchor_product_id != customer_products.product_id
    where customer_products.is_bought
    group by
        anchor_buyers.anchor_product_id,
        customer_products.product_id
),

ranked as (
    select
        co_purchases.anchor_product_id,
        co_purchases.product_id,
        co_purchases.co_buyer_count,
        row_number() over (
            partition by co_purchases.anchor_product_id
            order by co_purchases.co_buyer_count desc nulls last, co_purchases.product_id asc nulls last
        ) as candidate_rank
    from co_purchases
),

final as (
    select ranked.*
    from ranked
    inner join anchor_limits
        on
            ranked.anchor_product_id = anchor_limits.anchor_product_id
            and ranked.candidate_rank <= anchor_limits.candidate_limit
)

select * from final
