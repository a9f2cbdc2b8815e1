{#- customer_rfm at every business month-end up to the as-of date, for each customer who had
    purchased by then (SPEC 4.5): scores are ranked among the customers of the same month-end. -#}
with

customers_scored_rfm as (
    select * from {{ ref('int_customers_scored_rfm') }}
),

final as (
    select
        customers_scored_rfm.snapshot_date as month_end_date,
        customers_scored_rfm.customer_id,
        customers_scored_rfm.recency_days,
        customers_scored_rfm.frequency,
        customers_scored_rfm.monetary,
        customers_scored_rfm.r_score,
        customers_scored_rfm.f_score,
        customers_scored_rfm.m_score,
        customers_scored_rfm.fm_score,
        customers_scored_rfm.rfm_cell,
        customers_scored_rfm.rfm_segment,
        customers_scored_rfm.lifecycle_stage,
        customers_scored_rfm.persona,
        customers_scored_rfm.segment,
        customers_scored_rfm.last_order_date
    from customers_scored_rfm
    where customers_scored_rfm.is_month_end
)

select * from final
