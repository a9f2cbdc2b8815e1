{#- Incremental builds by partition fingerprints (docs/architecture.md, "Incremental builds").

    An incremental model is split into partitions (a day, a month-end, an evaluation date). For
    each partition the model computes, before any heavy work, a fingerprint of every input the
    partition's rows depend on (an xor of 63-bit row hashes), and stores it on each row. On an
    incremental run, a partition is recomputed when its fingerprint differs from the stored one
    or is new; partitions that no longer exist (lines removed, as-of moved back) are deleted by a
    pre-hook. Late lines for an earlier day, a changed segment or a changed setting therefore
    recompute exactly the partitions they reach, and the result equals a --full-refresh build
    (tests/python/test_incremental.py). -#}

{#- A 63-bit hash of the given expressions, as bigint on every engine. -#}
{% macro row_fingerprint(expressions) -%}
    {{ return(adapter.dispatch('row_fingerprint', 'spendlens')(expressions)) }}
{%- endmacro %}

{% macro default__row_fingerprint(expressions) -%}
    cast(hash({{ expressions | join(', ') }}) >> 1 as bigint)
{%- endmacro %}

{% macro spark__row_fingerprint(expressions) -%}
    xxhash64({{ expressions | join(', ') }})
{%- endmacro %}

{#- xor of two fingerprints (null counts as 0). -#}
{% macro fingerprint_xor(left, right) -%}
    {{ return(adapter.dispatch('fingerprint_xor', 'spendlens')(left, right)) }}
{%- endmacro %}

{% macro default__fingerprint_xor(left, right) -%}
    xor(coalesce({{ left }}, cast(0 as bigint)), coalesce({{ right }}, cast(0 as bigint)))
{%- endmacro %}

{% macro spark__fingerprint_xor(left, right) -%}
    (coalesce({{ left }}, cast(0 as bigint)) ^ coalesce({{ right }}, cast(0 as bigint)))
{%- endmacro %}

{#- The fingerprint of a set of rows: order-free, so equal sets give equal fingerprints. -#}
{% macro fingerprint_agg(expression) -%}
    coalesce(bit_xor({{ expression }}), cast(0 as bigint))
{%- endmacro %}

{#- A fingerprint of the settings (vars) named, rendered at compile time. -#}
{% macro settings_fingerprint(var_names) -%}
    {%- set values = [] -%}
    {%- for name in var_names -%}
        {%- do values.append(name ~ '=' ~ tojson(var(name, none))) -%}
    {%- endfor -%}
    {{ row_fingerprint([sql_string(values | join(';'))]) }}
{%- endmacro %}

{#- Incremental config shared by the partitioned models: delete+insert of whole partitions on
    DuckDB (and any engine with delete); insert_overwrite of partitions on Spark. -#}
{% macro partitioned_incremental_config(partition_column, fingerprint_model) -%}
    {%- if target.type == 'spark' -%}
        {{ return({
            'materialized': 'incremental',
            'incremental_strategy': 'insert_overwrite',
            'partition_by': [partition_column],
            'file_format': 'parquet',
            'on_schema_change': 'fail',
        }) }}
    {%- else -%}
        {{ return({
            'materialized': 'incremental',
            'incremental_strategy': 'delete+insert',
            'unique_key': partition_column,
            'on_schema_change': 'fail',
            'pre_hook': "{{ delete_vanished_partitions('" ~ partition_column ~ "', '" ~ fingerprint_model ~ "') }}",
        }) }}
    {%- endif -%}
{%- endmacro %}

{#- Partitions to (re)compute: all of them on a full build; on an incremental run those whose
    fingerprint is new or changed. `fingerprints` is a CTE name with columns partition_value,
    partition_fingerprint. Renders a select of partition_value. -#}
{% macro stale_partitions(fingerprints, partition_column) -%}
    {%- if is_incremental() and execute -%}
        {%- set stored_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
        {%- if 'partition_fingerprint' not in stored_columns -%}
            {{ exceptions.raise_compiler_error(
                this ~ " was built by an earlier spendlens version without partition fingerprints: "
                ~ "rebuild it once with `spendlens build --full-refresh` (or dbt build --full-refresh).") }}
        {%- endif -%}
    {%- endif %}
    select {{ fingerprints }}.partition_value
    from {{ fingerprints }}
    {%- if is_incremental() %}
        left join (
            select distinct
                stored.{{ partition_column }} as partition_value,
                stored.partition_fingerprint
            from {{ this }} as stored
        ) as stored_partitions
            on
                {{ fingerprints }}.partition_value = stored_partitions.partition_value
                and {{ fingerprints }}.partition_fingerprint = stored_partitions.partition_fingerprint
        where stored_partitions.partition_value is null
    {%- endif %}
{%- endmacro %}

{#- Pre-hook: delete stored partitions that the current inputs no longer have, e.g. days after
    an as-of date moved back. `fingerprint_model` lists every partition that may exist now
    (column partition_value). On Spark (no delete on parquet tables) this is a no-op, so moving
    the as-of date back there needs --full-refresh (docs/portability.md). -#}
{% macro delete_vanished_partitions(partition_column, fingerprint_model) -%}
    {%- if is_incremental() and target.type != 'spark' -%}
        delete from {{ this }}
        where {{ partition_column }} not in (
            select fingerprints.partition_value from {{ ref(fingerprint_model) }} as fingerprints
        )
    {%- endif -%}
{%- endmacro %}

{#- Fingerprint of a whole relation (a seed, say) over the columns named. -#}
{% macro relation_fingerprint(relation, columns) -%}
    (select {{ fingerprint_agg(row_fingerprint(columns)) }} from {{ relation }})
{%- endmacro %}
