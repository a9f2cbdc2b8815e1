{{ config(materialized='table') }}
{#- The conversion rate of each currency on every day from its first rate date on: the latest
    usable rate on or before that day (int_fx_rates_validated keeps one rate per currency and
    date), up to the later of today and the last rate date. int_order_lines_validated looks a
    line's rate up here by currency and date, one hash join instead of an as-of join of every
    line (docs/architecture.md). -#}
with

fx_rates as (
    select * from {{ ref('int_fx_rates_validated') }}
    where dq_reason is null
),

rates_by_date as (
    select
        fx_rates.currency,
        fx_rates.rate_date,
        fx_rates.rate_to_reporting
    from fx_rates
),

last_dates as (
    select max(rates_by_date.rate_date) as last_rate_date
    from rates_by_date
),

validity as (
    select
        rates_by_date.currency,
        rates_by_date.rate_date,
        rates_by_date.rate_to_reporting,
        coalesce(
            {{ add_days(
                'lead(rates_by_date.rate_date) over (partition by rates_by_date.currency order by rates_by_date.rate_date)',
                -1
            ) }},
            greatest(last_dates.last_rate_date, {{ build_date() }})
        ) as valid_to_date
    from rates_by_date
    cross join last_dates
),

final as (
    select
        validity.currency,
        {{ unnest_days('validity.rate_date', 'validity.valid_to_date') }} as rate_date,
        validity.rate_to_reporting
    from validity
)

select * from final
