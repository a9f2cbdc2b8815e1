{{ config(materialized='table') }}
{#- The one scan of the raw order lines: each line typed, converted to the reporting currency,
    costed, and given a data-quality verdict (dq_reason null = usable). Every later model reads
    this table or the aggregates built from it, never the raw files. -#}
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

{# A key (order_id, line_number) seen more than once: its first occurrence (in the order of
   every column) is kept, the others are 'duplicate line'. Only the few repeated keys are ranked,
   not every line. #}
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

repeated_lines_ranked as (
    select
        order_lines.*,
        row_number() over (
            partition by order_lines.order_id, order_lines.line_number
            order by
                order_lines.customer_id nulls last,
                order_lines.product_id nulls last,
                order_lines.ordered_date nulls last,
                order_lines.quantity nulls last,
                order_lines.unit_price nulls last,
                order_lines.line_amount nulls last,
                order_lines.unit_cost nulls last,
                order_lines.currency nulls last
        ) as key_occurrence
    from order_lines
    inner join repeated_keys
        on
            order_lines.order_id = repeated_keys.order_id
            and order_lines.line_number = repeated_keys.line_number
),

ranked as (
    select
        order_lines.*,
        cast(1 as bigint) as key_occurrence
    from order_lines
    left join repeated_keys
        on
            order_lines.order_id = repeated_keys.order_id
            and order_lines.line_number = repeated_keys.line_number
    where repeated_keys.order_id is null
    union all
    select * from repeated_lines_ranked
),

with_rates as (
    select
        ranked.*,
        coalesce(ranked.currency, reporting_currency.reporting_currency) as line_currency,
        case
            when coalesce(ranked.currency, reporting_currency.reporting_currency)
                = reporting_currency.reporting_currency
                then 1.0
            else fx_rates_daily.rate_to_reporting
        end as rate_to_reporting
    from ranked
    cross join reporting_currency
    left join fx_rates_daily
        on
            ranked.currency = fx_rates_daily.currency
            and ranked.ordered_date = fx_rates_daily.rate_date
),

judged as (
    select
        with_rates.*,
        products.category,
        coalesce(with_rates.unit_cost, products.unit_cost) as effective_unit_cost,
        case
            when
                with_rates.order_id is null
                or with_rates.line_number is null
                or with_rates.customer_id is null
                or with_rates.product_id is null
                then 'missing key'
            when with_rates.has_unparseable_number then 'unparseable number'
            when with_rates.has_missing_number then 'missing number'
            when with_rates.is_ordered_at_unparseable then 'unparseable date'
            when with_rates.ordered_date is null then 'missing date'
            when with_rates.ordered_date > current_date then 'date in the future'
            when with_rates.key_occurrence > 1 then 'duplicate line'
            when customers.customer_id is null then 'unknown customer'
            when products.product_id is null then 'unknown product'
            when with_rates.unit_price < 0 then 'negative price'
            when with_rates.unit_cost < 0 then 'negative cost'
            when with_rates.rate_to_reporting is null then 'currency without a rate'
        end as dq_reason
    from with_rates
    left join customers
        on with_rates.customer_id = customers.customer_id
    left join products
        on with_rates.product_id = products.product_id
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
        judged.quantity * judged.effective_unit_cost * judged.rate_to_reporting as cost_amount,
        judged.ordered_at_text,
        judged.dq_reason
    from judged
)

select * from final
