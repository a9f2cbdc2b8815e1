{#- The number of RFM bins (var rfm_bins, default 5), validated once: an integer from 2 to 9. -#}
{% macro rfm_bins() -%}
    {%- set bins = var('rfm_bins', 5) -%}
    {%- if bins is not number or (bins | int) != bins or bins < 2 or bins > 9 -%}
        {{ exceptions.raise_compiler_error(
            "rfm_bins is '" ~ bins ~ "': use a whole number from 2 to 9 (default 5).") }}
    {%- endif -%}
    {{ return(bins | int) }}
{%- endmacro %}

{#- Quantile score 1..bins from the number of customers with a strictly worse value and the
    number of customers scored: 1 + floor(bins x worse / customers), capped at bins. Equal
    values have the same worse count, so they always get the same score. -#}
{% macro rfm_quantile_score(worse_count, customer_count, bins) -%}
    cast(
        least(
            {{ bins }},
            1 + floor({{ bins }} * cast({{ worse_count }} as double) / nullif({{ customer_count }}, 0))
        ) as integer
    )
{%- endmacro %}

{#- A score on 1..bins rescaled to 1..5 for the segment and persona seeds:
    1 + round_half_up(4 x (score - 1) / (bins - 1)); the identity when bins = 5. -#}
{% macro rfm_rescale_to_five(score, bins) -%}
    {%- if bins == 5 -%}
        {{ score }}
    {%- else -%}
        cast(1 + floor(4.0 * ({{ score }} - 1) / ({{ bins }} - 1) + 0.5) as integer)
    {%- endif -%}
{%- endmacro %}
