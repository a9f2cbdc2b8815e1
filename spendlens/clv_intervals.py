"""Intervals of predicted CLV from the parameter uncertainty of the two fits.

Each fit (purchase model, Gamma-Gamma) has an asymptotic normal distribution of its
log-parameters: mean the estimate, covariance the inverse Hessian
(``FitResult.log_covariance``). :func:`parameter_draws` samples parameter sets from it with a
fixed seed, so a rebuild gives the same draws; :func:`clv_draws` scores every customer with
each pair of draws (draw d of the purchase model with draw d of the spend model; the two fits
are independent), and :func:`interval` takes the 10th and 90th percentiles per customer (an
80% interval). The sum over any group of customers of their draw-d values is draw d of the
group's predicted revenue, so a group's interval is the percentiles of those sums
(:func:`group_interval`), not the sum of the customers' percentiles.

Covered: the sampling error of the estimated parameters. Not covered: the randomness of the
customers' own future purchases (Poisson and dropout noise), and model error (the interval
assumes the chosen model is right). See docs/clv.md.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from spendlens import clv_model as cm

FloatArray = NDArray[np.float64]
#: The interval's percentiles (an 80% interval).
LOW_PERCENTILE = 10.0
HIGH_PERCENTILE = 90.0


def parameter_draws(fit: cm.FitResult, n_draws: int, seed: int) -> list[dict[str, float]]:
    """``n_draws`` parameter sets from the asymptotic normal of the fit's log-parameters.

    Empty when the fit has no covariance (not converged, or a Hessian that is not positive
    definite) or ``n_draws`` < 1. The same (fit, n_draws, seed) always gives the same draws.
    """
    if n_draws < 1 or not fit.log_covariance:
        return []
    names = list(fit.params)
    cov = np.asarray(fit.log_covariance, dtype=float)
    if cov.shape != (len(names), len(names)):
        return []
    center = np.log([fit.params[n] for n in names])
    rng = np.random.default_rng(seed)
    thetas = rng.multivariate_normal(center, cov, size=n_draws, method="cholesky")
    return [dict(zip(names, np.exp(theta).tolist(), strict=True)) for theta in thetas]


def _as_fit(params: Mapping[str, float], model: str) -> cm.FitResult:
    return cm.FitResult(dict(params), float("nan"), 0, True, "", model)


def scoring_monetary(spend: Mapping[str, float], frequency: FloatArray,
                     monetary_value: FloatArray) -> FloatArray:
    """The mean spend m a customer is scored with: their own (0 and below counted as 0), except
    that a repeat buyer whose net repeat spend is 0 or below (returns outweigh the repeat
    purchases) was left out of the Gamma-Gamma fit and gets the population mean v p / (q - 1),
    which is what the conditional expectation gives for m = that mean (NaN when q <= 1)."""
    p, q, v = (float(spend[k]) for k in cm.GAMMA_GAMMA_PARAMS)
    mean = v * p / (q - 1.0) if q > 1.0 else np.nan
    return np.where((frequency > 0) & (monetary_value <= 0), mean, np.maximum(monetary_value, 0.0))


def expected_spend(spend: Mapping[str, float], frequency: FloatArray,
                   monetary_value: FloatArray) -> FloatArray:
    """Gamma-Gamma E[spend per purchase day] at :func:`scoring_monetary`."""
    m = scoring_monetary(spend, frequency, monetary_value)
    return np.asarray(cm.gamma_gamma_expected_spend(spend, frequency, m), dtype=float)


def clv_draws(
    purchase_model: str,
    purchase_draws: list[dict[str, float]],
    spend_draws: list[dict[str, float]],
    horizon: float,
    frequency: FloatArray,
    recency: FloatArray,
    T: FloatArray,
    monetary_value: FloatArray,
) -> FloatArray:
    """Predicted spend over ``horizon`` (expected purchases x expected spend per purchase) of
    every customer (rows) under each pair of parameter draws (columns); shape (customers,
    draws), with as many draws as the shorter list. ``monetary_value`` as scored (customers
    left out of the Gamma-Gamma fit already given the population mean)."""
    n_draws = min(len(purchase_draws), len(spend_draws))
    out = np.full((len(frequency), n_draws), np.nan)
    # each model is scored once per distinct input row (many customers share x, t_x, T)
    rows, back = np.unique(np.column_stack([frequency, recency, T]), axis=0, return_inverse=True)
    money, money_back = np.unique(np.column_stack([frequency, monetary_value]), axis=0,
                                  return_inverse=True)
    back, money_back = back.reshape(-1), money_back.reshape(-1)
    for d in range(n_draws):
        fit = _as_fit(purchase_draws[d], purchase_model)
        orders = np.asarray(cm.expected_purchases(fit, horizon, rows[:, 0], rows[:, 1],
                                                  rows[:, 2]), dtype=float)
        aov = expected_spend(spend_draws[d], money[:, 0], money[:, 1])
        out[:, d] = orders[back] * aov[money_back]
    return out


def interval(draws: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per row, the 10th and 90th percentiles of the finite draws (NaN without any)."""
    n = draws.shape[0]
    if draws.shape[1] == 0:
        return np.full(n, np.nan), np.full(n, np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: NaN, said once here
        low = np.nanpercentile(draws, LOW_PERCENTILE, axis=1)
        high = np.nanpercentile(draws, HIGH_PERCENTILE, axis=1)
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def group_interval(draws: FloatArray) -> tuple[float, float]:
    """The 80% interval of a group's predicted revenue: percentiles of the per-draw sums."""
    if draws.size == 0 or draws.shape[1] == 0:
        return float("nan"), float("nan")
    sums = draws.sum(axis=0)
    return (float(np.percentile(sums, LOW_PERCENTILE)),
            float(np.percentile(sums, HIGH_PERCENTILE)))
