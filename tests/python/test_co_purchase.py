"""The sparse-matrix co-purchase count (spendlens/co_purchase.py) against a hand-worked example,
against a pandas self-join on random data, and against the portable SQL count on the real
Superstore set (both engines of int_products_co_purchased must give the same rows)."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import BuiltProjects, run_dbt_build

from spendlens import co_purchase
from spendlens.co_purchase import rank_co_purchases


def _frame(ranked: co_purchase.RankedPairs) -> pd.DataFrame:
    return pd.DataFrame({
        "anchor": ranked.anchor_product_key, "product": ranked.product_key,
        "count": ranked.co_buyer_count, "rank": ranked.candidate_rank,
    })


def _pandas_rank(pairs: pd.DataFrame, anchors: pd.DataFrame) -> pd.DataFrame:
    """The same ranking the way an analyst would write it: self-join, group, sort, cut."""
    pairs = pairs.drop_duplicates()
    buyers = pairs.merge(anchors, left_on="product", right_on="anchor")[["customer", "anchor", "limit"]]
    joined = buyers.merge(pairs, on="customer")
    joined = joined[joined["product"] != joined["anchor"]]
    counts = joined.groupby(["anchor", "product", "limit"]).size().rename("count").reset_index()
    counts = counts.sort_values(["anchor", "count", "product"], ascending=[True, False, True])
    counts["rank"] = counts.groupby("anchor").cumcount() + 1
    kept = counts[counts["rank"] <= counts["limit"]]
    return kept[["anchor", "product", "count", "rank"]].reset_index(drop=True)


def test_hand_worked_example() -> None:
    # buyers: A(1) P1 P2 P3; B(2) P3 P4 P5; C(3) P3 P5; D(4) P1. Anchors P3 (limit 4), P1 (limit 1).
    customers = [1, 1, 1, 2, 2, 2, 3, 3, 4]
    products = [1, 2, 3, 3, 4, 5, 3, 5, 1]
    ranked = _frame(rank_co_purchases(np.array(customers), np.array(products), np.array([3, 1]), np.array([4, 1])))
    assert ranked.to_dict("records") == [
        {"anchor": 1, "product": 2, "count": 1, "rank": 1},
        {"anchor": 3, "product": 5, "count": 2, "rank": 1},
        {"anchor": 3, "product": 1, "count": 1, "rank": 2},
        {"anchor": 3, "product": 2, "count": 1, "rank": 3},
        {"anchor": 3, "product": 4, "count": 1, "rank": 4},
    ]


def test_a_pair_listed_twice_is_one_buyer_and_nothing_is_its_own_co_purchase() -> None:
    ranked = _frame(rank_co_purchases(np.array([0, 0, 0, 1, 1]), np.array([0, 1, 1, 0, 1]),
                                      np.array([0]), np.array([10])))
    assert ranked.to_dict("records") == [{"anchor": 0, "product": 1, "count": 2, "rank": 1}]


def test_empty_inputs_give_no_rows() -> None:
    assert len(_frame(rank_co_purchases(np.array([]), np.array([]), np.array([1]), np.array([5])))) == 0
    assert len(_frame(rank_co_purchases(np.array([1]), np.array([1]), np.array([]), np.array([])))) == 0


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        rank_co_purchases(np.array([1]), np.array([1]), np.array([1, 2]), np.array([5]))
    with pytest.raises(ValueError, match="non-negative"):
        rank_co_purchases(np.array([-1]), np.array([1]), np.array([1]), np.array([5]))


@pytest.mark.parametrize("threads", [1, 2])
def test_equals_a_pandas_self_join_on_random_purchases(monkeypatch: pytest.MonkeyPatch, threads: int) -> None:
    monkeypatch.setattr(co_purchase, "BLOCK_ENTRIES", 2_000)  # many blocks of anchors
    rng = np.random.default_rng(11)
    lines = 20_000
    # skewed: a few customers and products carry most lines, so counts tie and differ
    customers = rng.zipf(1.6, lines) % 800
    products = rng.zipf(1.4, lines) % 300
    pairs = pd.DataFrame({"customer": customers, "product": products})
    anchors = pd.DataFrame({"anchor": rng.choice(300, 120, replace=False)})
    anchors["limit"] = rng.integers(1, 40, len(anchors))
    expected = _pandas_rank(pairs, anchors)
    actual = _frame(rank_co_purchases(customers, products, anchors["anchor"].to_numpy(),
                                      anchors["limit"].to_numpy(), threads=threads))
    actual = actual.sort_values(["anchor", "rank"]).reset_index(drop=True)
    assert len(expected) > 2_000
    assert expected["count"].max() > 20 and (expected.groupby("anchor")["count"].nunique() > 1).any()
    pd.testing.assert_frame_equal(actual.astype("int64"), expected.astype("int64"))


def test_python_and_sql_engines_give_the_same_rows_on_superstore(projects: BuiltProjects, connect) -> None:
    python_db = connect("superstore")
    sql_db = projects.root / "co_purchase_sql" / "spendlens.duckdb"
    sql_db.parent.mkdir(parents=True)
    run_dbt_build(projects.raw("superstore"), sql_db, {"co_purchase_engine": "sql"},
                  select="+int_products_co_purchased")
    query = "select * from intermediate.int_products_co_purchased order by anchor_product_id, candidate_rank"
    python_rows = python_db.execute(query).df()
    with duckdb.connect(str(sql_db), read_only=True) as con:
        sql_rows = con.execute(query).df()
        assert con.execute(
            "select count(*) from information_schema.tables where table_name = 'int_co_purchases_counted'"
        ).fetchone()[0] == 0, "the sql engine must not build the Python model"
    assert len(python_rows) > 10_000
    assert python_rows["co_buyer_count"].max() >= 3
    pd.testing.assert_frame_equal(python_rows, sql_rows)
