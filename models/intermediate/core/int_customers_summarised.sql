{{ config(materialized='table') }}
{#- One row per usable customer: segment and order history up to the as-of date. Customers with
    no purchase yet have zero orders and null dates. -#}
with

customers as (
    select * from {{ ref('int_customers_validated') }}
    where dq_reason is null
),

orders as (
    select * from {{ ref('int_orders_summarised') }}
),

order_facts as (
    select
        orders.customer_id,
        min(case when orders.is_purchase then orders.order_date end) as first_order_date,
        max(case when orders.is_purchase then orders.order_date end) as last_order_date,
        count(case when orders.is_purchase then 1 end) as order_count,
        count(distinct case when orders.is_purchase then orders.order_date end) as order_day_count,
        sum(orders.spend_amount) as net_spend_amount,
        sum(orders.items_purchased) as items_purchased
    from orders
    group by orders.customer_id
),

final as (
    select
        customers.customer_id,
        customers.customer_name,
        customers.segment,
        customers.account_manager,
        customers.created_date,
        customers.is_email_opt_in,
        order_facts.first_order_date,
        order_facts.last_order_date,
        coalesce(order_facts.order_count, 0) as order_count,
        coalesce(order_facts.order_day_count, 0) as order_day_count,
        coalesce(order_facts.net_spend_amount, 0) as net_spend_amount,
        coalesce(order_facts.items_purchased, 0) as items_purchased
    from customers
    left join order_facts
        on customers.customer_id = order_facts.customer_id
)

select * from final
