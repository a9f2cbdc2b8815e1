"""The race of `spendlens bench` (issue 24, item 3): each baseline (polars, pandas, the DuckDB
script) computes exactly the rows of customer_spend_profile, customer_rfm and
customer_classifications from the raw files. Checked here on a small generated set built once:
the dbt run of the race scope (as the bench runs it), then every row and column of each
baseline against the marts. The set ends on a month-end (the bench's holds back its last day,
so the bench itself checks an as-of inside a month)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import pytest

from spendlens.bench import (
    RACE_MARTS,
    RACE_SCOPE,
    _dbt,
    add_months,
    classification_timeframe,
    compare_with_marts,
    default_spend_windows,
)
from spendlens.bench_duckdb_script import duckdb_script_baseline
from spendlens.bench_pandas import pandas_baseline
from spendlens.bench_polars import polars_baseline
from spendlens.generate import generate

Baseline = Callable[[Path, Path], dict[str, float]]
BASELINES: dict[str, Baseline] = {
    "polars": polars_baseline,
    "pandas": pandas_baseline,
    "script": duckdb_script_baseline,
}


@pytest.fixture(scope="module")
def race(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(raw folder, DuckDB file with the marts of the race scope), as the bench builds them."""
    root = tmp_path_factory.mktemp("race")
    raw, db = root / "raw", root / "scoped" / "spendlens.duckdb"
    generate(out=raw, lines=40_000, customers=600, products=120, seed=11, years=3, end_date="2026-05-31",
             fmt="parquet", bad_rows=False)
    db.parent.mkdir()
    for command, extra in (("seed", []), ("run", ["--select", *RACE_SCOPE])):
        args, env = _dbt(command, raw, db, extra)
        result = subprocess.run(args, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return raw, db


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_baseline_equals_the_marts(race: tuple[Path, Path], tmp_path: Path, name: str) -> None:
    raw, db = race
    timings = BASELINES[name](raw, tmp_path / name)
    assert set(RACE_MARTS) <= set(timings)
    checked = compare_with_marts(tmp_path / name, db)
    assert checked.startswith("yes")
    # not vacuous: every mart has rows, every window and item level and classification type
    with duckdb.connect() as con:
        spend = f"read_parquet('{tmp_path / name}/customer_spend_profile.parquet')"
        assert con.execute(f"select count(distinct window_name), count(distinct item_level) from {spend}").fetchone() \
            == (3, 3)
        types = f"read_parquet('{tmp_path / name}/customer_classifications.parquet')"
        assert con.execute(f"select count(distinct classification_type) from {types}").fetchone() == (6,)
        rfm = f"read_parquet('{tmp_path / name}/customer_rfm.parquet')"
        assert con.execute(f"select count(*) from {rfm}").fetchone()[0] > 500


def test_the_check_finds_a_changed_value_a_missing_row_and_a_null(race: tuple[Path, Path], tmp_path: Path) -> None:
    raw, db = race
    good = tmp_path / "good"
    duckdb_script_baseline(raw, good)
    cases = {
        "total_spend": ("customer_spend_profile",
                        "select * replace (total_spend * (1 + 1e-6) + 0.01 as total_spend) from {rows}"),
        "missing row": ("customer_rfm", "select * from {rows} limit 10 offset 1"),
        "null band": ("customer_classifications",
                      "select * replace (case when classification_type = 'order_count' then null "
                      "else band_label end as band_label) from {rows}"),
    }
    for label, (mart, sql) in cases.items():
        bad = tmp_path / label.replace(" ", "_")
        shutil.copytree(good, bad)
        rows = f"read_parquet('{good / mart}.parquet')"
        with duckdb.connect() as con:
            con.execute(f"copy ({sql.format(rows=rows)}) to '{bad / mart}.parquet' (format parquet)")
        with pytest.raises(AssertionError, match=mart):
            compare_with_marts(bad, db)


def test_the_baselines_bounds_are_the_models(race: tuple[Path, Path]) -> None:
    _, db = race
    with duckdb.connect(str(db), read_only=True) as con:
        as_of = con.execute("select as_of_date from intermediate.int_analysis_dates").fetchone()[0]
        bounds = con.execute(
            "select window_order, window_name, window_start, window_end, prior_window_start, prior_window_end, "
            "periods, prior_periods from intermediate.int_spend_windows_bounded order by window_order").fetchall()
        frame = con.execute(
            "select timeframe_start, timeframe_end, previous_timeframe_start, previous_timeframe_end "
            "from intermediate.int_classification_timeframes_listed where is_as_of_date").fetchone()
    assert as_of == date(2026, 5, 31)
    assert [tuple(vars(window).values()) for window in default_spend_windows(as_of)] == bounds
    assert tuple(vars(classification_timeframe(as_of)).values()) == frame


def test_add_months_clamps_to_the_month_end() -> None:
    assert add_months(date(2024, 2, 29), -12) == date(2023, 2, 28)
    assert add_months(date(2026, 3, 31), -1) == date(2026, 2, 28)
    assert add_months(date(2026, 1, 15), -13) == date(2024, 12, 15)
    assert classification_timeframe(date(2024, 2, 29)).start == date(2023, 3, 1)
    assert classification_timeframe(date(2026, 6, 29)).previous_end == date(2025, 6, 29)
