"""Definitions that mean what the business means (issue 19, items 1-4, 6-8 and 11).

Hand-computed figures on the ledger fixture (tests/fixtures/ledger, README there; as-of
2024-03-20) and pandas recomputations on the CDNOW and Superstore builds: every customer x item
ever bought, the ten KPI tiles over a custom period, new customers, consent and tenure in
customers_360 with the two list queries of docs/metrics.md, and predicted CLV as undiscounted
expected spend with its present value beside it.
"""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import PROJECT_DIR, run_dbt_build

LEDGER = PROJECT_DIR / "tests" / "fixtures" / "ledger"
CUSTOM = {"kpi_period_start": "2024-03-01", "kpi_period_end": "2024-03-20"}


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    db = tmp_path_factory.mktemp("definitions") / "spendlens.duckdb"
    run_dbt_build(LEDGER, db, {"data_quality_max_issue_pct": 100, **CUSTOM})
    con = duckdb.connect(str(db), read_only=True)
    yield con
    con.close()


def test_customer_item_purchases_by_hand(ledger: duckdb.DuckDBPyConnection) -> None:
    rows = {(r[0], r[1], r[2]): r[3:] for r in ledger.execute("""
        select customer_id, item_level, item_id, cast(first_purchase_date as varchar),
               cast(last_purchase_date as varchar), lifetime_spend, lifetime_quantity, order_count,
               days_since_last_purchase
        from marts.customer_item_purchases""").fetchall()}
    # C1 x P1: bought 01-10, 01-20 and 03-02 (O1, O2, O10), a return of one unit on 03-15
    assert rows[("C1", "product", "P1")] == ("2024-01-10", "2024-03-02", pytest.approx(47.0), 4.0, 3, 18)
    assert rows[("C1", "product", "P2")] == ("2024-01-10", "2024-01-10", pytest.approx(30.0), 1.0, 1, 70)
    # the bundle B1 (P1, P2) and the category Tools: O1 holds both products, one order that day
    for key in [("C1", "bundle", "B1"), ("C1", "category", "Tools")]:
        assert rows[key] == ("2024-01-10", "2024-03-02", pytest.approx(77.0), 5.0, 3, 18)
    assert rows[("C2", "product", "P1")] == ("2024-02-05", "2024-03-20", pytest.approx(40.0), 4.0, 2, 0)
    assert rows[("C3", "category", "Toys")] == ("2024-03-01", "2024-03-01", pytest.approx(40.0), 2.0, 1, 19)
    assert len([k for k in rows if k[1] == "product"]) == 5  # C1 P1 P2, C2 P1 P3, C3 P4


CUSTOM_TILES = {  # value, comparison value: 2024-03-01..20 against 2024-02-10..29 (20 days)
    "total_revenue": (55.0, 55.0),  # 15 - 10 (C1's late return) + 10 + 40 | C2's O4 55
    "average_order_value": (55 / 3, 55.0),
    "customer_lifetime_value": ((77 + 95 + 40) / 3, 85.0),
    "total_orders": (3.0, 1.0),
    "average_items_per_order": (4 / 3, 1.0),
    "average_days_between_orders": (None, None),
    "customers": (3.0, 1.0),
    "one_time_buyers": (1.0, 0.0),  # C3; C1 and C2 have three orders by 03-20, C2 two by 02-29
    "repeat_customers": (2.0, 1.0),
    "new_customers": (1.0, 0.0),  # C3 (first order 03-01)
}


def test_kpi_tiles_custom_period_by_hand(ledger: duckdb.DuckDBPyConnection) -> None:
    tiles = ledger.execute("""
        select tile, value, comparison_value, pct_change, cast(comparison_start as varchar),
               cast(comparison_end as varchar), period_days
        from marts.kpi_tiles where period_name = 'custom'""").fetchall()
    assert len(tiles) == 10
    for tile, value, comparison, change, comparison_start, comparison_end, days in tiles:
        want, want_comparison = CUSTOM_TILES[tile]
        assert (comparison_start, comparison_end, days) == ("2024-02-10", "2024-02-29", 20)
        assert value == (pytest.approx(want) if want is not None else None), tile
        assert comparison == (pytest.approx(want_comparison) if want_comparison is not None else None), tile
        expected_change = (None if want is None or not want_comparison
                           else 100 * (want - want_comparison) / want_comparison)
        assert change == (pytest.approx(expected_change) if expected_change is not None else None), tile
    assert ledger.execute("select count(distinct period_name) from marts.kpi_tiles").fetchall()[0][0] == 3


def test_custom_period_needs_both_ends(tmp_path) -> None:
    result = run_dbt_build(LEDGER, tmp_path / "x.duckdb",
                           {"data_quality_max_issue_pct": 100, "kpi_period_start": "2024-03-01"}, check=False)
    assert result.returncode != 0
    assert "Set both kpi_period_start and kpi_period_end" in result.stdout


def test_new_customers_and_consent_reach_the_customer(ledger: duckdb.DuckDBPyConnection) -> None:
    rfm = dict(ledger.execute("select customer_id, is_new_customer from marts.customer_rfm").fetchall())
    assert rfm == {"C1": True, "C2": True, "C3": True}  # first orders 70, 44 and 19 days before as-of
    row = ledger.execute("""
        select account_manager, created_at, email_opt_in, is_new_customer
        from marts.customers_360 where customer_id = 'C1'""").fetchall()[0]
    assert row == ("Ann", pd.Timestamp("2023-01-01").date(), True, True)
    # C2's created_at was unreadable and C3's opt-in 'perhaps': kept as null
    fields = {r[0]: r[1:] for r in ledger.execute(
        "select customer_id, created_at, email_opt_in from marts.customers_360").fetchall()}
    assert fields["C2"] == (None, False)
    assert fields["C3"] == (pd.Timestamp("2023-05-01").date(), None)


# -- pandas on the real data sets ---------------------------------------------------------------

@pytest.mark.parametrize("dataset", ["cdnow", "superstore"])
def test_customer_item_purchases_match_pandas(connect, dataset: str) -> None:
    con = connect(dataset)
    as_of = pd.Timestamp(con.execute("select as_of_date from intermediate.int_analysis_dates").fetchall()[0][0])
    lines = con.execute("""
        select customer_id, product_id, category, ordered_date, quantity, spend_amount
        from intermediate.int_order_lines_validated where dq_reason is null""").df()
    lines["ordered_date"] = pd.to_datetime(lines["ordered_date"])
    lines = lines[lines["ordered_date"] <= as_of]
    actual = con.execute("select * from marts.customer_item_purchases where item_level = 'product'").df()
    bought = lines[lines["quantity"] > 0]
    dates = bought.groupby(["customer_id", "product_id"])["ordered_date"].agg(["min", "max"])
    totals = lines.groupby(["customer_id", "product_id"]).agg(
        spend=("spend_amount", "sum"), quantity=("quantity", "sum"))
    expected = dates.join(totals).reset_index()
    merged = actual.merge(expected, left_on=["customer_id", "item_id"], right_on=["customer_id", "product_id"],
                          how="outer", indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head()
    assert (pd.to_datetime(merged["first_purchase_date"]) == merged["min"]).all()
    assert (pd.to_datetime(merged["last_purchase_date"]) == merged["max"]).all()
    assert np.allclose(merged["lifetime_spend"], merged["spend"], rtol=1e-9, atol=1e-6)
    assert np.allclose(merged["lifetime_quantity"], merged["quantity"])
    assert (merged["days_since_last_purchase"] == (as_of - merged["max"]).dt.days).all()


@pytest.mark.parametrize("dataset", ["cdnow", "superstore"])
def test_new_customers_clv_and_segment_tiers_match_pandas(connect, dataset: str) -> None:
    con = connect(dataset)
    as_of = pd.Timestamp(con.execute("select as_of_date from intermediate.int_analysis_dates").fetchall()[0][0])
    rfm = con.execute("select customer_id, first_order_date, is_new_customer from marts.customer_rfm").df()
    first = con.execute("""
        select customer_id, min(ordered_date) as first_buy from intermediate.int_order_lines_validated
        where dq_reason is null and quantity > 0 group by 1""").df().set_index("customer_id")["first_buy"]
    rfm = rfm.join(first, on="customer_id")
    assert (pd.to_datetime(rfm["first_order_date"]) == pd.to_datetime(rfm["first_buy"])).all()
    assert (rfm["is_new_customer"] == ((as_of - pd.to_datetime(rfm["first_buy"])).dt.days < 90)).all()
    value = con.execute("select * from marts.customer_value").df()
    scored = value[value["predicted_clv"].notna()]
    assert len(scored) > 0
    # predicted CLV is the undiscounted expected spend; its present value is never more
    assert np.allclose(scored["predicted_clv"], scored["predicted_orders"] * scored["predicted_aov"], rtol=1e-9)
    assert (scored["predicted_clv_discounted"] <= scored["predicted_clv"] + 1e-9).all()
    assert np.allclose(scored["total_clv"], scored["historic_clv"] + scored["predicted_clv"], rtol=1e-9)
    summary = con.execute("select * from marts.segment_summary").df()
    tiers = summary[summary["dimension"] == "predicted_spend_tier"].set_index("dimension_value")
    value = value.merge(rfm[["customer_id", "is_new_customer"]], on="customer_id", how="left")
    value["tier"] = value["predicted_spend_tier"].fillna("(not scored)")
    for tier, group in value[value["last_order_date"].notna()].groupby("tier"):
        assert tiers.loc[tier, "customers"] == len(group)
        assert tiers.loc[tier, "new_customers"] == int(group["is_new_customer"].fillna(False).sum())
        expected_total = group["total_clv"].mean()
        actual_total = tiers.loc[tier, "avg_total_clv"]
        assert (pd.isna(actual_total) and pd.isna(expected_total)) or actual_total == pytest.approx(expected_total)
        assert tiers.loc[tier, "predicted_revenue_next_horizon"] == pytest.approx(group["predicted_clv"].sum()) \
            or group["predicted_clv"].isna().all()


def test_the_two_list_queries_of_the_docs(connect) -> None:
    """docs/metrics.md: high predicted spend and subscribed; new customers of a segment."""
    con = connect("superstore")
    high_subscribed = con.execute("""
        select customer_id from marts.customers_360
        where predicted_spend_tier = 'high' and email_opt_in""").df()
    frame = con.execute("select customer_id, predicted_spend_tier, email_opt_in from marts.customers_360").df()
    expected = frame[(frame["predicted_spend_tier"] == "high") & (frame["email_opt_in"] == True)]  # noqa: E712
    assert set(high_subscribed["customer_id"]) == set(expected["customer_id"])
    new_at_risk = con.execute("""
        select customer_id from marts.customers_360
        where is_new_customer and segment = 'Consumer' and churn_risk >= 0""").df()
    expected = con.execute("select customer_id, segment from marts.customer_rfm where is_new_customer").df()
    expected = expected[expected["segment"] == "Consumer"]
    assert set(new_at_risk["customer_id"]) <= set(expected["customer_id"])
