"""Tests of spendlens.clv_model: literature values, closed forms, simulation, lifetimes parity.

Data: the CDNOW files under ``../shared/datasets/cdnow`` beside the repository (override with
SPENDLENS_DATASETS). The lifetimes 0.11.3 cross-check runs in its own venv
(``.venv-lifetimes``, made by ``scripts/lifetimes_env.sh``; override the interpreter with
SPENDLENS_LIFETIMES_PYTHON) through a subprocess that prints JSON.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special

from spendlens import clv_model as cm

REPO = Path(__file__).resolve().parents[2]
DATASETS = Path(os.environ.get("SPENDLENS_DATASETS", REPO.parent / "shared" / "datasets"))
if not DATASETS.exists():  # worktrees of the project live one level deeper (as in conftest.py)
    DATASETS = Path("/work/shared/datasets")
CDNOW_SUMMARY = DATASETS / "cdnow" / "cdnow_customers_summary.csv"
CDNOW_MASTER = DATASETS / "cdnow" / "CDNOW_master.txt"
LIFETIMES_PYTHON = Path(
    os.environ.get("SPENDLENS_LIFETIMES_PYTHON", REPO / ".venv-lifetimes" / "bin" / "python")
)

needs_summary = pytest.mark.skipif(
    not CDNOW_SUMMARY.exists(), reason=f"CDNOW summary not found at {CDNOW_SUMMARY}"
)
needs_master = pytest.mark.skipif(
    not CDNOW_MASTER.exists(), reason=f"CDNOW master file not found at {CDNOW_MASTER}"
)

# Published estimates: Fader, Hardie & Lee (2005), Marketing Science 24(2), CDNOW 1/10 sample
# (2,357 customers, 39-week calibration, weeks).
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_BGNBD_LL = -9582.4

CALIBRATION_END = "1997-09-30"
ANNUAL_DISCOUNT = 0.10
MONTHLY_DISCOUNT = (1 + ANNUAL_DISCOUNT) ** (1 / 12) - 1


# ------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def cdnow_summary() -> pd.DataFrame:
    return pd.read_csv(CDNOW_SUMMARY)


@pytest.fixture(scope="module")
def cdnow_calibration() -> cm.RFMSummary:
    """The full CDNOW calibration summary (23,570 customers, time in days)."""
    tx = pd.read_csv(CDNOW_MASTER, sep=r"\s+", dtype={"customer_id": np.int64, "date": str})
    dates = pd.to_datetime(tx["date"], format="%Y%m%d").to_numpy().astype("datetime64[D]")
    return cm.summarize_transactions(
        tx["customer_id"].to_numpy(), dates, tx["dollar_value"].to_numpy(), CALIBRATION_END
    )


@pytest.fixture(scope="module")
def cdnow_fits(cdnow_calibration: cm.RFMSummary) -> tuple[cm.FitResult, cm.FitResult]:
    s = cdnow_calibration
    return cm.fit_bgnbd(s.frequency, s.recency, s.T), cm.fit_gamma_gamma(
        s.frequency, s.monetary_value
    )


# ------------------------------------------------------------------------------------------
# 1. the literature


@needs_summary
def test_bgnbd_reproduces_published_cdnow_estimates(cdnow_summary: pd.DataFrame) -> None:
    d = cdnow_summary
    assert len(d) == 2357
    fit = cm.fit_bgnbd(d["frequency"], d["recency"], d["T"])
    assert fit.converged, fit.message
    assert fit.n == 2357
    for name, published in PUBLISHED_BGNBD.items():
        assert fit.params[name] == pytest.approx(published, rel=5e-3), name
    assert fit.log_likelihood == pytest.approx(PUBLISHED_BGNBD_LL, abs=0.1)
    # the reported log-likelihood is the sum of the per-customer terms at the estimates
    per_customer = cm.bgnbd_log_likelihood(fit, d["frequency"], d["recency"], d["T"])
    assert float(np.sum(per_customer)) == pytest.approx(fit.log_likelihood, rel=1e-12)


@needs_summary
def test_bgnbd_weights_equal_repeated_rows(cdnow_summary: pd.DataFrame) -> None:
    d = cdnow_summary.iloc[:600]
    grouped = d.groupby(["frequency", "recency", "T"], as_index=False).size()
    full = cm.fit_bgnbd(d["frequency"], d["recency"], d["T"])
    weighted = cm.fit_bgnbd(
        grouped["frequency"], grouped["recency"], grouped["T"], weights=grouped["size"]
    )
    assert weighted.n == full.n == 600
    assert weighted.log_likelihood == pytest.approx(full.log_likelihood, abs=1e-6)
    for name in cm.BGNBD_PARAMS:
        assert weighted.params[name] == pytest.approx(full.params[name], rel=1e-4)


@needs_summary
def test_bgnbd_fit_does_not_depend_on_the_time_unit(cdnow_summary: pd.DataFrame) -> None:
    d = cdnow_summary
    weeks = cm.fit_bgnbd(d["frequency"], d["recency"], d["T"])
    days = cm.fit_bgnbd(d["frequency"], d["recency"] * 7, d["T"] * 7)
    assert days.params["alpha"] == pytest.approx(7 * weeks.params["alpha"], rel=1e-5)
    for name in ("r", "a", "b"):
        assert days.params[name] == pytest.approx(weeks.params[name], rel=1e-5)
    # the density of t_x changes with the unit: ln L_days = ln L_weeks - sum(x) ln 7
    shift = float(d["frequency"].sum()) * math.log(7)
    assert days.log_likelihood == pytest.approx(weeks.log_likelihood - shift, abs=1e-4)


# ------------------------------------------------------------------------------------------
# 2. closed forms, by hand and against independent numerics


def test_p_alive_is_one_without_repeat_purchases() -> None:
    params = {"r": 0.3, "alpha": 5.0, "a": 0.8, "b": 2.5}
    T = np.array([0.0, 1.0, 39.0, 1e6])
    p = cm.bgnbd_p_alive(params, np.zeros(4), np.zeros(4), T)
    np.testing.assert_array_equal(p, np.ones(4))


def test_p_alive_by_hand() -> None:
    # odds = a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x) = 2/4 * (8/6)^2.5
    params = {"r": 0.5, "alpha": 2.0, "a": 2.0, "b": 3.0}
    p = cm.bgnbd_p_alive(params, 2, 4.0, 6.0)
    assert isinstance(p, float)
    assert p == pytest.approx(1 / (1 + 0.5 * (4 / 3) ** 2.5), rel=1e-14)
    assert p == pytest.approx(0.4934858684552562, rel=1e-12)
    # r=1, alpha=1, a=1, b=1, x=1, t_x=1, T=3: odds = 1/1 * (4/2)^2 = 4 -> 0.2
    assert cm.bgnbd_p_alive({"r": 1, "alpha": 1, "a": 1, "b": 1}, 1, 1, 3) == pytest.approx(0.2)


# With r = a + b - 1, Euler's transformation makes the hypergeometric factor 1 exactly:
#   (1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z) = (1-z)^(a-1),  z = t/(alpha+T+t),
# so E[Y(t) | alive] = (a+b+x-1)/(a-1) * t/(alpha+T+t) when a = 2.
HAND = {"r": 2.0, "alpha": 1.0, "a": 2.0, "b": 1.0}


@pytest.mark.parametrize("t", [1.0, 4.0])  # t=1 takes the series path, t=4 the hyp2f1 path
def test_expected_purchases_by_hand(t: float) -> None:
    # x=1, t_x=2, T=3: P(alive) = 1/(1 + 2/1 * (4/3)^3) = 27/155
    expected = (2 + 1) * t / (1 + 3 + t) * 27 / 155
    assert cm.bgnbd_expected_purchases(HAND, t, 1, 2.0, 3.0) == pytest.approx(expected, rel=1e-12)
    # x=0: P(alive) = 1
    assert cm.bgnbd_expected_purchases(HAND, t, 0, 0.0, 3.0) == pytest.approx(
        2 * t / (4 + t), rel=1e-12
    )
    # new customer: (a+b-1)/(a-1) * (1 - alpha/(alpha+t))
    assert cm.bgnbd_expected_purchases_new(HAND, t) == pytest.approx(2 * t / (1 + t), rel=1e-12)


CDNOW_PARAMS = {"r": 0.242593, "alpha": 4.413532, "a": 0.792886, "b": 2.425752}  # weeks


def test_expected_purchases_increase_in_t() -> None:
    t = np.linspace(0.0, 520.0, 261)
    for x, tx, T in [(0, 0.0, 30.0), (1, 5.0, 38.0), (5, 30.0, 35.0), (29, 38.4, 38.9)]:
        e = cm.bgnbd_expected_purchases(CDNOW_PARAMS, t, x, tx, T)
        assert e[0] == 0.0
        assert np.all(np.isfinite(e))
        assert np.all(np.diff(e) > 0), (x, tx, T)
    e_new = cm.bgnbd_expected_purchases_new(CDNOW_PARAMS, t)
    assert e_new[0] == 0.0 and np.all(np.diff(e_new) > 0)


def _posterior_integrals(params: dict[str, float], t: float, x: int, tx: float, T: float):
    """Independent check of eqs. 10 and P(alive): integrate the lambda-marginal over p.

    Given p, integrating lambda ~ Gamma(r, alpha) out of the likelihood gives terms
    proportional to (1-p)^x (alpha+T)^-(r+x) [alive] and p (1-p)^(x-1) (alpha+t_x)^-(r+x)
    [dropped after the last purchase]; alive, the purchases in (T, T+t] have mean
    (1 - exp(-lambda p t))/p, whose lambda-integral gives (alpha+T+pt)^-(r+x).
    """
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    k = r + x
    opts = {"weight": "alg", "wvar": (a - 1, b - 1), "epsabs": 0.0, "epsrel": 1e-12, "limit": 200}

    def alive(p: float) -> float:
        return (1 - p) ** x

    def dead(p: float) -> float:
        return p * (1 - p) ** (x - 1) * ((alpha + T) / (alpha + tx)) ** k if x > 0 else 0.0

    def future(p: float) -> float:  # (1-p)^x (1 - ((alpha+T)/(alpha+T+pt))^(r+x)) / p
        if p == 0:
            return k * t / (alpha + T)
        return (1 - p) ** x * -math.expm1(-k * math.log1p(p * t / (alpha + T))) / p

    i_alive = integrate.quad(alive, 0, 1, **opts)[0]
    i_dead = integrate.quad(dead, 0, 1, **opts)[0]
    i_future = integrate.quad(future, 0, 1, **opts)[0]
    return i_alive / (i_alive + i_dead), i_future / (i_alive + i_dead)


@pytest.mark.parametrize(
    ("x", "tx", "T"), [(0, 0.0, 32.0), (1, 2.0, 38.0), (3, 20.0, 30.0), (10, 37.0, 38.0)]
)
@pytest.mark.parametrize("t", [1.0, 13.0, 52.0, 260.0])
def test_conditional_formulas_match_numeric_integration(x: int, tx: float, T: float, t: float):
    p_alive, expected = _posterior_integrals(CDNOW_PARAMS, t, x, tx, T)
    assert cm.bgnbd_p_alive(CDNOW_PARAMS, x, tx, T) == pytest.approx(p_alive, rel=1e-9)
    assert cm.bgnbd_expected_purchases(CDNOW_PARAMS, t, x, tx, T) == pytest.approx(
        expected, rel=1e-8
    )


def test_quadrature_fallback_when_hyp2f1_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    x, tx, T = np.array([0, 1, 3, 10]), np.array([0.0, 2.0, 20.0, 37.0]), np.full(4, 38.0)
    t = 52.0  # > (alpha+T)/2: the closed form, not the series, is used
    closed = cm.bgnbd_expected_purchases(CDNOW_PARAMS, t, x, tx, T)
    monkeypatch.setattr(cm.special, "hyp2f1", lambda *args: np.full(np.shape(args[3]), np.nan))
    fallback = cm.bgnbd_expected_purchases(CDNOW_PARAMS, t, x, tx, T)
    np.testing.assert_allclose(fallback, closed, rtol=1e-8)


@pytest.mark.parametrize("t", [0.5, 39.0, 78.0, 520.0])
def test_unconditional_expectation_matches_numeric_integration(t: float) -> None:
    # E[X(t)] = E_p[(1/p) (1 - (alpha/(alpha+p t))^r)], p ~ Beta(a, b)
    r, alpha, a, b = (CDNOW_PARAMS[k] for k in ("r", "alpha", "a", "b"))
    integral = integrate.quad(
        lambda p: -math.expm1(-r * math.log1p(p * t / alpha)) / p if p > 0 else r * t / alpha,
        0,
        1,
        weight="alg",
        wvar=(a - 1, b - 1),
        epsabs=0.0,
        epsrel=1e-12,
    )[0] / special.beta(a, b)
    assert cm.bgnbd_expected_purchases_new(CDNOW_PARAMS, t) == pytest.approx(integral, rel=1e-9)


def test_unconditional_expectation_matches_simulation() -> None:
    # BG/NBD: X(t) = min(N, K), N ~ Poisson(lambda t) purchases, K ~ Geometric(p) on {1, 2, ..}
    # the purchase after which the customer drops out.
    rng = np.random.default_rng(20050101)
    n, t = 400_000, 39.0
    r, alpha, a, b = (CDNOW_PARAMS[k] for k in ("r", "alpha", "a", "b"))
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    x = np.minimum(rng.poisson(lam * t), rng.geometric(p))
    se = x.std() / math.sqrt(n)
    assert abs(x.mean() - cm.bgnbd_expected_purchases_new(CDNOW_PARAMS, t)) < 4 * se


# ------------------------------------------------------------------------------------------
# 3. Gamma-Gamma and CLV


def test_gamma_gamma_expected_spend_by_hand() -> None:
    gg = {"p": 6.25, "q": 3.74, "v": 15.44}
    population = 15.44 * 6.25 / 2.74
    assert cm.gamma_gamma_expected_spend(gg, 0, np.nan) == pytest.approx(population, rel=1e-14)
    w = 6.25 * 3 / (6.25 * 3 + 2.74)
    got = cm.gamma_gamma_expected_spend(gg, [3, 3], [40.0, 0.0])
    np.testing.assert_allclose(got, [(1 - w) * population + w * 40.0, (1 - w) * population])


def test_gamma_gamma_fit_recovers_simulated_parameters() -> None:
    rng = np.random.default_rng(2)
    true = {"p": 6.0, "q": 4.0, "v": 15.0}
    n = 10_000
    x = rng.integers(1, 12, n)
    nu = rng.gamma(true["q"], 1 / true["v"], n)
    # mean of x Gamma(p, nu) spends = Gamma(p x, nu x)
    m = rng.gamma(true["p"] * x, 1 / (nu * x))
    fit = cm.fit_gamma_gamma(np.r_[x, 0, 2], np.r_[m, 0.0, 0.0])
    assert fit.converged, fit.message
    assert fit.n == n and "2 customer(s)" in fit.message
    # p and v are strongly correlated (sampling spread ~10 % at this size); their combination
    # the population mean spend v p / (q - 1) = 30 is pinned much tighter
    for name, value in true.items():
        assert fit.params[name] == pytest.approx(value, rel=0.15), name
    p, q, v = (fit.params[k] for k in ("p", "q", "v"))
    assert v * p / (q - 1) == pytest.approx(30.0, rel=0.03)
    per_customer = cm.gamma_gamma_log_likelihood(fit, x, m)
    assert float(np.sum(per_customer)) == pytest.approx(fit.log_likelihood, rel=1e-12)
    assert fit.log_likelihood >= float(np.sum(cm.gamma_gamma_log_likelihood(true, x, m)))


def test_discounted_clv_structure() -> None:
    gg = {"p": 6.0, "q": 4.0, "v": 15.0}
    x, tx, T, m = np.array([0, 2, 7]), np.array([0.0, 40.0, 150.0]), np.full(3, 200.0), np.array(
        [0.0, 30.0, 12.0]
    )
    bg_days = {"r": 0.25, "alpha": 33.5, "a": 0.72, "b": 2.16}
    spend = cm.gamma_gamma_expected_spend(gg, x, m)
    # no discount: the steps telescope to spend x E[Y(horizon)]
    flat = cm.discounted_clv(bg_days, gg, x, tx, T, m, 365, 0.0)
    np.testing.assert_allclose(flat, spend * cm.bgnbd_expected_purchases(bg_days, 365, x, tx, T))
    # 12 steps of 30 days by hand
    d = (1.1) ** (1 / 12) - 1
    cum = [cm.bgnbd_expected_purchases(bg_days, 30 * k, x, tx, T) for k in range(13)]
    by_hand = spend * sum((cum[k] - cum[k - 1]) / (1 + d) ** k for k in range(1, 13))
    np.testing.assert_allclose(cm.discounted_clv(bg_days, gg, x, tx, T, m, 360, 0.10), by_hand)
    # the unit of time does not matter
    bg_weeks = dict(bg_days, alpha=bg_days["alpha"] / 7)
    np.testing.assert_allclose(
        cm.discounted_clv(bg_weeks, gg, x, tx / 7, T / 7, m, 365, 0.1, time_unit_days=7),
        cm.discounted_clv(bg_days, gg, x, tx, T, m, 365, 0.1),
        rtol=1e-12,
    )
    assert np.all(cm.discounted_clv(bg_days, gg, x, tx, T, m, 365, 0.1) < flat)
    with pytest.raises(ValueError, match="horizon_days"):
        cm.discounted_clv(bg_days, gg, x, tx, T, m, 0, 0.1)


# ------------------------------------------------------------------------------------------
# undefined inputs, extremes, failures


def test_invalid_rows_give_nan_and_valid_rows_are_finite() -> None:
    bg = CDNOW_PARAMS
    x = np.array([1, -1, 1.5, 2, 0, np.nan, 3, 0])
    tx = np.array([1.0, 1.0, 1.0, 5.0, 2.0, 1.0, 1.0, 0.0])
    T = np.array([2.0, 2.0, 2.0, 4.0, 3.0, 2.0, np.inf, 0.0])
    bad = np.array([False, True, True, True, True, True, True, False])
    for out in (
        cm.bgnbd_p_alive(bg, x, tx, T),
        cm.bgnbd_expected_purchases(bg, 10.0, x, tx, T),
        cm.bgnbd_log_likelihood(bg, x, tx, T),
    ):
        np.testing.assert_array_equal(np.isnan(out), bad)
    assert math.isnan(cm.bgnbd_expected_purchases(bg, -1.0, 1, 1.0, 2.0))
    assert math.isnan(cm.gamma_gamma_expected_spend({"p": 1, "q": 0.5, "v": 1}, 0, 0.0))
    assert math.isnan(cm.gamma_gamma_expected_spend({"p": 1, "q": 2, "v": 1}, 2, -3.0))
    with pytest.raises(ValueError, match="alpha"):
        cm.bgnbd_p_alive({"r": 1, "alpha": 0, "a": 1, "b": 1}, 1, 1, 2)
    with pytest.raises(ValueError, match="missing"):
        cm.gamma_gamma_expected_spend({"p": 1, "q": 2}, 1, 1)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize(
    "params",
    [
        CDNOW_PARAMS,
        {"r": 20.0, "alpha": 0.1, "a": 8.0, "b": 30.0},
        {"r": 0.05, "alpha": 1000.0, "a": 1.0, "b": 0.1},  # a = 1: removable singularity
        {"r": 2.0, "alpha": 1.0, "a": 0.1, "b": 0.2},  # a + b + x - 1 < 0 for x = 0
    ],
)
def test_extreme_valid_inputs_stay_finite(params: dict[str, float]) -> None:
    x = np.array([0, 1, 50, 500, 5000, 1])
    tx = np.array([0.0, 1e-9, 100.0, 1e4, 1e5, 1e6])
    T = np.array([0.0, 1e-9, 1e3, 1e4, 2e5, 1e6])
    for t in (1e-6, 1.0, 365.0, 1e5):
        e = cm.bgnbd_expected_purchases(params, t, x, tx, T)
        assert np.all(np.isfinite(e)) and np.all(e >= 0), (t, e)
    p = cm.bgnbd_p_alive(params, x, tx, T)
    assert np.all((p >= 0) & (p <= 1))
    clv = cm.discounted_clv(params, {"p": 6, "q": 4, "v": 15}, x, tx, T, np.full(6, 20.0), 365, 0.1)
    assert np.all(np.isfinite(clv))


def test_fit_reports_unidentified_models() -> None:
    # nobody came back: the likelihood grows without bound as r -> 0 or alpha -> inf
    fit = cm.fit_bgnbd(np.zeros(50), np.zeros(50), np.linspace(10, 40, 50))
    assert not fit.converged
    assert "not identified" in fit.message or "bound" in fit.message
    with pytest.raises(ValueError, match="recency <= T"):
        cm.fit_bgnbd([1, 2], [5.0, 1.0], [4.0, 3.0])
    with pytest.raises(ValueError, match="no customer"):
        cm.fit_gamma_gamma([0, 0, 3], [0.0, 0.0, 0.0])


# ------------------------------------------------------------------------------------------
# 4. full CDNOW calibration data vs lifetimes 0.11.3


@needs_master
def test_cdnow_calibration_summary(cdnow_calibration: cm.RFMSummary) -> None:
    s = cdnow_calibration
    assert len(s.customer_id) == 23_570
    assert int(np.count_nonzero(s.frequency > 0)) == 9_451
    assert s.T.min() == 189 and s.T.max() == 272  # first purchases 1997-01-01 .. 03-25


def _lifetimes_dataset(name: str) -> Path | None:
    """A data file shipped in the lifetimes 0.11.3 wheel, found in the lifetimes venv."""
    root = LIFETIMES_PYTHON.parent.parent
    found = sorted(root.glob(f"lib/python*/site-packages/lifetimes/datasets/{name}"))
    return found[0] if found else None


def test_gamma_gamma_reproduces_published_cdnow_estimates() -> None:
    # The 1/10 sample's average repeat spend (zbar, 946 repeat buyers) is not in shared/, but
    # the lifetimes wheel ships it: Hardie's cdnow_customers_summary_with_transactions.csv.
    path = _lifetimes_dataset("cdnow_customers_summary_with_transactions.csv")
    if path is None:
        pytest.skip("lifetimes' CDNOW sample summary not found: run scripts/lifetimes_env.sh")
    d = pd.read_csv(path)
    fit = cm.fit_gamma_gamma(d["x"], d["zbar"])
    assert fit.converged, fit.message
    assert fit.n == 946
    for name, published in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert fit.params[name] == pytest.approx(published, rel=5e-3), name


@needs_master
def test_cdnow_fits_converge(cdnow_fits: tuple[cm.FitResult, cm.FitResult]) -> None:
    bg, gg = cdnow_fits
    assert bg.converged and gg.converged, (bg.message, gg.message)
    assert gg.n == 9_450  # repeat buyers with positive repeat spend
    # published (1/10 sample, weeks): p=6.25, q=3.74, gamma=15.44; the full data are close
    assert gg.params["p"] == pytest.approx(6.25, rel=0.05)
    assert gg.params["q"] == pytest.approx(3.74, rel=0.05)
    assert gg.params["v"] == pytest.approx(15.44, rel=0.05)


LIFETIMES_SCRIPT = r"""
import json, sys
import numpy as np, pandas as pd
import lifetimes
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data

summary_csv, master, cal_end, monthly = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
s = pd.read_csv(summary_csv)
bgf = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
rep = s[(s["frequency"] > 0) & (s["monetary_value"] > 0)]
ggf = GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
f, r, T, m = s["frequency"], s["recency"], s["T"], s["monetary_value"]
out = {
    "version": lifetimes.__version__,
    "bgnbd": {k: float(v) for k, v in bgf.params_.items()},
    "gg": {k: float(v) for k, v in ggf.params_.items()},
    "p_alive": np.asarray(bgf.conditional_probability_alive(f, r, T)).tolist(),
    "clv": ggf.customer_lifetime_value(bgf, f, r, T, m, time=12, discount_rate=monthly,
                                       freq="D").tolist(),
}
for t in (30, 90, 365):
    out[f"expected_{t}"] = np.asarray(
        bgf.conditional_expected_number_of_purchases_up_to_time(t, f, r, T)).tolist()
tx = pd.read_csv(master, sep=r"\s+", dtype={"date": str})
tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
own = summary_data_from_transaction_data(tx, "customer_id", "date", "dollar_value",
                                         observation_period_end=cal_end, freq="D").sort_index()
out["summary"] = {"customer_id": own.index.tolist(),
                  **{c: own[c].tolist() for c in ("frequency", "recency", "T", "monetary_value")}}
json.dump(out, sys.stdout)
"""


@pytest.fixture(scope="module")
def lifetimes_numbers(cdnow_calibration: cm.RFMSummary, tmp_path_factory) -> dict:
    if not LIFETIMES_PYTHON.exists():
        pytest.skip(
            f"no lifetimes interpreter at {LIFETIMES_PYTHON}: run scripts/lifetimes_env.sh "
            "(creates .venv-lifetimes) or set SPENDLENS_LIFETIMES_PYTHON"
        )
    s = cdnow_calibration
    path = tmp_path_factory.mktemp("lifetimes") / "summary.csv"
    pd.DataFrame(
        {
            "customer_id": s.customer_id,
            "frequency": s.frequency,
            "recency": s.recency,
            "T": s.T,
            "monetary_value": s.monetary_value,
        }
    ).to_csv(path, index=False, float_format="%.17g")
    run = subprocess.run(
        [str(LIFETIMES_PYTHON), "-c", LIFETIMES_SCRIPT, str(path), str(CDNOW_MASTER),
         CALIBRATION_END, repr(MONTHLY_DISCOUNT)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout)
    assert out["version"] == "0.11.3"
    return out


@needs_master
def test_summary_matches_lifetimes(cdnow_calibration: cm.RFMSummary, lifetimes_numbers: dict):
    s, ref = cdnow_calibration, lifetimes_numbers["summary"]
    np.testing.assert_array_equal(s.customer_id, ref["customer_id"])
    for col in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(getattr(s, col), ref[col], err_msg=col)
    np.testing.assert_allclose(s.monetary_value, ref["monetary_value"], rtol=1e-12, atol=1e-9)


@needs_master
def test_fits_match_lifetimes(
    cdnow_calibration: cm.RFMSummary, cdnow_fits, lifetimes_numbers: dict
) -> None:
    s, (bg, gg), ref = cdnow_calibration, cdnow_fits, lifetimes_numbers
    for name in cm.BGNBD_PARAMS:
        assert bg.params[name] == pytest.approx(ref["bgnbd"][name], rel=1e-3), name
    for name in cm.GAMMA_GAMMA_PARAMS:
        assert gg.params[name] == pytest.approx(ref["gg"][name], rel=1e-3), name
    # lifetimes stops at its own tolerance: our optimum is at least as good as its
    ll_ref = np.sum(cm.bgnbd_log_likelihood(ref["bgnbd"], s.frequency, s.recency, s.T))
    assert bg.log_likelihood >= ll_ref - 1e-6
    repeat = (s.frequency > 0) & (s.monetary_value > 0)
    gg_ref = np.sum(
        cm.gamma_gamma_log_likelihood(ref["gg"], s.frequency[repeat], s.monetary_value[repeat])
    )
    assert gg.log_likelihood >= gg_ref - 1e-6


@needs_master
def test_predictions_match_lifetimes(cdnow_calibration: cm.RFMSummary, lifetimes_numbers: dict):
    """Same formulas: with lifetimes' parameters, every customer's numbers agree to 1e-6."""
    s, ref = cdnow_calibration, lifetimes_numbers
    bg, gg = ref["bgnbd"], ref["gg"]
    f, r, T, m = s.frequency, s.recency, s.T, s.monetary_value
    np.testing.assert_allclose(cm.bgnbd_p_alive(bg, f, r, T), ref["p_alive"], rtol=1e-6, atol=0)
    for t in (30, 90, 365):
        np.testing.assert_allclose(
            cm.bgnbd_expected_purchases(bg, t, f, r, T), ref[f"expected_{t}"], rtol=1e-6, atol=0
        )
    clv = cm.discounted_clv(bg, gg, f, r, T, m, horizon_days=360,
                            annual_discount_rate=ANNUAL_DISCOUNT)
    np.testing.assert_allclose(clv, ref["clv"], rtol=1e-6, atol=0)


@needs_master
def test_own_fit_predictions_close_to_lifetimes(
    cdnow_calibration: cm.RFMSummary, cdnow_fits, lifetimes_numbers: dict
) -> None:
    """End to end (own fits, own formulas): the CLV differs from lifetimes' by < 1e-4."""
    s, (bg, gg), ref = cdnow_calibration, cdnow_fits, lifetimes_numbers
    f, r, T, m = s.frequency, s.recency, s.T, s.monetary_value
    np.testing.assert_allclose(cm.bgnbd_p_alive(bg, f, r, T), ref["p_alive"], rtol=1e-4)
    clv = cm.discounted_clv(bg, gg, f, r, T, m, 360, ANNUAL_DISCOUNT)
    np.testing.assert_allclose(clv, ref["clv"], rtol=1e-4)


# ------------------------------------------------------------------------------------------
# 5. NBD: the BG/NBD's no-dropout limit, and the fallback of fit_bgnbd

NBD_TRUE = {"r": 0.8, "alpha": 20.0}


def _simulate_no_dropout(seed: int, n: int = 5000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson purchases, rate ~ Gamma(0.8, 20 days), nobody drops out; T in 100..400 days.
    Repeat purchase times are uniform on (0, T], so t_x is the largest of x uniforms."""
    rng = np.random.default_rng(seed)
    T = rng.integers(100, 401, n).astype(float)
    lam = rng.gamma(NBD_TRUE["r"], 1 / NBD_TRUE["alpha"], n)
    x = rng.poisson(lam * T).astype(float)
    tx = np.where(x > 0, T * rng.beta(np.maximum(x, 1.0), 1.0), 0.0)
    return x, tx, T


def test_nbd_log_likelihood_by_hand() -> None:
    r, alpha, x, T = 0.8, 20.0, 3.0, 150.0
    by_hand = (math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha)
               - (r + x) * math.log(alpha + T))
    assert cm.nbd_log_likelihood(NBD_TRUE, x, T) == pytest.approx(by_hand, rel=1e-14)
    # it is the BG/NBD's limit as a/(a+b) -> 0 (t_x does not matter there)
    limit = cm.bgnbd_log_likelihood({**NBD_TRUE, "a": 1e-12, "b": 1.0}, x, 40.0, T)
    assert limit == pytest.approx(by_hand, abs=1e-9)
    got = cm.nbd_log_likelihood(NBD_TRUE, [1.5, -1, 2, 2], [10.0, 10.0, -1.0, np.inf])
    assert np.isnan(got).all()


def test_nbd_fit_recovers_simulated_parameters() -> None:
    x, _, T = _simulate_no_dropout(20050101)
    fit = cm.fit_nbd(x, T)
    assert fit.converged, fit.message
    assert fit.model == "nbd" and fit.n == 5000
    assert fit.params["r"] == pytest.approx(NBD_TRUE["r"], rel=0.05)
    assert fit.params["alpha"] == pytest.approx(NBD_TRUE["alpha"], rel=0.06)
    # a maximum: at least as likely as the true parameters, and the sum of the per-customer terms
    per_customer = cm.nbd_log_likelihood(fit, x, T)
    assert float(np.sum(per_customer)) == pytest.approx(fit.log_likelihood, rel=1e-12)
    assert fit.log_likelihood >= float(np.sum(cm.nbd_log_likelihood(NBD_TRUE, x, T)))
    # alpha scales with the time unit, r does not
    weeks = cm.fit_nbd(x, T / 7)
    assert weeks.params["alpha"] == pytest.approx(fit.params["alpha"] / 7, rel=1e-5)
    assert weeks.params["r"] == pytest.approx(fit.params["r"], rel=1e-5)


def test_nbd_conditional_expectation_matches_simulation() -> None:
    # customers of age T = 200 days; among those with x repeat purchases, the mean number of
    # purchases in the next t = 90 days must be (r + x) / (alpha + T) * t
    rng = np.random.default_rng(7)
    n, T, t = 1_000_000, 200.0, 90.0
    lam = rng.gamma(NBD_TRUE["r"], 1 / NBD_TRUE["alpha"], n)
    x = rng.poisson(lam * T)
    y = rng.poisson(lam * t)
    for k in (0, 2, 8, 20):
        sel = y[x == k]
        se = sel.std() / math.sqrt(len(sel))
        expected = cm.nbd_expected_purchases(NBD_TRUE, t, k, T)
        assert expected == pytest.approx((NBD_TRUE["r"] + k) / (NBD_TRUE["alpha"] + T) * t)
        assert abs(sel.mean() - expected) < 4 * se, (k, sel.mean(), expected, se)
    # unconditional: r t / alpha, the mean over everyone
    assert cm.nbd_expected_purchases_new(NBD_TRUE, T) == pytest.approx(0.8 * 200 / 20)
    assert abs(x.mean() - cm.nbd_expected_purchases_new(NBD_TRUE, T)) < 4 * x.std() / math.sqrt(n)


def test_purchase_model_dispatch() -> None:
    x = np.array([0.0, 3.0, 3.0])
    tx = np.array([0.0, 50.0, 60.0])  # the last row is invalid (t_x > T)
    T = np.array([100.0, 55.0, 55.0])
    assert cm.purchase_model(NBD_TRUE) == "nbd"
    assert cm.purchase_model(CDNOW_PARAMS) == "bgnbd"
    alive = cm.p_alive(NBD_TRUE, x, tx, T)
    np.testing.assert_array_equal(alive[:2], [1.0, 1.0])
    assert np.isnan(alive[2])
    got = cm.expected_purchases(NBD_TRUE, 30.0, x, tx, T)
    np.testing.assert_allclose(got[:2], (0.8 + x[:2]) / (20.0 + T[:2]) * 30.0, rtol=1e-14)
    assert np.isnan(got[2])
    np.testing.assert_allclose(cm.expected_purchases(CDNOW_PARAMS, 30.0, x[:2], tx[:2], T[:2]),
                               cm.bgnbd_expected_purchases(CDNOW_PARAMS, 30.0, x[:2], tx[:2], T[:2]))
    assert cm.expected_purchases_new(NBD_TRUE, 10.0) == pytest.approx(0.4)
    # CLV with the NBD: with no discount it telescopes to E[Z] (r + x) H / (alpha + T)
    gg = {"p": 6.25, "q": 3.74, "v": 15.44}
    m = np.array([0.0, 30.0])
    clv = cm.discounted_clv(NBD_TRUE, gg, x[:2], tx[:2], T[:2], m, 365.0, 0.0)
    spend = cm.gamma_gamma_expected_spend(gg, x[:2], m)
    np.testing.assert_allclose(clv, spend * (0.8 + x[:2]) / (20.0 + T[:2]) * 365.0, rtol=1e-12)
    # discounted: the 13 steps of 30 days (the last 5) each discounted at their end
    d = 1.1 ** (1 / 12) - 1
    ends = np.minimum(30.0 * np.arange(1, 14), 365.0)
    steps = np.diff(np.concatenate([[0.0], ends]))
    factor = float(np.sum(steps / (1 + d) ** (ends / 30)))
    got = cm.discounted_clv(NBD_TRUE, gg, x[:2], tx[:2], T[:2], m, 365.0, 0.10)
    np.testing.assert_allclose(got, spend * (0.8 + x[:2]) / (20.0 + T[:2]) * factor, rtol=1e-12)


def test_bgnbd_falls_back_to_the_nbd_without_dropout() -> None:
    x, tx, T = _simulate_no_dropout(20050101)
    fit = cm.fit_bgnbd(x, tx, T)
    nbd = cm.fit_nbd(x, T)
    assert fit.converged and fit.model == "nbd", fit.message
    assert fit.message.startswith("no dropout: NBD limit")
    assert set(fit.params) == {"r", "alpha"}
    for name in ("r", "alpha"):
        assert fit.params[name] == pytest.approx(nbd.params[name], rel=1e-9)
    assert fit.log_likelihood == pytest.approx(nbd.log_likelihood, rel=1e-12)
    # without the fallback: not converged, the end point has (almost) no dropout and its
    # log-likelihood is the NBD's, the supremum it approaches
    raw = cm.fit_bgnbd(x, tx, T, nbd_fallback=False)
    assert not raw.converged and raw.model == "bgnbd"
    assert raw.params["a"] / (raw.params["a"] + raw.params["b"]) < 1e-4
    assert raw.log_likelihood == pytest.approx(nbd.log_likelihood, abs=0.01)
    assert raw.log_likelihood <= nbd.log_likelihood + 1e-6
    # the predictions of the end point are the NBD's
    np.testing.assert_allclose(cm.expected_purchases(raw, 90.0, x[:50], tx[:50], T[:50]),
                               cm.expected_purchases(fit, 90.0, x[:50], tx[:50], T[:50]),
                               rtol=1e-4)


@needs_summary
def test_no_fallback_on_cdnow(cdnow_summary: pd.DataFrame) -> None:
    d = cdnow_summary
    fit = cm.fit_bgnbd(d["frequency"], d["recency"], d["T"])
    assert fit.converged and fit.model == "bgnbd", fit.message
    assert fit.params["r"] == pytest.approx(PUBLISHED_BGNBD["r"], rel=5e-3)
    assert fit.params["a"] == pytest.approx(PUBLISHED_BGNBD["a"], rel=5e-3)
    # the dropout is real: the no-dropout NBD is far less likely
    nbd = cm.fit_nbd(d["frequency"], d["T"])
    assert nbd.converged
    assert nbd.log_likelihood < fit.log_likelihood - 100


def test_unidentified_bgnbd_does_not_fall_back() -> None:
    # nobody came back: the NBD does not converge either (r -> 0), so no fallback
    fit = cm.fit_bgnbd(np.zeros(50), np.zeros(50), np.linspace(10, 40, 50))
    assert not fit.converged and fit.model == "bgnbd"
    assert not cm.fit_nbd(np.zeros(50), np.linspace(10, 40, 50)).converged
