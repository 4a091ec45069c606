"""Modal systems: a linear generator diagonalised, ``Λ = V diag(λ) V⁻¹``, with perturbation
matrices ``B_k`` and a pairing vector ``p`` in mode coordinates (``<p0, g> = p·a``).

Both grid routes (spectral collocation, docs/theory.md §6) and basis routes (Galerkin, §9)
end in such a system; this module holds what they share:

* :class:`ModalRepresentation`, the propagation-core representation
  (``P_τ a = e^{λτ} ⊙ a``, ``L_k a = B_k a``, ``<p0, g> = p·a``, and the fused last step
  ``<p0, L_k g> = (pᵀ B_k)·a``);
* the forward form of the series, ``c_0 = p``, ``c_N' = Λ c_N + Σ_k u_k(t) B_kᵀ c_{N-1}``,
  ``T_N(t) = c_N(t)·a_0``, integrated by an exponential integrator exact in the diagonal
  part, with the forcing interpolated through ``q`` Chebyshev–Lobatto nodes per step
  (:func:`propagate_forward`, :func:`forward_output`).

A modal system provides ``lam`` ``(M,)``, ``M``, ``dtype``, ``pairing`` ``(M,)``,
``p_times_B(k)`` (the row ``pᵀ B_k``), ``times_B(k, X)`` (``X B_k``) and
``times_Bt(k, X)`` (``X B_kᵀ``) for row blocks ``X`` ``(Q, M)``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..budget import Deadline
from ..errors import AccuracyNotReachedError, InvalidInputError
from ..hierarchy.propagation import Representation

__all__ = ["converged_forward", "forward_grid", "kick_norm", "kick_scale", "operator_norm",
           "row_magnitude", "step_index", "ModalSystem", "ModalRepresentation", "ForwardRun",
           "InputSampler", "conjugate_fold", "conjugate_pairs", "propagate_forward",
           "forward_output", "lobatto", "etd_weights"]


class ModalSystem(Protocol):
    lam: np.ndarray
    M: int

    @property
    def dtype(self) -> np.dtype: ...

    @property
    def pairing(self) -> np.ndarray: ...

    def p_times_B(self, k: int) -> np.ndarray: ...

    def times_B(self, k: int, X: np.ndarray) -> np.ndarray: ...

    def times_Bt(self, k: int, X: np.ndarray) -> np.ndarray: ...


class ModalRepresentation(Representation):
    """Kernels of a modal system: states are row blocks ``(Q, M)`` of mode coordinates."""

    def __init__(self, system: ModalSystem, a0: np.ndarray, name: str, chain: bool = False):
        """``chain``: the mode coordinates are orthonormal (a symmetric ``L̂0``), so a
        state's norm there is its size and the rounding of a value is tracked along its
        chain (:meth:`size`); with ill-conditioned eigenvectors (the Galerkin route,
        ``κ(V)`` up to 1e8) modal norms overstate sizes by up to ``κ(V)``."""
        self.system, self.a0, self.name, self.chain = system, a0, name, chain
        self.max_rows = max(1, int(4e6 // system.M))

    def encode(self) -> np.ndarray:
        return self.a0[None, :]

    def propagate(self, state: np.ndarray, gaps: np.ndarray) -> np.ndarray:
        # a huge gap times a decaying rate is -inf, whose exp is the 0 it should be (the
        # overflow is not an error: 1e308 as a lag raised six RuntimeWarnings)
        with np.errstate(over="ignore", invalid="ignore"):
            z = np.outer(gaps, self.system.lam)
            factor = np.exp(z)
        factor[np.isneginf(z.real)] = 0.0
        return state * factor

    def perturb(self, k: int, state: np.ndarray) -> np.ndarray:
        return self.system.times_Bt(k, state)

    def pair(self, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.system.pairing
        return np.real(state @ p), row_magnitude(state, p)

    def size(self, state: np.ndarray) -> np.ndarray | None:
        return row_magnitude(state, self.system.pairing) if self.chain else None

    def pair_perturbed(self, k: int, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        row = self.system.p_times_B(k)
        return np.real(state @ row), row_magnitude(state, row)

    def take(self, state: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return state[rows] if state.shape[0] > 1 else np.broadcast_to(
            state, (len(rows), state.shape[1]))


def row_magnitude(state: np.ndarray, row: np.ndarray) -> np.ndarray:
    """``‖state_q‖ ‖row‖`` per batch row ``q``: the size of the terms of ``state @ row``
    (the rounding level of a mode sum)."""
    return np.linalg.norm(state, axis=1) * np.linalg.norm(row)


#: steps of the forward form between two checks of a deadline (~1 ms of work at M = 1000)
CHECK_EVERY = 64


def _taylor_terms(pmax: int) -> int:
    """Terms of ``φ_pmax(z) = Σ_k z^k/(k+pmax)!`` for ``|z| < 2``: the first ``K`` with
    ``2^K pmax!/(K+pmax)! < 1e-18`` (the tail relative to ``φ_pmax(0) = 1/pmax!``;
    26 at pmax = 0, 20 at pmax = 7)."""
    K = 1
    while 2.0 ** K * math.factorial(pmax) / math.factorial(K + pmax) >= 1e-18:
        K += 1
    return K


def phi_functions(z: np.ndarray, pmax: int) -> np.ndarray:
    """``φ_0..φ_pmax`` at ``z``: ``φ_0 = e^z``, ``φ_{p+1}(z) = (φ_p(z) - 1/p!)/z``; for
    ``|z| < 2`` ``φ_pmax = Σ_k z^k/(k+pmax)!`` (Taylor, :func:`_taylor_terms` terms) and
    downwards ``φ_p = 1/p! + z φ_{p+1}`` (no cancellation)."""
    z = np.asarray(z)
    out = np.empty((pmax + 1,) + z.shape, dtype=np.result_type(z, float))
    with np.errstate(over="ignore", under="ignore"):
        out[0] = np.exp(z)
    small = np.abs(z) < 2.0
    zb = np.where(small, 1.0, z)
    for p in range(pmax):
        out[p + 1] = (out[p] - 1.0 / math.factorial(p)) / zb
    if np.any(small):
        # φ_pmax by its Taylor series, then down by φ_p = 1/p! + z φ_{p+1} (no
        # cancellation for |z| < 2; the relative error grows by at most |z|/(p+1) per step)
        zs = z[small]
        K = _taylor_terms(pmax)
        acc = np.zeros_like(zs) + 1.0 / math.factorial(pmax + K)
        for k in range(K - 1, -1, -1):
            acc *= zs
            acc += 1.0 / math.factorial(pmax + k)
        out[pmax][small] = acc
        for p in range(pmax - 1, -1, -1):
            acc = acc * zs + 1.0 / math.factorial(p)
            out[p][small] = acc
    return out


def lobatto(q: int) -> np.ndarray:
    """Chebyshev–Lobatto nodes on ``[0, 1]`` (increasing)."""
    return 0.5 * (1.0 - np.cos(np.pi * np.arange(q) / (q - 1)))


def etd_weights(z: np.ndarray, theta: np.ndarray, Lc: np.ndarray) -> np.ndarray:
    """``W_l = ∫_0^θ e^{z(θ-v)} ℓ_l(v) dv`` (per unit step) for Lagrange polynomials
    ``ℓ_l(v) = Σ_p Lc[p, l] v^p``: ``W_l = θ Σ_p Lc[p, l] θ^p p! φ_{p+1}(zθ)``.
    ``z`` ``(M,)``, ``theta`` ``(T,)`` -> ``(T, q, M)``."""
    q = Lc.shape[0]
    x = theta[:, None] * z[None, :]
    ph = phi_functions(x, q)  # (q+1, T, M)
    fact = np.array([math.factorial(p) for p in range(q)], dtype=float)
    powers = theta[None, :] ** np.arange(q)[:, None]  # (q, T)
    terms = ph[1:] * (fact[:, None, None] * powers[:, :, None])  # (q, T, M): p, T, M
    return theta[:, None, None] * np.einsum("pl,ptm->tlm", Lc, terms)


@dataclass
class ForwardRun:
    """One run of the forward hierarchy on a grid with ``K`` uniform steps."""

    K: int
    delta: float
    ends: list[np.ndarray]  # per order: c_N at step endpoints (K+1, M)
    forcing: list[np.ndarray]  # per order: F_N at the nodes (K, q, M)
    nodes: list[np.ndarray] = field(default_factory=list)  # per order: c_N at the nodes

    def node_terms(self, a0: np.ndarray) -> np.ndarray:
        """``T_N`` at the Lobatto nodes of every step: ``(order, K, q)``."""
        return np.array([np.real(c @ a0) for c in self.nodes])

    def endpoint_terms(self, a0: np.ndarray) -> np.ndarray:
        """``T_N`` at the step ends: ``(order, K+1)``."""
        return np.array([np.real(c @ a0) for c in self.ends])

    def magnitudes(self, a0: np.ndarray) -> np.ndarray:
        """``max_t ‖c_N(t)‖ ‖a0‖`` per order: the size rounding acts on (Cauchy–Schwarz;
        the aligned ``Σ|c_j a0_j|`` misses errors across symmetry classes)."""
        na = float(np.linalg.norm(a0))
        return np.array([float(np.linalg.norm(c, axis=1).max()) * na for c in self.ends])


class InputSampler:
    """``u`` at the Lobatto nodes of ``K`` uniform steps (cached per K)."""

    def __init__(self, u: Callable, m: int, tmax: float, q: int):
        self.u, self.m, self.tmax, self.q = u, m, tmax, q
        self.theta = lobatto(q)
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


def propagate_forward(dz: ModalSystem, order: int, K: int, tmax: float, usamp: np.ndarray,
               Lc: np.ndarray, theta: np.ndarray, kicks=None,
               deadline: Deadline | None = None) -> ForwardRun:
    """Exponential integrator for ``c_N' = Λ c_N + Σ_k u_k B_kᵀ c_{N-1}``, ``c_0 = p`` (the
    pairing vector): ``K`` uniform steps on ``[0, tmax]``, input samples ``usamp`` at the
    Lobatto nodes of each step ``(K, q, m)``. With ``kicks`` (tuples of channels, the input
    inside the activation, docs/theory.md §10) the forcing holds the contact terms,
    ``Σ_{j≤N} Σ_{k ∈ kicks, |k| = j} u_{k_1}⋯u_{k_j} B_kᵀ c_{N-j}``. With a ``deadline``
    (:class:`~volterra_sym.budget.Deadline`) the run is one open-ended run of it, checked
    every :data:`CHECK_EVERY` steps with the fraction of its ``order·K`` steps done."""
    if deadline is not None:
        deadline.begin(open_ended=True)
    q = theta.size
    M, lam = dz.M, dz.lam
    delta = tmax / K
    z = lam * delta
    E = np.exp(z)
    Wend = etd_weights(z, np.array([1.0]), Lc)[0] * delta  # (q, M)
    inner = theta[1:-1]
    Wint = etd_weights(z, inner, Lc) * delta  # (q-2, q, M)
    Eint = np.exp(inner[:, None] * z[None, :])  # (q-2, M)
    dtype = dz.dtype
    ends, forcing = [], []
    if kicks is None:
        weights = [(k, 1, usamp[:, :, k]) for k in range(usamp.shape[2])]
    else:
        weights = [(ks, len(ks), np.prod(usamp[:, :, list(ks)], axis=2)) for ks in kicks]
    history: list[np.ndarray] = []      # c_N at the nodes, N = 1, 2, ...
    for N in range(1, order + 1):
        F = np.zeros((K, q, M), dtype=dtype)
        for k, j, uk in weights:
            if j > N or not np.any(uk):
                continue
            if N == j:  # c_0 = p: the forcing is the row pᵀ B_k
                F += uk[:, :, None] * dz.p_times_B(k)[None, None, :]
            else:  # rows c_{N-j}ᵀ B_k
                F += uk[:, :, None] * dz.times_B(k, history[N - j - 1].reshape(-1, M)
                                                 ).reshape(K, q, M)
        b = np.einsum("kqm,qm->km", F, Wend)
        c = np.zeros((K + 1, M), dtype=dtype)
        for i in range(K):
            c[i + 1] = E * c[i] + b[i]
            if deadline is not None and i % CHECK_EVERY == CHECK_EVERY - 1:
                deadline.check(((N - 1) * K + i + 1) / (order * K))
        nodes = np.empty((K, q, M), dtype=dtype)
        nodes[:, 0] = c[:-1]
        nodes[:, -1] = c[1:]
        nodes[:, 1:-1] = Eint[None] * c[:-1, None, :] + np.einsum("kqm,jqm->kjm", F, Wint)
        history.append(nodes)
        ends.append(c)
        forcing.append(F)
    return ForwardRun(K, delta, ends, forcing, history)


def step_index(times: np.ndarray, delta: float, K: int) -> np.ndarray:
    """The step ``i`` (of ``K`` uniform steps of length ``delta`` from 0) holding each time,
    ``min(⌊t/δ⌋, K − 1)``."""
    if delta <= 0:
        return np.zeros(np.shape(times), dtype=int)
    return np.minimum((np.asarray(times) / delta).astype(int), K - 1)


def forward_output(dz: ModalSystem, prop: ForwardRun, a0: np.ndarray, times: np.ndarray,
            Lc: np.ndarray) -> np.ndarray:
    """``T_N`` at arbitrary ``times`` from the step data: partial step ``θ`` from the left end
    of step ``i``,

        T_N(t) = Σ_m a0_m [e^{z_m θ} c_{N,i,m} + δ Σ_p θ^{p+1} p! φ_{p+1}(z_m θ) G_{N,i,p,m}] ,

    ``z = λδ``, ``G_{N,i,p} = Σ_l Lc[p, l] F_{N,i,l}`` (the forcing's polynomial coefficients
    in the step). A mode whose ``|z|`` times the widest gap between two Lobatto nodes is at
    most :data:`TAYLOR_REACH` is summed from the node below ``θ`` as a power series in the
    distance ``s`` (:func:`_taylor_output`: the sum over modes is taken once per node, the
    per-time work is a polynomial); the others mode by mode (:func:`_phi_output`). A
    conjugate pair of modes is summed as one (:func:`conjugate_fold`)."""
    K, delta = prop.K, prop.delta
    q = Lc.shape[0]
    idx = step_index(times, delta, K)
    theta = np.clip(times / delta - idx, 0.0, 1.0) if delta > 0 else np.zeros(times.size)
    nodes = lobatto(q)
    G = [np.einsum("pl,klm->kpm", Lc, F) for F in prop.forcing]   # (K, q, M) per order
    reach = np.abs(dz.lam) * delta * float(np.diff(nodes).max())
    out = np.zeros((len(prop.ends), times.size))
    near = reach <= TAYLOR_REACH
    if np.any(near):
        out += _taylor_output(dz.lam[near], delta, [c[..., near] for c in prop.nodes],
                              [g[..., near] for g in G], a0[near], idx, theta, nodes)
    if not np.all(near):
        far = ~near
        out += _phi_output(dz.lam[far], delta, [c[..., far] for c in prop.ends],
                           [g[..., far] for g in G], a0[far], idx, theta, K)
    return out


#: elements of the largest temporary of :func:`_taylor_output` (a chunk of steps' re-centred
#: forcing, a chunk of times' coefficients): 64 MB of complex numbers
CHUNK_ELEMENTS = 4_000_000

#: the largest ``|λ| δ s`` (``s`` the widest gap between two Lobatto nodes, in steps) for
#: which :func:`forward_output` sums a mode by its power series from the node below the
#: time (the regime of :func:`phi_functions`' Taylor branch, ``|z| < 2``)
TAYLOR_REACH = 2.0


def _taylor_length(q: int) -> int:
    """Coefficients ``j = 0..J-1`` of the power series in :func:`_taylor_output`: the tail
    of ``θ^{p} p! φ_p(zθ)``-like terms below 1e-18 of their ``|zθ| = 0`` value for every
    ``p ≤ q`` at ``|zθ| ≤`` :data:`TAYLOR_REACH` (:func:`_taylor_terms` with 2 for it)."""
    return max(p + _taylor_terms(p) for p in range(q + 1))


def _taylor_output(lam: np.ndarray, delta: float, nodes_c: list[np.ndarray],
                   G: list[np.ndarray], a0: np.ndarray, idx: np.ndarray, theta: np.ndarray,
                   nodes: np.ndarray) -> np.ndarray:
    """The modes' share of ``T_N(t)`` from the node ``θ_b ≤ θ`` of the step, ``s = θ − θ_b``:

        c_m(θ_b + s) = Σ_j s^j [z^j c_m(θ_b) + δ Σ_{r<j} r! z^{j−r−1} G̃_{b,r,m}] / j! ,

    the Taylor series of ``e^{zs} c + δ Σ_r s^{r+1} r! φ_{r+1}(zs) G̃_r`` (``G̃_{b,r}`` the
    forcing's coefficients re-centred at ``θ_b``, ``Σ_{p≥r} C(p, r) θ_b^{p−r} G_p``). The
    coefficients are summed over the modes (weighted by ``a0``) once per node; a time costs
    one polynomial. ``|z s| ≤`` :data:`TAYLOR_REACH`: no term exceeds ``2^j/j!`` of its
    scale (rounding within ``e²`` of the mode sum's)."""
    q = nodes.size
    J = _taylor_length(q)
    z = lam * delta
    base = np.clip(np.searchsorted(nodes, theta, side="right") - 1, 0, q - 2)
    s = theta - nodes[base]
    # G̃_{b,r} = Σ_p C(p, r) θ_b^{p-r} G_p, for the nodes b = 0..q-2
    shift = np.zeros((q - 1, q, q))
    for b in range(q - 1):
        for p in range(q):
            for r in range(p + 1):
                shift[b, r, p] = math.comb(p, r) * nodes[b] ** (p - r)
    shift = shift.reshape((q - 1) * q, q)
    keep = conjugate_fold(lam, [a0])[0]
    zk = z[keep]
    j = np.arange(J)
    inv_fact = np.array([1.0 / math.factorial(i) for i in range(J)])
    E = zk[None, :] ** j[:, None] * inv_fact[:, None]                      # (J, M)
    P = np.zeros((J, q, zk.size), dtype=E.dtype)                           # r!/j! z^{j-r-1}
    for r in range(q):
        P[r + 1:, r] = (math.factorial(r) * inv_fact[r + 1:, None]
                        * zk[None, :] ** np.arange(J - r - 1)[:, None])
    P = P.reshape(J, -1).T
    orders, K = len(nodes_c), nodes_c[0].shape[0]
    # the coefficients per step and node, (K, q-1, J) per order: the re-centred forcing
    # (q-1 times the forcing's size) a chunk of steps at a time
    coef = np.empty((orders, K, q - 1, J))
    rows = max(1, int(CHUNK_ELEMENTS // ((q - 1) * q * lam.size)))
    for k0 in range(0, K, rows):
        ks = slice(k0, k0 + rows)
        ca = [c[ks, :-1] * a0 for c in nodes_c]                           # (k, q-1, M)
        Ga = [(shift @ g[ks]).reshape(-1, q - 1, q, lam.size) * a0 for g in G]
        folded = conjugate_fold(lam, ca + Ga)[1]
        for N in range(orders):
            Gf = folded[orders + N]
            coef[N, ks] = np.real(folded[N] @ E.T + delta * (
                Gf.reshape(-1, q * zk.size) @ P).reshape(Gf.shape[:2] + (J,)))
    out = np.empty((orders, theta.size))
    step = max(1, int(CHUNK_ELEMENTS // J))            # times per gather of (T, J) floats
    for N in range(orders):
        for lo in range(0, theta.size, step):
            at = slice(lo, lo + step)
            c = coef[N, idx[at], base[at]]                                 # (T, J)
            val = c[:, -1].copy()
            for i in range(J - 2, -1, -1):
                val = val * s[at] + c[:, i]
            out[N, at] = val
    return out


def _phi_output(lam: np.ndarray, delta: float, ends: list[np.ndarray], G: list[np.ndarray],
                a0: np.ndarray, idx: np.ndarray, theta: np.ndarray, K: int) -> np.ndarray:
    """The modes' share of ``T_N(t)`` mode by mode from the step's left end (the formula of
    :func:`forward_output`), the times step by step: one step's coefficients for all its
    times are matrix products."""
    q = G[0].shape[1]
    out = np.empty((len(ends), theta.size))
    ca = [c * a0 for c in ends]
    Ga = [g * a0 for g in G]
    keep, folded = conjugate_fold(lam, ca + Ga)
    z = lam[keep] * delta
    orders = len(ca)
    C = np.stack(folded[:orders], axis=-1)                    # (K, M, orders)
    Gs = np.stack(folded[orders:], axis=-1)                   # (K, q, M, orders)
    fact = np.array([math.factorial(p) for p in range(q)], dtype=float)
    chunk = max(1, int(2e6 // (z.size * (q + 2))))
    by_step = np.argsort(idx, kind="stable")
    starts = np.searchsorted(idx[by_step], np.arange(K + 1))
    for i in range(K):
        for s in range(starts[i], starts[i + 1], chunk):
            sel = by_step[s:min(s + chunk, starts[i + 1])]
            th = theta[sel]
            ph = phi_functions(th[:, None] * z[None, :], q)  # (q+1, T, M); ph[0] = e^{zθ}
            coef = delta * fact[:, None] * th[None, :] ** np.arange(1, q + 1)[:, None]
            val = ph[0] @ C[i]                                          # (T, orders)
            for p in range(q):
                val += coef[p][:, None] * (ph[p + 1] @ Gs[i, p])
            out[:, sel] = np.real(val).T
    return out


def conjugate_pairs(lam: np.ndarray) -> np.ndarray | None:
    """The first modes ``j`` of the conjugate pairs ``λ_{j+1} = λ̄_j`` where every complex
    mode is in such an adjacent pair (LAPACK's ``geev`` order for a real matrix; none for a
    real spectrum), else ``None``."""
    first = np.flatnonzero(np.imag(lam) > 0)
    if first.size and (first[-1] + 1 >= lam.size or
                       np.any(lam[first + 1] != np.conj(lam[first]))):
        return None
    return first if first.size * 2 == np.count_nonzero(np.imag(lam)) else None


def conjugate_fold(lam: np.ndarray, data: list[np.ndarray]
                   ) -> tuple[np.ndarray, list[np.ndarray]]:
    """The modes of ``λ`` with ``Im λ ≥ 0`` and ``data`` (arrays over the modes in their
    last axis) folded onto them, for the real part of mode sums ``Re Σ_m g(λ_m) x_m`` with
    ``g(λ̄) = conj g(λ)`` (``e^{λθ}``, ``φ_p(λθ)``, ``θ`` real): for a pair ``λ_{j+1} = λ̄_j``
    (adjacent, LAPACK's ``geev`` order) ``Re[g(λ_j) x_j + g(λ̄_j) x_{j+1}] =
    Re[g(λ_j)(x_j + x̄_{j+1})]``, exactly — half the work of the sums where most modes are
    complex (1,228 of 1,287 for 8 units at degree 5). Where the modes are not in that
    order, all of them, unchanged."""
    every = np.arange(lam.size)
    first = conjugate_pairs(lam)
    if first is None or not first.size:
        return every, data
    second = first + 1
    keep = np.setdiff1d(every, second)
    folded = []
    for x in data:
        x = np.array(x, dtype=complex)
        x[..., first] += np.conj(x[..., second])
        folded.append(x[..., keep])
    return keep, folded


def operator_norm(apply, apply_h, size: int, iterations: int = 10, block: int = 4,
                  dtype=complex) -> float:
    """``‖A‖₂`` of the operator ``X ↦ A X`` (``apply``; ``apply_h``: ``Y ↦ Aᴴ Y``, on
    column blocks ``(size, block)``) by block power iteration on ``AᴴA`` (``block`` seeded
    vectors, ``iterations`` steps): a lower bound, off by at most the ratio of the two
    largest singular values to the power ``2·iterations`` (measured on the eigenvector
    matrices of 8-unit systems, M = 165–1287: ``κ(V)`` within 6e-4 of the SVD's at 8
    steps; 0.04 s against the SVD's 1.1 s at M = 1287). ``dtype``: of the blocks (a real
    operator's, real: complex blocks cast to it warned and dropped a zero imaginary part)."""
    X = np.random.default_rng(0).standard_normal((size, block)).astype(dtype)
    est = 0.0
    for _ in range(iterations):
        X, _ = np.linalg.qr(X)
        Y = apply(X)
        est = float(np.linalg.norm(Y, 2))
        X = apply_h(Y)
    return est


def kick_norm(dz: ModalSystem, k) -> float:
    """``‖B_k‖₂`` of a modal system's kick (:func:`operator_norm` through ``times_Bt``
    and ``times_B``: ``B X = (Xᵀ B_kᵀ)ᵀ``, ``Bᴴ Y = conj((Ȳᵀ B_k)ᵀ)``)."""
    return operator_norm(lambda X: dz.times_Bt(k, X.T.astype(dz.dtype)).T,
                         lambda Y: np.conj(dz.times_B(k, np.conj(Y).T.astype(dz.dtype)).T),
                         dz.M, iterations=4, dtype=np.result_type(dz.dtype, float))


def kick_scale(dz: ModalSystem, prop: ForwardRun, usamp: np.ndarray, norms: dict,
               tmax: float) -> np.ndarray:
    """Per order ``N``, the size ``c_N`` could reach without cancellation,
    ``t_max Σ_k max|u_k| ‖B_k‖ max_t ‖c_{N−|k|}‖`` (``c_0 = p``; ``|e^{λt}| ≤ 1``): the
    scale of the rounding in the forcing that makes ``c_N`` (``usamp`` ``(K, q, m)``; the
    keys of ``norms`` are channels, or tuples of them for the input inside the
    activation)."""
    sizes = [float(np.linalg.norm(dz.pairing))] + [
        float(np.linalg.norm(c, axis=1).max()) for c in prop.ends]
    out = np.zeros(len(prop.ends))
    for k, norm in norms.items():
        ks = (k,) if np.isscalar(k) else tuple(k)
        umax = float(np.abs(np.prod(usamp[:, :, list(ks)], axis=2)).max())
        for N in range(len(ks), len(prop.ends) + 1):
            out[N - 1] += tmax * umax * norm * sizes[N - len(ks)]
    return out


def forward_grid(q: int) -> tuple[np.ndarray, np.ndarray]:
    """Lobatto nodes ``θ`` on ``[0, 1]`` and the inverse Vandermonde ``Lc`` of degree ``q-1``."""
    theta = lobatto(q)
    return theta, np.linalg.inv(theta[:, None] ** np.arange(q)[None, :])


def converged_forward(dz: ModalSystem, a0: np.ndarray, order: int, tmax: float,
                      sampler: InputSampler, theta: np.ndarray, Lc: np.ndarray, *,
                      tol: float, memory_budget: float, noise_unit: float, max_steps: int,
                      what: str, K: int | None = None, kicks=None,
                      deadline: Deadline | None = None
                      ) -> tuple[ForwardRun, int, np.ndarray]:
    """The forward form with ``K`` doubled until the step-end values of two runs agree to
    ``tol/4`` (relative to the largest term of each order, plus ``noise_unit`` times the
    rounding magnitude), or an order is rounding noise as a whole: no larger than
    ``noise_unit`` times the size its kicks could give it (:func:`kick_scale`; a term that
    vanishes, e.g. order 3 of a linear network with a quadratic observable). Returns
    ``(run, K, time_error per order)``; with ``K`` given, one run at that step count (time
    error zero: the caller already has it). ``kicks``: as in :func:`propagate_forward`.
    With a ``deadline`` every run is checked between its steps, and a doubled run is not
    started when twice the last run's time would end past the budget
    (:meth:`~volterra_sym.budget.Deadline.expect`)."""
    q = theta.size
    if K is not None:
        return propagate_forward(dz, order, K, tmax, sampler(K), Lc, theta, kicks,
                                 deadline), K, np.zeros(order)
    lam = np.asarray(dz.lam)
    slow = np.abs(np.real(lam[np.abs(lam) > 1e-12 * max(float(np.abs(lam).max()), 1.0)]))
    rate = float(slow.min()) if slow.size else 1.0
    itemsize = np.dtype(dz.dtype).itemsize
    kmax = int(min(max_steps, memory_budget / (3 * q * dz.M * itemsize * order)))
    K = int(min(max(8, math.ceil(tmax * max(rate, 1e-3))), max(kmax, 8)))
    keys = range(sampler.m) if kicks is None else kicks
    norms = {k: kick_norm(dz, k) for k in keys}
    prev, last = None, None
    while True:
        if deadline is not None and last is not None:
            deadline.expect(2 * last, f"the next run of the time integration ({K} steps of "
                            f"Δt={tmax / K:.3g}, twice the last, which took {last:.3g} s)")
        started = time.perf_counter()
        prop = propagate_forward(dz, order, K, tmax, sampler(K), Lc, theta, kicks, deadline)
        last = time.perf_counter() - started
        ends = prop.endpoint_terms(a0)
        if not np.all(np.isfinite(ends)):
            raise InvalidInputError(
                f"{what}: the terms overflow the float range (order N grows like |u|^N; "
                f"the input u is too large for order {order}): scale u down and eps up, or "
                f"lower the order", param="u")
        if prev is not None:
            scale = np.maximum(np.abs(ends).max(1), 1e-300)
            noise = noise_unit * prop.magnitudes(a0)
            diff = np.abs(ends[:, ::2] - prev).max(1)
            vanishing = np.abs(ends).max(1) <= noise_unit * kick_scale(
                dz, prop, sampler(K), norms, tmax) * float(np.linalg.norm(a0))
            if np.all((diff <= tol / 4 * scale + noise) | vanishing):
                return prop, K, diff
        if 2 * K > kmax:
            raise AccuracyNotReachedError(
                f"{what}: the time integration did not reach tol={tol:g} with {K} steps of "
                f"Δt={tmax / K:.3g} (the step limit from memory_budget="
                f"{memory_budget / 1e9:.3g} GB and at most {max_steps} steps); is the input "
                f"u smooth?", tol=tol)
        prev, K = ends, 2 * K
