"""Check group 1b: symmetry of the kernels of order ≥ 2 (docs/theory.md §4).

Per backend: (a) ``evaluate`` is invariant under a simultaneous permutation of channels and
lags; (b) ``K_{k1k2}(σ,σ) = K_{k2k1}(σ,σ)``; (c) continuity across the diagonal:
``K_{k1k2}(σ, σ+δ) → K_{k1k2}(σ, σ)`` (quadratic extrapolation from δ, 2δ, 3δ).
(b) is left out for the input inside a nonlinear activation (docs/theory.md §10): the kicks
``L^{(1)}_k = a'(z) C_k·∇`` do not commute, so the two orderings of simultaneous kicks
differ by ``<p0, [L^{(1)}_{k2}, L^{(1)}_{k1}] P_σ f>``.
"""

from __future__ import annotations

import itertools

import numpy as np

from .context import Context, fmt, kname, slack
from .settings import (
    NOT_APPLICABLE,
    PASS,
    REL_FLOOR,
    SKIP,
    WEAK,
    Check,
    agreement_status,
    annotate,
    cause_of,
    describe,
    resolution,
    status_of,
    worst_cause,
)

__all__ = ["check_symmetry"]

GROUP = "identities"


def _consistent(ctx: Context, fetch):
    """``fetch()`` until no Taylor degree changed while it ran: values compared with each
    other come from one degree (:meth:`Context.kernel` lowers it on cost refusals; the
    second pass reads the cache)."""
    while True:
        before = dict(ctx.taylor_degrees)
        out = fetch()
        if ctx.taylor_degrees == before:
            return out


def _permutations(ctx: Context, method: str, N: int, rng, rows, problems) -> None:
    """(a) invariance under simultaneous permutation of channels and lags."""
    lags = np.round(rng.uniform(0.0, 0.6 if method == "taylor" else 1.5, size=(3, N)), 3)
    # the first five after the identity, without listing all N! (12! tuples fill ~70 GB)
    perms = list(itertools.islice(itertools.permutations(range(N)), 1, 6))
    for ch in ctx.channel_tuples(N):
        base, moved = _consistent(ctx, lambda ch=ch: (
            ctx.kernel(method, ch, lags).values,
            [ctx.kernel(method, tuple(ch[i] for i in p), lags[:, list(p)]).values
             for p in perms]))
        scale = np.nanmax(np.abs(base), initial=0.0)
        for p, v in zip(perms, moved, strict=True):
            diff = np.abs(v - base)
            tol = REL_FLOOR * max(scale, 1e-300)
            ok = bool(np.all((diff <= tol) | ~np.isfinite(diff)))
            rows.append({"test": "permutation", "channels": list(ch), "perm": list(p),
                         "lags": lags, "max_diff": float(np.nanmax(diff, initial=0)),
                         "tol": tol, "scale": float(scale), "ok": ok})
            if not ok:
                problems.append(f"{kname(ch)} not invariant under {p}")


def _diagonal(ctx: Context, method: str, rows, problems) -> None:
    """(b) ``K_{k1k2}(σ,σ) = K_{k2k1}(σ,σ)``; (c) ``K_{k1k2}(σ, σ+δ) → K_{k1k2}(σ, σ)``
    (quadratic extrapolation from δ, 2δ, 3δ; tolerance the second difference + errors)."""
    m = ctx.model.m
    d = ctx.settings.continuity_step
    sig = np.array([0.0, 0.1, 0.5]) if method != "taylor" else np.array([0.0, 0.1])
    for k1, k2 in itertools.product(range(m), repeat=2):
        if m > 2 and (k1, k2) not in ((0, 0), (0, m - 1), (m - 1, 0)):
            continue
        diag = np.stack([sig, sig], 1)
        steps = np.stack([np.stack([sig, sig + j * d], 1) for j in (1, 2, 3)])
        # (b) needs [L_{k1}, L_{k2}] = 0: true for the constant C_k, not for the kicks
        # L^(1)_k = a'(z) C_k·∇ of the input inside the activation (docs/theory.md §10)
        commute = ctx.model.input != "activation" or ctx.model.is_linear
        swap = k1 < k2 and commute
        ka, kb, ks = _consistent(ctx, lambda k1=k1, k2=k2, swap=swap, diag=diag, steps=steps: (
            ctx.kernel(method, (k1, k2), diag),
            ctx.kernel(method, (k2, k1), diag) if swap else None,
            ctx.kernel(method, (k1, k2), steps.reshape(-1, 2))))
        a, ea = ka.values, ka.error
        scale = np.nanmax(np.abs(a), initial=0.0)
        if swap:
            diff = np.abs(a - kb.values)
            tol = slack(ea) + slack(kb.error) + REL_FLOOR * max(scale, 1e-300)
            ok = bool(np.all((diff <= tol) | ~np.isfinite(diff)))
            rows.append({"test": "diagonal", "channels": [k1, k2], "lags": sig,
                         "diff": diff, "tol": tol, "scale": float(scale), "ok": ok})
            if not ok:
                problems.append(f"K{k1 + 1}{k2 + 1}(σ,σ) != K{k2 + 1}{k1 + 1}(σ,σ)")
        vals, errs = ks.values.reshape(3, -1), ks.error.reshape(3, -1)
        limit = 3 * vals[0] - 3 * vals[1] + vals[2]
        curv = np.abs(vals[0] - 2 * vals[1] + vals[2])
        diff = np.abs(limit - a)
        errs = slack(errs)
        tol = (curv + 3 * errs[0] + 3 * errs[1] + errs[2] + slack(ea)
               + REL_FLOOR * max(scale, 1e-300))
        ok = bool(np.all((diff <= tol) | ~np.isfinite(diff)))
        rows.append({"test": "continuity", "channels": [k1, k2], "lags": sig, "step": d,
                     "diff": diff, "tol": tol, "scale": float(scale), "ok": ok})
        if not ok:
            problems.append(f"K{k1 + 1}{k2 + 1}(σ, σ+δ) does not tend to "
                            f"K{k1 + 1}{k2 + 1}(σ, σ)")


def check_symmetry(ctx: Context) -> list[Check]:
    """Permutation invariance, diagonal commutation and continuity across σ1 = σ2, per
    backend; an order a backend does not support (a not-applicable error) is noted and
    skipped, any other error is a failure."""
    if ctx.order < 2:
        return [Check("identity: kernel symmetry", GROUP, SKIP, cause=NOT_APPLICABLE,
                      reason="order 1: nothing to permute")]
    out = []
    if not ctx.methods:
        out.append(Check("identity: kernel symmetry", GROUP, SKIP, cause=NOT_APPLICABLE,
                         reason="no backend applies"))
    rng = np.random.default_rng(12345)
    for method in ctx.methods:
        rows, problems, notes, causes = [], [], [], set()
        tasks = [(f"order {N}", _permutations, (ctx, method, N, rng, rows, problems))
                 for N in range(2, ctx.order + 1)]
        tasks.append(("diagonal", _diagonal, (ctx, method, rows, problems)))
        for label, task, task_args in tasks:
            try:
                task(*task_args)
            except Exception as exc:  # noqa: BLE001 - status by type
                msg = f"{label}: {describe(exc, 200)}"
                (notes if status_of(exc) == SKIP else problems).append(msg)
                causes.add(cause_of(exc))
        name = f"identity: kernel symmetry [{method}]"
        if not problems and all(r["scale"] == 0.0 for r in rows):
            if rows:     # every compared value 0, or NaN (taylor: beyond its valid range)
                notes = notes + ["every compared value is 0 or outside the route's valid "
                                 "range (taylor: errors above 1 % of the kernel)"]
                causes.add(NOT_APPLICABLE)
            out.append(Check(name, GROUP, SKIP, reason="; ".join(notes)[:300],
                             cause=worst_cause(causes)))
            continue
        worst = 0.0
        for r in rows:
            dd = np.atleast_1d(r.get("diff", r.get("max_diff")))
            tt = np.atleast_1d(r["tol"])
            with np.errstate(invalid="ignore", divide="ignore"):
                worst = max(worst, float(np.nanmax(dd / np.maximum(tt, 1e-300), initial=0.0)))
        # the tolerances of the compared entries against the kernels' size
        tols = [np.atleast_1d(r["tol"])[np.isfinite(np.atleast_1d(r.get("diff", 0.0)))]
                for r in rows]
        res = resolution(np.concatenate(tols) if tols else [], [r["scale"] for r in rows])
        status = agreement_status(not problems, res)
        refused = sorted(c for c in causes if c and c != NOT_APPLICABLE)
        if status == PASS and refused:
            # a part refused for its cost or accuracy was not checked: the rest cannot
            # stand for the whole (a not-applicable order is outside the route, not missing)
            status = WEAK
            notes = [f"incomplete ({', '.join(refused)})"] + notes
        if method == "taylor" and ctx.taylor_note(range(2, ctx.order + 1)):
            notes = notes + [ctx.taylor_note(range(2, ctx.order + 1))]
        out.append(Check(name, GROUP, status,
                         value=f"max |Δ|/tol = {fmt(worst)} ({len(rows)} tests)",
                         tolerance="err_a + err_b + 1e-8 rel",
                         reason=annotate("; ".join(problems[:4] + notes), res)
                         .lstrip("; ")[:300],
                         data={"tests": rows, "skipped": notes, "resolution": res}))
    return out
