{{ config(materialized='table') }}
{#- One row: the as-of date the analysis is computed at (var as_of_date, or else the latest
    usable order date, which is never in the future) and the first usable order date. -#}
with

order_lines as (
    select * from {{ ref('int_order_lines_validated') }}
    where dq_reason is null
),

bounds as (
    select
        min(order_lines.ordered_date) as first_order_date,
        max(order_lines.ordered_date) as last_order_date
    from order_lines
),

final as (
    select
        {% if var('as_of_date', none) -%}
            cast({{ sql_string(var('as_of_date')) }} as date) as as_of_date,
        {%- else -%}
            coalesce(bounds.last_order_date, current_date) as as_of_date,
        {%- endif %}
        bounds.first_order_date,
        bounds.last_order_date
    from bounds
)

select * from final
