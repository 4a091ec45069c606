"""Adversarial inputs to the numerical routes: runaway integrations are refused with a
measured estimate, refusals name their parameter, huge observables are rescaled."""

import time

import numpy as np
import pytest

from volterra_sym import ResponseHierarchy, load_model
from volterra_sym.errors import InvalidInputError, ResourceLimitError


@pytest.fixture(scope="module")
def linear_hier():
    return ResponseHierarchy(load_model("linear2d"), "h1**2 + h1*h2", 2)


def _fast(t):
    return np.array([np.sin(50 * t)])


# ---------------------------------------------------------------- exact series: time budget
def test_exact_series_fast_input_long_span_is_refused_quickly(linear_hier):
    """sin(50 t) up to t = 10⁴ ran for more than 200 s; now it is refused with the
    extrapolated estimate (hundreds of seconds, above the 120 s default) within seconds."""
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError, match="time_budget") as info:
        linear_hier.series_terms(_fast, np.linspace(0, 1e4, 201), method="exact")
    assert time.perf_counter() - t0 < 30
    exc = info.value
    assert exc.budget == 120.0 and exc.estimate > exc.budget
    assert "s (wall clock" in exc.unit


def test_exact_series_time_budget_option(linear_hier):
    """``time_budget`` moves the limit: a run estimated above it is refused, a run
    inside it returns the same numbers as with the default."""
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError) as info:
        linear_hier.series_terms(_fast, np.linspace(0, 200, 11), method="exact",
                                 time_budget=0.3)
    assert time.perf_counter() - t0 < 10
    assert info.value.budget == 0.3
    u = lambda t: np.array([np.sin(t)])  # noqa: E731
    times = np.linspace(0, 5, 11)
    a = linear_hier.series_terms(u, times, method="exact")
    b = linear_hier.series_terms(u, times, method="exact", time_budget=60)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert np.all(np.asarray(a.error) < 1e-9)


def test_exact_series_chirp_stops_at_the_deadline(linear_hier):
    """An input whose oscillation grows later (sin(t³)) is stopped by the deadline (or by
    the estimate growing with it), not run to the end."""
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError):
        linear_hier.series_terms(lambda t: np.array([np.sin(t ** 3)]),
                                 np.linspace(0, 400, 5), method="exact", time_budget=2)
    assert time.perf_counter() - t0 < 15


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "x", True, 1e9])
def test_exact_series_bad_time_budget_is_named(linear_hier, bad):
    with pytest.raises(InvalidInputError) as info:
        linear_hier.series_terms(_fast, [0.0, 1.0], method="exact", time_budget=bad)
    assert info.value.param == "time_budget"


def test_exact_series_unknown_option_is_named(linear_hier):
    with pytest.raises(InvalidInputError) as info:
        linear_hier.series_terms(_fast, [0.0, 1.0], method="exact", tol=1e-3)
    assert info.value.param == "options"
