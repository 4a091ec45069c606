"""The spectral route for n = 1 with the input inside the activation and/or state-dependent
noise (docs/theory.md §10–§11).

Hat variables ``ĝ = w g`` with ``w = √p0 = e^ℓ``, ``ℓ' = φ/D − D'/(2D)`` (``D = σ(h)²``).
Then ``w L0 (ĝ/w)`` is the symmetric operator

    L̂0 ĝ = ½ (D ĝ')' + c ĝ ,     c = −φ ℓ' + ½ D (ℓ'² − ℓ'') ,

discretised on a periodic Fourier grid of the box ``{p0 ≥ cut · max p0}`` as
``½ D₁ diag(D) D₁ + diag(c)`` (exactly symmetric: ``D₁`` is antisymmetric) and diagonalised,
``L̂0 = V Λ Vᵀ``. A kick carrying the channels ``k = (k_1..k_j)`` is
``L̂^{(j)}_k = diag(c_k) (D₁ − diag(ℓ'))`` with ``c_k = a^{(j)}(z) C_{k_1}⋯C_{k_j} / j!``
(the additive input: ``c_k = C_k`` for ``j = 1``, 0 beyond). In mode coordinates ``a = Vᵀĝ``:
``P_τ a = e^{Λτ} a``, ``L^{(j)}_k a = B_k a`` (``B_k = Vᵀ L̂^{(j)}_k V``) and
``<p0, g> = a_{j0} / (Vᵀ w)_{j0}``, where ``w = V[:, j0]`` is the numerical stationary mode
(``L̂0 w = 0``), so that ``<p0, 1> = 1``.

**Kernels** of compositions (docs/theory.md §10) by the one DAG walker; **series** by the
forward hierarchy ``c_N' = c_N Λ + Σ_{j≤N} Σ_{k ∈ [m]^j} u_{k_1}⋯u_{k_j} c_{N−j} B_k``,
``c_0 = e_{j0}/(Vᵀw)_{j0}``, ``T_N = c_N · a_f`` (contact terms included), integrated by
Radau IIA (``scipy.integrate.solve_ivp``, the system is linear and stiff).

Error estimates: the difference to the next coarser grid of the ladder (uniform over the
batch) and, for the series, plus the difference between runs at ``rtol`` and ``100 rtol``;
plus the rounding level ``4 ε (‖L̂0‖/gap) · Σ_j |a_j b_j|`` of every mode sum (the
eigenvectors' errors, Davis–Kahan; :data:`ROUNDING_SAFETY`): the change between two grids
can be far below it where the values agree by chance (``noisy_tanh1d``'s series reported
``T_0`` ± 9.3e-13 at 257 points, 6e-12 off ``<f>_0`` at its own grid and 5e-12 off the
quadrature of the tabulated ``p0``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
import sympy as sp

from ...arrays import relative_tol
from ...budget import Deadline
from ...density import bracket_1d
from ...density.bracket import log_density_1d
from ...density.multiplicative import multiplicative_density
from ...errors import AccuracyNotReachedError, InvalidInputError, NotApplicableError
from ...hierarchy.propagation import Representation, walk_kernels
from ...model import SRNN
from ...model.cache import derived
from ...model.srnn import SYMBOLIC_PARAMETERS
from ...operators import perturbation_j_coefficients
from ..stepping import budget_option, integrate
from .collocation import fourier_d1

__all__ = ["Grid1D", "kernels", "series_terms", "applies_general", "LADDER"]

#: resolutions (odd points) tried in turn
LADDER = (33, 49, 65, 97, 129, 193, 257, 385)
#: multiple of ``ε‖L̂0‖/gap`` in :attr:`Grid1D.rounding`: where the grids agree to rounding,
#: ``<f>_0`` changed between consecutive grids by up to 1.8 such units (tanh1d_inside, 193
#: → 385 points: 0.7–1.8; noisy_tanh1d 257, 385: 0.2), so each grid's own error is below it
ROUNDING_SAFETY = 4.0


def applies_general(model: SRNN, f: sp.Expr) -> str | None:
    """``None`` if this 1-D route applies."""
    if model.n != 1:
        return (f"spectral treats {', '.join(sorted(model.features))} for n = 1 only; "
                f"this model has n = {model.n}")
    if not model.is_numeric:
        return SYMBOLIC_PARAMETERS
    if sp.sympify(f).free_symbols - set(model.h):
        return "the observable has free parameters"
    return None


def _log_p0(model: SRNN, x: np.ndarray) -> np.ndarray:
    if model.state_dependent_noise:
        return multiplicative_density(model).log_density(x)
    return log_density_1d(model, x)


def _box(model: SRNN, cut: float) -> tuple[float, float]:
    if model.state_dependent_noise:
        a, b = multiplicative_density(model).bracket
    else:
        br = bracket_1d(model, drop=60.0)
        a, b = br.lo, br.hi
    xs = np.linspace(a, b, 20001)
    with np.errstate(all="ignore"):
        lp = _log_p0(model, xs)
    lp = np.where(np.isfinite(lp), lp, -np.inf)
    inside = np.flatnonzero(lp - lp.max() >= math.log(cut))
    return float(xs[max(inside[0] - 1, 0)]), float(xs[min(inside[-1] + 1, xs.size - 1)])


@dataclass
class Grid1D:
    """The discretisation at ``N`` points (module docstring)."""

    model: SRNN
    N: int
    cut: float = 1e-16
    B: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        m, N = self.model, self.N
        lo, hi = _box(m, self.cut)
        L = hi - lo
        self.x = lo + L * np.arange(N) / N
        self.dx = L / N
        h = m.h[0]
        D = m.D[0, 0]
        phi = m.drift[0]
        lp = phi / D - sp.diff(D, h) / (2 * D)          # ℓ'
        fns = sp.lambdify(h, [D, phi, lp, sp.diff(lp, h)], "numpy")
        Dv, phv, lpv, lppv = (np.asarray(v, float) * np.ones(N) for v in fns(self.x))
        self.d1 = fourier_d1(N, L)
        self.dl = lpv
        c = -phv * lpv + 0.5 * Dv * (lpv ** 2 - lppv)
        A = 0.5 * self.d1 @ (Dv[:, None] * self.d1)
        A[np.diag_indices(N)] += c
        lam, V = scipy.linalg.eigh(0.5 * (A + A.T))
        j0 = int(np.argmax(lam))
        spread = float(np.max(np.abs(lam)))
        lam = np.minimum(lam, 0.0)
        lam[j0] = 0.0
        gap = float(np.min(-np.delete(lam, j0), initial=np.inf)) if N > 1 else np.inf
        # rounding level of a mode sum of unit size: the eigenvectors of a symmetric matrix
        # carry errors ε‖L̂0‖/gap (Davis–Kahan); ROUNDING_SAFETY from the measured changes
        self.rounding = ROUNDING_SAFETY * np.finfo(float).eps * spread / max(gap, 1e-300)
        self.lam, self.V, self.j0 = lam, V, j0
        # the stationary mode is w = √p0 itself (L̂0 w = w L0 1 = 0): spectrally accurate
        col = V[:, j0]
        self.w = col * np.sign(col[np.argmax(np.abs(col))])
        norm = float(V[:, j0] @ self.w)
        self.pair_vec = np.zeros(N)
        self.pair_vec[j0] = 1.0 / norm

    def kick(self, key) -> np.ndarray:
        """``B_k = Vᵀ L̂^{(j)}_k V`` for a kick ``key`` (a channel or a tuple of them)."""
        ks = (key,) if isinstance(key, (int, np.integer)) else tuple(key)
        if ks not in self.B:
            c = perturbation_j_coefficients(self.model, ks)[0]
            cv = np.asarray(sp.lambdify(self.model.h[0], c, "numpy")(self.x), float) \
                * np.ones(self.N)
            Lk = cv[:, None] * (self.d1 - np.diag(self.dl))
            self.B[ks] = self.V.T @ Lk @ self.V
        return self.B[ks]

    def encode(self, f: sp.Expr) -> np.ndarray:
        fv = np.asarray(sp.lambdify(self.model.h[0], f, "numpy")(self.x), float) \
            * np.ones(self.N)
        return self.V.T @ (self.w * fv)


class _Rep(Representation):
    name = "spectral"

    def __init__(self, grid: Grid1D, a0: np.ndarray):
        self.g, self.a0 = grid, a0

    def encode(self):
        return self.a0[None, :]

    def propagate(self, state, gaps):
        return state * np.exp(np.asarray(gaps)[:, None] * self.g.lam[None, :])

    def perturb(self, k, state):
        return state @ self.g.kick(k).T

    def pair(self, state):
        return state @ self.g.pair_vec, self.size(state)

    def size(self, state):
        return np.abs(state).sum(1) * abs(self.g.pair_vec[self.g.j0])

    def take(self, state, rows):
        return state[np.zeros(len(rows), dtype=np.intp) if state.shape[0] == 1 else rows]


def parse_options(options: dict, allowed: tuple[str, ...], what: str,
                  tol: float) -> tuple[float, float]:
    """``(tol, time_budget)`` of this route's ``options``: only ``allowed`` names, ``tol`` a
    number in ``(0, 1)`` (default ``tol``), ``time_budget`` seconds (series; default
    :data:`~volterra_sym.budget.DEFAULT_TIME_BUDGET`) — else :class:`InvalidInputError`
    naming the parameter."""
    unknown = set(options) - set(allowed)
    if unknown:
        raise InvalidInputError(f"spectral {what} (n = 1, docs/theory.md §10–§11) got unknown "
                                f"options {sorted(unknown)}; allowed: {list(allowed)}",
                                param="options")
    value = options.get("tol")
    if value is not None:
        tol = relative_tol(value)
    return tol, budget_option(options)


def grid(model: SRNN, N: int) -> Grid1D:
    """The (cached) :class:`Grid1D` at ``N`` points."""
    return derived(model, ("spectral", "general", int(N)), lambda: Grid1D(model, int(N)))


def _refine(model: SRNN, evaluate: Callable[[Grid1D], np.ndarray], tol: float, what: str):
    prev = None
    for N in LADDER:
        val = evaluate(grid(model, N))
        if prev is not None:
            diff = np.abs(val - prev)
            scale = max(float(np.abs(val).max(initial=0.0)), 1e-300)
            if float(diff.max(initial=0.0)) <= tol * scale:
                return val, diff, N
        prev = val
    raise AccuracyNotReachedError(f"spectral ({what}): the grids did not agree to tol = {tol:g} "
                                  f"up to {LADDER[-1]} points", best=prev, tol=tol)


def kernels(model: SRNN, f: sp.Expr, graph, requests, **options):
    """``{key: (values, error)}`` for ``requests = {key: sorted lags (P, r)}``; keys are
    channel tuples or kick tuples ``((k..), (k..), ...)``; the one option ``tol``
    (default 1e-8)."""
    tol, _ = parse_options(options, ("tol",), "kernels", 1e-8)
    keys = list(requests)
    sizes = [np.asarray(requests[k]).shape[0] for k in keys]
    cuts = np.cumsum([0] + sizes)

    noise: dict[int, np.ndarray] = {}

    def evaluate(g: Grid1D):
        res = walk_kernels(graph, _Rep(g, g.encode(f)), requests)
        noise[g.N] = g.rounding * np.concatenate([np.asarray(res[k][1], float)
                                                  for k in keys])
        return np.concatenate([np.asarray(res[k][0], float) for k in keys])

    val, diff, N = _refine(model, evaluate, tol, "kernels")
    return {k: (val[cuts[i]:cuts[i + 1]],
                float(diff[cuts[i]:cuts[i + 1]].max(initial=0.0))
                + noise[N][cuts[i]:cuts[i + 1]])
            for i, k in enumerate(keys)}


def mean0(model: SRNN, f: sp.Expr, **options) -> tuple[float, float]:
    """``(<f>_0, error)``: the change against the coarser grid plus the rounding level
    (:attr:`Grid1D.rounding` times ``‖w f‖``); option ``tol``."""
    tol, _ = parse_options(options, ("tol",), "<f>_0", 1e-8)
    noise: dict[int, float] = {}

    def evaluate(g: Grid1D):
        a_f = g.encode(f)
        noise[g.N] = _mean_rounding(g, a_f)
        return np.array([float(a_f @ g.pair_vec)])
    val, diff, N = _refine(model, evaluate, tol, "<f>_0")
    return float(val[0]), float(diff[0]) + noise[N]


def _mean_rounding(g: Grid1D, a_f: np.ndarray) -> float:
    """The rounding level of ``<f>_0 = a_f · pair``: the stationary mode's error
    (``rounding``, relative) times ``‖a_f‖ = ‖w f‖`` and the pairing."""
    return g.rounding * float(np.linalg.norm(a_f)) * abs(float(g.pair_vec[g.j0]))


def _kick_keys(m: int, j: int) -> list[tuple[int, ...]]:
    return list(itertools.product(range(m), repeat=j))


def _forward(g: Grid1D, f: sp.Expr, order: int, u: Callable, times: np.ndarray,
             rtol: float, deadline: Deadline) -> np.ndarray:
    m, M = g.model.m, g.N
    a_f = g.encode(f)
    js = range(1, order + 1)
    mats = {j: [(ks, g.kick(ks)) for ks in _kick_keys(m, j)] for j in js}
    c0 = g.pair_vec.copy()
    lam = g.lam

    def coupling(t):
        uu = np.asarray(u(t), float).reshape(m)
        return {j: sum(np.prod(uu[list(ks)]) * B for ks, B in mats[j]) for j in js}

    def rhs(t, y):
        C = [c0] + [y[i * M:(i + 1) * M] for i in range(order)]
        Bs = coupling(t)
        out = np.empty_like(y)
        for N in range(1, order + 1):
            d = C[N] * lam
            for j in range(1, N + 1):
                d = d + C[N - j] @ Bs[j]
            out[(N - 1) * M:N * M] = d
        return out

    def jac(t, y):
        Bs = coupling(t)
        J = np.zeros((order * M, order * M))
        for N in range(1, order + 1):
            J[(N - 1) * M:N * M, (N - 1) * M:N * M] = np.diag(lam)
            for j in range(1, N):
                J[(N - 1) * M:N * M, (N - j - 1) * M:(N - j) * M] = Bs[j].T
        return J

    out = np.zeros((order + 1, times.size))
    out[0] = float(a_f @ c0)
    mags = np.zeros(order + 1)          # mode-sum sizes: the rounding level per term
    mags[0] = _mean_rounding(g, a_f)
    if times[-1] <= 0:
        return out, mags
    y = integrate("Radau", rhs, np.zeros(order * M), times, deadline, (0.0, None),
                  what=f"spectral series (Radau, {M} points, order {order})", jac=jac,
                  rtol=rtol, atol=rtol * 1e-3 * max(1.0, float(np.abs(c0).max()))).T
    for N in range(1, order + 1):
        out[N] = a_f @ y[(N - 1) * M:N * M]
        mags[N] = g.rounding * float(np.max(np.abs(a_f) @ np.abs(y[(N - 1) * M:N * M]),
                                            initial=0.0))
    return out, mags


def series_terms(model: SRNN, f: sp.Expr, order: int, u: Callable, times, *,
                 rtol: float = 1e-10, **options):
    """``(terms (order+1, T), error, resolution)`` (module docstring); options ``tol``
    (default 1e-7) and ``time_budget`` (seconds, default
    :data:`~volterra_sym.budget.DEFAULT_TIME_BUDGET`): every Radau run of the refinement
    steps under one :class:`~volterra_sym.budget.Deadline` — refused with the
    measured, extrapolated estimate of the run under way after about 1 s of its work, or at the
    deadline. Measured on ``tanh1d_inside`` (order 2, ``u = sin(5t)``): 12 s up to
    ``t = 10``, 115 s up to ``t = 100`` (linear in ``t_max``)."""
    tol, seconds = parse_options(options, ("tol", "time_budget"), "series", 1e-7)
    times = np.asarray(times, float)
    deadline = Deadline(seconds, f"the spectral series (n = 1) up to t = "
                        f"{float(times[-1]):.6g} at order {order}",
                        "request a shorter time span (t_max), a slower input u or a lower "
                        "order")

    noise: dict[int, np.ndarray] = {}

    def evaluate(g: Grid1D):
        out, noise[g.N] = _forward(g, f, order, u, times, rtol, deadline)
        return out.ravel()
    val, diff, N = _refine(model, evaluate, tol, "series")
    coarse = _forward(grid(model, N), f, order, u, times, 100 * rtol, deadline)[0].ravel()
    err = diff.reshape(order + 1, -1).max(1, keepdims=True) + np.abs(val - coarse).reshape(
        order + 1, -1) + noise[N][:, None]
    return val.reshape(order + 1, -1), err, N


def not_applicable(model: SRNN) -> NotApplicableError:
    return NotApplicableError(applies_general(model, model.h[0]) or "")
