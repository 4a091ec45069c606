"""Is a truncated Volterra series meaningful at this ε? (THEORY §8)

With ``a_N = max_t |T_N(t)|`` the ratio test estimates the radius of convergence in ε
from the last two non-vanishing orders, ``ε* ≈ a_{N-1} / a_N``; the partial sum at ε is
trustworthy only when ``ε`` is well inside (``ε a_N / a_{N-1} < 1``, i.e. the terms
``ε^N a_N`` decrease). Orders that vanish identically (e.g. beyond the degree of a
polynomial observable of a linear model) make the series finite: radius ``∞``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["SeriesDiagnostics", "ConvergenceWarning", "diagnose_series"]


class ConvergenceWarning(RuntimeWarning):
    """A partial sum of the Volterra series is used outside its radius of convergence."""


@dataclass(frozen=True)
class SeriesDiagnostics:
    """Sizes ``ε^N max_t|T_N|``, successive ratios and the estimated radius in ε."""

    eps: float
    term_sizes: np.ndarray
    ratios: np.ndarray
    radius: float
    meaningful: bool
    message: str


def diagnose_series(terms: np.ndarray, eps: float, *, rtol: float = 1e-12,
                    warn: bool = False, terminates_at: int | None = None) -> SeriesDiagnostics:
    """Diagnose the partial sums of ``terms`` (shape ``(order+1, T)``, ``T_0 = <f>_0``).

    ``terminates_at = d`` declares that every term beyond order ``d ≤ order`` vanishes
    identically (linear model, polynomial observable of degree ``d``): the partial sum is
    then exact at every ε.
    """
    terms = np.asarray(terms, dtype=float)
    if terminates_at is not None and terminates_at <= terms.shape[0] - 1:
        a = np.max(np.abs(terms[1:]), axis=1) if terms.shape[0] > 1 else np.zeros(0)
        sizes = np.array([abs(eps) ** N * x for N, x in enumerate(a, start=1)])
        return SeriesDiagnostics(float(eps), sizes, np.full(max(len(a) - 1, 0), np.nan),
                                 np.inf, True, f"the series terminates at order "
                                 f"{terminates_at} (linear model, polynomial observable): "
                                 "the partial sum is exact at every eps")
    a = np.max(np.abs(terms[1:]), axis=1) if terms.shape[0] > 1 else np.zeros(0)
    scale = max(float(np.max(np.abs(terms))) if terms.size else 0.0, 1e-300)
    nz = [N for N, x in enumerate(a, start=1) if x > rtol * scale]
    sizes = np.array([abs(eps) ** N * x for N, x in enumerate(a, start=1)])
    ratios = np.array([sizes[i] / sizes[i - 1] if sizes[i - 1] > 0 else np.inf
                       for i in range(1, len(sizes))])
    order = len(a)
    if not nz or nz[-1] < order:
        radius, ok = np.inf, True
        msg = "the highest computed order vanishes: the series terminates (exact)"
    elif len(nz) < 2:
        radius, ok = np.inf, True
        msg = "only one non-vanishing order: no ratio test possible"
    else:
        last, prev = nz[-1], nz[-2]
        radius = float((a[prev - 1] / a[last - 1]) ** (1.0 / (last - prev)))
        ok = abs(eps) < radius
        msg = (f"eps = {eps:g} is inside the estimated radius of convergence {radius:.3g}"
               if ok else
               f"eps = {eps:g} is outside the estimated radius of convergence {radius:.3g}"
               " (ratio test on the last two orders): the terms grow and the partial sum "
               "is not meaningful")
    diag = SeriesDiagnostics(float(eps), sizes, ratios, radius, bool(ok), msg)
    if warn and not ok:
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    return diag
