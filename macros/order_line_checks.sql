{#- The checks of one order line that do not depend on the reporting currency or on other
    copies of its key, in the order a reason is given (SPEC section 5): the first that applies
    is the line's reason, null = usable so far. `lines` is stg_shop__order_lines, `customers`
    and `products` the usable rows of int_customers_validated and int_products_validated,
    left-joined on the line's ids. int_order_lines_validated adds the currency and duplicate
    checks; int_reporting_currency lets only lines that pass these vote. -#}
{% macro order_line_row_reason(lines, customers, products) -%}
    case
        when
            {{ lines }}.order_id is null
            or {{ lines }}.line_number is null
            or {{ lines }}.customer_id is null
            or {{ lines }}.product_id is null
            then 'missing key'
        when {{ lines }}.has_unparseable_number then 'unparseable number'
        when {{ lines }}.has_non_finite_number then 'non-finite number'
        when {{ lines }}.has_missing_number then 'missing number'
        when {{ lines }}.is_ordered_at_unparseable then 'unparseable date'
        when {{ lines }}.ordered_date is null then 'missing date'
        when {{ lines }}.ordered_date > {{ build_date() }} then 'date in the future'
        when {{ customers }}.customer_id is null then 'unknown customer'
        when {{ products }}.product_id is null then 'unknown product'
        when {{ lines }}.unit_price < 0 then 'negative price'
    end
{%- endmacro %}

{#- A line's own unit_cost is optional: when it is unparseable, not finite or negative the line
    stays usable, its own cost counts as missing (the product's cost applies) and this names the
    issue for data_quality_issues; null when the cost is absent or fine. -#}
{% macro order_line_cost_issue(lines) -%}
    case
        when {{ lines }}.is_unit_cost_unparseable then 'invalid line cost'
        when {{ is_non_finite(lines ~ '.unit_cost') }} then 'non-finite number'
        when {{ lines }}.unit_cost < 0 then 'invalid line cost'
    end
{%- endmacro %}
