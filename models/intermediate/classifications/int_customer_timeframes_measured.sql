{{ config(**partitioned_incremental_config('evaluation_date', 'int_snapshot_dates_fingerprinted')) }}
{#- The six sales-classification metrics per customer at every classification date (the as-of
    date and each business month-end before it): the one computation both
    customer_classifications and customer_classification_history read. A customer is measured
    from the date of its first purchase on; customers without a segment form the group '(no segment)'.
    Incremental by evaluation date: a run measures only the dates whose inputs changed (a new
    as-of date, a late order's month-end and later ones, a changed customer or setting). -#}
with

orders as (
    select * from {{ ref('int_orders_summarised') }}
),

customers as (
    select * from {{ ref('int_customers_summarised') }}
),

all_timeframes as (
    select * from {{ ref('int_classification_timeframes_listed') }}
),

snapshot_dates_fingerprinted as (
    select * from {{ ref('int_snapshot_dates_fingerprinted') }}
),

timeframes_fingerprinted as (
    select
        all_timeframes.evaluation_date as partition_value,
        {{ row_fingerprint([
            'snapshot_dates_fingerprinted.partition_fingerprint',
            'all_timeframes.is_as_of_date', 'all_timeframes.is_month_end',
            'all_timeframes.timeframe_start', 'all_timeframes.timeframe_end',
            'all_timeframes.previous_timeframe_start', 'all_timeframes.previous_timeframe_end',
            settings_fingerprint(['business_calendar', 'classification_timeframe_months']),
        ]) }} as partition_fingerprint
    from all_timeframes
    inner join snapshot_dates_fingerprinted
        on all_timeframes.evaluation_date = snapshot_dates_fingerprinted.partition_value
),

stale_dates as (
    {{ stale_partitions('timeframes_fingerprinted', 'evaluation_date') }}
),

timeframes as (
    select all_timeframes.*
    from all_timeframes
    inner join stale_dates
        on all_timeframes.evaluation_date = stale_dates.partition_value
),

customer_days as (
    select
        orders.customer_id,
        orders.order_date,
        sum(orders.spend_amount) as spend_amount,
        count(case when orders.is_purchase then 1 end) as purchase_order_count,
        bool_or(orders.is_purchase) as is_purchase_day
    from orders
    group by
        orders.customer_id,
        orders.order_date
),

{# Every metric is a value "up to a date" at one of three dates per classification date: the
   date itself, the end of its previous timeframe and the day before that timeframe starts
   (revenue in a timeframe = spend up to its end - spend up to the day before it). So the
   customer days are summed into buckets ending at those boundary dates, cumulated once per
   customer over the boundaries, and read at the three dates: a few rows per customer and
   boundary instead of every customer day joined to every later classification date. #}
boundaries as (
    select distinct boundary_dates.boundary_date
    from (
        select timeframes.evaluation_date as boundary_date from timeframes
        union all
        select timeframes.previous_timeframe_end as boundary_date from timeframes
        union all
        select {{ add_days('timeframes.previous_timeframe_start', -1) }} as boundary_date from timeframes
    ) as boundary_dates
),

-- each order date falls in the bucket of the first boundary on or after it
order_date_buckets as (
    select
        order_dates.order_date,
        min(boundaries.boundary_date) as bucket_date
    from (select distinct customer_days.order_date from customer_days) as order_dates
    inner join boundaries
        on order_dates.order_date <= boundaries.boundary_date
    group by order_dates.order_date
),

customer_buckets as (
    select
        customer_days.customer_id,
        order_date_buckets.bucket_date,
        sum(customer_days.spend_amount) as spend_amount,
        sum(customer_days.purchase_order_count) as purchase_order_count,
        count(case when customer_days.is_purchase_day then 1 end) as purchase_day_count,
        min(case when customer_days.is_purchase_day then customer_days.order_date end) as first_purchase_date,
        max(case when customer_days.is_purchase_day then customer_days.order_date end) as last_purchase_date
    from customer_days
    inner join order_date_buckets
        on customer_days.order_date = order_date_buckets.order_date
    group by
        customer_days.customer_id,
        order_date_buckets.bucket_date
),

customer_starts as (
    select
        customer_buckets.customer_id,
        min(customer_buckets.bucket_date) as first_bucket_date
    from customer_buckets
    group by customer_buckets.customer_id
),

-- each customer at every boundary from its first bucket on, with its values up to that date
cumulated as (
    select
        customer_starts.customer_id,
        boundaries.boundary_date,
        sum(coalesce(customer_buckets.spend_amount, 0)) over customer_to_date as spend_to_date,
        sum(coalesce(customer_buckets.purchase_order_count, 0)) over customer_to_date as purchase_orders_to_date,
        sum(coalesce(customer_buckets.purchase_day_count, 0)) over customer_to_date as purchase_days_to_date,
        min(customer_buckets.first_purchase_date) over customer_to_date as first_purchase_date,
        max(customer_buckets.last_purchase_date) over customer_to_date as last_purchase_date
    from customer_starts
    inner join boundaries
        on customer_starts.first_bucket_date <= boundaries.boundary_date
    left join customer_buckets
        on
            customer_starts.customer_id = customer_buckets.customer_id
            and boundaries.boundary_date = customer_buckets.bucket_date
    window customer_to_date as (
        partition by customer_starts.customer_id
        order by boundaries.boundary_date
        rows between unbounded preceding and current row
    )
),

measured as (
    select
        timeframes.evaluation_date,
        timeframes.is_as_of_date,
        timeframes.is_month_end,
        timeframes.timeframe_start,
        timeframes.timeframe_end,
        timeframes.previous_timeframe_start,
        timeframes.previous_timeframe_end,
        at_date.customer_id,
        at_date.first_purchase_date as first_order_date,
        at_date.last_purchase_date as last_order_date,
        at_date.purchase_days_to_date as order_day_count,
        at_previous_end.first_purchase_date as previous_first_order_date,
        at_previous_end.last_purchase_date as previous_last_order_date,
        coalesce(at_previous_end.purchase_days_to_date, 0) as previous_order_day_count,
        {#- money rounded to 6 decimals: float noise must not split ties in revenue_rank -#}
        round(at_date.spend_to_date - coalesce(at_previous_end.spend_to_date, 0), 6) as revenue,
        round(coalesce(at_previous_end.spend_to_date, 0) - coalesce(before_previous.spend_to_date, 0), 6)
            as previous_revenue,
        at_date.purchase_orders_to_date - coalesce(at_previous_end.purchase_orders_to_date, 0) as order_count
    from timeframes
    inner join cumulated as at_date
        on timeframes.evaluation_date = at_date.boundary_date
    left join cumulated as at_previous_end
        on
            at_date.customer_id = at_previous_end.customer_id
            and timeframes.previous_timeframe_end = at_previous_end.boundary_date
    left join cumulated as before_previous
        on
            at_date.customer_id = before_previous.customer_id
            and {{ add_days('timeframes.previous_timeframe_start', -1) }} = before_previous.boundary_date
    where at_date.purchase_days_to_date > 0
),

with_gaps as (
    select
        measured.*,
        coalesce(customers.segment, '(no segment)') as segment,
        case
            when measured.order_day_count >= 2
                then {{ safe_divide(dbt.datediff('measured.first_order_date', 'measured.last_order_date', 'day'),
                                    'measured.order_day_count - 1') }}
        end as average_gap_days,
        case
            when measured.previous_order_day_count >= 2
                then {{ safe_divide(
                    dbt.datediff('measured.previous_first_order_date', 'measured.previous_last_order_date', 'day'),
                    'measured.previous_order_day_count - 1'
                ) }}
        end as previous_average_gap_days
    from measured
    inner join customers
        on measured.customer_id = customers.customer_id
),

with_medians as (
    select
        with_gaps.*,
        median(with_gaps.average_gap_days) over (
            partition by with_gaps.evaluation_date, with_gaps.segment
        ) as segment_median_gap_days,
        median(with_gaps.average_gap_days) over (
            partition by with_gaps.evaluation_date
        ) as overall_median_gap_days,
        median(with_gaps.previous_average_gap_days) over (
            partition by with_gaps.evaluation_date, with_gaps.segment
        ) as previous_segment_median_gap_days,
        median(with_gaps.previous_average_gap_days) over (
            partition by with_gaps.evaluation_date
        ) as previous_overall_median_gap_days
    from with_gaps
),

risk_scored as (
    select
        with_medians.*,
        {{ safe_divide(
            dbt.datediff('with_medians.last_order_date', 'with_medians.evaluation_date', 'day'),
            'coalesce(with_medians.average_gap_days, with_medians.segment_median_gap_days,'
            ~ ' with_medians.overall_median_gap_days)'
        ) }} as risk_score,
        {{ safe_divide(
            dbt.datediff('with_medians.previous_last_order_date', 'with_medians.previous_timeframe_end', 'day'),
            'coalesce(with_medians.previous_average_gap_days, with_medians.previous_segment_median_gap_days,'
            ~ ' with_medians.previous_overall_median_gap_days)'
        ) }} as previous_risk_score
    from with_medians
),

final as (
    select
        risk_scored.evaluation_date,
        risk_scored.is_as_of_date,
        risk_scored.is_month_end,
        risk_scored.customer_id,
        risk_scored.segment,
        risk_scored.timeframe_start,
        risk_scored.timeframe_end,
        risk_scored.previous_timeframe_start,
        risk_scored.previous_timeframe_end,
        risk_scored.first_order_date,
        risk_scored.last_order_date,
        risk_scored.average_gap_days,
        risk_scored.segment_median_gap_days,
        cast(risk_scored.revenue as double) as revenue,
        cast(risk_scored.previous_revenue as double) as previous_revenue,
        cast(risk_scored.order_count as bigint) as order_count,
        risk_scored.risk_score,
        risk_scored.previous_risk_score,
        {{ pct_change('risk_scored.risk_score', 'risk_scored.previous_risk_score') }} as risk_change,
        {#- Among the segment's customers with revenue (net revenue > 0) in the timeframe:
            100 x (1 + customers with strictly more revenue) / customers with revenue, so the top
            customer of 5 has 20 and exactly the top 20% have <= 20. rank() keeps ties on purpose
            and counts only customers with more revenue, who all have revenue. -#}
        case
            when risk_scored.revenue > 0
                then 100.0 * rank() over (
                        partition by risk_scored.evaluation_date, risk_scored.segment
                        order by risk_scored.revenue desc nulls last
                    ) / count(case when risk_scored.revenue > 0 then 1 end) over (
                        partition by risk_scored.evaluation_date, risk_scored.segment
                    )
        end as revenue_rank,
        {{ pct_change('risk_scored.revenue', 'risk_scored.previous_revenue') }} as revenue_change,
        case
            when sum(risk_scored.revenue) over (
                    partition by risk_scored.evaluation_date, risk_scored.segment
                ) > 0
                then 100.0 * sum(risk_scored.revenue) over (
                        partition by risk_scored.evaluation_date, risk_scored.segment
                        order by risk_scored.revenue desc nulls last, risk_scored.customer_id asc
                        rows between unbounded preceding and current row
                    ) / sum(risk_scored.revenue) over (
                        partition by risk_scored.evaluation_date, risk_scored.segment
                    )
        end as revenue_share,
        timeframes_fingerprinted.partition_fingerprint
    from risk_scored
    inner join timeframes_fingerprinted
        on risk_scored.evaluation_date = timeframes_fingerprinted.partition_value
)

select * from final
