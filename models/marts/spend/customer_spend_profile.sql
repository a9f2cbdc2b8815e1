{#- The product spend profile: customer x item (product, bundle, category) x spend window with
    spend in the window and its prior span, change, margin, share of wallet and the segment's
    share. One row per window for every customer x item with a line in the window or its prior
    span. Built in customer buckets on DuckDB (macros/bucketed_build.sql): every scan of the
    compact aggregate keeps one bucket's customers, and the segment totals come from
    int_segment_items_aggregated_to_windows, computed over all customers. -#}
{{ config(
    materialized=('bucketed_table' if target.type == 'duckdb' else 'table'),
    bucket_sizing_model='int_order_lines_aggregated_to_days',
) }}
with

int_spend_windows_bounded as (
    select * from {{ ref('int_spend_windows_bounded') }}
),

int_order_lines_aggregated_to_days as {{ inline_cte() }} (
    select * from {{ ref('int_order_lines_aggregated_to_days') }}
),

int_customers_summarised as (
    select * from {{ ref('int_customers_summarised') }}
),

int_segment_items_aggregated_to_windows as (
    select * from {{ ref('int_segment_items_aggregated_to_windows') }}
),

calendar_days as (
    select * from {{ ref('int_calendar_days_spined') }}
),

window_days as {{ materialized_cte() }} (
    {{ spend_window_days('int_spend_windows_bounded', 'calendar_days') }}
),

{# One grouping by customer x item x window over the days in range: its output is the mart's
   grain (each row has a line in the window or its prior span), 7 sums per row. (Summing every
   window side by side per customer x item, 22 sums per row, then one row per window, peaked at
   11-13 GB of DuckDB memory at 10M lines against 8.4 GB for this, and took 37-49 s against 34-36 s
   with memory_limit 7GB.) Sums of money and quantity are rounded to 6 decimals so that float
   noise never turns a zero into a tiny non-zero. The compact aggregate is imported with
   inline_cte(): read twice, DuckDB would otherwise copy every row of it first. #}
window_items as (
    select
        daily_items.customer_id,
        daily_items.item_level,
        daily_items.item_id,
        window_days.window_order,
        round(sum(case when window_days.is_in_window then daily_items.spend_amount else 0 end), 6)
            as total_spend,
        round(sum(case when window_days.is_in_window then daily_items.cost_amount end), 6) as cost_amount,
        round(sum(case when window_days.is_in_window then daily_items.uncosted_spend_amount else 0 end), 6)
            as uncosted_spend,
        round(sum(case when window_days.is_in_window then daily_items.quantity else 0 end), 6) as quantity,
        sum(case when window_days.is_in_window then daily_items.order_count else 0 end) as order_count,
        round(sum(case when window_days.is_in_window then 0 else daily_items.spend_amount end), 6)
            as prior_total_spend,
        {{ dbt.bool_or('daily_items.quantity > 0') }} as has_purchased_in_range
    from int_order_lines_aggregated_to_days as daily_items
    inner join window_days
        on daily_items.order_date = window_days.calendar_date
    where {{ in_customer_bucket('daily_items.customer_id') }}
    group by
        daily_items.customer_id,
        daily_items.item_level,
        daily_items.item_id,
        window_days.window_order
),

{# has_purchased looks at the whole history up to as-of. A purchase in range settles it; only
   the few customer x items without one (returns or zero quantities in range) are looked up in
   the other days. #}
items_to_look_up as (
    select distinct
        window_items.customer_id,
        window_items.item_level,
        window_items.item_id
    from window_items
    where not window_items.has_purchased_in_range
),

items_bought_earlier as (
    select distinct
        items_to_look_up.customer_id,
        items_to_look_up.item_level,
        items_to_look_up.item_id
    from items_to_look_up
    inner join int_order_lines_aggregated_to_days as daily_items
        on
            items_to_look_up.customer_id = daily_items.customer_id
            and items_to_look_up.item_level = daily_items.item_level
            and items_to_look_up.item_id = daily_items.item_id
    where
        daily_items.quantity > 0
        and {{ in_customer_bucket('daily_items.customer_id') }}
),

window_items_with_segment as (
    select
        window_items.*,
        (
            window_items.has_purchased_in_range
            or items_bought_earlier.customer_id is not null
        ) as has_purchased,
        int_customers_summarised.segment
    from window_items
    left join items_bought_earlier
        on
            window_items.customer_id = items_bought_earlier.customer_id
            and window_items.item_level = items_bought_earlier.item_level
            and window_items.item_id = items_bought_earlier.item_id
    left join int_customers_summarised
        on window_items.customer_id = int_customers_summarised.customer_id
),

{# Segment shares need three totals per window: the customer's (the product level holds every
   line exactly once), the segment's per item and the segment's (over all customers, from
   int_segment_items_aggregated_to_windows). #}
customer_totals as (
    select
        window_items.customer_id,
        window_items.window_order,
        round(sum(window_items.total_spend), 6) as customer_spend
    from window_items
    where window_items.item_level = 'product'
    group by
        window_items.customer_id,
        window_items.window_order
),

segment_items as (
    select * from int_segment_items_aggregated_to_windows
),

segment_totals as (
    select
        segment_items.segment,
        segment_items.window_order,
        round(sum(segment_items.segment_item_spend), 6) as segment_spend
    from segment_items
    where segment_items.item_level = 'product'
    group by
        segment_items.segment,
        segment_items.window_order
),

shares as (
    select
        window_items_with_segment.*,
        bounds.window_name,
        bounds.window_start,
        bounds.window_end,
        bounds.prior_window_start,
        bounds.prior_window_end,
        bounds.periods,
        bounds.prior_periods,
        case when customer_totals.customer_spend > 0 then customer_totals.customer_spend end as customer_spend,
        {#- The customer's own segment has a row for every item it holds in range; no row means
            no spend in the window (only prior-span activity). #}
        case
            when window_items_with_segment.segment is not null
                then coalesce(segment_items.segment_item_spend, 0)
        end as segment_item_spend,
        case when segment_totals.segment_spend > 0 then segment_totals.segment_spend end as segment_spend
    from window_items_with_segment
    inner join int_spend_windows_bounded as bounds
        on window_items_with_segment.window_order = bounds.window_order
    left join customer_totals
        on
            window_items_with_segment.customer_id = customer_totals.customer_id
            and window_items_with_segment.window_order = customer_totals.window_order
    left join segment_items
        on
            window_items_with_segment.segment = segment_items.segment
            and window_items_with_segment.item_level = segment_items.item_level
            and window_items_with_segment.item_id = segment_items.item_id
            and window_items_with_segment.window_order = segment_items.window_order
    left join segment_totals
        on
            window_items_with_segment.segment = segment_totals.segment
            and window_items_with_segment.window_order = segment_totals.window_order
),

final as (
    select
        shares.customer_id,
        shares.item_level,
        shares.item_id,
        shares.window_name,
        shares.window_start,
        shares.window_end,
        shares.has_purchased,
        cast(shares.total_spend as double) as total_spend,
        {{ safe_divide('shares.total_spend', 'shares.periods') }} as avg_spend_per_period,
        cast(shares.prior_total_spend as double) as prior_total_spend,
        {{ safe_divide('shares.prior_total_spend', 'shares.prior_periods') }} as prior_avg_spend_per_period,
        {{ pct_change(
            safe_divide('shares.total_spend', 'shares.periods'),
            safe_divide('shares.prior_total_spend', 'shares.prior_periods')
        ) }} as spend_change_pct,
        cast(shares.quantity as double) as quantity,
        cast(shares.order_count as bigint) as order_count,
        100.0 * {{ safe_divide(
            '(shares.total_spend - shares.uncosted_spend) - shares.cost_amount',
            'case when shares.cost_amount is not null then shares.total_spend - shares.uncosted_spend end'
        ) }} as margin_pct,
        {#- (item / customer) / (segment item / segment), as one division for exact ratios. #}
        100.0 * {{ safe_divide(
            'shares.total_spend * shares.segment_spend',
            'shares.customer_spend * case when shares.segment_item_spend > 0 then shares.segment_item_spend end'
        ) }} as share_of_wallet_pct,
        100.0 * {{ safe_divide('shares.segment_item_spend', 'shares.segment_spend') }} as segment_share_pct,
        shares.segment,
        shares.prior_window_start,
        shares.prior_window_end,
        shares.periods,
        shares.prior_periods,
        cast(shares.uncosted_spend as double) as uncosted_spend
    from shares
)

select * from final
