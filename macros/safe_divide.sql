{#- numerator / denominator, or null when the denominator is 0 or null (never Infinity/NaN). -#}
{% macro safe_divide(numerator, denominator) -%}
    (cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0))
{%- endmacro %}

{#- Percentage change from old to new, null when old is 0 or null. -#}
{% macro pct_change(new_value, old_value) -%}
    (100.0 * ({{ new_value }} - {{ old_value }}) / nullif(cast({{ old_value }} as double), 0))
{%- endmacro %}
