"""RFM, personas, movements, KPI tiles and recommendations (issue 5), recomputed independently
with pandas from the usable order lines and compared with the marts on CDNOW, Superstore and
generated data. The segment grid and persona rules are written out here from the issue, not read
from the seeds, so a wrong seed row fails too."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import BuiltProjects
from pandas_orders import order_days

REL = 1e-6
BINS = 5
LOCAL_DATA = Path("/work/data")
# CDNOW's last order date, its default as-of, is a month-end (1998-06-30), so the history row at
# as-of can be compared with customer_rfm.
CDNOW_AS_OF = "1998-06-30"

SEGMENTS = {
    "Champions": ["55", "54", "45"],
    "Loyal Customers": ["53", "44", "35", "34"],
    "Potential Loyalists": ["52", "42", "43", "33"],
    "Recent Customers": ["51"],
    "Promising": ["41", "31"],
    "Customers Needing Attention": ["32", "23", "22"],
    "About to Sleep": ["21"],
    "At Risk": ["25", "24", "13"],
    "Can't Lose Them": ["15", "14"],
    "Hibernating": ["12"],
    "Lost": ["11"],
}
SEGMENT_OF_CELL = {
    (int(cell[0]), int(cell[1])): name for name, cells in SEGMENTS.items() for cell in cells
}


def _persona(stage: str, fm_sum: int) -> str:
    if stage == "active":
        return "Champions" if fm_sum >= 8 else "Loyal" if fm_sum >= 5 else "Recent"
    if stage == "lapsing":
        return "At Risk" if fm_sum >= 6 else "Needs Attention"
    return "Inactive"


@pytest.fixture(scope="module")
def built(projects: BuiltProjects) -> Callable[[str], duckdb.DuckDBPyConnection]:
    """built('superstore') -> read-only connection; uses /work/data inputs when present."""
    opened: dict[str, duckdb.DuckDBPyConnection] = {}

    def _built(name: str) -> duckdb.DuckDBPyConnection:
        if name not in opened:
            local = LOCAL_DATA / name / "raw"
            target = projects.root / name / "raw"
            if local.exists() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(local)
            opened[name] = duckdb.connect(str(projects.db(name)), read_only=True)
        return opened[name]

    yield _built
    for con in opened.values():
        con.close()


# ---------------------------------------------------------------- pandas reference


def _lines(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.Timestamp]:
    as_of = pd.Timestamp(
        con.execute("select as_of_date from intermediate.int_analysis_dates").fetchone()[0]
    )
    lines = con.execute(
        "select order_id, customer_id, product_id, category, ordered_date, quantity, spend_amount "
        "from intermediate.int_order_lines_validated where dq_reason is null"
    ).df()
    lines["ordered_date"] = pd.to_datetime(lines["ordered_date"])
    return lines[lines["ordered_date"] <= as_of], as_of


def _orders(lines: pd.DataFrame) -> pd.DataFrame:
    return order_days(lines)


def _quantile_scores(worse: np.ndarray, n: int) -> np.ndarray:
    return np.minimum(BINS, 1 + np.floor(BINS * worse / n)).astype(int)


def _rfm_at(orders: pd.DataFrame, date: pd.Timestamp) -> pd.DataFrame:
    upto = orders[orders["order_date"] <= date]
    buys = upto[upto["is_purchase"]]
    rfm = buys.groupby("customer_id").agg(
        frequency=("order_id", "size"), last_order_date=("order_date", "max")
    )
    rfm = rfm.join(upto.groupby("customer_id")["spend"].sum().rename("monetary"))
    rfm["recency_days"] = (date - rfm["last_order_date"]).dt.days
    n = len(rfm)
    recency = np.sort(rfm["recency_days"].to_numpy())
    frequency = np.sort(rfm["frequency"].to_numpy())
    money = rfm["monetary"].round(6).to_numpy()
    money_sorted = np.sort(money)
    rfm["r_score"] = _quantile_scores(n - np.searchsorted(recency, rfm["recency_days"], "right"), n)
    rfm["f_score"] = _quantile_scores(np.searchsorted(frequency, rfm["frequency"], "left"), n)
    rfm["m_score"] = _quantile_scores(np.searchsorted(money_sorted, money, "left"), n)
    rfm["fm_score"] = [
        math.ceil((f + m) / 2) for f, m in zip(rfm["f_score"], rfm["m_score"], strict=True)
    ]
    rfm["rfm_cell"] = (
        rfm["r_score"].astype(str) + rfm["f_score"].astype(str) + rfm["m_score"].astype(str)
    )
    rfm["rfm_segment"] = [
        SEGMENT_OF_CELL[(r, fm)] for r, fm in zip(rfm["r_score"], rfm["fm_score"], strict=True)
    ]
    low, high = rfm["recency_days"].min(), rfm["recency_days"].max()
    active, lapsing = low + (high - low) / 3.0, low + 2 * (high - low) / 3.0
    rfm["lifecycle_stage"] = np.where(
        rfm["recency_days"] <= active,
        "active",
        np.where(rfm["recency_days"] <= lapsing, "lapsing", "inactive"),
    )
    rfm["persona"] = [
        _persona(s, f + m)
        for s, f, m in zip(rfm["lifecycle_stage"], rfm["f_score"], rfm["m_score"], strict=True)
    ]
    return rfm


RFM_COLUMNS = [
    "recency_days",
    "frequency",
    "r_score",
    "f_score",
    "m_score",
    "fm_score",
    "rfm_cell",
    "rfm_segment",
    "lifecycle_stage",
    "persona",
]


def _assert_rfm_equal(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    actual = actual.set_index("customer_id").sort_index()
    expected = expected.sort_index()
    assert list(actual.index) == list(expected.index)
    for column in RFM_COLUMNS:
        mismatched = (actual[column].astype(str) != expected[column].astype(str)).sum()
        assert mismatched == 0, f"{column}: {mismatched} customers differ"
    assert np.allclose(actual["monetary"], expected["monetary"], rtol=REL, atol=1e-6)


def _month_ends(orders: pd.DataFrame, as_of: pd.Timestamp) -> list[pd.Timestamp]:
    first = orders["order_date"].min()
    return [d for d in pd.date_range(first, as_of, freq="ME") if d >= first]


# ---------------------------------------------------------------- RFM


@pytest.mark.parametrize("dataset", ["cdnow", "superstore", "generated"])
def test_customer_rfm_matches_pandas_quantiles_segments_and_personas(built, dataset: str) -> None:
    con = built(dataset)
    lines, as_of = _lines(con)
    expected = _rfm_at(_orders(lines), as_of)
    actual = con.execute("select * from marts.customer_rfm").df()
    assert len(actual) > 100
    _assert_rfm_equal(actual, expected)
    # every scored customer has exactly one persona and segment (the seeds are complete)
    assert actual["persona"].notna().all() and actual["rfm_segment"].notna().all()


@pytest.mark.parametrize("dataset", ["cdnow", "superstore"])
def test_customer_rfm_history_matches_pandas_at_every_month_end(built, dataset: str) -> None:
    con = built(dataset)
    lines, as_of = _lines(con)
    orders = _orders(lines)
    history = con.execute("select * from marts.customer_rfm_history").df()
    history["month_end_date"] = pd.to_datetime(history["month_end_date"])
    month_ends = _month_ends(orders, as_of)
    assert sorted(history["month_end_date"].unique()) == month_ends
    for month_end in month_ends:
        _assert_rfm_equal(
            history[history["month_end_date"] == month_end], _rfm_at(orders, month_end)
        )


def test_history_at_as_of_month_end_equals_customer_rfm(built) -> None:
    con = built("cdnow")
    assert (
        str(con.execute("select as_of_date from marts.customer_rfm limit 1").fetchone()[0])
        == CDNOW_AS_OF
    )
    diff = con.execute(
        f"""
        select count(*) from marts.customer_rfm as current
        full outer join (
            select * from marts.customer_rfm_history where month_end_date = date '{CDNOW_AS_OF}'
        ) as history on current.customer_id = history.customer_id
        where history.customer_id is null or current.customer_id is null
           or current.rfm_cell != history.rfm_cell or current.persona != history.persona
           or current.rfm_segment != history.rfm_segment or current.monetary != history.monetary
           or current.recency_days != history.recency_days
        """
    ).fetchone()[0]
    assert diff == 0
    assert con.execute("select count(*) from marts.customer_rfm").fetchone()[0] == 23_570


# ---------------------------------------------------------------- movements


@pytest.mark.parametrize("dataset", ["cdnow", "superstore"])
def test_persona_movements_match_pandas(built, dataset: str) -> None:
    con = built(dataset)
    lines, as_of = _lines(con)
    orders = _orders(lines)
    month_ends = _month_ends(orders, as_of)
    snapshots = {d: _rfm_at(orders, d) for d in [*month_ends, as_of]}
    pairs = {(a, b) for a, b in zip(month_ends, month_ends[1:], strict=False)}
    pairs |= {(d, as_of) for d in month_ends if d < as_of}
    expected = []
    for from_date, to_date in pairs:
        before, after = snapshots[from_date], snapshots[to_date]
        moved = after[["persona", "monetary"]].join(
            before[["persona", "monetary"]], suffixes=("", "_from")
        )
        moved["from_persona"] = moved["persona_from"].fillna("new customer")
        moved["revenue"] = moved["monetary"] - moved["monetary_from"].fillna(0)
        grouped = moved.groupby(["from_persona", "persona"], as_index=False).agg(
            customers=("revenue", "size"), revenue=("revenue", "sum")
        )
        expected.append(grouped.assign(from_date=from_date, to_date=to_date))
    expected = pd.concat(expected).rename(columns={"persona": "to_persona"})
    actual = con.execute("select * from marts.rfm_persona_movements").df()
    for frame in (actual, expected):
        frame["from_date"] = pd.to_datetime(frame["from_date"])
        frame["to_date"] = pd.to_datetime(frame["to_date"])
    key = ["from_date", "to_date", "from_persona", "to_persona"]
    merged = expected.merge(
        actual, on=key, how="outer", suffixes=("_expected", "_actual"), indicator=True
    )
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head()
    assert (merged["customers_expected"] == merged["customers_actual"]).all()
    assert np.allclose(merged["revenue_actual"], merged["revenue_expected"], rtol=REL, atol=1e-6)
    # the counts of a pair add up to the customers at the to-date
    totals = (
        actual.groupby("to_date")["customers"].sum()
        / actual.groupby("to_date")["from_date"].nunique()
    )
    for to_date, customers in totals.items():
        assert customers == len(snapshots[to_date])


# ---------------------------------------------------------------- KPI tiles


def _tiles(orders: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, float | None]:
    """The ten tiles of issue 19 from the order x day rows (pandas_orders.order_days)."""
    window = orders[(orders["order_date"] >= start) & (orders["order_date"] <= end)]
    buys = window[window["is_purchase"]].sort_values(["customer_id", "order_date", "order_id"])
    per_customer = buys.groupby("customer_id").size()
    gaps = buys.groupby("customer_id")["order_date"].diff().dt.days.dropna()
    to_date = orders[orders["order_date"] <= end]
    orders_to_date = to_date[to_date["is_purchase"]].groupby("customer_id").size().reindex(per_customer.index)
    spend_to_date = to_date.groupby("customer_id")["spend"].sum().reindex(per_customer.index)
    first_order = orders[orders["is_purchase"]].groupby("customer_id")["order_date"].min()
    n_orders = len(buys)
    return {
        "total_revenue": window["spend"].sum(),
        "average_order_value": window["spend"].sum() / n_orders if n_orders else None,
        "customer_lifetime_value": spend_to_date.mean() if len(per_customer) else None,
        "total_orders": n_orders,
        "average_items_per_order": window["items"].sum() / n_orders if n_orders else None,
        "average_days_between_orders": gaps.mean() if len(gaps) else None,
        "customers": len(per_customer),
        "one_time_buyers": int((orders_to_date == 1).sum()),
        "repeat_customers": int((orders_to_date >= 2).sum()),
        "new_customers": int(first_order.between(start, end).sum()),
    }


def _change(value: float | None, old: float | None) -> float | None:
    """% change, null when the base is missing, zero or negative (issue 19, item 6)."""
    return None if old is None or pd.isna(old) or old <= 0 or value is None else 100 * (value - old) / old


def _close(actual: float | None, expected: float | None) -> bool:
    if expected is None or actual is None or pd.isna(actual):
        return (expected is None) == (actual is None or pd.isna(actual))
    return actual == pytest.approx(expected, rel=REL, abs=1e-9)


@pytest.mark.parametrize("dataset", ["cdnow", "superstore", "generated"])
def test_kpi_tiles_match_pandas(built, dataset: str) -> None:
    con = built(dataset)
    lines, as_of = _lines(con)
    orders = _orders(lines)
    actual = con.execute("select * from marts.kpi_tiles").df()
    assert sorted(actual["period_days"].unique()) == [30, 365]
    assert len(actual) == 20
    for days in (30, 365):
        start = as_of - pd.Timedelta(days=days - 1)
        comparison_end = start - pd.Timedelta(days=1)
        comparison_start = comparison_end - pd.Timedelta(days=days - 1)
        period = _tiles(orders, start, as_of)
        comparison = _tiles(orders, comparison_start, comparison_end)
        rows = actual[actual["period_days"] == days].set_index("tile")
        assert pd.Timestamp(rows["period_start"].iloc[0]) == start
        assert pd.Timestamp(rows["comparison_start"].iloc[0]) == comparison_start
        for tile, value in period.items():
            assert _close(rows.loc[tile, "value"], value), (days, tile)
            assert _close(rows.loc[tile, "comparison_value"], comparison[tile]), (days, tile)
            assert _close(rows.loc[tile, "pct_change"], _change(value, comparison[tile])), (days, tile)
        assert period["one_time_buyers"] + period["repeat_customers"] == period["customers"]


@pytest.mark.parametrize("dataset", ["cdnow", "superstore"])
def test_kpi_tiles_by_segment_and_persona_match_pandas(built, dataset: str) -> None:
    """The ten tiles per segment and per persona at as-of, recomputed on each group's orders."""
    con = built(dataset)
    lines, as_of = _lines(con)
    orders = _orders(lines)
    actual = con.execute("select * from marts.kpi_tiles_by_dimension where period_days = 365").df()
    groups = con.execute("""
        select c.customer_id, coalesce(c.segment, '(no segment)') as segment,
               coalesce(r.persona, '(no purchase)') as persona
        from intermediate.int_customers_validated as c
        left join marts.customer_rfm as r on c.customer_id = r.customer_id
        where c.dq_reason is null""").df()
    start = as_of - pd.Timedelta(days=364)
    comparison_end = start - pd.Timedelta(days=1)
    comparison_start = comparison_end - pd.Timedelta(days=364)
    checked = 0
    for dimension in ("segment", "persona"):
        for value, members in groups.groupby(dimension)["customer_id"]:
            mine = orders[orders["customer_id"].isin(set(members))]
            period = _tiles(mine, start, as_of)
            comparison = _tiles(mine, comparison_start, comparison_end)
            rows = actual[(actual["dimension"] == dimension) & (actual["dimension_value"] == value)]
            rows = rows.set_index("tile")
            assert len(rows) == 10, (dimension, value)
            for tile, expected in period.items():
                assert _close(rows.loc[tile, "value"], expected), (dimension, value, tile)
                assert _close(rows.loc[tile, "comparison_value"], comparison[tile]), (dimension, value, tile)
                assert _close(rows.loc[tile, "pct_change"], _change(expected, comparison[tile])), (value, tile)
            checked += 1
    assert checked == actual.groupby(["dimension", "dimension_value"]).ngroups


def test_kpi_persona_tiles_add_up_to_customers_and_revenue(built) -> None:
    con = built("superstore")
    lines, as_of = _lines(con)
    orders = _orders(lines)
    rfm = _rfm_at(orders, as_of)
    actual = (
        con.execute("select * from marts.kpi_persona_tiles where period_days = 365")
        .df()
        .set_index("persona")
    )
    window = orders[orders["order_date"] > as_of - pd.Timedelta(days=365)]
    window = window.merge(rfm[["persona"]], left_on="customer_id", right_index=True)
    for persona, count in rfm["persona"].value_counts().items():
        assert actual.loc[persona, "customers"] == count
        revenue = window.loc[window["persona"] == persona, "spend"].sum()
        assert actual.loc[persona, "revenue"] == pytest.approx(revenue, rel=REL, abs=1e-6)
    assert actual["revenue_share_pct"].sum() == pytest.approx(100, rel=REL)


# ---------------------------------------------------------------- recommendations


def _history_pairs(lines: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(lines["customer_id"], lines["product_id"], strict=True))


@pytest.mark.parametrize("dataset", ["superstore", "generated"])
def test_no_recommendation_is_a_product_already_bought(built, dataset: str) -> None:
    con = built(dataset)
    lines, _ = _lines(con)
    recommendations = con.execute(
        "select customer_id, product_id from marts.customer_product_recommendations"
    ).df()
    assert len(recommendations) > 0
    bought = _history_pairs(lines)
    assert not any(
        pair in bought
        for pair in zip(recommendations["customer_id"], recommendations["product_id"], strict=True)
    )


def test_also_bought_matches_pandas_on_superstore(built) -> None:
    con = built("superstore")
    lines, _ = _lines(con)
    orders = _orders(lines)
    daily = lines.groupby(["customer_id", "product_id", "ordered_date"], as_index=False).agg(
        quantity=("quantity", "sum"), spend=("spend_amount", "sum")
    )
    bought = daily[daily["quantity"] > 0][["customer_id", "product_id"]].drop_duplicates()
    last_buy = (
        orders[orders["is_purchase"]].groupby("customer_id")["order_date"].max().rename("last_date")
    )
    latest = daily[daily["quantity"] > 0].merge(last_buy, left_on="customer_id", right_index=True)
    latest = latest[latest["ordered_date"] == latest["last_date"]]
    anchors = (
        latest.sort_values(["customer_id", "spend", "product_id"], ascending=[True, False, True])
        .groupby("customer_id")
        .head(1)[["customer_id", "product_id"]]
        .rename(columns={"product_id": "anchor"})
    )
    buyers = bought.merge(
        anchors[["anchor"]].drop_duplicates(), left_on="product_id", right_on="anchor"
    )
    co = buyers[["customer_id", "anchor"]].merge(bought, on="customer_id")
    co = (
        co[co["product_id"] != co["anchor"]]
        .groupby(["anchor", "product_id"])
        .size()
        .rename("score")
        .reset_index()
    )
    candidates = anchors.merge(co, on="anchor")
    history = _history_pairs(lines)
    candidates = candidates[
        [
            pair not in history
            for pair in zip(candidates["customer_id"], candidates["product_id"], strict=True)
        ]
    ]
    candidates = candidates.sort_values(
        ["customer_id", "score", "product_id"], ascending=[True, False, True]
    )
    candidates["rank"] = candidates.groupby("customer_id").cumcount() + 1
    expected = candidates[candidates["rank"] <= 5]
    actual = con.execute(
        "select customer_id, product_id, rank, score, reason_basis as anchor "
        "from marts.customer_product_recommendations where reason = 'also_bought'"
    ).df()
    key = ["customer_id", "rank"]
    merged = expected.merge(
        actual, on=key, how="outer", suffixes=("_expected", "_actual"), indicator=True
    )
    assert len(expected) > 1000
    assert (merged["_merge"] == "both").all()
    assert (merged["product_id_expected"] == merged["product_id_actual"]).all()
    assert (merged["anchor_expected"] == merged["anchor_actual"]).all()
    assert (merged["score_expected"] == merged["score_actual"]).all()


def test_popular_in_segment_matches_pandas_on_superstore(built) -> None:
    con = built("superstore")
    lines, as_of = _lines(con)
    segments = con.execute(
        "select customer_id, coalesce(segment, '') as segment "
        "from intermediate.int_customers_summarised"
    ).df()
    recent = lines[lines["ordered_date"] > as_of - pd.DateOffset(months=12)].merge(
        segments, on="customer_id"
    )
    sales = recent.groupby(["segment", "product_id"], as_index=False)["spend_amount"].sum()
    sales = sales[sales["spend_amount"] > 0]
    history = _history_pairs(lines)
    expected = segments.merge(sales, on="segment")
    expected = expected[
        [
            pair not in history
            for pair in zip(expected["customer_id"], expected["product_id"], strict=True)
        ]
    ]
    expected = expected.sort_values(
        ["customer_id", "spend_amount", "product_id"], ascending=[True, False, True]
    )
    expected = expected.groupby("customer_id").head(5)
    actual = con.execute(
        "select customer_id, product_id, score from marts.customer_product_recommendations "
        "where reason = 'popular_in_segment' order by customer_id, rank"
    ).df()
    assert list(zip(actual["customer_id"], actual["product_id"], strict=True)) == list(
        zip(expected["customer_id"], expected["product_id"], strict=True)
    )
    assert np.allclose(actual["score"], expected["spend_amount"], rtol=REL)
