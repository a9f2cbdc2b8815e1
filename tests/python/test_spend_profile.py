"""customer_spend_profile (SPEC 4.1) recomputed independently with pandas from the validated
order lines, for every column and every window, on Superstore and on the generated data; plus
the spend_windows validation and the as-of backtest property.

All dbt runs this module needs are started at once (they mostly wait on I/O) and awaited once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from dateutil.relativedelta import relativedelta

PROJECT_DIR = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SELECT = "+customer_spend_profile"

# Every anchor and unit at once, on a fiscal year starting in April, at an as-of in the past.
CUSTOM_WINDOWS = [
    {
        "name": "rolling_6_weeks",
        "periods": 6,
        "unit": "week",
        "prior_periods": 6,
        "anchor": "rolling",
    },
    {
        "name": "last_2_quarters",
        "periods": 2,
        "unit": "quarter",
        "prior_periods": 1,
        "anchor": "complete",
    },
    {
        "name": "rolling_3_months",
        "periods": 3,
        "unit": "month",
        "prior_periods": 3,
        "anchor": "rolling",
    },
    {
        "name": "complete_4_weeks",
        "periods": 4,
        "unit": "week",
        "prior_periods": 4,
        "anchor": "complete",
    },
    {"name": "fiscal_ytd", "periods": 1, "unit": "year", "prior_periods": 1, "anchor": "to_date"},
]
CUSTOM_CALENDAR = {"type": "standard", "fiscal_year_start": "04-01"}
DEFAULT_WINDOWS = [
    {
        "name": "last_3_months",
        "periods": 3,
        "unit": "month",
        "prior_periods": 3,
        "anchor": "complete",
    },
    {
        "name": "last_12_months",
        "periods": 12,
        "unit": "month",
        "prior_periods": 12,
        "anchor": "complete",
    },
    {"name": "fiscal_ytd", "periods": 1, "unit": "year", "prior_periods": 1, "anchor": "to_date"},
]
PAST_AS_OF = "2016-06-30"
BUCKET_ROWS = 5000
BAD_SETTINGS = {
    "sixth_window": (
        [dict(DEFAULT_WINDOWS[0], name=f"w{i}") for i in range(6)],
        "spend_windows has 6 windows: use 1 to 5.",
    ),
    "bad_unit": (
        [dict(DEFAULT_WINDOWS[0], unit="day")],
        "spend_windows 'last_3_months': unit is 'day': use week, month, quarter or year.",
    ),
    "bad_anchor": (
        [dict(DEFAULT_WINDOWS[0], anchor="trailing")],
        "spend_windows 'last_3_months': anchor is 'trailing': use complete, rolling or to_date.",
    ),
    "zero_periods": (
        [dict(DEFAULT_WINDOWS[0], periods=0)],
        "spend_windows 'last_3_months': periods is '0'",
    ),
    "duplicate_name": (
        [DEFAULT_WINDOWS[0], DEFAULT_WINDOWS[0]],
        "spend_windows[1].name 'last_3_months' is used twice",
    ),
    "missing_name": (
        [{k: v for k, v in DEFAULT_WINDOWS[0].items() if k != "name"}],
        "spend_windows[0].name is missing",
    ),
}


def _start_dbt(raw: Path, workdir: Path, values: dict) -> subprocess.Popen[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "SPENDLENS_DB": str(workdir / "spendlens.duckdb"),
        "DBT_TARGET_PATH": str(workdir / "dbt_target"),
        "DBT_LOG_PATH": str(workdir / "dbt_logs"),
        "SPENDLENS_TEMP_DIR": str(workdir / "duckdb_tmp"),
        # build only the tests of the selected models, not singular tests of other marts
        "DBT_INDIRECT_SELECTION": "cautious",
    }
    args = [
        str(BIN / "dbt"),
        "build",
        "--profiles-dir",
        str(PROJECT_DIR),
        "--project-dir",
        str(PROJECT_DIR),
        "--vars",
        json.dumps({"raw_path": str(raw), **values}),
        "--select",
        SELECT,
    ]
    return subprocess.Popen(
        args, env=env, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _parse_failure(workdir: Path, values: dict) -> tuple[int, str, Path]:
    """`dbt parse` in this process (a bad setting stops dbt build at its parse step)."""
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(
        [
            "parse",
            "--profiles-dir",
            str(PROJECT_DIR),
            "--project-dir",
            str(PROJECT_DIR),
            "--target-path",
            str(workdir / "dbt_target"),
            "--log-path",
            str(workdir / "dbt_logs"),
            "--no-partial-parse",
            "--quiet",
            "--vars",
            json.dumps(values),
        ]
    )
    return (0 if result.success else 1), str(result.exception), workdir


def _truncate(raw: Path, out: Path, cut: str) -> None:
    """A copy of the input folder whose order lines stop at `cut`."""
    out.mkdir(parents=True)
    for file in raw.iterdir():
        if file.name != "order_lines.csv":
            shutil.copy(file, out / file.name)
    lines = pd.read_csv(raw / "order_lines.csv", dtype=str, keep_default_na=False)
    lines[lines["ordered_at"].str[:10] <= cut].to_csv(out / "order_lines.csv", index=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, projects) -> dict[str, tuple[int, str, Path]]:
    """name -> (return code, output, database) of every dbt run of this module."""
    root = tmp_path_factory.mktemp("spend")
    superstore = projects.raw("superstore")
    dates = pd.read_csv(superstore / "order_lines.csv", usecols=["ordered_at"], dtype=str)[
        "ordered_at"
    ].str[:10]
    cut = dates[dates <= PAST_AS_OF].max()  # an order date, so the truncated data ends on it
    _truncate(superstore, root / "truncated_raw", cut)
    custom = {"spend_windows": CUSTOM_WINDOWS, "business_calendar": CUSTOM_CALENDAR}
    plans: dict[str, tuple[Path, dict]] = {
        "superstore": (superstore, {}),
        "generated": (projects.raw("generated"), {"data_quality_max_issue_pct": 100}),
        # ~40k aggregate rows in buckets of 5,000: the mart is built in several customer buckets
        "generated_bucketed": (
            projects.raw("generated"),
            {"data_quality_max_issue_pct": 100, "build_bucket_rows": BUCKET_ROWS},
        ),
        # the real Superstore set (every customer has a segment) in buckets too
        "superstore_bucketed": (superstore, {"build_bucket_rows": BUCKET_ROWS}),
        "superstore_past": (superstore, {**custom, "as_of_date": cut}),
        "superstore_truncated": (root / "truncated_raw", custom),
        "six_windows": (superstore, {"spend_windows": BAD_SETTINGS["sixth_window"][0]}),
    }
    started = {name: _start_dbt(raw, root / name, values) for name, (raw, values) in plans.items()}
    results = {
        f"bad_{name}": _parse_failure(
            root / f"bad_{name}", {"raw_path": str(superstore), "spend_windows": setting}
        )
        for name, (setting, _) in BAD_SETTINGS.items()
    }
    for name, process in started.items():
        output, _ = process.communicate()
        results[name] = (process.returncode, output, root / name / "spendlens.duckdb")
    return results


def _built(runs: dict, name: str) -> Path:
    code, output, db = runs[name]
    assert code == 0, f"dbt build {name} failed:\n" + "\n".join(output.splitlines()[-40:])
    return db


def _read(db: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql(sql).df()


# ---------------------------------------------------------------- reference implementation


def _months(unit: str) -> int:
    return {"month": 1, "quarter": 3, "year": 12}[unit]


def _period_start(day: date, unit: str, shift: int, fiscal_month: int) -> date:
    """First day of the period `shift` periods after the one holding `day` (standard calendar
    with fiscal years starting on the 1st of fiscal_month)."""
    if unit == "week":
        return day - timedelta(days=day.weekday()) + timedelta(days=7 * shift)
    size = _months(unit)
    offset = (day.month - fiscal_month) % size
    return day.replace(day=1) - relativedelta(months=offset) + relativedelta(months=size * shift)


def _period_end(day: date, unit: str, shift: int, fiscal_month: int) -> date:
    return _period_start(day, unit, shift + 1, fiscal_month) - timedelta(days=1)


def _shift_back(day: date, unit: str, count: int) -> date:
    if unit == "week":
        return day - timedelta(days=7 * count)
    return day - relativedelta(months=_months(unit) * count)


def reference_bounds(as_of: date, window: dict, fiscal_month: int) -> dict:
    unit, n, p, anchor = (
        window["unit"],
        window["periods"],
        window["prior_periods"],
        window["anchor"],
    )
    if anchor == "complete":
        last = 0 if _period_end(as_of, unit, 0, fiscal_month) == as_of else -1
        bounds = (
            _period_start(as_of, unit, last - n + 1, fiscal_month),
            _period_end(as_of, unit, last, fiscal_month),
            _period_start(as_of, unit, last - n - p + 1, fiscal_month),
            _period_end(as_of, unit, last - n, fiscal_month),
            p,
        )
    elif anchor == "rolling":
        bounds = (
            _shift_back(as_of, unit, n) + timedelta(days=1),
            as_of,
            _shift_back(as_of, unit, n + p) + timedelta(days=1),
            _shift_back(as_of, unit, n),
            p,
        )
    else:
        bounds = (
            _period_start(as_of, unit, 1 - n, fiscal_month),
            as_of,
            _period_start(as_of, unit, 1 - n - p, fiscal_month),
            _shift_back(as_of, unit, p),
            n,
        )
    keys = ["window_start", "window_end", "prior_window_start", "prior_window_end", "prior_periods"]
    return {"window_name": window["name"], "periods": n, **dict(zip(keys, bounds, strict=True))}


def reference_profile(db: Path, windows: list[dict], fiscal_month: int) -> pd.DataFrame:
    """Every column of customer_spend_profile from the validated order lines."""
    as_of = _read(db, "select as_of_date from intermediate.int_analysis_dates")["as_of_date"][0]
    as_of = pd.Timestamp(as_of).date()
    lines = _read(
        db,
        f"""
        select customer_id, product_id, category, order_id, ordered_date,
            spend_amount, cost_amount, quantity
        from intermediate.int_order_lines_validated
        where dq_reason is null and ordered_date <= date '{as_of}'""",
    )
    bundles = _read(
        db,
        """select distinct bundle_id, product_id from staging.stg_shop__product_bundles
                           where bundle_id is not null and product_id is not null""",
    )
    segments = _read(db, "select customer_id, segment from intermediate.int_customers_summarised")
    lines["ordered_date"] = pd.to_datetime(lines["ordered_date"]).dt.date
    items = pd.concat(
        [
            lines.assign(item_level="product", item_id=lines["product_id"]),
            lines.assign(item_level="category", item_id=lines["category"]),
            lines.merge(bundles, on="product_id").assign(
                item_level="bundle", item_id=lambda f: f["bundle_id"]
            ),
        ],
        ignore_index=True,
    )
    items["uncosted"] = np.where(items["cost_amount"].isna(), items["spend_amount"], 0.0)
    keys = ["customer_id", "item_level", "item_id"]
    daily_quantity = items.groupby([*keys, "ordered_date"])["quantity"].sum()
    pairs = (daily_quantity > 0).groupby(level=keys).any().rename("has_purchased").reset_index()

    frames = []
    for window in windows:
        bounds = reference_bounds(as_of, window, fiscal_month)
        in_window = items[
            (items["ordered_date"] >= bounds["window_start"])
            & (items["ordered_date"] <= bounds["window_end"])
        ]
        in_prior = items[
            (items["ordered_date"] >= bounds["prior_window_start"])
            & (items["ordered_date"] <= bounds["prior_window_end"])
        ]
        spend = in_window.groupby(keys).agg(
            total_spend=("spend_amount", "sum"),
            cost=("cost_amount", lambda s: s.sum(min_count=1)),
            uncosted_spend=("uncosted", "sum"),
            quantity=("quantity", "sum"),
        )
        # orders with a positive-quantity line of the item, per day (a return is no order)
        bought = in_window[in_window["quantity"] > 0]
        spend["order_count"] = (
            bought.drop_duplicates([*keys, "order_id", "ordered_date"]).groupby(keys).size()
        )
        prior = in_prior.groupby(keys)["spend_amount"].sum().rename("prior_total_spend")
        # only pairs with a line in the window or its prior span get a row
        active = pd.concat([in_window[keys], in_prior[keys]]).drop_duplicates()
        frame = (
            pairs.merge(active, on=keys)
            .merge(spend.reset_index(), on=keys, how="left")
            .merge(prior.reset_index(), on=keys, how="left")
        )
        for column in [
            "total_spend",
            "uncosted_spend",
            "quantity",
            "order_count",
            "prior_total_spend",
        ]:
            frame[column] = frame[column].fillna(0)
        for column in ["total_spend", "cost", "uncosted_spend", "quantity", "prior_total_spend"]:
            frame[column] = frame[column].round(6)  # the documented rounding of money sums
        frames.append(frame.assign(**bounds))
    profile = pd.concat(frames, ignore_index=True).merge(segments, on="customer_id", how="left")

    profile["avg_spend_per_period"] = profile["total_spend"] / profile["periods"]
    profile["prior_avg_spend_per_period"] = profile["prior_total_spend"] / profile["prior_periods"]
    # no % change against a zero or negative base (a net refund in the prior span)
    prior_avg = profile["prior_avg_spend_per_period"].where(
        profile["prior_avg_spend_per_period"].round(9) > 0
    )
    profile["spend_change_pct"] = 100 * (profile["avg_spend_per_period"] - prior_avg) / prior_avg
    costed = (profile["total_spend"] - profile["uncosted_spend"]).where(profile["cost"].notna())
    costed = costed.where(costed != 0)
    profile["margin_pct"] = 100 * (costed - profile["cost"]) / costed

    products = profile[profile["item_level"] == "product"]
    customer_spend = (
        products.groupby(["customer_id", "window_name"])["total_spend"]
        .sum()
        .round(6)
        .rename("customer_spend")
    )
    segmented = profile[profile["segment"].notna()]
    segment_item = (
        segmented.groupby(["segment", *keys[1:], "window_name"])["total_spend"]
        .sum()
        .round(6)
        .rename("segment_item")
    )
    segment_spend = (
        products[products["segment"].notna()]
        .groupby(["segment", "window_name"])["total_spend"]
        .sum()
        .round(6)
        .rename("segment_spend")
    )
    profile = (
        profile.merge(customer_spend.reset_index(), on=["customer_id", "window_name"], how="left")
        .merge(segment_item.reset_index(), on=["segment", *keys[1:], "window_name"], how="left")
        .merge(segment_spend.reset_index(), on=["segment", "window_name"], how="left")
    )
    positive = {
        name: profile[name].where(profile[name] > 0)
        for name in ["customer_spend", "segment_item", "segment_spend"]
    }
    profile["share_of_wallet_pct"] = (
        100
        * profile["total_spend"]
        * positive["segment_spend"]
        / (positive["customer_spend"] * positive["segment_item"])
    )
    profile["segment_share_pct"] = 100 * profile["segment_item"] / positive["segment_spend"]
    return profile


COUNTS = ["has_purchased", "order_count", "periods", "prior_periods"]
DATES = ["window_start", "window_end", "prior_window_start", "prior_window_end"]
MEASURES = [
    "total_spend",
    "avg_spend_per_period",
    "prior_total_spend",
    "prior_avg_spend_per_period",
    "spend_change_pct",
    "quantity",
    "margin_pct",
    "share_of_wallet_pct",
    "segment_share_pct",
    "uncosted_spend",
]
KEYS = ["customer_id", "item_level", "item_id", "window_name"]


def _assert_profile_matches(db: Path, windows: list[dict], fiscal_month: int) -> pd.DataFrame:
    expected = reference_profile(db, windows, fiscal_month)
    actual = _read(db, "select * from marts.customer_spend_profile")
    assert len(actual) == len(expected), "row count differs from the pandas recomputation"
    merged = actual.merge(
        expected, on=KEYS, how="outer", suffixes=("", "_expected"), indicator=True
    )
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"][KEYS].head()
    for column in COUNTS:
        assert (
            merged[column].astype("int64") == merged[f"{column}_expected"].astype("int64")
        ).all(), column
    for column in DATES:
        got = pd.to_datetime(merged[column]).dt.date
        assert (got == merged[f"{column}_expected"]).all(), column
    assert (merged["segment"].fillna("<none>") == merged["segment_expected"].fillna("<none>")).all()
    for column in MEASURES:
        got = merged[column].astype("float64").to_numpy()
        want = merged[f"{column}_expected"].astype("float64").to_numpy()
        assert (np.isnan(got) == np.isnan(want)).all(), (
            f"{column}: null in one but not the other, e.g.\n"
            + merged.loc[np.isnan(got) != np.isnan(want), [*KEYS, column, f"{column}_expected"]]
            .head()
            .to_string()
        )
        close = np.isclose(got, want, rtol=1e-6, atol=1e-9, equal_nan=True)
        assert close.all(), (
            f"{column} differs, e.g.\n"
            + merged.loc[~close, [*KEYS, column, f"{column}_expected"]].head().to_string()
        )
    return merged


def test_spend_profile_matches_pandas_on_superstore(runs: dict) -> None:
    merged = _assert_profile_matches(_built(runs, "superstore"), DEFAULT_WINDOWS, fiscal_month=1)
    assert merged["margin_pct"].notna().any() and merged["share_of_wallet_pct"].notna().any()
    assert set(merged["item_level"]) == {"product", "bundle", "category"}


def test_spend_profile_matches_pandas_on_generated_data_with_returns(runs: dict) -> None:
    merged = _assert_profile_matches(_built(runs, "generated"), DEFAULT_WINDOWS, fiscal_month=1)
    # The generated data has returns, missing costs and customers without a segment.
    assert (merged["quantity"] < 0).any() or (merged["uncosted_spend"] != 0).any()
    assert merged["segment"].isna().any()
    assert merged.loc[merged["segment"].isna(), "share_of_wallet_pct"].isna().all()


@pytest.mark.parametrize("dataset", ["generated", "superstore"])
def test_a_build_in_customer_buckets_equals_the_one_bucket_build_and_pandas(runs: dict,
                                                                             dataset: str) -> None:
    """The bucketed_table materialization (macros/bucketed_build.sql): with build_bucket_rows
    small the mart is built in ceil(aggregate rows / build_bucket_rows) customer buckets, each
    customer in exactly one, and gives the same rows as one bucket and as pandas; segment shares
    still span every customer."""
    db = _built(runs, f"{dataset}_bucketed")
    aggregate_rows = int(
        _read(db, "select count(*) as n from intermediate.int_order_lines_aggregated_to_days")["n"][0]
    )
    buckets = min(-(-aggregate_rows // BUCKET_ROWS), 64)
    assert buckets >= 4
    log = (db.parent / "dbt_logs" / "dbt.log").read_text()
    assert f"customer_spend_profile: {buckets} customer bucket(s) of up to {BUCKET_ROWS} rows" in log
    for index in range(1, buckets + 1):
        assert f"spendlens: customer bucket {index} of {buckets} */" in log
    _assert_profile_matches(db, DEFAULT_WINDOWS, fiscal_month=1)
    one = _read(_built(runs, dataset), "select * from marts.customer_spend_profile")
    bucketed = _read(db, "select * from marts.customer_spend_profile")
    pd.testing.assert_frame_equal(
        bucketed.sort_values(KEYS).reset_index(drop=True),
        one.sort_values(KEYS).reset_index(drop=True),
        check_exact=False,
        rtol=1e-12,
    )


def test_bucket_size_defaults_to_the_duckdb_memory_limit_over_400_bytes(runs: dict) -> None:
    """Without build_bucket_rows a bucket holds memory_limit / 400 bytes of aggregate rows (the
    limit as DuckDB reads the profile's setting): one bucket for a small data set."""
    with duckdb.connect() as con:
        con.execute(f"set memory_limit = '{os.environ.get('SPENDLENS_MEMORY_LIMIT', '8GB')}'")
        limit = con.execute("select current_setting('memory_limit')").fetchone()[0]
    number, unit = limit.split()
    rows = int(float(number) * 1024 ** {"KiB": 1, "MiB": 2, "GiB": 3, "TiB": 4}[unit]) // 400
    log = (_built(runs, "generated").parent / "dbt_logs" / "dbt.log").read_text()
    assert f"customer_spend_profile: 1 customer bucket(s) of up to {rows} rows" in log
    assert "spendlens: customer bucket 1 of 1 */" in log


def test_every_anchor_and_fiscal_april_match_pandas_at_a_past_as_of(runs: dict) -> None:
    merged = _assert_profile_matches(
        _built(runs, "superstore_past"), CUSTOM_WINDOWS, fiscal_month=4
    )
    assert set(merged["window_name"]) == {window["name"] for window in CUSTOM_WINDOWS}


def test_past_as_of_equals_a_build_on_data_truncated_at_that_date(runs: dict) -> None:
    past = _read(
        _built(runs, "superstore_past"), "select * from marts.customer_spend_profile order by all"
    )
    truncated = _read(
        _built(runs, "superstore_truncated"),
        "select * from marts.customer_spend_profile order by all",
    )
    assert len(past) == len(truncated) > 0
    pd.testing.assert_frame_equal(past, truncated, check_exact=False, rtol=1e-9, atol=1e-9)


def test_a_sixth_window_stops_dbt_build_with_a_message(runs: dict) -> None:
    code, output, db = runs["six_windows"]
    assert code != 0 and BAD_SETTINGS["sixth_window"][1] in output, output[-3000:]
    assert (
        not db.exists()
        or "customer_spend_profile" not in _read(db, "show all tables")["name"].tolist()
    )


@pytest.mark.parametrize("name", sorted(BAD_SETTINGS))
def test_invalid_spend_windows_stop_the_build_with_a_message(runs: dict, name: str) -> None:
    code, output, _ = runs[f"bad_{name}"]
    assert code != 0, f"the build accepted spend_windows setting {name}"
    assert BAD_SETTINGS[name][1] in output, output[-3000:]
