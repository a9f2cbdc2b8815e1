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

{#- The optional custom KPI period (vars kpi_period_start, kpi_period_end, kpi_comparison_start,
    kpi_comparison_end), validated: none when kpi_period_start and kpi_period_end are unset, else
    {start, end, comparison_start, comparison_end} as 'YYYY-MM-DD' texts. The comparison defaults
    to the same number of days just before the period. -#}
{% macro kpi_custom_period() -%}
    {%- set start = var('kpi_period_start', none) -%}
    {%- set end = var('kpi_period_end', none) -%}
    {%- set comparison_start = var('kpi_comparison_start', none) -%}
    {%- set comparison_end = var('kpi_comparison_end', none) -%}
    {%- if start is none and end is none -%}
        {%- if comparison_start is not none or comparison_end is not none -%}
            {{ exceptions.raise_compiler_error(
                "kpi_comparison_start / kpi_comparison_end are set without kpi_period_start and kpi_period_end: "
                ~ "set the period too, e.g. --vars '{kpi_period_start: 2024-11-25, kpi_period_end: 2024-12-01}'.") }}
        {%- endif -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set parsed = {} -%}
    {%- for name, value in [('kpi_period_start', start), ('kpi_period_end', end),
                            ('kpi_comparison_start', comparison_start), ('kpi_comparison_end', comparison_end)] -%}
        {%- if value is not none -%}
            {%- set text = value | string | trim -%}
            {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
                {{ exceptions.raise_compiler_error(name ~ " is '" ~ value ~ "': use a date YYYY-MM-DD.") }}
            {%- endif -%}
            {%- do parsed.update({name: modules.datetime.datetime.strptime(text, '%Y-%m-%d').date()}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if 'kpi_period_start' not in parsed or 'kpi_period_end' not in parsed -%}
        {{ exceptions.raise_compiler_error(
            "Set both kpi_period_start and kpi_period_end for a custom KPI period (dates YYYY-MM-DD).") }}
    {%- endif -%}
    {%- if parsed['kpi_period_start'] > parsed['kpi_period_end'] -%}
        {{ exceptions.raise_compiler_error(
            "kpi_period_start " ~ parsed['kpi_period_start'] ~ " is after kpi_period_end " ~ parsed['kpi_period_end'] ~ ".") }}
    {%- endif -%}
    {%- set days = (parsed['kpi_period_end'] - parsed['kpi_period_start']).days + 1 -%}
    {%- if ('kpi_comparison_start' in parsed) != ('kpi_comparison_end' in parsed) -%}
        {{ exceptions.raise_compiler_error(
            "Set both kpi_comparison_start and kpi_comparison_end, or neither (default: the "
            ~ days ~ " days just before the period).") }}
    {%- endif -%}
    {%- if 'kpi_comparison_start' in parsed -%}
        {%- set comparison = (parsed['kpi_comparison_start'], parsed['kpi_comparison_end']) -%}
    {%- else -%}
        {%- set comparison = (parsed['kpi_period_start'] - modules.datetime.timedelta(days=days),
                              parsed['kpi_period_start'] - modules.datetime.timedelta(days=1)) -%}
    {%- endif -%}
    {%- if comparison[0] > comparison[1] -%}
        {{ exceptions.raise_compiler_error(
            "kpi_comparison_start " ~ comparison[0] ~ " is after kpi_comparison_end " ~ comparison[1] ~ ".") }}
    {%- endif -%}
    {{ return({'start': parsed['kpi_period_start'] | string, 'end': parsed['kpi_period_end'] | string,
               'comparison_start': comparison[0] | string, 'comparison_end': comparison[1] | string,
               'days': days}) }}
{%- endmacro %}

{#- One row per KPI period x window: for each length in kpi_period_days the period ending at
    as-of ('last_<n>_days') and the comparison period of the same length right before it, plus
    the custom period ('custom') when it is set. Columns period_name, period_days, window_role
    ('period' | 'comparison'), window_start, window_end. Reads the CTE `analysis_dates`. -#}
{% macro kpi_windows_sql() -%}
    {%- for days in kpi_period_days() %}
        {%- if not loop.first %}
            union all
        {%- endif %}
        select
            'last_{{ days }}_days' as period_name,
            {{ days }} as period_days,
            'period' as window_role,
            {{ add_days('analysis_dates.as_of_date', -(days - 1)) }} as window_start,
            analysis_dates.as_of_date as window_end
        from analysis_dates
        union all
        select
            'last_{{ days }}_days' as period_name,
            {{ days }} as period_days,
            'comparison' as window_role,
            {{ add_days('analysis_dates.as_of_date', -(2 * days - 1)) }} as window_start,
            {{ add_days('analysis_dates.as_of_date', -days) }} as window_end
        from analysis_dates
    {%- endfor %}
    {%- set custom = kpi_custom_period() %}
    {%- if custom is not none %}
        union all
        select
            'custom' as period_name,
            {{ custom.days }} as period_days,
            'period' as window_role,
            cast({{ sql_string(custom.start) }} as date) as window_start,
            cast({{ sql_string(custom.end) }} as date) as window_end
        from analysis_dates
        union all
        select
            'custom' as period_name,
            {{ custom.days }} as period_days,
            'comparison' as window_role,
            cast({{ sql_string(custom.comparison_start) }} as date) as window_start,
            cast({{ sql_string(custom.comparison_end) }} as date) as window_end
        from analysis_dates
    {%- endif %}
{%- endmacro %}
