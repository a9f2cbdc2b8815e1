{#- Each customer's six classification metrics at every classification date, one row per
    classification type (the long shape the band assignment reads). -#}
with

measured as (
    select * from {{ ref('int_customer_timeframes_measured') }}
),

classification_types as (
    {%- for classification_type in classification_types() %}
        select
            {{ sql_string(classification_type) }} as classification_type,
            {{ loop.index }} as type_order
        {{ "union all" if not loop.last }}
    {%- endfor %}
),

metrics as (
    select
        measured.evaluation_date,
        measured.is_as_of_date,
        measured.is_month_end,
        measured.customer_id,
        measured.segment,
        classification_types.classification_type,
        classification_types.type_order,
        case classification_types.classification_type
            {%- for classification_type in classification_types() %}
                when {{ sql_string(classification_type) }} then cast(measured.{{ classification_type }} as double)
            {%- endfor %}
        end as metric_value,
        measured.timeframe_start,
        measured.timeframe_end,
        measured.previous_timeframe_start,
        measured.previous_timeframe_end,
        measured.revenue,
        measured.previous_revenue,
        measured.order_count,
        measured.last_order_date
    from measured
    cross join classification_types
)

select * from metrics
