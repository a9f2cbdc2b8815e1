"""segment_summary (SPEC 4.12) recomputed with pandas from the validated order lines, the
customers and the per-customer marts (customer_value for the predictions, customer_rfm for the
persona), on Superstore (predictions null: its BG/NBD fit does not converge) and on the
generated data with clv_min_customers 100 (fitted)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

GENERATED_FITTED = {"clv_min_customers": 100}


def _expected(con) -> pd.DataFrame:
    as_of = con.execute("select as_of_date from intermediate.int_analysis_dates").fetchone()[0]
    lines = con.execute(
        "select order_id, customer_id, ordered_date, quantity, spend_amount "
        "from intermediate.int_order_lines_validated where dq_reason is null"
    ).df()
    lines = lines[pd.to_datetime(lines["ordered_date"]) <= pd.Timestamp(as_of)]
    customers = con.execute(
        "select customer_id, segment from intermediate.int_customers_validated where dq_reason is null"
    ).df()
    spend = lines.groupby("customer_id")["spend_amount"].sum()
    purchase_orders = lines[lines["quantity"] > 0]["customer_id"].unique()
    cv = con.execute("select customer_id, predicted_clv, total_clv, churn_risk, predicted_spend_tier "
                     "from marts.customer_value").df()
    rfm = con.execute("select customer_id, persona, is_new_customer from marts.customer_rfm").df()
    c = customers.merge(cv, on="customer_id", how="left").merge(rfm, on="customer_id", how="left")
    c["revenue"] = c["customer_id"].map(spend).fillna(0.0)
    c["is_customer"] = c["customer_id"].isin(purchase_orders)
    c["all"] = "all"
    c["segment"] = c["segment"].fillna("(no segment)")
    c["persona"] = c["persona"].fillna("(no purchase)")
    c["predicted_spend_tier"] = c["predicted_spend_tier"].fillna("(not scored)")
    c["is_new_customer"] = c["is_new_customer"].fillna(False).astype(bool)
    rows = []
    for dimension in ("all", "segment", "persona", "predicted_spend_tier"):
        total = c["revenue"].sum()
        for value, g in c.groupby(dimension):
            scored = g["predicted_clv"].notna()
            customers_n = int(g["is_customer"].sum())
            mean_churn = g.loc[scored, "churn_risk"].mean() if scored.any() else np.nan
            rows.append({
                "dimension": dimension, "dimension_value": value, "customers": customers_n,
                "new_customers": int((g["is_customer"] & g["is_new_customer"]).sum()),
                "avg_total_clv": g.loc[scored, "total_clv"].mean() if scored.any() else np.nan,
                "revenue": g["revenue"].sum(), "revenue_share_pct": 100 * g["revenue"].sum() / total,
                "avg_historic_clv": g["revenue"].sum() / customers_n if customers_n else np.nan,
                "avg_predicted_clv": g.loc[scored, "predicted_clv"].mean() if scored.any() else np.nan,
                "predicted_revenue_next_horizon": g.loc[scored, "predicted_clv"].sum() if scored.any() else np.nan,
                "expected_returning_customers": (1 - mean_churn) * customers_n,
                "scored_customers": int(scored.sum()),
            })
    return pd.DataFrame(rows).set_index(["dimension", "dimension_value"]).sort_index()


@pytest.mark.parametrize(("dataset", "extra"), [("superstore", None), ("generated", GENERATED_FITTED)])
def test_segment_summary_recomputed_with_pandas(connect, dataset, extra) -> None:
    con = connect(dataset, extra)
    got = con.execute("select * from marts.segment_summary").df().set_index(
        ["dimension", "dimension_value"]).sort_index()
    expected = _expected(con)
    assert list(got.index) == list(expected.index)
    for col in ("customers", "new_customers", "scored_customers"):
        np.testing.assert_array_equal(got[col], expected[col], err_msg=col)
    for col in ("revenue", "revenue_share_pct", "avg_historic_clv", "avg_predicted_clv", "avg_total_clv",
                "predicted_revenue_next_horizon", "expected_returning_customers"):
        np.testing.assert_allclose(got[col].astype(float), expected[col].astype(float), rtol=1e-6,
                                   err_msg=col)
    if dataset == "generated":
        assert got["scored_customers"].sum() > 0  # the predictions are really compared
    # the four dimensions each cover every customer and all revenue
    per_dimension = got.groupby(level="dimension")[["customers", "revenue"]].sum()
    assert per_dimension["customers"].nunique() == 1
    np.testing.assert_allclose(per_dimension["revenue"], per_dimension["revenue"].iloc[0], rtol=1e-9)
