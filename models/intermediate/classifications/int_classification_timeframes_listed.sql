{#- The dates the sales classifications are computed at: every business month-end from the
    first one with an order up to the as-of date, plus the as-of date itself. Each gets its
    timeframe (var classification_timeframe_months business months ending at the date) and the
    timeframe before it. "N business months earlier" keeps the day's offset within its business
    month (capped at that month's end), and maps a month-end to a month-end. -#}
{%- set timeframe_months = var('classification_timeframe_months', 12) | int %}
with

months as (
    select * from {{ ref('int_business_months_numbered') }}
),

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

calendar_start as (
    select min(months.business_month_start) as first_calendar_date
    from months
),

month_ends as (
    select
        months.business_month_end as evaluation_date,
        true as is_month_end
    from months
    cross join analysis_dates
    where
        months.business_month_end >= analysis_dates.first_order_date
        and months.business_month_end <= analysis_dates.as_of_date
),

evaluation_dates as (
    select
        coalesce(month_ends.evaluation_date, analysis_dates.as_of_date) as evaluation_date,
        analysis_dates.as_of_date is not null as is_as_of_date,
        coalesce(month_ends.is_month_end, false) as is_month_end
    from month_ends
    full outer join analysis_dates
        on month_ends.evaluation_date = analysis_dates.as_of_date
),

anchored as (
    select
        evaluation_dates.evaluation_date,
        evaluation_dates.is_as_of_date,
        evaluation_dates.is_month_end,
        months.month_index,
        cast(
            {{ dbt.datediff('months.business_month_start', 'evaluation_dates.evaluation_date', 'day') }} -- noqa: LT05
            as integer
        ) as day_offset,
        evaluation_dates.evaluation_date = months.business_month_end as is_business_month_end
    from evaluation_dates
    inner join months
        on
            evaluation_dates.evaluation_date >= months.business_month_start
            and evaluation_dates.evaluation_date <= months.business_month_end
),

shifted as (
    select
        anchored.evaluation_date,
        anchored.is_as_of_date,
        anchored.is_month_end,
        {{ classification_shifted_date('one_back', 'anchored') }} as one_timeframe_earlier,
        {{ classification_shifted_date('two_back', 'anchored') }} as two_timeframes_earlier
    from anchored
    left join months as one_back
        on one_back.month_index = anchored.month_index - {{ timeframe_months }}
    left join months as two_back
        on two_back.month_index = anchored.month_index - {{ 2 * timeframe_months }}
),

final as (
    select
        shifted.evaluation_date,
        shifted.is_as_of_date,
        shifted.is_month_end,
        cast(coalesce(shifted.one_timeframe_earlier, calendar_start.first_calendar_date - 1) + 1 as date)
            as timeframe_start,
        shifted.evaluation_date as timeframe_end,
        cast(coalesce(shifted.two_timeframes_earlier, calendar_start.first_calendar_date - 1) + 1 as date)
            as previous_timeframe_start,
        cast(coalesce(shifted.one_timeframe_earlier, calendar_start.first_calendar_date - 1) as date)
            as previous_timeframe_end
    from shifted
    cross join calendar_start
)

select * from final
