{#- Spark stand-in for the dbt Python model int_customers_scored_clv.py: the same rows, scored
    on the driver by the same function (spendlens.clv_scoring.score_periods, module
    spendlens.clv_driver) and written to the source table clv_driver.clv_customers_scored
    (docs/portability.md). -#}
{{ config(enabled=target.type == 'spark', tags=['clv_driver']) }}

with

customers_scored as (
    select * from {{ source('clv_driver', 'clv_customers_scored') }}
),

final as (
    select * from customers_scored
)

select * from final
