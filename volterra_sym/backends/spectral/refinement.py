"""Grid caches and the refinement driver: resolutions are raised along a fixed ladder
until two consecutive grids agree within ``tol`` (docs/theory.md §6)."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import sympy as sp

from ...errors import (
    AccuracyNotReachedError,
    NotApplicableError,
    ResourceLimitError,
)
from ...model import SRNN
from ...model.cache import derived
from .collocation import (
    Discretisation,
    Domain,
    GridError,
    choose_domain,
    estimate_bytes,
    numerics,
)
from .options import _CACHE_BYTES, _CACHE_SIZE, Options, _coarser, levels


# ---------------------------------------------------------------------- caches
def _cache(model: SRNN) -> dict:
    """The spectral route's mutable state for ``model`` (domains, grid LRU), kept in the
    model's derived-data cache."""
    return derived(model, ("spectral", "grids"), dict)


def _domain(model: SRNN, cut: float) -> Domain:
    doms = _cache(model).setdefault("domains", {})
    if cut not in doms:
        try:
            doms[cut] = choose_domain(model, cut)
        except GridError as exc:
            raise NotApplicableError(f"spectral: {exc}") from None
    return doms[cut]


def _check_memory(model: SRNN, Ns: tuple[int, ...], opts: Options, why: str) -> None:
    need = sum(estimate_bytes(model.n, N, model.m, numerics(model).reversible) for N in Ns)
    if need > opts.memory_budget:
        N = max(Ns)
        raise ResourceLimitError(
            f"spectral: {why} needs N={N} grid points per axis (M={N ** model.n} unknowns), "
            f"≈{need / 1e9:.3g} GB of dense arrays, above memory_budget="
            f"{opts.memory_budget / 1e9:.3g} GB; raise memory_budget or loosen tol (--tol)",
            estimate=float(need), budget=float(opts.memory_budget), unit="bytes",
            option="raise memory_budget or loosen --tol")


def discretisation(model: SRNN, N: int, cut: float) -> Discretisation:
    """The (cached, least-recently-used) discretisation with ``N`` points per axis."""
    dom = _domain(model, cut)
    lru: OrderedDict = _cache(model).setdefault("grids", OrderedDict())
    key = (dom.key(), N)
    if key in lru:
        lru.move_to_end(key)
        return lru[key]
    dz = Discretisation(model, dom, N)
    enlarged = _cache(model).setdefault("enlarged", {})
    if model.n > 1 and N >= 15 and dz.boundary_ratio() > 1e-6:
        # the bulk reaches the box edge (e.g. a mode missed by the moment estimate)
        if enlarged.get(cut, 0) >= 6:
            raise NotApplicableError("spectral: the stationary density still has mass at the edge "
                               "of a box enlarged 6 times (1.3x each); the drift may not "
                               "confine the state")
        enlarged[cut] = enlarged.get(cut, 0) + 1
        _cache(model)["domains"][cut] = dom.enlarged(1.3)
        return discretisation(model, N, cut)
    lru[key] = dz
    sym = numerics(model).reversible
    total = sum(estimate_bytes(model.n, k[1], model.m, sym) for k in lru)
    while len(lru) > 1 and (len(lru) > _CACHE_SIZE or total > _CACHE_BYTES):
        old, _ = lru.popitem(last=False)
        total -= estimate_bytes(model.n, old[1], model.m, sym)
    return dz


def _fvals(model: SRNN, f: sp.Expr, dz: Discretisation) -> np.ndarray:
    store = dz.observable_cache
    if f not in store:
        fv = numerics(model).observable(f)(dz.x)
        if not np.all(np.isfinite(fv)):
            raise NotApplicableError(f"spectral: the observable {f} is not finite on the grid")
        store[f] = (fv, dz.coefficients(fv))
    return store[f]


def _fscale(dz: Discretisation, fv: np.ndarray) -> float:
    """``max(sd_{p0}(f), |<f>_0|, tiny)``: the size of the observable (the variance of
    ``f / max|f|``, so that ``f²`` cannot overflow: ``1e300·h1`` gave ``inf - inf``, a NaN
    scale and a NaN error estimate)."""
    mean = dz.mean(fv)
    top = float(np.max(np.abs(fv), initial=0.0))
    if top == 0.0:
        return max(abs(mean), 1e-300)
    g = fv / top
    mg = dz.mean(g)
    sd = top * math.sqrt(max(dz.mean(g * g) - mg * mg, 0.0))
    return max(sd, abs(mean), 1e-300)


# ---------------------------------------------------------------------- refinement driver
_Evaluation = Callable[[int], tuple[np.ndarray, np.ndarray | float, np.ndarray | float]]


def _refine(model: SRNN, opts: Options, evaluate: _Evaluation, what: str):
    """Evaluate on consecutive resolutions until two agree: ``evaluate(N)`` returns
    ``(value, scale, noise)`` and the grids agree when ``|fine - coarse| ≤ tol · scale +
    noise`` everywhere (``noise``: the rounding level, so that values that vanish by symmetry
    converge too). Returns ``(value_fine, |fine - coarse|, N_fine)``.
    The ladder always starts at its bottom, so a result depends on its inputs only (not on
    earlier calls); the eigen-decompositions are cached.

    For n = 2 the accepted grid must also show ``p0 ≤ max(10⁴ cut, tol²) · max p0`` on the
    box edge (truncation errors scale like ``(p0_edge / max p0)^0.7``), unless that value
    still falls fast under refinement (discretisation noise, not mass at the edge);
    otherwise the box is enlarged (1.3x, at most 4 times) and the refinement restarts."""
    if opts.resolution is not None:
        N = opts.resolution
        Nc = _coarser(model.n, N)
        _check_memory(model, (Nc, N), opts, f"resolution={N}")
        fine = evaluate(N)[0]
        coarse = evaluate(Nc)[0]
        return fine, np.abs(fine - coarse), N
    for _ in range(5):
        val, diff, N = _refine_once(model, opts, evaluate, what)
        if model.n == 1:
            return val, diff, N
        ratio = discretisation(model, N, opts.cut).boundary_ratio()
        ratio_c = discretisation(model, _coarser(model.n, N), opts.cut).boundary_ratio()
        # real truncation persists under refinement; discretisation noise falls fast
        if ratio <= max(1e4 * opts.cut, opts.tol ** 2) or ratio < 0.1 * ratio_c:
            return val, diff, N
        cache = _cache(model)
        cache["domains"][opts.cut] = cache["domains"][opts.cut].enlarged(1.3)
    raise NotApplicableError(f"spectral: {what}: the stationary density still reaches the edge of "
                       f"a box enlarged 4 times (p0 at the edge / max p0 = {ratio:.1e} > "
                       f"max(1e4·cut, tol²) = {max(1e4 * opts.cut, opts.tol ** 2):.1e})")


def _refine_once(model: SRNN, opts: Options, evaluate, what: str):
    ladder = levels(model.n)
    i = 0
    prev_val, prev_err, best, stalls = None, None, math.inf, 0
    while True:
        if i >= len(ladder):
            raise AccuracyNotReachedError(
                f"spectral: {what}: tol={opts.tol:g} not reached on the finest grid "
                f"N={ladder[-1]} (estimated error {prev_err:.2e})", error=prev_err, tol=opts.tol)
        N = ladder[i]
        Ns = (ladder[i - 1], N) if i > 0 else (N,)
        _check_memory(model, Ns, opts,
                      f"{what} to tol={opts.tol:g} (estimated error {prev_err:.2e} at "
                      f"N={ladder[i - 1]})" if prev_err is not None else f"{what}")
        val, scale, noise = evaluate(N)
        if not (np.all(np.isfinite(val)) and np.all(np.isfinite(scale))
                and np.all(np.isfinite(noise))):
            raise AccuracyNotReachedError(
                f"spectral: {what}: the values, their scale or their rounding level are not "
                f"finite at N={N} (an overflow: values up to "
                f"{float(np.max(np.abs(np.nan_to_num(val)), initial=0.0)):.3g}); rescale the "
                "observable or the input")
        if prev_val is not None:
            diff = np.abs(val - prev_val)
            d, sc, nz = np.broadcast_arrays(diff, scale, noise)
            if np.all(d <= opts.tol * sc + nz):
                # accepted only thanks to the rounding level, for values that do not vanish
                short = (sc > 100 * nz) & (d > opts.tol * sc)
                if np.any(short):
                    level = float(np.max(nz[short] / sc[short]))
                    raise AccuracyNotReachedError(
                        f"spectral: {what}: tol={opts.tol:g} is below the attainable accuracy: "
                        f"the grids agree only to the rounding level ≈{level:.1e} (relative) "
                        f"at N={N}; loosen tol (--tol)")
                return val, diff, N
            err = float(np.max(np.maximum(diff - noise, 0.0) / scale))
            if err < 0.5 * best:
                best, stalls = err, 0
            else:
                stalls += 1
            if stalls >= 3 and best < 1e-2:
                raise AccuracyNotReachedError(
                    f"spectral: {what}: tol={opts.tol:g} is below the attainable accuracy: "
                    f"the estimate stagnates at ≈{err:.1e} (rounding and box truncation, "
                    f"cut={opts.cut:g}); loosen tol (--tol)")
            prev_err = err
        prev_val = val
        i += 1


def _rounding(dz: Discretisation, magnitude: float) -> float:
    """Rounding level of a mode sum ``Σ_j x_j y_j`` of size ``magnitude = ‖x‖ ‖y‖``:
    ``16 ε (‖L̂0‖/gap) √κ₁(V) · magnitude`` (a heuristic: eigenvectors carry errors
    ``ε ‖L̂0‖/gap``; measured eigen-vs-``expm`` discrepancies stay below ``√κ₁``)."""
    return 16 * np.finfo(float).eps * dz.sensitivity * math.sqrt(dz.cond) * magnitude


