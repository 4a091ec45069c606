"""Adversarial inputs to the hierarchy, operators and density layers: every bad input gets
the project's typed error naming the parameter, never a raw traceback, a silent NaN/inf or
a wrong formula; cached objects handed out cannot be changed."""

import numpy as np
import pytest
import sympy as sp

import volterra_sym as vs
from volterra_sym.errors import (
    InvalidInputError,
    ResourceLimitError,
    VolterraSymError,
)
from volterra_sym.hierarchy import check_times


@pytest.fixture(scope="module")
def lin():
    return vs.load_model("linear2d")


@pytest.fixture(scope="module")
def tanh1():
    return vs.load_model("tanh1d")


# ---------------------------------------------------------------------- series_terms
def test_series_terms_refuse_an_overflow_of_the_exact_route(lin):
    """u = exp(exp(3t)) drove the exact route's T_2 to inf (and its error to NaN); the
    terms came back as they were."""
    hier = vs.ResponseHierarchy(lin, None, order=2)
    with pytest.raises(InvalidInputError) as exc:
        hier.series_terms(lambda t: np.array([np.exp(np.exp(3 * t))]),
                          np.linspace(0, 2, 11), method="exact")
    assert exc.value.param == "u"
    assert "float range" in str(exc.value)


@pytest.mark.parametrize("times", [None, [0.0, None]])
def test_times_none_is_named_as_none(times):
    """None became NaN and was refused as 'found NaN or inf'."""
    with pytest.raises(InvalidInputError, match="None") as exc:
        check_times(times)
    assert exc.value.param == "times"


# ---------------------------------------------------------------------- cached objects
def test_the_hierarchy_graph_cannot_be_changed(lin):
    """``hier.graph`` is the hierarchy's cached DAG: removing an edge from it made every
    later evaluate_kernels fail with a raw ValueError ('must have exactly one parent')."""
    import networkx as nx

    hier = vs.ResponseHierarchy(lin, None, order=2)
    G = hier.graph
    with pytest.raises(nx.NetworkXError):
        G.remove_edge(("f",), ("g", (0,)))
    with pytest.raises(nx.NetworkXError):
        G.add_node("junk")
    out = hier.evaluate_kernels(np.array([[0.1, 0.5]]))
    assert set(out) == {(0,), (0, 0)} and hier.graph is G


# ---------------------------------------------------------------------- doit
@pytest.mark.parametrize("budget", [-1, 0, float("nan"), "10", True])
def test_doit_checks_its_time_budget_where_no_closed_form_applies(tanh1, budget):
    """A nonlinear model's kernel has no closed form: doit() dropped the hint unchecked."""
    K = vs.ResponseHierarchy(tanh1, None, order=2).kernel((0, 0))
    with pytest.raises(InvalidInputError) as exc:
        K.doit(time_budget=budget)
    assert exc.value.param == "time_budget"


@pytest.mark.parametrize("obs", ["h3", "", "h1 +", sp.Symbol("x") * sp.Symbol("h1")])
def test_a_bad_observable_is_named(lin, obs):
    """The observable's refusal carried param=None."""
    with pytest.raises(InvalidInputError) as exc:
        vs.ResponseHierarchy(lin, obs, order=1)
    assert exc.value.param == "observable"


# ---------------------------------------------------------------------- diagnostics
_TERMS = np.array([[1.0, 1.0], [0.5, 0.2], [0.1, 0.05], [0.02, 0.01]])


@pytest.mark.parametrize("terms", [np.ones(3), np.array(1.0), np.ones((2, 2, 2)), None,
                                   [["a"]], [[1.0], [1.0, 2.0]], np.zeros((3, 0)),
                                   np.array([[1.0], [np.nan], [1.0]]),
                                   np.array([[1.0], [np.inf], [1.0]]), _TERMS + 1j])
def test_diagnose_series_refuses_malformed_terms(terms):
    """Raw AxisError/IndexError/ValueError, a silent NaN size, a misleading 'eps too large'
    for inf terms, and complex terms cut to their real part."""
    from volterra_sym.hierarchy import diagnose_series

    with pytest.raises(InvalidInputError) as exc:
        diagnose_series(terms, 0.1)
    assert exc.value.param == "terms"


@pytest.mark.parametrize("kw, param", [({"eps": 10**400}, "eps"),
                                       ({"terminates_at": "2"}, "terminates_at"),
                                       ({"terminates_at": -1}, "terminates_at"),
                                       ({"terminates_at": 1.5}, "terminates_at"),
                                       ({"terminates_at": True}, "terminates_at"),
                                       ({"rtol": float("nan")}, "rtol"),
                                       ({"rtol": -1.0}, "rtol"),
                                       ({"rtol": "x"}, "rtol")])
def test_diagnose_series_refuses_bad_arguments(kw, param):
    from volterra_sym.hierarchy import diagnose_series

    kw = {"eps": 0.1, **kw}
    with pytest.raises(InvalidInputError) as exc:
        diagnose_series(_TERMS, **kw)
    assert exc.value.param == param


@pytest.mark.parametrize("order", [0, -1, 2.5, None, True])
def test_eps_limit_refuses_a_bad_order(order):
    """eps_limit(0) divided by zero; eps_limit(-1) returned 0."""
    from volterra_sym.hierarchy.convergence import eps_limit

    with pytest.raises(InvalidInputError) as exc:
        eps_limit(order)
    assert exc.value.param == "order"


# ---------------------------------------------------------------------- operators
def test_semigroup_prints_a_difference_of_times_in_parentheses(lin):
    """str() wrote exp(sigma_2 - sigma_1) P as 'exp(-sigma_1 + sigma_2*L0)', which reads as
    e^{-σ1} e^{σ2 L0} (the LaTeX form had the parentheses)."""
    from volterra_sym.operators import Semigroup, model_ref

    a, b = sp.symbols("a b", nonnegative=True)
    assert str(Semigroup(a - b, "h1", model_ref(lin))) == "exp((a - b)*L0)[h1]"
    assert str(Semigroup(a, "h1", model_ref(lin))) == "exp(a*L0)[h1]"
    K = vs.ResponseHierarchy(lin, "h1", order=2).kernel((0, 0))
    assert "exp((-sigma_1 + sigma_2)*L0)" in str(K.rewrite("operator"))


@pytest.mark.parametrize("s", [-1, "-1", -0.5, sp.Symbol("t", negative=True),
                               -sp.Symbol("t", positive=True)])
def test_semigroup_refuses_a_negative_time(lin, s):
    """P_s for s < 0 does not exist (a diffusion cannot be run backwards): Semigroup(-1, g)
    .doit() returned the closed form at s = -1 (coefficients e^{+6})."""
    from volterra_sym.operators import Semigroup, model_ref

    with pytest.raises(InvalidInputError) as exc:
        Semigroup(s, "h1**2", model_ref(lin))
    assert exc.value.param == "s"


def test_semigroup_closed_form_refuses_a_negative_time(lin):
    from volterra_sym.density import semigroup_closed_form

    with pytest.raises(InvalidInputError) as exc:
        semigroup_closed_form(lin, lin.observable("h1**2"), sp.Integer(-1))
    assert exc.value.param == "s"


@pytest.mark.parametrize("k", [None, sp.Symbol("k"), "0", 1.0, True, 0.0])
def test_perturbation_object_checks_its_channel_first(lin, k):
    """Perturbation(k, ...) took int(k) before checking it: None and a Symbol raised a raw
    TypeError, '0' and 0.0 were taken as channel 0 and True as 1 (perturbation() refuses
    them all)."""
    from volterra_sym.operators import Perturbation, model_ref

    with pytest.raises(InvalidInputError) as exc:
        Perturbation(k, "h1**2", model_ref(lin))
    assert exc.value.param == "k"


@pytest.mark.parametrize("ks", [(), [], None, ((0,),), "0", (0.0,), (True,)])
def test_kick_channels_are_checked(ks):
    """check_composite raised a plain ValueError; KickPerturbation took int() of every
    entry first (raw TypeError for tuples, None; '0' and True accepted)."""
    from volterra_sym.operators import KickPerturbation, check_composite, model_ref

    model = vs.load_model("tanh1d_inside")
    with pytest.raises(InvalidInputError) as exc:
        check_composite(model, ks)
    assert exc.value.param == "k"
    with pytest.raises(InvalidInputError):
        KickPerturbation(ks, "h1", model_ref(model))


# ---------------------------------------------------------------------- samplers of p0
def _gauss_pdf(x):
    return np.exp(-np.asarray(x) ** 2 / 2)


@pytest.mark.parametrize("make", [
    lambda: vs.density.gaussian_sampler([0.0], [[1.0]]),
    lambda: vs.density.inverse_cdf_sampler(_gauss_pdf, -5.0, 5.0),
    lambda: vs.density.stationary_sampler(vs.load_model("tanh1d")),
    lambda: vs.density.stationary_sampler(vs.load_model("tanh1d"), "burn_in"),
], ids=["gaussian", "inverse_cdf", "auto-1d", "burn_in"])
@pytest.mark.parametrize("rng, size, param", [
    ("rng", -1, "size"), ("rng", 2.5, "size"), ("rng", "3", "size"), ("rng", None, "size"),
    ("rng", True, "size"), ("rng", 10**30, "size"),
    (None, 3, "rng"), (0, 3, "rng"), ("x", 3, "rng")])
def test_samplers_check_size_and_rng(make, rng, size, param):
    """The closed-form samplers passed size and rng straight to numpy (raw ValueError,
    TypeError, AttributeError; 10**12 draws a MemoryError); the burn-in checked the size
    but not the generator."""
    sampler = make()
    gen = np.random.default_rng(0) if rng == "rng" else rng
    with pytest.raises(VolterraSymError) as exc:
        sampler(gen, size)
    assert getattr(exc.value, "param", None) == param or param == "size" and \
        type(exc.value).__name__ == "ResourceLimitError"


def test_samplers_refuse_a_draw_beyond_the_memory_budget(monkeypatch):
    monkeypatch.setenv("VOLTERRA_MEMORY_BUDGET", "1M")
    sampler = vs.density.gaussian_sampler([0.0, 0.0], np.eye(2))
    with pytest.raises(ResourceLimitError):
        sampler(np.random.default_rng(0), 10**6)


@pytest.mark.parametrize("n_grid", [1, 2.5, "100", None, True, 10**9])
def test_inverse_cdf_sampler_checks_its_grid(n_grid):
    """n_grid = 10**9 allocated until the kernel killed the process; 1 was refused as 'pdf
    has no mass', 2.5 cut to 2."""
    with pytest.raises(VolterraSymError) as exc:
        vs.density.inverse_cdf_sampler(_gauss_pdf, -5.0, 5.0, n_grid)
    assert getattr(exc.value, "param", "n_grid") == "n_grid"


@pytest.mark.parametrize("mean, cov, param", [
    ([np.nan], [[1.0]], "mean"), ([0.0], [[np.inf]], "cov"), (None, None, "mean"),
    ([1j], [[1.0]], "mean"), ("a", "b", "mean"), ([0.0, 0.0], [[1.0, 0.0], [1.0, 1.0]], "cov"),
    ([0.0, 0.0], [[1.0, 0.0], [0.0, -1.0]], "cov")])
def test_gaussian_sampler_checks_mean_and_cov(mean, cov, param):
    """NaN/None means and infinite covariances gave a sampler of NaN/inf states; complex
    or text raised raw errors; a non-symmetric 'covariance' was silently symmetrised."""
    with pytest.raises(InvalidInputError) as exc:
        vs.density.gaussian_sampler(mean, cov)
    assert exc.value.param == param


@pytest.mark.parametrize("kw", [{"dt": 1e-12}, {"t_burn": 1e12},
                                {"t_burn": 1e6, "dt": 1e-6}])
def test_a_burn_in_of_too_many_steps_is_refused_up_front(kw):
    """dt = 1e-12 (5·10^12 steps) ran on for hours."""
    with pytest.raises(ResourceLimitError) as exc:
        vs.density.stationary_sampler(vs.load_model("tanh1d"), "burn_in", **kw)
    assert exc.value.unit == "steps"


def test_stationary_sampler_names_an_unknown_burn_in_option():
    """bogus=1 raised a raw TypeError from burn_in_sampler()."""
    with pytest.raises(InvalidInputError) as exc:
        vs.density.stationary_sampler(vs.load_model("tanh1d"), "burn_in", bogus=1)
    assert exc.value.param == "bogus"


def test_a_burn_in_beyond_the_time_budget_is_refused_before_it_runs(monkeypatch):
    monkeypatch.setenv("VOLTERRA_TIME_BUDGET", "1")
    sampler = vs.density.stationary_sampler(vs.load_model("tanh1d"), "burn_in", dt=1e-4)
    with pytest.raises(ResourceLimitError) as exc:
        sampler(np.random.default_rng(0), 100_000)
    assert exc.value.unit == "seconds"


@pytest.mark.parametrize("A, D, param", [
    (-np.eye(2), np.eye(2), "A"), (np.array([[0.0, 1.0], [-1.0, 0.0]]), np.eye(2), "A"),
    (np.eye(2), np.eye(3), "D"), (np.full((2, 2), np.nan), np.eye(2), "A"),
    ("a", "b", "A"), (np.eye(2), None, "D")])
def test_lyapunov_refuses_what_has_no_covariance(A, D, param):
    """A = -I (not Hurwitz) came back as S = -I/2, a 'covariance' with negative variances;
    mismatched shapes, NaN, text and None raised raw scipy/numpy errors."""
    with pytest.raises(InvalidInputError) as exc:
        vs.density.lyapunov(A, D)
    assert exc.value.param == param


@pytest.mark.parametrize("where", ["lags", "times", "eps"])
def test_masked_lags_times_and_eps_are_refused_not_read(where):
    """A masked entry is not data: ``np.asarray`` would drop the mask and use it."""
    hier = vs.ResponseHierarchy(vs.load_model("linear2d"), "h1", 1)
    u = lambda t: np.array([1.0])  # noqa: E731
    with pytest.raises(vs.InvalidInputError) as exc:
        if where == "lags":
            hier.kernel((0,)).evaluate(np.ma.array([0.1, 0.7], mask=[0, 1]))
        elif where == "times":
            hier.series_terms(u, np.ma.array([0.0, 0.5, 0.7], mask=[0, 0, 1]))
        else:
            hier.series(u, np.linspace(0, 1, 5), np.ma.array([0.1, 0.2], mask=[0, 1]))
    assert exc.value.param == where
    # fully unmasked arrays stand for their data
    ok = hier.kernel((0,)).evaluate(np.ma.array([0.1, 0.5], mask=[0, 0]))
    np.testing.assert_allclose(ok.values, hier.kernel((0,)).evaluate(np.array([0.1, 0.5])).values)


def test_sympy_observables_are_held_to_the_whitelist_on_every_entry():
    """Monte Carlo's observable compilers and a composite kernel refuse what the parser
    refuses (an unknown function, an Integral), not only the hierarchy."""
    from volterra_sym.hierarchy.composite import CompositeKernel
    from volterra_sym.montecarlo.control import observable_expr
    from volterra_sym.montecarlo.simulate import compile_observable
    model = vs.load_model("tanh1d")
    hier = vs.ResponseHierarchy(model, "h1", 2)
    h1 = model.h[0]
    for bad in (sp.Function("g")(h1), sp.Integral(h1, (h1, 0, 1)) + h1):
        for make in (lambda f: compile_observable(model, f),
                     lambda f: observable_expr(model, f),
                     lambda f: CompositeKernel(model, f, ((0,),), hier.ref)):
            with pytest.raises(vs.InvalidInputError) as exc:
                make(bad)
            assert exc.value.param == "observable"
    assert np.isclose(compile_observable(model, sp.tanh(h1))(np.array([[0.5]]))[0],
                      np.tanh(0.5))


def test_density_callables_refuse_junk_points():
    """conjugate_variables(model)(x) and StationaryDensity.pdf_numpy()(x) raised raw numpy
    or lambdify errors on text, complex, ragged or wrong-width points."""
    from volterra_sym.density import stationary_density
    from volterra_sym.density.conjugate import conjugate_variables
    model = vs.load_model("linear2d")
    v, pdf = conjugate_variables(model), stationary_density(model).pdf_numpy()
    for bad in ("x", [1 + 2j, 0.0], [[0.1, 0.2], [0.3]], np.zeros((3, 5)), np.float64(0.2)):
        for fn in (v, pdf):
            with pytest.raises(vs.InvalidInputError) as exc:
                fn(bad)
            assert exc.value.param == "x"
    pts = np.array([[0.1, -0.2], [0.4, 0.3]])
    assert v(pts).shape == (2, 1) and pdf(pts).shape == (2,)


def test_eps_zero_is_an_exact_partial_sum_not_unknown_convergence():
    """At ``eps = 0`` the partial sum is ``<f>_0`` exactly; the diagnosis said '2 orders
    cannot show convergence: unknown' (and the CLI warned). Now status 'exact', ok."""
    from volterra_sym.hierarchy.convergence import diagnose_series

    terms = np.array([[0.3, 0.3], [1.0, 2.0], [-0.5, 4.0]])
    d = diagnose_series(terms, 0.0)
    assert d.status == "exact" and d.meaningful is True and "exactly" in d.message
    assert diagnose_series(terms, 0.1).status == "unknown"
