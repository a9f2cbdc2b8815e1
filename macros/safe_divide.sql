{#- numerator / denominator, or null when the denominator is 0 or null (never Infinity/NaN). -#}
{% macro safe_divide(numerator, denominator) -%}
    (cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0))
{%- endmacro %}

{#- Percentage change from old to new, null when old is 0, negative or null: a change against a
    net refund has no meaning (prior -10, now +10 would read -200 %). Every % change of the marts
    (spend change, revenue and risk change, KPI tiles) is this one macro. -#}
{% macro pct_change(new_value, old_value) -%}
    (
        100.0 * ({{ new_value }} - {{ old_value }})
        / case when cast({{ old_value }} as double) > 0 then cast({{ old_value }} as double) end
    )
{%- endmacro %}
