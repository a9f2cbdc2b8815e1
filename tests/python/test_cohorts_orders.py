"""customer_orders and customer_cohorts (issue 23): every figure of tests/fixtures/cohorts/README.md,
worked out by hand, and both marts recomputed independently in pandas from the usable order
lines (intermediate.int_order_lines_validated) on CDNOW (every customer starts in Q1 1997, a
textbook cohort) and Superstore: counts exact, money to 1e-6.
"""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import PROJECT_DIR, run_dbt_build
from pandas_orders import order_days

COHORTS = PROJECT_DIR / "tests" / "fixtures" / "cohorts"
MONEY = 1e-6
ORDER_COLUMNS = ["order_date", "is_purchase", "net_spend", "items_purchased", "cost_amount", "uncosted_spend",
                 "margin_amount", "line_count", "segment"]
COHORT_COLUMNS = ["cohort_size", "active_customers", "retention_pct", "revenue", "margin",
                  "cumulative_revenue_per_customer", "cumulative_margin_per_customer"]


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    db = tmp_path_factory.mktemp("cohorts") / "spendlens.duckdb"
    run_dbt_build(COHORTS, db, {"as_of_date": "2024-04-10", "data_quality_max_issue_pct": 100},
                  select="+customer_orders +customer_cohorts")
    con = duckdb.connect(str(db), read_only=True)
    yield con
    con.close()


# -- the hand-made fixture (README tables) ---------------------------------------------------------

FIXTURE_ORDERS = {  # (order, customer): date, is_purchase, net, items, cost, uncosted, margin, lines, segment
    ("O1", "C1"): ("2024-01-05", True, 40.0, 3.0, 4.0, 30.0, 6.0, 3, "Retail"),
    ("O2", "C1"): ("2024-03-12", True, 10.0, 1.0, 4.0, 0.0, 6.0, 1, "Retail"),
    ("O3", "C2"): ("2024-01-20", True, 30.0, 3.0, 12.0, 0.0, 18.0, 1, "Trade"),
    ("O4", "C2"): ("2024-02-02", True, 50.0, 1.0, None, 50.0, None, 1, "Trade"),
    ("O5", "C3"): ("2024-02-14", True, 50.0, 5.0, 20.0, 0.0, 30.0, 1, "Retail"),
    ("O6", "C3"): ("2024-04-01", False, -20.0, 0.0, -8.0, 0.0, -12.0, 1, "Retail"),
    ("O7", "C3"): ("2024-04-05", True, 5.0, 1.0, 4.0, -5.0, 6.0, 2, "Retail"),
    ("O1", "C5"): ("2024-04-10", True, 10.0, 1.0, 4.0, 0.0, 6.0, 1, "Trade"),
}

FIXTURE_COHORTS = {  # (cohort, month): size, active, retention %, revenue, margin, cum revenue, cum margin / customer
    ("2024-01-01", 0): (2, 2, 100.0, 80.0, 30.0, 40.0, 15.0),
    ("2024-01-01", 1): (2, 1, 50.0, 50.0, None, 65.0, 15.0),
    ("2024-01-01", 2): (2, 1, 50.0, 0.0, 0.0, 65.0, 15.0),
    ("2024-01-01", 3): (2, 0, 0.0, 0.0, None, 65.0, 15.0),
    ("2024-02-01", 0): (1, 1, 100.0, 50.0, 30.0, 50.0, 30.0),
    ("2024-02-01", 1): (1, 0, 0.0, -5.0, None, 45.0, 30.0),
    ("2024-02-01", 2): (1, 1, 100.0, -10.0, -6.0, 35.0, 24.0),
    ("2024-04-01", 0): (1, 1, 100.0, 10.0, 6.0, 10.0, 6.0),
}


def _assert_values(got: tuple, want: tuple, key: object) -> None:
    assert len(got) == len(want), key
    for g, w in zip(got, want, strict=True):
        if w is None or isinstance(w, bool | str):
            assert g == w, (key, got, want)
        else:
            assert g == pytest.approx(w, abs=MONEY), (key, got, want)


def test_orders_keep_every_line_of_the_order_dated_by_its_first_purchase_line(fixture_db) -> None:
    found = fixture_db.execute(f"""
        select order_id, customer_id, cast(order_date as varchar), {", ".join(ORDER_COLUMNS[1:])}
        from marts.customer_orders""").fetchall()
    got = {(r[0], r[1]): tuple(r[2:]) for r in found}
    assert got.keys() == FIXTURE_ORDERS.keys()
    for key, want in FIXTURE_ORDERS.items():
        _assert_values(got[key], want, key)
    assert fixture_db.execute("select distinct reporting_currency from marts.customer_orders").fetchall() == [("USD",)]


def test_orders_add_up_to_each_customers_net_spend(fixture_db) -> None:
    found = fixture_db.execute("""
        select summarised.customer_id, summarised.net_spend_amount, summarised.order_count,
            coalesce(sum(orders.net_spend), 0), count(*) filter (where orders.is_purchase)
        from intermediate.int_customers_summarised as summarised
        left join marts.customer_orders as orders on summarised.customer_id = orders.customer_id
        group by all""").fetchall()
    for customer, net, count, order_net, order_count in found:
        assert order_net == pytest.approx(net, abs=MONEY), customer
        assert order_count == count, customer


def test_cohorts_follow_each_first_order_month_up_to_the_as_of_month(fixture_db) -> None:
    found = fixture_db.execute(f"""
        select cast(cohort_month as varchar), months_since_first_order, {", ".join(COHORT_COLUMNS)}
        from marts.customer_cohorts""").fetchall()
    got = {(r[0], r[1]): tuple(r[2:]) for r in found}
    assert got.keys() == FIXTURE_COHORTS.keys(), "a row for every month up to the as-of month, none before"
    for key, want in FIXTURE_COHORTS.items():
        _assert_values(got[key], want, key)


# -- pandas, independently, on the real data sets -------------------------------------------------

def _usable_lines(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    lines = con.execute("""
        select lines.order_id, lines.customer_id, lines.ordered_date, lines.quantity, lines.spend_amount,
            lines.cost_amount
        from intermediate.int_order_lines_validated as lines
        where lines.dq_reason is null
          and lines.ordered_date <= (select as_of_date from intermediate.int_analysis_dates)
    """).df()
    lines["ordered_date"] = pd.to_datetime(lines["ordered_date"])
    return lines


def _standard_calendar(con: duckdb.DuckDBPyConnection) -> None:
    """The expected figures use calendar months: the build must use the default calendar."""
    off = con.execute("""select count(*) from intermediate.int_business_calendar_days
        where business_month_start <> date_trunc('month', calendar_date)""").fetchone()[0]
    assert off == 0, "these data sets are built with the default business calendar (calendar months)"


def _expected_orders(con: duckdb.DuckDBPyConnection, lines: pd.DataFrame) -> pd.DataFrame:
    keys = ["order_id", "customer_id"]
    days = order_days(lines)
    costed = lines.assign(uncosted=lines["spend_amount"].where(lines["cost_amount"].isna(), 0.0))
    money = costed.groupby(keys).agg(
        net_spend=("spend_amount", "sum"), cost_amount=("cost_amount", lambda c: c.sum(min_count=1)),
        uncosted_spend=("uncosted", "sum"), line_count=("spend_amount", "size"),
        items_purchased=("quantity", lambda q: q.clip(lower=0).sum()), first_line=("ordered_date", "min"))
    purchase = days[days["is_purchase"]].set_index(keys)["order_date"].rename("purchase_date")
    orders = money.join(purchase)
    orders["is_purchase"] = orders["purchase_date"].notna()
    orders["order_date"] = orders["purchase_date"].fillna(orders["first_line"])
    orders["margin_amount"] = orders["net_spend"] - orders["uncosted_spend"] - orders["cost_amount"]
    segments = con.execute("select customer_id, segment from intermediate.int_customers_validated "
                           "where dq_reason is null").df().set_index("customer_id")["segment"]
    orders = orders.join(segments, on="customer_id")
    return orders.reset_index()


def _expected_cohorts(lines: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    days = order_days(lines)
    purchases = days[days["is_purchase"]].assign(month=lambda d: d["order_date"].dt.to_period("M"))
    first = purchases.groupby("customer_id")["month"].min().rename("cohort")
    size = first.value_counts().rename("cohort_size")
    last = as_of.to_period("M")
    grid = pd.DataFrame([(cohort, k) for cohort in size.index for k in range((last - cohort).n + 1)],
                        columns=["cohort", "months_since_first_order"])
    grid = grid.join(size, on="cohort")

    def since(frame: pd.DataFrame, month: pd.Series) -> pd.DataFrame:
        frame = frame.join(first, on="customer_id")
        frame = frame.assign(months_since_first_order=[(m - c).n for m, c in zip(month, frame["cohort"],
                                                                                 strict=True)])
        return frame[frame["months_since_first_order"] >= 0]

    active = since(purchases, purchases["month"]).groupby(["cohort", "months_since_first_order"])[
        "customer_id"].nunique().rename("active_customers")
    money_lines = lines.join(first, on="customer_id", how="inner").drop(columns="cohort")
    money_lines = since(money_lines, money_lines["ordered_date"].dt.to_period("M")).assign(
        uncosted=lambda f: f["spend_amount"].where(f["cost_amount"].isna(), 0.0))
    money = money_lines.groupby(["cohort", "months_since_first_order"]).agg(
        revenue=("spend_amount", "sum"), cost=("cost_amount", lambda c: c.sum(min_count=1)),
        uncosted=("uncosted", "sum"))
    frame = grid.join(active, on=["cohort", "months_since_first_order"]).join(
        money, on=["cohort", "months_since_first_order"])
    frame = frame.sort_values(["cohort", "months_since_first_order"]).reset_index(drop=True)
    frame["active_customers"] = frame["active_customers"].fillna(0).astype(int)
    frame["revenue"] = frame["revenue"].fillna(0.0)
    frame["margin"] = frame["revenue"] - frame["uncosted"] - frame["cost"]
    frame["retention_pct"] = 100.0 * frame["active_customers"] / frame["cohort_size"]
    by_cohort = frame.groupby("cohort")
    frame["cumulative_revenue_per_customer"] = by_cohort["revenue"].cumsum() / frame["cohort_size"]
    seen_margin = frame["margin"].notna().groupby(frame["cohort"]).cumsum() > 0
    running = frame["margin"].fillna(0.0).groupby(frame["cohort"]).cumsum()
    frame["cumulative_margin_per_customer"] = (running / frame["cohort_size"]).where(seen_margin)
    frame["cohort_month"] = frame["cohort"].dt.start_time
    return frame


def _assert_frames_equal(got: pd.DataFrame, want: pd.DataFrame, keys: list[str], columns: list[str]) -> None:
    merged = got.merge(want, on=keys, how="outer", suffixes=("_got", "_want"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"][keys].head(10)
    for column in columns:
        a, b = merged[f"{column}_got"], merged[f"{column}_want"]
        if pd.api.types.is_float_dtype(b) or pd.api.types.is_float_dtype(a):
            a, b = a.astype(float), b.astype(float)
            assert (a.isna() == b.isna()).all(), (column, merged[a.isna() != b.isna()][keys].head())
            both = a.notna()
            assert np.allclose(a[both], b[both], rtol=0, atol=MONEY), (column, (a - b).abs().max())
        else:
            same = (a == b) | (a.isna() & b.isna())
            assert same.all(), (column, merged[~same][keys + [f"{column}_got", f"{column}_want"]].head())


@pytest.mark.parametrize("dataset", ["cdnow", "superstore"])
def test_customer_orders_equal_pandas(connect, dataset: str) -> None:
    con = connect(dataset)
    lines = _usable_lines(con)
    want = _expected_orders(con, lines)
    got = con.execute("select * from marts.customer_orders").df()
    got["order_date"] = pd.to_datetime(got["order_date"])
    assert len(got) == len(want)
    _assert_frames_equal(got, want, ["order_id", "customer_id"], ORDER_COLUMNS)
    currency = con.execute("select reporting_currency from intermediate.int_reporting_currency").fetchone()[0]
    assert set(got["reporting_currency"]) == {currency}


@pytest.mark.parametrize("dataset", ["cdnow", "superstore"])
def test_customer_cohorts_equal_pandas(connect, dataset: str) -> None:
    con = connect(dataset)
    _standard_calendar(con)
    lines = _usable_lines(con)
    as_of = pd.Timestamp(con.execute("select as_of_date from intermediate.int_analysis_dates").fetchone()[0])
    want = _expected_cohorts(lines, as_of)
    got = con.execute("select * from marts.customer_cohorts").df()
    got["cohort_month"] = pd.to_datetime(got["cohort_month"])
    assert len(got) == len(want)
    _assert_frames_equal(got, want, ["cohort_month", "months_since_first_order"], COHORT_COLUMNS)
    assert (got.loc[got["months_since_first_order"] == 0, "retention_pct"] == 100).all()
    if dataset == "cdnow":  # every CDNOW customer made a first purchase in Q1 1997
        cohorts = sorted(got["cohort_month"].dt.strftime("%Y-%m").unique())
        assert cohorts == ["1997-01", "1997-02", "1997-03"]
        sizes = got.groupby("cohort_month")["cohort_size"].first().sum()
        assert sizes == con.execute("select count(distinct customer_id) from marts.customer_orders "
                                    "where is_purchase").fetchone()[0]
