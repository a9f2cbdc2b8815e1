{{ config(materialized='table') }}
{#- Monthly targets with a data-quality verdict (dq_reason null = usable). A target needs a
    known customer, a month and a finite amount; of rows that repeat a customer and month, the
    first usable one in file order is kept and the others are 'duplicate target'. -#}
with

sales_targets as (
    select * from {{ ref('stg_shop__sales_targets') }}
),

customers as (
    select * from {{ ref('int_customers_validated') }}
    where dq_reason is null
),

judged as (
    select
        sales_targets.*,
        case
            when sales_targets.customer_id is null then 'missing key'
            when sales_targets.target_month is null then 'unparseable date'
            when sales_targets.target_amount is null then 'unparseable number'
            when {{ is_non_finite('sales_targets.target_amount') }} then 'non-finite number'
            when customers.customer_id is null then 'unknown customer'
        end as row_reason
    from sales_targets
    left join customers
        on sales_targets.customer_id = customers.customer_id
),

ranked as (
    select
        judged.*,
        row_number() over (
            partition by judged.customer_id, judged.target_month, judged.row_reason is null
            order by judged.file_row_number
        ) as usable_occurrence
    from judged
),

final as (
    select
        ranked.customer_id,
        ranked.target_month,
        ranked.target_amount,
        ranked.file_row_number,
        coalesce(
            ranked.row_reason,
            case when ranked.usable_occurrence > 1 then 'duplicate target' end
        ) as dq_reason,
        ranked.month_text || ' / ' || ranked.target_amount_text as detail
    from ranked
)

select * from final
