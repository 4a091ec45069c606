"""Galerkin matrices and their modal system (docs/theory.md §9).

On the span of the basis ``ψ`` (coefficient vectors ``c``, function ``ψᵀc``)

    G = E_0[ψ ψᵀ] ,  A = E_0[ψ (L0 ψ)ᵀ] ,  B^k = E_0[ψ (L_k ψ)ᵀ] ,  m = E_0[ψ] ,  F = E_0[ψ f]
    L0 ≈ Λ = G⁻¹A ,   L_k ≈ M_k = G⁻¹B^k ,   c_f = G⁻¹F ,   <p0, ψᵀc> = mᵀc .

The basis is orthonormalised under the measure (``G = U s Uᵀ``, ``Q = U s^{-1/2}`` keeping
``s > 1e-13 max s``: the conditioning of ``G`` is controlled there), ``Λ = V diag(λ) V⁻¹``
is diagonalised, and the result is a modal system (:mod:`volterra_sym.backends.modal`) with
``B_k = V⁻¹ M_k V``, pairing ``p = Vᵀ m`` and ``a_0 = V⁻¹ c_f``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.linalg

from ...errors import AccuracyNotReachedError
from .basis import MonomialBasis

__all__ = ["Sums", "assemble", "GalerkinSystem", "build_system", "Whitening"]

#: eigenvalues of G below this fraction of the largest are dropped (conditioning)
G_RCUT = 1e-13
#: a basis whose Gram matrix is worse conditioned than this (or loses functions to the
#: cutoff) is refused: the Galerkin answers break down well before the cutoff bites
MAX_COND_G = 1e10


@dataclass(frozen=True)
class Whitening:
    """``h = μ + L y``: the linearised network's stationary mean and Cholesky factor."""

    mu: np.ndarray
    L: np.ndarray

    def to_y(self, x: np.ndarray) -> np.ndarray:
        return scipy.linalg.solve_triangular(self.L, (x - self.mu).T, lower=True).T


@dataclass
class Sums:
    """Measure averages of one (sub)set of points: ``G, A, B^k, m, F`` for the full basis."""

    G: np.ndarray
    A: np.ndarray
    B: list[np.ndarray]
    m: np.ndarray
    F: np.ndarray

    def prefix(self, M: int) -> Sums:
        """The averages of the first ``M`` basis functions (a lower degree)."""
        return Sums(self.G[:M, :M], self.A[:M, :M], [b[:M, :M] for b in self.B],
                    self.m[:M], self.F[:M])


def assemble(basis: MonomialBasis, white: Whitening, x: np.ndarray, w: np.ndarray,
             phi: np.ndarray, fvals: np.ndarray, Dt: np.ndarray, Ct: np.ndarray,
             groups: list[np.ndarray] | None = None) -> list[Sums]:
    """Averages over the weighted points (one :class:`Sums` per group of rows, or one for
    all). ``phi`` is ``φ(x)``, ``Dt = L⁻¹DL⁻ᵀ``, ``Ct = L⁻¹C``: only the drift part of ``A``
    needs the points; diffusion and perturbations are sparse maps (``A_diff = G T₂``,
    ``B^k = G T_k``)."""
    y = white.to_y(x)
    Psi = basis.evaluate(y)
    phi_t = scipy.linalg.solve_triangular(white.L, phi.T, lower=True).T
    drift = basis.drift_values(Psi, phi_t)
    T2 = basis.second_order(Dt)
    Tk = [basis.directional(Ct[:, k]) for k in range(Ct.shape[1])]
    out = []
    for rows in (groups or [slice(None)]):
        ww = w[rows] / w[rows].sum()
        WPsi = Psi[rows] * ww[:, None]
        G = Psi[rows].T @ WPsi
        G = 0.5 * (G + G.T)
        A = WPsi.T @ drift[rows] + (T2.T @ G.T).T
        B = [np.asarray((T.T @ G.T).T) for T in Tk]
        out.append(Sums(G, np.asarray(A), B, WPsi.sum(0), WPsi.T @ fvals[rows]))
    return out


def orthonormaliser(G: np.ndarray) -> tuple[np.ndarray, float]:
    """``Q`` with ``Qᵀ G Q = I`` on the well-conditioned part of ``G``; and ``cond(G)``
    of the kept part."""
    s, U = np.linalg.eigh(G)
    keep = s > G_RCUT * max(float(s.max()), 1e-300)
    return U[:, keep] / np.sqrt(s[keep]), float(s.max() / s[keep].min())


@dataclass
class GalerkinSystem:
    """A modal system (``lam``, ``M``, ``dtype``, ``pairing``, ``p_times_B``, ``times_B``,
    ``times_Bt``) plus ``a0`` (the observable) and diagnostics."""

    lam: np.ndarray
    V: np.ndarray
    Vinv: np.ndarray
    Bm: list[np.ndarray]
    pairing: np.ndarray
    a0: np.ndarray
    cond_G: float
    cond_V: float
    growth: float

    @property
    def M(self) -> int:
        return self.lam.size

    @property
    def dtype(self) -> np.dtype:
        return np.result_type(self.lam, self.V)

    @cached_property
    def _pB(self) -> list[np.ndarray]:
        return [self.pairing @ B for B in self.Bm]

    def p_times_B(self, k: int) -> np.ndarray:
        return self._pB[k]

    def times_B(self, k: int, X: np.ndarray) -> np.ndarray:
        return X @ self.Bm[k]

    def times_Bt(self, k: int, X: np.ndarray) -> np.ndarray:
        return X @ self.Bm[k].T

    def rounding(self, magnitude: float) -> float:
        """Rounding level of a mode sum of size ``magnitude``: ``64 ε κ(V) κ(G)^{1/2}``."""
        return 64 * np.finfo(float).eps * self.cond_V * np.sqrt(self.cond_G) * magnitude


def build_system(sums: Sums, Q: np.ndarray, cond_G: float, what: str) -> GalerkinSystem:
    """The modal system of the Galerkin matrices in the basis ``ψ Q``."""
    if Q.shape[1] < sums.G.shape[0] or cond_G > MAX_COND_G:
        raise AccuracyNotReachedError(
            f"{what}: the basis is ill-conditioned under the averaging measure (cond(G) = "
            f"{cond_G:.2g}, {sums.G.shape[0] - Q.shape[1]} functions below the cutoff); "
            "lower the degree", error=cond_G)
    G = Q.T @ sums.G @ Q
    A = Q.T @ sums.A @ Q
    Lam = np.linalg.solve(G, A)
    Ms = [np.linalg.solve(G, Q.T @ B @ Q) for B in sums.B]
    m = Q.T @ sums.m
    cf = np.linalg.solve(G, Q.T @ sums.F)
    lam, V = scipy.linalg.eig(Lam)
    cond_V = float(np.linalg.cond(V))
    if not np.isfinite(cond_V) or cond_V > 1e12:
        raise AccuracyNotReachedError(f"{what}: the Galerkin generator is not diagonalisable "
                                      f"to working accuracy (cond(V) = {cond_V:.2g}); lower "
                                      "the degree")
    Vinv = np.linalg.inv(V)
    # the stationary mode: λ ≈ 0 (constants are in the span); every other mode must decay
    j0 = int(np.argmin(np.abs(lam)))
    others = np.delete(lam.real, j0)
    scale = max(float(np.abs(lam).max()), 1e-300)
    growth = float(others.max()) if others.size else -1.0
    if growth > 1e-8 * scale:
        raise AccuracyNotReachedError(
            f"{what}: the Galerkin generator has a growing mode (Re λ = {growth:.3g}): the "
            "averages are too noisy or the basis too large for this measure; add paths or "
            "lower the degree", error=growth)
    lam = lam.copy()
    lam[j0] = 0.0
    return GalerkinSystem(lam, V, Vinv, [Vinv @ M @ V for M in Ms], V.T @ m, Vinv @ cf,
                          cond_G, cond_V, growth)
