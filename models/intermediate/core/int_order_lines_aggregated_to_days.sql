{{ config(**partitioned_incremental_config('order_date', 'int_order_days_fingerprinted')) }}
{#- The compact aggregate every spend mart reads: usable lines up to the as-of date summed per
    customer x item x day, at three item levels (product, bundle, category). Day is the finest
    period a window needs (rolling windows end on the as-of date); months roll up from here.
    Incremental by day: a run recomputes only the days whose input fingerprint changed
    (new or late lines, a changed category or bundle list) and deletes days that are gone. -#}
with

order_lines as (
    select * from {{ ref('int_order_lines_validated') }}
    where dq_reason is null
),

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

bundles as (
    select distinct
        bundle_id,
        product_id
    from {{ ref('stg_shop__product_bundles') }}
    where bundle_id is not null and product_id is not null
),

order_days_fingerprinted as (
    select * from {{ ref('int_order_days_fingerprinted') }}
),

stale_days as (
    {{ stale_partitions('order_days_fingerprinted', 'order_date') }}
),

usable_lines as (
    select order_lines.*
    from order_lines
    inner join analysis_dates
        on order_lines.ordered_date <= analysis_dates.as_of_date
    inner join stale_days
        on order_lines.ordered_date = stale_days.partition_value
),

line_items as (
    select
        usable_lines.*,
        'product' as item_level,
        usable_lines.product_id as item_id
    from usable_lines
    union all
    select
        usable_lines.*,
        'category' as item_level,
        usable_lines.category as item_id
    from usable_lines
    union all
    select
        usable_lines.*,
        'bundle' as item_level,
        bundles.bundle_id as item_id
    from usable_lines
    inner join bundles
        on usable_lines.product_id = bundles.product_id
),

{# Two grouping steps (per order, then per day) count distinct orders without count(distinct). #}
per_order as (
    select
        line_items.customer_id,
        line_items.item_level,
        line_items.item_id,
        line_items.ordered_date,
        line_items.order_id,
        sum(line_items.spend_amount) as spend_amount,
        sum(line_items.cost_amount) as cost_amount,
        sum(case when line_items.cost_amount is null then line_items.spend_amount else 0 end)
            as uncosted_spend_amount,
        sum(line_items.quantity) as quantity,
        count(*) as line_count
    from line_items
    group by
        line_items.customer_id,
        line_items.item_level,
        line_items.item_id,
        line_items.ordered_date,
        line_items.order_id
),

aggregated as (
    select
        per_order.customer_id,
        per_order.item_level,
        per_order.item_id,
        per_order.ordered_date as order_date,
        sum(per_order.spend_amount) as spend_amount,
        sum(per_order.cost_amount) as cost_amount,
        sum(per_order.uncosted_spend_amount) as uncosted_spend_amount,
        sum(per_order.quantity) as quantity,
        sum(per_order.line_count) as line_count,
        count(*) as order_count
    from per_order
    group by
        per_order.customer_id,
        per_order.item_level,
        per_order.item_id,
        per_order.ordered_date
),

final as (
    select
        aggregated.*,
        order_days_fingerprinted.partition_fingerprint
    from aggregated
    inner join order_days_fingerprinted
        on aggregated.order_date = order_days_fingerprinted.partition_value
)

select * from final
