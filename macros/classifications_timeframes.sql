{#- The date in business month `month_alias` at the same offset as `anchor_alias`'s date in its
    own month: a month-end maps to the month-end, other days keep their offset capped at the
    month's end. Null when the month is before the calendar. -#}
{% macro classification_shifted_date(month_alias, anchor_alias) -%}
    case
        when {{ anchor_alias }}.is_business_month_end then {{ month_alias }}.business_month_end
        else least(
            {{ month_alias }}.business_month_start + {{ anchor_alias }}.day_offset,
            {{ month_alias }}.business_month_end
        )
    end
{%- endmacro %}
