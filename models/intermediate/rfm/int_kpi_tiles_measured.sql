{#- The ten KPI tiles (SPEC 4.11) of every KPI period and its comparison period, overall
    ('all') and per persona and per segment: the one computation kpi_tiles and
    kpi_tiles_by_dimension read. Periods: each length in kpi_period_days ending on as-of
    ('last_<n>_days') and the custom period when set ('custom'), each against its comparison
    period (macro kpi_windows_sql). A customer's persona and segment are those at as-of, for both
    windows. Definitions (docs/metrics.md, "KPI tiles"):
    - customers: customers with an order in the window; of them one_time_buyers have exactly one
      order in their whole history up to the window's end and repeat_customers two or more (the
      two add up to customers); new_customers: first order ever inside the window;
    - customer_lifetime_value: average net spend up to the window's end (historic CLV) of the
      customers with an order in the window;
    - total_revenue: net spend in the window (returns on their own date); total_orders: orders
      dated in the window; average_order_value = revenue / orders; average_items_per_order =
      units bought / orders; average_days_between_orders = the mean gap between consecutive
      orders inside the window of customers with two or more there.
    % change: macro pct_change (null when the comparison value is 0 or negative). -#}
with

orders as (
    select * from {{ ref('int_orders_summarised') }}
),

customers as (
    select * from {{ ref('int_customers_summarised') }}
),

customers_scored_rfm as (
    select * from {{ ref('int_customers_scored_rfm') }}
),

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

windows as (
    {{ kpi_windows_sql() }}
),

customer_days as (
    select
        orders.customer_id,
        orders.order_date as activity_date,
        count(case when orders.is_purchase then 1 end) as purchases,
        sum(orders.spend_amount) as spend_amount,
        sum(orders.items_purchased) as items_purchased
    from orders
    group by
        orders.customer_id,
        orders.order_date
),

{# Running totals per customer, so that "up to the window's end" is the value on the customer's
   last day in the window (no join of every window to the whole history). #}
customer_days_cumulated as (
    select
        customer_days.*,
        sum(customer_days.purchases) over customer_to_date as purchases_to_date,
        sum(customer_days.spend_amount) over customer_to_date as spend_to_date,
        min(case when customer_days.purchases > 0 then customer_days.activity_date end) over (
            partition by customer_days.customer_id
        ) as first_purchase_date
    from customer_days
    window customer_to_date as (
        partition by customer_days.customer_id
        order by customer_days.activity_date
        rows between unbounded preceding and current row
    )
),

customer_windows as (
    select
        windows.period_name,
        windows.window_role,
        customer_days_cumulated.customer_id,
        sum(customer_days_cumulated.purchases) as purchases,
        sum(customer_days_cumulated.spend_amount) as spend_amount,
        sum(customer_days_cumulated.items_purchased) as items_purchased,
        min(case when customer_days_cumulated.purchases > 0 then customer_days_cumulated.activity_date end)
            as first_purchase_in_window,
        max(case when customer_days_cumulated.purchases > 0 then customer_days_cumulated.activity_date end)
            as last_purchase_in_window,
        max(customer_days_cumulated.purchases_to_date) as purchases_to_window_end,
        max_by(customer_days_cumulated.spend_to_date, customer_days_cumulated.activity_date)
            as spend_to_window_end,
        max(
            case
                when customer_days_cumulated.first_purchase_date between windows.window_start and windows.window_end
                    then 1
                else 0
            end
        ) as is_new_customer
    from windows
    inner join customer_days_cumulated
        on customer_days_cumulated.activity_date between windows.window_start and windows.window_end
    group by
        windows.period_name,
        windows.window_role,
        customer_days_cumulated.customer_id
),

personas_at_as_of as (
    select
        customers_scored_rfm.customer_id,
        customers_scored_rfm.persona
    from customers_scored_rfm
    inner join analysis_dates
        on customers_scored_rfm.snapshot_date = analysis_dates.as_of_date
),

customer_dimensions as (
    select
        customers.customer_id,
        'all' as dimension,
        'all' as dimension_value
    from customers
    union all
    select
        customers.customer_id,
        'segment' as dimension,
        coalesce(customers.segment, '(no segment)') as dimension_value
    from customers
    union all
    select
        customers.customer_id,
        'persona' as dimension,
        coalesce(personas_at_as_of.persona, '(no purchase)') as dimension_value
    from customers
    left join personas_at_as_of
        on customers.customer_id = personas_at_as_of.customer_id
),

measured as (
    select
        customer_windows.period_name,
        customer_windows.window_role,
        customer_dimensions.dimension,
        customer_dimensions.dimension_value,
        sum(customer_windows.spend_amount) as total_revenue,
        sum(customer_windows.purchases) as total_orders,
        sum(customer_windows.items_purchased) as items_purchased,
        count(case when customer_windows.purchases > 0 then 1 end) as customers,
        count(
            case when customer_windows.purchases > 0 and customer_windows.purchases_to_window_end = 1 then 1 end
        ) as one_time_buyers,
        count(
            case when customer_windows.purchases > 0 and customer_windows.purchases_to_window_end >= 2 then 1 end
        ) as repeat_customers,
        sum(customer_windows.is_new_customer) as new_customers,
        avg(case when customer_windows.purchases > 0 then customer_windows.spend_to_window_end end)
            as customer_lifetime_value,
        {#- a customer's gaps add up to last - first order in the window: sum over customers / gaps -#}
        {{ safe_divide(
            'sum(case when customer_windows.purchases >= 2 then '
            ~ dbt.datediff('customer_windows.first_purchase_in_window', 'customer_windows.last_purchase_in_window', 'day')
            ~ ' end)',
            'sum(case when customer_windows.purchases >= 2 then customer_windows.purchases - 1 end)'
        ) }} as average_days_between_orders
    from customer_windows
    inner join customer_dimensions
        on customer_windows.customer_id = customer_dimensions.customer_id
    group by
        customer_windows.period_name,
        customer_windows.window_role,
        customer_dimensions.dimension,
        customer_dimensions.dimension_value
),

{# every window x every dimension value, so an empty period or comparison still has its tiles #}
dimension_values as (
    select distinct
        customer_dimensions.dimension,
        customer_dimensions.dimension_value
    from customer_dimensions
),

window_measures as (
    select
        windows.period_name,
        windows.period_days,
        windows.window_role,
        windows.window_start,
        windows.window_end,
        dimension_values.dimension,
        dimension_values.dimension_value,
        coalesce(measured.total_revenue, 0) as total_revenue,
        {{ safe_divide('measured.total_revenue', 'measured.total_orders') }} as average_order_value,
        measured.customer_lifetime_value,
        coalesce(measured.total_orders, 0) as total_orders,
        {{ safe_divide('measured.items_purchased', 'measured.total_orders') }} as average_items_per_order,
        measured.average_days_between_orders,
        coalesce(measured.customers, 0) as customers,
        coalesce(measured.one_time_buyers, 0) as one_time_buyers,
        coalesce(measured.repeat_customers, 0) as repeat_customers,
        coalesce(measured.new_customers, 0) as new_customers
    from windows
    cross join dimension_values
    left join measured
        on
            windows.period_name = measured.period_name
            and windows.window_role = measured.window_role
            and dimension_values.dimension = measured.dimension
            and dimension_values.dimension_value = measured.dimension_value
),

-- one row per window x dimension value x tile: a cross join with the tile list (not a union of
-- ten selects, which Spark would plan as ten copies of window_measures)
{%- set tiles = [
    'total_revenue', 'average_order_value', 'customer_lifetime_value', 'total_orders',
    'average_items_per_order', 'average_days_between_orders', 'customers', 'one_time_buyers',
    'repeat_customers', 'new_customers'] %}

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
        window_measures.period_name,
        window_measures.period_days,
        window_measures.window_role,
        window_measures.window_start,
        window_measures.window_end,
        window_measures.dimension,
        window_measures.dimension_value,
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
        periods.period_name,
        periods.period_days,
        periods.window_start as period_start,
        periods.window_end as period_end,
        comparisons.window_start as comparison_start,
        comparisons.window_end as comparison_end,
        periods.dimension,
        periods.dimension_value,
        periods.tile,
        periods.tile_order,
        periods.tile_value as value, -- noqa: RF04
        comparisons.tile_value as comparison_value,
        {{ pct_change('periods.tile_value', 'comparisons.tile_value') }} as pct_change
    from tiles as periods
    inner join tiles as comparisons
        on
            periods.period_name = comparisons.period_name
            and periods.dimension = comparisons.dimension
            and periods.dimension_value = comparisons.dimension_value
            and periods.tile = comparisons.tile
            and comparisons.window_role = 'comparison'
    where periods.window_role = 'period'
)

select * from final
