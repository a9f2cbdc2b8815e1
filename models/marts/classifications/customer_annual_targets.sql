{#- Annual sales targets against actual net spend (SPEC 4.16): one row per customer x business
    (fiscal) year of var business_calendar that started on or before the as-of date and holds
    at least one of the customer's usable targets. Targets per business month:
    int_sales_targets_mapped_to_business_months. The months of the year up to as-of count in
    target_to_date, the month holding the as-of date pro rata by its elapsed days. No targets
    file = no rows. -#}
with

targets_by_month as (
    select * from {{ ref('int_sales_targets_mapped_to_business_months') }}
),

orders as (
    select * from {{ ref('int_orders_summarised') }}
),

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

monthly_targets as (
    select
        targets_by_month.*,
        analysis_dates.as_of_date,
        case
            when targets_by_month.business_month_end <= analysis_dates.as_of_date
                then targets_by_month.target_amount
            when targets_by_month.business_month_start > analysis_dates.as_of_date then 0
            else {{ safe_divide(
                'targets_by_month.target_amount * ('
                ~ dbt.datediff('targets_by_month.business_month_start', 'analysis_dates.as_of_date', 'day')
                ~ ' + 1)',
                dbt.datediff('targets_by_month.business_month_start', 'targets_by_month.business_month_end', 'day')
                ~ ' + 1'
            ) }}
        end as target_to_date
    from targets_by_month
    cross join analysis_dates
    where targets_by_month.business_year_start <= analysis_dates.as_of_date
),

customer_years as (
    select
        monthly_targets.customer_id,
        monthly_targets.business_year,
        monthly_targets.business_year_start,
        monthly_targets.business_year_end,
        monthly_targets.as_of_date,
        least(monthly_targets.business_year_end, monthly_targets.as_of_date) as year_to_date_end,
        sum(monthly_targets.target_amount) as annual_target,
        sum(monthly_targets.target_to_date) as target_to_date
    from monthly_targets
    group by
        monthly_targets.customer_id,
        monthly_targets.business_year,
        monthly_targets.business_year_start,
        monthly_targets.business_year_end,
        monthly_targets.as_of_date
),

-- int_orders_summarised holds no order after as-of: the year's spend is its spend to date
yearly_actuals as (
    select
        customer_years.customer_id,
        customer_years.business_year,
        sum(orders.spend_amount) as actual_to_date
    from customer_years
    inner join orders
        on
            customer_years.customer_id = orders.customer_id
            and customer_years.business_year_start <= orders.order_date
            and customer_years.business_year_end >= orders.order_date
    group by
        customer_years.customer_id,
        customer_years.business_year
),

measured as (
    select
        customer_years.*,
        coalesce(yearly_actuals.actual_to_date, 0) as actual_to_date,
        {{ dbt.datediff('customer_years.business_year_start', 'customer_years.year_to_date_end', 'day') }} -- noqa: LT05
        + 1 as days_elapsed,
        {{ dbt.datediff('customer_years.business_year_start', 'customer_years.business_year_end', 'day') }} -- noqa: LT05
        + 1 as days_in_year
    from customer_years
    left join yearly_actuals
        on
            customer_years.customer_id = yearly_actuals.customer_id
            and customer_years.business_year = yearly_actuals.business_year
),

projected as (
    select
        measured.*,
        case
            when measured.days_elapsed = measured.days_in_year then measured.actual_to_date
            else {{ safe_divide('measured.actual_to_date', 'measured.days_elapsed') }} * measured.days_in_year
        end as projected_year_end
    from measured
),

final as (
    select
        projected.customer_id,
        cast(projected.business_year as integer) as fiscal_year,
        cast(projected.business_year_start as date) as fiscal_year_start,
        cast(projected.business_year_end as date) as fiscal_year_end,
        cast(projected.as_of_date as date) as as_of_date,
        cast(projected.days_elapsed as integer) as days_elapsed,
        cast(projected.days_in_year as integer) as days_in_year,
        projected.days_elapsed = projected.days_in_year as is_year_complete,
        cast(projected.annual_target as double) as annual_target,
        cast(projected.target_to_date as double) as target_to_date,
        cast(projected.actual_to_date as double) as actual_to_date,
        {{ safe_divide(
            '100.0 * projected.actual_to_date',
            'case when projected.target_to_date > 0 then projected.target_to_date end'
        ) }} as attainment_pct,
        cast(projected.projected_year_end as double) as projected_year_end,
        projected.projected_year_end >= projected.annual_target as on_pace
    from projected
)

select * from final
