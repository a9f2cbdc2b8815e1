"""The CLV fits behind int_clv_models_fitted, as plain functions (no dbt): on DuckDB the dbt
Python model calls :func:`fit_periods`; on Spark the runner does, on the driver
(spendlens.clv_driver), and writes the result back as a table. Same code, same numbers.

Purchase models (BG/NBD, MBG/NBD, Pareto/NBD) and Gamma-Gamma (spend per purchase) fitted by
maximum likelihood on int_customers_summarised_for_clv, once per fit period ('as_of',
'backtest_calibration'), and the choice of the purchase model that scores customer_value.

The formulas live in spendlens.clv_model and spendlens.clv_purchase_models (docs/clv.md). Long
output, one row per fit period x model x draw x parameter: the estimates (r, alpha, a, b; r,
alpha, s, beta; p, q, v) with their standard errors (inverse Hessian), log_likelihood,
customers, converged (1/0) and, for the purchase models, holdout_mae (mean absolute error per
customer of the purchase days predicted for the backtest holdout by the model fitted on
'backtest_calibration'; the same value in both periods), with the fit's status ('fitted',
'fitted (no dropout: NBD limit)', 'ineligible: <rules>', 'not converged: <why>'), message and
is_chosen.
Draws (column draw): draw 0 is the maximum-likelihood estimate (the rows above); draws
1..clv_interval_draws are parameter sets drawn from the asymptotic normal of the fitted
model's log-parameters (spendlens.clv_intervals, seeded by var clv_interval_seed, so a rebuild
gives the same draws), for the 'as_of' fits that converged; they carry only the parameters
(value), for the intervals of int_customers_scored_clv.
A purchase model whose maximum is its no-dropout limit (its log-likelihood equals the NBD's,
the model without dropout) is 'not converged: at the no-dropout limit ...' (MBG/NBD,
Pareto/NBD) or, for the BG/NBD, 'fitted (no dropout: NBD limit)'.
Values are null (never NaN) when there is no fit; a fit that did not converge keeps its finite
end point for diagnosis, but its status says it must not be used (scores are then null).
'fitted (no dropout: NBD limit)': the BG/NBD likelihood is maximal at its no-dropout limit, the
NBD (clv_model.fit_bgnbd's fallback); r and alpha are the NBD's, a = 0 (no dropout) and b is
null (not identified), log_likelihood is the NBD's (the BG/NBD supremum); scores use the NBD.

Choice (var clv_purchase_model): 'bgnbd', 'mbgnbd' or 'pareto_nbd' is used as asked (scores are
null if it did not converge); 'auto' (default) takes, among the purchase models fitted in both
periods, the lowest holdout_mae (ties: higher backtest log-likelihood); without a usable
backtest, the highest as-of log-likelihood among the fitted ones; never a model that did not
converge (if none did, bgnbd, whose status then says why). is_chosen marks the chosen purchase
model's rows and gamma_gamma's. Time unit: days (alpha, beta). Money: reporting currency (v).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from spendlens import clv_intervals as ci
from spendlens import clv_model as cm
from spendlens import clv_purchase_models as pm

PURCHASE_MODELS = dict(pm.PURCHASE_MODELS)  # bgnbd, mbgnbd, pareto_nbd
MODELS = {**PURCHASE_MODELS, "gamma_gamma": cm.GAMMA_GAMMA_PARAMS}
CHOICES = ("auto", *PURCHASE_MODELS)
COLUMNS = ["fit_period", "model", "draw", "parameter", "value", "std_error", "time_unit",
           "status", "message", "is_chosen"]
#: Status of a BG/NBD fit replaced by its no-dropout limit, the NBD (a fitted status: it starts
#: with 'fitted'; int_customers_scored_clv scores it with the NBD).
NBD_LIMIT_STATUS = "fitted (no dropout: NBD limit)"
#: How close (log-likelihood units) a model's maximum must be to the NBD's to sit at the
#: no-dropout limit (clv_model's tolerance for the BG/NBD's fallback).
NO_DROPOUT_LL_TOL = cm._NBD_LL_TOL


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _rows(period: str, model: str, fit: cm.FitResult | None, status: str, message: str,
          holdout_mae: float | None = None) -> list:
    values: dict[str, float | None] = dict.fromkeys(MODELS[model])
    errors: dict[str, float | None] = dict.fromkeys(MODELS[model])
    values.update(log_likelihood=None, customers=None, converged=None)
    if model in PURCHASE_MODELS:
        values["holdout_mae"] = holdout_mae
    if fit is not None:
        values.update(fit.params)
        errors.update(fit.std_errors)
        if fit.model == "nbd":  # the BG/NBD's no-dropout limit: p ~ Beta(a -> 0, b), b free
            values.update(a=0.0, b=None)
            errors.update(a=None, b=None)
        values.update(log_likelihood=fit.log_likelihood, customers=float(fit.n),
                      converged=1.0 if fit.converged else 0.0)
    return [
        [period, model, 0, name, _finite(value), _finite(errors.get(name)), "day", status,
         message, False]
        for name, value in values.items()
    ]


def _draw_rows(period: str, model: str, fit: cm.FitResult | None, status: str, message: str,
               n_draws: int, seed: int) -> list:
    """Draws 1..n_draws of a fitted model's parameters (none for a fit without covariance)."""
    if fit is None or not status.startswith("fitted"):
        return []
    offset = list(MODELS).index(model)  # a different stream per model, the same every build
    rows = []
    for d, params in enumerate(ci.parameter_draws(fit, n_draws, seed + offset), start=1):
        if fit.model == "nbd":
            params = {**params, "a": 0.0, "b": None}
        rows += [[period, model, d, name, _finite(value), None, "day", status, message, False]
                 for name, value in params.items()]
    return rows


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


def _gamma_gamma(summary: pd.DataFrame) -> tuple[cm.FitResult | None, str, str]:
    x = summary["frequency"].to_numpy(dtype=float)
    # Gamma-Gamma needs positive spends: days with a net spend <= 0 give a mean <= 0, which the
    # fit leaves out (clv_model filters m > 0 and counts them in the message).
    m = np.maximum(summary["monetary_value"].to_numpy(dtype=float), 0.0)
    fit, status, message = _fit(cm.fit_gamma_gamma, x, m)
    if fit is not None and fit.converged:
        fit = pm.with_uncertainty(fit, x, monetary_value=m)
    return fit, status, message


def _at_no_dropout_limit(fit: cm.FitResult | None, nbd: cm.FitResult | None) -> bool:
    """A fit that did not converge because its maximum is the NBD's (no dropout)."""
    return (fit is not None and not fit.converged and nbd is not None and nbd.converged
            and math.isfinite(fit.log_likelihood)
            and fit.log_likelihood <= nbd.log_likelihood + NO_DROPOUT_LL_TOL)


def fit_purchase_models(summary: pd.DataFrame) -> dict[str, tuple[cm.FitResult | None, str, str]]:
    x = summary["frequency"].to_numpy(dtype=float)
    tx = summary["recency_days"].to_numpy(dtype=float)
    T = summary["t_days"].to_numpy(dtype=float)
    fits = {name: _fit(lambda *c, name=name: pm.fit_purchase_model(name, *c), x, tx, T)
            for name in PURCHASE_MODELS}
    if any(not status.startswith("fitted") and fit is not None
           for fit, status, _ in fits.values()):
        try:
            nbd: cm.FitResult | None = cm.fit_nbd(x, T)
        except ValueError:
            nbd = None
        for name, (fit, _status, message) in fits.items():
            if _at_no_dropout_limit(fit, nbd):
                assert nbd is not None
                fits[name] = (fit, "not converged: at the no-dropout limit (its log-likelihood "
                              f"is the NBD's, {nbd.log_likelihood:.6g}): these data show no "
                              "customer dropping out", message)
    return fits


def holdout_mae(fit: cm.FitResult | None, status: str, summary: pd.DataFrame,
                holdout_days: float) -> float | None:
    """Mean absolute error per customer of the predicted holdout purchase days (fitted only)."""
    if fit is None or not status.startswith("fitted") or not holdout_days > 0:
        return None
    predicted = cm.expected_purchases(
        fit, holdout_days, summary["frequency"].to_numpy(dtype=float),
        summary["recency_days"].to_numpy(dtype=float), summary["t_days"].to_numpy(dtype=float))
    actual = summary["holdout_orders"].to_numpy(dtype=float)
    value = float(np.mean(np.abs(np.asarray(predicted) - actual)))
    return value if math.isfinite(value) else None


def choose(requested: str, as_of: dict, backtest: dict, maes: dict[str, float | None]) -> str:
    """The purchase model that scores customer_value (see the module docstring)."""
    if requested != "auto":
        return requested

    def fitted(fits: dict, name: str) -> bool:
        return fits.get(name) is not None and fits[name][0] is not None and \
            fits[name][1].startswith("fitted")

    both = [n for n in PURCHASE_MODELS
            if fitted(as_of, n) and fitted(backtest, n) and maes.get(n) is not None]
    if both:
        return min(both, key=lambda n: (round(maes[n], 9), -backtest[n][0].log_likelihood))
    usable = [n for n in PURCHASE_MODELS if fitted(as_of, n)]
    if usable:
        return max(usable, key=lambda n: as_of[n][0].log_likelihood)
    return "bgnbd"




def fit_periods(summary: pd.DataFrame, checks: pd.DataFrame, requested: str = "auto",
                n_draws: int = 200, seed: int = 20261207,
                max_customers: int | None = None) -> pd.DataFrame:
    """int_clv_models_fitted from int_customers_summarised_for_clv (``summary``) and
    int_clv_fit_periods_checked (``checks``, one row per fit period).

    ``max_customers``: a period with more customers is fitted on a seeded random sample of that
    many (``seed``; the holdout MAE and all scores still use every customer); None = all.
    """
    requested = str(requested or "auto").strip().lower()
    if requested not in CHOICES:
        raise ValueError(f"var clv_purchase_model={requested!r}: expected one of "
                         f"{', '.join(CHOICES)}")
    checks = checks.set_index("fit_period") if "fit_period" in checks.columns else checks
    # one order whatever order the engine returned the rows in: sums, and so the fits, are
    # then the same to the last bit on every build and engine
    summary = summary.sort_values(["fit_period", "customer_id"], kind="stable")
    fits: dict[str, dict] = {}
    spend: dict[str, tuple] = {}
    for period in sorted(checks.index):
        check = checks.loc[period]
        rows = summary[summary["fit_period"] == period]
        if not bool(check["is_eligible"]):
            reason = str(check["ineligible_reason"])
            fits[period] = dict.fromkeys(PURCHASE_MODELS, (None, reason, ""))
            spend[period] = (None, reason, "")
            continue
        sample = fit_sample(rows, max_customers, seed)
        fits[period] = fit_purchase_models(sample)
        spend[period] = _gamma_gamma(sample)
    maes: dict[str, float | None] = dict.fromkeys(PURCHASE_MODELS)
    if "backtest_calibration" in fits:
        rows = summary[summary["fit_period"] == "backtest_calibration"]
        days = float(checks.loc["backtest_calibration", "holdout_days"])
        for name, (fit, status, _) in fits["backtest_calibration"].items():
            maes[name] = holdout_mae(fit, status, rows, days)
    chosen = choose(requested, fits.get("as_of", {}), fits.get("backtest_calibration", {}), maes)
    out_rows: list = []
    for period in sorted(fits):
        for name, (fit, status, message) in fits[period].items():
            part = _rows(period, name, fit, status, message, maes[name])
            if period == "as_of":
                part += _draw_rows(period, name, fit, status, message, n_draws, seed)
            for row in part:
                row[-1] = name == chosen
            out_rows += part
        part = _rows(period, "gamma_gamma", *spend[period])
        if period == "as_of":
            part += _draw_rows(period, "gamma_gamma", *spend[period], n_draws, seed)
        for row in part:
            row[-1] = True
        out_rows += part
    out = pd.DataFrame(out_rows, columns=COLUMNS)
    out["value"] = out["value"].astype("Float64")
    out["std_error"] = out["std_error"].astype("Float64")
    out["draw"] = out["draw"].astype("int64")
    out["is_chosen"] = out["is_chosen"].astype(bool)
    return out


def fit_sample(rows: pd.DataFrame, max_customers: int | None, seed: int) -> pd.DataFrame:
    """The rows the models are fitted on: all of them, or a seeded random sample of
    ``max_customers`` (in their original order) when there are more."""
    if max_customers is None or max_customers <= 0 or len(rows) <= max_customers:
        return rows
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(rows), size=int(max_customers), replace=False))
    return rows.iloc[keep]
