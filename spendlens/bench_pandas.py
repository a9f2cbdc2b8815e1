"""The benchmark's pandas baseline: the numbers an analyst would compute in a notebook (read the
files, groupby, merge), and the check that they equal the marts.

It covers the inputs of three marts on the benchmark's clean data (no bad rows): RFM (recency,
frequency, monetary), the `last_12_months` product spend window, and the classification
timeframe (revenue, purchase orders, revenue rank within segment), on the default standard
calendar.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def _read(raw: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(raw / f"{name}.parquet")


def _lines(raw: Path) -> pd.DataFrame:
    lines = _read(raw, "order_lines")
    lines["ordered_date"] = pd.to_datetime(lines["ordered_at"]).dt.normalize()
    amount = lines["line_amount"] if "line_amount" in lines else lines["quantity"] * lines["unit_price"]
    lines["amount"] = amount.fillna(lines["quantity"] * lines["unit_price"])
    currency = lines["currency"].fillna("USD") if "currency" in lines else pd.Series("USD", index=lines.index)
    lines["currency"] = currency
    foreign = lines[lines["currency"] != "USD"]
    if len(foreign):
        rates = _read(raw, "fx_rates")
        rates["rate_date"] = pd.to_datetime(rates["rate_date"])
        foreign = pd.merge_asof(
            foreign.reset_index().sort_values("ordered_date"), rates.sort_values("rate_date"),
            left_on="ordered_date", right_on="rate_date", by="currency", direction="backward",
        ).set_index("index")
        lines.loc[foreign.index, "amount"] = foreign["amount"] * foreign["rate_to_reporting"]
    return lines


def pandas_baseline(raw: Path, out: Path) -> None:
    """Compute the baseline numbers from the raw files and write them as Parquet to `out`."""
    out.mkdir(parents=True, exist_ok=True)
    lines = _lines(raw)
    customers = _read(raw, "customers")
    as_of = lines["ordered_date"].max()

    # money on each line's own date; an order is dated by its earliest positive-quantity line
    # (docs/metrics.md, "Orders and dates"): one row per order x day, is_purchase on that row
    orders = lines.groupby(["order_id", "customer_id", "ordered_date"], as_index=False).agg(
        spend=("amount", "sum")).rename(columns={"ordered_date": "order_date"})
    bought = lines[lines["quantity"] > 0].groupby(["order_id", "customer_id"])["ordered_date"].min()
    orders["is_purchase"] = orders["order_date"].to_numpy() == orders.join(
        bought.rename("purchase_date"), on=["order_id", "customer_id"])["purchase_date"].to_numpy()
    purchases = orders[orders["is_purchase"]]
    rfm = purchases.groupby("customer_id").agg(last_order=("order_date", "max"), frequency=("order_id", "count"))
    rfm["monetary"] = orders.groupby("customer_id")["spend"].sum()
    rfm["recency_days"] = (as_of - rfm["last_order"]).dt.days
    rfm.reset_index()[["customer_id", "recency_days", "frequency", "monetary"]].to_parquet(out / "rfm.parquet")

    # last_12_months: the 12 complete calendar months ending on or before as-of
    month_end = as_of if (as_of + pd.Timedelta(days=1)).day == 1 else as_of.replace(day=1) - pd.Timedelta(days=1)
    start = (month_end + pd.Timedelta(days=1)) - pd.DateOffset(months=12)
    window = lines[(lines["ordered_date"] >= start) & (lines["ordered_date"] <= month_end)]
    spend = window.groupby(["customer_id", "product_id"], as_index=False).agg(total_spend=("amount", "sum"))
    spend.to_parquet(out / "spend_window.parquet")

    # classification timeframe: the 12 months ending at as-of; revenue rank within segment
    timeframe_start = as_of - pd.DateOffset(months=12) + pd.Timedelta(days=1)
    in_timeframe = orders[(orders["order_date"] >= timeframe_start) & (orders["order_date"] <= as_of)]
    classified = customers[customers["customer_id"].isin(purchases["customer_id"])][["customer_id", "segment"]].copy()
    classified["segment"] = classified["segment"].replace("", np.nan).fillna("(no segment)")
    revenue = in_timeframe.groupby("customer_id")["spend"].sum()
    order_count = in_timeframe[in_timeframe["is_purchase"]].groupby("customer_id")["order_id"].count()
    classified["revenue"] = classified["customer_id"].map(revenue).fillna(0.0).round(6)
    classified["order_count"] = classified["customer_id"].map(order_count).fillna(0).astype(int)
    # revenue rank among the segment's customers with revenue (> 0) in the timeframe:
    # 100 x (1 + customers with strictly more revenue) / customers with revenue; null without
    # revenue. 1 + customers with strictly more = the rank with ties at their best position.
    with_revenue = classified[classified["revenue"] > 0].groupby("segment")["revenue"]
    classified["revenue_rank"] = (
        100.0 * with_revenue.rank(method="min", ascending=False) / with_revenue.transform("count"))
    classified.to_parquet(out / "classification.parquet")


def compare_with_marts(out: Path, db: Path, rel: float = 1e-6) -> str:
    """Compare the baseline with the built marts; raise AssertionError on a difference."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        rfm = con.execute("select customer_id, recency_days, frequency, monetary from marts.customer_rfm").df()
        spend = con.execute(
            "select customer_id, item_id as product_id, total_spend from marts.customer_spend_profile "
            "where window_name = 'last_12_months' and item_level = 'product' and total_spend != 0").df()
        classes = con.execute(
            "select customer_id, metric_value as revenue_rank, revenue, order_count "
            "from marts.customer_classifications "
            "where classification_type = 'revenue_rank'").df()
    checks = [
        ("customer_rfm", rfm, pd.read_parquet(out / "rfm.parquet"), ["customer_id"],
         ["recency_days", "frequency", "monetary"]),
        ("customer_spend_profile", spend, pd.read_parquet(out / "spend_window.parquet"),
         ["customer_id", "product_id"], ["total_spend"]),
        ("customer_classifications", classes, pd.read_parquet(out / "classification.parquet"), ["customer_id"],
         ["revenue", "revenue_rank", "order_count"]),
    ]
    rows = 0
    for name, mart, baseline, keys, columns in checks:
        baseline = baseline[baseline[columns[0]].notna()]
        if name == "customer_spend_profile":
            baseline = baseline[baseline["total_spend"].round(6) != 0]
        merged = mart.merge(baseline, on=keys, how="outer", suffixes=("_mart", "_pandas"), indicator=True)
        missing = merged[merged["_merge"] != "both"]
        if len(missing):
            raise AssertionError(f"{name}: {len(missing)} keys differ between the mart and pandas, e.g.\n"
                                 f"{missing.head().to_string()}")
        for column in columns:
            a = merged[f"{column}_mart"].astype(float).to_numpy()
            b = merged[f"{column}_pandas"].astype(float).to_numpy()
            # equal_nan: a customer without revenue has no revenue_rank on both sides
            if not np.allclose(a, b, rtol=rel, atol=1e-6, equal_nan=True):
                bad = merged[~np.isclose(a, b, rtol=rel, atol=1e-6, equal_nan=True)]
                raise AssertionError(f"{name}.{column}: {len(bad)} rows differ, e.g.\n{bad.head().to_string()}")
        rows += len(merged)
    return f"yes ({rows:,} rows compared over RFM, spend window and classification inputs)"
