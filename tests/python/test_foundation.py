"""Foundation (issue 2): inputs, data quality and the compact aggregate, checked against
numbers computed independently from the raw files with pandas."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_DATASETS, BuiltProjects, run_dbt_build

REL = 1e-9


def _aggregate_totals(con) -> pd.DataFrame:
    return con.execute(
        """
        select item_level, sum(spend_amount) as spend, sum(quantity) as quantity,
               sum(line_count) as lines
        from intermediate.int_order_lines_aggregated_to_days
        group by item_level
        """
    ).df().set_index("item_level")


def test_cdnow_aggregate_equals_raw_file_totals(connect) -> None:
    raw = pd.read_csv(SHARED_DATASETS / "cdnow" / "CDNOW_master.txt", sep=r"\s+",
                      dtype={"customer_id": str, "date": str})
    con = connect("cdnow")
    totals = _aggregate_totals(con)
    assert totals.loc["product", "lines"] == len(raw) == 69_659
    assert totals.loc["product", "spend"] == pytest.approx(raw["dollar_value"].sum(), rel=REL)
    assert totals.loc["product", "quantity"] == raw["number_of_cds"].sum()
    assert "bundle" not in totals.index  # CDNOW has no bundles file
    # orders: one per customer and day
    orders = con.execute("select count(*) from intermediate.int_orders_summarised").fetchone()[0]
    assert orders == raw.groupby(["customer_id", "date"]).ngroups
    # ids keep their leading zeros
    ids = {r[0] for r in con.execute("select customer_id from intermediate.int_customers_summarised").fetchall()}
    assert "00001" in ids and len(ids) == raw["customer_id"].nunique() == 23_570
    # no costs in CDNOW: cost is null, never 0
    assert con.execute("select count(cost_amount) from intermediate.int_orders_summarised").fetchone()[0] == 0
    assert con.execute("select count(*) from marts.data_quality_issues").fetchone()[0] == 0


def test_superstore_aggregate_equals_raw_file_totals(connect) -> None:
    raw = pd.read_csv(SHARED_DATASETS / "superstore" / "superstore.csv", encoding="latin-1")
    con = connect("superstore")
    totals = _aggregate_totals(con)
    for level in ("product", "category"):
        assert totals.loc[level, "lines"] == len(raw) == 9_994
        assert totals.loc[level, "spend"] == pytest.approx(raw["Sales"].sum(), rel=REL)
    # every Superstore product is in exactly one sub-category bundle
    assert totals.loc["bundle", "spend"] == pytest.approx(raw["Sales"].sum(), rel=REL)
    cost = con.execute("select sum(cost_amount) from intermediate.int_order_lines_aggregated_to_days "
                   "where item_level = 'product'").fetchone()[0]
    assert cost == pytest.approx((raw["Sales"] - raw["Profit"]).sum(), rel=REL)
    by_category = con.execute(
        "select item_id, sum(spend_amount) from intermediate.int_order_lines_aggregated_to_days "
        "where item_level = 'category' group by 1").fetchall()
    expected = raw.groupby("Category")["Sales"].sum()
    assert {k: pytest.approx(v, rel=REL) for k, v in expected.items()} == dict(by_category)
    orders = con.execute("select count(*) from intermediate.int_orders_summarised").fetchone()[0]
    assert orders == raw["Order ID"].nunique()
    assert con.execute("select count(*) from marts.data_quality_issues").fetchone()[0] == 0


def _raw_lines(raw: Path) -> pd.DataFrame:
    return pd.read_csv(raw / "order_lines.csv", dtype=str, keep_default_na=False)


def test_generated_bad_rows_each_reported_with_reason(connect, projects: BuiltProjects) -> None:
    con = connect("generated")
    reasons = {r[0] for r in con.execute(
        "select distinct reason from marts.data_quality_issues where source_file = 'order_lines'"
    ).fetchall()}
    expected = {"unparseable number", "unparseable date", "missing key", "duplicate line",
                "unknown customer", "unknown product", "date in the future", "negative price",
                "currency without a rate"}
    assert expected <= reasons
    # nothing silently dropped: usable + set aside = every line of the file
    lines = _raw_lines(projects.raw("generated"))
    validated = con.execute("select count(*), count(dq_reason) from intermediate.int_order_lines_validated").fetchone()
    assert validated[0] == len(lines)
    issues = con.execute(
        "select count(*) from marts.data_quality_issues where source_file = 'order_lines'").fetchone()[0]
    assert issues == validated[1]


def test_generated_aggregate_equals_pandas_on_clean_lines(connect, projects: BuiltProjects) -> None:
    """Recompute the usable lines from the raw CSV with pandas, independently of the SQL rules."""
    raw_dir = projects.raw("generated")
    lines = _raw_lines(raw_dir)
    customers = pd.read_csv(raw_dir / "customers.csv", dtype=str, keep_default_na=False)
    products = pd.read_csv(raw_dir / "products.csv", dtype=str, keep_default_na=False)
    fx = pd.read_csv(raw_dir / "fx_rates.csv", dtype={"currency": str})
    qty = pd.to_numeric(lines["quantity"], errors="coerce")
    price = pd.to_numeric(lines["unit_price"], errors="coerce")
    amount = pd.to_numeric(lines["line_amount"].replace("", None), errors="coerce")
    date = pd.to_datetime(lines["ordered_at"], errors="coerce", format="ISO8601")
    today = pd.Timestamp.today().normalize()
    ok = (
        (lines[["order_id", "line_number", "customer_id", "product_id"]] != "").all(axis=1)
        & np.isfinite(qty) & np.isfinite(price) & date.notna() & (date <= today)
        & lines["customer_id"].isin(customers["customer_id"])
        & lines["product_id"].isin(products["product_id"])
        & (price >= 0)
    )
    unparseable_amount = (lines["line_amount"] != "") & ~np.isfinite(amount)
    # a bad optional unit_cost keeps the line (its cost counts as missing)
    ok &= ~unparseable_amount
    currency = lines["currency"].replace("", "USD")
    ok &= currency.isin(["USD", *fx["currency"].unique()])
    dup = lines.duplicated(subset=["order_id", "line_number"], keep=False)
    # duplicated keys: exactly one copy of each duplicated key survives (when it is otherwise ok)
    clean = lines[ok & ~dup].copy()
    dup_ok = lines[ok & dup].drop_duplicates(subset=["order_id", "line_number"])
    clean = pd.concat([clean, dup_ok])
    clean["amount"] = pd.to_numeric(clean["line_amount"].replace("", None), errors="coerce").fillna(
        pd.to_numeric(clean["quantity"]) * pd.to_numeric(clean["unit_price"]))
    clean["date"] = pd.to_datetime(clean["ordered_at"], format="ISO8601").dt.normalize()
    clean["currency"] = clean["currency"].replace("", "USD")
    fx["rate_date"] = pd.to_datetime(fx["rate_date"])
    eur = clean[clean["currency"] != "USD"].sort_values("date")
    eur = pd.merge_asof(eur, fx.sort_values("rate_date"), left_on="date", right_on="rate_date",
                        by="currency", direction="backward")
    usd = clean[clean["currency"] == "USD"]
    total = usd["amount"].sum() + (eur["amount"] * eur["rate_to_reporting"]).sum()
    con = connect("generated")
    totals = _aggregate_totals(con)
    assert totals.loc["product", "lines"] == len(clean)
    assert totals.loc["product", "spend"] == pytest.approx(total, rel=1e-9)
    monthly = con.execute(  # the month roll-up (category level: every line once)
        "select sum(spend_amount) from marts.customer_monthly_spend where item_level = 'category'"
    ).fetchall()[0][0]
    assert monthly == pytest.approx(total, rel=1e-9)


def _copy_tiny(tmp_path: Path) -> Path:
    src = Path(__file__).resolve().parents[1] / "fixtures" / "tiny"
    dst = tmp_path / "raw"
    shutil.copytree(src, dst)
    return dst


def test_missing_required_file_names_it(tmp_path: Path) -> None:
    raw = _copy_tiny(tmp_path)
    (raw / "products.csv").unlink()
    result = run_dbt_build(raw, tmp_path / "db" / "x.duckdb", {"data_quality_max_issue_pct": 100}, check=False)
    assert result.returncode != 0
    assert "Required input file products.csv (or products.parquet) not found" in result.stdout


def test_missing_required_column_names_it(tmp_path: Path) -> None:
    raw = _copy_tiny(tmp_path)
    frame = pd.read_csv(raw / "customers.csv", dtype=str)
    frame.drop(columns=["segment"]).to_csv(raw / "customers.csv", index=False)
    result = run_dbt_build(raw, tmp_path / "db" / "x.duckdb", {"data_quality_max_issue_pct": 100}, check=False)
    assert result.returncode != 0
    assert "customers.csv has no column segment" in result.stdout


def test_parquet_inputs_and_upper_case_columns_give_same_totals(tmp_path: Path, connect) -> None:
    import duckdb

    raw = _copy_tiny(tmp_path)
    for name in ("order_lines", "customers"):
        frame = pd.read_csv(raw / f"{name}.csv", dtype=str, keep_default_na=False)
        frame.columns = [c.upper() for c in frame.columns]
        (raw / f"{name}.csv").unlink()
        frame.to_parquet(raw / f"{name}.parquet", index=False)
    db = tmp_path / "db" / "x.duckdb"
    db.parent.mkdir()
    run_dbt_build(raw, db, {"data_quality_max_issue_pct": 100})
    with duckdb.connect(str(db), read_only=True) as con:
        got = con.execute("select item_level, sum(spend_amount), count(*) from "
                      "intermediate.int_order_lines_aggregated_to_days group by 1 order by 1").fetchall()
    tiny = connect("tiny")
    want = tiny.execute("select item_level, sum(spend_amount), count(*) from "
                    "intermediate.int_order_lines_aggregated_to_days group by 1 order by 1").fetchall()
    assert got == want


def test_tiny_fixture_hand_computed(connect) -> None:
    """tests/fixtures/tiny by hand: C001 bought 2 x P1 at 10 and 1 x P2 at 5 (P2 has no cost),
    returned 1 x P1; C002 bought 1 x P1 at 10 EUR at 1.1 (rate of 2024-01-01 applies on
    2024-02-10); C003 bought 3 x P2 at 5 (the duplicate line is set aside)."""
    con = connect("tiny")
    rows = con.execute(
        "select customer_id, item_id, sum(spend_amount), sum(cost_amount), sum(uncosted_spend_amount) "
        "from intermediate.int_order_lines_aggregated_to_days where item_level = 'product' "
        "group by 1, 2 order by 1, 2").fetchall()
    assert rows == [
        ("C001", "P1", 10.0, 6.0, 0.0),
        ("C001", "P2", 5.0, None, 5.0),
        ("C002", "P1", pytest.approx(11.0), 6.6000000000000005, 0.0),
        ("C003", "P2", 15.0, 6.0, 0.0),
    ]
    reasons = dict(con.execute("select order_id, reason from marts.data_quality_issues").fetchall())
    assert reasons == {
        "O4": "duplicate line", "O5": "unknown customer", "O6": "unknown product",
        "O7": "date in the future", "O8": "unparseable date", "O9": "unparseable number",
        "O10": "missing key", "O11": "negative price", "O12": "currency without a rate",
    }
    as_of = con.execute("select as_of_date from intermediate.int_analysis_dates").fetchone()[0]
    assert as_of.isoformat() == "2024-03-15"
