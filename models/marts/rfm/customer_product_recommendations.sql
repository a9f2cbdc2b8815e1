{#- Product recommendations per customer (SPEC 4.10), up to recommendations_per_reason per reason:
    also_bought (what other buyers of the top product of the customer's latest order day bought),
    popular_in_segment (best sellers of the customer's segment over the last 12 months) and
    popular_category_not_bought (best sellers of categories the customer never bought). Never a
    product already in the customer's history. Each reason keeps only the top candidates it can
    need (N + products or categories the customer has) before joining to customers, so nothing
    is a customer x product cross join. With discovery_match_tags, candidates must share a tag
    with a product the customer bought; with discovery_match_tag_groups too, a tag of one of
    those groups (`group:value`, e.g. the same brand:Acme), never an ungrouped tag. -#}
{%- set per_reason = var('recommendations_per_reason', 5) | int %}
{%- set match_tags = var('discovery_match_tags', false) in [true, 'true', 'True', 1] %}
{%- set tag_groups = discovery_match_tag_groups_settings() %}
{%- set tag_group_literals = [] %}
{%- for group in tag_groups or [] %}{% do tag_group_literals.append(sql_string(group) | trim) %}{% endfor %}
{#- with tag narrowing the tag filter can drop any candidate, so no candidate list is cut early -#}
{%- set no_limit = 2147483647 %}
with

daily_items as (
    select * from {{ ref('int_order_lines_aggregated_to_days') }}
),

customers as (
    select * from {{ ref('int_customers_summarised') }}
),

products as (
    select * from {{ ref('int_products_validated') }}
    where dq_reason is null
),

analysis_dates as (
    select * from {{ ref('int_analysis_dates') }}
),

customers_anchored as (
    select * from {{ ref('int_customers_anchored') }}
),

products_co_purchased as (
    select * from {{ ref('int_products_co_purchased') }}
),

customer_products as (
    select * from {{ ref('int_customer_products_listed') }}
),

customer_categories as (
    select distinct
        daily_items.customer_id,
        daily_items.item_id as category
    from daily_items
    where daily_items.item_level = 'category' and daily_items.item_id is not null
),

customer_product_counts as (
    select
        customer_products.customer_id,
        count(*) as product_count
    from customer_products
    group by customer_products.customer_id
),

customer_category_counts as (
    select
        customer_categories.customer_id,
        count(*) as category_count
    from customer_categories
    group by customer_categories.customer_id
),

customer_history_sizes as (
    select
        customers.customer_id,
        coalesce(customers.segment, '') as segment_key,
        {%- if match_tags %}
            {{ no_limit }} as product_candidate_limit,
            {{ no_limit }} as category_candidate_limit
        {%- else %}
            {{ per_reason }} + coalesce(customer_product_counts.product_count, 0) as product_candidate_limit,
            {{ per_reason }} * (1 + coalesce(customer_category_counts.category_count, 0))
                as category_candidate_limit
        {%- endif %}
    from customers
    left join customer_product_counts
        on customers.customer_id = customer_product_counts.customer_id
    left join customer_category_counts
        on customers.customer_id = customer_category_counts.customer_id
),

-- also_bought: other buyers of the customer's anchor product (int_products_co_purchased)
also_bought_candidates as (
    select
        customers_anchored.customer_id,
        products_co_purchased.product_id,
        'also_bought' as reason,
        customers_anchored.anchor_product_id as reason_basis,
        cast(products_co_purchased.co_buyer_count as double) as score
    from customers_anchored
    inner join customer_history_sizes
        on customers_anchored.customer_id = customer_history_sizes.customer_id
    inner join products_co_purchased
        on
            customers_anchored.anchor_product_id = products_co_purchased.anchor_product_id
            and customer_history_sizes.product_candidate_limit >= products_co_purchased.candidate_rank
),

-- best sellers (net spend) over the 12 months up to as-of
recent_sales as (
    select
        daily_items.customer_id,
        daily_items.item_id as product_id,
        daily_items.spend_amount
    from daily_items
    cross join analysis_dates
    where
        daily_items.item_level = 'product'
        and daily_items.order_date > {{ add_months('analysis_dates.as_of_date', -12) }}
),

segment_sales as (
    select
        coalesce(customers.segment, '') as segment_key,
        recent_sales.product_id,
        sum(recent_sales.spend_amount) as revenue
    from recent_sales
    inner join customers
        on recent_sales.customer_id = customers.customer_id
    group by
        coalesce(customers.segment, ''),
        recent_sales.product_id
    having sum(recent_sales.spend_amount) > 0
),

segment_sales_ranked as (
    select
        segment_sales.*,
        row_number() over (
            partition by segment_sales.segment_key
            order by segment_sales.revenue desc nulls last, segment_sales.product_id asc nulls last
        ) as candidate_rank
    from segment_sales
),

segment_candidates as (
    select
        customer_history_sizes.customer_id,
        segment_sales_ranked.product_id,
        'popular_in_segment' as reason,
        customer_history_sizes.segment_key as reason_basis,
        segment_sales_ranked.revenue as score
    from customer_history_sizes
    inner join segment_sales_ranked
        on
            customer_history_sizes.segment_key = segment_sales_ranked.segment_key
            and customer_history_sizes.product_candidate_limit >= segment_sales_ranked.candidate_rank
),

product_sales as (
    select
        recent_sales.product_id,
        products.category,
        sum(recent_sales.spend_amount) as revenue
    from recent_sales
    inner join products
        on recent_sales.product_id = products.product_id
    where products.category is not null
    group by
        recent_sales.product_id,
        products.category
    having sum(recent_sales.spend_amount) > 0
),

category_sales_ranked as (
    select
        product_sales.*,
        row_number() over (
            partition by product_sales.category
            order by product_sales.revenue desc nulls last, product_sales.product_id asc nulls last
        ) as category_rank
    from product_sales
),

-- the top N of each category, ranked across categories: a customer who bought k categories
-- finds at least N of them outside those k within the first N x (k + 1)
category_leaders as (
    select
        category_sales_ranked.*,
        row_number() over (
            order by category_sales_ranked.revenue desc nulls last, category_sales_ranked.product_id asc nulls last
        ) as candidate_rank
    from category_sales_ranked
    where category_sales_ranked.category_rank <= {{ no_limit if match_tags else per_reason }}
),

category_candidates as (
    select
        customer_history_sizes.customer_id,
        category_leaders.product_id,
        'popular_category_not_bought' as reason,
        category_leaders.category as reason_basis,
        category_leaders.revenue as score
    from customer_history_sizes
    inner join category_leaders
        on customer_history_sizes.category_candidate_limit >= category_leaders.candidate_rank
    left join customer_categories
        on
            customer_history_sizes.customer_id = customer_categories.customer_id
            and category_leaders.category = customer_categories.category
    where customer_categories.customer_id is null
),

candidates as (
    select * from also_bought_candidates
    union all
    select * from segment_candidates
    union all
    select * from category_candidates
),

not_bought_candidates as (
    select candidates.*
    from candidates
    left join customer_products
        on
            candidates.customer_id = customer_products.customer_id
            and candidates.product_id = customer_products.product_id
    where customer_products.customer_id is null
),

{%- if match_tags %}

    product_tags as (
        select distinct
            products.product_id,
            {{ unnest_split('products.tags', '|') }} as tag
        from products
        where products.tags is not null
    ),
    {%- if tag_groups %}

        -- `group:value`: the group is the text before the first ':' (trimmed, lower case), the
        -- value the rest (trimmed); a tag without a group has a null tag_group
        product_tags_grouped as (
            select
                product_tags.product_id,
                case
                    when instr(product_tags.tag, ':') > 1
                        then lower(trim(substr(product_tags.tag, 1, instr(product_tags.tag, ':') - 1)))
                end as tag_group,
                trim(substr(product_tags.tag, instr(product_tags.tag, ':') + 1)) as tag_value
            from product_tags
        ),

        -- only tags of the discovery_match_tag_groups match, by group and value
        product_match_tags as (
            select distinct
                product_tags_grouped.product_id,
                concat(product_tags_grouped.tag_group, ':', product_tags_grouped.tag_value) as match_tag
            from product_tags_grouped
            where
                product_tags_grouped.tag_group in ({{ tag_group_literals | join(', ') }})
                and product_tags_grouped.tag_value != ''
        ),
    {%- else %}

        -- any tag matches, as written
        product_match_tags as (
            select
                product_tags.product_id,
                product_tags.tag as match_tag
            from product_tags
            where product_tags.tag != ''
        ),
    {%- endif %}

    customer_tags as (
        select distinct
            customer_products.customer_id,
            product_match_tags.match_tag
        from customer_products
        inner join product_match_tags
            on customer_products.product_id = product_match_tags.product_id
        where customer_products.is_bought
    ),

    tag_matched_pairs as (
        select distinct
            not_bought_candidates.customer_id,
            not_bought_candidates.product_id
        from not_bought_candidates
        inner join product_match_tags
            on not_bought_candidates.product_id = product_match_tags.product_id
        inner join customer_tags
            on
                not_bought_candidates.customer_id = customer_tags.customer_id
                and product_match_tags.match_tag = customer_tags.match_tag
    ),

    eligible_candidates as (
        select not_bought_candidates.*
        from not_bought_candidates
        inner join tag_matched_pairs
            on
                not_bought_candidates.customer_id = tag_matched_pairs.customer_id
                and not_bought_candidates.product_id = tag_matched_pairs.product_id
    ),
{%- else %}

    eligible_candidates as (
        select * from not_bought_candidates
    ),
{%- endif %}

ranked as (
    select
        eligible_candidates.*,
        row_number() over (
            partition by eligible_candidates.customer_id, eligible_candidates.reason
            order by eligible_candidates.score desc nulls last, eligible_candidates.product_id asc nulls last
        ) as recommendation_rank
    from eligible_candidates
),

final as (
    select
        ranked.customer_id,
        ranked.product_id,
        cast(ranked.recommendation_rank as integer) as rank,
        ranked.reason,
        ranked.score,
        ranked.reason_basis,
        products.product_name,
        products.category
    from ranked
    left join products
        on ranked.product_id = products.product_id
    where ranked.recommendation_rank <= {{ per_reason }}
)

select * from final
