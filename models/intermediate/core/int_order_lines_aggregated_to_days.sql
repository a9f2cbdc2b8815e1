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
    select * from {{ ref('int_product_bundles_validated') }}
    where dq_reason is null
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

{# Customer days with lines of more than one order: the only days where an item's order count
   needs distinct orders. Everywhere else (nearly every customer day) it is 1, and the lines are
   summed in one grouping step instead of two. #}
multi_order_days as (
    select
        usable_lines.customer_id,
        usable_lines.ordered_date
    from usable_lines
    group by
        usable_lines.customer_id,
        usable_lines.ordered_date
    having min(usable_lines.order_id) < max(usable_lines.order_id)
),

flagged_lines as (
    select
        usable_lines.*,
        multi_order_days.customer_id is not null as is_multi_order_day
    from usable_lines
    left join multi_order_days
        on
            usable_lines.customer_id = multi_order_days.customer_id
            and usable_lines.ordered_date = multi_order_days.ordered_date
),

line_items as (
    select
        flagged_lines.*,
        'product' as item_level,
        flagged_lines.product_id as item_id
    from flagged_lines
    union all
    select
        flagged_lines.*,
        'category' as item_level,
        flagged_lines.category as item_id
    from flagged_lines
    union all
    select
        flagged_lines.*,
        'bundle' as item_level,
        bundles.bundle_id as item_id
    from flagged_lines
    inner join bundles
        on flagged_lines.product_id = bundles.product_id
),

{# Customer days with one order: one grouping step; the order counts for an item when it has a
   line of the item with a positive quantity (a return is never an order). #}
single_order_aggregated as (
    select
        line_items.customer_id,
        line_items.item_level,
        line_items.item_id,
        line_items.ordered_date as order_date,
        {{ order_line_sums('line_items') }},
        cast(max(case when line_items.quantity > 0 then 1 else 0 end) as bigint) as order_count
    from line_items
    where not line_items.is_multi_order_day
    group by
        line_items.customer_id,
        line_items.item_level,
        line_items.item_id,
        line_items.ordered_date
),

{# Customer days with several orders: two grouping steps (per order, then per day) count
   distinct orders without count(distinct). #}
per_order as (
    select
        line_items.customer_id,
        line_items.item_level,
        line_items.item_id,
        line_items.ordered_date,
        line_items.order_id,
        {{ order_line_sums('line_items') }},
        max(case when line_items.quantity > 0 then 1 else 0 end) as is_purchase_order
    from line_items
    where line_items.is_multi_order_day
    group by
        line_items.customer_id,
        line_items.item_level,
        line_items.item_id,
        line_items.ordered_date,
        line_items.order_id
),

multi_order_aggregated as (
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
        cast(sum(per_order.is_purchase_order) as bigint) as order_count
    from per_order
    group by
        per_order.customer_id,
        per_order.item_level,
        per_order.item_id,
        per_order.ordered_date
),

aggregated as (
    select * from single_order_aggregated
    union all
    select * from multi_order_aggregated
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
