{#- One wide row per usable customer with the headline columns of every customer mart (SPEC
    4.13), for CSV download and BI: identity and lifetime totals, spend in the last 12 months
    and its change (customer_spend_profile, window last_12_months), the classifications with
    their bands, RFM cell, segment and persona, lifetime value and churn risk, the sales target
    attainment so far and the top product recommendation. Spend of a customer without a row in
    the window is 0 when the window last_12_months is configured (var spend_windows), else null. -#}
{%- set windows = var('spend_windows', []) | map(attribute='name') | list -%}
{%- set zero_spend = '0' if 'last_12_months' in windows else 'null' %}

with

customers as (
    select * from {{ ref('int_customers_summarised') }}
),

customer_spend_profile as (
    select * from {{ ref('customer_spend_profile') }}
    where item_level = 'category' and window_name = 'last_12_months'
),

customer_classifications as (
    select * from {{ ref('customer_classifications') }}
),

customer_rfm as (
    select * from {{ ref('customer_rfm') }}
),

customer_value as (
    select * from {{ ref('customer_value') }}
),

customer_targets as (
    select * from {{ ref('customer_targets') }}
),

customer_product_recommendations as (
    select * from {{ ref('customer_product_recommendations') }}
),

spend_last_12_months as (
    select
        customer_spend_profile.customer_id,
        sum(customer_spend_profile.total_spend) as spend_last_12_months,
        sum(customer_spend_profile.prior_total_spend) as spend_prior_12_months,
        {{ pct_change(
            'sum(customer_spend_profile.total_spend) / max(customer_spend_profile.periods)',
            'sum(customer_spend_profile.prior_total_spend) / max(customer_spend_profile.prior_periods)'
        ) }} as spend_change_pct_last_12_months
    from customer_spend_profile
    group by customer_spend_profile.customer_id
),

classifications as (
    select
        customer_classifications.customer_id,
    {%- for type in ['risk_score', 'risk_change', 'revenue_rank', 'revenue_change', 'revenue_share', 'order_count'] %}
        max(case when customer_classifications.classification_type = '{{ type }}'
                then customer_classifications.metric_value
            end) as {{ type }}_value,
        max(case when customer_classifications.classification_type = '{{ type }}'
                then customer_classifications.band_label
            end) as {{ type }}_band
        {{- ',' if not loop.last }}
    {%- endfor %}
    from customer_classifications
    group by customer_classifications.customer_id
),

-- the latest month per customer (row_number then a filter: portable, no QUALIFY)
targets_ranked as (
    select
        customer_targets.customer_id,
        customer_targets.cumulative_target as target_amount_to_date,
        customer_targets.cumulative_actual as actual_amount_to_date,
        customer_targets.attainment_pct as target_attainment_pct,
        row_number() over (
            partition by customer_targets.customer_id
            order by customer_targets.month desc nulls last
        ) as month_recency
    from customer_targets
),

latest_targets as (
    select
        targets_ranked.customer_id,
        targets_ranked.target_amount_to_date,
        targets_ranked.actual_amount_to_date,
        targets_ranked.target_attainment_pct
    from targets_ranked
    where targets_ranked.month_recency = 1
),

recommendations_ranked as (
    select
        customer_product_recommendations.customer_id,
        customer_product_recommendations.product_id as top_recommended_product_id,
        customer_product_recommendations.product_name as top_recommended_product_name,
        customer_product_recommendations.reason as top_recommendation_reason,
        row_number() over (
            partition by customer_product_recommendations.customer_id
            order by
                case customer_product_recommendations.reason
                    when 'also_bought' then 1
                    when 'popular_in_segment' then 2
                    else 3
                end asc,
                customer_product_recommendations.rank asc nulls last,
                customer_product_recommendations.product_id asc
        ) as recommendation_order
    from customer_product_recommendations
),

top_recommendations as (
    select
        recommendations_ranked.customer_id,
        recommendations_ranked.top_recommended_product_id,
        recommendations_ranked.top_recommended_product_name,
        recommendations_ranked.top_recommendation_reason
    from recommendations_ranked
    where recommendations_ranked.recommendation_order = 1
),

final as (
    select
        customers.customer_id,
        customers.customer_name,
        customers.segment,
        customers.account_manager,
        customers.created_date as created_at,
        customers.is_email_opt_in as email_opt_in,
        customers.first_order_date,
        customers.last_order_date,
        customers.order_count,
        customers.net_spend_amount,
        coalesce(spend_last_12_months.spend_last_12_months, {{ zero_spend }}) as spend_last_12_months,
        coalesce(spend_last_12_months.spend_prior_12_months, {{ zero_spend }}) as spend_prior_12_months,
        spend_last_12_months.spend_change_pct_last_12_months,
        classifications.risk_score_value as risk_score,
        classifications.risk_score_band,
        classifications.risk_change_value as risk_change_pct,
        classifications.risk_change_band,
        classifications.revenue_rank_value as revenue_rank,
        classifications.revenue_rank_band,
        classifications.revenue_change_value as revenue_change_pct,
        classifications.revenue_change_band,
        classifications.revenue_share_value as revenue_share_pct,
        classifications.revenue_share_band,
        cast(classifications.order_count_value as bigint) as orders_in_timeframe,
        classifications.order_count_band,
        customer_rfm.recency_days,
        customer_rfm.rfm_cell,
        customer_rfm.rfm_segment,
        customer_rfm.lifecycle_stage,
        customer_rfm.persona,
        coalesce(customer_rfm.is_new_customer, false) as is_new_customer,
        customer_value.historic_clv,
        customer_value.predicted_clv,
        customer_value.predicted_clv_discounted,
        customer_value.total_clv,
        customer_value.p_alive,
        customer_value.churn_risk,
        customer_value.predicted_spend_tier,
        customer_value.expected_next_order_date,
        customer_value.model_status as clv_model_status,
        latest_targets.target_amount_to_date,
        latest_targets.actual_amount_to_date,
        latest_targets.target_attainment_pct,
        top_recommendations.top_recommended_product_id,
        top_recommendations.top_recommended_product_name,
        top_recommendations.top_recommendation_reason
    from customers
    left join spend_last_12_months
        on customers.customer_id = spend_last_12_months.customer_id
    left join classifications
        on customers.customer_id = classifications.customer_id
    left join customer_rfm
        on customers.customer_id = customer_rfm.customer_id
    left join customer_value
        on customers.customer_id = customer_value.customer_id
    left join latest_targets
        on customers.customer_id = latest_targets.customer_id
    left join top_recommendations
        on customers.customer_id = top_recommendations.customer_id
)

select * from final
