"""The semantic layer (issue 23, item 1): MetricFlow metrics queried by name with `mf query`
equal the same numbers computed with pandas from the marts they are defined over."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from conftest import BIN, PROJECT_DIR


def _mf(db: Path, tmp_path: Path, metrics: str, group_by: str) -> pd.DataFrame:
    out = tmp_path / f"{metrics.replace(',', '_')}.csv"
    env = {**os.environ, "SPENDLENS_DB": str(db), "DBT_TARGET_PATH": str(db.parent / "dbt_target"),
           "DBT_PROFILES_DIR": str(PROJECT_DIR)}
    result = subprocess.run([str(BIN / "mf"), "query", "--metrics", metrics, "--group-by", group_by,
                             "--csv", str(out)], cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return pd.read_csv(out)


@pytest.fixture(scope="module")
def superstore(projects, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the Superstore build: mf opens its database for writing, and other tests of
    the session hold the original open read-only. Same file name, so the same DuckDB catalog."""
    built = projects.db("superstore")
    copy = tmp_path_factory.mktemp("semantic") / built.name
    shutil.copyfile(built, copy)
    shutil.copytree(built.parent / "dbt_target", copy.parent / "dbt_target")
    return copy


def _marts(db: Path, sql: str) -> pd.DataFrame:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).df()


def test_revenue_and_orders_by_month_and_segment(superstore: Path, tmp_path: Path) -> None:
    got = _mf(superstore, tmp_path, "revenue,orders", "metric_time__month,customer__segment")
    orders = _marts(superstore, """
        select o.order_date, o.net_spend, o.is_purchase, coalesce(c.segment, '(no segment)') as segment
        from marts.customer_orders as o left join marts.customers_360 as c using (customer_id)""")
    orders["month"] = pd.to_datetime(orders["order_date"]).dt.to_period("M").dt.start_time
    expected = orders.groupby(["month", "segment"]).agg(
        revenue=("net_spend", "sum"), orders=("is_purchase", "sum")).reset_index()
    got["month"] = pd.to_datetime(got["metric_time__month"])
    merged = expected.merge(got, left_on=["month", "segment"], right_on=["month", "customer__segment"],
                            how="outer", suffixes=("", "_mf"), indicator=True)
    assert (merged["_merge"] == "both").all()
    assert merged["revenue_mf"].to_numpy() == pytest.approx(merged["revenue"].to_numpy(), rel=1e-9, abs=1e-6)
    assert (merged["orders_mf"] == merged["orders"]).all()
    assert len(merged) > 100


def test_customers_by_persona_and_average_order_value(superstore: Path, tmp_path: Path) -> None:
    got = _mf(superstore, tmp_path, "customers_with_an_order,average_order_value", "customer__persona")
    orders = _marts(superstore, """
        select o.customer_id, o.net_spend, o.is_purchase, coalesce(c.persona, '(no purchase)') as persona
        from marts.customer_orders as o left join marts.customers_360 as c using (customer_id)""")
    buyers = orders[orders["is_purchase"]].groupby("persona")["customer_id"].nunique()
    aov = orders.groupby("persona")["net_spend"].sum() / orders.groupby("persona")["is_purchase"].sum()
    got = got.set_index("customer__persona")
    assert got["customers_with_an_order"].to_dict() == buyers.to_dict()
    assert got["average_order_value"].to_numpy() == pytest.approx(aov.reindex(got.index).to_numpy(), rel=1e-9)
