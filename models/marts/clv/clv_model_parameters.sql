{#- The fitted parameters of the CLV models behind customer_value (SPEC 4.7): one row per model
    (bgnbd, mbgnbd, pareto_nbd, gamma_gamma; is_chosen marks the ones that score customer_value)
    x parameter, with standard errors, fitted on the history up to the as-of date; time in days, money in reporting
    currency. -#}
with

models_fitted as (
    select * from {{ ref('int_clv_models_fitted') }}
    where fit_period = 'as_of' and draw = 0
),

fit_periods as (
    select * from {{ ref('int_clv_fit_periods_checked') }}
    where fit_period = 'as_of'
),

final as (
    select
        models_fitted.model,
        models_fitted.parameter,
        cast(models_fitted.value as double) as value,  -- noqa: RF04
        cast(models_fitted.std_error as double) as std_error,
        models_fitted.time_unit,
        models_fitted.status,
        models_fitted.message,
        models_fitted.is_chosen,
        fit_periods.end_date as fitted_through_date
    from models_fitted
    cross join fit_periods
)

select * from final
