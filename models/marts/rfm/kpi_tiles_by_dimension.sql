{#- The ten KPI tiles (SPEC 4.11) per persona and per segment: kpi_tiles for the customers of
    each persona and each segment at as-of (dimension 'persona' | 'segment', dimension_value the
    persona or segment, '(no segment)' without one). The formulas are in int_kpi_tiles_measured;
    docs/metrics.md, "KPI tiles". -#}
with

tiles_measured as (
    select * from {{ ref('int_kpi_tiles_measured') }}
    where dimension <> 'all'
),

final as (
    select
        tiles_measured.period_name,
        cast(tiles_measured.period_days as integer) as period_days,
        tiles_measured.period_start,
        tiles_measured.period_end,
        tiles_measured.comparison_start,
        tiles_measured.comparison_end,
        tiles_measured.dimension,
        tiles_measured.dimension_value,
        tiles_measured.tile,
        cast(tiles_measured.tile_order as integer) as tile_order,
        tiles_measured.value,
        tiles_measured.comparison_value,
        tiles_measured.pct_change
    from tiles_measured
)

select * from final
