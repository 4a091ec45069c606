"""Krylov systems: ``P_τ = e^{τΛ}`` applied to vectors by the Arnoldi method, without
diagonalising the generator ``Λ`` (docs/theory.md §9).

For a start vector ``b`` (``β = ‖b‖``) Arnoldi builds an orthonormal basis ``V_m`` of
``span{b, Λb, …, Λ^{m−1}b}`` and the Hessenberg matrix ``H_m = V_mᵀ Λ V_m``; then::

    e^{τΛ} b ≈ β V_m e^{τH_m} e_1 ,    error ≈ β h_{m+1,m} |e_mᵀ τ φ_1(τH_m) e_1|

(Saad 1992; Hochbruck & Lubich 1997: the a-posteriori estimate, the residual of the
approximation integrated over ``[0, τ]``), both read off one small exponential,
``exp(τ[[H_m, e_1], [0, 0]])`` (its last column holds ``τ φ_1(τH_m) e_1``). The basis
grows until the estimate at the largest gap is below :data:`KRYLOV_TOL` ``β``; where
:data:`KRYLOV_MAX_DIM` vectors do not reach it the gaps are covered in steps (as in
Expokit, Sidje 1998): the largest gap the basis serves, the vector there the start of the
next basis. One product ``Λ X`` serves every start vector at once (the columns of ``X``:
one pass over ``Λ``, which is what costs at ``M`` in the thousands).

The cost is ``O(m M²)`` per start vector against the ``O(M³)`` of an eigendecomposition:
for 8 units at degree 5 (``M = 1,287``), 60 vectors resolve the lags of three relaxation
times to 1e-14 (0.03 s), where ``geev`` takes 1.2 s — and the Arnoldi values do not carry
the ``κ(V)`` (8e5 there) that the modal route's rounding does.

:class:`KrylovRepresentation` is the propagation-core representation of a Krylov system:
states are row blocks ``(Q, M)`` of basis coefficients, ``L_k c = M_k c``, ``<p0, c> =
π·c``. A Krylov system provides ``Lam`` ``(M, M)``, ``norm`` (``‖Λ‖₁``), ``M``,
``pairing`` ``π`` ``(M,)``, ``a0`` ``(M,)``, ``kick(k)`` (``M_k``, dense or sparse) and
``pair_kick(k)`` (the row ``πᵀ M_k``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.linalg

from ..errors import AccuracyNotReachedError
from ..hierarchy.propagation import Representation, unique_rows
from .modal import row_magnitude

__all__ = ["KRYLOV_MAX_DIM", "KRYLOV_TOL", "KrylovRepresentation", "KrylovSystem",
           "KrylovStats", "arnoldi_basis", "expm_rows", "growing_ritz"]

#: relative accuracy of each Arnoldi approximation (its a-posteriori estimate over ``β``)
KRYLOV_TOL = 1e-14
#: the largest Krylov basis before the gaps are covered in steps
KRYLOV_MAX_DIM = 80
#: steps of one propagation before it is refused (the route sends lags of ``‖Λ‖₁τ`` up to
#: 5,000 here, a few hundred steps of 80 vectors at most)
KRYLOV_MAX_STEPS = 10_000
#: bytes of Arnoldi bases built at once (start vectors are processed in groups)
KRYLOV_BYTES = 2 ** 27


class KrylovSystem(Protocol):
    Lam: np.ndarray
    norm: float
    M: int

    @property
    def pairing(self) -> np.ndarray: ...

    @property
    def a0(self) -> np.ndarray: ...

    def kick(self, k): ...

    def pair_kick(self, k) -> np.ndarray: ...


@dataclass
class KrylovStats:
    """What the Arnoldi runs of one walk did: bases built, largest dimension, steps, and
    the largest a-posteriori estimate relative to its ``β``."""

    bases: int = 0
    largest: int = 0
    steps: int = 0
    estimate: float = 0.0


def _arnoldi(Lam: np.ndarray, B: np.ndarray, m_max: int, top: np.ndarray,
             tol: float | None = None):
    """Arnoldi on the columns of ``B`` ``(M, R)`` in lockstep (classical Gram–Schmidt,
    twice). Stops a column when its estimate at its largest gap ``top[r]`` is below ``tol``
    (default :data:`KRYLOV_TOL`; checked every 4 vectors), at a breakdown (an invariant
    subspace: exact) or at ``m_max``. Returns ``(V (R, m+1, M), H (R, m+1, m), beta (R,),
    dims (R,), converged (R,))`` with each column's own dimension in ``dims`` and whether
    it stopped before ``m_max`` in ``converged``."""
    tol = KRYLOV_TOL if tol is None else tol
    M, R = B.shape
    V = np.zeros((R, m_max + 1, M))
    H = np.zeros((R, m_max + 1, m_max))
    beta = np.linalg.norm(B, axis=0)
    V[:, 0] = (B / np.where(beta > 0, beta, 1.0)).T
    dims = np.full(R, m_max)
    active = np.flatnonzero(beta > 0)
    dims[beta == 0] = 0
    converged = beta == 0
    for j in range(m_max):
        if active.size == 0:
            break
        every = active.size == R                                # views, no gathers
        W = (Lam @ (V[:, j] if every else V[active, j]).T).T   # (A, M)
        Vj = V[:, :j + 1] if every else V[active, :j + 1]      # (A, j+1, M)
        h = np.einsum("ajm,am->aj", Vj, W)
        W -= np.einsum("aj,ajm->am", h, Vj)
        h2 = np.einsum("ajm,am->aj", Vj, W)
        W -= np.einsum("aj,ajm->am", h2, Vj)
        H[active, :j + 1, j] = h + h2
        nrm = np.linalg.norm(W, axis=1)
        H[active, j + 1, j] = nrm
        scale = np.abs(H[active, :j + 2, :j + 1]).max(axis=(1, 2))
        broke = nrm <= 1e-14 * np.maximum(scale, 1e-300)
        V[active, j + 1] = W / np.where(broke, 1.0, nrm)[:, None]
        done = broke.copy()
        if (j + 1) % 4 == 0 and j + 1 < m_max:
            for i, r in enumerate(active):
                if not done[i]:
                    done[i] = _estimate(H[r], j + 1, top[r]) <= tol
        dims[active[done]] = j + 1
        converged[active[done]] = True
        H[active[broke], j + 1, j] = 0.0
        active = active[~done]
    return V, H, beta, dims, converged


def arnoldi_basis(A: np.ndarray, B: np.ndarray, m_max: int, horizon: float, tol: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal bases of the Krylov spaces ``K_m(A, b_r)`` of the columns of ``B``
    ``(M, R)``, each grown until ``e^{τA}b_r`` has its a-posteriori estimate below
    ``tol ‖b_r‖`` at ``τ = horizon``: ``(V (R, m_max+1, M), dims (R,))``, the basis of
    column ``r`` in ``V[r, :dims[r]]``; ``dims[r] = −1`` where ``m_max`` vectors were not
    enough."""
    top = np.full(B.shape[1], float(horizon))
    V, _, _, dims, converged = _arnoldi(A, np.asarray(B, dtype=float), m_max, top, tol)
    return V, np.where(converged, dims, -1)


def _small_exp(H: np.ndarray, m: int, tau: float) -> np.ndarray:
    """``exp(τ[[H_m, e_1], [0, 0]])`` ``(m+1, m+1)``."""
    A = np.zeros((m + 1, m + 1))
    A[:m, :m] = H[:m, :m]
    A[0, m] = 1.0
    return scipy.linalg.expm(tau * A)


def _estimate(H: np.ndarray, m: int, tau: float) -> float:
    """``h_{m+1,m} |e_mᵀ τ φ_1(τH_m) e_1|`` (relative to ``β``)."""
    if m == 0 or tau == 0.0:
        return 0.0
    E = _small_exp(H, m, tau)
    return float(abs(H[m, m - 1]) * abs(E[m - 1, m]))


def growing_ritz(H: np.ndarray, m: int, scale: float) -> float | None:
    """The rightmost converged Ritz value's real part if it is above ``1e-8·scale``
    (a growing mode of ``Λ``), else None: eigenpairs ``(θ, y)`` of ``H_m`` with residual
    ``h_{m+1,m}|e_mᵀy| ≤ 1e-6 scale`` (unit ``y``). Ritz values of a non-normal ``Λ`` that
    have not converged may lie anywhere in its field of values and are not counted; nor is
    the one nearest 0 where it is within ``1e-5·scale`` of it — the stationary mode
    (``λ = 0``, the constants), which a Ritz value approximates to its own accuracy (as the
    modal system leaves out its ``λ`` nearest 0: on 6 units on 8,000 samples a Ritz value
    ``3e-7`` for ``‖Λ‖₁ = 19``)."""
    if m == 0:
        return None
    theta, Y = scipy.linalg.eig(H[:m, :m])
    Y = Y / np.linalg.norm(Y, axis=0)
    res = abs(H[m, m - 1]) * np.abs(Y[m - 1])
    bad = (theta.real > 1e-8 * scale) & (res <= 1e-6 * scale)
    nearest = int(np.argmin(np.abs(theta)))
    if abs(theta[nearest]) <= 1e-5 * scale:
        bad[nearest] = False
    return float(theta.real[bad].max()) if np.any(bad) else None


def expm_rows(system: KrylovSystem, starts: np.ndarray, gaps: list[np.ndarray],
              stats: KrylovStats | None = None, what: str = "Krylov propagation"
              ) -> list[np.ndarray]:
    """``e^{τΛ} b_r`` for every start row ``b_r`` of ``starts`` ``(R, M)`` and every gap
    ``τ`` in ``gaps[r]`` (sorted, ``≥ 0``): a list of ``(len(gaps[r]), M)`` arrays (module
    docstring). Raises :class:`~volterra_sym.errors.AccuracyNotReachedError` where a basis
    finds a growing mode of ``Λ``."""
    stats = stats if stats is not None else KrylovStats()
    M = system.M
    out = [np.empty((g.size, M)) for g in gaps]
    # pending: (row, start vector, time already covered, indices of the gaps left)
    pending = []
    for r, g in enumerate(gaps):
        zero = g == 0.0
        out[r][zero] = starts[r]
        if not np.all(zero):
            pending.append((r, np.asarray(starts[r], dtype=float), 0.0, np.flatnonzero(~zero)))
    group = max(1, KRYLOV_BYTES // (8 * (KRYLOV_MAX_DIM + 1) * M))
    while pending:
        now, pending = pending[:group], pending[group:]
        B = np.stack([p[1] for p in now], axis=1)
        top = np.array([gaps[r][idx[-1]] - t0 for r, _, t0, idx in now])
        V, H, beta, dims, _ = _arnoldi(system.Lam, B, KRYLOV_MAX_DIM, top)
        stats.bases += len(now)
        stats.largest = max(stats.largest, int(dims.max(initial=0)))
        for i, (r, _, t0, idx) in enumerate(now):
            m = int(dims[i])
            if m == 0:                                      # a zero start vector
                out[r][idx] = 0.0
                continue
            grow = growing_ritz(H[i], m, max(system.norm, 1e-300))
            if grow is not None:
                raise AccuracyNotReachedError(
                    f"{what}: the Galerkin generator has a growing mode (Re λ = {grow:.3g}): "
                    "the averages are too noisy, or the basis too large for this measure or "
                    "too coarse for p0; add paths or try another degree", error=grow)
            served, est_max = [], 0.0
            for j in idx:
                tau = gaps[r][j] - t0
                E = _small_exp(H[i], m, tau)
                est = float(abs(H[i][m, m - 1]) * abs(E[m - 1, m]))
                if est > KRYLOV_TOL:
                    break
                out[r][j] = beta[i] * (E[:m, 0] @ V[i, :m])
                served.append(j)
                est_max = max(est_max, est)
            stats.estimate = max(stats.estimate, est_max)
            left = idx[len(served):]
            if left.size == 0:
                continue
            # a step: the farthest time this basis reaches within the tolerance
            h = _reach(H[i], m, gaps[r][left[0]] - t0)
            stats.steps += 1
            if not h > 0.0 or stats.steps > KRYLOV_MAX_STEPS:
                raise AccuracyNotReachedError(
                    f"{what}: the Krylov propagation did not reach the lag {gaps[r][-1]:.3g} "
                    f"within {KRYLOV_MAX_STEPS} steps (at {t0:.3g}); lower the lags or the "
                    "degree", error=float(gaps[r][-1] - t0))
            E = _small_exp(H[i], m, h)
            pending.append((r, beta[i] * (E[:m, 0] @ V[i, :m]), t0 + h, left))
    return out


def _reach(H: np.ndarray, m: int, tau: float) -> float:
    """The largest ``h ≤ τ`` (to a factor 1.1) whose estimate is within the tolerance."""
    h = tau
    while h > 0.0 and _estimate(H, m, h) > KRYLOV_TOL:
        h /= 1.1
    return h


class KrylovRepresentation(Representation):
    """Kernels of a Krylov system: states are row blocks ``(Q, M)`` of basis coefficients.

    ``horizon``: the largest lag of the request. The magnitudes (:meth:`pair`,
    :meth:`size`) are ``‖c‖ ‖π‖ (1 + ‖Λ‖₁ horizon)``: the size of the pairing's terms
    times the growth of rounding through the Arnoldi products (one product per unit of
    ``‖Λ‖₁τ``, each relative error ``ε``); the Arnoldi estimates themselves are below
    ``KRYLOV_TOL ≈ 45ε`` of the vector propagated. In orthonormal basis coordinates
    ``‖c‖`` is the function's norm under the measure, so the magnitude is tracked along the
    chain."""

    chain = True

    def __init__(self, system: KrylovSystem, horizon: float, name: str = "galerkin",
                 what: str = "Krylov propagation"):
        self.system, self.name, self.what = system, name, what
        self.growth = 1.0 + system.norm * float(horizon)
        self.stats = KrylovStats()
        self.max_rows = max(1, int(4e6 // system.M))

    def encode(self) -> np.ndarray:
        return np.asarray(self.system.a0, dtype=float)[None, :]

    def propagate(self, state: np.ndarray, gaps: np.ndarray) -> np.ndarray:
        gaps = np.broadcast_to(np.asarray(gaps, dtype=float), (max(state.shape[0],
                                                                  np.size(gaps)),))
        rows = state if state.shape[0] == gaps.size else np.broadcast_to(
            state, (gaps.size, state.shape[1]))
        starts, inv = unique_rows(np.ascontiguousarray(rows))
        order = [np.flatnonzero(inv == r) for r in range(starts.shape[0])]
        by_row = []
        for where in order:
            g, back = np.unique(gaps[where], return_inverse=True)
            by_row.append((g, back))
        moved = expm_rows(self.system, starts, [g for g, _ in by_row], self.stats, self.what)
        out = np.empty((gaps.size, state.shape[1]))
        for where, (_, back), res in zip(order, by_row, moved, strict=True):
            out[where] = res[back]
        return out

    def perturb(self, k, state: np.ndarray) -> np.ndarray:
        Mk = self.system.kick(k)
        return np.asarray((Mk @ np.asarray(state).T).T)

    def _magnitude(self, state: np.ndarray, row: np.ndarray) -> np.ndarray:
        return row_magnitude(state, row) * self.growth

    def pair(self, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.system.pairing
        return state @ p, self._magnitude(state, p)

    def size(self, state: np.ndarray) -> np.ndarray:
        return self._magnitude(state, self.system.pairing)

    def pair_perturbed(self, k, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        row = self.system.pair_kick(k)
        return state @ row, self._magnitude(state, row)

    def take(self, state: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return state[rows] if state.shape[0] > 1 else np.broadcast_to(
            state, (len(rows), state.shape[1]))
