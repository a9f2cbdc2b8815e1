"""`spendlens bench` helpers: the replicated data set of large benchmarks, the step options."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from spendlens.bench import replicate_dataset, run_bench, slowest_models, time_by_kind
from spendlens.errors import SpendlensError
from spendlens.generate import generate


def test_replicated_dataset_has_disjoint_customers_and_the_same_lines(tmp_path: Path) -> None:
    base, out = tmp_path / "base", tmp_path / "out"
    generate(out=base, lines=3_000, customers=40, products=30, seed=3, years=1, end_date="2026-06-30",
             fmt="parquet", bad_rows=False)
    replicate_dataset(base, out, 3)
    con = duckdb.connect()

    def one(sql: str) -> tuple:
        return con.execute(sql).fetchone()

    lines = f"read_parquet('{base}/order_lines.parquet')"
    copies = f"read_parquet('{out}/order_lines.parquet')"
    assert one(f"select count(*) from {copies}")[0] == 3 * one(f"select count(*) from {lines}")[0]
    assert one(f"select count(distinct customer_id) from {copies}")[0] == 3 * one(
        f"select count(distinct customer_id) from {lines}")[0]
    # every copy is the base with suffixed ids: same spend per copy, no order shared by two copies
    per_copy = con.execute(
        f"select coalesce(regexp_extract(customer_id, '-([0-9]+)$', 1), '') as copy, "
        f"round(sum(line_amount), 4), count(distinct order_id) from {copies} group by 1 order by 1").fetchall()
    assert [row[0] for row in per_copy] == ["", "1", "2"]
    assert len({row[1] for row in per_copy}) == 1 and len({row[2] for row in per_copy}) == 1
    assert one(f"select count(distinct order_id) from {copies}")[0] == 3 * per_copy[0][2]
    customers = f"read_parquet('{out}/customers.parquet')"
    assert one(f"select count(*), count(distinct customer_id) from {customers}") == (120, 120)
    # every line's customer is in the customers file; products are not copied
    assert one(f"select count(*) from {copies} anti join {customers} using (customer_id)")[0] == 0
    assert one(f"select count(*) from read_parquet('{out}/products.parquet')")[0] == 30
    targets = f"read_parquet('{out}/sales_targets.parquet')"
    assert one(f"select count(*) from {targets} anti join {customers} using (customer_id)")[0] == 0


def test_unknown_skip_step_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpendlensError, match="only run, incremental, pandas"):
        run_bench(lines=1000, customers=10, products=10, workdir=tmp_path / "bench", skip=("floor",))


def test_slowest_models_reads_run_results(tmp_path: Path) -> None:
    (tmp_path / "run_results.json").write_text(
        '{"results": [{"unique_id": "model.spendlens.a", "execution_time": 1.5},'
        ' {"unique_id": "test.spendlens.t", "execution_time": 9.0},'
        ' {"unique_id": "model.spendlens.b", "execution_time": 3.0}]}')
    assert slowest_models(tmp_path) == [("b", 3.0), ("a", 1.5)]
    assert slowest_models(tmp_path / "missing") == []


def test_time_by_kind_sums_models_and_tests(tmp_path: Path) -> None:
    (tmp_path / "run_results.json").write_text(
        '{"results": [{"unique_id": "model.spendlens.a", "execution_time": 1.5},'
        ' {"unique_id": "test.spendlens.t", "execution_time": 9.0},'
        ' {"unique_id": "unit_test.spendlens.a.u", "execution_time": 0.5},'
        ' {"unique_id": "model.spendlens.b", "execution_time": 3.0}]}')
    assert time_by_kind(tmp_path) == {"model": 4.5, "test": 9.0, "unit_test": 0.5}
    assert time_by_kind(tmp_path / "missing") == {}


def test_clv_node_times_lists_the_clv_step_in_order(tmp_path: Path) -> None:
    from spendlens.bench import clv_node_times

    (tmp_path / "run_results.json").write_text(
        '{"results": [{"unique_id": "model.spendlens.int_customers_scored_clv", "execution_time": 4.0},'
        ' {"unique_id": "model.spendlens.customer_rfm", "execution_time": 9.0},'
        ' {"unique_id": "test.spendlens.int_clv_models_fitted_t", "execution_time": 7.0},'
        ' {"unique_id": "model.spendlens.int_clv_models_fitted", "execution_time": 2.5}]}')
    assert clv_node_times(tmp_path) == [("int_clv_models_fitted", 2.5), ("int_customers_scored_clv", 4.0)]
    assert clv_node_times(tmp_path / "missing") == []
