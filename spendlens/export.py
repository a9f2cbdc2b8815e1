"""Exports every mart (every table or view in schema `marts`) to Parquet or CSV files.

Reads from a read-only DuckDB connection only. File names come from mart names alone. A folder
is written complete in a temporary place and then swapped in (spendlens.publish), so a reader
never sees half of an export.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import duckdb

from spendlens.errors import SpendlensError
from spendlens.publish import layout_from_env, publish_folder

MART_SCHEMA = "marts"
VIEWS_DB_NAME = "spendlens.duckdb"
FORMATS = ("parquet", "csv")
_SAFE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def mart_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Tables and views of schema `marts` in the connection's own database, sorted."""
    rows = con.execute(
        "select table_name from information_schema.tables "
        "where table_schema = ? and table_catalog = current_database() order by table_name",
        [MART_SCHEMA],
    ).fetchall()
    names = [r[0] for r in rows]
    unsafe = [n for n in names if not _SAFE_NAME.match(n)]
    if unsafe:
        raise SpendlensError(
            f"mart name(s) {unsafe} cannot be used as file names: rename the model(s) to "
            "lower-case letters, digits and underscores"
        )
    return names


# -- CSV: one select expression per column, so a cell-level step can be added in
# `csv_cell_expression` without touching the writer.
# Spreadsheet programs run a cell that starts with one of these as a formula (OWASP: CSV
# injection). NUL bytes never reach a mart: the raw-file reader removes them.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_TRIGGER_PATTERN = r"^[=+@\t\r-]"  # the same set as an RE2 class (RE2 reads \t, \r)


def csv_cell_expression(column: str, data_type: str) -> str:
    """SQL for one CSV column. A text cell that starts with a formula trigger gets a leading `'`
    (the OWASP recommendation), so spreadsheet programs show it as text. Other types are not
    touched: a number such as -5 stays a number."""
    name = quote_identifier(column)
    if not data_type.upper().startswith("VARCHAR"):
        return name
    pattern = quote_literal(_FORMULA_TRIGGER_PATTERN)
    return f"case when regexp_matches({name}, {pattern}) then '''' || {name} else {name} end"


def csv_select(con: duckdb.DuckDBPyConnection, mart: str) -> str:
    columns = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? and table_catalog = current_database() "
        "order by ordinal_position",
        [MART_SCHEMA, mart],
    ).fetchall()
    expressions = [
        f"{csv_cell_expression(name, data_type)} as {quote_identifier(name)}"
        for name, data_type in columns
    ]
    return f"select {', '.join(expressions)} from {MART_SCHEMA}.{quote_identifier(mart)}"


def write_mart(con: duckdb.DuckDBPyConnection, mart: str, folder: Path, fmt: str) -> Path:
    """Writes one mart to `folder/<mart>.<fmt>`. CSV is RFC 4180: header, comma, `"` quoting
    with doubled quotes, CRLF line ends; null is an empty field, an empty string is `""`."""
    path = folder / f"{mart}.{fmt}"
    if fmt == "parquet":
        query = f"select * from {MART_SCHEMA}.{quote_identifier(mart)}"
        options = "format parquet, compression zstd"
    elif fmt == "csv":
        query = csv_select(con, mart)
        options = "format csv, header true, delimiter ',', quote '\"', escape '\"', new_line '\r\n'"
    else:
        raise SpendlensError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    con.execute(f"copy ({query}) to {quote_literal(str(path))} ({options})")
    return path


def write_views_db(folder: Path, marts: list[str]) -> Path:
    """A small DuckDB file of views `marts.<mart>` over the Parquet files, by absolute path, so
    a BI tool can open it read-only from any working directory. Written, then made read-only."""
    folder = folder.absolute()
    path = folder / VIEWS_DB_NAME
    con = duckdb.connect(str(path))
    try:
        con.execute(f"create schema {MART_SCHEMA}")
        for mart in marts:
            parquet = quote_literal(str(folder / f"{mart}.parquet"))
            con.execute(
                f"create view {MART_SCHEMA}.{quote_identifier(mart)} as "
                f"select * from read_parquet({parquet})"
            )
        con.execute("checkpoint")
    finally:
        con.close()
    os.chmod(path, 0o444)
    return path


def write_marts(
    source_db: Path, fmt: str, on_mart: Callable[[str], None] | None = None
) -> Callable[[Path], None]:
    """A writer for publish_folder: every mart of `source_db` (opened read-only) into a folder."""

    def write(folder: Path) -> None:
        con = connect_read_only(source_db)
        try:
            marts = mart_names(con)
            if not marts:
                raise SpendlensError(
                    f"{source_db} has no tables in schema {MART_SCHEMA}: "
                    "run `spendlens build` first"
                )
            for mart in marts:
                if on_mart:
                    on_mart(mart)
                write_mart(con, mart, folder, fmt)
        finally:
            con.close()

    return write


def add_views_db(folder: Path) -> None:
    """publish_folder's finish step for Parquet: the views file, once the folder is in place."""
    marts = sorted(p.name.removesuffix(".parquet") for p in folder.glob("*.parquet"))
    write_views_db(folder, marts)


def connect_read_only(db: Path) -> duckdb.DuckDBPyConnection:
    if not db.is_file():
        raise SpendlensError(f"{db} does not exist: run `spendlens build` first")
    try:
        return duckdb.connect(str(db), read_only=True)
    except duckdb.Error as exc:
        raise SpendlensError(f"cannot open {db} read-only: {exc}") from exc


def publish_exports(source_db: Path, out: Path, fmt: str = "parquet",
                    on_mart: Callable[[str], None] | None = None) -> Path:
    """Writes every mart of `source_db` into a new version of `out` and swaps it in."""
    finish = add_views_db if fmt == "parquet" else None
    return publish_folder(out, write_marts(source_db, fmt, on_mart), finish)


def export(fmt: str = "parquet", out: Path = Path("exports")) -> Path:
    """`spendlens export`: every mart of the published database to `out/<mart>.<fmt>`."""
    if fmt not in FORMATS:
        raise SpendlensError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    layout = layout_from_env()
    version = publish_exports(layout.published_db, out, fmt)
    count = len(list(version.glob(f"*.{fmt}")))
    print(f"exported {count} mart(s) as {fmt} to {out} (version {version.name})")
    return version
