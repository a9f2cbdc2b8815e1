{{ config(**partitioned_incremental_config('month_end_date', 'int_snapshot_dates_fingerprinted')) }}
{#- The sales classifications at every business month-end from the first with an order up to
    the as-of date (SPEC 4.3), computed by the same model as customer_classifications, so a
    customer's bands can be charted over time. Incremental by month-end: a run writes only the
    month-ends whose inputs changed (macros/incremental.sql). -#}
with

all_banded as (
    select * from {{ ref('int_customer_classifications_banded') }}
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
            settings_fingerprint(['business_calendar', 'classification_timeframe_months']),
            relation_fingerprint(ref('classification_bands'), [
                'classification_type', 'segment', 'band_order', 'upper_bound', 'label', 'color',
                'min_spend', 'min_orders',
            ]),
        ]) }} as partition_fingerprint
    from snapshot_dates_fingerprinted
    where snapshot_dates_fingerprinted.is_month_end
),

stale_month_ends as (
    {{ stale_partitions('month_ends_fingerprinted', 'month_end_date') }}
),

banded as (
    select
        all_banded.*,
        month_ends_fingerprinted.partition_fingerprint
    from all_banded
    inner join stale_month_ends
        on all_banded.evaluation_date = stale_month_ends.partition_value
    inner join month_ends_fingerprinted
        on all_banded.evaluation_date = month_ends_fingerprinted.partition_value
),

final as (
    select
        banded.evaluation_date as month_end_date,
        banded.customer_id,
        banded.segment,
        banded.classification_type,
        banded.metric_value,
        banded.band_order,
        banded.band_label,
        banded.band_color,
        banded.is_eligible,
        banded.ineligible_reason,
        banded.timeframe_start,
        banded.timeframe_end,
        banded.revenue,
        banded.previous_revenue,
        banded.order_count,
        banded.last_order_date,
        banded.partition_fingerprint
    from banded
)

select * from final
