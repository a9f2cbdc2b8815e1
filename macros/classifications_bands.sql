{#- The six classification types, in display order. -#}
{% macro classification_types() -%}
    {{ return(['risk_score', 'risk_change', 'revenue_rank', 'revenue_change', 'revenue_share', 'order_count']) }}
{%- endmacro %}
