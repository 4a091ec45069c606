"""The one-step map of the Monte Carlo engine for tanh and sigmoid networks.

The engine evaluates ``a(x) = c0 + c1/(1 + e^{kx})`` with one exp (the constant ``c0·scale``
travels with the noise in ``Integrator.const``); here ``step(h) + const`` is compared with
``M h + scale·a(W h + b)`` written independently with ``np.tanh`` and
``scipy.special.expit``, for both schemes, diagonal and full ``Γ``, and pre-activations
up to ±10^4 (the exp overflows to ``inf`` there, silently, and ``a`` takes its limit).
"""

import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.special

from volterra_sym.model import SRNN
from volterra_sym.montecarlo.integrators import Integrator, model_arrays

ACT = {"tanh": np.tanh, "sigmoid": scipy.special.expit}


@pytest.mark.parametrize("act", ["tanh", "sigmoid"])
@pytest.mark.parametrize("scheme", ["euler", "exponential"])
@pytest.mark.parametrize("diagonal", [True, False])
def test_step_matches_reference(act, scheme, diagonal):
    rng = np.random.default_rng(7)
    n, dt = 5, 0.01
    G = np.diag(rng.uniform(1, 2, n))
    if not diagonal:
        G = G + 0.1 * rng.normal(size=(n, n)) @ np.diag([1, 0, 1, 0, 1])
    model = SRNN(G, 0.3 * rng.normal(size=(n, n)), rng.normal(size=(n, 1)), 0.5,
                 b=rng.normal(size=n), activation=act)
    p = model_arrays(model)
    integ = Integrator(model, p, scheme, dt)
    scales = np.array([1.0, 10.0, 1e2, 1e4, 1e-9])
    h = rng.normal(size=(2, n, 400)) * scales[None, :, None]
    integ.allocate(h.shape)
    out = np.empty_like(h)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        integ.step(h, out)
    out += integ.const[:, None]
    a = ACT[act](np.einsum("ij,vjp->vip", p["W"], h) + p["b"][:, None])
    if scheme == "euler":
        ref = np.einsum("ij,vjp->vip", np.eye(n) - dt * G, h) + dt * a
    else:
        E = scipy.linalg.expm(-G * dt)
        Phi1 = np.linalg.solve(G, np.eye(n) - E)         # ∫_0^dt e^{-Gs} ds
        ref = np.einsum("ij,vjp->vip", E, h) + np.einsum("ij,vjp->vip", Phi1, a)
    assert np.all(np.isfinite(out))
    tol = 1e-14 * np.max(np.abs(h), axis=1, keepdims=True) + 1e-15
    assert np.all(np.abs(out - ref) <= tol), np.max(np.abs(out - ref))
