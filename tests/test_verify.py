"""``volterra-sym verify``: end-to-end run, SKIP/FAIL by error type, broken backends, the
series comparison with the routes' own error estimates, outputs, the truncation-error slope.

The slope test is an acceptance criterion (docs/theory.md §8): on a 1-D tanh model with
``u(t) = sin(2t)`` the residual of the series truncated at ``M`` against the CRN Monte Carlo
response has log–log slope ``M + 1 ± 0.3`` for ``M = 1, 2`` over ``ε ∈ [0.05, 0.4]``.

Why the test model has weak noise: the MC residual's noise floor is ``ε · sd(D1)/√P`` with
``D1`` the pathwise derivative of the response (CRN removes the O(1) noise, not this one),
while the ``M = 2`` residual is ``ε³ T_3``. At ``ε = 0.05`` that needs
``sd(D1)/√P ≪ 0.0025 |T_3|``. For the built-in ``tanh1d`` (σ = 0.8, bistable)
``sd(D1) ≈ 0.27`` and ``|T_3| ≤ 0.023``: ~10⁹ paths. With σ = 0.03 and a stronger input
gain the same statistic needs ~10⁵ paths (every ε is then 5–400 s.e. above the floor).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys

import numpy as np
import pytest

import volterra_sym.verify as verify_pkg
from volterra_sym import SRNN
from volterra_sym.backends import available_methods, get_backend
from volterra_sym.cli import load_model, main
from volterra_sym.errors import (
    AccuracyNotReachedError,
    InvalidInputError,
    NotApplicableError,
    ResourceLimitError,
    SimulationError,
    UnsupportedOrderError,
)
from volterra_sym.hierarchy import ResponseHierarchy
from volterra_sym.hierarchy.kernel import ResponseKernel
from volterra_sym.results import KernelValues, SeriesTerms
from volterra_sym.verify import (
    FAIL,
    PASS,
    SKIP,
    SKIP_CAUSES,
    WEAK,
    series_residuals,
    settings_for,
    status_of,
    verify_model,
)
from volterra_sym.verify.backends import check_kernels, check_series_terms
from volterra_sym.verify.context import Context
from volterra_sym.verify.identities import check_density, check_fdt, check_kernel_at_zero


def _small(seed: int = 12345):
    """Few paths: these tests are about the bookkeeping, not the statistics."""
    return dataclasses.replace(settings_for(True, seed), kernel_paths=2000, kernel_origins=5,
                               series_paths=4000, eps=(0.1, 0.2, 0.4))


def _load(out):
    return json.loads((out / "verify.json").read_text())


def _cli(capsys, *argv):
    code = main(["verify", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------- the verify layer
def test_verify_does_not_import_the_cli():
    """verify sits below cli: importing it must not load volterra_sym.cli."""
    import subprocess

    code = ("import sys, volterra_sym.verify; "
            "sys.exit(1 if 'volterra_sym.cli' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], timeout=300).returncode == 0


def test_crn_estimator_lives_in_montecarlo():
    from volterra_sym.montecarlo import CRNResponses, crn_responses
    from volterra_sym.montecarlo.crn import crn_responses as direct

    assert crn_responses is direct and CRNResponses.__module__ == "volterra_sym.montecarlo.crn"


@pytest.mark.parametrize("exc, status", [
    (NotApplicableError("no"), SKIP), (UnsupportedOrderError("order 7"), SKIP),
    (ResourceLimitError("big"), SKIP), (AccuracyNotReachedError("tol"), SKIP),
    (SimulationError("diverged"), FAIL), (InvalidInputError("bad"), FAIL),
    (ValueError("does not apply"), FAIL),      # a message saying so does not make it SKIP
    (RuntimeError("order ≤ 3 supports"), FAIL), (TypeError("x"), FAIL),
])
def test_status_by_type_not_message(exc, status):
    assert status_of(exc) == status


# ---------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def linear2d_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("verify_linear2d")
    (out / "verify.json").write_text('{"stale": true}')
    code = main(["verify", "linear2d", "--quick", "--out", str(out)])
    return code, out


def test_linear2d_quick_passes(linear2d_run):
    code, out = linear2d_run
    assert code == 0, json.dumps([c for c in _load(out)["checks"] if c["status"] == FAIL],
                                 indent=1)[:3000]
    for name in ("verify.json", "kernels.png", "residuals.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert sorted(p.name for p in out.iterdir()) == ["kernels.png", "residuals.png",
                                                     "verify.json"]


def test_linear2d_json_has_every_check(linear2d_run):
    _, out = linear2d_run
    rep = _load(out)
    assert "stale" not in rep and rep["exit_code"] == 0
    assert rep["model"] == "linear2d" and rep["order"] == 2
    assert rep["seed"] == 12345 and rep["settings"]["dt"] > 0
    assert rep["settings"]["series_paths"] > 0 and rep["settings"]["kernel_paths"] > 0
    assert "exact" in rep["applicable_methods"]
    checks = rep["checks"]
    assert all(c["status"] in (PASS, FAIL, WEAK, SKIP) for c in checks)
    assert all(c["reason"] for c in checks if c["status"] in (SKIP, WEAK))
    # every SKIP says why, by a cause the code classified (none "unclassified")
    assert all(c["cause"] in SKIP_CAUSES[:-1] for c in checks if c["status"] == SKIP)
    assert sum(rep["skipped_by_cause"].values()) == rep["summary"]["SKIP"]
    groups = {c["group"] for c in checks}
    assert {"identities", "backends", "mc-kernels", "mc-series"} <= groups
    names = [c["name"] for c in checks]
    assert "identity: L0* p0 = 0" in names
    assert any(n.startswith("identity: kernel symmetry [exact]") for n in names)
    assert any(n.startswith("MC: kernels order 1") for n in names)
    assert any(n.startswith("MC: kernels order 2") for n in names)
    # linear model, quadratic observable: M=1 is a slope check, M=2 an exact truncation
    series = {c["name"]: c for c in checks if c["group"] == "mc-series"}
    assert series["MC: series residual M=1 (slope)"]["status"] == PASS
    assert series["MC: series residual M=2 (exact truncation)"]["status"] == PASS
    m1 = series["MC: series residual M=1 (slope)"]["data"]
    assert m1["n_paths"] == rep["settings"]["series_paths"] and m1["dt"] == 0.01
    assert abs(m1["slope"] - 2) <= 0.3
    if "spectral" in rep["applicable_methods"]:
        assert any(n == "backends: order 1 exact vs spectral" for n in names)
        st = next(c for c in checks if c["name"] == "backends: series terms exact vs spectral")
        assert st["status"] == PASS
        # the spectral route's own error estimate is the tolerance (not a fixed 1e-5)
        err = np.array(st["data"]["error_spectral"], dtype=float)
        assert err.shape == np.array(st["data"]["spectral"]).shape and np.all(err >= 0)
        assert np.max(st["data"]["tol"]) < 1e-5
    k1 = next(c for c in checks if c["name"].startswith("MC: kernels order 1"))["data"]
    assert len(k1["mc"]) == len(k1["lags"]) and k1["seed"] is not None


# ---------------------------------------------------------------------- broken backends
def _scaled(factor, route="exact"):
    """``ResponseKernel.evaluate`` with the values of ``route`` scaled by ``factor``."""
    original = ResponseKernel.evaluate

    def evaluate(self, lags, method="auto", **kw):
        res = original(self, lags, method=method, **kw)
        if res.method != route:
            return res
        return KernelValues(np.asarray(res) * factor, res.error, res.method, res.details)
    return evaluate


def test_kernel_scaled_by_1_01_fails(tmp_path, monkeypatch, capsys):
    """The exact route off by 1 %: verify exits 1 and names the failed checks, on one
    stderr line."""
    monkeypatch.setattr(ResponseKernel, "evaluate", _scaled(1.01))
    monkeypatch.setattr(verify_pkg, "settings_for", lambda quick, seed, n=1: _small(seed))
    code, out, err = _cli(capsys, "linear2d", "--order", "1", "--out", tmp_path)
    assert code == 1
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "check(s) failed" in err
    rep = _load(tmp_path)
    failed = [c["name"] for c in rep["checks"] if c["status"] == FAIL]
    assert "identity: K_k(0) = <p0, L_k f> [exact]" in failed
    if len(rep["applicable_methods"]) > 1:
        assert any(n.startswith("backends: order 1 exact vs") for n in failed), failed
    assert "FAIL" in out and "K_k(0) = <p0, L_k f> [exact]" in out


def _raising(target, exc):
    original = ResponseKernel.evaluate

    def evaluate(self, lags, method="auto", **kw):
        if method == target:
            raise exc
        return original(self, lags, method=method, **kw)
    return evaluate


@pytest.fixture
def linear2d_ctx():
    model = load_model("linear2d")
    ctx = Context(model, None, 1, _small())
    if "spectral" not in ctx.methods:
        pytest.skip("spectral not available")
    check_density(ctx)
    check_fdt(ctx)
    assert ctx.fdt_reference                  # K_k(0) has its reference value
    return ctx


def test_unbroken_backends_pass(linear2d_ctx):
    checks = check_kernel_at_zero(linear2d_ctx) + check_kernels(linear2d_ctx)
    assert checks and all(c.status == PASS for c in checks), checks


def test_not_applicable_backend_is_skip(linear2d_ctx, monkeypatch):
    monkeypatch.setattr(ResponseKernel, "evaluate",
                        _raising("spectral", NotApplicableError("spectral refuses")))
    checks = check_kernel_at_zero(linear2d_ctx) + check_kernels(linear2d_ctx)
    spectral = [c for c in checks if "spectral" in c.name]
    assert spectral and all(c.status == SKIP for c in spectral), spectral
    assert any("spectral refuses" in c.reason for c in spectral)
    assert not any(c.status == FAIL for c in checks)
    assert any(c.status == PASS for c in checks)         # exact vs taylor still compared


def test_crashing_backend_is_fail(linear2d_ctx, monkeypatch):
    monkeypatch.setattr(ResponseKernel, "evaluate",
                        _raising("spectral", ValueError("does not apply")))
    checks = check_kernel_at_zero(linear2d_ctx) + check_kernels(linear2d_ctx)
    spectral = [c for c in checks if "spectral" in c.name and "vs" not in c.name]
    assert spectral and all(c.status == FAIL for c in spectral), spectral
    assert all("ValueError: does not apply" in c.reason for c in spectral)


def test_series_comparison_uses_the_error_estimate(linear2d_ctx, monkeypatch):
    """Spectral series terms off by a relative 1e-6 (inside the old fixed 1e-5): FAIL,
    because the spectral route's own estimate is far smaller; unperturbed: PASS."""
    ctx = linear2d_ctx
    assert check_series_terms(ctx)[0].status == PASS
    original = ResponseHierarchy.series_terms

    def perturbed(self, u, times, method="auto", **kw):
        res = original(self, u, times, method=method, **kw)
        if res.method != "spectral":
            return res
        return SeriesTerms(np.asarray(res) * (1 + 1e-6), res.error, res.method, res.details)

    monkeypatch.setattr(ResponseHierarchy, "series_terms", perturbed)
    chk = check_series_terms(ctx)[0]
    assert chk.status == FAIL, chk
    assert np.max(chk.data["error_spectral"]) < 1e-6


def test_crash_in_a_stage_does_not_hide_the_others(tmp_path, monkeypatch):
    """An exception escaping a whole check group: one FAIL line, the other groups run."""
    import volterra_sym.verify as v

    def boom(ctx):
        raise RuntimeError("boom")

    monkeypatch.setattr(v, "check_kernels", boom)
    code, checks = verify_model(load_model("linear2d"), order=1, out=tmp_path,
                                settings=_small(), print_table=False, figures=False)
    assert code == 1
    bad = [c for c in checks if c.status == FAIL]
    assert len(bad) == 1 and "boom" in bad[0].reason
    assert any(c.name == "identity: L0* p0 = 0" and c.status == PASS for c in checks)
    assert any(c.group == "mc-series" for c in checks)


def test_interrupt_leaves_no_stale_report(tmp_path, monkeypatch, capsys):
    """SIGINT during verify: exit 130, one line; the older verify.json is gone (not left
    looking current) and no temporary file remains."""
    import volterra_sym.verify as v

    for name in ("verify.json", "kernels.png", "residuals.png"):
        (tmp_path / name).write_text("from an older run")

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(v, "check_mc_kernels", interrupt)
    code, _, err = _cli(capsys, "linear2d", "--order", "1", "--quick", "--out", tmp_path)
    assert code == 130 and err.strip() == "interrupted"
    assert list(tmp_path.iterdir()) == []


def test_a_cost_refusal_is_counted_and_fails_strict(tmp_path, monkeypatch, capsys):
    """A Monte Carlo run refused for its cost (VOLTERRA_TIME_BUDGET) is a SKIP with exit
    status 0, as documented — but the line names the cause, the summary counts it apart
    from the checks that do not apply, verify.json records it, and ``--strict`` exits 1
    naming it on one stderr line (``--strict`` used not to exist: argparse refused it)."""
    monkeypatch.setenv("VOLTERRA_TIME_BUDGET", "0.05")
    argv = ("linear2d", "--order", "1", "--quick", "--out", tmp_path / "a")
    code, out, err = _cli(capsys, *argv)
    assert code == 0, err
    assert "SKIP [refused: cost]" in out and "VOLTERRA_TIME_BUDGET" in out
    summary = out.strip().splitlines()[-1]
    rep = _load(tmp_path / "a")
    # the series run always exceeds 0.05 s; on a loaded machine the kernel run may too
    refused = [c["name"] for c in rep["checks"] if c["cause"] == "refused: cost"]
    assert "MC: series residual" in refused and len(refused) <= 2, refused
    assert f"skipped (1 not applicable, {len(refused)} refused: cost)" in summary, summary
    assert rep["skipped_by_cause"]["refused: cost"] == len(refused) and rep["strict"] is False

    code, out, err = _cli(capsys, *argv[:-1], tmp_path / "b", "--strict")
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "--strict" in err and "MC: series residual [refused: cost]" in err
    assert "failed:" not in err                 # nothing failed: a different message
    rep = _load(tmp_path / "b")
    assert rep["strict"] is True and rep["exit_code"] == 1
    assert not any(c["status"] == FAIL for c in rep["checks"])


def test_strict_counts_weak_and_refused_skips_but_not_inapplicable_ones():
    from volterra_sym.verify import blocking, summary_line
    from volterra_sym.verify.settings import (
        NOT_APPLICABLE,
        REFUSED_ACCURACY,
        REFUSED_COST,
        SKIP_CAUSES,
        UNCLASSIFIED,
        UNRESOLVED,
        Check,
    )

    def c(status, cause=""):
        return Check("x", "g", status, cause=cause)

    assert not blocking(c(PASS)) and not blocking(c(SKIP, NOT_APPLICABLE))
    assert all(blocking(c(SKIP, k)) for k in (REFUSED_COST, REFUSED_ACCURACY, UNRESOLVED))
    assert blocking(c(WEAK)) and blocking(c(FAIL))
    assert c(SKIP).cause == UNCLASSIFIED and blocking(c(SKIP))   # never silently n/a
    counts = {PASS: 3, FAIL: 0, WEAK: 1, SKIP: 2}
    causes = dict.fromkeys(SKIP_CAUSES, 0) | {NOT_APPLICABLE: 1, REFUSED_COST: 1}
    assert summary_line(counts, causes) == ("3 passed, 0 failed, 1 weak, 2 skipped "
                                            "(1 not applicable, 1 refused: cost)")


# ---------------------------------------------------------------------- bad input
def test_unknown_model_exit_2(tmp_path, capsys):
    code, _, err = _cli(capsys, "no_such_model", "--out", tmp_path)
    assert code == 2
    assert "no_such_model" in err and "built-in" in err
    assert not (tmp_path / "verify.json").exists()


def test_bad_order_and_observable(tmp_path, capsys):
    code, _, err = _cli(capsys, "linear2d", "--order", "0", "--out", tmp_path)
    assert code == 2 and "--order" in err
    code, _, err = _cli(capsys, "linear2d", "--observable", "__import__('os')", "--out",
                        tmp_path)
    assert code == 2 and err.startswith("error")
    with pytest.raises(InvalidInputError):
        verify_model(load_model("linear2d"), order=0, out=tmp_path)


def test_symbolic_model_not_applicable(tmp_path):
    import sympy as sp

    g = sp.Symbol("gamma", positive=True)
    model = SRNN(Gamma=[[g]], W=[[0.5]], b=[0.0], C=[[1.0]], sigma=[[0.5]],
                 activation="tanh", name="sym")
    with pytest.raises(NotApplicableError, match="numeric"):
        verify_model(model, out=tmp_path)
    assert not (tmp_path / "verify.json").exists()


# ---------------------------------------------------------------------- docs/theory.md §8 slope
def _quiet_tanh():
    return SRNN(Gamma=[[1.0]], W=[[0.5]], b=[0.5], C=[[2.0]], sigma=[[0.03]],
                activation="tanh", name="tanh1d_quiet")


def _series_method(model):
    reasons = []
    for name in available_methods():
        if name == "taylor":
            continue
        r = get_backend(name).applies(model, model.observable(None))
        if r is None:
            return name
        reasons.append(f"{name}: {r}")
    pytest.skip("no backend gives series terms for a 1-D tanh model: " + "; ".join(reasons))


@pytest.fixture(scope="module")
def slope_run():
    model = _quiet_tanh()
    method = _series_method(model)
    eps = np.geomspace(0.05, 0.4, 6)
    times = np.round(np.arange(0.5, 2.501, 0.25), 10)
    return eps, series_residuals(model, None, 2, eps=eps, times=times, n_paths=150_000,
                                 dt=0.01, seed=2024, method=method)


def test_truncation_error_slope_tanh1d(slope_run):
    """Acceptance: slope M+1 ± 0.3 for M = 1, 2 over ε ∈ [0.05, 0.4], every ε used."""
    eps, out = slope_run
    for res in out["results"]:
        M = res["M"]
        assert res["kind"] == "slope"
        assert res["expected"] == M + 1
        assert res["used"].sum() >= 5, res["message"]       # above the MC noise floor
        assert eps[res["used"]].min() <= 0.08 and eps[res["used"]].max() >= 0.39
        assert res["status"] == PASS, res["message"]
        assert abs(res["slope"] - (M + 1)) <= 0.3, res["message"]
        # the residual really is ε^{M+1} T_{M+1}(t) to leading order
        pred = res["predicted_t"]
        r = res["residual_t"]
        assert np.all(np.abs(r - pred) <= 4 * res["stderr_t"] + 0.1 * np.abs(pred))


def test_slope_check_detects_a_wrong_term(slope_run):
    """The same MC with T_1 off by 2 %: the M = 1, 2 residuals no longer scale right."""
    eps, out = slope_run
    T = out["terms"].copy()
    T[1] *= 1.02
    model = _quiet_tanh()
    bad = series_residuals(model, None, 2, eps=eps, times=out["mc"].times, n_paths=2,
                           engine_terms=T, mc=out["mc"])
    assert [r["status"] for r in bad["results"]] == [FAIL, FAIL]


def test_slope_check_leaves_out_residuals_inside_the_engine_error(slope_run):
    """A residual below the engine's own error of the subtracted terms measures that error
    (∝ ε), not the truncation: the same T_1 off by 2 %, now declared with a 3 % error, is
    neither passed nor failed but skipped, naming the engine as the limit; declared exact
    (error 0) the check is unchanged."""
    eps, out = slope_run
    T = out["terms"].copy()
    T[1] *= 1.02
    err = np.zeros_like(T)
    err[1] = 0.03 * np.abs(T[1]).max()
    model = _quiet_tanh()
    res = series_residuals(model, None, 2, eps=eps, times=out["mc"].times, n_paths=2,
                           engine_terms=T, engine_terms_error=err, mc=out["mc"])
    assert [r["status"] for r in res["results"]] == [SKIP, SKIP]
    assert all("more accurate engine" in r["message"] for r in res["results"])
    exact = series_residuals(model, None, 2, eps=eps, times=out["mc"].times, n_paths=2,
                             engine_terms=out["terms"], engine_terms_error=0 * err,
                             mc=out["mc"])
    assert [r["status"] for r in exact["results"]] == [PASS, PASS]


def test_exact_truncation_check_carries_a_measured_remainder():
    """``levels=3``: the exact-truncation check of a linear network (no noise in the CRN
    response) takes the measured Richardson remainder, ``max_t(|R₁ − R₂| + 4 se)``, in place
    of ``0.05·max_t|bias|``: it passes, with a tolerance over 10× tighter, and a response off
    by twice the measured bound — which the old tolerance let through — fails."""
    m = load_model("linear2d")
    eps, times = np.array([0.1, 0.2, 0.4]), np.arange(1, 9) * 0.5
    out = series_residuals(m, "h1", 1, eps=eps, times=times, n_paths=2048, dt=0.02, seed=3,
                           levels=3, method="exact")
    res, mc = out["results"][0], out["mc"]
    assert out["richardson_remainder_measured"] and res["kind"] == "exact"
    assert res["status"] == PASS, res["message"]
    old = 0.05 * np.max(np.abs(mc.bias), axis=1)
    assert np.all(out["richardson_remainder_bound"] < old / 10)
    shift = 2 * mc.remainder_bound()[:, None]
    assert np.all(shift < old[:, None])
    bad = series_residuals(m, "h1", 1, eps=eps, times=times, n_paths=2,
                           mc=dataclasses.replace(mc, value=mc.value + shift),
                           engine_terms=out["terms"])
    assert bad["results"][0]["status"] == FAIL


def test_a_slope_off_within_its_own_noise_is_no_fail():
    """A slope off M+1 by more than 0.3 FAILs only when it is off by more than
    0.3 + 3 standard errors of the fit; in between there is no verdict (SKIP, unresolved).
    Measured: tanh1d with exact (spectral) terms, ε ∈ [0.1, 0.8], 200,000 paths at
    dt = 0.02 — seeds 5 and 6 of 8 FAILed M = 2 with 2.59 ± 0.12 and 2.60 ± 0.11, a correct
    engine declared wrong by the fit's noise (ε = 0.2 enters at 1.6 s.e. lifted over 3)."""
    from volterra_sym.verify.settings import UNRESOLVED

    m = load_model("tanh1d")
    out = series_residuals(m, "h1", 2, eps=np.geomspace(0.1, 0.8, 7),
                           times=np.arange(1, 9) * 0.5, n_paths=200_000, dt=0.02, seed=5,
                           method="spectral")
    res = out["results"][1]
    assert 0.3 < abs(res["slope"] - 3) < 0.3 + 3 * res["slope_stderr"]
    assert res["status"] == SKIP and res["cause"] == UNRESOLVED, res["message"]
    assert "no verdict" in res["message"]


def _one_minus_cos(t):
    return np.array([1.0 - math.cos(t)])


def test_slope_check_takes_any_input(slope_run):
    """``u=``: the check for the input ``1 − cos t`` (non-zero mean, so the even orders are
    driven too) — terms and CRN responses both for that input — passes with slopes M+1; the
    same terms against the responses to the default ``sin 2t`` (the fixture's) fail."""
    eps, sine = slope_run
    model = _quiet_tanh()
    method = _series_method(model)
    out = series_residuals(model, None, 2, eps=eps, times=sine["mc"].times, n_paths=150_000,
                           dt=0.01, seed=2024, method=method, u=_one_minus_cos)
    for res in out["results"]:
        assert res["status"] == PASS, res["message"]
        assert abs(res["slope"] - (res["M"] + 1)) <= 0.3
        assert res["used"].sum() >= 5, res["message"]
    mixed = series_residuals(model, None, 2, eps=eps, times=sine["mc"].times, n_paths=2,
                             engine_terms=out["terms"], mc=sine["mc"])
    assert [r["status"] for r in mixed["results"]] == [FAIL, FAIL]


def test_slope_check_refuses_a_bad_input():
    """``u`` must be callable ``u(t) -> (m,)``: refused naming ``u``."""
    model = _quiet_tanh()
    for bad in (3.0, lambda t: np.array([1.0, 2.0]), lambda t: np.array([np.nan])):
        with pytest.raises(InvalidInputError) as exc:
            series_residuals(model, None, 1, eps=[0.1, 0.2], times=[0.5], n_paths=10, u=bad)
        assert exc.value.param == "u"


@pytest.mark.slow
def test_tanh1d_full_verify_runs(tmp_path):
    """The built-in bistable tanh1d: no failures (the M = 2 slope may be skipped: noise)."""
    code, checks = verify_model(load_model("tanh1d"), out=tmp_path, quick=False)
    rep = _load(tmp_path)
    assert code == 0, [c for c in rep["checks"] if c["status"] == FAIL]
    m1 = next(c for c in checks if c.name == "MC: series residual M=1 (slope)")
    assert m1.status == PASS


def test_slope_check_on_the_even_and_odd_parts():
    """parity="even"/"odd": the residual of one parity, Σ_{N>M of that parity} ε^N T_N,
    has the slope of its first order (4 and 5 for M = 3, 2 and 3 for M = 1). On synthetic
    responses y(ε) = Σ ε^N T_N (+ 1e-9 noise) every check passes with that slope; T_2 off
    by 2 % fails the even part and leaves the odd part passing (it does not contain T_2);
    an unknown parity is refused naming the parameter."""
    from volterra_sym.montecarlo import CRNResponses

    model = load_model("tanh1d_inside")
    times = np.array([1.0, 2.0])
    eps = np.geomspace(0.1, 0.8, 8)
    T = np.array([[0.3, 0.3], [0.2, 0.25], [-0.04, -0.05], [-0.01, -0.02],
                  [0.004, 0.005], [0.006, 0.004], [1e-4, 2e-4], [-5e-4, -3e-4]])
    se = np.full((eps.size, times.size), 1e-9)

    def run(parity, terms):
        keep = [N for N in range(1, 8) if (N % 2 == 0) == (parity == "even")]
        y = sum(eps[:, None] ** N * T[N][None, :] for N in keep)
        mc = CRNResponses(eps, times, y, se, y, se, 0 * se, np.full(2, np.nan), 10, 0.01,
                          "synthetic", 0, 0.0)
        return series_residuals(model, None, 3, eps=eps, times=times, n_paths=10,
                                engine_terms=terms, mc=mc, parity=parity)["results"]

    for parity, expected in (("even", [2, 4, 4]), ("odd", [3, 3, 5])):
        res = run(parity, T)
        assert [r["expected"] for r in res] == expected
        assert [r["status"] for r in res] == [PASS] * 3, [r["message"] for r in res]
        assert all(abs(r["slope"] - e) < 0.3 for r, e in zip(res, expected, strict=True))
        assert all(r["message"].startswith(f"{parity} part") for r in res)
    bad = T.copy()
    bad[2] *= 1.02
    assert [r["status"] for r in run("even", bad)][1:] == [FAIL, FAIL]
    assert [r["status"] for r in run("odd", bad)] == [PASS] * 3
    with pytest.raises(InvalidInputError) as err:
        run("both", T)
    assert err.value.param == "parity"



def test_slope_window_counts_the_engines_errors_of_the_higher_orders():
    """A FAIL needs the ε where the engine vouches that the leading omitted order leads:
    higher orders as ``|T_N| + err_N``, the leading one as ``|T_4| − err_4``. Synthetic even
    responses ``ε²T_2 + ε⁴T_4 + ε⁶T_6`` with ``T_6`` 63 % of ``|T_4|`` (the measured 8-unit
    case: the engine's ``T_6`` small but unresolved): the engine's ``T_6 = 1e-5`` declared
    exact lets ε up to 1 in and the slope comes out 2.4 for 4 — a FAIL, as it should be for
    terms declared exact; declared ``± 3e-3`` the refit over the ε it vouches for (up to
    ≈ 0.39) gives 4 within 0.3 and passes; a ``T_4`` not above its own error vouches for no
    ε and the check has no verdict (SKIP), naming the engine."""
    from volterra_sym.montecarlo import CRNResponses

    model = load_model("tanh1d_inside")
    times = np.array([1.0])
    eps = np.geomspace(0.15, 1.0, 7)
    true = np.zeros((8, 1))
    true[2], true[4], true[6] = 0.01, -6.3e-3, 4e-3
    y = sum(eps[:, None] ** N * true[N][None, :] for N in (2, 4, 6))
    se = np.full((eps.size, 1), 1e-9)
    mc = CRNResponses(eps, times, y, se, y, se, 0 * se, np.full(1, np.nan), 10, 0.01,
                      "synthetic", 0, 0.0)
    engine = true.copy()
    engine[6] = 1e-5

    def run(err):
        return series_residuals(model, None, 3, eps=eps, times=times, n_paths=10,
                                engine_terms=engine, engine_terms_error=err, mc=mc,
                                parity="even")["results"][1:]
    declared_exact = run(np.zeros_like(true))
    assert [r["status"] for r in declared_exact] == [FAIL, FAIL]
    err = np.zeros_like(true)
    err[4], err[6] = 1e-3, 3e-3
    with_errors = run(err)
    assert [r["status"] for r in with_errors] == [PASS, PASS], with_errors[0]["message"]
    for r in with_errors:
        assert abs(r["slope"] - 4) <= 0.3
        assert eps[r["used"]].max() < 0.4 and not r["vouched"][-2:].any()
        assert r["asymptotic"].all()          # by the values alone every ε is in
    err[4] = 7e-3                                   # |T_4| = 6.3e-3: not resolved
    unresolved = run(err)
    assert [r["status"] for r in unresolved] == [SKIP, SKIP]
    assert not any(r["vouched"].any() for r in unresolved)
    assert all("T_4 and beyond" in r["message"] for r in unresolved)

def test_second_order_kernels_without_a_conjugate_variable_use_the_kick_estimator():
    """A coupled 3-unit tanh network has no closed-form p0, so no FDT estimator; its K₂ is
    checked against the kick estimator (point values, docs/theory.md §7) instead of the
    Girsanov one — with standard errors small enough to resolve the kernel."""
    import dataclasses

    from volterra_sym.model.catalogue import load_model
    from volterra_sym.verify.context import Context
    from volterra_sym.verify.mc_kernels import check_mc_kernels
    from volterra_sym.verify.settings import settings_for

    s = dataclasses.replace(settings_for(True, 7, 3), kernel_paths=4000)
    checks = check_mc_kernels(Context(load_model("tanh3"), None, 2, s), {})
    c2 = next(c for c in checks if c.name.startswith("MC: kernels order 2"))
    assert "kick vs galerkin" in c2.name and c2.status == PASS, (c2.name, c2.value)
    d = c2.data
    assert set(d["kinds"]) == {"point"}
    assert np.max(np.abs(d["mc"]) / np.maximum(d["stderr"], 1e-300)) > 10


def test_quick_second_order_kernel_of_a_nonlinear_model_resolves_the_kernel():
    """``verify tanh1d --quick``: K₂ used to go to the FDT estimator, whose tolerances
    (0.08–0.11) were as large as K₂ itself (max 0.106) — a check that could not fail,
    reported PASS. Now the kick estimator: every entry's tolerance is below a third of
    max |K₂|, the check PASSes and would fail a K₂ of 0 or of the wrong sign. A linear
    model keeps the FDT estimator (its K₂ is large next to the FDT noise)."""
    from volterra_sym.verify.mc_kernels import check_mc_kernels
    from volterra_sym.verify.settings import RESOLVE_FRACTION

    checks = check_mc_kernels(Context(load_model("tanh1d"), None, 2,
                                      settings_for(True, 12345, 1)), {})
    c2 = next(c for c in checks if c.name.startswith("MC: kernels order 2"))
    assert "kick vs" in c2.name and c2.status == PASS, (c2.name, c2.status, c2.reason)
    res = c2.data["resolution"]
    assert res.resolved == res.total == 8 and res.worst < RESOLVE_FRACTION / 1.5, res
    assert res.scale > 0.09
    # the comparison fails a kernel that is 0, or of the wrong sign
    eng, tol = np.asarray(c2.data["engine"]), np.asarray(c2.data["tol"])
    assert np.max(np.abs(eng) - tol) > 0
    s = dataclasses.replace(settings_for(True, 12345, 2), kernel_paths=2000)
    lin = check_mc_kernels(Context(load_model("linear2d"), None, 2, s), {})
    assert "fdt vs" in lin[1].name, lin[1].name


def test_kernels_with_state_dependent_noise_use_the_kick_estimator():
    """σ(h) (docs/theory.md §11) with the input beside the activation: the kick estimator
    applies (the FDT and Girsanov weights do not) and the kernels pass against the spectral
    route."""
    import dataclasses

    from volterra_sym.model.catalogue import load_model
    from volterra_sym.verify.context import Context
    from volterra_sym.verify.mc_kernels import check_mc_kernels
    from volterra_sym.verify.settings import settings_for

    s = dataclasses.replace(settings_for(True, 7, 1), kernel_paths=4000)
    checks = check_mc_kernels(Context(load_model("noisy_tanh1d"), None, 2, s), {})
    for c in checks:
        assert "kick vs spectral" in c.name and c.status == PASS, (c.name, c.reason)


def test_verify_parity_checks_the_even_and_odd_parts(tmp_path):
    """``verify --parity``: every ε also runs as −ε on the same paths and the series
    residual is checked whole, even and odd (docs/theory.md §8). The even part has no
    first-order pathwise noise, so its standard errors are far below the whole's; on the
    bistable tanh1d its M = 1 residual (ε²T_2 + …, T_2 checked) has slope 2."""
    out = tmp_path / "vp"
    code = main(["verify", "tanh1d", "--quick", "--parity", "--order", "3", "--out",
                 str(out)])
    rep = _load(out)
    checks = {c["name"]: c for c in rep["checks"]}
    assert code == 0, [c for c in rep["checks"] if c["status"] == FAIL]
    assert rep["settings"]["parity"] is True
    skipped = [c for c in rep["checks"] if c["status"] == SKIP]
    assert all(c["cause"] in SKIP_CAUSES[:-1] for c in skipped), skipped   # classified
    for M in (1, 2, 3):
        for suffix in ("", ", even part", ", odd part"):
            assert f"MC: series residual M={M} (slope{suffix})" in checks, (M, suffix)
    even = checks["MC: series residual M=1 (slope, even part)"]
    assert even["status"] == PASS and abs(float(even["value"].split()[1]) - 2) <= 0.3
    whole = checks["MC: series residual M=1 (slope)"]
    se_even, se_whole = (np.asarray(c["data"]["mc_stderr"]) for c in (even, whole))
    assert np.all(se_even < 0.5 * se_whole)


def test_verify_parity_part_whose_omitted_orders_vanish_is_an_exact_check(tmp_path):
    """linear2d's f = h1² + h1h2 has T_N = 0 for N > 2: the odd part's residual after T_1
    (orders 3, 5, …) vanishes, so its M = 1 check is the exact one (|R| ≤ 4se + remainder),
    not a slope fit reporting "more paths needed" of a residual that is zero."""
    out = tmp_path / "vl"
    code = main(["verify", "linear2d", "--quick", "--parity", "--out", str(out)])
    checks = {c["name"]: c for c in _load(out)["checks"]}
    assert code == 0
    odd = checks["MC: series residual M=1 (exact truncation, odd part)"]
    assert odd["status"] == PASS
    assert checks["MC: series residual M=1 (slope, even part)"]["status"] == PASS


def test_verify_input_is_the_series_checks_input(tmp_path):
    """``verify --input EXPR``: the series checks run for that input on every channel
    (their terms are the engine's terms for it, not for sin 2t), the report records it,
    and the checks pass on linear2d."""
    out = tmp_path / "vi"
    code = main(["verify", "linear2d", "--quick", "--input", "1 - cos(t)", "--out",
                 str(out)])
    rep = _load(out)
    assert code == 0, [c for c in rep["checks"] if c["status"] == FAIL]
    assert rep["settings"]["input"] == "1 - cos(t)" and "1 - cos(t)" in rep["input"]
    series = [c for c in rep["checks"] if c["name"].startswith("MC: series residual")]
    assert series and all(c["status"] == PASS for c in series), series
    model = load_model("linear2d")
    times = np.asarray(rep["settings"]["times"])
    H = ResponseHierarchy(model, None, 2)

    def u(t):
        return np.full(model.m, 1.0 - math.cos(t))
    want = np.asarray(H.series_terms(u, times, method="exact"))
    sine = np.asarray(H.series_terms(lambda t: np.full(model.m, math.sin(2 * t)), times,
                                     method="exact"))
    have = np.asarray(series[0]["data"]["terms"])
    assert np.allclose(have[:3], want[:3], rtol=1e-10, atol=1e-12)
    assert not np.allclose(have[1], sine[1], rtol=1e-2)


@pytest.mark.parametrize("expr, why", [("1/(t - 1)", "singular"),
                                       ("__import__('os')", "--input"),
                                       ("exp(t", "--input")])
def test_verify_bad_input_is_refused_before_work(tmp_path, capsys, expr, why):
    """A singular, unsafe or malformed ``--input``: exit 2 naming it, nothing written."""
    out = tmp_path / "vb"
    assert main(["verify", "linear2d", "--quick", "--input", expr, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--input" in err and why in err and "Traceback" not in err
    assert not out.exists()


def test_settings_input_is_checked_when_made():
    """``Settings.input``: text parsed by the whitelist parser, refused (param ``input``)
    when it is not text, not an expression in t, or singular on [0, max(times)]."""
    s = dataclasses.replace(settings_for(True, 1, 1), input="tanh(t)**2")
    assert np.allclose(s.input_function(3)(0.5), np.full(3, math.tanh(0.5) ** 2))
    for bad in (3.0, "h1 + t", "log(t - 1)", "1/(t - 2.5)"):
        with pytest.raises(InvalidInputError) as exc:
            dataclasses.replace(s, input=bad)
        assert exc.value.param == "input"
    assert dataclasses.replace(s, input="1/(t - 2.6)").input == "1/(t - 2.6)"  # past t_max


def test_taylor_degree_lowered_on_cost_refusal_for_every_request_of_the_order():
    """tanh3's order-2 Taylor chains at the default degree 8 are refused for their cost
    (2.03e7 raw terms, limit 2e7): verify retries at degree 7 (one degree for every
    order-2 request, so that symmetry tests compare like with like) and the
    galerkin-vs-taylor comparison runs instead of being skipped; the reason says so."""
    from volterra_sym.verify.symmetry import check_symmetry
    ctx = Context(load_model("tanh3"), None, 2, settings_for(True, 1, 3))
    k = ctx.kernel("taylor", (0, 0), [[0.05, 0.05], [0.1, 0.1]])
    assert k.details["degree"] == 7 and k.details["lowered_from"] == 8
    assert ctx.taylor_degrees == {2: 7}
    assert ctx.kernel("taylor", (0,), [[0.1]]).details["degree"] == 8   # order 1 unaffected
    checks = {c.name: c for c in check_kernels(ctx)}
    cmp = checks["backends: order 2 galerkin vs taylor"]
    assert cmp.status == "PASS" and ctx.taylor_note([2]) in cmp.reason
    assert "backends: order 2 [taylor]" not in checks
    sym = {c.name: c for c in check_symmetry(ctx)}["identity: kernel symmetry [taylor]"]
    assert sym.status in ("PASS", "SKIP")       # never WEAK on an all-NaN comparison


def test_taylor_far_over_its_budget_is_not_retried():
    """noisy_rnn4's K₁ chains are 3.9× over the raw-term limit at degrees 8 and 7: no
    retry (degree 6 runs 31 s, and order 2 needed degree 4: 312 s for a quick verify); the
    refusal propagates as it did and the degree stays the default."""
    ctx = Context(load_model("noisy_rnn4"), None, 1, settings_for(True, 1, 4))
    with pytest.raises(ResourceLimitError):
        ctx.kernel("taylor", (0,), [[0.05], [0.1]])
    assert ctx.taylor_degrees == {}


def test_verify_levels_3_measures_the_richardson_remainder(tmp_path, capsys):
    """``verify --levels 3``: the report records the setting, the exact-truncation check of
    linear2d charges the measured remainder (not 0.05·max|bias|) and passes, the slope check
    passes; a model simulated with its own state noise says the option does not apply to it
    (SKIP, not applicable); ``--levels 4`` is refused naming the option (exit 2)."""
    out = tmp_path / "l3"
    code = main(["verify", "linear2d", "--quick", "--levels", "3", "--out", str(out)])
    rep = _load(out)
    assert code == 0 and rep["settings"]["levels"] == 3
    series = {c["name"]: c for c in rep["checks"] if c["name"].startswith("MC: series")}
    exact = series["MC: series residual M=2 (exact truncation)"]
    assert exact["status"] == PASS and "R₁ − R₂" in exact["tolerance"]
    assert exact["data"]["mc_levels"] == 3
    assert series["MC: series residual M=1 (slope)"]["status"] == PASS
    inside = tmp_path / "in"
    main(["verify", "tanh1d_inside", "--quick", "--levels", "3", "--order", "1", "--out",
          str(inside)])
    check = next(c for c in _load(inside)["checks"] if c["name"] == "MC: series residual")
    assert check["status"] == SKIP and check["cause"] == "not applicable"
    capsys.readouterr()
    code, _, err = _cli(capsys, "linear2d", "--levels", "4")
    assert code == 2 and "--levels" in err


def test_kernel_at_zero_is_checked_without_a_closed_form_density(monkeypatch):
    """``K_k(0) = <p0, L_k f>`` was skipped ("no reference value") on every network without
    a closed-form p0; for ``f`` linear in the states ``L_k f = C_k·∇f`` is a constant, an
    exact reference: the 3-unit tanh network's galerkin and taylor routes pass it, a
    galerkin route off by 1e-6 relative fails it, and a quadratic ``f`` has no reference."""
    model = load_model("tanh3").replace(observable="2*h1 - h2 + 0.5")
    ctx = Context(model, None, 1, _small())
    check_fdt(ctx)
    C = np.asarray(model.numpy_params()["C"])
    assert ctx.fdt_reference == {0: pytest.approx(2 * C[0, 0] - C[1, 0], abs=1e-15)}
    checks = {c.name: c for c in check_kernel_at_zero(ctx)}
    assert checks["identity: K_k(0) = <p0, L_k f> [galerkin]"].status == PASS
    monkeypatch.setattr(ResponseKernel, "evaluate", _scaled(1 + 1e-6, "galerkin"))
    ctx = Context(model, None, 1, _small())
    check_fdt(ctx)
    checks = {c.name: c for c in check_kernel_at_zero(ctx)}
    assert checks["identity: K_k(0) = <p0, L_k f> [galerkin]"].status == FAIL
    quad = Context(model.replace(observable="h1**2"), None, 1, _small())
    check_fdt(quad)
    assert quad.fdt_reference == {}
    skipped = check_kernel_at_zero(quad)
    assert skipped and all(c.status == SKIP and "not linear in the states" in c.reason
                           for c in skipped)


def test_kernel_check_at_a_coarse_dt_skips_and_keeps_its_plot_data():
    """Where ``rate·dt > 0.5`` the Monte Carlo's error is unknown: the kernel check is a SKIP
    naming dt, and its plot data are whole (an empty dict was returned, which the kernel
    figure would index)."""
    import types

    from volterra_sym.montecarlo import kick_kernel
    from volterra_sym.verify.mc_kernels import _compare
    from volterra_sym.verify.settings import SKIP

    model = load_model("tanh1d")
    lags = np.array([0.4, 0.8])
    est = kick_kernel(model, lags, n_paths=300, dt=0.4, seed=1)
    assert est.richardson_rel is None and est.error is None
    eng = np.asarray(est.value)
    s = types.SimpleNamespace(window=None, origin_stride=0.4)
    check, data = _compare("kernels order 1", est, "kick", eng, np.zeros_like(eng),
                           lags[:, None], ["point"] * 2, "spectral", s, seed=1, seconds=0.0)
    assert check.status == SKIP and "dt = 0.4" in check.reason
    for key in ("lags", "mc", "stderr", "n_paths", "n_origins", "dt"):
        assert key in data
