"""Convert public data sets to the spendlens input format (CSV files in one folder).

The mappings are described in docs/data.md. Both importers run in DuckDB (one pass, no Python
loop per line) and keep money at full double precision, so that quantity x unit_price
reproduces line_amount.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd

from spendlens.errors import SpendlensError
from spendlens.generate import INPUTS

CDNOW_COLUMNS = ["customer_id", "date", "number_of_cds", "dollar_value"]
SUPERSTORE_COLUMNS = [
    "Row ID",
    "Order ID",
    "Order Date",
    "Customer ID",
    "Customer Name",
    "Segment",
    "Product ID",
    "Category",
    "Sub-Category",
    "Product Name",
    "Sales",
    "Quantity",
    "Profit",
]


def _check_source(src: Path, what: str, example: str) -> Path:
    src = Path(src)
    if not src.exists():
        raise SpendlensError(f"{src} not found: pass the path to {what} (e.g. {example})")
    if not src.is_file():
        raise SpendlensError(f"{src} is not a file: pass the path to {what} (e.g. {example})")
    return src


def _prepare_out(out: Path) -> Path:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SpendlensError(f"--out {out} exists and is not a folder; pass a folder path")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _write(con: duckdb.DuckDBPyConnection, out: Path, name: str, select: str) -> int:
    """COPY one query to `<out>/<name>.csv` (via a temporary file); returns the row count."""
    path = out / f"{name}.csv"
    tmp = out / f".{name}.csv.tmp"
    copy = f"COPY ({select}) TO {_sql_str(str(tmp))} (FORMAT csv, HEADER true)"
    rows = int(con.execute(copy).fetchall()[0][0])
    os.replace(tmp, path)
    print(f"import: wrote {path} ({rows:,} rows)", flush=True)
    return rows


def _remove_stale(out: Path, written: set[str]) -> None:
    """Drop input files this import did not write, so the folder holds exactly one data set."""
    for name in INPUTS:
        for ext in ("csv", "parquet"):
            if ext == "csv" and name in written:
                continue
            stale = out / f"{name}.{ext}"
            if stale.exists():
                stale.unlink()
                print(f"import: removed stale {stale}", flush=True)


def _read_cdnow(src: Path) -> pd.DataFrame:
    """The CDNOW lines as text columns CDNOW_COLUMNS, from either CDNOW_master.txt (with its
    header) or CDNOW_sample.txt (no header: master_id sample_id date cds dollar_value; the
    sample id becomes customer_id, as in cdnow_customers_summary.csv)."""
    try:
        with src.open(encoding="utf-8") as handle:
            first = handle.readline().split()
        if first == CDNOW_COLUMNS:
            return pd.read_csv(src, sep=r"\s+", dtype=str, keep_default_na=False)
        if len(first) == 5 and all(field.replace(".", "", 1).isdigit() for field in first):
            raw = pd.read_csv(src, sep=r"\s+", dtype=str, keep_default_na=False, header=None,
                              names=["master_id", *CDNOW_COLUMNS])
            return raw[CDNOW_COLUMNS]
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SpendlensError(f"could not read {src} as CDNOW_master.txt: {exc}") from None
    raise SpendlensError(
        f"{src} does not look like CDNOW_master.txt (header '{' '.join(CDNOW_COLUMNS)}') or "
        f"CDNOW_sample.txt (5 numbers per line, no header): found '{' '.join(first)}'"
    )


def import_cdnow(src: Path, out: Path) -> None:
    """CDNOW_master.txt (customer_id date number_of_cds dollar_value) or CDNOW_sample.txt
    (master_id sample_id date number_of_cds dollar_value, no header) -> input CSV files."""
    src = _check_source(src, "CDNOW_master.txt", "../shared/datasets/cdnow/CDNOW_master.txt")
    out = _prepare_out(out)
    raw = _read_cdnow(src)
    raw.insert(0, "rn", range(len(raw)))
    con = duckdb.connect()
    try:
        con.register("raw", raw)
        try:
            con.execute(
                """CREATE TABLE cd AS SELECT
                    rn,
                    customer_id,
                    strptime(date, '%Y%m%d')::DATE AS ordered_at,
                    date,
                    number_of_cds::INTEGER AS quantity,
                    dollar_value::DOUBLE AS line_amount
                FROM raw"""
            ).fetchall()
        except duckdb.Error as exc:
            raise SpendlensError(
                f"{src}: a value does not parse (dates must be YYYYMMDD, counts integers, dollar values numbers): {exc}"
            ) from None
        _write(
            con,
            out,
            "order_lines",
            """SELECT
                customer_id || '-' || date AS order_id,
                row_number() OVER (PARTITION BY customer_id, date ORDER BY rn) AS line_number,
                customer_id,
                'CD' AS product_id,
                ordered_at,
                quantity,
                CASE WHEN quantity = 0 THEN 0.0 ELSE line_amount / quantity END AS unit_price,
                line_amount,
                NULL::DOUBLE AS unit_cost,
                'USD' AS currency
            FROM cd ORDER BY rn""",
        )
        _write(
            con,
            out,
            "customers",
            """SELECT
                customer_id,
                'Customer ' || customer_id AS customer_name,
                NULL::VARCHAR AS segment,
                NULL::VARCHAR AS account_manager,
                NULL::DATE AS created_at,
                NULL::BOOLEAN AS email_opt_in
            FROM (SELECT DISTINCT customer_id FROM cd) ORDER BY customer_id""",
        )
        _write(
            con,
            out,
            "products",
            """SELECT 'CD' AS product_id, 'CD' AS product_name, 'Music' AS category,
                NULL::VARCHAR AS tags, NULL::DOUBLE AS unit_cost""",
        )
    finally:
        con.close()
    _remove_stale(out, {"order_lines", "customers", "products"})


def import_superstore(src: Path, out: Path) -> None:
    """Sample Superstore (superstore.csv, one row per order line) -> input CSV files."""
    src = _check_source(src, "superstore.csv", "../shared/datasets/superstore/superstore.csv")
    out = _prepare_out(out)
    con = duckdb.connect()
    try:
        try:
            con.execute(
                f"""CREATE TABLE raw AS SELECT * FROM read_csv({_sql_str(str(src))},
                    header = true, all_varchar = true, delim = ',', quote = '"')"""
            ).fetchall()
        except duckdb.Error as exc:
            raise SpendlensError(f"could not read {src} as a CSV file: {exc}") from None
        columns = [row[0] for row in con.sql("DESCRIBE raw").fetchall()]
        missing = [c for c in SUPERSTORE_COLUMNS if c not in columns]
        if missing:
            raise SpendlensError(
                f"{src} does not look like the Superstore data set: missing column(s) {', '.join(missing)}"
            )
        try:
            con.execute(
                """CREATE TABLE ss AS SELECT
                    "Row ID"::BIGINT AS row_id,
                    "Order ID" AS order_id,
                    strptime("Order Date", '%m/%d/%Y')::DATE AS ordered_at,
                    "Customer ID" AS customer_id,
                    "Customer Name" AS customer_name,
                    "Segment" AS segment,
                    "Product ID" AS product_id,
                    "Product Name" AS product_name,
                    "Category" AS category,
                    "Sub-Category" AS sub_category,
                    "Quantity"::INTEGER AS quantity,
                    "Sales"::DOUBLE AS sales,
                    "Profit"::DOUBLE AS profit
                FROM raw"""
            ).fetchall()
        except duckdb.Error as exc:
            raise SpendlensError(
                f"{src}: a value does not parse (Order Date must be M/D/YYYY, Row ID and "
                f"Quantity integers, Sales and Profit numbers): {exc}"
            ) from None
        _write(
            con,
            out,
            "order_lines",
            """SELECT
                order_id,
                row_number() OVER (PARTITION BY order_id ORDER BY row_id) AS line_number,
                customer_id,
                product_id,
                ordered_at,
                quantity,
                CASE WHEN quantity = 0 THEN 0.0 ELSE sales / quantity END AS unit_price,
                sales AS line_amount,
                CASE WHEN quantity = 0 THEN NULL ELSE (sales - profit) / quantity END
                    AS unit_cost,
                'USD' AS currency
            FROM ss ORDER BY row_id""",
        )
        _write(
            con,
            out,
            "customers",
            """SELECT
                customer_id,
                arg_min(customer_name, row_id) AS customer_name,
                arg_min(segment, row_id) AS segment,
                NULL::VARCHAR AS account_manager,
                NULL::DATE AS created_at,
                NULL::BOOLEAN AS email_opt_in
            FROM ss GROUP BY customer_id ORDER BY customer_id""",
        )
        _write(
            con,
            out,
            "products",
            """SELECT
                product_id,
                arg_min(product_name, row_id) AS product_name,
                arg_min(category, row_id) AS category,
                NULL::VARCHAR AS tags,
                NULL::DOUBLE AS unit_cost
            FROM ss GROUP BY product_id ORDER BY product_id""",
        )
        _write(
            con,
            out,
            "product_bundles",
            """SELECT DISTINCT sub_category AS bundle_id, sub_category AS bundle_name, product_id
            FROM ss ORDER BY bundle_id, product_id""",
        )
    finally:
        con.close()
    _remove_stale(out, {"order_lines", "customers", "products", "product_bundles"})
