{#- Customer cohorts (SPEC 4.17): customers grouped by the business month of their first order,
    followed month by month up to the as-of month: cohort size, customers with an order in the
    month, retention %, revenue and margin (money on each line's own date), and the running
    revenue and margin per cohort customer. A row for every month from 0 to the as-of month,
    also when nobody in the cohort was active (docs/metrics.md, "Customer cohorts"). -#}
with

customers as (
    select * from {{ ref('int_customers_summarised') }}
    where first_order_date is not null
),

orders as (
    select * from {{ ref('int_orders_summarised') }}
    where is_purchase
),

daily_spend as (
    select * from {{ ref('int_order_lines_aggregated_to_days') }}
    where item_level = 'product'
),

calendar as (
    select * from {{ ref('int_business_calendar_days') }}
),

months as (
    select * from {{ ref('int_business_months_numbered') }}
),

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

as_of_month as (
    select months.month_index
    from analysis_dates
    inner join calendar
        on analysis_dates.as_of_date = calendar.calendar_date
    inner join months
        on calendar.business_month_start = months.business_month_start
),

cohort_members as (
    select
        customers.customer_id,
        months.business_month_start as cohort_month,
        months.month_index as cohort_index
    from customers
    inner join calendar
        on customers.first_order_date = calendar.calendar_date
    inner join months
        on calendar.business_month_start = months.business_month_start
),

cohort_grid as (
    select
        cohort_members.cohort_month,
        months.business_month_start as activity_month,
        months.month_index - cohort_members.cohort_index as months_since_first_order,
        count(*) as cohort_size
    from cohort_members
    cross join as_of_month
    inner join months
        on months.month_index between cohort_members.cohort_index and as_of_month.month_index
    group by
        cohort_members.cohort_month,
        months.business_month_start,
        months.month_index - cohort_members.cohort_index
),

{# One row per customer x business month with an order (is_active 1) or with money (lines on
   their own dates, each line once: the product level of the compact aggregate). #}
customer_month_events as (
    select
        orders.customer_id,
        calendar.business_month_start,
        1 as is_active,
        0 as spend_amount,
        cast(null as double) as cost_amount,
        0 as uncosted_spend_amount
    from orders
    inner join calendar
        on orders.order_date = calendar.calendar_date
    union all
    select
        daily_spend.customer_id,
        calendar.business_month_start,
        0 as is_active,
        daily_spend.spend_amount,
        daily_spend.cost_amount,
        daily_spend.uncosted_spend_amount
    from daily_spend
    inner join calendar
        on daily_spend.order_date = calendar.calendar_date
),

customer_months as (
    select
        customer_month_events.customer_id,
        customer_month_events.business_month_start,
        max(customer_month_events.is_active) as is_active,
        sum(customer_month_events.spend_amount) as spend_amount,
        sum(customer_month_events.cost_amount) as cost_amount,
        sum(customer_month_events.uncosted_spend_amount) as uncosted_spend_amount
    from customer_month_events
    group by
        customer_month_events.customer_id,
        customer_month_events.business_month_start
),

{# Money dated before the cohort month (a return with no earlier purchase) is outside the grid. #}
cohort_months as (
    select
        cohort_members.cohort_month,
        customer_months.business_month_start as activity_month,
        sum(customer_months.is_active) as active_customers,
        sum(customer_months.spend_amount) as revenue,
        sum(customer_months.cost_amount) as cost_amount,
        sum(customer_months.uncosted_spend_amount) as uncosted_spend_amount
    from customer_months
    inner join cohort_members
        on customer_months.customer_id = cohort_members.customer_id
    where customer_months.business_month_start >= cohort_members.cohort_month
    group by
        cohort_members.cohort_month,
        customer_months.business_month_start
),

{# Margin over the costed lines only, as in customer_spend_profile: revenue of lines without a
   known cost is left out; null when no line of the month had a cost. #}
measured as (
    select
        cohort_grid.cohort_month,
        cohort_grid.activity_month,
        cohort_grid.months_since_first_order,
        cohort_grid.cohort_size,
        coalesce(cohort_months.active_customers, 0) as active_customers,
        round(coalesce(cohort_months.revenue, 0), 6) as revenue,
        round(cohort_months.revenue - cohort_months.uncosted_spend_amount - cohort_months.cost_amount, 6)
            as margin
    from cohort_grid
    left join cohort_months
        on
            cohort_grid.cohort_month = cohort_months.cohort_month
            and cohort_grid.activity_month = cohort_months.activity_month
),

final as (
    select
        measured.cohort_month,
        cast(measured.months_since_first_order as integer) as months_since_first_order,
        measured.activity_month,
        cast(measured.cohort_size as bigint) as cohort_size,
        cast(measured.active_customers as bigint) as active_customers,
        100.0 * {{ safe_divide('measured.active_customers', 'measured.cohort_size') }} as retention_pct,
        cast(measured.revenue as double) as revenue,
        cast(measured.margin as double) as margin,
        {{ safe_divide(
            'sum(measured.revenue) over (partition by measured.cohort_month order by measured.months_since_first_order rows between unbounded preceding and current row)',
            'measured.cohort_size'
        ) }} as cumulative_revenue_per_customer,
        {{ safe_divide(
            'sum(measured.margin) over (partition by measured.cohort_month order by measured.months_since_first_order rows between unbounded preceding and current row)',
            'measured.cohort_size'
        ) }} as cumulative_margin_per_customer
    from measured
)

select * from final
