"""scripts/compare_engines.py can fail: its comparison on small frames (DuckDB only, no Spark)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import duckdb
import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "compare_engines.py"


@pytest.fixture(scope="module")
def compare() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compare_engines", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["compare_engines"] = module
    spec.loader.exec_module(module)
    assert "pyspark" not in sys.modules
    return module


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["C2", "C1", "C3"],
            "month": [dt.date(2024, 2, 1), dt.date(2024, 1, 1), dt.date(2024, 3, 1)],
            "spend": [20.5, 10.25, None],
            "orders": [2, 1, 0],
            "is_active": pd.array([True, False, None], dtype="boolean"),
        }
    )


def test_equal_frames_in_another_order_and_types_compare_equal(compare: ModuleType) -> None:
    left = frame()
    right = frame().iloc[[2, 0, 1]].reset_index(drop=True)
    right["spend"] = right["spend"] * (1 + 1e-12)  # float noise within 1e-9 relative
    right["orders"] = right["orders"].astype("float64")  # bigint on one engine, double on the other
    right["month"] = pd.to_datetime(right["month"])  # a date read back as a timestamp at midnight
    result = compare.compare_frames("m", left, right, ["customer_id"])
    assert result.rows == 3
    assert result.difference_count == 0 and result.examples == []
    assert compare.summary([result]) == "1 marts, 3 rows compared, 0 differences"


def test_one_changed_number_is_one_difference_naming_mart_column_and_key(compare: ModuleType) -> None:
    right = frame()
    right.loc[right["customer_id"] == "C1", "spend"] = 10.25 * (1 + 1e-6)
    result = compare.compare_frames("customer_targets", frame(), right, ["customer_id"])
    assert result.difference_count == 1
    difference = result.examples[0]
    assert (difference.mart, difference.column, difference.key) == ("customer_targets", "spend", "customer_id=C1")
    assert str(difference).startswith("customer_targets.spend at customer_id=C1: duckdb='10.25' spark=")
    assert compare.summary([result]) == "1 marts, 3 rows compared, 1 differences"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("spend", 0.0),  # a number against null
        ("spend", 1e-6),  # a small number against null
        ("orders", 5),  # another whole number
        ("is_active", False),  # a boolean against null
        ("month", dt.date(2024, 3, 2)),  # another date
        ("customer_id", "C3 "),  # text that differs by a space
    ],
)
def test_each_kind_of_value_difference_is_found(compare: ModuleType, column: str, value: object) -> None:
    right = frame()
    right.loc[2, column] = value
    result = compare.compare_frames("m", frame(), right, ["month"])
    assert [d.column for d in result.examples] == [column]
    assert result.difference_count == 1


def test_row_count_columns_and_column_types_must_match(compare: ModuleType) -> None:
    fewer = compare.compare_frames("m", frame(), frame().iloc[:2], ["customer_id"])
    assert fewer.examples[0].column == "(row count)"
    renamed = compare.compare_frames("m", frame(), frame().rename(columns={"spend": "spend_amount"}), ["customer_id"])
    assert [d.column for d in renamed.examples] == ["(columns)"]
    reordered = compare.compare_frames("m", frame(), frame()[["month", *frame().columns.drop("month")]], [])
    assert [d.column for d in reordered.examples] == ["(columns)"]
    as_text = frame()
    as_text["orders"] = as_text["orders"].astype(str)
    retyped = compare.compare_frames("m", frame(), as_text, ["customer_id"])
    assert [(d.column, d.key) for d in retyped.examples] == [("orders", "(column type)")]


def test_main_reads_both_builds_and_exits_non_zero_on_a_difference(compare: ModuleType, tmp_path: Path) -> None:
    database = tmp_path / "duck.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute("create schema marts")
        connection.execute("create table marts.kpi as select 'orders' as tile, 3.0 as tile_value")
        connection.execute("create table marts.clv_only as select 1 as id")
    table = tmp_path / "warehouse" / "marts.db" / "kpi"
    table.mkdir(parents=True)
    manifest = tmp_path / "manifest.json"
    model = {"resource_type": "model", "schema": "marts", "name": "kpi", "unique_id": "model.p.kpi"}
    test = {
        "resource_type": "test",
        "test_metadata": {"name": "unique", "kwargs": {"column_name": "tile"}},
        "depends_on": {"nodes": ["model.p.kpi"]},
    }
    manifest.write_text(json.dumps({"nodes": {"model.p.kpi": model, "test.p.unique_kpi_tile": test}}))
    args = ["--case", "x", str(database), str(tmp_path / "warehouse"), str(manifest)]
    for value, expected in [(3.0, 0), (3.5, 1)]:
        with duckdb.connect() as connection:
            connection.execute(
                f"copy (select 'orders' as tile, {value}::double as tile_value) "
                f"to '{table / 'part-00000.snappy.parquet'}' (format parquet)"
            )
        assert compare.main(args) == expected


def test_a_partitioned_spark_table_is_read_with_its_partition_column(compare: ModuleType, tmp_path: Path) -> None:
    database = tmp_path / "duck.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute("create schema marts")
        connection.execute(
            "create table marts.history as select * from (values"
            " (date '2024-01-31', 'C1', 1.5), (date '2024-02-29', 'C1', 2.5), (date '2024-02-29', 'C2', 4.0))"
            " as t (month_end_date, customer_id, spend)"
        )
        # Spark's layout: a folder per partition value, the partition column not in the files.
        table = tmp_path / "warehouse" / "marts.db" / "history"
        table.mkdir(parents=True)
        connection.execute(
            f"copy (select * from marts.history) to '{table}' (format parquet, partition_by (month_end_date))"
        )
    relation, partitions = compare.spark_relation(tmp_path / "warehouse", "history")
    assert partitions == ["month_end_date"]
    with duckdb.connect() as connection:
        connection.execute(f"attach '{database}' as d (read_only)")
        result = compare.compare_relations(
            connection, "history", "d.marts.history", relation, ["month_end_date", "customer_id"], partitions
        )
        assert (result.rows, result.difference_count) == (3, 0)
        unpartitioned = compare.compare_relations(
            connection, "history", "d.marts.history", relation, ["month_end_date", "customer_id"]
        )
        assert [d.column for d in unpartitioned.examples] == ["(columns)"]


def test_engine_specific_fingerprints_are_not_compared(compare: ModuleType) -> None:
    left, right = frame(), frame()
    left["partition_fingerprint"] = [1, 2, 3]  # DuckDB hash()
    right["partition_fingerprint"] = [7, 8, 9]  # Spark xxhash64
    assert compare.compare_frames("m", left, right, ["customer_id"]).difference_count == 0
    assert compare.compare_frames("m", left, right, ["customer_id"], ignored_columns=()).difference_count == 3


def test_clv_columns_compare_at_their_documented_tolerance(compare: ModuleType) -> None:
    tol = compare.relative_tolerance
    assert tol("superstore/customer_value", "predicted_clv") == 1e-6
    assert tol("customer_value", "churn_risk") == 1e-6
    assert tol("cdnow/customer_value", "predicted_clv_low") == 1e-4
    assert tol("segment_summary", "predicted_revenue_high") == 1e-4
    assert tol("clv_model_parameters", "value") == 1e-3
    assert tol("clv_backtest", "spend_error") == 1e-4
    assert tol("clv_backtest", "predicted_orders") == 1e-6
    assert tol("customer_value", "historic_clv") == 1e-6  # named clv: from the same marts
    assert tol("customer_spend_profile", "total_spend") == 1e-9
    assert tol("clv_backtest", "actual_orders") == 1e-9
    left = pd.DataFrame({"model": ["bgnbd"], "predicted_clv": [100.0], "total_spend": [5.0]})
    near = left.assign(predicted_clv=100.00005)  # 5e-7 relative: inside 1e-6
    far = left.assign(predicted_clv=100.001)  # 1e-5: outside
    assert compare.compare_frames("customer_value", left, near, ["model"]).difference_count == 0
    assert compare.compare_frames("customer_value", left, far, ["model"]).difference_count == 1
    moved = left.assign(total_spend=5.00001)  # not a CLV column: 1e-9
    assert compare.compare_frames("customer_value", left, moved, ["model"]).difference_count == 1


def test_unconverged_fit_end_points_and_messages_are_not_compared(compare: ModuleType) -> None:
    left = pd.DataFrame({"model": ["mbgnbd", "bgnbd"], "parameter": ["a", "a"], "value": [1e-7, 0.5],
                         "std_error": [None, 0.1], "status": ["not converged: flat", "fitted"],
                         "message": ["|gradient| 1e-9", "ok 1e-10"]})
    right = left.assign(value=[3e-6, 0.5], message=["|gradient| 2e-9", "ok 3e-10"])
    assert compare.compare_frames("clv_model_parameters", left, right, ["model", "parameter"]).difference_count == 0
    moved = left.assign(value=[1e-7, 0.51])  # a converged estimate that moved 2 %
    assert compare.compare_frames("clv_model_parameters", left, moved, ["model", "parameter"]).difference_count == 1
