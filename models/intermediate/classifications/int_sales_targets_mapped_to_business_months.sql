{#- The usable sales targets per customer x business month, with the month's business (fiscal)
    year: the one mapping of a target month to the business calendar that customer_targets and
    customer_annual_targets read. A target's month (first day of a calendar month) counts in
    the business month that holds its 15th day; several targets in one business month add up. -#}
with

sales_targets as (
    select * from {{ ref('int_sales_targets_validated') }}
    where dq_reason is null
),

calendar as (
    select * from {{ ref('int_business_calendar_days') }}
),

mapped as (
    select
        sales_targets.customer_id,
        calendar.business_month_start,
        calendar.business_month_end,
        calendar.business_year,
        calendar.business_year_start,
        calendar.business_year_end,
        sum(sales_targets.target_amount) as target_amount
    from sales_targets
    inner join calendar
        on {{ add_days('sales_targets.target_month', 14) }} = calendar.calendar_date
    group by
        sales_targets.customer_id,
        calendar.business_month_start,
        calendar.business_month_end,
        calendar.business_year,
        calendar.business_year_start,
        calendar.business_year_end
)

select * from mapped
