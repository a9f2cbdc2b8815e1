{#- Net spend and margin per customer x item x business month, up to as-of: what each customer
    bought month by month, at the item levels of var monthly_spend_item_levels (default
    category; add product or bundle at the cost of more rows). Rolled up from the compact daily
    aggregate (no rescan of the lines); months follow the business calendar, and the as-of
    month is partial. Only months with a line of the item are listed. -#}
{%- set levels = var('monthly_spend_item_levels', ['category']) -%}
{%- if levels is string -%}{%- set levels = [levels] -%}{%- endif -%}
{%- set quoted_levels = [] -%}
{%- for level in levels -%}{%- do quoted_levels.append(sql_string(level)) -%}{%- endfor %}

with

daily as (
    select * from {{ ref('int_order_lines_aggregated_to_days') }}
    where item_level in ({{ quoted_levels | join(', ') }})
),

calendar as (
    select * from {{ ref('int_business_calendar_days') }}
),

monthly as (
    select
        daily.customer_id,
        daily.item_level,
        daily.item_id,
        calendar.business_month_start as month_start,
        calendar.business_month_end as month_end,
        sum(daily.spend_amount) as spend_amount,
        sum(daily.cost_amount) as cost_amount,
        sum(daily.uncosted_spend_amount) as uncosted_spend_amount,
        sum(daily.quantity) as quantity
    from daily
    inner join calendar
        on daily.order_date = calendar.calendar_date
    group by
        daily.customer_id,
        daily.item_level,
        daily.item_id,
        calendar.business_month_start,
        calendar.business_month_end
),

final as (
    select
        monthly.customer_id,
        monthly.item_level,
        monthly.item_id,
        monthly.month_start,
        monthly.month_end,
        cast(monthly.spend_amount as double) as spend_amount,
        cast(monthly.quantity as double) as quantity,
        case
            when monthly.cost_amount is not null
                then monthly.spend_amount - monthly.uncosted_spend_amount - monthly.cost_amount
        end as margin_amount,
        -- costed spend below 1e-9 is float noise of a full return (10 - 10 summed in another
        -- order is 1.8e-15 on Spark, 0 on DuckDB): no margin then, as for 0
        100.0 * {{ safe_divide(
            '(monthly.spend_amount - monthly.uncosted_spend_amount) - monthly.cost_amount',
            'case when monthly.cost_amount is not null
                and abs(monthly.spend_amount - monthly.uncosted_spend_amount) >= 1e-9
                then monthly.spend_amount - monthly.uncosted_spend_amount end'
        ) }} as margin_pct,
        cast(monthly.uncosted_spend_amount as double) as uncosted_spend_amount
    from monthly
)

select * from final
