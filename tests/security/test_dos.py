"""Inputs that used to hang: each is refused (the project's error) within seconds."""

import time

import pytest

from volterra_sym import SRNN
from volterra_sym.errors import InvalidInputError, VolterraSymError
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
    with pytest.raises(ValueError, match="recursion nodes"):
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
    ("relu", "not smooth"), ("z**2", "not stable"), ("log(z)", "not smooth/finite"),
    ("sqrt(z)", "not"), ("h1", "unknown variable"), (["z"], "expected a string"),
])
def test_activation_refusals_are_the_projects_error(spec, condition):
    with pytest.raises(InvalidInputError, match=condition) as info:
        if spec == "z**2":
            SRNN([[1.0]], [[0.5]], [[1.0]], [[0.5]], activation=spec)
        else:
            get_activation(spec)
    assert info.value.param in ("activation", None)
