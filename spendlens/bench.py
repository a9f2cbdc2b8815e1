"""`spendlens bench`: how close a build is to the cost of reading the data once.

In one run and on the same files it measures (wall time and peak resident memory of the whole
process tree of each step):
- generate: the synthetic data set (Parquet, no bad rows), minus its last day;
- floor: DuckDB reading every order line once and aggregating it to customer x product x month;
- dbt run (all models) and dbt build (models, data tests and unit tests), each from an empty DB;
- incremental: the last day appended (about 0.1% more lines), then `dbt build` on the built DB;
- pandas: the RFM, spend-window and classification numbers computed the way an analyst would in a
  notebook (read the files, groupby, merge), checked against the marts;
- dbt run (pandas scope): only the three marts the pandas baseline checks (customer_rfm,
  customer_spend_profile, customer_classifications) and the models they need, from an empty DB:
  the like-for-like side of the pandas ratio (the marts still compute every window, item level
  and classification type, the baseline one of each);
and prints the table with the ratios. docs/benchmarks.md records the results.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from spendlens.errors import SpendlensError
from spendlens.project import PROJECT_DIR

INPUTS = ("order_lines", "customers", "products", "product_bundles", "sales_targets", "fx_rates")


@dataclass
class Measure:
    name: str
    seconds: float
    peak_rss_bytes: int
    note: str = ""


def _tree_rss(root_pid: int) -> int:
    """Resident memory of a process and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            ppid = int(fields[1])
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def measure(name: str, args: list[str], env: dict[str, str] | None = None, note: str = "") -> Measure:
    """Run a command, sampling the process tree's memory every 50 ms; fail with its output."""
    started = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(args, env=env, cwd=PROJECT_DIR, stdout=log, stderr=subprocess.STDOUT, text=True)
        peak = 0
        while process.poll() is None:
            peak = max(peak, _tree_rss(process.pid))
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        if process.returncode != 0:
            log.seek(0)
            tail = "\n".join(log.read().splitlines()[-30:])
            raise SpendlensError(f"bench step '{name}' failed (exit {process.returncode}):\n{tail}")
    print(f"bench: {name:<22} {seconds:8.1f} s  peak {peak / 2**30:6.2f} GiB  {note}", flush=True)
    return Measure(name, seconds, peak, note)


FLOOR_SQL = """
set threads = {threads};
set memory_limit = '{memory}';
set preserve_insertion_order = false;
copy (
    select
        customer_id,
        product_id,
        date_trunc('month', cast(ordered_at as date)) as order_month,
        sum(coalesce(line_amount, quantity * unit_price)) as spend_amount,
        sum(quantity) as quantity,
        count(*) as line_count
    from read_parquet('{lines}')
    group by 1, 2, 3
) to '{out}' (format parquet);
"""


#: The generator holds a data set in memory (about 3 GiB per 10 million lines); larger benchmarks
#: are copies of one generated set with disjoint customers (ids suffixed -1, -2, ...).
MAX_GENERATED_LINES = 20_000_000
REPLICA_LINES = 10_000_000
OPTIONAL_STEPS = ("run", "incremental", "pandas")
#: The marts the pandas baseline computes the numbers of (bench_pandas.compare_with_marts).
PANDAS_SCOPE = ("+customer_rfm", "+customer_spend_profile", "+customer_classifications")


def replicate_dataset(base: Path, out: Path, copies: int) -> None:
    """Write `copies` copies of the data set in `base` to `out`: products, bundles and fx rates
    once; order lines, customers and targets once per copy, with the customer and order ids of
    copy k > 0 suffixed '-k' (so every copy is a disjoint set of customers and orders)."""
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    suffixed = {"order_lines": ("order_id", "customer_id"), "customers": ("customer_id",),
                "sales_targets": ("customer_id",)}
    with duckdb.connect() as con:
        con.execute("set preserve_insertion_order = false").fetchall()
        for name in INPUTS:
            source = base / f"{name}.parquet"
            if not source.exists():
                continue
            if name not in suffixed:
                shutil.copy(source, out / f"{name}.parquet")
                continue
            path = str(source).replace("'", "''")
            replace = ", ".join(
                f"case when copy.k = 0 then {column} else {column} || '-' || copy.k end as {column}"
                for column in suffixed[name]
            )
            target = str(out / f"{name}.parquet").replace("'", "''")
            con.execute(
                f"copy (select * replace ({replace}) from read_parquet('{path}') "
                f"cross join (select range as k from range({copies})) as copy) "
                f"to '{target}' (format parquet)"
            ).fetchall()


def _generate_code(out: Path, lines: int, customers: int, products: int, years: int) -> str:
    return (f"from spendlens.generate import generate; from pathlib import Path; "
            f"generate(out=Path({str(out)!r}), lines={lines}, customers={customers}, products={products}, "
            f"seed=42, years={years}, end_date='2026-06-30', fmt='parquet', bad_rows=False)")


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def _split_last_day(full: Path, raw: Path) -> tuple[str, int, int]:
    """Copy the data set to `raw` without its last order day; return that day and line counts."""
    import duckdb

    raw.mkdir(parents=True, exist_ok=True)
    for name in INPUTS:
        if name != "order_lines" and (full / f"{name}.parquet").exists():
            shutil.copy(full / f"{name}.parquet", raw / f"{name}.parquet")
    lines = str(full / "order_lines.parquet").replace("'", "''")
    with duckdb.connect() as con:
        last_day = con.execute(f"select max(cast(ordered_at as date)) from read_parquet('{lines}')").fetchone()[0]
        total = con.execute(f"select count(*) from read_parquet('{lines}')").fetchone()[0]
        out = str(raw / "order_lines.parquet").replace("'", "''")
        con.execute(
            f"copy (select * from read_parquet('{lines}') where cast(ordered_at as date) < date '{last_day}') "
            f"to '{out}' (format parquet)"
        )
        base = con.execute(f"select count(*) from read_parquet('{out}')").fetchone()[0]
    return str(last_day), base, total


def _dbt(command: str, raw: Path, db: Path, extra: list[str] | None = None) -> tuple[list[str], dict[str, str]]:
    env = {
        **os.environ,
        "SPENDLENS_DB": str(db),
        "DBT_TARGET_PATH": str(db.parent / "dbt_target"),
        "DBT_LOG_PATH": str(db.parent / "dbt_logs"),
        "SPENDLENS_TEMP_DIR": str(db.parent / "duckdb_tmp"),
    }
    dbt = str(Path(sys.executable).parent / "dbt")
    args = [dbt, command, "--profiles-dir", str(PROJECT_DIR), "--project-dir", str(PROJECT_DIR), "--quiet",
            "--vars", json.dumps({"raw_path": str(raw)}), *(extra or [])]
    return args, env


def slowest_models(target: Path, count: int = 8) -> list[tuple[str, float]]:
    """The `count` slowest models of the last dbt command whose artifacts are in `target`."""
    path = target / "run_results.json"
    if not path.exists():
        return []
    results = json.loads(path.read_text())["results"]
    models = [(r["unique_id"].split(".")[-1], float(r.get("execution_time") or 0.0))
              for r in results if r["unique_id"].startswith("model.")]
    return sorted(models, key=lambda item: -item[1])[:count]


def time_by_kind(target: Path) -> dict[str, float]:
    """Execution seconds of the last dbt command in `target`, summed per kind of node (model,
    test, unit_test, seed): where a build's time goes (summed over dbt's threads, not wall)."""
    path = target / "run_results.json"
    if not path.exists():
        return {}
    totals: dict[str, float] = {}
    for result in json.loads(path.read_text())["results"]:
        kind = result["unique_id"].split(".")[0]
        totals[kind] = totals.get(kind, 0.0) + float(result.get("execution_time") or 0.0)
    return totals


def run_bench(lines: int, customers: int, products: int, workdir: Path, years: int = 3,
              skip: tuple[str, ...] = ()) -> int:
    """Generate, measure every step (but those in `skip`), print the table; returns 0."""
    from spendlens.bench_pandas import compare_with_marts

    unknown = sorted(set(skip) - set(OPTIONAL_STEPS))
    if unknown:
        raise SpendlensError(f"--skip {','.join(unknown)}: only {', '.join(OPTIONAL_STEPS)} can be skipped")
    workdir = workdir.resolve()
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    full, raw = workdir / "full", workdir / "raw"
    threads = os.environ.get("SPENDLENS_DUCKDB_THREADS", "2")
    memory = os.environ.get("SPENDLENS_MEMORY_LIMIT", "8GB")
    results: list[Measure] = []

    if lines <= MAX_GENERATED_LINES:
        results.append(measure("generate", _python(_generate_code(full, lines, customers, products, years)),
                               note=f"{lines:,} lines"))
    else:
        copies = -(-lines // REPLICA_LINES)
        base = workdir / "base"
        code = (_generate_code(base, lines // copies, max(1, customers // copies), products, years)
                + f"; from spendlens.bench import replicate_dataset; "
                  f"replicate_dataset(Path({str(base)!r}), Path({str(full)!r}), {copies})")
        results.append(measure("generate", _python(code),
                               note=f"{copies} disjoint copies of {lines // copies:,} lines"))
    last_day, base_lines, total_lines = _split_last_day(full, raw)

    floor_sql = FLOOR_SQL.format(threads=threads, memory=memory, lines=str(raw / "order_lines.parquet"),
                                 out=str(workdir / "floor.parquet"))
    floor = measure("floor", _python(f"import duckdb; duckdb.connect().execute({floor_sql!r}).fetchall()"),
                    note="read every line once, aggregate to customer x product x month")
    results.append(floor)

    run: Measure | None = None
    run_db = workdir / "run" / "spendlens.duckdb"
    if "run" not in skip:
        run_db.parent.mkdir()
        args, env = _dbt("seed", raw, run_db)
        measure("dbt seed", args, env, note="lookup seeds (not part of the ratios)")
        args, env = _dbt("run", raw, run_db)
        run = measure("dbt run", args, env, note="all models (after dbt seed)")
        results.append(run)

    build_db = workdir / "build" / "spendlens.duckdb"
    build_db.parent.mkdir()
    args, env = _dbt("build", raw, build_db)
    build = measure("dbt build", args, env, note="models + data tests + unit tests, empty database")
    results.append(build)
    build_slowest = slowest_models(build_db.parent / "dbt_target")
    build_kinds = time_by_kind(build_db.parent / "dbt_target")

    incremental: Measure | None = None
    if "incremental" not in skip:
        shutil.copy(full / "order_lines.parquet", raw / "order_lines.parquet")
        appended = total_lines - base_lines
        args, env = _dbt("build", raw, build_db)
        incremental = measure("incremental", args, env,
                              note=f"dbt build after appending {last_day}: +{appended:,} lines "
                                   f"({100 * appended / max(base_lines, 1):.2f}%)")
        results.append(incremental)

    pandas: Measure | None = None
    scoped: Measure | None = None
    checked = "not run (--skip pandas)"
    if "pandas" not in skip:
        scoped_db = workdir / "scoped" / "spendlens.duckdb"
        scoped_db.parent.mkdir()
        args, env = _dbt("seed", raw, scoped_db)
        measure("dbt seed", args, env, note="lookup seeds (not part of the ratios)")
        args, env = _dbt("run", raw, scoped_db, ["--select", *PANDAS_SCOPE])
        scoped = measure("dbt run (pandas scope)", args, env,
                         note="the three marts the pandas baseline checks, and their parents")
        results.append(scoped)
        pandas_code = (f"from spendlens.bench_pandas import pandas_baseline; from pathlib import Path; "
                       f"pandas_baseline(Path({str(raw)!r}), Path({str(workdir / 'pandas')!r}))")
        pandas = measure("pandas", _python(pandas_code), note="RFM + spend window + classification inputs")
        results.append(pandas)
        checked = compare_with_marts(workdir / "pandas", build_db)

    def ratio(value: float | None, unit: str) -> str:
        if value is None:
            return "not run"
        return f"{100 * value:.0f}%" if unit == "%" else f"{value:.1f}x"

    print()
    print(f"spendlens bench: {total_lines:,} lines, {customers:,} customers, {products:,} products, "
          f"{years} years; DuckDB threads {threads}, memory_limit {memory}")
    print("| step | wall s | peak RSS GiB |\n|---|---:|---:|")
    for m in results:
        print(f"| {m.name} | {m.seconds:.1f} | {m.peak_rss_bytes / 2**30:.2f} |")
    print()
    print("| ratio | value | target |\n|---|---:|---:|")
    print(f"| dbt run / floor | {ratio(run and run.seconds / floor.seconds, 'x')} | <= 3x |")
    print(f"| dbt build / floor | {ratio(build.seconds / floor.seconds, 'x')} | <= 5x |")
    print(f"| incremental / full build | {ratio(incremental and incremental.seconds / build.seconds, '%')} | <= 15% |")
    print(f"| pandas / dbt run | {ratio(pandas and run and pandas.seconds / run.seconds, 'x')} | >= 10x |")
    print(f"| pandas / dbt run (pandas scope) | {ratio(pandas and scoped and pandas.seconds / scoped.seconds, 'x')} "
          f"| >= 10x |")
    print(f"\npandas baseline equals the marts: {checked}")
    kinds = [("dbt build", build_kinds)]
    if incremental:
        kinds.append(("incremental", time_by_kind(build_db.parent / "dbt_target")))
    for label, totals in kinds:
        parts = ", ".join(f"{kind}s {seconds:.1f}" for kind, seconds in sorted(totals.items()))
        print(f"{label}: node seconds summed over dbt threads: {parts}")
    profiles = [("dbt run", slowest_models(run_db.parent / "dbt_target") if run else []),
                ("dbt build", build_slowest),
                ("incremental", slowest_models(build_db.parent / "dbt_target") if incremental else [])]
    for label, slowest in profiles:
        if slowest:
            print(f"\nslowest models, {label} (s):")
            for name, seconds in slowest:
                print(f"  {seconds:8.1f}  {name}")
    return 0
