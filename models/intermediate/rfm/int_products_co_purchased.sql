{{ config(materialized='table') }}
{#- For each anchor product in use (int_customers_anchored): every other product bought by
    customers who bought the anchor, with the number of such customers and its rank, cut at the
    most candidates any customer with that anchor can need (recommendations_per_reason + the
    products in that customer's history). The self-join of buyers to their products is quadratic
    in products per customer, so it runs on the dense integer keys of int_customer_products_listed
    (not the text ids) and turns them back into ids only for the rows kept. A table: DuckDB plans
    the joins after it far better on a stored table. -#}
{%- set per_reason = var('recommendations_per_reason', 5) | int %}
{%- set match_tags = var('discovery_match_tags', false) in [true, 'true', 'True', 1] %}
with

customers_anchored as (
    select * from {{ ref('int_customers_anchored') }}
),

customer_products as (
    select * from {{ ref('int_customer_products_listed') }}
),

bought_products as (
    select
        customer_products.customer_key,
        customer_products.product_key
    from customer_products
    where customer_products.is_bought
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

anchor_limits as (
    select
        product_keys.product_key as anchor_product_key,
        {%- if match_tags %}
            -- with tag narrowing any candidate can be filtered out later, so none is cut here
            2147483647 as candidate_limit
        {%- else %}
            {{ per_reason }} + max(customer_product_counts.product_count) as candidate_limit
        {%- endif %}
    from customers_anchored
    inner join customer_product_counts
        on customers_anchored.customer_id = customer_product_counts.customer_id
    inner join product_keys
        on customers_anchored.anchor_product_id = product_keys.product_id
    group by product_keys.product_key
),

anchor_buyers as (
    select
        bought_products.customer_key,
        anchor_limits.anchor_product_key
    from bought_products
    inner join anchor_limits
        on bought_products.product_key = anchor_limits.anchor_product_key
),

co_purchases as (
    select
        anchor_buyers.anchor_product_key,
        bought_products.product_key,
        count(*) as co_buyer_count
    from anchor_buyers
    inner join bought_products
        on
            anchor_buyers.customer_key = bought_products.customer_key
            and anchor_buyers.anchor_product_key != bought_products.product_key
    group by
        anchor_buyers.anchor_product_key,
        bought_products.product_key
),

ranked as (
    select
        co_purchases.anchor_product_key,
        co_purchases.product_key,
        co_purchases.co_buyer_count,
        row_number() over (
            partition by co_purchases.anchor_product_key
            order by co_purchases.co_buyer_count desc nulls last, co_purchases.product_key asc nulls last
        ) as candidate_rank
    from co_purchases
),

kept as (
    select ranked.*
    from ranked
    inner join anchor_limits
        on
            ranked.anchor_product_key = anchor_limits.anchor_product_key
            and ranked.candidate_rank <= anchor_limits.candidate_limit
),

final as (
    select
        anchors.product_id as anchor_product_id,
        products.product_id,
        kept.co_buyer_count,
        kept.candidate_rank
    from kept
    inner join product_keys as anchors
        on kept.anchor_product_key = anchors.product_key
    inner join product_keys as products
        on kept.product_key = products.product_key
)

select * from final
