"""``volterra-sym verify``: end-to-end run, a broken backend, the truncation-error slope.

The slope test is an acceptance criterion (THEORY §8): on a 1-D tanh model with
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

import argparse
import dataclasses
import json

import numpy as np
import pytest

import volterra_sym.verify as verify_mod
from volterra_sym import SRNN
from volterra_sym.backends import available_methods, get_backend
from volterra_sym.verify import FAIL, PASS, SKIP, run_verify, series_residuals


def _args(model, out, **kw):
    base = dict(model=model, order=2, observable=None, out=str(out), quick=True, seed=12345)
    base.update(kw)
    return argparse.Namespace(**base)


def _small(monkeypatch):
    """Few paths: these tests are about the bookkeeping, not the statistics."""
    base = verify_mod.settings_for

    def small(quick, seed):
        return dataclasses.replace(base(True, seed), kernel_paths=2000, kernel_origins=5,
                                   series_paths=4000, eps=(0.1, 0.2, 0.4))
    monkeypatch.setattr(verify_mod, "settings_for", small)


def _load(out):
    return json.loads((out / "verify.json").read_text())


# ---------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def linear2d_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("verify_linear2d")
    code = run_verify(_args("linear2d", out))
    return code, out


def test_linear2d_quick_passes(linear2d_run, capsys):
    code, out = linear2d_run
    assert code == 0, json.dumps([c for c in _load(out)["checks"] if c["status"] == FAIL],
                                 indent=1)[:3000]
    for name in ("verify.json", "kernels.png", "residuals.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name


def test_linear2d_json_has_every_check(linear2d_run):
    _, out = linear2d_run
    rep = _load(out)
    assert rep["exit_code"] == 0
    assert rep["model"] == "linear2d" and rep["order"] == 2
    assert rep["seed"] == 12345 and rep["settings"]["dt"] > 0
    assert rep["settings"]["series_paths"] > 0 and rep["settings"]["kernel_paths"] > 0
    assert "exact" in rep["applicable_methods"]
    checks = rep["checks"]
    assert all(c["status"] in (PASS, FAIL, SKIP) for c in checks)
    assert all(c["reason"] for c in checks if c["status"] == SKIP)
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
    k1 = next(c for c in checks if c["name"].startswith("MC: kernels order 1"))["data"]
    assert len(k1["mc"]) == len(k1["lags"]) and k1["seed"] is not None


# ---------------------------------------------------------------------- broken backend
def test_broken_backend_fails(tmp_path, monkeypatch, capsys):
    exact = get_backend("exact")
    original = exact.kernel

    def broken(model, f, channels, sorted_lags, *, return_error=False, **options):
        res = original(model, f, channels, sorted_lags, return_error=return_error, **options)
        if return_error:
            return res[0] * 1.01, res[1]
        return res * 1.01

    monkeypatch.setattr(exact, "kernel", broken)
    _small(monkeypatch)
    code = run_verify(_args("linear2d", tmp_path, order=1))
    assert code == 1
    rep = _load(tmp_path)
    failed = [c["name"] for c in rep["checks"] if c["status"] == FAIL]
    assert "identity: K_k(0) = <p0, L_k f> [exact]" in failed
    if len(rep["applicable_methods"]) > 1:
        assert any(n.startswith("backends: order 1 exact vs") for n in failed), failed
    table = capsys.readouterr().out
    assert "FAIL" in table and "K_k(0) = <p0, L_k f> [exact]" in table


def test_crashing_backend_is_a_failed_check(tmp_path, monkeypatch):
    """An exception inside one backend is reported; the other checks still run."""
    exact = get_backend("exact")

    def crash(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(exact, "kernel", crash)
    _small(monkeypatch)
    code = run_verify(_args("linear2d", tmp_path, order=1))
    assert code == 1
    rep = _load(tmp_path)
    bad = [c for c in rep["checks"] if c["status"] == FAIL]
    assert any("boom" in c["reason"] for c in bad)
    assert any(c["name"] == "identity: L0* p0 = 0" and c["status"] == PASS
               for c in rep["checks"])


# ---------------------------------------------------------------------- bad input
def test_unknown_model_exit_2(tmp_path, capsys):
    code = run_verify(_args("no_such_model", tmp_path))
    assert code == 2
    err = capsys.readouterr().err
    assert "no_such_model" in err and "built-in" in err
    assert not (tmp_path / "verify.json").exists()


def test_bad_order_and_observable_exit_2(tmp_path, capsys):
    assert run_verify(_args("linear2d", tmp_path, order=0)) == 2
    assert "order" in capsys.readouterr().err
    assert run_verify(_args("linear2d", tmp_path, observable="__import__('os')")) == 2
    assert "error" in capsys.readouterr().err


def test_cli_unknown_model(capsys):
    from volterra_sym.cli import main

    assert main(["verify", "definitely_not_a_model", "--quick"]) == 2
    assert "definitely_not_a_model" in capsys.readouterr().err


# ---------------------------------------------------------------------- THEORY §8 slope
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


@pytest.mark.slow
def test_tanh1d_full_verify_runs(tmp_path):
    """The built-in bistable tanh1d: no failures (the M = 2 slope may be skipped: noise)."""
    code = run_verify(_args("tanh1d", tmp_path, quick=False))
    rep = _load(tmp_path)
    assert code == 0, [c for c in rep["checks"] if c["status"] == FAIL]
    m1 = next(c for c in rep["checks"] if c["name"] == "MC: series residual M=1 (slope)")
    assert m1["status"] == PASS
