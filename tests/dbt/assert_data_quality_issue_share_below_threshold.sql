{#- Stops the build when more than var data_quality_max_issue_pct % of the order lines were set
    aside: the input is then too broken to trust the marts. The error names the share, the
    threshold, the setting to change and where the set-aside lines are listed. -#}
{%- set threshold = var('data_quality_max_issue_pct', 5) %}
with

order_lines as (
    select * from {{ ref('int_order_lines_validated') }}
),

{# read from the mart, so that it is built (and can be inspected) when this check stops the build #}
data_quality_issues as (
    select * from {{ ref('data_quality_issues') }}
    where source_file = 'order_lines' and not is_row_kept
),

line_counts as (
    select count(*) as line_count
    from order_lines
),

issue_counts as (
    select count(*) as issue_count
    from data_quality_issues
),

shares as (
    select
        line_counts.line_count,
        issue_counts.issue_count,
        100.0 * issue_counts.issue_count / nullif(line_counts.line_count, 0) as issue_pct
    from line_counts
    cross join issue_counts
),

{# The error sits in the filter: dbt counts this query's rows, so a column would not be
    evaluated. #}
final as (
    select
        shares.line_count,
        shares.issue_count,
        shares.issue_pct
    from shares
    where
        case
            when shares.issue_pct > {{ threshold }}
                then {{ raise_data_error(
                    "'Data quality: ' || cast(shares.issue_count as " ~ dbt.type_string() ~ ") || ' of '"
                    ~ " || cast(shares.line_count as " ~ dbt.type_string() ~ ") || ' order lines ('"
                    ~ " || cast(round(shares.issue_pct, 2) as " ~ dbt.type_string() ~ ") || '%) were set aside,"
                    ~ " more than data_quality_max_issue_pct = " ~ threshold ~ "%. See why in"
                    ~ " marts.data_quality_issues (select reason, count(*) from marts.data_quality_issues"
                    ~ " group by reason), fix the input, or raise the threshold with"
                    ~ " --vars ''{data_quality_max_issue_pct: N}''.'"
                ) }} is null
            else false
        end
)

select * from final
