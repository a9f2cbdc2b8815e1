{{ config(materialized='table') }}
{#- Products with a data-quality verdict: the first row of a duplicated id is kept. -#}
with

products as (
    select * from {{ ref('stg_shop__products') }}
),

ranked as (
    select
        products.*,
        row_number() over (
            partition by products.product_id
            order by products.product_name nulls last, products.category nulls last
        ) as id_occurrence
    from products
),

final as (
    select
        ranked.product_id,
        ranked.product_name,
        ranked.category,
        ranked.tags,
        ranked.unit_cost,
        case
            when ranked.product_id is null then 'missing key'
            when ranked.id_occurrence > 1 then 'duplicate product'
            when ranked.is_unit_cost_unparseable then 'unparseable number'
            when ranked.unit_cost < 0 then 'negative cost'
        end as dq_reason
    from ranked
)

select * from final
