{#- One row per order up to the as-of date (SPEC 4.18), the order-grain fact of the semantic
    layer: its date (the earliest positive-quantity line), its net spend, items, cost and margin,
    the reporting currency and the customer's segment. The order's money is every line of the
    order whatever its date (a later return under the order id included); marts that book money
    by period take it on the line's own date instead (docs/metrics.md, "Customer orders"). A
    return-only order keeps its row with is_purchase false, dated by its first line. -#}
with

orders as (
    select * from {{ ref('int_orders_summarised') }}
),

order_lines as (
    select * from {{ ref('int_order_lines_validated') }}
    where dq_reason is null and cost_amount is null
),

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

customers as (
    select * from {{ ref('int_customers_summarised') }}
),

reporting_currency as (
    select * from {{ ref('int_reporting_currency') }}
),

{# Margin is taken over the costed lines only, as in customer_spend_profile: the spend of lines
   without a known cost is left out of it (counting their cost as 0 would inflate the margin). #}
uncosted_orders as (
    select
        order_lines.order_id,
        order_lines.customer_id,
        sum(order_lines.spend_amount) as uncosted_spend
    from order_lines
    inner join analysis_dates
        on order_lines.ordered_date <= analysis_dates.as_of_date
    group by
        order_lines.order_id,
        order_lines.customer_id
),

aggregated as (
    select
        orders.order_id,
        orders.customer_id,
        coalesce(
            min(case when orders.is_purchase then orders.order_date end), min(orders.order_date)
        ) as order_date,
        {{ dbt.bool_or('orders.is_purchase') }} as is_purchase,
        round(sum(orders.spend_amount), 6) as net_spend,
        round(sum(orders.cost_amount), 6) as cost_amount,
        sum(orders.items_purchased) as items_purchased,
        sum(orders.line_count) as line_count
    from orders
    group by
        orders.order_id,
        orders.customer_id
),

final as (
    select
        aggregated.order_id,
        aggregated.customer_id,
        aggregated.order_date,
        aggregated.is_purchase,
        cast(aggregated.net_spend as double) as net_spend,
        cast(aggregated.items_purchased as double) as items_purchased,
        cast(aggregated.cost_amount as double) as cost_amount,
        cast(round(coalesce(uncosted_orders.uncosted_spend, 0), 6) as double) as uncosted_spend,
        cast(
            round(aggregated.net_spend - coalesce(uncosted_orders.uncosted_spend, 0) - aggregated.cost_amount, 6)
            as double
        ) as margin_amount,
        cast(aggregated.line_count as bigint) as line_count,
        reporting_currency.reporting_currency,
        customers.segment
    from aggregated
    cross join reporting_currency
    left join uncosted_orders
        on
            aggregated.order_id = uncosted_orders.order_id
            and aggregated.customer_id = uncosted_orders.customer_id
    left join customers
        on aggregated.customer_id = customers.customer_id
)

select * from final
