{#- The ten headline KPI tiles (SPEC 4.11) over all customers, for each KPI period against its
    comparison period: one row per period x tile with value, comparison value and % change. The
    formulas are in int_kpi_tiles_measured (one computation for these tiles and the tiles per
    persona and segment, kpi_tiles_by_dimension); docs/metrics.md, "KPI tiles". -#}
with

tiles_measured as (
    select * from {{ ref('int_kpi_tiles_measured') }}
    where dimension = 'all'
),

final as (
    select
        tiles_measured.period_name,
        cast(tiles_measured.period_days as integer) as period_days,
        tiles_measured.period_start,
        tiles_measured.period_end,
        tiles_measured.comparison_start,
        tiles_measured.comparison_end,
        tiles_measured.tile,
        cast(tiles_measured.tile_order as integer) as tile_order,
        tiles_measured.value,
        tiles_measured.comparison_value,
        tiles_measured.pct_change
    from tiles_measured
)

select * from final
