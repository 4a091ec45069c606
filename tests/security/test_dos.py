"""Inputs that used to hang: each is refused (the project's error) within seconds."""

import time

import numpy as np
import pytest

from volterra_sym import SRNN
from volterra_sym.errors import InvalidInputError, ResourceLimitError, VolterraSymError
from volterra_sym.hierarchy import ResponseHierarchy
from volterra_sym.model import get_activation
from volterra_sym.parsing import parse_expression


@pytest.fixture(scope="module")
def model():
    return SRNN([[2.0]], [[0.5]], [[1.0]], [[0.5]])


@pytest.mark.parametrize("order", [10**400, 10**7])
def test_huge_order_is_refused_before_counting_nodes(model, order):
    # m = 1: the node count Σ m^j used to be summed term by term (10**400 terms)
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError, match="recursion nodes"):
        ResponseHierarchy(model, "h1", order)
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize("text", ["exp(exp(exp(10)))*h1", "h1**exp(exp(exp(10)))",
                                  "sin(" * 90 + "exp(exp(exp(10)))" + ")" * 90,
                                  "9**9**9", "(10**60)**60", "2**64**64"])
def test_expressions_that_would_hang_are_refused_quickly(text):
    t0 = time.perf_counter()
    with pytest.raises(VolterraSymError):
        parse_expression(text, ["h1"])
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize("spec, condition", [
    ("relu", "not smooth"), ("z**2", "grows faster than linearly"),
    ("log(z)", "not smooth/finite"),
    ("sqrt(z)", "not"), ("h1", "unknown variable"), (["z"], "expected a string"),
])
def test_activation_refusals_are_the_projects_error(spec, condition):
    with pytest.raises(InvalidInputError, match=condition) as info:
        if spec == "z**2":
            SRNN([[1.0]], [[0.5]], [[1.0]], [[0.5]], activation=spec)
        else:
            get_activation(spec)
    assert info.value.param == "activation"


# ----------------------------------------------------------------- issue-11 cases
def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def test_degree_64_polynomial_on_the_exact_backend_is_refused_with_its_size():
    import volterra_sym as vs
    from volterra_sym.errors import ResourceLimitError
    hier = vs.ResponseHierarchy(vs.load_model("linear2d"), "(h1+h2+1)**64", order=1)
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError, match="degree 64") as info:
        hier.kernel((0,)).evaluate(np.array([[1.0]]), method="exact")
    assert time.perf_counter() - t0 < 10
    assert info.value.option and "degree" in info.value.option


def test_symmetric_tensors_reproduce_the_polynomial():
    # the vectorised fill against the polynomial itself, at random points
    import sympy as sp

    from volterra_sym.backends.exact_linear import _symmetric_tensors
    y = sp.symbols("y0:3")
    g = (y[0] + 2 * y[1] - y[2] + 1) ** 5 + 3 * y[0] ** 2 * y[2] - 0.5 * y[1]
    tensors = _symmetric_tensors(g, y)
    rng = np.random.default_rng(0)
    fn = sp.lambdify(y, g)
    for _ in range(5):
        pt = rng.normal(size=3)
        val = 0.0
        for d, G in tensors.items():
            T = G[0]
            for _ in range(d):
                T = T @ pt
            val += float(T)
        assert val == pytest.approx(fn(*pt), rel=1e-12)
    for d, G in tensors.items():        # symmetric in every pair of axes
        if d >= 2:
            assert np.allclose(G[0], np.swapaxes(G[0], 0, 1))


def test_degree_19_polynomial_finishes_quickly():
    import volterra_sym as vs
    hier = vs.ResponseHierarchy(vs.load_model("linear2d"), "(h1+h2+1)**19", order=1)
    res, secs = _timed(lambda: hier.kernel((0,)).evaluate(np.array([[1.0]]),
                                                          method="exact"))
    assert secs < 10 and np.all(np.isfinite(res.values))


def test_a_2000_unit_model_is_refused_before_it_is_built():
    from volterra_sym.errors import ResourceLimitError
    n = 2000
    W = np.random.default_rng(0).normal(size=(n, n)) * 0.5 / np.sqrt(n)
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError, match="n = 2000 units") as info:
        SRNN(np.eye(n), W, np.ones((n, 1)), 0.5 * np.eye(n), activation="tanh")
    assert time.perf_counter() - t0 < 10
    assert info.value.estimate > info.value.budget


@pytest.mark.parametrize("t_last", [1e300, 1e5])
def test_an_endless_horizon_is_refused_in_the_api(t_last):
    import volterra_sym as vs
    hier = vs.ResponseHierarchy(vs.load_model("linear2d"), "h1", order=1)
    with pytest.raises(InvalidInputError, match="times must be ≤") as info:
        hier.series_terms(lambda t: np.array([np.sin(t)]), np.linspace(0, t_last, 11))
    assert info.value.param == "times"


def test_a_2000_character_polynomial_gives_one_value_quickly():
    import volterra_sym as vs
    rng = np.random.default_rng(1)
    terms: list[str] = []
    while len(" + ".join(terms)) < 1980:
        e = rng.integers(0, 4, 3)
        terms.append(f"{rng.integers(1, 9)}*h1**{e[0]}*h2**{e[1]}*h3**{e[2]}")
    f = " + ".join(terms)
    hier = vs.ResponseHierarchy(vs.load_model("linear3d"), f, order=1)
    res, secs = _timed(lambda: hier.kernel((0,)).evaluate(np.array([[1.0]])))
    assert secs < 10 and np.all(np.isfinite(res.values)) and res.method == "exact"


def test_order_12_of_a_quadratic_observable_is_zero_at_once():
    import volterra_sym as vs
    hier = vs.ResponseHierarchy(vs.load_model("linear2d"), "h1**2 + h1*h2", order=12)
    res, secs = _timed(lambda: hier.kernel((0,) * 12).evaluate(np.ones((1, 12))))
    assert secs < 10 and np.all(res.values == 0)
