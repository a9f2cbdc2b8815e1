{#- How int_products_co_purchased counts co-purchases (var co_purchase_engine): 'python' = the
    sparse matrix product of int_co_purchases_counted (DuckDB only, the default there), 'sql' =
    the portable self-join (the default on every other engine). Anything else stops the build. -#}
{% macro co_purchase_engine() -%}
    {%- set setting = var('co_purchase_engine', none) -%}
    {%- if setting is none or (setting | string | trim) == '' -%}
        {{ return('python' if target.type == 'duckdb' else 'sql') }}
    {%- endif -%}
    {%- set engine = setting | string | trim | lower -%}
    {%- if engine not in ['python', 'sql'] -%}
        {{ exceptions.raise_compiler_error(
            "co_purchase_engine is '" ~ setting ~ "': use python (DuckDB only) or sql, or leave it null.") }}
    {%- endif -%}
    {%- if engine == 'python' and target.type != 'duckdb' -%}
        {{ exceptions.raise_compiler_error(
            "co_purchase_engine is python, which runs on DuckDB only: use sql on " ~ target.type ~ ".") }}
    {%- endif -%}
    {{ return(engine) }}
{%- endmacro %}
