{#- The product spend profile: customer x item (product, bundle, category) x spend window with
    spend in the window and its prior span, change, margin, share of wallet and the segment's
    share. One row per window for every customer x item bought up to the as-of date. -#}
{%- set windows = spend_windows_settings() %}
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

{# The window bounds side by side in one row, so that one pass can sum every window. #}
windows_pivoted as (
    select
        {%- for window in windows %}
            max(case when bounds.window_order = {{ loop.index }} then bounds.window_start end)
                as window_{{ loop.index }}_start,
            max(case when bounds.window_order = {{ loop.index }} then bounds.window_end end)
                as window_{{ loop.index }}_end,
            max(case when bounds.window_order = {{ loop.index }} then bounds.prior_window_start end)
                as prior_{{ loop.index }}_start,
            max(case when bounds.window_order = {{ loop.index }} then bounds.prior_window_end end)
                as prior_{{ loop.index }}_end,
        {%- endfor %}
        count(*) as window_count
    from int_spend_windows_bounded as bounds
),

{# One pass over the compact aggregate, grouped by customer x item: for each window its sums in
   the window and in the prior span, and whether the item was ever bought. Sums of money and
   quantity are rounded to 6 decimals so that float noise never turns a zero into a tiny non-zero. #}
item_windows as (
    select
        daily_items.customer_id,
        daily_items.item_level,
        daily_items.item_id,
        {%- for window in windows %}
            {%- set in_window = 'daily_items.order_date between windows_pivoted.window_' ~ loop.index
                ~ '_start and windows_pivoted.window_' ~ loop.index ~ '_end' %}
            {%- set in_prior = 'daily_items.order_date between windows_pivoted.prior_' ~ loop.index
                ~ '_start and windows_pivoted.prior_' ~ loop.index ~ '_end' %}
            count(case when {{ in_window }} or {{ in_prior }} then 1 end) as window_{{ loop.index }}_day_count,
            round(sum(case when {{ in_window }} then daily_items.spend_amount else 0 end), 6)
                as window_{{ loop.index }}_total_spend,
            round(sum(case when {{ in_window }} then daily_items.cost_amount end), 6)
                as window_{{ loop.index }}_cost_amount,
            round(sum(case when {{ in_window }} then daily_items.uncosted_spend_amount else 0 end), 6)
                as window_{{ loop.index }}_uncosted_spend,
            round(sum(case when {{ in_window }} then daily_items.quantity else 0 end), 6)
                as window_{{ loop.index }}_quantity,
            sum(case when {{ in_window }} then daily_items.order_count else 0 end)
                as window_{{ loop.index }}_order_count,
            round(sum(case when {{ in_prior }} then daily_items.spend_amount else 0 end), 6)
                as window_{{ loop.index }}_prior_total_spend,
        {%- endfor %}
        {{ dbt.bool_or('daily_items.quantity > 0') }} as has_purchased
    from int_order_lines_aggregated_to_days as daily_items
    cross join windows_pivoted
    group by
        daily_items.customer_id,
        daily_items.item_level,
        daily_items.item_id
),

{# Back to one row per window. Only customer x item x window with spend, returns or orders in
   the window or its prior span get a row (SPEC: other pairs are not needed); has_purchased still
   looks at the whole history. #}
profiled as (
    select
        item_windows.customer_id,
        item_windows.item_level,
        item_windows.item_id,
        int_spend_windows_bounded.window_order,
        int_spend_windows_bounded.window_name,
        int_spend_windows_bounded.window_start,
        int_spend_windows_bounded.window_end,
        int_spend_windows_bounded.prior_window_start,
        int_spend_windows_bounded.prior_window_end,
        int_spend_windows_bounded.periods,
        int_spend_windows_bounded.prior_periods,
        item_windows.has_purchased,
        int_customers_summarised.segment,
        {{ spend_window_pick(windows, 'item_windows', 'total_spend') }} as total_spend,
        {{ spend_window_pick(windows, 'item_windows', 'prior_total_spend') }} as prior_total_spend,
        {{ spend_window_pick(windows, 'item_windows', 'quantity') }} as quantity,
        {{ spend_window_pick(windows, 'item_windows', 'order_count') }} as order_count,
        {{ spend_window_pick(windows, 'item_windows', 'cost_amount') }} as cost_amount,
        {{ spend_window_pick(windows, 'item_windows', 'uncosted_spend') }} as uncosted_spend
    from item_windows
    cross join int_spend_windows_bounded
    left join int_customers_summarised
        on item_windows.customer_id = int_customers_summarised.customer_id
    where {{ spend_window_pick(windows, 'item_windows', 'day_count') }} > 0
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
