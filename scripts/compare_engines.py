"""Compare the marts of a DuckDB build with the same marts built on Spark, row by row.

Used by `make test-spark` (scripts/test_spark.sh, docs/portability.md). For each case (one data
set built on both engines) it reads every mart that the Spark build has enabled:

- DuckDB: `marts.<mart>` from the DuckDB database file (read-only);
- Spark: the Parquet files Spark wrote for table `marts.<mart>` under its warehouse folder
  (`<warehouse>/marts.db/<mart>/`), read with DuckDB, so no second JVM is started.

Rows are sorted by the mart's key (its `unique_combination` test or a column with a `unique`
test, taken from the Spark build's manifest.json), then by every column. Then: same columns in
the same order, same row count, text and dates equal, booleans equal, numbers equal to 1e-9
relative or 1e-9 absolute (a sum that cancels to zero keeps float noise
of its addends, e.g. -1.1e-12 against 0.0), nulls equal only to nulls.

Prints "N marts, M rows compared, D differences" and exits 1 on any difference, naming mart,
column and key of the first few. The compare functions take plain rows or pandas frames and do
not need Spark (tests/python/test_compare_engines.py).

    python scripts/compare_engines.py \\
        --case cdnow target/spark-test/cdnow/duckdb.duckdb \\
            target/spark-test/cdnow/spark/warehouse target/spark-test/cdnow/dbt-spark/manifest.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

RELATIVE_TOLERANCE = 1e-9
ABSOLUTE_TOLERANCE = 1e-9
MARTS_SCHEMA = "marts"

Value = str | float | bool | None
Row = tuple[Value, ...]


@dataclass(frozen=True)
class Difference:
    mart: str
    column: str
    key: str
    left: str
    right: str

    def __str__(self) -> str:
        return f"{self.mart}.{self.column} at {self.key}: duckdb={self.left} spark={self.right}"


@dataclass(frozen=True)
class TableResult:
    mart: str
    rows: int
    differences: list[Difference]


def normalise(value: Any) -> Value:
    """One comparable value: None, bool, float, or text (dates as ISO text)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()  # numpy scalar
        if isinstance(value, bool):
            return value
    if isinstance(value, int | float | decimal.Decimal):
        number = float(value)
        return None if math.isnan(number) else number
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    try:  # pandas NA / NaT
        import pandas as pd

        if pd.isna(value):
            return None
        if isinstance(value, pd.Timestamp):
            return normalise(value.to_pydatetime())
    except (ImportError, TypeError, ValueError):
        pass
    return str(value)


def _sort_token(value: Value) -> tuple[int, int, Any]:
    """Nulls last; one rank per kind so a column of mixed kinds still sorts."""
    if value is None:
        return (1, 0, 0)
    if isinstance(value, bool):
        return (0, 0, int(value))
    if isinstance(value, float):
        return (0, 1, value)
    return (0, 2, value)


def values_equal(left: Value, right: Value) -> bool:
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, float) and isinstance(right, float):
        if math.isinf(left) or math.isinf(right):
            return left == right
        return math.isclose(left, right, rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE)
    if isinstance(left, float) or isinstance(right, float):
        return False
    return left == right


def _show(value: Value) -> str:
    return "null" if value is None else repr(value)


def compare_rows(
    mart: str,
    left_columns: Sequence[str],
    left_rows: Sequence[Sequence[Any]],
    right_columns: Sequence[str],
    right_rows: Sequence[Sequence[Any]],
    keys: Sequence[str],
    limit: int = 20,
) -> TableResult:
    """Differences between two tables (left = DuckDB, right = Spark), at most `limit` of them."""
    left_names = [column.lower() for column in left_columns]
    right_names = [column.lower() for column in right_columns]
    if left_names != right_names:
        only_left = [c for c in left_names if c not in right_names]
        only_right = [c for c in right_names if c not in left_names]
        detail = f"only duckdb {only_left}, only spark {only_right}" if only_left or only_right else "order"
        return TableResult(mart, 0, [Difference(mart, "(columns)", "-", ",".join(left_names), detail)])
    missing_keys = [key for key in keys if key.lower() not in left_names]
    if missing_keys:
        raise ValueError(f"{mart}: key columns {missing_keys} are not columns of the mart")
    key_positions = [left_names.index(key.lower()) for key in keys]
    order = key_positions + [i for i in range(len(left_names)) if i not in key_positions]

    def prepared(rows: Sequence[Sequence[Any]]) -> list[Row]:
        normalised = [tuple(normalise(value) for value in row) for row in rows]
        return sorted(normalised, key=lambda row: tuple(_sort_token(row[i]) for i in order))

    left_sorted = prepared(left_rows)
    right_sorted = prepared(right_rows)
    differences: list[Difference] = []
    if len(left_sorted) != len(right_sorted):
        differences.append(Difference(mart, "(row count)", "-", str(len(left_sorted)), str(len(right_sorted))))
    for left_row, right_row in zip(left_sorted, right_sorted, strict=False):
        for position, name in enumerate(left_names):
            if not values_equal(left_row[position], right_row[position]):
                key = ", ".join(f"{keys[i]}={_show(left_row[p])}" for i, p in enumerate(key_positions)) or "-"
                differences.append(Difference(mart, name, key, _show(left_row[position]), _show(right_row[position])))
                if len(differences) >= limit:
                    return TableResult(mart, min(len(left_sorted), len(right_sorted)), differences)
    return TableResult(mart, min(len(left_sorted), len(right_sorted)), differences)


def compare_frames(mart: str, left: pd.DataFrame, right: pd.DataFrame, keys: Sequence[str]) -> TableResult:
    """compare_rows for two pandas frames."""
    return compare_rows(
        mart,
        [str(c) for c in left.columns],
        list(left.itertuples(index=False, name=None)),
        [str(c) for c in right.columns],
        list(right.itertuples(index=False, name=None)),
        keys,
    )


def mart_keys(manifest: dict[str, Any]) -> dict[str, list[str]]:
    """Enabled marts of a dbt manifest -> key columns from their uniqueness tests ([] = none)."""
    marts = {
        node["name"]: node["unique_id"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == MARTS_SCHEMA
    }
    by_id = {unique_id: name for name, unique_id in marts.items()}
    keys: dict[str, list[str]] = {name: [] for name in marts}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or not node.get("test_metadata"):
            continue
        parents = [by_id[p] for p in node["depends_on"]["nodes"] if p in by_id]
        if len(parents) != 1:
            continue
        metadata = node["test_metadata"]
        kwargs = metadata.get("kwargs", {})
        if metadata["name"] == "unique_combination":
            keys[parents[0]] = list(kwargs["combination_of_columns"])
        elif metadata["name"] == "unique" and not keys[parents[0]]:
            keys[parents[0]] = [kwargs.get("column_name") or node["column_name"]]
    return keys


def read_duckdb(connection: Any, mart: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    result = connection.execute(f'select * from {MARTS_SCHEMA}."{mart}"')
    return [d[0] for d in result.description], result.fetchall()


def read_spark_table(warehouse: Path, mart: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    import duckdb

    folder = warehouse / f"{MARTS_SCHEMA}.db" / mart
    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"no Parquet files for Spark table {MARTS_SCHEMA}.{mart} in {folder}")
    paths = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    result = duckdb.connect().execute(f"select * from read_parquet([{paths}])")
    return [d[0] for d in result.description], result.fetchall()


def compare_case(label: str, duckdb_file: Path, warehouse: Path, manifest_file: Path) -> list[TableResult]:
    import duckdb

    keys = mart_keys(json.loads(manifest_file.read_text()))
    connection = duckdb.connect(str(duckdb_file), read_only=True)
    duckdb_marts = {
        row[0]
        for row in connection.execute(
            "select table_name from information_schema.tables where table_schema = ?", [MARTS_SCHEMA]
        ).fetchall()
    }
    missing = sorted(set(keys) - duckdb_marts)
    if missing:
        raise SystemExit(f"{label}: marts enabled on Spark but not in {duckdb_file}: {', '.join(missing)}")
    skipped = sorted(duckdb_marts - set(keys))
    if skipped:
        print(f"{label}: not built on Spark (disabled there): {', '.join(skipped)}")
    results = []
    for mart in sorted(keys):
        left_columns, left_rows = read_duckdb(connection, mart)
        right_columns, right_rows = read_spark_table(warehouse, mart)
        result = compare_rows(f"{label}/{mart}", left_columns, left_rows, right_columns, right_rows, keys[mart])
        status = "ok" if not result.differences else f"{len(result.differences)} differences"
        print(f"{label}: {mart}: {result.rows} rows, key ({', '.join(keys[mart]) or 'all columns'}): {status}")
        results.append(result)
    connection.close()
    return results


def summary(results: Sequence[TableResult]) -> str:
    differences = sum(len(r.differences) for r in results)
    return f"{len(results)} marts, {sum(r.rows for r in results)} rows compared, {differences} differences"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--case",
        nargs=4,
        action="append",
        required=True,
        metavar=("LABEL", "DUCKDB_FILE", "SPARK_WAREHOUSE", "SPARK_MANIFEST"),
        help="one data set built on both engines (repeatable)",
    )
    parser.add_argument("--show", type=int, default=10, help="differences to print (default 10)")
    args = parser.parse_args(argv)
    results: list[TableResult] = []
    for label, duckdb_file, warehouse, manifest in args.case:
        results.extend(compare_case(label, Path(duckdb_file), Path(warehouse), Path(manifest)))
    differences = [d for r in results for d in r.differences]
    for difference in differences[: args.show]:
        print(f"DIFFERENCE {difference}")
    print(summary(results))
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
