{#- Fails for rows where a numeric column holds NaN or +/-Infinity (SPEC section 5: such
    values must be null). -#}
{% test finite_numbers(model, column_name) %}
select *
from {{ model }}
where {{ column_name }} is not null and not {{ is_finite('cast(' ~ column_name ~ ' as double)') }}
{% endtest %}
