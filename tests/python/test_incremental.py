"""Incremental builds (issue 8): after an append, the incremental models give the same rows as a
--full-refresh build (generated data and the real Superstore set), and they really recompute only
the partitions whose inputs changed.

The data set is generated once: the base folder lacks the last order day and a handful of orders
of an earlier month (late lines), and one customer changes segment between the two builds.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import BIN, PROJECT_DIR, BuiltProjects

from spendlens.generate import generate

# the models made incremental, and the marts that read them
COMPARED = [
    ("intermediate", "int_order_lines_aggregated_to_days"),
    ("intermediate", "int_customer_timeframes_measured"),
    ("marts", "customer_classification_history"),
    ("marts", "customer_rfm_history"),
    ("marts", "customer_classifications"),
    ("marts", "customer_rfm"),
    ("marts", "customer_spend_profile"),
]
SELECT = " ".join(f"+{name}" for _, name in COMPARED)
VARS = {"data_quality_max_issue_pct": 10}


def _dbt_run(raw: Path, db: Path, *extra: str, as_of: str | None = None,
             extra_vars: dict | None = None) -> None:
    values = {"raw_path": str(raw), **VARS, **(extra_vars or {}),
              **({"as_of_date": as_of} if as_of else {})}
    env = {
        **os.environ,
        "SPENDLENS_DB": str(db),
        "DBT_TARGET_PATH": str(db.parent / f"dbt_target_{db.stem}"),
        "DBT_LOG_PATH": str(db.parent / f"dbt_logs_{db.stem}"),
        "SPENDLENS_TEMP_DIR": str(db.parent / "duckdb_tmp"),
    }
    # models and the seeds they read; the data tests run in `make test`'s full builds
    args = [str(BIN / "dbt"), "build", "--resource-type", "model", "--resource-type", "seed",
            "--profiles-dir", str(PROJECT_DIR), "--project-dir", str(PROJECT_DIR),
            "--vars", json.dumps(values), "--select", SELECT, *extra]
    result = subprocess.run(args, env=env, capture_output=True, text=True, cwd=PROJECT_DIR)
    if result.returncode != 0:
        raise AssertionError("dbt build failed:\n" + "\n".join(result.stdout.splitlines()[-40:]))


def _table(db: Path, schema: str, name: str) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"select * from {schema}.{name}").df()


def _assert_same_rows(left: pd.DataFrame, right: pd.DataFrame, label: str) -> None:
    assert list(left.columns) == list(right.columns), label
    assert len(left) == len(right), f"{label}: {len(left)} rows vs {len(right)}"
    floats = [c for c in left.columns if pd.api.types.is_float_dtype(left[c])]
    keys = [c for c in left.columns if c not in floats]
    left = left.sort_values(keys, na_position="last").reset_index(drop=True)
    right = right.sort_values(keys, na_position="last").reset_index(drop=True)
    pd.testing.assert_frame_equal(left[keys], right[keys], check_dtype=False, obj=label)
    for column in floats:
        pd.testing.assert_series_equal(left[column], right[column], rtol=1e-9, atol=1e-9,
                                       check_dtype=False, obj=f"{label}.{column}")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("incremental")
    full = root / "full"
    generate(out=full, lines=20_000, customers=600, products=150, seed=11, years=2,
             end_date="2026-06-30", fmt="csv", bad_rows=True)
    lines = pd.read_csv(full / "order_lines.csv", dtype=str, keep_default_na=False)
    customers = pd.read_csv(full / "customers.csv", dtype=str, keep_default_na=False)
    day = lines["ordered_at"].str.slice(0, 10)
    last_day = max(d for d in day if "2000-01-01" <= d <= "2026-06-30")  # bad rows hold 2099 dates
    # late lines: 12 orders of January 2026 arrive only with the last day
    january = sorted(lines.loc[day.str.startswith("2026-01"), "order_id"].unique())[:12]
    base_lines = lines[(day != last_day) & ~lines["order_id"].isin(january)]
    # a customer who bought in 2025 moves to another segment
    with_segment = set(customers.loc[customers["segment"] != "", "customer_id"])
    buyer = sorted(set(lines.loc[day.str.startswith("2025-0"), "customer_id"]) & with_segment)[0]
    changed = customers.copy()
    old_segment = changed.loc[changed["customer_id"] == buyer, "segment"].iloc[0]
    new_segment = next(s for s in sorted(set(customers["segment"])) if s and s != old_segment)
    changed.loc[changed["customer_id"] == buyer, "segment"] = new_segment

    base = root / "base"
    shutil.copytree(full, base)
    base_lines.to_csv(base / "order_lines.csv", index=False)
    final = root / "final"
    shutil.copytree(full, final)
    changed.to_csv(final / "customers.csv", index=False)
    return {"root": root, "base": base, "final": final, "last_day": last_day, "january": january,
            "buyer": buyer, "appended": len(lines) - len(base_lines)}


@pytest.fixture(scope="module")
def superstore_incremental_and_full(projects: BuiltProjects, tmp_path_factory: pytest.TempPathFactory
                                    ) -> tuple[Path, Path]:
    """The same scenario on the real Superstore set: the last day and 12 orders of June 2017
    arrive late, and a customer who bought in 2015 changes segment."""
    root = tmp_path_factory.mktemp("incremental_superstore")
    full = projects.raw("superstore")
    lines = pd.read_csv(full / "order_lines.csv", dtype=str, keep_default_na=False)
    customers = pd.read_csv(full / "customers.csv", dtype=str, keep_default_na=False)
    day = lines["ordered_at"].str.slice(0, 10)
    last_day = day.max()
    june = sorted(lines.loc[day.str.startswith("2017-06"), "order_id"].unique())[:12]
    base = root / "base"
    shutil.copytree(full, base)
    lines[(day != last_day) & ~lines["order_id"].isin(june)].to_csv(base / "order_lines.csv", index=False)
    buyer = sorted(lines.loc[day.str.startswith("2015"), "customer_id"].unique())[0]
    old_segment = customers.loc[customers["customer_id"] == buyer, "segment"].iloc[0]
    changed = customers.copy()
    changed.loc[changed["customer_id"] == buyer, "segment"] = next(
        s for s in sorted(set(customers["segment"])) if s and s != old_segment)
    final = root / "final"
    shutil.copytree(full, final)
    changed.to_csv(final / "customers.csv", index=False)
    incremental, full_refresh = root / "incremental.duckdb", root / "full_refresh.duckdb"
    _dbt_run(base, incremental)
    _dbt_run(final, incremental)
    _dbt_run(final, full_refresh, "--full-refresh")
    return incremental, full_refresh


@pytest.mark.parametrize(("schema", "name"), COMPARED)
def test_incremental_build_equals_full_refresh_on_superstore(
        superstore_incremental_and_full: tuple[Path, Path], schema: str, name: str) -> None:
    incremental, full_refresh = superstore_incremental_and_full
    _assert_same_rows(_table(incremental, schema, name), _table(full_refresh, schema, name), name)


@pytest.fixture(scope="module")
def incremental_and_full(data: dict[str, object]) -> tuple[Path, Path]:
    root, base, final = Path(str(data["root"])), Path(str(data["base"])), Path(str(data["final"]))
    incremental = root / "incremental.duckdb"
    _dbt_run(base, incremental)
    _dbt_run(final, incremental)
    full_refresh = root / "full_refresh.duckdb"
    _dbt_run(final, full_refresh, "--full-refresh")
    return incremental, full_refresh


@pytest.mark.parametrize(("schema", "name"), COMPARED)
def test_incremental_build_equals_full_refresh(incremental_and_full: tuple[Path, Path], schema: str,
                                               name: str) -> None:
    incremental, full_refresh = incremental_and_full
    _assert_same_rows(_table(incremental, schema, name), _table(full_refresh, schema, name), name)


def test_the_append_reached_the_marts(incremental_and_full: tuple[Path, Path], data: dict[str, object]) -> None:
    """The changes are really in the incremental build: the last day, the late orders, the segment."""
    incremental, _ = incremental_and_full
    with duckdb.connect(str(incremental), read_only=True) as con:
        days = con.execute("select max(order_date) from intermediate.int_order_lines_aggregated_to_days").fetchall()
        assert str(days[0][0]) == data["last_day"]
        late = con.execute(
            "select count(distinct order_id) from intermediate.int_orders_summarised where order_id in "
            "(select unnest(?::varchar[]))", [data["january"]]).fetchall()[0][0]
        assert late == len(data["january"])  # type: ignore[arg-type]
        segments = con.execute(
            "select distinct segment from marts.customer_rfm_history where customer_id = ?", [data["buyer"]]
        ).fetchall()
    customers = pd.read_csv(Path(str(data["final"])) / "customers.csv", dtype=str)
    expected = customers.loc[customers["customer_id"] == data["buyer"], "segment"].iloc[0]
    assert segments == [(expected,)]


def test_moving_as_of_back_equals_full_refresh(data: dict[str, object]) -> None:
    """Partitions after an earlier as-of date are deleted, not left behind."""
    root, final = Path(str(data["root"])), Path(str(data["final"]))
    moved = root / "as_of_moved.duckdb"
    _dbt_run(final, moved)
    _dbt_run(final, moved, as_of="2026-03-17")
    full_refresh = root / "as_of_full.duckdb"
    _dbt_run(final, full_refresh, "--full-refresh", as_of="2026-03-17")
    for schema, name in COMPARED:
        _assert_same_rows(_table(moved, schema, name), _table(full_refresh, schema, name), name)


def test_only_changed_partitions_are_recomputed(data: dict[str, object]) -> None:
    """A row of an untouched partition, altered by hand between two builds, stays as it was: the
    second build did not recompute it. The appended day and the month-ends it reaches are new."""
    root, base = Path(str(data["root"])), Path(str(data["base"]))
    raw = root / "append_only"
    shutil.copytree(base, raw)
    db = root / "append_only.duckdb"
    _dbt_run(raw, db)
    early_day, early_month_end = "2025-03-03", "2025-03-31"
    with duckdb.connect(str(db)) as con:
        marked_days = con.execute(
            "update intermediate.int_order_lines_aggregated_to_days set spend_amount = -999 "
            "where order_date = (select min(order_date) from intermediate.int_order_lines_aggregated_to_days "
            f"where order_date >= date '{early_day}')").fetchall()[0][0]
        marked_months = con.execute(
            "update marts.customer_rfm_history set monetary = -999 "
            f"where month_end_date = date '{early_month_end}'").fetchall()[0][0]
        before = con.execute("select count(*) from marts.customer_rfm_history").fetchall()[0][0]
    assert marked_days > 0 and marked_months > 0
    # append the last day only (no late lines, no segment change)
    lines = pd.read_csv(Path(str(data["final"])) / "order_lines.csv", dtype=str, keep_default_na=False)
    base_lines = pd.read_csv(base / "order_lines.csv", dtype=str, keep_default_na=False)
    last = lines[lines["ordered_at"].str.slice(0, 10) == data["last_day"]]
    pd.concat([base_lines, last]).to_csv(raw / "order_lines.csv", index=False)
    _dbt_run(raw, db)
    with duckdb.connect(str(db), read_only=True) as con:
        still_days = con.execute(
            "select count(*) from intermediate.int_order_lines_aggregated_to_days where spend_amount = -999"
        ).fetchall()[0][0]
        still_months = con.execute(
            "select count(*) from marts.customer_rfm_history where monetary = -999").fetchall()[0][0]
        last_day_rows = con.execute(
            "select count(*) from intermediate.int_order_lines_aggregated_to_days "
            f"where order_date = date '{data['last_day']}'").fetchall()[0][0]
        after = con.execute("select count(*) from marts.customer_rfm_history").fetchall()[0][0]
        june = con.execute(
            "select count(*) from marts.customer_rfm_history where month_end_date = date '2026-06-30'"
        ).fetchall()[0][0]
    assert still_days == marked_days
    assert still_months == marked_months
    assert last_day_rows > 0
    # the last day (2026-06-30) completes June: its month-end is new in the history
    assert june > 0 and after == before + june
