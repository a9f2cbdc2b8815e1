{#- One row per spend window (var spend_windows) with its first and last day and those of its
    prior span, on the business calendar at the as-of date, and the number of periods each span
    is averaged over. Computed once; customer_spend_profile joins days to these bounds. -#}
{%- set windows = spend_windows_settings() %}
{%- set calendar = business_calendar_settings() %}
{%- set units = windows | map(attribute='unit') | unique | list %}
with

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

business_calendar_days as (
    select * from {{ ref('int_business_calendar_days') }}
),

settings as (
    {%- for window in windows %}
        select
            {{ loop.index }} as window_order,
            {{ sql_string(window.name) }} as window_name,
            {{ sql_string(window.unit) }} as window_unit,
            {{ sql_string(window.anchor) }} as window_anchor,
            {{ window.periods }} as periods,
            {{ window.prior_periods }} as prior_periods,
            cast({{ spend_window_unit_months(window.unit) or 'null' }} as integer) as months_per_period
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

calendar_limits as (
    select min(business_calendar_days.calendar_date) as first_calendar_date
    from business_calendar_days
),

periods as (
    {%- for unit in units %}
        select
            {{ sql_string(unit) }} as period_unit,
            unit_periods.period_start,
            unit_periods.period_end,
            row_number() over (order by unit_periods.period_start nulls last, unit_periods.period_end nulls last)
                as period_index
        from (
            select distinct
                business_calendar_days.business_{{ unit }}_start as period_start,
                business_calendar_days.business_{{ unit }}_end as period_end
            from business_calendar_days
        ) as unit_periods
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

current_periods as (
    select
        settings.*,
        analysis_dates.as_of_date,
        periods.period_index as current_index,
        periods.period_start as current_start,
        periods.period_index
        - case when periods.period_end <= analysis_dates.as_of_date then 0 else 1 end as last_complete_index
    from settings
    cross join analysis_dates
    inner join periods
        on
            settings.window_unit = periods.period_unit
            and analysis_dates.as_of_date between periods.period_start and periods.period_end
),

{# Which period each bound is the start or end of (complete, to_date), and by how many periods
    the as-of date is shifted back for the bounds that fall inside a period (rolling, to_date). #}
indexed as (
    select
        current_periods.*,
        case current_periods.window_anchor
            when 'complete' then current_periods.last_complete_index - current_periods.periods + 1
            when 'to_date' then current_periods.current_index - current_periods.periods + 1
        end as window_start_index,
        case
            when current_periods.window_anchor = 'complete' then current_periods.last_complete_index
        end as window_end_index,
        case current_periods.window_anchor
            when 'complete'
                then current_periods.last_complete_index - current_periods.periods - current_periods.prior_periods + 1
            when 'to_date'
                then current_periods.current_index - current_periods.periods - current_periods.prior_periods + 1
        end as prior_start_index,
        case
            when current_periods.window_anchor = 'complete'
                then current_periods.last_complete_index - current_periods.periods
        end as prior_end_index,
        case current_periods.window_anchor
            when 'rolling' then current_periods.periods
            when 'to_date' then current_periods.prior_periods
        end as end_shift,
        case
            when current_periods.window_anchor = 'rolling'
                then current_periods.periods + current_periods.prior_periods
        end as start_shift
    from current_periods
),

shifted as (
    select
        indexed.*,
        {%- for shift in ['end_shift', 'start_shift'] %}
            {%- if calendar.type == 'standard' %}
                case
                    when indexed.window_unit = 'week'
                        then {{ add_days('indexed.as_of_date', '-7 * indexed.' ~ shift) }}
                    else {{ add_months('indexed.as_of_date', '-indexed.months_per_period * indexed.' ~ shift) }}
                end as {{ shift }}_date
            {%- else %}
                coalesce(
                    least(
                        {{ add_days(shift ~ '_periods.period_start',
                                    dbt.datediff('indexed.current_start', 'indexed.as_of_date', 'day')) }},
                        {{ shift }}_periods.period_end
                    ),
                    calendar_limits.first_calendar_date - 1
                ) as {{ shift }}_date
            {%- endif %}
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from indexed
    cross join calendar_limits
    {%- if calendar.type != 'standard' %}
        {%- for shift in ['end_shift', 'start_shift'] %}
            left join periods as {{ shift }}_periods
                on
                    indexed.window_unit = {{ shift }}_periods.period_unit
                    and indexed.current_index - indexed.{{ shift }} = {{ shift }}_periods.period_index
        {%- endfor %}
    {%- endif %}
),

bounded as (
    select
        shifted.window_order,
        shifted.window_name,
        shifted.window_unit,
        shifted.window_anchor,
        case
            when shifted.window_anchor = 'rolling' then shifted.end_shift_date + 1
            else coalesce(window_start_periods.period_start, calendar_limits.first_calendar_date)
        end as window_start,
        case
            when shifted.window_anchor = 'complete' then window_end_periods.period_end
            else shifted.as_of_date
        end as window_end,
        case
            when shifted.window_anchor = 'rolling' then shifted.start_shift_date + 1
            else coalesce(prior_start_periods.period_start, calendar_limits.first_calendar_date)
        end as prior_window_start,
        case shifted.window_anchor
            when 'complete' then coalesce(prior_end_periods.period_end, calendar_limits.first_calendar_date - 1)
            else shifted.end_shift_date
        end as prior_window_end,
        shifted.periods,
        case
            when shifted.window_anchor = 'to_date' then shifted.periods else shifted.prior_periods
        end as prior_periods
    from shifted
    cross join calendar_limits
    {%- for bound in ['window_start', 'window_end', 'prior_start', 'prior_end'] %}
        left join periods as {{ bound }}_periods
            on
                shifted.window_unit = {{ bound }}_periods.period_unit
                and shifted.{{ bound }}_index = {{ bound }}_periods.period_index
    {%- endfor %}
)

select * from bounded
