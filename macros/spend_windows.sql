{#- The spend windows setting (var spend_windows), validated once: 1 to 5 windows, each
    {name, periods, unit: week|month|quarter|year, prior_periods, anchor: complete|rolling|to_date}.
    prior_periods defaults to periods and anchor to complete. Any other mistake stops the build
    with a message naming the setting. Returns a list of {name, periods, unit, prior_periods, anchor}. -#}
{% macro spend_windows_settings() -%}
    {%- set default = [
        {'name': 'last_3_months', 'periods': 3, 'unit': 'month', 'prior_periods': 3, 'anchor': 'complete'},
        {'name': 'last_12_months', 'periods': 12, 'unit': 'month', 'prior_periods': 12, 'anchor': 'complete'},
        {'name': 'fiscal_ytd', 'periods': 1, 'unit': 'year', 'prior_periods': 1, 'anchor': 'to_date'},
    ] -%}
    {%- set setting = var('spend_windows', default) -%}
    {%- if setting is string or setting is mapping or setting is not iterable -%}
        {{ exceptions.raise_compiler_error(
            "spend_windows must be a list of 1 to 5 windows like "
            ~ "{name: last_3_months, periods: 3, unit: month, prior_periods: 3, anchor: complete}.") }}
    {%- endif -%}
    {%- if setting | length < 1 or setting | length > 5 -%}
        {{ exceptions.raise_compiler_error(
            "spend_windows has " ~ (setting | length) ~ " windows: use 1 to 5.") }}
    {%- endif -%}
    {%- set units = ['week', 'month', 'quarter', 'year'] -%}
    {%- set anchors = ['complete', 'rolling', 'to_date'] -%}
    {%- set windows = [] -%}
    {%- set names = [] -%}
    {%- for window in setting -%}
        {%- set label = 'spend_windows[' ~ loop.index0 ~ ']' -%}
        {%- if window is not mapping -%}
            {{ exceptions.raise_compiler_error(
                label ~ " is '" ~ window ~ "': each window is {name, periods, unit, prior_periods, anchor}.") }}
        {%- endif -%}
        {%- set name = (window.get('name') or '') | string | trim -%}
        {%- if name == '' -%}
            {{ exceptions.raise_compiler_error(label ~ ".name is missing: give every window a name.") }}
        {%- endif -%}
        {%- if not modules.re.match('^[A-Za-z0-9_ -]+$', name) -%}
            {{ exceptions.raise_compiler_error(
                label ~ ".name is '" ~ name ~ "': use letters, digits, spaces, - and _.") }}
        {%- endif -%}
        {%- if name in names -%}
            {{ exceptions.raise_compiler_error(
                label ~ ".name '" ~ name ~ "' is used twice: window names must be unique.") }}
        {%- endif -%}
        {%- do names.append(name) -%}
        {%- set label = "spend_windows '" ~ name ~ "'" -%}
        {%- set unit = (window.get('unit') or '') | string | trim | lower -%}
        {%- if unit not in units -%}
            {{ exceptions.raise_compiler_error(
                label ~ ": unit is '" ~ unit ~ "': use week, month, quarter or year.") }}
        {%- endif -%}
        {%- set anchor = (window.get('anchor') or 'complete') | string | trim | lower -%}
        {%- if anchor not in anchors -%}
            {{ exceptions.raise_compiler_error(
                label ~ ": anchor is '" ~ anchor ~ "': use complete, rolling or to_date.") }}
        {%- endif -%}
        {%- set counts = {} -%}
        {%- for key in ['periods', 'prior_periods'] -%}
            {%- set raw = window.get(key, window.get('periods') if key == 'prior_periods' else none) -%}
            {%- set is_whole = raw is integer
                or (raw is string and modules.re.match('^[0-9]+$', raw | trim) is not none) -%}
            {%- if not is_whole or (raw | int) < 1 -%}
                {{ exceptions.raise_compiler_error(
                    label ~ ": " ~ key ~ " is '" ~ raw ~ "': use a whole number of periods, 1 or more.") }}
            {%- endif -%}
            {%- do counts.update({key: raw | int}) -%}
        {%- endfor -%}
        {#- A to_date window's prior span is the same span shifted back by prior_periods; fewer
            prior periods than periods would make the two overlap (a day counted in both). -#}
        {%- if anchor == 'to_date' and counts['prior_periods'] < counts['periods'] -%}
            {{ exceptions.raise_compiler_error(
                label ~ ": anchor to_date with prior_periods " ~ counts['prior_periods'] ~ " < periods "
                ~ counts['periods'] ~ " would make the window and its prior span overlap: set "
                ~ "prior_periods to " ~ counts['periods'] ~ " or more (or use anchor complete or rolling).") }}
        {%- endif -%}
        {%- do windows.append({'name': name, 'periods': counts['periods'], 'unit': unit,
                               'prior_periods': counts['prior_periods'], 'anchor': anchor}) -%}
    {%- endfor -%}
    {{ return(windows) }}
{%- endmacro %}

{#- The months in one business period of a unit (standard calendars shift by whole months). -#}
{% macro spend_window_unit_months(unit) -%}
    {{ return({'month': 1, 'quarter': 3, 'year': 12}.get(unit, none)) }}
{%- endmacro %}

{#- Each day of a spend window or its prior span (select body), flagged by which of the two it
    is in: a few thousand rows, so the compact aggregate reaches its windows by a hash join on
    the day. `bounds` is int_spend_windows_bounded, `calendar_days` int_calendar_days_spined. -#}
{% macro spend_window_days(bounds, calendar_days) -%}
    select
        {{ bounds }}.window_order,
        {{ calendar_days }}.calendar_date,
        {{ calendar_days }}.calendar_date between {{ bounds }}.window_start and {{ bounds }}.window_end
            as is_in_window
    from {{ bounds }}
    inner join {{ calendar_days }}
        on
            {{ calendar_days }}.calendar_date between {{ bounds }}.window_start and {{ bounds }}.window_end
            or {{ calendar_days }}.calendar_date between {{ bounds }}.prior_window_start
            and {{ bounds }}.prior_window_end
{%- endmacro %}
