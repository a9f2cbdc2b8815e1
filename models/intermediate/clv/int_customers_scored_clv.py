"""Per customer x fit period: the predictions of the chosen purchase model (BG/NBD, MBG/NBD or
Pareto/NBD: the rows of int_clv_models_fitted with is_chosen, var clv_purchase_model) and
Gamma-Gamma, with the parameters of int_clv_models_fitted (spendlens.clv_model,
spendlens.clv_purchase_models, docs/clv.md).

- 'as_of': p_alive at as-of, predicted_orders = E[purchase days in the next clv_horizon_days],
  predicted_aov = E[spend per purchase day], predicted_clv = predicted_orders x predicted_aov
  (the expected spend over the horizon, undiscounted, as a CLV tool's "predicted CLV"), and
  predicted_clv_discounted = discounted_clv over the horizon at clv_discount_rate_annual (its
  present value);
- 'backtest_calibration': the same at the calibration end, with the holdout length as horizon
  (predicted_clv: predicted holdout spend; no discounted value).
Scores are null (never NaN) unless the period's fit has a fitted status ('fitted', or for the
purchase model 'fitted (no dropout: NBD limit)': then the NBD is used, P(alive) = 1 and
E[purchases] = (r + x) t / (alpha + T)); model_status carries the period's status (purchase
model first, then spend model), with any fitted status written as 'fitted' (the SPEC's value;
clv_model_parameters.status says which purchase model was fitted).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from spendlens import clv_model as cm
from spendlens import clv_purchase_models as pm

COLUMNS = ["fit_period", "customer_id", "p_alive", "predicted_orders", "predicted_aov",
           "predicted_clv", "predicted_clv_discounted", "model_status"]


NBD_LIMIT_STATUS = "fitted (no dropout: NBD limit)"  # as in int_clv_models_fitted


PURCHASE_MODELS = {"bgnbd": cm.BGNBD_PARAMS, "mbgnbd": pm.MBGNBD_PARAMS,
                   "pareto_nbd": pm.PARETO_NBD_PARAMS}


def _chosen_purchase_model(fits: pd.DataFrame) -> str:
    chosen = fits[fits["is_chosen"].astype(bool) & fits["model"].isin(list(PURCHASE_MODELS))]
    return str(chosen["model"].iloc[0]) if len(chosen) else "bgnbd"


def _params(fits: pd.DataFrame, model_name: str,
            names: tuple[str, ...]) -> tuple[cm.FitResult | dict | None, str]:
    rows = fits[fits["model"] == model_name].set_index("parameter")
    status = str(rows["status"].iloc[0])
    if status == NBD_LIMIT_STATUS and model_name == "bgnbd":
        # no-dropout limit: the NBD's r and alpha (a mapping without a, b is an NBD for clv_model)
        return {name: float(rows.loc[name, "value"]) for name in cm.NBD_PARAMS}, "fitted"
    if status != "fitted":
        return None, status
    values = {name: float(rows.loc[name, "value"]) for name in names}
    if model_name in PURCHASE_MODELS:  # the model name tells BG/NBD from MBG/NBD
        return cm.FitResult(values, float("nan"), 0, True, "", model_name), status
    return values, status


def _nullable(values) -> pd.Series:
    arr = np.asarray(values, dtype=float)
    return pd.Series(arr, dtype="Float64").where(np.isfinite(arr), pd.NA)


def score_period(summary: pd.DataFrame, fits: pd.DataFrame, horizon: float,
                 discount_rate: float | None) -> pd.DataFrame:
    n = len(summary)
    x = summary["frequency"].to_numpy(dtype=float)
    tx = summary["recency_days"].to_numpy(dtype=float)
    T = summary["t_days"].to_numpy(dtype=float)
    m = np.maximum(summary["monetary_value"].to_numpy(dtype=float), 0.0)
    purchase = _chosen_purchase_model(fits)
    bg, bg_status = _params(fits, purchase, PURCHASE_MODELS[purchase])
    gg, gg_status = _params(fits, "gamma_gamma", cm.GAMMA_GAMMA_PARAMS)
    nan = np.full(n, np.nan)
    p_alive = cm.p_alive(bg, x, tx, T) if bg else nan
    orders = cm.expected_purchases(bg, horizon, x, tx, T) if bg and horizon > 0 else nan
    if gg:
        # Net repeat spend of 0 or below (returns outweigh the repeat purchases): the customer
        # was left out of the Gamma-Gamma fit and gets the population mean v p / (q - 1), which
        # is what the conditional expectation gives for m = that mean.
        assert isinstance(gg, dict)
        p_gg, q_gg, v_gg = (float(gg[k]) for k in cm.GAMMA_GAMMA_PARAMS)
        population_mean = v_gg * p_gg / (q_gg - 1.0) if q_gg > 1.0 else np.nan
        m = np.where((x > 0) & (m <= 0), population_mean, m)
    aov = cm.gamma_gamma_expected_spend(gg, x, m) if gg else nan
    clv = np.asarray(orders) * np.asarray(aov) if bg and gg and horizon > 0 else nan
    if bg and gg and horizon > 0 and discount_rate is not None:
        clv_discounted = cm.discounted_clv(bg, gg, x, tx, T, m, horizon, discount_rate)
    else:
        clv_discounted = nan
    status = bg_status if bg_status != "fitted" else gg_status
    return pd.DataFrame({
        "fit_period": summary["fit_period"].to_numpy(),
        "customer_id": summary["customer_id"].to_numpy(),
        "p_alive": _nullable(p_alive),
        "predicted_orders": _nullable(orders),
        "predicted_aov": _nullable(aov),
        "predicted_clv": _nullable(clv),
        "predicted_clv_discounted": _nullable(clv_discounted),
        "model_status": status,
    }, index=range(n))


def model(dbt, session) -> pd.DataFrame:
    dbt.config(materialized="table")
    horizon = float(dbt.config.get("clv_horizon_days"))
    discount_rate = float(dbt.config.get("clv_discount_rate_annual"))
    summary = dbt.ref("int_customers_summarised_for_clv").df()
    fits = dbt.ref("int_clv_models_fitted").df()
    checks = dbt.ref("int_clv_fit_periods_checked").df().set_index("fit_period")
    parts = []
    for period in sorted(checks.index):
        rows = summary[summary["fit_period"] == period].reset_index(drop=True)
        if rows.empty:
            continue
        if period == "as_of":
            parts.append(score_period(rows, fits[fits["fit_period"] == period], horizon, discount_rate))
        else:
            holdout = float(checks.loc[period, "holdout_days"])
            parts.append(score_period(rows, fits[fits["fit_period"] == period], holdout, None))
    if not parts:
        text = {"fit_period", "customer_id", "model_status"}
        return pd.DataFrame({c: pd.Series(dtype="string" if c in text else "Float64")
                             for c in COLUMNS})
    return pd.concat(parts, ignore_index=True)[COLUMNS]
