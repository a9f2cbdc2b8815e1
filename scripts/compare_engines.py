"""Compare the marts of a DuckDB build with the same marts built on Spark, row by row.

Used by `make test-spark` (scripts/test_spark.sh, docs/portability.md). For each case (one data
set built on both engines) it reads every mart that the Spark build has enabled:

- DuckDB: `marts.<mart>` from the DuckDB database file (attached read-only);
- Spark: the Parquet files Spark wrote for table `marts.<mart>` under its warehouse folder
  (`<warehouse>/marts.db/<mart>/`), read with DuckDB, so no second JVM is started.

Both sides are numbered in the same order: by the mart's key (its `unique_combination` test or
a column with a `unique` test, from the Spark build's manifest.json), then by every column.
Rows with the same number are compared column by column: same columns in the same order, same
row count, text, dates and booleans equal, numbers equal to 1e-9 relative or 1e-9 absolute (a
sum that cancels to zero keeps float noise of its addends, e.g. -1.1e-12 against 0.0), nulls
equal only to nulls. The work is SQL in DuckDB, so millions of rows take seconds.

Prints "N marts, M rows compared, D differences" and exits 1 on any difference, naming mart,
column and key of the first few. `compare_frames` runs the same comparison on two pandas frames
without Spark (tests/python/test_compare_engines.py).

    python scripts/compare_engines.py \\
        --case cdnow target/spark-test/cdnow/duckdb.duckdb \\
            target/spark-test/cdnow/spark/warehouse target/spark-test/cdnow/dbt-spark/manifest.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:
    import pandas as pd

RELATIVE_TOLERANCE = 1e-9
ABSOLUTE_TOLERANCE = 1e-9
MARTS_SCHEMA = "marts"
EXAMPLES_PER_COLUMN = 3
# Engine-specific by design: the incremental models' partition hashes (DuckDB hash() vs Spark
# xxhash64), compared only within one engine.
IGNORED_COLUMNS = ("partition_fingerprint",)

# The CLV numbers are fitted and scored by the same Python functions on both engines, but in two
# environments (.venv: numpy 2 / scipy 1.17 for DuckDB's dbt Python models; .venv-spark: numpy
# 1.26 / scipy 1.13 for the driver step), whose optimisers stop within their gradient tolerance
# of the same optimum. So these columns compare looser than 1e-9, by design (docs/portability.md):
# - 1e-6: every number that comes out of the fits (columns named with clv, churn, alive,
#   predicted, expected_returning; clv_model_comparison.value; clv_backtest's errors);
# - 1e-4: the interval ends (*_low, *_high): they come from the finite-difference Hessian at the
#   optimum, which amplifies the optimum's last digits; and clv_backtest's errors, differences
#   of two totals that keep the totals' absolute noise (3e-5 on 3,221 predicted purchase days
#   is 1e-6 of an error of -27.8);
# - 1e-3: clv_model_parameters.value and std_error, and only for converged fits: at a flat
#   optimum (Superstore's no-dropout limit, r = 78 and alpha = 16,838 days) r and alpha move
#   together by 1e-6..1e-4 while every prediction agrees to 2e-7. A fit that did not converge
#   keeps its end point for diagnosis; that point is not a result, so its value and std_error
#   are compared as null. The optimiser's message (gradient norm, Hessian eigenvalue, end point
#   in words) is diagnostic text with those last digits: not compared.
CLV_RELATIVE_TOLERANCE = 1e-6
INTERVAL_RELATIVE_TOLERANCE = 1e-4
PARAMETER_RELATIVE_TOLERANCE = 1e-3
CLV_COLUMN_WORDS = ("clv", "churn", "alive", "predicted", "expected_returning")
CLV_MART_COLUMNS = {
    "clv_model_comparison": ("value",),
    "clv_backtest": ("mean_absolute_error_per_customer",),
}
#: Differences of two CLV totals: compared at INTERVAL_RELATIVE_TOLERANCE.
CLV_DIFFERENCE_COLUMNS = {
    "clv_backtest": ("error", "absolute_error", "error_pct", "spend_error", "spend_error_pct"),
}
#: Columns compared through an expression (the same on both sides), per mart.
COLUMN_EXPRESSIONS = {
    "clv_model_parameters": {
        **{column: f"case when status like 'fitted%' then {column} end"
           for column in ("value", "std_error")},
        "message": "cast(null as varchar)",
    },
}


def _mart_name(mart: str) -> str:
    return mart.rsplit("/", 1)[-1].lower()  # "superstore/customer_value" -> "customer_value"


def relative_tolerance(mart: str, column: str) -> float:
    """1e-9, or the looser tolerance of a column that comes out of the CLV fits (see above)."""
    name, mart = column.lower(), _mart_name(mart)
    if mart == "clv_model_parameters" and name in ("value", "std_error"):
        return PARAMETER_RELATIVE_TOLERANCE
    is_clv = any(word in name for word in CLV_COLUMN_WORDS) or name in CLV_MART_COLUMNS.get(mart, ())
    if (is_clv and name.endswith(("_low", "_high"))) or name in CLV_DIFFERENCE_COLUMNS.get(mart, ()):
        return INTERVAL_RELATIVE_TOLERANCE
    return CLV_RELATIVE_TOLERANCE if is_clv else RELATIVE_TOLERANCE


NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "REAL")
NUMERIC_TYPES += ("UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT")


@dataclass(frozen=True)
class Difference:
    mart: str
    column: str
    key: str
    left: str
    right: str

    def __str__(self) -> str:
        return f"{self.mart}.{self.column} at {self.key}: duckdb={self.left} spark={self.right}"


@dataclass
class TableResult:
    mart: str
    rows: int
    difference_count: int = 0
    examples: list[Difference] = field(default_factory=list)


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def kind(data_type: str) -> str:
    """Comparison kind of a DuckDB type: number, boolean, date (dates and timestamps) or text."""
    upper = data_type.upper()
    if upper.startswith(NUMERIC_TYPES):
        return "number"
    if upper == "BOOLEAN":
        return "boolean"
    if upper.startswith(("DATE", "TIMESTAMP")):
        return "date"
    return "text"


def differs_sql(column: str, left_kind: str, right_kind: str,
                relative: float = RELATIVE_TOLERANCE) -> str:
    """SQL predicate: l.<column> and r.<column> differ (null only equals null)."""
    left, right = f"l.{quote(column)}", f"r.{quote(column)}"
    if left_kind == right_kind == "number":
        left, right = f"cast({left} as double)", f"cast({right} as double)"
        return (
            f"(({left} is null) != ({right} is null) or abs({left} - {right}) > greatest("
            f"{relative} * greatest(abs({left}), abs({right})), {ABSOLUTE_TOLERANCE}))"
        )
    if left_kind == right_kind == "date":
        return f"cast({left} as timestamp) is distinct from cast({right} as timestamp)"
    return f"{left} is distinct from {right}"


def compare_relations(
    connection: duckdb.DuckDBPyConnection,
    mart: str,
    left: str,
    right: str,
    keys: Sequence[str],
    partition_columns: Sequence[str] = (),
    ignored_columns: Sequence[str] = IGNORED_COLUMNS,
) -> TableResult:
    """Compare two relations (left = DuckDB build, right = Spark build) readable on `connection`.

    A partitioned Spark table lists its partition columns last: that order is accepted (and the
    right side read in the left order) when the partition columns are named. Ignored columns
    are left out on both sides."""

    def names(relation: str) -> list[str]:
        return [str(row[0]).lower() for row in connection.execute(f"describe select * from {relation}").fetchall()]

    ignored = {c.lower() for c in ignored_columns}
    left_names = [c for c in names(left) if c not in ignored]
    right_names = [c for c in names(right) if c not in ignored]
    partitioned = [c.lower() for c in partition_columns]
    if partitioned and right_names == [c for c in left_names if c not in partitioned] + partitioned:
        right_names = left_names
    expressions = COLUMN_EXPRESSIONS.get(_mart_name(mart), {})

    def column(name: str) -> str:
        return f"{expressions[name]} as {quote(name)}" if name in expressions else quote(name)

    left = "(select " + ", ".join(column(c) for c in left_names) + f" from {left})"
    right = "(select " + ", ".join(column(c) for c in right_names) + f" from {right})"
    left_columns = connection.execute(f"describe select * from {left}").fetchall()
    right_columns = connection.execute(f"describe select * from {right}").fetchall()
    left_rows = int(connection.execute(f"select count(*) from {left}").fetchone()[0])  # type: ignore[index]
    right_rows = int(connection.execute(f"select count(*) from {right}").fetchone()[0])  # type: ignore[index]
    result = TableResult(mart, min(left_rows, right_rows))
    if left_names != right_names:
        only_left = [c for c in left_names if c not in right_names]
        only_right = [c for c in right_names if c not in left_names]
        detail = f"only duckdb {only_left}, only spark {only_right}" if only_left or only_right else "another order"
        result.difference_count = 1
        result.examples.append(Difference(mart, "(columns)", "-", ",".join(left_names), detail))
        return result
    missing_keys = [key for key in keys if key.lower() not in left_names]
    if missing_keys:
        raise ValueError(f"{mart}: key columns {missing_keys} are not columns of the mart")
    if left_rows != right_rows:
        result.difference_count += 1
        result.examples.append(Difference(mart, "(row count)", "-", str(left_rows), str(right_rows)))

    key_names = [key.lower() for key in keys]
    ordering = ", ".join(
        f"{quote(name)} nulls last" for name in key_names + [n for n in left_names if n not in key_names]
    )
    numbered = "select *, row_number() over (order by {ordering}) as compare_row_number from {relation}"
    kinds = [(kind(str(lt[1])), kind(str(rt[1]))) for lt, rt in zip(left_columns, right_columns, strict=True)]
    for name, (left_kind, right_kind) in zip(left_names, kinds, strict=True):
        if left_kind != right_kind:
            result.difference_count += 1
            result.examples.append(Difference(mart, name, "(column type)", left_kind, right_kind))
    checks = [(name, differs_sql(name, lk, rk, relative_tolerance(mart, name)))
              for name, (lk, rk) in zip(left_names, kinds, strict=True) if lk == rk]
    if not checks:
        return result
    key_text = (
        " || ', ' || ".join(f"'{name}=' || coalesce(cast(l.{quote(name)} as varchar), 'null')" for name in key_names)
        or "'row ' || cast(l.compare_row_number as varchar)"
    )
    joined = (
        f"from ({numbered.format(ordering=ordering, relation=left)}) as l "
        f"inner join ({numbered.format(ordering=ordering, relation=right)}) as r "
        "on l.compare_row_number = r.compare_row_number"
    )
    counts = connection.execute(
        "select " + ", ".join(f"count(*) filter (where {predicate})" for _, predicate in checks) + " " + joined
    ).fetchone()
    assert counts is not None
    for (name, predicate), count in zip(checks, counts, strict=True):
        if not count:
            continue
        result.difference_count += int(count)
        examples = connection.execute(
            f"select {key_text}, cast(l.{quote(name)} as varchar), cast(r.{quote(name)} as varchar) "
            f"{joined} where {predicate} order by l.compare_row_number limit {EXAMPLES_PER_COLUMN}"
        ).fetchall()
        for key, left_value, right_value in examples:
            result.examples.append(
                Difference(
                    mart,
                    name,
                    key,
                    "null" if left_value is None else repr(left_value),
                    "null" if right_value is None else repr(right_value),
                )
            )
    return result


def compare_frames(
    mart: str,
    left: pd.DataFrame,
    right: pd.DataFrame,
    keys: Sequence[str],
    ignored_columns: Sequence[str] = IGNORED_COLUMNS,
) -> TableResult:
    """compare_relations for two pandas frames (an in-memory DuckDB, no Spark)."""
    connection = duckdb.connect()
    connection.register("left_frame", left)
    connection.register("right_frame", right)
    try:
        return compare_relations(connection, mart, "left_frame", "right_frame", keys, ignored_columns=ignored_columns)
    finally:
        connection.close()


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


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def spark_relation(warehouse: Path, mart: str) -> tuple[str, list[str]]:
    """A DuckDB relation over the Parquet files of Spark table marts.<mart>, and its partition
    columns (folders `<column>=<value>`, as Spark writes a partitioned table)."""
    folder = warehouse / f"{MARTS_SCHEMA}.db" / mart
    files = sorted(folder.rglob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"no Parquet files for Spark table {MARTS_SCHEMA}.{mart} in {folder}")
    partitions = [part.split("=", 1)[0] for part in files[0].relative_to(folder).parts[:-1] if "=" in part]
    paths = ", ".join(sql_text(str(f)) for f in files)
    return f"read_parquet([{paths}], hive_partitioning = {'true' if partitions else 'false'})", partitions


def compare_case(label: str, duckdb_file: Path, warehouse: Path, manifest_file: Path) -> list[TableResult]:
    keys = mart_keys(json.loads(manifest_file.read_text()))
    connection = duckdb.connect()
    connection.execute(f"attach {sql_text(str(duckdb_file))} as duckdb_build (read_only)")
    duckdb_marts = {
        row[0]
        for row in connection.execute(
            "select table_name from information_schema.tables where table_catalog = 'duckdb_build'"
            " and table_schema = ?",
            [MARTS_SCHEMA],
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
        left = f"duckdb_build.{MARTS_SCHEMA}.{quote(mart)}"
        right, partitions = spark_relation(warehouse, mart)
        result = compare_relations(connection, f"{label}/{mart}", left, right, keys[mart], partitions)
        status = "ok" if not result.difference_count else f"{result.difference_count} differences"
        print(f"{label}: {mart}: {result.rows} rows, key ({', '.join(keys[mart]) or 'all columns'}): {status}")
        results.append(result)
    connection.close()
    return results


def summary(results: Sequence[TableResult]) -> str:
    differences = sum(r.difference_count for r in results)
    return f"{len(results)} marts, {sum(r.rows for r in results)} rows compared, {differences} differences"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
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
    examples = [d for r in results for d in r.examples]
    for difference in examples[: args.show]:
        print(f"DIFFERENCE {difference}")
    print(summary(results))
    return 1 if any(r.difference_count for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
