"""Huge or tiny observables: ``<f>_0`` and the series terms are linear in ``f``, so the
routes compute them for ``f / s`` and multiply back by ``s`` — the power of two
:func:`~volterra_sym.hierarchy.kernel.observable_scale` that the kernels use (no overflow
inside a route: ``1e300·h1`` on ``tanh1d`` made the spectral grid's scale of ``f`` overflow,
its error estimate NaN, and the refinement climb the whole ladder to a memory refusal
reading "estimated error nan"). A value or error that leaves the float range once scaled
back is refused, naming the observable."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sympy as sp

from ..errors import AccuracyNotReachedError
from ..hierarchy.kernel import ERROR_PARTS, observable_scale
from ..results import SeriesTerms

__all__ = ["scaled_mean0", "scaled_series"]


def _back(f: sp.Expr, s: float, value, error, what: str, route: str):
    with np.errstate(over="ignore", invalid="ignore"):
        value = np.asarray(value, dtype=float) * s
        error = None if error is None else np.asarray(error, dtype=float) * s
    if not (np.all(np.isfinite(value)) and (error is None or np.all(np.isfinite(error)))):
        raise AccuracyNotReachedError(
            f"{what} of {f} ({route}): the value or its error estimate exceeds the float "
            f"range once scaled back (the observable's coefficients reach {s:.3g}); "
            "rescale the observable")
    return value, error


#: a route's facts that scale with ``f`` as its error does: the parts of the error
#: (:data:`~volterra_sym.hierarchy.kernel.ERROR_PARTS`) and the truncation check's changes
SCALED_FACTS = (*ERROR_PARTS, "changes")


def _scaled(value, s: float):
    """A route's error fact — a number, ``None`` (no estimate), or a list or dict of them —
    times ``s``."""
    if isinstance(value, dict):
        return {k: _scaled(v, s) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scaled(v, s) for v in value]
    return None if value is None else float(value) * s


def scaled_mean0(f, compute: Callable[[sp.Expr], tuple],
                 route: str) -> tuple:
    """``compute(f)`` — ``(<f>_0, error)``, or ``(<f>_0, error, facts)`` with the route's
    facts (degree, measure...) — evaluated as ``s · compute(f / s)``."""
    f = sp.sympify(f)
    s = observable_scale(f)
    if s == 1.0:
        return compute(f)
    value, error, *facts = compute(f / s)
    value, error = _back(f, s, value, error, "<f>_0", route)
    if not facts:
        return float(value), float(error)
    # the parts of the error scale with f as the error does
    parts = {k: _scaled(facts[0][k], abs(s)) for k in SCALED_FACTS if k in facts[0]}
    return float(value), float(error), {**facts[0], **parts, "observable_scale": s}


def scaled_series(f, compute: Callable[[sp.Expr], SeriesTerms], route: str) -> SeriesTerms:
    """``compute(f)`` — series terms — evaluated as ``s · compute(f / s)``."""
    f = sp.sympify(f)
    s = observable_scale(f)
    if s == 1.0:
        return compute(f)
    res = compute(f / s)
    values, error = _back(f, s, res.values, res.error, "the series terms", route)
    parts = {k: _scaled(res.details[k], abs(s)) for k in SCALED_FACTS if k in res.details}
    return SeriesTerms(values, error, res.method,
                       {**res.details, **parts, "observable_scale": s})
