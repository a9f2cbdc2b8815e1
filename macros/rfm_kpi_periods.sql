{#- The KPI periods in days (var kpi_period_days, default [30, 365]) as a list of positive
    whole numbers; a single number is accepted too. -#}
{% macro kpi_period_days() -%}
    {%- set setting = var('kpi_period_days', [30, 365]) -%}
    {%- set values = setting if setting is iterable and setting is not string else [setting] -%}
    {%- set days = [] -%}
    {%- for value in values -%}
        {%- if value is not number or (value | int) != value or value < 1 -%}
            {{ exceptions.raise_compiler_error(
                "kpi_period_days has '" ~ value ~ "': use whole numbers of days, e.g. [30, 365].") }}
        {%- endif -%}
        {%- do days.append(value | int) -%}
    {%- endfor -%}
    {%- if days | length == 0 -%}
        {{ exceptions.raise_compiler_error("kpi_period_days is empty: give at least one number of days, e.g. [30].") }}
    {%- endif -%}
    {{ return(days | unique | list) }}
{%- endmacro %}

{#- One row per KPI period length x window: the period ending at as-of and the comparison
    period of the same length right before it. Reads the CTE `analysis_dates`. -#}
{% macro kpi_windows_sql() -%}
    {%- for days in kpi_period_days() %}
        {%- if not loop.first %}
            union all
        {%- endif %}
        select
            {{ days }} as period_days,
            'period' as window_role,
            {{ add_days('analysis_dates.as_of_date', -(days - 1)) }} as window_start,
            analysis_dates.as_of_date as window_end
        from analysis_dates
        union all
        select
            {{ days }} as period_days,
            'comparison' as window_role,
            {{ add_days('analysis_dates.as_of_date', -(2 * days - 1)) }} as window_start,
            {{ add_days('analysis_dates.as_of_date', -days) }} as window_end
        from analysis_dates
    {%- endfor %}
{%- endmacro %}
