{{ config(materialized='table') }}
{#- Products with a data-quality verdict. A repeated product_id keeps its first row in file
    order (dq_reason 'duplicate product' on the others). The optional unit_cost never removes
    the product (SPEC section 5): an unparseable, negative or non-finite cost is null here (lines
    without their own cost then have no cost) and field_issue names it for data_quality_issues. -#}
with

products as (
    select * from {{ ref('stg_shop__products') }}
),

ranked as (
    select
        products.*,
        row_number() over (
            partition by products.product_id
            order by products.file_row_number
        ) as id_occurrence,
        case
            when products.is_unit_cost_unparseable then 'invalid product cost'
            when {{ is_non_finite('products.unit_cost') }} then 'non-finite number'
            when products.unit_cost < 0 then 'invalid product cost'
        end as cost_issue
    from products
),

final as (
    select
        ranked.product_id,
        ranked.product_name,
        ranked.category,
        ranked.tags,
        case when ranked.cost_issue is null then ranked.unit_cost end as unit_cost,
        ranked.file_row_number,
        case
            when ranked.product_id is null then 'missing key'
            when ranked.id_occurrence > 1 then 'duplicate product'
        end as dq_reason,
        ranked.cost_issue as field_issue,
        case
            when ranked.cost_issue is not null then 'unit_cost: ' || ranked.unit_cost_text
            else ranked.product_name
        end as detail
    from ranked
)

select * from final
