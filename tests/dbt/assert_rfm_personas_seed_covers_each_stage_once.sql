{#- Every lifecycle stage x F + M sum (2..10) falls in exactly one persona of the seed: returns
    each combination with no persona or more than one. -#}
with

rfm_personas as (
    select * from {{ ref('rfm_personas') }}
),

stages as (
    select values_list.lifecycle_stage
    from (values ('active'), ('lapsing'), ('inactive')) as values_list (lifecycle_stage)
),

fm_sums as (
    select values_list.fm_sum
    from (values (2), (3), (4), (5), (6), (7), (8), (9), (10)) as values_list (fm_sum)
),

combinations as (
    select
        stages.lifecycle_stage,
        fm_sums.fm_sum
    from stages
    cross join fm_sums
),

matched as (
    select
        combinations.lifecycle_stage,
        combinations.fm_sum,
        count(rfm_personas.persona) as persona_count
    from combinations
    left join rfm_personas
        on
            combinations.lifecycle_stage = rfm_personas.lifecycle_stage
            and combinations.fm_sum between rfm_personas.min_fm_sum and rfm_personas.max_fm_sum
    group by
        combinations.lifecycle_stage,
        combinations.fm_sum
)

select * from matched
where persona_count != 1
