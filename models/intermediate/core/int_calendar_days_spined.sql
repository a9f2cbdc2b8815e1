{#- Every day from three years before the first order's year to two years after the as-of
    date: the days the business calendar labels. -#}
with

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

spine as (
    select
        cast(
            unnest(
                generate_series(
                    cast(date_trunc('year', least(analysis_dates.first_order_date, analysis_dates.as_of_date)) as date)
                    - interval 3 year,
                    cast(analysis_dates.as_of_date as date) + interval 2 year,
                    interval 1 day
                )
            ) as date
        ) as calendar_date
    from analysis_dates
)

select * from spine
