{#- Customers, revenue and lifetime value per customer segment, per RFM persona and per predicted
    spend tier (SPEC 4.12), in long format: one row per dimension ('all', 'segment', 'persona',
    'predicted_spend_tier') x dimension value. Predicted values are undiscounted expected spend.
    Customers are those with a purchase up to as-of; revenue is the net spend of every customer
    of the group (a refund-only customer lowers it without being counted as a customer). -#}
with

customer_value as (
    select * from {{ ref('customer_value') }}
),

customer_rfm as (
    select * from {{ ref('customer_rfm') }}
),

valued as (
    select
        customer_value.*,
        coalesce(customer_rfm.is_new_customer, false) as is_new_customer,
        customer_rfm.persona
    from customer_value
    left join customer_rfm
        on customer_value.customer_id = customer_rfm.customer_id
),

customers_by_dimension as (
    select
        'all' as dimension,
        'all' as dimension_value,
        valued.*
    from valued
    union all
    select
        'segment' as dimension,
        coalesce(valued.segment, '(no segment)') as dimension_value,
        valued.*
    from valued
    union all
    select
        'persona' as dimension,
        coalesce(valued.persona, '(no purchase)') as dimension_value,
        valued.*
    from valued
    union all
    select
        'predicted_spend_tier' as dimension,
        coalesce(valued.predicted_spend_tier, '(not scored)') as dimension_value,
        valued.*
    from valued
),

aggregated as (
    select
        customers_by_dimension.dimension,
        customers_by_dimension.dimension_value,
        count(customers_by_dimension.last_order_date) as customers,
        count(case when customers_by_dimension.is_new_customer then 1 end) as new_customers,
        sum(customers_by_dimension.historic_clv) as revenue,
        count(customers_by_dimension.predicted_clv) as scored_customers,
        avg(customers_by_dimension.predicted_clv) as avg_predicted_clv,
        avg(customers_by_dimension.total_clv) as avg_total_clv,
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
        aggregated.new_customers,
        aggregated.revenue,
        {{ safe_divide('100.0 * aggregated.revenue',
            'sum(aggregated.revenue) over (partition by aggregated.dimension)') }} as revenue_share_pct,
        {{ safe_divide('aggregated.revenue', 'aggregated.customers') }} as avg_historic_clv,
        aggregated.avg_predicted_clv,
        aggregated.avg_total_clv,
        aggregated.predicted_revenue_next_horizon,
        aggregated.mean_churn_risk,
        (1 - aggregated.mean_churn_risk) * aggregated.customers as expected_returning_customers,
        aggregated.scored_customers,
        {{ var('clv_horizon_days', 365) }} as horizon_days
    from aggregated
)

select * from final
