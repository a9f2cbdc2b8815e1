"""Shared pytest fixtures: build the dbt project once per data set and hand out read-only
DuckDB connections to the result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
SHARED_DATASETS = PROJECT_DIR.parent / "shared" / "datasets"
if not SHARED_DATASETS.exists():  # worktrees of the project live one level deeper
    SHARED_DATASETS = Path("/work/shared/datasets")
BIN = Path(sys.executable).parent


def run_dbt_build(raw: Path, db: Path, extra_vars: dict | None = None, select: str | None = None,
                  check: bool = True) -> subprocess.CompletedProcess[str]:
    """`dbt build` of the project on the input folder `raw` into the DuckDB file `db`."""
    values = {"raw_path": str(raw), **(extra_vars or {})}
    env = {
        **os.environ,
        "SPENDLENS_DB": str(db),
        "DBT_TARGET_PATH": str(db.parent / "dbt_target"),
        "DBT_LOG_PATH": str(db.parent / "dbt_logs"),
        "SPENDLENS_TEMP_DIR": str(db.parent / "duckdb_tmp"),
        # a --select build runs only the tests of the selected models
        "DBT_INDIRECT_SELECTION": "cautious",
    }
    args = [str(BIN / "dbt"), "build", "--profiles-dir", str(PROJECT_DIR), "--project-dir",
            str(PROJECT_DIR), "--vars", json.dumps(values)]
    if select:
        args += ["--select", select]
    result = subprocess.run(args, env=env, capture_output=True, text=True, cwd=PROJECT_DIR)
    if check and result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-60:])
        raise AssertionError(f"dbt build failed on {raw}:\n{tail}\n{result.stderr[-2000:]}")
    return result


def _import(dataset: str, src: Path, out: Path) -> None:
    from spendlens import importers

    convert = importers.import_cdnow if dataset == "cdnow" else importers.import_superstore
    convert(src, out)


class BuiltProjects:
    """Builds each named data set at most once per test session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._built: dict[str, Path] = {}

    def raw(self, name: str) -> Path:
        folder = self.root / name / "raw"
        if folder.exists():
            return folder
        if name == "cdnow":
            _import("cdnow", SHARED_DATASETS / "cdnow" / "CDNOW_master.txt", folder)
        elif name == "superstore":
            _import("superstore", SHARED_DATASETS / "superstore" / "superstore.csv", folder)
        elif name == "generated":
            from spendlens.generate import generate

            generate(out=folder, lines=30_000, customers=None, products=None, seed=7, years=3,
                     end_date="2026-06-30", fmt="csv", bad_rows=True)
        elif name == "tiny":
            folder = PROJECT_DIR / "tests" / "fixtures" / "tiny"
        else:
            raise KeyError(name)
        return folder

    def db(self, name: str, extra_vars: dict | None = None) -> Path:
        key = name + (json.dumps(extra_vars, sort_keys=True) if extra_vars else "")
        if key not in self._built:
            db = self.root / f"build_{len(self._built)}" / "spendlens.duckdb"
            db.parent.mkdir(parents=True)
            values = dict(extra_vars or {})
            if name in {"tiny", "generated"}:
                values.setdefault("data_quality_max_issue_pct", 100)
            run_dbt_build(self.raw(name), db, values)
            self._built[key] = db
        return self._built[key]


@pytest.fixture(scope="session")
def projects(tmp_path_factory: pytest.TempPathFactory) -> BuiltProjects:
    return BuiltProjects(tmp_path_factory.mktemp("spendlens"))


@pytest.fixture(scope="session")
def connect(projects: BuiltProjects) -> Iterator[Callable[..., duckdb.DuckDBPyConnection]]:
    """connect('superstore') -> read-only connection to that data set's built database."""
    opened: list[duckdb.DuckDBPyConnection] = []

    def _connect(name: str, extra_vars: dict | None = None) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(str(projects.db(name, extra_vars)), read_only=True)
        opened.append(con)
        return con

    yield _connect
    for con in opened:
        con.close()
