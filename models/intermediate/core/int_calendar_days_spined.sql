{#- Every day from three years before the first order's year to two years after the as-of
    date: the days the business calendar labels. -#}
with

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

spine as (
    select
        {{ unnest_days(
            add_months(
                "cast(date_trunc('year', least(analysis_dates.first_order_date, analysis_dates.as_of_date)) as date)",
                -36
            ),
            add_months('cast(analysis_dates.as_of_date as date)', 24)
        ) }} as calendar_date
    from analysis_dates
)

select * from spine
