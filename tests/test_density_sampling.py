"""The density layer's numerical routes (issue 8, item 6): the Lyapunov Gaussian, the
numerical gradient test, the one p0 sampler, the 1-D bracket and the conjugate variables,
each checked against an independent route written here (exact rational solve, symbolic
simplification, closed forms with scipy quadrature, finite differences)."""

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
import sympy as sp

from volterra_sym import SRNN
from volterra_sym.density import (
    bracket_1d,
    burn_in_sampler,
    conjugate_variables,
    density_kind,
    gaussian_moments,
    is_gradient,
    linearisation,
    second_conjugate_variables,
    stationary_density,
    stationary_sampler,
)
from volterra_sym.density.gradient import _symbolic_gradient
from volterra_sym.density.sampling import RELAXATION_TIMES
from volterra_sym.errors import ResourceLimitError
from volterra_sym.model.cache import cached_keys


def _linear3():
    return SRNN(Gamma=np.diag([1.5, 1.2, 1.0]), W=[[0, 0.4, 0], [-0.4, 0, 0.3], [0, -0.3, 0]],
                C=[[1, 0], [0, 1], [0.5, 0.5]],
                sigma=[[0.5, 0, 0], [0, 0.4, 0], [0, 0.1, 0.3]], b=[0.2, -0.1, 0.3])


def _tanh1(w=0.9):
    return SRNN(Gamma=1.0, W=w, C=0.7, sigma=0.7, b=0.2, activation="tanh")


def _tanh1_logp(x, w=0.9, b=0.2, s=0.7):
    """Closed form written here: U = -x²/2 + log cosh(w x + b)/w, log p0 = 2U/s²."""
    z = w * x + b
    logcosh = np.abs(z) + np.log1p(np.exp(-2 * np.abs(z))) - np.log(2.0)
    return 2.0 * (-0.5 * x**2 + logcosh / w) / s**2


def _gradient2():
    """φ = -Γh + tanh(0.5 h) with symmetric Γ: φ = ∇U, D = 0.36 I."""
    return SRNN(Gamma=[[1.0, 0.2], [0.2, 1.0]], W=[[0.5, 0], [0, 0.5]], C=[[1, 0.3], [0, 1]],
                sigma=[[0.6, 0], [0, 0.6]], activation="tanh")


def _gradient2_logp(x):
    G = np.array([[1.0, 0.2], [0.2, 1.0]])
    quad = -0.5 * np.einsum("...i,ij,...j->...", x, G, x)
    z = 0.5 * x
    logcosh = np.abs(z) + np.log1p(np.exp(-2 * np.abs(z))) - np.log(2.0)
    return 2.0 * (quad + logcosh.sum(-1) / 0.5) / 0.36


# ---------------------------------------------------------------------- Gaussian
def test_numeric_gaussian_matches_exact_rational_solution():
    m = _linear3()
    dens = stationary_density(m)
    mu, S = gaussian_moments(m)
    mu_exact = np.array(m.A.LUsolve(m.b).evalf(30), dtype=float).ravel()
    S_exact = np.array(dens.cov.evalf(30), dtype=float)   # exact rational Lyapunov (n ≤ 4)
    assert all(isinstance(e, sp.Rational) for e in dens.cov)
    np.testing.assert_allclose(mu, mu_exact, rtol=0, atol=1e-12)
    np.testing.assert_allclose(S, S_exact, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dens.cov_numpy, S_exact, rtol=0, atol=1e-12)
    # only the model's own and the density layer's derived data are cached on it
    assert all(k[0] in ("density", "model") for k in cached_keys(m))


def test_large_numeric_linear_model_has_no_symbolic_stage():
    n = 8
    rng = np.random.default_rng(1)
    m = SRNN(np.eye(n) * 1.5, 0.3 * rng.standard_normal((n, n)) / np.sqrt(n),
             rng.standard_normal((n, 1)), 0.5)
    dens = stationary_density(m)
    assert dens.kind == "gaussian" and "_verification" not in dens.__dict__
    p = m.numpy_params()
    A = p["Gamma"] - p["W"]
    S = dens.cov_numpy
    np.testing.assert_allclose(A @ S + S @ A.T, p["D"], atol=1e-12)
    assert dens.mean.has(sp.Float)                   # floats, not an exact solve
    # on request the symbolic check still runs (and passes)
    assert stationary_density(m, verify=True) is dens
    assert dens.__dict__["_verification"].ok


# ---------------------------------------------------------------------- gradient test
@pytest.mark.parametrize("make, expected", [
    (_gradient2, True),
    (lambda: SRNN(Gamma=[[1, 0], [0, 1]], W=[[0.8, -0.6], [0.6, 0.5]], C=[[1], [0]],
                  sigma=[[0.6, 0], [0, 0.6]], activation="tanh"), False),
    # symmetric W, but the tanh slopes differ per unit: diag(a'(z)) W is not symmetric
    (lambda: SRNN(Gamma=1.0, W=[[0.5, 0.3], [0.3, 0.5]], C=[[1], [0]], sigma=0.6,
                  activation="tanh"), False),
    # gradient drift but anisotropic noise: no closed form
    (lambda: SRNN(Gamma=[[1.0, 0.2], [0.2, 1.0]], W=[[0.5, 0], [0, 0.5]], C=[[1], [0]],
                  sigma=[[0.6, 0], [0, 0.5]], activation="tanh"), False),
    (lambda: SRNN(Gamma=[[1.0, 0.1, 0], [0.1, 1.2, 0], [0, 0, 1]], W=np.diag([0.4, -0.3, 0.2]),
                  C=[[1], [0], [0]], sigma=0.5, b=[0.1, 0, -0.2], activation="sigmoid"),
     True),
])
def test_numeric_gradient_test_agrees_with_symbolic(make, expected):
    m = make()
    assert is_gradient(m) is expected
    if m.D == m.D[0, 0] * sp.eye(m.n):
        assert _symbolic_gradient(m) is expected      # the independent symbolic route
    assert density_kind(m) == ("gradient" if expected else "numerical")


def test_gradient_density_verifies_symbolically():
    dens = stationary_density(_gradient2(), verify=True)
    assert dens.kind == "gradient" and dens.verify().ok


# ---------------------------------------------------------------------- samplers
def test_gaussian_sampler_moments():
    m = _linear3()
    mu, S = gaussian_moments(m)
    x = stationary_sampler(m)(np.random.default_rng(5), 40000)
    P = x.shape[0]
    se = np.sqrt(np.diag(S) / P)
    assert np.all(np.abs(x.mean(0) - mu) < 4 * se)
    C = np.cov(x.T)
    se_c = np.sqrt((S**2 + np.outer(np.diag(S), np.diag(S))) / P)
    assert np.all(np.abs(C - S) < 4 * se_c)


def _tanh1_cdf():
    xs = np.linspace(-6, 7, 40001)
    lp = _tanh1_logp(xs)
    w = np.exp(lp - lp.max())
    cdf = scipy.integrate.cumulative_trapezoid(w, xs, initial=0.0)
    return lambda x: np.interp(x, xs, cdf / cdf[-1])


def test_inverse_cdf_sampler_ks_against_closed_form():
    m = _tanh1()
    x = stationary_sampler(m)(np.random.default_rng(7), 20000)[:, 0]
    assert scipy.stats.kstest(x, _tanh1_cdf()).pvalue > 1e-3
    # and the test detects a wrong density: the same draws against a shifted law
    assert scipy.stats.kstest(x + 0.05, _tanh1_cdf()).pvalue < 1e-3


def _moments_1d(k):
    xs = np.linspace(-6, 7, 40001)
    w = np.exp(_tanh1_logp(xs) - _tanh1_logp(xs).max())
    return scipy.integrate.trapezoid(w * xs**k, xs) / scipy.integrate.trapezoid(w, xs)


def test_burn_in_sampler_1d_against_closed_form():
    m = _tanh1()
    s = burn_in_sampler(m)
    assert s.split == "linearised" and not s.metastable
    x = s(np.random.default_rng(3), 40000)[:, 0]
    for k in (1, 2):
        se = np.std(x**k) / np.sqrt(x.size)
        assert abs(np.mean(x**k) - _moments_1d(k)) < 4 * se
    assert scipy.stats.kstest(x, _tanh1_cdf()).pvalue > 1e-3


def test_burn_in_sampler_2d_gradient_against_quadrature():
    m = _gradient2()
    g = np.linspace(-4, 4, 401)
    X = np.stack(np.meshgrid(g, g, indexing="ij"), -1)
    w = np.exp(_gradient2_logp(X))
    w /= w.sum()
    s = burn_in_sampler(m)
    x = s.sample_blocks([np.random.default_rng(i) for i in range(4)], [5000] * 4)
    feats = [lambda y: y[..., 0], lambda y: y[..., 1], lambda y: y[..., 0] ** 2,
             lambda y: y[..., 0] * y[..., 1]]
    for f in feats:
        ref = float(np.sum(w * f(X)))
        v = f(x)
        assert abs(v.mean() - ref) < 4 * v.std() / np.sqrt(v.size)


def test_sample_blocks_independent_of_chunking():
    s = burn_in_sampler(_gradient2())
    seeds = [11, 12, 13]
    together = s.sample_blocks([np.random.default_rng(k) for k in seeds], [64, 32, 64])
    apart = np.concatenate([s(np.random.default_rng(k), n) for k, n in zip(seeds, [64, 32, 64],
                                                                           strict=True)])
    np.testing.assert_allclose(together, apart, rtol=0, atol=1e-13)


def test_burn_in_length_from_relaxation_time():
    m = _gradient2()
    lin = linearisation(m)
    s = burn_in_sampler(m)
    J = lin.jacobian
    rate = min(np.linalg.eigvals(-J).real.min(), 1.0)    # linearisation vs tail (Γ) rate
    assert lin.relaxation_time == pytest.approx(1 / rate, rel=1e-12)
    assert s.t_burn == pytest.approx(RELAXATION_TIMES / rate, rel=s.dt * rate)
    assert np.allclose(m.drift_numpy()(lin.center), 0, atol=1e-12)


def test_burn_in_refuses_oversized_request_before_allocating():
    s = burn_in_sampler(_gradient2())
    with pytest.raises(ResourceLimitError, match="--paths"):
        s.sample_blocks([np.random.default_rng(0)], [2 * 10**10])


# ---------------------------------------------------------------------- bracket
def test_bracket_1d_holds_the_mass():
    m = _tanh1()
    br = bracket_1d(m, drop=30.0)
    lp = lambda x: _tanh1_logp(x) - _tanh1_logp(br.mode)  # noqa: E731
    assert lp(br.lo) < -30 < lp(br.lo + 2 * (br.x[1] - br.x[0]))
    assert lp(br.hi) < -30 < lp(br.hi - 2 * (br.x[1] - br.x[0]))
    assert br.mean == pytest.approx(_moments_1d(1), abs=1e-6)


# ---------------------------------------------------------------------- conjugate variables
def _fd_grad(logp, x, h=1e-5):
    out = np.empty_like(x)
    for i in range(x.shape[-1]):
        e = np.zeros(x.shape[-1])
        e[i] = h
        out[..., i] = (logp(x + e) - logp(x - e)) / (2 * h)
    return out


@pytest.mark.parametrize("case", ["gaussian", "one_dim", "gradient"])
def test_conjugate_variables_against_finite_differences(case):
    rng = np.random.default_rng(2)
    if case == "gaussian":
        m = _linear3()
        mu, S = gaussian_moments(m)
        Si = np.linalg.inv(S)
        logp = lambda x: -0.5 * np.einsum("...i,ij,...j->...", x - mu, Si, x - mu)  # noqa: E731
        x = mu + rng.standard_normal((7, 3))
    elif case == "one_dim":
        m = _tanh1()
        logp = lambda x: _tanh1_logp(x[..., 0])  # noqa: E731
        x = rng.standard_normal((7, 1))
    else:
        m = _gradient2()
        logp = _gradient2_logp
        x = rng.standard_normal((7, 2))
    C = m.numpy_params()["C"]
    v = conjugate_variables(m)
    np.testing.assert_allclose(v(x), -_fd_grad(logp, x) @ C, rtol=1e-6, atol=1e-7)
    # w = v vᵀ - C_k1·∇v_k2 (closed form) against finite differences of v
    w = second_conjugate_variables(m)(x)
    h = 1e-5
    for k1 in range(C.shape[1]):
        dv = (v(x + h * C[:, k1]) - v(x - h * C[:, k1])) / (2 * h)
        ref = v(x)[:, k1, None] * v(x) - dv
        np.testing.assert_allclose(w[:, k1, :], ref, rtol=1e-6, atol=1e-7)


def test_burn_in_diagnostic_passes_a_converged_chain_and_flags_a_short_one():
    """``BurnInSampler.diagnose``: the default burn-in of tanh2d has forgotten its start
    (moments after it and 5 relaxation times later agree within noise); 0.1 relaxation
    times from a far start, or no burn-in from the linearised Gaussian, have not."""
    from volterra_sym.density import BurnInDiagnostic
    from volterra_sym.errors import InvalidInputError
    from volterra_sym.model.catalogue import load_model

    m = load_model("tanh2d")
    rng = np.random.default_rng(3)
    d = burn_in_sampler(m).diagnose(rng)
    assert isinstance(d, BurnInDiagnostic) and d.converged, d.message
    short = burn_in_sampler(m, t_burn=0.2, start=[3.0, -3.0]).diagnose(rng)
    assert not short.converged and short.max_z_mean > 10 * short.level, short.message
    assert "not converged" in short.message
    none = burn_in_sampler(m, t_burn=0.0).diagnose(rng, paths=20_000)
    assert not none.converged, none.message          # linearised Gaussian ≠ p0
    with pytest.raises(InvalidInputError) as exc:
        burn_in_sampler(m).diagnose(rng, paths=4)
    assert exc.value.param == "paths"
