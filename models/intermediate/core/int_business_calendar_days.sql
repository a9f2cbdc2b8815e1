{{ config(materialized='table') }}
{#- One row per day with its business week, month, quarter and year (var business_calendar):
    a standard calendar with a fiscal-year start, or 4-4-5 / 4-5-4 / 5-4-4 weeks. Periods in
    every mart come from here. -#}
{%- set calendar = business_calendar_settings() %}
with

spine as (
    select * from {{ ref('int_calendar_days_spined') }}
),

{% if calendar.type == 'standard' %}
    years as (
        select
            spine.calendar_date,
            case
                when spine.calendar_date
                    >= make_date(year(spine.calendar_date), {{ calendar.month }}, {{ calendar.day }})
                    then make_date(year(spine.calendar_date), {{ calendar.month }}, {{ calendar.day }})
                else make_date(year(spine.calendar_date) - 1, {{ calendar.month }}, {{ calendar.day }})
            end as business_year_start
        from spine
    ),

    months as (
        select
            years.calendar_date,
            years.business_year_start,
            cast(
                (year(years.calendar_date) - year(years.business_year_start)) * 12
                + month(years.calendar_date) - month(years.business_year_start)
                - case when day(years.calendar_date) < {{ calendar.day }} then 1 else 0 end
                as integer
            ) as month_index
        from years
    ),

    final as (
        select
            months.calendar_date,
            cast(date_trunc('week', months.calendar_date) as date) as business_week_start,
            cast(date_trunc('week', months.calendar_date) as date) + 6 as business_week_end,
            months.month_index + 1 as business_month_number,
            {{ add_months('months.business_year_start', 'months.month_index') }} as business_month_start,
            {{ add_months('months.business_year_start', 'months.month_index + 1') }} - 1 as business_month_end,
            {{ int_div('months.month_index', 3) }} + 1 as business_quarter_number,
            {{ add_months('months.business_year_start', int_div('months.month_index', 3) ~ ' * 3') }}
                as business_quarter_start,
            {{ add_months('months.business_year_start', int_div('months.month_index', 3) ~ ' * 3 + 3') }} - 1
                as business_quarter_end,
            year(months.business_year_start) as business_year,
            months.business_year_start,
            {{ add_months('months.business_year_start', 12) }} - 1 as business_year_end
        from months
    )
{% else %}
{%- set w = calendar.weeks %}
years as (
    select
        spine.calendar_date,
        case
            when spine.calendar_date >= {{ nearest_monday('year(spine.calendar_date) + 1', calendar.month, calendar.day) }}
                then year(spine.calendar_date) + 1
            when spine.calendar_date >= {{ nearest_monday('year(spine.calendar_date)', calendar.month, calendar.day) }}
                then year(spine.calendar_date)
            else year(spine.calendar_date) - 1
        end as business_year
    from spine
),

weeks as (
    select
        years.calendar_date,
        years.business_year,
        {{ nearest_monday('years.business_year', calendar.month, calendar.day) }} as business_year_start,
        {{ nearest_monday('years.business_year + 1', calendar.month, calendar.day) }} - 1 as business_year_end,
        cast(
            {{ int_div(
                dbt.datediff(nearest_monday('years.business_year', calendar.month, calendar.day), 'years.calendar_date', 'day'),
                7
            ) }}
            as integer
        ) as week_index
    from years
),

quarters as (
    select
        weeks.*,
        least({{ int_div('weeks.week_index', 13) }}, 3) as quarter_index,
        weeks.week_index - 13 * least({{ int_div('weeks.week_index', 13) }}, 3) as week_in_quarter
    from weeks
),

months as (
    select
        quarters.*,
        case
            when quarters.week_in_quarter < {{ w[0] }} then 0
            when quarters.week_in_quarter < {{ w[0] + w[1] }} then 1
            else 2
        end as month_in_quarter
    from quarters
),

final as (
    select
        months.calendar_date,
        cast(date_trunc('week', months.calendar_date) as date) as business_week_start,
        cast(date_trunc('week', months.calendar_date) as date) + 6 as business_week_end,
        months.quarter_index * 3 + months.month_in_quarter + 1 as business_month_number,
        months.business_year_start + 7 * (
            13 * months.quarter_index
            + case months.month_in_quarter when 0 then 0 when 1 then {{ w[0] }} else {{ w[0] + w[1] }} end
        ) as business_month_start,
        case
            when months.month_in_quarter < 2
                then months.business_year_start + 7 * (
                    13 * months.quarter_index
                    + case months.month_in_quarter when 0 then {{ w[0] }} else {{ w[0] + w[1] }} end
                ) - 1
            when months.quarter_index = 3 then months.business_year_end
            else months.business_year_start + 7 * 13 * (months.quarter_index + 1) - 1
        end as business_month_end,
        months.quarter_index + 1 as business_quarter_number,
        months.business_year_start + 7 * 13 * months.quarter_index as business_quarter_start,
        case
            when months.quarter_index = 3 then months.business_year_end
            else months.business_year_start + 7 * 13 * (months.quarter_index + 1) - 1
        end as business_quarter_end,
        months.business_year,
        months.business_year_start,
        months.business_year_end
    from months
)
{% endif %}

select * from final
