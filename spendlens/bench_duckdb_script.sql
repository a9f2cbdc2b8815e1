-- The race's plain DuckDB script (issue 24, item 3): the rows of customer_spend_profile,
-- customer_rfm and customer_classifications from the raw files, each mart one query (one COPY)
-- over the views below, the way one would write it by hand without dbt. It assumes what
-- `spendlens bench` generates (clean Parquet files, the default vars and seeds; see
-- spendlens/bench_polars.py). spendlens/bench_duckdb_script.py fills in {raw}, {out}, {seeds},
-- {threads} and {memory} and runs the steps (each starts with a `-- step:` line) in one
-- connection, timing each.

-- step: prepare
set threads = {threads};
set memory_limit = '{memory}';
set preserve_insertion_order = false;
set enable_progress_bar = false;

create temp view source_lines as
select
    order_id,
    customer_id,
    product_id,
    cast(ordered_at as date) as ordered_date,
    cast(quantity as double) as quantity,
    coalesce(cast(line_amount as double), quantity * cast(unit_price as double)) as amount,
    case when isfinite(unit_cost) and unit_cost >= 0 then cast(unit_cost as double) end as unit_cost,
    nullif(upper(trim(currency)), '') as currency
from read_parquet('{raw}/order_lines.parquet');

-- the most common currency (ties: the alphabetically last), USD without any
create temp view reporting as
select coalesce(
    (select currency from source_lines where currency is not null
     group by currency order by count(*) desc, currency desc limit 1),
    'USD'
) as currency;

create temp view products as
select
    trim(product_id) as product_id,
    coalesce(nullif(trim(category), ''), 'Uncategorised') as category,
    case when isfinite(unit_cost) and unit_cost >= 0 then cast(unit_cost as double) end as unit_cost
from read_parquet('{raw}/products.parquet');

create temp view customers as
select trim(customer_id) as customer_id, nullif(trim(segment), '') as segment
from read_parquet('{raw}/customers.parquet');

create temp view rates as
select upper(trim(currency)) as currency, cast(rate_date as date) as rate_date, cast(rate_to_reporting as double) as rate
from read_parquet('{raw}/fx_rates.parquet')
where isfinite(rate_to_reporting) and rate_to_reporting > 0;

-- each currency's rate on every day from its first rate on (the latest on or before the day):
-- the lines then find theirs by a hash join instead of an as-of join of every line
create temp table daily_rates as
with valid as (
    select
        currency,
        rate_date,
        rate,
        coalesce(
            lead(rate_date) over (partition by currency order by rate_date) - 1,
            greatest((select max(rate_date) from rates), (select max(ordered_date) from source_lines))
        ) as valid_to
    from (select currency, rate_date, any_value(rate) as rate from rates group by all)
)

select currency, cast(unnest(generate_series(rate_date, valid_to, interval 1 day)) as date) as rate_date, rate
from valid;

-- the usable lines in the reporting currency, read once (as dbt's int_order_lines_validated)
create temp table lines as
with rated as (
    select
        source_lines.*,
        products.category,
        products.unit_cost as product_unit_cost,
        case
            when coalesce(source_lines.currency, reporting.currency) = reporting.currency then 1.0
            else daily_rates.rate
        end as rate
    from source_lines
    cross join reporting
    inner join products on source_lines.product_id = products.product_id
    left join daily_rates
        on
            source_lines.currency = daily_rates.currency
            and source_lines.ordered_date = daily_rates.rate_date
)

select
    order_id,
    customer_id,
    product_id,
    category,
    ordered_date,
    quantity,
    amount * rate as spend,
    quantity * coalesce(unit_cost * rate, product_unit_cost) as cost
from rated
where rate is not null;

create temp table as_of as
select max(ordered_date) as as_of from lines;

-- the default spend windows on the standard calendar (dbt_project.yml var spend_windows)
create temp table windows as
with ends as (
    select
        as_of,
        case when as_of = last_day(as_of) then as_of else cast(date_trunc('month', as_of) as date) - 1 end
            as complete_end
    from as_of
),

complete_windows as (
    select
        window_order,
        window_name,
        cast(date_trunc('month', complete_end) - to_months(periods - 1) as date) as window_start,
        complete_end as window_end,
        cast(date_trunc('month', complete_end) - to_months(2 * periods - 1) as date) as prior_window_start,
        cast(date_trunc('month', complete_end) - to_months(periods - 1) as date) - 1 as prior_window_end,
        periods,
        periods as prior_periods
    from ends
    cross join (values (1, 'last_3_months', 3), (2, 'last_12_months', 12)) as settings (window_order, window_name, periods)
)

select * from complete_windows
union all
select
    3,
    'fiscal_ytd',
    cast(date_trunc('year', as_of) as date),
    as_of,
    cast(date_trunc('year', as_of) - to_years(1) as date),
    cast(as_of - to_years(1) as date),
    1,
    1
from ends;

-- the classification timeframe: 12 months ending at as-of (a month-end maps to a month-end)
create temp table timeframe as
with shifted as (
    select
        as_of,
        case
            when as_of = last_day(as_of) then last_day(cast(date_trunc('month', as_of) - to_months(k) as date))
            else least(
                cast(date_trunc('month', as_of) - to_months(k) as date) + cast(day(as_of) - 1 as integer),
                last_day(cast(date_trunc('month', as_of) - to_months(k) as date))
            )
        end as shifted_date,
        k
    from as_of
    cross join (values (12), (24)) as back (k)
)

select
    max(as_of) as as_of,
    max(shifted_date) filter (where k = 12) + 1 as timeframe_start,
    max(shifted_date) filter (where k = 24) + 1 as previous_timeframe_start,
    max(shifted_date) filter (where k = 12) as previous_timeframe_end
from shifted;

-- step: customer_spend_profile
copy (
    with bundles as (
        select distinct trim(bundle_id) as bundle_id, trim(product_id) as product_id
        from read_parquet('{raw}/product_bundles.parquet')
    ),

    items as (
        select customer_id, 'product' as item_level, product_id as item_id, ordered_date, order_id, quantity, spend, cost
        from lines
        union all
        select customer_id, 'category', category, ordered_date, order_id, quantity, spend, cost
        from lines
        union all
        select lines.customer_id, 'bundle', bundles.bundle_id, ordered_date, order_id, quantity, spend, cost
        from lines inner join bundles on lines.product_id = bundles.product_id
    ),

    -- per order first, then per day: plain sums instead of count(distinct order_id)
    order_items as (
        select
            customer_id,
            item_level,
            item_id,
            ordered_date,
            order_id,
            sum(spend) as spend,
            sum(cost) as cost,
            sum(case when cost is null then spend else 0 end) as uncosted,
            sum(quantity) as quantity,
            bool_or(quantity > 0) as bought
        from items
        group by all
    ),

    daily as (
        select
            customer_id,
            item_level,
            item_id,
            ordered_date,
            sum(spend) as spend,
            sum(cost) as cost,
            sum(uncosted) as uncosted,
            sum(quantity) as quantity,
            count(*) filter (where bought) as order_count
        from order_items
        group by all
    ),

    window_days as materialized (
        select
            windows.window_order,
            cast(day as date) as day,
            cast(day as date) between windows.window_start and windows.window_end as in_window
        from windows
        cross join unnest(generate_series(windows.prior_window_start, windows.window_end, interval 1 day)) as days (day)
        where
            cast(day as date) between windows.window_start and windows.window_end
            or cast(day as date) between windows.prior_window_start and windows.prior_window_end
    ),

    window_items as (
        select
            daily.customer_id,
            daily.item_level,
            daily.item_id,
            window_days.window_order,
            sum(daily.spend) filter (where in_window) as raw_spend,
            round(coalesce(sum(daily.spend) filter (where in_window), 0), 6) as total_spend,
            round(sum(daily.cost) filter (where in_window), 6) as cost_amount,
            round(coalesce(sum(daily.uncosted) filter (where in_window), 0), 6) as uncosted_spend,
            round(coalesce(sum(daily.quantity) filter (where in_window), 0), 6) as quantity,
            coalesce(sum(daily.order_count) filter (where in_window), 0) as order_count,
            round(coalesce(sum(daily.spend) filter (where not in_window), 0), 6) as prior_total_spend
        from daily
        inner join window_days on daily.ordered_date = window_days.day
        group by all
    ),

    bought as (
        select distinct customer_id, item_level, item_id from daily where quantity > 0
    ),

    with_segment as (
        select window_items.*, customers.segment
        from window_items
        left join customers on window_items.customer_id = customers.customer_id
    ),

    customer_totals as (
        select customer_id, window_order, round(sum(total_spend), 6) as customer_spend
        from window_items
        where item_level = 'product'
        group by all
    ),

    segment_items as (
        select segment, item_level, item_id, window_order, round(sum(raw_spend), 6) as segment_item_spend
        from with_segment
        where segment is not null
        group by all
    ),

    segment_totals as (
        select segment, window_order, round(sum(segment_item_spend), 6) as segment_spend
        from segment_items
        where item_level = 'product'
        group by all
    ),

    shares as (
        select
            with_segment.*,
            bought.customer_id is not null as has_purchased,
            case when customer_totals.customer_spend > 0 then customer_totals.customer_spend end as customer_spend,
            case when with_segment.segment is not null then coalesce(segment_items.segment_item_spend, 0) end
                as segment_item_spend,
            case when segment_totals.segment_spend > 0 then segment_totals.segment_spend end as segment_spend,
            windows.* exclude (window_order)
        from with_segment
        inner join windows using (window_order)
        left join bought using (customer_id, item_level, item_id)
        left join customer_totals using (customer_id, window_order)
        left join segment_items using (segment, item_level, item_id, window_order)
        left join segment_totals using (segment, window_order)
    )

    select
        customer_id,
        item_level,
        item_id,
        window_name,
        window_start,
        window_end,
        has_purchased,
        total_spend,
        total_spend / nullif(periods, 0) as avg_spend_per_period,
        prior_total_spend,
        prior_total_spend / nullif(prior_periods, 0) as prior_avg_spend_per_period,
        100.0 * (total_spend / periods - prior_total_spend / prior_periods)
        / case when prior_total_spend / prior_periods > 0 then prior_total_spend / prior_periods end
            as spend_change_pct,
        quantity,
        order_count,
        100.0 * ((total_spend - uncosted_spend) - cost_amount)
        / nullif(case when cost_amount is not null then total_spend - uncosted_spend end, 0) as margin_pct,
        100.0 * (total_spend * segment_spend)
        / nullif(customer_spend * case when segment_item_spend > 0 then segment_item_spend end, 0)
            as share_of_wallet_pct,
        100.0 * segment_item_spend / nullif(segment_spend, 0) as segment_share_pct,
        segment,
        prior_window_start,
        prior_window_end,
        periods,
        prior_periods,
        uncosted_spend
    from shares
) to '{out}/customer_spend_profile.parquet' (format parquet);

-- step: orders
-- one row per order x day; an order is a purchase on the day of its earliest positive line
create temp table orders as
with order_days as (
    select order_id, customer_id, ordered_date, sum(spend) as spend, bool_or(quantity > 0) as bought
    from lines
    where ordered_date <= (select as_of from as_of)
    group by all
)

select
    *,
    coalesce(
        ordered_date = min(case when bought then ordered_date end) over (partition by order_id, customer_id),
        false
    ) as is_purchase
from order_days;

-- step: customer_rfm
copy (
    with measured as (
        select
            orders.customer_id,
            cast(count(*) filter (where is_purchase) as integer) as frequency,
            sum(spend) as monetary,
            max(ordered_date) filter (where is_purchase) as last_order_date,
            min(ordered_date) filter (where is_purchase) as first_order_date
        from orders
        group by all
        having count(*) filter (where is_purchase) > 0
    ),

    ranked as (
        select
            measured.*,
            customers.segment,
            cast((select as_of from as_of) - last_order_date as integer) as recency_days,
            count(*) over () as customer_count
        from measured
        left join customers on measured.customer_id = customers.customer_id
    ),

    scored as (
        select
            *,
            cast(least(5, 1 + floor(5 * (rank() over (order by recency_days desc) - 1) / customer_count)) as integer)
                as r_score,
            cast(least(5, 1 + floor(5 * (rank() over (order by frequency) - 1) / customer_count)) as integer) as f_score,
            cast(least(5, 1 + floor(5 * (rank() over (order by round(monetary, 6)) - 1) / customer_count)) as integer)
                as m_score,
            min(recency_days) over () + (max(recency_days) over () - min(recency_days) over ()) / 3.0 as active_max,
            min(recency_days) over () + 2 * (max(recency_days) over () - min(recency_days) over ()) / 3.0 as lapsing_max
        from ranked
    ),

    staged as (
        select
            *,
            cast(ceil((f_score + m_score) / 2.0) as integer) as fm_score,
            case
                when recency_days <= active_max then 'active'
                when recency_days <= greatest(active_max, lapsing_max) then 'lapsing'
                else 'inactive'
            end as lifecycle_stage
        from scored
    )

    select
        staged.customer_id,
        staged.recency_days,
        staged.frequency,
        staged.monetary,
        staged.r_score,
        staged.f_score,
        staged.m_score,
        staged.fm_score,
        staged.r_score || staged.f_score || staged.m_score as rfm_cell,
        segments.segment as rfm_segment,
        staged.lifecycle_stage,
        personas.persona,
        staged.segment,
        staged.last_order_date,
        (select as_of from as_of) as as_of_date,
        staged.first_order_date,
        (select as_of from as_of) - staged.first_order_date < 90 as is_new_customer
    from staged
    left join read_csv('{seeds}/rfm_segments.csv', header = true) as segments
        on staged.r_score = segments.r_score and staged.fm_score = segments.fm_score
    left join read_csv('{seeds}/rfm_personas.csv', header = true) as personas
        on
            staged.lifecycle_stage = personas.lifecycle_stage
            and staged.f_score + staged.m_score between personas.min_fm_sum and personas.max_fm_sum
) to '{out}/customer_rfm.parquet' (format parquet);

-- step: customer_classifications
copy (
    with customer_days as (
        select
            customer_id,
            ordered_date,
            sum(spend) as spend,
            count(*) filter (where is_purchase) as purchase_orders,
            bool_or(is_purchase) as is_purchase_day
        from orders
        group by all
    ),

    measured as (
        select
            customer_days.customer_id,
            coalesce(customers.segment, '(no segment)') as segment,
            min(ordered_date) filter (where is_purchase_day) as first_order_date,
            max(ordered_date) filter (where is_purchase_day) as last_order_date,
            count(*) filter (where is_purchase_day) as order_day_count,
            min(ordered_date) filter (where is_purchase_day and ordered_date <= previous_timeframe_end)
                as previous_first_order_date,
            max(ordered_date) filter (where is_purchase_day and ordered_date <= previous_timeframe_end)
                as previous_last_order_date,
            count(*) filter (where is_purchase_day and ordered_date <= previous_timeframe_end)
                as previous_order_day_count,
            round(coalesce(sum(spend) filter (where ordered_date between timeframe_start and as_of), 0), 6) as revenue,
            round(
                coalesce(sum(spend) filter (where ordered_date between previous_timeframe_start and previous_timeframe_end), 0),
                6
            ) as previous_revenue,
            coalesce(sum(purchase_orders) filter (where ordered_date between timeframe_start and as_of), 0) as order_count
        from customer_days
        cross join timeframe
        inner join customers on customer_days.customer_id = customers.customer_id
        group by all
        having count(*) filter (where is_purchase_day) > 0
    ),

    gaps as (
        select
            *,
            case
                when order_day_count >= 2 then (last_order_date - first_order_date) / (order_day_count - 1)
            end as gap,
            case
                when previous_order_day_count >= 2
                    then (previous_last_order_date - previous_first_order_date) / (previous_order_day_count - 1)
            end as previous_gap
        from measured
    ),

    risks as (
        select
            gaps.*,
            (timeframe.as_of - last_order_date)
            / nullif(coalesce(gap, median(gap) over (partition by segment), median(gap) over ()), 0) as risk_score,
            (timeframe.previous_timeframe_end - previous_last_order_date)
            / nullif(
                coalesce(previous_gap, median(previous_gap) over (partition by segment), median(previous_gap) over ()),
                0
            ) as previous_risk_score
        from gaps
        cross join timeframe
    ),

    metrics as (
        select
            *,
            100.0 * (risk_score - previous_risk_score)
            / case when previous_risk_score > 0 then previous_risk_score end as risk_change,
            case
                when revenue > 0
                    then 100.0 * rank() over (partition by segment order by revenue desc)
                    / count(*) filter (where revenue > 0) over (partition by segment)
            end as revenue_rank,
            100.0 * (revenue - previous_revenue) / case when previous_revenue > 0 then previous_revenue end
                as revenue_change,
            case
                when sum(revenue) over (partition by segment) > 0
                    then 100.0 * sum(revenue) over (
                        partition by segment order by revenue desc, customer_id
                        rows between unbounded preceding and current row
                    ) / sum(revenue) over (partition by segment)
            end as revenue_share,
            cast(order_count as double) as order_count_metric
        from risks
    ),

    long as (
        select
            metrics.*,
            types.classification_type,
            case types.classification_type
                when 'risk_score' then risk_score
                when 'risk_change' then risk_change
                when 'revenue_rank' then revenue_rank
                when 'revenue_change' then revenue_change
                when 'revenue_share' then revenue_share
                when 'order_count' then order_count_metric
            end as metric_value
        from metrics
        cross join (
            values ('risk_score'), ('risk_change'), ('revenue_rank'), ('revenue_change'), ('revenue_share'), ('order_count')
        ) as types (classification_type)
    ),

    bands as (
        select
            classification_type,
            band_order,
            lag(upper_bound) over (partition by classification_type order by band_order) as lower_bound,
            upper_bound,
            label,
            color
        from read_csv('{seeds}/classification_bands.csv', header = true)
    )

    select
        long.customer_id,
        long.segment,
        long.classification_type,
        cast(long.metric_value as double) as metric_value,
        bands.band_order,
        bands.label as band_label,
        bands.color as band_color,
        bands.band_order is not null as is_eligible,
        case
            when long.metric_value is null then 'no metric value'
            when bands.band_order is null then 'outside every band'
        end as ineligible_reason,
        timeframe.as_of as as_of_date,
        timeframe.timeframe_start,
        timeframe.as_of as timeframe_end,
        timeframe.previous_timeframe_start,
        timeframe.previous_timeframe_end,
        long.revenue,
        long.previous_revenue,
        long.order_count,
        long.last_order_date
    from long
    cross join timeframe
    left join bands
        on
            long.classification_type = bands.classification_type
            and (bands.lower_bound is null or long.metric_value > bands.lower_bound)
            and (bands.upper_bound is null or long.metric_value <= bands.upper_bound)
) to '{out}/customer_classifications.parquet' (format parquet);
