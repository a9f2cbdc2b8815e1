{#- Building a big table in customer buckets (docs/architecture.md, "Bucketed builds").

    A mart whose grain is customer x something has about as many groups as input rows, so
    DuckDB's hash grouping holds nearly all of it at once and spills tens of GB at 100M lines.
    Grouping one slice of the customers at a time bounds that: the `bucketed_table`
    materialization runs the model's SQL once per bucket, each run inserting its customers' rows
    into the new table, and swaps it in like the table materialization.

    In the model: `where {{ in_customer_bucket('alias.customer_id') }}` on every scan of the big
    input, and config(materialized='bucketed_table', bucket_sizing_model='<a model it refs>').
    The number of buckets is rows of the sizing model / rows per bucket (var build_bucket_rows, by
    default from DuckDB's memory_limit), rounded up (1 when the data is small). Rendered on its
    own (unit tests, `dbt compile`, other materializations) the filter keeps every customer. Only rows within one customer may be combined, so anything
    across customers (segment totals) comes from another model. -#}

{#- A customer's slot, 0..1023, from a hash of its key: buckets are ranges of slots. -#}
{% macro customer_bucket_slot(column) -%}
    {{ return(adapter.dispatch('customer_bucket_slot', 'spendlens')(column)) }}
{%- endmacro %}

{% macro default__customer_bucket_slot(column) -%}
    (hash({{ column }}) % 1024)
{%- endmacro %}

{% macro spark__customer_bucket_slot(column) -%}
    pmod(hash({{ column }}), 1024)
{%- endmacro %}

{#- The marker the materialization replaces with one bucket's slot range. -#}
{% macro customer_bucket_marker() -%}
    {{- return('between 0 and 1023 /* spendlens: customer bucket */') -}}
{%- endmacro %}

{#- The filter a bucketed model writes on its customer column: the marker the materialization
    replaces with each bucket's range of hash slots. -#}
{% macro in_customer_bucket(column) -%}
    {{ customer_bucket_slot(column) }} {{ customer_bucket_marker() }}
{%- endmacro %}

{#- Buckets for this run: rows of the sizing model / rows per bucket, rounded up, 1..64. Rows per
    bucket: var build_bucket_rows, or by default DuckDB's memory_limit / 400 bytes (about 20M rows
    at 8GB). At 100M lines (220M aggregate rows, memory_limit 8GB) a spend-profile bucket took
    11.5 s of fixed cost (the scans of the aggregate) plus its grouping: 22 s for 16M aggregate
    rows, 34 s for 22M, 66 s for 31M (it spills past about 25M): 400 bytes a row stays below
    that edge with the fewest scans (docs/benchmarks.md). Returns [buckets, rows per bucket]. -#}
{% macro customer_bucket_plan() -%}
    {%- set sizing_model = config.get('bucket_sizing_model') -%}
    {%- if not sizing_model -%}
        {{ exceptions.raise_compiler_error(
            "Model " ~ model.name ~ " is materialized as bucketed_table but sets no "
            ~ "bucket_sizing_model: name a model it refs whose rows measure its size.") }}
    {%- endif -%}
    {%- set setting = var('build_bucket_rows', none) -%}
    {%- if setting is none -%}
        {%- set memory = run_query(
            "select parse_formatted_bytes(current_setting('memory_limit'))") -%}
        {%- set rows_per_bucket = [(memory.columns[0].values()[0] | int) // 400, 100000] | max -%}
    {%- else -%}
        {%- set rows_per_bucket = setting | int -%}
        {%- if rows_per_bucket < 1 -%}
            {{ exceptions.raise_compiler_error(
                "build_bucket_rows is " ~ setting ~ ": use a whole number of rows per bucket "
                ~ "above 0, or null for DuckDB's memory_limit / 400 bytes.") }}
        {%- endif -%}
    {%- endif -%}
    {%- set counted = run_query('select count(*) from ' ~ ref(sizing_model)) -%}
    {%- set rows = counted.columns[0].values()[0] | int -%}
    {%- set buckets = ((rows + rows_per_bucket - 1) // rows_per_bucket) | int -%}
    {{- return([[[buckets, 1] | max, 64] | min, rows_per_bucket]) -}}
{%- endmacro %}

{#- The model's SQL for bucket `index` of `buckets`: its share of the 1,024 slots. -#}
{% macro customer_bucket_sql(sql, index, buckets) -%}
    {%- set first_slot = (1024 * index) // buckets -%}
    {%- set last_slot = (1024 * (index + 1)) // buckets - 1 -%}
    {{- return(sql.replace(
        customer_bucket_marker(),
        'between ' ~ first_slot ~ ' and ' ~ last_slot ~ ' /* spendlens: customer bucket '
        ~ (index + 1) ~ ' of ' ~ buckets ~ ' */'
    )) -}}
{%- endmacro %}

{#- A table built in customer buckets: the model's SQL runs once per bucket (see the header of
    this file), each run appending its customers' rows. -#}
{% materialization bucketed_table, adapter='duckdb' %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set preexisting_intermediate_relation = load_cached_relation(intermediate_relation) -%}
    {%- set backup_relation_type = 'table' if existing_relation is none else existing_relation.type -%}
    {%- set backup_relation = make_backup_relation(target_relation, backup_relation_type) -%}
    {%- set preexisting_backup_relation = load_cached_relation(backup_relation) -%}

    {%- if customer_bucket_marker() not in compiled_code -%}
        {{ exceptions.raise_compiler_error(
            "Model " ~ model.name ~ " is materialized as bucketed_table but never filters on "
            ~ "in_customer_bucket(...): it would insert every row once per bucket.") }}
    {%- endif -%}

    {{ drop_relation_if_exists(preexisting_intermediate_relation) }}
    {{ drop_relation_if_exists(preexisting_backup_relation) }}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- set plan = customer_bucket_plan() -%}
    {%- set buckets = plan[0] -%}
    {%- do log(model.name ~ ": " ~ buckets ~ " customer bucket(s) of up to " ~ plan[1] ~ " rows of "
        ~ config.get('bucket_sizing_model'), info=false) -%}

    {#- The first bucket creates the table (and checks the contract); the others append. -#}
    {% call statement('main') -%}
        {{ create_table_as(False, intermediate_relation, customer_bucket_sql(compiled_code, 0, buckets)) }}
    {%- endcall %}
    {%- if buckets > 1 -%}
        {%- set column_list = adapter.get_columns_in_relation(intermediate_relation)
            | map(attribute='quoted') | join(', ') -%}
        {%- for index in range(1, buckets) %}
            {% call statement('bucket_' ~ (index + 1)) -%}
                insert into {{ intermediate_relation }} ({{ column_list }})
                select {{ column_list }} from (
                    {{ customer_bucket_sql(compiled_code, index, buckets) }}
                ) as bucket_rows
            {%- endcall %}
        {%- endfor %}
    {%- endif -%}

    {% if existing_relation is not none %}
        {{ adapter.rename_relation(existing_relation, backup_relation) }}
    {% endif %}
    {{ adapter.rename_relation(intermediate_relation, target_relation) }}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do persist_docs(target_relation, model) %}
    {{ adapter.commit() }}
    {{ drop_relation_if_exists(backup_relation) }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
