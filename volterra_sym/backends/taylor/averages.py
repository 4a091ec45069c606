"""Stationary averages ``<p0, Q>`` of chain polynomials ``Q(x)`` (docs/theory.md §5).

Routes (``density=``):

* ``"gaussian"`` — linear activation: ``p0 = N(μ, S)``, exact moments by the Stein recursion
  ``E[y_i y^α] = μ_i E[y^α] + Σ_j S_ij α_j E[y^{α-e_j}]`` (no statistical error);
* ``"quadrature"`` — n = 1: composite Gauss–Legendre against the closed form
  ``p0 ∝ exp(2U/D)`` (``U' = φ``) on the range where ``log p0 > max - 60``; with ``σ(h)``
  (docs/theory.md §11) against ``p0 ∝ D(h)⁻¹ exp(∫2φ/D)``, whose ``log p0`` is tabulated
  (Richardson-extrapolated trapezoid, :mod:`volterra_sym.density.multiplicative`): the
  averages then add ``|<p0_q, L0 Q>|`` to the error, as on the grid route;
* ``"grid"`` — n = 2 nonlinear: the grid solution of ``L0* p0 = 0`` of the spectral route
  (:func:`volterra_sym.backends.spectral.grid_density`: points ``.x``, weights
  ``.p0 · .vol``);
* ``"sampling"`` — any n: an ensemble of unperturbed paths from the density layer's burn-in
  sampler, split into independent batches; every coefficient carries the batch-means
  standard error (with ``σ(h)``: the Euler–Maruyama burn-in of
  :class:`volterra_sym.density.sampling.StateNoiseBurnIn`, each batch its own paths). The
  time-step bias is *not* in the error estimate.

Only the moments that occur are computed. The distinct monomials ``x^{e_t}`` of all chains
averaged together are found once (one sort of the packed keys); on the Gaussian route each
``E[h^α]`` is memoised; on the point routes the monomial ``x^e = H_u(h) A_v(a)`` is the product
of its state part ``H_u`` and its activation part ``A_v`` (each tabulated once per chunk of
points), and only the pairs ``(u, v)`` that occur are multiplied and summed,

    M_b[t] = Σ_{s ∈ batch b} w_s H_{u_t}(x_s) A_{v_t}(x_s) / Σ_{s ∈ b} w_s ,

so the work is ``(distinct monomials) × (points)`` and the memory
``(distinct monomials) × (batches)`` — never the dense ``(state parts) × (activation
parts)`` matrix. A chain's average is ``Σ_t c_t M[t]``.

*Rounding.* Averages of chains suffer massive cancellation (``<p0, L0 g> = 0``). The chains
are recomputed in 3 *shadow* spaces (Monte Carlo arithmetic) and
``δc = 4 max |c' - c| + 2ε E[Σ|c_t||m_t|]`` (calibrated against exact rational chains with
40-digit quadrature, n = 1). The grid route adds ``|<p0_grid, L0 Q>|`` (zero for the exact
``p0``); the sampling route gives batch standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from ...arrays import check_int, positive_number
from ...budget import check_memory
from ...density import bracket_1d, burn_in_sampler, stationary_density
from ...density.multiplicative import multiplicative_density
from ...density.sampling import state_noise_burn_in
from ...density.stationary import NUMPY_EXTRAS, overflow_safe
from ...errors import InvalidInputError, NotApplicableError, SimulationError
from ...model import SRNN
from ...model.cache import derived
from ...operators.packed import LOWER_COST, ChainPoly, PackedAlgebra
from ...operators.powers import ChainSpace
from .. import BackendError
from .options import DENSITY_ROUTES

__all__ = ["GaussianMoments", "PointAverages", "MonomialPlan", "make_averager",
           "stationary_samples", "unique_monomials", "rounding_estimate"]

_EPS = np.finfo(float).eps
#: bytes of the per-chunk tables (monomial parts at a chunk of points, gathered pairs)
_CHUNK_BYTES = 128 * 1024**2
#: E|x^e| (the scale of the summation rounding) is taken over the first points only
_ABS_POINTS = 2048


def rounding_estimate(vals: np.ndarray, shadow_vals: np.ndarray,
                      absvals: np.ndarray) -> np.ndarray:
    """Floating-point error estimate of stationary averages of chains:
    ``4 max_i |c_i' - c|`` over the shadow computations (Monte Carlo arithmetic: every
    parameter and every combined coefficient perturbed by a relative ε; calibrated against
    exact rational chains with 40-digit quadrature for n = 1, where it tracks the true
    error within a factor ~3) plus ``2 ε E[Σ_t |c_t| |m_t|]`` for the final summation."""
    spread = np.abs(shadow_vals - vals[None, :]).max(axis=0) if shadow_vals.size else 0.0
    return 4.0 * spread + 2 * _EPS * absvals


# ====================================================================== distinct monomials
def _rows(keys: np.ndarray) -> np.ndarray:
    """Packed keys ``(T, words)`` as a sortable 1-d array (uint64 or raw bytes)."""
    if keys.shape[1] == 1:
        return keys[:, 0]
    return np.ascontiguousarray(keys).view(np.dtype((np.void, 8 * keys.shape[1]))).ravel()


def unique_monomials(alg: PackedAlgebra, polys: list[ChainPoly], n_base: int | None = None
                     ) -> tuple[np.ndarray, list[np.ndarray]]:
    """The distinct monomials of ``polys`` as packed keys ``(U, words)`` and, per
    polynomial, the index of each of its terms in them.

    The first ``n_base`` polynomials (default all) are sorted together; the others (shadow
    copies with nearly the same monomials) only add the keys they do not share."""
    K = len(polys)
    n_base = K if n_base is None else n_base
    words = alg.words
    total = sum(P.nterms for P in polys[:n_base])
    check_memory(total * (8 * words + 8) * 3, f"sorting the {total} terms of {n_base} "
                 "chains", LOWER_COST)
    rows = [_rows(P.keys) for P in polys]
    if total == 0 and all(r.size == 0 for r in rows):
        empty = np.zeros((0, words), dtype=np.uint64)
        return empty, [np.zeros(0, dtype=np.intp) for _ in polys]
    base = np.unique(np.concatenate(rows[:n_base])) if n_base else rows[0][:0]
    extra = []
    for r in rows[n_base:]:
        if r.size == 0:
            continue
        if base.size == 0:
            extra.append(r)
            continue
        i = np.minimum(np.searchsorted(base, r), base.size - 1)
        miss = base[i] != r
        if miss.any():
            extra.append(r[miss])
    if extra:
        base = np.unique(np.concatenate([base, *extra]))
    keys = base.view(np.uint64).reshape(-1, words) if words > 1 else base[:, None]
    return keys, [np.searchsorted(base, r) for r in rows]


# ====================================================================== Gaussian route
class GaussianMoments:
    """Exact averages over ``N(μ, S)`` of polynomials in ``h`` (linear models): the
    moments ``E[h^α]`` of the monomials that occur, memoised across calls."""

    route = "gaussian"

    def __init__(self, space: ChainSpace):
        dens = stationary_density(space.model)
        self.space = space
        self.mu = np.asarray(dens.mean_numpy, dtype=float)
        self.S = np.asarray(dens.cov_numpy, dtype=float)
        self._memo: dict[tuple[int, ...], float] = {(0,) * space.n: 1.0}
        self.info = {"route": self.route}

    def moment(self, alpha: tuple[int, ...]) -> float:
        """``E[h^α]`` by the Stein recursion (memoised; iterative, any degree)."""
        got = self._memo.get(alpha)
        if got is not None:
            return got
        stack = [alpha]
        while stack:
            a = stack[-1]
            if a in self._memo:
                stack.pop()
                continue
            i = next(j for j, e in enumerate(a) if e)
            rest = list(a)
            rest[i] -= 1
            needs = [tuple(rest)]
            for j, aj in enumerate(rest):
                if aj and self.S[i, j] != 0:
                    r2 = list(rest)
                    r2[j] -= 1
                    needs.append(tuple(r2))
            missing = [b for b in needs if b not in self._memo]
            if missing:
                stack.extend(missing)
                continue
            val = self.mu[i] * self._memo[needs[0]]
            t = 1
            for j, aj in enumerate(rest):
                if aj and self.S[i, j] != 0:
                    val += self.S[i, j] * aj * self._memo[needs[t]]
                    t += 1
            self._memo[a] = val
            stack.pop()
        return self._memo[alpha]

    def abs_moment_bound(self, alpha: tuple[int, ...]) -> float:
        """``E|h^α| ≤ Σ_i (α_i/|α|) E|h_i|^{|α|}`` (weighted AM–GM) with
        ``E|h_i|^k ≤ (E h_i^{2k})^{1/2}`` (Cauchy–Schwarz)."""
        k = sum(alpha)
        if k == 0:
            return 1.0
        out = 0.0
        for i, a in enumerate(alpha):
            if a:
                e = [0] * len(alpha)
                e[i] = 2 * k
                out += a / k * math.sqrt(max(self.moment(tuple(e)), 0.0))
        return out

    def average(self, polys: list[ChainPoly], shadows: list[list[ChainPoly]] = ()):
        """``(means (K,), None, rounding estimates (K,))`` (see :func:`rounding_estimate`)."""
        K = len(polys)
        allp = list(polys) + [P for grp in shadows for P in grp]
        keys, inv = unique_monomials(self.space, allp, K)
        E = self.space.unpack(keys)
        rows = [tuple(int(e) for e in r) for r in E]
        m = np.array([self.moment(r) for r in rows])
        mabs = np.array([self.abs_moment_bound(r) for r in rows])
        allvals = np.array([P.coeffs @ m[i] for P, i in zip(allp, inv, strict=True)])
        absvals = np.array([np.abs(P.coeffs) @ mabs[i]
                            for P, i in zip(polys, inv[:K], strict=True)])
        vals = allvals[:K]
        shadow_vals = allvals[K:].reshape(len(shadows), K)
        return vals, None, rounding_estimate(vals, shadow_vals, absvals)


# ====================================================================== point routes
class MonomialPlan:
    """Values of the monomials ``Π_j x_j^{parts[u, j]}`` at points, each obtained from a
    parent monomial by one multiplication (the downward closure of ``parts`` is added),
    level by level in the total degree."""

    def __init__(self, parts: np.ndarray):
        self.n_out = parts.shape[0]
        V = parts.shape[1]
        if V == 0:
            self.levels = []
            self.index = np.zeros(parts.shape[0], dtype=np.int64)
            self.size = 1
            return
        known: dict[tuple[int, ...], int] = {(0,) * V: 0}
        order: list[tuple[int, ...]] = [(0,) * V]
        rows = [tuple(int(e) for e in r) for r in parts]
        closure = set(rows)
        todo = list(closure)
        while todo:  # downward closure: every monomial's parent is present
            r = todo.pop()
            if sum(r) == 0:
                continue
            j = next(i for i, e in enumerate(r) if e)
            par = r[:j] + (r[j] - 1,) + r[j + 1:]
            if par not in closure:
                closure.add(par)
                todo.append(par)
        levels: dict[int, list[tuple[int, ...]]] = {}
        for r in closure:
            if sum(r):
                levels.setdefault(sum(r), []).append(r)
        self.levels = []
        for d in sorted(levels):
            idx, par, var = [], [], []
            for r in sorted(levels[d]):
                j = next(i for i, e in enumerate(r) if e)
                p = r[:j] + (r[j] - 1,) + r[j + 1:]
                known[r] = len(order)
                order.append(r)
                idx.append(known[r])
                par.append(known[p])
                var.append(j)
            self.levels.append((np.array(idx), np.array(par), np.array(var)))
        self.size = len(order)
        self.index = np.array([known[r] for r in rows], dtype=np.int64)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(U, S)`` monomial values at points ``x (S, V)``."""
        out = np.empty((self.size, x.shape[0]))
        out[0] = 1.0
        xt = np.ascontiguousarray(x.T)
        for idx, par, var in self.levels:
            out[idx] = out[par] * xt[var]
        return out[self.index]


class PointAverages:
    """Weighted point sets (quadrature nodes, a density grid or stationary samples in
    independent batches) and averages of chain polynomials over them, computed on the
    monomials that occur only (module docstring)."""

    def __init__(self, space: ChainSpace, h: np.ndarray, weights: np.ndarray,
                 batch: np.ndarray | None, info: dict):
        self.space = space
        h = np.asarray(h, dtype=float).reshape(-1, space.n)
        check_memory(8.0 * h.shape[0] * (space.V + 2), f"the chain variables at "
                     f"{h.shape[0]} stationary points", "lower paths or snapshots")
        self.x = space.variables_at(h)
        self.w = np.asarray(weights, dtype=float)
        self.batch = batch
        self.info = info
        self.route = info["route"]
        #: ``p0`` is known only approximately (grid, tabulated ``log p0``): the caller adds
        #: ``|<p0, L0 Q>|`` (zero for the exact ``p0``) to the error of ``<p0, Q>``
        self.approximate = bool(info.get("approximate", self.route == "grid"))
        self.groups = [np.arange(self.x.shape[0])] if batch is None else \
            [np.flatnonzero(batch == b) for b in range(int(batch.max()) + 1)]

    def moments(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For packed monomials ``keys (U, words)``: per-batch means ``M (U, B)``, the
        overall mean ``(U,)`` and ``E|x^e|`` over the first :data:`_ABS_POINTS` points (a rounding
        scale only)."""
        space, n = self.space, self.space.n
        U, B = keys.shape[0], len(self.groups)
        E = space.unpack(keys)
        hp, ih = np.unique(E[:, :n], axis=0, return_inverse=True)
        ap, ia = np.unique(E[:, n:], axis=0, return_inverse=True)
        ih, ia = ih.ravel(), ia.ravel()
        order = np.lexsort((ih, ia))            # walk the large table A in order
        ih, ia = ih[order], ia[order]
        hplan, aplan = MonomialPlan(hp), MonomialPlan(ap)
        rows_per_point = hplan.size + hplan.n_out + aplan.size + aplan.n_out
        scratch = min(_CHUNK_BYTES, 8.0 * rows_per_point * max(len(self.w), 1))
        check_memory(8.0 * U * (B + 4) + 8.0 * rows_per_point * 16 + 3 * scratch,
                     f"the stationary moments of {U} distinct monomials over {B} batch(es)",
                     LOWER_COST)
        chunk = int(np.clip(_CHUNK_BYTES // (8 * rows_per_point), 16, 4096))
        block = int(max(1024, _CHUNK_BYTES // (16 * chunk)))
        M = np.zeros((U, B))
        Mabs = np.zeros(U)
        wsums = np.zeros(B)
        wabs = 0.0
        for b, idx in enumerate(self.groups):
            col = np.zeros(U)
            for lo in range(0, idx.size, chunk):
                sel = idx[lo:lo + chunk]
                x, w = self.x[sel], self.w[sel]
                H = hplan(x[:, :n])
                A = aplan(x[:, n:])
                Hw = H * w
                for plo in range(0, U, block):
                    s = slice(plo, plo + block)
                    col[s] += np.einsum("ij,ij->i", Hw[ih[s]], A[ia[s]])
                if b == 0 and lo < _ABS_POINTS:   # E|x^e| on the first points: a scale
                    absH, absA = np.abs(Hw), np.abs(A)
                    for plo in range(0, U, block):
                        s = slice(plo, plo + block)
                        Mabs[s] += np.einsum("ij,ij->i", absH[ih[s]], absA[ia[s]])
                    wabs += w.sum()
                wsums[b] += w.sum()
            M[:, b] = col / wsums[b]
        Mabs /= wabs
        mean = M @ wsums / wsums.sum()
        inv = np.empty(U, dtype=np.intp)
        inv[order] = np.arange(U)
        return M[inv], mean[inv], Mabs[inv]

    def average(self, polys: list[ChainPoly], shadows: list[list[ChainPoly]] = ()):
        """``(means (K,), per-batch means (K, B) or None, rounding estimates (K,))``."""
        K = len(polys)
        allp = list(polys) + [P for grp in shadows for P in grp]
        keys, inv = unique_monomials(self.space, allp, K)
        M, mean, Mabs = self.moments(keys)
        allvals = np.array([P.coeffs @ mean[i] for P, i in zip(allp, inv, strict=True)])
        absvals = np.array([np.abs(P.coeffs) @ Mabs[i]
                            for P, i in zip(polys, inv[:K], strict=True)])
        per = np.array([P.coeffs @ M[i] for P, i in zip(polys, inv[:K], strict=True)]
                       ).reshape(K, M.shape[1])
        shadow_vals = allvals[K:].reshape(len(shadows), K)
        rnd = rounding_estimate(allvals[:K], shadow_vals, absvals)
        if self.batch is None:
            return per[:, 0], None, rnd
        return per.mean(axis=1), per, rnd


# ====================================================================== point sets
def _quadrature_1d(space: ChainSpace, panels: int = 64, nodes: int = 24) -> PointAverages:
    """Composite Gauss–Legendre nodes and weights of the closed-form ``p0`` (n = 1) on the
    bracket ``log p0 > max - 60`` of :func:`volterra_sym.density.bracket_1d`; with ``σ(h)``
    (docs/theory.md §11) the bracket and the tabulated ``log p0`` of
    :func:`volterra_sym.density.multiplicative.multiplicative_density` (refined grid of
    ``8 · panels · nodes`` intervals; the averages are marked approximate)."""
    model = space.model
    t, wt = np.polynomial.legendre.leggauss(nodes)
    if model.state_dependent_noise:
        try:
            dens = multiplicative_density(model)
            lo, hi = dens.bracket
        except NotApplicableError as exc:
            raise BackendError(str(exc)) from None
        edges = np.linspace(lo, hi, panels + 1)
        mid, rad = 0.5 * (edges[1:] + edges[:-1]), 0.5 * np.diff(edges)
        pts = (mid[:, None] + rad[:, None] * t[None, :]).ravel()
        fine = np.unique(np.concatenate([pts, np.linspace(lo, hi, 8 * panels * nodes + 1)]))
        with np.errstate(all="ignore"):
            lf = np.asarray(dens.log_density(fine), dtype=float)
        lv = lf[np.searchsorted(fine, pts)]
        w = (rad[:, None] * wt[None, :]).ravel() * np.exp(lv - np.nanmax(lv))
        if not np.all(np.isfinite(w)):
            raise BackendError("the tabulated 1-D density with D(h) is not finite on its "
                               f"bracket [{lo:.4g}, {hi:.4g}]")
        info = {"route": "quadrature", "nodes": int(pts.size), "range": (float(lo), float(hi)),
                "density": "multiplicative (tabulated log p0)", "approximate": True}
        return PointAverages(space, pts[:, None], w / w.sum(), None, info)
    logp = sp.lambdify(model.h[0], overflow_safe(stationary_density(model).log_unnormalised),
                       [NUMPY_EXTRAS, "numpy"])
    try:
        br = bracket_1d(model, drop=60.0)
    except NotApplicableError as exc:
        raise BackendError(str(exc)) from None
    lo, hi = br.lo, br.hi
    edges = np.linspace(lo, hi, panels + 1)
    mid, rad = 0.5 * (edges[1:] + edges[:-1]), 0.5 * np.diff(edges)
    pts = (mid[:, None] + rad[:, None] * t[None, :]).ravel()
    with np.errstate(all="ignore"):
        lv = np.asarray(logp(pts), dtype=float) * np.ones_like(pts)
    w = (rad[:, None] * wt[None, :]).ravel() * np.exp(lv - np.nanmax(lv))
    info = {"route": "quadrature", "nodes": int(pts.size), "range": (float(lo), float(hi))}
    return PointAverages(space, pts[:, None], w / w.sum(), None, info)


def _spectral_grid(model: SRNN, *, required: bool = False):
    """``(points (G, n), weights (G,))`` of the spectral route's grid solution of
    ``L0* p0 = 0`` (:func:`volterra_sym.backends.spectral.grid_density`). When the spectral
    route does not apply (or its grid does not converge) this returns ``None`` — or, with
    ``required``, raises :class:`BackendError` saying why; other errors propagate."""
    from ..spectral import grid_density

    try:
        res = grid_density(model)
    except NotApplicableError as exc:
        if required:
            raise BackendError(f"density='grid' is not available for this model: {exc}") \
                from None
        return None
    pts = np.asarray(res.x, dtype=float)
    wts = np.asarray(res.p0, dtype=float) * float(res.vol)
    if pts.ndim != 2 or pts.shape != (wts.size, model.n) or not np.all(np.isfinite(wts)):
        raise BackendError("the spectral grid density is malformed (non-finite weights or "
                           f"points of shape {pts.shape} for {wts.size} weights)")
    return pts, wts


def stationary_samples(model: SRNN, *, paths: int = 256, snapshots: int = 128,
                       batches: int = 16, dt: float | None = None,
                       burn_in: float | None = None, spacing: float | None = None,
                       seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict]:
    """States of an unperturbed ensemble (any n), from the density layer's burn-in sampler
    (:class:`volterra_sym.density.BurnInSampler`: start from the linearised density,
    exponential Euler with the linearisation exact).

    ``paths`` independent paths run ``burn_in`` (default: the sampler's, 8 relaxation
    times ``1/κ`` of the linearisation), then record ``snapshots`` states every
    ``spacing`` (default ``0.5/κ``, rounded to whole steps of ``dt``; default ``dt``: the
    sampler's). Returns ``h (paths·snapshots, n)``, the batch label of every state
    (``batches`` groups of whole paths: independent) and an info dict. Metastable models
    need a longer ``burn_in``/``spacing`` than the defaults.
    """
    paths = check_int(paths, "paths", lo=1)
    snapshots = check_int(snapshots, "snapshots", lo=1)
    batches = check_int(batches, "batches", lo=1)
    if batches < 2 or paths % batches:
        raise InvalidInputError(f"batches={batches} must be ≥ 2 and divide paths={paths}",
                                param="batches")
    for name, val in (("dt", dt), ("burn_in", burn_in), ("spacing", spacing)):
        if val is not None:
            positive_number(val, name, what="a positive finite time")
    seed = check_int(seed, "seed", lo=0, hi=2**63 - 1)
    if model.state_dependent_noise:
        return _state_noise_samples(model, paths, snapshots, batches, dt, burn_in, spacing,
                                    seed)
    try:
        sampler = burn_in_sampler(model, t_burn=burn_in, dt=dt)
        spacing = 0.5 * sampler.relaxation_time if spacing is None else float(spacing)
        per = max(1, int(round(spacing / sampler.dt)))
        out = sampler.snapshots(np.random.default_rng(seed), int(paths), int(snapshots), per)
    except SimulationError as exc:      # a bad value keeps its InvalidInputError and name
        raise BackendError(f"the stationary sampler failed: {exc}") from None
    states = out.transpose(1, 0, 2).reshape(-1, model.n)
    label = np.repeat(np.arange(paths) // (paths // batches), snapshots)
    info = {"route": "sampling", "paths": paths, "snapshots": snapshots, "batches": batches,
            "dt": sampler.dt, "burn_in": sampler.t_burn, "spacing": per * sampler.dt,
            "seed": seed}
    return states, label, info


def _state_noise_samples(model: SRNN, paths: int, snapshots: int, batches: int,
                         dt: float | None, burn_in: float | None, spacing: float | None,
                         seed: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """:func:`stationary_samples` for ``σ(h)`` (docs/theory.md §11): the Euler–Maruyama
    burn-in :class:`volterra_sym.density.sampling.StateNoiseBurnIn`; batch ``b`` is
    ``paths/batches`` paths of its own (generator ``b`` spawned from ``seed``), each giving
    ``snapshots`` states ``spacing`` apart (default half a relaxation time). The chain's
    stationary law is ``O(dt)`` from ``p0`` (not in the error estimate)."""
    try:
        sampler = state_noise_burn_in(model, t_burn=burn_in, dt=dt)
        spacing = 0.5 * sampler.relaxation_time if spacing is None else float(spacing)
        per = max(1, int(round(spacing / sampler.dt)))
        rngs = [np.random.default_rng(c) for c in np.random.SeedSequence(seed).spawn(batches)]
        blocks = sampler.snapshot_blocks(rngs, paths // batches, int(snapshots), per)
    except SimulationError as exc:      # a bad value keeps its InvalidInputError and name
        raise BackendError(f"the stationary sampler with σ(h) failed: {exc}") from None
    states = np.vstack(blocks)
    label = np.repeat(np.arange(batches), [b.shape[0] for b in blocks])
    info = {"route": "sampling", "paths": paths, "snapshots": snapshots, "batches": batches,
            "dt": sampler.dt, "burn_in": sampler.t_burn, "spacing": per * sampler.dt,
            "seed": seed, "sampler": "Euler–Maruyama with σ(h)"}
    return states, label, info


def _sample_bytes(model: SRNN, sampling: dict) -> float:
    """Bytes of the stationary sample matrices (states, their copy, the noise blocks)."""
    paths = sampling.get("paths", 256)
    snaps = sampling.get("snapshots", 128)
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0
               for v in (paths, snaps)):
        return 0.0          # stationary_samples refuses them with the parameter's name
    return 8.0 * paths * (2 * snaps * model.n + 256 * model.n)


# ====================================================================== route choice
def make_averager(space: ChainSpace, density: str, sampling: dict):
    """The averager of ``density`` (a route of :data:`DENSITY_ROUTES`; ``"auto"``:
    gaussian for linear models, quadrature for n = 1, the spectral grid for n = 2 when it
    applies, else sampling)."""
    model = space.model
    route = density
    if route == "auto":
        if model.is_linear:
            route = "gaussian"
        elif model.n == 1:
            route = "quadrature"
        elif model.n == 2 and not sampling:
            grid = _spectral_grid(model)
            if grid is not None:
                return PointAverages(space, grid[0], grid[1], None,
                                     {"route": "grid", "points": int(grid[1].size)})
            route = "sampling"
        else:
            route = "sampling"
    if route != "sampling" and sampling:
        raise InvalidInputError(f"sampling options {sorted(sampling)} given but density "
                                f"route is {route!r}; pass density='sampling' to use them",
                                param=sorted(sampling)[0])
    if route == "gaussian":
        if not model.is_linear:
            raise BackendError("density='gaussian' needs a linear activation (p0 is "
                               f"Gaussian only then), the activation is "
                               f"{model.activation.name!r}")
        return GaussianMoments(space)
    if route == "quadrature":
        if model.n != 1:
            raise BackendError(f"density='quadrature' needs n = 1, the model has n = "
                               f"{model.n}")
        return _quadrature_1d(space)
    if route == "grid":
        if model.n != 2:
            raise BackendError(f"density='grid' needs n = 2, the model has n = {model.n}")
        pts, wts = _spectral_grid(model, required=True)
        return PointAverages(space, pts, wts, None, {"route": "grid", "points": int(wts.size)})
    if route == "sampling":
        check_memory(_sample_bytes(model, sampling), "the stationary samples",
                     "lower paths or snapshots")
        h, label, info = stationary_samples(model, **sampling)
        return PointAverages(space, h, np.ones(h.shape[0]), label, info)
    raise BackendError(f"density={density!r} is not a route; choose one of "
                       f"{list(DENSITY_ROUTES)}")


def chain_space(model: SRNN, shadow: int | None = None) -> ChainSpace:
    """The model's chain space (``shadow``: the perturbed copy with that index), built once
    per model (:func:`volterra_sym.model.cache.derived`)."""
    if shadow is None:
        return derived(model, ("taylor", "space"), lambda: ChainSpace(model))
    return derived(model, ("taylor", "space", int(shadow)),
                   lambda: ChainSpace(model, perturb_seed=1000 + int(shadow)))


def averager(model: SRNN, density: str, sampling_key: tuple):
    """The stationary averager of ``(model, density, sampling options)``, built once."""
    return derived(model, ("taylor", "averages", density, sampling_key),
                   lambda: make_averager(chain_space(model), density, dict(sampling_key)))
