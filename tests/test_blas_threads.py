"""One BLAS thread for every route (volterra_sym.budget.blas_threads)."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from volterra_sym import SRNN, ResponseHierarchy
from volterra_sym.budget import blas_threads
from volterra_sym.errors import InvalidInputError
from volterra_sym.hierarchy.routes import get_route, with_fallback


def _blas_threads_now() -> list[int]:
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


needs_blas = pytest.mark.skipif(not _blas_threads_now(), reason="no BLAS seen by threadpoolctl")


@needs_blas
def test_a_route_runs_with_one_blas_thread_and_the_count_is_restored(monkeypatch):
    monkeypatch.delenv("VOLTERRA_BLAS_THREADS", raising=False)
    model = SRNN(Gamma=[[1.0, 0.0], [0.0, 1.0]], W=[[0.0, 0.3], [-0.2, 0.0]],
                 C=[[1.0], [0.0]], sigma=[[0.5, 0.0], [0.0, 0.5]], b=[0.1, 0.0])
    f = ResponseHierarchy(model, "h1", 1).f
    seen = []
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads_now()
        with_fallback(get_route("exact"), model, f, "exact",
                      lambda route: seen.extend(_blas_threads_now()))
        after = _blas_threads_now()
    assert seen and set(seen) == {1}
    assert after == before and 2 in before


@needs_blas
def test_the_environment_moves_the_count_and_bad_values_are_refused(monkeypatch):
    monkeypatch.setenv("VOLTERRA_BLAS_THREADS", "2")
    with threadpool_limits(limits=1, user_api="blas"), blas_threads():
        assert set(_blas_threads_now()) == {2}
    monkeypatch.setenv("VOLTERRA_BLAS_THREADS", "0")   # leave BLAS alone
    with threadpool_limits(limits=1, user_api="blas"), blas_threads():
        assert set(_blas_threads_now()) == {1}
    for bad in ("-1", "two", "1.5", "99999"):
        monkeypatch.setenv("VOLTERRA_BLAS_THREADS", bad)
        with pytest.raises(InvalidInputError) as exc, blas_threads():
            pass
        assert exc.value.param == "VOLTERRA_BLAS_THREADS"


def test_values_do_not_depend_on_the_thread_count(monkeypatch):
    model = SRNN(Gamma=[[1.0, 0.0], [0.0, 1.0]], W=[[0.0, 0.3], [-0.2, 0.0]],
                 C=[[1.0], [0.0]], sigma=[[0.5, 0.0], [0.0, 0.5]], b=[0.1, 0.0])
    lags = np.array([[0.5], [1.0]])
    monkeypatch.setenv("VOLTERRA_BLAS_THREADS", "1")
    one = ResponseHierarchy(model, "h1**2", 1).kernel((0,)).evaluate(lags, method="exact")
    monkeypatch.setenv("VOLTERRA_BLAS_THREADS", "0")
    other = ResponseHierarchy(model, "h1**2", 1).kernel((0,)).evaluate(lags, method="exact")
    np.testing.assert_allclose(one.values, other.values, rtol=1e-12)
