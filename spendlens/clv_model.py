r"""Predicted customer lifetime value: BG/NBD purchases x Gamma-Gamma spend, numpy/scipy only.

Models (see ``docs/clv.md`` for the derivations, assumptions and the measured reproduction of
the published numbers):

* **BG/NBD** (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): while alive a
  customer buys as a Poisson process with rate :math:`\lambda \sim \text{Gamma}(r, \alpha)`;
  after every repeat purchase she drops out for good with probability
  :math:`p \sim \text{Beta}(a, b)`. Data per customer: ``frequency`` :math:`x` (repeat
  purchases), ``recency`` :math:`t_x` (time of the last purchase, counted from the first) and
  ``T`` (time from the first purchase to the end of the calibration period).
* **Gamma-Gamma** (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves"; Hardie's
  note 025): the spend of one transaction is :math:`\text{Gamma}(p, \nu)`, with
  :math:`\nu \sim \text{Gamma}(q, v)` across customers (``v`` is the paper's :math:`\gamma`).
* **Discounted CLV**: expected purchases in successive 30-day steps x expected spend per
  purchase, discounted per step, as ``lifetimes`` 0.11.3 ``customer_lifetime_value`` does.

Conventions shared by every function here:

* Parameters are a mapping (``{"r":..,"alpha":..,"a":..,"b":..}`` or ``{"p":..,"q":..,"v":..}``)
  or a :class:`FitResult`. Parameters that are missing, non-finite or not > 0 raise
  ``ValueError``: a model without valid parameters cannot be evaluated at all.
* Per-customer inputs are array-likes broadcast against each other. All-scalar inputs give a
  Python ``float``; otherwise a float64 ``ndarray``.
* **Undefined results are NaN, and only NaN.** A row whose inputs are outside the model's
  domain (listed in each docstring: e.g. a negative or fractional ``frequency``,
  ``recency > T``, a non-finite value) gives NaN for that row alone; every other row is
  computed. Valid inputs always give finite values: no ``inf`` is ever returned, and no
  warning is emitted (numpy floating-point warnings are silenced inside). Callers that need
  "no value" can use ``numpy.isnan`` / ``pandas.isna`` (NaN becomes NULL in DuckDB/Arrow).
* Fitting functions raise ``ValueError`` on invalid rows instead of silently dropping them,
  except for the documented Gamma-Gamma filter (``frequency > 0`` and ``monetary_value > 0``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import integrate, optimize, special

__all__ = [
    "FitResult",
    "RFMSummary",
    "bgnbd_expected_purchases",
    "bgnbd_expected_purchases_new",
    "bgnbd_log_likelihood",
    "bgnbd_p_alive",
    "discounted_clv",
    "expected_purchases",
    "expected_purchases_new",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_nbd",
    "gamma_gamma_expected_spend",
    "gamma_gamma_log_likelihood",
    "nbd_expected_purchases",
    "nbd_expected_purchases_new",
    "nbd_log_likelihood",
    "p_alive",
    "purchase_model",
    "summarize_transactions",
]

FloatArray = NDArray[np.float64]
Result = float | FloatArray

BGNBD_PARAMS = ("r", "alpha", "a", "b")
NBD_PARAMS = ("r", "alpha")
GAMMA_GAMMA_PARAMS = ("p", "q", "v")

#: Length of one discounting step of :func:`discounted_clv`, in days (lifetimes' "month").
CLV_STEP_DAYS = 30.0

# Box for the log-parameters during optimisation (on the internally rescaled problem). A
# parameter that ends within _BOUND_TOL of it "ran off to a bound": converged=False.
_LOG_BOUND = 18.0
_BOUND_TOL = 1e-3
# Largest gradient norm (of the mean log-likelihood per customer, in log-parameters) still
# accepted as a stationary point.
_GRAD_TOL = 1e-5
# Smallest accepted eigenvalue of the Hessian of the mean negative log-likelihood (in
# log-parameters) at the optimum; below it the likelihood is flat in some direction (the CDNOW
# fits have 3e-3, a data set without repeat buyers 1e-10). Step of its finite differences.
_MIN_CURVATURE = 1e-7
_HESS_STEP = 1e-3
# BG/NBD -> NBD fallback (fit_bgnbd): the BG/NBD end point counts as "at the no-dropout
# boundary" when the mean dropout probability a/(a+b) is below _NO_DROPOUT_MEAN, and the NBD
# (the limit) is accepted when its log-likelihood (a sum over customers) is within
# _NBD_LL_TOL of the BG/NBD's best (at the boundary the NBD's is the supremum).
_NO_DROPOUT_MEAN = 1e-4
_NBD_LL_TOL = 0.01


@dataclass(frozen=True)
class FitResult:
    """Outcome of a maximum-likelihood fit.

    Attributes:
        params: estimates in the caller's units (BG/NBD: r, alpha, a, b with ``alpha`` in the
            time unit of ``recency``/``T``; Gamma-Gamma: p, q, v with ``v`` in money units).
        log_likelihood: maximised log-likelihood, sum over the customers used (weighted),
            in the caller's units (comparable with published values).
        n: number of customers used (sum of the weights).
        converged: True only if the end point is a stationary point (gradient norm below 1e-5
            per customer), no parameter is at the search box bound exp(+-18) and the Hessian is
            positive definite (smallest eigenvalue above 1e-7 per customer, so the parameters
            are identified).
        message: what happened, in words (including rows excluded by a documented filter).
        model: which model ``params`` belong to: ``"bgnbd"``, ``"nbd"`` or ``"gamma_gamma"``.
            :func:`fit_bgnbd` returns ``"nbd"`` (params r, alpha only) when the BG/NBD
            likelihood is maximal at its no-dropout limit (see :func:`fit_bgnbd`); the
            purchase-model functions (:func:`expected_purchases`, :func:`p_alive`,
            :func:`discounted_clv`) dispatch on it; ``"mbgnbd"`` and ``"pareto_nbd"`` are the
            models of :mod:`spendlens.clv_purchase_models`.
        std_errors: asymptotic standard errors of ``params`` (inverse Hessian of the negative
            log-likelihood, delta method from log-parameters), in the same units; empty when
            not computed (see :func:`spendlens.clv_purchase_models.standard_errors`), NaN where
            the Hessian is not positive definite.
        log_covariance: the asymptotic covariance matrix of the log-parameters (inverse
            Hessian of the negative log-likelihood in ln params, rows and columns in the order
            of ``params``); empty when not computed or not positive definite. Used to draw
            parameter sets for the intervals (:mod:`spendlens.clv_intervals`).
    """

    params: dict[str, float]
    log_likelihood: float
    n: int
    converged: bool
    message: str
    model: str = ""
    std_errors: dict[str, float] = field(default_factory=dict)
    log_covariance: tuple[tuple[float, ...], ...] = ()


@dataclass(frozen=True)
class RFMSummary:
    """Per-customer calibration summary, as built by :func:`summarize_transactions`.

    Attributes:
        customer_id: the distinct customer ids (sorted).
        frequency: number of repeat purchase periods (distinct purchase days minus one).
        recency: time from the first to the last purchase.
        T: time from the first purchase to the end of the observation period.
        monetary_value: mean spend per repeat purchase period, first purchase excluded; 0 when
            ``frequency`` is 0 (as in lifetimes).
    """

    customer_id: np.ndarray
    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    monetary_value: FloatArray


# --------------------------------------------------------------------------------------------
# helpers


def _unpack(params: Mapping[str, float] | FitResult, names: tuple[str, ...]) -> list[float]:
    values = params.params if isinstance(params, FitResult) else params
    out = []
    for name in names:
        if name not in values:
            raise ValueError(f"missing parameter {name!r}; expected {', '.join(names)}")
        value = float(values[name])
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"parameter {name}={value!r} must be finite and > 0")
        out.append(value)
    return out


def _floats(*arrays: ArrayLike) -> tuple[bool, list[FloatArray]]:
    """Broadcast inputs to float64 arrays; report whether they were all scalars."""
    raw = [np.asarray(a, dtype=np.float64) for a in arrays]
    scalar = all(a.ndim == 0 for a in raw)
    return scalar, [np.atleast_1d(a) for a in np.broadcast_arrays(*raw)]


def _finish(out: FloatArray, scalar: bool) -> Result:
    return float(out.reshape(-1)[0]) if scalar else out


def _is_count(x: FloatArray) -> NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        return np.isfinite(x) & (x >= 0) & (x == np.round(x))


def _valid_bgnbd_rows(x: FloatArray, tx: FloatArray, T: FloatArray) -> NDArray[np.bool_]:
    """Domain of the BG/NBD: x a count, 0 <= t_x <= T, all finite (t_x = 0 needed if x = 0)."""
    with np.errstate(invalid="ignore"):
        return (
            _is_count(x)
            & np.isfinite(tx)
            & np.isfinite(T)
            & (tx >= 0)
            & (tx <= T)
            & ((x > 0) | (tx == 0))
        )


def _log_p_alive_odds(
    r: float, alpha: float, a: float, b: float, x: FloatArray, tx: FloatArray, T: FloatArray
) -> FloatArray:
    """ln of a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x) for x > 0, -inf for x = 0."""
    xs = np.maximum(x, 1.0)
    val = (
        np.log(a)
        - np.log(b + xs - 1.0)
        + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
    )
    return np.where(x > 0, val, -np.inf)


# --------------------------------------------------------------------------------------------
# BG/NBD


def _bgnbd_ll_rows(
    r: float,
    alpha: float,
    a: float,
    b: float,
    x: FloatArray,
    tx: FloatArray,
    T: FloatArray,
    with_grad: bool = False,
) -> tuple[FloatArray, FloatArray | None]:
    """Per-row log-likelihood and (optionally) its gradient in (ln r, ln alpha, ln a, ln b)."""
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + x) - special.betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = _log_p_alive_odds(r, alpha, a, b, x, tx, T) + a3  # ln a - ln(b+x-1) - (r+x) ln(alpha+t_x)
    lse = np.logaddexp(a3, a4)
    ll = a1 + a2 + lse
    if not with_grad:
        return ll, None
    w4 = np.exp(a4 - lse)  # share of the "dropped out after the last purchase" branch
    w3 = np.exp(a3 - lse)
    xs = np.maximum(x, 1.0)
    d_r = (
        special.digamma(r + x)
        - special.digamma(r)
        + np.log(alpha)
        - w3 * np.log(alpha + T)
        - w4 * np.log(alpha + tx)
    )
    d_alpha = r / alpha - (r + x) * (w3 / (alpha + T) + w4 / (alpha + tx))
    dg_ab = special.digamma(a + b) - special.digamma(a + b + x)
    d_a = dg_ab + w4 / a
    d_b = dg_ab + special.digamma(b + x) - special.digamma(b) - w4 / (b + xs - 1.0)
    grad = np.stack([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
    return ll, grad


def bgnbd_log_likelihood(
    params: Mapping[str, float] | FitResult,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> Result:
    r"""Per-customer BG/NBD log-likelihood (paper eq. 6, section 7 of the paper's appendix).

    .. math::

        \ln L = \ln\frac{\Gamma(r+x)\,\alpha^r}{\Gamma(r)}
              + \ln\frac{B(a, b+x)}{B(a, b)}
              + \ln\Big[(\alpha+T)^{-(r+x)}
                 + \delta_{x>0}\,\frac{a}{b+x-1}\,(\alpha+t_x)^{-(r+x)}\Big]

    The last term is evaluated with log-sum-exp. Rows outside the domain (see
    :func:`bgnbd_p_alive`) give NaN.
    """
    r, alpha, a, b = _unpack(params, BGNBD_PARAMS)
    scalar, (x, tx, T_) = _floats(frequency, recency, T)
    ok = _valid_bgnbd_rows(x, tx, T_)
    out = np.full(x.shape, np.nan)
    with np.errstate(all="ignore"):
        ll, _ = _bgnbd_ll_rows(r, alpha, a, b, x[ok], tx[ok], T_[ok])
    out[ok] = ll
    return _finish(out, scalar)


def _compress(
    columns: list[FloatArray], weights: FloatArray
) -> tuple[list[FloatArray], FloatArray]:
    """Merge identical rows, summing their weights (the likelihood only depends on the row)."""
    stacked = np.column_stack(columns)
    uniq, inverse = np.unique(stacked, axis=0, return_inverse=True)
    w = np.bincount(inverse.reshape(-1), weights=weights, minlength=len(uniq))
    keep = w > 0
    return [uniq[keep, i] for i in range(uniq.shape[1])], w[keep]


def _weights(weights: ArrayLike | None, shape: tuple[int, ...]) -> FloatArray:
    if weights is None:
        return np.ones(shape)
    w = np.broadcast_to(np.asarray(weights, dtype=np.float64), shape).astype(np.float64)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and >= 0")
    return w


def _describe_bad(mask: NDArray[np.bool_], what: str) -> str:
    idx = np.flatnonzero(~mask)
    head = ", ".join(str(i) for i in idx[:5])
    more = "" if len(idx) <= 5 else f", ... ({len(idx)} rows)"
    return f"{len(idx)} row(s) outside the domain ({what}); first positions: {head}{more}"


def _maximise(
    value_only: Callable[[FloatArray], float],
    objective: Callable[[FloatArray], tuple[float, FloatArray]],
    starts: list[FloatArray],
    names: tuple[str, ...],
) -> tuple[FloatArray, float, bool, str]:
    """Minimise a mean negative log-likelihood over log-parameters.

    From each start: L-BFGS-B with the analytic gradient (``objective`` returns value and
    gradient). If that does not end at a clean stationary point inside the box, Nelder-Mead
    (value only, robust far from the optimum) is run from the same start and L-BFGS-B
    polishes its end point. The best end point wins; the loop stops early once two starts
    end at the same value. Returns (log-params, value, converged, message).
    """
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(names)

    def lbfgsb(x0: FloatArray) -> optimize.OptimizeResult:
        return optimize.minimize(
            objective,
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 3000, "ftol": 1e-15, "gtol": 1e-10},
        )

    def diagnose(theta: FloatArray, fun: float) -> tuple[bool, float, list[str]]:
        _, grad = objective(theta)
        gnorm = float(np.linalg.norm(grad))
        at_bound = [n for n, t in zip(names, theta, strict=True)
                    if abs(t) > _LOG_BOUND - _BOUND_TOL]
        clean = bool(np.isfinite(fun) and np.isfinite(gnorm) and gnorm <= _GRAD_TOL)
        return clean and not at_bound, gnorm, at_bound

    best: tuple[FloatArray, float, str] | None = None
    for x0 in starts:
        with np.errstate(all="ignore"):
            res = lbfgsb(x0)
            cand = (res.x, float(res.fun), str(res.message))
            if not diagnose(*cand[:2])[0]:
                nm = optimize.minimize(
                    value_only,
                    x0,
                    method="Nelder-Mead",
                    bounds=bounds,
                    options={"maxiter": 4000, "maxfev": 8000, "xatol": 1e-4, "fatol": 1e-10},
                )
                if np.isfinite(nm.fun):
                    res = lbfgsb(nm.x)
                    polished = (res.x, float(res.fun), f"Nelder-Mead, then {res.message}")
                    if np.isfinite(polished[1]) and not polished[1] > cand[1]:
                        cand = polished
        if not np.isfinite(cand[1]):
            continue
        if best is not None and abs(cand[1] - best[1]) <= 1e-10 * (1.0 + abs(best[1])):
            best = cand if cand[1] < best[1] else best
            break  # two starts reached the same optimum: no need for more
        if best is None or cand[1] < best[1]:
            best = cand
    if best is None:
        return starts[0], np.inf, False, "the log-likelihood is not finite at any start point"
    theta, fun, how = best
    with np.errstate(all="ignore"):
        ok, gnorm, at_bound = diagnose(theta, fun)
    if at_bound:
        return (
            theta,
            fun,
            False,
            f"parameter(s) ran off to the search bound exp(+-{_LOG_BOUND:g}): "
            f"{', '.join(at_bound)}; the data do not identify the model "
            "(e.g. too few repeat customers)",
        )
    if not ok:
        return (
            theta,
            fun,
            False,
            f"optimiser stopped away from a stationary point (|gradient| = {gnorm:.3g}): {how}",
        )
    with np.errstate(all="ignore"):
        curvature = _min_curvature(objective, theta)
    if not curvature > _MIN_CURVATURE:
        return (
            theta,
            fun,
            False,
            f"the likelihood is flat at the optimum (smallest Hessian eigenvalue {curvature:.2g} "
            "per customer): the parameters are not identified by these data (e.g. no repeat "
            "customers); do not use them",
        )
    return (
        theta,
        fun,
        True,
        f"converged (|gradient| = {gnorm:.2g}, smallest Hessian eigenvalue {curvature:.2g} "
        "per customer)",
    )


def _min_curvature(
    objective: Callable[[FloatArray], tuple[float, FloatArray]], theta: FloatArray
) -> float:
    """Smallest eigenvalue of the Hessian (central differences of the analytic gradient)."""
    k = len(theta)
    hess = np.empty((k, k))
    for i in range(k):
        step = np.zeros(k)
        step[i] = _HESS_STEP
        hess[:, i] = (objective(theta + step)[1] - objective(theta - step)[1]) / (2 * _HESS_STEP)
    hess = 0.5 * (hess + hess.T)
    if not np.all(np.isfinite(hess)):
        return float("nan")
    return float(np.linalg.eigvalsh(hess)[0])


def fit_bgnbd(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
    nbd_fallback: bool = True,
) -> FitResult:
    r"""Fit the BG/NBD model by maximum likelihood.

    Maximises :math:`\sum_i w_i \ln L(r, \alpha, a, b \mid x_i, t_{x,i}, T_i)` (see
    :func:`bgnbd_log_likelihood`) over :math:`\ln r, \ln\alpha, \ln a, \ln b` (so every
    parameter stays > 0) with analytic gradients: L-BFGS-B (Nelder-Mead first where that
    fails) from up to three start points, stopping once two agree; best kept. Internally
    time is rescaled so that the largest ``T`` is 10 (``alpha`` scales with time, the other
    parameters are unit-free), identical rows are merged into weights, and the objective is
    the mean per customer; the returned ``alpha`` and log-likelihood are in the caller's time
    unit.

    Args:
        frequency: repeat purchases x (a non-negative integer per customer).
        recency: t_x, time of the last purchase since the first (0 when x = 0).
        T: time from the first purchase to the end of calibration (T >= t_x).
        weights: optional number of customers each row stands for (default 1 each).
        nbd_fallback: fall back to the NBD at the no-dropout limit (below).

    **No-dropout limit.** When p ~ Beta(a, b) concentrates at 0 (a -> 0 and/or b -> inf,
    mean a/(a+b) -> 0), the BG/NBD likelihood tends to the NBD's (:func:`nbd_log_likelihood`):
    nobody drops out. If the data put the maximum there, the BG/NBD fit cannot converge (the
    supremum is not attained, the parameters run off). With ``nbd_fallback`` (default), a
    fit that did not converge is replaced by :func:`fit_nbd` when (1) the BG/NBD end point has
    a/(a+b) < 1e-4 and (2) the NBD fit converges with a log-likelihood within 0.01 of the
    BG/NBD end point's (the NBD's is the supremum being approached). The result then has
    ``model="nbd"``, params r and alpha only, ``converged=True`` and a message starting with
    ``"no dropout: NBD limit"`` that gives both log-likelihoods. Any other non-convergence is
    returned as is (``model="bgnbd"``, ``converged=False``).

    Raises:
        ValueError: on an empty input, on rows outside the domain (listed), or if every T is 0.
    """
    _, (x, tx, T_) = _floats(frequency, recency, T)
    w = _weights(weights, x.shape)
    ok = _valid_bgnbd_rows(x, tx, T_)
    if not np.all(ok):
        raise ValueError(
            "fit_bgnbd: "
            + _describe_bad(ok, "frequency a count >= 0, 0 <= recency <= T, recency 0 if "
                            "frequency 0, all finite")
        )
    if x.size == 0 or w.sum() <= 0:
        raise ValueError("fit_bgnbd: no customers to fit")
    t_max = float(T_[w > 0].max())
    if t_max <= 0:
        raise ValueError("fit_bgnbd: every T is 0, the data hold no observation time")
    scale = 10.0 / t_max
    (cx, ctx, cT), cw = _compress([x, tx * scale, T_ * scale], w)
    total = float(cw.sum())

    def value_only(theta: FloatArray) -> float:
        r, alpha, a, b = np.exp(theta)
        val = -float(cw @ _bgnbd_ll_rows(r, alpha, a, b, cx, ctx, cT)[0]) / total
        return val if np.isfinite(val) else np.inf

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        r, alpha, a, b = np.exp(theta)
        ll, grad = _bgnbd_ll_rows(r, alpha, a, b, cx, ctx, cT, with_grad=True)
        assert grad is not None
        val = -float(cw @ ll) / total
        if not np.isfinite(val):
            return np.inf, np.zeros_like(theta)
        return val, -(grad @ cw) / total

    starts = [np.log(s) for s in ([1.0, 1.0, 1.0, 1.0], [0.25, 4.0, 0.8, 2.5], [2.0, 0.5, 0.2, 5.0])]
    theta, _, converged, message = _maximise(value_only, objective, starts, BGNBD_PARAMS)
    r, alpha_s, a, b = (float(v) for v in np.exp(theta))
    params = {"r": r, "alpha": alpha_s / scale, "a": a, "b": b}
    with np.errstate(all="ignore"):
        ll, _ = _bgnbd_ll_rows(r, alpha_s / scale, a, b, x, tx, T_)
    log_lik = float(w @ ll)
    converged = converged and math.isfinite(log_lik)
    if not converged and nbd_fallback and math.isfinite(log_lik):
        dropout_mean = a / (a + b)
        if dropout_mean < _NO_DROPOUT_MEAN:
            nbd = fit_nbd(x, T_, w)
            if nbd.converged and abs(nbd.log_likelihood - log_lik) <= _NBD_LL_TOL:
                return FitResult(
                    nbd.params,
                    nbd.log_likelihood,
                    nbd.n,
                    True,
                    f"no dropout: NBD limit (BG/NBD end point a/(a+b) = {dropout_mean:.2g}, "
                    f"log-likelihood {log_lik:.6f}; NBD log-likelihood "
                    f"{nbd.log_likelihood:.6f}); NBD {nbd.message}",
                    "nbd",
                )
            message += (
                f"; the end point is near the no-dropout limit (a/(a+b) = {dropout_mean:.2g}) "
                f"but the NBD fit does not match it (NBD converged={nbd.converged}, "
                f"log-likelihood {nbd.log_likelihood:.6f} vs {log_lik:.6f})"
            )
    return FitResult(params, log_lik, int(round(w.sum())), converged, message, "bgnbd")


def bgnbd_p_alive(
    params: Mapping[str, float] | FitResult,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> Result:
    r"""Probability that a customer is still alive at T (Fader, Hardie & Lee 2008, note 021).

    .. math::

        P(\text{alive} \mid x, t_x, T) =
            \frac{1}{1 + \delta_{x>0}\,\frac{a}{b+x-1}
                  \left(\frac{\alpha+T}{\alpha+t_x}\right)^{r+x}}

    equal to 1 for x = 0 (in the BG/NBD a customer can only drop out right after a repeat
    purchase). Computed as ``expit(-log odds)``, so it never overflows.

    NaN rows: frequency not a non-negative integer; recency < 0 or > T; recency != 0 when
    frequency is 0; any non-finite input.
    """
    r, alpha, a, b = _unpack(params, BGNBD_PARAMS)
    scalar, (x, tx, T_) = _floats(frequency, recency, T)
    ok = _valid_bgnbd_rows(x, tx, T_)
    out = np.full(x.shape, np.nan)
    with np.errstate(all="ignore"):
        out[ok] = special.expit(-_log_p_alive_odds(r, alpha, a, b, x[ok], tx[ok], T_[ok]))
    return _finish(out, scalar)


def _one_minus_hyp_term(
    r: float, alpha: float, a: float, b: float, t: FloatArray, x: FloatArray, T: FloatArray
) -> FloatArray:
    r"""1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t)).

    Uses scipy's hyp2f1 directly and, where that is not finite, Euler's transformation
    2F1(A,B;C;z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z), which turns the term into
    (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z) (lifetimes uses the same fallback).
    """
    A = r + x
    B = b + x
    C = a + b + x - 1.0
    log1mz = np.log(alpha + T) - np.log(alpha + T + t)  # ln(1-z)
    z = t / (alpha + T + t)
    direct = np.exp(A * log1mz) * special.hyp2f1(A, B, C, z)
    euler = np.exp((a - 1.0) * log1mz) * special.hyp2f1(C - A, C - B, C, z)
    term = np.where(np.isfinite(direct), direct, euler)
    return 1.0 - term


def _cond_mean_quad(
    r: float, alpha: float, a: float, b: float, t: float, x: float, T: float
) -> float:
    r"""E[Y(t) | x, T, alive at T] by quadrature (last resort where the closed form fails).

    Alive at T, the posterior is lambda ~ Gamma(r+x, alpha+T) independent of
    p ~ Beta(a, b+x), and E[Y(t) | lambda, p] = (1 - exp(-lambda p t)) / p, so

    .. math:: E = E_{p \sim \text{Beta}(a, b+x)}\Big[\frac{1}{p}
                  \Big(1-\big(\tfrac{\alpha+T}{\alpha+T+pt}\big)^{r+x}\Big)\Big]

    integrated over the Beta quantile u (p = I^{-1}_u(a, b+x)), where the integrand is
    bounded and monotone.
    """
    if t <= 0:
        return 0.0
    s = alpha + T
    k = r + x
    bx = b + x

    def g(u: float) -> float:
        p = float(special.betaincinv(a, bx, u))
        if p <= 0:
            return k * t / s
        return -math.expm1(-k * math.log1p(p * t / s)) / p

    u0 = float(special.betainc(a, bx, min(s / t, 1.0)))
    points = [u0] if 0 < u0 < 1 else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        val, _ = integrate.quad(g, 0.0, 1.0, points=points, epsabs=0.0, epsrel=1e-10, limit=500)
    return float(val)


def _closed_form_alive(
    r: float, alpha: float, a: float, b: float, t: FloatArray, x: FloatArray, T: FloatArray
) -> FloatArray:
    """(a+b+x-1)/(a-1) * [1 - hyp term]; where scipy's hyp2f1 gives NaN at (near-)integer
    parameters, the mean of the values at a -+ 1e-7 a."""
    out = (a + b + x - 1.0) / (a - 1.0) * _one_minus_hyp_term(r, alpha, a, b, t, x, T)
    bad = ~np.isfinite(out) | (out < 0)
    if np.any(bad):
        vals = []
        for a_ in (a * (1.0 - 1e-7), a * (1.0 + 1e-7)):
            vals.append((a_ + b + x[bad] - 1.0) / (a_ - 1.0)
                        * _one_minus_hyp_term(r, alpha, a_, b, t[bad], x[bad], T[bad]))
        out[bad] = 0.5 * (vals[0] + vals[1])
    return out


def _series_alive(
    r: float, alpha: float, a: float, b: float, t: FloatArray, x: FloatArray, T: FloatArray
) -> tuple[FloatArray, NDArray[np.bool_]]:
    r"""Eq. 10 without P(alive) as a power series in w = -t/(alpha+T), for |w| <= 1/2.

    Pfaff's transformation turns the bracket into 1 - 2F1(r+x, a-1; a+b+x-1; w), so with
    C = a+b+x-1 and A = r+x

    .. math:: E = -\sum_{n\ge1} e_n,\quad e_1 = A w,\quad
              e_n = e_{n-1}\,\frac{(A+n-1)(a+n-2)}{(C+n-1)\,n}\,w

    which has no 1/(a-1) and no "1 - almost 1" cancellation (small t, a near 1). Returns the
    values and a mask of rows where the series converged without losing more than 4 digits
    to cancellation (other rows use the closed form).
    """
    A = r + x
    C = a + b + x - 1.0
    w = -t / (alpha + T)
    term = A * w
    total = term.copy()
    peak = np.abs(term)
    for n in range(2, 400):
        term = term * ((A + n - 1.0) * (a + n - 2.0) * w / ((C + n - 1.0) * n))
        total += term
        peak = np.maximum(peak, np.abs(term))
        if np.all(np.abs(term) <= 1e-17 * np.abs(total)):
            break
    ok = (
        np.isfinite(total)
        & (np.abs(term) <= 1e-16 * np.abs(total))
        & (peak <= 1e4 * np.abs(total))
    )
    return -total, ok


def _cond_mean_alive(
    r: float, alpha: float, a: float, b: float, t: FloatArray, x: FloatArray, T: FloatArray
) -> FloatArray:
    """E[purchases in (T, T+t] | alive at T, x, T]: eq. 10 of the paper without P(alive).

    Rows with t <= (alpha+T)/2 use the power series of :func:`_series_alive` where it
    converges cleanly. The others use the closed form with scipy's hyp2f1; there, near a = 1
    the factor 1/(a-1) and the bracket cancel (removable singularity, relative error
    ~1e-16/|a-1|), so for |a-1| < 1e-4 the value is interpolated linearly between
    a = 1 -+ 1e-4 (error ~1e-8 relative). Rows still not finite (hyp2f1 failing) are
    integrated numerically (:func:`_cond_mean_quad`).
    """
    out = np.full(t.shape, np.nan)
    small = t <= 0.5 * (alpha + T)
    if np.any(small):
        vals, ok = _series_alive(r, alpha, a, b, t[small], x[small], T[small])
        idx = np.flatnonzero(small)[ok]
        out[idx] = vals[ok]
    rest = np.isnan(out)
    if np.any(rest):
        tr, xr, Tr = t[rest], x[rest], T[rest]
        h = 1e-4
        if abs(a - 1.0) < h:
            lo = _closed_form_alive(r, alpha, 1.0 - h, b, tr, xr, Tr)
            hi = _closed_form_alive(r, alpha, 1.0 + h, b, tr, xr, Tr)
            out[rest] = lo + (hi - lo) * (a - (1.0 - h)) / (2.0 * h)
        else:
            out[rest] = _closed_form_alive(r, alpha, a, b, tr, xr, Tr)
    for i in np.flatnonzero(~np.isfinite(out) | (out < 0)):
        out[i] = _cond_mean_quad(r, alpha, a, b, float(t[i]), float(x[i]), float(T[i]))
    return np.where(t > 0, np.maximum(out, 0.0), 0.0)


def bgnbd_expected_purchases(
    params: Mapping[str, float] | FitResult,
    t: ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> Result:
    r"""Conditional expected number of purchases in (T, T+t] (paper eq. 10).

    .. math::

        E[Y(t) \mid x, t_x, T] =
          \frac{a+b+x-1}{a-1}
          \left[1 - \left(\frac{\alpha+T}{\alpha+T+t}\right)^{r+x}
                {}_2F_1\!\left(r+x, b+x; a+b+x-1; \frac{t}{\alpha+T+t}\right)\right]
          \cdot P(\text{alive} \mid x, t_x, T)

    ``t`` is in the same time unit as ``recency``/``T`` and the fitted ``alpha``. The
    bracket is evaluated with scipy's ``hyp2f1``, with Euler's transformation where that
    overflows; the removable singularity at a = 1 is bridged by averaging a +- 1e-7, and any
    row still not finite is integrated numerically over p, so valid rows are always finite.
    Increasing in t; 0 at t = 0.

    NaN rows: as :func:`bgnbd_p_alive`, plus t < 0 or non-finite.
    """
    r, alpha, a, b = _unpack(params, BGNBD_PARAMS)
    scalar, (t_, x, tx, T_) = _floats(t, frequency, recency, T)
    with np.errstate(invalid="ignore"):
        ok = _valid_bgnbd_rows(x, tx, T_) & np.isfinite(t_) & (t_ >= 0)
    out = np.full(x.shape, np.nan)
    with np.errstate(all="ignore"):
        alive = special.expit(-_log_p_alive_odds(r, alpha, a, b, x[ok], tx[ok], T_[ok]))
        out[ok] = _cond_mean_alive(r, alpha, a, b, t_[ok], x[ok], T_[ok]) * alive
    return _finish(out, scalar)


def bgnbd_expected_purchases_new(params: Mapping[str, float] | FitResult, t: ArrayLike) -> Result:
    r"""Unconditional expected repeat purchases in (0, t] of a new customer (paper eq. 9).

    .. math::

        E[X(t)] = \frac{a+b-1}{a-1}
          \left[1 - \left(\frac{\alpha}{\alpha+t}\right)^{r}
                {}_2F_1\!\left(r, b; a+b-1; \frac{t}{\alpha+t}\right)\right]

    (eq. 10 with x = t_x = T = 0). For a cohort, compare with the mean repeat purchases of
    customers of age t. NaN where t < 0 or not finite.
    """
    scalar, (t_,) = _floats(t)
    zeros = np.zeros_like(t_)
    out = bgnbd_expected_purchases(params, t_, zeros, zeros, zeros)
    return _finish(np.asarray(out, dtype=np.float64), scalar)


# --------------------------------------------------------------------------------------------
# NBD (the BG/NBD without dropout)


def _valid_nbd_rows(x: FloatArray, T: FloatArray) -> NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        return _is_count(x) & np.isfinite(T) & (T >= 0)


def _nbd_ll_rows(
    r: float, alpha: float, x: FloatArray, T: FloatArray, with_grad: bool = False
) -> tuple[FloatArray, FloatArray | None]:
    """Per-row NBD log-likelihood and (optionally) its gradient in (ln r, ln alpha)."""
    log_aT = np.log(alpha + T)
    ll = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) - (r + x) * log_aT
    if not with_grad:
        return ll, None
    d_r = special.digamma(r + x) - special.digamma(r) + np.log(alpha) - log_aT
    d_alpha = r / alpha - (r + x) / (alpha + T)
    return ll, np.stack([d_r * r, d_alpha * alpha])


def nbd_log_likelihood(
    params: Mapping[str, float] | FitResult, frequency: ArrayLike, T: ArrayLike
) -> Result:
    r"""Per-customer NBD log-likelihood: Poisson purchases with rate
    :math:`\lambda \sim \text{Gamma}(r, \alpha)`, nobody drops out.

    .. math::

        \ln L = \ln\Gamma(r+x) - \ln\Gamma(r) + r\ln\alpha - (r+x)\ln(\alpha+T)

    This is the density of the x purchase times in (0, T] (the same data as the BG/NBD's, whose
    likelihood tends to this one as a/(a+b) -> 0; the two are directly comparable). It does
    not depend on t_x. NaN rows: frequency not a non-negative integer, T negative or not
    finite.
    """
    r, alpha = _unpack(params, NBD_PARAMS)
    scalar, (x, T_) = _floats(frequency, T)
    ok = _valid_nbd_rows(x, T_)
    out = np.full(x.shape, np.nan)
    with np.errstate(all="ignore"):
        out[ok] = _nbd_ll_rows(r, alpha, x[ok], T_[ok])[0]
    return _finish(out, scalar)


def fit_nbd(frequency: ArrayLike, T: ArrayLike, weights: ArrayLike | None = None) -> FitResult:
    r"""Fit the NBD by maximum likelihood (:func:`nbd_log_likelihood`).

    Same optimiser as :func:`fit_bgnbd`: ln r, ln alpha with analytic gradients, L-BFGS-B
    (Nelder-Mead first where that fails), up to three starts, time rescaled so that max T = 10,
    identical rows merged, the same convergence checks. ``alpha`` and the log-likelihood are
    returned in the caller's time unit; ``model="nbd"``. Without any repeat purchase the
    likelihood grows as r -> 0 (converged=False). When every customer has the same purchase
    rate (under-dispersion), r -> inf: also reported as not converged.

    Raises:
        ValueError: on an empty input, rows outside the domain (listed), or every T being 0.
    """
    _, (x, T_) = _floats(frequency, T)
    w = _weights(weights, x.shape)
    ok = _valid_nbd_rows(x, T_)
    if not np.all(ok):
        raise ValueError("fit_nbd: " + _describe_bad(ok, "frequency a count >= 0, T >= 0, finite"))
    if x.size == 0 or w.sum() <= 0:
        raise ValueError("fit_nbd: no customers to fit")
    t_max = float(T_[w > 0].max())
    if t_max <= 0:
        raise ValueError("fit_nbd: every T is 0, the data hold no observation time")
    scale = 10.0 / t_max
    (cx, cT), cw = _compress([x, T_ * scale], w)
    total = float(cw.sum())

    def value_only(theta: FloatArray) -> float:
        r, alpha = np.exp(theta)
        val = -float(cw @ _nbd_ll_rows(r, alpha, cx, cT)[0]) / total
        return val if np.isfinite(val) else np.inf

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        r, alpha = np.exp(theta)
        ll, grad = _nbd_ll_rows(r, alpha, cx, cT, with_grad=True)
        assert grad is not None
        val = -float(cw @ ll) / total
        if not np.isfinite(val):
            return np.inf, np.zeros_like(theta)
        return val, -(grad @ cw) / total

    starts = [np.log(s) for s in ([1.0, 1.0], [0.25, 4.0], [5.0, 0.5])]
    theta, _, converged, message = _maximise(value_only, objective, starts, NBD_PARAMS)
    r, alpha_s = (float(v) for v in np.exp(theta))
    params = {"r": r, "alpha": alpha_s / scale}
    with np.errstate(all="ignore"):
        log_lik = float(w @ _nbd_ll_rows(r, alpha_s / scale, x, T_)[0])
    return FitResult(params, log_lik, int(round(w.sum())), converged and math.isfinite(log_lik),
                     message, "nbd")


def nbd_expected_purchases(
    params: Mapping[str, float] | FitResult, t: ArrayLike, frequency: ArrayLike, T: ArrayLike
) -> Result:
    r"""Conditional expected purchases in (T, T+t] under the NBD.

    The posterior of the rate after x purchases in (0, T] is Gamma(r+x, alpha+T), and nobody
    drops out, so

    .. math:: E[X(T, T+t) \mid x, T] = \frac{r + x}{\alpha + T}\, t

    NaN rows: frequency not a non-negative integer, T < 0, t < 0, any non-finite input.
    """
    r, alpha = _unpack(params, NBD_PARAMS)
    scalar, (t_, x, T_) = _floats(t, frequency, T)
    with np.errstate(invalid="ignore"):
        ok = _valid_nbd_rows(x, T_) & np.isfinite(t_) & (t_ >= 0)
    out = np.full(x.shape, np.nan)
    out[ok] = (r + x[ok]) / (alpha + T_[ok]) * t_[ok]
    return _finish(out, scalar)


def nbd_expected_purchases_new(params: Mapping[str, float] | FitResult, t: ArrayLike) -> Result:
    r"""Unconditional expected purchases in (0, t] of a new customer under the NBD:
    :math:`E[X(t)] = r t / \alpha`. NaN where t < 0 or not finite."""
    scalar, (t_,) = _floats(t)
    zeros = np.zeros_like(t_)
    return _finish(np.asarray(nbd_expected_purchases(params, t_, zeros, zeros)), scalar)


# --------------------------------------------------------------------------------------------
# purchase model dispatch (BG/NBD or its no-dropout limit, the NBD)


def purchase_model(params: Mapping[str, float] | FitResult) -> str:
    """``"bgnbd"``, ``"nbd"``, ``"mbgnbd"`` or ``"pareto_nbd"``: the model of a
    :class:`FitResult` (its ``model`` field), or of a mapping (``"pareto_nbd"`` if it has ``s``
    or ``beta``, ``"bgnbd"`` if it has ``a`` or ``b``, else ``"nbd"``; an MBG/NBD must be
    passed as a :class:`FitResult` with ``model="mbgnbd"``)."""
    if isinstance(params, FitResult) and params.model in _PURCHASE_MODEL_NAMES:
        return params.model
    values = params.params if isinstance(params, FitResult) else params
    if "s" in values or "beta" in values:
        return "pareto_nbd"
    return "bgnbd" if ("a" in values or "b" in values) else "nbd"


_PURCHASE_MODEL_NAMES = ("bgnbd", "nbd", "mbgnbd", "pareto_nbd")


def p_alive(
    params: Mapping[str, float] | FitResult,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> Result:
    """P(alive at T): :func:`bgnbd_p_alive`, 1 under the NBD (nobody drops out), or the
    MBG/NBD's or Pareto/NBD's (:mod:`spendlens.clv_purchase_models`). The NaN rows are the
    BG/NBD's for every model (the same summary is valid for all)."""
    kind = purchase_model(params)
    if kind == "bgnbd":
        return bgnbd_p_alive(params, frequency, recency, T)
    if kind in ("mbgnbd", "pareto_nbd"):
        from spendlens import clv_purchase_models as pm

        fn = pm.mbgnbd_p_alive if kind == "mbgnbd" else pm.pareto_nbd_p_alive
        return fn(params, frequency, recency, T)
    _unpack(params, NBD_PARAMS)
    scalar, (x, tx, T_) = _floats(frequency, recency, T)
    return _finish(np.where(_valid_bgnbd_rows(x, tx, T_), 1.0, np.nan), scalar)


def expected_purchases(
    params: Mapping[str, float] | FitResult,
    t: ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> Result:
    """E[purchases in (T, T+t] | x, t_x, T]: :func:`bgnbd_expected_purchases`,
    :func:`nbd_expected_purchases` (t_x unused, but rows invalid for the BG/NBD are NaN), or
    the MBG/NBD's or Pareto/NBD's (:mod:`spendlens.clv_purchase_models`)."""
    kind = purchase_model(params)
    if kind == "bgnbd":
        return bgnbd_expected_purchases(params, t, frequency, recency, T)
    if kind in ("mbgnbd", "pareto_nbd"):
        from spendlens import clv_purchase_models as pm

        fn = (pm.mbgnbd_expected_purchases if kind == "mbgnbd"
              else pm.pareto_nbd_expected_purchases)
        return fn(params, t, frequency, recency, T)
    scalar, (t_, x, tx, T_) = _floats(t, frequency, recency, T)
    out = np.asarray(nbd_expected_purchases(params, t_, x, T_), dtype=np.float64)
    return _finish(np.where(_valid_bgnbd_rows(x, tx, T_), out, np.nan), scalar)


def expected_purchases_new(params: Mapping[str, float] | FitResult, t: ArrayLike) -> Result:
    """E[repeat purchases in (0, t]] of a new customer, for any purchase model."""
    kind = purchase_model(params)
    if kind == "bgnbd":
        return bgnbd_expected_purchases_new(params, t)
    if kind in ("mbgnbd", "pareto_nbd"):
        from spendlens import clv_purchase_models as pm

        fn = (pm.mbgnbd_expected_purchases_new if kind == "mbgnbd"
              else pm.pareto_nbd_expected_purchases_new)
        return fn(params, t)
    return nbd_expected_purchases_new(params, t)


# --------------------------------------------------------------------------------------------
# Gamma-Gamma


def _gg_ll_rows(
    p: float, q: float, v: float, x: FloatArray, m: FloatArray, with_grad: bool = False
) -> tuple[FloatArray, FloatArray | None]:
    px = p * x
    log_xm_v = np.log(x * m + v)
    ll = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * log_xm_v
    )
    if not with_grad:
        return ll, None
    dg = special.digamma(px + q)
    d_p = x * (dg - special.digamma(px) + np.log(m) + np.log(x) - log_xm_v)
    d_q = dg - special.digamma(q) + np.log(v) - log_xm_v
    d_v = q / v - (px + q) / (x * m + v)
    return ll, np.stack([d_p * p, d_q * q, d_v * v])


def gamma_gamma_log_likelihood(
    params: Mapping[str, float] | FitResult, frequency: ArrayLike, monetary_value: ArrayLike
) -> Result:
    r"""Per-customer Gamma-Gamma log-likelihood of the mean spend m over x transactions.

    .. math::

        \ln f(\bar m \mid x) = \ln\Gamma(px+q) - \ln\Gamma(px) - \ln\Gamma(q) + q\ln v
            + (px-1)\ln\bar m + px\ln x - (px+q)\ln(x\bar m + v)

    NaN rows: frequency not a positive integer, monetary_value not finite and > 0.
    """
    p, q, v = _unpack(params, GAMMA_GAMMA_PARAMS)
    scalar, (x, m) = _floats(frequency, monetary_value)
    with np.errstate(invalid="ignore"):
        ok = _is_count(x) & (x > 0) & np.isfinite(m) & (m > 0)
    out = np.full(x.shape, np.nan)
    with np.errstate(all="ignore"):
        out[ok] = _gg_ll_rows(p, q, v, x[ok], m[ok])[0]
    return _finish(out, scalar)


def fit_gamma_gamma(
    frequency: ArrayLike, monetary_value: ArrayLike, weights: ArrayLike | None = None
) -> FitResult:
    r"""Fit the Gamma-Gamma spend model by maximum likelihood.

    Only customers with ``frequency > 0`` and ``monetary_value > 0`` are used (the model is
    for the mean of x >= 1 positive transactions); the others are counted in ``message``.
    Maximises the sum of :func:`gamma_gamma_log_likelihood` over ln p, ln q, ln v with analytic
    gradients (L-BFGS-B, Nelder-Mead as a fallback, up to three starts). Money is rescaled
    internally so that the mean spend is 1; ``v`` and the log-likelihood are returned in the caller's money unit.
    The model's population mean spend v p / (q - 1) exists only if q > 1: the fit does not
    force that (q <= 1 is reported in ``message``), see :func:`gamma_gamma_expected_spend`.

    Raises:
        ValueError: frequency not a non-negative integer or not finite, monetary_value not
            finite where frequency > 0, or no customer left after the filter.
    """
    _, (x, m) = _floats(frequency, monetary_value)
    w = _weights(weights, x.shape)
    domain = _is_count(x) & (np.isfinite(m) | (x == 0))
    if not np.all(domain):
        raise ValueError(
            "fit_gamma_gamma: "
            + _describe_bad(domain, "frequency a count >= 0, monetary_value finite if frequency > 0")
        )
    with np.errstate(invalid="ignore"):
        use = (x > 0) & (m > 0) & (w > 0)
    dropped = int(np.count_nonzero((~use) & (w > 0)))
    if not np.any(use):
        raise ValueError("fit_gamma_gamma: no customer with frequency > 0 and monetary_value > 0")
    x, m, w = x[use], m[use], w[use]
    scale = 1.0 / float(np.average(m, weights=w))
    (cx, cm), cw = _compress([x, m * scale], w)
    total = float(cw.sum())

    def value_only(theta: FloatArray) -> float:
        p, q, v = np.exp(theta)
        val = -float(cw @ _gg_ll_rows(p, q, v, cx, cm)[0]) / total
        return val if np.isfinite(val) else np.inf

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        p, q, v = np.exp(theta)
        ll, grad = _gg_ll_rows(p, q, v, cx, cm, with_grad=True)
        assert grad is not None
        val = -float(cw @ ll) / total
        if not np.isfinite(val):
            return np.inf, np.zeros_like(theta)
        return val, -(grad @ cw) / total

    starts = [np.log(s) for s in ([1.0, 1.0, 1.0], [5.0, 3.0, 2.0], [0.5, 10.0, 10.0])]
    theta, _, converged, message = _maximise(value_only, objective, starts, GAMMA_GAMMA_PARAMS)
    p, q, v_s = (float(val) for val in np.exp(theta))
    params = {"p": p, "q": q, "v": v_s / scale}
    with np.errstate(all="ignore"):
        log_lik = float(w @ _gg_ll_rows(p, q, v_s / scale, x, m)[0])
    notes = [message]
    if dropped:
        notes.append(f"{dropped} customer(s) without frequency > 0 and monetary_value > 0 "
                     "left out")
    if q <= 1:
        notes.append(f"q = {q:.4g} <= 1: the population mean spend v p/(q-1) is undefined")
    return FitResult(params, log_lik, int(round(w.sum())), converged and math.isfinite(log_lik),
                     "; ".join(notes), "gamma_gamma")


def gamma_gamma_expected_spend(
    params: Mapping[str, float] | FitResult, frequency: ArrayLike, monetary_value: ArrayLike
) -> Result:
    r"""Conditional expected spend per transaction (Hardie's note 025, eq. 5).

    .. math::

        E[Z \mid x, \bar m] = \frac{q-1}{px+q-1}\cdot\frac{v p}{q-1}
                            + \frac{px}{px+q-1}\,\bar m
                            = \frac{p\,(v + x\bar m)}{px+q-1}

    a weighted average of the population mean v p/(q-1) and the customer's own mean spend.
    The right-hand form is used: it is the same number and it stays defined for x > 0 when
    q <= 1. For x = 0 ``monetary_value`` is ignored (may be 0 or NaN) and the population mean
    is returned.

    NaN rows: frequency not a non-negative integer; monetary_value negative or not finite when
    frequency > 0 (0 is accepted: it shrinks towards 0, as lifetimes does); p x + q - 1 <= 0,
    i.e. the conditional mean does not exist (all x = 0 rows when q <= 1).
    """
    p, q, v = _unpack(params, GAMMA_GAMMA_PARAMS)
    scalar, (x, m) = _floats(frequency, monetary_value)
    with np.errstate(invalid="ignore"):
        denom = p * x + q - 1.0
        ok = _is_count(x) & ((x == 0) | (np.isfinite(m) & (m >= 0))) & (denom > 0)
        m_used = np.where(x > 0, m, 0.0)
    out = np.full(x.shape, np.nan)
    with np.errstate(all="ignore"):
        out[ok] = p * (v + x[ok] * m_used[ok]) / denom[ok]
    return _finish(out, scalar)


# --------------------------------------------------------------------------------------------
# CLV


def discounted_clv(
    params_bgnbd: Mapping[str, float] | FitResult,
    params_gg: Mapping[str, float] | FitResult,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary_value: ArrayLike,
    horizon_days: float,
    annual_discount_rate: float,
    time_unit_days: float = 1.0,
) -> Result:
    r"""Discounted expected spend over the next ``horizon_days`` (lifetimes' CLV method).

    The horizon is cut into steps of 30 days (the last one shorter if ``horizon_days`` is not
    a multiple of 30), with ends :math:`s_k = \min(30k, H)` days:

    .. math::

        \text{CLV} = E[Z \mid x, \bar m] \sum_{k=1}^{K}
            \frac{E[Y(s_k)] - E[Y(s_{k-1})]}{(1 + d)^{s_k / 30}},
        \qquad d = (1 + d_{\text{annual}})^{1/12} - 1,\ K = \lceil H / 30 \rceil

    with :math:`E[Y(\cdot)]` from :func:`expected_purchases` (BG/NBD or NBD; times converted with
    ``time_unit_days``) and :math:`E[Z]` from :func:`gamma_gamma_expected_spend`. Purchases
    of a step are discounted at its end. For a horizon that is a multiple of 30 days this is
    exactly lifetimes 0.11.3 ``GammaGammaFitter.customer_lifetime_value(..., time=H/30,
    discount_rate=d, freq="D")``. Note: 12 steps are 360 days, so ``horizon_days=365`` has
    a 13th, 5-day step discounted by (1+d)^(365/30).

    Args:
        params_bgnbd: purchase-model parameters, BG/NBD or NBD (see :func:`purchase_model`;
            alpha in units of ``time_unit_days`` days).
        params_gg: Gamma-Gamma parameters.
        frequency, recency, T, monetary_value: the calibration summary (recency and T in units
            of ``time_unit_days`` days, e.g. 7 for weeks).
        horizon_days: length of the prediction period in days (> 0).
        annual_discount_rate: yearly discount rate (0.10 = 10 %), > -1.
        time_unit_days: days per time unit of recency/T/alpha.

    Returns:
        CLV per customer in money units, >= 0. NaN rows: any row NaN in
        :func:`expected_purchases` or :func:`gamma_gamma_expected_spend`.

    Raises:
        ValueError: horizon_days, annual_discount_rate or time_unit_days out of range.
    """
    if not (math.isfinite(horizon_days) and horizon_days > 0):
        raise ValueError(f"horizon_days={horizon_days!r} must be finite and > 0")
    if not (math.isfinite(annual_discount_rate) and annual_discount_rate > -1):
        raise ValueError(f"annual_discount_rate={annual_discount_rate!r} must be finite, > -1")
    if not (math.isfinite(time_unit_days) and time_unit_days > 0):
        raise ValueError(f"time_unit_days={time_unit_days!r} must be finite and > 0")
    scalar, (x, tx, T_, m) = _floats(frequency, recency, T, monetary_value)
    monthly = (1.0 + annual_discount_rate) ** (1.0 / 12.0) - 1.0
    n_steps = max(1, math.ceil(horizon_days / CLV_STEP_DAYS - 1e-9))
    ends = np.minimum(CLV_STEP_DAYS * np.arange(1, n_steps + 1), horizon_days)

    spend = np.asarray(gamma_gamma_expected_spend(params_gg, x, m), dtype=np.float64)
    total = np.zeros(x.shape)
    previous = np.zeros(x.shape)
    for end in ends:
        cum = np.asarray(
            expected_purchases(params_bgnbd, end / time_unit_days, x, tx, T_),
            dtype=np.float64,
        )
        total += (cum - previous) / (1.0 + monthly) ** (end / CLV_STEP_DAYS)
        previous = cum
    with np.errstate(invalid="ignore"):
        out = np.maximum(spend * total, 0.0)  # NaN stays NaN
    return _finish(out, scalar)


# --------------------------------------------------------------------------------------------
# summary


def summarize_transactions(
    customer_id: ArrayLike,
    date: ArrayLike,
    amount: ArrayLike,
    observation_end: str | np.datetime64,
    time_unit_days: float = 1.0,
) -> RFMSummary:
    """Build the calibration summary (frequency, recency, T, monetary_value) per customer.

    Transactions after ``observation_end`` are dropped; all lines of one customer on one day
    are one purchase (amounts summed). ``frequency`` = purchase days - 1, ``recency`` = last -
    first purchase day, ``T`` = ``observation_end`` - first purchase day (both divided by
    ``time_unit_days``), ``monetary_value`` = mean amount of the repeat purchase days (the
    first day excluded), 0 when frequency is 0. This is lifetimes'
    ``summary_data_from_transaction_data(..., freq="D")``.

    Args:
        customer_id: one id per transaction line (any sortable values).
        date: dates (``datetime64``, or ISO strings ``YYYY-MM-DD``); time of day is dropped.
        amount: spend per line (finite).
        observation_end: last day of the calibration period (inclusive).
        time_unit_days: output time unit in days (7 for weeks).
    """
    ids = np.asarray(customer_id)
    days = np.asarray(date).astype("datetime64[D]").astype(np.int64)
    amt = np.asarray(amount, dtype=np.float64)
    if not (ids.shape == days.shape == amt.shape and ids.ndim == 1):
        raise ValueError("customer_id, date and amount must be 1-d arrays of one length")
    if not np.all(np.isfinite(amt)):
        raise ValueError("amount must be finite")
    end = int(np.datetime64(observation_end, "D").astype(np.int64))
    keep = days <= end
    ids, days, amt = ids[keep], days[keep], amt[keep]
    uniq_ids, cust = np.unique(ids, return_inverse=True)
    cust = cust.reshape(-1)
    # one row per (customer, day), amounts summed
    day_key, day_idx = np.unique(np.column_stack([cust, days]), axis=0, return_inverse=True)
    day_amount = np.bincount(day_idx.reshape(-1), weights=amt, minlength=len(day_key))
    day_cust, day_day = day_key[:, 0], day_key[:, 1]  # sorted by customer, then day
    n = len(uniq_ids)
    starts = np.searchsorted(day_cust, np.arange(n), side="left")
    stops = np.searchsorted(day_cust, np.arange(n), side="right")
    first_day = day_day[starts]
    last_day = day_day[stops - 1]
    n_days = (stops - starts).astype(np.float64)
    total = np.bincount(day_cust, weights=day_amount, minlength=n)
    repeat_total = total - day_amount[starts]
    frequency = n_days - 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, repeat_total / frequency, 0.0)
    return RFMSummary(
        customer_id=uniq_ids,
        frequency=frequency,
        recency=(last_day - first_day) / time_unit_days,
        T=(end - first_day) / time_unit_days,
        monetary_value=monetary,
    )
