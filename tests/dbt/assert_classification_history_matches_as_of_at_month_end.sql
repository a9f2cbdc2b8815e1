{#- When the as-of date is a business month-end, customer_classification_history at that
    month-end must hold exactly the rows of customer_classifications. Returns rows present on
    one side only (no rows when as-of is mid-month and the history has no such month-end). -#}
with

current_rows as (
    select
        customer_id,
        segment,
        classification_type,
        metric_value,
        band_order,
        band_label,
        band_color,
        is_eligible,
        as_of_date as evaluation_date
    from {{ ref('customer_classifications') }}
    where as_of_date in (
            select history.month_end_date from {{ ref('customer_classification_history') }} as history
        )
),

history_rows as (
    select
        customer_id,
        segment,
        classification_type,
        metric_value,
        band_order,
        band_label,
        band_color,
        is_eligible,
        month_end_date as evaluation_date
    from {{ ref('customer_classification_history') }}
    where month_end_date in (
            select classifications.as_of_date from {{ ref('customer_classifications') }} as classifications
        )
),

only_current as (
    select * from current_rows
    except
    select * from history_rows
),

only_history as (
    select * from history_rows
    except
    select * from current_rows
),

final as (
    select
        'only in customer_classifications' as side,
        only_current.customer_id,
        only_current.segment,
        only_current.classification_type,
        only_current.metric_value,
        only_current.band_order,
        only_current.band_label,
        only_current.band_color,
        only_current.is_eligible,
        only_current.evaluation_date
    from only_current
    union all
    select
        'only in customer_classification_history' as side,
        only_history.customer_id,
        only_history.segment,
        only_history.classification_type,
        only_history.metric_value,
        only_history.band_order,
        only_history.band_label,
        only_history.band_color,
        only_history.is_eligible,
        only_history.evaluation_date
    from only_history
)

select * from final
