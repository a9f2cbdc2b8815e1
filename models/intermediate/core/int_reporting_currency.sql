{#- The reporting currency: the var, or else the most common currency among the order lines
    that are otherwise usable (set-aside lines do not vote; a blank currency does not vote, it
    means the reporting currency). Ties go to the alphabetically last code; no vote at all
    gives USD. -#}
with

order_lines as (
    select * from {{ ref('stg_shop__order_lines') }}
),

customers as (
    select * from {{ ref('int_customers_validated') }}
    where dq_reason is null
),

products as (
    select * from {{ ref('int_products_validated') }}
    where dq_reason is null
),

{% if var('reporting_currency', none) %}
final as (
    select upper({{ sql_string(var('reporting_currency')) }}) as reporting_currency
)
{% else %}
    votes as (
        select order_lines.currency
        from order_lines
        left join customers
            on order_lines.customer_id = customers.customer_id
        left join products
            on order_lines.product_id = products.product_id
        where
            order_lines.currency is not null
            and {{ order_line_row_reason('order_lines', 'customers', 'products') }} is null
    ),

    counted as (
        select
            votes.currency,
            count(*) as line_count
        from votes
        group by votes.currency
    ),

    final as (
        select coalesce(max(counted.currency), 'USD') as reporting_currency
        from counted
        where counted.line_count = (select max(c.line_count) from counted as c)
    )
{% endif %}

select * from final
