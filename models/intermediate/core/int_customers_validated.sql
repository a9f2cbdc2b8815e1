{{ config(materialized='table') }}
{#- Customers with a data-quality verdict: the first row of a duplicated id is kept. -#}
with

customers as (
    select * from {{ ref('stg_shop__customers') }}
),

ranked as (
    select
        customers.*,
        row_number() over (
            partition by customers.customer_id
            order by
                customers.customer_name nulls last,
                customers.segment nulls last,
                customers.account_manager nulls last
        ) as id_occurrence
    from customers
),

final as (
    select
        ranked.customer_id,
        ranked.customer_name,
        ranked.segment,
        ranked.account_manager,
        ranked.created_date,
        ranked.is_email_opt_in,
        case
            when ranked.customer_id is null then 'missing key'
            when ranked.id_occurrence > 1 then 'duplicate customer'
        end as dq_reason
    from ranked
)

select * from final
