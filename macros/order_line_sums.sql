{#- The sums of order lines kept by the compact aggregate (int_order_lines_aggregated_to_days),
    for the lines of relation `alias`: spend, cost, spend of lines without a known cost,
    quantity and the number of lines. Sums only, so a second grouping step can sum them again. -#}
{% macro order_line_sums(alias) -%}
    sum({{ alias }}.spend_amount) as spend_amount,
    sum({{ alias }}.cost_amount) as cost_amount,
    sum(case when {{ alias }}.cost_amount is null then {{ alias }}.spend_amount else 0 end)
        as uncosted_spend_amount,
    sum({{ alias }}.quantity) as quantity,
    count(*) as line_count
{%- endmacro %}
