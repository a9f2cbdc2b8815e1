{{ config(**partitioned_incremental_config('month_end_date', 'int_snapshot_dates_fingerprinted')) }}
{#- customer_rfm at every business month-end up to the as-of date, for each customer who had
    purchased by then (SPEC 4.5): scores are ranked among the customers of the same month-end.
    Incremental by month-end: a run writes only the month-ends whose inputs changed
    (macros/incremental.sql). -#}
with

all_customers_scored_rfm as (
    select * from {{ ref('int_customers_scored_rfm') }}
    where is_month_end
),

snapshot_dates_fingerprinted as (
    select * from {{ ref('int_snapshot_dates_fingerprinted') }}
),

month_ends_fingerprinted as (
    select
        snapshot_dates_fingerprinted.partition_value,
        {{ row_fingerprint([
            'snapshot_dates_fingerprinted.partition_fingerprint',
            settings_fingerprint([
                'business_calendar', 'rfm_bins', 'lifecycle_active_max_days', 'lifecycle_lapsing_max_days',
                'new_customer_days',
            ]),
            relation_fingerprint(ref('rfm_segments'), ['r_score', 'fm_score', 'segment']),
            relation_fingerprint(ref('rfm_personas'), ['lifecycle_stage', 'min_fm_sum', 'max_fm_sum', 'persona']),
        ]) }} as partition_fingerprint
    from snapshot_dates_fingerprinted
    where snapshot_dates_fingerprinted.is_month_end
),

stale_month_ends as (
    {{ stale_partitions('month_ends_fingerprinted', 'month_end_date') }}
),

customers_scored_rfm as (
    select
        all_customers_scored_rfm.*,
        month_ends_fingerprinted.partition_fingerprint
    from all_customers_scored_rfm
    inner join stale_month_ends
        on all_customers_scored_rfm.snapshot_date = stale_month_ends.partition_value
    inner join month_ends_fingerprinted
        on all_customers_scored_rfm.snapshot_date = month_ends_fingerprinted.partition_value
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
        customers_scored_rfm.last_order_date,
        customers_scored_rfm.first_order_date,
        customers_scored_rfm.is_new_customer,
        customers_scored_rfm.partition_fingerprint
    from customers_scored_rfm
)

select * from final
