{{ config(materialized='table') }}
{#- The per-customer input of the CLV models (Fader, Hardie & Lee's x, t_x, T, m), one row per
    customer x fit period (see macro clv_fit_periods) for customers with a purchase by the
    period's end_date. A purchase day is a day on which at least one order is dated (its
    earliest positive-quantity line); money is net of returns, on each line's own date.
    - frequency: repeat purchase days (purchase days - 1);
    - recency_days: days from the first to the last purchase day (0 without repeats);
    - t_days: days from the first purchase day to end_date;
    - monetary_value: net repeat spend / frequency, where net repeat spend is the net spend of
      every usable line dated after the first purchase day up to end_date (returns included,
      whatever order they belong to); 0 without repeats. It can be 0 or negative: such
      customers are left out of the Gamma-Gamma fit and given the population mean (docs/clv.md);
    - holdout_orders / holdout_spend: purchase days and the net spend after end_date up to
      holdout_end_date (0 for the 'as_of' period);
    - calibration_spend: net spend from the first purchase day up to end_date (the naive
      baselines' spend per purchase day is calibration_spend / (frequency + 1));
    - recent_orders / recent_spend: purchase days and net spend in the last holdout-length span
      of the calibration, (end_date - holdout days, end_date] (0 for 'as_of'): the naive
      baseline that repeats the last period. -#}
with

orders as (
    select * from {{ ref('int_orders_summarised') }}
),

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

fit_periods as (
    {{ clv_fit_periods('analysis_dates') }}
),

customer_days as (
    select
        orders.customer_id,
        orders.order_date as activity_date,
        sum(orders.spend_amount) as spend_amount,
        max(case when orders.is_purchase then 1 else 0 end) = 1 as is_purchase_day
    from orders
    group by
        orders.customer_id,
        orders.order_date
),

first_purchases as (
    select
        fit_periods.fit_period,
        customer_days.customer_id,
        min(customer_days.activity_date) as first_purchase_date
    from fit_periods
    inner join customer_days
        on fit_periods.end_date >= customer_days.activity_date
    where customer_days.is_purchase_day
    group by
        fit_periods.fit_period,
        customer_days.customer_id
),

flagged as (
    select
        fit_periods.fit_period,
        first_purchases.customer_id,
        fit_periods.end_date,
        fit_periods.holdout_end_date,
        first_purchases.first_purchase_date,
        customer_days.activity_date,
        customer_days.spend_amount,
        customer_days.is_purchase_day,
        customer_days.activity_date <= fit_periods.end_date as is_calibration,
        customer_days.activity_date > first_purchases.first_purchase_date
        and customer_days.activity_date <= fit_periods.end_date as is_after_first,
        customer_days.activity_date > fit_periods.end_date
        and customer_days.activity_date <= fit_periods.holdout_end_date as is_holdout,
        -- in the last holdout-length span of the calibration: fewer days before end_date than the
        -- holdout has days
        customer_days.activity_date <= fit_periods.end_date
        and {{ dbt.datediff('customer_days.activity_date', 'fit_periods.end_date', 'day') }} -- noqa: LT05
        < {{ dbt.datediff('fit_periods.end_date', 'fit_periods.holdout_end_date', 'day') }} as is_recent -- noqa: LT05
    from first_purchases
    inner join fit_periods
        on first_purchases.fit_period = fit_periods.fit_period
    inner join customer_days
        on first_purchases.customer_id = customer_days.customer_id
),

summarised as (
    select
        flagged.fit_period,
        flagged.customer_id,
        flagged.end_date,
        flagged.holdout_end_date,
        flagged.first_purchase_date,
        max(case when flagged.is_calibration and flagged.is_purchase_day then flagged.activity_date end)
            as last_purchase_date,
        count(case when flagged.is_after_first and flagged.is_purchase_day then 1 end) as frequency,
        sum(case when flagged.is_after_first then flagged.spend_amount end) as repeat_spend_amount,
        count(case when flagged.is_holdout and flagged.is_purchase_day then 1 end) as holdout_orders,
        coalesce(sum(case when flagged.is_holdout then flagged.spend_amount end), 0) as holdout_spend,
        coalesce(sum(case when flagged.is_calibration then flagged.spend_amount end), 0) as calibration_spend,
        count(case when flagged.is_recent and flagged.is_purchase_day then 1 end) as recent_orders,
        coalesce(sum(case when flagged.is_recent then flagged.spend_amount end), 0) as recent_spend
    from flagged
    group by
        flagged.fit_period,
        flagged.customer_id,
        flagged.end_date,
        flagged.holdout_end_date,
        flagged.first_purchase_date
),

final as (
    select
        summarised.fit_period,
        summarised.customer_id,
        summarised.end_date,
        summarised.holdout_end_date,
        summarised.first_purchase_date,
        summarised.last_purchase_date,
        summarised.frequency,
        cast(
            {{ dbt.datediff('summarised.first_purchase_date', 'summarised.last_purchase_date', 'day') }} -- noqa: LT05
            as bigint
        ) as recency_days,
        cast(
            {{ dbt.datediff('summarised.first_purchase_date', 'summarised.end_date', 'day') }} -- noqa: LT05
            as bigint
        ) as t_days,
        coalesce({{ safe_divide('summarised.repeat_spend_amount', 'summarised.frequency') }}, 0)
            as monetary_value,
        summarised.holdout_orders,
        summarised.holdout_spend,
        summarised.calibration_spend,
        summarised.recent_orders,
        summarised.recent_spend
    from summarised
)

select * from final
