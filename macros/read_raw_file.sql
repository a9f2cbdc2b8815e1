{#- Input files (SPEC section 2): find `<name>.csv` or `<name>.parquet` in the raw folder, check
    the required columns, and select every expected column by its lower-case name (missing
    optional columns become nulls). A missing required file or column stops the build with one
    message that names it; a missing optional file yields no rows.
    Hostile input is data (docs/security.md): CSV is read as RFC 4180 text with a fixed comma
    delimiter (the sniffer cannot be steered by the content), every column as text (ids keep
    leading zeros), by the serial scanner (line breaks inside quoted values; the parallel one
    cannot combine them with padding short rows) unless var raw_csv_parallel is true, and NUL
    bytes are removed from text values (the one normalisation). -#}

{% macro raw_path() -%}
    {%- set configured = var('raw_path', none) -%}
    {%- if configured is none or configured == '' -%}
        {%- set configured = env_var('SPENDLENS_RAW_PATH', 'data/raw') -%}
    {%- endif -%}
    {{- return(configured.rstrip('/')) -}}
{%- endmacro %}

{% macro sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}

{% macro find_raw_file(name) -%}
    {#- Returns {'path':..., 'format': 'csv'|'parquet'} or none. -#}
    {%- set folder = raw_path() -%}
    {%- set found = run_query(
        "select file from glob(" ~ sql_string(folder ~ '/' ~ name ~ '.csv') ~ ")"
        ~ " union all select file from glob(" ~ sql_string(folder ~ '/' ~ name ~ '.parquet') ~ ")"
        ~ " order by 1"
    ) -%}
    {%- set files = found.columns[0].values() -%}
    {%- if files | length > 1 -%}
        {{ exceptions.raise_compiler_error(
            "Input " ~ name ~ " exists twice in " ~ folder ~ " (" ~ (files | join(', '))
            ~ "): keep either the .csv or the .parquet file.") }}
    {%- elif files | length == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set path = files[0] -%}
    {{ return({'path': path, 'format': ('parquet' if path.endswith('.parquet') else 'csv')}) }}
{%- endmacro %}

{% macro raw_reader(file) -%}
    {%- if file.format == 'parquet' -%}
        read_parquet({{ sql_string(file.path) }})
    {%- else -%}
        read_csv(
            {{ sql_string(file.path) }}, header = true, all_varchar = true, delim = ',', quote = '"',
            escape = '"', strict_mode = false, null_padding = true,
            parallel = {{ 'true' if var('raw_csv_parallel', false) else 'false' }}
        )
    {%- endif -%}
{%- endmacro %}

{% macro read_raw_file(table_name, required_columns, optional_columns=[], required_file=true) -%}
    {#- `source()` records the lineage; the rows are read from the file found at run time. -#}
    {%- set lineage = source('shop', table_name) -%}
    {%- set all_columns = required_columns + optional_columns -%}
    {%- if not execute -%}
        select
        {%- for column in all_columns %}
            cast(null as varchar) as {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    {%- else -%}
        {%- set file = find_raw_file(table_name) -%}
        {%- if file is none and required_file -%}
            {{ exceptions.raise_compiler_error(
                "Required input file " ~ table_name ~ ".csv (or " ~ table_name ~ ".parquet) not found in "
                ~ raw_path() ~ ". Put it there, or point raw_path / --data at the folder that has it.") }}
        {%- elif file is none -%}
            select
            {%- for column in all_columns %}
                cast(null as varchar) as {{ column }}{{ "," if not loop.last }}
            {%- endfor %}
            where false
        {%- else -%}
            {%- set described = run_query("describe select * from " ~ raw_reader(file)) -%}
            {%- set present = {} -%}
            {%- set is_text = {} -%}
            {%- for name in described.columns[0].values() -%}
                {%- do present.update({name | lower | trim: name}) -%}
                {%- do is_text.update({name | lower | trim: (described.columns[1].values()[loop.index0] | upper).startswith('VARCHAR')}) -%}
            {%- endfor -%}
            {%- set missing = [] -%}
            {%- for column in required_columns if column not in present -%}
                {%- do missing.append(column) -%}
            {%- endfor -%}
            {%- if missing -%}
                {{ exceptions.raise_compiler_error(
                    file.path ~ " has no column " ~ (missing | join(', ')) ~ " (expected: "
                    ~ (required_columns | join(', ')) ~ "; optional: " ~ (optional_columns | join(', '))
                    ~ "). Column names are case-insensitive.") }}
            {%- endif -%}
            select
            {%- for column in all_columns %}
                {%- if column in present and is_text[column] %}
                replace("{{ present[column] | replace('"', '""') }}", chr(0), '') as {{ column }}{{ "," if not loop.last }}
                {%- elif column in present %}
                "{{ present[column] | replace('"', '""') }}" as {{ column }}{{ "," if not loop.last }}
                {%- else %}
                cast(null as varchar) as {{ column }}{{ "," if not loop.last }}
                {%- endif %}
            {%- endfor %}
            from {{ raw_reader(file) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
