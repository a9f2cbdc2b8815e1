{{ config(materialized='table') }}
{#- The per-customer input of the CLV models (Fader, Hardie & Lee's x, t_x, T, m), one row per
    customer x fit period (see macro clv_fit_periods) for customers with a purchase by the
    period's end_date. Purchases only (return-only orders are not purchases); the purchase
    orders of one customer on one day are one purchase day, their net spend summed.
    - frequency: repeat purchase days (purchase days - 1);
    - recency_days: days from the first to the last purchase day (0 without repeats);
    - t_days: days from the first purchase day to end_date;
    - monetary_value: mean spend of the repeat purchase days, first one left out (0 without
      repeats); zero and negative days are kept here, as in lifetimes;
    - holdout_orders / holdout_spend: purchase days and their spend after end_date up to
      holdout_end_date (0 for the 'as_of' period). -#}
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

purchase_days as (
    select
        orders.customer_id,
        orders.order_date as purchase_date,
        sum(orders.spend_amount) as spend_amount
    from orders
    where orders.is_purchase
    group by
        orders.customer_id,
        orders.order_date
),

first_purchases as (
    select
        fit_periods.fit_period,
        purchase_days.customer_id,
        min(purchase_days.purchase_date) as first_purchase_date
    from fit_periods
    inner join purchase_days
        on fit_periods.end_date >= purchase_days.purchase_date
    group by
        fit_periods.fit_period,
        purchase_days.customer_id
),

flagged as (
    select
        fit_periods.fit_period,
        first_purchases.customer_id,
        fit_periods.end_date,
        fit_periods.holdout_end_date,
        first_purchases.first_purchase_date,
        purchase_days.purchase_date,
        purchase_days.spend_amount,
        purchase_days.purchase_date <= fit_periods.end_date as is_calibration,
        purchase_days.purchase_date > first_purchases.first_purchase_date
        and purchase_days.purchase_date <= fit_periods.end_date as is_repeat,
        purchase_days.purchase_date > fit_periods.end_date
        and purchase_days.purchase_date <= fit_periods.holdout_end_date as is_holdout
    from first_purchases
    inner join fit_periods
        on first_purchases.fit_period = fit_periods.fit_period
    inner join purchase_days
        on first_purchases.customer_id = purchase_days.customer_id
),

summarised as (
    select
        flagged.fit_period,
        flagged.customer_id,
        flagged.end_date,
        flagged.holdout_end_date,
        flagged.first_purchase_date,
        max(case when flagged.is_calibration then flagged.purchase_date end) as last_purchase_date,
        count(case when flagged.is_repeat then 1 end) as frequency,
        sum(case when flagged.is_repeat then flagged.spend_amount end) as repeat_spend_amount,
        count(case when flagged.is_holdout then 1 end) as holdout_orders,
        coalesce(sum(case when flagged.is_holdout then flagged.spend_amount end), 0) as holdout_spend
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
        {{ dbt.datediff('summarised.first_purchase_date', 'summarised.last_purchase_date', 'day') }}
            as recency_days,
        {{ dbt.datediff('summarised.first_purchase_date', 'summarised.end_date', 'day') }}
            as t_days,
        coalesce({{ safe_divide('summarised.repeat_spend_amount', 'summarised.frequency') }}, 0)
            as monetary_value,
        summarised.holdout_orders,
        summarised.holdout_spend
    from summarised
)

select * from final
