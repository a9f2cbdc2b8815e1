{#- Each customer's classification metric at every classification date and type, with the
    band of the classification_bands seed it falls in (the segment's own band rows, else the
    '*' rows). Band n holds values above band n-1's upper bound up to and including its own;
    band 1 has no lower limit. A customer below the set's min_spend / min_orders, or whose
    metric is null, is not eligible and gets no band. -#}
with

metrics as (
    select * from {{ ref('int_customer_metrics_unpivoted') }}
),

classification_bands as (
    select * from {{ ref('classification_bands') }}
),

band_sets as (
    select
        classification_bands.classification_type,
        classification_bands.segment,
        max(classification_bands.min_spend) as min_spend,
        max(classification_bands.min_orders) as min_orders
    from classification_bands
    group by
        classification_bands.classification_type,
        classification_bands.segment
),

band_ranges as (
    select
        classification_bands.classification_type,
        classification_bands.segment,
        classification_bands.band_order,
        lag(classification_bands.upper_bound) over (
            partition by classification_bands.classification_type, classification_bands.segment
            order by classification_bands.band_order asc nulls last, classification_bands.upper_bound asc nulls last
        ) as lower_bound_exclusive,
        classification_bands.upper_bound,
        classification_bands.label,
        classification_bands.color
    from classification_bands
),

with_band_set as (
    select
        metrics.*,
        coalesce(own_set.segment, all_set.segment) as band_segment,
        coalesce(own_set.min_spend, all_set.min_spend) as min_spend,
        coalesce(own_set.min_orders, all_set.min_orders) as min_orders,
        case
            when own_set.segment is null and all_set.segment is null then 'no bands for this type and segment'
            when metrics.metric_value is null then 'no metric value'
            when metrics.revenue < coalesce(own_set.min_spend, all_set.min_spend) then 'below min_spend'
            when metrics.order_count < coalesce(own_set.min_orders, all_set.min_orders) then 'below min_orders'
        end as ineligible_reason
    from metrics
    left join band_sets as own_set
        on
            metrics.classification_type = own_set.classification_type
            and metrics.segment = own_set.segment
    left join band_sets as all_set
        on
            metrics.classification_type = all_set.classification_type
            and all_set.segment = '*'
            and own_set.segment is null
),

final as (
    select
        with_band_set.evaluation_date,
        with_band_set.is_as_of_date,
        with_band_set.is_month_end,
        with_band_set.customer_id,
        with_band_set.segment,
        with_band_set.classification_type,
        with_band_set.type_order,
        with_band_set.metric_value,
        band_ranges.band_order,
        band_ranges.label as band_label,
        band_ranges.color as band_color,
        band_ranges.band_order is not null as is_eligible,
        coalesce(
            with_band_set.ineligible_reason,
            case when band_ranges.band_order is null then 'outside every band' end
        ) as ineligible_reason,
        with_band_set.timeframe_start,
        with_band_set.timeframe_end,
        with_band_set.previous_timeframe_start,
        with_band_set.previous_timeframe_end,
        with_band_set.revenue,
        with_band_set.previous_revenue,
        with_band_set.order_count,
        with_band_set.last_order_date
    from with_band_set
    left join band_ranges
        on
            with_band_set.ineligible_reason is null
            and with_band_set.classification_type = band_ranges.classification_type
            and with_band_set.band_segment = band_ranges.segment
            and (
                band_ranges.lower_bound_exclusive is null
                or with_band_set.metric_value > band_ranges.lower_bound_exclusive
            )
            and (band_ranges.upper_bound is null or with_band_set.metric_value <= band_ranges.upper_bound)
)

select * from final
