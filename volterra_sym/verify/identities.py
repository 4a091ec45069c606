"""Check group 1a: identities of the stationary state (docs/theory.md §3, §4).

* ``L0* p0 = 0`` for a closed-form stationary density (``density.verify()``);
* the fluctuation–dissipation identity ``<p0, L_k g> = E_0[v_k g]`` with the conjugate
  variables ``v_k = -C_k·∇log p0``, for the observable and a polynomial test function;
* ``K_k(0) = <p0, L_k f>`` for every backend that applies (also without a closed-form
  ``p0`` where ``L_k f`` is a constant: ``f`` linear in the states).

With the features of docs/theory.md §10–§11 (n = 1) the identity is checked for the first
kick, ``<p0, L^{(1)}_k g> = E_0[v^{(1)}_k g]`` with ``v^{(1)}_k = −(c' + c (log p0)')``,
``c = a'(z) C_k`` (input inside) or ``C_k``, ``(log p0)' = 2φ/D − D'/D``, both sides by
Simpson's rule on the tabulated ``p0`` (to 1e-8 relative); ``K_k(0)`` is compared with
``<p0, L^{(1)}_k f>``.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..density import stationary_density
from ..density.sampling import one_dim_density
from ..operators import perturbation, perturbation_j_coefficients
from .context import Context, fmt
from .settings import (
    FAIL,
    NOT_APPLICABLE,
    PASS,
    REL_FLOOR,
    SKIP,
    Check,
    agreement_status,
    annotate,
    cause_of,
    describe,
    error_check,
    resolution,
    status_of,
    worst_cause,
)

__all__ = ["check_density", "check_fdt", "check_kernel_at_zero"]

GROUP = "identities"


def check_density(ctx: Context) -> list[Check]:
    """``L0* p0 = 0`` (symbolic, exact where the density is exact)."""
    name = "identity: L0* p0 = 0"
    try:
        dens = stationary_density(ctx.model)
    except Exception as exc:  # noqa: BLE001 - status by type
        return [error_check(name, GROUP, exc, "stationary_density: ")]
    ctx.density = dens
    if dens.kind == "numerical":
        return [Check(name, GROUP, SKIP, cause=NOT_APPLICABLE,
                      reason="no closed-form stationary density "
                      "(kind 'numerical'): nothing to verify symbolically")]
    try:
        v = dens.verify()
    except Exception as exc:  # noqa: BLE001
        return [error_check(name, GROUP, exc, "density.verify(): ")]
    return [Check(name, GROUP, PASS if v.ok else FAIL,
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


def check_fdt(ctx: Context) -> list[Check]:
    """``<p0, L_k g> = E_0[v_k g]`` for ``g = f`` and ``g = (h_1 + h_n)² + h_1`` (exact when
    both sides are exact, else to 1e-12 relative); records ``<p0, L_k f>`` for
    :func:`check_kernel_at_zero`."""
    dens = ctx.density
    model, f = ctx.model, ctx.f
    name0 = "identity: <p0, L_k g> = E0[v_k g]"
    if model.features:
        return _check_fdt_features(ctx)
    if dens is None or dens.kind == "numerical":
        _constant_references(ctx)
        return [Check(name0, GROUP, SKIP, cause=NOT_APPLICABLE,
                      reason="no closed-form p0: the conjugate variables v_k = "
                             "-C_k·∇log p0 are not available symbolically")]
    try:
        v = dens.conjugate_variables()
    except Exception as exc:  # noqa: BLE001
        return [error_check(name0, GROUP, exc, "conjugate_variables(): ")]
    h = model.h
    tests = [("f", f), ("g_test", sp.expand((h[0] + h[-1]) ** 2 + h[0]))]
    out = []
    for k in range(model.m):
        rows, bad, skipped, causes = [], [], [], set()
        for label, g in tests:
            try:
                lhs = dens.expectation(sp.expand(perturbation(model, k, g)))
                rhs = dens.expectation(sp.expand(v[k] * g))
            except Exception as exc:  # noqa: BLE001
                # an expectation a closed form cannot give is "not applicable" (SKIP),
                # anything else is a failure
                (skipped if status_of(exc) == SKIP else bad).append(
                    f"{label}: expectation: {describe(exc, 200)}")
                causes.add(cause_of(exc))
                continue
            a, b = _as_number(lhs), _as_number(rhs)
            if a is None or b is None:
                skipped.append(f"{label}: no closed-form expectation")
                causes.add(NOT_APPLICABLE)
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
            st, reason = FAIL, "; ".join(bad + skipped)
        elif not rows:
            st, reason = SKIP, "; ".join(skipped)
        else:
            st, reason = PASS, f"g in {{{', '.join(r['g'] for r in rows)}}}"
        out.append(Check(name, GROUP, st,
                         value="max |Δ| = " + fmt(max((r["diff"] for r in rows),
                                                      default=float("nan"))),
                         tolerance="exact" if rows and all(r["exact"] for r in rows)
                         else "1e-12 rel", reason=reason[:300], data={"tests": rows},
                         cause=worst_cause(causes) if st == SKIP else ""))
    return out


def _constant_references(ctx: Context) -> None:
    """``<p0, L_k f>`` without ``p0`` where ``L_k f`` is a constant (``f`` of degree ≤ 1
    in the states, the input beside the activation: ``L_k f = C_k·∇f``): the reference of
    :func:`check_kernel_at_zero` for networks with no closed-form ``p0``, which then checks
    the value at lag 0 of every route (the Galerkin route's kick matrices and pairing with
    ``p0``, the Taylor route's averages) against an exact number. (Models with the input
    inside the activation have their own identity, :func:`_check_fdt_features`, and never
    get here.)"""
    model = ctx.model
    for k in range(model.m):
        c = sp.expand(perturbation(model, k, ctx.f))
        if not (c.free_symbols & set(model.h)):
            a = _as_number(c)
            if a is not None:
                ctx.fdt_reference[k] = a


def _no_reference(ctx: Context) -> str:
    """Why ``K_k(0)`` has no reference value (:func:`check_fdt` recorded none)."""
    dens = ctx.density
    if dens is None or dens.kind == "numerical":
        return ("no reference value: p0 has no closed form and L_k f is not a constant "
                "(f is not linear in the states)")
    return "no reference value: <p0, L_k f> has no closed form"


def _table_1d(model) -> tuple[np.ndarray, np.ndarray]:
    """``(x, p0(x))`` on an odd uniform grid holding the mass of a 1-D model."""
    if model.state_dependent_noise:
        return stationary_density(model).table
    pdf, lo, hi = one_dim_density(model)
    x = np.linspace(lo, hi, 40001)
    return x, np.asarray(pdf(x), float).reshape(-1)


def _simpson(x: np.ndarray, y: np.ndarray) -> float:
    w = np.full(x.size, 2.0)
    w[1::2] = 4.0
    w[0] = w[-1] = 1.0
    return float(np.sum(w * y) * (x[1] - x[0]) / 3)


def _check_fdt_features(ctx: Context) -> list[Check]:
    """``<p0, L^{(1)}_k g> = E_0[v^{(1)}_k g]`` for n = 1 (module docstring)."""
    model, f = ctx.model, ctx.f
    if model.n != 1:
        return [Check("identity: <p0, L^(1)_k g> = E0[v^(1)_k g]", GROUP, SKIP,
                      cause=NOT_APPLICABLE,
                      reason="no closed-form p0 for n > 1 with the features of "
                             "docs/theory.md §10–§11: v^(j) not available")]
    h = model.h[0]
    D = model.D[0, 0]
    dlog = 2 * model.drift[0] / D - sp.diff(D, h) / D
    try:
        x, p = _table_1d(model)
    except Exception as exc:  # noqa: BLE001 - status by type
        return [error_check("identity: <p0, L^(1)_k g> = E0[v^(1)_k g]", GROUP, exc,
                            "p0: ")]
    mass = _simpson(x, p)
    tests = [("f", f), ("g_test", sp.expand(h ** 2 + h))]
    out = []
    for k in range(model.m):
        c = perturbation_j_coefficients(model, (k,))[0]
        v = -(sp.diff(c, h) + c * dlog)
        rows, bad = [], []
        for label, g in tests:
            lhs_e, rhs_e = c * sp.diff(g, h), v * g
            fl, fr = (sp.lambdify(h, e, "numpy") for e in (lhs_e, rhs_e))
            with np.errstate(all="ignore"):
                a = _simpson(x, p * np.asarray(fl(x), float)) / mass
                b = _simpson(x, p * np.asarray(fr(x), float)) / mass
            tol = 1e-8 * (1.0 + abs(a) + abs(b))
            ok = bool(np.isfinite(a) and np.isfinite(b) and abs(a - b) <= tol)
            rows.append({"g": str(g), "lhs": a, "rhs": b, "diff": abs(a - b), "tol": tol,
                         "exact": False, "ok": ok})
            if label == "f":
                ctx.fdt_reference[k] = a
            if not ok:
                bad.append(f"{label}: {a!r} != {b!r}")
        out.append(Check(f"identity: <p0, L^(1)_{k + 1} g> = E0[v^(1)_{k + 1} g]", GROUP,
                         FAIL if bad else PASS,
                         value="max |Δ| = " + fmt(max(r["diff"] for r in rows)),
                         tolerance="1e-8 rel (Simpson on the p0 table)",
                         reason=("; ".join(bad) or
                                 f"g in {{{', '.join(r['g'] for r in rows)}}}")[:300],
                         data={"tests": rows}))
    return out


def check_kernel_at_zero(ctx: Context) -> list[Check]:
    """``K_k(0) = <p0, L_k f>`` per backend: ``|K - ref| ≤ err + 1e-8·scale``."""
    out = []
    for method in ctx.methods:
        rows, problems, notes, causes = [], [], [], set()
        for k, ref in ctx.fdt_reference.items():
            try:
                res = ctx.kernel(method, (k,), [[0.0]])
            except Exception as exc:  # noqa: BLE001
                (notes if status_of(exc) == SKIP else problems).append(
                    describe(exc))
                causes.add(cause_of(exc))
                continue
            val, err = float(res.values[0]), float(res.error[0])
            if not np.isfinite(val):
                notes.append(f"{method} gives no reliable value of K_{k + 1}(0)")
                causes.add(NOT_APPLICABLE)
                continue
            err = err if np.isfinite(err) else 0.0      # unknown error: no slack granted
            tol = err + REL_FLOOR * max(abs(ref), abs(val), 1e-300)
            rows.append({"channel": k, "kernel": val, "error": err, "reference": ref,
                         "diff": abs(val - ref), "tol": tol, "method": res.method,
                         "ok": bool(abs(val - ref) <= tol)})
        name = f"identity: K_k(0) = <p0, L_k f> [{method}]"
        if problems:
            out.append(Check(name, GROUP, FAIL, reason="; ".join(problems)[:300]))
        elif not rows:
            out.append(Check(name, GROUP, SKIP, cause=worst_cause(causes),
                             reason=("; ".join(notes) or _no_reference(ctx))[:300]))
        else:
            worst = max(rows, key=lambda r: r["diff"] / max(r["tol"], 1e-300))
            res = resolution([r["tol"] for r in rows], [r["kernel"] for r in rows],
                             [r["reference"] for r in rows])
            out.append(Check(name, GROUP, agreement_status(all(r["ok"] for r in rows), res),
                             value=f"|Δ| = {fmt(worst['diff'])}",
                             tolerance=f"err+1e-8rel: {fmt(worst['tol'])}",
                             reason=annotate("; ".join(notes), res).lstrip("; ")[:300],
                             data={"rows": rows, "resolution": res}))
    return out
