{#- One row per business month of the calendar with a running month number, so "N business
    months earlier" is a subtraction. -#}
with

calendar as (
    select * from {{ ref('int_business_calendar_days') }}
),

months as (
    select
        calendar.business_month_start,
        calendar.business_month_end
    from calendar
    group by
        calendar.business_month_start,
        calendar.business_month_end
),

final as (
    select
        months.business_month_start,
        months.business_month_end,
        row_number() over (
            order by months.business_month_start asc nulls last, months.business_month_end asc nulls last
        ) as month_index
    from months
)

select * from final
