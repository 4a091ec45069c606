"""The Galerkin system reduced to the Krylov spaces an order ≤ 2 series lives in
(docs/theory.md §9): the forward form on ``r`` ≪ ``M`` functions.

The series terms up to order 2 pair two kinds of trajectories only::

    T_1(t) = ∫ u(s) (M_kᵀπ)·e^{(t−s)Λ} c_f ds ,
    T_2(t) = ∫∫ u u (e^{(s₂−s₁)Λᵀ} M_kᵀπ)·M_k e^{(t−s₂)Λ} c_f + (contact terms
             M_{kk}ᵀπ of the input inside the activation) ,

``x(τ) = e^{τΛ}c_f`` and ``w_k(τ) = e^{τΛᵀ}M_kᵀπ`` for ``τ`` up to the series' horizon
``t_max``. With ``U`` an orthonormal basis of ``span{π} ⊕ K_m(Λ, c_f) ⊕ K_{m'}(Λᵀ, M_kᵀπ)``
(Arnoldi, :mod:`volterra_sym.backends.krylov`, each space until its a-posteriori estimate
at ``t_max`` is below :data:`REDUCTION_TOL`), the one-sided projection ``Λ_U = UᵀΛU``,
``M_{k,U} = UᵀM_kU``, ``π_U = Uᵀπ``, ``c_U = Uᵀc_f`` reproduces every polynomial of degree
``< m`` in ``Λ`` on ``c_f`` (and ``< m'`` in ``Λᵀ`` on ``M_kᵀπ``) exactly, so both kinds
of trajectories to the Krylov accuracy; ``π ∈ U`` keeps the stationary functional exact
(``π_Uᵀ Λ_U = πᵀΛU = 0``). The reduced system is then diagonalised like any other
(:func:`~.system.build_system`, paired through ``π_U``): an ``r × r`` eigendecomposition
(``r`` ≈ 200 for 8 units at degree 5 and ``t_max = 10``) where the full one is ``M × M``
(1,287).

The reduction's error is checked, not assumed: the defect of the reduced trajectory
``U y(τ)`` is ``−R y(τ)`` with ``R = ΛU − UΛ_U`` (and ``ΛᵀU − UΛ_Uᵀ`` for ``w``), and
``∫_0^{t_max} ‖R y(s)‖ ds`` relative to the start vector (the generalised residual of the
Arnoldi estimate) must stay below :data:`REDUCTION_TOL`; its value is added to the reduced
system's rounding level (``floor``). Orders above 2 (whose middle trajectories leave
``U``), horizons with ``‖Λ‖₁ t_max`` above :data:`REDUCTION_MAX_NORM_TIME`, spaces that
do not converge within :data:`REDUCTION_MAX_DIM` vectors and reduced generators with a
growing mode raise :class:`NoReduction`: the caller diagonalises the full system.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.linalg

from ...errors import AccuracyNotReachedError
from ..krylov import arnoldi_basis
from .system import GalerkinSystem, KrylovGalerkinSystem, Sums, build_system

__all__ = ["NoReduction", "REDUCTION_MAX_DIM", "REDUCTION_MAX_NORM_TIME", "REDUCTION_TOL",
           "reduced_series_system"]

#: the Krylov spaces' a-posteriori estimates at the horizon, and the reduced trajectories'
#: integrated residuals, relative to their start vectors
REDUCTION_TOL = 1e-12
#: the largest Krylov space per start vector
REDUCTION_MAX_DIM = 300
#: horizons beyond ``‖Λ‖₁ t_max`` = this are not reduced (the spaces would approach ``M``)
REDUCTION_MAX_NORM_TIME = 2_000.0
#: the residual integrals are taken over this many points of ``[0, t_max]`` (trapezoid)
_GRID = 257


class NoReduction(Exception):
    """The series system cannot be reduced here (module docstring); the message says why."""


def reduced_series_system(full: KrylovGalerkinSystem, what: str, horizon: float
                          ) -> GalerkinSystem:
    """The modal system of the Galerkin matrices of ``full`` (a Krylov system:
    :func:`~.system.build_krylov_system`, shared with the kernels) reduced to the Krylov
    spaces of the series up to order 2 on ``[0, horizon]`` (module docstring); raises
    :class:`NoReduction` where that is not possible to :data:`REDUCTION_TOL`."""
    if not full.norm * horizon <= REDUCTION_MAX_NORM_TIME:
        raise NoReduction(f"‖Λ‖₁ t_max = {full.norm * horizon:.3g}")
    Lam, pi, cf = full.Lam, full.pairing, full.a0
    starts_t = np.stack([np.asarray(full.pair_kick(k), dtype=float) for k in full.kicks],
                        axis=1)
    blocks = [pi[:, None]]
    for A, B in ((Lam, cf[:, None]), (Lam.T, starts_t)):
        V, dims = arnoldi_basis(A, B, REDUCTION_MAX_DIM, horizon, REDUCTION_TOL)
        if np.any(dims < 0):
            raise NoReduction(f"a Krylov space needs more than {REDUCTION_MAX_DIM} vectors")
        blocks += [V[i, :max(int(dims[i]), 1)].T for i in range(V.shape[0])]
    S = np.concatenate(blocks, axis=1)
    U, s, _ = scipy.linalg.svd(S, full_matrices=False, check_finite=False)
    U = U[:, s > 1e-12 * s[0]]
    LU = Lam @ U
    reduced = Sums(np.eye(U.shape[1]), U.T @ LU,
                   {k: U.T @ np.asarray(Mk @ U) for k, Mk in full.kicks.items()},
                   U.T @ pi, U.T @ cf)
    try:
        system = build_system(reduced, None, full.cond_G, what + " (reduced)", "measure")
    except AccuracyNotReachedError as exc:
        raise NoReduction(str(exc)) from exc
    defect = max(_residual(LU - U @ reduced.A, reduced.A, U.T @ cf, horizon),
                 *(_residual(Lam.T @ U - U @ reduced.A.T, reduced.A.T, U.T @ b, horizon)
                   for b in starts_t.T))
    if not defect <= REDUCTION_TOL:
        raise NoReduction(f"the reduced trajectories' residual is {defect:.2g}")
    return replace(system, floor=defect)


def _residual(R: np.ndarray, A: np.ndarray, y0: np.ndarray, horizon: float) -> float:
    """``∫_0^{horizon} ‖R e^{sA} y0‖ ds / ‖y0‖`` (trapezoid on :data:`_GRID` points;
    ``e^{sA}`` as powers of one step's exponential)."""
    size = float(np.linalg.norm(y0))
    if size == 0.0 or horizon <= 0.0:
        return 0.0
    h = horizon / (_GRID - 1)
    E = scipy.linalg.expm(h * A)
    Y = np.empty((_GRID, y0.size))
    Y[0] = y0
    for j in range(1, _GRID):
        Y[j] = E @ Y[j - 1]
    norms = np.linalg.norm(Y @ R.T, axis=1)
    return float(h * (norms.sum() - 0.5 * (norms[0] + norms[-1]))) / size
