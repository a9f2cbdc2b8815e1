"""Export and message checks without dbt: a hand-made DuckDB file with a `marts` schema is
exported to Parquet and CSV and read back; bad inputs give one clear message."""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from spendlens.dbt_runner import build
from spendlens.errors import SpendlensError
from spendlens.export import export, publish_exports

ROWS = [
    # key, text (commas, quotes, line breaks, empty), money, ratio, day, moment, flag, count
    ("C1", "plain", Decimal("10.50"), 1 / 3, date(2024, 1, 2), datetime(2024, 1, 2, 3, 4), True, 7),
    ("C2", 'a, "quoted"\r\nline', Decimal("-0.01"), 1e-12, date(2023, 12, 31), None, False, None),
    ("C3", "", None, None, None, datetime(2020, 2, 29, 23, 59, 59), None, 0),
    ("C4", None, Decimal("12345678.9999"), -2.5e300, date(2026, 6, 30), None, True, -3),
    ("C5", "=1+2 ünïcödé", Decimal("0"), 0.0, date(2000, 1, 1), None, False, 2**40),
]
COLUMNS = ["customer_id", "note", "spend_amount", "ratio_pct", "order_date", "ordered_at",
           "is_active", "order_count"]
TYPES = ["varchar", "varchar", "decimal(18,4)", "double", "date", "timestamp", "boolean", "bigint"]


@pytest.fixture()
def mart_db(tmp_path: Path) -> Path:
    db = tmp_path / "target" / "spendlens.duckdb"
    db.parent.mkdir()
    con = duckdb.connect(str(db))
    con.execute("create schema marts")
    columns = ", ".join(f"{n} {t}" for n, t in zip(COLUMNS, TYPES, strict=True))
    con.execute(f"create table marts.customer_things ({columns})")
    con.executemany(f"insert into marts.customer_things values ({', '.join('?' * 8)})", ROWS)
    con.execute("create table marts.empty_mart (customer_id varchar, value double)")
    con.execute("create schema staging")
    con.execute("create table staging.not_a_mart as select 1 as x")
    con.close()
    return db


def _expected() -> pd.DataFrame:
    con = duckdb.connect()
    columns = ", ".join(f"{n} {t}" for n, t in zip(COLUMNS, TYPES, strict=True))
    con.execute(f"create table t ({columns})")
    con.executemany(f"insert into t values ({', '.join('?' * 8)})", ROWS)
    return con.sql("select * from t order by customer_id").df()


def test_parquet_export_round_trips_every_value(mart_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "exports"
    publish_exports(mart_db, out, "parquet")
    assert sorted(p.name for p in out.iterdir()) == [
        "customer_things.parquet", "empty_mart.parquet", "spendlens.duckdb"]
    back = duckdb.sql(
        f"select * from read_parquet('{out / 'customer_things.parquet'}') order by customer_id"
    ).df()
    pd.testing.assert_frame_equal(back, _expected())
    count = duckdb.execute(f"select count(*) from '{out / 'empty_mart.parquet'}'").fetchall()
    assert count == [(0,)]


def test_csv_export_is_rfc4180_and_round_trips(mart_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "csv"
    publish_exports(mart_db, out, "csv")
    assert sorted(p.name for p in out.iterdir()) == ["customer_things.csv", "empty_mart.csv"]
    raw = (out / "customer_things.csv").read_bytes()
    assert raw.startswith((",".join(COLUMNS) + "\r\n").encode())
    assert b'"a, ""quoted""\r\nline"' in raw  # quoted field, doubled quote, embedded CRLF kept
    assert raw.endswith(b"\r\n")
    assert (out / "empty_mart.csv").read_bytes() == b"customer_id,value\r\n"
    types = dict(zip(COLUMNS, TYPES, strict=True))
    back = duckdb.sql(
        f"select * from read_csv('{out / 'customer_things.csv'}', header = true, "
        f"quote = '\"', escape = '\"', allow_quoted_nulls = false, columns = {types}) "
        "order by customer_id"
    ).df()
    expected = _expected()
    # a text cell that starts with a formula trigger gets a leading ' (docs/security.md)
    expected.loc[expected.customer_id == "C5", "note"] = "'=1+2 ünïcödé"
    pd.testing.assert_frame_equal(back, expected)
    # null stays null (empty field) and an empty string stays an empty string ("")
    assert back.loc[back.customer_id == "C4", "note"].isna().all()
    assert (back.loc[back.customer_id == "C3", "note"] == "").all()


def test_views_db_works_read_only_from_any_working_directory(
    mart_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "exports"
    publish_exports(mart_db, out, "parquet")
    monkeypatch.chdir("/")
    con = duckdb.connect(str(out / "spendlens.duckdb"), read_only=True)
    try:
        count = con.execute("select count(*) from marts.customer_things").fetchall()
        assert count == [(len(ROWS),)]
        names = con.execute("select table_name from information_schema.tables "
                        "where table_schema = 'marts' order by 1").fetchall()
        assert names == [("customer_things",), ("empty_mart",)]
    finally:
        con.close()


def test_second_export_swaps_versions_and_keeps_previous(mart_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "exports"
    first = publish_exports(mart_db, out, "parquet")
    second = publish_exports(mart_db, out, "parquet")
    third = publish_exports(mart_db, out, "parquet")
    assert out.is_symlink() and out.resolve() == third
    assert second.exists() and not first.exists()  # the newest two versions are kept
    assert not [p for p in (tmp_path / "exports.versions").iterdir() if p.name.startswith("tmp-")]


def test_export_takes_over_a_plain_folder_of_old_exports(mart_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "exports"
    out.mkdir()
    (out / "old_mart.parquet").write_bytes(b"old")
    publish_exports(mart_db, out, "csv")
    assert out.is_symlink()
    assert (out / "customer_things.csv").exists() and not (out / "old_mart.parquet").exists()


def test_export_refuses_a_folder_with_other_files(mart_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(SpendlensError, match=r"other files in it \(notes.txt\)"):
        publish_exports(mart_db, out, "csv")
    assert (out / "notes.txt").read_text() == "keep me"
    assert not (tmp_path / "mine.versions").exists()  # refused before writing anything


def test_export_command_reads_the_published_database(
    mart_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPENDLENS_DB", str(mart_db))
    out = tmp_path / "adhoc"
    export(fmt="csv", out=out)
    assert (out / "customer_things.csv").exists()


def test_export_without_a_build_says_to_build_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPENDLENS_DB", str(tmp_path / "target" / "spendlens.duckdb"))
    with pytest.raises(SpendlensError, match=r"does not exist: run `spendlens build` first"):
        export(fmt="parquet", out=tmp_path / "exports")
    assert not (tmp_path / "exports").exists()


def test_build_with_a_missing_input_folder_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "no_such_folder"
    with pytest.raises(SpendlensError, match=r"input folder .*no_such_folder does not exist: "
                                               r"pass --data"):
        build(data=missing)
    monkeypatch.setenv("SPENDLENS_RAW_PATH", str(missing))
    with pytest.raises(SpendlensError, match=r"spendlens generate"):
        build()
    assert not (tmp_path / "target").exists()  # failed before taking the lock or building


def test_build_with_bad_vars_says_how_to_write_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpendlensError, match=r"YAML mapping"):
        build(data=tmp_path, extra_vars="[1, 2]")
    assert os.listdir(tmp_path) == []


def test_unquoted_dates_in_vars_reach_dbt_as_iso_text(tmp_path: Path) -> None:
    from spendlens.dbt_runner import build_values

    values = build_values(tmp_path, None, "{clv_calibration_end_date: 1997-09-30, "
                                          "windows: [{start: 2024-01-01}], rfm_bins: 4}")
    assert values["clv_calibration_end_date"] == "1997-09-30"
    assert values["windows"] == [{"start": "2024-01-01"}] and values["rfm_bins"] == 4
    json.dumps(values)  # what build() hands to dbt
