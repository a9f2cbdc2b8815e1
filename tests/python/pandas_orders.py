"""Orders as SPEC section 5 defines them, recomputed in pandas for the tests (independently of
the SQL in int_orders_summarised): money on each line's own date; an order is dated by its
earliest line with a positive quantity, and a return never creates, moves or removes one."""

from __future__ import annotations

import pandas as pd


def order_days(lines: pd.DataFrame, date: str = "ordered_date", spend: str = "spend_amount") -> pd.DataFrame:
    """One row per order x day of `lines` (usable lines: order_id, customer_id, `date`,
    quantity, `spend`): order_date (the day), spend, items (positive units) and is_purchase,
    true on the one row of each order that holds its earliest positive-quantity line."""
    frame = lines.assign(positive=lines["quantity"].clip(lower=0))
    keys = ["order_id", "customer_id"]
    days = frame.groupby([*keys, date], as_index=False).agg(
        spend=(spend, "sum"), items=("positive", "sum"))
    bought = frame[frame["quantity"] > 0].groupby(keys)[date].min().rename("purchase_date")
    days = days.join(bought, on=keys)
    days["is_purchase"] = (days[date] == days["purchase_date"]).fillna(False).astype(bool)
    return days.drop(columns="purchase_date").rename(columns={date: "order_date"})
