{{ config(materialized='table') }}
{#- One row per order up to the as-of date: its customer, date, net spend, cost and items.
    An order is a purchase when it has at least one line with positive quantity; an order made
    only of returns is not counted as a purchase but its (negative) spend still nets off. -#}
with

order_lines as (
    select * from {{ ref('int_order_lines_validated') }}
    where dq_reason is null
),

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

aggregated as (
    select
        order_lines.order_id,
        order_lines.customer_id,
        min(order_lines.ordered_date) as order_date,
        sum(order_lines.spend_amount) as spend_amount,
        sum(order_lines.cost_amount) as cost_amount,
        sum(order_lines.quantity) as net_quantity,
        sum(case when order_lines.quantity > 0 then order_lines.quantity else 0 end) as items_purchased,
        count(*) as line_count,
        max(case when order_lines.quantity > 0 then 1 else 0 end) = 1 as is_purchase,
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
        order_lines.customer_id
)

select * from aggregated
