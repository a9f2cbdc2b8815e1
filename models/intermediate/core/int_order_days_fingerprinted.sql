{{ config(materialized='table') }}
{#- One row per order day up to the as-of date with usable lines: a fingerprint of every input
    the compact aggregate's rows of that day depend on (the day's usable lines with their
    category, and the bundle memberships). The incremental aggregate recomputes the days whose
    fingerprint changed (macros/incremental.sql). -#}
with

order_lines as (
    select * from {{ ref('int_order_lines_validated') }}
    where dq_reason is null
),

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

bundle_memberships as (
    select * from {{ ref('int_product_bundles_validated') }}
    where dq_reason is null
),

bundles_fingerprinted as (
    select
        {{ fingerprint_agg(row_fingerprint(['bundle_memberships.bundle_id', 'bundle_memberships.product_id'])) }}
            as bundles_fingerprint
    from bundle_memberships
),

days_fingerprinted as (
    select
        order_lines.ordered_date,
        {{ fingerprint_agg(row_fingerprint([
            'order_lines.order_id', 'order_lines.line_number', 'order_lines.customer_id',
            'order_lines.product_id', 'order_lines.category', 'order_lines.quantity',
            'order_lines.spend_amount', 'order_lines.cost_amount',
        ])) }} as lines_fingerprint,
        count(*) as line_count
    from order_lines
    inner join analysis_dates
        on order_lines.ordered_date <= analysis_dates.as_of_date
    group by order_lines.ordered_date
),

final as (
    select
        days_fingerprinted.ordered_date as partition_value,
        {{ row_fingerprint([
            'days_fingerprinted.lines_fingerprint', 'days_fingerprinted.line_count',
            'bundles_fingerprinted.bundles_fingerprint',
        ]) }} as partition_fingerprint
    from days_fingerprinted
    cross join bundles_fingerprinted
)

select * from final
