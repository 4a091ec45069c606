"""Taylor (short-lag) backend: kernels as truncated Taylor series in the gaps (docs/theory.md §5).

For sorted lags ``σ_1 ≤ … ≤ σ_N`` with gaps ``τ_1 = σ_1``, ``τ_j = σ_j - σ_{j-1}``

    K_k(σ) ≈ Σ_{|p| ≤ d} c_{k,p} Π_j τ_j^{p_j} / p_j! ,
    c_{k,p} = < p0, L_{k_N} L0^{p_N} ⋯ L_{k_1} L0^{p_1} f > .

The integrands are polynomial chains in ``x = (h, a(z)[, sigmoid(z)])`` built once per
``(prefix, power)`` by :mod:`volterra_sym.hierarchy.shortlag` and stored as ``"taylor"`` nodes
of the hierarchy graph. Their stationary expectations (routes, ``density=``):

* ``"gaussian"`` — linear activation: ``p0 = N(μ, S)``, exact moments by the Stein recursion
  ``E[y_i y^α] = μ_i E[y^α] + Σ_j S_ij α_j E[y^{α-e_j}]`` (no statistical error);
* ``"quadrature"`` — n = 1: composite Gauss–Legendre against the closed form
  ``p0 ∝ exp(2U/D)`` (``U' = φ``) on the range where ``log p0 > max - 60``;
* ``"grid"`` — n = 2 nonlinear: the grid solution of ``L0* p0 = 0`` of the spectral backend
  (``volterra_sym.backends.spectral.grid_density(model)``: points ``.x``, weights
  ``.p0 · .vol``) when that module is present, else the sampling route;
* ``"sampling"`` — any n: a vectorised Euler–Maruyama ensemble of unperturbed paths after a
  burn-in; the paths are split into independent batches and every coefficient (and every
  kernel value) carries the batch-means standard error. The time-step bias O(dt) is *not*
  in the error estimate (the default ``dt = 0.005 / λ_max`` keeps it ≲ 0.3 % of variances).

All point routes compute the moment matrix ``G_{uv} = E[H_u(h) A_v(h)]`` of the distinct
``h``-monomials ``H_u`` and activation monomials ``A_v`` by one BLAS product per batch and
read every coefficient off it: ``c = Σ_t coeff_t G[u_t, v_t]``.

Error estimates and valid range
-------------------------------
*Coefficients.* The chains suffer massive cancellation (``<p0, L0 g> = 0``): the relative
floating-point error of ``c_{k,p}`` grows roughly tenfold per power. It is estimated by
Monte Carlo arithmetic: the chains are recomputed in 3 *shadow* spaces whose parameters and
combined coefficients carry random relative perturbations of size ε, and
``δc = 4 max |c' - c| + 2ε E[Σ|coeff_t||m_t|]`` (calibrated against exact rational chains
with 40-digit quadrature, n = 1). The grid route adds ``|<p0_grid, L0 Q>|`` (zero for the
exact ``p0``); the sampling route gives batch standard errors.

*Radius.* With the shell majorants ``m_q = Σ_{|p|=q} |c_{k,p}| / p!`` (``p! = Π p_j!``),
``|Σ_{|p|=q} c_p τ^p/p!| ≤ m_q ‖τ‖_∞^q``. On the *reliable* shells (known to 25 %), the
per-step ratios ``ρ_q = m_q / m_{q-1}`` are extrapolated linearly in ``q`` from the last two
windows (interior dips filled), and the radius at degree ``d`` (in the largest gap
``‖τ‖_∞``) is ``1/ρ_{d+1}`` (:func:`taylor_radius`). Lags beyond it raise
:class:`BackendError` (``on_radius="warn"``: a warning and an infinite error). For linear
models the series is entire and the estimate grows with ``d``; for nonlinear activations
the ratios usually keep growing (the series can be asymptotic), so the estimate is the
valid range *at this degree*.

*Truncation.* The terms of order ``> d`` continued from the last reliable shell with the
extrapolated ratios, summed while they decrease, times 2 (checked against an independent
1-D reference). ``return_error`` reports truncation + statistical (1 s.e.) + rounding.
With ``tol=`` the degree is raised by 2 up to ``max_degree`` until the estimate is below
``tol`` (a :class:`TaylorAccuracyWarning` otherwise).

Options of ``kernel``: ``degree`` (default 8), ``tol``, ``max_degree`` (default 16),
``density`` (``"auto"`` or a route above), ``on_radius`` (``"raise"``/``"warn"``) and for
sampling ``paths, snapshots, batches, dt, burn_in, spacing, seed``.
"""

from __future__ import annotations

import importlib
import math
import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.special
import sympy as sp

from ..density import bracket_1d, burn_in_sampler, stationary_density
from ..density.stationary import NUMPY_EXTRAS, overflow_safe
from ..errors import InvalidInputError, NotApplicableError, SimulationError
from ..hierarchy.dag import ResponseHierarchy
from ..hierarchy.shortlag import (
    ChainPoly,
    ChainSpace,
    ShortLagChains,
    multi_indices,
    unsupported_reason,
)
from ..model import SRNN
from ..model.cache import derived
from . import BackendError

__all__ = ["BACKEND", "TaylorSeries", "TaylorExpansion", "TaylorAccuracyWarning",
           "taylor_series", "taylor_radius", "taylor_coefficients", "taylor_hierarchy",
           "stationary_samples",
           "MAX_ORDER", "DEFAULT_DEGREE", "DENSITY_ROUTES"]

#: Largest kernel order the backend accepts (coefficients grow like C(d+N, N) m^N).
MAX_ORDER = 6
#: Default total Taylor degree ``|p| ≤ degree``.
DEFAULT_DEGREE = 8
MAX_DEGREE = 40
MAX_COEFFICIENTS = 200_000
DENSITY_ROUTES = ("auto", "gaussian", "quadrature", "grid", "sampling")
_SAMPLING_KEYS = ("paths", "snapshots", "batches", "dt", "burn_in", "spacing", "seed")
_EPS = np.finfo(float).eps


class TaylorAccuracyWarning(UserWarning):
    """The requested ``tol`` was not reached, or lags are beyond the valid range."""


# ====================================================================== stationary averages
class _GaussianMoments:
    """Exact averages over ``N(μ, S)`` of polynomials in ``h`` (linear models)."""

    route = "gaussian"

    def __init__(self, space: ChainSpace):
        dens = stationary_density(space.model)
        self.space = space
        self.mu = np.asarray(dens.mean_numpy, dtype=float)
        self.S = np.asarray(dens.cov_numpy, dtype=float)
        self._memo: dict[tuple[int, ...], float] = {(0,) * space.n: 1.0}
        self.info = {"route": self.route}

    def moment(self, alpha: tuple[int, ...]) -> float:
        """``E[h^α]`` by the Stein recursion (memoised)."""
        got = self._memo.get(alpha)
        if got is not None:
            return got
        i = next(j for j, a in enumerate(alpha) if a)
        rest = list(alpha)
        rest[i] -= 1
        val = self.mu[i] * self.moment(tuple(rest))
        for j, aj in enumerate(rest):
            if aj and self.S[i, j] != 0:
                r2 = list(rest)
                r2[j] -= 1
                val += self.S[i, j] * aj * self.moment(tuple(r2))
        self._memo[alpha] = val
        return val

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
        """``(means (K,), None, rounding estimates (K,))`` (see :func:`_rounding`)."""
        def mean(P: ChainPoly) -> float:
            if not P.nterms:
                return 0.0
            rows = [tuple(int(e) for e in row) for row in self.space.exponents(P)]
            return float(P.coeffs @ np.array([self.moment(r) for r in rows]))

        def absmean(P: ChainPoly) -> float:
            if not P.nterms:
                return 0.0
            rows = [tuple(int(e) for e in row) for row in self.space.exponents(P)]
            return float(np.abs(P.coeffs) @ np.array([self.abs_moment_bound(r) for r in rows]))

        vals = np.array([mean(P) for P in polys])
        shadow_vals = np.array([[mean(P) for P in grp] for grp in shadows]).reshape(
            len(shadows), len(polys))
        absvals = np.array([absmean(P) for P in polys])
        return vals, None, _rounding(vals, shadow_vals, absvals)


def _rounding(vals: np.ndarray, shadow_vals: np.ndarray, absvals: np.ndarray) -> np.ndarray:
    """Floating-point error estimate of stationary averages of chains:
    ``4 max_i |c_i' - c|`` over the shadow computations (Monte Carlo arithmetic: every
    parameter and every combined coefficient perturbed by a relative ε; calibrated against
    exact rational chains with 40-digit quadrature for n = 1, where it tracks the true
    error within a factor ~3) plus ``2 ε E[Σ_t |c_t| |m_t|]`` for the final summation."""
    spread = np.abs(shadow_vals - vals[None, :]).max(axis=0) if shadow_vals.size else 0.0
    return 4.0 * spread + 2 * _EPS * absvals


class _PointAverages:
    """Weighted point sets (quadrature nodes, a density grid or stationary samples in
    independent batches) and moment-matrix averages of chain polynomials."""

    def __init__(self, space: ChainSpace, h: np.ndarray, weights: np.ndarray,
                 batch: np.ndarray | None, info: dict):
        self.space = space
        self.x = space.variables_at(h)
        self.w = np.asarray(weights, dtype=float)
        self.batch = batch
        self.info = info
        self.route = info["route"]

    def average(self, polys: list[ChainPoly], shadows: list[list[ChainPoly]] = (),
                chunk: int = 2048):
        """``(means (K,), per-batch means (K, B) or None, rounding estimates (K,))``.

        The moment matrix ``G_b[u, v] = mean over batch b of H_u A_v`` (and ``E|H_u A_v|``)
        is one BLAS product per chunk; each chain reads its terms off it."""
        space, n = self.space, self.space.n
        allp = list(polys) + [P for grp in shadows for P in grp]
        K = len(polys)
        keys = np.concatenate([P.keys for P in allp]) if allp else np.zeros((0, 1))
        if keys.shape[0] == 0:
            z = np.zeros(K)
            return z, (None if self.batch is None else np.zeros((K, 2))), z
        if keys.shape[1] == 1:
            ukeys, inv = np.unique(keys[:, 0], return_inverse=True)
            ukeys = ukeys[:, None]
        else:
            ukeys, inv = np.unique(keys, axis=0, return_inverse=True)
        E = space.exponents(ChainPoly(ukeys, np.zeros(ukeys.shape[0]), 0))
        hp, ih = np.unique(E[:, :n], axis=0, return_inverse=True)
        ap, ia = np.unique(E[:, n:], axis=0, return_inverse=True)
        ih, ia = ih.ravel()[inv.ravel()], ia.ravel()[inv.ravel()]
        hp_plan, ap_plan = _MonomialPlan(hp), _MonomialPlan(ap)
        coeffs = np.concatenate([P.coeffs for P in allp])
        owner = np.repeat(np.arange(len(allp)), [P.nterms for P in allp])
        base = owner < K
        groups = [np.arange(self.x.shape[0])] if self.batch is None else \
            [np.flatnonzero(self.batch == b) for b in range(int(self.batch.max()) + 1)]
        vals = np.empty((K, len(groups)))
        Gsum = np.zeros((hp.shape[0], ap.shape[0]))
        Gabs = np.zeros_like(Gsum)
        wtot = 0.0
        for g, idx in enumerate(groups):
            G = np.zeros_like(Gsum)
            wsum = 0.0
            for lo in range(0, idx.size, chunk):
                sel = idx[lo:lo + chunk]
                x, w = self.x[sel], self.w[sel]
                H = hp_plan(x[:, :n])
                A = ap_plan(x[:, n:])
                G += (H * w) @ A.T
                if g == 0 and lo == 0:  # E|H A| (rounding scale only): first chunk
                    Gabs += (np.abs(H) * w) @ np.abs(A).T / w.sum()
                wsum += w.sum()
            wtot += wsum
            Gsum += G
            G /= wsum
            vals[:, g] = np.bincount(owner[base], weights=coeffs[base] * G[ih[base], ia[base]],
                                     minlength=K)
        Gmean = Gsum / wtot
        allvals = np.bincount(owner, weights=coeffs * Gmean[ih, ia], minlength=len(allp))
        absvals = np.bincount(owner[base], weights=np.abs(coeffs[base]) * Gabs[ih[base],
                                                                              ia[base]],
                              minlength=K)
        shadow_vals = allvals[K:].reshape(len(shadows), K)
        rnd = _rounding(allvals[:K], shadow_vals, absvals)
        if self.batch is None:
            return vals[:, 0], None, rnd
        return vals.mean(axis=1), vals, rnd


class _MonomialPlan:
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
        stack = sorted(set(rows), key=sum)
        closure = set(stack)
        todo = list(stack)
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


def _quadrature_1d(space: ChainSpace, panels: int = 64, nodes: int = 24) -> _PointAverages:
    """Composite Gauss–Legendre nodes and weights of the closed-form ``p0`` (n = 1) on the
    bracket ``log p0 > max - 60`` of :func:`volterra_sym.density.bracket_1d`."""
    model = space.model
    logp = sp.lambdify(model.h[0], overflow_safe(stationary_density(model).log_unnormalised),
                       [NUMPY_EXTRAS, "numpy"])
    try:
        br = bracket_1d(model, drop=60.0)
    except NotApplicableError as exc:
        raise BackendError(str(exc)) from None
    lo, hi = br.lo, br.hi
    t, wt = np.polynomial.legendre.leggauss(nodes)
    edges = np.linspace(lo, hi, panels + 1)
    mid, rad = 0.5 * (edges[1:] + edges[:-1]), 0.5 * np.diff(edges)
    pts = (mid[:, None] + rad[:, None] * t[None, :]).ravel()
    with np.errstate(all="ignore"):
        lv = np.asarray(logp(pts), dtype=float) * np.ones_like(pts)
    w = (rad[:, None] * wt[None, :]).ravel() * np.exp(lv - np.nanmax(lv))
    info = {"route": "quadrature", "nodes": int(pts.size), "range": (float(lo), float(hi))}
    return _PointAverages(space, pts[:, None], w / w.sum(), None, info)


def _spectral_grid(model: SRNN):
    """``(points (G, n), weights (G,))`` of the spectral backend's grid solution of
    ``L0* p0 = 0`` (``grid_density(model)`` with ``.x``, ``.p0``, ``.vol``) if that module is
    present and applies; else ``None``."""
    try:
        mod = importlib.import_module("volterra_sym.backends.spectral")
    except ImportError:
        return None
    fn = getattr(mod, "grid_density", None)
    if not callable(fn):
        return None
    try:
        res = fn(model)
        pts = np.asarray(res.x, dtype=float)
        wts = np.asarray(res.p0, dtype=float) * float(res.vol)
    except Exception:  # noqa: BLE001 - any failure means: fall back to sampling
        return None
    if pts.ndim != 2 or pts.shape != (wts.size, model.n) or not np.all(np.isfinite(wts)):
        return None
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
    for name, val in (("paths", paths), ("snapshots", snapshots), ("batches", batches)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise BackendError(f"{name} must be a positive integer, got {val!r}")
    if batches < 2 or paths % batches:
        raise BackendError(f"batches={batches} must be ≥ 2 and divide paths={paths}")
    for name, val in (("dt", dt), ("burn_in", burn_in), ("spacing", spacing)):
        if val is not None and not (isinstance(val, (int, float, np.floating))
                                    and math.isfinite(val) and val > 0):
            raise BackendError(f"{name} must be a positive finite time, got {val}")
    try:
        sampler = burn_in_sampler(model, t_burn=burn_in, dt=dt)
        spacing = 0.5 * sampler.relaxation_time if spacing is None else float(spacing)
        per = max(1, int(round(spacing / sampler.dt)))
        out = sampler.snapshots(np.random.default_rng(seed), int(paths), int(snapshots), per)
    except (InvalidInputError, SimulationError) as exc:
        raise BackendError(f"the stationary sampler failed: {exc}") from None
    states = out.transpose(1, 0, 2).reshape(-1, model.n)
    label = np.repeat(np.arange(paths) // (paths // batches), snapshots)
    info = {"route": "sampling", "paths": paths, "snapshots": snapshots, "batches": batches,
            "dt": sampler.dt, "burn_in": sampler.t_burn, "spacing": per * sampler.dt,
            "seed": seed}
    return states, label, info


def _make_averager(space: ChainSpace, density: str, sampling: dict):
    model = space.model
    route = density
    if route == "auto":
        if model.is_linear:
            route = "gaussian"
        elif model.n == 1:
            route = "quadrature"
        elif model.n == 2 and (grid := _spectral_grid(model)) is not None:
            return _PointAverages(space, grid[0], grid[1], None,
                                  {"route": "grid", "points": int(grid[1].size)})
        else:
            route = "sampling"
    if route != "sampling" and sampling:
        raise BackendError(f"sampling options {sorted(sampling)} given but density route "
                           f"is {route!r}; pass density='sampling' to use them")
    if route == "gaussian":
        if not model.is_linear:
            raise BackendError("density='gaussian' needs a linear activation (p0 is "
                               f"Gaussian only then), the activation is "
                               f"{model.activation.name!r}")
        return _GaussianMoments(space)
    if route == "quadrature":
        if model.n != 1:
            raise BackendError(f"density='quadrature' needs n = 1, the model has n = "
                               f"{model.n}")
        return _quadrature_1d(space)
    if route == "grid":
        grid = _spectral_grid(model) if model.n == 2 else None
        if grid is None:
            raise BackendError("density='grid' needs n = 2 and the spectral backend's "
                               "stationary_grid(model); it is not available")
        return _PointAverages(space, grid[0], grid[1], None,
                              {"route": "grid", "points": int(grid[1].size)})
    if route == "sampling":
        h, label, info = stationary_samples(model, **sampling)
        return _PointAverages(space, h, np.ones(h.shape[0]), label, info)
    raise BackendError(f"density={density!r} is not a route; choose one of "
                       f"{list(DENSITY_ROUTES)}")


# ====================================================================== series
@dataclass
class TaylorSeries:
    """The truncated series of one kernel: ``K(σ) ≈ Σ_{|p|≤d} c_p Π τ_j^{p_j}/p_j!``.

    Attributes: ``channels``, ``degree``, ``powers (K, N)``, ``coeffs (K,)``, ``rounding``
    ``(K,)`` error estimates of the coefficients from floating point (and, on the ``grid``
    route, from the discretised ``p0``: ``|<p0_grid, L0 Q>|`` for the chain ``Q``, which
    vanishes for the exact ``p0``), ``batches (K, B)``
    per-batch coefficients (sampling route) or ``None``, ``route`` and ``info``.
    """

    channels: tuple[int, ...]
    degree: int
    powers: np.ndarray
    coeffs: np.ndarray
    rounding: np.ndarray
    batches: np.ndarray | None
    route: str
    info: dict = field(default_factory=dict)

    @property
    def order(self) -> int:
        return len(self.channels)

    @cached_property
    def _inv_fact(self) -> np.ndarray:
        return 1.0 / np.prod(scipy.special.factorial(self.powers), axis=1)

    @property
    def coefficients(self) -> dict[tuple[int, ...], float]:
        """``{p: c_{k,p}}``."""
        return {tuple(int(q) for q in p): float(c)
                for p, c in zip(self.powers, self.coeffs, strict=True)}

    @property
    def coefficient_stderr(self) -> np.ndarray:
        """Standard errors of the coefficients (zeros for exact routes)."""
        if self.batches is None:
            return np.zeros_like(self.coeffs)
        B = self.batches.shape[1]
        return self.batches.std(axis=1, ddof=1) / math.sqrt(B)

    def _shell(self, weights: np.ndarray) -> np.ndarray:
        q = self.powers.sum(axis=1)
        return np.bincount(q, weights=weights * self._inv_fact, minlength=self.degree + 1)

    @cached_property
    def shell_norms(self) -> np.ndarray:
        """``m_q = Σ_{|p|=q} |c_p| / p!`` for ``q = 0..degree``."""
        return self._shell(np.abs(self.coeffs))

    @cached_property
    def shell_uncertainty(self) -> np.ndarray:
        """Rounding + 2 s.e. of the shells, ``Σ_{|p|=q} (δc_p + 2 se_p) / p!``."""
        return self._shell(self.rounding + 2 * self.coefficient_stderr)

    @cached_property
    def reliable_shells(self) -> list[int]:
        """Shells ``q ≥ 1`` whose majorant is non-zero and known to 25 % (rounding + 2 s.e.);
        the radius estimate uses these only."""
        m, u = self.shell_norms, self.shell_uncertainty
        top = m.max() if m.size else 0.0
        return [q for q in range(1, self.degree + 1)
                if m[q] > 1e-13 * top and m[q] > 0 and u[q] <= 0.25 * m[q]]

    @cached_property
    def _ratio_model(self) -> tuple[int, float, float, float] | None:
        """``(q*, ρ*, slope, b*)``: the last reliable shell ``q*`` and the per-step shell
        ratio ``ρ(q) = m_q/m_{q-1} ≈ ρ* + slope (q - b*)``.

        Interior dips (an accidentally small shell, ``m_q < √(m_{q-1} m_{q+1})``) are filled
        with the geometric mean of their neighbours; ``ρ*`` is the geometric-mean ratio over
        the last (up to 3) steps between reliable shells, centred at ``b*``, and ``slope``
        compares it with the previous (up to 3) steps, clipped at ≥ 0."""
        m = self.shell_norms
        qs = self.reliable_shells
        pts = ([0] if m[0] > 0 else []) + qs
        if len(pts) < 2:
            return None
        lm = np.log(np.array([m[q] for q in pts]))
        q_arr = np.array(pts, dtype=float)
        for i in range(1, len(pts) - 1):  # fill dips (log-linear interpolation)
            t = (q_arr[i] - q_arr[i - 1]) / (q_arr[i + 1] - q_arr[i - 1])
            lm[i] = max(lm[i], (1 - t) * lm[i - 1] + t * lm[i + 1])
        steps = len(pts) - 1
        w = min(3, max(1, steps // 2)) if steps >= 2 else 1
        late_a, late_b = len(pts) - 1 - w, len(pts) - 1
        rho = math.exp((lm[late_b] - lm[late_a]) / (q_arr[late_b] - q_arr[late_a]))
        centre = 0.5 * (q_arr[late_a] + q_arr[late_b]) + 0.5
        slope = 0.0
        if late_a - w >= 0:
            ea = late_a - w
            rho0 = math.exp((lm[late_a] - lm[ea]) / (q_arr[late_a] - q_arr[ea]))
            c0 = 0.5 * (q_arr[ea] + q_arr[late_a]) + 0.5
            slope = max(0.0, (rho - rho0) / (centre - c0))
        return qs[-1], rho, slope, centre

    @cached_property
    def radius(self) -> float:
        """Estimated radius of convergence, in the largest gap ``‖τ‖_∞``, of the series at
        this degree: ``1/ρ(d+1)`` with the shell ratios ``ρ(q) = m_q/m_{q-1}`` extrapolated
        linearly from the last two reliable shells (Domb–Sykes-like; a ratio test when the
        ratios settle). ``inf`` when the last shells vanish (a polynomial in the gaps).

        For nonlinear activations the ratios usually keep growing with ``q`` (the
        eigen-coefficients of analytic-in-a-strip activations decay sub-geometrically, so
        the series can be asymptotic): the estimate is the valid lag range *at this degree*
        and shrinks as the degree grows."""
        m = self.shell_norms
        negligible = 1e-13 * m.max()
        tail = range(max(self.degree - 1, 1), self.degree + 1)
        if all(m[q] <= negligible and self.shell_uncertainty[q] <= negligible for q in tail):
            return math.inf  # the last shells vanish: a polynomial in the gaps
        model = self._ratio_model
        if model is None:
            return 0.0
        _, rho, slope, b = model
        nxt = rho + slope * (self.degree + 1 - b)
        return math.inf if nxt <= 0 else 1.0 / nxt

    def _tail(self, gap: np.ndarray) -> np.ndarray:
        """Truncation estimate: continue the last reliable shell majorant
        ``m_{q*} ‖τ‖^{q*}`` with the extrapolated ratios and sum the terms of order
        ``> degree`` while they decrease (the remainder of an asymptotic series is of the
        order of its smallest terms), times a safety factor 2 (checked against an
        independent 1-D reference, where the unscaled sum tracks the true error within a
        factor 1.5); ``inf`` when the first of them does not decrease."""
        model = self._ratio_model
        if model is None:
            return np.where(gap > 0, np.inf, 0.0)
        qstar, rho, slope, b = model
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            term = self.shell_norms[qstar] * gap ** qstar
            total = np.zeros_like(gap)
            alive = gap > 0
            for q in range(qstar + 1, qstar + 400):
                x = (rho + slope * (q - b)) * gap
                if q > self.degree:
                    alive &= x < 1.0
                term = term * x
                if q > self.degree:
                    total = np.where(alive, total + term, total)
                if q > self.degree and not np.any(alive & (term > 1e-17 * (total + 1e-300))):
                    break
            first = (rho + slope * (self.degree + 1 - b)) * gap
            total = np.where(first >= 1.0, np.inf, 2.0 * total)  # ×2: safety factor
        return total

    def evaluate(self, sorted_lags: np.ndarray, on_radius: str = "raise"):
        """``(values, truncation_error, statistical_error, rounding_error)`` at sorted lags
        ``(P, N)``; lags beyond :attr:`radius` raise (``on_radius="warn"``: warn, error inf)."""
        lags = np.asarray(sorted_lags, dtype=float).reshape(-1, self.order)
        tau = np.diff(lags, axis=1, prepend=0.0)
        if np.any(tau < -1e-12 * np.maximum(1.0, np.abs(lags).max(initial=0.0))):
            raise BackendError("sorted_lags must be sorted along the last axis "
                               "(σ_1 ≤ … ≤ σ_N)")
        tau = np.maximum(tau, 0.0)
        mono = np.prod(tau[:, None, :] ** self.powers[None, :, :], axis=2) * self._inv_fact
        values = mono @ self.coeffs
        rnd = mono @ self.rounding + 16 * _EPS * (mono @ np.abs(self.coeffs))
        stat = np.zeros_like(values)
        if self.batches is not None:
            per = mono @ self.batches
            stat = per.std(axis=1, ddof=1) / math.sqrt(per.shape[1])
        r = self.radius
        gap = tau.max(axis=1)
        trunc = np.zeros_like(values)
        if math.isfinite(r):
            trunc = self._tail(gap)
            bad = (gap >= r) & (gap > 0)
            trunc[bad] = np.inf
            if bad.any():
                msg = (f"lags with largest gap {gap[bad].max():.4g} are beyond the estimated "
                       f"radius of convergence r ≈ {r:.4g} of the short-lag Taylor series of "
                       f"K{[k + 1 for k in self.channels]} at degree {self.degree} (shell "
                       f"ratio test on shells {self.reliable_shells[-3:]}); the series is "
                       "meaningless there — use shorter lags or method='exact'/'spectral'")
                if on_radius == "raise":
                    raise BackendError(msg)
                warnings.warn(msg, TaylorAccuracyWarning, stacklevel=3)
        return values, trunc, stat, rnd


class TaylorExpansion:
    """Chains, stationary averages and coefficients for one model and observable.

    The chains live in ``self.hierarchy.graph`` (nodes ``("L0^p", π, q)`` and
    ``("c", k, p)``, the latter with attributes ``value``, ``stderr``, ``rounding``),
    shared by every kernel order and degree asked for.
    """

    def __init__(self, model: SRNN, f: sp.Expr, density: str = "auto",
                 sampling: dict | None = None, *, hierarchy: ResponseHierarchy | None = None):
        self.model = model
        self.space = ChainSpace(model)
        self.hierarchy = ResponseHierarchy(model, f, order=1) if hierarchy is None \
            else hierarchy
        self.f = self.hierarchy.f
        self.n_shadows = 3
        self.chains = ShortLagChains(self.space, self.f, self.hierarchy.graph,
                                     shadows=self.n_shadows)
        self.density = density
        self.sampling = dict(sampling or {})
        self._batches: dict[tuple, np.ndarray] = {}

    @cached_property
    def averager(self):
        return _make_averager(self.space, self.density, self.sampling)

    def ensure_order(self, N: int) -> None:
        """Grow the hierarchy (a new graph with the kernel nodes of order ≤ N)."""
        if N <= self.hierarchy.order:
            return
        hier = ResponseHierarchy(self.model, self.f, order=N)
        self.chains.attach(hier.graph)
        for node, data in list(hier.graph.nodes(data=True)):
            if data.get("kind") == "taylor_coefficient" and ("K", data["channels"]) in hier.graph:
                hier.graph.add_edge(node, ("K", data["channels"]), op="Σ_p c τ^p/p!")
        self.hierarchy = hier

    def series(self, channels: tuple[int, ...], degree: int) -> TaylorSeries:
        """The coefficients ``c_{k,p}``, ``|p| ≤ degree``, as a :class:`TaylorSeries`."""
        k = tuple(int(c) for c in channels)
        self.ensure_order(len(k))
        ps = multi_indices(len(k), degree)
        nodes = [self.chains.coefficient_node(k, p) for p in ps]
        self.evaluate_nodes(nodes)
        G = self.chains.graph
        coeffs = np.array([G.nodes[nd]["value"] for nd in nodes])
        rounding = np.array([G.nodes[nd]["rounding"] for nd in nodes])
        batches = np.stack([self._batches[nd] for nd in nodes]) if self._batches else None
        return TaylorSeries(k, degree, np.array(ps, dtype=np.int64).reshape(len(ps), len(k)),
                            coeffs, rounding, batches, self.averager.route,
                            dict(self.averager.info))

    def evaluate_nodes(self, nodes: list[tuple]) -> None:
        """Stationary averages of the chains of coefficient nodes ``("c", k, p)`` that have
        none yet, all in one pass over the density's points (shared moment matrix)."""
        G = self.chains.graph
        todo = [nd for nd in nodes if G.nodes[nd]["value"] is None]
        if not todo:
            return
        polys = [self.chains.chain(nd[1], nd[2]) for nd in todo]
        shadow = [self.chains.shadow_chains(nd[1], nd[2]) for nd in todo]
        shadows = [[sh[i] for sh in shadow] for i in range(self.n_shadows)]
        vals, batches, rnd = self.averager.average(polys, shadows)
        if self.averager.route == "grid":
            # the grid p0 is approximate: <p0, L0 Q> = 0 exactly, so the computed
            # |<p0_grid, L0 Q>| estimates its quadrature error for the chain Q
            resid, _, _ = self.averager.average([self.space.L0(P) for P in polys])
            rnd = rnd + np.abs(resid)
        for i, nd in enumerate(todo):
            data = G.nodes[nd]
            data["value"], data["rounding"] = float(vals[i]), float(rnd[i])
            if batches is not None:
                self._batches[nd] = batches[i]
                data["stderr"] = float(batches[i].std(ddof=1) / math.sqrt(batches.shape[1]))
            else:
                data["stderr"] = 0.0

    def mean0(self) -> float:
        vals, _, _ = self.averager.average([self.chains.get((), 0)])
        return float(vals[0])


# ====================================================================== options & API
def _expansion(model: SRNN, f: sp.Expr, density: str, sampling: dict) -> TaylorExpansion:
    key = (sp.sympify(f), density, tuple(sorted(sampling.items())))
    cache = derived(model, ("taylor", "expansions"), dict)
    if key not in cache:
        cache[key] = TaylorExpansion(model, f, density, sampling)
    return cache[key]


def _check_int(name: str, val, lo: int, hi: int) -> int:
    if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or not lo <= val <= hi:
        raise BackendError(f"{name} must be an integer in [{lo}, {hi}], got {val!r}")
    return int(val)


@dataclass
class _Options:
    degree: int = DEFAULT_DEGREE
    tol: float | None = None
    max_degree: int = 16
    density: str = "auto"
    on_radius: str = "raise"
    sampling: dict = field(default_factory=dict)

    @classmethod
    def parse(cls, options: dict) -> _Options:
        allowed = {"degree", "tol", "max_degree", "density", "on_radius", *_SAMPLING_KEYS}
        unknown = set(options) - allowed
        if unknown:
            raise TypeError(f"method 'taylor' got unknown options {sorted(unknown)}; "
                            f"allowed: {sorted(allowed)}")
        o = cls()
        o.degree = _check_int("degree", options.get("degree", DEFAULT_DEGREE), 1, MAX_DEGREE)
        o.max_degree = _check_int("max_degree", options.get("max_degree", max(16, o.degree)),
                                  o.degree, MAX_DEGREE)
        tol = options.get("tol")
        if tol is not None and not (isinstance(tol, (int, float)) and math.isfinite(tol)
                                    and tol > 0):
            raise BackendError(f"tol must be a positive finite number, got {tol!r}")
        o.tol = None if tol is None else float(tol)
        o.density = options.get("density", "auto")
        if o.density not in DENSITY_ROUTES:
            raise BackendError(f"density={o.density!r} is not a route; choose one of "
                               f"{list(DENSITY_ROUTES)}")
        o.on_radius = options.get("on_radius", "raise")
        if o.on_radius not in ("raise", "warn"):
            raise BackendError(f"on_radius must be 'raise' or 'warn', got {o.on_radius!r}")
        o.sampling = {k: options[k] for k in _SAMPLING_KEYS if k in options}
        return o


def _check_request(model: SRNN, f, channels) -> tuple[int, ...]:
    reason = BACKEND.applies(model, f)
    if reason is not None:
        raise BackendError(f"method 'taylor' does not apply: {reason}")
    k = (channels,) if isinstance(channels, (int, np.integer)) else tuple(channels)
    N = len(k)
    if not 1 <= N <= MAX_ORDER:
        raise BackendError(f"kernel order N={N} is beyond what method 'taylor' supports "
                           f"(1 ≤ N ≤ {MAX_ORDER}: the number of coefficients grows like "
                           "C(degree+N, N) per channel tuple)")
    for c in k:
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 0 <= c < model.m:
            raise BackendError(f"channel k={c!r} is out of range: the model has m={model.m} "
                               f"input channel(s), indexed 0..{model.m - 1}")
    return tuple(int(c) for c in k)


def taylor_series(model: SRNN, f=None, channels=(0,), degree: int = DEFAULT_DEGREE,
                  **options) -> TaylorSeries:
    """The short-lag series of ``K_{channels}`` for observable ``f`` (default the model's)
    with all ``c_{k,p}``, ``|p| ≤ degree`` (``options``: ``density`` and sampling keys)."""
    f = model.observable(f)
    k = _check_request(model, f, channels)
    o = _Options.parse({"degree": degree, **options})
    n_coef = math.comb(o.degree + len(k), len(k))
    if n_coef > MAX_COEFFICIENTS:
        raise BackendError(f"degree={o.degree} at order {len(k)} needs {n_coef} coefficients "
                           f"(> {MAX_COEFFICIENTS}); lower the degree")
    return _expansion(model, f, o.density, o.sampling).series(k, o.degree)


def taylor_hierarchy(hierarchy: ResponseHierarchy, degree: int = DEFAULT_DEGREE, *,
                     evaluate: bool = True, **options) -> TaylorExpansion:
    """Write the short-lag chains of every kernel of ``hierarchy`` (orders ``1..order``,
    ``|p| ≤ degree``) into ``hierarchy.graph`` — nodes ``("L0^p", π, q)`` and
    ``("c", k, p)`` — and, with ``evaluate``, their stationary averages (node attributes
    ``value``, ``stderr``, ``rounding``). Later ``method="taylor"`` evaluations of the same
    model, observable and density options reuse (and extend) these nodes."""
    model, f = hierarchy.model, hierarchy.f
    reason = BACKEND.applies(model, f)
    if reason is not None:
        raise BackendError(f"method 'taylor' does not apply: {reason}")
    o = _Options.parse({"degree": degree, **options})
    exp = TaylorExpansion(model, f, o.density, o.sampling, hierarchy=hierarchy)
    key = (sp.sympify(f), o.density, tuple(sorted(o.sampling.items())))
    derived(model, ("taylor", "expansions"), dict)[key] = exp
    exp.chains.build(hierarchy.order, o.degree)
    if evaluate:
        exp.evaluate_nodes([n for n, d in hierarchy.graph.nodes(data=True)
                            if d["kind"] == "taylor_coefficient"])
    return exp


def taylor_coefficients(model: SRNN, f=None, channels=(0,), degree: int = DEFAULT_DEGREE,
                        **options) -> dict[tuple[int, ...], float]:
    """``{p: c_{k,p}}`` for ``|p| ≤ degree``."""
    return taylor_series(model, f, channels, degree, **options).coefficients


def taylor_radius(model: SRNN, f=None, channels=(0,), degree: int = DEFAULT_DEGREE,
                  **options) -> float:
    """Estimated radius of convergence (in the largest gap ``max_j τ_j``) of the short-lag
    series of ``K_{channels}``: lags whose largest gap exceeds it are refused."""
    return taylor_series(model, f, channels, degree, **options).radius


class _TaylorBackend:
    name = "taylor"

    def applies(self, model: SRNN, f) -> str | None:
        reason = unsupported_reason(model)
        if reason is not None:
            return reason
        g = sp.sympify(f)
        if g.free_symbols - set(model.h):
            return (f"the observable {g} has symbols other than the state "
                    f"{[str(h) for h in model.h]}")
        if not g.is_polynomial(*model.h):
            return f"the observable {g} is not a polynomial in the state"
        return None

    def kernel(self, model, f, channels, sorted_lags, *, return_error=False, **options):
        o = _Options.parse(options)
        k = _check_request(model, f, channels)
        lags = np.asarray(sorted_lags, dtype=float).reshape(-1, len(k))
        exp = _expansion(model, f, o.density, o.sampling)
        degree = o.degree
        while True:
            n_coef = math.comb(degree + len(k), len(k))
            if n_coef > MAX_COEFFICIENTS:
                raise BackendError(f"degree={degree} at order {len(k)} needs {n_coef} "
                                   f"coefficients (> {MAX_COEFFICIENTS}); lower the degree")
            ser = exp.series(k, degree)
            vals, trunc, stat, rnd = ser.evaluate(lags, o.on_radius)
            err = trunc + stat + rnd
            if o.tol is None or not np.any(err > o.tol) or degree >= o.max_degree:
                break
            if np.all(stat + rnd > o.tol) or not np.any(trunc > 0.1 * o.tol):
                break  # raising the degree cannot help: statistical/rounding error
            degree = min(degree + 2, o.max_degree)
        if o.tol is not None and np.any(err > o.tol):
            warnings.warn(f"method 'taylor': estimated error {np.max(err):.3g} exceeds "
                          f"tol={o.tol:g} at degree {degree} (truncation "
                          f"{np.max(trunc):.3g}, statistical {np.max(stat):.3g}); use "
                          "shorter lags, a higher max_degree or more samples",
                          TaylorAccuracyWarning, stacklevel=2)
        return (vals, err) if return_error else vals

    def mean0(self, hierarchy) -> float:
        reason = self.applies(hierarchy.model, hierarchy.f)
        if reason is not None:
            raise BackendError(f"method 'taylor' does not apply: {reason}")
        return _expansion(hierarchy.model, hierarchy.f, "auto", {}).mean0()

    #: monomial degree of the response functional used by :meth:`series_terms`
    series_degree = 10

    def series_terms(self, hierarchy, u, times, **options) -> np.ndarray:
        """``T_N(t)`` from the short-lag coefficients through the response functional on the
        path signature (docs/theory.md §5): ``T_N(t) ≈ <ℓ_N(t), S(X)_{0,t}>`` with monomial degree
        :attr:`series_degree` (Richardson-extrapolated signatures). Valid only while every
        gap ``≤ t`` lies inside the estimated radius of the Taylor series: a later time is
        refused, pointing to the spectral/exact routes. Option ``degree`` replaces
        :attr:`series_degree`."""
        from ..features.functional import response_functional

        if set(options) - {"degree"}:
            raise BackendError(f"the taylor series takes only the option 'degree', got "
                               f"{sorted(options)}")
        degree = _check_int("degree", options.get("degree", self.series_degree), 1, MAX_DEGREE)
        functional = derived(hierarchy.model, ("taylor", "functional", hierarchy.f,
                                               hierarchy.order, degree),
                             lambda: response_functional(hierarchy, degree))
        radius = min(functional.info["radius"].values())
        if times[-1] >= radius:
            raise BackendError(
                f"method 'taylor' gives series terms only for t below the estimated radius "
                f"{radius:.3g} of its short-lag expansion; got t = {times[-1]:g}: use "
                "method='exact' (linear models) or method='spectral' (n ≤ 2)")
        if times.size > 1 and np.any(np.diff(times) <= 0):
            raise BackendError("method 'taylor' needs strictly increasing times for its series")
        return functional.terms(u, times, extrapolate=True)


BACKEND = _TaylorBackend()

