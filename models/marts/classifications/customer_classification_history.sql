{#- The sales classifications at every business month-end from the first with an order up to
    the as-of date (SPEC 4.3), computed by the same model as customer_classifications, so a
    customer's bands can be charted over time. -#}
with

banded as (
    select * from {{ ref('int_customer_classifications_banded') }}
    where is_month_end
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
        banded.last_order_date
    from banded
)

select * from final
