"""The race's pandas baseline (issue 24, item 3): the rows of customer_spend_profile (every
window, every item level), customer_rfm and customer_classifications (every type) computed from
the raw files with pandas (read the files, groupby, merge), written to <mart>.parquet for the
bench to compare with the marts (spendlens.bench.compare_with_marts).

It assumes what `spendlens bench` generates (clean Parquet files, the default vars and seeds;
see spendlens/bench_polars.py). Ids are read as categoricals and grouped by their integer codes,
as a pandas user who cares about time and memory would; the definitions are those of
docs/metrics.md and of the models. The spend profile's window dates are written as timestamps at
midnight (the bench's check reads them as dates).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from spendlens.bench import (
    CLASSIFICATION_TYPES,
    classification_bands,
    classification_timeframe,
    default_spend_windows,
    read_seed,
    write_timings,
)

NO_SEGMENT = "(no segment)"
ITEM_LEVELS = ("product", "category", "bundle")


def _read(raw: Path, name: str, columns: list[str] | None = None) -> pd.DataFrame:
    """A raw Parquet file: text as categoricals, dates as datetime64."""
    return pq.read_table(raw / f"{name}.parquet", columns=columns).to_pandas(
        strings_to_categorical=True, date_as_object=False)


def _text(values: pd.Series) -> pd.Series:
    """Trimmed text, blank = null."""
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def _round6(values: pd.Series | np.ndarray) -> np.ndarray:
    """DuckDB's round(x, 6): half away from zero."""
    scaled = np.asarray(values, dtype=float) * 1e6
    return np.where(scaled >= 0, np.floor(scaled + 0.5), np.ceil(scaled - 0.5)) / 1e6


def _divide(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator, null when the denominator is 0 or null."""
    return numerator / denominator.where(denominator != 0)


def _pct_change(new: pd.Series, old: pd.Series) -> pd.Series:
    """100 x (new - old) / old, null unless old > 0."""
    return 100.0 * (new - old) / old.where(old > 0)


def _days(later: pd.Series | pd.Timestamp, earlier: pd.Series | pd.Timestamp) -> pd.Series:
    return (later - earlier).dt.days  # type: ignore[union-attr]


def order_lines(raw: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """The usable order lines in the reporting currency (customer_id, order_id, product_id as
    categoricals, ordered_date, quantity, spend, cost), the products, and the as-of date."""
    lines = _read(raw, "order_lines", ["order_id", "customer_id", "product_id", "ordered_at", "quantity",
                                       "unit_price", "line_amount", "unit_cost", "currency"])
    lines["ordered_date"] = pd.to_datetime(lines.pop("ordered_at")).dt.normalize()
    as_of = lines["ordered_date"].max()
    quantity = lines["quantity"].astype(float)
    amount = lines["line_amount"].astype(float).fillna(quantity * lines["unit_price"].astype(float))
    currency = _text(lines["currency"]).str.upper()
    votes = currency.value_counts()
    # the most common currency (ties: the alphabetically last), USD without any
    reporting = (votes.reset_index().sort_values(["count", "currency"], ascending=False)["currency"].iloc[0]
                 if len(votes) else "USD")
    currency = currency.fillna(reporting)
    rate = pd.Series(1.0, index=lines.index)
    foreign = (currency != reporting).to_numpy()
    if foreign.any():
        rate[foreign] = pd.merge(
            pd.DataFrame({"currency": currency[foreign], "ordered_date": lines.loc[foreign, "ordered_date"]}),
            _daily_rates(raw, as_of), on=["currency", "ordered_date"], how="left")["rate"].to_numpy()
    products = _read(raw, "products", ["product_id", "category", "unit_cost"])
    products["product_id"] = _text(products["product_id"])
    products["category"] = _text(products["category"]).fillna("Uncategorised").astype("category")
    products = products.drop_duplicates("product_id").set_index("product_id")
    product_cost = products["unit_cost"].astype(float)
    product_cost = product_cost.where(np.isfinite(product_cost) & (product_cost >= 0))
    product_id = lines["product_id"].astype(str)
    line_cost = lines["unit_cost"].astype(float)
    line_cost = line_cost.where(np.isfinite(line_cost) & (line_cost >= 0))
    usable = rate.notna() & product_id.isin(products.index)
    out = pd.DataFrame({
        "order_id": lines["order_id"],
        "customer_id": lines["customer_id"],
        "product_id": lines["product_id"],
        "category": lines["product_id"].map(products["category"]).astype(products["category"].dtype),
        "ordered_date": lines["ordered_date"],
        "quantity": quantity,
        "spend": amount * rate,
        "cost": quantity * (line_cost * rate).fillna(lines["product_id"].map(product_cost).astype(float)),
    })
    return out[usable.to_numpy()], products, as_of


def _daily_rates(raw: Path, as_of: pd.Timestamp) -> pd.DataFrame:
    """Each currency's rate on every day from its first rate on: the latest rate on or before."""
    rates = _read(raw, "fx_rates")
    rates = pd.DataFrame({
        "currency": _text(rates["currency"]).str.upper(),
        "ordered_date": pd.to_datetime(rates["rate_date"]),
        "rate": rates["rate_to_reporting"].astype(float),
    })
    rates = rates[np.isfinite(rates["rate"]) & (rates["rate"] > 0)].drop_duplicates(["currency", "ordered_date"])
    last = max(rates["ordered_date"].max(), as_of)
    filled = []
    for currency, group in rates.groupby("currency"):
        days = pd.date_range(group["ordered_date"].min(), last, freq="D")
        series = group.set_index("ordered_date")["rate"].sort_index().reindex(days).ffill()
        filled.append(pd.DataFrame({"currency": currency, "ordered_date": days, "rate": series.to_numpy()}))
    return pd.concat(filled, ignore_index=True)


def customers(raw: Path) -> pd.Series:
    """Each customer's segment (blank = null), indexed by customer_id."""
    table = _read(raw, "customers", ["customer_id", "segment"])
    table = pd.DataFrame({"customer_id": _text(table["customer_id"]), "segment": _text(table["segment"])})
    return table.drop_duplicates("customer_id").set_index("customer_id")["segment"]


def spend_profile(lines: pd.DataFrame, raw: Path, as_of: pd.Timestamp) -> pd.DataFrame:
    """customer_spend_profile: customer x item (product, category, bundle) x window."""
    windows = default_spend_windows(as_of.date())
    bundles = _read(raw, "product_bundles", ["bundle_id", "product_id"])
    bundles = pd.DataFrame({"bundle_id": _text(bundles["bundle_id"]), "product_id": _text(bundles["product_id"])})
    bundles = bundles.dropna().drop_duplicates()
    lines = lines[lines["ordered_date"] <= as_of]
    # items as integer codes into one vocabulary: products, then categories, then bundles
    products = np.asarray(lines["product_id"].cat.categories, dtype=object)
    categories = np.asarray(lines["category"].cat.categories, dtype=object)
    bundle_ids = np.asarray(sorted(bundles["bundle_id"].unique()), dtype=object)
    vocabulary = np.concatenate([products, categories, bundle_ids])
    product_code = lines["product_id"].cat.codes.to_numpy().astype(np.int32)
    category_code = lines["category"].cat.codes.to_numpy().astype(np.int32) + len(products)
    members = pd.DataFrame({
        "product": pd.Categorical(bundles["product_id"], categories=products).codes.astype(np.int32),
        "item": np.searchsorted(bundle_ids, bundles["bundle_id"].to_numpy()).astype(np.int32)
        + len(products) + len(categories),
    })
    members = members[members["product"] >= 0]
    base = pd.DataFrame({
        "customer": lines["customer_id"].cat.codes.to_numpy(),
        "order": lines["order_id"].cat.codes.to_numpy(),
        "ordered_date": lines["ordered_date"].to_numpy(),
        "quantity": lines["quantity"].to_numpy(),
        "spend": lines["spend"].to_numpy(),
        "cost": lines["cost"].to_numpy(),
    })
    by_product = base.assign(level=np.int8(0), item=product_code)
    by_category = base.assign(level=np.int8(1), item=category_code)
    by_bundle = base.assign(product=product_code).merge(members, on="product").drop(columns="product")
    by_bundle["level"] = np.int8(2)
    items = pd.concat([by_product, by_category, by_bundle], ignore_index=True)
    del by_product, by_category, by_bundle
    items["costed"] = items["cost"].notna()
    items["uncosted"] = items["spend"].where(~items["costed"], 0.0)
    key = ["customer", "level", "item"]
    day_key = [*key, "ordered_date"]
    # one row per customer x item x day: money, quantity, and the orders with a purchase of it
    daily = items.groupby(day_key, sort=False).agg(
        spend=("spend", "sum"), cost=("cost", "sum"), costed=("costed", "sum"), uncosted=("uncosted", "sum"),
        quantity=("quantity", "sum"))
    bought_orders = items.loc[items["quantity"] > 0, [*day_key, "order"]].drop_duplicates()
    daily["order_count"] = bought_orders.groupby(day_key, sort=False).size()
    daily = daily.reset_index()
    daily["order_count"] = daily["order_count"].fillna(0).astype(np.int64)
    del items, bought_orders
    # has_purchased: a day with a positive net quantity of the item, any time up to as-of
    bought = daily.loc[daily["quantity"] > 0, key].drop_duplicates().assign(has_purchased=True)
    window_days = pd.concat([
        pd.DataFrame({"ordered_date": pd.date_range(w.prior_start, w.end, freq="D"), "window_order": w.order})
        for w in windows
    ], ignore_index=True)
    window_days["ordered_date"] = window_days["ordered_date"].astype(daily["ordered_date"].dtype)
    bounds = pd.DataFrame({
        "window_order": [w.order for w in windows], "window_name": [w.name for w in windows],
        "window_start": [pd.Timestamp(w.start) for w in windows], "window_end": [pd.Timestamp(w.end) for w in windows],
        "prior_window_start": [pd.Timestamp(w.prior_start) for w in windows],
        "prior_window_end": [pd.Timestamp(w.prior_end) for w in windows],
        "periods": [w.periods for w in windows], "prior_periods": [w.prior_periods for w in windows],
    })
    window_days = window_days.merge(bounds[["window_order", "window_start", "window_end", "prior_window_end"]])
    day = window_days["ordered_date"]
    window_days["in_window"] = day.between(window_days["window_start"], window_days["window_end"])
    window_days = window_days[window_days["in_window"] | (day <= window_days["prior_window_end"])]
    joined = daily[daily["ordered_date"] >= window_days["ordered_date"].min()].merge(
        window_days[["ordered_date", "window_order", "in_window"]], on="ordered_date")
    inside = joined["in_window"]
    sums = pd.DataFrame({
        "customer": joined["customer"], "level": joined["level"], "item": joined["item"],
        "window_order": joined["window_order"],
        "raw_spend": joined["spend"].where(inside, 0.0),
        "cost_amount": joined["cost"].where(inside, 0.0),
        "costed": joined["costed"].where(inside, 0),
        "uncosted_spend": joined["uncosted"].where(inside, 0.0),
        "quantity": joined["quantity"].where(inside, 0.0),
        "order_count": joined["order_count"].where(inside, 0),
        "prior_total_spend": joined["spend"].where(~inside, 0.0),
    })
    del joined
    window_items = sums.groupby([*key, "window_order"], sort=False).sum().reset_index()
    del sums
    window_items["total_spend"] = _round6(window_items["raw_spend"])
    window_items["cost_amount"] = pd.Series(_round6(window_items["cost_amount"])).where(window_items["costed"] > 0)
    for column in ("uncosted_spend", "quantity", "prior_total_spend"):
        window_items[column] = _round6(window_items[column])
    customer_ids = np.asarray(lines["customer_id"].cat.categories, dtype=object)
    segments = customers(raw).reindex(customer_ids).to_numpy()
    window_items["segment"] = segments[window_items["customer"].to_numpy()]
    products_rows = window_items[window_items["level"] == 0]
    customer_totals = products_rows.groupby(["customer", "window_order"], sort=False)["total_spend"].sum()
    customer_totals = pd.Series(_round6(customer_totals), index=customer_totals.index, name="customer_spend")
    segment_items = window_items.dropna(subset=["segment"]).groupby(
        ["segment", "level", "item", "window_order"], sort=False)["raw_spend"].sum()
    segment_items = pd.Series(_round6(segment_items), index=segment_items.index, name="segment_item_spend")
    segment_totals = segment_items[segment_items.index.get_level_values("level") == 0].groupby(
        level=["segment", "window_order"]).sum()
    segment_totals = pd.Series(_round6(segment_totals), index=segment_totals.index, name="segment_spend")
    shares = (window_items
              .merge(bought, on=key, how="left")
              .join(customer_totals, on=["customer", "window_order"])
              .join(segment_items, on=["segment", "level", "item", "window_order"])
              .join(segment_totals, on=["segment", "window_order"])
              .merge(bounds, on="window_order"))
    del window_items
    total, prior = shares["total_spend"], shares["prior_total_spend"]
    average = _divide(total, shares["periods"].astype(float))
    prior_average = _divide(prior, shares["prior_periods"].astype(float))
    customer_spend = shares["customer_spend"].where(shares["customer_spend"] > 0)
    segment_item = shares["segment_item_spend"].fillna(0.0).where(shares["segment"].notna())
    segment_spend = shares["segment_spend"].where(shares["segment_spend"] > 0)
    costed = total - shares["uncosted_spend"]
    levels = np.asarray(ITEM_LEVELS, dtype=object)
    return pd.DataFrame({
        "customer_id": pd.Categorical.from_codes(shares["customer"], categories=customer_ids),
        "item_level": pd.Categorical.from_codes(shares["level"], categories=levels),
        "item_id": pd.Categorical.from_codes(shares["item"], categories=vocabulary),
        "window_name": shares["window_name"].astype("category"),
        "window_start": shares["window_start"],
        "window_end": shares["window_end"],
        "has_purchased": shares["has_purchased"].notna(),
        "total_spend": total,
        "avg_spend_per_period": average,
        "prior_total_spend": prior,
        "prior_avg_spend_per_period": prior_average,
        "spend_change_pct": _pct_change(average, prior_average),
        "quantity": shares["quantity"],
        "order_count": shares["order_count"].astype(np.int64),
        "margin_pct": 100.0 * _divide(costed - shares["cost_amount"], costed.where(shares["cost_amount"].notna())),
        "share_of_wallet_pct": 100.0 * _divide(total * segment_spend, customer_spend * segment_item.where(
            segment_item > 0)),
        "segment_share_pct": 100.0 * _divide(segment_item, segment_spend),
        "segment": shares["segment"].astype("category"),
        "prior_window_start": shares["prior_window_start"],
        "prior_window_end": shares["prior_window_end"],
        "periods": shares["periods"].astype(np.int32),
        "prior_periods": shares["prior_periods"].astype(np.int32),
        "uncosted_spend": shares["uncosted_spend"],
    })


def order_days(lines: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """One row per order x day (int_orders_summarised): its money, and is_purchase on the day of
    the order's earliest line with a positive quantity."""
    lines = lines[lines["ordered_date"] <= as_of]
    days = pd.DataFrame({
        "order_id": lines["order_id"].cat.codes.to_numpy(), "customer_id": lines["customer_id"].array,
        "ordered_date": lines["ordered_date"].to_numpy(), "spend": lines["spend"].to_numpy(),
        "bought": (lines["quantity"] > 0).to_numpy(),
    }).groupby(["order_id", "customer_id", "ordered_date"], sort=False, observed=True).agg(
        spend=("spend", "sum"), bought=("bought", "any")).reset_index()
    purchase_date = days["ordered_date"].where(days["bought"]).groupby(
        [days["order_id"], days["customer_id"]], sort=False, observed=True).transform("min")
    days["is_purchase"] = (days["ordered_date"] == purchase_date).to_numpy()
    return days


def rfm(orders: pd.DataFrame, raw: Path, as_of: pd.Timestamp) -> pd.DataFrame:
    """customer_rfm: every customer with a purchase up to as-of."""
    purchases = orders[orders["is_purchase"]]
    measured = purchases.groupby("customer_id", observed=True).agg(
        frequency=("is_purchase", "size"), last_order_date=("ordered_date", "max"),
        first_order_date=("ordered_date", "min"))
    measured["monetary"] = orders.groupby("customer_id", observed=True)["spend"].sum()
    measured = measured.reset_index()
    measured["customer_id"] = measured["customer_id"].astype(str)
    measured["segment"] = measured["customer_id"].map(customers(raw))
    measured["recency_days"] = _days(as_of, measured["last_order_date"]).astype(np.int32)
    count = len(measured)

    def score(rank: pd.Series) -> np.ndarray:
        # 1 + floor(5 x customers with a strictly worse value / customers), at most 5
        return np.minimum(5, 1 + np.floor(5 * (rank.to_numpy() - 1) / count)).astype(np.int32)

    recency = measured["recency_days"]
    measured["r_score"] = score(recency.rank(method="min", ascending=False))
    measured["f_score"] = score(measured["frequency"].rank(method="min"))
    measured["m_score"] = score(pd.Series(_round6(measured["monetary"])).rank(method="min"))
    measured["fm_score"] = np.ceil((measured["f_score"] + measured["m_score"]) / 2.0).astype(np.int32)
    low, high = recency.min(), recency.max()
    active, lapsing = low + (high - low) / 3.0, low + 2 * (high - low) / 3.0
    measured["lifecycle_stage"] = np.where(recency <= active, "active",
                                           np.where(recency <= max(active, lapsing), "lapsing", "inactive"))
    segments = {(int(row["r_score"]), int(row["fm_score"])): row["segment"] for row in read_seed("rfm_segments")}
    fm_sum = measured["f_score"] + measured["m_score"]
    persona = pd.Series(None, index=measured.index, dtype=object)
    for row in read_seed("rfm_personas"):
        match = (measured["lifecycle_stage"] == row["lifecycle_stage"]) & fm_sum.between(
            int(row["min_fm_sum"]), int(row["max_fm_sum"]))
        persona[match] = row["persona"]
    return pd.DataFrame({
        "customer_id": measured["customer_id"],
        "recency_days": measured["recency_days"],
        "frequency": measured["frequency"].astype(np.int32),
        "monetary": measured["monetary"],
        "r_score": measured["r_score"], "f_score": measured["f_score"], "m_score": measured["m_score"],
        "fm_score": measured["fm_score"],
        "rfm_cell": (measured["r_score"].astype(str) + measured["f_score"].astype(str)
                     + measured["m_score"].astype(str)),
        "rfm_segment": [segments.get(cell) for cell in zip(measured["r_score"], measured["fm_score"], strict=True)],
        "lifecycle_stage": measured["lifecycle_stage"],
        "persona": persona,
        "segment": measured["segment"],
        "last_order_date": measured["last_order_date"].dt.date,
        "as_of_date": as_of.date(),
        "first_order_date": measured["first_order_date"].dt.date,
        "is_new_customer": _days(as_of, measured["first_order_date"]) < 90,
    })


def classifications(orders: pd.DataFrame, raw: Path, as_of: pd.Timestamp) -> pd.DataFrame:
    """customer_classifications: every customer with a purchase up to as-of x the six types."""
    frame = classification_timeframe(as_of.date())
    start, previous_start, previous_end = (pd.Timestamp(day) for day in
                                           (frame.start, frame.previous_start, frame.previous_end))
    days = orders.groupby(["customer_id", "ordered_date"], sort=False, observed=True).agg(
        spend=("spend", "sum"), purchase_orders=("is_purchase", "sum"), is_purchase_day=("is_purchase", "any"),
    ).reset_index()
    day = days["ordered_date"]
    by_customer = days["customer_id"]
    purchase_days = days[days["is_purchase_day"]]
    previous_days = purchase_days[purchase_days["ordered_date"] <= previous_end]
    measured = purchase_days.groupby("customer_id", observed=True)["ordered_date"].agg(
        first_order_date="min", last_order_date="max", order_day_count="size")
    previous = previous_days.groupby("customer_id", observed=True)["ordered_date"].agg(
        previous_first_order_date="min", previous_last_order_date="max", previous_order_day_count="size")
    measured = measured.join(previous)
    measured["previous_order_day_count"] = measured["previous_order_day_count"].fillna(0)
    in_frame = day.between(start, as_of)
    revenue = days["spend"].where(in_frame, 0.0).groupby(by_customer, observed=True).sum()
    previous_revenue = days["spend"].where(day.between(previous_start, previous_end), 0.0).groupby(
        by_customer, observed=True).sum()
    measured["revenue"] = _round6(revenue.reindex(measured.index).fillna(0.0))
    measured["previous_revenue"] = _round6(previous_revenue.reindex(measured.index).fillna(0.0))
    measured["order_count"] = days["purchase_orders"].where(in_frame, 0).groupby(
        by_customer, observed=True).sum().reindex(measured.index).fillna(0).astype(np.int64)
    measured = measured.reset_index()
    measured["customer_id"] = measured["customer_id"].astype(str)
    segment_of = customers(raw)
    measured = measured[measured["customer_id"].isin(segment_of.index)]
    measured["segment"] = measured["customer_id"].map(segment_of).fillna(NO_SEGMENT)

    def gap(first: str, last: str, count: str) -> pd.Series:
        return (_days(measured[last], measured[first]) / (measured[count] - 1)).where(measured[count] >= 2)

    def risk(last: pd.Series, until: pd.Timestamp, gaps: pd.Series) -> pd.Series:
        usual = gaps.fillna(gaps.groupby(measured["segment"]).transform("median")).fillna(gaps.median())
        return _divide(_days(until, last).astype(float), usual)

    measured["gap"] = gap("first_order_date", "last_order_date", "order_day_count")
    measured["previous_gap"] = gap("previous_first_order_date", "previous_last_order_date", "previous_order_day_count")
    measured["risk_score"] = risk(measured["last_order_date"], as_of, measured["gap"])
    measured["previous_risk_score"] = risk(measured["previous_last_order_date"], previous_end, measured["previous_gap"])
    measured["risk_change"] = _pct_change(measured["risk_score"], measured["previous_risk_score"])
    revenue = measured["revenue"]
    by_segment = measured.groupby("segment")["revenue"]
    measured["revenue_rank"] = (100.0 * by_segment.rank(method="min", ascending=False)
                                / (revenue > 0).groupby(measured["segment"]).transform("sum")).where(revenue > 0)
    measured["revenue_change"] = _pct_change(revenue, measured["previous_revenue"])
    ordered = measured.sort_values(["segment", "revenue", "customer_id"], ascending=[True, False, True])
    segment_revenue = by_segment.transform("sum")
    measured["revenue_share"] = (100.0 * ordered.groupby("segment")["revenue"].cumsum() / segment_revenue).where(
        segment_revenue > 0)
    measured["order_count_metric"] = measured["order_count"].astype(float)
    bands = classification_bands()
    parts = []
    for kind in CLASSIFICATION_TYPES:
        value = measured["order_count_metric" if kind == "order_count" else kind]
        rows = bands[kind]
        uppers = np.array([np.inf if band.upper is None else band.upper for band in rows])
        position = np.searchsorted(uppers, value.to_numpy(), side="left")
        inside = value.notna().to_numpy() & (position < len(rows))
        index = np.where(inside, position, 0)
        parts.append(pd.DataFrame({
            "customer_id": measured["customer_id"].to_numpy(),
            "segment": measured["segment"].to_numpy(),
            "classification_type": kind,
            "metric_value": value.to_numpy(),
            "band_order": pd.Series(np.array([band.order for band in rows])[index], dtype="Int32").where(inside),
            "band_label": pd.Series(np.array([band.label for band in rows], dtype=object)[index]).where(inside),
            "band_color": pd.Series(np.array([band.color for band in rows], dtype=object)[index]).where(inside),
            "is_eligible": inside,
            "ineligible_reason": np.where(value.isna(), "no metric value",
                                          np.where(inside, None, "outside every band")),
            "revenue": measured["revenue"].to_numpy(),
            "previous_revenue": measured["previous_revenue"].to_numpy(),
            "order_count": measured["order_count"].to_numpy(),
            "last_order_date": measured["last_order_date"].dt.date.to_numpy(),
        }))
    result = pd.concat(parts, ignore_index=True)
    result["as_of_date"] = as_of.date()
    result["timeframe_start"] = frame.start
    result["timeframe_end"] = frame.end
    result["previous_timeframe_start"] = frame.previous_start
    result["previous_timeframe_end"] = frame.previous_end
    return result


def pandas_baseline(raw: Path, out: Path) -> dict[str, float]:
    """Compute the three marts from the files in `raw` and write <mart>.parquet to `out`;
    returns (and writes to out/timings.json) the seconds of each part."""
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    lines, _, as_of = order_lines(raw)
    timings["prepare"] = time.perf_counter() - started
    started = time.perf_counter()
    spend_profile(lines, raw, as_of).to_parquet(out / "customer_spend_profile.parquet", index=False)
    timings["customer_spend_profile"] = time.perf_counter() - started
    started = time.perf_counter()
    orders = order_days(lines, as_of)
    rfm(orders, raw, as_of).to_parquet(out / "customer_rfm.parquet", index=False)
    timings["customer_rfm"] = time.perf_counter() - started
    started = time.perf_counter()
    classifications(orders, raw, as_of).to_parquet(out / "customer_classifications.parquet", index=False)
    timings["customer_classifications"] = time.perf_counter() - started
    write_timings(out, timings)
    return timings
