"""Check group 2: the engine routes against each other (docs/theory.md §6).

Kernels of orders ``1..N`` of every pair of backends that apply (exact, spectral, galerkin,
taylor — the latter only at lags inside its valid range) at a set of lags:
``|a - b| ≤ err_a + err_b + 1e-8·scale``. Series terms of every pair of the full routes
(exact, spectral, galerkin) at the observation times, with the routes' own error
estimates (``SeriesTerms.error``):
``|T_a - T_b| ≤ err_a + err_b + 1e-8·scale`` per term and time (an unknown estimate,
``None``, grants no slack). With the input inside the activation (docs/theory.md §10) also
the contact kernels ``K^{(j_1..j_r)}`` with some ``j_i ≥ 2`` (up to 4 per order).
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np

from ..hierarchy.composite import kick_sequences
from .context import (
    FULL_ROUTES,
    Context,
    comparison_lags,
    fmt,
    kick_name,
    kname,
    lags_text,
    slack,
)
from .settings import (
    NOT_APPLICABLE,
    REL_FLOOR,
    SKIP,
    Check,
    agreement_status,
    annotate,
    error_check,
    resolution,
)

__all__ = ["check_kernels", "check_series_terms", "check_contact_kernels"]

GROUP = "backends"


def check_kernels(ctx: Context) -> list[Check]:
    """Every pair of applicable backends, orders ``1..order``."""
    out = []
    if len(ctx.methods) < 2:
        out.append(Check("backends: kernels", GROUP, SKIP,
                         reason=f"only {ctx.methods or 'no'} backend applies: nothing to compare "
                                f"({'; '.join(f'{k}: {v}' for k, v in ctx.method_info.items())})"
                         [:300], cause=NOT_APPLICABLE))
    for N in range(1, ctx.order + 1):
        lags = comparison_lags(N)
        results: dict[str, dict] = {}
        for method in ctx.methods:
            results[method] = {}
            for ch in ctx.channel_tuples(N):
                try:
                    results[method][ch] = ctx.kernel(method, ch, lags)
                except Exception as exc:  # noqa: BLE001 - status by type
                    out.append(error_check(f"backends: order {N} [{method}]", GROUP, exc))
                    results.pop(method)
                    break
        for a, b in itertools.combinations([m for m in ctx.methods if m in results], 2):
            rows, worst, n_cmp, unknown = [], (0.0, None), 0, set()
            for ch in ctx.channel_tuples(N):
                ka, kb = results[a][ch], results[b][ch]
                va, ea, vb, eb = ka.values, ka.error, kb.values, kb.error
                scale = max(np.nanmax(np.abs(va), initial=0.0),
                            np.nanmax(np.abs(vb), initial=0.0), 1e-300)
                tol = slack(ea) + slack(eb) + REL_FLOOR * scale
                diff = np.abs(va - vb)
                good = np.isfinite(diff)        # NaN only where taylor gives no value
                unknown |= {m for m, e in ((a, ea), (b, eb)) if np.isnan(e[good]).any()}
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
                out.append(Check(name, GROUP, SKIP,
                                 reason="no lag inside the valid range of both "
                                        "(taylor: short lags only)", data={"rows": rows},
                                 cause=NOT_APPLICABLE))
                continue
            res = resolution([r["tol"] for r in rows], [r[a] for r in rows],
                             [r[b] for r in rows])
            st = agreement_status(all(r["ok"] for r in rows), res)
            if worst[1] is not None:
                ch, lag, dif, tol = worst[1]
                val = f"|Δ| = {fmt(dif)} at {kname(ch)}{lags_text(lag)}"
                tol_s = f"err_a+err_b+1e-8rel: {fmt(tol)}"
            else:
                val, tol_s = "|Δ| = 0", "err_a+err_b+1e-8 rel"
            note = (f"; error estimate unknown for {', '.join(sorted(unknown))} (counted as "
                    "0)" if unknown else "")
            if "taylor" in (a, b) and ctx.taylor_note([N]):
                note += "; " + ctx.taylor_note([N])
            out.append(Check(name, GROUP, st, value=val, tolerance=tol_s,
                             reason=annotate(f"{n_cmp} comparisons, max |Δ|/tol = "
                                          f"{fmt(worst[0])}" + note, res),
                             data={"rows": rows, "resolution": res}))
    return out


def contact_kernels(ctx: Context, N: int) -> list[tuple[tuple[int, ...], ...]]:
    """Kernels of order ``N`` with a kick carrying several channels (the input inside the
    activation, docs/theory.md §10): at most 4, the first ones of each composition."""
    m = ctx.model.m
    seqs = [k for k in kick_sequences(m, N) if any(len(c) > 1 for c in k)]
    picked, seen = [], set()
    for k in seqs:                      # one per composition first, then the rest
        comp = tuple(len(c) for c in k)
        if comp not in seen:
            seen.add(comp)
            picked.append(k)
    picked += [k for k in seqs if k not in picked]
    return picked[:4]


def check_contact_kernels(ctx: Context) -> list[Check]:
    """Contact kernels ``K^{(j_1..j_r)}`` (some ``j_i ≥ 2``) of every pair of backends
    that apply, orders ``2..order``: ``|a - b| ≤ err_a + err_b + 1e-8·scale``."""
    if ctx.model.input != "activation" or not ctx.model.features:
        return []
    out = []
    for N in range(2, ctx.order + 1):
        results: dict[str, dict] = {}
        for method in ctx.methods:
            results[method] = {}
            for kicks in contact_kernels(ctx, N):
                try:
                    results[method][kicks] = ctx.kernel(method, kicks,
                                                        comparison_lags(len(kicks)))
                except Exception as exc:  # noqa: BLE001 - status by type
                    out.append(error_check(f"backends: contact kernels order {N} [{method}]",
                                           GROUP, exc))
                    results.pop(method)
                    break
        for a, b in itertools.combinations([m for m in ctx.methods if m in results], 2):
            worst, n_cmp, ok, rows = (0.0, ""), 0, True, []
            tols, vals = [], []
            for kicks, ka in results[a].items():
                kb = results[b][kicks]
                scale = max(np.nanmax(np.abs(ka.values), initial=0.0),
                            np.nanmax(np.abs(kb.values), initial=0.0), 1e-300)
                tol = slack(ka.error) + slack(kb.error) + REL_FLOOR * scale
                diff = np.abs(ka.values - kb.values)
                good = np.isfinite(diff)
                n_cmp += int(good.sum())
                ratio = np.where(good, diff / np.maximum(tol, 1e-300), 0.0)
                ok &= bool(np.all(ratio <= 1.0))
                tols.append(tol[good])
                vals += [ka.values[good], kb.values[good]]
                j = int(np.argmax(ratio))
                rows.append({"kicks": [list(c) for c in kicks], a: ka.values.tolist(),
                             b: kb.values.tolist(), "tol": tol.tolist()})
                if ratio[j] >= worst[0]:
                    worst = (float(ratio[j]), f"|Δ| = {fmt(diff[j])} at {kick_name(kicks)}"
                             f"{lags_text(comparison_lags(len(kicks))[j])}")
            name = f"backends: contact kernels order {N} {a} vs {b}"
            if n_cmp == 0:
                out.append(Check(name, GROUP, SKIP, reason="no comparable values",
                                 cause=NOT_APPLICABLE))
                continue
            res = resolution(np.concatenate(tols), *vals)
            out.append(Check(name, GROUP, agreement_status(ok, res), value=worst[1],
                             tolerance="err_a+err_b+1e-8rel",
                             reason=annotate(f"{n_cmp} comparisons, max |Δ|/tol = "
                                          f"{fmt(worst[0])}", res),
                             data={"rows": rows, "resolution": res}))
    return out


def check_series_terms(ctx: Context) -> list[Check]:
    """Series terms ``T_0..T_order`` of every pair of full routes (exact, spectral,
    galerkin) that apply, for the input of the settings (default ``u_k(t) = sin(2t)``)."""
    full = [m for m in ctx.methods if m in FULL_ROUTES]
    if len(full) < 2:
        return []
    times = np.asarray(ctx.settings.times)
    terms, out = {}, []
    for method in full:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                terms[method] = ctx.H.series_terms(ctx.u, times, method=method)
        except Exception as exc:  # noqa: BLE001 - status by type
            out.append(error_check(f"backends: series terms [{method}]", GROUP, exc))
    for a_name, b_name in itertools.combinations([m for m in full if m in terms], 2):
        out.append(_compare_series(f"backends: series terms {a_name} vs {b_name}",
                                   times, terms[a_name], terms[b_name]))
    return out


def _compare_series(name: str, times: np.ndarray, Te, Ts) -> Check:
    """``|T_a - T_b| ≤ err_a + err_b + 1e-8·scale`` per term and time."""
    a, b = np.asarray(Te), np.asarray(Ts)
    unknown = [r.method for r in (Te, Ts) if r.error is None]
    ea = np.zeros_like(a) if Te.error is None else np.abs(Te.error)
    eb = np.zeros_like(b) if Ts.error is None else np.abs(Ts.error)
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))), 1e-300)
    tol = ea + eb + REL_FLOOR * scale
    diff = np.abs(a - b)
    ratio = diff / np.maximum(tol, 1e-300)
    N, j = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    note = f"error estimate unknown for {', '.join(unknown)} (counted as 0)" if unknown else ""
    res = resolution(tol, a, b)
    return Check(name, GROUP, agreement_status(bool(np.all(ratio <= 1.0)), res),
                 value=f"|Δ| = {fmt(float(diff[N, j]))} at T_{N}(t={times[j]:g})",
                 tolerance=f"err_a+err_b+1e-8rel: {fmt(float(tol[N, j]))}",
                 reason=annotate(f"{diff.size} comparisons, max |Δ|/tol = "
                              f"{fmt(float(ratio.max()))}" + (f"; {note}" if note else ""),
                              res),
                 data={"times": times, Te.method: a, Ts.method: b,
                       f"error_{Te.method}": Te.error, f"error_{Ts.method}": Ts.error,
                       "tol": tol, "methods": [Te.method, Ts.method], "resolution": res})

