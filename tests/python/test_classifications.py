"""Sales classifications, their month-end history and targets, recomputed with pandas.

The project is built on the Superstore data (as-of mid-month, no targets file) and on the
generated data (as-of on a month-end, with targets). From the usable order lines
(intermediate.int_order_lines_validated with dq_reason null), the usable customers and the
band seed, pandas recomputes the six metrics, the bands and the targets with plain calendar
months (both data sets use the default standard calendar starting 01-01) and compares them
with customer_classifications, customer_classification_history and customer_targets.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from pandas_orders import order_days

PROJECT_DIR = Path(__file__).resolve().parents[2]
BANDS_CSV = PROJECT_DIR / "seeds" / "classification_bands.csv"
TIMEFRAME_MONTHS = 12
TYPES = [
    "risk_score",
    "risk_change",
    "revenue_rank",
    "revenue_change",
    "revenue_share",
    "order_count",
]
DATASETS = ["superstore", "generated"]


@pytest.fixture(scope="module", params=DATASETS)
def built(request, projects, connect) -> tuple[str, duckdb.DuckDBPyConnection, Path]:
    name = request.param
    con = connect(name)
    return name, con, projects.raw(name)


# ---------------------------------------------------------------- independent recomputation


def _inputs(
    con: duckdb.DuckDBPyConnection,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp, pd.Timestamp]:
    lines = con.sql(
        "select order_id, customer_id, ordered_date, quantity, spend_amount "
        "from intermediate.int_order_lines_validated where dq_reason is null"
    ).df()
    lines["ordered_date"] = pd.to_datetime(lines["ordered_date"])
    as_of = lines["ordered_date"].max()
    first = lines["ordered_date"].min()
    lines = lines[lines["ordered_date"] <= as_of]
    orders = order_days(lines)
    customers = con.sql(
        "select customer_id, segment from intermediate.int_customers_validated "
        "where dq_reason is null"
    ).df()
    customers["segment"] = customers["segment"].fillna("(no segment)")
    return orders, customers, as_of, first


def _months_back(day: pd.Timestamp, months: int) -> pd.Timestamp:
    """Same day `months` calendar months earlier; month-end to month-end, else capped."""
    shifted = day - pd.DateOffset(months=months)
    if day.is_month_end:
        shifted = shifted + pd.offsets.MonthEnd(0)
    return shifted


def _gap_and_last(purchase_days: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    days = purchase_days[purchase_days["order_date"] <= at]
    stats = days.groupby("customer_id")["order_date"].agg(["min", "max", "count"])
    stats["gap"] = np.where(
        stats["count"] >= 2,
        (stats["max"] - stats["min"]).dt.days / (stats["count"] - 1).clip(lower=1),
        np.nan,
    )
    return stats.rename(columns={"max": "last"})[["last", "gap"]]


def _risk(stats: pd.DataFrame, segments: pd.Series, at: pd.Timestamp) -> pd.Series:
    frame = stats.join(segments)
    segment_median = frame.groupby("segment")["gap"].transform("median")
    expected = frame["gap"].fillna(segment_median).fillna(frame["gap"].median())
    return ((at - frame["last"]).dt.days / expected).where(expected > 0)


def _metrics_at(day: pd.Timestamp, orders: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    timeframe_start = _months_back(day, TIMEFRAME_MONTHS) + pd.Timedelta(days=1)
    previous_end = _months_back(day, TIMEFRAME_MONTHS)
    previous_start = _months_back(day, 2 * TIMEFRAME_MONTHS) + pd.Timedelta(days=1)
    purchase_days = orders.loc[
        orders["is_purchase"], ["customer_id", "order_date"]
    ].drop_duplicates()
    segments = customers.set_index("customer_id")["segment"]

    now = _gap_and_last(purchase_days, day)
    before = _gap_and_last(purchase_days, previous_end)
    frame = pd.DataFrame(index=now.index).join(segments)
    frame["risk_score"] = _risk(now, segments, day)
    frame["previous_risk"] = _risk(before, segments, previous_end).reindex(frame.index)

    in_tf = orders[(orders["order_date"] >= timeframe_start) & (orders["order_date"] <= day)]
    in_prev = orders[
        (orders["order_date"] >= previous_start) & (orders["order_date"] <= previous_end)
    ]
    frame["revenue"] = in_tf.groupby("customer_id")["spend"].sum().reindex(frame.index).fillna(0.0)
    frame["previous_revenue"] = (
        in_prev.groupby("customer_id")["spend"].sum().reindex(frame.index).fillna(0.0)
    )
    frame["order_count"] = (
        in_tf[in_tf["is_purchase"]]
        .groupby("customer_id")
        .size()
        .reindex(frame.index)
        .fillna(0)
        .astype(float)
    )

    frame["risk_change"] = np.where(
        frame["previous_risk"].notna() & (frame["previous_risk"] != 0),
        100.0
        * (frame["risk_score"] - frame["previous_risk"])
        / frame["previous_risk"].replace(0, np.nan),
        np.nan,
    )
    frame["revenue_change"] = np.where(
        frame["previous_revenue"] > 0,
        100.0
        * (frame["revenue"] - frame["previous_revenue"])
        / frame["previous_revenue"].where(frame["previous_revenue"] > 0),
        np.nan,
    )
    # revenue is compared at 6 decimals, as the model rounds it, so float noise cannot split ties
    frame["revenue"] = frame["revenue"].round(6)
    frame["previous_revenue"] = frame["previous_revenue"].round(6)
    # among the segment's customers with revenue (> 0): 100 x (1 + customers with strictly more
    # revenue) / customers with revenue; no revenue -> no rank
    with_revenue = frame[frame["revenue"] > 0].groupby("segment")["revenue"]
    frame["revenue_rank"] = (
        100.0
        * with_revenue.rank(method="min", ascending=False)
        / with_revenue.transform("size")
    )
    frame = frame.reset_index().sort_values(
        ["segment", "revenue", "customer_id"], ascending=[True, False, True]
    )
    total = frame.groupby("segment")["revenue"].transform("sum")
    frame["revenue_share"] = (100.0 * frame.groupby("segment")["revenue"].cumsum() / total).where(
        total > 0
    )
    frame["date"] = day
    frame["orders_in_timeframe"] = frame["order_count"]
    long = frame.melt(
        id_vars=["date", "customer_id", "segment", "revenue", "orders_in_timeframe"],
        value_vars=TYPES,
        var_name="classification_type",
        value_name="metric_value",
    )
    return long


def _bands() -> pd.DataFrame:
    return pd.read_csv(BANDS_CSV, dtype={"segment": str, "label": str, "color": str})


def _assign_bands(long: pd.DataFrame, bands: pd.DataFrame) -> pd.DataFrame:
    """Band = the lowest band_order whose upper_bound >= value (empty = no limit), from the
    segment's own rows when it has any for the type, else the '*' rows; null when ineligible."""
    own_sets = set(
        map(tuple, bands[["classification_type", "segment"]].drop_duplicates().to_numpy())
    )
    long = long.copy()
    long["band_segment"] = [
        segment if (kind, segment) in own_sets else "*"
        for kind, segment in zip(long["classification_type"], long["segment"], strict=True)
    ]
    long["row_id"] = np.arange(len(long))
    thresholds = bands.groupby(["classification_type", "segment"], as_index=False)[
        ["min_spend", "min_orders"]
    ].max()
    with_bands = long.merge(
        bands.rename(columns={"segment": "band_segment"}),
        on=["classification_type", "band_segment"],
        how="inner",
    )
    with_bands = with_bands[
        with_bands["metric_value"].notna()
        & (
            with_bands["upper_bound"].isna()
            | (with_bands["metric_value"] <= with_bands["upper_bound"])
        )
    ]
    first_band = with_bands.sort_values(["row_id", "band_order"]).drop_duplicates("row_id")
    long = long.merge(
        first_band[["row_id", "band_order", "label"]].rename(
            columns={"band_order": "expected_band", "label": "expected_label"}
        ),
        on="row_id",
        how="left",
    ).merge(
        thresholds.rename(columns={"segment": "band_segment"}),
        on=["classification_type", "band_segment"],
        how="left",
    )
    too_small = (long["revenue"] < long["min_spend"].fillna(-np.inf)) | (
        long["orders_in_timeframe"] < long["min_orders"].fillna(-np.inf)
    )
    long.loc[too_small, ["expected_band", "expected_label"]] = np.nan
    long["expected_eligible"] = long["expected_band"].notna()
    return long


def _expected(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.Timestamp]:
    orders, customers, as_of, first = _inputs(con)
    month_ends = [d for d in pd.date_range(first, as_of, freq="ME")]
    days = sorted(set(month_ends) | {as_of})
    long = pd.concat([_metrics_at(day, orders, customers) for day in days], ignore_index=True)
    return _assign_bands(long, _bands()), as_of


@pytest.fixture(scope="module")
def expected(built) -> tuple[pd.DataFrame, pd.Timestamp]:
    return _expected(built[1])


def _compare(actual: pd.DataFrame, expected: pd.DataFrame, bands: pd.DataFrame) -> None:
    keys = ["date", "customer_id", "classification_type"]
    merged = actual.merge(
        expected, on=keys, how="outer", suffixes=("", "_expected"), indicator=True
    )
    missing = merged[merged["_merge"] != "both"]
    assert missing.empty, f"rows on one side only:\n{missing[keys + ['_merge']].head(10)}"
    assert (merged["segment"] == merged["segment_expected"]).all()

    value, wanted = (
        merged["metric_value"].astype(float),
        merged["metric_value_expected"].astype(float),
    )
    shown = keys + ["metric_value", "metric_value_expected"]
    same_null = value.isna() == wanted.isna()
    assert same_null.all(), f"null mismatch:\n{merged.loc[~same_null, shown].head(10)}"
    close = np.isclose(value.fillna(0), wanted.fillna(0), rtol=1e-6, atol=1e-9)
    assert close.all(), f"metric mismatch:\n{merged.loc[~close, shown].head(10)}"

    # A band may only differ where the value sits on a bound within rounding.
    bounds = (
        bands.dropna(subset=["upper_bound"])
        .groupby("classification_type")["upper_bound"]
        .apply(list)
        .to_dict()
    )
    on_bound = np.zeros(len(merged), dtype=bool)
    for kind, upper_bounds in bounds.items():
        of_kind = (merged["classification_type"] == kind).to_numpy()
        for bound in upper_bounds:
            on_bound |= of_kind & (
                np.abs(wanted.fillna(np.inf).to_numpy() - bound) <= 1e-6 * max(1.0, abs(bound))
            )
    same_band = (
        merged["band_order"].astype(float).fillna(-1) == merged["expected_band"].fillna(-1)
    ) | on_bound
    assert same_band.all(), (
        f"band mismatch:\n{merged.loc[~same_band, [*shown, 'band_order', 'expected_band']].head()}"
    )
    same_eligible = (merged["is_eligible"] == merged["expected_eligible"]) | on_bound
    assert same_eligible.all()
    labelled = merged["band_order"].notna()
    assert (merged.loc[labelled, "band_label"] == merged.loc[labelled, "expected_label"]).all()


# ---------------------------------------------------------------- tests


def test_classifications_at_as_of_match_pandas(built, expected) -> None:
    _, con, _ = built
    wanted, as_of = expected
    actual = con.sql("select * from marts.customer_classifications").df()
    assert pd.to_datetime(actual["as_of_date"]).eq(as_of).all()
    actual["date"] = pd.to_datetime(actual["as_of_date"])
    _compare(actual, wanted[wanted["date"] == as_of], _bands())


def test_classification_history_matches_pandas_at_every_month_end(built, expected) -> None:
    _, con, _ = built
    wanted, as_of = expected
    actual = con.sql("select * from marts.customer_classification_history").df()
    actual["date"] = pd.to_datetime(actual["month_end_date"])
    month_end_rows = wanted[wanted["date"].dt.is_month_end]
    assert actual["date"].nunique() == month_end_rows["date"].nunique() >= 24
    _compare(actual, month_end_rows, _bands())


def test_every_classified_customer_has_six_types_and_eligible_rows_one_band(built) -> None:
    _, con, _ = built
    counts = con.sql(
        "select customer_id, count(*) as n, count(distinct classification_type) as t, "
        "count(*) filter (where is_eligible and band_order is null) as unbanded "
        "from marts.customer_classifications group by 1"
    ).df()
    assert len(counts) > 100
    assert (counts["n"] == 6).all() and (counts["t"] == 6).all() and (counts["unbanded"] == 0).all()


def test_history_at_as_of_month_end_equals_as_of_mart(built) -> None:
    name, con, _ = built
    difference = con.sql(
        """
        select customer_id, classification_type, metric_value, band_order, is_eligible
        from marts.customer_classifications
        where as_of_date in (select month_end_date from marts.customer_classification_history)
        except
        select customer_id, classification_type, metric_value, band_order, is_eligible
        from marts.customer_classification_history
        where month_end_date in (select as_of_date from marts.customer_classifications)
        """
    ).df()
    assert difference.empty
    if name == "generated":  # as-of 2026-06-30 is a month-end: the comparison is not vacuous
        rows = con.execute(
            "select count(*) from marts.customer_classification_history "
            "where month_end_date = (select max(as_of_date) from marts.customer_classifications)"
        ).fetchall()
        assert rows[0][0] > 0


def test_targets_match_pandas(built) -> None:
    _, con, raw = built
    actual = con.sql("select * from marts.customer_targets order by customer_id, month").df()
    targets_file = raw / "sales_targets.csv"
    if not targets_file.exists():
        assert actual.empty, "no sales_targets file: customer_targets must be empty"
        return
    orders, customers, as_of, _ = _inputs(con)
    targets = pd.read_csv(targets_file, dtype={"customer_id": str})
    targets["month"] = pd.to_datetime(targets["month"], errors="coerce")
    targets["target_amount"] = pd.to_numeric(targets["target_amount"], errors="coerce")
    # usable rows (finite amount, known customer); of a repeated customer x month the first
    targets = targets.dropna()
    targets = targets[np.isfinite(targets["target_amount"])
                      & targets["customer_id"].isin(customers["customer_id"])]
    targets = targets.drop_duplicates(["customer_id", "month"], keep="first")
    months = pd.date_range(
        as_of.to_period("M").start_time - pd.DateOffset(months=11), periods=12, freq="MS"
    )
    targets["month"] = (targets["month"] + pd.Timedelta(days=14)).dt.to_period("M").dt.start_time
    targets = targets[targets["month"].isin(months)]
    grid = pd.MultiIndex.from_product(
        [sorted(targets["customer_id"].unique()), months], names=["customer_id", "month"]
    )
    frame = pd.DataFrame(index=grid)
    frame["target_amount"] = targets.groupby(["customer_id", "month"])["target_amount"].sum()
    orders = orders.assign(month=orders["order_date"].dt.to_period("M").dt.start_time)
    frame["actual_amount"] = orders.groupby(["customer_id", "month"])["spend"].sum()
    frame = frame.fillna(0.0).reset_index()
    frame["cumulative_target"] = frame.groupby("customer_id")["target_amount"].cumsum()
    frame["cumulative_actual"] = frame.groupby("customer_id")["actual_amount"].cumsum()
    frame["attainment_pct"] = (
        100.0 * frame["cumulative_actual"] / frame["cumulative_target"].replace(0, np.nan)
    )

    assert len(actual) == len(frame) > 0
    actual["month"] = pd.to_datetime(actual["month"])
    merged = actual.merge(frame, on=["customer_id", "month"], suffixes=("", "_expected"))
    assert len(merged) == len(frame)
    for column in [
        "target_amount",
        "actual_amount",
        "cumulative_target",
        "cumulative_actual",
        "attainment_pct",
    ]:
        got, want = merged[column].astype(float), merged[f"{column}_expected"].astype(float)
        assert (got.isna() == want.isna()).all(), column
        assert np.isclose(got.fillna(0), want.fillna(0), rtol=1e-6, atol=1e-6).all(), column
    no_spend = merged.groupby("customer_id")["actual_amount"].sum()
    assert (no_spend == 0).any(), "the generated targets include customers without spend"
