{#- One row per CLV fit period ('as_of', 'backtest_calibration') with the data-set level
    eligibility rules of the CLV models (SPEC 3) and the verdict. A period is eligible when every
    rule holds, or when var clv_force is true; ineligible_reason lists the failing rules. -#}
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
        {{ dbt.datediff('fit_periods.end_date', 'fit_periods.holdout_end_date', 'day') }} as holdout_days,
        count(customers_for_clv.customer_id) as customers,
        count(case when customers_for_clv.frequency >= 2 then 1 end) as repeat_customers,
        coalesce(
            {{ dbt.datediff('min(customers_for_clv.first_purchase_date)', 'fit_periods.end_date', 'day') }} + 1, 0
        ) as history_days,
        {{ dbt.datediff('max(customers_for_clv.last_purchase_date)', 'fit_periods.end_date', 'day') }}
            as days_since_last_order
    from fit_periods
    left join customers_for_clv
        on fit_periods.fit_period = customers_for_clv.fit_period
    group by
        fit_periods.fit_period,
        fit_periods.end_date,
        fit_periods.holdout_end_date
),

rules as (
    select
        measured.*,
        nullif(concat_ws(
            '; ',
            case when measured.customers < {{ var('clv_min_customers', 500) }}
                    then measured.customers || ' purchasing customers < clv_min_customers '
                    || {{ var('clv_min_customers', 500) }} end,
            case when measured.history_days < {{ var('clv_min_history_days', 180) }}
                    then measured.history_days || ' days of history < clv_min_history_days '
                    || {{ var('clv_min_history_days', 180) }} end,
            case when coalesce(measured.days_since_last_order, 0) > {{ var('clv_max_days_since_last_order', 30) }}
                    or measured.days_since_last_order is null
                    then 'last order ' || coalesce(measured.days_since_last_order || ' days', 'never')
                    || ' before the end date > clv_max_days_since_last_order '
                    || {{ var('clv_max_days_since_last_order', 30) }} end,
            case when measured.repeat_customers < {{ var('clv_min_repeat_customers', 1) }}
                    then measured.repeat_customers || ' customers with 3+ purchase days < clv_min_repeat_customers '
                    || {{ var('clv_min_repeat_customers', 1) }} end
        ), '') as failed_rules
    from measured
),

final as (
    select
        rules.fit_period,
        rules.end_date,
        rules.holdout_end_date,
        rules.holdout_days,
        rules.customers,
        rules.repeat_customers,
        rules.history_days,
        rules.days_since_last_order,
        rules.failed_rules,
        {{ 'true' if var('clv_force', false) else 'false' }} as is_forced,
        rules.customers > 0
        and (rules.failed_rules is null or {{ 'true' if var('clv_force', false) else 'false' }}) as is_eligible,
        case
            when rules.customers = 0 then 'ineligible: no purchasing customer'
            when rules.failed_rules is not null and not {{ 'true' if var('clv_force', false) else 'false' }}
                then 'ineligible: ' || rules.failed_rules
        end as ineligible_reason
    from rules
)

select * from final
