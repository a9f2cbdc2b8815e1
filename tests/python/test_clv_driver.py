"""The CLV step as plain functions (issue 21): what the Spark driver runs is what DuckDB's dbt
Python models run. Without Spark: the functions are called on a DuckDB build's own summary and
must give that build's rows; the fit sample is seeded; the driver reads the build's vars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spendlens import clv_driver
from spendlens.clv_fitting import fit_periods, fit_sample
from spendlens.clv_scoring import score_periods


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys).reset_index(drop=True)


@pytest.mark.parametrize("dataset", ["superstore", "generated"])
def test_functions_give_the_rows_of_the_python_models(connect, dataset: str) -> None:
    con = connect(dataset)
    summary = con.execute("select * from intermediate.int_customers_summarised_for_clv").df()
    checks = con.execute("select * from intermediate.int_clv_fit_periods_checked").df()
    built_fits = con.execute("select * from intermediate.int_clv_models_fitted").df()
    fits = fit_periods(summary, checks, n_draws=200, seed=20261207)
    keys = ["fit_period", "model", "draw", "parameter"]
    ours, theirs = _sorted(fits, keys), _sorted(built_fits, keys)
    assert len(ours) == len(theirs)
    for column in ("fit_period", "model", "draw", "parameter", "status", "is_chosen"):
        assert ours[column].tolist() == theirs[column].tolist(), column
    np.testing.assert_allclose(ours["value"].astype(float), theirs["value"].astype(float),
                               rtol=1e-9, equal_nan=True)
    built_scores = con.execute("select * exclude (predicted_clv_draws) "
                               "from intermediate.int_customers_scored_clv").df()
    scores = score_periods(summary, built_fits, checks, horizon=365.0, discount_rate=0.10).to_pandas()
    keys = ["fit_period", "model", "customer_id"]
    ours, theirs = _sorted(scores.drop(columns="predicted_clv_draws"), keys), _sorted(built_scores, keys)
    assert ours[keys + ["model_status"]].equals(theirs[keys + ["model_status"]])
    for column in ("p_alive", "predicted_orders", "predicted_clv", "predicted_clv_low", "predicted_clv_high"):
        np.testing.assert_allclose(ours[column].astype(float), theirs[column].astype(float),
                                   rtol=1e-9, equal_nan=True, err_msg=column)


def test_fit_sample_is_seeded_and_keeps_the_order() -> None:
    rows = pd.DataFrame({"customer_id": [f"c{i:03d}" for i in range(500)], "frequency": range(500)})
    assert fit_sample(rows, None, 1) is rows and fit_sample(rows, 500, 1) is rows
    one, again, other = fit_sample(rows, 100, 7), fit_sample(rows, 100, 7), fit_sample(rows, 100, 8)
    assert len(one) == 100 and one.equals(again) and not one.equals(other)
    assert one["customer_id"].is_monotonic_increasing and one["customer_id"].is_unique


@pytest.fixture(scope="module")
def cdnow_summary() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The CDNOW master's per-customer summary at 1998-06-30 (23,570 customers), one period."""
    from conftest import SHARED_DATASETS

    from spendlens import clv_model as cm

    path = SHARED_DATASETS / "cdnow" / "CDNOW_master.txt"
    if not path.exists():
        pytest.skip(f"no {path}")
    tx = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str, "date": str})
    day = pd.to_datetime(tx["date"], format="%Y%m%d").to_numpy().astype("datetime64[D]")
    s = cm.summarize_transactions(tx["customer_id"].to_numpy(), day, tx["dollar_value"].to_numpy(),
                                  "1998-06-30")
    summary = pd.DataFrame({"fit_period": "as_of", "customer_id": s.customer_id, "frequency": s.frequency,
                            "recency_days": s.recency, "t_days": s.T, "monetary_value": s.monetary_value,
                            "holdout_orders": 0, "holdout_spend": 0.0})
    checks = pd.DataFrame({"fit_period": ["as_of"], "is_eligible": [True], "ineligible_reason": [None],
                           "holdout_days": [0]})
    return summary, checks


def test_a_sampled_fit_stays_close_and_scores_everybody(cdnow_summary) -> None:
    summary, checks = cdnow_summary
    full = fit_periods(summary, checks, requested="bgnbd", n_draws=0)
    sampled = fit_periods(summary, checks, requested="bgnbd", n_draws=0, max_customers=5000, seed=3)
    both = full.merge(sampled, on=["fit_period", "model", "draw", "parameter"], suffixes=("", "_s"))
    customers = both[(both["parameter"] == "customers") & (both["model"] == "bgnbd")]
    assert customers["value"].iloc[0] == 23_570 and customers["value_s"].iloc[0] == 5000
    scores = score_periods(summary, sampled, checks, horizon=365.0, discount_rate=0.10).to_pandas()
    full_scores = score_periods(summary, full, checks, horizon=365.0, discount_rate=0.10).to_pandas()
    assert len(scores) == len(full_scores) == 23_570  # every customer is scored
    # docs/portability.md: at 5,000 customers the total prediction moves by about 1.5 % (sd)
    assert scores["predicted_orders"].sum() == pytest.approx(full_scores["predicted_orders"].sum(), rel=0.06)


def test_driver_settings_merge_project_defaults_and_build_vars() -> None:
    conf = clv_driver.settings({"clv_interval_draws": 50, "raw_path": "/x"})
    assert conf["clv_interval_draws"] == 50 and "raw_path" not in conf
    assert conf["clv_purchase_model"] == "auto" and conf["clv_horizon_days"] == 365
    assert conf["clv_fit_max_customers"] is None and conf["clv_driver_schema"] == "clv_driver"
