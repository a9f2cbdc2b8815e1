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

scores as (
    select * from {{ ref('int_customers_scored_clv') }}
    where fit_period = 'as_of' and predicted_clv_draws is not null
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

customer_draws as (
    select
        scores.customer_id,
        {{ unnest_list_with_position('scores.predicted_clv_draws', 'predicted_clv', 'draw') }}
    from scores
),

-- draw d of a group's predicted revenue is the sum of its customers' draw d (one parameter
-- set for everybody); its 80% interval is the 10th..90th percentile over the draws
draws_by_dimension as (
    select
        customers_by_dimension.dimension,
        customers_by_dimension.dimension_value,
        customer_draws.draw,
        sum(customer_draws.predicted_clv) as predicted_revenue
    from customers_by_dimension
    inner join customer_draws
        on customers_by_dimension.customer_id = customer_draws.customer_id
    group by
        customers_by_dimension.dimension,
        customers_by_dimension.dimension_value,
        customer_draws.draw
),

revenue_intervals as (
    select
        draws_by_dimension.dimension,
        draws_by_dimension.dimension_value,
        {{ percentile_cont('draws_by_dimension.predicted_revenue', 0.1) }} as predicted_revenue_low,
        {{ percentile_cont('draws_by_dimension.predicted_revenue', 0.9) }} as predicted_revenue_high
    from draws_by_dimension
    group by
        draws_by_dimension.dimension,
        draws_by_dimension.dimension_value
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
        revenue_intervals.predicted_revenue_low,
        revenue_intervals.predicted_revenue_high,
        aggregated.mean_churn_risk,
        (1 - aggregated.mean_churn_risk) * aggregated.customers as expected_returning_customers,
        aggregated.scored_customers,
        {{ var('clv_horizon_days', 365) }} as horizon_days
    from aggregated
    left join revenue_intervals
        on
            aggregated.dimension = revenue_intervals.dimension
            and aggregated.dimension_value = revenue_intervals.dimension_value
)

select * from final
