{{ config(materialized='table') }}
{#- For each anchor product in use (int_co_purchase_anchors): every other product bought by
    customers who bought the anchor, with the number of such customers and its rank, cut at the
    most candidates any customer with that anchor can need. Counting is quadratic in products per
    customer, so it runs on the dense integer keys of int_customer_products_listed and turns them
    back into ids only for the rows kept. Two ways to count (var co_purchase_engine):
    - python (default on DuckDB): int_co_purchases_counted, a sparse matrix product;
    - sql (default elsewhere, e.g. Spark): the self-join of buyers to their products below.
    Both give the same rows. A table: DuckDB plans the joins after it far better on a stored table. -#}
{%- set engine = co_purchase_engine() %}
with

anchors as (
    select * from {{ ref('int_co_purchase_anchors') }}
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

{%- if engine == 'python' %}

    kept as (
        select * from {{ ref('int_co_purchases_counted') }}
    ),
{%- else %}

    bought_products as (
        select
            customer_products.customer_key,
            customer_products.product_key
        from customer_products
        where customer_products.is_bought
    ),

    anchor_buyers as (
        select
            bought_products.customer_key,
            anchors.anchor_product_key
        from bought_products
        inner join anchors
            on bought_products.product_key = anchors.anchor_product_key
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
        inner join anchors
            on
                ranked.anchor_product_key = anchors.anchor_product_key
                and ranked.candidate_rank <= anchors.candidate_limit
    ),
{%- endif %}

final as (
    select
        anchors.anchor_product_id,
        products.product_id,
        cast(kept.co_buyer_count as bigint) as co_buyer_count,
        cast(kept.candidate_rank as bigint) as candidate_rank
    from kept
    inner join anchors
        on kept.anchor_product_key = anchors.anchor_product_key
    inner join product_keys as products
        on kept.product_key = products.product_key
)

select * from final
