"""The published CDNOW reference, reproduced end to end (issue 20, item 6), and the accuracy
marts checked against independent computations.

The project is built (import, dbt build) on ``../shared/datasets/cdnow/CDNOW_sample.txt``, the
2,357-customer sample of Fader, Hardie & Lee (2005), with the classic split: calibration through
1997-09-30 (var clv_calibration_end_date), holdout to 1998-06-30 (the as-of date). The
'backtest_calibration' fits must give the published estimates; the holdout count is 1,882
purchase days; each model's predicted holdout total must be within 1% of the total the
published estimates give on the same customers. Then clv_model_comparison is recomputed in
pandas/scipy from the calibration summary (its own pandas summary of the raw file), the
parameters and spendlens.clv_model, and the intervals are recomputed from the parameter draws.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_DATASETS, run_dbt_build
from scipy import stats

from spendlens import clv_intervals as ci
from spendlens import clv_model as cm
from spendlens import importers

CDNOW_SAMPLE = SHARED_DATASETS / "cdnow" / "CDNOW_sample.txt"
CALIBRATION_END, AS_OF, HOLDOUT_DAYS = "1997-09-30", "1998-06-30", 273
WEEK = 7.0
# Fader, Hardie & Lee (2005) and Fader & Hardie's Pareto/NBD note; alpha and beta in weeks.
PUBLISHED = {
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "pareto_nbd": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},
}
PUBLISHED_BGNBD_HOLDOUT = 1653.9
MODELS = ("bgnbd", "mbgnbd", "pareto_nbd")
BASELINES = ("baseline_calibration_rate", "baseline_last_period")

pytestmark = pytest.mark.skipif(not CDNOW_SAMPLE.exists(), reason=f"no {CDNOW_SAMPLE}")


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    root = tmp_path_factory.mktemp("cdnow_sample")
    importers.import_cdnow(CDNOW_SAMPLE, root / "raw")
    db = root / "spendlens.duckdb"
    run_dbt_build(root / "raw", db, {"as_of_date": AS_OF,
                                     "clv_calibration_end_date": CALIBRATION_END,
                                     "clv_force": True})
    con = duckdb.connect(str(db), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def transactions() -> pd.DataFrame:
    tx = pd.read_csv(CDNOW_SAMPLE, sep=r"\s+", header=None,
                     names=["master_id", "customer_id", "date", "cds", "amount"],
                     dtype={"date": str, "customer_id": str})
    tx["day"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    return tx


@pytest.fixture(scope="module")
def calibration(transactions) -> pd.DataFrame:
    """Per customer, computed here from the raw file: x, t_x, T (days), the holdout purchase
    days and spend, and the baselines' inputs."""
    end, holdout_end = pd.Timestamp(CALIBRATION_END), pd.Timestamp(AS_OF)
    days = transactions.groupby(["customer_id", "day"], as_index=False)["amount"].sum()
    cal = days[days["day"] <= end]
    first = cal.groupby("customer_id")["day"].min()
    last = cal.groupby("customer_id")["day"].max()
    count = cal.groupby("customer_id").size()
    hold = days[(days["day"] > end) & (days["day"] <= holdout_end)]
    recent = cal[(end - cal["day"]).dt.days < HOLDOUT_DAYS]
    out = pd.DataFrame({
        "x": count - 1,
        "tx": (last - first).dt.days,
        "T": (end - first).dt.days,
        "calibration_spend": cal.groupby("customer_id")["amount"].sum(),
        "repeat_spend": cal[cal["day"] > cal["customer_id"].map(first)]
        .groupby("customer_id")["amount"].sum(),
    })
    out["repeat_spend"] = out["repeat_spend"].fillna(0.0)
    out["m"] = np.where(out["x"] > 0, out["repeat_spend"] / out["x"].clip(lower=1), 0.0)
    out["actual_orders"] = hold.groupby("customer_id").size().reindex(out.index, fill_value=0)
    out["actual_spend"] = hold.groupby("customer_id")["amount"].sum().reindex(out.index,
                                                                              fill_value=0.0)
    out["recent_orders"] = recent.groupby("customer_id").size().reindex(out.index, fill_value=0)
    out["recent_spend"] = recent.groupby("customer_id")["amount"].sum().reindex(out.index,
                                                                                fill_value=0.0)
    return out.sort_index()


def _params(con, period: str, model: str, draw: int = 0) -> dict[str, float]:
    rows = con.execute(
        "select parameter, value from intermediate.int_clv_models_fitted "
        "where fit_period = ? and model = ? and draw = ?", [period, model, draw]).fetchall()
    return {name: float(value) for name, value in rows if value is not None}


def _comparison(con) -> pd.DataFrame:
    return con.execute("select model, metric, value from marts.clv_model_comparison").df() \
        .pivot(index="metric", columns="model", values="value")


# ------------------------------------------------------------------------------------------
# the published reference


def test_calibration_split_and_holdout_count(sample, calibration) -> None:
    period = sample.execute("select end_date, holdout_end_date, holdout_days, customers, "
                            "is_eligible from intermediate.int_clv_fit_periods_checked "
                            "where fit_period = 'backtest_calibration'").fetchall()[0]
    assert str(period[0]) == CALIBRATION_END and str(period[1]) == AS_OF
    assert period[2] == HOLDOUT_DAYS and period[3] == 2357 and period[4]
    assert len(calibration) == 2357 and int(calibration["actual_orders"].sum()) == 1882
    comparison = _comparison(sample)
    for model in MODELS + BASELINES:
        assert comparison.loc["holdout_actual_orders", model] == 1882


@pytest.mark.parametrize("model", ["bgnbd", "pareto_nbd"])
def test_published_estimates_within_half_a_percent(sample, model: str) -> None:
    ours = _params(sample, "backtest_calibration", model)
    for name, published in PUBLISHED[model].items():
        value = ours[name] / WEEK if name in ("alpha", "beta") else ours[name]
        assert value == pytest.approx(published, rel=5e-3), name


@pytest.mark.parametrize("model", ["bgnbd", "pareto_nbd"])
def test_holdout_total_within_one_percent_of_the_published_estimates(sample, calibration,
                                                                     model: str) -> None:
    published = {k: v * WEEK if k in ("alpha", "beta") else v
                 for k, v in PUBLISHED[model].items()}
    c = calibration
    expected = float(np.sum(cm.expected_purchases(published, HOLDOUT_DAYS, c["x"], c["tx"], c["T"])))
    ours = _comparison(sample).loc["holdout_predicted_orders", model]
    assert ours == pytest.approx(expected, rel=0.01)
    if model == "bgnbd":
        assert expected == pytest.approx(PUBLISHED_BGNBD_HOLDOUT, abs=1.0)


# ------------------------------------------------------------------------------------------
# clv_model_comparison, recomputed


def _predictions(sample, calibration) -> dict[str, pd.DataFrame]:
    """Each model's and baseline's holdout predictions, computed here."""
    c = calibration
    gg = _params(sample, "backtest_calibration", "gamma_gamma")
    p, q, v = gg["p"], gg["q"], gg["v"]
    m = np.where((c["x"] > 0) & (c["m"] <= 0), v * p / (q - 1), c["m"])
    aov = np.asarray(cm.gamma_gamma_expected_spend(gg, c["x"], np.maximum(m, 0)))
    out = {}
    for model in MODELS:
        fit = cm.FitResult({k: val for k, val in _params(sample, "backtest_calibration", model).items()
                            if k in ("r", "alpha", "a", "b", "s", "beta")},
                           float("nan"), 0, True, "", model)
        orders = np.asarray(cm.expected_purchases(fit, HOLDOUT_DAYS, c["x"], c["tx"], c["T"]))
        out[model] = pd.DataFrame({"orders": orders, "spend": orders * aov}, index=c.index)
    rate = np.where(c["T"] > 0, c["x"] * HOLDOUT_DAYS / c["T"].clip(lower=1), 0.0)
    out["baseline_calibration_rate"] = pd.DataFrame(
        {"orders": rate, "spend": rate * c["calibration_spend"] / (c["x"] + 1)}, index=c.index)
    out["baseline_last_period"] = pd.DataFrame(
        {"orders": c["recent_orders"].astype(float), "spend": c["recent_spend"]}, index=c.index)
    return out


def _gini(actual: np.ndarray, score: np.ndarray, ids: np.ndarray) -> float:
    order = np.lexsort((ids, -np.round(score, 6)))  # by score descending, ties by customer id
    share = np.cumsum(actual[order]) / actual.sum()
    return float(np.sum(share - np.arange(1, len(actual) + 1) / len(actual)))


def test_comparison_metrics_recomputed(sample, calibration) -> None:
    comparison = _comparison(sample)
    c = calibration
    actual_orders = c["actual_orders"].to_numpy(dtype=float)
    actual_spend = c["actual_spend"].to_numpy(dtype=float)
    ids = c.index.to_numpy()
    for model, pred in _predictions(sample, calibration).items():
        got = comparison[model]
        orders, spend = pred["orders"].to_numpy(), pred["spend"].to_numpy()
        n = len(orders)
        top = np.lexsort((ids, -np.round(spend, 6)))[: int(np.ceil(0.1 * n))]
        expected = {
            "holdout_predicted_orders": orders.sum(),
            "holdout_orders_error_pct": 100 * (orders.sum() - actual_orders.sum()) / actual_orders.sum(),
            "holdout_actual_spend": actual_spend.sum(),
            "holdout_predicted_spend": spend.sum(),
            "mae_orders": np.mean(np.abs(orders - actual_orders)),
            "rmse_orders": np.sqrt(np.mean((orders - actual_orders) ** 2)),
            "spearman_orders": stats.spearmanr(orders, actual_orders).statistic,
            "top_decile_capture": actual_spend[top].sum() / actual_spend.sum(),
            "normalized_gini": _gini(actual_spend, spend, ids) / _gini(actual_spend, actual_spend, ids),
        }
        for metric, value in expected.items():
            assert got[metric] == pytest.approx(value, rel=1e-6, abs=1e-9), (model, metric)
    for model in MODELS:
        ll = _params(sample, "backtest_calibration", model)["log_likelihood"]
        assert comparison.loc["log_likelihood", model] == pytest.approx(ll, rel=1e-12)
        assert comparison.loc["bic", model] == pytest.approx(4 * np.log(2357) - 2 * ll, rel=1e-12)
        # the MAE that chose the model is the comparison's
        assert _params(sample, "as_of", model)["holdout_mae"] == pytest.approx(
            comparison.loc["mae_orders", model], rel=1e-9)
    for baseline in BASELINES:
        assert np.isnan(comparison.loc["bic", baseline])


def test_auto_chooses_the_lowest_holdout_mae(sample) -> None:
    comparison = _comparison(sample)
    chosen = sample.execute("select distinct model from marts.clv_model_comparison "
                            "where is_chosen").fetchall()
    best = comparison.loc["mae_orders", list(MODELS)].astype(float).idxmin()
    assert chosen == [(best,)]
    assert sample.execute("select distinct model from marts.clv_model_parameters "
                          "where is_chosen and model <> 'gamma_gamma'").fetchall() == [(best,)]
    backtest = sample.execute("select model, is_chosen, predicted_orders from marts.clv_backtest "
                              "where bucket = 'total'").df().set_index("model")
    assert set(backtest.index) == set(MODELS + BASELINES)
    assert backtest.loc[best, "is_chosen"] and backtest["is_chosen"].sum() == 1
    np.testing.assert_allclose(backtest.loc[list(MODELS + BASELINES), "predicted_orders"],
                               comparison.loc["holdout_predicted_orders",
                                              list(MODELS + BASELINES)].astype(float), rtol=1e-9)


# ------------------------------------------------------------------------------------------
# intervals and churn risk


def test_intervals_are_the_percentiles_of_the_parameter_draws(sample) -> None:
    cv = sample.execute("select * from marts.customer_value").df().set_index("customer_id")
    chosen = sample.execute("select distinct model from marts.clv_model_parameters "
                            "where is_chosen and model <> 'gamma_gamma'").fetchall()[0][0]
    draws = sample.execute("select max(draw) from intermediate.int_clv_models_fitted").fetchall()[0][0]
    assert draws == 200
    purchase = [_params(sample, "as_of", chosen, d) for d in range(1, draws + 1)]
    spend = [_params(sample, "as_of", "gamma_gamma", d) for d in range(1, draws + 1)]
    scored = cv[cv["predicted_clv"].notna()]
    x, tx, T = (scored[c].to_numpy(dtype=float) for c in ("frequency", "recency_days", "t_days"))
    m = scored["monetary_value"].to_numpy(dtype=float)
    values = np.empty((len(scored), draws))
    for d in range(draws):
        fit = cm.FitResult({k: v for k, v in purchase[d].items() if k in ("r", "alpha", "a", "b", "s", "beta")},
                           float("nan"), 0, True, "", chosen)
        g = spend[d]
        mean = g["v"] * g["p"] / (g["q"] - 1)
        orders = np.asarray(cm.expected_purchases(fit, 365, x, tx, T))
        aov = np.asarray(cm.gamma_gamma_expected_spend(g, x, np.where((x > 0) & (m <= 0), mean,
                                                                     np.maximum(m, 0))))
        values[:, d] = orders * aov
    np.testing.assert_allclose(scored["predicted_clv_low"], np.percentile(values, 10, axis=1), rtol=1e-9)
    np.testing.assert_allclose(scored["predicted_clv_high"], np.percentile(values, 90, axis=1), rtol=1e-9)
    inside = (scored["predicted_clv_low"] <= scored["predicted_clv"]) & \
        (scored["predicted_clv"] <= scored["predicted_clv_high"])
    assert inside.mean() > 0.95  # the point estimate sits inside its own interval
    # the group interval: percentiles of the summed draws, wider than no interval, narrower
    # than the sum of the customers' intervals
    summary = sample.execute("select * from marts.segment_summary where dimension = 'all'").df().iloc[0]
    sums = values.sum(axis=0)
    assert summary["predicted_revenue_low"] == pytest.approx(np.percentile(sums, 10), rel=1e-9)
    assert summary["predicted_revenue_high"] == pytest.approx(np.percentile(sums, 90), rel=1e-9)
    assert summary["predicted_revenue_low"] < summary["predicted_revenue_next_horizon"] \
        < summary["predicted_revenue_high"]
    assert summary["predicted_revenue_high"] - summary["predicted_revenue_low"] < \
        (scored["predicted_clv_high"] - scored["predicted_clv_low"]).sum()


def test_parameter_draws_follow_the_covariance_and_are_seeded(sample) -> None:
    # the log-draws' spread matches the standard errors (delta method: se / value)
    params = sample.execute("select model, parameter, value, std_error from marts.clv_model_parameters "
                            "where std_error is not null").df()
    for _, row in params.iterrows():
        drawn = sample.execute(
            "select value from intermediate.int_clv_models_fitted where fit_period = 'as_of' "
            "and model = ? and parameter = ? and draw > 0", [row["model"], row["parameter"]]
        ).df()["value"].to_numpy()
        assert np.std(np.log(drawn)) == pytest.approx(row["std_error"] / row["value"], rel=0.2), \
            (row["model"], row["parameter"])
    fit = cm.FitResult({"r": 1.0, "alpha": 2.0}, 0.0, 10, True, "", "nbd",
                       log_covariance=((0.01, 0.002), (0.002, 0.04)))
    assert ci.parameter_draws(fit, 5, 7) == ci.parameter_draws(fit, 5, 7)
    assert ci.parameter_draws(fit, 5, 7) != ci.parameter_draws(fit, 5, 8)


def test_one_time_buyers_churn_risk_grows_with_time(sample) -> None:
    cv = sample.execute("select * from marts.customer_value").df()
    chosen = sample.execute("select distinct model from marts.clv_model_parameters "
                            "where is_chosen and model <> 'gamma_gamma'").fetchall()[0][0]
    assert chosen in ("mbgnbd", "pareto_nbd")  # the models where one-time buyers can leave
    once = cv[cv["frequency"] == 0].sort_values("t_days")
    assert (once["churn_risk"] > 0).all()
    assert np.all(np.diff(once["churn_risk"].to_numpy()) >= -1e-12)
    assert once["churn_risk"].iloc[-1] > once["churn_risk"].iloc[0]
    # repeat buyers: with the same purchases (x, t_x), a longer silence means a higher risk
    repeat = cv[cv["frequency"] > 0].sort_values("t_days")
    groups = [g for _, g in repeat.groupby(["frequency", "recency_days"]) if g["t_days"].nunique() > 1]
    assert len(groups) > 50
    for group in groups:
        assert np.all(np.diff(group["churn_risk"].to_numpy()) >= -1e-12)
    # relative to their own rate: after the same silence, the faster buyer (x = 5 vs 1 by day
    # 100, then 300 silent days) is the more likely to be gone
    params = {k: v for k, v in _params(sample, "as_of", chosen).items()
              if k in ("r", "alpha", "a", "b", "s", "beta")}
    alive = cm.p_alive(cm.FitResult(params, 0.0, 0, True, "", chosen),
                       [1.0, 5.0], [100.0, 100.0], [400.0, 400.0])
    assert alive[1] < alive[0]
    assert set(cv["model_status"]) == {"fitted"}
