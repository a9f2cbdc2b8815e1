{#- How customers moved between lifecycle personas from one date to another (SPEC 4.6): one row
    per (from_date, to_date, from_persona, to_persona) for every month-end -> as-of pair and every
    month-end -> next month-end pair. Customers with no purchase at from_date come from
    'new customer'; any other two month-ends compare the same way from customer_rfm_history. -#}
with

customers_scored_rfm as (
    select * from {{ ref('int_customers_scored_rfm') }}
),

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

month_ends as (
    select distinct customers_scored_rfm.snapshot_date as month_end_date
    from customers_scored_rfm
    where customers_scored_rfm.is_month_end
),

pair_candidates as (
    select
        month_ends.month_end_date as from_date,
        analysis_dates.as_of_date as to_date,
        false as is_consecutive_month_ends,
        true as is_to_as_of
    from month_ends
    cross join analysis_dates
    where month_ends.month_end_date < analysis_dates.as_of_date
    union all
    select
        month_ends.month_end_date as from_date,
        lead(month_ends.month_end_date) over (
            order by month_ends.month_end_date nulls last
        ) as to_date,
        true as is_consecutive_month_ends,
        false as is_to_as_of
    from month_ends
),

pairs as (
    select
        pair_candidates.from_date,
        pair_candidates.to_date,
        bool_or(pair_candidates.is_consecutive_month_ends) as is_consecutive_month_ends,
        bool_or(pair_candidates.is_to_as_of) as is_to_as_of
    from pair_candidates
    where pair_candidates.to_date is not null
    group by
        pair_candidates.from_date,
        pair_candidates.to_date
),

movements as (
    select
        pairs.from_date,
        pairs.to_date,
        pairs.is_consecutive_month_ends,
        pairs.is_to_as_of,
        coalesce(from_scores.persona, 'new customer') as from_persona,
        to_scores.persona as to_persona,
        to_scores.monetary - coalesce(from_scores.monetary, 0) as revenue
    from pairs
    inner join customers_scored_rfm as to_scores
        on pairs.to_date = to_scores.snapshot_date
    left join customers_scored_rfm as from_scores
        on
            pairs.from_date = from_scores.snapshot_date
            and to_scores.customer_id = from_scores.customer_id
),

final as (
    select
        movements.from_date,
        movements.to_date,
        movements.from_persona,
        movements.to_persona,
        count(*) as customers,
        sum(movements.revenue) as revenue,
        movements.is_consecutive_month_ends,
        movements.is_to_as_of
    from movements
    group by
        movements.from_date,
        movements.to_date,
        movements.from_persona,
        movements.to_persona,
        movements.is_consecutive_month_ends,
        movements.is_to_as_of
)

select * from final
