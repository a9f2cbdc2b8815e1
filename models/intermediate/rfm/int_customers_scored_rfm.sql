{{ config(materialized='table') }}
{#- RFM scores, segment, lifecycle stage and persona of every customer with a purchase, at every
    snapshot date: each business month-end up to the as-of date, and the as-of date itself.
    customer_rfm (the as-of snapshot), customer_rfm_history (the month-ends) and the persona
    movements all read this one set-based pass, so they always agree. -#}
{%- set bins = rfm_bins() %}
{%- set active_max_days = var('lifecycle_active_max_days', none) %}
{%- set lapsing_max_days = var('lifecycle_lapsing_max_days', none) %}
with

orders as (
    select * from {{ ref('int_orders_summarised') }}
),

customers as (
    select * from {{ ref('int_customers_summarised') }}
),

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

calendar as (
    select * from {{ ref('int_business_calendar_days') }}
),

rfm_segments as (
    select * from {{ ref('rfm_segments') }}
),

rfm_personas as (
    select * from {{ ref('rfm_personas') }}
),

snapshot_dates as (
    select distinct
        calendar.business_month_end as snapshot_date,
        true as is_month_end
    from calendar
    cross join analysis_dates
    where
        calendar.business_month_end <= analysis_dates.as_of_date
        and calendar.business_month_end >= analysis_dates.first_order_date
),

snapshot_candidates as (
    select
        snapshot_dates.snapshot_date,
        snapshot_dates.is_month_end
    from snapshot_dates
    union all
    select
        analysis_dates.as_of_date as snapshot_date,
        false as is_month_end
    from analysis_dates
),

all_snapshot_dates as (
    select
        snapshot_candidates.snapshot_date,
        bool_or(snapshot_candidates.is_month_end) as is_month_end
    from snapshot_candidates
    group by snapshot_candidates.snapshot_date
),

-- each order counts from the first snapshot on or after its date: its month-end, or the as-of
-- date for orders after the last complete month-end
dated_orders as (
    select
        orders.customer_id,
        orders.order_date,
        orders.spend_amount,
        orders.is_purchase,
        case
            when calendar.business_month_end <= analysis_dates.as_of_date then calendar.business_month_end
            else analysis_dates.as_of_date
        end as snapshot_date
    from orders
    inner join calendar
        on orders.order_date = calendar.calendar_date
    cross join analysis_dates
),

order_buckets as (
    select
        dated_orders.customer_id,
        dated_orders.snapshot_date,
        count(case when dated_orders.is_purchase then 1 end) as purchase_count,
        sum(dated_orders.spend_amount) as spend_amount,
        max(case when dated_orders.is_purchase then dated_orders.order_date end) as last_purchase_date,
        min(case when dated_orders.is_purchase then dated_orders.order_date end) as first_purchase_date
    from dated_orders
    group by
        dated_orders.customer_id,
        dated_orders.snapshot_date
),

customer_starts as (
    select
        order_buckets.customer_id,
        min(order_buckets.snapshot_date) as first_snapshot_date
    from order_buckets
    group by order_buckets.customer_id
),

customer_snapshots as (
    select
        customer_starts.customer_id,
        all_snapshot_dates.snapshot_date,
        all_snapshot_dates.is_month_end
    from customer_starts
    inner join all_snapshot_dates
        on customer_starts.first_snapshot_date <= all_snapshot_dates.snapshot_date
),

cumulated as (
    select
        customer_snapshots.customer_id,
        customer_snapshots.snapshot_date,
        customer_snapshots.is_month_end,
        sum(coalesce(order_buckets.purchase_count, 0)) over customer_to_date as frequency,
        sum(coalesce(order_buckets.spend_amount, 0)) over customer_to_date as monetary,
        max(order_buckets.last_purchase_date) over customer_to_date as last_order_date,
        min(order_buckets.first_purchase_date) over customer_to_date as first_order_date
    from customer_snapshots
    left join order_buckets
        on
            customer_snapshots.customer_id = order_buckets.customer_id
            and customer_snapshots.snapshot_date = order_buckets.snapshot_date
    window customer_to_date as (
        partition by customer_snapshots.customer_id
        order by customer_snapshots.snapshot_date nulls last
        rows between unbounded preceding and current row
    )
),

measured as (
    select
        cumulated.customer_id,
        cumulated.snapshot_date,
        cumulated.is_month_end,
        cumulated.last_order_date,
        cumulated.first_order_date,
        cast(
            {{ dbt.datediff('cumulated.last_order_date', 'cumulated.snapshot_date', 'day') }} -- noqa: LT05
            as integer
        ) as recency_days,
        cast(cumulated.frequency as integer) as frequency,
        cumulated.monetary,
        -- ranked on a rounded value so float noise in sums never splits equal spend
        round(cumulated.monetary, 6) as monetary_rank_value
    from cumulated
    where cumulated.frequency > 0
),

-- worse count = customers at the same snapshot with a strictly worse value (rank() - 1);
-- rank() keeps ties together on purpose, so no tie-breaker here
ranked as (
    select
        measured.*,
        count(*) over (partition by measured.snapshot_date) as customer_count,
        rank() over (
            partition by measured.snapshot_date order by measured.recency_days desc nulls last
        ) - 1 as recency_worse_count,
        rank() over (
            partition by measured.snapshot_date order by measured.frequency asc nulls last
        ) - 1 as frequency_worse_count,
        rank() over (
            partition by measured.snapshot_date order by measured.monetary_rank_value asc nulls last
        ) - 1 as monetary_worse_count,
        min(measured.recency_days) over (partition by measured.snapshot_date) as min_recency_days,
        max(measured.recency_days) over (partition by measured.snapshot_date) as max_recency_days
    from measured
),

scored as (
    select
        ranked.*,
        {{ rfm_quantile_score('ranked.recency_worse_count', 'ranked.customer_count', bins) }} as r_score,
        {{ rfm_quantile_score('ranked.frequency_worse_count', 'ranked.customer_count', bins) }} as f_score,
        {{ rfm_quantile_score('ranked.monetary_worse_count', 'ranked.customer_count', bins) }} as m_score,
        {%- if active_max_days is not none %}
            cast({{ active_max_days }} as double) as active_max_days,
        {%- else %}
            ranked.min_recency_days + (ranked.max_recency_days - ranked.min_recency_days) / 3.0
                as active_max_days,
        {%- endif %}
        {%- if lapsing_max_days is not none %}
            cast({{ lapsing_max_days }} as double) as lapsing_max_days
        {%- else %}
            ranked.min_recency_days + 2 * (ranked.max_recency_days - ranked.min_recency_days) / 3.0
                as lapsing_max_days
        {%- endif %}
    from ranked
),

combined as (
    select
        scored.*,
        cast(ceil((scored.f_score + scored.m_score) / 2.0) as integer) as fm_score,
        case
            when scored.recency_days <= scored.active_max_days then 'active'
            when scored.recency_days <= greatest(scored.active_max_days, scored.lapsing_max_days) then 'lapsing'
            else 'inactive'
        end as lifecycle_stage
    from scored
),

final as (
    select
        combined.snapshot_date,
        combined.is_month_end,
        combined.customer_id,
        customers.segment,
        combined.last_order_date,
        combined.first_order_date,
        {#- new: the first order falls in the new_customer_days days ending on the snapshot date -#}
        {{ dbt.datediff('combined.first_order_date', 'combined.snapshot_date', 'day') }}
        < {{ var('new_customer_days', 90) }} as is_new_customer,
        combined.recency_days,
        combined.frequency,
        combined.monetary,
        combined.r_score,
        combined.f_score,
        combined.m_score,
        combined.fm_score,
        cast(combined.r_score as {{ dbt.type_string() }})
        || cast(combined.f_score as {{ dbt.type_string() }})
        || cast(combined.m_score as {{ dbt.type_string() }}) as rfm_cell,
        rfm_segments.segment as rfm_segment,
        combined.lifecycle_stage,
        rfm_personas.persona,
        combined.customer_count
    from combined
    left join customers
        on combined.customer_id = customers.customer_id
    left join rfm_segments
        on
            {{ rfm_rescale_to_five('combined.r_score', bins) }} = rfm_segments.r_score
            and {{ rfm_rescale_to_five('combined.fm_score', bins) }} = rfm_segments.fm_score
    left join rfm_personas
        on
            combined.lifecycle_stage = rfm_personas.lifecycle_stage
            and {{ rfm_rescale_to_five('combined.f_score', bins) }}
            + {{ rfm_rescale_to_five('combined.m_score', bins) }}
            between rfm_personas.min_fm_sum and rfm_personas.max_fm_sum
)

select * from final
