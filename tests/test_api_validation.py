"""Bad input to the hierarchy API gets the project's typed error naming the parameter:
never a bare TypeError/ValueError/OverflowError, a silent cut (complex -> real, 0.9 -> 0),
NaN/inf, or work refused only after it ran (docs/theory.md, Appendix B)."""


import numpy as np
import pytest

from volterra_sym import ResponseHierarchy, load_model
from volterra_sym.errors import InvalidInputError
from volterra_sym.model import ModelError


@pytest.fixture(scope="module")
def tanh1():
    return ResponseHierarchy(load_model("tanh1d"), "h1", 2)


@pytest.fixture(scope="module")
def tanh2():
    return ResponseHierarchy(load_model("tanh2d"), "h1", 2)


def _u(t):
    return np.array([np.sin(2 * t)])


TIMES = np.linspace(0, 3, 31)


# ----------------------------------------------------------------- options
def test_taylor_unknown_options_are_invalid_input(tanh1):
    # TaylorOptions.parse raised TypeError; the series a NotApplicableError
    calls = [lambda: tanh1.kernel(0).evaluate([0.1], method="taylor", bogus=1),
             lambda: tanh1.response_functional(2, bogus=1),
             lambda: tanh1.series_terms(_u, [0.0, 0.1], method="taylor", bogus=1)]
    for call in calls:
        with pytest.raises(InvalidInputError, match="bogus") as exc:
            call()
        assert exc.value.param == "options"


# ----------------------------------------------------------------- load_model
@pytest.mark.parametrize("spec", [None, 5, b"linear2d", "", "x" * 5000, 2.5], ids=repr)
def test_load_model_refuses_non_names(spec):
    with pytest.raises(ModelError) as exc:
        load_model(spec)
    assert exc.value.param == "model"
