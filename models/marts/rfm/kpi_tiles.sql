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

{# A customer's gaps between consecutive purchases add up to last - first purchase date, so
   the mean gap over every customer's gaps is sum(last - first) / sum(purchases - 1): one
   grouping per customer, no ordered window over the orders. #}
customer_orders as (
    select
        window_orders.period_days,
        window_orders.window_role,
        window_orders.customer_id,
        count(case when window_orders.is_purchase then 1 end) as purchase_count,
        min(case when window_orders.is_purchase then window_orders.order_date end) as first_purchase_date,
        max(case when window_orders.is_purchase then window_orders.order_date end) as last_purchase_date
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
        count(case when customer_orders.purchase_count >= 2 then 1 end) as repeat_customers,
        {{ safe_divide(
            'sum(' ~ dbt.datediff('customer_orders.first_purchase_date', 'customer_orders.last_purchase_date', 'day') ~ ')',
            'sum(case when customer_orders.purchase_count >= 2 then customer_orders.purchase_count - 1 end)'
        ) }} as average_days_between_orders
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
{# Customer lifetime value to date: revenue of every order up to the window end over the
   customers with a purchase by then (those whose first purchase is on or before it), from one
   row per day rather than every order joined to every window. #}
first_purchases as (
    select
        orders.customer_id,
        min(orders.order_date) as first_purchase_date
    from orders
    where orders.is_purchase
    group by orders.customer_id
),

to_date_days as (
    select
        orders.order_date as activity_date,
        sum(orders.spend_amount) as spend_amount,
        0 as new_customers
    from orders
    group by orders.order_date
    union all
    select
        first_purchases.first_purchase_date as activity_date,
        0 as spend_amount,
        count(*) as new_customers
    from first_purchases
    group by first_purchases.first_purchase_date
),

to_date_measures as (
    select
        windows.period_days,
        windows.window_role,
        {{ safe_divide('sum(to_date_days.spend_amount)', 'sum(to_date_days.new_customers)') }}
            as customer_lifetime_value
    from windows
    inner join to_date_days
        on windows.window_end >= to_date_days.activity_date
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
        customer_measures.average_days_between_orders,
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
