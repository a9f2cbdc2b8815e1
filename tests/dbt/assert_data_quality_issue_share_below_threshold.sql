{#- Fails when more than var data_quality_max_issue_pct % of the order lines were set aside:
    the input is then too broken to trust the marts. The failing row says how many. -#}
with

order_lines as (
    select * from {{ ref('int_order_lines_validated') }}
),

shares as (
    select
        count(*) as line_count,
        count(order_lines.dq_reason) as issue_count,
        100.0 * count(order_lines.dq_reason) / nullif(count(*), 0) as issue_pct
    from order_lines
)

select *
from shares
where issue_pct > {{ var('data_quality_max_issue_pct', 5) }}
