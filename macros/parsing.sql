{#- Parsing helpers for the staging models: text in, typed value or null out. -#}

{% macro parse_date(column) -%}
    {#- ISO dates and timestamps; a date part is enough. -#}
    coalesce(
        try_cast({{ column }} as date),
        try_cast(try_cast({{ column }} as timestamp) as date)
    )
{%- endmacro %}

{#- `is_text`: whether the raw column is text (CSV, or a text column of a Parquet file; see
    read_raw_file's column_types). A typed column (a Parquet number, date or timestamp) skips the
    text round trip: the same verdicts, without formatting every value as a string first. -#}

{% macro clean_text(column, is_text=true) -%}
    {#- trimmed text, empty = null -#}
    {%- if is_text -%}
        nullif(trim(cast({{ column }} as {{ dbt.type_string() }})), '')
    {%- else -%}
        cast({{ column }} as {{ dbt.type_string() }})
    {%- endif -%}
{%- endmacro %}

{#- True when the raw value is empty: blank text (after trimming) or a null typed value. -#}
{% macro is_blank(column, is_text=true) -%}
    {%- if is_text -%}
        ({{ clean_text(column) }} is null)
    {%- else -%}
        ({{ column }} is null)
    {%- endif -%}
{%- endmacro %}

{#- True when the raw value has content that does not cast to a number (blank is not unparseable). -#}
{% macro is_unparseable_number(column, is_text=true) -%}
    (
        not {{ is_blank(column, is_text) }}
        and try_cast({{ column }} as double) is null
    )
{%- endmacro %}

{#- A yes/no text as boolean (true, t, yes, y, 1 / false, f, no, n, 0; any case); null otherwise. -#}
{% macro parse_bool(column) -%}
    case
        when lower(trim(cast({{ column }} as {{ dbt.type_string() }}))) in ('true', 't', 'yes', 'y', '1') then true
        when lower(trim(cast({{ column }} as {{ dbt.type_string() }}))) in ('false', 'f', 'no', 'n', '0') then false
    end
{%- endmacro %}

{#- The day of the build (SQL current_date); a macro so that unit tests can pin it. -#}
{% macro build_date() -%}
    current_date
{%- endmacro %}

{#- A parsed number that is NaN or infinite (text such as NaN, inf, -Infinity or 1e400 casts to
    one): unusable like an unparseable number (SPEC section 5). False for null. -#}
{% macro is_non_finite(column) -%}
    coalesce(not {{ is_finite(column) }}, false)
{%- endmacro %}
