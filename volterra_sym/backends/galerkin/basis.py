"""Polynomial bases in whitened coordinates and the generator acting on them
(docs/theory.md §9).

With ``h = μ + L y`` (``μ``, ``L Lᵀ = S``: mean and covariance of the averaging measure)
the basis is every product of normalised probabilists' Hermite polynomials
``ψ_α(y) = Π_i h_{α_i}(y_i)``, ``h_k = He_k / √k!``, of total degree ``|α| ≤ d`` —
``C(n+d, d)`` of them, spanning the polynomials of degree ≤ d, in graded order (degree 0
first, so the basis of degree ``d-1`` is a prefix). The products are orthonormal for the
Gaussian measure of the whitening, so the Gram matrix under ``p0`` is the identity plus
the non-Gaussian part of ``p0`` (with the unnormalised ``He_k`` its diagonal alone spans
``d!``: cond(G) ≈ 5e8 at degree 12 in 1-D, which capped the degree and made the rounding
bound ``∝ κ(G)^{1/2}`` 1e5 times the actual rounding), and ``h_k' = √k h_{k-1}`` gives them
the same derivative structure as monomials. In ``y``

    L0 g = φ̃·∇g + ½ D̃:∇∇g ,   L_k g = C̃_k·∇g ,
    φ̃(y) = L⁻¹ φ(μ + L y) ,   D̃ = L⁻¹ D L⁻ᵀ ,   C̃ = L⁻¹ C ,

and ``∂_i ψ_α = √α_i ψ_{α - e_i}`` stays in the basis: the diffusion and perturbation parts are
constant sparse matrices on coefficient vectors; only the drift part needs ``φ`` at points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse

__all__ = ["MonomialBasis", "basis_size"]


def basis_size(n: int, d: int) -> int:
    """``C(n + d, d)``: the number of monomials of total degree ≤ d in n variables."""
    return math.comb(n + d, d)


@dataclass(frozen=True)
class MonomialBasis:
    """All Hermite products of total degree ≤ ``degree`` in ``n`` variables (graded order)."""

    n: int
    degree: int

    @cached_property
    def exponents(self) -> np.ndarray:
        """``(M, n)`` exponents ``α``, degree by degree."""
        # degree k in the order of itertools.combinations_with_replacement(range(n), k)
        # (sorted index tuples, lexicographic): each tuple of degree k − 1, in that order,
        # extended by every index from its last one up — vectorised (the tuples as Python
        # objects took 0.1 s for the 43,758 of 8 units at degree 10)
        n = self.n
        blocks = [np.zeros((1, n), dtype=np.int64)]
        prev, last = blocks[0], np.zeros(1, dtype=np.int64)
        for _ in range(self.degree):
            counts = n - last
            rows = np.repeat(np.arange(prev.shape[0]), counts)
            start = np.repeat(last - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
            new = start + np.arange(rows.size)
            a = prev[rows]
            a[np.arange(rows.size), new] += 1
            blocks.append(a)
            prev, last = a, new
        return np.concatenate(blocks)

    @property
    def size(self) -> int:
        return self.exponents.shape[0]

    def size_of_degree(self, d: int) -> int:
        """Number of basis functions of degree ≤ ``d`` (a prefix of the graded order)."""
        return basis_size(self.n, d)

    @cached_property
    def _index(self) -> dict[tuple[int, ...], int]:
        return {tuple(a): i for i, a in enumerate(self.exponents)}

    @cached_property
    def _parents(self) -> tuple[np.ndarray, np.ndarray]:
        """For each ``α ≠ 0``: the index of ``α`` with its first nonzero variable ``i``
        removed (a lower degree), and ``i``."""
        E = self.exponents
        var = np.argmax(E > 0, axis=1)
        parent = []
        for a, i in zip(E, var, strict=True):
            if not a.any():
                parent.append(-1)
                continue
            b = a.copy()
            b[i] = 0
            parent.append(self._index[tuple(b)])
        return np.array(parent), var

    def evaluate(self, y: np.ndarray) -> np.ndarray:
        """``Ψ[p, b] = Π_i h_{α_{b,i}}(y_{p,i})`` for points ``y`` ``(P, n)`` -> ``(P, M)``
        (``√(k+1) h_{k+1} = y h_k - √k h_{k-1}``; each product is a lower-degree product
        times one factor: ``P·M`` multiplications)."""
        y = np.asarray(y, dtype=float)
        P = y.shape[0]
        H = np.empty((self.degree + 1, P, self.n))
        H[0] = 1.0
        if self.degree >= 1:
            H[1] = y
        for k in range(1, self.degree):
            H[k + 1] = (y * H[k] - math.sqrt(k) * H[k - 1]) / math.sqrt(k + 1)
        out = np.empty((self.size, P))     # Ψᵀ, C-ordered: the products gather rows
        out[0] = 1.0
        parent, var = self._parents
        E = self.exponents
        deg = E.sum(1)
        for k in range(1, self.degree + 1):
            idx = np.nonzero(deg == k)[0]
            i = var[idx]
            out[idx] = out[parent[idx]] * H[E[idx, i], :, i]
        return out.T

    def derivative(self, i: int) -> scipy.sparse.csr_matrix:
        """``D_i`` with ``∂_i ψ_b = Σ_c D_i[c, b] ψ_c`` (entries ``√α_{b,i}`` at
        ``c = α_b - e_i``; ``h_k' = √k h_{k-1}``)."""
        return self._derivatives[i]

    @cached_property
    def _derivatives(self) -> list[scipy.sparse.csr_matrix]:
        E = self.exponents
        out = []
        for i in range(self.n):
            cols = np.nonzero(E[:, i] > 0)[0]
            shifted = E[cols].copy()
            shifted[:, i] -= 1
            rows = np.array([self._index[tuple(a)] for a in shifted], dtype=np.int64)
            out.append(scipy.sparse.csr_matrix(
                (np.sqrt(E[cols, i].astype(float)), (rows, cols)),
                shape=(self.size, self.size)))
        return out

    def directional(self, c: np.ndarray) -> scipy.sparse.csr_matrix:
        """``Σ_i c_i D_i``: the derivative along ``c`` on coefficient vectors."""
        out = scipy.sparse.csr_matrix((self.size, self.size))
        for i, ci in enumerate(np.asarray(c, dtype=float)):
            if ci != 0:
                out = out + ci * self._derivatives[i]
        return out

    def second_order(self, Dt: np.ndarray) -> scipy.sparse.csr_matrix:
        """``½ Σ_ij D̃_ij D_i D_j``: the diffusion part of ``L0`` on coefficient vectors."""
        out = scipy.sparse.csr_matrix((self.size, self.size))
        for i in range(self.n):
            for j in range(self.n):
                if Dt[i, j] != 0:
                    out = out + 0.5 * Dt[i, j] * (self._derivatives[i] @ self._derivatives[j])
        return out.tocsr()

    @cached_property
    def _shifts(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """For each variable ``i``: the columns ``b`` with ``α_{b,i} > 0``, the rows
        ``c = α_b - e_i`` and the factors ``√α_{b,i}`` (``D_i`` has one entry per column)."""
        out = []
        for D in self._derivatives:
            D = D.tocsc()
            cols = np.nonzero(np.diff(D.indptr))[0]
            out.append((cols, D.indices[D.indptr[cols]], D.data[D.indptr[cols]]))
        return out

    def drift_values(self, Psi: np.ndarray, phi_t: np.ndarray) -> np.ndarray:
        """``Σ_i φ̃_i ∂_i ψ_b`` at the points: ``(P, M)`` from ``Ψ`` and ``φ̃`` ``(P, n)``
        (any first-order operator with coefficients ``φ̃(x)``, e.g. a kick
        ``L^{(j)}_k`` with ``c̃ = L⁻¹c``, docs/theory.md §10); ``∂_i ψ_b = √α_{b,i}
        ψ_{α_b - e_i}`` is a gather of rows of ``Ψᵀ`` (contiguous: the result is the
        transpose of a C-ordered ``(M, P)`` array)."""
        PT = np.ascontiguousarray(Psi.T)
        out = np.zeros_like(PT)
        for i, (cols, rows, vals) in enumerate(self._shifts):
            if np.any(phi_t[:, i]):
                part = PT[rows]
                part *= vals[:, None]
                part *= phi_t[None, :, i]
                out[cols] += part
        return out.T

    def diffusion_values(self, Psi: np.ndarray, Dt: np.ndarray) -> np.ndarray:
        """``½ Σ_ij D̃_ij(x) ∂_i∂_j ψ_b`` at the points (state-dependent noise,
        docs/theory.md §11): ``(P, M)`` from ``Ψ`` and ``D̃`` ``(P, n, n)`` (symmetric);
        ``∂_i∂_j ψ_b = Σ_c (D_i D_j)[c, b] ψ_c``."""
        out = np.zeros_like(Psi)
        for i in range(self.n):
            for j in range(i, self.n):
                d = Dt[:, i, j] if i == j else Dt[:, i, j] + Dt[:, j, i]
                if np.any(d):
                    second = (self._derivatives[i] @ self._derivatives[j]).tocsr()
                    out += 0.5 * d[:, None] * (second.T @ Psi.T).T
        return out


@dataclass(frozen=True, eq=False)
class OrthonormalBasis1D:
    """The polynomials of degree ≤ ``degree`` in one variable, orthonormal under a discrete
    measure (points ``y``, weights ``w``, ``Σw = 1``): the span of :class:`MonomialBasis`
    (``n = 1``) with a Gram matrix ``I`` instead of the Hermite products' ``E[h_j h_k]``, whose
    condition number grows with the degree where ``p0`` is far from the whitening Gaussian
    (``noisy_tanh1d``: 7.8e9 at degree 13, refused from 14). Built by the Stieltjes
    procedure on the measure's own points,

        p_0 = 1 ,  a_k = Σ w y p_k² ,  √β_{k+1} p_{k+1} = (y − a_k) p_k − √β_k p_{k−1} ,

    so lower degrees are prefixes. ``p_k' = Σ_j D[j, k] p_j`` (``D`` strictly upper
    triangular) from the recurrence differentiated in coefficient space,
    ``√β_{k+1} d_{k+1} = e_k + (J − a_k) d_k − √β_k d_{k−1}``, ``J`` the Jacobi matrix
    (``y p_j = √β_{j+1} p_{j+1} + a_j p_j + √β_j p_{j−1}``). The same interface as
    :class:`MonomialBasis` for :func:`~.system.assemble`."""

    degree: int
    a: np.ndarray
    sqrt_b: np.ndarray

    n = 1

    @classmethod
    def on(cls, y: np.ndarray, w: np.ndarray, degree: int) -> OrthonormalBasis1D:
        """The basis orthonormal under the points ``y`` ``(P,)`` or ``(P, 1)`` with weights
        ``w`` (at least ``degree + 1`` points of positive weight)."""
        y = np.asarray(y, dtype=float).ravel()
        w = np.asarray(w, dtype=float) / float(np.sum(w))
        a, sb = np.zeros(degree + 1), np.zeros(degree + 2)
        prev, cur = np.zeros_like(y), np.ones_like(y)
        for k in range(degree + 1):
            a[k] = float(w @ (y * cur * cur))
            q = (y - a[k]) * cur - sb[k] * prev
            # one re-orthogonalisation against p_k and p_{k-1} (rounding in the recurrence)
            q -= (w @ (q * cur)) * cur + (w @ (q * prev)) * prev
            sb[k + 1] = math.sqrt(max(float(w @ (q * q)), 0.0))
            if sb[k + 1] == 0.0:
                raise ValueError(f"the measure has fewer than {degree + 1} points of weight")
            prev, cur = cur, q / sb[k + 1]
        return cls(degree, a, sb)

    @property
    def size(self) -> int:
        return self.degree + 1

    def size_of_degree(self, d: int) -> int:
        return d + 1

    def evaluate(self, y: np.ndarray) -> np.ndarray:
        """``Ψ[p, k] = p_k(y_p)`` ``(P, M)``."""
        y = np.asarray(y, dtype=float).reshape(-1)
        out = np.empty((y.size, self.size))
        out[:, 0] = 1.0
        if self.degree >= 1:
            out[:, 1] = (y - self.a[0]) / self.sqrt_b[1]
        for k in range(1, self.degree):
            out[:, k + 1] = ((y - self.a[k]) * out[:, k]
                             - self.sqrt_b[k] * out[:, k - 1]) / self.sqrt_b[k + 1]
        return out

    @cached_property
    def _D(self) -> np.ndarray:
        M = self.size
        J = np.diag(self.a[:M]) + np.diag(self.sqrt_b[1:M], 1) + np.diag(self.sqrt_b[1:M], -1)
        D = np.zeros((M, M))
        for k in range(M - 1):
            rhs = J @ D[:, k] - self.a[k] * D[:, k]
            rhs[k] += 1.0
            if k >= 1:
                rhs -= self.sqrt_b[k] * D[:, k - 1]
            D[:, k + 1] = rhs / self.sqrt_b[k + 1]
        return D

    @cached_property
    def _D2(self) -> np.ndarray:
        return self._D @ self._D

    def derivative(self, i: int = 0) -> scipy.sparse.csr_matrix:
        """``D`` with ``p_k' = Σ_j D[j, k] p_j``."""
        return scipy.sparse.csr_matrix(self._D)

    def directional(self, c: np.ndarray) -> scipy.sparse.csr_matrix:
        """``c_0 D``: the derivative along ``c`` on coefficient vectors."""
        return scipy.sparse.csr_matrix(float(np.ravel(c)[0]) * self._D)

    def second_order(self, Dt: np.ndarray) -> scipy.sparse.csr_matrix:
        """``½ D̃ D²``: the diffusion part of ``L0`` on coefficient vectors."""
        return scipy.sparse.csr_matrix(0.5 * float(np.ravel(Dt)[0]) * self._D2)

    def drift_values(self, Psi: np.ndarray, phi_t: np.ndarray) -> np.ndarray:
        """``φ̃ p_k'`` at the points ``(P, M)``."""
        return np.asarray(phi_t, dtype=float).reshape(-1, 1) * (Psi @ self._D)

    def diffusion_values(self, Psi: np.ndarray, Dt: np.ndarray) -> np.ndarray:
        """``½ D̃(x) p_k''`` at the points (state-dependent noise)."""
        return 0.5 * np.asarray(Dt, dtype=float).reshape(-1, 1) * (Psi @ self._D2)
