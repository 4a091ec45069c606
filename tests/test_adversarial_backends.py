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


# ---------------------------------------------------------------- spectral: named refusals
@pytest.fixture(scope="module")
def tanh_hier():
    return ResponseHierarchy(load_model("tanh1d"), "h1", 1)


@pytest.mark.parametrize("options, param", [
    ({"tol": 0}, "tol"), ({"tol": 2.0}, "tol"), ({"tol": "x"}, "tol"),
    ({"resolution": 3}, "resolution"), ({"resolution": 7.5}, "resolution"),
    ({"memory_budget": -1}, "memory_budget"), ({"memory_budget": float("inf")}, "memory_budget"),
    ({"memory_budget": "lots"}, "memory_budget"),
    ({"cut": 0.5}, "cut"), ({"cut": 0}, "cut"), ({"foo": 1}, "options"),
])
def test_spectral_option_refusals_name_the_parameter(tanh_hier, options, param):
    """They were InvalidInputError with param=None."""
    with pytest.raises(InvalidInputError) as info:
        tanh_hier.kernel(0).evaluate([0.5], method="spectral", **options)
    assert info.value.param == param
    with pytest.raises(InvalidInputError) as info:
        tanh_hier.series_terms(lambda t: np.array([1.0]), [0.0, 1.0], method="spectral",
                               **options)
    assert info.value.param == param


def test_spectral_series_function_names_order_and_times():
    from volterra_sym.backends.spectral import series_terms
    model = load_model("tanh1d")
    with pytest.raises(InvalidInputError) as info:
        series_terms(model, model.h[0], 0, lambda t: np.array([1.0]), [0.0, 1.0])
    assert info.value.param == "order"
    with pytest.raises(InvalidInputError) as info:
        series_terms(model, model.h[0], 1, lambda t: np.array([1.0]), [1.0, 0.5])
    assert info.value.param == "times"


# ------------------------------------------- spectral n = 1 with features (Radau series)
@pytest.fixture(scope="module")
def inside_hier():
    return ResponseHierarchy(load_model("tanh1d_inside"), "h1", 2)


@pytest.mark.parametrize("options, param", [
    ({"foo": 1}, "options"), ({"tol": -1}, "tol"), ({"tol": "x"}, "tol"),
    ({"time_budget": -1}, "time_budget"), ({"time_budget": "x"}, "time_budget"),
])
def test_spectral_features_series_options_are_named(inside_hier, options, param):
    """Unknown options and a text tol raised raw TypeErrors; tol=-1 ran the whole grid
    ladder and ended in AccuracyNotReachedError."""
    with pytest.raises(InvalidInputError) as info:
        inside_hier.series_terms(lambda t: np.array([np.sin(t)]), [0.0, 1.0],
                                 method="spectral", **options)
    assert info.value.param == param


def test_spectral_features_kernel_and_mean_options_are_named(inside_hier):
    from volterra_sym.backends.spectral import general
    model = load_model("tanh1d_inside")
    with pytest.raises(InvalidInputError) as info:
        inside_hier.kernel(0).evaluate([0.5], method="spectral", tol="x")
    assert info.value.param == "tol"
    with pytest.raises(InvalidInputError) as info:
        general.mean0(model, model.h[0], tol=5)
    assert info.value.param == "tol"


def test_spectral_features_series_long_span_is_refused_quickly(inside_hier):
    """The Radau forward hierarchy took 115 s up to t = 100 (12 s up to t = 10, linear in
    t_max), so t = 10⁴ would run for hours; now it is refused with the extrapolated
    estimate within seconds, and time_budget moves the limit."""
    u = lambda t: np.array([np.sin(5 * t)])  # noqa: E731
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError) as info:
        inside_hier.series_terms(u, np.linspace(0, 1e4, 51), method="spectral")
    assert time.perf_counter() - t0 < 30
    assert info.value.budget == 120.0 and info.value.estimate > 120.0
    with pytest.raises(ResourceLimitError) as info:
        inside_hier.series_terms(u, np.linspace(0, 100, 51), method="spectral",
                                 time_budget=1)
    assert info.value.budget == 1.0


# ------------------------------------------------ huge observables: <f>_0 and series rescaled
@pytest.mark.parametrize("method", ["spectral", "galerkin", "taylor", "auto"])
def test_mean0_of_a_huge_observable_is_rescaled(method):
    """``1e300*h1`` on tanh1d: the spectral route's scale of f overflowed (inf - inf), the
    estimate was NaN and the refinement climbed the ladder for ~40 s to a
    ResourceLimitError reading "estimated error nan"; every route now returns 1e300 times
    ``<h1>_0`` with 1e300 times its error."""
    model = load_model("tanh1d")
    ref = ResponseHierarchy(model, "h1", 1).mean0(method=method)
    t0 = time.perf_counter()
    big = ResponseHierarchy(model, "1e300*h1", 1).mean0(method=method)
    assert time.perf_counter() - t0 < 20
    assert big.method == ref.method
    assert np.isfinite(big.error) and big.error > 0
    np.testing.assert_allclose(float(big), 1e300 * float(ref), rtol=1e-9)
    # both estimates describe the same number: they overlap
    assert abs(float(big) / 1e300 - float(ref)) <= big.error / 1e300 + ref.error


def test_series_of_a_huge_observable_is_rescaled():
    model = load_model("tanh1d")
    u = lambda t: np.array([np.sin(t)])  # noqa: E731
    ref = ResponseHierarchy(model, "h1", 1).series_terms(u, [0.0, 1.0], method="spectral")
    big = ResponseHierarchy(model, "1e300*h1", 1).series_terms(u, [0.0, 1.0],
                                                               method="spectral")
    np.testing.assert_allclose(np.asarray(big), 1e300 * np.asarray(ref), rtol=1e-8)
    assert np.all(np.isfinite(big.error))
    assert np.all(np.asarray(big.error) <= 1e301 * np.asarray(ref.error) + 1e290)


def test_spectral_functions_scale_of_a_huge_observable_is_finite():
    """The public spectral mean0 (no rescaling around it) used to end in the NaN refusal."""
    from volterra_sym.backends.spectral import mean0
    model = load_model("tanh1d")
    val, err = mean0(model, 1e300 * model.h[0])
    ref, ref_err = mean0(model, model.h[0])
    np.testing.assert_allclose(val, 1e300 * ref, rtol=1e-9)
    assert np.isfinite(err) and err <= 2e300 * ref_err


def test_mean0_overflowing_once_scaled_back_is_refused_with_the_observable():
    from volterra_sym.errors import AccuracyNotReachedError
    model = load_model("tanh1d")
    with pytest.raises(AccuracyNotReachedError, match=r"cosh") as info:
        ResponseHierarchy(model, "1e308*cosh(3*h1)", 1).mean0(method="spectral")
    assert "nan" not in str(info.value).lower()


# ------------------------------------------------- taylor: sampling options name themselves
@pytest.mark.parametrize("options, param", [
    ({"paths": 0}, "paths"), ({"snapshots": "x"}, "snapshots"), ({"batches": 1}, "batches"),
    ({"paths": 10, "batches": 4}, "batches"), ({"dt": -1.0}, "dt"),
    ({"burn_in": float("nan")}, "burn_in"), ({"spacing": True}, "spacing"),
    ({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"),
])
def test_taylor_sampling_options_are_named(options, param):
    """They were BackendError (NotApplicableError, no parameter), and seed=-1 a raw
    ValueError from numpy."""
    hier = ResponseHierarchy(load_model("tanh2d"), "h1", 1)
    with pytest.raises(InvalidInputError) as info:
        hier.kernel(0).evaluate([0.1], method="taylor", density="sampling", degree=2,
                                **options)
    assert info.value.param == param


def test_taylor_sampling_options_without_sampling_density_are_named():
    hier = ResponseHierarchy(load_model("tanh1d"), "h1", 1)
    with pytest.raises(InvalidInputError) as info:
        hier.kernel(0).evaluate([0.1], method="taylor", snapshots=64)
    assert info.value.param == "snapshots"
