"""Stationary densities: L0* p0 = 0, checked symbolically by the engine and numerically
by finite differences and quadrature written here (independent of the engine's operators)."""

import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
import sympy as sp

from volterra_sym import SRNN, ModelError, NoClosedFormError, stationary_density

ACT = {"tanh": np.tanh, "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
       "softplus": lambda z: np.logaddexp(0, z)}


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "softplus"])
def test_one_dim_fokker_planck_vanishes(act):
    gamma, w, b, s = 1.3, 0.9, 0.25, 0.7
    m = SRNN(Gamma=gamma, W=w, C=1.0, sigma=s, b=b, activation=act)
    dens = stationary_density(m)
    assert dens.kind == "one_dim"
    ver = dens.verify()
    assert ver.ok and ver.exact and ver.residual == 0
    p = dens.pdf_numpy()
    # normalised (scipy quad, independent of the engine's mpmath quadrature)
    mass, _ = scipy.integrate.quad(lambda x: p(np.array([x]))[()], -np.inf, np.inf)
    assert mass == pytest.approx(1.0, abs=1e-9)
    # zero probability flux J = φ p - (D/2) p' (in 1-D, L0* p = -J'), by finite differences
    x = np.linspace(-2.5, 3.5, 41)
    dx = 1e-4
    phi = -gamma * x + ACT[act](w * x + b)
    dp = (p(x + dx) - p(x - dx)) / (2 * dx)
    J = phi * p(x) - 0.5 * s**2 * dp
    assert np.max(np.abs(J)) < 1e-7 * np.max(p(x))


def _gaussian_fp_residual(A, b, D, mu, S, pts, dx=1e-4):
    """(L0* p)(x) for the Gaussian N(mu, S) by central finite differences (test's own)."""
    Si = np.linalg.inv(S)
    n = len(mu)

    def p(x):
        y = x - mu
        return np.exp(-0.5 * np.einsum("...i,ij,...j->...", y, Si, y)) / np.sqrt(
            (2 * np.pi) ** n * np.linalg.det(S))

    def flux_div(x):
        out = 0.0
        for i in range(n):
            e = np.zeros(n)
            e[i] = dx
            phi_p = lambda z, i=i: ((-A @ z.T).T + b)[..., i] * p(z)  # noqa: E731
            out -= (phi_p(x + e) - phi_p(x - e)) / (2 * dx)
            for j in range(n):
                f = np.zeros(n)
                f[j] = dx
                d2 = (p(x + e + f) - p(x + e - f) - p(x - e + f) + p(x - e - f)) / (4 * dx**2)
                out += 0.5 * D[i, j] * d2
        return out
    return flux_div(pts), p(pts)


@pytest.mark.parametrize("n", [2, 3])
def test_gaussian_fokker_planck_vanishes(n):
    rng = np.random.default_rng(n)
    Gamma = np.eye(n) * 1.5 + 0.2 * rng.standard_normal((n, n))
    W = 0.3 * rng.standard_normal((n, n))
    sig = 0.5 * np.eye(n) + 0.1 * np.tril(rng.standard_normal((n, n)), -1)
    b = 0.3 * rng.standard_normal(n)
    m = SRNN(Gamma=np.round(Gamma, 3), W=np.round(W, 3), C=np.eye(n)[:, :1],
             sigma=np.round(sig, 3), b=np.round(b, 3))
    dens = stationary_density(m)
    assert dens.kind == "gaussian"
    assert dens.verify().ok and dens.verify().exact
    p = m.numpy_params()
    A, D = p["Gamma"] - p["W"], p["D"]
    mu, S = dens.mean_numpy, dens.cov_numpy
    np.testing.assert_allclose(A @ mu, p["b"], atol=1e-13)
    np.testing.assert_allclose(A @ S + S @ A.T, D, atol=1e-13)  # Lyapunov
    np.testing.assert_allclose(S, scipy.linalg.solve_continuous_lyapunov(A, D), atol=1e-12)
    pts = mu + 0.5 * rng.standard_normal((6, n))
    res, pv = _gaussian_fp_residual(A, p["b"], D, mu, S, pts)
    assert np.max(np.abs(res)) < 1e-5 * np.max(pv)


def test_symbolic_gaussian_verifies():
    m = SRNN(Gamma=[["g1", 0], [0, "g2"]], W=[[0, "w"], ["-w", 0]], C=[[1], [0]],
             sigma=[["s", 0], [0, "s"]])
    dens = stationary_density(m)
    assert dens.verify().ok
    g1, g2, w, s = (m.parameters[k] for k in ("g1", "g2", "w", "s"))
    assert sp.simplify(dens.cov[0, 0].subs({g1: 1, g2: 1, w: 0}) - s**2 / 2) == 0


def test_gradient_case():
    # φ = -h + tanh(h) componentwise-coupled through a symmetric Γ: φ = -∇V
    m = SRNN(Gamma=[[1.0, 0.2], [0.2, 1.0]], W=[[0.5, 0], [0, 0.5]], C=[[1], [0]],
             sigma=[[0.6, 0], [0, 0.6]], activation="tanh")
    dens = stationary_density(m)
    assert dens.kind == "gradient" and dens.verify().ok


def test_conjugate_variable_gaussian_closed_form(linear2):
    dens = stationary_density(linear2)
    v = dens.conjugate_numpy()
    x = np.array([[0.3, -0.4], [1.0, 2.0]])
    S, mu, C = dens.cov_numpy, dens.mean_numpy, linear2.numpy_params()["C"]
    np.testing.assert_allclose(v(x), (x - mu) @ np.linalg.inv(S) @ C, rtol=1e-12)


def test_fluctuation_dissipation_identity_1d():
    """<p0, L_k g> = E_0[v_k g] by quadrature, for a non-polynomial g."""
    m = SRNN(Gamma=1.0, W=1.2, C=0.7, sigma=0.8, b=0.1, activation="tanh")
    dens = stationary_density(m)
    p = dens.pdf_numpy()
    v = dens.conjugate_numpy()
    g, dg = np.sin, np.cos
    lhs, _ = scipy.integrate.quad(lambda x: p(np.array([x]))[()] * 0.7 * dg(x), -10, 10)
    rhs, _ = scipy.integrate.quad(
        lambda x: p(np.array([x]))[()] * v(np.array([[x]]))[0, 0] * g(x), -10, 10)
    assert lhs == pytest.approx(rhs, rel=1e-8)


def test_no_closed_form_signal():
    m = SRNN(Gamma=[[1, 0], [0, 1]], W=[[0.8, -0.6], [0.6, 0.5]], C=[[1], [0]],
             sigma=[[0.6, 0], [0, 0.6]], activation="tanh")
    dens = stationary_density(m)
    assert dens.kind == "numerical" and not dens.has_closed_form
    with pytest.raises(NoClosedFormError, match="no closed form"):
        _ = dens.expr


def test_singular_covariance_refused():
    # noise only on h2, and h1 is not driven by h2: no density in h1's direction
    m = SRNN(Gamma=[[1, 0], [0, 1]], W=[[0, 0], [0, 0]], C=[[1], [0]],
             sigma=[[0, 0], [0, 1.0]])
    with pytest.raises(ModelError, match="singular"):
        _ = stationary_density(m).cov


def test_cached_density_is_read_only():
    """The density is cached per model and shared by equal models: neither its moments nor
    its attributes can be changed in place (a changed covariance used to change every later
    exact mean of an equal model)."""
    import volterra_sym as vs
    from volterra_sym.model import FrozenModelError

    m = vs.load_model("linear2d")
    H = vs.ResponseHierarchy(m, "h1**2 + h1*h2", order=1)
    before = H.mean0("exact")
    dens = vs.stationary_density(m)
    with pytest.raises(TypeError):
        dens.cov[0, 0] = 100
    with pytest.raises(TypeError):
        dens.mean[0] = 1
    with pytest.raises(FrozenModelError):
        dens.model = vs.load_model("tanh1d")
    with pytest.raises(FrozenModelError):
        del dens.kind
    H2 = vs.ResponseHierarchy(vs.load_model("linear2d"), "h1**2 + h1*h2", order=1)
    assert H2.mean0("exact") == before
