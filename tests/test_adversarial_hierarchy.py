"""Adversarial inputs to the hierarchy, operators and density layers: every bad input gets
the project's typed error naming the parameter, never a raw traceback, a silent NaN/inf or
a wrong formula; cached objects handed out cannot be changed."""

import numpy as np
import pytest

import volterra_sym as vs
from volterra_sym.errors import (
    InvalidInputError,
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
