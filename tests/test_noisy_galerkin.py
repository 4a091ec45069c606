"""Issue 12: the Galerkin route for the input inside the activation (kicks ``L^{(j)}``,
contact terms) and state-dependent noise ``D(h)`` (docs/theory.md §9–§11), against the
additive model, the n = 1 spectral route and common-random-number Monte Carlo."""

import numpy as np
import pytest

import volterra_sym as vs
from volterra_sym.backends.galerkin.route import galerkin_kernels
from volterra_sym.density.sampling import StateNoiseBurnIn, stationary_sampler
from volterra_sym.errors import InvalidInputError
from volterra_sym.hierarchy.propagation import prefix_graph
from volterra_sym.model import SRNN, load_model
from volterra_sym.montecarlo import crn_responses, parity_matrix


def u1(t):
    return np.array([np.sin(2 * t)])


def single_well(**changes) -> SRNN:
    """1-D tanh with one stable fixed point (w < γ): polynomial bases converge fast."""
    return SRNN([[1.0]], [[0.8]], [[1.0]], [[0.7]], [0.3], "tanh").replace(**changes)


def test_linear_activation_inside_equals_the_additive_model():
    """Linear activation, constant noise, input="activation": the kick machinery (composite
    keys, forward form with the contact terms L^(j≥2) = 0) gives the additive kernels and
    series (exact Gaussian moments: exact) to 1e-10."""
    add = SRNN(Gamma=[[1.0, 0.2], [0.0, 1.5]], W=[[0.0, 0.4], [-0.5, 0.1]],
               C=[[1.0, 0.0], [0.3, 1.0]], sigma=[[0.5, 0.0], [0.2, 0.4]], b=[0.3, -0.2],
               observable="h1**2 + h1*h2")
    ins = add.replace(input="activation")
    f = add.default_observable
    lags = np.array([[0.1, 0.5], [0.3, 0.3], [0.0, 1.0], [0.7, 1.9]])
    req = {((0,),): lags[:, :1], ((1,), (0,)): lags, ((0, 1),): lags[:, :1]}
    got = galerkin_kernels(ins, f, prefix_graph(req), req, degree=2)
    ex = vs.ResponseHierarchy(add, f, order=2)
    k1 = np.asarray(ex.kernel((0,)).evaluate(lags[:, :1], method="exact"))
    k10 = np.asarray(ex.kernel((1, 0)).evaluate(lags, method="exact"))
    assert np.max(np.abs(got[((0,),)][0] - k1)) <= 1e-10 * np.abs(k1).max()
    assert np.max(np.abs(got[((1,), (0,))][0] - k10)) <= 1e-10 * np.abs(k10).max()
    assert np.max(np.abs(got[((0, 1),)][0])) <= 1e-12
    u = lambda t: np.array([np.sin(t), np.cos(2 * t)])  # noqa: E731
    times = np.linspace(0, 4, 21)
    Te = np.asarray(ex.series_terms(u, times, method="exact"))
    Tg = vs.ResponseHierarchy(ins, f, order=3).series_terms(u, times, method="galerkin",
                                                            degree=2)
    assert Tg.method == "galerkin"
    np.testing.assert_allclose(np.asarray(Tg)[:3], Te, rtol=0, atol=1e-10 * np.abs(Te).max())
    assert np.max(np.abs(np.asarray(Tg)[3])) <= 1e-10 * np.abs(Te).max()   # terminates


@pytest.mark.parametrize("changes", [{"input": "activation"},
                                     {"input": "activation", "sigma": "0.5 + 0.2*h1"}])
def test_one_dim_inside_against_spectral(changes):
    """K^(1), K^(1,1), the contact kernel K^(2) and the series (contact terms) of a 1-D tanh
    SRNN with the input inside (and σ(h)) against the n = 1 spectral route; first order to
    1e-6 relative with constant noise; always within the two routes' error estimates."""
    m = single_well(**changes)
    H = vs.ResponseHierarchy(m, order=2)
    lags = np.array([[0.1, 0.5], [0.5, 0.5], [1.0, 2.0], [0.0, 3.0]])
    for kicks in (((0,),), ((0,), (0,)), ((0, 0),)):
        k = H.kernel(kicks)
        r = len(kicks)
        a = k.evaluate(lags[:, :r], method="spectral")
        b = k.evaluate(lags[:, :r], method="galerkin")
        assert b.method == "galerkin"
        diff = np.abs(np.asarray(a) - np.asarray(b))
        assert np.all(diff <= a.error + b.error), kicks
        if kicks == ((0,),) and not m.state_dependent_noise:
            assert diff.max() <= 1e-6 * np.abs(np.asarray(a)).max()
    times = np.linspace(0, 3, 13)
    Ts = H.series_terms(u1, times, method="spectral")
    Tg = H.series_terms(u1, times, method="galerkin")
    diff = np.abs(np.asarray(Ts) - np.asarray(Tg))
    assert np.all(diff <= Ts.error + Tg.error + 1e-14)
    if not m.state_dependent_noise:
        assert diff[1].max() <= 1e-6 * np.abs(np.asarray(Ts)[1]).max()
        # the contact term matters: T2 without K^(2) differs by far more than the error
        assert np.abs(np.asarray(Ts)[2]).max() > 100 * Tg.error[2].max()


@pytest.mark.parametrize("name", ["tanh1d_inside", "noisy_tanh1d"])
def test_builtin_one_dim_against_spectral_within_estimates(name):
    """The built-in models are bistable (w = 1.5 > γ): the polynomial basis converges
    slowly (measured: K1 to ~2e-3, K2 to ~2e-2 relative at the conditioned default degree),
    and the reported error must cover the difference to the spectral route."""
    m = load_model(name)
    H = vs.ResponseHierarchy(m, order=2)
    lags = np.array([[0.1, 0.5], [0.5, 0.5], [1.0, 2.0]])
    for kicks in (((0,),), ((0,), (0,))):
        k = H.kernel(kicks)
        r = len(kicks)
        a = k.evaluate(lags[:, :r], method="spectral")
        b = k.evaluate(lags[:, :r], method="galerkin")
        diff = np.abs(np.asarray(a) - np.asarray(b))
        assert np.all(diff <= a.error + b.error), kicks
        assert diff.max() <= 0.1 * np.abs(np.asarray(a)).max()
    assert abs(H.mean0("galerkin") - H.mean0("spectral")) < 1e-9


def test_state_noise_burn_in_sampler():
    """Euler–Maruyama burn-in with σ(h) for n > 1: seeded (same numbers for the same seed),
    and for the 1-D noisy model it reproduces the quadrature mean and variance within
    Monte Carlo error plus the O(dt) bias (measured below 1 % of a standard deviation)."""
    m4 = load_model("noisy_rnn4")
    s = stationary_sampler(m4)
    assert isinstance(s, StateNoiseBurnIn)
    a = s(np.random.default_rng(7), 50)
    b = s(np.random.default_rng(7), 50)
    np.testing.assert_array_equal(a, b)
    m1 = load_model("noisy_tanh1d")
    s1 = StateNoiseBurnIn(m1)
    x = s1(np.random.default_rng(3), 20000)[:, 0]
    from volterra_sym.density import stationary_density
    dens = stationary_density(m1)
    mu = dens.expectation_numpy(lambda h: h)
    sd = np.sqrt(dens.expectation_numpy(lambda h: (h - mu) ** 2))
    assert abs(x.mean() - mu) < 4 * x.std() / np.sqrt(x.size) + 0.02 * sd
    assert abs(x.std() - sd) < 0.05 * sd
    with pytest.raises(InvalidInputError):
        StateNoiseBurnIn(m1, dt=10.0)


@pytest.mark.slow
def test_noisy_rnn4_galerkin_series_against_crn_monte_carlo():
    """Acceptance (issue 12): noisy_rnn4 (4 units, input inside, σ(h) = 0.3 + 0.1 h): the
    Galerkin series agrees with CRN Monte Carlo responses (Euler–Maruyama with σ(h),
    Richardson-extrapolated in dt). Odd part (R(ε) − R(−ε))/2 = εT1 + ε³T3 + O(ε⁵), even part
    (R(ε) + R(−ε))/2 = ε²T2 + ε⁴T4 + O(ε⁶), within 4 s.e. + the measured dt bias + the
    Galerkin error estimates + the next-order term (estimated by ε² times the last one)."""
    m = load_model("noisy_rnn4")
    u = lambda t: np.array([np.sin(2 * t), 0.5 * np.cos(t)])  # noqa: E731
    times = np.array([0.5, 1.0, 1.5, 2.0])
    res = vs.ResponseHierarchy(m, order=4).series_terms(u, times, method="galerkin",
                                                        degree=3)
    T, E = np.asarray(res), res.error
    assert res.details["measure"] == "samples"
    eps = 0.3
    res = crn_responses(m, u, [eps, -eps], times, n_paths=20000, dt=0.01, seed=5,
                        combine=parity_matrix(1))
    even, odd = res.values[1], res.values[2]       # 4·se + the Richardson remainder:
    tol_odd = res.error[2] + eps * E[1] + eps ** 3 * E[3] + eps ** 2 * eps ** 3 * np.abs(T[3])
    tol_even = (res.error[1] + eps ** 2 * E[2] + eps ** 4 * E[4]
                + eps ** 2 * eps ** 4 * np.abs(T[4]))
    assert np.all(np.abs(odd - eps * T[1] - eps ** 3 * T[3]) <= tol_odd)
    assert np.all(np.abs(even - eps ** 2 * T[2] - eps ** 4 * T[4]) <= tol_even)
    # the check can fail: the order-2 term is resolved (the even part is far from 0 on the
    # scale of the tolerance), and so is the first-order term
    assert np.all(np.abs(even) > 1.5 * tol_even)
    assert np.all(np.abs(odd - eps ** 3 * T[3]) > 10 * tol_odd)


def test_contact_kernel_against_fdt_monte_carlo():
    """K^(2)_11(σ) = <p0, L^(2)_11 P_σ f> of the 1-D tanh SRNN with the input inside
    (docs/theory.md §10) equals the stationary correlation E_0[v^(2)(h_0) f(h_σ)] with the
    conjugate variable v^(2) = −p0⁻¹ (c₂ p0)' = −(c₂' + c₂ 2φ/D), c₂ = a''(z) C²/2: Euler–
    Maruyama paths from p0 (inverse CDF), Richardson-extrapolated in dt (per path,
    2 f(h^{dt/2}) − f(h^{dt}) with one Brownian path); within 4 s.e. plus the measured
    bias, and the kernel is resolved (|K| > 10 s.e.)."""
    import sympy as sp

    from volterra_sym.montecarlo.integrators import StateNoiseStep
    from volterra_sym.operators import perturbation_j_coefficients

    m = load_model("tanh1d_inside")
    h = m.h[0]
    c2 = perturbation_j_coefficients(m, (0, 0))[0]
    v2 = sp.lambdify(h, -(sp.diff(c2, h) + c2 * 2 * m.drift[0] / m.D[0, 0]), "numpy")
    lags = np.array([0.0, 0.25, 0.5, 1.0])
    K = vs.ResponseHierarchy(m, order=2).kernel(((0, 0),))
    engines = [K.evaluate(lags[:, None], method=meth) for meth in ("spectral", "galerkin")]
    P, dt = 200_000, 0.01
    rng = np.random.default_rng(11)
    h0 = stationary_sampler(m)(rng, P)
    w = v2(h0[:, 0])
    coarse, fine = StateNoiseStep(m, dt), StateNoiseStep(m, dt / 2)
    hc, hf, zero = h0.copy(), h0.copy(), np.zeros(1)
    idx = np.rint(lags / dt).astype(int)
    est, se, bias = [], [], []
    for i in range(idx.max() + 1):
        if i in idx:
            x = w * (2 * hf[:, 0] - hc[:, 0])
            est.append(x.mean())
            se.append(x.std() / np.sqrt(P))
            bias.append(abs(np.mean(w * (hf[:, 0] - hc[:, 0]))))
        dB1, dB2 = (rng.standard_normal((P, 1)) * np.sqrt(dt / 2) for _ in range(2))
        hc = coarse.step(hc, zero, dB1 + dB2)
        hf = fine.step(fine.step(hf, zero, dB1), zero, dB2)
    est, se, bias = map(np.asarray, (est, se, bias))
    for res in engines:
        assert np.all(np.abs(est - np.asarray(res)) <= 4 * se + bias + res.error)
    assert np.all(np.abs(est) > 10 * se)


def test_noisy_tanh1d_k2_error_not_inflated_by_the_window():
    """noisy_tanh1d's K₂ at the lags ``verify --quick`` compares, default settings. At
    degree 13 (the Hermite products' Gram matrix was refused from degree 14) it was 6.4e-3
    off the spectral route, reported ± 0.20 (31×; 0.63 and 99× before the slow-convergence
    tail multiplied only the latest changes). On the basis orthonormal under the quadrature
    the default ladder climbs to degree ≥ 20: 2.0e-6 off, reported ± 8.8e-5 (43×, the
    window of lower degrees capped at six: ⌈d/3⌉ = 12 at degree 35 had made it 629×).
    Above the actual error at every lag and within the issue's 100×."""
    m = load_model("noisy_tanh1d")
    H = vs.ResponseHierarchy(m, order=2)
    lags = np.array([[0.05, 0.05], [0.1, 0.2], [0.25, 0.5], [0.5, 0.5], [1.0, 0.5]])
    k = H.kernel((0, 0))
    a = k.evaluate(lags, method="spectral")
    b = k.evaluate(lags, method="galerkin")
    assert b.details["route"]["degree"] >= 20
    diff = np.abs(np.asarray(a) - np.asarray(b))
    assert diff.max() <= 1e-5
    assert np.all(diff <= b.error - a.error)
    assert b.error.max() <= 100 * diff.max(), b.error.max() / diff.max()


def test_the_one_dimensional_basis_is_orthonormal_under_the_quadrature():
    """n = 1: the Galerkin basis is the polynomials orthonormal under the 1-D quadrature of
    ``p0`` (Stieltjes), the span of the Hermite products. Its Gram matrix is ``I`` at degree
    30 (the Hermite products' had cond 7.8e9 at degree 13 on noisy_tanh1d and were refused
    from 14), its derivative matrix matches central differences of its values, and every
    monomial ``y^k`` (k ≤ d) lies in its span; noisy_tanh1d's K₁ at degree 24 is within its
    error of the spectral route."""
    from volterra_sym.backends.galerkin.basis import OrthonormalBasis1D
    from volterra_sym.backends.galerkin.route import _measure, _whitening, parse_options

    m = load_model("noisy_tanh1d")
    meas = _measure(m, 30, parse_options(m, {}))
    y = _whitening(meas).to_y(meas.x).ravel()
    B = OrthonormalBasis1D.on(y, meas.w, 30)
    P = B.evaluate(y)
    assert np.abs(P.T @ (P * meas.w[:, None]) - np.eye(31)).max() <= 1e-12
    h = 1e-6
    fd = (B.evaluate(y + h) - B.evaluate(y - h)) / (2 * h)
    assert np.abs(fd - P @ B.derivative().toarray()).max() <= 1e-6 * np.abs(fd).max()
    coef, *_ = np.linalg.lstsq(P * np.sqrt(meas.w)[:, None],
                               np.sqrt(meas.w)[:, None] * y[:, None] ** np.arange(8), rcond=None)
    resid = P @ coef - y[:, None] ** np.arange(8)
    assert np.abs(resid).max() <= 1e-8 * np.abs(y).max() ** 7
    H = vs.ResponseHierarchy(m, order=1)
    lags = [[0.05], [0.5], [2.0]]
    g = H.kernel((0,)).evaluate(lags, method="galerkin", degree=24)
    s = H.kernel((0,)).evaluate(lags, method="spectral")
    assert g.details["route"]["cond_G"] < 1.1
    assert np.all(np.abs(np.asarray(g) - np.asarray(s)) <= g.error)


def test_unresolved_by_sampling_warns_naming_paths():
    """A second-order kernel K₁₂ (input inside the activation, 3 units, sampled
    measure) came back as 0.000499 ± 0.00061 — its statistical part leading — without the
    UnresolvedWarning the default ladder gives where truncation leads."""
    import warnings

    from volterra_sym import UnresolvedWarning

    model = SRNN(Gamma=1.0, W=[[0, 0.5, -0.3], [0.4, 0, 0.2], [-0.2, 0.3, 0]],
                 C=[[1, 0], [0, 1], [0, 0]], sigma=0.5, activation="tanh", input="activation")
    K = vs.ResponseHierarchy(model, "h1", order=2).kernel((0, 1))
    with pytest.warns(UnresolvedWarning, match="sampling of p0") as rec:
        res = K.evaluate([[0.3, 0.6]])
    assert res.details["route"]["measure"] == "samples"
    assert float(np.max(res.error)) >= float(np.max(np.abs(res.values)))
    assert rec[0].message.option == "paths" and rec[0].message.relative >= 1.0
    with warnings.catch_warnings():            # resolved: no warning
        warnings.simplefilter("error", UnresolvedWarning)
        K1 = vs.ResponseHierarchy(model, "h1", order=1).kernel(0).evaluate([[0.5]])
    assert float(np.max(K1.error)) < 0.1 * float(np.max(np.abs(K1.values)))
