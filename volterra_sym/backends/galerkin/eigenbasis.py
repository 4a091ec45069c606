"""The eigenvector matrix of a real Galerkin generator, ``Λ = V diag(λ) V⁻¹``, and the kick
matrices in its coordinates, ``B_k = V⁻¹ M_k V``, applied without forming them.

For a real ``Λ`` LAPACK's ``geev`` returns a conjugate pair of modes adjacent,
``v_{j+1} = v̄_j``, so ``V = T P`` with ``T`` real (``Re v_j, Im v_j`` in the pair's columns,
a real mode its own column) and ``P`` block-diagonal with blocks ``[[1, 1], [i, −i]]``.
``T`` is factorised once (LU, ``⅔M³`` flops); a block of ``Q`` rows ``X`` then goes through

    X B_k  = ((X P⁻¹) T⁻¹ M_k) T P ,       X B_kᵀ = ((X Pᵀ) Tᵀ M_kᵀ) T⁻ᵀ P⁻ᵀ ,

two real products or solves with ``2Q`` right-hand sides (``8M²Q`` flops, as the complex
product with a formed ``B_k``) and ``O(MQ)`` work with ``P``. Forming ``B_k`` would cost the
inverse of ``T`` and one real ``M³`` product per kick (0.45 s of the 1.5 s eigensystem of
8 units at degree 5, M = 1,287); the forward form and the kernels apply it to at most a few
hundred rows. Where ``V`` is real ``P = I``; where it is complex but not in that form
(``T = V``) the same formulas run in complex arithmetic.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse

from ..modal import conjugate_pairs, operator_norm

__all__ = ["Eigenbasis", "ModalKick"]

#: blocks of ``P``, ``P⁻¹``, ``Pᵀ`` and ``P⁻ᵀ`` on a conjugate pair ``(j, j+1)``
_P = np.array([[1.0, 1.0], [1j, -1j]])
_PINV = np.linalg.inv(_P)


@dataclass(frozen=True)
class Eigenbasis:
    """``V = T P`` (module docstring): ``T``, its LU factors, and the pairs ``(first,
    second)`` of columns that ``P`` mixes."""

    T: np.ndarray
    lu: tuple
    first: np.ndarray
    second: np.ndarray

    @classmethod
    def of(cls, lam: np.ndarray, V: np.ndarray) -> Eigenbasis:
        """The split of ``V`` (the eigenvalues ``lam`` locate the pairs); raises
        ``LinAlgError`` where ``V`` is singular."""
        none = np.zeros(0, dtype=int)
        T, first, second = V, none, none
        pairs = conjugate_pairs(lam)
        if np.iscomplexobj(V) and pairs is not None:
            after = pairs + 1
            if np.all(V[:, after] == np.conj(V[:, pairs])):
                T = V.real.copy()
                T[:, after] = V[:, pairs].imag
                first, second = pairs, after
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
            lu = scipy.linalg.lu_factor(T, check_finite=False)
        if not np.all(np.isfinite(lu[0])) or np.any(np.diag(lu[0]) == 0):
            raise np.linalg.LinAlgError("the eigenvector matrix is singular")
        return cls(T, lu, first, second)

    @property
    def M(self) -> int:
        return self.T.shape[0]

    def _pairs(self, X: np.ndarray, block: np.ndarray) -> np.ndarray:
        """``X`` with the columns of each pair multiplied by the ``2 × 2`` ``block``."""
        if not self.first.size:
            return X
        Y = np.array(X, dtype=complex)
        a, b = X[:, self.first], X[:, self.second]
        Y[:, self.first] = a * block[0, 0] + b * block[1, 0]
        Y[:, self.second] = a * block[0, 1] + b * block[1, 1]
        return Y

    def _real_op(self, X: np.ndarray, op) -> np.ndarray:
        """``op`` (linear, real) on the rows of ``X``: real and imaginary parts stacked into
        one real call where ``T`` is real and ``X`` complex."""
        if np.iscomplexobj(self.T) or not np.iscomplexobj(X):
            return op(X)
        Q = X.shape[0]
        Y = op(np.concatenate([X.real, X.imag]))
        return Y[:Q] + 1j * Y[Q:]

    def _times_T(self, X: np.ndarray, transpose: bool = False) -> np.ndarray:
        T = self.T.T if transpose else self.T
        return self._real_op(X, lambda Z: Z @ T)

    def _solve_T(self, X: np.ndarray, transpose: bool = False) -> np.ndarray:
        """``X T⁻¹`` (``X T⁻ᵀ`` with ``transpose``): ``(T⁻ᵀ Xᵀ)ᵀ`` by the LU factors."""
        return self._real_op(X, lambda Z: scipy.linalg.lu_solve(
            self.lu, Z.T, trans=0 if transpose else 1, check_finite=False).T)

    def right(self, X: np.ndarray) -> np.ndarray:
        """``X V``."""
        return self._pairs(self._times_T(X), _P)

    def right_inverse(self, X: np.ndarray) -> np.ndarray:
        """``X V⁻¹``."""
        return self._solve_T(self._pairs(X, _PINV))

    def right_transpose(self, X: np.ndarray) -> np.ndarray:
        """``X Vᵀ``."""
        return self._times_T(self._pairs(X, _P.T), transpose=True)

    def right_inverse_transpose(self, X: np.ndarray) -> np.ndarray:
        """``X V⁻ᵀ``."""
        return self._pairs(self._solve_T(X, transpose=True), _PINV.T)

    def solve(self, c: np.ndarray) -> np.ndarray:
        """``V⁻¹ c`` for vectors ``c`` ``(M,)`` or column blocks ``(M, Q)``."""
        c = np.asarray(c)
        return self.right_inverse_transpose(np.atleast_2d(c.T)).T.reshape(c.shape)

    def condition(self) -> float:
        """``κ(V) = ‖V‖₂ ‖V⁻¹‖₂`` (power iterations,
        :func:`~volterra_sym.backends.modal.operator_norm`)."""
        M = self.M

        def apply(fn):
            return lambda X: fn(X.T).T                          # fn: rows; X: columns
        norm_V = operator_norm(apply(self.right_transpose),
                               lambda Y: np.conj(self.right(np.conj(Y).T).T), M)
        norm_Vinv = operator_norm(apply(self.right_inverse_transpose),
                                  lambda Y: np.conj(self.right_inverse(np.conj(Y).T).T), M)
        return norm_V * norm_Vinv


@dataclass(frozen=True)
class ModalKick:
    """``B = V⁻¹ M V`` applied to row blocks through the eigenbasis (module docstring);
    ``matrix`` (``M``) real, dense or sparse."""

    basis: Eigenbasis
    matrix: np.ndarray | scipy.sparse.sparray | scipy.sparse.spmatrix

    def rows_times(self, X: np.ndarray) -> np.ndarray:
        """``X B`` for rows ``X`` ``(Q, M)``."""
        Y = self.basis.right_inverse(X)
        return self.basis.right(np.asarray((self.matrix.T @ Y.T).T))

    def rows_times_t(self, X: np.ndarray) -> np.ndarray:
        """``X Bᵀ`` for rows ``X`` ``(Q, M)``."""
        Y = self.basis.right_transpose(X)
        return self.basis.right_inverse_transpose(np.asarray((self.matrix @ Y.T).T))

    def dense(self) -> np.ndarray:
        """``B`` itself (``M³``: for checks)."""
        return self.rows_times(np.eye(self.basis.M))

