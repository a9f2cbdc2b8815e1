{{ config(materialized='table') }}
{#- Bundle memberships with a data-quality verdict (dq_reason null = usable): a row without a
    bundle or product id, of an unknown product, or repeating a bundle x product pair already
    listed earlier in the file is set aside and shown in data_quality_issues. -#}
with

product_bundles as (
    select * from {{ ref('stg_shop__product_bundles') }}
),

products as (
    select * from {{ ref('int_products_validated') }}
    where dq_reason is null
),

ranked as (
    select
        product_bundles.*,
        products.product_id is not null as is_known_product,
        row_number() over (
            partition by
                product_bundles.bundle_id,
                product_bundles.product_id,
                product_bundles.bundle_id is null or product_bundles.product_id is null
            order by product_bundles.file_row_number
        ) as pair_occurrence
    from product_bundles
    left join products
        on product_bundles.product_id = products.product_id
),

final as (
    select
        ranked.bundle_id,
        ranked.bundle_name,
        ranked.product_id,
        ranked.file_row_number,
        case
            when ranked.bundle_id is null or ranked.product_id is null then 'missing key'
            when not ranked.is_known_product then 'unknown product'
            when ranked.pair_occurrence > 1 then 'duplicate bundle member'
        end as dq_reason
    from ranked
)

select * from final
