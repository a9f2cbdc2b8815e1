{#- Persona tiles beside kpi_tiles: for each KPI period (kpi_period_days, and the custom period
    when set) and each persona at the as-of date, the customers, their net revenue and orders in the period ending at as-of,
    the revenue share and average order value. -#}
with

orders as (
    select * from {{ ref('int_orders_summarised') }}
),

customer_rfm as (
    select * from {{ ref('customer_rfm') }}
),

rfm_personas as (
    select * from {{ ref('rfm_personas') }}
),

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

windows as (
    {{ kpi_windows_sql() }}
),

periods as (
    select * from windows
    where window_role = 'period'
),

period_orders as (
    select
        periods.period_name,
        orders.customer_id,
        orders.spend_amount,
        orders.is_purchase
    from periods
    inner join orders
        on orders.order_date between periods.window_start and periods.window_end
),

period_totals as (
    select
        periods.period_name,
        coalesce(sum(period_orders.spend_amount), 0) as total_revenue
    from periods
    left join period_orders
        on periods.period_name = period_orders.period_name
    group by periods.period_name
),

customer_periods as (
    select
        period_orders.period_name,
        period_orders.customer_id,
        sum(period_orders.spend_amount) as revenue,
        count(case when period_orders.is_purchase then 1 end) as orders
    from period_orders
    group by
        period_orders.period_name,
        period_orders.customer_id
),

persona_measures as (
    select
        periods.period_name,
        customer_rfm.persona,
        count(*) as customers,
        count(case when customer_periods.orders > 0 then 1 end) as buying_customers,
        coalesce(sum(customer_periods.revenue), 0) as revenue,
        coalesce(sum(customer_periods.orders), 0) as orders
    from periods
    cross join customer_rfm
    left join customer_periods
        on
            periods.period_name = customer_periods.period_name
            and customer_rfm.customer_id = customer_periods.customer_id
    group by
        periods.period_name,
        customer_rfm.persona
),

final as (
    select
        periods.period_name,
        periods.period_days,
        periods.window_start as period_start,
        periods.window_end as period_end,
        rfm_personas.persona,
        coalesce(persona_measures.customers, 0) as customers,
        coalesce(persona_measures.buying_customers, 0) as buying_customers,
        coalesce(persona_measures.revenue, 0) as revenue,
        100 * {{ safe_divide('coalesce(persona_measures.revenue, 0)', 'period_totals.total_revenue') }}
            as revenue_share_pct,
        cast(coalesce(persona_measures.orders, 0) as bigint) as orders,
        {{ safe_divide('persona_measures.revenue', 'persona_measures.orders') }} as average_order_value
    from periods
    cross join rfm_personas
    inner join period_totals
        on periods.period_name = period_totals.period_name
    left join persona_measures
        on
            periods.period_name = persona_measures.period_name
            and rfm_personas.persona = persona_measures.persona
)

select * from final
