"""Where an observable is singular on the state space (docs/theory.md §9).

With constant noise ``p0 > 0`` on all of ``ℝⁿ``, so ``<f>_0`` and the kernels exist only if
``f`` is integrable against ``p0`` everywhere. The parser's functions are smooth where they
are defined, but four constructs can leave the real domain or blow up on it:

* a denominator ``b^{-k}`` — needs ``b ≠ 0``;
* ``log(a)`` and a fractional power ``b^{p}`` — need ``a, b > 0``;
* ``tan(a)`` — needs ``cos(a) ≠ 0``;
* a power with a state-dependent exponent — needs a positive base.

Each such sub-expression ``g`` is accepted when SymPy proves it positive (``1 + h1**2``,
``exp(h1)``, the logistic function's ``1 + exp(-z)``), else checked numerically at 40,000
states at scales 0.5–50 (fixed seed): a sign change, a non-finite value or a minimum of
``|g|`` below ``10⁻³`` of its median refuses ``f`` — so ``1/(h1 - 0.3)**2`` (not integrable)
and ``tan(h1)`` are refused, ``1/(2 + sin(h1))`` and ``tan(tanh(h1))`` are not. The check is
one-sided: what it refuses is singular or nearly singular; what it accepts had no zero at
the states tried.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from .cache import derived
from .srnn import SRNN

__all__ = ["observable_singularity", "input_singularity", "SCALES", "NEAR_ZERO"]

#: standard deviations of the Gaussian states the numerical check tries
SCALES = (0.5, 2.0, 10.0, 50.0)
#: a guarded quantity whose smallest absolute value is below this fraction of its median
#: is treated as vanishing
NEAR_ZERO = 1e-3
_POINTS = 10_000


def _guarded(f: sp.Expr, h: tuple[sp.Symbol, ...]) -> list[tuple[str, sp.Expr, bool]]:
    """``(what, g, positive)`` for every sub-expression ``g`` of ``f`` that must not vanish
    (``positive=False``) or must be positive (``positive=True``)."""
    hs = set(h)
    out = []
    for node in sp.preorder_traversal(f):
        if isinstance(node, sp.Pow) and node.base.free_symbols & hs:
            e = node.exp
            if e.free_symbols & hs:
                out.append(("base of a power with a state-dependent exponent", node.base, True))
            elif e.is_number and not e.is_integer:
                out.append(("base of a fractional power", node.base, True))
            elif e.is_number and e.is_negative:
                out.append(("denominator", node.base, False))
        elif isinstance(node, sp.log) and node.args[0].free_symbols & hs:
            out.append(("argument of log", node.args[0], True))
        elif isinstance(node, sp.tan) and node.args[0].free_symbols & hs:
            out.append(("cosine of the argument of tan", sp.cos(node.args[0]), False))
    return out


def _states(n: int) -> np.ndarray:
    rng = np.random.default_rng(20261204)
    return np.concatenate([s * rng.standard_normal((_POINTS, n)) for s in SCALES])


def _numeric_reason(g: sp.Expr, h: tuple[sp.Symbol, ...], positive: bool) -> str | None:
    X = _states(len(h))
    with np.errstate(all="ignore"):
        try:
            vals = np.broadcast_to(np.asarray(sp.lambdify(h, g, "numpy")(*X.T), dtype=complex),
                                   X.shape[:1])
        except Exception as exc:  # noqa: BLE001 - any failure means "cannot evaluate"
            return f"cannot be evaluated ({type(exc).__name__})"
    bad = ~np.isfinite(vals) | (np.abs(vals.imag) > 1e-12 * (1 + np.abs(vals.real)))
    if bad.any():
        return f"is not finite and real at h = {np.round(X[bad.argmax()], 3).tolist()}"
    v = vals.real
    if positive and (v <= 0).any():
        return f"is ≤ 0 at h = {np.round(X[(v <= 0).argmax()], 3).tolist()}"
    if not positive and (v > 0).any() and (v < 0).any():
        return "changes sign (it vanishes between the states tried)"
    a = np.abs(v)
    i = int(a.argmin())
    if a[i] < NEAR_ZERO * float(np.median(a)):
        return (f"comes within {a[i]:.2g} of 0 (median {np.median(a):.2g}) at "
                f"h = {np.round(X[i], 3).tolist()}")
    return None


def observable_singularity(model: SRNN, f: sp.Expr) -> str | None:
    """Why ``f`` is singular (or nearly) where ``p0`` lives, or ``None`` (module docstring).
    Models with state-dependent noise are not checked (their ``p0`` may live on a half-line,
    where ``log(h1)`` is fine). Cached per model and observable."""
    if model.state_dependent_noise:
        return None

    def build() -> str | None:
        for what, g, positive in _guarded(f, model.h):
            if (g.is_positive if positive else (g.is_positive or g.is_negative)):
                continue
            reason = _numeric_reason(g, model.h, positive)
            if reason is not None:
                return (f"the observable {f} is singular on the state space: its {what} {g} "
                        f"{reason}, so its average over p0 may not exist")
        return None
    return derived(model, ("model", "observable_singularity", f), build)


#: points of the grid on ``[0, T]`` on which an input's guarded sub-expressions are checked
INPUT_GRID = 20_001


def input_singularity(u: sp.Expr, t: sp.Symbol, t_max: float) -> str | None:
    """Why the input ``u(t)`` is singular (or nearly) on ``[0, t_max]``, or ``None``: every
    guarded sub-expression (denominator, ``log`` argument, fractional-power base, ``tan``;
    see the module docstring) is checked on ``INPUT_GRID`` equally spaced times — a sign
    change, a non-finite or non-real value, or a minimum of ``|g|`` below ``10⁻³`` of its
    median refuses ``u`` (``1/(t − 1)`` on ``[0, 3]``; the integrators would otherwise
    step into the pole and report only that they missed their tolerance)."""
    grid = np.linspace(0.0, float(t_max), INPUT_GRID)
    for what, g, positive in _guarded(u, (t,)):
        if g.is_positive if positive else (g.is_positive or g.is_negative):
            continue
        with np.errstate(all="ignore"):
            try:
                vals = np.broadcast_to(np.asarray(sp.lambdify(t, g, "numpy")(grid),
                                                  dtype=complex), grid.shape)
            except Exception as exc:  # noqa: BLE001 - any failure means "cannot evaluate"
                return f"its {what} {g} cannot be evaluated ({type(exc).__name__})"
        bad = ~np.isfinite(vals) | (np.abs(vals.imag) > 1e-12 * (1 + np.abs(vals.real)))
        v = vals.real
        if bad.any():
            return f"its {what} {g} is not finite and real at t = {grid[bad.argmax()]:.4g}"
        if positive and (v <= 0).any():
            return f"its {what} {g} is ≤ 0 at t = {grid[(v <= 0).argmax()]:.4g}"
        if not positive and (v > 0).any() and (v < 0).any():
            k = int(np.flatnonzero(np.diff(np.sign(v)) != 0)[0])
            if v[k + 1] == 0:
                return f"its {what} {g} vanishes at t = {grid[k + 1]:.6g}"
            return (f"its {what} {g} vanishes between t = {grid[k]:.6g} and "
                    f"{grid[k + 1]:.6g}")
        a = np.abs(v)
        i = int(a.argmin())
        if a[i] < NEAR_ZERO * float(np.median(a)):
            return (f"its {what} {g} comes within {a[i]:.2g} of 0 (median "
                    f"{np.median(a):.2g}) at t = {grid[i]:.4g}")
    return None
