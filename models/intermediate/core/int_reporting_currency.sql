{#- The reporting currency: the var, or else the most common currency of the order lines. -#}
with

order_lines as (
    select * from {{ ref('stg_shop__order_lines') }}
),

{% if var('reporting_currency', none) %}
final as (
    select upper({{ sql_string(var('reporting_currency')) }}) as reporting_currency
)
{% else %}
    counted as (
        select
            order_lines.currency,
            count(*) as line_count
        from order_lines
        where order_lines.currency is not null
        group by order_lines.currency
    ),

    final as (
        select coalesce(max(counted.currency), 'USD') as reporting_currency
        from counted
        where counted.line_count = (select max(c.line_count) from counted as c)
    )
{% endif %}

select * from final
