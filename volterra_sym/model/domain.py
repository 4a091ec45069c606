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

from collections.abc import Callable

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


def _numeric_reason(g: sp.Expr, args: tuple[sp.Symbol, ...], points: np.ndarray,
                    positive: bool, where: Callable[[int], str],
                    sign_change: Callable[[np.ndarray], str]) -> str | None:
    """Why ``g`` fails its guard at ``points`` (rows: values of ``args``), or ``None``: not
    finite and real, ``≤ 0`` where it must be positive, a sign change (described by
    ``sign_change(values)``) or ``|g|`` below ``NEAR_ZERO`` of its median; ``where(i)``
    names point ``i``."""
    with np.errstate(all="ignore"):
        try:
            vals = np.broadcast_to(np.asarray(sp.lambdify(args, g, "numpy")(*points.T),
                                              dtype=complex), points.shape[:1])
        except Exception as exc:  # noqa: BLE001 - any failure means "cannot evaluate"
            return f"cannot be evaluated ({type(exc).__name__})"
    bad = ~np.isfinite(vals) | (np.abs(vals.imag) > 1e-12 * (1 + np.abs(vals.real)))
    if bad.any():
        return f"is not finite and real at {where(int(bad.argmax()))}"
    v = vals.real
    if positive and (v <= 0).any():
        return f"is ≤ 0 at {where(int((v <= 0).argmax()))}"
    if not positive and (v > 0).any() and (v < 0).any():
        return sign_change(v)
    a = np.abs(v)
    i = int(a.argmin())
    if a[i] < NEAR_ZERO * float(np.median(a)):
        return f"comes within {a[i]:.2g} of 0 (median {np.median(a):.2g}) at {where(i)}"
    return None


def observable_singularity(model: SRNN, f: sp.Expr) -> str | None:
    """Why ``f`` is singular (or nearly) where ``p0`` lives, or ``None`` (module docstring).
    Models with state-dependent noise are not checked (their ``p0`` may live on a half-line,
    where ``log(h1)`` is fine). Cached per model and observable."""
    if model.state_dependent_noise:
        return None

    def build() -> str | None:
        X = _states(model.n)
        for what, g, positive in _guarded(f, model.h):
            if (g.is_positive if positive else (g.is_positive or g.is_negative)):
                continue
            reason = _numeric_reason(
                g, model.h, X, positive, lambda i: f"h = {np.round(X[i], 3).tolist()}",
                lambda v: "changes sign (it vanishes between the states tried)")
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

    def sign_change(v: np.ndarray) -> str:
        k = int(np.flatnonzero(np.diff(np.sign(v)) != 0)[0])
        if v[k + 1] == 0:
            return f"vanishes at t = {grid[k + 1]:.6g}"
        return f"vanishes between t = {grid[k]:.6g} and {grid[k + 1]:.6g}"

    for what, g, positive in _guarded(u, (t,)):
        if g.is_positive if positive else (g.is_positive or g.is_negative):
            continue
        reason = _numeric_reason(g, (t,), grid[:, None], positive,
                                 lambda i: f"t = {grid[i]:.4g}", sign_change)
        if reason is not None:
            return f"its {what} {g} {reason}"
    return None
