{#- Engine differences behind adapter.dispatch (docs/portability.md). Each macro has a default
    (DuckDB, unchanged SQL) and a spark__ variant; prefer dbt's cross-database macros
    (dbt.datediff, dbt.type_string, dbt.bool_or, ...) where they give the same result. -#}

{#- The date `days` days after `date_expression` (negative: before). Both engines add only an
    integer (not a bigint) to a date: DuckDB with +, Spark with date_add. -#}
{% macro add_days(date_expression, days) -%}
    {{ return(adapter.dispatch('add_days')(date_expression, days)) }}
{%- endmacro %}

{% macro default__add_days(date_expression, days) -%}
    ({{ date_expression }} + cast({{ days }} as integer))
{%- endmacro %}

{% macro spark__add_days(date_expression, days) -%}
    date_add({{ date_expression }}, cast({{ days }} as int))
{%- endmacro %}

{#- The date `months` calendar months after `date_expression` (negative: before), as a date;
    the day is clamped to the month's last day on both engines. dbt.dateadd would give a
    timestamp on both. -#}
{% macro add_months(date_expression, months) -%}
    {{ return(adapter.dispatch('add_months')(date_expression, months)) }}
{%- endmacro %}

{% macro default__add_months(date_expression, months) -%}
    cast({{ date_expression }} + to_months({{ months }}) as date)
{%- endmacro %}

{% macro spark__add_months(date_expression, months) -%}
    add_months({{ date_expression }}, cast({{ months }} as int))
{%- endmacro %}

{#- Integer division of non-negative integers, as an integer (DuckDB `//`; Spark `/` always
    returns a double, `div` a bigint). -#}
{% macro int_div(numerator, denominator) -%}
    {{ return(adapter.dispatch('int_div')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__int_div(numerator, denominator) -%}
    ({{ numerator }} // {{ denominator }})
{%- endmacro %}

{% macro spark__int_div(numerator, denominator) -%}
    cast(({{ numerator }}) div ({{ denominator }}) as int)
{%- endmacro %}

{#- ISO day of the week: Monday 1 .. Sunday 7. -#}
{% macro iso_day_of_week(date_expression) -%}
    {{ return(adapter.dispatch('iso_day_of_week')(date_expression)) }}
{%- endmacro %}

{% macro default__iso_day_of_week(date_expression) -%}
    isodow({{ date_expression }})
{%- endmacro %}

{% macro spark__iso_day_of_week(date_expression) -%}
    (weekday({{ date_expression }}) + 1)
{%- endmacro %}

{#- A select-list expression that turns one row into one row per day from start_date to
    end_date (both included), as dates. -#}
{% macro unnest_days(start_date, end_date) -%}
    {{ return(adapter.dispatch('unnest_days')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__unnest_days(start_date, end_date) -%}
    cast(unnest(generate_series({{ start_date }}, {{ end_date }}, interval 1 day)) as date)
{%- endmacro %}

{% macro spark__unnest_days(start_date, end_date) -%}
    explode(sequence(cast({{ start_date }} as date), cast({{ end_date }} as date), interval 1 day))
{%- endmacro %}

{#- A select-list expression that turns one row into one row per `delimiter`-separated part
    of `text` (trimmed; a null text gives no row). -#}
{% macro unnest_split(text, delimiter) -%}
    {{ return(adapter.dispatch('unnest_split')(text, delimiter)) }}
{%- endmacro %}

{% macro default__unnest_split(text, delimiter) -%}
    trim(unnest(string_split({{ text }}, {{ sql_string(delimiter) }})))
{%- endmacro %}

{#- Spark's split() takes a regular expression: a one-character delimiter goes into a
    character class ([|]) so it is matched literally. -#}
{% macro spark__unnest_split(text, delimiter) -%}
    {%- if delimiter | length != 1 or delimiter in '\\^]' -%}
        {{ exceptions.raise_compiler_error("unnest_split on Spark takes one plain character, got " ~ delimiter) }}
    {%- endif -%}
    explode(transform(split({{ text }}, {{ sql_string('[' ~ delimiter ~ ']') }}), part -> trim(part)))
{%- endmacro %}

{#- dbt.cast(...) with the type names the project's yml uses (contract data_type, seed
    column_types): Spark calls text `string` and has no length-less varchar. -#}
{% macro spark__cast(field, type) -%}
    {%- set spark_type = 'string' if (type | lower | trim) in ('varchar', 'text') else type -%}
    cast({{ field }} as {{ spark_type }})
{%- endmacro %}

{#- True for a number that is neither NaN nor +/-Infinity. -#}
{% macro is_finite(number) -%}
    {{ return(adapter.dispatch('is_finite')(number)) }}
{%- endmacro %}

{% macro default__is_finite(number) -%}
    isfinite({{ number }})
{%- endmacro %}

{% macro spark__is_finite(number) -%}
    (not isnan({{ number }}) and abs({{ number }}) != double('Infinity'))
{%- endmacro %}

{#- Written after `as` in a CTE read more than once that only imports a big relation: DuckDB would
    otherwise materialise a copy of it (every row, before any filter); inlined, each reader scans
    the table with its own filters. Other engines decide on their own. -#}
{% macro inline_cte() -%}
    {{ return(adapter.dispatch('inline_cte', 'spendlens')()) }}
{%- endmacro %}

{% macro default__inline_cte() -%}
{%- endmacro %}

{% macro duckdb__inline_cte() -%}
    not materialized
{%- endmacro %}

{#- Written after `as` in a small CTE that a big relation joins to: DuckDB computes it once and
    plans the join with its true size. Inlined, the optimizer may fold its joins into the big
    one (the spend-window days were joined to the calendar after the compact aggregate, then to
    the window bounds by a merge join on every row: 7x slower at 1M lines). Other engines decide
    on their own. -#}
{% macro materialized_cte() -%}
    {{ return(adapter.dispatch('materialized_cte', 'spendlens')()) }}
{%- endmacro %}

{% macro default__materialized_cte() -%}
{%- endmacro %}

{% macro duckdb__materialized_cte() -%}
    materialized
{%- endmacro %}

{#- A SQL expression that stops the query with `message` (a text expression) when evaluated:
    for checks whose failure must say what to do, not only a test's name. -#}
{% macro raise_data_error(message) -%}
    {{ return(adapter.dispatch('raise_data_error')(message)) }}
{%- endmacro %}

{% macro default__raise_data_error(message) -%}
    error({{ message }})
{%- endmacro %}

{% macro spark__raise_data_error(message) -%}
    raise_error({{ message }})
{%- endmacro %}

{#- Select-list items that turn one row into one row per element of the list (array) column
    `list`, as `value_alias` with its position `position_alias` (1-based on DuckDB, 0-based on
    Spark: use it only to group the elements of the same position). -#}
{% macro unnest_list_with_position(list, value_alias, position_alias) -%}
    {{ return(adapter.dispatch('unnest_list_with_position')(list, value_alias, position_alias)) }}
{%- endmacro %}

{% macro default__unnest_list_with_position(list, value_alias, position_alias) -%}
    unnest({{ list }}) as {{ value_alias }},
    generate_subscripts({{ list }}, 1) as {{ position_alias }}
{%- endmacro %}

{% macro spark__unnest_list_with_position(list, value_alias, position_alias) -%}
    posexplode({{ list }}) as ({{ position_alias }}, {{ value_alias }})
{%- endmacro %}

{#- The continuous percentile (linear interpolation between the closest ranks, numpy's default)
    of `expression` at `fraction` (0..1), an aggregate. -#}
{% macro percentile_cont(expression, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont')(expression, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(expression, fraction) -%}
    quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}

{% macro spark__percentile_cont(expression, fraction) -%}
    percentile({{ expression }}, {{ fraction }})
{%- endmacro %}
