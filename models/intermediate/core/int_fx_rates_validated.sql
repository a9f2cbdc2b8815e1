{{ config(materialized='table') }}
{#- Conversion rates with a data-quality verdict (dq_reason null = usable). A rate must be a
    finite number above zero; of rows that repeat a currency and date, the first usable one in
    file order is kept and the others are 'duplicate rate'. -#}
with

fx_rates as (
    select * from {{ ref('stg_shop__fx_rates') }}
),

judged as (
    select
        fx_rates.*,
        case
            when fx_rates.currency is null then 'missing key'
            when fx_rates.rate_date is null then 'unparseable date'
            when fx_rates.rate_to_reporting is null then 'unparseable number'
            when {{ is_non_finite('fx_rates.rate_to_reporting') }} then 'non-finite number'
            when fx_rates.rate_to_reporting <= 0 then 'invalid rate'
        end as row_reason
    from fx_rates
),

ranked as (
    select
        judged.*,
        row_number() over (
            partition by judged.currency, judged.rate_date, judged.row_reason is null
            order by judged.file_row_number
        ) as usable_occurrence
    from judged
),

final as (
    select
        ranked.currency,
        ranked.rate_date,
        ranked.rate_to_reporting,
        ranked.file_row_number,
        coalesce(
            ranked.row_reason,
            case when ranked.usable_occurrence > 1 then 'duplicate rate' end
        ) as dq_reason,
        ranked.rate_to_reporting_text as detail
    from ranked
)

select * from final
