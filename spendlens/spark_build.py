"""`spendlens build --target spark`: every mart on Spark, in three steps (docs/portability.md).

1. `dbt build --target spark --exclude tag:clv_driver+`: every model except the CLV fits and
   scores and what reads them (the per-customer CLV summary is SQL on the engine);
2. the driver step (spendlens.clv_driver): fit and score in Python on the driver with the same
   functions as DuckDB's dbt Python models, written back as tables;
3. `dbt build --target spark --select tag:clv_driver+`: the stand-ins that read those tables and
   everything downstream (customer_value, clv_backtest, clv_model_comparison, segment_summary,
   customers_360, ...).

Run it with the Python environment that has dbt-spark and pyspark (`.venv-spark`, made by
`make spark-env`): `.venv-spark/bin/python -m spendlens build --target spark --data DIR`. Nothing
is published (the tables live in the Spark warehouse); each step's failure stops the build.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from spendlens.errors import SpendlensError
from spendlens.project import PROJECT_DIR

EXCLUDE = "tag:clv_driver+"


def _dbt() -> str:
    beside = Path(sys.executable).parent / "dbt"
    if beside.exists():
        return str(beside)
    found = shutil.which("dbt")
    if found is None:
        raise SpendlensError("no dbt executable next to this Python or on PATH: run spendlens from the "
                             "environment that has dbt-spark (make spark-env; .venv-spark/bin/python -m spendlens)")
    return found


def _step(name: str, args: list[str], env: dict[str, str]) -> float:
    print(f"spark build: {name}: {' '.join(shlex.quote(a) for a in args)}", flush=True)
    started = time.monotonic()
    result = subprocess.run(args, cwd=PROJECT_DIR, env=env, check=False)
    if result.returncode != 0:
        raise SpendlensError(f"{name} failed (exit {result.returncode}); see the dbt output above "
                             f"and logs/dbt.log; nothing after it ran")
    return time.monotonic() - started


def build_spark(values: dict[str, Any], dbt_args: str | None = None) -> dict[str, float]:
    """The three steps; returns their wall times in seconds."""
    env = {**os.environ, "SPENDLENS_TARGET": "spark"}
    extra = shlex.split(dbt_args or "")
    vars_json = json.dumps(values)
    dbt = _dbt()
    times = {}
    times["dbt build (all but the CLV step)"] = _step(
        "dbt build (all but the CLV step)",
        [dbt, "build", "--target", "spark", "--exclude", EXCLUDE, "--vars", vars_json, *extra], env)
    times["CLV fit and scores on the driver"] = _step(
        "CLV fit and scores on the driver",
        [sys.executable, "-m", "spendlens.clv_driver", "--vars", vars_json], env)
    times["dbt build (the CLV models and what reads them)"] = _step(
        "dbt build (the CLV models and what reads them)",
        [dbt, "build", "--target", "spark", "--select", EXCLUDE, "--vars", vars_json, *extra], env)
    print("spark build: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()), flush=True)
    return times
