{#- The product spend profile: customer x item (product, bundle, category) x spend window with
    spend in the window and its prior span, change, margin, share of wallet and the segment's
    share. One row per window for every customer x item bought up to the as-of date. -#}
with

int_spend_windows_bounded as (
    select * from {{ ref('int_spend_windows_bounded') }}
),

int_order_lines_aggregated_to_days as (
    select * from {{ ref('int_order_lines_aggregated_to_days') }}
),

int_customers_summarised as (
    select * from {{ ref('int_customers_summarised') }}
),

customer_items as (
    select
        int_order_lines_aggregated_to_days.customer_id,
        int_order_lines_aggregated_to_days.item_level,
        int_order_lines_aggregated_to_days.item_id,
        {{ dbt.bool_or('int_order_lines_aggregated_to_days.quantity > 0') }} as has_purchased
    from int_order_lines_aggregated_to_days
    group by
        int_order_lines_aggregated_to_days.customer_id,
        int_order_lines_aggregated_to_days.item_level,
        int_order_lines_aggregated_to_days.item_id
),

{# One pass over the days that fall in a window or its prior span. Sums of money and quantity
   are rounded to 6 decimals so that float noise never turns a zero into a tiny non-zero. #}
window_days as (
    select
        int_order_lines_aggregated_to_days.*,
        int_spend_windows_bounded.window_name,
        int_order_lines_aggregated_to_days.order_date
        between int_spend_windows_bounded.window_start and int_spend_windows_bounded.window_end as is_in_window,
        int_order_lines_aggregated_to_days.order_date
        between int_spend_windows_bounded.prior_window_start
        and int_spend_windows_bounded.prior_window_end as is_in_prior
    from int_order_lines_aggregated_to_days
    inner join int_spend_windows_bounded
        on
            int_order_lines_aggregated_to_days.order_date
            >= least(int_spend_windows_bounded.window_start, int_spend_windows_bounded.prior_window_start)
            and int_order_lines_aggregated_to_days.order_date
            <= greatest(int_spend_windows_bounded.window_end, int_spend_windows_bounded.prior_window_end)
            and (
                int_order_lines_aggregated_to_days.order_date
                between int_spend_windows_bounded.window_start and int_spend_windows_bounded.window_end
                or int_order_lines_aggregated_to_days.order_date
                between int_spend_windows_bounded.prior_window_start and int_spend_windows_bounded.prior_window_end
            )
),

window_spend as (
    select
        window_days.customer_id,
        window_days.item_level,
        window_days.item_id,
        window_days.window_name,
        round(sum(case when window_days.is_in_window then window_days.spend_amount else 0 end), 6) as total_spend,
        round(sum(case when window_days.is_in_window then window_days.cost_amount end), 6) as cost_amount,
        round(sum(case when window_days.is_in_window then window_days.uncosted_spend_amount else 0 end), 6)
            as uncosted_spend,
        round(sum(case when window_days.is_in_window then window_days.quantity else 0 end), 6) as quantity,
        sum(case when window_days.is_in_window then window_days.order_count else 0 end) as order_count,
        round(sum(case when window_days.is_in_prior then window_days.spend_amount else 0 end), 6) as prior_total_spend
    from window_days
    group by
        window_days.customer_id,
        window_days.item_level,
        window_days.item_id,
        window_days.window_name
),

{# Only customer x item x window with spend, returns or orders in the window or its prior span
   get a row (SPEC: other pairs are not needed); has_purchased still looks at the whole history. #}
profiled as (
    select
        window_spend.customer_id,
        window_spend.item_level,
        window_spend.item_id,
        int_spend_windows_bounded.window_order,
        int_spend_windows_bounded.window_name,
        int_spend_windows_bounded.window_start,
        int_spend_windows_bounded.window_end,
        int_spend_windows_bounded.prior_window_start,
        int_spend_windows_bounded.prior_window_end,
        int_spend_windows_bounded.periods,
        int_spend_windows_bounded.prior_periods,
        customer_items.has_purchased,
        int_customers_summarised.segment,
        window_spend.total_spend,
        window_spend.prior_total_spend,
        window_spend.quantity,
        window_spend.order_count,
        window_spend.cost_amount,
        window_spend.uncosted_spend
    from window_spend
    inner join int_spend_windows_bounded
        on window_spend.window_name = int_spend_windows_bounded.window_name
    inner join customer_items
        on
            window_spend.customer_id = customer_items.customer_id
            and window_spend.item_level = customer_items.item_level
            and window_spend.item_id = customer_items.item_id
    left join int_customers_summarised
        on window_spend.customer_id = int_customers_summarised.customer_id
),

{# A customer's whole spend in a window: the product level holds every line exactly once. #}
customer_totals as (
    select
        profiled.customer_id,
        profiled.window_name,
        round(sum(profiled.total_spend), 6) as customer_spend
    from profiled
    where profiled.item_level = 'product'
    group by
        profiled.customer_id,
        profiled.window_name
),

segment_items as (
    select
        profiled.segment,
        profiled.item_level,
        profiled.item_id,
        profiled.window_name,
        round(sum(profiled.total_spend), 6) as segment_item_spend
    from profiled
    where profiled.segment is not null
    group by
        profiled.segment,
        profiled.item_level,
        profiled.item_id,
        profiled.window_name
),

segment_totals as (
    select
        customer_totals.window_name,
        int_customers_summarised.segment,
        round(sum(customer_totals.customer_spend), 6) as segment_spend
    from customer_totals
    inner join int_customers_summarised
        on customer_totals.customer_id = int_customers_summarised.customer_id
    where int_customers_summarised.segment is not null
    group by
        customer_totals.window_name,
        int_customers_summarised.segment
),

shares as (
    select
        profiled.*,
        case when customer_totals.customer_spend > 0 then customer_totals.customer_spend end as customer_spend,
        segment_items.segment_item_spend,
        case when segment_totals.segment_spend > 0 then segment_totals.segment_spend end as segment_spend
    from profiled
    left join customer_totals
        on
            profiled.customer_id = customer_totals.customer_id
            and profiled.window_name = customer_totals.window_name
    left join segment_items
        on
            profiled.segment = segment_items.segment
            and profiled.item_level = segment_items.item_level
            and profiled.item_id = segment_items.item_id
            and profiled.window_name = segment_items.window_name
    left join segment_totals
        on
            profiled.segment = segment_totals.segment
            and profiled.window_name = segment_totals.window_name
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
