{#- Audit query: how many rows of each input were set aside, and why (compile with
    `dbt compile --select data_quality_issues_by_reason` and run the SQL in target/compiled). -#}
with

data_quality_issues as (
    select * from {{ ref('data_quality_issues') }}
),

counted as (
    select
        data_quality_issues.source_file,
        data_quality_issues.reason,
        count(*) as rows_set_aside
    from data_quality_issues
    group by
        data_quality_issues.source_file,
        data_quality_issues.reason
)

select * from counted
