{{ config(materialized='table') }}
{#- The one scan of the raw order lines: each line typed, converted to the reporting currency,
    costed, and given a data-quality verdict (dq_reason null = usable; SPEC section 5). Every
    later model reads this table or the aggregates built from it, never the raw files.
    - Money: spend = line_amount (or quantity x unit_price) x the line's rate; cost = quantity x
      (the line's own unit_cost x its rate, or else the product's unit_cost, which is already in
      the reporting currency). A blank currency is the reporting currency.
    - Duplicates: of the copies of an (order_id, line_number) key, the first usable one in file
      order is kept; the other usable copies are 'duplicate line', unusable ones keep their own
      reason. Only the few repeated keys are ranked, not every line.
    - A bad optional unit_cost of the line keeps the line (field_issue names it). -#}
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

fx_rates_daily as (
    select * from {{ ref('int_fx_rates_daily') }}
),

reporting_currency as (
    select * from {{ ref('int_reporting_currency') }}
),

repeated_keys as (
    select
        order_lines.order_id,
        order_lines.line_number
    from order_lines
    group by
        order_lines.order_id,
        order_lines.line_number
    having count(*) > 1
),

judged as {{ inline_cte() }} (
    select
        order_lines.*,
        products.category,
        products.unit_cost as product_unit_cost,
        coalesce(order_lines.currency, reporting_currency.reporting_currency) as line_currency,
        case
            when coalesce(order_lines.currency, reporting_currency.reporting_currency)
                = reporting_currency.reporting_currency
                then 1.0
            else fx_rates_daily.rate_to_reporting
        end as rate_to_reporting,
        {{ order_line_cost_issue('order_lines') }} as cost_issue,
        repeated_keys.order_id is not null as is_repeated_key,
        coalesce(
            {{ order_line_row_reason('order_lines', 'customers', 'products') }},
            case
                when
                    coalesce(order_lines.currency, reporting_currency.reporting_currency)
                    <> reporting_currency.reporting_currency
                    and fx_rates_daily.rate_to_reporting is null
                    then 'currency without a rate'
            end
        ) as row_reason
    from order_lines
    cross join reporting_currency
    left join fx_rates_daily
        on
            order_lines.currency = fx_rates_daily.currency
            and order_lines.ordered_date = fx_rates_daily.rate_date
    left join customers
        on order_lines.customer_id = customers.customer_id
    left join products
        on order_lines.product_id = products.product_id
    left join repeated_keys
        on
            order_lines.order_id = repeated_keys.order_id
            and order_lines.line_number = repeated_keys.line_number
),

{# The usable copies of each repeated key in file order: the first is kept. #}
usable_repeats_ranked as (
    select
        judged.order_id,
        judged.line_number,
        judged.file_row_number,
        row_number() over (
            partition by judged.order_id, judged.line_number
            order by judged.file_row_number
        ) as usable_copy
    from judged
    where judged.is_repeated_key and judged.row_reason is null
),

final as (
    select
        judged.order_id,
        judged.line_number,
        judged.customer_id,
        judged.product_id,
        judged.category,
        judged.ordered_date,
        judged.quantity,
        judged.unit_price,
        judged.line_currency as currency,
        judged.rate_to_reporting,
        coalesce(judged.line_amount, judged.quantity * judged.unit_price)
        * judged.rate_to_reporting as spend_amount,
        judged.quantity * coalesce(
            case when judged.cost_issue is null then judged.unit_cost * judged.rate_to_reporting end,
            judged.product_unit_cost
        ) as cost_amount,
        judged.ordered_at_text,
        judged.file_row_number,
        coalesce(
            judged.row_reason,
            case when usable_repeats_ranked.usable_copy > 1 then 'duplicate line' end
        ) as dq_reason,
        judged.cost_issue as field_issue,
        case
            when judged.cost_issue is not null then 'unit_cost: ' || judged.unit_cost_text
            else judged.ordered_at_text
        end as detail
    from judged
    left join usable_repeats_ranked
        on
            judged.order_id = usable_repeats_ranked.order_id
            and judged.line_number = usable_repeats_ranked.line_number
            and judged.file_row_number = usable_repeats_ranked.file_row_number
)

select * from final
