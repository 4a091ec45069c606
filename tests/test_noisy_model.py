"""Issue 12 (docs/theory.md §10–§11): the model, its validation, operators and the 1-D density
with D(h)."""

import numpy as np
import pytest
import sympy as sp

import volterra_sym as vs
from volterra_sym.density import stationary_density
from volterra_sym.errors import InvalidInputError, NotApplicableError
from volterra_sym.model import SRNN, load_model
from volterra_sym.operators import KickPerturbation, fokker_planck, model_ref, perturbation_j

B4 = [[0, 0.5, 0, 0.2], [0, 0, 0.4, 0], [0.1, 0, 0, 0.3], [0, 0.2, 0, 0]]


def test_builtin_models_and_features():
    assert load_model("tanh1d_inside").features == {"input inside the activation"}
    assert load_model("noisy_tanh1d").features == {"state-dependent noise"}
    m = load_model("noisy_rnn4")
    assert m.features == {"input inside the activation", "state-dependent noise"}
    assert m.is_numeric and m.input == "activation"
    # linear activation: the input inside the activation is the additive model
    lin = SRNN(Gamma=1, W=0.5, C=1, sigma=0.8, input="activation")
    assert lin.features == frozenset()


def test_noisy_rnn_parametrisation_matches_the_file():
    m = load_model("noisy_rnn4")
    built = SRNN.noisy_rnn(B4, m.W, m.C, beta=0.8, gamma=1.5, b=m.b, sigma1=0.3, sigma2=0.1,
                           name="noisy_rnn4")
    assert built == m
    Bm = sp.Matrix(B4).applyfunc(sp.nsimplify)
    A = (sp.Rational(4, 5) * (Bm - Bm.T) + sp.Rational(1, 5) * (Bm + Bm.T)
         - sp.Rational(3, 2) * sp.eye(4))
    assert sp.simplify(m.Gamma + A) == sp.zeros(4, 4)
    h = m.h
    assert m.sigma == sp.diag(*[sp.Rational(3, 10) + hi / 10 for hi in h])


def test_toml_keys_round_trip(tmp_path):
    p = tmp_path / "m.toml"
    p.write_text('activation = "tanh"\ninput = "activation"\nGamma = [[1]]\nW = [[1.5]]\n'
                 'C = [[1]]\nsigma1 = 0.4\nsigma2 = 0.2\n')
    m = SRNN.load(p)
    assert m.sigma[0, 0] == sp.Rational(2, 5) + m.h[0] / 5
    assert m.input == "activation"
    assert m.replace(name="x").input == "activation"
    import pickle
    assert pickle.loads(pickle.dumps(m)) == m


@pytest.mark.parametrize("sigma, match", [
    ("0.3 + 0.1*h3", "unknown state variable 'h3'"),
    ("0.3 + 0.1*h1*y", "unknown variable 'y'"),
    ("__import__('os').system('true') + h1", "not allowed"),
    ("(lambda: 1)() + h1", "not allowed|invalid|lambda"),
    ("h1.__class__", "not allowed|attribute|invalid"),
])
def test_bad_noise_expressions_refused(sigma, match):
    with pytest.raises(InvalidInputError, match=match):
        SRNN(Gamma=[[1, 0], [0, 1]], W=[[0, 0], [0, 0]], C=[[1], [0]], activation="tanh",
             sigma=sigma)


def test_diffusion_not_positive_is_refused_naming_the_point():
    with pytest.raises(InvalidInputError, match=r"not positive definite at \(h1 = -0.3"):
        SRNN(Gamma=[[1, 0], [0, 1]], W=[[0, 0], [0, 0]], C=[[1], [0]], activation="tanh",
             sigma="0.3 + h1")
    # 1-D: D vanishes at h = 0.8 and the drift pushes the state through it
    with pytest.raises(InvalidInputError, match=r"vanishes at h1 = 0.8"):
        SRNN(Gamma=1, W=1.5, C=1, sigma="0.4 - 0.5*h1", activation="tanh")
    with pytest.raises(InvalidInputError, match="input must be one of"):
        SRNN(Gamma=1, W=1.5, C=1, sigma=0.5, activation="tanh", input="inside")
    # a flat list is one column: D has rank 1 everywhere, and the refusal says so (it named
    # an eigenvalue of -1.6e-16 at one test point)
    with pytest.raises(InvalidInputError, match=r"r = 1 column\(s\) .* for n = 2 units: D\(h\) "
                       r"= σ\(h\)σ\(h\)ᵀ has rank ≤ 1 .* diagonal \[\[s1, 0\], \[0, s2\]\]"
                       ) as exc:
        SRNN(Gamma=[[1, 0], [0, 1]], W=[[0, 0], [0, 0]], C=[[1], [0]], activation="tanh",
             sigma=["0.4 + 0.1*tanh(h1)", "0.4"])
    assert exc.value.param == "sigma"


def test_routes_without_the_feature_refuse():
    m = load_model("noisy_rnn4")
    H = vs.ResponseHierarchy(m, order=1)
    for method in ("exact", "spectral"):      # galerkin and taylor treat it (issue 12)
        with pytest.raises(NotApplicableError, match="state-dependent noise|n = 1 only|n = 4"):
            H.kernel(((0,),)).evaluate([[0.1]], method=method)
    # taylor carries the kicks L^(j) and D(h) now: it computes, and agrees with galerkin
    t = H.kernel(((0,),)).evaluate([[0.1]], method="taylor", degree=3)
    g = H.kernel(((0,),)).evaluate([[0.1]], method="galerkin")
    assert t.method == "taylor" and np.all(np.isfinite(t.error))
    assert np.all(np.abs(t.values - g.values) <= t.error + g.error)
    with pytest.raises(NotApplicableError, match="state-dependent noise"):
        m.numpy_params()


def test_kick_operators():
    m = load_model("tanh1d_inside")
    h = m.h[0]
    z = sp.Rational(3, 2) * h + sp.Rational(1, 5)
    g = h ** 3
    # L^(2)_{11} g = a''(z)/2 · C² · g'
    want = sp.diff(sp.tanh(z), h, 2) / sp.Rational(9, 4) / 2 * 3 * h ** 2
    assert sp.simplify(perturbation_j(m, (0, 0), g) - want) == 0
    ref = model_ref(m)
    e = KickPerturbation((0, 0), g, ref)
    assert sp.latex(e).startswith(r"\mathcal{L}^{(2)}_{11}")
    lin = SRNN(Gamma=1, W=0.5, C=2, sigma=0.8, input="activation")
    assert perturbation_j(lin, (0, 0), g) == 0
    assert sp.expand(perturbation_j(lin, (0,), g) - 2 * 3 * lin.h[0] ** 2) == 0



@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus", "linear"])
def test_input_operators_numpy_matches_the_symbolic_coefficients(activation):
    """``input_operators_numpy(j)`` (the Galerkin kick matrices and the kick estimator's
    fields) equals ``input_operators(j)`` evaluated by SymPy at 1e-13 relative, j = 1..3,
    at points with |z| up to ~9 (the tails, where sech² z would lose digits if formed as
    1 − tanh²); the additive input gives 1 for j = 1 and 0 beyond."""
    W = [[0.9, -0.7, 0.3], [0.6, 0.6, -0.4], [-0.3, 0.5, 0.8]]
    m = SRNN(1, W, [[1.0], [0.5], [-0.5]], 0.6, b=[0.1, -0.2, 0.05],
             activation=activation, input="activation")
    x = np.random.default_rng(0).normal(scale=3.0, size=(40, 3))
    for j in (1, 2, 3):
        got = m.input_operators_numpy(j)(x)
        exprs = m.input_operators(j)
        want = np.array([[float(sp.N(e.subs(dict(zip(m.h, row, strict=True))), 30))
                          for e in exprs] for row in x])
        scale = max(float(np.abs(want).max()), 1e-300)
        assert got.shape == x.shape
        assert np.abs(got - want).max() <= 1e-13 * scale + 1e-300, (activation, j)
    add = m.replace(input="additive")
    assert np.array_equal(add.input_operators_numpy(1)(x), np.ones_like(x))
    assert np.array_equal(add.input_operators_numpy(2)(x), np.zeros_like(x))

def test_multiplicative_density_verifies_and_a_wrong_one_does_not():
    m = load_model("noisy_tanh1d")
    d = stationary_density(m)
    assert d.support == (-2.0, np.inf)
    assert d.verify().ok
    # the constant-noise form exp(∫2φ/D) (no 1/D) is NOT stationary: the check can fail
    h = m.h[0]
    wrong = sp.exp(d.log_unnormalised + sp.log(m.D[0, 0]))
    ratio = sp.simplify(fokker_planck(m, wrong) / wrong)
    assert ratio != 0
    # normalised table against an independent quadrature of the closed form
    from scipy.integrate import quad
    f = sp.lambdify(h, 2 * m.drift[0] / m.D[0, 0], "math")
    D = sp.lambdify(h, m.D[0, 0], "math")
    x0 = float(d.anchor)

    def p(x):
        return np.exp(quad(f, x0, x, limit=200)[0]) / D(x)
    a, b = d.bracket
    Z = quad(p, a, b, limit=200, points=[x0])[0]
    m1 = quad(lambda x: x * p(x), a, b, limit=200, points=[x0])[0] / Z
    assert d.expectation_numpy(lambda x: x) == pytest.approx(m1, rel=1e-7)


def test_conjugate_variable_identity():
    """<p0, L^(j) g> = E0[v^(j) g] (docs/theory.md §10) by quadrature."""
    m = load_model("noisy_tanh1d").replace(input="activation")
    d = stationary_density(m)
    h = m.h[0]
    g = sp.sin(h) + h ** 2
    for ks in [(0,), (0, 0)]:
        lhs = sp.lambdify(h, perturbation_j(m, ks, g), "numpy")
        v = sp.lambdify(h, d.conjugate_variable(ks) * g, "numpy")
        assert d.expectation_numpy(lhs) == pytest.approx(d.expectation_numpy(v), rel=1e-7,
                                                         abs=1e-10)


def test_a_noise_growing_like_h_is_refused_naming_sigma_and_the_heavy_tail():
    """``σ(h) = 0.5 + h1``: ``p0 ∝ |h|^-4`` on ``(-0.5, ∞)`` never falls to e^-60 of its
    peak on any bracket; the refusal said only 'could not locate the bulk of the 1-D
    density with D(h)'. It now names ``sigma`` and the heavy tail."""
    from volterra_sym import ResponseHierarchy
    from volterra_sym.errors import NotApplicableError

    model = SRNN(Gamma=[[1.0]], W=[[0.5]], C=[[1.0]], sigma=[["0.5 + h1"]], b=[0.0],
                 activation="tanh")
    with pytest.raises(NotApplicableError, match=r"sigma: .*too heavy"):
        ResponseHierarchy(model, "h1", 1).kernel((0,)).evaluate(np.array([[1.0]]))
