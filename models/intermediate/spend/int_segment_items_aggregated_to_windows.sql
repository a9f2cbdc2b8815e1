{{ config(materialized='table') }}
{#- Spend per customer segment x item (three item levels) x spend window, over every customer
    with a segment: the segment side of share of wallet in customer_spend_profile, computed once
    over all customers so that the mart itself can be built in customer buckets. Window spans
    only (not the prior span). A small table: segments x items x windows. -#}
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

calendar_days as (
    select * from {{ ref('int_calendar_days_spined') }}
),

window_days as {{ materialized_cte() }} (
    {{ spend_window_days('int_spend_windows_bounded', 'calendar_days') }}
),

{# Sums of money are rounded to 6 decimals, as in the mart, so float noise never turns a zero
   into a tiny non-zero. #}
segment_items as (
    select
        int_customers_summarised.segment,
        daily_items.item_level,
        daily_items.item_id,
        window_days.window_order,
        round(sum(daily_items.spend_amount), 6) as segment_item_spend
    from int_order_lines_aggregated_to_days as daily_items
    inner join window_days
        on
            daily_items.order_date = window_days.calendar_date
            and window_days.is_in_window
    inner join int_customers_summarised
        on daily_items.customer_id = int_customers_summarised.customer_id
    where int_customers_summarised.segment is not null
    group by
        int_customers_summarised.segment,
        daily_items.item_level,
        daily_items.item_id,
        window_days.window_order
),

final as (
    select * from segment_items
)

select * from final
