{#- The segment seed maps every cell of the 5 x 5 R x FM grid exactly once: returns each cell
    that is missing or duplicated, and any row outside the grid. -#}
with

rfm_segments as (
    select * from {{ ref('rfm_segments') }}
),

scores as (
    select values_list.score
    from (values (1), (2), (3), (4), (5)) as values_list (score)
),

grid as (
    select
        r_scores.score as r_score,
        fm_scores.score as fm_score
    from scores as r_scores
    cross join scores as fm_scores
),

cell_counts as (
    select
        coalesce(grid.r_score, rfm_segments.r_score) as r_score,
        coalesce(grid.fm_score, rfm_segments.fm_score) as fm_score,
        count(rfm_segments.segment) as mapped_count,
        count(grid.r_score) as grid_count
    from grid
    full outer join rfm_segments
        on
            grid.r_score = rfm_segments.r_score
            and grid.fm_score = rfm_segments.fm_score
    group by
        coalesce(grid.r_score, rfm_segments.r_score),
        coalesce(grid.fm_score, rfm_segments.fm_score)
)

select * from cell_counts
where mapped_count != 1 or grid_count = 0
