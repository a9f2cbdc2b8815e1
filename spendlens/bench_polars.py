"""The race's polars baseline (issue 24, item 3): the rows of customer_spend_profile (every
window, every item level), customer_rfm and customer_classifications (every type) computed from
the raw files with polars' lazy API, written to <mart>.parquet for the bench to compare with the
marts (spendlens.bench.compare_with_marts).

It assumes what `spendlens bench` generates: clean Parquet files (no bad rows: no missing or
duplicate keys, no unknown customers or products, no future dates, a rate for every foreign
line) and the default vars (standard calendar, default spend windows, 12-month classification
timeframe, 5 RFM bins, the seeds as shipped). The definitions are those of docs/metrics.md and of
the models, computed the way a polars user would: the lines read once, then each mart a lazy
query over them, with the intermediate results it reads more than once collected (polars'
streaming engine, the default, would otherwise compute them again for each reader).
polars is a bench-only dependency (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import polars as pl

from spendlens.bench import (
    CLASSIFICATION_TYPES,
    classification_bands,
    classification_timeframe,
    default_spend_windows,
    read_seed,
    write_timings,
)

NO_SEGMENT = "(no segment)"


def _text(column: str) -> pl.Expr:
    """Trimmed text, blank = null."""
    value = pl.col(column).cast(pl.String).str.strip_chars()
    return pl.when(value != "").then(value)


def _round6(expr: pl.Expr) -> pl.Expr:
    """DuckDB's round(x, 6): half away from zero."""
    return (expr * 1e6).round(0, mode="half_away_from_zero") / 1e6


def _divide(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """numerator / denominator, null when the denominator is 0 or null (macros/safe_divide.sql)."""
    return numerator / pl.when(denominator != 0).then(denominator)


def _pct_change(new: pl.Expr, old: pl.Expr) -> pl.Expr:
    """100 x (new - old) / old, null unless old > 0."""
    return 100.0 * (new - old) / pl.when(old > 0).then(old)


def order_lines(raw: Path) -> tuple[pl.LazyFrame, date]:
    """The usable order lines in the reporting currency, and the as-of date (the latest order
    date): customer_id, order_id, product_id, category, ordered_date, quantity, spend, cost."""
    scan = pl.scan_parquet(raw / "order_lines.parquet")
    currency = pl.col("currency").cast(pl.String).str.strip_chars().str.to_uppercase()
    votes, last = pl.collect_all([
        scan.select(currency.alias("currency")).filter(pl.col("currency").is_not_null() & (pl.col("currency") != ""))
        .group_by("currency").len(),
        scan.select(pl.col("ordered_at").cast(pl.Date).max().alias("as_of")),
    ])
    as_of: date = last.item()
    # the most common currency (ties: the alphabetically last), USD without any
    reporting = (votes.sort(["len", "currency"], descending=True)["currency"].first() if len(votes) else None) or "USD"
    products = pl.scan_parquet(raw / "products.parquet").select(
        _text("product_id").cast(pl.Categorical).alias("product_id"),
        pl.coalesce(_text("category"), pl.lit("Uncategorised")).cast(pl.Categorical).alias("category"),
        pl.col("unit_cost").cast(pl.Float64).alias("product_unit_cost"),
    ).with_columns(
        pl.when(pl.col("product_unit_cost").is_finite() & (pl.col("product_unit_cost") >= 0))
        .then(pl.col("product_unit_cost")).alias("product_unit_cost"))
    lines = scan.select(
        pl.col("order_id").cast(pl.Categorical),
        pl.col("customer_id").cast(pl.Categorical),
        pl.col("product_id").cast(pl.Categorical),
        pl.col("ordered_at").cast(pl.Date).alias("ordered_date"),
        pl.col("quantity").cast(pl.Float64),
        pl.coalesce(pl.col("line_amount").cast(pl.Float64),
                    pl.col("quantity").cast(pl.Float64) * pl.col("unit_price").cast(pl.Float64)).alias("amount"),
        pl.col("unit_cost").cast(pl.Float64),
        pl.coalesce(pl.when(currency != "").then(currency), pl.lit(reporting)).alias("currency"),
    )
    foreign = votes.filter(pl.col("currency") != reporting)
    if len(foreign):
        lines = lines.join(_daily_rates(raw, as_of), on=["currency", "ordered_date"], how="left").with_columns(
            pl.when(pl.col("currency") == reporting).then(1.0).otherwise(pl.col("rate")).alias("rate")
        ).filter(pl.col("rate").is_not_null())
    else:
        lines = lines.with_columns(pl.lit(1.0).alias("rate"))
    line_cost = pl.when(pl.col("unit_cost").is_finite() & (pl.col("unit_cost") >= 0)).then(pl.col("unit_cost"))
    lines = lines.join(products, on="product_id", how="inner").select(
        "order_id", "customer_id", "product_id", "category", "ordered_date", "quantity",
        (pl.col("amount") * pl.col("rate")).alias("spend"),
        (pl.col("quantity") * pl.coalesce(line_cost * pl.col("rate"), pl.col("product_unit_cost"))).alias("cost"),
    )
    return lines, as_of


def _daily_rates(raw: Path, as_of: date) -> pl.LazyFrame:
    """Each currency's rate on every day from its first rate on: the latest rate on or before."""
    rates = pl.read_parquet(raw / "fx_rates.parquet").select(
        _text("currency").str.to_uppercase().alias("currency"),
        pl.col("rate_date").cast(pl.Date),
        pl.col("rate_to_reporting").cast(pl.Float64).alias("rate"),
    ).filter(pl.col("rate").is_finite() & (pl.col("rate") > 0)).unique(["currency", "rate_date"], keep="first")
    last = max(rates["rate_date"].max(), as_of)  # type: ignore[type-var]
    days = rates.group_by("currency").agg(pl.date_range(pl.col("rate_date").min(), pl.lit(last)).alias("ordered_date"))
    return (days.explode("ordered_date")
            .join(rates.rename({"rate_date": "ordered_date"}), on=["currency", "ordered_date"], how="left")
            .sort(["currency", "ordered_date"])
            .with_columns(pl.col("rate").forward_fill().over("currency"))
            .lazy())


def customers(raw: Path) -> pl.LazyFrame:
    return pl.scan_parquet(raw / "customers.parquet").select(
        _text("customer_id").cast(pl.Categorical).alias("customer_id"), _text("segment").alias("segment")
    ).unique("customer_id", keep="first", maintain_order=True)


def spend_profile(lines: pl.LazyFrame, raw: Path, as_of: date) -> pl.LazyFrame:
    """customer_spend_profile: customer x item (product, category, bundle) x window."""
    windows = default_spend_windows(as_of)
    bundles = pl.scan_parquet(raw / "product_bundles.parquet").select(
        _text("bundle_id").cast(pl.Categorical).alias("bundle_id"),
        _text("product_id").cast(pl.Categorical).alias("product_id"),
    ).drop_nulls().unique()
    first_day = min(window.prior_start for window in windows)
    lines = lines.filter(pl.col("ordered_date") <= as_of)
    columns = ["customer_id", "item_level", "item_id", "ordered_date", "order_id", "quantity", "spend", "cost"]
    items = pl.concat([
        lines.with_columns(pl.lit("product").alias("item_level"), pl.col("product_id").alias("item_id"))
        .select(columns),
        lines.with_columns(pl.lit("category").alias("item_level"), pl.col("category").alias("item_id")).select(columns),
        lines.join(bundles, on="product_id").with_columns(
            pl.lit("bundle").alias("item_level"), pl.col("bundle_id").alias("item_id")).select(columns),
    ])
    key = ["customer_id", "item_level", "item_id"]
    # one row per customer x item x day: money, quantity, and the orders with a purchase of it
    # (grouped per order first: plain sums are much faster than filtered or distinct ones)
    daily = items.group_by([*key, "ordered_date", "order_id"]).agg(
        pl.col("spend").sum(),
        pl.col("cost").sum(),
        pl.col("cost").count().alias("costed_lines"),
        pl.when(pl.col("cost").is_null()).then(pl.col("spend")).otherwise(0.0).sum().alias("uncosted"),
        pl.col("quantity").sum(),
        (pl.col("quantity") > 0).any().alias("bought"),
    ).group_by([*key, "ordered_date"]).agg(
        pl.col("spend", "cost", "costed_lines", "uncosted", "quantity").sum(),
        pl.col("bought").sum().alias("order_count"),
    )
    # read three times below: computed once (polars' streaming engine would run it again for each)
    daily = daily.collect().lazy()
    # has_purchased: a day with a positive net quantity of the item, any time up to as-of
    bought = daily.filter(pl.col("quantity") > 0).select(key).unique().with_columns(pl.lit(True).alias("has_purchased"))
    window_days = pl.concat([
        pl.DataFrame({
            "ordered_date": pl.date_range(window.prior_start, window.end, eager=True),
        }).with_columns(
            pl.lit(window.order, dtype=pl.Int32).alias("window_order"),
            pl.col("ordered_date").is_between(window.start, window.end).alias("in_window"),
        ).filter(pl.col("in_window") | pl.col("ordered_date").is_between(window.prior_start, window.prior_end))
        for window in windows
    ]).lazy()

    def inside(column: str, otherwise: float | int = 0.0) -> pl.Expr:
        return pl.when(pl.col("in_window")).then(pl.col(column)).otherwise(otherwise)

    window_items = daily.filter(pl.col("ordered_date") >= first_day).join(window_days, on="ordered_date").select(
        *key, "window_order",
        inside("spend").alias("raw_spend"),
        inside("cost").alias("cost_amount"),
        inside("costed_lines", 0).alias("costed_lines"),
        inside("uncosted").alias("uncosted_spend"),
        inside("quantity").alias("quantity"),
        inside("order_count", 0).alias("order_count"),
        pl.when(pl.col("in_window")).then(0.0).otherwise(pl.col("spend")).alias("prior_total_spend"),
    ).group_by([*key, "window_order"]).agg(pl.all().sum()).with_columns(
        _round6(pl.col("raw_spend")).alias("total_spend"),
        pl.when(pl.col("costed_lines") > 0).then(_round6(pl.col("cost_amount"))).alias("cost_amount"),
        _round6(pl.col("uncosted_spend")).alias("uncosted_spend"),
        _round6(pl.col("quantity")).alias("quantity"),
        pl.col("order_count").cast(pl.Int64),
        _round6(pl.col("prior_total_spend")).alias("prior_total_spend"),
    ).join(customers(raw), on="customer_id", how="left").collect().lazy()
    customer_totals = window_items.filter(pl.col("item_level") == "product").group_by(
        ["customer_id", "window_order"]).agg(_round6(pl.col("total_spend").sum()).alias("customer_spend"))
    segment_items = window_items.filter(pl.col("segment").is_not_null()).group_by(
        ["segment", "item_level", "item_id", "window_order"]).agg(
        _round6(pl.col("raw_spend").sum()).alias("segment_item_spend"))
    segment_totals = segment_items.filter(pl.col("item_level") == "product").group_by(
        ["segment", "window_order"]).agg(_round6(pl.col("segment_item_spend").sum()).alias("segment_spend"))
    bounds = pl.DataFrame({
        "window_order": [w.order for w in windows], "window_name": [w.name for w in windows],
        "window_start": [w.start for w in windows], "window_end": [w.end for w in windows],
        "prior_window_start": [w.prior_start for w in windows], "prior_window_end": [w.prior_end for w in windows],
        "periods": [w.periods for w in windows], "prior_periods": [w.prior_periods for w in windows],
    }, schema_overrides={"window_order": pl.Int32, "periods": pl.Int32, "prior_periods": pl.Int32}).lazy()
    shares = (window_items
              .join(bought, on=key, how="left")
              .join(customer_totals, on=["customer_id", "window_order"], how="left")
              .join(segment_items, on=["segment", "item_level", "item_id", "window_order"], how="left")
              .join(segment_totals, on=["segment", "window_order"], how="left")
              .join(bounds, on="window_order"))
    total, prior = pl.col("total_spend"), pl.col("prior_total_spend")
    average = _divide(total, pl.col("periods"))
    prior_average = _divide(prior, pl.col("prior_periods"))
    customer_spend = pl.col("customer_spend")
    customer_spend = pl.when(customer_spend > 0).then(customer_spend)
    segment_item = pl.when(pl.col("segment").is_not_null()).then(pl.col("segment_item_spend").fill_null(0.0))
    segment_spend = pl.col("segment_spend")
    segment_spend = pl.when(segment_spend > 0).then(segment_spend)
    costed = total - pl.col("uncosted_spend")
    return shares.select(
        "customer_id", "item_level", "item_id", "window_name", "window_start", "window_end",
        pl.col("has_purchased").fill_null(False),
        total,
        average.alias("avg_spend_per_period"),
        prior,
        prior_average.alias("prior_avg_spend_per_period"),
        _pct_change(average, prior_average).alias("spend_change_pct"),
        "quantity",
        "order_count",
        (100.0 * _divide(costed - pl.col("cost_amount"),
                         pl.when(pl.col("cost_amount").is_not_null()).then(costed))).alias("margin_pct"),
        (100.0 * _divide(total * segment_spend,
                         customer_spend * pl.when(segment_item > 0).then(segment_item))).alias("share_of_wallet_pct"),
        (100.0 * _divide(segment_item, segment_spend)).alias("segment_share_pct"),
        "segment", "prior_window_start", "prior_window_end", "periods", "prior_periods", "uncosted_spend",
    )


def order_days(lines: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """One row per order x day (int_orders_summarised): its money, and is_purchase on the day of
    the order's earliest line with a positive quantity."""
    days = lines.filter(pl.col("ordered_date") <= as_of).group_by(["order_id", "customer_id", "ordered_date"]).agg(
        pl.col("spend").sum(), (pl.col("quantity") > 0).any().alias("bought"))
    purchase_date = pl.when(pl.col("bought")).then(pl.col("ordered_date")).min().over(["order_id", "customer_id"])
    return days.with_columns((pl.col("ordered_date") == purchase_date).fill_null(False).alias("is_purchase"))


def rfm(orders: pl.LazyFrame, raw: Path, as_of: date) -> pl.LazyFrame:
    """customer_rfm: every customer with a purchase up to as-of."""
    purchase_date = pl.col("ordered_date").filter(pl.col("is_purchase"))
    measured = orders.group_by("customer_id").agg(
        pl.col("is_purchase").sum().cast(pl.Int32).alias("frequency"),
        pl.col("spend").sum().alias("monetary"),
        purchase_date.max().alias("last_order_date"),
        purchase_date.min().alias("first_order_date"),
    ).filter(pl.col("frequency") > 0).join(customers(raw), on="customer_id", how="left").with_columns(
        (pl.lit(as_of) - pl.col("last_order_date")).dt.total_days().cast(pl.Int32).alias("recency_days"))
    count = pl.len()

    def score(rank: pl.Expr) -> pl.Expr:
        # 1 + floor(5 x customers with a strictly worse value / customers), at most 5
        return pl.min_horizontal(pl.lit(5), 1 + (5 * (rank - 1).cast(pl.Float64) / count).floor()).cast(pl.Int32)

    recency = pl.col("recency_days")
    low, high = recency.min(), recency.max()
    active, lapsing = low + (high - low) / 3.0, low + 2 * (high - low) / 3.0
    scored = measured.with_columns(
        score(recency.rank("min", descending=True)).alias("r_score"),
        score(pl.col("frequency").rank("min")).alias("f_score"),
        score(_round6(pl.col("monetary")).rank("min")).alias("m_score"),
        pl.when(recency <= active).then(pl.lit("active"))
        .when(recency <= pl.max_horizontal(active, lapsing)).then(pl.lit("lapsing"))
        .otherwise(pl.lit("inactive")).alias("lifecycle_stage"),
    ).with_columns(((pl.col("f_score") + pl.col("m_score")) / 2.0).ceil().cast(pl.Int32).alias("fm_score"))
    segments = pl.DataFrame(read_seed("rfm_segments")).select(
        pl.col("r_score").cast(pl.Int32), pl.col("fm_score").cast(pl.Int32), pl.col("segment").alias("rfm_segment"))
    personas = pl.DataFrame(read_seed("rfm_personas")).select(
        "lifecycle_stage", pl.col("min_fm_sum").cast(pl.Int32), pl.col("max_fm_sum").cast(pl.Int32), "persona")
    persona = pl.lit(None, dtype=pl.String)
    for row in personas.iter_rows(named=True):
        fm_sum = pl.col("f_score") + pl.col("m_score")
        persona = pl.when((pl.col("lifecycle_stage") == row["lifecycle_stage"])
                          & fm_sum.is_between(row["min_fm_sum"], row["max_fm_sum"])).then(
            pl.lit(row["persona"])).otherwise(persona)
    return scored.join(segments.lazy(), on=["r_score", "fm_score"], how="left").select(
        "customer_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "fm_score",
        pl.concat_str(pl.col("r_score"), pl.col("f_score"), pl.col("m_score")).alias("rfm_cell"),
        "rfm_segment", "lifecycle_stage", persona.alias("persona"), "segment", "last_order_date",
        pl.lit(as_of).alias("as_of_date"), "first_order_date",
        ((pl.lit(as_of) - pl.col("first_order_date")).dt.total_days() < 90).alias("is_new_customer"),
    )


def classifications(orders: pl.LazyFrame, raw: Path, as_of: date) -> pl.LazyFrame:
    """customer_classifications: every customer with a purchase up to as-of x the six types."""
    frame = classification_timeframe(as_of)
    customer_days = orders.group_by(["customer_id", "ordered_date"]).agg(
        pl.col("spend").sum(), pl.col("is_purchase").sum().alias("purchase_orders"),
        pl.col("is_purchase").any().alias("is_purchase_day"))
    day = pl.col("ordered_date")
    purchase_day = day.filter(pl.col("is_purchase_day"))
    previous_day = day.filter(pl.col("is_purchase_day") & (day <= frame.previous_end))
    in_frame = day.is_between(frame.start, frame.end)
    measured = customer_days.group_by("customer_id").agg(
        purchase_day.min().alias("first_order_date"),
        purchase_day.max().alias("last_order_date"),
        purchase_day.len().alias("order_day_count"),
        previous_day.min().alias("previous_first_order_date"),
        previous_day.max().alias("previous_last_order_date"),
        previous_day.len().alias("previous_order_day_count"),
        _round6(pl.col("spend").filter(in_frame).sum()).alias("revenue"),
        _round6(pl.col("spend").filter(day.is_between(frame.previous_start, frame.previous_end)).sum())
        .alias("previous_revenue"),
        pl.col("purchase_orders").filter(in_frame).sum().cast(pl.Int64).alias("order_count"),
    ).filter(pl.col("order_day_count") > 0).join(customers(raw), on="customer_id", how="inner").with_columns(
        pl.col("segment").fill_null(NO_SEGMENT))

    def gap(first: str, last: str, count: str) -> pl.Expr:
        return pl.when(pl.col(count) >= 2).then(
            (pl.col(last) - pl.col(first)).dt.total_days() / (pl.col(count) - 1).cast(pl.Float64))

    def risk(last: pl.Expr, until: date, gap_column: str) -> pl.Expr:
        usual = pl.coalesce(pl.col(gap_column), pl.col(gap_column).median().over("segment"),
                            pl.col(gap_column).median())
        return _divide((pl.lit(until) - last).dt.total_days().cast(pl.Float64), usual)

    revenue = pl.col("revenue")
    segment_revenue = revenue.sum().over("segment")
    metrics = measured.with_columns(
        gap("first_order_date", "last_order_date", "order_day_count").alias("gap"),
        gap("previous_first_order_date", "previous_last_order_date", "previous_order_day_count").alias("previous_gap"),
    ).with_columns(
        risk(pl.col("last_order_date"), as_of, "gap").alias("risk_score"),
        risk(pl.col("previous_last_order_date"), frame.previous_end, "previous_gap").alias("previous_risk_score"),
        pl.when(revenue > 0).then(
            100.0 * revenue.rank("min", descending=True).over("segment")
            / (revenue > 0).sum().over("segment")).alias("revenue_rank"),
        _pct_change(revenue, pl.col("previous_revenue")).alias("revenue_change"),
        pl.when(segment_revenue > 0).then(
            100.0 * revenue.cum_sum().over("segment", order_by=[-revenue, pl.col("customer_id")])
            / segment_revenue).alias("revenue_share"),
        pl.col("order_count").cast(pl.Float64).alias("order_count_metric"),
    ).with_columns(_pct_change(pl.col("risk_score"), pl.col("previous_risk_score")).alias("risk_change"))
    bands = classification_bands()
    long = pl.concat([
        metrics.with_columns(
            pl.lit(kind).alias("classification_type"),
            pl.col("order_count_metric" if kind == "order_count" else kind).alias("metric_value"))
        for kind in CLASSIFICATION_TYPES
    ])
    value, kind = pl.col("metric_value"), pl.col("classification_type")
    band = pl.lit(None, dtype=pl.Int32)
    for name, rows in bands.items():
        chain = None
        for row in rows:
            test = value.is_not_null() if row.upper is None else value <= row.upper
            chain = (pl.when(test) if chain is None else chain.when(test)).then(pl.lit(row.order, dtype=pl.Int32))
        band = pl.when(kind == name).then(chain).otherwise(band)  # type: ignore[arg-type]
    labels = pl.DataFrame({
        "classification_type": [name for name, rows in bands.items() for _ in rows],
        "band_order": [row.order for rows in bands.values() for row in rows],
        "band_label": [row.label for rows in bands.values() for row in rows],
        "band_color": [row.color for rows in bands.values() for row in rows],
    }, schema_overrides={"band_order": pl.Int32}).lazy()
    return long.with_columns(band.alias("band_order")).join(
        labels, on=["classification_type", "band_order"], how="left").select(
        "customer_id", "segment", "classification_type", "metric_value", "band_order", "band_label", "band_color",
        pl.col("band_order").is_not_null().alias("is_eligible"),
        pl.when(value.is_null()).then(pl.lit("no metric value"))
        .when(pl.col("band_order").is_null()).then(pl.lit("outside every band")).alias("ineligible_reason"),
        pl.lit(as_of).alias("as_of_date"),
        pl.lit(frame.start).alias("timeframe_start"), pl.lit(frame.end).alias("timeframe_end"),
        pl.lit(frame.previous_start).alias("previous_timeframe_start"),
        pl.lit(frame.previous_end).alias("previous_timeframe_end"),
        "revenue", "previous_revenue", "order_count", "last_order_date",
    )


def polars_baseline(raw: Path, out: Path) -> dict[str, float]:
    """Compute the three marts from the files in `raw` and write <mart>.parquet to `out`;
    returns (and writes to out/timings.json) the seconds of each part."""
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    # the lines are read once, as the models read them once (int_order_lines_validated)
    plan, as_of = order_lines(raw)
    lines = plan.collect().lazy()
    timings["prepare"] = time.perf_counter() - started
    started = time.perf_counter()
    spend_profile(lines, raw, as_of).sink_parquet(out / "customer_spend_profile.parquet")
    timings["customer_spend_profile"] = time.perf_counter() - started
    started = time.perf_counter()
    orders = order_days(lines, as_of).collect().lazy()
    timings["orders"] = time.perf_counter() - started
    for mart, marts_plan in (("customer_rfm", rfm(orders, raw, as_of)),
                             ("customer_classifications", classifications(orders, raw, as_of))):
        started = time.perf_counter()
        marts_plan.sink_parquet(out / f"{mart}.parquet")
        timings[mart] = time.perf_counter() - started
    write_timings(out, timings)
    return timings
