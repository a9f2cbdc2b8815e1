{#- Calibration / holdout check of the CLV models (SPEC 4.8): each purchase model is fitted on
    the history up to the calibration end date (clv_calibration_end_date, or the first
    1 - clv_holdout_share of the history) and predicts each calibration customer's purchase days
    and spend in the holdout (the rest, up to the as-of date); the two naive baselines of
    int_clv_holdout_predictions predict the same. One row per model x calibration frequency
    bucket (repeat purchase days 0..6, 7+) and a 'total' row; is_chosen marks the purchase
    model that scores customer_value. -#}
with

predictions as (
    select * from {{ ref('int_clv_holdout_predictions') }}
),

models_fitted as (
    select * from {{ ref('int_clv_models_fitted') }}
    where fit_period = 'as_of' and draw = 0 and parameter = 'customers'
),

fit_periods as (
    select * from {{ ref('int_clv_fit_periods_checked') }}
    where fit_period = 'backtest_calibration'
),

customers_with_predictions as (
    select
        predictions.model,
        predictions.model_kind,
        coalesce(models_fitted.is_chosen, false) as is_chosen,
        predictions.customer_id,
        least(predictions.frequency, 7) as bucket_order,
        predictions.actual_orders,
        predictions.predicted_orders,
        predictions.actual_spend,
        predictions.predicted_spend,
        predictions.model_status
    from predictions
    left join models_fitted
        on predictions.model = models_fitted.model
),

buckets as (
    select
        customers_with_predictions.model,
        customers_with_predictions.model_kind,
        customers_with_predictions.is_chosen,
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
        customers_with_predictions.model,
        customers_with_predictions.model_kind,
        customers_with_predictions.is_chosen,
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
        buckets.model,
        buckets.model_kind,
        buckets.is_chosen,
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
        buckets.model,
        buckets.model_kind,
        buckets.is_chosen,
        buckets.bucket,
        buckets.bucket_order
),

final as (
    select
        aggregated.model,
        aggregated.model_kind,
        aggregated.is_chosen,
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
