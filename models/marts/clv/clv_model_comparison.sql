{#- How accurate each purchase model and each naive baseline was on the backtest (SPEC 4.8):
    one row per model x metric, computed over the backtest customers of
    int_clv_holdout_predictions (predicted vs actual holdout purchase days and spend), plus the
    calibration fit's log-likelihood and BIC (purchase models only). Ranks, top decile and Gini
    order customers by the prediction (spend rounded to 1e-6, so that sums added in another
    order, or on another engine, rank alike), ties by customer_id. Formulas in docs/clv.md. -#}
with

predictions as (
    select * from {{ ref('int_clv_holdout_predictions') }}
),

models_fitted as (
    select * from {{ ref('int_clv_models_fitted') }}
    where draw = 0
),

fit_periods as (
    select * from {{ ref('int_clv_fit_periods_checked') }}
    where fit_period = 'backtest_calibration'
),

models as (
    select distinct
        predictions.model,
        predictions.model_kind,
        predictions.model_status
    from predictions
),

chosen as (
    select distinct
        models_fitted.model,
        models_fitted.is_chosen
    from models_fitted
    where models_fitted.fit_period = 'as_of'
),

calibration_fits as (
    select
        models_fitted.model,
        max(case when models_fitted.parameter = 'log_likelihood' then models_fitted.value end) as log_likelihood,
        max(case when models_fitted.parameter = 'customers' then models_fitted.value end) as customers,
        -- free parameters: 4, or 2 for the BG/NBD at its no-dropout limit (the NBD's r, alpha)
        count(case when models_fitted.parameter in ('r', 'alpha', 'a', 'b', 's', 'beta')
                and models_fitted.value is not null and models_fitted.value > 0 then 1
        end) as parameter_count
    from models_fitted
    where
        models_fitted.fit_period = 'backtest_calibration'
        and models_fitted.status like 'fitted%'
    group by models_fitted.model
),

scored as (
    select * from predictions
    where predicted_orders is not null
),

ranked as (
    select
        scored.*,
        count(*) over (partition by scored.model) as customers,
        sum(scored.actual_spend) over (partition by scored.model) as total_actual_spend,
        -- average ranks (ties share the mean of their positions) for Spearman
        rank() over (partition by scored.model order by scored.predicted_orders)
        + (count(*) over (partition by scored.model, scored.predicted_orders) - 1) / 2.0
            as predicted_rank,
        rank() over (partition by scored.model order by scored.actual_orders)
        + (count(*) over (partition by scored.model, scored.actual_orders) - 1) / 2.0
            as actual_rank,
        row_number() over (
            partition by scored.model
            order by round(scored.predicted_spend, 6) desc, scored.customer_id asc
        ) as predicted_spend_position,
        sum(scored.actual_spend) over (
            partition by scored.model
            order by round(scored.predicted_spend, 6) desc, scored.customer_id asc
            rows between unbounded preceding and current row
        ) as cumulative_spend_by_prediction,
        sum(scored.actual_spend) over (
            partition by scored.model
            order by round(scored.actual_spend, 6) desc, scored.customer_id asc
            rows between unbounded preceding and current row
        ) as cumulative_spend_by_actual,
        row_number() over (
            partition by scored.model
            order by round(scored.actual_spend, 6) desc, scored.customer_id asc
        ) as actual_spend_position
    from scored
),

gini_terms as (
    select
        ranked.*,
        {{ safe_divide('ranked.cumulative_spend_by_prediction', 'ranked.total_actual_spend') }}
        - ranked.predicted_spend_position / cast(ranked.customers as double) as gini_term_predicted,
        {{ safe_divide('ranked.cumulative_spend_by_actual', 'ranked.total_actual_spend') }}
        - ranked.actual_spend_position / cast(ranked.customers as double) as gini_term_actual
    from ranked
),

aggregated as (
    select
        gini_terms.model,
        cast(sum(gini_terms.actual_orders) as double) as holdout_actual_orders,
        sum(gini_terms.predicted_orders) as holdout_predicted_orders,
        sum(gini_terms.actual_spend) as holdout_actual_spend,
        sum(gini_terms.predicted_spend) as holdout_predicted_spend,
        avg(abs(gini_terms.predicted_orders - gini_terms.actual_orders)) as mae_orders,
        sqrt(avg(
            (gini_terms.predicted_orders - gini_terms.actual_orders)
            * (gini_terms.predicted_orders - gini_terms.actual_orders)
        )) as rmse_orders,
        case
            when var_pop(gini_terms.predicted_rank) > 0 and var_pop(gini_terms.actual_rank) > 0
                then corr(gini_terms.predicted_rank, gini_terms.actual_rank)
        end as spearman_orders,
        {{ safe_divide(
            'sum(case when gini_terms.predicted_spend_position <= ceil(0.1 * gini_terms.customers)'
            ~ ' then gini_terms.actual_spend end)',
            'sum(gini_terms.actual_spend)') }} as top_decile_capture,
        {{ safe_divide('sum(gini_terms.gini_term_predicted)', 'sum(gini_terms.gini_term_actual)') }}
            as normalized_gini
    from gini_terms
    group by gini_terms.model
),

measured as (
    select
        models.model,
        models.model_kind,
        models.model_status,
        coalesce(chosen.is_chosen, false) as is_chosen,
        aggregated.holdout_actual_orders,
        aggregated.holdout_predicted_orders,
        {{ safe_divide('100.0 * (aggregated.holdout_predicted_orders - aggregated.holdout_actual_orders)',
            'aggregated.holdout_actual_orders') }} as holdout_orders_error_pct,
        aggregated.holdout_actual_spend,
        aggregated.holdout_predicted_spend,
        {{ safe_divide('100.0 * (aggregated.holdout_predicted_spend - aggregated.holdout_actual_spend)',
            'aggregated.holdout_actual_spend') }} as holdout_spend_error_pct,
        aggregated.mae_orders,
        aggregated.rmse_orders,
        aggregated.spearman_orders,
        aggregated.top_decile_capture,
        aggregated.normalized_gini,
        calibration_fits.log_likelihood,
        case
            when calibration_fits.log_likelihood is not null
                then calibration_fits.parameter_count * ln(calibration_fits.customers)
                    - 2 * calibration_fits.log_likelihood
        end as bic
    from models
    left join aggregated
        on models.model = aggregated.model
    left join chosen
        on models.model = chosen.model
    left join calibration_fits
        on models.model = calibration_fits.model
),

{%- set metrics = [
    ('holdout_actual_orders', 'Actual purchase days in the holdout (all backtest customers)'),
    ('holdout_predicted_orders', 'Predicted purchase days in the holdout'),
    ('holdout_orders_error_pct', '100 x (predicted - actual) / actual purchase days'),
    ('holdout_actual_spend', 'Actual net spend in the holdout'),
    ('holdout_predicted_spend', 'Predicted spend in the holdout'),
    ('holdout_spend_error_pct', '100 x (predicted - actual) / actual spend'),
    ('mae_orders', 'Mean absolute error per customer of holdout purchase days'),
    ('rmse_orders', 'Root mean squared error per customer of holdout purchase days'),
    ('spearman_orders', 'Spearman rank correlation of predicted and actual purchase days'),
    ('top_decile_capture', 'Share of actual holdout spend made by the 10% predicted highest'),
    ('normalized_gini', 'Gini of actual spend ordered by prediction / by itself'),
    ('log_likelihood', 'Log-likelihood of the calibration fit'),
    ('bic', 'k ln(n) - 2 log-likelihood of the calibration fit'),
] %}

metric_rows as (
    {%- for name, label in metrics %}
        select
            measured.model,
            measured.model_kind,
            {{ loop.index }} as metric_order,
            '{{ name }}' as metric,
            '{{ label }}' as metric_label,
            cast(measured.{{ name }} as double) as value,  -- noqa: RF04
            measured.is_chosen,
            measured.model_status
        from measured
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

final as (
    select
        metric_rows.model,
        metric_rows.model_kind,
        metric_rows.metric,
        metric_rows.metric_order,
        metric_rows.metric_label,
        metric_rows.value,
        metric_rows.is_chosen,
        metric_rows.model_status,
        fit_periods.end_date as calibration_end_date,
        fit_periods.holdout_end_date,
        fit_periods.holdout_days
    from metric_rows
    cross join fit_periods
)

select * from final
