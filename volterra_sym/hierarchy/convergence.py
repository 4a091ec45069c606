"""Is a truncated Volterra series meaningful at this ε? (docs/theory.md §8)

With ``a_N = max_t |T_N(t)|`` the radius of convergence in ε is ``1/limsup a_N^{1/N}``
(Cauchy–Hadamard). It is estimated by a ratio test within each parity class: for the odd
orders and for the even orders separately, the last two non-vanishing orders ``N' < N`` of
the class give ``(a_{N'} / a_N)^{1/(N−N')}``, and the radius is the smaller of the two
(the limsup is taken by the faster-growing class). Neighbouring orders are not compared:
when the drift is nearly odd (or even) about the fixed point, the terms of one parity are
small, and ``a_{N−1}/a_N`` then swings between far too small and far too large (measured:
``a_2/a_3 = 0.19`` beside ``(a_1/a_3)^{1/2} = 4.1`` on an 8-unit tanh network). A class
with fewer than two non-vanishing orders gives no estimate; when neither class has two, the
last two non-vanishing orders are used. A few terms are weak
evidence (a saturating network can have small low-order terms and a partial sum far from
the response), so the verdict ``meaningful`` is three-valued:

* ``True`` — evidence that the partial sum is meaningful: the series terminates (orders
  that vanish identically, e.g. beyond the degree of a polynomial observable of a linear
  model), or at least :data:`MIN_RATIOS` successive size ratios ``ε a_N / a_{N-1}`` are all
  ≤ :data:`MAX_RATIO` (geometric decrease over at least four orders);
* ``False`` — evidence against: the last terms grow (``ε`` beyond the estimated radius);
* ``None`` — unknown: the terms computed cannot tell (too few orders, or irregular sizes).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from ..arrays import check_int, real_array
from ..errors import InvalidInputError

__all__ = ["SeriesDiagnostics", "ConvergenceWarning", "diagnose_series", "eps_limit",
           "check_eps_range", "parity_radii"]


#: successive ratios needed before a partial sum is called meaningful, and their bound
MIN_RATIOS = 3
MAX_RATIO = 0.5


class ConvergenceWarning(RuntimeWarning):
    """A partial sum of the Volterra series is used outside its radius of convergence."""


@dataclass(frozen=True)
class SeriesDiagnostics:
    """Sizes ``ε^N max_t|T_N|``, successive ratios, the estimated radius in ε and the
    verdict ``meaningful`` (``True``/``False``/``None`` = unknown; module docstring);
    ``status`` is ``"exact"``, ``"converging"``, ``"diverging"`` or ``"unknown"``."""

    eps: float
    term_sizes: np.ndarray
    ratios: np.ndarray
    radius: float
    meaningful: bool | None
    message: str
    status: str = "unknown"


def eps_limit(order: int, a=None) -> float:
    """The largest ``|ε|`` whose powers ``ε^N`` (``N ≤ order``) stay in the float range with
    room for the ``order + 1`` terms of a partial sum; given the term sizes
    ``a = [max_t |T_N|]_{N=1..order}``, also every ``ε^N a_N``."""
    order = check_int(order, "order", lo=1)
    room = np.finfo(float).max / (order + 1)
    limit = float(room ** (1.0 / order))
    with np.errstate(over="ignore", divide="ignore"):
        for N, x in enumerate(np.asarray(a if a is not None else [], dtype=float), start=1):
            if x > 0:
                limit = min(limit, float((room / x) ** (1.0 / N)))
    return limit


def check_eps_range(eps, order: int, a=None) -> None:
    """Refuse (:class:`InvalidInputError`, ``param="eps"``) an ``ε`` beyond
    :func:`eps_limit`: its powers (or the terms ``ε^N T_N``) would overflow to inf/NaN."""
    limit = eps_limit(order, a)
    big = float(np.max(np.abs(eps)))
    if not big <= limit:
        what = "eps^N T_N(t)" if a is not None and limit < eps_limit(order) else "eps^N"
        raise InvalidInputError(f"eps = {big:g} is too large: {what} overflows the float range "
                                f"at order N ≤ {order}; |eps| must be ≤ {limit:.3g}",
                                param="eps")


def _parity_radius(a: np.ndarray, nz: list[int]) -> tuple[float, tuple[int, int]]:
    """``min_p (a_{N'_p} / a_{N_p})^{1/(N_p − N'_p)}`` over the parity classes ``p`` with two
    non-vanishing orders ``N'_p < N_p`` (the last two of the class; ``a[N-1] = a_N``), and
    the pair of orders that gave it; the last two of ``nz`` when no class has two."""
    pairs = [tuple(c[-2:]) for c in ([N for N in nz if N % 2 == q] for q in (1, 0))
             if len(c) >= 2] or [(nz[-2], nz[-1])]
    est = [(float((a[p - 1] / a[q - 1]) ** (1.0 / (q - p))), (p, q)) for p, q in pairs]
    return min(est)


def parity_radii(a) -> np.ndarray:
    """The ratio-test radius of :func:`diagnose_series` for many series at once: ``a``
    ``(..., order)`` holds the term sizes ``a_N = max_t |T_N|`` (``a[..., N-1]``), every order
    taken as non-vanishing; returns ``(...)``. Pairs: the last two orders of each parity
    class, or ``(1, 2)`` when neither class has two (order 2); order 1 gives no estimate
    (``inf``). A pair whose higher order is 0 or whose lower order is 0 gives no evidence
    (``inf``): :func:`diagnose_series` would pick other orders there, and a vectorised
    caller only uses the radius to warn."""
    a = np.abs(np.asarray(a, dtype=float))
    order = a.shape[-1]
    pairs = [(c[-2], c[-1]) for c in ([N for N in range(1, order + 1) if N % 2 == q]
                                      for q in (1, 0)) if len(c) >= 2]
    if not pairs and order == 2:
        pairs = [(1, 2)]
    out = np.full(a.shape[:-1], np.inf)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for p, q in pairs:
            lo, hi = a[..., p - 1], a[..., q - 1]
            r = (lo / hi) ** (1.0 / (q - p))
            out = np.minimum(out, np.where((lo > 0) & (hi > 0) & np.isfinite(r), r, np.inf))
    return out


def _check_terms(terms) -> np.ndarray:
    """``terms`` as a real, finite float array ``(order+1, T)`` with ``T ≥ 1`` (row 0 is
    ``T_0``), else :class:`InvalidInputError` naming ``terms``; nothing is cut."""
    def bad(msg: str) -> InvalidInputError:
        return InvalidInputError(f"terms {msg}", param="terms")
    arr = real_array(terms, "terms", finite=False, copy=True,
                     what="an array (order+1, times) of real numbers")
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise bad(f"must have shape (order+1, times) with at least T_0 and one time, got "
                  f"shape {arr.shape}")
    return real_array(arr, "terms")                  # finite


def diagnose_series(terms: np.ndarray, eps: float, *, rtol: float = 1e-12,
                    warn: bool = False, terminates_at: int | None = None) -> SeriesDiagnostics:
    """Diagnose the partial sums of ``terms`` (shape ``(order+1, T)``, ``T_0 = <f>_0``).

    ``terminates_at = d`` declares that every term beyond order ``d ≤ order`` vanishes
    identically (linear model, polynomial observable of degree ``d``): the partial sum is
    then exact at every ε.
    """
    terms = _check_terms(terms)
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, (int, float, np.integer,
                                                                  np.floating)):
        raise InvalidInputError(f"eps must be a finite real number, got {eps!r}", param="eps")
    try:
        eps = float(eps)
    except OverflowError:           # an int beyond the float range
        eps = math.inf
    if not math.isfinite(eps):
        raise InvalidInputError(f"eps must be a finite real number, got {eps:g}",
                                param="eps")
    if isinstance(rtol, (bool, np.bool_)) or not isinstance(rtol, (int, float, np.integer,
                                                                    np.floating)) \
            or not 0 <= rtol < 1:
        raise InvalidInputError(f"rtol must be a number with 0 ≤ rtol < 1, got {rtol!r}",
                                param="rtol")
    if terminates_at is not None:
        terminates_at = check_int(terminates_at, "terminates_at", lo=0,
                                  what="an order, or None")
    if terms.shape[0] > 1:
        check_eps_range(eps, terms.shape[0] - 1,
                        np.max(np.abs(terms[1:]), axis=1, initial=0.0))
    if eps == 0.0:
        n_resp = max(terms.shape[0] - 1, 0)
        return SeriesDiagnostics(0.0, np.zeros(n_resp), np.full(max(n_resp - 1, 0), np.nan),
                                 np.inf, True, "eps = 0: every response term is multiplied "
                                 "by 0, the partial sum is <f>_0 exactly", "exact")
    if terminates_at is not None and terminates_at <= terms.shape[0] - 1:
        a = np.max(np.abs(terms[1:]), axis=1) if terms.shape[0] > 1 else np.zeros(0)
        sizes = np.array([abs(eps) ** N * x for N, x in enumerate(a, start=1)])
        return SeriesDiagnostics(float(eps), sizes, np.full(max(len(a) - 1, 0), np.nan),
                                 np.inf, True, f"the series terminates at order "
                                 f"{terminates_at} (linear model, polynomial observable): "
                                 "the partial sum is exact at every eps", "exact")
    a = np.max(np.abs(terms[1:]), axis=1) if terms.shape[0] > 1 else np.zeros(0)
    # vanishing is judged against the response terms only (<f>_0 is unrelated to their size:
    # f = h1 + 1e13 made T_2 ~ 1e-2 "vanish") and at each time: T_N vanishes when
    # |T_N(t)| ≤ rtol·max_j |T_j(t)| at every t (a sup over t made T_1 ~ 1e61 "vanish"
    # beside T_2 ~ 1e119 for u = exp(exp(t)), though T_1 dominates at early times)
    resp = np.abs(terms[1:])
    scale = np.maximum(np.max(resp, axis=0, initial=0.0), 1e-300)
    nz = [N for N in range(1, len(a) + 1) if np.any(resp[N - 1] > rtol * scale)]
    sizes = np.array([abs(eps) ** N * x for N, x in enumerate(a, start=1)])
    ratios = np.array([sizes[i] / sizes[i - 1] if sizes[i - 1] > 0 else np.inf
                       for i in range(1, len(sizes))])
    order = len(a)
    if not nz or nz[-1] < order:
        radius, ok, status = np.inf, None, "unknown"
        msg = ("the highest computed order vanishes here, but that alone does not show the "
               "series terminates: convergence unknown")
    elif len(nz) < 2:
        radius, ok, status = np.inf, None, "unknown"
        msg = "only one non-vanishing order: no ratio test possible; convergence unknown"
    else:
        radius, (prev, last) = _parity_radius(a, nz)
        tail = ratios[-MIN_RATIOS:] if len(ratios) >= MIN_RATIOS else np.zeros(0)
        if abs(eps) >= radius:
            ok, status = False, "diverging"
            msg = (f"eps = {eps:g} is outside the estimated radius of convergence "
                   f"{radius:.3g} (ratio test on orders {prev} and {last}): the terms grow and the "
                   "partial sum is not meaningful")
        elif tail.size == MIN_RATIOS and np.all(tail <= MAX_RATIO):
            ok, status = True, "converging"
            msg = (f"eps = {eps:g}: the last {MIN_RATIOS} term ratios are ≤ {MAX_RATIO} "
                   f"(estimated radius {radius:.3g}); the partial sum is converging")
        else:
            ok, status = None, "unknown"
            msg = (f"eps = {eps:g} is inside the radius {radius:.3g} estimated from orders "
                   f"{prev} and {last}, but {order} orders cannot show convergence (need "
                   f"{MIN_RATIOS} successive ratios ≤ {MAX_RATIO}; compute higher orders or "
                   "compare with Monte Carlo): unknown")
    diag = SeriesDiagnostics(float(eps), sizes, ratios, radius, ok, msg, status)
    if warn and ok is False:
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    return diag
