"""The deterministic Galerkin stationary measure (backends/galerkin/measure.py,
``galerkin_density``) against independent routes: the spectral grid density (n = 2) and
the Monte Carlo kernel estimator (n = 3)."""

import numpy as np
import pytest

from volterra_sym import ResponseHierarchy, load_model
from volterra_sym.backends.galerkin import measure as measures
from volterra_sym.montecarlo import estimators


def _moments(meas):
    mu = meas.w @ meas.x
    d = meas.x - mu
    return mu, (d * meas.w[:, None]).T @ d


def test_two_dim_moments_converge_to_the_grid_density():
    model = load_model("tanh2d")
    mg, Sg = _moments(measures.grid_2d(model))
    errs = []
    for degree in (4, 8):
        meas = measures.galerkin_density(model, degree)
        mu, S = _moments(meas)
        errs.append(max(np.abs(mu - mg).max(), np.abs(S - Sg).max()))
        assert meas.details["clipped_mass"] < 1e-2
    # measured: 1.1e-3 at degree 4, 1.7e-5 at degree 8
    assert errs[1] < 1e-4 and errs[1] < errs[0] / 10


def test_three_dim_kernel_agrees_with_monte_carlo():
    model = load_model("tanh3")
    lags = np.array([0.5, 1.0, 2.0])
    K = ResponseHierarchy(model, "h1", 1).kernel((0,)).evaluate(lags[:, None],
                                                               method="galerkin")
    assert K.method == "galerkin"
    est = estimators.first_order_kernel(model, lags, observable="h1", method="girsanov",
                                        n_paths=4000, dt=0.01, n_origins=5,
                                        origin_stride=1.0, window=0.01, seed=3,
                                        control_variate=True)
    mc, se = est.value[:, 0], est.stderr[:, 0]
    bias = 0.0 if est.bias is None else np.abs(est.bias[:, 0])
    # the window average over [σ, σ+dt] differs from the point value by ~ dt/2 |K'|
    window = 0.5 * 0.01 * 1.5
    tol = 4 * se + bias + np.asarray(K.error) + window
    assert np.all(np.abs(np.asarray(K) - mc) <= tol), (np.asarray(K), mc, se, K.error)
    # the check can fail: the Monte Carlo error bars resolve the kernel's decay
    assert np.all(se[:2] < 0.1 * np.abs(mc[:2]))


def test_too_many_points_is_not_applicable():
    from volterra_sym.errors import NotApplicableError

    model = load_model("tests/data/tanh10.toml")
    with pytest.raises(NotApplicableError, match="tensor rule"):
        measures.galerkin_density(model, 3)
