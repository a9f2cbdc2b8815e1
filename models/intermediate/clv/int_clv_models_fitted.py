"""BG/NBD (purchases) and Gamma-Gamma (spend per purchase) fitted by maximum likelihood on
int_customers_summarised_for_clv, once per fit period ('as_of', 'backtest_calibration').

The one dbt Python model of the project's maths (STYLE.md): the formulas live in
spendlens.clv_model (docs/clv.md). Long output, one row per fit period x model x parameter:
the estimates (r, alpha, a, b; p, q, v), log_likelihood, customers and converged (1/0), with
the fit's status ('fitted', 'fitted (no dropout: NBD limit)', 'ineligible: <rules>',
'not converged: <why>') and message.
Values are null (never NaN) when there is no fit; a fit that did not converge keeps its finite
end point for diagnosis, but its status says it must not be used (scores are then null).
'fitted (no dropout: NBD limit)': the BG/NBD likelihood is maximal at its no-dropout limit, the
NBD (clv_model.fit_bgnbd's fallback); r and alpha are the NBD's, a = 0 (no dropout) and b is
null (not identified), log_likelihood is the NBD's (the BG/NBD supremum); scores use the NBD.
Time unit: days (alpha). Money: reporting currency (v).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from spendlens import clv_model as cm

MODELS = {"bgnbd": cm.BGNBD_PARAMS, "gamma_gamma": cm.GAMMA_GAMMA_PARAMS}
COLUMNS = ["fit_period", "model", "parameter", "value", "time_unit", "status", "message"]
#: Status of a BG/NBD fit replaced by its no-dropout limit, the NBD (a fitted status: it starts
#: with 'fitted'; int_customers_scored_clv scores it with the NBD).
NBD_LIMIT_STATUS = "fitted (no dropout: NBD limit)"


def _rows(period: str, model: str, fit: cm.FitResult | None, status: str, message: str) -> list:
    values: dict[str, float | None] = dict.fromkeys(MODELS[model])
    values.update(log_likelihood=None, customers=None, converged=None)
    if fit is not None:
        values.update(fit.params)
        if fit.model == "nbd":  # the BG/NBD's no-dropout limit: p ~ Beta(a -> 0, b), b free
            values.update(a=0.0, b=None)
        values.update(log_likelihood=fit.log_likelihood, customers=float(fit.n),
                      converged=1.0 if fit.converged else 0.0)
    return [
        [period, model, name, value if value is not None and math.isfinite(value) else None,
         "day", status, message]
        for name, value in values.items()
    ]


def _fit(fitter, *columns) -> tuple[cm.FitResult | None, str, str]:
    try:
        fit = fitter(*columns)
    except ValueError as error:  # documented refusals (no usable customer, invalid rows)
        return None, f"not converged: {error}", str(error)
    if not fit.converged:
        return fit, f"not converged: {fit.message}", fit.message
    if fit.model == "nbd":
        return fit, NBD_LIMIT_STATUS, fit.message
    return fit, "fitted", fit.message


def fit_period(period: str, check: pd.Series, summary: pd.DataFrame) -> list:
    if not bool(check["is_eligible"]):
        reason = str(check["ineligible_reason"])
        return _rows(period, "bgnbd", None, reason, "") + _rows(period, "gamma_gamma", None, reason, "")
    x = summary["frequency"].to_numpy(dtype=float)
    tx = summary["recency_days"].to_numpy(dtype=float)
    T = summary["t_days"].to_numpy(dtype=float)
    # Gamma-Gamma needs positive spends: days with a net spend <= 0 give a mean <= 0, which the
    # fit leaves out (clv_model filters m > 0 and counts them in the message).
    m = np.maximum(summary["monetary_value"].to_numpy(dtype=float), 0.0)
    bg, bg_status, bg_message = _fit(cm.fit_bgnbd, x, tx, T)
    gg, gg_status, gg_message = _fit(cm.fit_gamma_gamma, x, m)
    return (_rows(period, "bgnbd", bg, bg_status, bg_message)
            + _rows(period, "gamma_gamma", gg, gg_status, gg_message))


def model(dbt, session) -> pd.DataFrame:
    dbt.config(materialized="table")
    summary = dbt.ref("int_customers_summarised_for_clv").df()
    checks = dbt.ref("int_clv_fit_periods_checked").df()
    rows: list = []
    for _, check in checks.sort_values("fit_period").iterrows():
        period = check["fit_period"]
        rows += fit_period(period, check, summary[summary["fit_period"] == period])
    out = pd.DataFrame(rows, columns=COLUMNS)
    out["value"] = out["value"].astype("Float64")
    return out
