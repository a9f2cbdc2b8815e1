{{ config(materialized='table') }}
{#- Customers with a data-quality verdict. A repeated customer_id keeps its first row in file
    order (dq_reason 'duplicate customer' on the others). A bad optional field never removes the
    customer (SPEC section 5): the field is null and field_issue names it for
    data_quality_issues. -#}
with

customers as (
    select * from {{ ref('stg_shop__customers') }}
),

ranked as (
    select
        customers.*,
        row_number() over (
            partition by customers.customer_id
            order by customers.file_row_number
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
        ranked.file_row_number,
        case
            when ranked.customer_id is null then 'missing key'
            when ranked.id_occurrence > 1 then 'duplicate customer'
        end as dq_reason,
        case
            when ranked.is_created_at_unparseable then 'invalid created_at'
            when ranked.is_email_opt_in_unparseable then 'invalid email_opt_in'
        end as field_issue,
        case
            when ranked.is_created_at_unparseable then 'created_at: ' || ranked.created_at_text
            when ranked.is_email_opt_in_unparseable then 'email_opt_in: ' || ranked.email_opt_in_text
            else ranked.customer_name
        end as detail
    from ranked
)

select * from final
