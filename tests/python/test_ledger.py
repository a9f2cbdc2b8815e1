"""The exact ledger (issue 18) on the hand-made fixture tests/fixtures/ledger: every figure of
its README, worked out by hand, is asserted here against the built marts; and a later build of
other input (no usable lines, fewer days, another data set, an earlier as-of) leaves no stale
incremental rows behind: it equals a --full-refresh build.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import PROJECT_DIR, run_dbt_build
from test_incremental import COMPARED, _assert_same_rows, _dbt_run, _table

LEDGER = PROJECT_DIR / "tests" / "fixtures" / "ledger"


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    db = tmp_path_factory.mktemp("ledger") / "spendlens.duckdb"
    run_dbt_build(LEDGER, db, {"data_quality_max_issue_pct": 100})
    con = duckdb.connect(str(db), read_only=True)
    yield con
    con.close()


def _one(con: duckdb.DuckDBPyConnection, sql: str, *params: object) -> tuple:
    rows = con.execute(sql, list(params)).fetchall()
    assert len(rows) == 1, (sql, rows)
    return rows[0]


def test_reporting_currency_is_voted_by_usable_lines_only(ledger: duckdb.DuckDBPyConnection) -> None:
    assert _one(ledger, "select reporting_currency from intermediate.int_reporting_currency") == ("USD",)


USABLE_LINES = {  # README table: (customer, date, spend, cost)
    1: ("C1", "2024-01-10", 20.0, 10.0),
    2: ("C1", "2024-01-10", 30.0, None),
    3: ("C1", "2024-01-20", 22.0, 10.0),
    6: ("C2", "2024-02-05", 30.0, 15.0),
    7: ("C1", "2024-03-15", -10.0, -5.0),
    8: ("C2", "2024-02-20", 55.0, 4.4),
    10: ("C3", "2024-03-01", 40.0, None),
    14: ("C1", "2024-03-02", 15.0, 5.0),
    16: ("C2", "2024-03-20", 10.0, 5.0),
}


def test_usable_lines_money_dates_and_costs(ledger: duckdb.DuckDBPyConnection) -> None:
    rows = ledger.execute("""
        select file_row_number, customer_id, cast(ordered_date as varchar), spend_amount, cost_amount
        from intermediate.int_order_lines_validated where dq_reason is null order by file_row_number
    """).fetchall()
    assert [r[0] for r in rows] == list(USABLE_LINES)
    for number, customer, day, spend, cost in rows:
        want = USABLE_LINES[number]
        assert (customer, day) == want[:2], number
        assert spend == pytest.approx(want[2]), number
        assert (cost is None) == (want[3] is None), number
        if cost is not None:
            assert cost == pytest.approx(want[3]), number


EXPECTED_ISSUES = {  # (file, key, reason, kept)
    ("order_lines", "O2 / 1", "duplicate line", False),
    ("order_lines", "O3 / 1", "non-finite number", False),
    ("order_lines", "O5 / 1", "non-finite number", False),
    ("order_lines", "O7 / 1", "unknown customer", False),
    ("order_lines", "O8 / 1", "unknown customer", False),
    ("order_lines", "O9 / 1", "unknown customer", False),
    ("order_lines", "O10 / 1", "non-finite number", True),
    ("order_lines", "O11 / 1", "currency without a rate", False),
    ("order_lines", "O13 / 1", "unknown product", False),
    ("order_lines", "O14 / 1", "missing date", False),
    ("order_lines", "O15 / 1", "unparseable number", False),
    ("order_lines", "O16 / 1", "negative price", False),
    ("order_lines", "O17 / 1", "date in the future", False),
    ("order_lines", "? / 1", "missing key", False),
    ("customers", "C1", "duplicate customer", False),
    ("customers", "?", "missing key", False),
    ("customers", "C2", "invalid created_at", True),
    ("customers", "C3", "invalid email_opt_in", True),
    ("products", "P1", "duplicate product", False),
    ("products", "P2", "invalid product cost", True),
    ("products", "P3", "invalid product cost", True),
    ("products", "P4", "non-finite number", True),
    ("product_bundles", "B1 / P1", "duplicate bundle member", False),
    ("product_bundles", "B2 / P9", "unknown product", False),
    ("product_bundles", "? / P1", "missing key", False),
    ("fx_rates", "EUR / 2024-01-01", "duplicate rate", False),
    ("fx_rates", "EUR / 2024-02-01", "non-finite number", False),
    ("fx_rates", "GBP / 2024-01-01", "invalid rate", False),
    ("sales_targets", "C1 / 2024-01-01", "duplicate target", False),
    ("sales_targets", "C2 / 2024-02-01", "non-finite number", False),
    ("sales_targets", "C9 / 2024-01-01", "unknown customer", False),
}


def test_every_problem_row_is_listed_once_with_its_reason(ledger: duckdb.DuckDBPyConnection) -> None:
    rows = ledger.execute(
        "select source_file, record_key, reason, is_row_kept from marts.data_quality_issues").fetchall()
    assert len(rows) == len(EXPECTED_ISSUES)
    assert set(rows) == EXPECTED_ISSUES
    # the duplicates listed are the later rows in file order
    assert _one(ledger, "select file_row_number from marts.data_quality_issues where reason = 'duplicate line'") == (4,)
    assert _one(ledger, "select file_row_number from marts.data_quality_issues "
                        "where reason = 'duplicate customer'") == (4,)
    assert _one(ledger, "select detail from marts.data_quality_issues where record_key = 'P2'") == ("unit_cost: abc",)


def test_kept_rows_keep_first_in_file_order_and_null_bad_fields(ledger: duckdb.DuckDBPyConnection) -> None:
    assert _one(ledger, "select segment, customer_name from intermediate.int_customers_validated "
                        "where customer_id = 'C1' and dq_reason is null") == ("Retail", "Alpha Retail")
    fields = {r[0]: r[1:] for r in ledger.execute(
        "select customer_id, created_date, is_email_opt_in from intermediate.int_customers_validated "
        "where dq_reason is null").fetchall()}
    assert fields["C2"] == (None, False)
    assert fields["C3"] == (pd.Timestamp("2023-05-01").date(), None)
    costs = dict(ledger.execute(
        "select product_id, unit_cost from intermediate.int_products_validated where dq_reason is null").fetchall())
    assert costs == {"P1": 5.0, "P2": None, "P3": None, "P4": None}
    assert _one(ledger, "select rate_to_reporting from intermediate.int_fx_rates_daily "
                        "where currency = 'EUR' and rate_date = '2024-03-01'") == (pytest.approx(1.10),)
    assert _one(ledger, "select target_amount from intermediate.int_sales_targets_validated "
                        "where customer_id = 'C1' and dq_reason is null") == (1000.0,)


def test_rfm_books_the_late_return_on_its_own_date(ledger: duckdb.DuckDBPyConnection) -> None:
    rfm = {r[0]: r[1:] for r in ledger.execute(
        "select customer_id, frequency, recency_days, monetary from marts.customer_rfm").fetchall()}
    assert rfm["C1"] == (3, 18, pytest.approx(77.0))
    assert rfm["C2"] == (3, 0, pytest.approx(95.0))
    assert rfm["C3"] == (1, 19, pytest.approx(40.0))
    history = {(str(r[0]), r[1]): r[2:] for r in ledger.execute(
        "select month_end_date, customer_id, frequency, monetary from marts.customer_rfm_history").fetchall()}
    assert history[("2024-01-31", "C1")] == (2, pytest.approx(72.0))
    assert history[("2024-02-29", "C1")] == (2, pytest.approx(72.0))
    assert history[("2024-02-29", "C2")] == (2, pytest.approx(85.0))
    # O1 stays dated 2024-01-10: the late return under its id neither moves nor adds an order
    orders = ledger.execute("""
        select cast(order_date as varchar), is_purchase from intermediate.int_orders_summarised
        where order_id = 'O1' order by order_date""").fetchall()
    assert orders == [("2024-01-10", True), ("2024-03-15", False)]


def test_spend_profile_margin_orders_and_missing_segment(ledger: duckdb.DuckDBPyConnection) -> None:
    def profile(customer: str, level: str, item: str) -> tuple:
        return _one(ledger, """
            select total_spend, margin_pct, order_count, share_of_wallet_pct
            from marts.customer_spend_profile
            where customer_id = ? and item_level = ? and item_id = ? and window_name = 'fiscal_ytd'
        """, customer, level, item)

    spend, margin, orders, _ = profile("C1", "product", "P1")
    assert (spend, margin, orders) == (pytest.approx(47.0), pytest.approx(100 * 27 / 47), 3)
    spend, margin, _, _ = profile("C2", "category", "Toys")
    assert (spend, margin) == (pytest.approx(55.0), pytest.approx(92.0))
    spend, margin, _, wallet = profile("C3", "product", "P4")
    assert (spend, margin, wallet) == (pytest.approx(40.0), None, None)
    segments = {r[0] for r in ledger.execute("select distinct segment from marts.customer_classifications").fetchall()}
    assert "(no segment)" in segments
    summary = {r[0] for r in ledger.execute(
        "select dimension_value from marts.segment_summary where dimension = 'segment'").fetchall()}
    assert "(no segment)" in summary


def test_margin_per_customer_matches_the_readme(ledger: duckdb.DuckDBPyConnection) -> None:
    rows = ledger.execute("""
        select customer_id, sum(spend_amount), sum(case when cost_amount is not null then spend_amount end),
               sum(cost_amount)
        from intermediate.int_order_lines_validated where dq_reason is null group by 1 order by 1
    """).fetchall()
    got = {customer: (net, costed, cost) for customer, net, costed, cost in rows}
    assert got["C1"] == pytest.approx((77.0, 47.0, 20.0))
    assert got["C2"] == pytest.approx((95.0, 95.0, 24.4))
    assert got["C3"] == (pytest.approx(40.0), None, None)
    margin = {c: 100 * (v[1] - v[2]) / v[1] for c, v in got.items() if v[1]}
    assert margin == pytest.approx({"C1": 100 * 27 / 47, "C2": 100 * 70.6 / 95})


def test_threshold_failure_names_share_threshold_setting_and_where_to_look(tmp_path: Path) -> None:
    result = run_dbt_build(LEDGER, tmp_path / "spendlens.duckdb", check=False)
    assert result.returncode != 0
    assert "13 of 22 order lines (59.09%) were set aside" in result.stdout
    assert "data_quality_max_issue_pct = 5%" in result.stdout
    assert "marts.data_quality_issues" in result.stdout


def test_overlapping_to_date_window_is_refused_with_its_name(tmp_path: Path) -> None:
    windows = [{"name": "two_months", "periods": 2, "unit": "month", "prior_periods": 1, "anchor": "to_date"}]
    result = run_dbt_build(LEDGER, tmp_path / "spendlens.duckdb",
                           {"data_quality_max_issue_pct": 100, "spend_windows": windows}, check=False)
    assert result.returncode != 0
    assert "spend_windows 'two_months'" in result.stdout
    assert "prior_periods 1 < periods 2" in result.stdout


# -- no stale incremental rows after any change of input ------------------------------------

@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from spendlens.generate import generate

    root = tmp_path_factory.mktemp("stale")
    generate(out=root / "full", lines=8_000, customers=150, products=60, seed=5, years=2,
             end_date="2026-06-30", fmt="csv", bad_rows=True)
    return root


def _variant(root: Path, name: str) -> Path:
    full = root / "full"
    folder = root / name
    if folder.exists():
        return folder
    shutil.copytree(full, folder)
    lines = pd.read_csv(full / "order_lines.csv", dtype=str, keep_default_na=False)
    if name == "empty":
        lines.head(0).to_csv(folder / "order_lines.csv", index=False)
    elif name == "fewer_days":
        lines[lines["ordered_at"] < "2026-01-01"].to_csv(folder / "order_lines.csv", index=False)
    return folder


@pytest.mark.parametrize("case", ["empty", "fewer_days", "other_data_set", "earlier_as_of"])
def test_incremental_build_after_a_change_equals_a_full_refresh(
        generated: Path, case: str, tmp_path: Path) -> None:
    incremental = tmp_path / "incremental.duckdb"
    fresh = tmp_path / "fresh.duckdb"
    _dbt_run(generated / "full", incremental)
    as_of = None
    if case == "earlier_as_of":
        raw, as_of = generated / "full", "2025-09-15"
    elif case == "other_data_set":
        raw = LEDGER
    else:
        raw = _variant(generated, case)
    _dbt_run(raw, incremental, as_of=as_of, extra_vars={"data_quality_max_issue_pct": 100})
    _dbt_run(raw, fresh, "--full-refresh", as_of=as_of, extra_vars={"data_quality_max_issue_pct": 100})
    for schema, name in COMPARED:
        _assert_same_rows(_table(incremental, schema, name), _table(fresh, schema, name),
                          f"{case}: {schema}.{name}")
