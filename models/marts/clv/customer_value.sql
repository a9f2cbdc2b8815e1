{#- One row per usable customer at the as-of date: historic, predicted and total lifetime value,
    churn risk, expected next order and predicted spend tier (SPEC 4.7). Predictions come from
    the chosen purchase model (BG/NBD, MBG/NBD or Pareto/NBD) and Gamma-Gamma fitted in
    int_clv_models_fitted, with an 80% interval from their parameter uncertainty; they are null when the
    data set is ineligible, the fit did not converge, or the customer has no purchase yet, and
    model_status says which. -#}
with

customers as (
    select * from {{ ref('int_customers_summarised') }}
),

customers_for_clv as (
    select * from {{ ref('int_customers_summarised_for_clv') }}
    where fit_period = 'as_of'
),

scores as (
    select * from {{ ref('int_customers_scored_clv') }}
    where fit_period = 'as_of'
),

fit_periods as (
    select * from {{ ref('int_clv_fit_periods_checked') }}
    where fit_period = 'as_of'
),

joined as (
    select
        customers.customer_id,
        customers.segment,
        customers.net_spend_amount as historic_clv,
        scores.predicted_orders,
        scores.predicted_aov,
        scores.predicted_clv,
        scores.predicted_clv_discounted,
        scores.predicted_clv_low,
        scores.predicted_clv_high,
        scores.p_alive,
        customers_for_clv.last_purchase_date,
        customers_for_clv.frequency,
        customers_for_clv.recency_days,
        customers_for_clv.t_days,
        customers_for_clv.monetary_value,
        case
            when customers_for_clv.frequency > 0
                then {{ safe_divide('customers_for_clv.recency_days', 'customers_for_clv.frequency') }}
        end as avg_days_between_orders,
        case
            when customers_for_clv.customer_id is null then 'ineligible: no purchase up to the as-of date'
            else coalesce(scores.model_status, fit_periods.ineligible_reason, 'not converged: no score')
        end as model_status
    from customers
    cross join fit_periods
    left join customers_for_clv
        on customers.customer_id = customers_for_clv.customer_id
    left join scores
        on customers.customer_id = scores.customer_id
),

ranked as (
    select
        joined.*,
        count(joined.predicted_clv) over () as scored_customers,
        case
            when joined.predicted_clv is not null
                then row_number() over (
                        order by joined.predicted_clv desc nulls last, joined.customer_id asc
                    )
        end as predicted_clv_rank
    from joined
),

final as (
    select
        ranked.customer_id,
        ranked.historic_clv,
        ranked.predicted_orders,
        ranked.predicted_aov,
        ranked.predicted_clv,
        ranked.predicted_clv_discounted,
        ranked.predicted_clv_low,
        ranked.predicted_clv_high,
        ranked.historic_clv + ranked.predicted_clv as total_clv,
        ranked.p_alive,
        1 - ranked.p_alive as churn_risk,
        case
            when ranked.avg_days_between_orders is not null
                then ranked.last_purchase_date + cast(round(ranked.avg_days_between_orders) as integer)
        end as expected_next_order_date,
        ranked.avg_days_between_orders,
        case
            when ranked.predicted_clv is null then null
            when ranked.p_alive < {{ var('clv_churned_p_alive', 0.5) }} then 'low'
            when ranked.predicted_clv_rank
                <= round({{ var('predicted_spend_tier_high_share', 0.30) }} * ranked.scored_customers) then 'high'
            when ranked.predicted_clv_rank
                > ranked.scored_customers
                - round({{ var('predicted_spend_tier_low_share', 0.10) }} * ranked.scored_customers) then 'low'
            else 'medium'
        end as predicted_spend_tier,
        ranked.model_status,
        ranked.segment,
        ranked.last_purchase_date as last_order_date,
        ranked.frequency,
        ranked.recency_days,
        ranked.t_days,
        ranked.monetary_value,
        cast(ranked.predicted_clv_rank as bigint) as predicted_clv_rank
    from ranked
)

select * from final
