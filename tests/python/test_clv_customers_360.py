"""customers_360 (SPEC 4.13): one row per usable customer whose columns equal the source marts'
values, re-pivoted with pandas (Superstore and the generated data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

CLASSIFICATION_COLUMNS = {
    "risk_score": ("risk_score", "risk_score_band"),
    "risk_change": ("risk_change_pct", "risk_change_band"),
    "revenue_rank": ("revenue_rank", "revenue_rank_band"),
    "revenue_change": ("revenue_change_pct", "revenue_change_band"),
    "revenue_share": ("revenue_share_pct", "revenue_share_band"),
    "order_count": ("orders_in_timeframe", "order_count_band"),
}
REASON_ORDER = {"also_bought": 1, "popular_in_segment": 2, "popular_category_not_bought": 3}


def _compare(got: pd.Series, expected: pd.Series, name: str) -> None:
    expected = expected.reindex(got.index)
    if pd.api.types.is_numeric_dtype(got) and pd.api.types.is_numeric_dtype(expected):
        np.testing.assert_allclose(got.astype(float), expected.astype(float), rtol=1e-9, err_msg=name)
    else:
        g = got.astype(object).where(got.notna(), None)
        e = expected.astype(object).where(expected.notna(), None)
        mismatch = [(i, a, b) for i, a, b in zip(got.index, g, e, strict=True) if str(a) != str(b)]
        assert not mismatch, f"{name}: {mismatch[:5]}"


@pytest.mark.parametrize("dataset", ["superstore", "generated"])
def test_customers_360_equals_the_source_marts(connect, dataset) -> None:
    con = connect(dataset)
    got = con.execute("select * from marts.customers_360").df().set_index("customer_id")
    customers = con.execute(
        "select customer_id from intermediate.int_customers_validated where dq_reason is null").df()
    assert got.index.is_unique and set(got.index) == set(customers["customer_id"])

    spend = con.execute("select * from marts.customer_spend_profile "
                        "where item_level = 'category' and window_name = 'last_12_months'").df()
    by_customer = spend.groupby("customer_id").agg(
        total=("total_spend", "sum"), prior=("prior_total_spend", "sum"),
        periods=("periods", "max"), prior_periods=("prior_periods", "max"))
    # customers without a row in the window spent 0 in it
    _compare(got["spend_last_12_months"], by_customer["total"].reindex(got.index, fill_value=0.0),
             "spend_last_12_months")
    prior_avg = by_customer["prior"] / by_customer["prior_periods"]
    change = (100 * (by_customer["total"] / by_customer["periods"] - prior_avg) / prior_avg).where(prior_avg != 0)
    _compare(got["spend_change_pct_last_12_months"], change, "spend_change_pct_last_12_months")

    classes = con.execute("select * from marts.customer_classifications").df()
    for kind, (value_col, band_col) in CLASSIFICATION_COLUMNS.items():
        rows = classes[classes["classification_type"] == kind].set_index("customer_id")
        _compare(got[value_col], rows["metric_value"], value_col)
        _compare(got[band_col], rows["band_label"], band_col)

    rfm = con.execute("select * from marts.customer_rfm").df().set_index("customer_id")
    for col in ("recency_days", "rfm_cell", "rfm_segment", "lifecycle_stage", "persona"):
        _compare(got[col], rfm[col], col)

    cv = con.execute("select * from marts.customer_value").df().set_index("customer_id")
    for col in ("historic_clv", "predicted_clv", "total_clv", "churn_risk", "predicted_spend_tier"):
        _compare(got[col], cv[col], col)
    _compare(got["clv_model_status"], cv["model_status"], "clv_model_status")

    targets = con.execute("select * from marts.customer_targets").df()
    latest = targets.sort_values("month").groupby("customer_id").tail(1).set_index("customer_id")
    _compare(got["target_attainment_pct"], latest["attainment_pct"], "target_attainment_pct")
    _compare(got["target_amount_to_date"], latest["cumulative_target"], "target_amount_to_date")

    recs = con.execute("select * from marts.customer_product_recommendations").df()
    recs["reason_order"] = recs["reason"].map(REASON_ORDER)
    top = recs.sort_values(["customer_id", "reason_order", "rank", "product_id"]).groupby("customer_id").head(1)
    top = top.set_index("customer_id")
    _compare(got["top_recommended_product_id"], top["product_id"], "top_recommended_product_id")
    _compare(got["top_recommendation_reason"], top["reason"], "top_recommendation_reason")
    assert got["top_recommended_product_id"].notna().sum() > 0 and got["persona"].notna().sum() > 0
