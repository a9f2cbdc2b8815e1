{#- One row per CLV fit period ('as_of', 'backtest_calibration') with the data-set level
    eligibility rules of the CLV models (SPEC 3) and the verdict. A period is eligible when every
    rule holds, or when var clv_force is true; ineligible_reason lists the failing rules. -#}
{%- set min_customers = var('clv_min_customers', 500) -%}
{%- set min_history_days = var('clv_min_history_days', 180) -%}
{%- set max_days_since = var('clv_max_days_since_last_order', 30) -%}
{%- set min_repeat = var('clv_min_repeat_customers', 1) -%}
{%- set force = 'true' if var('clv_force', false) else 'false' %}

with

customers_for_clv as (
    select * from {{ ref('int_customers_summarised_for_clv') }}
),

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

fit_periods as (
    {{ clv_fit_periods('analysis_dates') }}
),

measured as (
    select
        fit_periods.fit_period,
        fit_periods.end_date,
        fit_periods.holdout_end_date,
        count(customers_for_clv.customer_id) as customers,
        count(case when customers_for_clv.frequency >= 2 then 1 end) as repeat_customers,
        min(customers_for_clv.first_purchase_date) as first_purchase_date,
        max(customers_for_clv.last_purchase_date) as last_purchase_date
    from fit_periods
    left join customers_for_clv
        on fit_periods.fit_period = customers_for_clv.fit_period
    group by
        fit_periods.fit_period,
        fit_periods.end_date,
        fit_periods.holdout_end_date
),

measured_days as (
    select
        measured.*,
        cast(
            {{ dbt.datediff('measured.end_date', 'measured.holdout_end_date', 'day') }} -- noqa: LT05
            as bigint
        ) as holdout_days,
        cast(
            coalesce({{ dbt.datediff('measured.first_purchase_date', 'measured.end_date', 'day') }} + 1, 0) -- noqa: LT05
            as bigint
        ) as history_days,
        cast(
            {{ dbt.datediff('measured.last_purchase_date', 'measured.end_date', 'day') }} -- noqa: LT05
            as bigint
        ) as days_since_last_order
    from measured
),

rules as (
    select
        measured_days.*,
        case
            when measured_days.customers < {{ min_customers }}
                then measured_days.customers || ' purchasing customers < clv_min_customers {{ min_customers }}'
        end as customers_rule,
        case
            when measured_days.history_days < {{ min_history_days }}
                then measured_days.history_days || ' days of history < clv_min_history_days {{ min_history_days }}'
        end as history_rule,
        case
            when measured_days.days_since_last_order is null
                then 'no order before the end date'
            when measured_days.days_since_last_order > {{ max_days_since }}
                then concat(
                        'last order ', measured_days.days_since_last_order,
                        ' days before the end date > clv_max_days_since_last_order {{ max_days_since }}'
                    )
        end as recent_order_rule,
        case
            when measured_days.fit_period = 'backtest_calibration'
                and measured_days.end_date >= measured_days.holdout_end_date
                then concat(
                        'calibration end ', cast(measured_days.end_date as {{ dbt.type_string() }}),
                        ' is not before the as-of date (clv_calibration_end_date)'
                    )
        end as calibration_rule,
        case
            when measured_days.repeat_customers < {{ min_repeat }}
                then concat(
                        measured_days.repeat_customers,
                        ' customers with 3+ purchase days < clv_min_repeat_customers {{ min_repeat }}'
                    )
        end as repeat_rule
    from measured_days
),

checked as (
    select
        rules.*,
        nullif(
            concat_ws(
                '; ', rules.calibration_rule, rules.customers_rule, rules.history_rule,
                rules.recent_order_rule, rules.repeat_rule
            ),
            ''
        ) as failed_rules
    from rules
),

final as (
    select
        checked.fit_period,
        checked.end_date,
        checked.holdout_end_date,
        checked.holdout_days,
        checked.customers,
        checked.repeat_customers,
        checked.history_days,
        checked.days_since_last_order,
        checked.failed_rules,
        {{ force }} as is_forced,
        checked.customers > 0
        and checked.calibration_rule is null
        and (checked.failed_rules is null or {{ force }}) as is_eligible,
        case
            when checked.calibration_rule is not null then 'ineligible: ' || checked.calibration_rule
            when checked.customers = 0 then 'ineligible: no purchasing customer'
            when checked.failed_rules is not null and not {{ force }}
                then 'ineligible: ' || checked.failed_rules
        end as ineligible_reason
    from checked
)

select * from final
