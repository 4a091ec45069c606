"""The frozen model (issue 8, item 2): immutability, replace(), value equality and the
shared derived-data cache, one activation object for linearity and derivatives, and the
model catalogue."""

import copy
import gc
import pickle
import weakref

import mpmath
import numpy as np
import pytest
import scipy.linalg
import sympy as sp

import volterra_sym
from volterra_sym import SRNN, FrozenModelError, ModelError, ResponseHierarchy
from volterra_sym.density import stationary_density
from volterra_sym.model import Z, builtin_models, get_activation, load_model
from volterra_sym.model.cache import cached_keys, derived
from volterra_sym.operators import model_ref


def ou(gamma=1.3, w=0.4, s=0.5, **kw):
    return SRNN(Gamma=gamma, W=w, C=1.0, sigma=s, **kw)


# ---------------------------------------------------------------------- immutability
def test_mutation_raises():
    m = ou()
    with pytest.raises(TypeError):
        m.sigma[0, 0] = 1
    with pytest.raises(FrozenModelError, match=r"SRNN is immutable.*model\.replace\(sigma="):
        m.sigma = sp.ImmutableMatrix([[1]])
    with pytest.raises(AttributeError, match="SRNN is immutable"):
        m.n = 3
    with pytest.raises(AttributeError, match="SRNN is immutable"):
        del m.W
    with pytest.raises(AttributeError, match="SRNN is immutable"):
        m._model_ref = "anything"             # the old cache hook is closed too
    assert not hasattr(m, "__dict__")         # no instance dict to hang caches on
    with pytest.raises(TypeError):
        m.parameters["x"] = sp.Symbol("x")
    with pytest.raises(FrozenModelError):
        m.__init__(1.0, 0.0, 1.0, 1.0)
    for M in (m.Gamma, m.W, m.b, m.C, m.sigma, m.D, m.A, m.drift):
        assert isinstance(M, sp.ImmutableMatrix)
    # numeric copies handed out are the caller's: changing one leaves the model alone
    p = m.numpy_params()
    p["sigma"][0, 0] = 7.0
    assert m.numpy_params()["sigma"][0, 0] == 0.5 and m.sigma[0, 0] == sp.Rational(1, 2)


def test_replace_gives_a_new_validated_model_with_new_results():
    gamma, w = 1.3, 0.4
    m = ou(gamma, w, 0.5)
    # 1-D OU: p0 = N(0, D/(2A)) with A = γ - w, D = s², so <h1²>_0 = D/(2A)
    assert ResponseHierarchy(m, "h1**2").mean0() == pytest.approx(0.25 / (2 * (gamma - w)),
                                                                   rel=1e-12)
    m2 = m.replace(sigma=1.0)
    assert ResponseHierarchy(m2, "h1**2").mean0() == pytest.approx(1.0 / (2 * (gamma - w)),
                                                                    rel=1e-12)
    # the original is untouched, and asking it again still gives its own answer
    assert m.sigma[0, 0] == sp.Rational(1, 2)
    assert ResponseHierarchy(m, "h1**2").mean0() == pytest.approx(0.25 / (2 * (gamma - w)),
                                                                   rel=1e-12)
    # with a bias: <h1²> = D/(2A) + (b/A)²
    m3 = m2.replace(b=0.3, name="biased")
    assert m3.name == "biased" and m2.name == "srnn"
    assert ResponseHierarchy(m3, "h1**2").mean0() == pytest.approx(
        1.0 / (2 * (gamma - w)) + (0.3 / (gamma - w)) ** 2, rel=1e-12)
    assert m2.replace(activation="tanh").activation.name == "tanh"
    assert m2.replace(observable="h1**3").default_observable == m2.h[0] ** 3


def test_replace_refuses_bad_changes():
    m = ou()
    with pytest.raises(ModelError, match="cannot change.*'n'.*allowed keys"):
        m.replace(n=3)
    with pytest.raises(ModelError, match="A = Γ - W is not stable"):
        m.replace(W=2.0)
    with pytest.raises(ModelError, match="C has shape"):
        m.replace(C=[[1.0], [2.0]])


def test_subs_keeps_working_with_a_parametric_observable():
    m = SRNN(Gamma="g", W=0, C=1, sigma="s", observable="s*h1**2")
    num = m.subs(g=2.0, s=0.5)
    assert num.is_numeric and num.default_observable == num.h[0] ** 2 / 2
    assert num == SRNN(2.0, 0, 1, 0.5, observable="h1**2/2")


# ---------------------------------------------------------------------- equality & cache
def test_equal_models_hash_equal_and_share_derived_data():
    a = SRNN(Gamma=[[1.0, 0], [0, 2.0]], W=[[0.5, 0], [0.1, 0.2]], C=[[1], [0]],
             sigma=0.3, b=[0.1, 0], activation="tanh")
    b = SRNN(Gamma=np.diag([1, 2]), W=[[sp.Rational(1, 2), 0], [0.1, 0.2]], C=[1, 0],
             sigma=[[0.3, 0], [0, 0.3]], b=[0.1, 0.0], activation="tanh(z)")
    assert a is not b and a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
    for other in (a.replace(sigma=0.4), a.replace(name="other"),
                  a.replace(observable="h2"), a.replace(activation="sigmoid")):
        assert other != a
    calls = []

    def factory():
        calls.append(1)
        return object()
    first = derived(a, ("test", "shared"), factory)
    assert derived(b, ("test", "shared"), factory) is first and len(calls) == 1
    assert ("test", "shared") in cached_keys(b)
    assert derived(a.replace(sigma=0.4), ("test", "shared"), factory) is not first
    assert len(calls) == 2
    # real derived data: one stationary density, one model reference for both
    lin1, lin2 = ou(), ou()
    assert stationary_density(lin1) is stationary_density(lin2)
    assert model_ref(lin1) == model_ref(lin2)


def test_hash_is_precomputed(monkeypatch):
    m = SRNN.symbolic(3, 2, activation="tanh")
    h = hash(m)

    def boom(self):
        raise AssertionError("a matrix was hashed again")
    monkeypatch.setattr(sp.ImmutableDenseMatrix, "__hash__", boom)
    with pytest.raises(AssertionError):
        hash(sp.ImmutableMatrix([[1]]))      # the patch is live ...
    assert hash(m) == h                       # ... and hashing the model does not need it
    assert {m: 1}[m] == 1


def test_derived_data_is_freed_with_the_last_equal_model():
    m = ou(s=0.77)
    dens = stationary_density(m)            # refers back to the model
    ref, dref = weakref.ref(m), weakref.ref(dens)
    twin = ou(s=0.77)
    del m, dens
    gc.collect()
    assert stationary_density(twin) is dref()  # still shared through the equal twin
    r = model_ref(twin)
    assert r.model == twin
    del twin, r
    sp.core.cache.clear_cache()             # SymPy's own cache holds the model's symbols
    gc.collect()
    assert ref() is None and dref() is None


def test_pickle_and_copy_round_trip():
    m = SRNN(Gamma=[[1.0, 0], [0, 2.0]], W=[[0.5, 0], [0.1, 0.2]], C=[[1], [0]], sigma=0.3,
             activation="sigmoid", name="p", observable="h1*h2")
    for clone in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m), copy.copy(m)):
        assert clone == m and hash(clone) == hash(m)
        assert clone.default_observable == m.default_observable


# ---------------------------------------------------------------------- activations
@pytest.mark.parametrize("spec", ["z", "linear", "identity", "1*z", "z + 0", "z*1.0",
                                  "2*z - z", "(z + 1)**2 - z**2 - z - 1"])
def test_activations_equal_to_z_are_linear_everywhere(spec):
    act = get_activation(spec)
    assert act.is_linear and act.name == "linear"
    assert SRNN(1.0, 0.3, 1.0, 0.5, activation=spec).is_linear


@pytest.mark.parametrize("spec, name", [("2*z", "custom"), ("z + 1", "custom"),
                                        ("tanh(z)", "tanh"), ("1/(1+exp(-z))", "sigmoid"),
                                        ("log(1+exp(z))", "softplus"),
                                        ("z + sin(z)/2", "custom")])
def test_nonlinear_activations_are_not_linear(spec, name):
    act = get_activation(spec)
    assert not act.is_linear and act.name == name


@pytest.mark.parametrize("spec", ["z", "1*z"])
def test_linear_custom_activation_gets_the_exact_backend(spec):
    """``K_k(σ) = e1ᵀ e^{-Aσ} C_k`` for f = h1 of a linear model (A = Γ - W)."""
    G = np.array([[1.0, 0.2], [0.0, 1.5]])
    W = np.array([[0.3, -0.4], [0.5, 0.1]])
    C = np.array([[1.0, 0.0], [0.5, 2.0]])
    m = SRNN(G, W, C, [[0.4, 0.0], [0.1, 0.3]], b=[0.2, -0.1], activation=spec)
    hier = ResponseHierarchy(m, "h1", 1)
    lags = np.array([[0.0], [0.3], [1.1], [2.5]])
    for k in range(2):
        res = hier.kernel(k).evaluate(lags)
        assert res.method == "exact"
        ref = [(scipy.linalg.expm(-(G - W) * s)[0] @ C[:, k]) for s in lags[:, 0]]
        np.testing.assert_allclose(np.asarray(res), ref, rtol=1e-10, atol=1e-13)


def _mp_derivative(expr, j, z):
    f = sp.lambdify(Z, sp.diff(expr, Z, j), "mpmath")
    with mpmath.workdps(50):
        return float(f(mpmath.mpf(z)))


@pytest.mark.parametrize("spec", ["linear", "tanh", "sigmoid", "softplus", "z + sin(z)/2"])
def test_activation_derivatives(spec):
    act = get_activation(spec)
    zs = np.array([-40.0, -7.5, -1.2, 0.0, 0.3, 2.2, 9.0, 40.0])
    for j in range(5):
        # symbolic: a^{(j)} agrees with sympy's own differentiation of the expression
        assert sp.simplify(act.derivative(j) - sp.diff(act.expr, Z, j)) == 0
        # numeric: against 50-digit mpmath of the plain derivative
        ref = np.array([_mp_derivative(act.expr, j, z) for z in zs])
        got = act.numpy_derivative(j)(zs)
        assert got.shape == zs.shape and got.dtype == float
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-15)
    # overflow-safe far out (the plain lambdified sigmoid' would give inf/inf = nan)
    far = act.numpy_derivative(1)(np.array([-800.0, 800.0]))
    assert np.all(np.isfinite(far))
    # the value: vectorised and in place
    x = np.linspace(-5, 5, 11)
    ref = np.array([_mp_derivative(act.expr, 0, z) for z in x])
    np.testing.assert_allclose(act.numpy()(x), ref, rtol=1e-14, atol=1e-15)
    inplace = act.numpy_inplace()
    y = x.copy()
    if inplace is None:
        assert act.is_linear
    else:
        inplace(y)
        np.testing.assert_allclose(y, ref, rtol=1e-14, atol=1e-15)
    with pytest.raises(ValueError, match="derivative order"):
        act.derivative(-1)


@pytest.mark.parametrize("spec, lip", [("linear", 1.0), ("tanh", 1.0), ("sigmoid", 0.25),
                                       ("softplus", 1.0), ("z + sin(z)/2", 1.5),
                                       ("z/2 + tanh(3*z)", 3.5)])
def test_activation_lipschitz(spec, lip):
    """``sup |a'|``: closed values for built-ins, and for customs whose sup is at z = 0."""
    assert get_activation(spec).lipschitz == pytest.approx(lip, rel=1e-9)


def test_activation_primitive():
    for spec in ("linear", "tanh", "sigmoid", "softplus"):
        act = get_activation(spec)
        F = act.primitive()
        for z in (-2.0, 0.4, 3.0):
            dF = float(sp.diff(F, Z).subs(Z, z).evalf(30))
            assert dF == pytest.approx(float(act.expr.subs(Z, z).evalf(30)), rel=1e-14)
    assert get_activation("z + sin(z)/2").primitive() is None


def test_grid_jacobian_matches_symbolic_jacobian():
    from volterra_sym.backends.spectral.collocation import ModelNumerics

    for act in ("tanh", "softplus", "z + sin(z)/2", "z"):
        m = SRNN(Gamma=[[1.0, 0.2], [0.0, 1.5]], W=[[0.3, -0.4], [0.5, 0.1]],
                 C=[[1.0], [0.5]], sigma=0.4, b=[0.2, -0.1], activation=act)
        x = np.random.default_rng(1).normal(size=(5, 3, 2)) * 2
        J = sp.lambdify([m.h], m.drift.jacobian(m.h), "numpy")
        ref = np.array([[J(p) for p in row] for row in x])
        np.testing.assert_allclose(ModelNumerics(m).jac(x), ref, rtol=1e-13, atol=1e-14)


# ---------------------------------------------------------------------- catalogue
def test_model_catalogue():
    names = builtin_models()
    assert {"linear2d", "tanh1d"} <= set(names)
    assert volterra_sym.load_model is load_model and volterra_sym.builtin_models is builtin_models
    from volterra_sym import cli
    assert cli.load_model is load_model
    m = load_model("linear2d")
    assert m == load_model(str(names["linear2d"])) == SRNN.load(names["linear2d"])
    with pytest.raises(ModelError, match="not a built-in example"):
        load_model("no_such_model")


def test_derived_keep_bounds_a_family_least_recently_used_first():
    """``derived(..., keep=k)``: at most ``k`` entries of a key family (``key[:2]``), the
    least recently used dropped; other families untouched; a bad ``keep`` is refused."""
    m = ou(gamma=1.7)
    other = derived(m, ("x", "other"), lambda: "kept")
    for i in range(3):
        derived(m, ("x", "big", i), lambda i=i: i, keep=2)
    assert [k for k in cached_keys(m) if k[:2] == ("x", "big")] == [("x", "big", 1),
                                                                  ("x", "big", 2)]
    assert derived(m, ("x", "big", 1), lambda: -1, keep=2) == 1     # a hit: now newest
    derived(m, ("x", "big", 3), lambda: 3, keep=2)
    assert [k for k in cached_keys(m) if k[:2] == ("x", "big")] == [("x", "big", 1),
                                                                  ("x", "big", 3)]
    assert derived(m, ("x", "other"), lambda: "new") == other
    with pytest.raises(ValueError):
        derived(m, ("x", "big", 4), lambda: 4, keep=0)


def test_galerkin_assemblies_do_not_pile_up_over_seeds():
    """K₁ of a 10-unit network on its sampled measure at six seeds: the cache keeps at
    most ``ASSEMBLIES_KEPT`` assemblies and sample sets (every seed's were kept, about a
    gigabyte each at 1,287 functions, until an 8-unit loop was refused for memory)."""
    from pathlib import Path

    from volterra_sym.backends.galerkin.route import ASSEMBLIES_KEPT

    m = load_model(str(Path(__file__).parent / "data" / "tanh10.toml"))
    hier = ResponseHierarchy(m, "h1", order=1)
    for seed in range(6):
        r = hier.kernel(0).evaluate([0.5], method="galerkin", degree=3, paths=2000,
                                    seed=seed, measure="samples")
    assert r.details["route"]["measure"] == "samples"
    keys = cached_keys(m)
    assert sum(k[:2] == ("galerkin", "assembled") for k in keys) <= ASSEMBLIES_KEPT
    assert sum(k[:2] == ("galerkin", "samples") for k in keys) <= ASSEMBLIES_KEPT
