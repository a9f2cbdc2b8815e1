{#- Spark stand-in for the dbt Python model int_clv_models_fitted.py (dbt-spark runs Python
    models only on Databricks): the same rows, computed on the driver by the same function
    (spendlens.clv_fitting.fit_periods, run by `spendlens build --target spark`, module
    spendlens.clv_driver) and written to the source table clv_driver.clv_models_fitted between
    two dbt steps (docs/portability.md). -#}
{{ config(enabled=target.type == 'spark', tags=['clv_driver']) }}

with

models_fitted as (
    select * from {{ source('clv_driver', 'clv_models_fitted') }}
),

final as (
    select * from models_fitted
)

select * from final
