"""Monte Carlo engine and estimators (docs/theory.md §7) against closed forms computed here.

Every statistical comparison allows 4 standard errors plus the measured time-step bias
(and 4 standard errors of that bias): ``|value - exact| ≤ 4 se + |bias| + 4 se_bias``.
References are written in this file, independently of the engine: Lyapunov covariances,
matrix exponentials, and a finite-difference generator on a grid for the 1-D tanh model.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sl
import sympy as sp
from scipy.integrate import solve_ivp

from volterra_sym.errors import (
    InvalidInputError,
    NotApplicableError,
    ResourceLimitError,
)
from volterra_sym.errors import SimulationError as TypedSimulationError
from volterra_sym.model import SRNN
from volterra_sym.montecarlo import (
    DivergenceError,
    SimulationError,
    first_order_kernel,
    inverse_cdf_sampler,
    response,
    second_order_kernel,
    simulate,
)


def within(est, exact, value=None, stderr=None, bias=None, bias_stderr=None, k=4.0):
    """|value - exact| ≤ k se + |bias| + k se_bias, elementwise; returns the z-scores."""
    value = est.value if value is None else value
    se = est.stderr if stderr is None else stderr
    b = getattr(est, "bias", None) if bias is None else bias
    bse = getattr(est, "bias_stderr", None) if bias_stderr is None else bias_stderr
    tol = k * se
    if b is not None:
        tol = tol + np.abs(b) + k * bse
    err = np.abs(np.asarray(value) - np.asarray(exact))
    assert np.all(err <= tol + 1e-12), f"\nvalue {value}\nexact {exact}\nerr {err}\ntol {tol}"
    return err / np.maximum(se, 1e-300)


# ---------------------------------------------------------------------- models
G2 = np.array([[1.0, 0.2], [-0.3, 1.5]])
W2 = np.array([[0.0, 0.1], [0.2, 0.0]])
C2 = np.array([[1.0, 0.0], [0.5, 1.0]])
S2 = np.array([[0.8, 0.0], [0.2, 0.6]])
B2 = np.array([0.3, -0.2])


@pytest.fixture(scope="module")
def lin2():
    return SRNN(G2, W2, C2, S2, b=B2, observable="h1 + 2*h2")


G3 = np.array([[1.2, 0.2, 0.0], [-0.3, 1.5, 0.1], [0.0, 0.2, 1.0]])
W3 = np.array([[0.0, 0.3, 0.0], [0.2, 0.0, 0.1], [0.1, 0.0, 0.0]])
C3 = np.array([[1.0, 0.0], [0.5, 1.0], [0.0, -0.5]])
S3 = np.diag([0.7, 0.6, 0.8])
B3 = np.array([0.3, -0.2, 0.1])
Q3 = np.array([[1.0, 0.2, 0.0], [0.2, 0.5, 0.1], [0.0, 0.1, 0.8]])
w3 = np.array([0.5, -1.0, 0.3])


@pytest.fixture(scope="module")
def lin3():
    model = SRNN(G3, W3, C3, S3, b=B3)
    h = sp.Matrix(model.h)
    f = (h.T * sp.Matrix(Q3) * h)[0] + (sp.Matrix(w3).T * h)[0]
    return model, f


TANH = dict(g=1.0, w=0.8, b=0.2, s=0.7, c=1.0)


@pytest.fixture(scope="module")
def tanh1():
    p = TANH
    return SRNN([[p["g"]]], [[p["w"]]], [[p["c"]]], [[p["s"]]], b=[p["b"]], activation="tanh")


@pytest.fixture(scope="module")
def tanh_grid():
    """Independent reference for the 1-D tanh model: p0 by quadrature of φ, the generator
    L0 = φ ∂x + (D/2) ∂x² by central differences on a grid (reflecting far-away ends),
    K(σ) = ∫ p0 C ∂x(e^{σL0} f) dx. The tridiagonal L0 is symmetrised by a diagonal
    similarity T (T L0 T⁻¹ symmetric) and diagonalised once."""
    p = TANH
    D = p["s"] ** 2
    x = np.linspace(-5.0, 5.0, 1201)
    dx = x[1] - x[0]
    phi = -p["g"] * x + np.tanh(p["w"] * x + p["b"])
    U = np.concatenate([[0.0], np.cumsum(0.5 * (phi[1:] + phi[:-1]) * dx)])
    p0 = np.exp(2 * (U - U.max()) / D)
    p0 /= np.trapezoid(p0, x)
    up = phi[:-1] / (2 * dx) + D / (2 * dx**2)      # L[i, i+1]
    lo = -phi[1:] / (2 * dx) + D / (2 * dx**2)      # L[i+1, i]
    up[0], lo[-1] = D / dx**2, D / dx**2
    main = np.full(x.size, -D / dx**2)
    logt = np.concatenate([[0.0], np.cumsum(0.5 * np.log(up / lo))])
    tt = np.exp(logt - logt.mean())
    lam, Y = sl.eigh_tridiagonal(main, np.sqrt(up * lo))
    coef = Y.T @ (tt * np.tanh(x))                  # f = tanh(h1)

    def kernel(lags):
        lags = np.atleast_1d(np.asarray(lags, float))
        Pf = (Y @ (np.exp(np.outer(lam, lags)) * coef[:, None])) / tt[:, None]
        return np.trapezoid(p0[:, None] * p["c"] * np.gradient(Pf, dx, axis=0), x, axis=0)

    return dict(x=x, p0=p0, kernel=kernel)


# ---------------------------------------------------------------------- stationary OU
@pytest.mark.parametrize("scheme", ["exponential", "euler"])
def test_stationary_ou_mean_cov(lin2, scheme):
    A = G2 - W2
    mu = np.linalg.solve(A, B2)
    S = sl.solve_continuous_lyapunov(A, S2 @ S2.T)
    N = 20000

    def moments(dt):
        ens = simulate(lin2, [10.0], n_paths=N, dt=dt, scheme=scheme, initial=np.zeros(2),
                       seed=11)
        x = ens.states[0]
        return x.mean(0), np.cov(x.T)

    m1, c1 = moments(0.01)
    se_m = np.sqrt(np.diag(S) / N)
    se_c = np.sqrt((np.outer(np.diag(S), np.diag(S)) + S**2) / N)
    if scheme == "exponential":  # exact transition: no time-step bias
        bias_m, bias_c = 0.0, 0.0
    else:
        m2, c2 = moments(0.005)
        bias_m, bias_c = 2 * np.abs(m1 - m2), 2 * np.abs(c1 - c2)
    assert np.all(np.abs(m1 - mu) <= 4 * se_m + bias_m)
    assert np.all(np.abs(c1 - S) <= 4 * se_c + bias_c)


# ---------------------------------------------------------------------- linear kernels
def test_linear_first_order_kernel_fdt_and_girsanov(lin2):
    A = G2 - W2
    w = np.array([1.0, 2.0])
    lags = np.array([0.0, 0.2, 0.5, 1.0, 2.0])
    dt = 0.01
    exact = np.array([w @ sl.expm(-A * s) @ C2 for s in lags])          # (J, m)
    r = first_order_kernel(lin2, lags, n_paths=2000, dt=dt, n_origins=100,
                           origin_stride=0.05, seed=1)
    assert r.value.shape == (5, 2) and r.method == "fdt" and r.window is None
    within(r, exact)
    # Girsanov: the window average δ⁻¹∫_σ^{σ+δ} wᵀe^{-As}C ds = wᵀA⁻¹(e^{-Aσ}-e^{-A(σ+δ)})C/δ
    d = 0.05
    avg = np.array([w @ np.linalg.solve(A, sl.expm(-A * s) - sl.expm(-A * (s + d))) @ C2 / d
                    for s in lags])
    for scheme in ("exponential", "euler"):
        g = first_order_kernel(lin2, lags, method="girsanov", window=d, n_paths=2000, dt=dt,
                               scheme=scheme, n_origins=100, origin_stride=0.05, seed=2)
        assert g.window == pytest.approx(d)
        within(g, avg)
    # the exponential integrator is exact for linear models: the measured bias is ~0
    assert np.all(np.abs(r.bias) <= 1e-3 * r.stderr + 1e-12)


def _lin3_closed_forms():
    A = G3 - W3
    mu = np.linalg.solve(A, B3)
    E = lambda s: sl.expm(-A * s)  # noqa: E731
    Ebar = lambda s, d: np.linalg.solve(A, E(s) - E(s + d)) / d  # noqa: E731

    def K1(s):
        # K_k(σ) = <p0, L_k P_σ f> = wᵀe^{-Aσ}C_k + 2 C_kᵀ e^{-Aᵀσ} Q μ
        return w3 @ E(s) @ C3 + 2 * C3.T @ E(s).T @ Q3 @ mu

    def K2(s1, s2, d1=None, d2=None):
        # g1 = L_{k1} P_{σ1} f = 2 C_{k1}ᵀ e^{-Aᵀσ1} Q m_{σ1}(x) + const, m_s(x) = μ + e^{-As}(x-μ)
        # g2 = L_{k2} P_{σ2-σ1} g1 = 2 C_{k1}ᵀ e^{-Aᵀσ1} Q e^{-Aσ2} C_{k2}  (a constant), so
        # K_{k1k2}(σ1,σ2) = 2 (e^{-Aσ1}C_{k1})ᵀ Q (e^{-Aσ2}C_{k2}),  σ1 ≤ σ2.
        # Window averages replace e^{-Aσ} by Ē = δ⁻¹∫_σ^{σ+δ} e^{-As} ds.
        a = E(s1) if d1 is None else Ebar(s1, d1)
        b = E(s2) if d2 is None else Ebar(s2, d2)
        return 2 * (a @ C3).T @ Q3 @ (b @ C3)
    return K1, K2


def test_quadratic_closed_form_by_crn_finite_difference(lin3):
    """The closed-form K2 checked by deterministic polarisation of CRN responses.

    For a linear model h^ε = h^0 + x with x deterministic; f is quadratic, so the mixed
    difference Σ± f(h0 ± x1 ± x2)/4 = 2 x1ᵀQx2 path by path, with
    x_i = ∫_{window i} e^{-A(t-s)} C_{k_i} ds/δ (exact for the exponential integrator).
    """
    model, f = lin3
    _, K2 = _lin3_closed_forms()
    dt, d = 0.02, 0.1
    s1, s2 = 0.2, 0.6
    T = s2 + d
    win = lambda lag: (T - lag - d - 1e-9, T - lag - 1e-9)  # noqa: E731
    (a1, b1), (a2, b2) = win(s1), win(s2)
    for k1, k2 in [(0, 1), (1, 1)]:
        R = {}
        for sa in (1, -1):
            for sb in (1, -1):
                def u(t, sa=sa, sb=sb, k1=k1, k2=k2):
                    out = np.zeros(2)
                    out[k1] += sa / d if a1 <= t < b1 else 0.0
                    out[k2] += sb / d if a2 <= t < b2 else 0.0
                    return out
                R[sa, sb] = response(model, u, 1.0, [T], observable=f, n_paths=64, dt=dt,
                                     estimate_bias=False, seed=3).value[0]
        mixed = (R[1, 1] - R[1, -1] - R[-1, 1] + R[-1, -1]) / 4
        assert mixed == pytest.approx(K2(s1, s2, d, d)[k1, k2], rel=1e-8)


def test_quadratic_first_and_second_order_kernels(lin3):
    model, f = lin3
    K1, K2 = _lin3_closed_forms()
    dt = 0.02
    lags1 = [0.0, 0.3, 1.0]
    r1 = first_order_kernel(model, lags1, observable=f, n_paths=1000, dt=dt, n_origins=200,
                            origin_stride=0.04, seed=4)
    within(r1, np.array([K1(s) for s in lags1]))

    pairs = [[0.0, 0.0], [0.0, 0.3], [0.3, 0.3], [0.2, 0.6], [0.6, 0.2], [0.5, 1.0]]
    r2 = second_order_kernel(model, pairs, observable=f, method="fdt", n_paths=1000, dt=dt,
                             n_origins=200, origin_stride=0.04, seed=5)
    exact = []
    for a, b in pairs:
        lo, hi = sorted((a, b))
        # diagonal: point value; off-diagonal: the recent kick (k1) averaged over [σ1, σ1+dt]
        K = K2(lo, hi) if lo == hi else K2(lo, hi, d1=dt)
        exact.append(K.T if a > b else K)
    assert r2.value.shape == (6, 2, 2)
    assert list(r2.windowed) == [False, True, False, True, True, True]
    within(r2, np.array(exact))
    # symmetric extension: K_{k1k2}(σ1,σ2) = K_{k2k1}(σ2,σ1)
    np.testing.assert_allclose(r2.value[3], r2.value[4].T)

    d = 0.1
    pairs_g = [[0.0, 0.0], [0.2, 0.6], [0.5, 1.0]]
    g2 = second_order_kernel(model, pairs_g, observable=f, method="girsanov", window=d,
                             n_paths=1000, dt=dt, n_origins=200, origin_stride=0.04, seed=6)
    within(g2, np.array([K2(a, b, d, d) for a, b in pairs_g]))


# ---------------------------------------------------------------------- nonlinear, 1-D tanh
def test_tanh_first_order_kernel_vs_grid(tanh1, tanh_grid):
    lags = np.array([0.0, 0.25, 0.5, 1.0, 2.0])
    ref = tanh_grid["kernel"](lags)
    assert ref[0] == pytest.approx(
        np.trapezoid(tanh_grid["p0"] * (1 - np.tanh(tanh_grid["x"]) ** 2), tanh_grid["x"]),
        rel=1e-5)
    # initial states from the grid density (independent of the library's density module)
    init = inverse_cdf_sampler(lambda z: np.interp(z, tanh_grid["x"], tanh_grid["p0"]),
                               -5.0, 5.0)
    r = first_order_kernel(tanh1, lags, observable="tanh(h1)", n_paths=4000, dt=0.01,
                           scheme="euler", n_origins=100, origin_stride=0.05, initial=init,
                           seed=7)
    within(r, ref[:, None])
    # Girsanov window of one step δ = dt: reference K(σ + dt/2) (midpoint, error O(dt²))
    g = first_order_kernel(tanh1, lags, observable="tanh(h1)", method="girsanov",
                           n_paths=4000, dt=0.01, n_origins=100, origin_stride=0.05, seed=8)
    within(g, tanh_grid["kernel"](lags + 0.005)[:, None])


def test_tanh_crn_response_matches_first_order_kernel(tanh1, tanh_grid):
    """Odd part of the CRN response, (R(ε) - R(-ε))/2 = ε ∫_0^t K(t-s) u(s) ds + O(ε³)."""
    eps, t_obs, dt = 0.05, 1.0, 0.01
    u = lambda t: np.array([np.sin(2 * t) + 0.5])  # noqa: E731
    rp = response(tanh1, u, eps, [t_obs], observable="tanh(h1)", n_paths=4000, dt=dt, seed=9)
    rm = response(tanh1, u, -eps, [t_obs], observable="tanh(h1)", n_paths=4000, dt=dt, seed=9)
    odd = 0.5 * (rp.value - rm.value)
    se = 0.5 * (rp.stderr + rm.stderr)
    bias = 0.5 * (np.abs(rp.bias) + np.abs(rm.bias))
    bse = 0.5 * (rp.bias_stderr + rm.bias_stderr)
    s = np.linspace(0.0, t_obs, 401)
    K = tanh_grid["kernel"](s)                                # K(σ) at σ = s
    ref = eps * np.trapezoid(K * (np.sin(2 * (t_obs - s)) + 0.5), s)
    # the engine freezes u on [t_i, t_{i+1}): that O(dt) effect is part of the measured bias
    within(None, ref, value=odd, stderr=se, bias=bias, bias_stderr=bse)


def test_crn_stderr_much_smaller_than_independent(tanh1):
    u = lambda t: np.array([np.sin(2 * t) + 0.5])  # noqa: E731
    kw = dict(observable="tanh(h1)", n_paths=2000, dt=0.01, estimate_bias=False, seed=10)
    crn = response(tanh1, u, 0.05, [0.5, 1.0, 2.0], **kw)
    ind = response(tanh1, u, 0.05, [0.5, 1.0, 2.0], crn=False, **kw)
    assert crn.crn and not ind.crn
    assert np.all(20 * crn.stderr <= ind.stderr)
    assert np.all(np.abs(crn.value - ind.value) <= 4 * np.hypot(crn.stderr, ind.stderr))


def test_time_step_bias_estimate_tracks_euler_error(lin2):
    """Linear response, Euler–Maruyama: value - exact ≈ measured bias (first-order scheme)."""
    A = G2 - W2
    w = np.array([1.0, 2.0])
    u = lambda t: np.array([np.sin(2 * t) + 0.5, np.cos(t)])  # noqa: E731
    t_obs = np.array([0.5, 1.0, 2.0])
    # exact mean deviation: dx/dt = -A x + ε C u(t), x(0) = 0, response = wᵀx(t)
    sol = solve_ivp(lambda t, x: -A @ x + 0.1 * C2 @ u(t), (0, 2.0), np.zeros(2),
                    t_eval=t_obs, rtol=1e-11, atol=1e-13)
    exact = w @ sol.y
    r = response(lin2, u, 0.1, t_obs, n_paths=200, dt=0.02, scheme="euler", seed=12)
    err = r.value - np.array(exact)
    assert np.all(r.stderr < 1e-12)           # linear f, linear model: CRN difference is exact
    assert np.all(np.abs(err - r.bias) <= 0.25 * np.abs(err) + 1e-6)


# ---------------------------------------------------------------------- engine contract
def test_seed_reproducible_across_chunk_sizes(lin2, tanh1):
    kw = dict(n_paths=1000, dt=0.01, seed=3)
    runs = [simulate(lin2, [0.0, 0.5, 1.0], chunk_size=c, prefetch_noise=p, **kw).states
            for c, p in [(256, True), (700, False), (100000, True)]]
    assert all(np.array_equal(runs[0], x) for x in runs[1:])
    other = simulate(lin2, [1.0], n_paths=1000, dt=0.01, seed=4).states
    assert not np.array_equal(runs[0][-1], other[0])
    ks = [first_order_kernel(lin2, [0.0, 0.3], n_paths=600, dt=0.01, n_origins=5, seed=5,
                             chunk_size=c).value for c in (256, 4096)]
    np.testing.assert_array_equal(*ks)
    u = lambda t: np.array([1.0])  # noqa: E731
    rs = [response(tanh1, u, 0.1, [0.3], n_paths=600, dt=0.01, seed=6, chunk_size=c).value
          for c in (256, 4096)]
    np.testing.assert_array_equal(*rs)


def test_observable_callable_equals_expression(lin2):
    e1 = simulate(lin2, [0.5], n_paths=300, dt=0.01, observable="h1**2 + h2", seed=1)
    e2 = simulate(lin2, [0.5], n_paths=300, dt=0.01, seed=1, keep_states=False,
                  observable=lambda h: h[..., 0] ** 2 + h[..., 1])
    assert e2.states is None
    np.testing.assert_allclose(e1.values, e2.values)
    np.testing.assert_allclose(e1.values[0], e1.states[0, :, 0] ** 2 + e1.states[0, :, 1])


# ---------------------------------------------------------------------- refusals
def test_refuses_unstable_model():
    bad = SRNN([[1.0, 0.0], [0.0, -0.5]], [[0.0, 0.0], [0.0, 0.0]], [[1.0], [0.0]], 0.5,
               check=False)
    # divergence stays a SimulationError (the typed one); bad parameters are not
    assert SimulationError is TypedSimulationError and not issubclass(SimulationError,
                                                                       ValueError)
    with pytest.raises(InvalidInputError, match="not stable") as exc:
        simulate(bad, [1.0], n_paths=10, dt=0.01)
    assert exc.value.param == "model"


def test_refuses_large_time_step(lin2, tanh1):
    with pytest.raises(InvalidInputError, match=r"dt = 1\.5 is too large for Euler") as exc:
        simulate(lin2, [3.0], n_paths=10, dt=1.5, scheme="euler")
    assert exc.value.param == "dt"
    with pytest.raises(InvalidInputError, match="too large"):
        simulate(tanh1, [3.0], n_paths=10, dt=3.0, scheme="euler")
    simulate(lin2, [3.0], n_paths=10, dt=1.5, scheme="exponential")  # exact: accepted


def test_refuses_tiny_time_step_as_too_small(lin2, tanh1):
    """dt = 1e-300: refused by its step count (or resolution), never as "too large"."""
    for model in (lin2, tanh1):
        for scheme in ("euler", "exponential"):
            with pytest.raises((ResourceLimitError, InvalidInputError),
                               match="too small") as exc:
                simulate(model, [1.0], n_paths=10, dt=1e-300, scheme=scheme)
            assert "too large" not in str(exc.value)
    with pytest.raises(InvalidInputError, match="too small") as exc:
        first_order_kernel(tanh1, [0.0], n_paths=10, dt=1e-300, estimate_bias=False)
    with pytest.raises(InvalidInputError, match="too small"):   # through run_paths directly
        from volterra_sym.montecarlo import run_paths
        run_paths(tanh1, n_paths=10, dt=1e-300, n_steps=3)


@pytest.mark.parametrize("n_paths", [1, 0, 2.5, True])
def test_refuses_too_few_paths(lin2, n_paths):
    with pytest.raises(InvalidInputError, match="n_paths") as exc:
        simulate(lin2, [1.0], n_paths=n_paths, dt=0.01)
    assert exc.value.param == "n_paths"


def test_refuses_huge_runs_before_allocating(lin2):
    with pytest.raises(ResourceLimitError):
        simulate(lin2, [1.0], n_paths=10**12, dt=0.01)
    with pytest.raises(ResourceLimitError, match="path-steps"):
        simulate(lin2, [1.0], n_paths=10**12, dt=0.01, keep_states=False)
    with pytest.raises(ResourceLimitError, match="path-steps"):
        response(lin2, lambda t: np.ones(2), 0.1, [1.0], n_paths=10**12, dt=0.01)
    with pytest.raises(ResourceLimitError, match="path-steps"):
        first_order_kernel(lin2, [1.0], n_paths=10**12, dt=0.01)


def test_refuses_input_of_wrong_shape(lin2):
    with pytest.raises(InvalidInputError, match=r"u\(0\) returned shape \(3,\)"):
        simulate(lin2, [1.0], n_paths=10, dt=0.01, u=lambda t: np.zeros(3))
    with pytest.raises(InvalidInputError, match="u must be a callable") as exc:
        simulate(lin2, [1.0], n_paths=10, dt=0.01, u=np.zeros(2))
    assert exc.value.param == "u"


def test_input_returning_none_is_invalid_input_not_divergence(lin2, tanh1):
    for model in (lin2, tanh1):
        with pytest.raises(InvalidInputError, match="returned None") as exc:
            simulate(model, [1.0], n_paths=10, dt=0.01, u=lambda t: None)
        assert exc.value.param == "u"
        assert not isinstance(exc.value, TypedSimulationError)


def test_divergence_reported_with_step(tanh1):
    # an infinite u is refused naming u (test_a_faulty_input_function_is_named); ε·u
    # overflowing to inf still reaches the states
    u = lambda t: np.array([1e308 if t >= 0.3 else 0.0])  # noqa: E731
    with pytest.raises(DivergenceError, match="non-finite") as exc:
        simulate(tanh1, [1.0], n_paths=300, dt=0.01, u=u, eps=1e10, initial=np.zeros(1),
                 seed=1, max_norm=np.inf)
    # u(t_30) enters on step 30 -> the state h_31 at t = 0.31 is the first bad one
    assert exc.value.step == 31 and exc.value.time == pytest.approx(0.31)
    assert "step 31" in str(exc.value)
    big = lambda t: np.array([1e12 if t >= 0.5 else 0.0])  # noqa: E731
    with pytest.raises(DivergenceError, match="max_norm") as exc:
        simulate(tanh1, [1.0], n_paths=300, dt=0.01, u=big, initial=np.zeros(1), seed=1)
    assert exc.value.step == 51


def test_refuses_bad_times_lags_and_ranges(lin2, lin3):
    with pytest.raises(InvalidInputError, match="multiples of dt") as exc:
        simulate(lin2, [0.105], n_paths=10, dt=0.01)
    assert exc.value.param == "times"
    with pytest.raises(InvalidInputError, match="window") as exc:
        second_order_kernel(lin2, [[0.0, 0.02]], n_paths=10, dt=0.01, window=0.05)
    assert exc.value.param == "lags"
    no_noise_on_input = SRNN(G2, W2, C2, [[0.8], [0.0]], b=B2)
    with pytest.raises(NotApplicableError, match="range of sigma"):
        first_order_kernel(no_noise_on_input, [0.0], method="girsanov", n_paths=10, dt=0.01)
    with pytest.raises(InvalidInputError, match="unknown variable .x.") as exc:
        simulate(lin2, [0.1], n_paths=10, dt=0.01, observable=sp.Symbol("x") + 1)
    assert exc.value.param == "observable"
    with pytest.raises(InvalidInputError, match="method") as exc:
        first_order_kernel(lin2, [0.1], method="fd", n_paths=10, dt=0.01)
    with pytest.raises(InvalidInputError, match="seed") as exc:
        simulate(lin2, [0.1], n_paths=10, dt=0.01, seed="abc")


# ---------------------------------------------------------------------- nonlinear second order
def test_tanh_second_order_estimators_vs_crn_finite_difference(tanh1):
    """Nonlinear second order: Girsanov Hermite estimator vs polarised CRN responses to
    two rectangular kicks of area a (both estimate the double-window average)."""
    dt, d, a = 0.01, 0.05, 0.3
    s1, s2 = 0.2, 0.5
    T = s2 + d
    win = lambda lag: (T - lag - d - 1e-9, T - lag - 1e-9)  # noqa: E731
    (a1, b1), (a2, b2) = win(s1), win(s2)
    R = {}
    for sa in (1, -1):
        for sb in (1, -1):
            def u(t, sa=sa, sb=sb):
                return np.array([(sa if a1 <= t < b1 else 0) / d + (sb if a2 <= t < b2 else 0)
                                 / d])
            R[sa, sb] = response(tanh1, u, a, [T], observable="tanh(h1)", n_paths=40000,
                                 dt=dt, seed=13)
    fd = (R[1, 1].value - R[1, -1].value - R[-1, 1].value + R[-1, -1].value) / (4 * a * a)
    fd_se = sum(r.stderr for r in R.values()) / (4 * a * a)
    g = second_order_kernel(tanh1, [[s1, s2]], observable="tanh(h1)", method="girsanov",
                            window=d, n_paths=8000, dt=dt, n_origins=300, origin_stride=0.05,
                            seed=14)
    assert abs(g.value[0, 0, 0] - fd[0]) <= 4 * np.hypot(g.stderr[0, 0, 0], fd_se[0]) \
        + abs(g.bias[0, 0, 0]) + 0.02 * abs(fd[0])


def test_crn_responses_combinations_carry_the_crn_covariance(tanh1):
    """``crn_responses(combine=c)`` over (ε, −ε): the means are the same linear combinations
    of the per-ε means of the same paths (to rounding), and the even part's standard error
    is far below what the per-ε errors suggest (its first-order pathwise fluctuation
    cancels), the odd part's is not; a malformed matrix is refused naming ``combine``."""
    from volterra_sym.montecarlo import crn_responses

    u = lambda t: np.array([np.sin(2 * t)])  # noqa: E731
    kw = dict(n_paths=3000, dt=0.02, seed=4, chunk_size=1000)
    eps, times = [0.4, -0.4], [0.5, 1.0, 2.0]
    plain = crn_responses(tanh1, u, eps, times, **kw)
    c = np.array([[0.5, 0.5], [0.5, -0.5]])
    comb = crn_responses(tanh1, u, eps, times, combine=c, **kw)
    assert comb.value.shape == (2, 3)
    for a in ("value", "raw", "bias"):
        assert np.max(np.abs(getattr(comb, a) - c @ getattr(plain, a))) < 1e-12, a
    naive = (plain.stderr[0] + plain.stderr[1]) / 2        # no covariance
    assert np.all(comb.stderr[0] < 0.5 * naive)
    assert np.all(comb.stderr[1] > 0.5 * naive)
    for bad in (np.ones((2, 3)), np.array([[np.nan, 1.0]]), np.ones(2)):
        with pytest.raises(InvalidInputError) as err:
            crn_responses(tanh1, u, eps, times, combine=bad, **kw)
        assert err.value.param == "combine"


def test_parity_parts_split_the_combined_responses(tanh1):
    """``parity_matrix`` + ``parity_parts``: the whole part is the plain response at +ε,
    even + odd is the whole (to rounding), each part is over the positive ε; responses not
    made with the parity matrix are refused naming ``mc``, other amplitudes naming ``eps``."""
    from volterra_sym.montecarlo import crn_responses, parity_matrix, parity_parts

    u = lambda t: np.array([np.sin(2 * t)])  # noqa: E731
    kw = dict(n_paths=2000, dt=0.02, seed=9, chunk_size=1000)
    eps, times = np.array([0.2, 0.4]), [0.5, 1.0]
    plain = crn_responses(tanh1, u, eps, times, **kw)
    both = crn_responses(tanh1, u, np.concatenate([eps, -eps]), times,
                         combine=parity_matrix(2), **kw)
    parts = parity_parts(both, eps)
    assert set(parts) == {None, "even", "odd"}
    assert all(np.array_equal(p.eps, eps) and p.value.shape == (2, 2) for p in parts.values())
    assert np.max(np.abs(parts[None].value - plain.value)) < 1e-12
    assert np.max(np.abs(parts["even"].value + parts["odd"].value - parts[None].value)) < 1e-12
    with pytest.raises(InvalidInputError) as err:
        parity_parts(plain, eps)
    assert err.value.param == "mc"
    # other amplitudes than the run's were relabelled silently (a new-user pass)
    with pytest.raises(InvalidInputError) as err:
        parity_parts(both, [0.3, 0.4])
    assert err.value.param == "eps"


def test_a_run_longer_than_the_time_budget_is_refused_after_one_chunk(monkeypatch):
    """The first chunk is timed; chunks × its time above VOLTERRA_TIME_BUDGET is refused
    (10⁹ paths used to start a run of about ten hours)."""
    import time

    import volterra_sym as vs
    from volterra_sym.errors import ResourceLimitError
    from volterra_sym.montecarlo import simulate

    m = vs.load_model("tanh1d")
    monkeypatch.setenv("VOLTERRA_TIME_BUDGET", "0.001")
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError, match="chunks took .* VOLTERRA_TIME_BUDGET"):
        simulate(m, [1.0], n_paths=4096, dt=0.01, seed=1, chunk_size=256)
    assert time.perf_counter() - t0 < 10
    monkeypatch.setenv("VOLTERRA_TIME_BUDGET", "nan")
    with pytest.raises(vs.InvalidInputError, match="VOLTERRA_TIME_BUDGET"):
        simulate(m, [1.0], n_paths=4096, dt=0.01, seed=1, chunk_size=256)
    monkeypatch.delenv("VOLTERRA_TIME_BUDGET")
    simulate(m, [1.0], n_paths=4096, dt=0.01, seed=1, chunk_size=256)


def test_a_run_that_is_one_long_chunk_is_refused_inside_it(monkeypatch):
    """200 paths × 10⁶ origins are one chunk of about an hour: the first chunk's time loop
    is timed after one second and the run refused then (it used to run to the end)."""
    import time

    import volterra_sym as vs
    from volterra_sym.errors import ResourceLimitError
    from volterra_sym.montecarlo import crn_responses, first_order_kernel, kick_kernel

    m, inside = vs.load_model("tanh3"), vs.load_model("tanh1d_inside")
    monkeypatch.setenv("VOLTERRA_TIME_BUDGET", "5")
    for run in (lambda: first_order_kernel(m, [1.0], n_paths=200, dt=0.02, n_origins=10**6,
                                           method="girsanov",
                                           seed=1),
                lambda: kick_kernel(m, [4000.0], n_paths=200, dt=0.02, seed=1),
                lambda: crn_responses(inside, np.sin, [0.1], [2000.0], n_paths=2000,
                                      dt=0.01, chunk_size=20000)):
        t0 = time.perf_counter()
        with pytest.raises(ResourceLimitError, match="of the first of 1 chunks took") as err:
            run()
        assert time.perf_counter() - t0 < 15     # the whole runs: about 3000 s, 21 s, 60 s
        assert err.value.estimate > 5


def test_a_window_too_long_for_memory_is_refused_before_allocation():
    """--window 1e6 used to end in MemoryError ("out of memory")."""
    import volterra_sym as vs
    from volterra_sym.errors import ResourceLimitError
    from volterra_sym.montecarlo import first_order_kernel

    m = vs.load_model("tanh1d")
    with pytest.raises(ResourceLimitError, match="noise ring of the window integrals"):
        first_order_kernel(m, [0.5], method="girsanov", n_paths=200, dt=0.01,
                           window=1e6, seed=1)


def test_a_complex_input_is_refused_not_cut_to_its_real_part():
    """``response`` and ``crn_responses`` (on the engine of the input inside the activation)
    cast a complex ``u(t)`` to float (only a numpy ComplexWarning): the imaginary part was
    dropped silently."""
    import volterra_sym as vs
    from volterra_sym.montecarlo import crn_responses, response

    m, inside = vs.load_model("tanh1d"), vs.load_model("tanh1d_inside")
    for u in (lambda t: np.array([1j * t + 1]), lambda t: 1 + 0j, lambda t: [complex(1, 0)]):
        with pytest.raises(vs.InvalidInputError, match="complex") as err:
            response(m, u, 0.1, [0.5], n_paths=512, dt=0.05, seed=1)
        assert err.value.param == "u"
        with pytest.raises(vs.InvalidInputError, match="complex"):
            crn_responses(inside, u, [0.1], [0.5], n_paths=100, dt=0.05)


@pytest.mark.parametrize("scheme", ["exponential", "euler"])
def test_three_levels_measure_the_richardson_remainder(scheme):
    """``crn_responses(levels=3)`` on a linear network, whose CRN response has no noise and
    whose exact response is the exact backend's ``ε T_1``: the measured remainder ``R₁ − R₂``
    is the actual error of the two-level estimate to 2 %, the second step ``R₂`` is at least
    100× closer than ``R₁``, and its error falls like dt³ (×8 per halving, 6–10), that of
    ``R₁`` like dt² (3.4–4.6); the remainder bound covers ``R₁``'s error."""
    import volterra_sym as vs
    from volterra_sym.montecarlo import crn_responses

    m = vs.load_model("linear2d")
    u = lambda t: np.array([np.sin(2 * t)] * m.m)  # noqa: E731
    times = np.arange(1, 11) * 0.5
    T1 = np.asarray(vs.ResponseHierarchy(m, "h1", 1).series_terms(u, times, method="exact"))[1]
    errs = []
    for dt in (0.02, 0.01):
        mc = crn_responses(m, u, [0.5], times, observable="h1", n_paths=2048, dt=dt,
                           scheme=scheme, levels=3, seed=1)
        assert mc.levels == 3 and mc.remainder.shape == mc.value.shape
        r1 = mc.value + mc.remainder
        e1, e2 = np.max(np.abs(r1 - 0.5 * T1)), np.max(np.abs(mc.value - 0.5 * T1))
        assert np.max(np.abs(r1 - 0.5 * T1 - mc.remainder)) < 0.02 * e1
        assert e2 < 0.01 * e1
        assert mc.remainder_bound()[0] >= e1
        errs.append((e1, e2))
    assert 3.4 < errs[0][0] / errs[1][0] < 4.6
    assert 6.0 < errs[0][1] / errs[1][1] < 10.0


def test_three_levels_keep_the_noise_and_split_into_parts(tanh1):
    """On a noisy nonlinear unit the three-level response has the two-level one's standard
    error (within 20 %), its remainder is measured far more precisely (se below 0.1 of the
    response's), the parity parts carry the remainder's rows, and a two-level run has none;
    ``levels`` outside 2–3 (or 1 with ``coupled``) is refused naming it."""
    from volterra_sym.montecarlo import crn_responses, parity_matrix, parity_parts, run_paths

    u = lambda t: np.array([np.sin(2 * t)])  # noqa: E731
    kw = dict(n_paths=8192, dt=0.02, seed=4, chunk_size=4096)
    eps, times = np.array([0.3, 0.8]), [0.5, 1.0, 2.0]
    two = crn_responses(tanh1, u, eps, times, **kw)
    three = crn_responses(tanh1, u, eps, times, levels=3, **kw)
    assert two.remainder is None and two.remainder_bound() is None
    assert np.all(np.abs(three.stderr / two.stderr - 1.0) < 0.2)
    assert np.all(three.remainder_stderr < 0.1 * three.stderr)
    again = crn_responses(tanh1, u, eps, times, levels=3, **(kw | {"chunk_size": 8192}))
    for name in ("value", "stderr", "remainder", "remainder_stderr"):  # chunking-independent
        assert np.array_equal(getattr(again, name), getattr(three, name)), name
    both = crn_responses(tanh1, u, np.concatenate([eps, -eps]), times,
                         combine=parity_matrix(2), levels=3, **kw)
    parts = parity_parts(both, eps)
    assert np.max(np.abs(parts["even"].remainder + parts["odd"].remainder
                         - parts[None].remainder)) < 1e-12
    assert parts["odd"].remainder_stderr.shape == (2, 3)
    for bad in (1, 4, True, 2.0):
        with pytest.raises(InvalidInputError) as err:
            crn_responses(tanh1, u, eps, times, levels=bad, **kw)
        assert err.value.param == "levels"
    with pytest.raises(InvalidInputError) as err:
        run_paths(tanh1, n_paths=10, dt=0.02, n_steps=5, coupled=True, levels=1)
    assert err.value.param == "levels"


def test_estimates_are_typed_results_with_an_honest_error(lin2):
    """Monte Carlo estimates answer as every result does — ``values``, ``error``, ``method``
    (docs/theory.md §7) — with ``error`` the bound of the honest comparison,
    ``4·se + |bias| + 4·se_bias + 0.05·max|bias|`` (``None`` when the time-step bias was not
    measured; the last term, the largest over the lags or times, bounds the O(dt²) error of
    the bias estimate: without it the noise-free linear response at t = 1 was 9.8e-5 off
    for an error of 8.6e-5), and for the Richardson-extrapolated CRN responses
    ``4·se + 0.05·max_t|bias|``, each plus a rounding floor ``1e3 ε·max|values|`` (an exact
    scheme with a constant input was 9e-16 off with an error of 1e-16): each covers its
    distance to the closed form (Euler–Maruyama, so the bias is not 0)."""
    import volterra_sym as vs
    from volterra_sym.montecarlo import crn_responses

    A, w = G2 - W2, np.array([1.0, 2.0])
    lags = np.array([0.0, 0.5, 1.5])
    exact = np.array([w @ sl.expm(-A * s) @ C2 for s in lags])
    r = first_order_kernel(lin2, lags, n_paths=2000, dt=0.02, scheme="euler",
                           n_origins=50, origin_stride=0.1, seed=4)
    assert r.values is r.value and r.method == "fdt"
    b = np.abs(r.bias)
    assert r.richardson_rel == 0.05              # rate·dt ≤ 0.1
    floor = 1e3 * np.finfo(float).eps * np.abs(r.value).max(0)      # rounding
    assert np.allclose(r.error, 4 * r.stderr + b + 4 * r.bias_stderr + 0.05 * b.max(0)
                       + floor, rtol=1e-14, atol=0)
    assert not r.error.flags.writeable
    assert np.all(np.abs(r.values - exact) <= r.error)
    assert np.max(np.abs(r.bias)) > 10 * np.max(r.bias_stderr)     # the bias is measured
    quick = first_order_kernel(lin2, lags, n_paths=200, dt=0.02, estimate_bias=False, seed=4)
    assert quick.error is None                                     # unknown, not 4·se

    u = lambda t: np.array([np.sin(2 * t), 0.5])  # noqa: E731
    times = np.array([0.5, 1.0, 2.0])
    T1 = np.asarray(vs.ResponseHierarchy(lin2, order=1).series_terms(u, times,
                                                                       method="exact"))[1]
    resp = response(lin2, u, 0.2, times, n_paths=2000, dt=0.02, scheme="euler", seed=5)
    assert resp.method == "crn" and resp.values is resp.value
    actual = np.abs(resp.values - 0.2 * T1)
    assert np.all(actual <= resp.error)
    assert np.max(actual / resp.error) > 0.5     # 0.88, 0.35, 0.95: the error is the bias

    m = vs.load_model("linear2d")              # f = h1: a response without noise
    v = lambda t: np.array([np.sin(2 * t)] * m.m)  # noqa: E731
    T1 = np.asarray(vs.ResponseHierarchy(m, "h1", 1).series_terms(v, times, method="exact"))[1]
    for scheme in ("euler", "exponential"):
        mc = crn_responses(m, v, [0.5, 1.0], times, observable="h1", n_paths=512, dt=0.02,
                           scheme=scheme, seed=1)
        rem = mc.richardson_rel * np.max(np.abs(mc.bias), axis=1)
        assert mc.method == "crn" and 0.05 <= mc.richardson_rel <= 0.5
        floor = 1e3 * np.finfo(float).eps * np.abs(mc.value).max(1, keepdims=True)
        assert np.allclose(mc.error, 4 * mc.stderr + rem[:, None] + floor, rtol=1e-14, atol=0)
        actual = np.abs(mc.values - np.array([0.5, 1.0])[:, None] * T1)
        assert np.all(actual <= mc.error)
        assert np.max(actual / mc.error) > 1e-3          # the bound is not vacuous


def test_the_remainder_allowance_grows_with_rate_times_dt():
    """0.05·max|bias| assumed ``|c₂/c₁|·dt`` small; with a fast input it under-covered the
    remainder of a noise-free linear response (``u = sin 20t``, dt = 0.02: 1.18× the error
    at the times of a new-user pass; 0.95× at t = 0.1 … 3 here). The allowance is now
    ``max(0.05, κ)``, ``κ = (rate + ω)·dt`` (``ω`` the input's rate from its table), and
    the error is unknown (``None``) beyond ``κ = 0.5``, where the O(dt) bias no longer
    bounds its remainder (sin 10t and sin 20t at dt = 0.05 were 1.37× and 2.76× their
    errors)."""
    import volterra_sym as vs
    from volterra_sym.montecarlo import crn_responses
    from volterra_sym.montecarlo.error_bounds import input_rate

    m = vs.load_model("linear2d")
    times = np.array([0.5, 1.0, 1.5, 2.0])
    for w, dt in ((20, 0.02), (5, 0.05), (10, 0.05)):
        v = lambda t, w=w: np.array([np.sin(w * t)] * m.m)  # noqa: E731
        assert abs(input_rate(v, m.m, dt, 100) - w) < 0.02 * w
        T1 = np.asarray(vs.ResponseHierarchy(m, "h1", 1).series_terms(
            v, times, method="exact"))[1]
        mc = crn_responses(m, v, [0.5], times, observable="h1", n_paths=256, dt=dt, seed=1)
        r = response(m, v, 0.5, times, observable="h1", n_paths=256, dt=dt, seed=1)
        if (3.0 + w) * dt > 0.5:                  # linear2d's fastest rate is 3
            assert mc.richardson_rel is None and mc.error is None and r.error is None
            continue
        assert 0.3 < mc.richardson_rel <= 0.5
        assert np.all(np.abs(mc.values[0] - 0.5 * T1) <= mc.error[0])
        assert np.all(np.abs(r.values - 0.5 * T1) <= r.error)


def test_an_exact_scheme_has_a_rounding_floor():
    """The exponential scheme is exact for a linear model with a constant input: the
    responses' noise and bias are rounding, and the error (1e-16) was below the distance to
    the closed form (up to 9e-16; a new-user pass). The error now has a floor of
    ``1e3 ε·max|values|``."""
    import volterra_sym as vs
    from volterra_sym.montecarlo import crn_responses

    m = vs.load_model("linear2d")
    v = lambda t: np.ones(m.m)  # noqa: E731
    times = np.array([0.25, 0.5, 1.0, 2.0, 4.0])
    T1 = np.asarray(vs.ResponseHierarchy(m, "h1", 1).series_terms(v, times, method="exact"))[1]
    for eps in (0.5, 1.0, 2.0):
        mc = crn_responses(m, v, [eps], times, observable="h1", n_paths=512, dt=0.01,
                           scheme="exponential", seed=2)
        r = response(m, v, eps, times, observable="h1", n_paths=512, dt=0.01,
                     scheme="exponential", seed=2)
        assert np.all(np.abs(mc.values[0] - eps * T1) <= mc.error[0])
        assert np.all(np.abs(r.values - eps * T1) <= r.error)


def test_a_faulty_input_function_is_named():
    """A ``u`` that raises gave the raw ``ZeroDivisionError``; one that returns ``inf`` after
    t = 0.3 a ``DivergenceError`` ("a path diverged") without naming ``u`` (a new-user
    pass). Both are now ``InvalidInputError(param="u")``, the first chained to its cause,
    on the ensemble engine and on the engine of the input inside the activation."""
    import volterra_sym as vs
    from volterra_sym.montecarlo import crn_responses

    m, inside = vs.load_model("tanh1d"), vs.load_model("tanh1d_inside")
    bad = (lambda t: np.array([1 / 0]), lambda t: np.array([np.inf if t > 0.3 else 1.0]))
    for u in bad:
        for run in (lambda u=u: response(m, u, 0.1, [0.5], n_paths=100, dt=0.05, seed=1),
                    lambda u=u: crn_responses(inside, u, [0.1], [0.5], n_paths=100,
                                              dt=0.05)):
            with pytest.raises(InvalidInputError) as err:
                run()
            assert err.value.param == "u"
    with pytest.raises(InvalidInputError) as err:
        response(m, bad[0], 0.1, [0.5], n_paths=100, dt=0.05, seed=1)
    assert isinstance(err.value.__cause__, ZeroDivisionError)


def test_control_variate_options_are_checked_where_none_is_run(tanh1):
    """For an affine observable no linear copy is run, and a misspelt ``linearization``, a
    negative ``sync`` or a NaN ``linearize_at`` ran silently (a new-user pass): each is now
    refused naming it, as where the control variate runs."""
    u = lambda t: np.array([np.sin(t)])  # noqa: E731
    kw = dict(n_paths=100, dt=0.05, control_variate=True, seed=1)
    for bad, param in ((dict(linearization="foo"), "linearization"), (dict(sync=-1.0), "sync"),
                       (dict(linearize_at=[np.nan]), "linearize_at")):
        with pytest.raises(InvalidInputError) as err:
            response(tanh1, u, 0.1, [0.5], observable="h1", **kw, **bad)
        assert err.value.param == param
    r = response(tanh1, u, 0.1, [0.5], observable="h1", **kw)
    assert r.details["control_variate"].startswith("not used")
