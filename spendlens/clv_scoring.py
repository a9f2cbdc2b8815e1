"""The CLV scores behind int_customers_scored_clv, as plain functions (no dbt): on DuckDB the
dbt Python model calls :func:`score_periods`; on Spark the runner does, on the driver
(spendlens.clv_driver). Same code, same numbers.

Per customer x fit period x purchase model: the predictions of the purchase models (BG/NBD,
MBG/NBD, Pareto/NBD) and Gamma-Gamma, with the parameters of int_clv_models_fitted
(spendlens.clv_model, spendlens.clv_purchase_models, spendlens.clv_intervals, docs/clv.md).

- 'as_of': the chosen purchase model only (is_chosen, var clv_purchase_model): p_alive at
  as-of, predicted_orders = E[purchase days in the next clv_horizon_days], predicted_aov =
  E[spend per purchase day], predicted_clv = predicted_orders x predicted_aov (the expected
  spend over the horizon, undiscounted), predicted_clv_discounted = discounted_clv over the
  horizon at clv_discount_rate_annual (its present value), and the 80% interval
  predicted_clv_low / predicted_clv_high: the 10th and 90th percentiles of the customer's
  predicted_clv under the parameter draws 1..clv_interval_draws of both fits (draw d of the
  purchase model with draw d of Gamma-Gamma), which are kept in predicted_clv_draws so that
  any group's predicted revenue has an interval too (percentiles of the per-draw sums;
  segment_summary);
- 'backtest_calibration': every purchase model, the same at the calibration end with the
  holdout length as horizon (predicted_clv: predicted holdout spend; no discounted value, no
  interval), for clv_backtest and clv_model_comparison.
Scores are null (never NaN) unless the model's fit has a fitted status ('fitted', or for the
BG/NBD 'fitted (no dropout: NBD limit)': then the NBD is used, P(alive) = 1 and
E[purchases] = (r + x) t / (alpha + T)); model_status carries the status (purchase model
first, then spend model), with 'fitted' for a fitted one (the SPEC's value) and
'fitted (no dropout detected: churn risk 0)' when the purchase model is at its no-dropout limit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from spendlens import clv_intervals as ci
from spendlens import clv_model as cm
from spendlens import clv_purchase_models as pm
from spendlens.clv_fitting import NBD_LIMIT_STATUS

COLUMNS = ["fit_period", "model", "customer_id", "p_alive", "predicted_orders",
           "predicted_aov", "predicted_clv", "predicted_clv_discounted", "predicted_clv_low",
           "predicted_clv_high", "model_status"]
TEXT = {"fit_period", "model", "customer_id", "model_status"}
DRAWS_TYPE = pa.list_(pa.float64())

#: model_status of scores from a purchase model at its no-dropout limit (nobody leaves).
NO_DROPOUT_STATUS = "fitted (no dropout detected: churn risk 0)"

PURCHASE_MODELS = pm.PURCHASE_MODELS  # bgnbd, mbgnbd, pareto_nbd with their parameters


def _chosen_purchase_model(fits: pd.DataFrame) -> str:
    chosen = fits[fits["is_chosen"].astype(bool) & fits["model"].isin(list(PURCHASE_MODELS))]
    return str(chosen["model"].iloc[0]) if len(chosen) else "bgnbd"


def _draw_params(rows: pd.DataFrame, names: tuple[str, ...]) -> dict[str, float]:
    return {name: float(rows.loc[name, "value"]) for name in names}


def _params(fits: pd.DataFrame, model_name: str,
            names: tuple[str, ...]) -> tuple[cm.FitResult | dict | None, str, list[dict]]:
    """(parameters of draw 0, status, parameters of draws 1..n) of one model."""
    rows = fits[fits["model"] == model_name]
    estimate = rows[rows["draw"] == 0].set_index("parameter")
    status = str(estimate["status"].iloc[0])
    drawn = [part.set_index("parameter") for _, part in rows[rows["draw"] > 0].groupby("draw")]
    if status == NBD_LIMIT_STATUS and model_name == "bgnbd":
        # no-dropout limit: the NBD's r and alpha (a mapping without a, b is an NBD for clv_model)
        return (_draw_params(estimate, cm.NBD_PARAMS), NO_DROPOUT_STATUS,
                [_draw_params(d, cm.NBD_PARAMS) for d in drawn])
    if status != "fitted":
        return None, status, []
    values = _draw_params(estimate, names)
    draws = [_draw_params(d, names) for d in drawn]
    if model_name in PURCHASE_MODELS:  # the model name tells BG/NBD from MBG/NBD
        return cm.FitResult(values, float("nan"), 0, True, "", model_name), status, draws
    return values, status, draws


def _nullable(values) -> pd.Series:
    arr = np.asarray(values, dtype=float)
    return pd.Series(arr, dtype="Float64").where(np.isfinite(arr), pd.NA)


def score_period(summary: pd.DataFrame, fits: pd.DataFrame, purchase: str, horizon: float,
                 discount_rate: float | None,
                 with_interval: bool) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Scores of one fit period under one purchase model, and the draws matrix (customers x
    draws) when with_interval and both fits have draws."""
    n = len(summary)
    x = summary["frequency"].to_numpy(dtype=float)
    tx = summary["recency_days"].to_numpy(dtype=float)
    T = summary["t_days"].to_numpy(dtype=float)
    m = np.maximum(summary["monetary_value"].to_numpy(dtype=float), 0.0)
    bg, bg_status, bg_draws = _params(fits, purchase, PURCHASE_MODELS[purchase])
    gg, gg_status, gg_draws = _params(fits, "gamma_gamma", cm.GAMMA_GAMMA_PARAMS)
    nan = np.full(n, np.nan)
    p_alive = cm.p_alive(bg, x, tx, T) if bg else nan
    orders = cm.expected_purchases(bg, horizon, x, tx, T) if bg and horizon > 0 else nan
    if isinstance(gg, dict):  # net repeat spend of 0 or below: the population mean
        m = ci.scoring_monetary(gg, x, m)
    aov = cm.gamma_gamma_expected_spend(gg, x, m) if gg else nan
    scored = bool(bg and gg and horizon > 0)
    clv = np.asarray(orders) * np.asarray(aov) if scored else nan
    if scored and discount_rate is not None:
        clv_discounted = cm.discounted_clv(bg, gg, x, tx, T, m, horizon, discount_rate)
    else:
        clv_discounted = nan
    draws = None
    low = high = nan
    if scored and with_interval and bg_draws and gg_draws:
        kind = "nbd" if bg_status == NO_DROPOUT_STATUS else purchase
        draws = ci.clv_draws(kind, bg_draws, gg_draws, horizon, x, tx, T,
                             summary["monetary_value"].to_numpy(dtype=float))
        low, high = ci.interval(draws)
    # the purchase model's status unless it is fitted and the spend model's is not
    status = gg_status if bg_status.startswith("fitted") and gg_status != "fitted" else bg_status
    frame = pd.DataFrame({
        "fit_period": summary["fit_period"].to_numpy(),
        "model": purchase,
        "customer_id": summary["customer_id"].to_numpy(),
        "p_alive": _nullable(p_alive),
        "predicted_orders": _nullable(orders),
        "predicted_aov": _nullable(aov),
        "predicted_clv": _nullable(clv),
        "predicted_clv_discounted": _nullable(clv_discounted),
        "predicted_clv_low": _nullable(low),
        "predicted_clv_high": _nullable(high),
        "model_status": status,
    }, index=range(n))
    return frame, draws


def _draws_array(n: int, draws: np.ndarray | None) -> pa.Array:
    if draws is None or draws.shape[1] == 0:
        return pa.nulls(n, DRAWS_TYPE)
    values = pa.array(np.ascontiguousarray(draws, dtype=float).reshape(-1), type=pa.float64())
    return pa.FixedSizeListArray.from_arrays(values, draws.shape[1]).cast(DRAWS_TYPE)


def _empty() -> pa.Table:
    frame = pd.DataFrame({c: pd.Series(dtype="string" if c in TEXT else "Float64")
                          for c in COLUMNS})
    return _table([frame], [pa.nulls(0, DRAWS_TYPE)])


def _table(frames: list[pd.DataFrame], draws: list[pa.Array]) -> pa.Table:
    frame = pd.concat(frames, ignore_index=True)[COLUMNS]
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.append_column("predicted_clv_draws", pa.chunked_array(draws, type=DRAWS_TYPE))



def score_periods(summary: pd.DataFrame, fits: pd.DataFrame, checks: pd.DataFrame,
                  horizon: float, discount_rate: float) -> pa.Table:
    """int_customers_scored_clv from the summary, int_clv_models_fitted (``fits``) and
    int_clv_fit_periods_checked (``checks``)."""
    checks = checks.set_index("fit_period") if "fit_period" in checks.columns else checks
    summary = summary.sort_values(["fit_period", "customer_id"], kind="stable")
    frames: list[pd.DataFrame] = []
    draws: list[pa.Array] = []
    for period in sorted(checks.index):
        rows = summary[summary["fit_period"] == period].reset_index(drop=True)
        if rows.empty:
            continue
        period_fits = fits[fits["fit_period"] == period]
        if period == "as_of":
            chosen = _chosen_purchase_model(period_fits)
            frame, matrix = score_period(rows, period_fits, chosen, horizon, discount_rate, True)
            frames.append(frame)
            draws.append(_draws_array(len(frame), matrix))
            continue
        holdout = float(checks.loc[period, "holdout_days"])
        for purchase in PURCHASE_MODELS:
            frame, _ = score_period(rows, period_fits, purchase, holdout, None, False)
            frames.append(frame)
            draws.append(_draws_array(len(frame), None))
    if not frames:
        return _empty()
    return _table(frames, draws)
