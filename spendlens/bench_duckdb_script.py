"""The race's plain DuckDB script (issue 24, item 3): runs spendlens/bench_duckdb_script.sql,
which computes the rows of customer_spend_profile (in one query), customer_rfm and
customer_classifications from the raw files and writes <mart>.parquet, timing each step."""

from __future__ import annotations

import time
from pathlib import Path

from spendlens.bench import SEEDS_DIR, write_timings

SCRIPT = Path(__file__).with_name("bench_duckdb_script.sql")


def script_steps(raw: Path, out: Path, threads: str, memory: str) -> list[tuple[str, str]]:
    """The script's steps (name, SQL) with its placeholders filled in."""
    def text(path: Path) -> str:
        return str(path).replace("'", "''")

    sql = SCRIPT.read_text().format(raw=text(raw), out=text(out), seeds=text(SEEDS_DIR), threads=int(threads),
                                    memory=memory.replace("'", ""))
    steps: list[tuple[str, str]] = []
    for part in sql.split("-- step: ")[1:]:
        name, _, body = part.partition("\n")
        steps.append((name.strip(), body))
    return steps


def duckdb_script_baseline(raw: Path, out: Path, threads: str = "2", memory: str = "8GB") -> dict[str, float]:
    """Run the script on the files in `raw`, writing <mart>.parquet to `out`; returns (and
    writes to out/timings.json) the seconds of each step."""
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    with duckdb.connect() as con:
        for name, sql in script_steps(raw, out, threads, memory):
            started = time.perf_counter()
            con.execute(sql).fetchall()
            timings[name] = time.perf_counter() - started
    write_timings(out, timings)
    return timings
