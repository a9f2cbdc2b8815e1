{#- The two periods the CLV models are fitted on, as a select over the one-row
    int_analysis_dates relation `analysis_dates`:
    - 'as_of': history up to the as-of date (customer_value, clv_model_parameters);
    - 'backtest_calibration': the first (1 - clv_holdout_share) of the history, whose holdout
      runs from the day after its end_date to the as-of date (clv_backtest).
    History days count first_order_date..as_of_date inclusive; the holdout is the rounded share
    of them (CDNOW 1997-01-01..1998-06-30 at share 0.5: 546 days, calibration ends 1997-09-30). -#}
{% macro clv_fit_periods(analysis_dates) -%}
    select
        'as_of' as fit_period,
        {{ analysis_dates }}.first_order_date as history_start_date,
        {{ analysis_dates }}.as_of_date as end_date,
        {{ analysis_dates }}.as_of_date as holdout_end_date
    from {{ analysis_dates }}
    union all
    select
        'backtest_calibration' as fit_period,
        {{ analysis_dates }}.first_order_date as history_start_date,
        cast(
            {{ analysis_dates }}.as_of_date
            - cast(round(
                ({{ dbt.datediff(analysis_dates ~ '.first_order_date', analysis_dates ~ '.as_of_date', 'day') }} + 1)
                * cast({{ var('clv_holdout_share', 0.25) }} as double)
            ) as integer)
            as date
        ) as end_date,
        {{ analysis_dates }}.as_of_date as holdout_end_date
    from {{ analysis_dates }}
{%- endmacro %}
