{#- The business calendar setting (var business_calendar), validated once:
    {type: standard|445|454|544, fiscal_year_start: 'MM-DD'} -> {type, month, day, weeks}. -#}
{% macro business_calendar_settings() -%}
    {%- set setting = var('business_calendar', {'type': 'standard', 'fiscal_year_start': '01-01'}) -%}
    {%- set kind = (setting.get('type', 'standard') | string | lower) -%}
    {%- set patterns = {'445': [4, 4, 5], '454': [4, 5, 4], '544': [5, 4, 4]} -%}
    {%- if kind != 'standard' and kind not in patterns -%}
        {{ exceptions.raise_compiler_error(
            "business_calendar.type is '" ~ kind ~ "': use standard, 445, 454 or 544.") }}
    {%- endif -%}
    {%- set start = (setting.get('fiscal_year_start', '01-01') | string) -%}
    {%- set parts = start.split('-') -%}
    {%- if parts | length != 2 or not parts[0].isdigit() or not parts[1].isdigit()
        or (parts[0] | int) < 1 or (parts[0] | int) > 12
        or (parts[1] | int) < 1 or (parts[1] | int) > 28 -%}
        {{ exceptions.raise_compiler_error(
            "business_calendar.fiscal_year_start is '" ~ start
            ~ "': use MM-DD with a day from 01 to 28, e.g. 04-01.") }}
    {%- endif -%}
    {{ return({'type': kind, 'month': parts[0] | int, 'day': parts[1] | int,
               'weeks': patterns.get(kind, none)}) }}
{%- endmacro %}

{#- Monday nearest to MM-DD of the given year expression (start of a 4-4-5 style year). -#}
{% macro nearest_monday(year_expression, month, day) -%}
    (
        make_date({{ year_expression }}, {{ month }}, {{ day }})
        + cast(
            case
                when {{ iso_day_of_week('make_date(' ~ year_expression ~ ', ' ~ month ~ ', ' ~ day ~ ')') }} <= 4
                    then 1 - {{ iso_day_of_week('make_date(' ~ year_expression ~ ', ' ~ month ~ ', ' ~ day ~ ')') }}
                else 8 - {{ iso_day_of_week('make_date(' ~ year_expression ~ ', ' ~ month ~ ', ' ~ day ~ ')') }}
            end as integer
        )
    )
{%- endmacro %}
