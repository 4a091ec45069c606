"""Tests of the SRNN kernel machine (docs/theory.md §5): ridge readout on the response features vs
kernel ridge with ``k = <S, M S>``, the generic signature kernel, and the closed forms.

Independent references: an augmented least-squares ridge (numpy lstsq), brute-force
leave-one-out refits, the exact series backend for linear models, and signatures computed
directly at lower depth/degree.
"""

from __future__ import annotations

import numpy as np
import pytest

from volterra_sym import SRNN
from volterra_sym.errors import InvalidInputError
from volterra_sym.features import (
    feature_kernel,
    fit_kernel_ridge,
    fit_ridge,
    hidden_unit_functionals,
    loo_errors,
    response_features,
    response_kernel_matrix,
    restrict_index,
    select_lambda,
    series_features,
    signature_batch,
    signature_kernel,
    srnn_features,
    unit_vectors,
)

HORIZON = 0.8


@pytest.fixture(scope="module")
def linear2() -> SRNN:
    """2-dim linear SRNN, two input channels (exact Gaussian route, fast)."""
    return SRNN(Gamma=[[1.0, 0.2], [0.0, 1.5]], W=[[0.0, 0.4], [-0.5, 0.1]],
                C=[[1.0, 0.0], [0.3, 1.0]], sigma=[[0.5, 0.0], [0.2, 0.4]], b=[0.3, -0.2])


@pytest.fixture(scope="module")
def tanh2() -> SRNN:
    return SRNN([[0.5, 0.0], [0.0, 0.6]], [[0.4, -0.3], [0.3, 0.25]], [[1.0], [0.5]],
                [[0.4, 0.0], [0.0, 0.4]], b=[0.1, -0.2], activation="tanh")


@pytest.fixture(scope="module")
def tanh2_funcs(tanh2):
    return hidden_unit_functionals(tanh2, order=2, degree=6)


def random_samples(rng: np.random.Generator, B: int, times: np.ndarray, m: int) -> np.ndarray:
    c = rng.normal(size=(B, m, 4))
    w = np.arange(4)[:, None] * times[None, :]
    return np.einsum("bmj,jt->btm", c[..., :2], np.cos(w[:2])) + \
        np.einsum("bmj,jt->btm", c[..., 2:], np.sin(w[2:] + 1))


# ----------------------------------------------------------------------------- acceptance


@pytest.mark.parametrize("per_order", [False, True])
def test_kernel_ridge_equals_ridge_readout(tanh2_funcs, per_order) -> None:
    """Kernel ridge with k = <S, M S>, M = Σ ℓ_i ℓ_iᵀ, reproduces the ridge readout on the
    features φ_i = <ℓ_i, S> to 1e-8 relative (same feature map, intercept by centring)."""
    rng = np.random.default_rng(0)
    times = np.linspace(0.0, HORIZON, 33)
    U = random_samples(rng, 80, times, 1)
    S, lay = signature_batch(U, times, HORIZON, 2, 6)
    assert lay == tanh2_funcs[0].layout
    Phi = srnn_features(tanh2_funcs, S, HORIZON, 0.6, per_order=per_order)
    assert Phi.shape == (80, 4 if per_order else 2)
    M = response_kernel_matrix(tanh2_funcs, HORIZON, 0.6, per_order=per_order)
    assert np.linalg.matrix_rank(M, tol=1e-10 * np.abs(M).max()) == Phi.shape[1]
    y = np.tanh(2 * S[:, 1]) + 0.1 * rng.normal(size=80)
    tr, te = slice(0, 50), slice(50, None)
    K_tr = feature_kernel(S[tr], S[tr], M)
    np.testing.assert_allclose(K_tr, Phi[tr] @ Phi[tr].T, rtol=1e-10,
                               atol=1e-12 * np.abs(K_tr).max())
    worst = 0.0
    lam_best, _, _ = select_lambda(K_tr, y[tr])
    for lam in (1e-6 * np.trace(K_tr) / 50, 1e-2, lam_best, 0.0):
        p_ridge = fit_ridge(Phi[tr], y[tr], lam).predict(Phi[te])
        p_kern = fit_kernel_ridge(K_tr, y[tr], lam).predict(feature_kernel(S[te], S[tr], M))
        rel = np.max(np.abs(p_kern - p_ridge)) / np.max(np.abs(p_ridge))
        if lam > 0:
            worst = max(worst, rel)
            assert rel < 1e-8, (lam, rel)
        else:  # ridgeless: min-norm pseudo-inverses; the kernel route squares cond(Φ_c)
            assert rel < 1e-6, rel
    print(f"per_order={per_order}: max relative difference (λ > 0) {worst:.1e}")


def test_features_match_exact_series(linear2) -> None:
    """<ℓ_i, S> for a linear model (two channels, orders ≤ 2) vs the exact series backend."""
    funcs = hidden_unit_functionals(linear2, order=2, degree=12)
    eps = 0.8

    def make(a: float, b: float):
        return lambda s: np.stack([np.sin(a * np.asarray(s) + b), np.cos(b * np.asarray(s))],
                                  axis=-1)

    inputs = [make(1.0, 0.3), make(2.5, -0.7), make(0.5, 1.1)]
    times = np.linspace(0.0, HORIZON, 17)
    S, lay = signature_batch(inputs, times, HORIZON, 2, 12, extrapolate=True)
    assert lay.m == 2 and S.shape == (3, lay.size)
    Phi = srnn_features(funcs, S, HORIZON, eps)
    ref = series_features(linear2, inputs, HORIZON, eps, 2, method="exact")
    np.testing.assert_allclose(Phi, ref, rtol=1e-9, atol=1e-11)
    # per-order rows: ε^N ℓ_{i,N}; their sum plus the constant reproduces ℓ_i
    L = unit_vectors(funcs, HORIZON, eps)
    Lp = unit_vectors(funcs, HORIZON, eps, per_order=True)
    const = np.zeros(lay.size)
    const[0] = 1.0
    for i, F in enumerate(funcs):
        np.testing.assert_allclose(L[i], Lp[2 * i] + Lp[2 * i + 1] + F.mean0 * const,
                                   rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------------------- pieces


def test_ridge_closed_form_against_lstsq() -> None:
    rng = np.random.default_rng(1)
    Phi = rng.normal(size=(40, 5)) + 3.0
    y = rng.normal(size=(40, 2))
    lam = 0.7
    r = fit_ridge(Phi, y, lam)
    A = np.vstack([np.hstack([np.ones((40, 1)), Phi]),
                   np.hstack([np.zeros((5, 1)), np.sqrt(lam) * np.eye(5)])])
    sol = np.linalg.lstsq(A, np.vstack([y, np.zeros((5, 2))]), rcond=None)[0]
    np.testing.assert_allclose(r.weights, sol[1:], rtol=1e-10)
    np.testing.assert_allclose(r.intercept, sol[0], rtol=1e-10)
    np.testing.assert_allclose(r.predict(Phi), A[:40] @ sol, rtol=1e-10)


def test_loo_is_exact() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(25, 3))
    K = (1 + X @ X.T) ** 2
    y = np.sin(X[:, 0]) + X[:, 1] ** 2
    lams = [1e-3, 1e-1, 3.0]
    fast = loo_errors(K, y, lams)
    for lam, f in zip(lams, fast, strict=True):
        errs = []
        for j in range(25):
            keep = np.arange(25) != j
            kr = fit_kernel_ridge(K[np.ix_(keep, keep)], y[keep], lam)
            errs.append(kr.predict(K[j:j + 1, keep])[0] - y[j])
        assert abs(np.mean(np.square(errs)) - f) < 1e-9 * f
    best, grid, err = select_lambda(K, y)
    assert best == grid[np.argmin(err)]


def test_signature_kernel_and_restriction() -> None:
    rng = np.random.default_rng(4)
    times = np.linspace(0.0, 1.0, 21)
    U = random_samples(rng, 5, times, 2)
    S, lay = signature_batch(U, times, 1.0, 3, 3)
    for depth, deg in ((1, 0), (2, 1), (3, 2), (2, 3)):
        sub = response_features(U, times, depth, deg, times_out=[1.0]).values[:, 0]
        np.testing.assert_allclose(S[:, restrict_index(lay, depth, deg)], sub, rtol=1e-12,
                                   atol=1e-15)
        K = signature_kernel(S, layout=lay, depth=depth, degree=deg)
        np.testing.assert_allclose(K, sub @ sub.T, rtol=1e-12)
    # scale λ: the kernel of the dilated path λX weighs level n by λ^{2n}
    lam = 0.5
    K = signature_kernel(S, S[:2], layout=lay, scale=lam)
    lev = np.concatenate([np.full(lay.d**n, n) for n in range(4)])
    np.testing.assert_allclose(K, (S * lam ** (2 * lev)) @ S[:2].T, rtol=1e-12)
    np.testing.assert_allclose(signature_kernel(S), S @ S.T)


def test_bad_inputs(tanh2_funcs) -> None:
    times = np.linspace(0.0, HORIZON, 9)
    U = np.ones((3, times.size, 1))
    with pytest.raises(ValueError, match="depth"):
        signature_batch(U, times, HORIZON, 0, 2)
    with pytest.raises(ValueError, match="depth"):
        signature_batch(U, times, HORIZON, -2, 2)
    with pytest.raises(ValueError, match="increasing"):
        signature_batch(U, times[::-1], HORIZON, 2, 2)
    bad = U.copy()
    bad[1, 4, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        signature_batch(bad, times, HORIZON, 2, 2)
    with pytest.raises(ValueError, match="shape"):
        signature_batch(np.ones((3, 4, 1)), times, HORIZON, 2, 2)
    with pytest.raises(ValueError, match="times_out"):
        signature_batch(U, times, 0.33, 2, 2)
    with pytest.raises(ValueError, match="callable"):
        signature_batch(lambda s: s, times, HORIZON, 2, 2)
    with pytest.raises(ValueError, match="S must"):
        srnn_features(tanh2_funcs, np.ones((3, 5)), HORIZON, 0.5)
    # functionals of the input inside the activation read the augmented input: the
    # refusal of a plain-input S says how to build the right one
    from volterra_sym.errors import InvalidInputError
    from volterra_sym.features.kernel_machine import hidden_unit_functionals
    from volterra_sym.model.catalogue import load_model

    inside = hidden_unit_functionals(load_model("tanh1d_inside"), 2, 4)
    with pytest.raises(InvalidInputError, match="feature_input") as exc:
        srnn_features(inside, np.ones((3, 5)), HORIZON, 0.5)
    assert exc.value.param == "S"
    with pytest.raises(ValueError, match="lam"):
        fit_ridge(np.ones((4, 2)), np.ones(4), -1.0)
    with pytest.raises(ValueError, match="finite"):
        fit_ridge(np.full((4, 2), np.nan), np.ones(4), 1.0)
    with pytest.raises(ValueError, match="rows"):
        fit_ridge(np.ones((4, 2)), np.ones(5), 1.0)
    with pytest.raises(ValueError, match="square"):
        fit_kernel_ridge(np.ones((4, 3)), np.ones(4), 1.0)
    with pytest.raises(ValueError, match="K_test"):
        fit_kernel_ridge(np.eye(4), np.ones(4), 1.0).predict(np.ones((2, 3)))
    with pytest.raises(ValueError, match="layout"):
        signature_kernel(np.ones((2, 7)), depth=1)


@pytest.mark.slow
def test_example_quick(tmp_path) -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "kernel_machine.py"
    spec = importlib.util.spec_from_file_location("kernel_machine_example", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    res = mod.main(["--quick", "--out", str(tmp_path / "km.png")])
    assert (tmp_path / "km.png").exists()
    assert res["kernel_identity"] < 1e-8
    assert res["feature_check"] < 1e-4


# ----------------------------------------------------------------------------- bad kernels
_RNG = np.random.default_rng(7)
_X3 = _RNG.normal(size=(12, 3))
_Y12 = _RNG.normal(size=12)
_A = _RNG.normal(size=(12, 12))
_INDEF = _A + _A.T                       # eigenvalues of both signs, O(1)
_NOISY = _X3 @ _X3.T + 1e-11 * _INDEF    # rank 3 plus perturbations of ±1e-11


@pytest.mark.parametrize("call", [
    lambda: fit_kernel_ridge(_INDEF, _Y12, 0.0),
    lambda: fit_kernel_ridge(_INDEF, _Y12, 1e-3),
    lambda: fit_kernel_ridge(_X3 @ _X3.T + np.triu(np.ones((12, 12)), 1), _Y12, 0.1),
    lambda: loo_errors(_INDEF, _Y12, [0.0, 1.0]),
    lambda: select_lambda(_INDEF, _Y12),
])
def test_indefinite_or_asymmetric_kernel_is_refused(call) -> None:
    """An indefinite K_c had its negative directions dropped silently (λ = 0; λ = −s_min
    makes K_c + λI singular); an asymmetric K was symmetrised without a word."""
    with pytest.raises(InvalidInputError) as info:
        call()
    assert info.value.param == "K"


def test_ridgeless_fit_on_a_numerically_singular_kernel_is_refused() -> None:
    """λ = 0 on a rank-3 kernel plus ±1e-11 noise kept the +1e-11 eigenvalues: coefficients
    ~1e11 (dominated by the noise), returned silently."""
    with pytest.raises(InvalidInputError, match="lam > 0") as info:
        fit_kernel_ridge(_NOISY, _Y12, 0.0)
    assert info.value.param == "lam"
    # at the advised λ the noise (≤ 1e-3 λ) hardly moves the fit: the ridge readout on the
    # noise-free features (independent route) predicts the same to 1e-2 |y|
    lam = float(str(info.value).split("lam >= ")[1].split(",")[0])
    kr = fit_kernel_ridge(_NOISY, _Y12, lam)
    ref = fit_ridge(_X3, _Y12, lam).predict(_X3)
    np.testing.assert_allclose(kr.predict(_NOISY), ref, atol=1e-2 * np.abs(_Y12).max())
    # the same kernel without the noise is exactly rank 3: the ridgeless fit is the min-norm
    # least squares fit on the features (independent route: lstsq on [1, Φ])
    K = _X3 @ _X3.T
    kr0 = fit_kernel_ridge(K, _Y12, 0.0)
    A = np.hstack([np.ones((12, 1)), _X3])
    coef = np.linalg.lstsq(A, _Y12, rcond=None)[0]
    np.testing.assert_allclose(kr0.predict(K), A @ coef, rtol=1e-9, atol=1e-12)


def test_ridgeless_readout_refuses_numerically_collinear_features():
    """fit_ridge(lam=0) kept a singular value of Φ_c just above lstsq's cutoff (features
    collinear up to 1e-11 noise), its 1/s amplifying rounding; now refused naming lam, as
    fit_kernel_ridge does. Exactly collinear columns are dropped by the pseudo-inverse
    (accepted, and the predictions equal those of the independent columns alone)."""
    from volterra_sym.errors import InvalidInputError
    from volterra_sym.features.kernel_machine import fit_ridge
    rng = np.random.default_rng(0)
    A = rng.normal(size=(40, 3))
    y = A @ np.array([1.0, -1.0, 0.5]) + 0.1 * rng.normal(size=40)
    near = np.hstack([A, A @ np.array([[1.0], [2.0], [3.0]])
                      + 1e-11 * rng.normal(size=(40, 1))])
    with pytest.raises(InvalidInputError) as exc:
        fit_ridge(near, y, 0.0)
    assert exc.value.param == "lam"
    exact = np.hstack([A, A[:, :1]])
    np.testing.assert_allclose(fit_ridge(exact, y, 0.0).predict(exact),
                               fit_ridge(A, y, 0.0).predict(A), rtol=1e-10, atol=1e-12)
    # a small ridge on the near-collinear features fits as the independent ones do
    np.testing.assert_allclose(fit_ridge(near, y, 1e-12).predict(near),
                               fit_ridge(A, y, 0.0).predict(A), rtol=1e-6, atol=1e-8)
