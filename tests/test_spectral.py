"""Tests of the grid/spectral backend (``method="spectral"``, n ≤ 2).

References are independent of the backend: the exact linear backend (tensor algebra in
matrix exponentials), the closed-form 1-D density, a Chebyshev collocation of the
fluctuation–dissipation correlation written here, a hand-written 2-D gradient density and
Gauss–Legendre quadrature of the Volterra integrals.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import pytest
import sympy as sp

from volterra_sym import SRNN
from volterra_sym.backends import get_backend
from volterra_sym.backends import spectral as spec
from volterra_sym.density import stationary_density
from volterra_sym.errors import (
    AccuracyNotReachedError,
    InvalidInputError,
    NotApplicableError,
    ResourceLimitError,
    UnsupportedOrderError,
)
from volterra_sym.hierarchy import ResponseHierarchy


# ----------------------------------------------------------------------------- models
def lin1() -> SRNN:
    return SRNN(1.0, 0.3, [[1.0, -0.5]], 0.8, 0.2, "linear")


def lin2() -> SRNN:
    """Non-normal A, correlated noise: not reversible (Gaussian hat weight)."""
    return SRNN([[1.0, 0.3], [-0.2, 0.8]], [[0.1, -0.6], [0.5, 0.0]], [[1.0, 0.0], [0.4, 1.0]],
                [[0.7, 0.1], [0.0, 0.5]], [0.2, -0.1], "linear")


@functools.cache  # shared: its grids and eigen-decompositions are cached on the model
def tanh1() -> SRNN:
    return SRNN(1.0, 2.0, [[1.0, 0.5]], 0.8, 0.3, "tanh")


@functools.cache
def tanh2() -> SRNN:
    """Non-gradient 2-D tanh network with two channels (no closed-form p0)."""
    return SRNN(np.eye(2), [[0.5, -1.0], [0.8, 0.3]], [[1.0, 0.0], [0.5, 1.0]], 0.7, [0.2, -0.1],
                "tanh")


def relerr(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - b)) / np.max(np.abs(b)))


def u2(t: float) -> np.ndarray:
    return np.array([np.sin(1.3 * t), 0.5 * np.cos(0.7 * t)])


# ----------------------------------------------------------------------------- linear vs exact
@pytest.mark.parametrize("make, f, tol", [
    (lin1, "h1**3 + h1", 1e-8),
    (lin2, "h1**2*h2 + h2 - 0.3*h1**3", 1e-6),
])
def test_kernels_match_exact_on_linear_models(make, f, tol):
    model = make()
    hier = ResponseHierarchy(model, f, order=3)
    rng = np.random.default_rng(1)
    for N in (1, 2, 3):
        lags = rng.uniform(0, 3, size=(12, N))  # unsorted: the caller's symmetric extension
        lags[0] = 0.0
        for chans in itertools.product(range(2), repeat=N):
            if N == 3 and chans not in ((0, 1, 0), (1, 1, 1)):
                continue
            K = hier.kernel(chans)
            val, err = K.evaluate(lags, method="spectral", return_error=True)
            ref = K.evaluate(lags, method="exact")
            assert relerr(val, ref) < tol, (chans, relerr(val, ref))
            assert np.all(np.abs(val - ref) <= err + 1e-13 * np.abs(ref).max()), chans


@pytest.mark.parametrize("make, f, tol", [
    (lin1, "h1**3 + h1", 1e-8),
    (lin2, "h1**2*h2 - 0.3*h1**3 + h2", 1e-6),
])
def test_series_and_mean_match_exact_on_linear_models(make, f, tol):
    model = make()
    hier = ResponseHierarchy(model, f, order=3)
    times = np.linspace(0, 8, 41)
    terms = hier.series_terms(u2, times, method="spectral")
    ref = hier.series_terms(u2, times, method="exact")
    assert terms.shape == (4, times.size)
    for N in range(4):
        assert relerr(terms[N], ref[N]) < tol, (N, relerr(terms[N], ref[N]))
    assert abs(hier.mean0(method="spectral") - hier.mean0(method="exact")) < \
        tol * max(1.0, abs(hier.mean0(method="exact")))
    res = spec.series_terms(model, hier.f, 3, u2, times)
    assert np.all(np.abs(res.terms - ref) <= res.error + 1e-9 * np.abs(ref).max(1)[:, None])
    zero = hier.series_terms(u2, [0.0, 0.0], method="spectral")
    assert np.all(zero[1:] == 0) and np.allclose(zero[0], ref[0, 0])


# ----------------------------------------------------------------------------- 1-D tanh
def test_1d_tanh_density_matches_closed_form():
    model = tanh1()
    grid = spec.grid_density(model)
    x = grid.x[:, 0]
    dens = stationary_density(model)
    closed = dens.pdf_numpy()(x)
    # the closed form normalised on the same (spectrally accurate) quadrature
    closed = closed / (closed.sum() * grid.vol)
    assert relerr(grid.p0, closed) < 1e-8
    assert abs(grid.p0.sum() * grid.vol - 1) < 1e-12
    for g in (model.h[0], model.h[0] ** 2):
        num = grid.mean(numerics_eval(model, g, grid.x))
        assert abs(num - float(dens.expectation(g))) < 1e-9
    assert grid.boundary_ratio() < 1e-14


def numerics_eval(model, g, x):
    fn = sp.lambdify([model.h], g, "numpy")
    return np.broadcast_to(np.asarray(fn(x.T), dtype=float), x.shape[:1])


def _cheb(N: int):
    """Chebyshev points on [-1, 1] and differentiation matrix (Trefethen, Spectral Methods)."""
    x = np.cos(np.pi * np.arange(N + 1) / N)
    c = np.r_[2.0, np.ones(N - 1), 2.0] * (-1.0) ** np.arange(N + 1)
    X = np.tile(x, (N + 1, 1)).T
    dX = X - X.T
    D = np.outer(c, 1 / c) / (dX + np.eye(N + 1))
    return x, D - np.diag(D.sum(1))


def _clenshaw_curtis(N: int) -> np.ndarray:
    theta = np.pi * np.arange(N + 1) / N
    w = np.zeros(N + 1)
    v = np.ones(N - 1)
    inner = theta[1:-1]
    if N % 2 == 0:
        w[0] = w[N] = 1.0 / (N * N - 1)
        for k in range(1, N // 2):
            v -= 2 * np.cos(2 * k * inner) / (4 * k * k - 1)
        v -= np.cos(N * inner) / (N * N - 1)
    else:
        w[0] = w[N] = 1.0 / (N * N)
        for k in range(1, (N - 1) // 2 + 1):
            v -= 2 * np.cos(2 * k * inner) / (4 * k * k - 1)
    w[1:-1] = 2 * v / N
    return w


def test_1d_tanh_first_kernel_is_the_fluctuation_dissipation_correlation():
    """K_k(σ) = E_0[v_k(h_0) f(h_σ)] = ∫ p0 v_k P_σ f, computed here by a Chebyshev
    collocation of the symmetrised generator H = √p0 L0 (·/√p0) = D/2 ∂² - φ²/2D - φ'/2
    (Dirichlet walls), with v_k = -C_k ∂ log p0 from the closed form."""
    model = tanh1()
    h = model.h[0]
    f = h ** 3 - 0.5 * h
    dens = stationary_density(model)
    logp = sp.lambdify(h, dens.log_unnormalised, "numpy")
    v = [sp.lambdify(h, vk, "numpy") for vk in dens.conjugate_variables()]
    phi = sp.lambdify(h, model.drift[0], "numpy")
    dphi = sp.lambdify(h, sp.diff(model.drift[0], h), "numpy")
    D = float(model.D[0, 0])
    xs = np.linspace(-15, 15, 30001)
    lp = logp(xs) - logp(xs).max()
    a, b = xs[lp > -52].min(), xs[lp > -52].max()
    Ncheb = 140
    t, Dm = _cheb(Ncheb)
    x = 0.5 * (a + b) + 0.5 * (b - a) * t
    Dm = Dm * 2 / (b - a)
    wq = _clenshaw_curtis(Ncheb) * 0.5 * (b - a)
    H = 0.5 * D * Dm @ Dm - np.diag(phi(x) ** 2 / (2 * D) + 0.5 * dphi(x))
    Hi = H[1:-1, 1:-1]  # Dirichlet: the hat functions vanish at the walls
    lam, V = np.linalg.eig(Hi)
    Vi = np.linalg.inv(V)
    s = np.exp(0.5 * (logp(x) - logp(x).max()))
    s /= math.sqrt(np.sum(wq * s * s))  # ∫ s² = ∫ p0 = 1
    sigma = np.linspace(0, 4, 17)
    fx = x ** 3 - 0.5 * x
    prop = (V * np.exp(np.outer(sigma, lam))[:, None, :]) @ (Vi @ (s * fx)[1:-1])
    hier = ResponseHierarchy(model, f, order=1)
    for k in range(2):
        corr = np.real(prop @ (wq * s * v[k](x))[1:-1])
        K = hier.kernel(k).evaluate(sigma, method="spectral")
        assert relerr(K, corr) < 1e-8, (k, relerr(K, corr))


def test_1d_tanh_series_equals_volterra_quadrature_of_kernels():
    """T_1, T_2 from the forward hierarchy = Gauss–Legendre quadrature of the kernels."""
    model = tanh1()
    hier = ResponseHierarchy(model, "h1**2 + h1", order=2)
    times = np.array([0.7, 2.5])
    terms = hier.series_terms(u2, times, method="spectral")
    xg, wg = np.polynomial.legendre.leggauss(40)
    xg, wg = 0.5 * (xg + 1), 0.5 * wg
    for i, t in enumerate(times):
        s1 = t * xg
        U = np.array([u2(t - s) for s in s1])  # (40, m)
        T1 = sum(t * np.sum(wg * hier.kernel(k).evaluate(s1, method="spectral") * U[:, k])
                 for k in range(2))
        assert abs(T1 - terms[1, i]) < 1e-8 * max(1, abs(T1))
        # ∫_{0<σ1<σ2<t}: σ2 = t a, σ1 = σ2 b, Jacobian t² a
        A, B = np.meshgrid(xg, xg, indexing="ij")
        W2 = np.outer(wg, wg) * t * t * A
        sig = np.stack([(t * A * B).ravel(), (t * A).ravel()], -1)
        Ua = np.array([u2(t - s) for s in sig[:, 0]])
        Ub = np.array([u2(t - s) for s in sig[:, 1]])
        T2 = 0.0
        for k1, k2 in itertools.product(range(2), repeat=2):
            K = hier.kernel((k1, k2)).evaluate(sig, method="spectral")
            T2 += np.sum(W2.ravel() * K * Ua[:, k1] * Ub[:, k2])
        assert abs(T2 - terms[2, i]) < 1e-7 * max(1, abs(T2)), (t, T2, terms[2, i])


# ----------------------------------------------------------------------------- 2-D tanh
def test_2d_tanh_density_is_stationary():
    model = tanh2()
    grid = spec.grid_density(model)
    h1, h2 = model.h
    assert grid.domain.kind == "gaussian"  # not reversible: no closed form
    assert abs(grid.p0.sum() * grid.vol - 1) < 1e-12
    assert grid.p0.min() > -1e-8 * grid.p0.max()
    assert grid.boundary_ratio() < 1e-10
    # <p0, L0 g> = 0 (test functions smooth on the grid scale, so the quadrature is exact
    # to rounding and the residual measures p0 alone)
    for g in (h1, h2, h1 * h2, h1 ** 2, h2 ** 3, sp.tanh(0.5 * h1 - 0.3 * h2),
              sp.sin(h1 + h2)):
        assert grid.weak_residual(g) < 1e-9, g


def test_2d_gradient_density_matches_closed_form():
    """Γ symmetric, W diagonal, D = s² I: p0 ∝ exp(2U/s²), U = -½hᵀΓh + Σ log cosh(w_i h_i +
    b_i)/w_i (written here by hand). The backend detects reversibility (eigh path)."""
    G = np.array([[1.0, 0.4], [0.4, 1.2]])
    w, b, s2 = np.array([1.5, -0.8]), np.array([0.2, -0.1]), 0.49
    model = SRNN(G, np.diag(w), [[1.0, 0.0], [0.5, 1.0]], 0.7, b, "tanh")
    grid = spec.grid_density(model)
    assert grid.domain.kind == "reversible"
    x = grid.x
    U = -0.5 * np.einsum("pi,ij,pj->p", x, G, x) + (np.log(np.cosh(w * x + b)) / w).sum(1)
    p = np.exp(2 * (U - U.max()) / s2)
    p /= p.sum() * grid.vol
    assert relerr(grid.p0, p) < 2e-6


def test_2d_tanh_two_resolutions_agree_within_error_estimate():
    model = tanh2()
    f = "h1 + 0.5*h2**2"
    hier = ResponseHierarchy(model, f, order=2)
    lags1 = np.linspace(0, 4, 9)
    lags2 = np.random.default_rng(3).uniform(0, 3, (8, 2))
    for chans, lags in (((0,), lags1), ((1, 0), lags2)):
        K = hier.kernel(chans)
        coarse, err = K.evaluate(lags, method="spectral", resolution=21, return_error=True)
        fine = K.evaluate(lags, method="spectral", resolution=35)
        assert np.all(np.abs(coarse - fine) <= err), chans
        auto, err_auto = K.evaluate(lags, method="spectral", return_error=True)
        assert np.max(err_auto) <= 1e-6 * np.abs(auto).max()
        assert relerr(auto, fine) < 1e-6


def test_kernel_symmetry_under_simultaneous_permutation():
    """K is symmetric under permuting (k_j, σ_j) pairs; at ties σ_i = σ_j the backend's
    orderings must agree (L_0 and L_1 commute), so the symmetric extension is continuous."""
    model = tanh2()
    hier = ResponseHierarchy(model, "h1*h2 + h1", order=3)
    rng = np.random.default_rng(7)
    for N in (2, 3):
        lags = rng.uniform(0, 2, (6, N))
        chans = (0, 1) if N == 2 else (0, 1, 1)
        ref = hier.kernel(chans).evaluate(lags, method="spectral")
        for perm in itertools.permutations(range(N)):
            val = hier.kernel(tuple(chans[p] for p in perm)).evaluate(
                lags[:, list(perm)], method="spectral")
            assert relerr(val, ref) < 1e-12
    # ties: swapping the channels of tied lags must not change K (L_0, L_1 commute), and
    # the value must be continuous across the tie
    f = hier.f
    base = np.sort(rng.uniform(0.1, 2, (5, 3)), axis=1)
    cases = [((0, 1), [0, 0], [(1, 0)]),  # σ1 = σ2
             ((0, 1, 1), [0, 0, 0], list(set(itertools.permutations((0, 1, 1))))),
             ((0, 1, 1), [0, 0, 2], [(1, 0, 1)]),  # σ1 = σ2 < σ3
             ((1, 1, 0), [0, 1, 1], [(1, 0, 1)])]  # σ1 < σ2 = σ3
    for chans, cols, others in cases:
        lags = base[:, cols]
        ref = spec.kernel(model, f, chans, lags)
        scale = np.abs(ref).max()
        for other in others:
            val = spec.kernel(model, f, other, lags)
            assert np.max(np.abs(val - ref)) < 1e-6 * scale, (chans, other)
        near = lags.copy()
        near[:, 0] -= 1e-9 if cols[0] == cols[1] else 0.0
        near[:, -1] += 1e-9 if cols[-1] == cols[-2] else 0.0
        for other in others:
            val = spec.kernel(model, f, other, np.sort(near, axis=1))
            assert np.max(np.abs(val - ref)) < 1e-6 * scale, (chans, other)


def test_terms_that_vanish_by_symmetry_converge_at_the_rounding_level():
    """b = 0 and an odd observable: even kernels and even series terms vanish; the
    refinement must accept them at the rounding level (not chase relative accuracy)."""
    model = SRNN(1.0, 3.0, 1.0, 0.5, 0.0, "tanh")  # bistable, symmetric under h -> -h
    hier = ResponseHierarchy(model, "h1", order=5)
    K2 = hier.kernel((0, 0)).evaluate([[0.1, 0.4], [1.0, 2.0]], method="spectral")
    K1 = hier.kernel(0).evaluate([0.0, 1.0], method="spectral")
    assert np.max(np.abs(K2)) < 1e-10 * np.max(np.abs(K1))
    assert K1[0] == pytest.approx(1.0, rel=1e-10)  # <p0, L_1 h1> = C = 1
    times = np.linspace(0, 10, 21)
    terms = hier.series_terms(lambda t: np.sin(t), times, method="spectral")
    assert terms.shape == (6, 21)
    assert np.max(np.abs(terms[[0, 2, 4]])) < 1e-10
    assert np.max(np.abs(terms[5])) > 1e-2


def test_nonsmooth_input_fails_fast_with_a_reason():
    hier = ResponseHierarchy(tanh1(), "h1", order=2)
    with pytest.raises(AccuracyNotReachedError, match="is the input u smooth"):
        hier.series_terms(lambda t: np.array([t < 1.0, 0.0], dtype=float),
                          np.linspace(0, 5, 11), method="spectral")


# ----------------------------------------------------------------------------- bad input
def test_refuses_n3_with_reason():
    model = SRNN(np.eye(3), np.zeros((3, 3)), [[1.0], [0.0], [0.0]], 0.5)
    assert spec.BACKEND.applies(model, model.h[0]) == \
        "spectral supports n ≤ 2; this model has n = 3"
    hier = ResponseHierarchy(model, "h1", order=1)
    with pytest.raises(NotApplicableError, match="spectral supports n ≤ 2; this model has n = 3"):
        hier.kernel(0).evaluate([0.5], method="spectral")
    with pytest.raises(NotApplicableError, match="n ≤ 2"):
        hier.series_terms(lambda t: [1.0], [0.0, 1.0], method="spectral")


def test_refuses_order_4_and_bad_options():
    model = lin1()
    hier = ResponseHierarchy(model, "h1**4", order=4)
    with pytest.raises(UnsupportedOrderError, match=r"order ≤ 3; got order 4"):
        hier.kernel((0, 0, 0, 0)).evaluate([[0.1, 0.2, 0.3, 0.4]], method="spectral")
    # of f = h1 every kernel above order 1 vanishes identically: zeros, whatever the route
    K4 = ResponseHierarchy(model, "h1", order=4).kernel((0, 0, 0, 0))
    assert np.asarray(K4.evaluate([[0.1, 0.2, 0.3, 0.4]], method="spectral"))[0] == 0.0
    hier = ResponseHierarchy(model, "h1", order=4)
    K = hier.kernel(0)
    with pytest.raises(ValueError, match="tol must be"):
        K.evaluate([0.1], method="spectral", tol=-1.0)
    with pytest.raises(ValueError, match="resolution must be"):
        K.evaluate([0.1], method="spectral", resolution=2)
    with pytest.raises(InvalidInputError, match="unknown options"):
        K.evaluate([0.1], method="spectral", tolerance=1e-3)


def test_unreachable_tolerance_names_the_limit():
    model = tanh2()
    K = ResponseHierarchy(model, "h1", order=1).kernel(0)
    with pytest.raises(ResourceLimitError, match=r"memory_budget=0\.005 GB"):
        K.evaluate([0.5, 1.0], method="spectral", tol=1e-10, memory_budget=5e6)
    model1 = lin1()
    K1 = ResponseHierarchy(model1, "h1**3", order=1).kernel(0)
    with pytest.raises(AccuracyNotReachedError, match="below the attainable accuracy"):
        K1.evaluate([0.5, 1.0], method="spectral", tol=1e-17)


def test_bad_lags_are_reported():
    K = ResponseHierarchy(lin1(), "h1", order=2).kernel((0, 1))
    with pytest.raises(ValueError, match="lags must be ≥ 0"):
        K.evaluate([[0.1, -0.2]], method="spectral")
    with pytest.raises(ValueError, match="finite"):
        K.evaluate([[0.1, np.nan]], method="spectral")
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 2\)"):
        K.evaluate([0.1, 0.2, 0.3], method="spectral")
    # the backend's own checks (callers that bypass ResponseKernel)
    with pytest.raises(ValueError, match="sorted"):
        get_backend("spectral").kernel(lin1(), sp.Symbol("h1", real=True), (0, 1),
                                       np.array([[0.3, 0.1]]))


@pytest.mark.parametrize("gamma, w", [(1e-11, 0.0), (0.5, -479442211.0)])
def test_grids_that_cannot_resolve_the_density_are_refused(gamma, w):
    """Found by the nightly hypothesis run: softplus with Γ = 1e-11 (density at 6.9e10,
    width 1e5) gave K(0) off by 3.7e-8 with an estimate of 6.4e-10; W = -4.8e8 (a kink on
    the scale 2e-9) gave 0.0205 ± 3.9e-4 for the exact 0.01. Now refused, naming why."""
    import volterra_sym as vs
    from volterra_sym.errors import NotApplicableError
    m = vs.SRNN([[gamma]], [[w]], [[0.01]], [[0.5]], [0.0], activation="softplus")
    with pytest.raises(NotApplicableError, match="spectral grid|absolute coordinates"):
        vs.ResponseHierarchy(m, "h1", 1).kernel((0,)).evaluate(np.array([[0.0]]),
                                                               method="spectral")


def test_kick_norms_of_a_real_modal_system_do_not_warn():
    """The kick norms of a real modal system (a 1-D tanh unit's series) are taken with
    real blocks: complex ones cast to the system's real type raised numpy's ComplexWarning
    at the user (their imaginary part was 0, the values unchanged)."""
    import warnings

    from volterra_sym import SRNN

    model = SRNN([[1.0]], [[1.2]], [[1.0]], [[0.6]], [0.3], "tanh", name="kick_norm_real")
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        res = ResponseHierarchy(model, "h1", 4).series_terms(
            lambda t: np.array([np.sin(2 * t)]), np.linspace(0.0, 4.0, 21), method="spectral")
    assert np.all(np.isfinite(np.asarray(res)))
