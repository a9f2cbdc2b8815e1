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

{# Segment shares need three totals per window: the customer's (the product level holds every
   line exactly once), the segment's per item and the segment's. They are summed here, still
   side by side, so that each is joined once per customer x item, not once per window. #}
item_windows_with_segment as (
    select
        item_windows.*,
        int_customers_summarised.segment
    from item_windows
    left join int_customers_summarised
        on item_windows.customer_id = int_customers_summarised.customer_id
),

customer_totals as (
    select
        {%- for window in windows %}
            round(sum(item_windows_with_segment.window_{{ loop.index }}_total_spend), 6)
                as window_{{ loop.index }}_customer_spend,
        {%- endfor %}
        item_windows_with_segment.customer_id,
        max(item_windows_with_segment.segment) as segment
    from item_windows_with_segment
    where item_windows_with_segment.item_level = 'product'
    group by item_windows_with_segment.customer_id
),

segment_items as (
    select
        {%- for window in windows %}
            round(sum(item_windows_with_segment.window_{{ loop.index }}_total_spend), 6)
                as window_{{ loop.index }}_segment_item_spend,
        {%- endfor %}
        item_windows_with_segment.segment,
        item_windows_with_segment.item_level,
        item_windows_with_segment.item_id
    from item_windows_with_segment
    where item_windows_with_segment.segment is not null
    group by
        item_windows_with_segment.segment,
        item_windows_with_segment.item_level,
        item_windows_with_segment.item_id
),

segment_totals as (
    select
        {%- for window in windows %}
            round(sum(customer_totals.window_{{ loop.index }}_customer_spend), 6)
                as window_{{ loop.index }}_segment_spend,
        {%- endfor %}
        customer_totals.segment
    from customer_totals
    where customer_totals.segment is not null
    group by customer_totals.segment
),

item_totals as (
    select
        {%- for window in windows %}
            customer_totals.window_{{ loop.index }}_customer_spend,
            segment_items.window_{{ loop.index }}_segment_item_spend,
            segment_totals.window_{{ loop.index }}_segment_spend,
        {%- endfor %}
        item_windows_with_segment.*
    from item_windows_with_segment
    left join customer_totals
        on item_windows_with_segment.customer_id = customer_totals.customer_id
    left join segment_items
        on
            item_windows_with_segment.segment = segment_items.segment
            and item_windows_with_segment.item_level = segment_items.item_level
            and item_windows_with_segment.item_id = segment_items.item_id
    left join segment_totals
        on item_windows_with_segment.segment = segment_totals.segment
),

{# Back to one row per window. Only customer x item x window with spend, returns or orders in
   the window or its prior span get a row (SPEC: other pairs are not needed); has_purchased still
   looks at the whole history. One branch per window reads that window's columns directly (a
   cross join with a pick per column cost a nested-loop join over every window). #}
shares as (
    {%- for window in windows %}
        {%- set w = 'item_totals.window_' ~ loop.index ~ '_' %}
        select
            item_totals.customer_id,
            item_totals.item_level,
            item_totals.item_id,
            bounds.window_order,
            bounds.window_name,
            bounds.window_start,
            bounds.window_end,
            bounds.prior_window_start,
            bounds.prior_window_end,
            bounds.periods,
            bounds.prior_periods,
            item_totals.has_purchased,
            item_totals.segment,
            {{ w }}total_spend as total_spend,
            {{ w }}prior_total_spend as prior_total_spend,
            {{ w }}quantity as quantity,
            {{ w }}order_count as order_count,
            {{ w }}cost_amount as cost_amount,
            {{ w }}uncosted_spend as uncosted_spend,
            case when {{ w }}customer_spend > 0 then {{ w }}customer_spend end as customer_spend,
            {{ w }}segment_item_spend as segment_item_spend,
            case when {{ w }}segment_spend > 0 then {{ w }}segment_spend end as segment_spend
        from item_totals
        inner join int_spend_windows_bounded as bounds
            on bounds.window_order = {{ loop.index }}
        where {{ w }}day_count > 0
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
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
