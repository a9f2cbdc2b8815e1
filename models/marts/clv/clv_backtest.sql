{#- Calibration / holdout check of the CLV models (SPEC 4.8): the models are fitted on the
    history up to the calibration end date (the first 1 - clv_holdout_share of the history) and
    predict each calibration customer's purchase days and spend in the holdout (the rest, up to
    the as-of date). One row per calibration frequency bucket (repeat purchase days 0..6, 7+)
    and a 'total' row. -#}
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

customers_with_predictions as (
    select
        customers_for_clv.customer_id,
        least(customers_for_clv.frequency, 7) as bucket_order,
        customers_for_clv.holdout_orders as actual_orders,
        scores.predicted_orders,
        customers_for_clv.holdout_spend as actual_spend,
        scores.predicted_clv as predicted_spend,
        scores.model_status
    from customers_for_clv
    left join scores
        on customers_for_clv.customer_id = scores.customer_id
),

buckets as (
    select
        customers_with_predictions.bucket_order,
        case
            when customers_with_predictions.bucket_order >= 7 then '7+'
            else cast(customers_with_predictions.bucket_order as {{ dbt.type_string() }})
        end as bucket,
        customers_with_predictions.customer_id,
        customers_with_predictions.actual_orders,
        customers_with_predictions.predicted_orders,
        customers_with_predictions.actual_spend,
        customers_with_predictions.predicted_spend,
        customers_with_predictions.model_status
    from customers_with_predictions
    union all
    select
        8 as bucket_order,
        'total' as bucket,
        customers_with_predictions.customer_id,
        customers_with_predictions.actual_orders,
        customers_with_predictions.predicted_orders,
        customers_with_predictions.actual_spend,
        customers_with_predictions.predicted_spend,
        customers_with_predictions.model_status
    from customers_with_predictions
),

aggregated as (
    select
        buckets.bucket,
        buckets.bucket_order,
        count(*) as customers,
        cast(sum(buckets.actual_orders) as bigint) as actual_orders,
        sum(buckets.predicted_orders) as predicted_orders,
        avg(abs(buckets.predicted_orders - buckets.actual_orders)) as mean_absolute_error_per_customer,
        sum(buckets.actual_spend) as actual_spend,
        sum(buckets.predicted_spend) as predicted_spend,
        min(buckets.model_status) as model_status
    from buckets
    group by
        buckets.bucket,
        buckets.bucket_order
),

final as (
    select
        aggregated.bucket,
        aggregated.bucket_order,
        aggregated.customers,
        aggregated.actual_orders,
        aggregated.predicted_orders,
        aggregated.predicted_orders - aggregated.actual_orders as error,
        abs(aggregated.predicted_orders - aggregated.actual_orders) as absolute_error,
        {{ safe_divide('100.0 * (aggregated.predicted_orders - aggregated.actual_orders)',
            'aggregated.actual_orders') }} as error_pct,
        {{ safe_divide('aggregated.actual_orders', 'aggregated.customers') }} as actual_orders_per_customer,
        {{ safe_divide('aggregated.predicted_orders', 'aggregated.customers') }}
            as predicted_orders_per_customer,
        aggregated.mean_absolute_error_per_customer,
        aggregated.actual_spend,
        aggregated.predicted_spend,
        aggregated.predicted_spend - aggregated.actual_spend as spend_error,
        {{ safe_divide('100.0 * (aggregated.predicted_spend - aggregated.actual_spend)',
            'aggregated.actual_spend') }} as spend_error_pct,
        fit_periods.end_date as calibration_end_date,
        fit_periods.holdout_end_date,
        fit_periods.holdout_days,
        aggregated.model_status
    from aggregated
    cross join fit_periods
)

select * from final
