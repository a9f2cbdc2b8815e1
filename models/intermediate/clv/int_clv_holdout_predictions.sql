{#- One row per backtest customer x model: the purchase days and spend each purchase model
    (scored from its calibration fit, int_customers_scored_clv) and each naive baseline
    predicts for the holdout, beside what the customer actually did there. The baselines:
    - baseline_calibration_rate: the customer repeats their calibration rate, frequency / t_days
      repeat purchase days per day (0 when t_days = 0), over the holdout days, each at their
      calibration spend per purchase day, calibration_spend / (frequency + 1);
    - baseline_last_period: the customer repeats their last holdout-length span of the
      calibration (recent_orders purchase days, recent_spend). -#}
with

customers_for_clv as (
    select * from {{ ref('int_customers_summarised_for_clv') }}
    where fit_period = 'backtest_calibration'
),

scores as (
    select * from {{ ref('int_customers_scored_clv') }}
    where fit_period = 'backtest_calibration'
),

fit_periods as (
    select * from {{ ref('int_clv_fit_periods_checked') }}
    where fit_period = 'backtest_calibration'
),

model_predictions as (
    select
        scores.model,
        'purchase model' as model_kind,
        scores.customer_id,
        scores.predicted_orders,
        scores.predicted_clv as predicted_spend,
        scores.model_status
    from scores
),

calibration_rates as (
    select
        customers_for_clv.customer_id,
        coalesce(
            {{ safe_divide('customers_for_clv.frequency * fit_periods.holdout_days', 'customers_for_clv.t_days') }},
            0
        ) as predicted_orders,
        customers_for_clv.calibration_spend / (customers_for_clv.frequency + 1) as spend_per_purchase_day
    from customers_for_clv
    cross join fit_periods
),

calibration_rate as (
    select
        'baseline_calibration_rate' as model,  -- noqa: RF04
        'naive baseline' as model_kind,
        calibration_rates.customer_id,
        calibration_rates.predicted_orders,
        calibration_rates.predicted_orders * calibration_rates.spend_per_purchase_day as predicted_spend,
        'baseline' as model_status
    from calibration_rates
),

last_period as (
    select
        'baseline_last_period' as model,  -- noqa: RF04
        'naive baseline' as model_kind,
        customers_for_clv.customer_id,
        cast(customers_for_clv.recent_orders as double) as predicted_orders,
        customers_for_clv.recent_spend as predicted_spend,
        'baseline' as model_status
    from customers_for_clv
),

predictions as (
    select * from model_predictions
    union all
    select * from calibration_rate
    union all
    select * from last_period
),

final as (
    select
        predictions.model,
        predictions.model_kind,
        predictions.customer_id,
        customers_for_clv.frequency,
        customers_for_clv.holdout_orders as actual_orders,
        predictions.predicted_orders,
        customers_for_clv.holdout_spend as actual_spend,
        predictions.predicted_spend,
        predictions.model_status
    from predictions
    inner join customers_for_clv
        on predictions.customer_id = customers_for_clv.customer_id
)

select * from final
