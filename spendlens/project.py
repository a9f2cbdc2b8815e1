"""Where the dbt project, its DuckDB file and its folders are."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def database_path() -> Path:
    """The DuckDB file dbt builds (env SPENDLENS_DB, default target/spendlens.duckdb)."""
    return _resolve(os.environ.get("SPENDLENS_DB", "target/spendlens.duckdb"))


def raw_path() -> Path:
    """The input folder (env SPENDLENS_RAW_PATH, default data/raw)."""
    return _resolve(os.environ.get("SPENDLENS_RAW_PATH", "data/raw"))


def _resolve(path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else (Path.cwd() / p)
