"""Freshness of the input (issue 23, item 3): `dbt source freshness` on the order lines and the
one-line warning of `spendlens build`, on the ledger fixture (newest usable line 2024-03-20,
far in the past: stale) with the documented exit codes."""
from __future__ import annotations

import json
import os
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import pytest
from conftest import BIN, PROJECT_DIR, run_dbt_build

from spendlens.freshness import stale_warning

LEDGER = PROJECT_DIR / "tests" / "fixtures" / "ledger"


def _analysis_dates(path: Path, last: date | None) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema intermediate")
        con.execute("create table intermediate.int_analysis_dates (last_order_date date)")
        con.execute("insert into intermediate.int_analysis_dates values (?)", [last])
    return path


def test_warning_only_past_the_threshold(tmp_path: Path) -> None:
    db = _analysis_dates(tmp_path / "a.duckdb", date(2024, 3, 20))
    assert stale_warning(db, 3, today=date(2024, 3, 23)) is None  # 3 days: fresh
    message = stale_warning(db, 3, today=date(2024, 3, 24))
    assert message is not None
    assert "2024-03-20, 4 days ago" in message and "freshness_warn_after_days = 3" in message
    assert stale_warning(_analysis_dates(tmp_path / "b.duckdb", None), 3) is None


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("freshness") / "spendlens.duckdb"
    run_dbt_build(LEDGER, db, {"data_quality_max_issue_pct": 100})
    return db


def _freshness(db: Path, **dbt_vars: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SPENDLENS_DB": str(db), "DBT_TARGET_PATH": str(db.parent / "dbt_target"),
           "DBT_LOG_PATH": str(db.parent / "dbt_logs")}
    values = {"raw_path": str(LEDGER), **dbt_vars}
    return subprocess.run([str(BIN / "dbt"), "source", "freshness", "--profiles-dir", str(PROJECT_DIR),
                           "--project-dir", str(PROJECT_DIR), "--vars", json.dumps(values)],
                          env=env, capture_output=True, text=True, cwd=PROJECT_DIR)


def test_dbt_source_freshness_exit_codes(built: Path) -> None:
    stale = _freshness(built)  # defaults: warn after 3 days, error after 14
    assert stale.returncode == 1 and "ERROR STALE freshness of shop.order_lines" in stale.stdout
    age = (date.today() - date(2024, 3, 20)).days
    warned = _freshness(built, freshness_error_after_days=age + 10)
    assert warned.returncode == 0 and "WARN freshness of shop.order_lines" in warned.stdout
    fresh = _freshness(built, freshness_warn_after_days=age + 5, freshness_error_after_days=age + 10)
    assert fresh.returncode == 0 and "PASS freshness of shop.order_lines" in fresh.stdout
