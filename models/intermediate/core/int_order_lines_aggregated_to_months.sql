{#- Spend per customer x product x business month, rolled up from the daily aggregate (no
    rescan of the lines). -#}
with

daily as (
    select * from {{ ref('int_order_lines_aggregated_to_days') }}
    where item_level = 'product'
),

calendar as (
    select * from {{ ref('int_business_calendar_days') }}
),

aggregated as (
    select
        daily.customer_id,
        daily.item_id as product_id,
        calendar.business_month_start,
        calendar.business_month_end,
        sum(daily.spend_amount) as spend_amount,
        sum(daily.cost_amount) as cost_amount,
        sum(daily.uncosted_spend_amount) as uncosted_spend_amount,
        sum(daily.quantity) as quantity,
        sum(daily.line_count) as line_count,
        sum(daily.order_count) as order_count
    from daily
    inner join calendar
        on daily.order_date = calendar.calendar_date
    group by
        daily.customer_id,
        daily.item_id,
        calendar.business_month_start,
        calendar.business_month_end
)

select * from aggregated
