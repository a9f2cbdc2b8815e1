{#- Customers, revenue and lifetime value per customer segment and per RFM persona (SPEC 4.12),
    in long format: one row per dimension ('all', 'segment', 'persona') x dimension value.
    Customers are those with a purchase up to as-of; revenue is the net spend of every customer
    of the group (a refund-only customer lowers it without being counted as a customer). -#}
with

customer_value as (
    select * from {{ ref('customer_value') }}
),

customer_rfm as (
    select * from {{ ref('customer_rfm') }}
),

customers_by_dimension as (
    select
        'all' as dimension,
        'all' as dimension_value,
        customer_value.*
    from customer_value
    union all
    select
        'segment' as dimension,
        coalesce(customer_value.segment, '(no segment)') as dimension_value,
        customer_value.*
    from customer_value
    union all
    select
        'persona' as dimension,
        coalesce(customer_rfm.persona, '(no purchase)') as dimension_value,
        customer_value.*
    from customer_value
    left join customer_rfm
        on customer_value.customer_id = customer_rfm.customer_id
),

aggregated as (
    select
        customers_by_dimension.dimension,
        customers_by_dimension.dimension_value,
        count(customers_by_dimension.last_order_date) as customers,
        sum(customers_by_dimension.historic_clv) as revenue,
        count(customers_by_dimension.predicted_clv) as scored_customers,
        avg(customers_by_dimension.predicted_clv) as avg_predicted_clv,
        sum(customers_by_dimension.predicted_clv) as predicted_revenue_next_horizon,
        avg(customers_by_dimension.churn_risk) as mean_churn_risk
    from customers_by_dimension
    group by
        customers_by_dimension.dimension,
        customers_by_dimension.dimension_value
),

final as (
    select
        aggregated.dimension,
        aggregated.dimension_value,
        aggregated.customers,
        aggregated.revenue,
        {{ safe_divide('100.0 * aggregated.revenue',
            'sum(aggregated.revenue) over (partition by aggregated.dimension)') }} as revenue_share_pct,
        {{ safe_divide('aggregated.revenue', 'aggregated.customers') }} as avg_historic_clv,
        aggregated.avg_predicted_clv,
        aggregated.predicted_revenue_next_horizon,
        aggregated.mean_churn_risk,
        (1 - aggregated.mean_churn_risk) * aggregated.customers as expected_returning_customers,
        aggregated.scored_customers,
        {{ var('clv_horizon_days', 365) }} as horizon_days
    from aggregated
)

select * from final
