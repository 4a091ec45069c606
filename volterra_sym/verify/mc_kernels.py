"""Check group 3: kernels of orders 1 and 2 against Monte Carlo (docs/theory.md §7).

First order: the fluctuation–dissipation estimator (needs the conjugate variables ``v_k``),
else the Girsanov estimator (needs ``C = σB``), else the kick estimator (central differences
of kicked common-noise paths, point values). Second order: the kick estimator, except for
linear models with both ``v_k`` and ``C = σB`` (FDT); the Girsanov ``K₂`` of a 10-unit
network had standard errors 0.12–0.17, no signal, and the FDT ``K₂`` of ``tanh1d`` on
``--quick`` tolerances as large as the kernel (:func:`_plan`):
``|engine - MC| ≤ 4·se + |bias| + 4·se_bias + rel·max|bias| + err_engine`` (the estimate's
``error`` plus the engine's); windowed (Girsanov) estimates are compared with the engine
kernel averaged over the same window (6-point Gauss–Legendre).
Models with ``σ(h)`` (docs/theory.md §11) use the kick estimator; models with the input
inside the activation (§10): SKIP (no estimator applies; the series check meets Monte
Carlo instead).
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from ..errors import NotApplicableError
from ..model import SRNN
from ..model.noise import FEATURE_ACTIVATION_INPUT
from ..montecarlo import (
    conjugate_variables,
    first_order_kernel,
    girsanov_matrix,
    kick_kernel,
    second_order_kernel,
)
from ..montecarlo.error_bounds import time_step_error
from .context import Context, fmt, kick_name, kname, lags_text, slack
from .settings import (
    FAIL,
    NOT_APPLICABLE,
    SKIP,
    Check,
    Resolution,
    Z,
    agreement_status,
    annotate,
    error_check,
    resolution,
)

__all__ = ["check_mc_kernels", "estimators"]

GROUP = "mc-kernels"
#: paths per chunk of the kick estimator (its numbers do not depend on it): its copies of
#: 2,048 paths stay in cache — tanh1d's K₂ at 10,000 paths took 3.4 s in chunks of 2,048
#: against 5.0 s in one chunk of 10,240
KICK_CHUNK = 2048
_GL_X, _GL_W = np.polynomial.legendre.leggauss(6)
_GL_X, _GL_W = 0.5 * (_GL_X + 1.0), 0.5 * _GL_W     # nodes / weights on [0, 1]


def estimators(model: SRNN) -> tuple[bool, bool, str, str]:
    """``(has_v, has_B, why_not_v, why_not_B)``: which Monte Carlo kernel estimators apply
    (a not-applicable error of the probe is the reason; other errors propagate)."""
    try:
        conjugate_variables(model)
        has_v, why_v = True, ""
    except NotApplicableError as exc:
        has_v, why_v = False, str(exc)
    try:
        girsanov_matrix(model)
        has_B, why_B = True, ""
    except NotApplicableError as exc:
        has_B, why_B = False, str(exc)
    return has_v, has_B, why_v, why_B


def _engine_windowed(ctx: Context, method: str, channels, pts_per_entry, weights):
    """Weighted averages of the kernel over point sets (one set per entry), and the
    weighted sums of the error estimates."""
    sizes = [len(p) for p in pts_per_entry]
    res = ctx.kernel(method, tuple(channels), np.concatenate(pts_per_entry))
    vals, errs = res.values, res.error
    out, err, pos = [], [], 0
    for s, w in zip(sizes, weights, strict=True):
        out.append(float(np.dot(w, vals[pos:pos + s])))
        err.append(float(np.dot(np.abs(w), errs[pos:pos + s])))
        pos += s
    return np.array(out), np.array(err)


def _entry_points(N: int, lag, kind: str, delta: float):
    """Points and weights whose weighted sum is what the MC entry estimates."""
    if kind == "point":
        return np.atleast_2d(np.asarray(lag, float)).reshape(1, N), np.ones(1)
    if N == 1:  # girsanov window [σ, σ+δ]
        return (lag[0] + delta * _GL_X)[:, None], _GL_W.copy()
    s1, s2 = float(lag[0]), float(lag[1])
    if kind == "mix":  # recent kick averaged over [σ1, σ1+δ], earlier at σ2
        return np.stack([s1 + delta * _GL_X, np.full_like(_GL_X, s2)], 1), _GL_W.copy()
    # girsanov, both windows
    a, b = np.meshgrid(s1 + delta * _GL_X, s2 + delta * _GL_X, indexing="ij")
    return np.stack([a.ravel(), b.ravel()], 1), np.outer(_GL_W, _GL_W).ravel()


def _plan(N: int, s, has_v: bool, has_B: bool, linear: bool):
    """``(lags, estimator)`` of order ``N`` (models with the features of docs/theory.md
    §10–§11 have neither weight: ``has_v = has_B = False``, the kick estimator).

    ``K₂`` of a nonlinear model goes to the kick estimator even where the FDT one applies:
    the FDT–Girsanov weight's variance does not shrink with the kernel, and a nonlinear
    model's ``K₂`` (the activation's curvature) is small — on ``tanh1d`` with 10,000 paths
    (``--quick``) the FDT standard errors were 0.020–0.028 beside ``max |K₂| = 0.106``
    (tolerances up to 1.07 of it: WEAK), the kick ones 0.002–0.006 (tolerances ≤ 0.25 of
    it). A linear model keeps FDT: its ``K₂`` comes from the observable's curvature and is
    large next to the FDT noise (``linear2d``: tolerances ≤ 0.09 of ``max |K₂| = 2``), and
    the kick estimator's differences have no variance there at all, which would leave the
    comparison to the O(dt²) remainder of its Richardson extrapolation."""
    if N == 1:
        return np.asarray(s.mc_lags1, float), ("fdt" if has_v else
                                               ("girsanov" if has_B else "kick"))
    lags = np.asarray(s.mc_lags2, float)
    if has_v and has_B and linear:
        return lags, "fdt"
    return lags, "kick"


def check_mc_kernels(ctx: Context, plots: dict, progress=None) -> list[Check]:
    """Orders 1 and 2 (those ``≤ order``) against their Monte Carlo estimates."""
    s = ctx.settings
    out = []
    if ctx.model.features:
        # docs/theory.md §10–§11: the FDT weight needs v_k, the Girsanov one an input through
        # constant noise; the kick estimator kicks along L_k's field b_k(h) and always applies
        has_v = has_B = False
    else:
        has_v, has_B, _, _ = estimators(ctx.model)
    method = ctx.primary
    for N in (1, 2):
        name = f"MC: kernels order {N}"
        if N > ctx.order:
            continue
        if method is None:
            out.append(Check(name, GROUP, SKIP, reason="no backend applies",
                             cause=NOT_APPLICABLE))
            continue
        lags, est_method = _plan(N, s, has_v, has_B, ctx.model.is_linear)
        # engine values first (window-averaged where the estimator is): a route that
        # refuses makes the Monte Carlo run pointless
        m = ctx.model.m
        shape = (len(lags),) + (m,) * N
        eng = np.full(shape, np.nan)
        eng_err = np.full(shape, np.nan)
        lag_rows = lags.reshape(len(lags), -1)
        kinds = []
        for lag in lag_rows:
            if est_method == "kick":
                kinds.append("point")
            elif N == 1:
                kinds.append("window" if est_method == "girsanov" else "point")
            elif est_method == "girsanov":
                kinds.append("window")
            else:
                kinds.append("mix" if lag[1] > lag[0] else "point")
        try:
            for ch in itertools.product(range(m), repeat=N):
                pts, wts = zip(*[_entry_points(N, lag, kd, s.window)
                                 for lag, kd in zip(lag_rows, kinds, strict=True)], strict=True)
                v, e = _engine_windowed(ctx, method, ch, list(pts), list(wts))
                idx = (slice(None),) + ch
                eng[idx], eng_err[idx] = v, e
        except Exception as exc:  # noqa: BLE001 - status by type
            out.append(error_check(name, GROUP, exc, f"engine ({method}): "))
            continue
        if not np.isfinite(eng).any():
            out.append(Check(name, GROUP, SKIP, cause=NOT_APPLICABLE,
                             reason=f"the engine ({method}) gives no value at the MC lags"))
            continue
        if progress is not None:
            progress(f"MC kernels order {N} ({est_method}, {s.kernel_paths} paths)")
        t0 = time.time()
        kw = dict(observable=ctx.f, method=est_method, n_paths=s.kernel_paths, dt=s.dt,
                  scheme=s.scheme, n_origins=s.kernel_origins, origin_stride=s.origin_stride,
                  seed=s.seed + N, chunk_size=s.chunk_size)
        try:
            if est_method == "kick":
                est = kick_kernel(ctx.model, lags, observable=ctx.f, n_paths=s.kernel_paths,
                                  dt=s.dt, seed=s.seed + N,
                                  chunk_size=min(s.chunk_size, KICK_CHUNK))
            elif N == 1:
                est = first_order_kernel(ctx.model, lags,
                                         window=s.window if est_method == "girsanov" else None,
                                         **kw)
            else:
                est = second_order_kernel(ctx.model, lags, window=s.window, **kw)
        except Exception as exc:  # noqa: BLE001 - status by type
            out.append(error_check(name, GROUP, exc, "Monte Carlo: "))
            continue
        elapsed = time.time() - t0
        check, plots[f"kernel{N}"] = _compare(name, est, est_method, eng, eng_err, lags, kinds,
                                              method, s, seed=s.seed + N, seconds=elapsed)
        out.append(check)
    if FEATURE_ACTIVATION_INPUT in ctx.model.features and ctx.order >= 2 and method:
        out.append(_check_contact(ctx, method, plots, progress))
    return out


def _check_contact(ctx: Context, method: str, plots: dict, progress=None) -> Check:
    """The contact kernels ``K^{(2)}_{k1k2}(σ) = <p0, L^{(2)}_{k1k2} P_σ f>`` (``k1 ≤ k2``,
    the lags of order 1) against the kick estimator along ``a''(z)/2 C_{k1} ⊙ C_{k2}``."""
    s = ctx.settings
    name = "MC: contact kernels order 2"
    m = ctx.model.m
    lags = np.asarray(s.mc_lags1, float)
    eng = np.full((len(lags), m, m), np.nan)
    eng_err = np.full_like(eng, np.nan)
    try:
        for k1 in range(m):
            for k2 in range(k1, m):
                res = ctx.kernel(method, ((k1, k2),), lags[:, None])
                eng[:, k1, k2], eng_err[:, k1, k2] = res.values, res.error
    except Exception as exc:  # noqa: BLE001 - status by type
        return error_check(name, GROUP, exc, f"engine ({method}): ")
    if progress is not None:
        progress(f"MC contact kernels order 2 (kick, {s.kernel_paths} paths)")
    seed = s.seed + 3
    t0 = time.time()
    try:
        est = kick_kernel(ctx.model, lags, observable=ctx.f, n_paths=s.kernel_paths, dt=s.dt,
                          seed=seed, chunk_size=min(s.chunk_size, KICK_CHUNK), contact=True)
    except Exception as exc:  # noqa: BLE001 - status by type
        return error_check(name, GROUP, exc, "Monte Carlo: ")
    check, plots["contact2"] = _compare(name, est, "kick", eng, eng_err, lags,
                                        ["point"] * len(lags), method, s, seed=seed,
                                        seconds=time.time() - t0,
                                        label=lambda ch: kick_name((tuple(ch),)))
    return check


def _compare(name: str, est, est_method: str, eng: np.ndarray, eng_err: np.ndarray,
             lags: np.ndarray, kinds: list, method: str, s, *, seed: int, seconds: float,
             label=kname) -> tuple[Check, dict]:
    """``|engine − MC| ≤ 4·se + |bias| + 4·se_bias + rel·max|bias| + err_engine`` entry by
    entry (the Monte Carlo's own ``error``, :func:`~volterra_sym.montecarlo.error_bounds.\
time_step_error`): the check and its plot data (a SKIP where the engine gives no value at
    the lags or ``dt`` is too coarse for the bound). An entry the engine gives and Monte
    Carlo (or its error bar) does not is a FAIL; ``label(channels)`` names an entry's
    kernel."""
    bias = np.zeros_like(est.value) if est.bias is None else est.bias
    bse = np.zeros_like(est.value) if est.bias_stderr is None else est.bias_stderr
    rel = est.richardson_rel
    tol = (np.full(est.value.shape, np.nan) if rel is None
           else time_step_error(est.stderr, bias, bse, Z, rel=rel)) + slack(eng_err)
    diff = np.abs(est.value - eng)
    good = np.isfinite(diff)
    broken = np.isfinite(eng) & ~(np.isfinite(diff) & np.isfinite(tol))
    ratio = np.where(good, diff / np.maximum(tol, 1e-300), np.nan)
    data = {"estimator": est_method, "engine_method": method, "lags": lags,
            "kinds": kinds, "window": s.window, "mc": est.value, "stderr": est.stderr,
            "bias": bias, "bias_stderr": bse, "engine": eng, "engine_error": eng_err,
            "tol": tol, "n_paths": est.n_paths, "n_origins": est.n_origins,
            "origin_stride": s.origin_stride, "dt": est.dt, "scheme": est.scheme,
            "seed": seed, "seconds": seconds}
    if not good.any():
        return Check(name, GROUP, SKIP, cause=NOT_APPLICABLE,
                     reason=f"the engine ({method}) gives no value at the MC lags"), data
    if rel is None:        # the plot keeps its data (an empty dict broke the figure)
        return Check(name, GROUP, SKIP, cause=NOT_APPLICABLE,
                     reason=f"dt = {est.dt:g} is too coarse for the Monte Carlo's error bound "
                            "(rate·dt > 0.5)"), data
    full = f"{name} ({est_method} vs {method})"
    if broken.any():
        j = np.unravel_index(int(np.flatnonzero(broken)[0]), broken.shape)
        return Check(full, GROUP, FAIL,
                     value=f"{int(broken.sum())} non-finite Monte Carlo entries",
                     tolerance="finite",
                     reason=f"Monte Carlo ({est_method}) gave {est.value[j]} ± "
                            f"{est.stderr[j]} at {label(j[1:])}{lags_text(lags[j[0]])}",
                     data=data), data
    jmax = np.unravel_index(np.nanargmax(ratio), ratio.shape)
    ch = tuple(int(c) for c in jmax[1:])
    vanishes = bool(np.all(eng[good] == 0) and np.all(eng_err[good] == 0))
    # an engine exactly 0 with error 0 at every lag (order 2 of a linear model with a
    # linear observable): nothing to resolve but the Monte Carlo's own bias at 0, which
    # the tolerance bounds; judged against the Monte Carlo noise it was always WEAK
    res = (Resolution(int(good.sum()), int(good.sum()), 0.0, 0.0) if vanishes
           else resolution(tol[good], eng[good], est.value[good]))
    data["resolution"] = res
    st = agreement_status(bool(np.nanmax(ratio) <= 1.0), res)
    return Check(
        full, GROUP, st,
        value=f"max |Δ|/tol = {fmt(float(np.nanmax(ratio)))} "
              f"({label(ch)}{lags_text(lags[jmax[0]])})",
        tolerance="4se+|bias|+4se_b+rel·max|bias|+err",
        reason=annotate(f"{int(good.sum())} entries, {est.n_paths} paths, dt={est.dt:g}"
                        + (f", window {s.window:g}" if any(k != 'point' for k in kinds)
                           else "")
                        + ("; the engine's kernel is exactly 0 (error 0) at every lag: the "
                           "check bounds the Monte Carlo's value" if vanishes else ""), res),
        data=data), data
