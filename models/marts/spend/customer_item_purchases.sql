{#- Every customer x item the customer has ever bought up to the as-of date (SPEC 4.15), at the
    three item levels (product, bundle, category): when it was bought first and last, what it
    came to (net of returns) and in how many orders. The complete "has purchased" list: the
    spend profile has rows only where a window is active; this answers "has this account ever
    bought this product", e.g. for cross-sell ("bought A, never B"). An item counts as bought
    from its first order with a positive quantity of it; a return alone is no purchase. -#}
with

daily_items as (
    select * from {{ ref('int_order_lines_aggregated_to_days') }}
),

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

summed as (
    select
        daily_items.customer_id,
        daily_items.item_level,
        daily_items.item_id,
        min(case when daily_items.order_count > 0 then daily_items.order_date end) as first_purchase_date,
        max(case when daily_items.order_count > 0 then daily_items.order_date end) as last_purchase_date,
        sum(daily_items.spend_amount) as lifetime_spend,
        sum(daily_items.quantity) as lifetime_quantity,
        sum(daily_items.order_count) as order_count
    from daily_items
    group by
        daily_items.customer_id,
        daily_items.item_level,
        daily_items.item_id
),

final as (
    select
        summed.customer_id,
        summed.item_level,
        summed.item_id,
        summed.first_purchase_date,
        summed.last_purchase_date,
        cast(summed.lifetime_spend as double) as lifetime_spend,
        cast(summed.lifetime_quantity as double) as lifetime_quantity,
        cast(summed.order_count as bigint) as order_count,
        cast(
            {{ dbt.datediff('summed.last_purchase_date', 'analysis_dates.as_of_date', 'day') }}
            as integer
        ) as days_since_last_purchase
    from summed
    cross join analysis_dates
    where summed.first_purchase_date is not null
)

select * from final
