{{ config(materialized='table') }}
{#- One row per order x day with usable lines up to the as-of date: the money of the order's
    lines dated that day (every mart books money on the line's own date, docs/metrics.md
    "Orders and dates"). An order is a purchase dated by its earliest line with a positive
    quantity: is_purchase is true on that one row of the order and false on every other row, so
    counting rows with is_purchase counts orders, and a return filed later under the original
    order id (a row of its own on its own date) never creates, moves or removes an order. An
    order made only of returns has no purchase row; its (negative) spend still nets off. -#}
with

order_lines as (
    select * from {{ ref('int_order_lines_validated') }}
    where dq_reason is null
),

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

order_days as (
    select
        order_lines.order_id,
        order_lines.customer_id,
        order_lines.ordered_date as order_date,
        sum(order_lines.spend_amount) as spend_amount,
        sum(order_lines.cost_amount) as cost_amount,
        sum(order_lines.quantity) as net_quantity,
        sum(case when order_lines.quantity > 0 then order_lines.quantity else 0 end) as items_purchased,
        count(*) as line_count,
        {#- exact and order-free (unlike the float sums), for incremental builds -#}
        {{ fingerprint_agg(row_fingerprint([
            'order_lines.line_number', 'order_lines.ordered_date', 'order_lines.product_id',
            'order_lines.quantity', 'order_lines.spend_amount', 'order_lines.cost_amount',
        ])) }} as lines_fingerprint
    from order_lines
    inner join analysis_dates
        on order_lines.ordered_date <= analysis_dates.as_of_date
    group by
        order_lines.order_id,
        order_lines.customer_id,
        order_lines.ordered_date
),

dated as (
    select
        order_days.*,
        min(case when order_days.items_purchased > 0 then order_days.order_date end) over (
            partition by order_days.order_id, order_days.customer_id
        ) as purchase_date
    from order_days
),

final as (
    select
        dated.order_id,
        dated.customer_id,
        dated.order_date,
        dated.spend_amount,
        dated.cost_amount,
        dated.net_quantity,
        dated.items_purchased,
        dated.line_count,
        dated.lines_fingerprint,
        coalesce(dated.order_date = dated.purchase_date, false) as is_purchase
    from dated
)

select * from final
