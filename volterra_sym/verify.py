"""``volterra-sym verify``: every route against every other and against Monte Carlo.

    volterra-sym verify MODEL [--order N] [--observable EXPR] [--out DIR] [--quick] [--seed S]

Runs every check that applies to the model (THEORY §3, §4, §7, §8) and exits 0 only if
none fails (1 if one fails, 2 for bad input):

1. **identities** — ``L0* p0 = 0`` for a closed-form density (``density.verify()``); the
   fluctuation–dissipation identity ``<p0, L_k g> = E_0[v_k g]`` for the observable and a
   polynomial test function, and ``K_k(0) = <p0, L_k f>`` for every backend; the symmetry
   of the kernels of order ≥ 2 under simultaneous permutation of channels and lags
   (permutation invariance of ``evaluate``, ``K_{k1k2}(σ,σ) = K_{k2k1}(σ,σ)`` and
   continuity across the diagonal ``σ1 = σ2``) for every backend.
2. **backends** — kernels of orders ``1..N`` of every pair of backends that apply (exact,
   spectral, taylor — the latter only at lags inside its reported valid range) at a set
   of lags: ``|a - b| ≤ err_a + err_b + 1e-8·scale``; series terms of exact vs spectral.
3. **Monte Carlo kernels** — orders 1 and 2 against the fluctuation–dissipation estimator
   (needs ``v_k``) or else the Girsanov estimator (needs ``C = σB``):
   ``|engine - MC| ≤ 4·se + |bias| + 4·se_bias`` (+ the engine's error estimate); windowed
   (Girsanov) estimates are compared with the engine kernel averaged over the same window.
4. **Monte Carlo series** — the residual ``R_M(ε) = MC response - Σ_{1≤N≤M} ε^N T_N(t)`` for
   ``u_k(t) = sin(2t)`` on every channel at geometric ``ε ∈ [0.05, 0.4]``, from one run of
   common-random-number paths (every ε in lockstep with ε = 0), exponential scheme, time-step
   bias removed per path by Richardson extrapolation (``2·Δ(dt/2) - Δ(dt)``, whose standard
   error therefore includes the bias's). THEORY §8: ``R_M = O(ε^{M+1})``; the fitted
   log–log slope must be ``M+1 ± 0.3`` (the first order ``> M`` whose term does not vanish
   at the chosen time), using only the ε whose residual is above the MC noise floor
   (``3·se``) and where the engine's next order is at most 15 % of the leading one (so that
   the slope is that of the leading order). The time is the one (of a grid) where the
   engine predicts the most such ε above the floor. When the truncated series is exact
   (linear model, polynomial observable of degree ≤ M) the check is instead
   ``|R_M| ≤ 4·se + 0.05·max_t|bias|`` (the second term bounds the O(dt²) remainder of the
   Richardson extrapolation, which matters when the response has no noise at all).

   The noise floor is ``ε·sd(D1)/√P`` (``D1`` the pathwise derivative of the response), the
   ``M = 2`` residual ``ε³T_3``: for noisy, weakly nonlinear models the small-ε points drop
   out and the check reports SKIP with the reason rather than fit noise.

Output: a table on stdout, ``DIR/verify.json`` (every number, seed, ``dt``, ``n_paths``,
methods) and the figures ``DIR/kernels.png`` and ``DIR/residuals.png``; progress on stderr.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sympy as sp

from .model import SRNN, ModelError
from .parsing import ExpressionError

__all__ = ["run_verify", "verify_model", "Check", "Settings", "settings_for",
           "crn_responses", "CRNResponses", "series_residuals", "fit_slope", "PASS", "FAIL",
           "SKIP"]

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
#: relative floor added to every engine-vs-engine tolerance (× the kernel's scale)
REL_FLOOR = 1e-8
#: slope tolerance of the truncation-error check (THEORY §8)
SLOPE_TOL = 0.3
#: a residual is "above the MC noise floor" when |R| > NOISE_FLOOR · se
NOISE_FLOOR = 3.0
#: the slope fit uses only ε where the engine's next order is ≤ this fraction of the leading one
NEXT_ORDER = 0.15
#: bound of the Richardson remainder relative to the measured time-step bias (exact case)
RICHARDSON_REL = 0.05
#: z-score multiplier of the Monte Carlo comparisons
Z = 4.0
_GL_X, _GL_W = np.polynomial.legendre.leggauss(6)
_GL_X, _GL_W = 0.5 * (_GL_X + 1.0), 0.5 * _GL_W     # nodes / weights on [0, 1]


# ====================================================================== settings
@dataclass(frozen=True)
class Settings:
    """Everything that fixes the numbers of a run (written to ``verify.json``)."""

    quick: bool
    seed: int
    dt: float = 0.01
    scheme: str = "exponential"
    kernel_paths: int = 40_000
    kernel_origins: int = 20
    origin_stride: float = 0.5
    window: float = 0.1
    series_paths: int = 600_000
    eps: tuple[float, ...] = tuple(np.geomspace(0.05, 0.4, 6))
    times: tuple[float, ...] = tuple(np.round(np.arange(0.5, 3.001, 0.25), 10))
    mc_lags1: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0)
    mc_lags2: tuple[tuple[float, float], ...] = ((0.0, 0.0), (0.25, 0.25), (0.5, 0.5),
                                                (1.0, 1.0), (0.25, 0.5), (0.25, 0.75),
                                                (0.25, 1.25), (0.25, 2.0))
    continuity_step: float = 0.01
    chunk_size: int = 16384

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def settings_for(quick: bool, seed: int) -> Settings:
    """Defaults: the full run takes a minute or two on two cores, ``--quick`` a few seconds."""
    if quick:
        return Settings(quick=True, seed=seed, kernel_paths=10_000, kernel_origins=10,
                        series_paths=100_000, eps=(0.05, 0.1, 0.2, 0.4),
                        times=tuple(np.round(np.arange(0.5, 2.501, 0.25), 10)))
    return Settings(quick=False, seed=seed)


# ====================================================================== checks
@dataclass
class Check:
    """One line of the report."""

    name: str
    group: str
    status: str
    value: str = ""
    tolerance: str = ""
    reason: str = ""
    data: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"name": self.name, "group": self.group, "status": self.status,
                "value": self.value, "tolerance": self.tolerance, "reason": self.reason,
                "data": self.data}


def _progress(msg: str) -> None:
    print(f"verify: {msg}", file=sys.stderr, flush=True)


def _fmt(x: float) -> str:
    return "nan" if x is None or not np.isfinite(x) else f"{x:.3g}"


def _limit_error(exc: Exception) -> bool:
    """A backend refusing an order / size it does not support (a skip, not a failure)."""
    msg = str(exc)
    return ("order" in msg and ("≤" in msg or "beyond" in msg or "supports" in msg)) \
        or "does not apply" in msg


def _lags_text(lag) -> str:
    lag = np.atleast_1d(np.asarray(lag, float))
    return "(" + ", ".join(f"{x:g}" for x in lag) + ")"


def _kname(channels) -> str:
    return "K" + "".join(str(k + 1) for k in channels) if max(channels, default=0) < 9 \
        else "K[" + ",".join(str(k + 1) for k in channels) + "]"


# ====================================================================== context
class _Context:
    """Model, hierarchy, applicable methods and a cache of engine evaluations."""

    def __init__(self, model: SRNN, observable, order: int, settings: Settings):
        from .backends import available_methods, get_backend
        from .hierarchy import ResponseHierarchy

        self.model, self.order, self.settings = model, order, settings
        self.H = ResponseHierarchy(model, observable, order)
        self.f = self.H.f
        self.methods: list[str] = []
        self.method_info: dict[str, str] = {}
        for name in ("exact", "spectral", "taylor"):
            if name not in available_methods():
                self.method_info[name] = "not available in this version"
                continue
            try:
                reason = get_backend(name).applies(model, self.f)
            except Exception as exc:  # noqa: BLE001 - a broken applies() is reported
                reason = f"applies() raised {type(exc).__name__}: {exc}"
            if reason is None:
                self.methods.append(name)
                self.method_info[name] = "applies"
            else:
                self.method_info[name] = reason
        full = [m for m in self.methods if m in ("exact", "spectral")]
        #: the method used against Monte Carlo (kernels at any lag)
        self.primary = full[0] if full else (self.methods[0] if self.methods else None)
        self.series_method = full[0] if full else None
        self._cache: dict = {}

    def channel_tuples(self, N: int) -> list[tuple[int, ...]]:
        m = self.model.m
        alltup = list(itertools.product(range(m), repeat=N))
        if len(alltup) <= 4:
            return alltup
        picks = [(0,) * N, (m - 1,) * N, tuple((j % 2) * (m - 1) for j in range(N)),
                 tuple(((j + 1) % 2) * (m - 1) for j in range(N))]
        return list(dict.fromkeys(picks))

    def kernel(self, method: str, channels: tuple[int, ...], lags) -> tuple[np.ndarray,
                                                                               np.ndarray]:
        """``(values, errors)`` at ``lags (P, N)``; entries a backend cannot give reliably
        (taylor beyond its valid range) are NaN. Exceptions propagate."""
        lags = np.asarray(lags, dtype=float).reshape(-1, len(channels))
        key = (method, channels, lags.tobytes())
        if key in self._cache:
            return self._cache[key]
        K = self.H.kernel(channels)
        opts = {"on_radius": "warn"} if method == "taylor" else {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vals, errs = K.evaluate(lags, method=method, return_error=True, **opts)
        vals = np.array(vals, dtype=float).reshape(-1)
        errs = np.abs(np.array(errs, dtype=float).reshape(-1))
        if method == "taylor":
            good = np.isfinite(vals) & np.isfinite(errs)
            scale = np.max(np.abs(vals[good]), initial=0.0)
            good &= errs <= 1e-2 * max(scale, 1e-300)
            vals = np.where(good, vals, np.nan)
            errs = np.where(good, errs, np.nan)
        self._cache[key] = (vals, errs)
        return vals, errs


def _comparison_lags(N: int) -> np.ndarray:
    if N == 1:
        return np.array([0.0, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0])[:, None]
    if N == 2:
        return np.array([[0, 0], [0.05, 0.05], [0.1, 0.2], [0.2, 0.1], [0.25, 0.5],
                         [0.5, 0.5], [1.0, 0.5], [0.0, 1.0], [1.0, 2.0]], dtype=float)
    r = np.arange(1, N + 1, dtype=float)
    return np.array([np.zeros(N), 0.05 * r, 0.1 * r[::-1], 0.25 * r, np.full(N, 0.5),
                     0.5 * r])


# ====================================================================== 1. identities
def _check_density(ctx: _Context) -> list[Check]:
    from .density import stationary_density

    name = "identity: L0* p0 = 0"
    try:
        dens = stationary_density(ctx.model)
    except Exception as exc:  # noqa: BLE001
        return [Check(name, "identities", FAIL, reason=f"stationary_density failed: {exc}")]
    ctx.density = dens
    if dens.kind == "numerical":
        return [Check(name, "identities", SKIP, reason="no closed-form stationary density "
                      "(kind 'numerical'): nothing to verify symbolically")]
    try:
        v = dens.verify()
    except Exception as exc:  # noqa: BLE001
        return [Check(name, "identities", FAIL, reason=f"density.verify() raised: {exc}")]
    return [Check(name, "identities", PASS if v.ok else FAIL,
                  value=f"residual {sp.sstr(v.residual)[:40]}" + (" (exact)" if v.exact
                                                                   else " (floats)"),
                  tolerance="== 0", reason=f"closed form of kind {dens.kind!r}",
                  data={"kind": dens.kind, "residual": sp.sstr(v.residual),
                        "exact": bool(v.exact)})]


def _as_number(x) -> float | None:
    x = sp.sympify(x)
    if x.has(sp.Integral) or x.free_symbols:
        return None
    try:
        return float(x.evalf(30))
    except (TypeError, ValueError):
        return None


def _check_fdt(ctx: _Context) -> list[Check]:
    from .operators import perturbation

    dens = getattr(ctx, "density", None)
    model, f = ctx.model, ctx.f
    if dens is None or dens.kind == "numerical":
        return [Check("identity: <p0, L_k g> = E0[v_k g]", "identities", SKIP,
                      reason="no closed-form p0: the conjugate variables v_k = "
                             "-C_k·∇log p0 are not available symbolically")]
    out = []
    try:
        v = dens.conjugate_variables()
    except Exception as exc:  # noqa: BLE001
        return [Check("identity: <p0, L_k g> = E0[v_k g]", "identities", FAIL,
                      reason=f"conjugate_variables() raised: {exc}")]
    h = model.h
    tests = [("f", f), ("g_test", sp.expand((h[0] + h[-1]) ** 2 + h[0]))]
    ctx.fdt_reference = {}
    for k in range(model.m):
        rows, bad, skipped = [], [], []
        for label, g in tests:
            try:
                lhs = dens.expectation(sp.expand(perturbation(model, k, g)))
                rhs = dens.expectation(sp.expand(v[k] * g))
            except Exception as exc:  # noqa: BLE001
                bad.append(f"{label}: expectation raised {exc}")
                continue
            a, b = _as_number(lhs), _as_number(rhs)
            if a is None or b is None:
                skipped.append(f"{label}: no closed-form expectation")
                continue
            exact = not (sp.sympify(lhs).has(sp.Float) or sp.sympify(rhs).has(sp.Float))
            if exact:
                ok = sp.simplify(sp.sympify(lhs) - sp.sympify(rhs)) == 0
                tol = 0.0
            else:
                tol = 1e-12 * (1.0 + abs(a) + abs(b))
                ok = abs(a - b) <= tol
            rows.append({"g": str(g), "lhs": a, "rhs": b, "diff": abs(a - b), "tol": tol,
                         "exact": exact, "ok": bool(ok)})
            if label == "f":
                ctx.fdt_reference[k] = a
            if not ok:
                bad.append(f"{label}: {a!r} != {b!r}")
        name = f"identity: <p0, L_{k + 1} g> = E0[v_{k + 1} g]"
        if bad:
            st, reason = FAIL, "; ".join(bad)
        elif not rows:
            st, reason = SKIP, "; ".join(skipped)
        else:
            st, reason = PASS, f"g in {{{', '.join(r['g'] for r in rows)}}}"
        out.append(Check(name, "identities", st,
                         value="max |Δ| = " + _fmt(max((r["diff"] for r in rows),
                                                       default=float("nan"))),
                         tolerance="exact" if rows and all(r["exact"] for r in rows)
                         else "1e-12 rel", reason=reason, data={"tests": rows}))
    # K_k(0) = <p0, L_k f> for every backend
    for method in ctx.methods:
        rows, errs_msg = [], []
        for k, ref in ctx.fdt_reference.items():
            try:
                val, err = ctx.kernel(method, (k,), [[0.0]])
            except Exception as exc:  # noqa: BLE001
                errs_msg.append(f"{type(exc).__name__}: {exc}")
                continue
            if not np.isfinite(val[0]):
                continue
            tol = float(err[0]) + REL_FLOOR * max(abs(ref), abs(val[0]), 1e-300)
            rows.append({"channel": k, "kernel": float(val[0]), "error": float(err[0]),
                         "reference": ref, "diff": abs(val[0] - ref), "tol": tol,
                         "ok": bool(abs(val[0] - ref) <= tol)})
        name = f"identity: K_k(0) = <p0, L_k f> [{method}]"
        if errs_msg:
            out.append(Check(name, "identities", FAIL, reason="; ".join(errs_msg)[:300]))
        elif not rows:
            out.append(Check(name, "identities", SKIP, reason="no reference value"))
        else:
            worst = max(rows, key=lambda r: r["diff"] / max(r["tol"], 1e-300))
            out.append(Check(name, "identities", PASS if all(r["ok"] for r in rows) else FAIL,
                             value=f"|Δ| = {_fmt(worst['diff'])}",
                             tolerance=f"err+1e-8rel: {_fmt(worst['tol'])}",
                             data={"rows": rows}))
    return out


def _symmetry_permutations(ctx: _Context, method: str, N: int, rng, rows, problems) -> None:
    """(a) ``evaluate`` is invariant under simultaneous permutation of channels and lags."""
    lags = np.round(rng.uniform(0.0, 0.6 if method == "taylor" else 1.5, size=(3, N)), 3)
    for ch in ctx.channel_tuples(N):
        base, _ = ctx.kernel(method, ch, lags)
        scale = np.nanmax(np.abs(base), initial=0.0)
        for p in list(itertools.permutations(range(N)))[1:6]:
            v, _ = ctx.kernel(method, tuple(ch[i] for i in p), lags[:, list(p)])
            diff = np.abs(v - base)
            tol = REL_FLOOR * max(scale, 1e-300)
            ok = bool(np.all((diff <= tol) | ~np.isfinite(diff)))
            rows.append({"test": "permutation", "channels": list(ch), "perm": list(p),
                         "lags": lags, "max_diff": float(np.nanmax(diff, initial=0)),
                         "tol": tol, "ok": ok})
            if not ok:
                problems.append(f"{_kname(ch)} not invariant under {p}")


def _symmetry_diagonal(ctx: _Context, method: str, rows, problems) -> None:
    """(b) ``K_{k1k2}(σ,σ) = K_{k2k1}(σ,σ)``; (c) ``K_{k1k2}(σ, σ+δ) → K_{k1k2}(σ, σ)``
    (quadratic extrapolation from δ, 2δ, 3δ; tolerance the second difference + errors)."""
    m = ctx.model.m
    d = ctx.settings.continuity_step
    sig = np.array([0.0, 0.1, 0.5]) if method != "taylor" else np.array([0.0, 0.1])
    for k1, k2 in itertools.product(range(m), repeat=2):
        if m > 2 and (k1, k2) not in ((0, 0), (0, m - 1), (m - 1, 0)):
            continue
        diag = np.stack([sig, sig], 1)
        a, ea = ctx.kernel(method, (k1, k2), diag)
        scale = np.nanmax(np.abs(a), initial=0.0)
        if k1 < k2:
            b, eb = ctx.kernel(method, (k2, k1), diag)
            diff = np.abs(a - b)
            tol = ea + eb + REL_FLOOR * max(scale, 1e-300)
            ok = bool(np.all((diff <= tol) | ~np.isfinite(diff)))
            rows.append({"test": "diagonal", "channels": [k1, k2], "lags": sig,
                         "diff": diff, "tol": tol, "ok": ok})
            if not ok:
                problems.append(f"K{k1 + 1}{k2 + 1}(σ,σ) != K{k2 + 1}{k1 + 1}(σ,σ)")
        steps = np.stack([np.stack([sig, sig + j * d], 1) for j in (1, 2, 3)])
        vals, errs = ctx.kernel(method, (k1, k2), steps.reshape(-1, 2))
        vals, errs = vals.reshape(3, -1), errs.reshape(3, -1)
        limit = 3 * vals[0] - 3 * vals[1] + vals[2]
        curv = np.abs(vals[0] - 2 * vals[1] + vals[2])
        diff = np.abs(limit - a)
        tol = curv + 3 * errs[0] + 3 * errs[1] + errs[2] + ea + REL_FLOOR * max(scale, 1e-300)
        ok = bool(np.all((diff <= tol) | ~np.isfinite(diff)))
        rows.append({"test": "continuity", "channels": [k1, k2], "lags": sig, "step": d,
                     "diff": diff, "tol": tol, "ok": ok})
        if not ok:
            problems.append(f"K{k1 + 1}{k2 + 1}(σ, σ+δ) does not tend to "
                            f"K{k1 + 1}{k2 + 1}(σ, σ)")


def _check_symmetry(ctx: _Context) -> list[Check]:
    """Permutation invariance, diagonal commutation and continuity across σ1 = σ2, per
    backend; an order a backend does not support is noted and skipped."""
    if ctx.order < 2:
        return [Check("identity: kernel symmetry", "identities", SKIP,
                      reason="order 1: nothing to permute")]
    out = []
    if not ctx.methods:
        out.append(Check("identity: kernel symmetry", "identities", SKIP,
                         reason="no backend applies"))
    rng = np.random.default_rng(12345)
    for method in ctx.methods:
        rows, problems, notes = [], [], []
        tasks = [(f"order {N}", _symmetry_permutations, (ctx, method, N, rng, rows, problems))
                 for N in range(2, ctx.order + 1)]
        tasks.append(("diagonal", _symmetry_diagonal, (ctx, method, rows, problems)))
        for label, task, task_args in tasks:
            try:
                task(*task_args)
            except Exception as exc:  # noqa: BLE001
                msg = f"{label}: {type(exc).__name__}: {exc}"
                (notes if _limit_error(exc) else problems).append(msg[:200])
        name = f"identity: kernel symmetry [{method}]"
        if not rows and not problems:
            out.append(Check(name, "identities", SKIP, reason="; ".join(notes)[:300]))
            continue
        worst = 0.0
        for r in rows:
            dd = np.atleast_1d(r.get("diff", r.get("max_diff")))
            tt = np.atleast_1d(r["tol"])
            with np.errstate(invalid="ignore", divide="ignore"):
                worst = max(worst, float(np.nanmax(dd / np.maximum(tt, 1e-300), initial=0.0)))
        out.append(Check(name, "identities", FAIL if problems else PASS,
                         value=f"max |Δ|/tol = {_fmt(worst)} ({len(rows)} tests)",
                         tolerance="err_a + err_b + 1e-8 rel",
                         reason="; ".join(problems[:4] + notes)[:300],
                         data={"tests": rows, "skipped": notes}))
    return out


# ====================================================================== 2. backends
def _check_backends(ctx: _Context) -> list[Check]:
    out = []
    if len(ctx.methods) < 2:
        out.append(Check("backends: kernels", "backends", SKIP,
                         reason=f"only {ctx.methods or 'no'} backend applies: nothing to compare "
                                f"({'; '.join(f'{k}: {v}' for k, v in ctx.method_info.items())})"
                         [:300]))
    for N in range(1, ctx.order + 1):
        lags = _comparison_lags(N)
        results: dict[str, dict] = {}
        failed: dict[str, str] = {}
        for method in ctx.methods:
            results[method] = {}
            for ch in ctx.channel_tuples(N):
                try:
                    results[method][ch] = ctx.kernel(method, ch, lags)
                except Exception as exc:  # noqa: BLE001
                    failed[method] = f"{type(exc).__name__}: {exc}"
                    break
        for method, msg in failed.items():
            results.pop(method, None)
            limit = _limit_error(Exception(msg))
            out.append(Check(f"backends: order {N} [{method}]", "backends",
                             SKIP if limit else FAIL, reason=msg[:300]))
        for a, b in itertools.combinations([m for m in ctx.methods if m in results], 2):
            rows, worst, n_cmp = [], (0.0, None), 0
            for ch in ctx.channel_tuples(N):
                va, ea = results[a][ch]
                vb, eb = results[b][ch]
                scale = max(np.nanmax(np.abs(va), initial=0.0),
                            np.nanmax(np.abs(vb), initial=0.0), 1e-300)
                tol = ea + eb + REL_FLOOR * scale
                diff = np.abs(va - vb)
                good = np.isfinite(diff) & np.isfinite(tol)
                n_cmp += int(good.sum())
                for j in np.flatnonzero(good):
                    q = diff[j] / tol[j]
                    rows.append({"channels": list(ch), "lags": lags[j].tolist(),
                                 a: float(va[j]), b: float(vb[j]), f"err_{a}": float(ea[j]),
                                 f"err_{b}": float(eb[j]), "diff": float(diff[j]),
                                 "tol": float(tol[j]), "ok": bool(q <= 1.0)})
                    if q > worst[0]:
                        worst = (q, (ch, lags[j], diff[j], tol[j]))
            name = f"backends: order {N} {a} vs {b}"
            if n_cmp == 0:
                out.append(Check(name, "backends", SKIP,
                                 reason="no lag inside the valid range of both "
                                        "(taylor: short lags only)", data={"rows": rows}))
                continue
            st = PASS if all(r["ok"] for r in rows) else FAIL
            if worst[1] is not None:
                ch, lag, dif, tol = worst[1]
                val = f"|Δ| = {_fmt(dif)} at {_kname(ch)}{_lags_text(lag)}"
                tol_s = f"err_a+err_b+1e-8rel: {_fmt(tol)}"
            else:
                val, tol_s = "|Δ| = 0", "err_a+err_b+1e-8 rel"
            out.append(Check(name, "backends", st, value=val, tolerance=tol_s,
                             reason=f"{n_cmp} comparisons, max |Δ|/tol = {_fmt(worst[0])}",
                             data={"rows": rows}))
    # series terms: exact vs spectral (no error estimate through the registry)
    if "exact" in ctx.methods and "spectral" in ctx.methods:
        name = "backends: series terms exact vs spectral"
        times = np.asarray(ctx.settings.times)
        u = _sine_input(ctx.model.m)
        try:
            Te = ctx.H.series_terms(u, times, method="exact")
            Ts = ctx.H.series_terms(u, times, method="spectral")
            scale = np.maximum(np.max(np.abs(Te), axis=1), 1e-300)
            rel = np.max(np.abs(Te - Ts), axis=1) / np.max(scale)
            tol = 1e-5
            out.append(Check(name, "backends", PASS if np.all(rel <= tol) else FAIL,
                             value=f"max |Δ|/scale = {_fmt(float(rel.max()))}",
                             tolerance="1e-5 rel (no error estimate)",
                             data={"times": times, "exact": Te, "spectral": Ts}))
        except Exception as exc:  # noqa: BLE001
            out.append(Check(name, "backends", SKIP if _limit_error(exc) else FAIL,
                             reason=f"{type(exc).__name__}: {exc}"[:300]))
    return out


# ====================================================================== 3. MC kernels
def _estimators(model: SRNN) -> tuple[bool, bool, str, str]:
    """``(has_v, has_B, why_not_v, why_not_B)``."""
    from .montecarlo import SimulationError, conjugate_variables, girsanov_matrix

    try:
        conjugate_variables(model)
        has_v, why_v = True, ""
    except (SimulationError, NotImplementedError, ValueError) as exc:
        has_v, why_v = False, str(exc)
    try:
        girsanov_matrix(model)
        has_B, why_B = True, ""
    except (SimulationError, ValueError) as exc:
        has_B, why_B = False, str(exc)
    return has_v, has_B, why_v, why_B


def _engine_windowed(ctx: _Context, method: str, channels, pts_per_entry, weights):
    """Weighted averages of the kernel over point sets (one set per entry)."""
    sizes = [len(p) for p in pts_per_entry]
    allp = np.concatenate(pts_per_entry)
    vals, errs = ctx.kernel(method, tuple(channels), allp)
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


def _check_mc_kernels(ctx: _Context, plots: dict) -> list[Check]:
    from .montecarlo import first_order_kernel, second_order_kernel

    s = ctx.settings
    out = []
    has_v, has_B, why_v, why_B = _estimators(ctx.model)
    method = ctx.primary
    for N in (1, 2):
        name = f"MC: kernels order {N}"
        if N > ctx.order:
            continue
        if method is None:
            out.append(Check(name, "mc-kernels", SKIP, reason="no backend applies"))
            continue
        if N == 1:
            lags = np.asarray(s.mc_lags1, float)
            est_method = "fdt" if has_v else ("girsanov" if has_B else None)
        else:
            lags = np.asarray(s.mc_lags2, float)
            if has_v and has_B:
                est_method = "fdt"
            elif has_B:
                est_method = "girsanov"
            elif has_v:
                est_method = "fdt"
                lags = lags[lags[:, 0] == lags[:, 1]]
            else:
                est_method = None
        if est_method is None:
            out.append(Check(name, "mc-kernels", SKIP,
                             reason=f"no MC kernel estimator: no conjugate variable ({why_v}) "
                                    f"and C is not in the range of σ ({why_B})"[:300]))
            continue
        _progress(f"Monte Carlo kernels, order {N} ({est_method}, {s.kernel_paths} paths × "
                  f"{s.kernel_origins} origins, dt={s.dt:g})")
        t0 = time.time()
        kw = dict(observable=ctx.f, method=est_method, n_paths=s.kernel_paths, dt=s.dt,
                  scheme=s.scheme, n_origins=s.kernel_origins, origin_stride=s.origin_stride,
                  seed=s.seed + N, chunk_size=s.chunk_size)
        try:
            if N == 1:
                est = first_order_kernel(ctx.model, lags,
                                         window=s.window if est_method == "girsanov" else None,
                                         **kw)
            else:
                est = second_order_kernel(ctx.model, lags, window=s.window, **kw)
        except Exception as exc:  # noqa: BLE001
            out.append(Check(name, "mc-kernels", FAIL,
                             reason=f"Monte Carlo failed: {type(exc).__name__}: {exc}"[:300]))
            continue
        elapsed = time.time() - t0
        # engine values (window-averaged where the estimator is)
        m = ctx.model.m
        eng = np.full(est.value.shape, np.nan)
        eng_err = np.full(est.value.shape, np.nan)
        lag_rows = lags.reshape(len(lags), -1)
        kinds = []
        for lag in lag_rows:
            if N == 1:
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
        except Exception as exc:  # noqa: BLE001
            out.append(Check(name, "mc-kernels", SKIP if _limit_error(exc) else FAIL,
                             reason=f"engine ({method}) failed: {type(exc).__name__}: "
                                    f"{exc}"[:300]))
            continue
        bias = np.zeros_like(est.value) if est.bias is None else est.bias
        bse = np.zeros_like(est.value) if est.bias_stderr is None else est.bias_stderr
        tol = Z * est.stderr + np.abs(bias) + Z * bse + eng_err
        diff = np.abs(est.value - eng)
        good = np.isfinite(diff)
        ratio = np.where(good, diff / np.maximum(tol, 1e-300), np.nan)
        data = {"estimator": est_method, "engine_method": method, "lags": lags,
                "kinds": kinds, "window": s.window, "mc": est.value, "stderr": est.stderr,
                "bias": bias, "bias_stderr": bse, "engine": eng, "engine_error": eng_err,
                "tol": tol, "n_paths": est.n_paths, "n_origins": est.n_origins,
                "origin_stride": s.origin_stride, "dt": est.dt, "scheme": est.scheme,
                "seed": s.seed + N, "seconds": elapsed}
        plots[f"kernel{N}"] = data
        if not good.any():
            out.append(Check(name, "mc-kernels", SKIP,
                             reason=f"the engine ({method}) gives no value at the MC lags"))
            continue
        jmax = np.unravel_index(np.nanargmax(ratio), ratio.shape)
        ch = tuple(int(c) for c in jmax[1:])
        st = PASS if np.nanmax(ratio) <= 1.0 else FAIL
        out.append(Check(
            f"{name} ({est_method} vs {method})", "mc-kernels", st,
            value=f"max |Δ|/tol = {_fmt(float(np.nanmax(ratio)))} "
                  f"({_kname(ch)}{_lags_text(lags[jmax[0]])})",
            tolerance="4se+|bias|+4se_b+err",
            reason=f"{int(good.sum())} entries, {est.n_paths} paths, dt={est.dt:g}"
                   + (f", window {s.window:g}" if any(k != 'point' for k in kinds) else ""),
            data=data))
    return out


# ====================================================================== 4. MC series
def _sine_input(m: int) -> Callable[[float], np.ndarray]:
    def u(t):
        return np.full(m, math.sin(2.0 * float(t)))
    return u


@dataclass
class CRNResponses:
    """``value[e, j]`` ≈ ``E f(h^{ε_e}_{t_j}) - E f(h^0_{t_j})`` (Richardson-extrapolated in
    ``dt`` per path; ``stderr`` includes the bias estimate's noise); ``raw``/``raw_stderr``
    are the plain ``dt`` estimates, ``bias = raw - value``."""

    eps: np.ndarray
    times: np.ndarray
    value: np.ndarray
    stderr: np.ndarray
    raw: np.ndarray
    raw_stderr: np.ndarray
    bias: np.ndarray
    baseline: np.ndarray
    n_paths: int
    dt: float
    scheme: str
    seed: int | None
    seconds: float


def crn_responses(model: SRNN, u: Callable, eps: Sequence[float], times, *, observable=None,
                  n_paths: int, dt: float, scheme: str = "exponential", seed=None,
                  chunk_size: int = 16384, progress: bool | None = None) -> CRNResponses:
    """Responses at every ``ε`` from one ensemble with common random numbers.

    All ``ε`` and ``ε = 0`` are integrated in lockstep (same initial states from ``p0``,
    same noise) at ``dt`` and ``dt/2`` (same Brownian paths); per path the response is
    ``2·Δ(dt/2) - Δ(dt)`` with ``Δ = f(h^ε_t) - f(h^0_t)`` (Richardson: removes the O(dt)
    time-step bias, including the one from freezing ``u`` on each step).
    """
    from .montecarlo import compile_observable, run_paths
    from .montecarlo.estimators import Moments
    from .montecarlo.simulate import Hook, time_indices

    eps = np.asarray(eps, dtype=float)
    idx = time_indices(times, dt)
    f = compile_observable(model, observable)
    pos: dict[int, list[int]] = {}
    for j, i in enumerate(idx):
        pos.setdefault(int(i), []).append(j)
    val, raw, base = Moments(axis=-1), Moments(axis=-1), Moments(axis=-1)

    class _Hook(Hook):
        def interest(self, level, n_steps):
            mask = np.zeros(n_steps + 1, dtype=bool)
            mask[idx * (2 if level == 1 else 1)] = True
            return mask

        def start_chunk(self, offset, size):
            self.v = [None, None]

        def on_state(self, level, i, h):
            i0 = i // 2 if level == 1 else i
            fv = f(h)                                    # (V, P)
            if self.v[level] is None:
                self.v[level] = np.empty((len(idx),) + fv.shape)
            for j in pos[i0]:
                self.v[level][j] = fv

        def end_chunk(self):
            dc = self.v[0][:, :-1] - self.v[0][:, -1:]   # (T, E, P)
            df = self.v[1][:, :-1] - self.v[1][:, -1:]
            raw.add(dc)
            val.add(2.0 * df - dc)
            base.add(self.v[0][:, -1])

    t0 = time.time()
    info = run_paths(model, n_paths=n_paths, dt=dt, n_steps=int(idx.max()), scheme=scheme,
                     hook=_Hook(), eps=tuple(eps) + (0.0,), u=u, seed=seed, coupled=True,
                     chunk_size=chunk_size, progress=progress)
    return CRNResponses(eps=eps, times=idx * float(dt), value=val.mean.T, stderr=val.stderr.T,
                        raw=raw.mean.T, raw_stderr=raw.stderr.T, bias=(raw.mean - val.mean).T,
                        baseline=base.mean, n_paths=int(n_paths), dt=float(dt), scheme=scheme,
                        seed=info.entropy, seconds=time.time() - t0)


def fit_slope(eps, r, se) -> tuple[float, float]:
    """Weighted least-squares slope of ``log|r|`` against ``log ε`` (weights ``(|r|/se)²``,
    the inverse variance of ``log|r|``) and its standard error."""
    x, y = np.log(np.asarray(eps, float)), np.log(np.abs(np.asarray(r, float)))
    w = (np.abs(r) / np.maximum(se, 1e-300)) ** 2
    xm = np.sum(w * x) / np.sum(w)
    ym = np.sum(w * y) / np.sum(w)
    sxx = np.sum(w * (x - xm) ** 2)
    slope = float(np.sum(w * (x - xm) * (y - ym)) / sxx)
    return slope, float(1.0 / math.sqrt(sxx))


def _poly_degree(model: SRNN, f: sp.Expr) -> int | None:
    if not f.is_polynomial(*model.h):
        return None
    return int(sp.Poly(f, *model.h).total_degree()) if f.free_symbols else 0


def series_residuals(model: SRNN, observable, order: int, *, eps, times, n_paths: int,
                     dt: float = 0.01, seed=None, method: str = "auto",
                     scheme: str = "exponential", chunk_size: int = 16384,
                     engine_terms: np.ndarray | None = None, mc: CRNResponses | None = None
                     ) -> dict:
    """The truncation-error check of THEORY §8 for ``u_k(t) = sin(2t)`` on every channel.

    Returns a dict with the engine terms ``T_0..T_{order+2}`` (as many as the backend
    gives), the CRN responses and, per ``M = 1..order``, the residuals at the chosen time,
    the fitted slope, the expected slope and a status (``PASS``/``FAIL``/``SKIP``).
    """
    from .hierarchy import ResponseHierarchy, diagnose_series

    eps = np.asarray(eps, dtype=float)
    times = np.asarray(times, dtype=float)
    u = _sine_input(model.m)
    f = model.observable(observable) if not isinstance(observable, sp.Basic) else observable
    used_method = method
    if engine_terms is None:
        err = None
        for extra in (2, 1, 0):
            try:
                Hx = ResponseHierarchy(model, f, order + extra)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res = Hx.series_terms(u, times, method=method)
                engine_terms, used_method = np.asarray(res), res.method
                break
            except Exception as exc:  # noqa: BLE001
                err = exc
        if engine_terms is None:
            raise err
    T = np.asarray(engine_terms, dtype=float)
    avail = T.shape[0] - 1
    if mc is None:
        mc = crn_responses(model, u, eps, times, observable=f, n_paths=n_paths, dt=dt,
                           scheme=scheme, seed=seed, chunk_size=chunk_size)
    y, se = mc.value, mc.stderr                                       # (E, T)
    diag = diagnose_series(T[:order + 1], float(eps.max()))
    inside = np.abs(eps) < diag.radius
    deg = _poly_degree(model, f)
    Tscale = float(np.max(np.abs(T[1:]))) if avail else 0.0
    # bound on the O(dt²) remainder of the Richardson extrapolation: the measured O(dt) bias
    # b ≈ c1·dt leaves ≈ c2·dt²/2; with |c2/c1| ~ the input / relaxation rates (a few) and
    # dt = 0.01 that is ≲ 2 % of max_t |b| (measured: ≤ 1.6 % on linear2d with f = h1,
    # where the response has no noise at all); RICHARDSON_REL adds a margin
    remainder = RICHARDSON_REL * np.max(np.abs(mc.bias), axis=1)
    results = []
    for M in range(1, order + 1):
        S = sum(eps[:, None] ** N * T[N][None, :] for N in range(1, M + 1))
        R = y - S
        res = {"M": M}
        if model.is_linear and deg is not None and deg <= M:
            floor = REL_FLOOR * max(Tscale, 1e-300)
            tol = Z * se + remainder[:, None] + floor
            ratio = np.abs(R) / tol
            res.update(kind="exact", residual=R, stderr=se, tol=tol,
                       max_ratio=float(ratio.max()),
                       status=PASS if np.all(ratio <= 1.0) else FAIL,
                       message=f"truncated series exact (linear model, degree-{deg} "
                               f"observable): max |R|/tol = {ratio.max():.3g}")
            results.append(res)
            continue
        # the leading order of the residual, the ε where it dominates (the next order is at
        # most NEXT_ORDER of it, by the engine's own higher terms) and the time to look at
        nz = [N for N in range(M + 1, avail + 1)
              if np.max(np.abs(T[N])) > 1e-8 * max(Tscale, 1e-300)]
        lead = nz[0] if nz else M + 1
        asym = np.broadcast_to(inside[:, None], R.shape).copy()
        if lead <= avail:
            if lead + 1 <= avail:
                with np.errstate(divide="ignore", invalid="ignore"):
                    rho = np.abs(T[lead + 1]) / np.abs(T[lead])
                asym &= eps[:, None] * np.nan_to_num(rho, nan=np.inf)[None, :] <= NEXT_ORDER
            pred = sum(eps[:, None] ** N * T[N][None, :] for N in range(M + 1, avail + 1))
            snr = np.abs(pred) / np.maximum(se, 1e-300)
            good = asym & (snr >= NOISE_FLOOR + 1.0)

            def key(t, good=good, snr=snr):
                g = good[:, t]
                n = int(g.sum())
                span = eps[g].max() / eps[g].min() if n else 0.0
                return (n >= 3 and span >= 2.0, n, float(np.sum(np.log(snr[g, t]))),
                        float(np.max(snr[:, t])))
            j = max(range(R.shape[1]), key=key)
            expected = next((N for N in range(M + 1, avail + 1)
                             if abs(T[N, j]) > 1e-8 * max(Tscale, 1e-300)), lead)
        else:
            j = int(np.argmax(np.abs(R[-1]) / np.maximum(se[-1], 1e-300)))
            expected = M + 1
        r, s = R[:, j], se[:, j]
        above = (np.abs(r) > NOISE_FLOOR * s) & asym[:, j]
        cut = "" if asym[:, j].all() else \
            f"; ε > {eps[~asym[:, j]].min():.3g} left out (next order > {NEXT_ORDER:g} of leading)"
        res.update(kind="slope", time=float(mc.times[j]), time_index=j, residual_t=r,
                   stderr_t=s, used=above, asymptotic=asym[:, j], expected=expected,
                   predicted_t=sum(eps ** N * T[N, j] for N in range(M + 1, avail + 1))
                   if avail > M else None)
        if above.sum() >= 3 and eps[above].max() / eps[above].min() >= 2.0:
            slope, slope_se = fit_slope(eps[above], r[above], s[above])
            ok = abs(slope - expected) <= SLOPE_TOL
            res.update(slope=slope, slope_stderr=slope_se, status=PASS if ok else FAIL,
                       message=f"slope {slope:.3f} ± {slope_se:.2g} vs {expected} at "
                               f"t={mc.times[j]:g} from {int(above.sum())}/{len(eps)} ε in "
                               f"[{eps[above].min():.3g}, {eps[above].max():.3g}]{cut}")
        else:
            res.update(slope=None, slope_stderr=None, status=SKIP,
                       message=f"residual above the MC noise floor ({NOISE_FLOOR:g} se) at only "
                               f"{int(above.sum())}/{len(eps)} ε values at t={mc.times[j]:g} "
                               f"(need ≥ 3 spanning a factor 2){cut}: more paths needed")
        results.append(res)
    return {"method": used_method, "terms": T, "mc": mc, "results": results,
            "richardson_remainder_bound": remainder, "radius": diag.radius,
            "diagnostic": diag.message, "inside_radius": inside}


def _check_mc_series(ctx: _Context, plots: dict) -> list[Check]:
    s = ctx.settings
    if ctx.series_method is None:
        return [Check("MC: series residual", "mc-series", SKIP,
                      reason="no backend gives series terms for this model (exact: linear "
                             "model and polynomial observable; spectral: n ≤ 2)")]
    _progress(f"Monte Carlo series: CRN responses at ε = "
              f"{', '.join(f'{e:.3g}' for e in s.eps)} ({s.series_paths} paths, dt={s.dt:g} "
              f"and dt/2, {s.scheme})")
    try:
        out = series_residuals(ctx.model, ctx.f, ctx.order, eps=s.eps, times=s.times,
                               n_paths=s.series_paths, dt=s.dt, seed=s.seed + 10,
                               method=ctx.series_method, scheme=s.scheme,
                               chunk_size=s.chunk_size)
    except Exception as exc:  # noqa: BLE001
        return [Check("MC: series residual", "mc-series",
                      SKIP if _limit_error(exc) else FAIL,
                      reason=f"{type(exc).__name__}: {exc}"[:300])]
    mc = out["mc"]
    _progress(f"  ... {mc.seconds:.1f} s")
    plots["series"] = out
    checks = []
    for res in out["results"]:
        M = res["M"]
        data = {"method": out["method"], "eps": mc.eps, "times": mc.times,
                "n_paths": mc.n_paths, "dt": mc.dt, "scheme": mc.scheme,
                "seed": s.seed + 10, "radius": out["radius"], "seconds": mc.seconds,
                "terms": out["terms"], "mc_response": mc.value, "mc_stderr": mc.stderr,
                "mc_bias": mc.bias}
        data.update({k: v for k, v in res.items() if k not in ("M",)})
        if res["kind"] == "exact":
            checks.append(Check(f"MC: series residual M={M} (exact truncation)", "mc-series",
                                res["status"], value=f"max |R|/tol = {_fmt(res['max_ratio'])}",
                                tolerance="4se + 0.05·max|bias|", reason=res["message"], data=data))
        else:
            val = "slope " + (_fmt(res["slope"]) if res["slope"] is not None else "n/a")
            checks.append(Check(f"MC: series residual M={M} (slope)", "mc-series",
                                res["status"], value=val,
                                tolerance=f"{res['expected']} ± {SLOPE_TOL:g}",
                                reason=res["message"], data=data))
    return checks


# ====================================================================== driver
def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if math.isfinite(x) else (None if math.isnan(x) else str(x))
    if isinstance(x, CRNResponses):
        return _jsonable({k: getattr(x, k) for k in x.__dataclass_fields__})
    if isinstance(x, sp.Basic):
        return str(x)
    if x is None or isinstance(x, (int, str)):
        return x
    return str(x)


def _table(checks: list[Check]) -> str:
    w1 = max(36, max((len(c.name) for c in checks), default=0))
    w2 = min(44, max(12, max((len(c.value) for c in checks), default=0)))
    w3 = min(36, max(10, max((len(c.tolerance) for c in checks), default=0)))
    lines = [f"{'check':{w1}s}  {'value':{w2}s}  {'tolerance':{w3}s}  status",
             "-" * (w1 + w2 + w3 + 14)]
    for c in checks:
        tail = c.status + (f"  ({c.reason})" if c.reason and c.status != PASS else "")
        lines.append(f"{c.name:{w1}s}  {c.value[:w2]:{w2}s}  {c.tolerance[:w3]:{w3}s}  {tail}")
    return "\n".join(lines)


def verify_model(model: SRNN, observable=None, order: int = 2, *, out: str | Path =
                 "verify_out", quick: bool = False, seed: int = 12345,
                 settings: Settings | None = None, print_table: bool = True,
                 figures: bool = True) -> tuple[int, list[Check]]:
    """Run every check (see the module docstring); returns ``(exit_code, checks)``."""
    t_start = time.time()
    s = settings or settings_for(quick, seed)
    ctx = _Context(model, observable, order, s)
    _progress(f"{model.name}: f = {ctx.f}, order {order}, methods "
              f"{ctx.methods or 'none'} (primary {ctx.primary}), "
              f"{'quick' if s.quick else 'full'} run, seed {s.seed}")
    checks: list[Check] = []
    plots: dict = {}
    stages = [("symbolic identities", lambda: _check_density(ctx) + _check_fdt(ctx)
               + _check_symmetry(ctx)),
              ("backend comparisons", lambda: _check_backends(ctx)),
              ("kernels vs Monte Carlo", lambda: _check_mc_kernels(ctx, plots)),
              ("series vs Monte Carlo", lambda: _check_mc_series(ctx, plots))]
    timings = {}
    for i, (label, fn) in enumerate(stages, 1):
        _progress(f"[{i}/{len(stages)}] {label}")
        t0 = time.time()
        try:
            checks.extend(fn())
        except Exception as exc:  # noqa: BLE001 - one broken stage must not hide the others
            checks.append(Check(f"{label}: internal error", label.split()[0], FAIL,
                                reason=f"{type(exc).__name__}: {exc}"[:300]))
        timings[label] = time.time() - t0
        _progress(f"    {timings[label]:.1f} s")
    code = 1 if any(c.status == FAIL for c in checks) else 0
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    if figures:
        from .reports.verify_plots import plot_kernels, plot_residuals

        try:
            plot_kernels(ctx, plots, outdir / "kernels.png")
            plot_residuals(plots.get("series"), outdir / "residuals.png",
                           title=f"{model.name}: f = {ctx.f}")
        except Exception as exc:  # noqa: BLE001
            checks.append(Check("figures", "output", FAIL,
                                reason=f"{type(exc).__name__}: {exc}"[:300]))
            code = 1
    counts = {st: sum(c.status == st for c in checks) for st in (PASS, FAIL, SKIP)}
    report = {"model": model.name, "observable": str(ctx.f), "order": order,
              "methods": ctx.method_info, "applicable_methods": ctx.methods,
              "primary_method": ctx.primary, "series_method": ctx.series_method,
              "seed": s.seed, "settings": s.as_dict(), "input": "u_k(t) = sin(2t), every k",
              "checks": [c.as_dict() for c in checks], "summary": counts,
              "exit_code": code, "timings": timings, "seconds": time.time() - t_start}
    (outdir / "verify.json").write_text(json.dumps(_jsonable(report), indent=1))
    if print_table:
        print(f"# volterra-sym verify {model.name}: f = {ctx.f}, order {order}, methods "
              f"{', '.join(ctx.methods) or 'none'}; seed {s.seed}, dt {s.dt:g}, "
              f"{'quick' if s.quick else 'full'} run")
        print(_table(checks))
        print(f"# {counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped "
              f"in {time.time() - t_start:.1f} s; wrote {outdir / 'verify.json'}, "
              f"{outdir / 'kernels.png'}, {outdir / 'residuals.png'}")
    return code, checks


def run_verify(args) -> int:
    """Entry point of ``volterra-sym verify`` (``args`` from the CLI parser)."""
    from .cli import load_model

    order = getattr(args, "order", 2)
    try:
        model = load_model(args.model)
        if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
            raise ValueError(f"--order must be a positive integer, got {order!r}")
        if not model.is_numeric:
            raise ModelError("verify needs numeric parameters (the model has symbols "
                             f"{sorted(model.parameters)})")
        observable = getattr(args, "observable", None)
        model.observable(observable)          # parse now: bad input is exit status 2
        seed = getattr(args, "seed", 12345)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"--seed must be a non-negative integer, got {seed!r}")
        out = Path(getattr(args, "out", "verify_out"))
        out.mkdir(parents=True, exist_ok=True)
        settings = settings_for(bool(getattr(args, "quick", False)), int(seed))
        overrides = {}
        for name, field_name in (("paths", "series_paths"), ("kernel_paths", "kernel_paths")):
            value = getattr(args, name, None)
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                    raise ValueError(f"--{name.replace('_', '-')} must be an integer ≥ 2, "
                                     f"got {value!r}")
                overrides[field_name] = value
        settings = dataclasses.replace(settings, **overrides)
    except (ModelError, ExpressionError, ValueError, TypeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    code, _ = verify_model(model, observable, int(order), out=out, settings=settings)
    return code
