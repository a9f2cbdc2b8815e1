{#- Every classified customer has exactly one row per classification type (six), and every
    eligible row exactly one band: rows returned are customers with another count. -#}
select
    customer_id,
    count(*) as type_rows,
    count(distinct classification_type) as distinct_types
from {{ ref('customer_classifications') }}
group by customer_id
having count(*) != 6 or count(distinct classification_type) != 6
