{#- The compact aggregate holds exactly the usable lines up to as-of: totals per item level
    equal the line totals (the bundle level only covers bundled products). -#}
with

order_lines as (
    select * from {{ ref('int_order_lines_validated') }}
    where dq_reason is null
),

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

daily as (
    select * from {{ ref('int_order_lines_aggregated_to_days') }}
),

line_totals as (
    select
        count(*) as line_count,
        coalesce(sum(order_lines.spend_amount), 0) as spend_amount
    from order_lines
    inner join analysis_dates
        on order_lines.ordered_date <= analysis_dates.as_of_date
),

aggregate_totals as (
    select
        daily.item_level,
        sum(daily.line_count) as line_count,
        sum(daily.spend_amount) as spend_amount
    from daily
    where daily.item_level in ('product', 'category')
    group by daily.item_level
)

select
    aggregate_totals.item_level,
    aggregate_totals.line_count,
    line_totals.line_count as expected_line_count,
    aggregate_totals.spend_amount,
    line_totals.spend_amount as expected_spend_amount
from aggregate_totals
cross join line_totals
where
    aggregate_totals.line_count != line_totals.line_count
    or abs(aggregate_totals.spend_amount - line_totals.spend_amount) > 1e-6 * greatest(1, abs(line_totals.spend_amount))
