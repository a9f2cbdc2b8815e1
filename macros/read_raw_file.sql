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

{#- A value as a SQL string literal, single quotes doubled. -#}
{% macro sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}

{% macro find_raw_file(name) -%}
    {#- Returns {'path':..., 'format': 'csv'|'parquet'} or none; stops when both exist. -#}
    {%- set folder = raw_path() -%}
    {%- set files = adapter.dispatch('list_raw_files')(folder, name) -%}
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

{#- Paths of `<name>.csv` / `<name>.parquet` in the folder, sorted. -#}
{% macro default__list_raw_files(folder, name) -%}
    {%- set found = run_query(
        "select file from glob(" ~ sql_string(folder ~ '/' ~ name ~ '.csv') ~ ")"
        ~ " union all select file from glob(" ~ sql_string(folder ~ '/' ~ name ~ '.parquet') ~ ")"
        ~ " order by 1"
    ) -%}
    {{ return(found.columns[0].values() | list) }}
{%- endmacro %}

{#- Spark SQL has no glob(): list the folder with the binaryFile source (only the path column
    is read, never the contents; hidden files are skipped as everywhere in Spark). -#}
{% macro spark__list_raw_files(folder, name) -%}
    {%- set found = run_query(
        "select path from binaryFile.`" ~ folder | replace('`', '``') ~ "`"
        ~ " where path like " ~ sql_string('%/' ~ name ~ '.csv')
        ~ " or path like " ~ sql_string('%/' ~ name ~ '.parquet') ~ " order by 1"
    ) -%}
    {{ return(found.columns[0].values() | list) }}
{%- endmacro %}

{#- A relation (or table function) that reads the file with every CSV column as text. -#}
{% macro raw_reader(file) -%}
    {{ return(adapter.dispatch('raw_reader')(file)) }}
{%- endmacro %}

{% macro default__raw_reader(file) -%}
    {%- if file.format == 'parquet' -%}
        read_parquet({{ sql_string(file.path) }}, file_row_number = true)
    {%- else -%}
        read_csv(
            {{ sql_string(file.path) }}, header = true, all_varchar = true, delim = ',', quote = '"',
            escape = '"', strict_mode = false, null_padding = true,
            parallel = {{ 'true' if var('raw_csv_parallel', false) else 'false' }}
        )
    {%- endif -%}
{%- endmacro %}

{#- Spark: a view cannot read a temporary view or pass reader options, so the file becomes an
    external table `<target schema>_raw.<name>` (re-created on each compile; the data stays in
    the file). CSV as text with a header, RFC 4180 quoting ("" inside quotes) and line breaks
    inside quoted values (multiLine); short rows are padded with nulls (PERMISSIVE). -#}
{% macro spark__raw_reader(file) -%}
    {%- set schema = target.schema ~ '_raw' -%}
    {%- set name = file.path.split('/')[-1].rsplit('.', 1)[0] -%}
    {%- set relation = schema ~ '.' ~ name -%}
    {%- if execute -%}
        {%- do run_query('create database if not exists ' ~ schema) -%}
        {%- do run_query('drop table if exists ' ~ relation) -%}
        {%- if file.format == 'parquet' -%}
            {%- do run_query('create table ' ~ relation ~ ' using parquet options (path ' ~ sql_string(file.path) ~ ')') -%}
        {%- else -%}
            {%- do run_query(
                'create table ' ~ relation ~ ' using csv options (path ' ~ sql_string(file.path)
                ~ ", header 'true', inferSchema 'false', sep ',', quote '\"', escape '\"', multiLine 'true',"
                ~ " mode 'PERMISSIVE', encoding 'UTF-8')") -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}

{#- The position of each row in its file (SPEC section 5: of rows that repeat a key, the first
    usable one in file order is kept). DuckDB: the Parquet reader's file_row_number, and for CSV
    a streaming row_number() over the serial scan, which keeps file order. Spark: the id of a
    row grows with its position in the file (one file, splits in order). -#}
{% macro raw_row_number(file) -%}
    {{ return(adapter.dispatch('raw_row_number')(file)) }}
{%- endmacro %}

{% macro default__raw_row_number(file) -%}
    {%- if file.format == 'parquet' -%}
        file_row_number + 1
    {%- else -%}
        row_number() over ()
    {%- endif -%}
{%- endmacro %}

{% macro spark__raw_row_number(file) -%}
    monotonically_increasing_id() + 1
{%- endmacro %}

{#- [(column name, is text)] of the file as the reader sees it. -#}
{% macro raw_columns(reader) -%}
    {{ return(adapter.dispatch('raw_columns')(reader)) }}
{%- endmacro %}

{% macro default__raw_columns(reader) -%}
    {%- set described = run_query("describe select * from " ~ reader) -%}
    {%- set columns = [] -%}
    {%- for name in described.columns[0].values() if name != 'file_row_number' -%}
        {%- do columns.append((name, (described.columns[1].values()[loop.index0] | upper).startswith('VARCHAR'))) -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}

{% macro spark__raw_columns(reader) -%}
    {%- set described = run_query("describe table " ~ reader) -%}
    {%- set columns = [] -%}
    {%- for name in described.columns[0].values() if name and not name.startswith('#') -%}
        {%- do columns.append((name, (described.columns[1].values()[loop.index0] | lower) == 'string')) -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}

{#- A raw column name as a quoted identifier. -#}
{% macro quote_raw_column(name) -%}
    {{ return(adapter.dispatch('quote_raw_column')(name)) }}
{%- endmacro %}

{% macro default__quote_raw_column(name) -%}
    {{ return('"' ~ (name | replace('"', '""')) ~ '"') }}
{%- endmacro %}

{% macro spark__quote_raw_column(name) -%}
    {{ return('`' ~ (name | replace('`', '``')) ~ '`') }}
{%- endmacro %}

{% macro read_raw_file(table_name, required_columns, optional_columns=[], required_file=true, column_types=none) -%}
    {#- `source()` records the lineage; the rows are read from the file found at run time.
        column_types: a dict the caller passes in, filled with {column: is_text} for the file
        found (text = CSV, a text Parquet column, or a missing column), so that the staging
        model can parse typed columns without a text round trip (macros/parsing.sql). -#}
    {%- set lineage = source('shop', table_name) -%}
    {%- set all_columns = required_columns + optional_columns -%}
    {%- if not execute -%}
        select
        {%- for column in all_columns %}
            cast(null as {{ dbt.type_string() }}) as {{ column }},
        {%- endfor %}
            cast(null as bigint) as file_row_number
    {%- else -%}
        {%- set file = find_raw_file(table_name) -%}
        {%- if file is none and required_file -%}
            {{ exceptions.raise_compiler_error(
                "Required input file " ~ table_name ~ ".csv (or " ~ table_name ~ ".parquet) not found in "
                ~ raw_path() ~ ". Put it there, or point raw_path / --data at the folder that has it.") }}
        {%- elif file is none -%}
            select
            {%- for column in all_columns %}
                cast(null as {{ dbt.type_string() }}) as {{ column }},
            {%- endfor %}
                cast(null as bigint) as file_row_number
            where false
        {%- else -%}
            {%- set reader = raw_reader(file) -%}
            {%- set present = {} -%}
            {%- set is_text = {} -%}
            {%- for name, text in raw_columns(reader) -%}
                {%- do present.update({name | lower | trim: name}) -%}
                {%- do is_text.update({name | lower | trim: text}) -%}
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
            {%- if column_types is not none -%}
                {%- for column in all_columns -%}
                    {%- do column_types.update({column: column not in present or is_text[column]}) -%}
                {%- endfor -%}
            {%- endif -%}
            {%- for column in all_columns %}
                {%- if column in present and is_text[column] %}
                replace({{ quote_raw_column(present[column]) }}, chr(0), '') as {{ column }},
                {%- elif column in present %}
                {{ quote_raw_column(present[column]) }} as {{ column }},
                {%- else %}
                cast(null as {{ dbt.type_string() }}) as {{ column }},
                {%- endif %}
            {%- endfor %}
                cast({{ raw_row_number(file) }} as bigint) as file_row_number
            from {{ reader }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
