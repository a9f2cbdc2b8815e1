{#- For each (from_date, to_date) pair, the movement counts add up to the customers scored at
    to_date, and the customers leaving each persona add up to that persona's customers at
    from_date: returns each pair or persona where they differ. -#}
with

rfm_persona_movements as (
    select * from {{ ref('rfm_persona_movements') }}
),

customers_scored_rfm as (
    select * from {{ ref('int_customers_scored_rfm') }}
),

snapshot_counts as (
    select
        customers_scored_rfm.snapshot_date,
        count(*) as customers
    from customers_scored_rfm
    group by customers_scored_rfm.snapshot_date
),

pair_counts as (
    select
        rfm_persona_movements.from_date,
        rfm_persona_movements.to_date,
        sum(rfm_persona_movements.customers) as customers
    from rfm_persona_movements
    group by
        rfm_persona_movements.from_date,
        rfm_persona_movements.to_date
),

persona_counts as (
    select
        customers_scored_rfm.snapshot_date,
        customers_scored_rfm.persona,
        count(*) as customers
    from customers_scored_rfm
    group by
        customers_scored_rfm.snapshot_date,
        customers_scored_rfm.persona
),

leaving_counts as (
    select
        rfm_persona_movements.from_date,
        rfm_persona_movements.to_date,
        rfm_persona_movements.from_persona,
        sum(rfm_persona_movements.customers) as customers
    from rfm_persona_movements
    where rfm_persona_movements.from_persona != 'new customer'
    group by
        rfm_persona_movements.from_date,
        rfm_persona_movements.to_date,
        rfm_persona_movements.from_persona
),

pair_mismatches as (
    select
        pair_counts.from_date,
        pair_counts.to_date,
        cast(null as {{ dbt.type_string() }}) as persona,
        pair_counts.customers as movement_customers,
        snapshot_counts.customers as snapshot_customers
    from pair_counts
    left join snapshot_counts
        on pair_counts.to_date = snapshot_counts.snapshot_date
    where snapshot_counts.customers is null or pair_counts.customers != snapshot_counts.customers
),

persona_mismatches as (
    select
        leaving_counts.from_date,
        leaving_counts.to_date,
        leaving_counts.from_persona as persona,
        leaving_counts.customers as movement_customers,
        persona_counts.customers as snapshot_customers
    from leaving_counts
    left join persona_counts
        on
            leaving_counts.from_date = persona_counts.snapshot_date
            and leaving_counts.from_persona = persona_counts.persona
    where persona_counts.customers is null or leaving_counts.customers != persona_counts.customers
)

select * from pair_mismatches
union all
select * from persona_mismatches
