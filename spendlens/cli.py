"""The `spendlens` command: parses arguments and hands each subcommand to its module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from spendlens.errors import SpendlensError


def _add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="write a deterministic synthetic input data set")
    p.add_argument("--lines", type=int, default=200_000, help="order lines (default 200000)")
    p.add_argument("--customers", type=int, default=None, help="customers (default lines/100)")
    p.add_argument("--products", type=int, default=None, help="products (default lines/200)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument("--years", type=int, default=3, help="years of history (default 3)")
    p.add_argument("--end-date", default="2026-06-30", help="last order date (default 2026-06-30)")
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.add_argument("--no-bad-rows", action="store_true", help="leave out the bad rows")
    p.add_argument("--out", type=Path, default=Path("data/raw"), help="folder (default data/raw)")


def _add_import(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="convert a public data set to the input format")
    p.add_argument("dataset", choices=["cdnow", "superstore"])
    p.add_argument("file", type=Path, help="CDNOW_master.txt or superstore.csv")
    p.add_argument("--out", type=Path, default=Path("data/raw"), help="folder (default data/raw)")


def _add_build(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build", help="run dbt build on the input files")
    p.add_argument("--data", type=Path, default=None, help="input folder (default data/raw)")
    p.add_argument("--as-of", default=None, help="analysis date YYYY-MM-DD (default: latest order)")
    p.add_argument("--full-refresh", action="store_true", help="rebuild incremental models")
    p.add_argument("--vars", default=None, help="extra dbt vars as YAML, e.g. '{rfm_bins: 4}'")
    p.add_argument("--select", default=None, help="dbt selection (default: everything)")
    p.add_argument("--target", choices=["duckdb", "spark"], default="duckdb",
                   help="duckdb (default: build and publish) or spark (three steps on the Spark target, "
                        "run from the dbt-spark environment; docs/portability.md)")
    p.add_argument("--dbt-args", default=None,
                   help="--target spark only: extra arguments for both dbt steps, e.g. '--exclude test_type:unit'")


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write every mart to Parquet or CSV files")
    p.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    p.add_argument("--out", type=Path, default=Path("exports"), help="folder (default exports)")


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="write the self-contained HTML report, or account sheets of chosen customers",
        description="Without customer options: the HTML report of the whole build. With --customer, "
                    "--customers-from or --top-at-risk: one account sheet per customer and an index.html "
                    "in the --out folder (docs/report.md).")
    p.add_argument("--out", type=Path, default=None,
                   help="the report file (default reports/spendlens_report.html); with customer options, "
                        "the folder of the account sheets (default reports/accounts)")
    p.add_argument("--customer", action="append", default=[], metavar="ID",
                   help="write the account sheet of this customer id (repeatable)")
    p.add_argument("--customers-from", type=Path, default=None, metavar="FILE",
                   help="account sheets of the ids in FILE (one per line, or a CSV with a customer_id column)")
    p.add_argument("--top-at-risk", type=int, default=None, metavar="N",
                   help="account sheets of the N most valuable customers with the highest churn risk")
    p.add_argument("--vars", default=None,
                   help="account-sheet settings as YAML over dbt_project.yml, e.g. '{account_sheet_drop_pct: 20}'")


def _add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmark the build against the one-scan floor")
    p.add_argument("--lines", type=int, default=10_000_000)
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--products", type=int, default=10_000)
    p.add_argument("--workdir", type=Path, default=Path("target/bench"))
    p.add_argument("--skip", default="", metavar="STEPS",
                   help="comma-separated steps to leave out: run, incremental, polars, pandas, script, "
                        "race (e.g. at 100M lines)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spendlens", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    for add in (_add_generate, _add_import, _add_build, _add_export, _add_report, _add_bench):
        add(sub)
    return p


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "generate":
        from spendlens.generate import generate

        generate(
            out=args.out,
            lines=args.lines,
            customers=args.customers,
            products=args.products,
            seed=args.seed,
            years=args.years,
            end_date=args.end_date,
            fmt=args.format,
            bad_rows=not args.no_bad_rows,
        )
        return 0
    if args.command == "import":
        from spendlens import importers

        convert = importers.import_cdnow if args.dataset == "cdnow" else importers.import_superstore
        convert(args.file, args.out)
        return 0
    if args.command == "build" and args.target == "spark":
        from spendlens.dbt_runner import build_values
        from spendlens.spark_build import build_spark

        if args.select or args.full_refresh:
            raise SpendlensError("--select and --full-refresh are for the DuckDB target; on Spark pass dbt "
                                 "options with --dbt-args")
        build_spark(build_values(args.data, args.as_of, args.vars), args.dbt_args)
        return 0
    if args.command == "build":
        from spendlens.dbt_runner import build

        return build(
            data=args.data,
            as_of=args.as_of,
            full_refresh=args.full_refresh,
            extra_vars=args.vars,
            select=args.select,
        )
    if args.command == "export":
        from spendlens.export import export

        export(fmt=args.format, out=args.out)
        return 0
    if args.command == "report":
        if args.customer or args.customers_from is not None or args.top_at_risk is not None:
            from spendlens.account_sheets import write_account_sheets

            write_account_sheets(args.out, customers=args.customer, customers_from=args.customers_from,
                                 top=args.top_at_risk, extra_vars=args.vars)
            return 0
        if args.vars is not None:
            raise SpendlensError("--vars sets account-sheet options: use it with --customer, --customers-from "
                                 "or --top-at-risk")
        from spendlens.report import DEFAULT_OUT, write_report

        write_report(args.out or DEFAULT_OUT)
        return 0
    if args.command == "bench":
        from spendlens.bench import run_bench

        return run_bench(
            lines=args.lines,
            customers=args.customers,
            products=args.products,
            workdir=args.workdir,
            skip=tuple(step.strip() for step in args.skip.split(",") if step.strip()),
        )
    raise AssertionError(args.command)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return _dispatch(args)
    except SpendlensError as exc:
        print(f"spendlens {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"spendlens {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
