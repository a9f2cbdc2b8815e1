{#- When the as-of date is a business month-end, customer_rfm_history at that month-end holds
    exactly the rows of customer_rfm: returns every customer whose rows differ or exist in one
    only. (No rows to compare when as-of is not a month-end.) -#}
with

customer_rfm as (
    select * from {{ ref('customer_rfm') }}
),

customer_rfm_history as (
    select * from {{ ref('customer_rfm_history') }}
),

calendar as (
    select * from {{ ref('int_business_calendar_days') }}
),

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

as_of_month_ends as (
    select distinct calendar.business_month_end
    from calendar
    inner join analysis_dates
        on calendar.business_month_end = analysis_dates.as_of_date
),

history_at_as_of as (
    select customer_rfm_history.*
    from customer_rfm_history
    inner join as_of_month_ends
        on customer_rfm_history.month_end_date = as_of_month_ends.business_month_end
),

compared as (
    select
        coalesce(customer_rfm.customer_id, history_at_as_of.customer_id) as customer_id,
        customer_rfm.rfm_cell as current_rfm_cell,
        history_at_as_of.rfm_cell as history_rfm_cell
    from customer_rfm
    full outer join history_at_as_of
        on customer_rfm.customer_id = history_at_as_of.customer_id
    where
        history_at_as_of.customer_id is null
        or customer_rfm.customer_id is null
        or customer_rfm.recency_days != history_at_as_of.recency_days
        or customer_rfm.frequency != history_at_as_of.frequency
        or abs(customer_rfm.monetary - history_at_as_of.monetary) > 1e-9
        or customer_rfm.rfm_cell != history_at_as_of.rfm_cell
        or customer_rfm.fm_score != history_at_as_of.fm_score
        or customer_rfm.rfm_segment != history_at_as_of.rfm_segment
        or customer_rfm.lifecycle_stage != history_at_as_of.lifecycle_stage
        or customer_rfm.persona != history_at_as_of.persona
)

select compared.*
from compared
where exists (select 1 from as_of_month_ends)
