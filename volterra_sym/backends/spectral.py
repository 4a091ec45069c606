"""Grid/spectral backend ``method="spectral"`` for n ≤ 2 (THEORY §2–§4, §6).

Discretisation (see :mod:`volterra_sym.backends.grid`): periodic Fourier collocation of
the generator in symmetrising variables ``ĝ = w g``, ``ψ = ρ / w`` (``w ≈ √p0``) on a box
covering ``p0 > cut · max p0``, and a dense eigen-decomposition ``L̂0 = V Λ V⁻¹`` whose
stationary mode ``j0`` gives the numerical solution of ``L0* p0 = 0`` (no closed form is
used; where one exists the tests compare against it). In mode coordinates ``a = V⁻¹ ĝ`` the
semigroup is diagonal, ``P_τ a = e^{Λτ} a``, and ``L_k`` is the matrix ``B_k = V⁻¹ L̂_k V``.

**Kernels** (orders 1–3; sorted lags ``σ_1 ≤ … ≤ σ_N``, gaps ``τ_j = σ_j - σ_{j-1}``):

    a_0 = V⁻¹(w f) ,   a_j = B_{k_j} e^{Λ τ_j} a_{j-1} ,   K_k(σ) = (a_N)_{j0} = <p0, g_N> ,

i.e. ``g_0 = f``, ``g_j = L_{k_j} P_{τ_j} g_{j-1}``, ``K = <p0, g_N>``; each lag costs
``O(M)`` for N = 1 and ``O(M²)`` for N = 2, 3 (``M`` grid points), batched over lags.

**Series** (THEORY §6, forward hierarchy): with ``c_N = h^n Vᵀ ψ_N`` (so that
``<ρ_N, g> = c_Nᵀ a``) the hierarchy ``∂_t ρ_N = L0* ρ_N + Σ_k u_k(t) L_k* ρ_{N-1}``,
``ρ_0 = p0``, ``ρ_N(0) = 0`` reads

    c_0 = e_{j0} ,   c_N' = Λ c_N + Σ_k u_k(t) B_kᵀ c_{N-1} ,   T_N(t) = c_N(t)ᵀ a_0 .

It is integrated exactly in the diagonal part (exponential integrator) with the forcing
interpolated by a degree ``q-1`` polynomial through ``q = 7`` Chebyshev–Lobatto nodes of
each of ``K`` uniform steps on ``[0, max(times)]`` (φ-function weights); the input is
sampled at those nodes only, and ``T_N`` at the requested times comes from the same
interpolant, so the cost is linear in ``len(times)`` and in ``K``. ``K`` is doubled until two
runs agree to ``tol/4`` at the common step ends. Orders up to 12 (cost linear in the order).

**Accuracy control.** ``tol`` (default ``1e-8`` for n = 1, ``1e-6`` for n = 2) is relative to
the largest value over the requested lags / times (with a tiny absolute floor for values that
vanish by symmetry). Grids are refined along a fixed ladder of resolutions (always from its
bottom, so results do not depend on earlier calls; eigen-decompositions are cached) until two
consecutive ones agree within ``tol``; the finer result is returned. The kernel error estimate
is the largest difference to the coarser grid over the batch (a uniform bound: pointwise
differences can vanish by accident) plus a rounding floor ``64 ε √κ₁(V)``; the series error
is the spatial difference plus the time-step difference, per order. The box is fixed by
``cut`` (default ``clip(1e-4 tol², 1e-24, 1e-12)``; truncation errors scale like ``cut^0.7``).
Refinement stops with :class:`~volterra_sym.backends.BackendError` when the next grid would
exceed ``memory_budget`` (default 2 GiB for the dense ``M×M`` arrays of the two finest grids)
or when the estimate stagnates (rounding floor), so nothing runs away.

Options (``kernel.evaluate(..., method="spectral", **options)`` and the functions here):
``tol``, ``resolution`` (odd number of points per axis; no refinement, the estimate uses the
next coarser ladder rung), ``memory_budget`` (bytes), ``cut``. ``BACKEND.series_terms`` and
``BACKEND.mean0`` use the defaults; call :func:`series_terms` / :func:`mean0` for options and
error estimates. Refused (``applies``): n ≥ 3, symbolic parameters, observables with free
parameters, a singular ``D`` for n = 2. Dense LAPACK runs with
:data:`~volterra_sym.backends.grid.BLAS_THREADS` (1) BLAS threads.
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..model import SRNN
from ..results import SeriesTerms
from . import BackendError
from .grid import (
    Discretisation,
    Domain,
    GridError,
    blas_threads,
    choose_domain,
    estimate_bytes,
    numerics,
)

__all__ = ["BACKEND", "DEFAULT_TOL", "DEFAULT_MEMORY_BUDGET", "MAX_KERNEL_ORDER", "levels",
           "discretisation", "grid_density", "kernel", "series_terms", "mean0",
           "SeriesResult"]

#: Default relative tolerance by state dimension.
DEFAULT_TOL = {1: 1e-8, 2: 1e-6}
#: Default memory budget (bytes) for the dense arrays of the two finest grids.
DEFAULT_MEMORY_BUDGET = 2 * 1024 ** 3
#: Highest kernel order evaluated by this backend.
MAX_KERNEL_ORDER = 3
#: Highest series order (the forward hierarchy is linear in the order).
MAX_SERIES_ORDER = 12
_OPTIONS = ("tol", "resolution", "memory_budget", "cut")
_LOBATTO_Q = 7
_MAX_STEPS = 1 << 15
_CACHE_SIZE = 12
_CACHE_BYTES = 1 << 30


def _blas_limited(fn):
    """Run ``fn`` with :data:`volterra_sym.backends.grid.BLAS_THREADS` BLAS threads."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with blas_threads():
            return fn(*args, **kwargs)
    return wrapper


# ---------------------------------------------------------------------- options
@dataclass(frozen=True)
class Options:
    tol: float
    resolution: int | None
    memory_budget: float
    cut: float


def _options(model: SRNN, options: dict) -> Options:
    unknown = set(options) - set(_OPTIONS)
    if unknown:
        raise TypeError(f"method 'spectral' got unknown options {sorted(unknown)}; "
                        f"allowed: {list(_OPTIONS)}")
    tol = options.get("tol")
    tol = DEFAULT_TOL[model.n] if tol is None else tol
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating)) \
            or not (math.isfinite(tol) and 0 < tol < 1):
        raise ValueError(f"tol must be a number with 0 < tol < 1, got {tol!r}")
    res = options.get("resolution")
    if res is not None:
        if isinstance(res, bool) or not isinstance(res, (int, np.integer)) or res < 5:
            raise ValueError(f"resolution must be an integer ≥ 5 (grid points per axis), "
                             f"got {res!r}")
        res = int(res) | 1  # odd
    budget = options.get("memory_budget")
    budget = DEFAULT_MEMORY_BUDGET if budget is None else budget
    if isinstance(budget, bool) or not isinstance(budget, (int, float, np.floating)) \
            or not budget > 0:
        raise ValueError(f"memory_budget must be a positive number of bytes, got {budget!r}")
    cut = options.get("cut")
    if cut is None:
        cut = float(np.clip(1e-4 * tol * tol, 1e-24, 1e-12))
    elif isinstance(cut, bool) or not isinstance(cut, (int, float, np.floating)) \
            or not 1e-300 < cut < 1e-3:
        raise ValueError(f"cut must be a number in (0, 1e-3) (relative density at the box "
                         f"edge), got {cut!r}")
    return Options(float(tol), res, float(budget), float(cut))


def levels(n: int) -> list[int]:
    """The ladder of resolutions (odd points per axis): ratio ≈ 1.33 (n = 1), ≈ 1.2 (n = 2)."""
    if n == 1:
        start, ratio, top = 17, 1.33, 8000
    else:
        start, ratio, top = 11, 1.2, 400
    out, x = [], float(start)
    while x < top:
        N = int(round(x)) | 1
        if not out or N > out[-1]:
            out.append(N)
        x *= ratio
    return out


def _coarser(n: int, N: int) -> int:
    """The resolution just below ``N`` on the ladder (or ≈ 0.75 N)."""
    below = [L for L in levels(n) if L < N]
    cand = below[-1] if below else max(5, int(0.75 * N) | 1)
    return min(cand, N - 2)


# ---------------------------------------------------------------------- caches
def _cache(model: SRNN) -> dict:
    return model.__dict__.setdefault("_spectral_cache", {})


def _domain(model: SRNN, cut: float) -> Domain:
    doms = _cache(model).setdefault("domains", {})
    if cut not in doms:
        try:
            doms[cut] = choose_domain(model, cut)
        except GridError as exc:
            raise BackendError(f"spectral: {exc}") from None
    return doms[cut]


def _check_memory(model: SRNN, Ns: tuple[int, ...], opts: Options, why: str) -> None:
    need = sum(estimate_bytes(model.n, N, model.m, numerics(model).reversible) for N in Ns)
    if need > opts.memory_budget:
        N = max(Ns)
        raise BackendError(
            f"spectral: {why} needs N={N} grid points per axis (M={N ** model.n} unknowns), "
            f"≈{need / 1e9:.3g} GB of dense arrays, above memory_budget="
            f"{opts.memory_budget / 1e9:.3g} GB; raise memory_budget or loosen tol")


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
            raise BackendError("spectral: the stationary density still has mass at the edge "
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
    store = dz.__dict__.setdefault("_fcache", {})
    if f not in store:
        fv = numerics(model).observable(f)(dz.x)
        if not np.all(np.isfinite(fv)):
            raise BackendError(f"spectral: the observable {f} is not finite on the grid")
        store[f] = (fv, dz.coefficients(fv))
    return store[f]


def _fscale(dz: Discretisation, fv: np.ndarray) -> float:
    """``max(sd_{p0}(f), |<f>_0|, tiny)``: the size of the observable."""
    mean = dz.mean(fv)
    var = max(dz.mean(fv * fv) - mean * mean, 0.0)
    return max(math.sqrt(var), abs(mean), 1e-300)


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
    raise BackendError(f"spectral: {what}: the stationary density still reaches the edge of "
                       f"a box enlarged 4 times (p0 at the edge / max p0 = {ratio:.1e} > "
                       f"max(1e4·cut, tol²) = {max(1e4 * opts.cut, opts.tol ** 2):.1e})")


def _refine_once(model: SRNN, opts: Options, evaluate, what: str):
    ladder = levels(model.n)
    i = 0
    prev_val, prev_err, best, stalls = None, None, math.inf, 0
    while True:
        if i >= len(ladder):
            raise BackendError(f"spectral: {what}: tol={opts.tol:g} not reached on the finest "
                               f"grid N={ladder[-1]} (estimated error {prev_err:.2e})")
        N = ladder[i]
        Ns = (ladder[i - 1], N) if i > 0 else (N,)
        _check_memory(model, Ns, opts,
                      f"{what} to tol={opts.tol:g} (estimated error {prev_err:.2e} at "
                      f"N={ladder[i - 1]})" if prev_err is not None else f"{what}")
        val, scale, noise = evaluate(N)
        if prev_val is not None:
            diff = np.abs(val - prev_val)
            d, sc, nz = np.broadcast_arrays(diff, scale, noise)
            if np.all(d <= opts.tol * sc + nz):
                # accepted only thanks to the rounding level, for values that do not vanish
                short = (sc > 100 * nz) & (d > opts.tol * sc)
                if np.any(short):
                    level = float(np.max(nz[short] / sc[short]))
                    raise BackendError(
                        f"spectral: {what}: tol={opts.tol:g} is below the attainable accuracy: "
                        f"the grids agree only to the rounding level ≈{level:.1e} (relative) "
                        f"at N={N}; loosen tol")
                return val, diff, N
            err = float(np.max(np.maximum(diff - noise, 0.0) / scale))
            if err < 0.5 * best:
                best, stalls = err, 0
            else:
                stalls += 1
            if stalls >= 3 and best < 1e-2:
                raise BackendError(
                    f"spectral: {what}: tol={opts.tol:g} is below the attainable accuracy: "
                    f"the estimate stagnates at ≈{err:.1e} (rounding and box truncation, "
                    f"cut={opts.cut:g}); loosen tol")
            prev_err = err
        prev_val = val
        i += 1


# ---------------------------------------------------------------------- kernels
def _kernel_on_grid(dz: Discretisation, a0: np.ndarray, channels: tuple[int, ...],
                    lags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``K`` at sorted lags ``(P, N)`` from the mode data of one grid (chunked over P), and
    ``‖A‖ ‖B_k[j0]‖`` of the final mode sum ``K = A·B_k[j0]`` (the size rounding acts on)."""
    P, N = lags.shape
    gaps = np.diff(lags, axis=1, prepend=0.0)
    lam = dz.lam
    out = np.empty(P)
    mag = np.empty(P)
    chunk = max(1, int(4e6 // dz.M))
    last = dz.last_row(channels[-1])
    for s in range(0, P, chunk):
        g = gaps[s:s + chunk]
        A = np.exp(np.outer(g[:, 0], lam)) * a0
        for j in range(1, N):
            A = dz.apply_transposed(channels[j - 1], A) * np.exp(np.outer(g[:, j], lam))
        out[s:s + chunk] = np.real(A @ last)
        mag[s:s + chunk] = np.linalg.norm(A, axis=1) * np.linalg.norm(last)
    return out, mag


@_blas_limited
def kernel(model: SRNN, f: sp.Expr, channels, sorted_lags, *, return_error: bool = False,
           **options):
    """``K_{k_1…k_N}`` (N ≤ 3) at sorted lags ``(P, N)``; see the module docstring."""
    channels = tuple(int(k) for k in channels)
    N = len(channels)
    if N > MAX_KERNEL_ORDER:
        raise BackendError(f"spectral evaluates kernels of order ≤ {MAX_KERNEL_ORDER}; "
                           f"got order {N} (channels {channels})")
    if N < 1:
        raise ValueError("channels must name at least one input channel")
    lags = np.asarray(sorted_lags, dtype=float)
    if lags.ndim != 2 or lags.shape[1] != N:
        raise ValueError(f"sorted_lags must have shape (P, {N}), got {lags.shape}")
    if not np.all(np.isfinite(lags)):
        raise ValueError("lags must be finite (found NaN or inf)")
    if np.any(lags < 0):
        raise ValueError(f"lags must be ≥ 0, got {lags[lags < 0].min()}")
    if N > 1 and np.any(np.diff(lags, axis=1) < 0):
        raise ValueError("sorted_lags must be sorted along the last axis (σ_1 ≤ … ≤ σ_N)")
    for k in channels:
        if not 0 <= k < model.m:
            raise ValueError(f"channel k={k} is out of range 0..{model.m - 1}")
    f = sp.sympify(f)
    opts = _options(model, options)
    if lags.shape[0] == 0:
        return (np.zeros(0), np.zeros(0)) if return_error else np.zeros(0)
    noises: dict[int, float] = {}

    def evaluate(Nres: int):
        dz = discretisation(model, Nres, opts.cut)
        _, a0 = _fvals(model, f, dz)
        vals, mag = _kernel_on_grid(dz, a0, channels, lags)
        noises[Nres] = _rounding(dz, float(mag.max()))
        scale = max(float(np.abs(vals).max()), 1e-300)
        return vals, scale, noises[Nres]

    val, diff, Nf = _refine(model, opts, evaluate, f"kernel {channels}")
    if return_error:
        # a uniform bound over the batch: pointwise differences can vanish by accident
        bound = float(diff.max()) + noises.get(Nf, 0.0)
        return val, np.full(val.shape, bound)
    return val


def _rounding(dz: Discretisation, magnitude: float) -> float:
    """Rounding level of a mode sum ``Σ_j x_j y_j`` of size ``magnitude = ‖x‖ ‖y‖``:
    ``16 ε (‖L̂0‖/gap) √κ₁(V) · magnitude`` (a heuristic: eigenvectors carry errors
    ``ε ‖L̂0‖/gap``; measured eigen-vs-``expm`` discrepancies stay below ``√κ₁``)."""
    return 16 * np.finfo(float).eps * dz.sensitivity * math.sqrt(dz.cond) * magnitude


# ---------------------------------------------------------------------- p0 and <f>_0
@_blas_limited
def grid_density(model: SRNN, **options) -> Discretisation:
    """The converged grid solution of ``L0* p0 = 0`` (first and second moments agree between
    two resolutions to ``tol``): a :class:`~volterra_sym.backends.grid.Discretisation` with
    points ``.x`` ``(M, n)``, values ``.p0``, cell volume ``.vol`` (``Σ p0 vol = 1``),
    ``.boundary_ratio()`` and ``.fokker_planck_residual()``."""
    reason = BACKEND.applies(model, model.h[0])
    if reason is not None:
        raise BackendError(f"method 'spectral' does not apply: {reason}")
    opts = _options(model, options)

    def evaluate(Nres: int):
        dz = discretisation(model, Nres, opts.cut)
        w = dz.p0 * dz.vol
        m1 = w @ dz.x
        m2 = (dz.x * w[:, None]).T @ dz.x
        vals = np.concatenate([m1, m2.ravel()])
        scale = max(float(np.abs(vals).max()), 1e-300)
        return vals, scale, _rounding(dz, scale)

    _, _, Nf = _refine(model, opts, evaluate, "p0")
    return discretisation(model, Nf, opts.cut)


@_blas_limited
def mean0(model: SRNN, f: sp.Expr, **options) -> tuple[float, float]:
    """``(<f>_0, error estimate)`` on the grid."""
    opts = _options(model, options)

    def evaluate(Nres: int):
        dz = discretisation(model, Nres, opts.cut)
        fv, _ = _fvals(model, f, dz)
        mean, fsc = dz.mean(fv), _fscale(dz, fv)
        return np.array([mean]), max(abs(mean), fsc), _rounding(dz, fsc)

    val, diff, _ = _refine(model, opts, evaluate, "<f>_0")
    return float(val[0]), float(diff[0])


# ---------------------------------------------------------------------- series (ETD)
def _phi_functions(z: np.ndarray, pmax: int) -> np.ndarray:
    """``φ_0..φ_pmax`` at ``z``: ``φ_0 = e^z``, ``φ_{p+1}(z) = (φ_p(z) - 1/p!)/z``,
    ``φ_p(z) = Σ_k z^k/(k+p)!`` (Taylor, 30 terms, for ``|z| < 2``: no cancellation)."""
    z = np.asarray(z)
    out = np.empty((pmax + 1,) + z.shape, dtype=np.result_type(z, float))
    with np.errstate(over="ignore", under="ignore"):
        out[0] = np.exp(z)
    small = np.abs(z) < 2.0
    zb = np.where(small, 1.0, z)
    for p in range(pmax):
        out[p + 1] = (out[p] - 1.0 / math.factorial(p)) / zb
    if np.any(small):
        zs = z[small]
        for p in range(pmax + 1):
            acc = np.zeros_like(zs) + 1.0 / math.factorial(p + 30)
            for k in range(29, -1, -1):
                acc = acc * zs + 1.0 / math.factorial(p + k)
            out[p][small] = acc
    return out


def _lobatto(q: int) -> np.ndarray:
    """Chebyshev–Lobatto nodes on ``[0, 1]`` (increasing)."""
    return 0.5 * (1.0 - np.cos(np.pi * np.arange(q) / (q - 1)))


def _etd_weights(z: np.ndarray, theta: np.ndarray, Lc: np.ndarray) -> np.ndarray:
    """``W_l = ∫_0^θ e^{z(θ-v)} ℓ_l(v) dv`` (per unit step) for Lagrange polynomials
    ``ℓ_l(v) = Σ_p Lc[p, l] v^p``: ``W_l = θ Σ_p Lc[p, l] θ^p p! φ_{p+1}(zθ)``.
    ``z`` ``(M,)``, ``theta`` ``(T,)`` -> ``(T, q, M)``."""
    q = Lc.shape[0]
    x = theta[:, None] * z[None, :]
    ph = _phi_functions(x, q)  # (q+1, T, M)
    fact = np.array([math.factorial(p) for p in range(q)], dtype=float)
    powers = theta[None, :] ** np.arange(q)[:, None]  # (q, T)
    terms = ph[1:] * (fact[:, None, None] * powers[:, :, None])  # (q, T, M): p, T, M
    return theta[:, None, None] * np.einsum("pl,ptm->tlm", Lc, terms)


@dataclass
class _Propagation:
    """One run of the forward hierarchy on a grid with ``K`` uniform steps."""

    K: int
    delta: float
    ends: list[np.ndarray]  # per order: c_N at step endpoints (K+1, M)
    forcing: list[np.ndarray]  # per order: F_N at the nodes (K, q, M)

    def endpoint_terms(self, a0: np.ndarray) -> np.ndarray:
        """``T_N`` at the step ends: ``(order, K+1)``."""
        return np.array([np.real(c @ a0) for c in self.ends])

    def magnitudes(self, a0: np.ndarray) -> np.ndarray:
        """``max_t ‖c_N(t)‖ ‖a0‖`` per order: the size rounding acts on (Cauchy–Schwarz;
        the aligned ``Σ|c_j a0_j|`` misses errors across symmetry classes)."""
        na = float(np.linalg.norm(a0))
        return np.array([float(np.linalg.norm(c, axis=1).max()) * na for c in self.ends])


class _InputSampler:
    """``u`` at the Lobatto nodes of ``K`` uniform steps (cached per K)."""

    def __init__(self, u: Callable, m: int, tmax: float, q: int):
        self.u, self.m, self.tmax, self.q = u, m, tmax, q
        self.theta = _lobatto(q)
        self._cache: dict[int, np.ndarray] = {}

    def __call__(self, K: int) -> np.ndarray:
        if K not in self._cache:
            delta = self.tmax / K
            t = (np.arange(K)[:, None] + self.theta[None, :]) * delta
            flat = np.empty((K * (self.q - 1) + 1, self.m))
            uniq = np.concatenate([t[:, :-1].ravel(), [self.tmax]])
            for i, ti in enumerate(uniq):
                flat[i] = self.u(float(ti))
            idx = np.arange(K)[:, None] * (self.q - 1) + np.arange(self.q)[None, :]
            self._cache[K] = flat[idx]  # (K, q, m)
        return self._cache[K]


def _propagate(dz: Discretisation, order: int, K: int, tmax: float, usamp: np.ndarray,
               Lc: np.ndarray, theta: np.ndarray) -> _Propagation:
    """Exponential integrator for ``c_N' = Λ c_N + Σ_k u_k B_kᵀ c_{N-1}``, ``c_0 = e_{j0}``."""
    q = theta.size
    M, lam = dz.M, dz.lam
    delta = tmax / K
    z = lam * delta
    E = np.exp(z)
    Wend = _etd_weights(z, np.array([1.0]), Lc)[0] * delta  # (q, M)
    inner = theta[1:-1]
    Wint = _etd_weights(z, inner, Lc) * delta  # (q-2, q, M)
    Eint = np.exp(inner[:, None] * z[None, :])  # (q-2, M)
    dtype = np.result_type(lam, dz.V)
    ends, forcing = [], []
    nodes = None
    for N in range(1, order + 1):
        F = np.zeros((K, q, M), dtype=dtype)
        for k in range(usamp.shape[2]):
            uk = usamp[:, :, k]
            if not np.any(uk):
                continue
            if N == 1:  # c_0 = e_{j0}: the forcing is the row B_k[j0]
                F += uk[:, :, None] * dz.last_row(k)[None, None, :]
            else:  # rows c_{N-1}ᵀ B_k
                F += uk[:, :, None] * (nodes.reshape(-1, M) @ dz.B[k]).reshape(K, q, M)
        b = np.einsum("kqm,qm->km", F, Wend)
        c = np.zeros((K + 1, M), dtype=dtype)
        for i in range(K):
            c[i + 1] = E * c[i] + b[i]
        nodes = np.empty((K, q, M), dtype=dtype)
        nodes[:, 0] = c[:-1]
        nodes[:, -1] = c[1:]
        nodes[:, 1:-1] = Eint[None] * c[:-1, None, :] + np.einsum("kqm,jqm->kjm", F, Wint)
        ends.append(c)
        forcing.append(F)
    return _Propagation(K, delta, ends, forcing)


def _output(dz: Discretisation, prop: _Propagation, a0: np.ndarray, times: np.ndarray,
            Lc: np.ndarray) -> np.ndarray:
    """``T_N`` at arbitrary ``times`` from the step data: partial step from the left end."""
    K, delta = prop.K, prop.delta
    z = dz.lam * delta
    out = np.empty((len(prop.ends), times.size))
    idx = np.minimum((times / delta).astype(int), K - 1) if delta > 0 else \
        np.zeros(times.size, dtype=int)
    theta = np.clip(times / delta - idx, 0.0, 1.0) if delta > 0 else np.zeros(times.size)
    ca = [c * a0 for c in prop.ends]
    Fa = [F * a0 for F in prop.forcing]
    chunk = max(1, int(2e6 // (dz.M * (Lc.shape[0] + 2))))
    for s in range(0, times.size, chunk):
        sl = slice(s, s + chunk)
        th, ii = theta[sl], idx[sl]
        W = _etd_weights(z, th, Lc) * delta  # (T, q, M)
        Eth = np.exp(th[:, None] * z[None, :])
        for N in range(len(prop.ends)):
            val = np.sum(Eth * ca[N][ii], axis=1) + np.einsum("tlm,tlm->t", W, Fa[N][ii])
            out[N, sl] = np.real(val)
    return out


@dataclass
class SeriesResult:
    """``terms`` ``(order+1, T)``; ``error`` (same shape) = spatial + temporal estimates;
    ``resolution`` (points per axis) and ``steps`` (uniform ETD steps)."""

    terms: np.ndarray
    error: np.ndarray
    resolution: int
    steps: int


@_blas_limited
def series_terms(model: SRNN, f: sp.Expr, order: int, u: Callable, times,
                 **options) -> SeriesResult:
    """``T_0..T_order`` at ``times`` through the forward hierarchy (module docstring)."""
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise ValueError(f"order must be a positive integer, got {order!r}")
    if order > MAX_SERIES_ORDER:
        raise BackendError(f"spectral series supports orders ≤ {MAX_SERIES_ORDER}, got {order}")
    times = np.asarray(times, dtype=float)
    if times.ndim != 1 or times.size == 0 or not np.all(np.isfinite(times)) \
            or times[0] < 0 or np.any(np.diff(times) < 0):
        raise ValueError("times must be a non-empty 1-d array of finite, non-negative, "
                         "non-decreasing values")
    f = sp.sympify(f)
    opts = _options(model, options)
    tmax = float(times[-1])
    q = _LOBATTO_Q
    theta = _lobatto(q)
    Lc = np.linalg.inv(theta[:, None] ** np.arange(q)[None, :])
    sampler = _InputSampler(u, model.m, tmax, q) if tmax > 0 else None
    state: dict = {}

    def time_converged(dz: Discretisation, a0: np.ndarray) -> _Propagation:
        """Double the steps until the endpoint values of two runs agree to tol/4."""
        if "K" in state:
            return _propagate(dz, order, state["K"], tmax, sampler(state["K"]), Lc, theta)
        slow = np.abs(np.real(dz.lam[np.arange(dz.M) != dz.j0]))
        rate = float(slow.min()) if slow.size else 1.0
        itemsize = 16 if np.iscomplexobj(dz.V) else 8
        kmax = int(min(_MAX_STEPS, opts.memory_budget / (3 * q * dz.M * itemsize * order)))
        K = int(min(max(8, math.ceil(tmax * max(rate, 1e-3))), max(kmax, 8)))
        prev = None
        while True:
            prop = _propagate(dz, order, K, tmax, sampler(K), Lc, theta)
            ends = prop.endpoint_terms(a0)
            if prev is not None:
                scale = np.maximum(np.abs(ends).max(1), 1e-300)
                noise = _rounding(dz, 1.0) * prop.magnitudes(a0)
                diff = np.abs(ends[:, ::2] - prev).max(1)
                if np.all(diff <= opts.tol / 4 * scale + noise):
                    state["K"], state["time_err"] = K, diff
                    return prop
            if 2 * K > kmax:
                raise BackendError(
                    f"spectral series: the time integration did not reach tol={opts.tol:g} "
                    f"with {K} steps of Δt={tmax / K:.3g} (the step limit from "
                    f"memory_budget={opts.memory_budget / 1e9:.3g} GB and at most "
                    f"{_MAX_STEPS} steps); is the input u smooth?")
            prev, K = ends, 2 * K

    def evaluate(Nres: int):
        dz = discretisation(model, Nres, opts.cut)
        fv, a0 = _fvals(model, f, dz)
        fsc = _fscale(dz, fv)
        m0 = dz.mean(fv)
        noise = np.full((order + 1, 1), _rounding(dz, fsc))
        if sampler is None:
            vals = np.zeros((order + 1, 1))
            vals[0] = m0
            return vals, np.full((order + 1, 1), max(fsc, abs(m0))), noise
        prop = time_converged(dz, a0)
        ends = prop.endpoint_terms(a0)
        noise[1:, 0] = _rounding(dz, 1.0) * prop.magnitudes(a0)
        state.setdefault("props", {})[Nres] = prop
        vals = np.vstack([[np.full(ends.shape[1], m0)], ends])
        scale = np.maximum(np.abs(vals).max(1, keepdims=True), 1e-300)
        return vals, scale, noise

    val, diff, Nf = _refine(model, opts, evaluate, f"series of order {order}")
    dz = discretisation(model, Nf, opts.cut)
    fv, a0 = _fvals(model, f, dz)
    out = np.empty((order + 1, times.size))
    out[0] = dz.mean(fv)
    err = np.empty_like(out)
    err[0] = diff[0].max()
    if sampler is None:
        out[1:] = 0.0
        err[1:] = 0.0
        return SeriesResult(out, err, Nf, 0)
    prop = state["props"][Nf]
    out[1:] = _output(dz, prop, a0, times, Lc)
    spatial = diff[1:].max(1, keepdims=True)
    err[1:] = spatial + state.get("time_err", np.zeros(order))[:, None]
    return SeriesResult(out, err, Nf, prop.K)


# ---------------------------------------------------------------------- backend object
class _SpectralBackend:
    """Backend protocol of :mod:`volterra_sym.backends` for ``method="spectral"``."""

    name = "spectral"

    def applies(self, model: SRNN, f: sp.Expr) -> str | None:
        if model.n > 2:
            return f"spectral supports n ≤ 2; this model has n = {model.n}"
        if not model.is_numeric:
            return ("the parameters are symbolic (substitute numbers with model.subs(...))")
        if model.n == 2:
            D = numerics(model).D
            if np.linalg.matrix_rank(D, tol=1e-12 * max(float(np.abs(D).max()), 1e-300)) < 2:
                return ("spectral needs a non-singular diffusion matrix D = σσᵀ for n = 2 "
                        "(the noise must reach both coordinates); this D is singular")
        f = sp.sympify(f)
        if f.free_symbols - set(model.h):
            return "the observable has free parameters"
        try:
            val = numerics(model).observable(f)(np.zeros((1, model.n)))
        except Exception as exc:  # noqa: BLE001 - any failure means "cannot evaluate"
            return f"the observable {f} cannot be evaluated numerically ({exc})"
        if not np.all(np.isfinite(val)):
            return f"the observable {f} is not finite at h = 0"
        return None

    def kernel(self, model, f, channels, sorted_lags, *, return_error=False, **options):
        return kernel(model, f, channels, sorted_lags, return_error=return_error, **options)

    def mean0(self, hierarchy) -> float:
        return mean0(hierarchy.model, hierarchy.f)[0]

    def series_terms(self, hierarchy, u, times) -> SeriesTerms:
        res = series_terms(hierarchy.model, hierarchy.f, hierarchy.order, u, times)
        return SeriesTerms(res.terms, res.error, self.name,
                           {"resolution": res.resolution, "steps": res.steps})


BACKEND = _SpectralBackend()
