"""Issue 19, items 5 and 10: the revenue rank of the top 20% and the annual targets.

(a) The hand-made fixture tests/fixtures/definitions_rank: every figure of its README, worked
    out by hand, is asserted against customer_classifications and customer_annual_targets.
(b) Real data: customer_annual_targets recomputed with pandas on the generated data (which has
    targets; once as built by default and once with fiscal years from April and a mid-month
    as-of, so the current month counts pro rata), empty on Superstore and CDNOW (no targets
    file); revenue_rank recomputed with pandas on Superstore and CDNOW. Counts exact, money to
    1e-6. The recomputation reads the usable input rows and nothing the SQL derived from them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import PROJECT_DIR, BuiltProjects, run_dbt_build

FIXTURE = PROJECT_DIR / "tests" / "fixtures" / "definitions_rank"
FIXTURE_VARS = {
    "as_of_date": "2024-06-10",
    "business_calendar": {"type": "standard", "fiscal_year_start": "04-01"},
    "data_quality_max_issue_pct": 100,
}
REL = 1e-6
TIMEFRAME_MONTHS = 12


# ---------------------------------------------------------------- (a) the hand-made fixture


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    db = tmp_path_factory.mktemp("definitions_rank") / "spendlens.duckdb"
    run_dbt_build(FIXTURE, db, FIXTURE_VARS)
    con = duckdb.connect(str(db), read_only=True)
    yield con
    con.close()


RANKS = {  # README "Revenue rank": customer -> (segment, revenue, rank, band label, revenue_change)
    "T1": ("Trade", 710.0, 20.0, "big spender", 100.0 * (710 - 150) / 150),
    "T2": ("Trade", 300.0, 40.0, "mid tier", None),
    "T3": ("Trade", 300.0, 40.0, "mid tier", None),
    "T4": ("Trade", 200.0, 80.0, "small spender", None),
    "T5": ("Trade", 100.0, 100.0, "small spender", None),
    "T6": ("Trade", 0.0, None, None, -100.0),
    "T7": ("Trade", -80.0, None, None, -200.0),
    "R1": ("Retail", 500.0, 100.0, "small spender", None),
}


def _metric(con: duckdb.DuckDBPyConnection, kind: str) -> dict[str, tuple]:
    rows = con.execute(
        "select customer_id, segment, revenue, metric_value, band_label, is_eligible, "
        "ineligible_reason from marts.customer_classifications where classification_type = ?",
        [kind],
    ).fetchall()
    return {row[0]: row[1:] for row in rows}


def _approx_or_none(got: float | None, want: float | None) -> bool:
    return got is None if want is None else got is not None and got == pytest.approx(want, rel=1e-9)


def test_revenue_rank_top_of_five_is_20_ties_share_and_no_revenue_is_null(fixture_db) -> None:
    ranks = _metric(fixture_db, "revenue_rank")
    assert set(ranks) == set(RANKS)
    for customer, (segment, revenue, rank, label, _) in RANKS.items():
        got_segment, got_revenue, got_rank, got_label, eligible, reason = ranks[customer]
        assert (got_segment, got_label) == (segment, label), customer
        assert got_revenue == pytest.approx(revenue), customer
        assert _approx_or_none(got_rank, rank), (customer, got_rank, rank)
        assert eligible is (rank is not None), customer
        assert reason == (None if rank is not None else "no metric value"), customer


def test_band_at_most_20_holds_exactly_the_top_20_percent_of_customers_with_revenue(fixture_db) -> None:
    trade = {c: v for c, v in _metric(fixture_db, "revenue_rank").items() if v[0] == "Trade"}
    with_revenue = [c for c, v in trade.items() if v[1] > 0]
    assert len(trade) == 7 and len(with_revenue) == 5
    assert [c for c, v in trade.items() if v[2] is not None and v[2] <= 20] == ["T1"]


def test_revenue_change_is_null_on_a_zero_base_and_a_percent_of_a_positive_one(fixture_db) -> None:
    changes = _metric(fixture_db, "revenue_change")
    for customer, (*_, change) in RANKS.items():
        assert _approx_or_none(changes[customer][2], change), (customer, changes[customer][2], change)


ANNUAL = {  # README "Annual targets": (customer, fiscal year) -> figures
    ("T1", 2023): dict(start="2023-04-01", end="2024-03-31", elapsed=366, days=366, complete=True,
                       annual=300.0, due=300.0, actual=150.0, attainment=50.0, projected=150.0,
                       on_pace=False),
    ("T1", 2024): dict(start="2024-04-01", end="2025-03-31", elapsed=71, days=365, complete=False,
                       annual=1800.0, due=710.0, actual=710.0, attainment=100.0, projected=3650.0,
                       on_pace=True),
    ("T2", 2024): dict(start="2024-04-01", end="2025-03-31", elapsed=71, days=365, complete=False,
                       annual=600.0, due=0.0, actual=0.0, attainment=None, projected=0.0,
                       on_pace=False),
    ("R1", 2023): dict(start="2023-04-01", end="2024-03-31", elapsed=366, days=366, complete=True,
                       annual=400.0, due=400.0, actual=500.0, attainment=125.0, projected=500.0,
                       on_pace=True),
    ("R1", 2024): dict(start="2024-04-01", end="2025-03-31", elapsed=71, days=365, complete=False,
                       annual=100.0, due=100.0, actual=0.0, attainment=0.0, projected=0.0,
                       on_pace=False),
}


def test_annual_targets_match_the_hand_computed_table(fixture_db) -> None:
    rows = fixture_db.execute("""
        select customer_id, fiscal_year, cast(fiscal_year_start as varchar), cast(fiscal_year_end as varchar),
            cast(as_of_date as varchar), days_elapsed, days_in_year, is_year_complete, annual_target,
            target_to_date, actual_to_date, attainment_pct, projected_year_end, on_pace
        from marts.customer_annual_targets
    """).fetchall()
    got = {(row[0], row[1]): row[2:] for row in rows}
    assert set(got) == set(ANNUAL)
    for key, want in ANNUAL.items():
        (start, end, as_of, elapsed, days, complete, annual, due, actual, attainment, projected,
         on_pace) = got[key]
        assert (start, end, as_of) == (want["start"], want["end"], "2024-06-10"), key
        assert (elapsed, days, complete, on_pace) == (
            want["elapsed"], want["days"], want["complete"], want["on_pace"]), key
        for name, value in [("annual", annual), ("due", due), ("actual", actual),
                            ("projected", projected)]:
            assert value == pytest.approx(want[name]), (key, name)
        assert _approx_or_none(attainment, want["attainment"]), (key, attainment)


# ---------------------------------------------------------------- (b) real data, pandas


def _usable_lines(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    lines = con.sql(
        "select customer_id, ordered_date, quantity, spend_amount "
        "from intermediate.int_order_lines_validated where dq_reason is null"
    ).df()
    lines["ordered_date"] = pd.to_datetime(lines["ordered_date"])
    return lines


def _usable_customers(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    customers = con.sql(
        "select customer_id, segment from intermediate.int_customers_validated where dq_reason is null"
    ).df()
    customers["segment"] = customers["segment"].fillna("(no segment)")
    return customers


def _usable_targets(raw_file, customer_ids: pd.Series) -> pd.DataFrame:
    """sales_targets.csv rows with a known customer, a month and a finite amount; of rows
    repeating a customer and month, the first in file order."""
    targets = pd.read_csv(raw_file, dtype={"customer_id": str})
    targets["month"] = pd.to_datetime(targets["month"], errors="coerce")
    targets["target_amount"] = pd.to_numeric(targets["target_amount"], errors="coerce")
    targets = targets.dropna(subset=["customer_id", "month", "target_amount"])
    targets = targets[np.isfinite(targets["target_amount"]) & targets["customer_id"].isin(customer_ids)]
    return targets.drop_duplicates(["customer_id", "month"], keep="first")


def _fiscal_year_of(day: pd.Timestamp, start_month: int) -> int:
    return day.year if day.month >= start_month else day.year - 1


def _expected_annual_targets(con: duckdb.DuckDBPyConnection, raw, as_of: pd.Timestamp,
                             start_month: int) -> pd.DataFrame:
    """customer_annual_targets on a standard calendar whose fiscal year starts on the 1st of
    start_month, computed from the usable input rows."""
    targets = _usable_targets(raw / "sales_targets.csv", _usable_customers(con)["customer_id"])
    # a target counts in the (calendar = business) month holding its 15th day
    targets["month"] = (targets["month"] + pd.Timedelta(days=14)).dt.to_period("M").dt.start_time
    targets["fiscal_year"] = [_fiscal_year_of(m, start_month) for m in targets["month"]]
    targets["fiscal_year_start"] = [pd.Timestamp(date(y, start_month, 1)) for y in targets["fiscal_year"]]
    targets = targets[targets["fiscal_year_start"] <= as_of].copy()
    month_end = targets["month"] + pd.offsets.MonthEnd(0)
    elapsed_in_month = ((as_of - targets["month"]).dt.days + 1).clip(lower=0)
    targets["due"] = np.where(
        month_end <= as_of, targets["target_amount"],
        targets["target_amount"] * elapsed_in_month / month_end.dt.day,
    )
    years = targets.groupby(["customer_id", "fiscal_year", "fiscal_year_start"], as_index=False).agg(
        annual_target=("target_amount", "sum"), target_to_date=("due", "sum"))
    years["fiscal_year_end"] = years["fiscal_year_start"] + pd.DateOffset(years=1) - pd.Timedelta(days=1)

    lines = _usable_lines(con)
    lines = lines[lines["ordered_date"] <= as_of]
    merged = years.merge(lines, on="customer_id", how="left")
    in_year = (merged["ordered_date"] >= merged["fiscal_year_start"]) & (
        merged["ordered_date"] <= merged["fiscal_year_end"])
    merged["spend"] = merged["spend_amount"].where(in_year, 0.0).fillna(0.0)
    actual = merged.groupby(["customer_id", "fiscal_year"])["spend"].sum().rename("actual_to_date")
    years = years.join(actual, on=["customer_id", "fiscal_year"])

    years["days_in_year"] = (years["fiscal_year_end"] - years["fiscal_year_start"]).dt.days + 1
    years["days_elapsed"] = (years["fiscal_year_end"].clip(upper=as_of) - years["fiscal_year_start"]).dt.days + 1
    years["is_year_complete"] = years["fiscal_year_end"] <= as_of
    years["attainment_pct"] = 100.0 * years["actual_to_date"] / years["target_to_date"].where(
        years["target_to_date"] > 0)
    years["projected_year_end"] = np.where(
        years["is_year_complete"], years["actual_to_date"],
        years["actual_to_date"] / years["days_elapsed"] * years["days_in_year"])
    years["on_pace"] = years["projected_year_end"] >= years["annual_target"]
    return years


GENERATED_CASES = {
    # as built for every test: default calendar (fiscal year = calendar year), as-of the last
    # order date (2026-06-30, a month-end)
    "default": (None, 1),
    # fiscal years from April and an as-of in the middle of a month: May 2026 counts pro rata
    "april_mid_month": ({"as_of_date": "2026-05-17",
                        "business_calendar": {"type": "standard", "fiscal_year_start": "04-01"}}, 4),
}


@pytest.mark.parametrize("case", list(GENERATED_CASES))
def test_annual_targets_match_pandas_on_generated_data(case: str, projects: BuiltProjects, connect) -> None:
    extra_vars, start_month = GENERATED_CASES[case]
    con = connect("generated", extra_vars)
    raw = projects.raw("generated")
    as_of = (pd.Timestamp(extra_vars["as_of_date"]) if extra_vars
             else _usable_lines(con)["ordered_date"].max())
    wanted = _expected_annual_targets(con, raw, as_of, start_month)
    actual = con.sql("select * from marts.customer_annual_targets").df()

    assert len(actual) == len(wanted) > 0
    assert pd.to_datetime(actual["as_of_date"]).eq(as_of).all()
    merged = actual.merge(wanted, on=["customer_id", "fiscal_year"], how="outer",
                          suffixes=("", "_expected"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged.loc[merged["_merge"] != "both"].head()
    for column in ["fiscal_year_start", "fiscal_year_end"]:
        assert (pd.to_datetime(merged[column]) == merged[f"{column}_expected"]).all(), column
    for column in ["days_elapsed", "days_in_year", "is_year_complete"]:
        assert (merged[column] == merged[f"{column}_expected"]).all(), column
    for column in ["annual_target", "target_to_date", "actual_to_date", "attainment_pct",
                   "projected_year_end"]:
        got, want = merged[column].astype(float), merged[f"{column}_expected"].astype(float)
        assert (got.isna() == want.isna()).all(), column
        close = np.isclose(got.fillna(0), want.fillna(0), rtol=REL, atol=1e-6)
        assert close.all(), (column, merged.loc[~close, ["customer_id", "fiscal_year", column,
                                                         f"{column}_expected"]].head())
    borderline = np.isclose(merged["projected_year_end"], merged["annual_target"], rtol=REL, atol=1e-6)
    assert ((merged["on_pace"] == merged["on_pace_expected"]) | borderline).all()

    # the data exercise every branch: a finished and a current year, both verdicts, a year with
    # nothing due yet or no spend, and (mid-month as-of) a month counted pro rata
    assert merged["is_year_complete"].any() and (~merged["is_year_complete"]).any()
    assert merged["on_pace"].any() and (~merged["on_pace"]).any()
    assert (merged["actual_to_date"] == 0).any()
    if case == "april_mid_month":
        current = merged[~merged["is_year_complete"]]
        assert (current["days_elapsed"] == (as_of - pd.Timestamp("2026-04-01")).days + 1).all()
        assert ((current["target_to_date"] > 0) & (current["target_to_date"] < current["annual_target"])).any()


@pytest.mark.parametrize("name", ["superstore", "cdnow"])
def test_annual_targets_are_empty_without_a_targets_file(name: str, projects: BuiltProjects, connect) -> None:
    assert not (projects.raw(name) / "sales_targets.csv").exists()
    con = connect(name)
    assert con.execute("select count(*) from marts.customer_annual_targets").fetchone() == (0,)


def _expected_revenue_rank(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.Timestamp]:
    """revenue_rank at the default as-of (the last usable order date) on the default calendar:
    among the classified customers of a segment (a purchase on or before as-of) with net
    revenue > 0 in the 12 months ending at as-of, 100 x (1 + customers with strictly more
    revenue) / customers with revenue."""
    lines = _usable_lines(con)
    as_of = lines["ordered_date"].max()
    previous_end = as_of - pd.DateOffset(months=TIMEFRAME_MONTHS)
    if as_of.is_month_end:
        previous_end = previous_end + pd.offsets.MonthEnd(0)
    in_timeframe = lines[(lines["ordered_date"] > previous_end) & (lines["ordered_date"] <= as_of)]
    classified = lines.loc[lines["quantity"] > 0, "customer_id"].drop_duplicates()
    frame = _usable_customers(con).set_index("customer_id").loc[classified]
    frame["revenue"] = in_timeframe.groupby("customer_id")["spend_amount"].sum().reindex(
        frame.index).fillna(0.0).round(6)
    positive = frame[frame["revenue"] > 0].groupby("segment")["revenue"]
    frame["revenue_rank"] = 100.0 * positive.rank(method="min", ascending=False) / positive.transform("size")
    return frame.reset_index(), as_of


@pytest.mark.parametrize("name", ["superstore", "cdnow"])
def test_revenue_rank_matches_pandas(name: str, connect) -> None:
    con = connect(name)
    wanted, as_of = _expected_revenue_rank(con)
    actual = con.sql(
        "select customer_id, segment, as_of_date, revenue, metric_value as revenue_rank, band_order, "
        "band_label, is_eligible from marts.customer_classifications "
        "where classification_type = 'revenue_rank'"
    ).df()
    assert pd.to_datetime(actual["as_of_date"]).eq(as_of).all()
    assert len(actual) == len(wanted)
    merged = actual.merge(wanted, on="customer_id", how="outer", suffixes=("", "_expected"),
                          indicator=True)
    assert (merged["_merge"] == "both").all()
    assert (merged["segment"] == merged["segment_expected"]).all()
    assert np.isclose(merged["revenue"], merged["revenue_expected"], rtol=REL, atol=1e-6).all()
    got, want = merged["revenue_rank"].astype(float), merged["revenue_rank_expected"].astype(float)
    assert int(got.notna().sum()) == int(want.notna().sum()) == int((merged["revenue_expected"] > 0).sum())
    assert (got.isna() == want.isna()).all()
    assert np.isclose(got.fillna(0), want.fillna(0), rtol=1e-9, atol=1e-9).all()
    # no revenue = no band; with revenue, the default bands: <= 20, <= 60, the rest
    assert (merged["is_eligible"] == want.notna()).all()
    expected_band = np.select([want <= 20, want <= 60, want > 60], [1, 2, 3], default=-1)
    assert (merged["band_order"].fillna(-1).astype(int).to_numpy() == expected_band).all()
    # each segment's top customer: 100 / customers with revenue; "<= 20" holds the top 20%
    for _, group in merged[want.notna()].groupby("segment"):
        count = len(group)
        assert group["revenue_rank"].min() == pytest.approx(100.0 / count)
        top = group.nlargest(max(count // 5, 1), "revenue")
        if count >= 5 and group["revenue"].nlargest(count // 5 + 1).nunique() == count // 5 + 1:
            assert sorted(group.loc[group["revenue_rank"] <= 20, "customer_id"]) == sorted(top["customer_id"])
