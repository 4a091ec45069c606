"""Exact backend for linear SRNNs, against closed forms written here (docs/theory.md §4 example)."""

import numpy as np
import pytest
import scipy.linalg
import sympy as sp

from volterra_sym import ResponseHierarchy, stationary_density


def expm_batch(A, s):
    return np.stack([scipy.linalg.expm(-A * x) for x in np.atleast_1d(s)])


def test_first_order_kernel_of_linear_observable(linear3):
    """K_k(σ) = wᵀ e^{-Aσ} C_k, and every higher kernel vanishes."""
    w = np.array([1.0, -2.0, 0.5])
    hier = ResponseHierarchy(linear3, "h1 - 2*h2 + 0.5*h3", order=3)
    p = linear3.numpy_params()
    A, C = p["Gamma"] - p["W"], p["C"]
    sig = np.linspace(0, 4, 33)
    for k in range(2):
        ref = np.einsum("i,pij,j->p", w, expm_batch(A, sig), C[:, k])
        np.testing.assert_allclose(hier.kernel(k).evaluate(sig, method="exact"), ref,
                                   rtol=1e-12, atol=1e-14)
    rng = np.random.default_rng(1)
    for k in [(0, 1), (1, 1), (0, 1, 0)]:
        vals = hier.kernel(k).evaluate(rng.uniform(0, 3, (20, len(k))), method="exact")
        assert np.max(np.abs(vals)) < 1e-14


def test_quadratic_observable_kernels_closed_form(linear3):
    """f = hᵀQh + wᵀh: K_k(σ) = wᵀe^{-Aσ}C_k + 2 μᵀQ e^{-Aσ}C_k and, for σ1 ≤ σ2,
    K_{k1k2}(σ1, σ2) = 2 (e^{-Aσ1}C_{k1})ᵀ Q (e^{-Aσ2}C_{k2})."""
    Q = np.array([[1.0, 0.2, 0.0], [0.2, 0.5, 0.1], [0.0, 0.1, 0.3]])
    w = np.array([0.3, 0.0, -1.0])
    h = sp.Matrix(linear3.h)
    f = sp.expand((h.T * sp.Matrix(Q) * h)[0] + (sp.Matrix(w).T * h)[0])
    hier = ResponseHierarchy(linear3, f, order=3)
    p = linear3.numpy_params()
    A, C = p["Gamma"] - p["W"], p["C"]
    mu = np.linalg.solve(A, p["b"])
    sig = np.linspace(0, 3, 13)
    E = expm_batch(A, sig)
    for k in range(2):
        ref = np.einsum("i,pij,j->p", w + 2 * Q @ mu, E, C[:, k])
        np.testing.assert_allclose(hier.kernel(k).evaluate(sig, method="exact"), ref,
                                   rtol=1e-11)
    rng = np.random.default_rng(2)
    lags = rng.uniform(0, 3, (25, 2))
    for k1 in range(2):
        for k2 in range(2):
            lo, hi = np.minimum(lags[:, 0], lags[:, 1]), np.maximum(lags[:, 0], lags[:, 1])
            first_is_recent = lags[:, 0] <= lags[:, 1]
            # symmetric extension: the channel of the smaller lag acts first
            ka = np.where(first_is_recent, k1, k2)
            kb = np.where(first_is_recent, k2, k1)
            a = np.einsum("pij,pj->pi", expm_batch(A, lo), C[:, ka].T)
            b = np.einsum("pij,pj->pi", expm_batch(A, hi), C[:, kb].T)
            ref = 2 * np.einsum("pi,ij,pj->p", a, Q, b)
            got = hier.kernel((k1, k2)).evaluate(lags, method="exact")
            np.testing.assert_allclose(got, ref, rtol=1e-11)
    assert np.max(np.abs(hier.kernel((0, 1, 1)).evaluate(rng.uniform(0, 2, (9, 3))))) < 1e-13


def _driven_ou_mean(A, C, amp, omega, mu, t):
    """δ(t) = ∫_0^t e^{-A(t-s)} C a sin(ωs) ds = Im[(A + iω)⁻¹ (e^{iωt} - e^{-At}) C a]."""
    n = A.shape[0]
    M = np.linalg.inv(A + 1j * omega * np.eye(n))
    out = []
    for tt in t:
        out.append(np.imag(M @ (np.exp(1j * omega * tt) * np.eye(n) - scipy.linalg.expm(-A * tt))
                           @ (C @ amp)))
    return np.array(out)


@pytest.mark.parametrize("eps", [0.1, 1.0, 10.0])
def test_series_equals_driven_ou_moments(linear3, eps):
    """Order-2 series of a quadratic observable = E f(h_t) - <f>_0 of the driven OU
    process, from its exact mean μ + εδ(t) and covariance S (additive input)."""
    Q = np.array([[1.0, 0.2, 0.0], [0.2, 0.5, 0.1], [0.0, 0.1, 0.3]])
    w = np.array([0.3, 0.0, -1.0])
    h = sp.Matrix(linear3.h)
    f = sp.expand((h.T * sp.Matrix(Q) * h)[0] + (sp.Matrix(w).T * h)[0])
    hier = ResponseHierarchy(linear3, f, order=2)
    p = linear3.numpy_params()
    A, C, D = p["Gamma"] - p["W"], p["C"], p["D"]
    mu = np.linalg.solve(A, p["b"])
    S = scipy.linalg.solve_continuous_lyapunov(A, D)
    amp, omega = np.array([1.0, -0.5]), 2.0
    times = np.linspace(0, 6, 61)
    delta = _driven_ou_mean(A, C, amp, omega, mu, times)
    m_t = mu + eps * delta
    Ef = np.einsum("pi,ij,pj->p", m_t, Q, m_t) + np.trace(Q @ S) + m_t @ w
    f0 = mu @ Q @ mu + np.trace(Q @ S) + mu @ w
    assert hier.mean0() == pytest.approx(f0, rel=1e-13)
    series = hier.series(lambda t: amp * np.sin(omega * t), times, eps, method="exact")
    assert series.shape == (3, times.size)
    np.testing.assert_allclose(series[2] - series[0], Ef - f0,
                               rtol=1e-9, atol=1e-9 * np.max(np.abs(Ef - f0)))


def test_series_terms_match_kernel_quadrature(linear2):
    """T_1(t) = Σ_k ∫_0^t K_k(σ) u_k(t-σ) dσ and T_2 = (1/2) Σ ∫∫ K u u (docs/theory.md §4)."""
    hier = ResponseHierarchy(linear2, "h1**2 + 0.5*h2 + h1*h2", order=2)
    u = lambda t: np.array([np.sin(2 * t), np.cos(t)])  # noqa: E731
    t_end = 1.3
    terms = hier.series_terms(u, [t_end], method="exact")
    x, wts = np.polynomial.legendre.leggauss(40)
    s = 0.5 * t_end * (x + 1)
    ws = 0.5 * t_end * wts
    U = np.array([u(t_end - si) for si in s])  # (q, m)
    T1 = sum(np.sum(ws * hier.kernel(k).evaluate(s) * U[:, k]) for k in range(2))
    assert terms[1, 0] == pytest.approx(T1, rel=1e-10)
    S1, S2 = np.meshgrid(s, s, indexing="ij")
    W2 = np.outer(ws, ws)
    T2 = 0.0
    for k1 in range(2):
        for k2 in range(2):
            K = hier.kernel((k1, k2)).evaluate(np.stack([S1, S2], -1))
            T2 += np.sum(W2 * K * np.outer(U[:, k1], U[:, k2]))
    # the kink of K on the diagonal limits Gauss–Legendre; 1e-6 is far below the size of T2
    assert terms[2, 0] == pytest.approx(T2 / 2, rel=1e-6)


def test_symbolic_closed_form_matches_numbers(linear2):
    hier = ResponseHierarchy(linear2, "h1**2 + h2", order=2)
    K = hier.kernel((0, 1))
    cf = K.doit()
    s1, s2 = K.lags
    assert cf.free_symbols <= {s1, s2}
    pts = np.array([[0.2, 0.9], [1.1, 0.4]])
    num = K.evaluate(pts, method="exact")
    # closed form is for sorted lags: evaluate it after sorting with channels swapped
    assert float(cf.subs({s1: 0.2, s2: 0.9})) == pytest.approx(num[0], rel=1e-12)
    cf_swapped = hier.kernel((1, 0)).doit()
    assert float(cf_swapped.subs({s1: 0.4, s2: 1.1})) == pytest.approx(num[1], rel=1e-12)


def test_symbolic_parameters_closed_form():
    """One-dimensional OU with symbols: K(σ) = e^{-γσ} c, K_2 of h² = 2c² e^{-γ(σ1+σ2)}."""
    from volterra_sym import SRNN

    m = SRNN(Gamma="gamma", W=0, C="c", sigma="s")
    g, c = m.parameters["gamma"], m.parameters["c"]
    hier = ResponseHierarchy(m, "h1**2", 2)
    K2 = hier.kernel((0, 0))
    s1, s2 = K2.lags
    assert sp.simplify(K2.doit() - 2 * c**2 * sp.exp(-g * (s1 + s2))) == 0
    K1 = ResponseHierarchy(m, "h1", 1).kernel(0)
    assert sp.simplify(K1.doit() - c * sp.exp(-g * s1)) == 0
    assert stationary_density(m).cov[0, 0] == m.parameters["s"] ** 2 / (2 * g)


def test_bad_series_input(linear2):
    hier = ResponseHierarchy(linear2, "h1", order=1)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        hier.series_terms(lambda t: np.zeros(3), [0.0, 1.0])
    with pytest.raises(ValueError, match="non-decreasing"):
        hier.series_terms(lambda t: np.zeros(2), [1.0, 0.5])
    with pytest.raises(ValueError, match="not finite"):
        hier.series_terms(lambda t: np.array([np.nan, 0.0]), [0.0, 1.0])
    with pytest.raises(ValueError, match="≥ 0"):
        hier.series_terms(lambda t: np.zeros(2), [-1.0, 0.5])


def test_a_narrow_stationary_density_is_not_called_singular():
    """Γ = 1e44 has S = 5e-45: the singularity check was absolute and refused it."""
    import volterra_sym as vs

    m = vs.SRNN([[1e44]], [[0]], [[1]], [[1]], activation="linear")
    r = vs.ResponseHierarchy(m, "h1", order=1).kernel(0).evaluate([1e-44], method="exact")
    assert abs(float(r.values) - np.exp(-1.0)) <= 1e-12


def test_a_closed_form_over_its_time_budget_is_refused_before_work(linear3, monkeypatch):
    """``doit()`` used to build any closed form however long (degree 4 of a 3-unit model
    takes about 20 s at order 1 and over 400 s at order 2): its cost is estimated from the
    terms of the shifted polynomial and refused over ``time_budget`` (default 120 s) in
    well under a second, with the estimate; a form whose estimate was too low is stopped
    between its steps once the budget has passed (the semigroup multiplies its shifted
    polynomial out one factor at a time, checking in between: one expand had taken 6 s and
    the stop came after 11–14 s for a 3 s budget on a slow machine; now 5 s); cheap forms
    are still built."""
    import time

    from volterra_sym.density import closed_form_seconds
    from volterra_sym.errors import InvalidInputError, ResourceLimitError

    big = ResponseHierarchy(linear3, "h1**6", order=1).kernel(0)
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError, match="about 278 s.*time_budget") as err:
        big.doit()
    assert time.perf_counter() - t0 < 1.0
    assert err.value.unit == "seconds" and err.value.budget == 120.0
    # estimated 82 s, measured over 400 s: with a too-low estimate it is stopped at the
    # deadline (the estimate is replaced by 0 to see the deadline under a short budget)
    deep = ResponseHierarchy(linear3, "h1**3*h3", order=2).kernel((0, 0))
    assert closed_form_seconds(linear3, deep.observable, 2) == pytest.approx(81.9)
    from volterra_sym.density import semigroup

    monkeypatch.setattr(semigroup, "closed_form_seconds", lambda *a: 0.0)
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError, match="stopped after .* time budget 3 s"):
        deep.doit(time_budget=3)
    assert time.perf_counter() - t0 < 10
    monkeypatch.undo()
    small = ResponseHierarchy(linear3, "h1**2", order=1).kernel(0)
    assert closed_form_seconds(linear3, small.observable, 1) == pytest.approx(1.365)
    with pytest.raises(ResourceLimitError, match="time budget 0.1 s"):
        small.doit(time_budget=0.1)
    with pytest.raises(InvalidInputError, match="time_budget"):
        small.doit(time_budget=float("nan"))
    s1 = small.lags[0]
    assert float(small.doit().subs(s1, 0.5)) == pytest.approx(
        float(small.evaluate(0.5, method="exact")), rel=1e-12)


def test_kernels_beyond_the_degree_of_f_cost_no_semigroup(linear3, monkeypatch):
    """A kernel of order N > deg f is 0: the closed form used to push the zero polynomial
    through every remaining semigroup (seconds per kernel on a 3-unit model, so
    ``derive linear3d --order 8`` took 419 s); now it stops at the first 0, and the
    derivation prints the note instead of building each of them."""
    from volterra_sym import load_model
    from volterra_sym.density import semigroup
    from volterra_sym.reports.latex import derivation_document

    calls = []
    real = semigroup.semigroup_closed_form
    monkeypatch.setattr(semigroup, "semigroup_closed_form",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    K = ResponseHierarchy(linear3, "h1", order=4).kernel((0, 1, 0, 1))
    assert K.doit() == 0
    assert len(calls) == 2      # P h1, then P of the constant L_0 P h1; L_1 of it is 0
    built = []
    real_kernel = semigroup.kernel_closed_form
    monkeypatch.setattr(semigroup, "kernel_closed_form",
                        lambda *a, **k: built.append(a[2]) or real_kernel(*a, **k))
    doc = derivation_document(load_model("linear3d"), 4)
    # f = h1² + h2h3/2 + h3 has degree 2: the 6 kernels of orders 1-2 only (of 30)
    assert sorted(built) == [(0,), (0, 0), (0, 1), (1,), (1, 0), (1, 1)]
    assert doc.count("Every kernel of order") == 2
