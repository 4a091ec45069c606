"""Observables with coefficients near the ends of the float range, and kernels that vanish
identically: correct numbers (checked against the exact backend / the closed form) or the
project's error — never 0 ± 0, inf or NaN."""

import time

import numpy as np
import pytest

from volterra_sym import SRNN, ResponseHierarchy, load_model
from volterra_sym.errors import AccuracyNotReachedError


@pytest.fixture(scope="module")
def linear2d():
    return load_model("linear2d")


@pytest.mark.parametrize("method", ["taylor", "galerkin", "spectral"])
@pytest.mark.parametrize("coef", [1e308, 1e300, 1e-200])
def test_huge_and_tiny_coefficients_match_exact(linear2d, method, coef):
    f = f"{coef:g}*h1**2"
    H = ResponseHierarchy(linear2d, f, 1)
    lags = np.array([[0.1], [0.5]])
    ref = H.kernel((0,)).evaluate(lags, method="exact")
    got = H.kernel((0,)).evaluate(lags, method=method)
    assert np.all(np.isfinite(got.values)) and np.all(np.isfinite(got.error))
    # the reported error covers the actual one, and the values are not 0
    assert np.all(np.abs(got.values - ref.values) <= got.error + ref.error)
    assert np.all(np.abs(got.values) > 0.5 * np.abs(ref.values))


@pytest.mark.parametrize("method", ["exact", "taylor", "spectral", "galerkin"])
def test_values_beyond_the_float_range_are_refused(method):
    # K_1(0) = <p0, L_1 f> = 4 · 1.7e308 overflows; 1.7e308·h1 itself does not
    model = SRNN([[1.0]], [[0.0]], [[4.0]], [[0.5]], activation="linear")
    H = ResponseHierarchy(model, "1.7e308*h1", 1)
    with pytest.raises(AccuracyNotReachedError, match="float range"):
        H.kernel((0,)).evaluate([[0.0]], method=method)
    ok = ResponseHierarchy(model, "1.7e307*h1", 1).kernel((0,)).evaluate([[0.0]],
                                                                      method=method)
    assert abs(float(np.asarray(ok)[0]) / 6.8e307 - 1) < 1e-6


@pytest.mark.parametrize("name, order", [("linear2d", 12), ("linear3d", 15)])
def test_identically_zero_high_orders_return_at_once(name, order):
    model = load_model(name)
    t0 = time.perf_counter()
    H = ResponseHierarchy(model, None, order)
    lags = np.linspace(0.05, 1.0, order)[::-1][None, :]  # unsorted: the symmetric extension
    K = H.kernel((0,) * order).evaluate(lags)
    assert time.perf_counter() - t0 < 10
    assert np.asarray(K).shape == (1,) and np.asarray(K)[0] == 0.0 and K.error[0] == 0.0
    assert "identically_zero" in K.details
