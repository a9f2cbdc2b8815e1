r"""MBG/NBD and Pareto/NBD purchase models, beside the BG/NBD of :mod:`spendlens.clv_model`.

Same data (``frequency`` x, ``recency`` t_x, ``T``), same conventions (see the module docstring
of :mod:`spendlens.clv_model`: parameters as a mapping or a :class:`~spendlens.clv_model.FitResult`,
NaN for rows outside the domain and only there, fits by maximum likelihood over log-parameters
with the shared optimiser and convergence checks). See ``docs/clv.md`` for the formulas.

* **MBG/NBD** (Batislam, Denizel & Filiztekin 2007): the BG/NBD, except that a customer can
  also drop out right after the *first* purchase (at time 0), with the same
  :math:`p \sim \text{Beta}(a, b)`. So P(alive) < 1 for one-time buyers, and it falls with T.
* **Pareto/NBD** (Schmittlein, Morrison & Colombo 1987): while alive, Poisson purchases with
  rate :math:`\lambda \sim \text{Gamma}(r, \alpha)`; an exponential lifetime with rate
  :math:`\mu \sim \text{Gamma}(s, \beta)`. Likelihood, P(alive) and conditional expectation as
  in Fader & Hardie's notes ("A note on deriving the Pareto/NBD model and related
  expressions", 2005; "Implementing the Pareto/NBD model", 2005), with the Gaussian
  hypergeometric function taken on the side of max(alpha, beta) so that its argument is in
  [0, 1).

:func:`standard_errors` gives asymptotic standard errors (inverse Hessian of the negative
log-likelihood, by the delta method from log-parameters) for any fitted model of the project.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from spendlens import clv_model as cm

__all__ = [
    "MBGNBD_PARAMS",
    "PARETO_NBD_PARAMS",
    "PURCHASE_MODELS",
    "fit_mbgnbd",
    "fit_pareto_nbd",
    "fit_purchase_model",
    "mbgnbd_expected_purchases",
    "mbgnbd_expected_purchases_new",
    "mbgnbd_log_likelihood",
    "mbgnbd_p_alive",
    "pareto_nbd_expected_purchases",
    "pareto_nbd_expected_purchases_new",
    "pareto_nbd_log_likelihood",
    "pareto_nbd_p_alive",
    "standard_errors",
    "with_uncertainty",
]

FloatArray = cm.FloatArray
Result = cm.Result
Params = Mapping[str, float] | cm.FitResult

MBGNBD_PARAMS = ("r", "alpha", "a", "b")
PARETO_NBD_PARAMS = ("r", "alpha", "s", "beta")
#: The purchase models a project can choose from (var clv_purchase_model), with their params.
PURCHASE_MODELS: dict[str, tuple[str, ...]] = {
    "bgnbd": cm.BGNBD_PARAMS,
    "mbgnbd": MBGNBD_PARAMS,
    "pareto_nbd": PARETO_NBD_PARAMS,
}
# Step (in log-parameters) of the finite differences: gradient of the Pareto/NBD objective and
# Hessian of the standard errors.
_GRAD_STEP = 1e-6
_SE_STEP = 1e-3


# --------------------------------------------------------------------------------------------
# MBG/NBD


def _mbgnbd_ll_rows(
    r: float, alpha: float, a: float, b: float, x: FloatArray, tx: FloatArray, T: FloatArray,
    with_grad: bool = False,
) -> tuple[FloatArray, FloatArray | None]:
    """Per-row MBG/NBD log-likelihood and (optionally) its gradient in log-parameters."""
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + x + 1.0) - special.betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.log(a) - np.log(b + x) - (r + x) * np.log(alpha + tx)
    lse = np.logaddexp(a3, a4)
    ll = a1 + a2 + lse
    if not with_grad:
        return ll, None
    w4 = np.exp(a4 - lse)
    w3 = np.exp(a3 - lse)
    d_r = (special.digamma(r + x) - special.digamma(r) + np.log(alpha)
           - w3 * np.log(alpha + T) - w4 * np.log(alpha + tx))
    d_alpha = r / alpha - (r + x) * (w3 / (alpha + T) + w4 / (alpha + tx))
    dg_ab = special.digamma(a + b) - special.digamma(a + b + x + 1.0)
    d_a = dg_ab + w4 / a
    d_b = dg_ab + special.digamma(b + x + 1.0) - special.digamma(b) - w4 / (b + x)
    return ll, np.stack([d_r * r, d_alpha * alpha, d_a * a, d_b * b])


def mbgnbd_log_likelihood(params: Params, frequency: ArrayLike, recency: ArrayLike,
                          T: ArrayLike) -> Result:
    r"""Per-customer MBG/NBD log-likelihood (Batislam et al. 2007, eq. 5).

    .. math::

        L = \frac{\Gamma(r+x)\,\alpha^r}{\Gamma(r)}\,\frac{B(a, b+x+1)}{B(a, b)}
            \Big[(\alpha+T)^{-(r+x)} + \frac{a}{b+x}\,(\alpha+t_x)^{-(r+x)}\Big]

    The second term (dropped out right after the last purchase) exists for x = 0 too. NaN rows
    as :func:`spendlens.clv_model.bgnbd_p_alive`.
    """
    r, alpha, a, b = cm._unpack(params, MBGNBD_PARAMS)
    scalar, (x, tx, T_) = cm._floats(frequency, recency, T)
    ok = cm._valid_bgnbd_rows(x, tx, T_)
    out = np.full(x.shape, np.nan)
    with np.errstate(all="ignore"):
        out[ok] = _mbgnbd_ll_rows(r, alpha, a, b, x[ok], tx[ok], T_[ok])[0]
    return cm._finish(out, scalar)


def _mbgnbd_log_odds(r: float, alpha: float, a: float, b: float, x: FloatArray,
                     tx: FloatArray, T: FloatArray) -> FloatArray:
    return np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))


def mbgnbd_p_alive(params: Params, frequency: ArrayLike, recency: ArrayLike,
                   T: ArrayLike) -> Result:
    r"""P(alive at T) under the MBG/NBD:

    .. math:: \Big[1 + \frac{a}{b+x}\Big(\frac{\alpha+T}{\alpha+t_x}\Big)^{r+x}\Big]^{-1}

    below 1 for every customer, one-time buyers (x = 0, t_x = 0) included, falling with T."""
    r, alpha, a, b = cm._unpack(params, MBGNBD_PARAMS)
    scalar, (x, tx, T_) = cm._floats(frequency, recency, T)
    ok = cm._valid_bgnbd_rows(x, tx, T_)
    out = np.full(x.shape, np.nan)
    with np.errstate(all="ignore"):
        out[ok] = special.expit(-_mbgnbd_log_odds(r, alpha, a, b, x[ok], tx[ok], T_[ok]))
    return cm._finish(out, scalar)


def mbgnbd_expected_purchases(params: Params, t: ArrayLike, frequency: ArrayLike,
                              recency: ArrayLike, T: ArrayLike) -> Result:
    r"""Conditional expected purchases in (T, T+t] under the MBG/NBD (Batislam et al., eq. 9).

    .. math::

        E[Y(t) \mid x, t_x, T] = \frac{a+b+x}{a-1}\Big[1 - \Big(\frac{\alpha+T}{\alpha+T+t}
            \Big)^{r+x} {}_2F_1\Big(r+x, b+x+1; a+b+x; \frac{t}{\alpha+T+t}\Big)\Big]
            \cdot P(\text{alive} \mid x, t_x, T)

    The bracket is the BG/NBD's with b + 1 in place of b, so the same robust evaluation is used
    (power series, hyp2f1 with Euler's transformation, a = 1 bridged, quadrature last).
    NaN rows: as :func:`mbgnbd_p_alive`, plus t < 0 or non-finite.
    """
    r, alpha, a, b = cm._unpack(params, MBGNBD_PARAMS)
    scalar, (t_, x, tx, T_) = cm._floats(t, frequency, recency, T)
    with np.errstate(invalid="ignore"):
        ok = cm._valid_bgnbd_rows(x, tx, T_) & np.isfinite(t_) & (t_ >= 0)
    out = np.full(x.shape, np.nan)
    with np.errstate(all="ignore"):
        alive = special.expit(-_mbgnbd_log_odds(r, alpha, a, b, x[ok], tx[ok], T_[ok]))
        out[ok] = cm._cond_mean_alive(r, alpha, a, b + 1.0, t_[ok], x[ok], T_[ok]) * alive
    return cm._finish(out, scalar)


def mbgnbd_expected_purchases_new(params: Params, t: ArrayLike) -> Result:
    r"""Expected repeat purchases in (0, t] of a new customer under the MBG/NBD (Batislam et
    al., eq. 8):

    .. math:: \frac{b}{a-1}\Big[1 - \Big(\frac{\alpha}{\alpha+t}\Big)^r
              {}_2F_1\Big(r, b+1; a+b; \frac{t}{\alpha+t}\Big)\Big]

    i.e. :func:`mbgnbd_expected_purchases` at x = t_x = T = 0 (P(alive at 0) = b/(a+b): the
    customer may drop out right after the first purchase). NaN where t < 0 or not finite."""
    scalar, (t_,) = cm._floats(t)
    zeros = np.zeros_like(t_)
    return cm._finish(np.asarray(mbgnbd_expected_purchases(params, t_, zeros, zeros, zeros),
                                 dtype=np.float64), scalar)


# --------------------------------------------------------------------------------------------
# Pareto/NBD


def _log_hyp_pareto(rsx: FloatArray, bb: FloatArray, z: FloatArray) -> FloatArray:
    """ln 2F1(rsx, bb; rsx+1; z) for 0 <= z < 1; Euler's transformation where the direct value
    over- or underflows: 2F1(A, B; A+1; z) = (1-z)^(1-B) 2F1(1, A+1-B; A+1; z)."""
    direct = special.hyp2f1(rsx, bb, rsx + 1.0, z)
    euler = (1.0 - bb) * np.log1p(-z) + np.log(special.hyp2f1(1.0, rsx + 1.0 - bb, rsx + 1.0, z))
    good = np.isfinite(direct) & (direct > 0)
    return np.where(good, np.log(np.where(good, direct, 1.0)), euler)


def _pareto_log_a0(r: float, alpha: float, s: float, beta: float, x: FloatArray,
                   tx: FloatArray, T: FloatArray) -> FloatArray:
    r"""ln A_0 of Fader & Hardie's note, -inf where t_x = T.

    With m = max(alpha, beta), d = |alpha - beta| and B = s + 1 if alpha >= beta else r + x:

    .. math:: A_0 = \frac{{}_2F_1(r+s+x, B; r+s+x+1; \frac{d}{m+t_x})}{(m+t_x)^{r+s+x}}
                  - \frac{{}_2F_1(r+s+x, B; r+s+x+1; \frac{d}{m+T})}{(m+T)^{r+s+x}}

    equal to (r+s+x) times the integral over y in (t_x, T) of
    (alpha+y)^-(r+x) (beta+y)^-(s+1); rows where the difference is not a finite positive
    number are integrated numerically.
    """
    rsx = r + s + x
    m = max(alpha, beta)
    d = abs(alpha - beta)
    bb = np.full_like(x, s + 1.0) if alpha >= beta else r + x
    l1 = _log_hyp_pareto(rsx, bb, d / (m + tx)) - rsx * np.log(m + tx)
    l2 = _log_hyp_pareto(rsx, bb, d / (m + T)) - rsx * np.log(m + T)
    with np.errstate(all="ignore"):
        out = l1 + np.log(-np.expm1(l2 - l1))
    out = np.where(tx >= T, -np.inf, out)
    bad = ~(np.isfinite(out) | (tx >= T))
    if np.any(bad):
        out[bad] = _pareto_log_a0_gauss(r, alpha, s, beta, x[bad], tx[bad], T[bad])
    return out


# Gauss-Legendre nodes and weights on [-1, 1] for the numerical A_0 (8 panels of 24 nodes).
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(24)
_GL_PANELS = 8


def _pareto_log_a0_gauss(r: float, alpha: float, s: float, beta: float, x: FloatArray,
                         tx: FloatArray, T: FloatArray) -> FloatArray:
    """ln A_0 by quadrature, for the rows where the closed form over- or underflows: A_0 =
    (r+s+x) times the integral over y in (t_x, T) of (alpha+y)^-(r+x) (beta+y)^-(s+1), in
    w = ln(c + y) with c = min(alpha, beta) (the power law becomes an exponential decay), by
    Gauss-Legendre on 8 equal panels of 24 nodes, all rows at once (vectorised: the optimiser
    may need it at every step). Accurate to about 1e-12 relative on the tested ranges."""
    c = min(alpha, beta)
    lo, hi = np.log(c + tx), np.log(c + T)
    edges = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, _GL_PANELS + 1)[None, :]
    half = (edges[:, 1:] - edges[:, :-1]) / 2.0  # rows x panels
    mid = (edges[:, 1:] + edges[:, :-1]) / 2.0
    w = mid[:, :, None] + half[:, :, None] * _GL_NODES[None, None, :]  # rows x panels x nodes
    y = np.exp(w) - c
    xx = x[:, None, None]
    with np.errstate(all="ignore"):
        log_f = -(r + xx) * np.log(alpha + y) - (s + 1.0) * np.log(beta + y) + w
        log_terms = log_f + np.log(_GL_WEIGHTS)[None, None, :] + np.log(half)[:, :, None]
        flat = log_terms.reshape(len(x), -1)
        top = np.max(flat, axis=1)
        log_integral = top + np.log(np.sum(np.exp(flat - top[:, None]), axis=1))
    return np.log(r + s + x) + log_integral


def _pareto_ll_rows(r: float, alpha: float, s: float, beta: float, x: FloatArray,
                    tx: FloatArray, T: FloatArray) -> FloatArray:
    p1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    q1 = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    q2 = np.log(s) - np.log(r + s + x) + _pareto_log_a0(r, alpha, s, beta, x, tx, T)
    return p1 + np.logaddexp(q1, q2)


def pareto_nbd_log_likelihood(params: Params, frequency: ArrayLike, recency: ArrayLike,
                              T: ArrayLike) -> Result:
    r"""Per-customer Pareto/NBD log-likelihood (Fader & Hardie's note, eq. 22).

    .. math::

        L = \frac{\Gamma(r+x)\,\alpha^r\beta^s}{\Gamma(r)}
            \Big[\frac{1}{(\alpha+T)^{r+x}(\beta+T)^s} + \frac{s}{r+s+x}\,A_0\Big]

    with :math:`A_0` as in :func:`_pareto_log_a0`, evaluated in logs. NaN rows as
    :func:`spendlens.clv_model.bgnbd_p_alive`.
    """
    r, alpha, s, beta = cm._unpack(params, PARETO_NBD_PARAMS)
    scalar, (x, tx, T_) = cm._floats(frequency, recency, T)
    ok = cm._valid_bgnbd_rows(x, tx, T_)
    out = np.full(x.shape, np.nan)
    with np.errstate(all="ignore"):
        out[ok] = _pareto_ll_rows(r, alpha, s, beta, x[ok], tx[ok], T_[ok])
    return cm._finish(out, scalar)


def _pareto_log_odds(r: float, alpha: float, s: float, beta: float, x: FloatArray,
                     tx: FloatArray, T: FloatArray) -> FloatArray:
    """ln of (s/(r+s+x)) (alpha+T)^(r+x) (beta+T)^s A_0 (-inf where t_x = T)."""
    return (np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + T) + s * np.log(beta + T)
            + _pareto_log_a0(r, alpha, s, beta, x, tx, T))


def pareto_nbd_p_alive(params: Params, frequency: ArrayLike, recency: ArrayLike,
                       T: ArrayLike) -> Result:
    r"""P(alive at T) under the Pareto/NBD (Fader & Hardie's note, eq. 18):

    .. math:: \Big[1 + \frac{s}{r+s+x}(\alpha+T)^{r+x}(\beta+T)^s A_0\Big]^{-1}

    1 when t_x = T (bought on the last day), below 1 otherwise, one-time buyers included."""
    r, alpha, s, beta = cm._unpack(params, PARETO_NBD_PARAMS)
    scalar, (x, tx, T_) = cm._floats(frequency, recency, T)
    ok = cm._valid_bgnbd_rows(x, tx, T_)
    out = np.full(x.shape, np.nan)
    with np.errstate(all="ignore"):
        out[ok] = special.expit(-_pareto_log_odds(r, alpha, s, beta, x[ok], tx[ok], T_[ok]))
    return cm._finish(out, scalar)


def _pareto_alive_mean(r: float, alpha: float, s: float, beta: float, t: FloatArray,
                       x: FloatArray, T: FloatArray) -> FloatArray:
    r"""(r+x)(beta+T)/((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)], continuous at s = 1
    (there (r+x)(beta+T)/(alpha+T) ln(1 + t/(beta+T)))."""
    log_ratio = np.log1p(t / (beta + T))
    u = (s - 1.0) * log_ratio
    with np.errstate(all="ignore"):
        factor = np.where(u == 0, 1.0, -np.expm1(-u) / np.where(u == 0, 1.0, u))
    return (r + x) * (beta + T) / (alpha + T) * log_ratio * factor


def pareto_nbd_expected_purchases(params: Params, t: ArrayLike, frequency: ArrayLike,
                                  recency: ArrayLike, T: ArrayLike) -> Result:
    r"""Conditional expected purchases in (T, T+t] under the Pareto/NBD (note, eq. 27).

    .. math::

        E[Y(t) \mid x, t_x, T] = \frac{(r+x)(\beta+T)}{(\alpha+T)(s-1)}
            \Big[1 - \Big(\frac{\beta+T}{\beta+T+t}\Big)^{s-1}\Big]
            \cdot P(\text{alive} \mid x, t_x, T)

    NaN rows: as :func:`pareto_nbd_p_alive`, plus t < 0 or non-finite.
    """
    r, alpha, s, beta = cm._unpack(params, PARETO_NBD_PARAMS)
    scalar, (t_, x, tx, T_) = cm._floats(t, frequency, recency, T)
    with np.errstate(invalid="ignore"):
        ok = cm._valid_bgnbd_rows(x, tx, T_) & np.isfinite(t_) & (t_ >= 0)
    out = np.full(x.shape, np.nan)
    with np.errstate(all="ignore"):
        alive = special.expit(-_pareto_log_odds(r, alpha, s, beta, x[ok], tx[ok], T_[ok]))
        out[ok] = _pareto_alive_mean(r, alpha, s, beta, t_[ok], x[ok], T_[ok]) * alive
    return cm._finish(out, scalar)


def pareto_nbd_expected_purchases_new(params: Params, t: ArrayLike) -> Result:
    r"""Expected purchases in (0, t] of a new customer: :math:`\frac{r\beta}{\alpha(s-1)}
    [1 - (\beta/(\beta+t))^{s-1}]` (continuous at s = 1). NaN where t < 0 or not finite."""
    r, alpha, s, beta = cm._unpack(params, PARETO_NBD_PARAMS)
    scalar, (t_,) = cm._floats(t)
    ok = np.isfinite(t_) & (t_ >= 0)
    out = np.full(t_.shape, np.nan)
    zeros = np.zeros(int(ok.sum()))
    with np.errstate(all="ignore"):
        out[ok] = _pareto_alive_mean(r, alpha, s, beta, t_[ok], zeros, zeros)
    return cm._finish(out, scalar)


# --------------------------------------------------------------------------------------------
# fits


RowsLL = Callable[..., FloatArray]


def _fit_purchase(
    name: str,
    rows_ll: RowsLL,
    names: tuple[str, ...],
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None,
    starts: list[list[float]],
    grad_rows: Callable[..., tuple[FloatArray, FloatArray | None]] | None = None,
) -> cm.FitResult:
    """Shared maximum-likelihood fit: validated rows, time rescaled to max T = 10, identical
    rows merged, mean negative log-likelihood over log-parameters, clv_model's optimiser and
    convergence checks, standard errors when converged."""
    _, (x, tx, T_) = cm._floats(frequency, recency, T)
    w = cm._weights(weights, x.shape)
    ok = cm._valid_bgnbd_rows(x, tx, T_)
    if not np.all(ok):
        raise ValueError(
            f"fit_{name}: " + cm._describe_bad(ok, "frequency a count >= 0, 0 <= recency <= T, "
                                               "recency 0 if frequency 0, all finite"))
    if x.size == 0 or w.sum() <= 0:
        raise ValueError(f"fit_{name}: no customers to fit")
    t_max = float(T_[w > 0].max())
    if t_max <= 0:
        raise ValueError(f"fit_{name}: every T is 0, the data hold no observation time")
    scale = 10.0 / t_max
    (cx, ctx, cT), cw = cm._compress([x, tx * scale, T_ * scale], w)
    total = float(cw.sum())

    def value_only(theta: FloatArray) -> float:
        with np.errstate(all="ignore"):
            val = -float(cw @ rows_ll(*np.exp(theta), cx, ctx, cT)) / total
        return val if np.isfinite(val) else np.inf

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        if grad_rows is not None:
            ll, grad = grad_rows(*np.exp(theta), cx, ctx, cT, with_grad=True)
            assert grad is not None
            val = -float(cw @ ll) / total
            if not np.isfinite(val):
                return np.inf, np.zeros_like(theta)
            return val, -(grad @ cw) / total
        val = value_only(theta)
        if not np.isfinite(val):
            return np.inf, np.zeros_like(theta)
        g = np.empty_like(theta)
        for i in range(len(theta)):
            step = np.zeros_like(theta)
            step[i] = _GRAD_STEP
            g[i] = (value_only(theta + step) - value_only(theta - step)) / (2 * _GRAD_STEP)
        return val, g

    theta, _, converged, message = cm._maximise(
        value_only, objective, [np.log(np.asarray(s, dtype=float)) for s in starts], names)
    values = [float(v) for v in np.exp(theta)]
    values[1] /= scale  # alpha
    if name == "pareto_nbd":
        values[3] /= scale  # beta is a time too
    params = dict(zip(names, values, strict=True))
    with np.errstate(all="ignore"):
        log_lik = float(w @ rows_ll(*values, x, tx, T_))
    converged = converged and math.isfinite(log_lik)
    fit = cm.FitResult(params, log_lik, int(round(w.sum())), converged, message, name)
    if converged:
        cov = _log_covariance_rows(rows_ll, params, names, cx, ctx / scale, cT / scale, cw)
        fit = dataclasses.replace(fit, **_uncertainty(cov, params, names))
    return fit


def fit_mbgnbd(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike,
               weights: ArrayLike | None = None) -> cm.FitResult:
    """Fit the MBG/NBD by maximum likelihood (:func:`mbgnbd_log_likelihood`), with analytic
    gradients and the optimiser, rescaling and convergence checks of
    :func:`spendlens.clv_model.fit_bgnbd` (no NBD fallback: at the no-dropout limit the fit
    is reported as not converged, with the bound the parameters ran off to).
    ``model="mbgnbd"``; ``std_errors`` filled when converged.

    Raises:
        ValueError: on an empty input, rows outside the domain (listed), or every T being 0.
    """
    def rows(r, alpha, a, b, x, tx, T_):  # noqa: ANN001, ANN202
        return _mbgnbd_ll_rows(r, alpha, a, b, x, tx, T_)[0]

    return _fit_purchase("mbgnbd", rows, MBGNBD_PARAMS, frequency, recency, T, weights,
                         [[1.0, 1.0, 1.0, 1.0], [0.25, 4.0, 0.8, 2.5], [2.0, 0.5, 0.2, 5.0]],
                         grad_rows=_mbgnbd_ll_rows)


def fit_pareto_nbd(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike,
                   weights: ArrayLike | None = None) -> cm.FitResult:
    """Fit the Pareto/NBD by maximum likelihood (:func:`pareto_nbd_log_likelihood`).

    Gradient by central differences (step 1e-6 in log-parameters) of the closed-form
    likelihood; otherwise as :func:`fit_mbgnbd` (time rescaled so that max T = 10, so alpha
    and beta are returned in the caller's time unit). ``model="pareto_nbd"``.

    Raises:
        ValueError: on an empty input, rows outside the domain (listed), or every T being 0.
    """
    return _fit_purchase("pareto_nbd", _pareto_ll_rows, PARETO_NBD_PARAMS, frequency, recency,
                         T, weights,
                         [[0.5, 2.5, 0.5, 2.5], [1.0, 1.0, 1.0, 1.0], [0.25, 5.0, 2.0, 10.0]])


def fit_purchase_model(model: str, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike,
                       weights: ArrayLike | None = None) -> cm.FitResult:
    """Fit ``"bgnbd"`` (with its NBD fallback), ``"mbgnbd"`` or ``"pareto_nbd"``; the result
    has ``std_errors`` when it converged."""
    if model == "bgnbd":
        fit = cm.fit_bgnbd(frequency, recency, T, weights)
        if fit.converged:
            fit = with_uncertainty(fit, frequency, recency, T, weights=weights)
        return fit
    if model == "mbgnbd":
        return fit_mbgnbd(frequency, recency, T, weights)
    if model == "pareto_nbd":
        return fit_pareto_nbd(frequency, recency, T, weights)
    raise ValueError(f"unknown purchase model {model!r}; expected one of "
                     f"{', '.join(PURCHASE_MODELS)}")


# --------------------------------------------------------------------------------------------
# standard errors


def _log_covariance_rows(rows_ll: RowsLL, params: dict[str, float], names: tuple[str, ...],
                         *data: FloatArray) -> FloatArray | None:
    """Asymptotic covariance of the log-parameters: the inverse Hessian of the total negative
    log-likelihood, taken in log-parameters by central second differences (step 1e-3).

    ``data`` are the row columns followed by the weights. None when the Hessian is not
    positive definite or not finite.
    """
    *cols, w = data
    theta0 = np.log([params[n] for n in names])
    k = len(names)

    def nll(theta: FloatArray) -> float:
        with np.errstate(all="ignore"):
            return -float(w @ rows_ll(*np.exp(theta), *cols))

    h = _SE_STEP
    f0 = nll(theta0)
    hess = np.empty((k, k))
    eye = np.eye(k) * h
    for i in range(k):
        hess[i, i] = (nll(theta0 + eye[i]) - 2 * f0 + nll(theta0 - eye[i])) / h**2
        for j in range(i):
            hess[i, j] = hess[j, i] = (
                nll(theta0 + eye[i] + eye[j]) - nll(theta0 + eye[i] - eye[j])
                - nll(theta0 - eye[i] + eye[j]) + nll(theta0 - eye[i] - eye[j])) / (4 * h**2)
    if not np.all(np.isfinite(hess)):
        return None
    try:
        chol = np.linalg.cholesky(hess)
    except np.linalg.LinAlgError:
        return None
    inv = np.linalg.inv(chol)
    return inv.T @ inv


def _uncertainty(cov: FloatArray | None, params: dict[str, float],
                 names: tuple[str, ...]) -> dict:
    """FitResult fields from a log-parameter covariance: std_errors by the delta method,
    se(theta_k) = theta_k sqrt(cov_kk) (NaN for every parameter without a covariance), and
    log_covariance as nested tuples (empty without one)."""
    if cov is None:
        return {"std_errors": dict.fromkeys(names, float("nan")), "log_covariance": ()}
    return {
        "std_errors": {n: float(params[n] * math.sqrt(cov[i, i])) for i, n in enumerate(names)},
        "log_covariance": tuple(tuple(float(v) for v in row) for row in cov),
    }


def with_uncertainty(fit: cm.FitResult, frequency: ArrayLike, recency: ArrayLike | None = None,
                     T: ArrayLike | None = None, monetary_value: ArrayLike | None = None,
                     weights: ArrayLike | None = None) -> cm.FitResult:
    """The fit with ``std_errors`` and ``log_covariance`` filled (inverse Hessian of the
    negative log-likelihood in log-parameters; standard errors by the delta method).

    ``fit.model`` says which likelihood: ``"bgnbd"``, ``"mbgnbd"``, ``"pareto_nbd"`` (need
    frequency, recency, T), ``"nbd"`` (frequency, T) or ``"gamma_gamma"`` (frequency,
    monetary_value; only rows with frequency > 0 and monetary_value > 0, as in the fit). Use
    the data the model was fitted on. NaN standard errors and no covariance where the Hessian
    is not positive definite.
    """
    params = dict(fit.params)
    if fit.model == "gamma_gamma":
        _, (x, m) = cm._floats(frequency, monetary_value)
        w = cm._weights(weights, x.shape)
        with np.errstate(invalid="ignore"):
            use = (x > 0) & (m > 0) & (w > 0)
        (cx, cm_), cw = cm._compress([x[use], m[use]], w[use])
        rows_ll: RowsLL = lambda p, q, v, a_, b_: cm._gg_ll_rows(p, q, v, a_, b_)[0]  # noqa: E731
        names: tuple[str, ...] = cm.GAMMA_GAMMA_PARAMS
        data: list[FloatArray] = [cx, cm_, cw]
    elif fit.model == "nbd":
        _, (x, T_) = cm._floats(frequency, T)
        w = cm._weights(weights, x.shape)
        (cx, cT), cw = cm._compress([x, T_], w)
        rows_ll = lambda r, a, x_, T__: cm._nbd_ll_rows(r, a, x_, T__)[0]  # noqa: E731
        names = cm.NBD_PARAMS
        data = [cx, cT, cw]
    else:
        rows: dict[str, tuple[RowsLL, tuple[str, ...]]] = {
            "bgnbd": (lambda *v: cm._bgnbd_ll_rows(*v)[0], cm.BGNBD_PARAMS),
            "mbgnbd": (lambda *v: _mbgnbd_ll_rows(*v)[0], MBGNBD_PARAMS),
            "pareto_nbd": (_pareto_ll_rows, PARETO_NBD_PARAMS),
        }
        if fit.model not in rows:
            raise ValueError(f"standard_errors: unknown model {fit.model!r}")
        rows_ll, names = rows[fit.model]
        _, (x, tx, T_) = cm._floats(frequency, recency, T)
        w = cm._weights(weights, x.shape)
        (cx, ctx, cT), cw = cm._compress([x, tx, T_], w)
        data = [cx, ctx, cT, cw]
    cov = _log_covariance_rows(rows_ll, params, names, *data)
    return dataclasses.replace(fit, **_uncertainty(cov, params, names))


def standard_errors(fit: cm.FitResult, frequency: ArrayLike, recency: ArrayLike | None = None,
                    T: ArrayLike | None = None, monetary_value: ArrayLike | None = None,
                    weights: ArrayLike | None = None) -> dict[str, float]:
    """Asymptotic standard errors of a fit's parameters (:func:`with_uncertainty`)."""
    return with_uncertainty(fit, frequency, recency, T, monetary_value, weights).std_errors
