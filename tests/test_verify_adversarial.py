"""Adversarial checks of ``volterra_sym.verify`` and the Monte Carlo estimator API: a
verification must fail on a deliberately broken route, bad input gets a typed error
naming the parameter, estimates are reproducible and frozen, error bars are honest."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from volterra_sym.cli import load_model
from volterra_sym.errors import InvalidInputError
from volterra_sym.hierarchy.kernel import ResponseKernel
from volterra_sym.results import KernelValues
from volterra_sym.verify import FAIL, PASS, WEAK, settings_for
from volterra_sym.verify.backends import check_kernels
from volterra_sym.verify.context import Context
from volterra_sym.verify.identities import check_density, check_fdt, check_kernel_at_zero
from volterra_sym.verify.symmetry import check_symmetry


def _small(seed: int = 12345):
    return dataclasses.replace(settings_for(True, seed), kernel_paths=2000, kernel_origins=5,
                               series_paths=4000, eps=(0.1, 0.2, 0.4))


def _spectral_replaced(transform):
    """``ResponseKernel.evaluate`` with the spectral route's result passed through
    ``transform(values, lags, result) -> KernelValues``."""
    original = ResponseKernel.evaluate

    def evaluate(self, lags, method="auto", **kw):
        res = original(self, lags, method=method, **kw)
        if res.method != "spectral":
            return res
        return transform(np.asarray(res), np.asarray(lags, float), res)
    return evaluate


def _ctx(order: int = 2) -> Context:
    ctx = Context(load_model("linear2d"), None, order, _small())
    if "spectral" not in ctx.methods or "exact" not in ctx.methods:
        pytest.skip("exact and spectral needed")
    check_density(ctx)
    check_fdt(ctx)
    return ctx


def _spectral_checks(ctx):
    checks = check_kernel_at_zero(ctx) + check_kernels(ctx) + check_symmetry(ctx)
    return [c for c in checks if "spectral" in c.name]


# ---------------------------------------------------------------------- broken routes
def test_a_route_returning_nan_kernels_fails(monkeypatch):
    """A full route that returns NaN without raising: FAIL (was SKIP "taylor: short lags
    only" for every comparison, and PASS for its symmetry)."""
    monkeypatch.setattr(ResponseKernel, "evaluate", _spectral_replaced(
        lambda v, lags, res: KernelValues(v * np.nan, res.error, res.method, res.details)))
    checks = _spectral_checks(_ctx())
    assert checks and all(c.status == FAIL for c in checks
                          if not c.name.startswith("backends: order")
                          or "vs" not in c.name), [(c.name, c.status) for c in checks]
    assert any("not finite" in c.reason for c in checks)
    assert not any(c.status == PASS for c in checks), [(c.name, c.status) for c in checks]


def test_a_route_without_error_estimate_is_still_compared(monkeypatch):
    """Spectral 5 % off at every lag > 0 and no error estimate (``error=None``): the
    backend comparisons FAIL (they used to drop every entry with an unknown error and
    report SKIP); unperturbed without an estimate they PASS (no spurious failure)."""
    def no_error(factor):
        def transform(v, lags, res):
            lag_rows = lags.reshape(v.shape[0], -1) if v.ndim else lags.reshape(1, -1)
            f = np.where(lag_rows.min(axis=1) > 0, factor, 1.0).reshape(v.shape)
            return KernelValues(v * f, None, res.method, res.details)
        return transform

    monkeypatch.setattr(ResponseKernel, "evaluate", _spectral_replaced(no_error(1.0)))
    checks = _spectral_checks(_ctx())
    assert checks and all(c.status == PASS for c in checks), \
        [(c.name, c.status, c.reason) for c in checks if c.status != PASS]
    assert any("unknown for spectral" in c.reason for c in checks)

    monkeypatch.setattr(ResponseKernel, "evaluate", _spectral_replaced(no_error(1.05)))
    ctx = _ctx()
    vs = [c for c in check_kernels(ctx) if c.name == "backends: order 1 exact vs spectral"]
    assert vs and vs[0].status == FAIL, vs


def test_monte_carlo_nan_kernel_fails(monkeypatch):
    """A Monte Carlo estimate that is NaN where the engine has a value: FAIL (NaN entries
    were dropped from the comparison and the rest could PASS)."""
    import volterra_sym.verify.mc_kernels as mk

    original = mk.first_order_kernel

    def nan_first(*args, **kw):
        est = original(*args, **kw)
        value = np.array(est.value, dtype=float)
        value[0] = np.nan
        return dataclasses.replace(est, value=value)

    monkeypatch.setattr(mk, "first_order_kernel", nan_first)
    ctx = Context(load_model("linear2d"), None, 1, _small())
    checks = mk.check_mc_kernels(ctx, {})
    assert len(checks) == 1 and checks[0].status == FAIL, checks
    assert "non-finite" in checks[0].value


def test_agreement_within_an_error_bar_as_large_as_the_value_is_not_a_pass(monkeypatch):
    """Spectral 40 % off at every lag > 0 but reporting an error of 1.5× its value: the
    comparisons with exact/galerkin/taylor agree "within error bars" that could not tell
    the kernel from 0. They used to PASS; now they are WEAK (not FAIL: no value is shown
    wrong) naming the unresolved entries. The same spectral values with their own error
    FAIL, and unperturbed they PASS."""
    def inflated(factor):
        def transform(v, lags, res):
            lag_rows = lags.reshape(v.shape[0], -1) if v.ndim else lags.reshape(1, -1)
            f = np.where(lag_rows.min(axis=1) > 0, factor, 1.0).reshape(v.shape)
            return KernelValues(v * f, 1.5 * np.abs(v), res.method, res.details)
        return transform

    monkeypatch.setattr(ResponseKernel, "evaluate", _spectral_replaced(inflated(1.4)))
    ctx = _ctx(1)
    vs = [c for c in check_kernels(ctx) if "spectral" in c.name]
    assert vs and all(c.status == WEAK for c in vs), [(c.name, c.status) for c in vs]
    assert all("tolerance > 0.5 × max |value|" in c.reason for c in vs)
    res = vs[0].data["resolution"]
    assert 2 * res.resolved < res.total and res.worst > 0.5

    def scaled(v, lags, res):
        lag_rows = lags.reshape(v.shape[0], -1) if v.ndim else lags.reshape(1, -1)
        f = np.where(lag_rows.min(axis=1) > 0, 1.4, 1.0).reshape(v.shape)
        return KernelValues(v * f, res.error, res.method, res.details)

    monkeypatch.undo()
    monkeypatch.setattr(ResponseKernel, "evaluate", _spectral_replaced(scaled))
    vs = [c for c in check_kernels(_ctx(1)) if "spectral" in c.name]
    assert vs and all(c.status == FAIL for c in vs), [(c.name, c.status) for c in vs]
    monkeypatch.undo()
    vs = [c for c in check_kernels(_ctx(1)) if "spectral" in c.name]
    assert vs and all(c.status == PASS for c in vs), [(c.name, c.status) for c in vs]


def test_monte_carlo_error_bar_as_large_as_the_kernel_is_weak(monkeypatch):
    """A Monte Carlo K₁ whose standard errors are as large as the kernel: the comparison
    cannot fail and is WEAK (it was PASS); with its own standard errors it PASSes."""
    import volterra_sym.verify.mc_kernels as mk

    original = mk.first_order_kernel

    def noisy_first(*args, **kw):
        est = original(*args, **kw)
        return dataclasses.replace(est, stderr=np.full_like(est.stderr,
                                                            np.max(np.abs(est.value))))

    ctx = Context(load_model("linear2d"), None, 1, _small())
    (honest,) = mk.check_mc_kernels(ctx, {})
    assert honest.status == PASS, honest
    monkeypatch.setattr(mk, "first_order_kernel", noisy_first)
    (weak,) = mk.check_mc_kernels(Context(load_model("linear2d"), None, 1, _small()), {})
    assert weak.status == WEAK, weak
    assert weak.data["resolution"].resolved == 0


@pytest.mark.parametrize("tol, values, ok, status", [
    ([0.4, 0.4], [[1.0, -0.2]], True, PASS),     # both entries resolve (tol ≤ 0.5 · 1.0)
    ([0.4, 0.6], [[1.0, -0.2]], True, PASS),     # half of them: PASS
    ([0.6, 0.6, 0.1], [[1.0, 0.0, 0.5]], True, WEAK),  # one of three
    ([0.6], [[1.0], [0.9]], True, WEAK),         # the scale is either side's largest
    ([0.6], [[1.0]], False, FAIL),               # a disagreement is conclusive
    ([1e-9], [[0.0], [0.0]], True, WEAK),        # all values 0: nothing to resolve
    ([0.0], [[0.0], [0.0]], True, PASS),         # exactly 0 on both sides, no tolerance
    # two exact routes on a kernel that vanishes identically: verify's tolerance is then
    # only the 1e-8·1e-300 floor (verify lin1 --strict was WEAK on order 2 of f = h1)
    ([1e-308, 1e-308], [[0.0, 0.0], [0.0, 0.0]], True, PASS),
])
def test_resolution_rule(tol, values, ok, status):
    """docs/theory.md §8: an entry resolves when tol ≤ RESOLVE_FRACTION · max |value|
    (0.5); PASS needs at least half of the entries resolved."""
    from volterra_sym.verify.settings import RESOLVE_FRACTION, agreement_status, resolution

    assert RESOLVE_FRACTION == 0.5
    assert agreement_status(ok, resolution(tol, *values)) == status


# ---------------------------------------------------------------------- Monte Carlo API
def _u1(t):
    return np.array([np.sin(2.0 * t)])


def _estimates():
    from volterra_sym.montecarlo import (
        crn_responses,
        first_order_kernel,
        kick_kernel,
        response,
    )
    m = load_model("linear2d")
    return [first_order_kernel(m, [0.0, 0.1], n_paths=64, dt=0.05, seed=1),
            kick_kernel(m, [0.0, 0.1], n_paths=64, dt=0.05, seed=1),
            response(m, _u1, 0.1, [0.1], n_paths=64, dt=0.05, seed=1),
            crn_responses(m, _u1, [0.1], [0.1], n_paths=64, dt=0.05, seed=1)]


def test_monte_carlo_results_are_frozen():
    """Estimates cannot be changed in place (fields, arrays, details); ``replace`` copies."""
    for est in _estimates():
        name = type(est).__name__
        with pytest.raises(dataclasses.FrozenInstanceError):
            est.value = None
        with pytest.raises(ValueError):
            est.value[...] = 0.0
        with pytest.raises(ValueError):
            est.stderr.setflags(write=True)
        if hasattr(est, "details"):
            with pytest.raises(TypeError):
                est.details["x"] = 1
        copy = dataclasses.replace(est, value=np.zeros_like(est.value))
        assert np.all(copy.value == 0) and not np.all(est.value == 0), name


def test_kick_kernel_reports_the_seed_that_reproduces_it():
    """``seed=None``: the estimate's ``seed`` is the drawn entropy (was ``None``: a run
    without a seed could not be repeated), and passing it back gives the same numbers, as
    for the other estimators."""
    from volterra_sym.montecarlo import kick_kernel

    m = load_model("linear2d")
    a = kick_kernel(m, [0.0, 0.1], n_paths=64, dt=0.05)
    assert a.seed is not None
    b = kick_kernel(m, [0.0, 0.1], n_paths=64, dt=0.05, seed=a.seed)
    assert np.array_equal(a.value, b.value)
    assert kick_kernel(m, [0.1], n_paths=64, dt=0.05, seed=3).seed == 3


@pytest.mark.parametrize("kw, param", [({"amplitude": True}, "amplitude"),
                                       ({"burn_in": True}, "burn_in")])
def test_kick_kernel_refuses_booleans(kw, param):
    from volterra_sym.errors import InvalidInputError
    from volterra_sym.montecarlo import kick_kernel

    with pytest.raises(InvalidInputError) as err:
        kick_kernel(load_model("linear2d"), [0.1], n_paths=64, dt=0.05, **kw)
    assert err.value.param == param


def test_kernel_origin_ring_is_sized_by_the_origins_and_budgeted(monkeypatch):
    """One origin and a lag of 10⁹ steps: the conjugate-variable ring used to have a slot
    per step of the lag (7 TiB: a raw MemoryError); now one slot, and the run is refused
    for its time. Many origins alive at once over the memory budget: refused by type,
    naming what to lower."""
    from volterra_sym.errors import ResourceLimitError
    from volterra_sym.montecarlo import first_order_kernel

    m = load_model("linear2d")
    monkeypatch.setenv("VOLTERRA_TIME_BUDGET", "1")
    with pytest.raises(ResourceLimitError):
        first_order_kernel(m, [1e6], n_paths=1000, dt=0.001, seed=1)
    monkeypatch.delenv("VOLTERRA_TIME_BUDGET")
    monkeypatch.setenv("VOLTERRA_MEMORY_BUDGET", "50MB")
    with pytest.raises(ResourceLimitError, match="conjugate-variable ring") as err:
        first_order_kernel(m, [1000.0], n_paths=512, dt=0.01, n_origins=10**5,
                           origin_stride=0.01, seed=1, chunk_size=512)
    assert "origin_stride" in err.value.option


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize("eps", [[], [[0.1, 0.2]], ["a"], [1j], [True], [np.nan], "0.1"])
def test_crn_responses_refuse_bad_amplitudes(eps):
    """Empty eps returned an empty result; nested, string or complex eps raised a raw
    ValueError/TypeError; booleans were taken as 1.0."""
    from volterra_sym.errors import InvalidInputError
    from volterra_sym.montecarlo import crn_responses

    with pytest.raises(InvalidInputError) as err:
        crn_responses(load_model("linear2d"), _u1, eps, [0.1], n_paths=16, dt=0.05)
    assert err.value.param == "eps"


@pytest.mark.parametrize("args, param", [
    (([0.1], [1.0], [0.1]), "eps"),                 # one ε: was ZeroDivisionError
    (([0.1, 0.2], [0.0, 1.0], [0.1, 0.1]), "r"),    # log 0: was ZeroDivisionError
    (([0.1, 0.2], [1.0], [0.1, 0.1]), "r"),         # lengths differ: was broadcast
    (([-0.1, 0.2], [1.0, 2.0], [0.1, 0.1]), "eps"),  # was a slope of NaN
    (([0.1, 0.2], [np.nan, 2.0], [0.1, 0.1]), "r"),  # was a slope of NaN
    (([0.1, 0.2], [1.0, 2.0], [-0.1, 0.1]), "se"),
    (([0.1, 0.2], [1.0, 2.0], [0.0, 0.1]), "se"),   # an infinite weight: was NaN
])
def test_fit_slope_refuses_what_has_no_slope(args, param):
    from volterra_sym.errors import InvalidInputError
    from volterra_sym.verify import fit_slope

    with pytest.raises(InvalidInputError) as err:
        fit_slope(*args)
    assert err.value.param == param
    slope, se = fit_slope([0.1, 0.2, 0.4], [1e-3, 8e-3, 6.4e-2], [1e-4, 1e-4, 1e-3])
    assert abs(slope - 3.0) < 1e-9 and np.isfinite(se)


def test_series_residuals_refuse_inconsistent_input():
    """ε ≤ 0 (log of the slope fit), order 0 (returned no result at all), responses or
    engine terms of another shape (broadcast silently into wrong residuals)."""
    from volterra_sym.errors import InvalidInputError
    from volterra_sym.montecarlo import crn_responses
    from volterra_sym.verify import series_residuals

    m = load_model("linear2d")
    base = dict(eps=[0.1, 0.2, 0.4], times=[0.5], n_paths=16)
    mc = crn_responses(m, _u1, [0.1], [0.5], n_paths=16, dt=0.05, seed=1)
    for kw, param in [({"eps": [0.0, 0.1, 0.2]}, "eps"), ({"eps": [-0.1, 0.1]}, "eps"),
                      ({"eps": []}, "eps"), ({"mc": mc}, "mc"),
                      ({"engine_terms": np.zeros((3, 5))}, "engine_terms")]:
        with pytest.raises(InvalidInputError) as err:
            series_residuals(m, None, 1, **{**base, **kw})
        assert err.value.param == param, kw
    with pytest.raises(InvalidInputError) as err:
        series_residuals(m, None, 0, **base)
    assert err.value.param == "order"


@pytest.mark.parametrize("field, value", [
    ("dt", -0.01), ("dt", 0.03), ("kernel_paths", 0), ("series_paths", 1.5),
    ("eps", (0.1, -0.2)), ("eps", ()), ("times", ()), ("window", 0.005), ("scheme", "rk"),
    ("mc_lags1", (float("nan"),)), ("mc_lags2", ((0.1,),)), ("parity", "yes"),
    ("levels", 2.0), ("levels", 4), ("levels", True),
])
def test_bad_settings_are_refused_before_any_check(tmp_path, field, value):
    """Settings no check can run with: an InvalidInputError naming the field (they used to
    become FAIL lines — "verification failed" for a correct engine, exit 1 — after the
    identities and backends had run)."""
    from volterra_sym.errors import InvalidInputError
    from volterra_sym.verify import verify_model

    with pytest.raises(InvalidInputError) as err:
        settings = dataclasses.replace(_small(), **{field: value})
        verify_model(load_model("linear2d"), order=1, out=tmp_path, settings=settings,
                     print_table=False, figures=False)
    # dt = 0.03 is fine by itself: the times are not on its grid
    assert err.value.param == ("times" if (field, value) == ("dt", 0.03) else field)
    assert not (tmp_path / "verify.json").exists()


def test_a_seed_beside_settings_with_another_seed_is_refused(tmp_path):
    """``verify_model(seed=5, settings=...)`` silently used the settings' seed."""
    from volterra_sym.errors import InvalidInputError
    from volterra_sym.verify import verify_model

    with pytest.raises(InvalidInputError) as err:
        verify_model(load_model("linear2d"), order=1, out=tmp_path, seed=5,
                     settings=_small(seed=1), print_table=False, figures=False)
    assert err.value.param == "seed"


@pytest.mark.parametrize("eps", ["1", "nan", True, 1j, [0.1], None])
def test_response_refuses_an_amplitude_that_is_not_a_real_number(eps):
    """``eps="1"`` was converted by ``float()`` (a user string outside the parser)."""
    from volterra_sym.errors import InvalidInputError
    from volterra_sym.montecarlo import response

    with pytest.raises(InvalidInputError) as err:
        response(load_model("linear2d"), _u1, eps, [0.1], n_paths=16, dt=0.05)
    assert err.value.param == "eps"


# ---------------------------------------------------------------------- pass 3
def test_monte_carlo_results_stay_frozen_after_pickling_and_copying():
    """Unpickled (and deep-copied) estimates had writable arrays: pickle restored them as
    owning writable copies and skipped ``__post_init__``."""
    import copy
    import pickle

    for est in _estimates():
        for again in (pickle.loads(pickle.dumps(est)), copy.deepcopy(est)):
            assert type(again) is type(est)
            assert np.array_equal(again.value, est.value)
            with pytest.raises(ValueError):
                again.value[...] = 0.0
            if hasattr(est, "details"):
                with pytest.raises(TypeError):
                    again.details["x"] = 1


def test_simulate_returns_a_frozen_ensemble():
    """``simulate`` returned a plain dataclass: states and values could be changed in place
    and fields reassigned."""
    from volterra_sym.montecarlo import simulate

    ens = simulate(load_model("linear2d"), [0.1, 0.2], n_paths=8, dt=0.05, seed=1,
                   observable="h1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ens.n_paths = 3
    for arr in (ens.states, ens.values, ens.times):
        with pytest.raises(ValueError):
            arr[...] = 0.0


@pytest.mark.parametrize("kw, param", [
    ({"eps": "1"}, "eps"), ({"eps": True}, "eps"), ({"eps": "abc"}, "eps"),
    ({"eps": 1j}, "eps"), ({"eps": np.inf}, "eps"), ({"keep_states": "no"}, "keep_states"),
])
def test_simulate_refuses_loose_parameters(kw, param):
    """``eps="1"`` was converted by float() (a user string outside the parser), ``eps=True``
    taken as 1, ``"abc"``/``1j`` raised a raw ValueError/TypeError; ``keep_states="no"``
    kept the states."""
    from volterra_sym.errors import InvalidInputError
    from volterra_sym.montecarlo import simulate

    with pytest.raises(InvalidInputError) as err:
        simulate(load_model("linear2d"), [0.1], n_paths=8, dt=0.05, u=_u1, **kw)
    assert err.value.param == param


@pytest.mark.parametrize("call, flag", [
    (call, flag) for call in ("response", "first", "second")
    for flag in ("estimate_bias", "control_variate", "crn")
    if flag != "crn" or call == "response"])         # crn is a flag of response only
def test_estimator_flags_must_be_booleans(call, flag):
    """``estimate_bias="no"`` estimated the bias (any string was taken by its truth
    value)."""
    from volterra_sym.errors import InvalidInputError
    from volterra_sym.montecarlo import first_order_kernel, response, second_order_kernel

    m = load_model("linear2d")
    kw = dict(n_paths=16, dt=0.05, seed=1, **{flag: "no"})
    with pytest.raises(InvalidInputError) as err:
        if call == "response":
            response(m, _u1, 0.1, [0.1], **kw)
        elif call == "first":
            first_order_kernel(m, [0.1], **kw)
        else:
            second_order_kernel(m, [[0.1, 0.1]], **kw)
    assert err.value.param == flag


def test_a_numpy_integer_time_step_is_a_number():
    """``dt=np.int64(1)`` was refused as "not a positive finite number"."""
    from volterra_sym.montecarlo import simulate

    ens = simulate(load_model("linear2d"), [0.0, 1.0], n_paths=4, dt=np.int64(1), seed=1,
                   scheme="exponential")
    assert ens.dt == 1.0


def test_many_kernel_origins_are_refused_before_any_work(monkeypatch):
    """A schedule entry per (lag, origin) was built before anything was checked:
    ``n_origins=10**9`` ran into the OOM killer, 10⁶ origins took half a minute and
    gigabytes before the run's time budget was even looked at. The completions are now
    found by arithmetic; a grid beyond the step limit, or masks over the memory budget,
    are refused up front naming n_origins."""
    import time

    from volterra_sym.errors import ResourceLimitError
    from volterra_sym.montecarlo import first_order_kernel

    m = load_model("linear2d")
    monkeypatch.setenv("VOLTERRA_TIME_BUDGET", "5")
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError) as err:
        first_order_kernel(m, [0.0, 0.01], n_paths=2, dt=0.01, n_origins=10**9, seed=1)
    assert "n_origins" in err.value.option
    monkeypatch.setenv("VOLTERRA_MEMORY_BUDGET", "64M")
    with pytest.raises(ResourceLimitError) as err:
        first_order_kernel(m, np.arange(11) * 0.01, n_paths=2, dt=0.01, n_origins=3 * 10**6,
                           origin_stride=0.05, seed=1)
    assert "n_origins" in err.value.option
    assert time.perf_counter() - t0 < 5.0


def test_an_output_directory_that_takes_no_files_is_refused_before_any_check(monkeypatch):
    """An existing directory in which no file can be created: every check ran (minutes
    for a full run) and the run failed at the end, writing the first figure."""
    import os
    import tempfile

    import volterra_sym.verify as verify
    from volterra_sym.verify import verify_model

    target = "/sys/kernel"
    if not os.path.isdir(target):
        pytest.skip("needs a directory that refuses new files")
    try:
        with tempfile.TemporaryFile(dir=target):
            pytest.skip(f"{target} takes files here")
    except OSError:
        pass

    def no_work(*args, **kwargs):
        raise AssertionError("a check ran before the output directory was checked")
    monkeypatch.setattr(verify, "_stages", no_work)
    with pytest.raises(OSError) as err:
        verify_model(load_model("linear2d"), order=1, out=target, settings=_small(),
                     print_table=False)
    assert err.value.filename == target


def test_symmetry_with_a_part_refused_for_cost_is_weak_not_pass(monkeypatch):
    """A symmetry check whose continuity part was refused for its cost (a
    ResourceLimitError from the route) checked only the rest: WEAK naming the refusal (was
    PASS, the refusal only in the reason text); a not-applicable part leaves PASS."""
    from volterra_sym.errors import NotApplicableError, ResourceLimitError

    def refusing(exc_type):
        original = ResponseKernel.evaluate

        def evaluate(self, lags, method="auto", **kw):
            lags_arr = np.asarray(lags, float)
            # the continuity part asks K(σ, σ + jδ): off-diagonal lags at the step
            if (method == "spectral" and lags_arr.ndim == 2 and lags_arr.shape[1] == 2
                    and lags_arr.shape[0] == 9):
                raise exc_type("too expensive for this test", option="resolution") \
                    if exc_type is ResourceLimitError else exc_type("not here")
            return original(self, lags, method=method, **kw)
        return evaluate

    monkeypatch.setattr(ResponseKernel, "evaluate", refusing(ResourceLimitError))
    sym = [c for c in check_symmetry(_ctx()) if "spectral" in c.name]
    assert len(sym) == 1 and sym[0].status == WEAK, sym
    assert "refused: cost" in sym[0].reason
    monkeypatch.setattr(ResponseKernel, "evaluate", refusing(NotApplicableError))
    sym = [c for c in check_symmetry(_ctx()) if "spectral" in c.name]
    assert sym[0].status == PASS, sym


def test_order_and_seed_accept_numpy_integers_and_refuse_the_rest(tmp_path, monkeypatch):
    """``order``/``seed`` as NumPy integers (``np.arange`` loops) were refused as "not a
    positive integer"; they now reach the checks as Python ints (the report is JSON).
    Floats, bools and out-of-range values are still refused, naming the parameter."""
    import numpy as np

    import volterra_sym.verify as v
    from volterra_sym.errors import InvalidInputError

    seen = {}

    class Stop(Exception):
        pass

    def context(model, observable, order, settings):
        seen.update(order=order, seed=settings.seed)
        raise Stop

    monkeypatch.setattr(v, "Context", context)
    with pytest.raises(Stop):
        v.verify_model(load_model("linear2d"), order=np.int64(2), seed=np.uint32(7),
                       out=tmp_path, print_table=False, figures=False)
    assert seen == {"order": 2, "seed": 7}
    assert type(seen["order"]) is int and type(seen["seed"]) is int
    for kw, param in (({"order": 2.0}, "order"), ({"order": True}, "order"),
                      ({"order": np.int64(0)}, "order"), ({"seed": -1}, "seed"),
                      ({"seed": 1.5}, "seed"), ({"seed": np.bool_(True)}, "seed")):
        with pytest.raises(InvalidInputError) as err:
            v.verify_model(load_model("linear2d"), out=tmp_path, print_table=False,
                           figures=False, **kw)
        assert err.value.param == param


@pytest.mark.parametrize("flag", ["--kernel-paths", "--paths"])
def test_too_few_paths_for_a_standard_error_are_refused(tmp_path, capsys, flag):
    """A Monte Carlo ensemble of fewer than MIN_PATHS = 30 paths has no usable standard
    error (Student's t with 1 degree of freedom exceeds 4 with probability 0.16: a correct
    engine FAILed with --kernel-paths 2): refused before any work, naming the option."""
    from volterra_sym.cli import main
    from volterra_sym.verify import MIN_PATHS

    out = tmp_path / "few"
    assert main(["verify", "linear2d", "--quick", flag, str(MIN_PATHS - 1), "--out",
                 str(out)]) == 2
    assert flag in capsys.readouterr().err and not out.exists()
    with pytest.raises(InvalidInputError) as exc:
        dataclasses.replace(settings_for(True, 1), kernel_paths=2)
    assert exc.value.param == "kernel_paths"
    assert settings_for(True, 1, 10_000).kernel_paths == MIN_PATHS   # quick, huge n


def test_identically_zero_kernel_is_not_weak():
    """Order 2 of a linear model with a linear observable vanishes identically: every
    backend gives exactly 0 with error 0, and the Monte Carlo bounds its own value there.
    Those checks PASS (verify lin1 --strict failed on six WEAK backend checks and the WEAK
    Monte Carlo one); a Monte Carlo that is off at 0 still FAILs."""
    import volterra_sym.verify.mc_kernels as mk
    from volterra_sym import SRNN

    model = SRNN([[2.0]], [[0.5]], [[1.5]], [[0.7]], [0.3], "linear", observable="h1")
    ctx = Context(model, None, 2, _small())
    order2 = [c for c in check_kernels(ctx) if c.name.startswith("backends: order 2")]
    assert order2 and all(c.status == PASS for c in order2), order2
    checks = {c.name: c for c in mk.check_mc_kernels(Context(model, None, 2, _small()), {})}
    (k2,) = [c for n, c in checks.items() if n.startswith("MC: kernels order 2")]
    assert k2.status == PASS and "exactly 0" in k2.reason, k2
    off = float(np.max(np.asarray(k2.data["tol"]))) * 3
    original = mk.second_order_kernel           # the order-2 estimator (fdt here)

    def shifted(*args, **kw):
        est = original(*args, **kw)
        return dataclasses.replace(est, value=est.value + off)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mk, "second_order_kernel", shifted)
        again = mk.check_mc_kernels(Context(model, None, 2, _small()), {})
    (bad,) = [c for c in again if c.name.startswith("MC: kernels order 2")]
    assert bad.status == FAIL, bad
