{#- Sales targets against actual net spend (SPEC 4.9): one row per customer with a target and
    business month of the 12 ending with the as-of date's month, with running totals and
    attainment. Targets per business month: int_sales_targets_mapped_to_business_months (a
    target month counts in the business month that holds its 15th day). No targets file = no
    rows. -#}
with

targets_by_month as (
    select * from {{ ref('int_sales_targets_mapped_to_business_months') }}
),

orders as (
    select * from {{ ref('int_orders_summarised') }}
),

months as (
    select * from {{ ref('int_business_months_numbered') }}
),

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

reporting_months as (
    select
        months.business_month_start,
        months.business_month_end
    from months
    inner join months as as_of_month
        on months.month_index between as_of_month.month_index - 11 and as_of_month.month_index
    inner join analysis_dates
        on analysis_dates.as_of_date between as_of_month.business_month_start and as_of_month.business_month_end
),

monthly_targets as (
    select
        targets_by_month.customer_id,
        targets_by_month.business_month_start,
        targets_by_month.target_amount
    from targets_by_month
    inner join reporting_months
        on targets_by_month.business_month_start = reporting_months.business_month_start
),

monthly_actuals as (
    select
        orders.customer_id,
        reporting_months.business_month_start,
        sum(orders.spend_amount) as actual_amount
    from orders
    inner join reporting_months
        on orders.order_date between reporting_months.business_month_start and reporting_months.business_month_end
    group by
        orders.customer_id,
        reporting_months.business_month_start
),

customer_months as (
    select
        targeted_customers.customer_id,
        reporting_months.business_month_start
    from (select distinct monthly_targets.customer_id from monthly_targets) as targeted_customers
    cross join reporting_months
),

combined as (
    select
        customer_months.customer_id,
        customer_months.business_month_start as month,  -- noqa: RF04
        coalesce(monthly_targets.target_amount, 0) as target_amount,
        coalesce(monthly_actuals.actual_amount, 0) as actual_amount
    from customer_months
    left join monthly_targets
        on
            customer_months.customer_id = monthly_targets.customer_id
            and customer_months.business_month_start = monthly_targets.business_month_start
    left join monthly_actuals
        on
            customer_months.customer_id = monthly_actuals.customer_id
            and customer_months.business_month_start = monthly_actuals.business_month_start
),

cumulated as (
    select
        combined.*,
        sum(combined.target_amount) over (
            partition by combined.customer_id
            order by combined.month asc nulls last
            rows between unbounded preceding and current row
        ) as cumulative_target,
        sum(combined.actual_amount) over (
            partition by combined.customer_id
            order by combined.month asc nulls last
            rows between unbounded preceding and current row
        ) as cumulative_actual
    from combined
),

final as (
    select
        cumulated.customer_id,
        cast(cumulated.month as date) as month,  -- noqa: RF04
        cast(cumulated.target_amount as double) as target_amount,
        cast(cumulated.actual_amount as double) as actual_amount,
        cast(cumulated.cumulative_target as double) as cumulative_target,
        cast(cumulated.cumulative_actual as double) as cumulative_actual,
        {{ safe_divide('100.0 * cumulated.cumulative_actual', 'cumulated.cumulative_target') }} as attainment_pct,
        {{ safe_divide('100.0 * cumulated.actual_amount', 'cumulated.target_amount') }} as month_attainment_pct
    from cumulated
)

select * from final
