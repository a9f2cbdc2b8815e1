{#- Fails for each combination of the columns that occurs more than once (the grain test).
    Big marts have about as many combinations as rows, so the rows are first grouped by one
    63-bit hash of the columns (a far smaller hash table than the text keys themselves); only the
    rows whose hash repeats are grouped again by the columns, so a hash collision never fails the
    test on its own. -#}
{% test unique_combination(model, combination_of_columns) %}
{%- set columns = combination_of_columns | join(', ') -%}
with

hashed as (
    select {{ row_fingerprint(combination_of_columns) }} as combination_hash
    from {{ model }}
),

repeated_hashes as (
    select combination_hash
    from hashed
    group by combination_hash
    having count(*) > 1
),

candidates as (
    select {{ columns }}
    from {{ model }}
    where {{ row_fingerprint(combination_of_columns) }} in (select combination_hash from repeated_hashes)
)

select
    {{ columns }},
    count(*) as occurrences
from candidates
group by {{ columns }}
having count(*) > 1
{% endtest %}
