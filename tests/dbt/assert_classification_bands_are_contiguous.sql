{#- The classification_bands seed must tile the number line for every classification type x
    segment: band_order 1..n without holes or repeats, upper bounds strictly rising, only the
    last band without an upper bound, one min_spend / min_orders per set, a known type.
    Each failing row says what is wrong. -#}
with

classification_bands as (
    select * from {{ ref('classification_bands') }}
),

ordered as (
    select
        classification_bands.classification_type,
        classification_bands.segment,
        classification_bands.band_order,
        classification_bands.upper_bound,
        lag(classification_bands.upper_bound) over (
            partition by classification_bands.classification_type, classification_bands.segment
            order by classification_bands.band_order asc nulls last, classification_bands.label asc nulls last
        ) as previous_upper_bound,
        row_number() over (
            partition by classification_bands.classification_type, classification_bands.segment
            order by classification_bands.band_order asc nulls last, classification_bands.label asc nulls last
        ) as band_position,
        count(*) over (
            partition by classification_bands.classification_type, classification_bands.segment
        ) as band_count,
        -- distinct values 0, 1 or 2 (= more than one); Spark has no count(distinct) over a window
        case
            when count(classification_bands.min_spend) over (
                    partition by classification_bands.classification_type, classification_bands.segment
                ) = 0
                then 0
            when min(classification_bands.min_spend) over (
                    partition by classification_bands.classification_type, classification_bands.segment
                ) = max(classification_bands.min_spend) over (
                    partition by classification_bands.classification_type, classification_bands.segment
                )
                then 1
            else 2
        end as min_spend_values,
        count(classification_bands.min_spend) over (
            partition by classification_bands.classification_type, classification_bands.segment
        ) as min_spend_rows,
        -- distinct values 0, 1 or 2 (= more than one); Spark has no count(distinct) over a window
        case
            when count(classification_bands.min_orders) over (
                    partition by classification_bands.classification_type, classification_bands.segment
                ) = 0
                then 0
            when min(classification_bands.min_orders) over (
                    partition by classification_bands.classification_type, classification_bands.segment
                ) = max(classification_bands.min_orders) over (
                    partition by classification_bands.classification_type, classification_bands.segment
                )
                then 1
            else 2
        end as min_orders_values,
        count(classification_bands.min_orders) over (
            partition by classification_bands.classification_type, classification_bands.segment
        ) as min_orders_rows
    from classification_bands
),

problems as (
    select
        ordered.classification_type,
        ordered.segment,
        ordered.band_order,
        case
            when ordered.classification_type not in (
                    {%- for classification_type in classification_types() %}
                        {{ sql_string(classification_type) }}{{ "," if not loop.last }}
                    {%- endfor %}
                )
                then 'unknown classification_type'
            when ordered.band_order is null or ordered.band_order != ordered.band_position
                then 'band_order must run 1, 2, 3, ... without gaps or repeats (overlapping or missing band)'
            when ordered.upper_bound is null and ordered.band_position < ordered.band_count
                then 'only the last band may have an empty upper_bound: this one hides the bands above it'
            when ordered.previous_upper_bound is null and ordered.band_position > 1
                then 'band after an open-ended band'
            when ordered.upper_bound <= ordered.previous_upper_bound
                then 'upper_bound must be higher than the band below (bands overlap)'
            when ordered.band_position = ordered.band_count and ordered.upper_bound is not null
                then 'the last band needs an empty upper_bound, else values above it have no band (gap)'
            when ordered.min_spend_values > 1
                or (ordered.min_spend_values = 1 and ordered.min_spend_rows < ordered.band_count)
                then 'min_spend must be the same on every band of the set'
            when ordered.min_orders_values > 1
                or (ordered.min_orders_values = 1 and ordered.min_orders_rows < ordered.band_count)
                then 'min_orders must be the same on every band of the set'
        end as problem
    from ordered
)

select * from problems
where problem is not null
