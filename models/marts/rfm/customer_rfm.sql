{#- One row per customer with at least one purchase up to the as-of date: recency, frequency and
    monetary value over the whole history, their quantile scores, the RFM cell and segment, the
    lifecycle stage and persona (SPEC 4.4). -#}
with

customers_scored_rfm as (
    select * from {{ ref('int_customers_scored_rfm') }}
),

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

final as (
    select
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
        customers_scored_rfm.last_order_date,
        customers_scored_rfm.snapshot_date as as_of_date,
        customers_scored_rfm.first_order_date,
        customers_scored_rfm.is_new_customer
    from customers_scored_rfm
    inner join analysis_dates
        on customers_scored_rfm.snapshot_date = analysis_dates.as_of_date
)

select * from final
