"""Galerkin matrices and their modal system (docs/theory.md §9).

On the span of the basis ``ψ`` (coefficient vectors ``c``, function ``ψᵀc``)

    G = E_0[ψ ψᵀ] ,  A = E_0[ψ (L0 ψ)ᵀ] ,  B^k = E_0[ψ (L_k ψ)ᵀ] ,  m = E_0[ψ] ,  F = E_0[ψ f]
    L0 ≈ Λ = G⁻¹A ,   L_k ≈ M_k = G⁻¹B^k ,   c_f = G⁻¹F ,   <p0, ψᵀc> = mᵀc .

``L0`` may carry a state-dependent ``D(h)`` (docs/theory.md §11) and the kicks may be the
ε-ordered ``L^{(j)}_{k_1…k_j}`` of the input inside the activation (§10): ``B`` is keyed
by the kick (a channel, or a tuple of channels).

The basis is orthonormalised under the measure (``G = U s Uᵀ``, ``Q = U s^{-1/2}`` keeping
``s > 1e-13 max s``: the conditioning of ``G`` is controlled there), ``Λ = V diag(λ) V⁻¹``
is diagonalised, and the result is a modal system (:mod:`volterra_sym.backends.modal`) with
``B_k = V⁻¹ M_k V`` (applied through the factors of ``V``, never formed:
:mod:`~volterra_sym.backends.galerkin.eigenbasis`), pairing ``p = Vᵀ m`` and
``a_0 = V⁻¹ c_f``. Kernels of large bases skip the diagonalisation: a Krylov system
(:func:`build_krylov_system`, :mod:`volterra_sym.backends.krylov`) keeps ``Λ``, ``M_k``,
the pairing and ``c_f`` in the orthonormal basis.

Pairing with ``p0`` (``pairing=``):

* ``"measure"`` — ``<p0, g> = mᵀc``, the measure's own average of the projection; right
  when the measure is ``p0`` up to quadrature error (Gaussian moments, the 1-D quadrature,
  the 2-D grid, the Galerkin density);
* ``"stationary"`` — ``<p0, g> = ℓ(g)`` with ``ℓ`` the left null vector of ``Λ``
  (``ℓ(Λ g) = 0`` on the span, ``ℓ(1) = 1``): in mode coordinates ``p = κ e_{j0}``, ``j0``
  the stationary mode, ``κ`` the constant value of its eigenfunction. For a sampled
  measure the average ``mᵀc`` carries the sampling error of ``p0`` itself (``O(1/√P)``),
  while ``ℓ`` depends on the samples only through the projection: as the degree grows it
  tends to ``p0`` whatever the measure (the invariance of docs/theory.md §9), so its
  sampling error shrinks with the truncation error (measured on ``tanh2d`` with 160,000
  samples at degree 8: K₁ 2e-6–2e-5 off the spectral route, against 2e-5–1e-4 with
  ``mᵀc``; on a 5-unit network at degree 7 two sample seeds differ by 7e-6 in K₁ against
  1.3e-4).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.linalg
import scipy.sparse
from scipy.linalg.blas import dsyrk

from ...errors import AccuracyNotReachedError
from .basis import MonomialBasis
from .eigenbasis import Eigenbasis, ModalKick

__all__ = ["Sums", "assemble", "assembly_bytes", "GalerkinSystem", "KrylovGalerkinSystem",
           "build_krylov_system", "build_system", "Whitening"]

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
    """Measure averages of one (sub)set of points: ``G, A, B^k, m, F`` for the full basis.
    ``B`` maps a kick key to its matrix: a channel ``k`` (``L_k``) or, with the input
    inside the activation, a tuple of channels ``(k_1..k_j)`` (``L^{(j)}_k``, docs/theory.md
    §10)."""

    G: np.ndarray
    A: np.ndarray
    B: dict
    m: np.ndarray
    F: np.ndarray

    @staticmethod
    def combine(parts: list[Sums], weights) -> Sums:
        """The averages over the union of groups with averages ``parts`` and total weights
        ``weights``: ``Σ_b w_b S_b / Σ_b w_b``."""
        w = np.asarray(weights, dtype=float) / float(np.sum(weights))

        def mix(get):
            return sum(wb * get(sb) for wb, sb in zip(w, parts, strict=True))
        return Sums(mix(lambda q: q.G), mix(lambda q: q.A),
                    {k: mix(lambda q, k=k: q.B[k]) for k in parts[0].B},
                    mix(lambda q: q.m), mix(lambda q: q.F))

    def prefix(self, M: int) -> Sums:
        """The averages of the first ``M`` basis functions (a lower degree)."""
        return Sums(self.G[:M, :M], self.A[:M, :M], {k: b[:M, :M] for k, b in self.B.items()},
                    self.m[:M], self.F[:M])

    def with_kicks(self, B: dict) -> Sums:
        """The same averages with the kick matrices ``B`` (added to the present ones)."""
        return Sums(self.G, self.A, {**self.B, **B}, self.m, self.F)


def _whiten(L: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``L⁻¹ v`` for rows ``v`` ``(P, n)``."""
    return scipy.linalg.solve_triangular(L, v.T, lower=True).T


#: rows of points evaluated at once by :func:`assemble`: about this many bytes per
#: ``(rows, M)`` array (the basis, the generator and each point-dependent kick at the
#: points), so its memory does not grow with the number of points. 16 MB keeps each chunk's
#: temporaries under glibc's largest ``mmap`` threshold (32 MB), so they reuse the heap: at
#: 128 MB every temporary was a fresh mapping whose pages the kernel zeroed again, chunk
#: after chunk — a 5-unit softplus K₁ on the ``galerkin_density`` measure spent 4–5.5 s of
#: its 6–8 s in the kernel (now 2.1 s in all; the n = 8 default 4.3 → 3.5 s; same values)
CHUNK_BYTES = 2 ** 24


def chunk_rows(M: int) -> int:
    """Rows per chunk of :func:`assemble` for a basis of ``M`` functions."""
    return max(256, CHUNK_BYTES // (8 * max(M, 1)))


def assembly_bytes(M: int, P: int, kicks: int) -> float:
    """Peak bytes of :func:`assemble` for ``P`` points (beyond the points themselves): about
    five ``(rows, M)`` chunk arrays plus, per group, the accumulating ``G, A, B^k``."""
    return 8.0 * min(P, chunk_rows(M)) * M * (5 + kicks) + 8.0 * M * M * (3 + kicks)


def _add_gram(G: np.ndarray | None, Psi: np.ndarray, w: np.ndarray, signed: bool
              ) -> np.ndarray:
    """``G + Ψᵀ diag(w) Ψ``: for a group of weights ``w ≥ 0`` the upper triangle only (a
    symmetric rank-k update of ``√w Ψ``, half the products of ``Ψᵀ(wΨ)``); for a group with
    ``signed`` weights — the ``galerkin_density`` measure may dip below 0 — the plain
    product, in full."""
    if not signed:
        a = np.asarray(Psi * np.sqrt(w)[:, None], dtype=float)
        if G is None:
            return dsyrk(1.0, a, trans=1, lower=0)
        return dsyrk(1.0, a, beta=1.0, c=G, trans=1, lower=0, overwrite_c=1)
    part = Psi.T @ (Psi * w[:, None])
    return part if G is None else G + part


def _symmetric(G: np.ndarray, signed: bool) -> np.ndarray:
    """The exactly symmetric Gram matrix from :func:`_add_gram`'s accumulation."""
    if signed:
        return 0.5 * (G + G.T)
    return np.triu(G) + np.triu(G, 1).T


def assemble(basis: MonomialBasis, white: Whitening, x: np.ndarray, w: np.ndarray,
             phi: np.ndarray, fvals: np.ndarray, D: np.ndarray, kicks: dict,
             groups: list[np.ndarray] | None = None) -> list[Sums]:
    """Averages over the weighted points (one :class:`Sums` per group of rows, or one for
    all). ``phi`` is ``φ(x)`` ``(P, n)``; ``D`` the diffusion matrix, constant ``(n, n)`` or
    at the points ``(P, n, n)`` (``σ(h)``, docs/theory.md §11); ``kicks`` maps a key to the
    coefficients ``c`` of the first-order operator ``Σ_i c_i ∂_i``: constant ``(n,)`` (``C_k``)
    or at the points ``(P, n)`` (``a^{(j)}(z)C_{k_1}⋯C_{k_j}/j!``, docs/theory.md §10). In
    whitened coordinates ``D̃ = L⁻¹DL⁻ᵀ``, ``c̃ = L⁻¹c``: constant parts are sparse maps
    (``A_diff = G T₂``, ``B^k = G T_k``), the others averages of their values at the
    points, accumulated over chunks of :func:`chunk_rows` points (memory
    :func:`assembly_bytes`, whatever the number of points)."""
    Linv = np.linalg.inv(white.L)
    T2 = basis.second_order(Linv @ D @ Linv.T) if D.ndim == 2 else None
    kick_const, kick_vals = {}, {}
    for key, c in kicks.items():
        c = np.asarray(c, dtype=float)
        if c.ndim == 1:
            kick_const[key] = basis.directional(Linv @ c)
        else:
            kick_vals[key] = c
    step = chunk_rows(basis.size)
    out = []
    for rows in (groups or [np.arange(x.shape[0])]):
        rows = np.asarray(rows)
        total = float(w[rows].sum())
        signed = bool(np.any(w[rows] < 0))
        G = A = m = F = None
        B = dict.fromkeys(kick_vals)
        for lo in range(0, rows.size, step):
            r = rows[lo:lo + step]
            ww = w[r] / total
            Psi = basis.evaluate(white.to_y(x[r]))
            values = basis.drift_values(Psi, _whiten(white.L, phi[r]))
            if T2 is None:
                values += basis.diffusion_values(
                    Psi, np.einsum("ab,pbc,dc->pad", Linv, D[r], Linv))
            WPsi = Psi * ww[:, None]
            G = _add_gram(G, Psi, ww, signed)
            A = _accumulate(A, WPsi.T @ values)
            del values
            for k, c in kick_vals.items():
                B[k] = _accumulate(B[k], WPsi.T @ basis.drift_values(Psi, _whiten(white.L,
                                                                                   c[r])))
            m = _accumulate(m, WPsi.sum(0))
            F = _accumulate(F, WPsi.T @ fvals[r])
        G = _symmetric(G, signed)
        if T2 is not None:
            A = A + (T2.T @ G.T).T
        B.update({k: np.asarray((T.T @ G.T).T) for k, T in kick_const.items()})
        out.append(Sums(G, np.asarray(A), B, m, F))
    return out


def _accumulate(total: np.ndarray | None, part: np.ndarray) -> np.ndarray:
    if total is None:
        return part
    total += part
    return total


def is_identity(X: np.ndarray) -> bool:
    """Whether ``X`` is exactly the identity matrix (the Gram matrix of an orthonormal
    basis, e.g. the whitened Hermite basis under the Gaussian reference)."""
    return X.ndim == 2 and X.shape[0] == X.shape[1] and bool(
        np.array_equal(X, np.eye(X.shape[0], dtype=X.dtype)))


def orthonormaliser(G: np.ndarray) -> tuple[np.ndarray, float]:
    """``Q`` with ``Qᵀ G Q = I`` on the well-conditioned part of ``G``; and ``cond(G)``
    of the kept part (``G = I``: ``Q = I``, no eigendecomposition)."""
    if is_identity(G):
        return np.eye(G.shape[0]), 1.0
    s, U = np.linalg.eigh(G)
    keep = s > G_RCUT * max(float(s.max()), 1e-300)
    return U[:, keep] / np.sqrt(s[keep]), float(s.max() / s[keep].min())


@dataclass
class GalerkinSystem:
    """A modal system (``lam``, ``M``, ``dtype``, ``pairing``, ``p_times_B``, ``times_B``,
    ``times_Bt``) plus ``a0`` (the observable) and diagnostics. The kicks go through the
    eigenbasis (:class:`~.eigenbasis.ModalKick`: ``T`` and its LU factors, 26 MB at
    M = 1,287, and each ``M_k``, sparse on the Gaussian reference); ``V⁻¹`` and the modal
    kick matrices are never formed."""

    lam: np.ndarray
    value_dtype: np.dtype
    kicks: dict
    pairing: np.ndarray
    a0: np.ndarray
    cond_G: float
    cond_V: float
    growth: float
    #: an error level relative to the sizes, added to the rounding (a reduced system's
    #: checked residual, :mod:`.reduction`)
    floor: float = 0.0

    @property
    def M(self) -> int:
        return self.lam.size

    @property
    def dtype(self) -> np.dtype:
        return self.value_dtype

    @cached_property
    def _pB(self) -> dict:
        return {k: B.rows_times(self.pairing[None, :].astype(self.value_dtype))[0]
                for k, B in self.kicks.items()}

    def p_times_B(self, k: int) -> np.ndarray:
        return self._pB[k]

    def times_B(self, k: int, X: np.ndarray) -> np.ndarray:
        return self.kicks[k].rows_times(X)

    def times_Bt(self, k: int, X: np.ndarray) -> np.ndarray:
        return self.kicks[k].rows_times_t(X)

    def rounding(self, magnitude: float) -> float:
        """Rounding level of a mode sum of size ``magnitude``: ``64 ε κ(V) κ(G)^{1/2}``
        (plus ``floor``)."""
        return float((64 * np.finfo(float).eps * self.cond_V * np.sqrt(self.cond_G)
                      + self.floor) * magnitude)


#: a kick matrix with at most this share of non-zeros is applied as a sparse matrix
#: (:class:`~.eigenbasis.ModalKick`): on the Gaussian reference (``G = I``) ``B_k`` is the
#: directional derivative of the Hermite products, ``∂_i ψ_α = √α_i ψ_{α−e_i}``, at most
#: ``n`` non-zeros per column (0.24 % of 1,287² for 8 units at degree 5)
SPARSE_SHARE = 0.05


def _sparse_if_sparse(M: np.ndarray):
    """``M`` as a CSR matrix where at most :data:`SPARSE_SHARE` of it is non-zero: a
    block of ``Q`` rows then costs ``O(nnz·Q)`` instead of ``O(M²Q)``."""
    if M.ndim != 2 or M.shape[0] < 64 or \
            np.count_nonzero(M) > SPARSE_SHARE * M.shape[0] * M.shape[1]:
        return M
    return scipy.sparse.csr_matrix(M)


def _gram_solver(G: np.ndarray):
    """``X ↦ G⁻¹X`` from one factorisation of the Gram matrix ``G``: Cholesky (it is
    symmetric positive definite), LU where rounding has made it numerically indefinite."""
    try:
        c = scipy.linalg.cho_factor(G)
        return lambda X: scipy.linalg.cho_solve(c, X, check_finite=False)
    except np.linalg.LinAlgError:
        lu = scipy.linalg.lu_factor(G)
        return lambda X: scipy.linalg.lu_solve(lu, X, check_finite=False)


def _project(sums: Sums, Q: np.ndarray | None, cond_G: float, what: str, pairing: str):
    """``(Λ, {k: M_k}, m, c_f)`` in the basis ``ψ Q`` (``Q = None``: ``ψ`` itself), after
    checking ``pairing`` and refusing an ill-conditioned basis."""
    if pairing not in ("measure", "stationary"):
        raise ValueError(f"pairing must be 'measure' or 'stationary', got {pairing!r}")
    kept = sums.G.shape[0] if Q is None else Q.shape[1]
    if kept < sums.G.shape[0] or cond_G > MAX_COND_G:
        raise AccuracyNotReachedError(
            f"{what}: the basis is ill-conditioned under the averaging measure (cond(G) = "
            f"{cond_G:.2g}, {sums.G.shape[0] - kept} functions below the cutoff); "
            "lower the degree", error=cond_G)
    # Qᵀ· on the vectors and Qᵀ·Q on the matrices; the basis as it is for Q = None (a
    # jackknife replicate: see build_system) or Q = I; no solve where G = I (the Gaussian
    # reference: 1.3 s of M³ products and solves per degree-5 system of 8 units)
    Q = None if Q is not None and is_identity(Q) else Q
    left = (lambda X: X) if Q is None else (lambda X: Q.T @ X)
    project = (lambda X: X) if Q is None else (lambda X: Q.T @ X @ Q)
    G = project(sums.G)
    solve = (lambda X: X) if is_identity(G) else _gram_solver(G)
    Lam = solve(project(sums.A))
    Ms = {k: solve(project(B)) for k, B in sums.B.items()}
    return Lam, Ms, left(sums.m), solve(left(sums.F))


def build_system(sums: Sums, Q: np.ndarray | None, cond_G: float, what: str,
                 pairing: str = "measure") -> GalerkinSystem:
    """The modal system of the Galerkin matrices in the basis ``ψ Q``, paired with ``p0``
    through the measure's averages or the stationary functional of ``Λ`` (module
    docstring).

    ``Q = None`` takes the basis ``ψ`` as it is: the modal system — ``λ``, the kick
    matrices, the pairing and ``a_0`` — does not depend on the basis of the span, so a
    jackknife replicate of a full system whose ``Q`` kept every function (``cond_G`` then
    that system's, e.g. 99 for 8 units at degree 5) skips the six ``M³`` products with
    ``Q`` (0.5 s at M = 1,287); its ``V`` and ``cond_V`` are in that basis."""
    Lam, Ms, m, cf = _project(sums, Q, cond_G, what, pairing)
    lam, V = scipy.linalg.eig(Lam, overwrite_a=Lam is not sums.A, check_finite=False)
    try:
        basis = Eigenbasis.of(lam, V)
        cond_V = basis.condition()
    except np.linalg.LinAlgError:
        cond_V = np.inf
    if not np.isfinite(cond_V) or cond_V > 1e12:
        raise AccuracyNotReachedError(f"{what}: the Galerkin generator is not diagonalisable "
                                      f"to working accuracy (cond(V) = {cond_V:.2g}); lower "
                                      "the degree")
    # the stationary mode: λ ≈ 0 (constants are in the span); every other mode must decay
    j0 = int(np.argmin(np.abs(lam)))
    others = np.delete(lam.real, j0)
    scale = max(float(np.abs(lam).max()), 1e-300)
    growth = float(others.max()) if others.size else -1.0
    if growth > 1e-8 * scale:
        raise AccuracyNotReachedError(
            f"{what}: the Galerkin generator has a growing mode (Re λ = {growth:.3g}): the "
            "averages are too noisy, or the basis too large for this measure or too coarse "
            "for p0 (degree 3 of three two-well units while degrees 5–16 were stable); add "
            "paths or try another degree", error=growth)
    lam = lam.copy()
    lam[j0] = 0.0
    kicks = {k: ModalKick(basis, _sparse_if_sparse(Mk)) for k, Mk in Ms.items()}
    a0 = basis.solve(cf)
    p = V.T @ m
    if pairing == "stationary":
        # ℓ = κ e_{j0}: the eigenfunction of λ = 0 is a constant (L0 1 = 0 on the span),
        # whose value κ is its average under any normalised measure, p[j0] = mᵀV[:, j0]
        p = np.where(np.arange(p.size) == j0, p, 0.0)
    return GalerkinSystem(lam, np.result_type(lam, V), kicks, p, a0, cond_G, cond_V, growth)


@dataclass
class KrylovGalerkinSystem:
    """The Galerkin matrices as a Krylov system (:mod:`volterra_sym.backends.krylov`):
    ``Λ``, the kick matrices ``M_k`` (sparse on the Gaussian reference), the pairing
    ``π`` and the observable ``c_f`` in the orthonormal basis, with no eigendecomposition
    (the ``M³`` that dominates kernels from ``M`` of about a thousand)."""

    Lam: np.ndarray
    kicks: dict
    pairing: np.ndarray
    a0: np.ndarray
    cond_G: float
    norm: float

    @property
    def M(self) -> int:
        return self.Lam.shape[0]

    def kick(self, k):
        return self.kicks[k]

    @cached_property
    def _pM(self) -> dict:
        return {k: np.asarray(Mk.T @ self.pairing) for k, Mk in self.kicks.items()}

    def pair_kick(self, k) -> np.ndarray:
        return self._pM[k]

    def rounding(self, magnitude: float) -> float:
        """Rounding level of a pairing of size ``magnitude`` (the Krylov representation's
        magnitudes carry the growth through the Arnoldi products): ``64 ε κ(G)^{1/2}``."""
        return float(64 * np.finfo(float).eps * np.sqrt(self.cond_G) * magnitude)


def _stationary_functional(Lam: np.ndarray, m: np.ndarray, norm: float, what: str
                           ) -> np.ndarray:
    """``π = (mᵀv_0) w / (wᵀv_0)`` with ``Λ v_0 = 0`` (the constants) and ``Λᵀ w = 0``:
    the pairing ``p = κ e_{j0}`` of the modal system in basis coordinates. Two steps of
    inverse iteration with the shift ``10⁻¹⁰ ‖Λ‖₁`` (one LU, ``⅔M³``); refused where ``Λ``
    has no null vector to working accuracy."""
    M = Lam.shape[0]
    shift = 1e-10 * max(norm, 1e-300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        lu = scipy.linalg.lu_factor(Lam + shift * np.eye(M), check_finite=False)
    v, w = np.ones(M), np.ones(M)
    for _ in range(3):
        v = scipy.linalg.lu_solve(lu, v, check_finite=False)
        v /= np.linalg.norm(v)
        w = scipy.linalg.lu_solve(lu, w, trans=1, check_finite=False)
        w /= np.linalg.norm(w)
    res = max(float(np.linalg.norm(Lam @ v)), float(np.linalg.norm(Lam.T @ w)))
    if not np.isfinite(res) or res > 1e-8 * max(norm, 1e-300) or abs(w @ v) < 1e-12:
        raise AccuracyNotReachedError(
            f"{what}: the Galerkin generator has no stationary mode to working accuracy "
            f"(‖Λv‖ = {res:.2g} of ‖Λ‖₁ = {norm:.2g}); try another degree", error=res)
    return (m @ v) * w / (w @ v)


def build_krylov_system(sums: Sums, Q: np.ndarray | None, cond_G: float, what: str,
                        pairing: str = "measure") -> KrylovGalerkinSystem:
    """The Krylov system of the Galerkin matrices in the basis ``ψ Q`` (as
    :func:`build_system`, without diagonalising ``Λ``): pairing ``π = m`` (``"measure"``)
    or the stationary functional of ``Λ`` (``"stationary"``)."""
    Lam, Ms, m, cf = _project(sums, Q, cond_G, what, pairing)
    Lam = np.ascontiguousarray(Lam, dtype=float)
    norm = float(np.abs(Lam).sum(axis=0).max())
    if not np.isfinite(norm):
        raise AccuracyNotReachedError(f"{what}: the Galerkin generator is not finite",
                                      error=norm)
    p = m if pairing == "measure" else _stationary_functional(Lam, m, norm, what)
    kicks = {k: _sparse_if_sparse(Mk) for k, Mk in Ms.items()}
    return KrylovGalerkinSystem(Lam, kicks, np.asarray(p, dtype=float),
                                np.asarray(cf, dtype=float), float(cond_G), norm)
