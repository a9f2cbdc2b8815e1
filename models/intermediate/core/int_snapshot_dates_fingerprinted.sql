{#- Every date a month-end history or the classification pass is computed at (each business
    month-end from the first purchase up to the as-of date, and the as-of date; none before
    anyone has purchased) with a fingerprint of the inputs its rows
    depend on: every order on or before the date (int_orders_summarised) and every customer whose
    first purchase is on or before it (name, segment, account manager). An xor of per-day
    fingerprints accumulated over the days up to the date, so a late order for an earlier month
    changes that month-end and every later one, and nothing before it. Models add their own
    settings and seeds (macros/incremental.sql). -#}
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

{# Dates from the first purchase on only: a snapshot before it has no rows, and a partition that
   has none must not be listed, or an incremental run would keep its old rows (delete+insert
   deletes only the partitions it inserts). #}
purchase_span as (
    select
        analysis_dates.as_of_date,
        min(customers.first_order_date) as first_purchase_date
    from analysis_dates
    cross join customers
    group by analysis_dates.as_of_date
    having min(customers.first_order_date) <= analysis_dates.as_of_date
),

month_ends as (
    select distinct calendar.business_month_end as snapshot_date
    from calendar
    cross join purchase_span
    where
        calendar.business_month_end <= purchase_span.as_of_date
        and calendar.business_month_end >= purchase_span.first_purchase_date
),

snapshot_dates as (
    select
        coalesce(month_ends.snapshot_date, purchase_span.as_of_date) as snapshot_date,
        month_ends.snapshot_date is not null as is_month_end,
        purchase_span.as_of_date is not null as is_as_of_date
    from month_ends
    full outer join purchase_span
        on month_ends.snapshot_date = purchase_span.as_of_date
),

order_days as (
    select
        orders.order_date as fingerprint_date,
        {#- the order's lines, not its float sums: those can differ in the last bit between runs -#}
        {{ fingerprint_agg(row_fingerprint([
            'orders.order_id', 'orders.customer_id', 'orders.line_count', 'orders.lines_fingerprint',
            'orders.is_purchase',
        ])) }} as rows_fingerprint,
        count(*) as row_count
    from orders
    group by orders.order_date
),

customer_days as (
    select
        customers.first_order_date as fingerprint_date,
        {{ fingerprint_agg(row_fingerprint([
            'customers.customer_id', 'customers.customer_name', 'customers.segment', 'customers.account_manager',
        ])) }} as rows_fingerprint,
        count(*) as row_count
    from customers
    where customers.first_order_date is not null
    group by customers.first_order_date
),

input_days as (
    select
        order_days.fingerprint_date,
        {{ row_fingerprint(["'order'", 'order_days.rows_fingerprint', 'order_days.row_count']) }}
            as day_fingerprint
    from order_days
    union all
    select
        customer_days.fingerprint_date,
        {{ row_fingerprint(["'customer'", 'customer_days.rows_fingerprint', 'customer_days.row_count']) }}
            as day_fingerprint
    from customer_days
),

cumulated as (
    select
        snapshot_dates.snapshot_date,
        snapshot_dates.is_month_end,
        snapshot_dates.is_as_of_date,
        {{ fingerprint_agg('input_days.day_fingerprint') }} as inputs_fingerprint,
        count(input_days.fingerprint_date) as input_day_count
    from snapshot_dates
    left join input_days
        on snapshot_dates.snapshot_date >= input_days.fingerprint_date
    group by
        snapshot_dates.snapshot_date,
        snapshot_dates.is_month_end,
        snapshot_dates.is_as_of_date
),

final as (
    select
        cumulated.snapshot_date as partition_value,
        cumulated.is_month_end,
        cumulated.is_as_of_date,
        {{ row_fingerprint([
            'cumulated.inputs_fingerprint', 'cumulated.input_day_count',
            'cumulated.is_month_end', 'cumulated.is_as_of_date',
        ]) }} as partition_fingerprint
    from cumulated
)

select * from final
