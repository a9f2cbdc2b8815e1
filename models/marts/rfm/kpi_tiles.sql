{#- The nine headline KPI tiles (SPEC 4.11) for each period length in kpi_period_days: the
    period ending at the as-of date against the period of the same length right before it.
    Long format: one row per period length x tile, with value, comparison value and % change. -#}
with

orders as (
    select * from {{ ref('int_orders_summarised') }}
),

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

windows as (
    {{ kpi_windows_sql() }}
),

window_orders as (
    select
        windows.period_days,
        windows.window_role,
        orders.customer_id,
        orders.order_id,
        orders.order_date,
        orders.spend_amount,
        orders.items_purchased,
        orders.is_purchase
    from windows
    inner join orders
        on orders.order_date between windows.window_start and windows.window_end
),

purchase_sequences as (
    select
        window_orders.period_days,
        window_orders.window_role,
        window_orders.order_date,
        lag(window_orders.order_date) over (
            partition by window_orders.period_days, window_orders.window_role, window_orders.customer_id
            order by window_orders.order_date nulls last, window_orders.order_id nulls last
        ) as previous_order_date
    from window_orders
    where window_orders.is_purchase
),

purchase_gaps as (
    select
        purchase_sequences.period_days,
        purchase_sequences.window_role,
        {{ dbt.datediff('purchase_sequences.previous_order_date', 'purchase_sequences.order_date', 'day') }}
            as days_since_previous_order
    from purchase_sequences
    where purchase_sequences.previous_order_date is not null
),

gap_measures as (
    select
        purchase_gaps.period_days,
        purchase_gaps.window_role,
        avg(purchase_gaps.days_since_previous_order) as average_days_between_orders
    from purchase_gaps
    group by
        purchase_gaps.period_days,
        purchase_gaps.window_role
),

customer_orders as (
    select
        window_orders.period_days,
        window_orders.window_role,
        window_orders.customer_id,
        count(case when window_orders.is_purchase then 1 end) as purchase_count
    from window_orders
    group by
        window_orders.period_days,
        window_orders.window_role,
        window_orders.customer_id
),

customer_measures as (
    select
        customer_orders.period_days,
        customer_orders.window_role,
        count(case when customer_orders.purchase_count >= 1 then 1 end) as customers,
        count(case when customer_orders.purchase_count = 1 then 1 end) as one_time_buyers,
        count(case when customer_orders.purchase_count >= 2 then 1 end) as repeat_customers
    from customer_orders
    group by
        customer_orders.period_days,
        customer_orders.window_role
),

order_measures as (
    select
        window_orders.period_days,
        window_orders.window_role,
        sum(window_orders.spend_amount) as total_revenue,
        count(case when window_orders.is_purchase then 1 end) as total_orders,
        sum(case when window_orders.is_purchase then window_orders.items_purchased else 0 end) as items_purchased
    from window_orders
    group by
        window_orders.period_days,
        window_orders.window_role
),

-- lifetime value to the window's end: all net spend so far / customers who have purchased so far
to_date_measures as (
    select
        windows.period_days,
        windows.window_role,
        {{ safe_divide(
            'sum(orders.spend_amount)',
            'count(distinct case when orders.is_purchase then orders.customer_id end)'
        ) }} as customer_lifetime_value
    from windows
    inner join orders
        on windows.window_end >= orders.order_date
    group by
        windows.period_days,
        windows.window_role
),

window_measures as (
    select
        windows.period_days,
        windows.window_role,
        windows.window_start,
        windows.window_end,
        coalesce(order_measures.total_revenue, 0) as total_revenue,
        {{ safe_divide('order_measures.total_revenue', 'order_measures.total_orders') }} as average_order_value,
        to_date_measures.customer_lifetime_value,
        coalesce(order_measures.total_orders, 0) as total_orders,
        {{ safe_divide('order_measures.items_purchased', 'order_measures.total_orders') }} as average_items_per_order,
        gap_measures.average_days_between_orders,
        coalesce(customer_measures.customers, 0) as customers,
        coalesce(customer_measures.one_time_buyers, 0) as one_time_buyers,
        coalesce(customer_measures.repeat_customers, 0) as repeat_customers
    from windows
    left join order_measures
        on
            windows.period_days = order_measures.period_days
            and windows.window_role = order_measures.window_role
    left join to_date_measures
        on
            windows.period_days = to_date_measures.period_days
            and windows.window_role = to_date_measures.window_role
    left join gap_measures
        on
            windows.period_days = gap_measures.period_days
            and windows.window_role = gap_measures.window_role
    left join customer_measures
        on
            windows.period_days = customer_measures.period_days
            and windows.window_role = customer_measures.window_role
),

-- one row per window x tile: a cross join with the tile list (not a union of nine selects,
-- which Spark would plan as nine copies of window_measures)
{%- set tiles = [
    'total_revenue', 'average_order_value', 'customer_lifetime_value', 'total_orders',
    'average_items_per_order', 'average_days_between_orders', 'customers', 'one_time_buyers',
    'repeat_customers'] %}

tile_list as (
    {%- for tile in tiles %}
        {%- if not loop.first %}
            union all
        {%- endif %}
        select
            {{ loop.index }} as tile_order,
            '{{ tile }}' as tile
    {%- endfor %}
),

tiles as (
    select
        window_measures.period_days,
        window_measures.window_role,
        window_measures.window_start,
        window_measures.window_end,
        tile_list.tile_order,
        tile_list.tile,
        case tile_list.tile
            {%- for tile in tiles %}
                when '{{ tile }}' then cast(window_measures.{{ tile }} as double)
            {%- endfor %}
        end as tile_value
    from window_measures
    cross join tile_list
),

final as (
    select
        periods.period_days,
        periods.window_start as period_start,
        periods.window_end as period_end,
        comparisons.window_start as comparison_start,
        comparisons.window_end as comparison_end,
        periods.tile,
        periods.tile_order,
        periods.tile_value as value, -- noqa: RF04
        comparisons.tile_value as comparison_value,
        {{ pct_change('periods.tile_value', 'comparisons.tile_value') }} as pct_change
    from tiles as periods
    inner join tiles as comparisons
        on
            periods.period_days = comparisons.period_days
            and periods.tile = comparisons.tile
            and comparisons.window_role = 'comparison'
    where periods.window_role = 'period'
)

select * from final
