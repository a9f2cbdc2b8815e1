"""`spendlens bench`: how close a build is to the cost of reading the data once.

In one run and on the same files it measures (wall time and peak resident memory of the whole
process tree of each step):
- generate: the synthetic data set (Parquet, no bad rows), minus its last day;
- floor: DuckDB reading every order line once and aggregating it to customer x product x month;
- dbt run (all models) and dbt build (models, data tests and unit tests), each from an empty DB;
- incremental: the last day appended (about 0.1% more lines), then `dbt build` on the built DB;
- the race (issue 24, item 3): `dbt run` of customer_spend_profile, customer_rfm and
  customer_classifications and their parents only, from an empty DB (the race scope), against
  three baselines that compute exactly the rows of those marts from the raw files: polars (lazy
  API, spendlens/bench_polars.py), pandas (spendlens/bench_pandas.py) and one plain DuckDB SQL
  script (spendlens/bench_duckdb_script.sql); each baseline's output is checked against the marts
  (compare_with_marts), the check itself untimed;
and prints the table with the ratios. docs/benchmarks.md records the results.
"""

from __future__ import annotations

import calendar
import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
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
#: Steps `--skip` can leave out: `race` leaves out all three baselines and the dbt run of their scope.
OPTIONAL_STEPS = ("run", "incremental", "pandas", "polars", "script", "race")


# --- The race (issue 24, item 3) -----------------------------------------------------------------
# Baselines that compute exactly the rows of three marts from the raw files: polars
# (spendlens/bench_polars.py), pandas (spendlens/bench_pandas.py) and one DuckDB SQL script
# (spendlens/bench_duckdb_script.sql). Each writes <mart>.parquet into its folder; the bench
# checks every row and column against the marts of the `dbt run` of the same scope.

#: The marts of the race and the columns that identify a row of each.
RACE_MARTS: dict[str, tuple[str, ...]] = {
    "customer_spend_profile": ("customer_id", "item_level", "item_id", "window_name"),
    "customer_rfm": ("customer_id",),
    "customer_classifications": ("customer_id", "classification_type"),
}
RACE_SCOPE = tuple(f"+{mart}" for mart in RACE_MARTS)
#: The baselines of the race: step name (for --skip), label, and the Python that runs it with
#: the input folder, the output folder, DuckDB's threads and memory_limit.
RACE_BASELINES: tuple[tuple[str, str, str], ...] = (
    ("polars", "polars (lazy)",
     "from spendlens.bench_polars import polars_baseline as run; run(Path({raw!r}), Path({out!r}))"),
    ("pandas", "pandas",
     "from spendlens.bench_pandas import pandas_baseline as run; run(Path({raw!r}), Path({out!r}))"),
    ("script", "DuckDB script",
     "from spendlens.bench_duckdb_script import duckdb_script_baseline as run; "
     "run(Path({raw!r}), Path({out!r}), {threads!r}, {memory!r})"),
)
#: spendlens' time / the baseline's for the same rows: the goal of issue 24 (none for the script,
#: the best a hand-written query does on the same engine).
RACE_TARGETS = {"polars": "<= 1x", "pandas": "<= 0.33x", "script": "reference"}
SEEDS_DIR = PROJECT_DIR / "seeds"


@dataclass(frozen=True)
class SpendWindow:
    """One spend window of the default `spend_windows` var on the standard calendar."""

    order: int
    name: str
    start: date
    end: date
    prior_start: date
    prior_end: date
    periods: int
    prior_periods: int


def add_months(day: date, months: int) -> date:
    """`day` moved by whole calendar months, the day clamped to the month's end (DuckDB's
    date + to_months(n))."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def month_end(day: date) -> date:
    return add_months(day.replace(day=1), 1) - timedelta(days=1)


def default_spend_windows(as_of: date) -> list[SpendWindow]:
    """The three default windows (dbt_project.yml var spend_windows, standard calendar with
    the year starting on 1 January): last_3_months and last_12_months end with the last complete
    month, fiscal_ytd runs from 1 January to as-of against the same span a year earlier."""
    last_complete_end = as_of if as_of == month_end(as_of) else as_of.replace(day=1) - timedelta(days=1)
    last_complete_start = last_complete_end.replace(day=1)
    windows: list[SpendWindow] = []
    for order, (name, periods) in enumerate((("last_3_months", 3), ("last_12_months", 12)), start=1):
        start = add_months(last_complete_start, -(periods - 1))
        prior_start = add_months(last_complete_start, -(2 * periods - 1))
        windows.append(SpendWindow(order, name, start, last_complete_end, prior_start, start - timedelta(days=1),
                                   periods, periods))
    windows.append(SpendWindow(3, "fiscal_ytd", date(as_of.year, 1, 1), as_of, date(as_of.year - 1, 1, 1),
                               add_months(as_of, -12), 1, 1))
    return windows


@dataclass(frozen=True)
class Timeframe:
    """The classification timeframe at as-of (var classification_timeframe_months = 12) and the
    one before it: 12 business months ending at as-of, a month-end mapped to a month-end."""

    start: date
    end: date
    previous_start: date
    previous_end: date


def classification_timeframe(as_of: date, months: int = 12) -> Timeframe:
    def back(count: int) -> date:
        first = add_months(as_of.replace(day=1), -count)
        if as_of == month_end(as_of):
            return month_end(first)
        return min(first + timedelta(days=as_of.day - 1), month_end(first))

    one, two = back(months), back(2 * months)
    return Timeframe(one + timedelta(days=1), as_of, two + timedelta(days=1), one)


def read_seed(name: str) -> list[dict[str, str]]:
    """A seed of the project (seeds/<name>.csv) as rows of text."""
    with open(SEEDS_DIR / f"{name}.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@dataclass(frozen=True)
class Band:
    order: int
    upper: float | None
    label: str
    color: str


def classification_bands() -> dict[str, list[Band]]:
    """The default classification_bands seed per type, bands in order. Only '*' rows without
    min_spend / min_orders (the seed as shipped) are supported by the baselines."""
    bands: dict[str, list[Band]] = {}
    for row in read_seed("classification_bands"):
        if row["segment"] != "*" or row["min_spend"] or row["min_orders"]:
            raise SpendlensError("the race baselines support only the default classification_bands seed")
        bands.setdefault(row["classification_type"], []).append(
            Band(int(row["band_order"]), float(row["upper_bound"]) if row["upper_bound"] else None,
                 row["label"], row["color"]))
    return {kind: sorted(rows, key=lambda band: band.order) for kind, rows in bands.items()}


#: The six classification types in display order (macros/classifications_bands.sql).
CLASSIFICATION_TYPES = ("risk_score", "risk_change", "revenue_rank", "revenue_change", "revenue_share", "order_count")


def write_timings(out: Path, timings: dict[str, float]) -> None:
    """Seconds of each part of a baseline, for the bench's table (out/timings.json)."""
    (out / "timings.json").write_text(json.dumps(timings))


def read_timings(out: Path) -> dict[str, float]:
    path = out / "timings.json"
    return json.loads(path.read_text()) if path.exists() else {}


def compare_with_marts(out: Path, db: Path, rel: float = 1e-9) -> str:
    """Compare a baseline's <mart>.parquet files in `out` with the marts in the DuckDB file `db`:
    the same columns, the same rows (keys of RACE_MARTS, none missing on either side) and every
    value equal: text, integers, booleans and dates exactly (null equal to null), doubles to a
    relative `rel`. Money sums are rounded to 6 decimals on both sides, and two engines summing
    the same values in another order can land on either side of a rounding step: a double also
    passes when it is within 1.01e-6 of the mart's value after both are rounded to 6 decimals,
    and the result says how many did. Raises AssertionError on any difference."""
    import duckdb

    summary, slack = [], 0
    with duckdb.connect() as con:
        con.execute(f"attach '{_sql_text(db)}' as built (read_only)")
        for mart, keys in RACE_MARTS.items():
            path = out / f"{mart}.parquet"
            if not path.exists():
                raise AssertionError(f"{mart}: the baseline wrote no {path.name}")
            types = dict(con.execute(f"select column_name, data_type from duckdb_columns() "
                                     f"where database_name = 'built' and schema_name = 'marts' "
                                     f"and table_name = '{mart}'").fetchall())
            theirs = [row[0] for row in con.execute(f"describe select * from read_parquet('{_sql_text(path)}')")
                      .fetchall()]
            if sorted(theirs) != sorted(types):
                raise AssertionError(f"{mart}: columns differ: mart {sorted(types)}, baseline {sorted(theirs)}")
            on = " and ".join(f"m.{key} = b.{key}" for key in keys)
            checks = []
            for column, kind in types.items():
                if column in keys:
                    continue
                b = f"cast(b.{column} as {kind})"
                if kind == "DOUBLE":
                    near = f"abs(m.{column} - {b}) <= {rel} * abs(m.{column})"
                    rounded = f"abs(round(m.{column}, 6) - round({b}, 6)) <= 1.01e-6"
                    checks.append((column, f"not (m.{column} is not distinct from {b} or {near})",
                                   f"not (m.{column} is not distinct from {b} or {near} or {rounded})"))
                else:
                    checks.append((column, f"m.{column} is distinct from {b}", f"m.{column} is distinct from {b}"))
            counts = ", ".join(f"count(*) filter (where {loose}), count(*) filter (where {strict})"
                               for _, strict, loose in checks)
            keys_missing = " or ".join(f"m.{key} is null or b.{key} is null" for key in keys[:1])
            row = con.execute(
                f"select count(*), count(*) filter (where {keys_missing}), {counts} "
                f"from built.marts.{mart} as m full outer join read_parquet('{_sql_text(path)}') as b on {on}"
            ).fetchone()
            rows, missing = row[0], row[1]
            if missing:
                columns = ", ".join(f"coalesce(m.{k}, b.{k}) as {k}" for k in keys)
                sample = con.execute(
                    f"select m.{keys[0]} is not null as in_mart, {columns} "
                    f"from built.marts.{mart} as m full outer join read_parquet('{_sql_text(path)}') as b on {on} "
                    f"where {keys_missing} limit 5").fetchall()
                raise AssertionError(f"{mart}: {missing:,} of {rows:,} rows are in only one of mart and baseline, "
                                     f"e.g. {sample}")
            for index, (column, _strict, loose) in enumerate(checks):
                bad, strict_bad = row[2 + 2 * index], row[3 + 2 * index]
                if bad:
                    sample = con.execute(
                        f"select {', '.join(f'm.{k}' for k in keys)}, m.{column} as mart, b.{column} as baseline "
                        f"from built.marts.{mart} as m join read_parquet('{_sql_text(path)}') as b on {on} "
                        f"where {loose} limit 5").fetchall()
                    raise AssertionError(f"{mart}.{column}: {bad:,} of {rows:,} rows differ, e.g. {sample}")
                slack += strict_bad - bad
            summary.append(f"{mart} {rows:,}")
    note = f"; {slack:,} double{'s' if slack > 1 else ''} equal only after rounding to 6 decimals" if slack else ""
    return f"yes: every column of {', '.join(summary)} rows (doubles to {rel:g} relative{note})"


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")


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


#: The nodes of the CLV step (issue 20: fits, scores with intervals, and what reads them).
CLV_NODES = ("int_customers_summarised_for_clv", "int_clv_fit_periods_checked", "int_clv_models_fitted",
             "int_customers_scored_clv", "int_clv_holdout_predictions", "customer_value",
             "clv_model_parameters", "clv_backtest", "clv_model_comparison", "segment_summary")


def clv_node_times(target: Path) -> list[tuple[str, float]]:
    """Execution seconds of the CLV nodes in the last dbt command in `target` (CLV_NODES order)."""
    path = target / "run_results.json"
    if not path.exists():
        return []
    times = {r["unique_id"].split(".")[-1]: float(r.get("execution_time") or 0.0)
             for r in json.loads(path.read_text())["results"] if r["unique_id"].startswith("model.")}
    return [(name, times[name]) for name in CLV_NODES if name in times]


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
    unknown = sorted(set(skip) - set(OPTIONAL_STEPS))
    if unknown:
        raise SpendlensError(f"--skip {','.join(unknown)}: only {', '.join(OPTIONAL_STEPS)} can be skipped")
    skipped = set(skip) | ({name for name, _, _ in RACE_BASELINES} if "race" in skip else set())
    if "polars" not in skipped and importlib.util.find_spec("polars") is None:
        raise SpendlensError("the race's polars baseline needs polars, a bench-only dependency: "
                             "pip install -e '.[bench]' -c constraints.txt (make install does), or --skip polars")
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
    build_clv = clv_node_times(build_db.parent / "dbt_target")

    incremental: Measure | None = None
    if "incremental" not in skip:
        shutil.copy(full / "order_lines.parquet", raw / "order_lines.parquet")
        appended = total_lines - base_lines
        args, env = _dbt("build", raw, build_db)
        incremental = measure("incremental", args, env,
                              note=f"dbt build after appending {last_day}: +{appended:,} lines "
                                   f"({100 * appended / max(base_lines, 1):.2f}%)")
        results.append(incremental)

    baselines = [baseline for baseline in RACE_BASELINES if baseline[0] not in skipped]
    scoped: Measure | None = None
    raced: list[tuple[str, str, Measure, str, dict[str, float]]] = []
    scoped_db = workdir / "scoped" / "spendlens.duckdb"
    if baselines:
        scoped_db.parent.mkdir()
        args, env = _dbt("seed", raw, scoped_db)
        measure("dbt seed", args, env, note="lookup seeds (not part of the ratios)")
        args, env = _dbt("run", raw, scoped_db, ["--select", *RACE_SCOPE])
        scoped = measure("dbt run (race scope)", args, env,
                         note="customer_spend_profile, customer_rfm, customer_classifications and their parents")
        results.append(scoped)
        for name, label, code in baselines:
            out = workdir / f"race_{name}"
            filled = "from pathlib import Path; " + code.format(raw=str(raw), out=str(out), threads=threads,
                                                                 memory=memory)
            done = measure(label, _python(filled), note="the three marts' rows from the raw files")
            results.append(done)
            # not timed: every row and column against the marts of the scoped run
            raced.append((name, label, done, compare_with_marts(out, scoped_db), read_timings(out)))

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
    for name, label, done, _, _ in raced:
        assert scoped is not None
        print(f"| spendlens (dbt run, race scope) / {label} | {scoped.seconds / done.seconds:.2f}x "
              f"| {RACE_TARGETS[name]} |")
    if raced:
        print("\nThe race: the rows of customer_spend_profile (every window and item level), customer_rfm and "
              "customer_classifications (every type) from the raw files; each baseline checked against the "
              "marts of the dbt run (race scope):")
        for _, label, done, checked, timings in raced:
            parts = ", ".join(f"{part} {seconds:.1f}" for part, seconds in timings.items())
            print(f"  {label}: {done.seconds:.1f} s, peak {done.peak_rss_bytes / 2**30:.2f} GiB ({parts} s); "
                  f"equals the marts: {checked}")
        scoped_models = slowest_models(scoped_db.parent / "dbt_target", count=100)
        mart_seconds = ", ".join(f"{model} {seconds:.1f}" for model, seconds in scoped_models if model in RACE_MARTS)
        print(f"  dbt run (race scope): model seconds {sum(seconds for _, seconds in scoped_models):.1f} "
              f"over {len(scoped_models)} models; the three marts' own nodes: {mart_seconds} s")
    else:
        print("\nThe race: not run (--skip)")
    kinds = [("dbt build", build_kinds)]
    if incremental:
        kinds.append(("incremental", time_by_kind(build_db.parent / "dbt_target")))
    for label, totals in kinds:
        parts = ", ".join(f"{kind}s {seconds:.1f}" for kind, seconds in sorted(totals.items()))
        print(f"{label}: node seconds summed over dbt threads: {parts}")
    if build_clv:
        total = sum(seconds for _, seconds in build_clv)
        print(f"CLV nodes, dbt build ({total:.1f} s): "
              + ", ".join(f"{name} {seconds:.1f}" for name, seconds in build_clv))
    profiles = [("dbt run", slowest_models(run_db.parent / "dbt_target") if run else []),
                ("dbt build", build_slowest),
                ("incremental", slowest_models(build_db.parent / "dbt_target") if incremental else []),
                ("dbt run (race scope)", slowest_models(scoped_db.parent / "dbt_target") if scoped else [])]
    for label, slowest in profiles:
        if slowest:
            print(f"\nslowest models, {label} (s):")
            for name, seconds in slowest:
                print(f"  {seconds:8.1f}  {name}")
    return 0
