{#- The time spine of the semantic layer (MetricFlow's metric_time): one row per calendar day of
    the analysis, from int_calendar_days_spined. MetricFlow rolls days up to weeks, months,
    quarters and years itself. -#}
with

calendar_days as (
    select * from {{ ref('int_calendar_days_spined') }}
),

final as (
    select cast(calendar_days.calendar_date as date) as date_day
    from calendar_days
)

select * from final
