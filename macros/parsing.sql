{#- Parsing helpers for the staging models: text in, typed value or null out. -#}

{% macro parse_date(column) -%}
    {#- ISO dates and timestamps; a date part is enough. -#}
    coalesce(
        try_cast({{ column }} as date),
        try_cast(try_cast({{ column }} as timestamp) as date)
    )
{%- endmacro %}

{% macro is_unparseable_number(column) -%}
    (
        nullif(trim(cast({{ column }} as {{ dbt.type_string() }})), '') is not null
        and try_cast({{ column }} as double) is null
    )
{%- endmacro %}

{% macro parse_bool(column) -%}
    case
        when lower(trim(cast({{ column }} as {{ dbt.type_string() }}))) in ('true', 't', 'yes', 'y', '1') then true
        when lower(trim(cast({{ column }} as {{ dbt.type_string() }}))) in ('false', 'f', 'no', 'n', '0') then false
    end
{%- endmacro %}
