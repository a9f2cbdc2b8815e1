{#- The two periods the CLV models are fitted on, as a select over the one-row
    int_analysis_dates relation `analysis_dates`:
    - 'as_of': history up to the as-of date (customer_value, clv_model_parameters);
    - 'backtest_calibration': the first (1 - clv_holdout_share) of the history, whose holdout
      runs from the day after its end_date to the as-of date (clv_backtest).
    History days count first_order_date..as_of_date inclusive; the holdout is the rounded share
    of them (CDNOW 1997-01-01..1998-06-30 at share 0.5: 546 days, calibration ends 1997-09-30).
    Var clv_calibration_end_date (YYYY-MM-DD) fixes the calibration end instead; a date outside
    the history makes the backtest ineligible (int_clv_fit_periods_checked). -#}
{% macro clv_fit_periods(analysis_dates) -%}
    {%- set calibration_end = var('clv_calibration_end_date', none) -%}
    {%- if calibration_end is not none and calibration_end | string | trim != '' -%}
        {%- set calibration_end = calibration_end | string | trim -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', calibration_end) -%}
            {{ exceptions.raise_compiler_error(
                "var clv_calibration_end_date=" ~ calibration_end
                ~ ": expected a date YYYY-MM-DD (or null for the default split by clv_holdout_share)") }}
        {%- endif -%}
    {%- else -%}
        {%- set calibration_end = none -%}
    {%- endif %}
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
        {%- if calibration_end is not none %}
        cast('{{ calibration_end }}' as date) as end_date,
        {%- else %}
        cast(
            {{ analysis_dates }}.as_of_date
            - cast(round(
                ({{ dbt.datediff(analysis_dates ~ '.first_order_date', analysis_dates ~ '.as_of_date', 'day') }} + 1)
                * cast({{ var('clv_holdout_share', 0.25) }} as double)
            ) as integer)
            as date
        ) as end_date,
        {%- endif %}
        {{ analysis_dates }}.as_of_date as holdout_end_date
    from {{ analysis_dates }}
{%- endmacro %}
