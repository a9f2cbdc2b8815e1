"""Tests of spendlens.clv_purchase_models (MBG/NBD, Pareto/NBD, standard errors).

Data: ``../shared/datasets/cdnow/CDNOW_sample.txt`` (the 2,357-customer CDNOW sample's
transactions; override the folder with SPENDLENS_DATASETS). The published numbers are in the
datasets README: calibration weeks 1-39 (to 1997-09-30), holdout weeks 40-78 (to 1998-06-30).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_DATASETS
from scipy import integrate, special

from spendlens import clv_model as cm
from spendlens import clv_purchase_models as pm

REPO = Path(__file__).resolve().parents[2]
# the shared data sets beside the checkout, as conftest.py finds them (worktrees: /work/shared)
DATASETS = Path(os.environ.get("SPENDLENS_DATASETS", SHARED_DATASETS))
CDNOW_SAMPLE = DATASETS / "cdnow" / "CDNOW_sample.txt"
LIFETIMES_PYTHON = Path(
    os.environ.get("SPENDLENS_LIFETIMES_PYTHON", REPO / ".venv-lifetimes" / "bin" / "python")
)
needs_sample = pytest.mark.skipif(not CDNOW_SAMPLE.exists(),
                                  reason=f"CDNOW sample not found at {CDNOW_SAMPLE}")

CALIBRATION_END = "1997-09-30"
HOLDOUT_END = "1998-06-30"
HOLDOUT_WEEKS = 39.0
# Fader, Hardie & Lee (2005) and Fader & Hardie's Pareto/NBD note; time in weeks.
PUBLISHED = {
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "pareto_nbd": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},
}
PUBLISHED_LL = {"bgnbd": -9582.4, "pareto_nbd": -9594.98}
PUBLISHED_BGNBD_HOLDOUT = 1653.9
PARETO = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
MBG = {"r": 0.52, "alpha": 6.2, "a": 0.89, "b": 1.6}


@pytest.fixture(scope="module")
def sample() -> tuple[cm.RFMSummary, pd.DataFrame]:
    tx = pd.read_csv(CDNOW_SAMPLE, sep=r"\s+", header=None,
                     names=["master_id", "customer_id", "date", "cds", "amount"],
                     dtype={"date": str})
    tx["day"] = pd.to_datetime(tx["date"], format="%Y%m%d").to_numpy().astype("datetime64[D]")
    s = cm.summarize_transactions(tx["customer_id"].to_numpy(), tx["day"].to_numpy(),
                                  tx["amount"].to_numpy(), CALIBRATION_END, time_unit_days=7.0)
    return s, tx


@pytest.fixture(scope="module")
def fits(sample) -> dict[str, cm.FitResult]:
    s, _ = sample
    return {name: pm.fit_purchase_model(name, s.frequency, s.recency, s.T)
            for name in pm.PURCHASE_MODELS}


def _holdout_actual(s: cm.RFMSummary, tx: pd.DataFrame) -> np.ndarray:
    days = tx[["customer_id", "day"]].drop_duplicates()
    hold = days[(days["day"] > np.datetime64(CALIBRATION_END))
                & (days["day"] <= np.datetime64(HOLDOUT_END))]
    counts = hold.groupby("customer_id").size()
    return counts.reindex(s.customer_id, fill_value=0).to_numpy()


# ------------------------------------------------------------------------------------------
# 1. the published CDNOW-sample reference


@needs_sample
def test_sample_summary_and_holdout_count(sample) -> None:
    s, tx = sample
    assert len(s.customer_id) == 2357
    assert int(_holdout_actual(s, tx).sum()) == 1882


@needs_sample
@pytest.mark.parametrize("name", ["bgnbd", "pareto_nbd"])
def test_reproduces_published_estimates(fits, name: str) -> None:
    fit = fits[name]
    assert fit.converged, fit.message
    assert fit.model == name and fit.n == 2357
    for param, published in PUBLISHED[name].items():
        assert fit.params[param] == pytest.approx(published, rel=5e-3), param
    assert fit.log_likelihood == pytest.approx(PUBLISHED_LL[name], abs=0.1)
    assert all(np.isfinite(v) and v > 0 for v in fit.std_errors.values())
    assert set(fit.std_errors) == set(fit.params)


@needs_sample
@pytest.mark.parametrize("name", ["bgnbd", "pareto_nbd"])
def test_holdout_prediction_matches_published_estimates(sample, fits, name: str) -> None:
    s, _ = sample
    ours = float(np.sum(cm.expected_purchases(fits[name], HOLDOUT_WEEKS, s.frequency,
                                              s.recency, s.T)))
    published = float(np.sum(cm.expected_purchases(PUBLISHED[name], HOLDOUT_WEEKS,
                                                   s.frequency, s.recency, s.T)))
    assert ours == pytest.approx(published, rel=0.01)
    if name == "bgnbd":
        assert published == pytest.approx(PUBLISHED_BGNBD_HOLDOUT, abs=1.0)


@needs_sample
def test_mbgnbd_fit(sample, fits) -> None:
    s, _ = sample
    mbg, bg = fits["mbgnbd"], fits["bgnbd"]
    assert mbg.converged, mbg.message
    assert mbg.model == "mbgnbd"
    # not nested, but the extra dropout point must not make the fit clearly worse
    assert mbg.log_likelihood >= bg.log_likelihood - 1.0
    per_customer = pm.mbgnbd_log_likelihood(mbg, s.frequency, s.recency, s.T)
    assert float(np.sum(per_customer)) == pytest.approx(mbg.log_likelihood, rel=1e-12)
    alive = np.asarray(cm.p_alive(mbg, s.frequency, s.recency, s.T))
    one_time = s.frequency == 0
    assert np.all(alive[one_time] < 1) and np.all(alive[one_time] > 0)
    # ... and falls with the time since the single purchase
    T = np.array([1.0, 10.0, 39.0])
    assert np.all(np.diff(pm.mbgnbd_p_alive(mbg, 0, 0, T)) < 0)
    assert all(np.isfinite(v) and v > 0 for v in mbg.std_errors.values())


@needs_sample
def test_pareto_one_time_buyers_can_leave(fits) -> None:
    fit = fits["pareto_nbd"]
    T = np.array([1.0, 10.0, 39.0])
    alive = pm.pareto_nbd_p_alive(fit, 0, 0, T)
    assert np.all(alive < 1) and np.all(np.diff(alive) < 0)
    # repeat buyers: P(alive) falls with the time since the last purchase
    assert np.all(np.diff(pm.pareto_nbd_p_alive(fit, 3, np.array([30.0, 20.0, 5.0]), 39.0)) < 0)
    assert pm.pareto_nbd_p_alive(fit, 3, 39.0, 39.0) == pytest.approx(1.0)


# ------------------------------------------------------------------------------------------
# 2. closed forms against numerical integration


@pytest.mark.parametrize("params", [PARETO, {**PARETO, "alpha": 20.0, "beta": 3.0},
                                    {**PARETO, "alpha": 5.0, "beta": 5.0}])
@pytest.mark.parametrize(("x", "tx", "T"), [(0, 0.0, 30.0), (2, 10.0, 38.0), (7, 37.5, 38.0),
                                            (40, 20.0, 39.0)])
def test_pareto_likelihood_matches_integral(params, x: int, tx: float, T: float) -> None:
    r, alpha, s, beta = (params[k] for k in pm.PARETO_NBD_PARAMS)
    # L = Gamma(r+x) a^r b^s / Gamma(r) [ (a+T)^-(r+x) (b+T)^-s
    #                                     + s int_tx^T (a+y)^-(r+x) (b+y)^-(s+1) dy ]
    integral, _ = integrate.quad(lambda y: (alpha + y) ** -(r + x) * (beta + y) ** -(s + 1),
                                 tx, T, epsabs=0, epsrel=1e-12)
    lead = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    expected = lead + np.log((alpha + T) ** -(r + x) * (beta + T) ** -s + s * integral)
    assert pm.pareto_nbd_log_likelihood(params, x, tx, T) == pytest.approx(expected, rel=1e-9)
    alive = (alpha + T) ** -(r + x) * (beta + T) ** -s / np.exp(expected - lead)
    assert pm.pareto_nbd_p_alive(params, x, tx, T) == pytest.approx(alive, rel=1e-9)


def test_pareto_expected_purchases_by_integration() -> None:
    # alive at T: lambda ~ Gamma(r+x, alpha+T), mu ~ Gamma(s, beta+T) independent;
    # E[Y(t) | lambda, mu] = lambda/mu (1 - exp(-mu t))
    r, alpha, s, beta = (PARETO[k] for k in pm.PARETO_NBD_PARAMS)
    x, tx, T, t = 2, 20.0, 39.0, 39.0
    e_lambda = (r + x) / (alpha + T)
    e_mu_part, _ = integrate.quad(
        lambda mu: (1 - np.exp(-mu * t)) / mu
        * np.exp(s * np.log(beta + T) + (s - 1) * np.log(mu) - mu * (beta + T) - special.gammaln(s)),
        0, np.inf, epsabs=0, epsrel=1e-11, limit=200)
    expected = e_lambda * e_mu_part * pm.pareto_nbd_p_alive(PARETO, x, tx, T)
    assert pm.pareto_nbd_expected_purchases(PARETO, t, x, tx, T) == pytest.approx(expected,
                                                                                   rel=1e-8)
    # continuous at s = 1
    at_one = pm.pareto_nbd_expected_purchases({**PARETO, "s": 1.0}, t, x, tx, T)
    near = pm.pareto_nbd_expected_purchases({**PARETO, "s": 1.0 + 1e-9}, t, x, tx, T)
    assert at_one == pytest.approx(near, rel=1e-7)


def test_mbgnbd_expected_purchases_by_simulation() -> None:
    rng = np.random.default_rng(1)
    r, alpha, a, b = (MBG[k] for k in pm.MBGNBD_PARAMS)
    n, t = 400_000, 20.0
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    alive = rng.random(n) >= p  # dropout at time 0 too
    count = np.zeros(n)
    clock = np.zeros(n)
    while alive.any():
        clock[alive] += rng.exponential(1 / lam[alive])
        bought = alive & (clock <= t)
        count[bought] += 1
        alive = bought & (rng.random(n) >= p)
    se = count.std() / np.sqrt(n)
    assert abs(count.mean() - pm.mbgnbd_expected_purchases_new(MBG, t)) < 4 * se


def test_domain_and_dispatch() -> None:
    x = np.array([0, 1, -1, 2, 1.5])
    tx = np.array([0.0, 6.0, 0.0, 5.0, 1.0])
    T = np.array([5.0, 4.0, 5.0, 5.0, 5.0])
    for fn, params in ((pm.mbgnbd_p_alive, MBG), (pm.pareto_nbd_p_alive, PARETO)):
        out = fn(params, x, tx, T)
        assert np.isfinite(out[[0, 3]]).all() and np.isnan(out[[1, 2, 4]]).all()
    assert isinstance(pm.pareto_nbd_expected_purchases(PARETO, 10, 1, 2.0, 5.0), float)
    mbg_fit = cm.FitResult(dict(MBG), float("nan"), 0, True, "", "mbgnbd")
    assert cm.purchase_model(mbg_fit) == "mbgnbd"
    assert cm.purchase_model(PARETO) == "pareto_nbd"
    assert cm.p_alive(mbg_fit, 0, 0, 10.0) == pm.mbgnbd_p_alive(MBG, 0, 0, 10.0)
    clv = cm.discounted_clv(PARETO, {"p": 6.0, "q": 4.0, "v": 15.0}, [0, 3], [0, 20], [30, 30],
                            [0, 20.0], 365, 0.1, time_unit_days=7)
    assert np.all(np.isfinite(clv)) and np.all(clv > 0)
    with pytest.raises(ValueError, match="unknown purchase model"):
        pm.fit_purchase_model("nope", [0], [0], [1])


def test_fit_without_repeat_buyers_is_not_converged() -> None:
    x = np.zeros(50)
    T = np.linspace(5, 30, 50)
    for fitter in (pm.fit_mbgnbd, pm.fit_pareto_nbd):
        fit = fitter(x, x, T)
        assert not fit.converged and fit.std_errors == {}


# ------------------------------------------------------------------------------------------
# 3. lifetimes 0.11.3 (own venv, as for the BG/NBD in test_clv_model.py)

LIFETIMES_SCRIPT = r"""
import json, sys
import numpy as np, pandas as pd
from lifetimes import ModifiedBetaGeoFitter, ParetoNBDFitter
s = pd.read_csv(sys.argv[1])
f, r, T = s["frequency"], s["recency"], s["T"]
out = {}
for name, cls in (("mbgnbd", ModifiedBetaGeoFitter), ("pareto_nbd", ParetoNBDFitter)):
    m = cls().fit(f, r, T)
    out[name] = {"params": {k: float(v) for k, v in m.params_.items()},
                 "p_alive": np.asarray(m.conditional_probability_alive(f, r, T)).tolist(),
                 "expected": np.asarray(
                     m.conditional_expected_number_of_purchases_up_to_time(39, f, r, T)).tolist()}
json.dump(out, sys.stdout)
"""


@needs_sample
def test_matches_lifetimes(sample, fits, tmp_path) -> None:
    if not LIFETIMES_PYTHON.exists():
        pytest.skip(f"no lifetimes interpreter at {LIFETIMES_PYTHON}: run scripts/lifetimes_env.sh")
    s, _ = sample
    path = tmp_path / "summary.csv"
    pd.DataFrame({"frequency": s.frequency, "recency": s.recency, "T": s.T}).to_csv(
        path, index=False, float_format="%.17g")
    run = subprocess.run([str(LIFETIMES_PYTHON), "-c", LIFETIMES_SCRIPT, str(path)],
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert run.returncode == 0, run.stderr[-3000:]
    ref = json.loads(run.stdout)
    for name in ("mbgnbd", "pareto_nbd"):
        fit = fits[name]
        for param, value in ref[name]["params"].items():
            assert fit.params[param] == pytest.approx(value, rel=1e-3), (name, param)
        # with lifetimes' own estimates, our formulas give lifetimes' numbers
        params = cm.FitResult(ref[name]["params"], float("nan"), 0, True, "", name)
        np.testing.assert_allclose(cm.p_alive(params, s.frequency, s.recency, s.T),
                                   ref[name]["p_alive"], rtol=1e-6, err_msg=name)
        np.testing.assert_allclose(
            cm.expected_purchases(params, 39.0, s.frequency, s.recency, s.T),
            ref[name]["expected"], rtol=1e-6, err_msg=name)


# ------------------------------------------------------------------------------------------
# 4. the choice of the purchase model (spendlens.clv_fitting.choose, behind int_clv_models_fitted)


def _fitted_model_module():
    from spendlens import clv_fitting

    return clv_fitting


def test_choice_by_holdout_mae_never_a_non_converged_model() -> None:
    mod = _fitted_model_module()

    def fit(ll: float) -> cm.FitResult:
        return cm.FitResult({}, ll, 10, True, "")

    ok = {"bgnbd": (fit(-10.0), "fitted", ""), "mbgnbd": (fit(-9.0), "fitted", ""),
          "pareto_nbd": (fit(-8.0), "not converged: flat", "")}
    maes = {"bgnbd": 0.5, "mbgnbd": 0.6, "pareto_nbd": 0.1}
    assert mod.choose("auto", ok, ok, maes) == "bgnbd"  # pareto_nbd has not converged
    assert mod.choose("auto", ok, ok, {**maes, "mbgnbd": 0.5}) == "mbgnbd"  # tie: higher ll
    assert mod.choose("pareto_nbd", ok, ok, maes) == "pareto_nbd"  # asked for: used as is
    # no usable backtest: the highest as-of log-likelihood among the fitted models
    assert mod.choose("auto", ok, {}, dict.fromkeys(maes)) == "mbgnbd"
    nbd_limit = {**ok, "bgnbd": (fit(-7.0), mod.NBD_LIMIT_STATUS, "")}
    assert mod.choose("auto", nbd_limit, {}, dict.fromkeys(maes)) == "bgnbd"
    none = dict.fromkeys(ok, (None, "ineligible: x", ""))
    assert mod.choose("auto", none, none, dict.fromkeys(maes)) == "bgnbd"
