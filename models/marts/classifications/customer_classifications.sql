{#- Sales classifications at the as-of date (SPEC 4.2): one row per customer with a purchase up
    to as-of and classification type, with its metric value and band. -#}
with

banded as (
    select * from {{ ref('int_customer_classifications_banded') }}
    where is_as_of_date
),

final as (
    select
        banded.customer_id,
        banded.segment,
        banded.classification_type,
        banded.metric_value,
        banded.band_order,
        banded.band_label,
        banded.band_color,
        banded.is_eligible,
        banded.ineligible_reason,
        banded.evaluation_date as as_of_date,
        banded.timeframe_start,
        banded.timeframe_end,
        banded.previous_timeframe_start,
        banded.previous_timeframe_end,
        banded.revenue,
        banded.previous_revenue,
        banded.order_count,
        banded.last_order_date
    from banded
)

select * from final
