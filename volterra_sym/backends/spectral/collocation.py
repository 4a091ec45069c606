"""Fourier collocation of the SRNN generator in symmetrising variables (docs/theory.md §2–§4).

This module holds the discretisation used by the ``spectral`` backend (n ≤ 2).

**Symmetrising ("hat") variables.** Pick a positive weight ``w = e^ℓ``. A function ``g``
is represented by ``ĝ = w g`` and a density ``ρ`` by ``ψ = ρ / w``; then::

    L̂0 ĝ := w L0 (ĝ / w) = ½ D:∇∇ĝ + (φ - D∇ℓ)·∇ĝ + c ĝ ,
        c = -φ·∇ℓ + ½ ∇ℓᵀ D ∇ℓ - ½ D:∇∇ℓ ,
    L̂_k ĝ := w L_k (ĝ / w) = C_k·(∇ĝ - ĝ ∇ℓ) ,

and the forward operators of ``ψ`` are the L²(dx) adjoints of these, so the stationary
pairing is ``<ρ, g> = ∫ ψ ĝ dx``. With ``w ≈ √p0`` both ``ĝ`` (``g`` polynomial) and ``ψ``
decay like ``√p0`` and are well represented on a bounded box.

* Reversible models (n = 1 always; n = 2 when ``D⁻¹φ`` is a gradient, e.g. the gradient
  case of docs/theory.md §3): ``∇ℓ = D⁻¹φ`` (so ``w = √p0`` exactly), the first-order term vanishes
  and ``L̂0 = ½ D:∇∇ - ½ φᵀD⁻¹φ - ½ tr ∇φ`` is a symmetric Schrödinger operator.
* Otherwise (n = 2): ``w`` is a Gaussian centred in the box whose widths make ``w ≈ √cut``
  on the box edge; ``L̂0`` is then non-normal (its eigenbasis condition number enters the
  rounding estimate).

**Grid.** Coordinates ``y = Rᵀ(x - m)`` along the principal axes of the covariance (exact
for linear models; from a short seeded Euler–Maruyama simulation for nonlinear n = 2); a box
``∏ [lo_i, hi_i)`` covering the region where ``p0 > cut · max p0`` (n = 1: from
``log p0 = 2∫φ/D``; n = 2: the Gaussian extent, or the simulated samples plus a tail margin,
checked a posteriori by the backend); ``N`` (odd) equispaced points per axis; periodic
Fourier (trigonometric) differentiation matrices, tensor products for n = 2. The hat
functions are ``≲ √cut`` at the box edge, so the periodic extension is smooth to that level
and the collocation converges geometrically for the analytic drifts of the SRNN.

**Eigen-decomposition.** ``L̂0 = V Λ V⁻¹`` (``eigh`` when symmetric). The mode ``j0`` with
the largest real part (``≈ 0``; set to 0, and no other mode may grow) is the stationary one:
``V[:, j0] ∝ w`` (``L0 1 = 0``) and ``V⁻¹[j0] ∝ p0 / w`` (``L0* p0 = 0``), normalised so
that ``p0 = V[:, j0] V⁻¹[j0] / h^n`` has mass 1 — the numerical solution of ``L0* p0 = 0``.
In mode coordinates ``a = V⁻¹ ĝ``:

    P_τ : a ↦ e^{Λτ} a ,   L_k : a ↦ B_k a ,  B_k = V⁻¹ L̂_k V ,   <p0, g> = a_{j0} .
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.linalg
import sympy as sp

from ...budget import BLAS_THREADS, blas_threads
from ...density import bracket_1d, stationary_density
from ...density.bracket import log_density_1d
from ...density.stationary import NUMPY_EXTRAS
from ...errors import NotApplicableError
from ...model import SRNN
from ...model.cache import derived
from ...model.domain import observable_singularity
from ...operators import generator

__all__ = ["ModelNumerics", "observable_reason", "Domain", "Discretisation", "GridError",
           "choose_domain", "fourier_d1", "estimate_bytes", "blas_threads", "BLAS_THREADS"]


class GridError(NotApplicableError):
    """The grid discretisation cannot be built as asked (the message names the limit)."""


# ---------------------------------------------------------------------- model as numbers
@dataclass
class ModelNumerics:
    """Vectorised numeric pieces of a (numeric) model: drift, its Jacobian, ``D``, ``C``."""

    model: SRNN

    @cached_property
    def params(self) -> dict[str, np.ndarray]:
        return self.model.numpy_params()

    @property
    def n(self) -> int:
        return self.model.n

    @cached_property
    def D(self) -> np.ndarray:
        return self.params["D"]

    @cached_property
    def C(self) -> np.ndarray:
        return self.params["C"]

    @cached_property
    def phi(self):
        """``φ``: array ``(..., n)`` -> ``(..., n)``."""
        return self.model.drift_numpy()

    @cached_property
    def jac(self):
        """``∇φ`` (``J_ij = ∂_j φ_i = -Γ_ij + a'(z_i) W_ij``, ``z = W h + b``): array
        ``(..., n)`` -> ``(..., n, n)``."""
        G, W, b = self.params["Gamma"], self.params["W"], self.params["b"]
        da = self.model.activation.numpy_derivative(1)

        def jac(x: np.ndarray) -> np.ndarray:
            x = np.asarray(x, dtype=float)
            return da(x @ W.T + b)[..., :, None] * W - G
        return jac

    @cached_property
    def reversible(self) -> bool:
        """``D`` invertible and ``D⁻¹φ`` a gradient (symmetric ``D⁻¹∇φ`` at test points)."""
        n = self.n
        if n == 1:
            return bool(self.D[0, 0] > 0)
        if np.linalg.cond(self.D) > 1e10:
            return False
        rng = np.random.default_rng(12345)
        x = rng.normal(size=(64, n)) * 2.0
        M = np.linalg.solve(self.D, self.jac(x))
        asym = np.abs(M - np.swapaxes(M, -1, -2)).max()
        return bool(asym <= 1e-11 * max(1.0, np.abs(M).max()))

    def observable(self, f: sp.Expr):
        """Vectorised ``f``: array ``(..., n)`` -> ``(...)`` (lambdified once per ``f``)."""
        store = self.__dict__.setdefault("_observables", {})
        if f in store:
            return store[f]
        fn = sp.lambdify([self.model.h], f, [NUMPY_EXTRAS, "numpy"])

        def g(x: np.ndarray) -> np.ndarray:
            x = np.asarray(x, dtype=float)
            val = np.asarray(fn(np.moveaxis(x, -1, 0)), dtype=float)
            return np.broadcast_to(val, x.shape[:-1]).copy()
        store[f] = g
        return g


def numerics(model: SRNN) -> ModelNumerics:
    """The (cached) :class:`ModelNumerics` of ``model``."""
    return derived(model, ("spectral", "numerics"), lambda: ModelNumerics(model))


def observable_reason(model: SRNN, f: sp.Expr) -> str | None:
    """Why a numerical route cannot average ``f`` over ``p0``, or ``None``: free
    parameters, no finite value at ``h = 0``, or a singularity on the state space
    (:func:`~volterra_sym.model.domain.observable_singularity`)."""
    f = sp.sympify(f)
    if f.free_symbols - set(model.h):
        return "the observable has free parameters"
    try:
        with np.errstate(all="ignore"):     # a non-finite value is the answer, not a warning
            val = numerics(model).observable(f)(np.zeros((1, model.n)))
    except Exception as exc:  # noqa: BLE001 - any failure means "cannot evaluate"
        return f"the observable {f} cannot be evaluated numerically ({exc})"
    if not np.all(np.isfinite(val)):
        return f"the observable {f} is not finite at h = 0"
    return observable_singularity(model, f)


# ---------------------------------------------------------------------- domain
@dataclass(frozen=True)
class Domain:
    """A box ``∏ [lo_i, hi_i)`` in principal coordinates ``y = Rᵀ(x - center)``.

    ``kind == "reversible"``: hat weight with ``∇ℓ = D⁻¹φ`` (``w = √p0``);
    ``kind == "gaussian"``: ``ℓ(y) = -¼ Σ_i ((y_i - mid_i) / s_i)²`` with ``s_i = half_i / c``,
    ``c = √(2 log(1/cut))``, so that ``w ≈ √cut`` at the box edge. ``sd``: standard
    deviations of ``p0`` along the axes (an estimate; used for scales).
    """

    center: np.ndarray
    rotation: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    kind: str
    sd: np.ndarray
    cut: float

    def key(self) -> tuple:
        return (self.kind, self.cut, tuple(np.round(self.lo, 12)), tuple(np.round(self.hi, 12)))

    @property
    def mid(self) -> np.ndarray:
        return 0.5 * (self.lo + self.hi)

    @property
    def weight_sd(self) -> np.ndarray:
        """``s_i`` of the Gaussian hat weight (half-width over ``√(2 log(1/cut))``)."""
        return 0.5 * (self.hi - self.lo) / math.sqrt(2 * math.log(1 / self.cut))

    def to_x(self, y: np.ndarray) -> np.ndarray:
        return self.center + y @ self.rotation.T

    def enlarged(self, factor: float) -> Domain:
        mid, half = self.mid, 0.5 * (self.hi - self.lo)
        return Domain(self.center, self.rotation, mid - factor * half, mid + factor * half,
                      self.kind, self.sd, self.cut)


def _logp_1d(num: ModelNumerics, xs: np.ndarray) -> np.ndarray:
    """``log p0 = 2U/D`` (up to a constant) on a fine grid, ``U`` by cumulative trapezoid
    (:func:`volterra_sym.density.bracket.log_density_1d`)."""
    return log_density_1d(num.model, xs)


#: largest ``max|h| / width`` of the 1-D grid's box (see :func:`_domain_1d`)
MAX_OFFSET = 1e4
#: largest ``|W|·Lip(a)·width`` of the 1-D grid's box (``tanh1d``: 22)
MAX_STIFFNESS = 1e4


def _domain_1d(num: ModelNumerics, cut: float) -> Domain:
    """The box ``{p0 ≥ cut · max p0}`` of a 1-D model (:func:`volterra_sym.density.
    bracket_1d` with depth ``log(1/cut)``)."""
    try:
        br = bracket_1d(num.model, drop=math.log(1.0 / cut))
    except NotApplicableError as exc:
        raise GridError(str(exc)) from None
    offset = max(abs(br.lo), abs(br.hi)) / (br.hi - br.lo)
    if offset > MAX_OFFSET:
        # the grid lives in absolute coordinates: a density this narrow this far from 0
        # leaves too few digits for the differences of grid points (Γ = 1e-11 softplus:
        # K(0) off by 4e-6 relative while the estimate said 6e-8)
        raise GridError(f"the stationary density sits at |h| ≈ {max(abs(br.lo), abs(br.hi)):.3g}"
                        f", {offset:.3g} times its width (limit {MAX_OFFSET:g}): the grid in "
                        "absolute coordinates cannot resolve it; use method='galerkin' "
                        "(whitened coordinates)")
    W = float(np.max(np.abs(num.params["W"])))
    stiff = W * float(num.model.activation.lipschitz) * (br.hi - br.lo)
    if stiff > MAX_STIFFNESS:
        # the drift bends on a scale 1/(|W| Lip a) far below the box (W = -4.8e8 softplus:
        # K(0) = 0.0205 ± 3.9e-4 against the exact 0.01): no polynomial grid resolves it
        scale = (br.hi - br.lo) / stiff
        raise GridError(f"the drift changes on the scale 1/(|W|·Lip a) = {scale:.3g}"
                        f", {stiff:.3g} times below the density's box {br.hi - br.lo:.3g} "
                        f"(limit {MAX_STIFFNESS:g}): too stiff for the spectral grid")
    return Domain(np.zeros(1), np.eye(1), np.array([br.lo]), np.array([br.hi]), "reversible",
                  np.array([br.sd]), cut)


def _simulate(num: ModelNumerics, seed: int = 0, paths: int = 20000) -> np.ndarray:
    """Samples of a short seeded Euler–Maruyama run from a broad start (nonlinear n = 2):
    deliberately *not* the density layer's stationary sampler: the box is built from these
    samples' extremes, and the overdispersed start widens it (with stationary samples the
    spectral route lost its tuned accuracy on the 2-D tanh tests);
    ``10/κ`` time units (``κ``: slowest leak rate), step ``≤ 0.05/Lip(φ)``, at most
    ``4·10⁷`` path-steps (fewer paths for slow models)."""
    p = num.params
    G, W = p["Gamma"], p["W"]
    act = num.model.activation
    zs = np.linspace(-30, 30, 601)
    a_vals = np.asarray(act.numpy()(zs), dtype=float) * np.ones_like(zs)
    lip = np.linalg.norm(G, 2) + np.linalg.norm(W, 2) * float(np.abs(np.gradient(a_vals,
                                                                                  zs)).max())
    kappa = max(min(float(np.min(np.linalg.eigvals(M).real)) for M in _tail_matrices(num)),
                1e-3)
    dt = min(0.05 / lip, 0.1 / kappa)
    steps = int(min(max(10.0 / (kappa * dt), 200), 20000))
    paths = int(max(2000, min(paths, 4e7 // steps)))
    rng = np.random.default_rng(seed)
    reach = float(np.abs(a_vals).max()) if act.bounded else 1.0 + float(np.abs(p["b"]).max())
    spread = 2.0 * math.sqrt(float(np.abs(num.D).max()) / (2 * kappa)) + reach * float(
        np.abs(np.linalg.inv(G)).sum(1).max() if act.bounded else 1.0)
    x = rng.normal(size=(paths, num.n)) * spread
    sig = p["sigma"]
    sq = math.sqrt(dt)
    for _ in range(steps):
        x = x + num.phi(x) * dt + (rng.normal(size=(paths, sig.shape[1])) @ sig.T) * sq
    if not np.all(np.isfinite(x)):
        raise GridError("the short simulation used to locate p0 diverged")
    return x


def _tail_matrices(num: ModelNumerics) -> list[np.ndarray]:
    """Linear drift matrices governing the tails: ``Γ`` for bounded activations, else
    ``Γ - W diag(s)`` for the limiting slopes ``s_i ∈ {a'(-∞), a'(+∞)}``."""
    p = num.params
    act = num.model.activation
    if act.bounded:
        return [p["Gamma"]]
    lo, hi = act.slopes_at_infinity
    out = []
    for s in {(lo, lo), (lo, hi), (hi, lo), (hi, hi)}:
        out.append(p["Gamma"] - p["W"] * np.asarray(s)[None, :])
    return out


def _domain_nd(num: ModelNumerics, cut: float) -> Domain:
    """n = 2. Linear: the exact Gaussian, ``c = √(2 log(1/cut))`` standard deviations along
    its principal axes. Nonlinear: principal axes of simulated samples; the box spans the
    samples plus ``(c - c_s) · s_tail`` on each side, ``c_s = √(2 log(#samples))`` (the depth
    the samples reach, less one), ``s_tail`` from the Lyapunov covariance of the tail drift (at
    least half the sample standard deviation). The refinement checks the edge a posteriori."""
    model = num.model
    c = math.sqrt(2 * math.log(1 / cut))
    kind = "reversible" if num.reversible else "gaussian"
    if model.is_linear:
        dens = stationary_density(model)
        m, S = dens.mean_numpy, 0.5 * (dens.cov_numpy + dens.cov_numpy.T)
        ev, R = np.linalg.eigh(S)
        s = np.sqrt(np.maximum(ev, 1e-300))
        return Domain(m, R, -c * s, c * s, kind, s, cut)
    x = _simulate(num)
    m, S = x.mean(0), np.cov(x.T)
    ev, R = np.linalg.eigh(0.5 * (S + S.T))
    s = np.sqrt(np.maximum(ev, 1e-12 * ev.max()))
    y = (x - m) @ R
    tail = 0.0
    for A in _tail_matrices(num):
        St = scipy.linalg.solve_continuous_lyapunov(A, num.D)
        tail = np.maximum(tail, np.sqrt(np.maximum(np.diag(R.T @ St @ R), 0.0)))
    s_tail = np.maximum(tail, 0.5 * s)
    depth = max(c - math.sqrt(2 * math.log(x.shape[0])) + 1.0, 1.0)
    lo, hi = y.min(0) - depth * s_tail, y.max(0) + depth * s_tail
    mid = 0.5 * (lo + hi)
    return Domain(m + R @ mid, R, lo - mid, hi - mid, kind, s, cut)


def choose_domain(model: SRNN, cut: float) -> Domain:
    """The box covering ``p0 > cut · max p0`` (n = 1: from ``U = ∫φ``; n = 2: principal
    axes of the covariance, ``√(2 log(1/cut))`` standard deviations, widened to cover a
    short simulation for nonlinear models)."""
    num = numerics(model)
    if num.n == 1:
        return _domain_1d(num, cut)
    return _domain_nd(num, cut)


# ---------------------------------------------------------------------- discretisation
def fourier_d1(N: int, length: float) -> np.ndarray:
    """Periodic spectral differentiation matrix on ``N`` (odd) equispaced points of a
    period ``length``: ``(D1)_{jk} = (π/L) (-1)^{j-k} / sin(π (j-k)/N)``, zero diagonal."""
    if N % 2 == 0:
        raise GridError(f"resolution must be odd for the Fourier grid, got {N}")
    j = np.arange(N)
    d = j[:, None] - j[None, :]
    with np.errstate(divide="ignore"):
        D = (math.pi / length) * np.where(d == 0, 0.0, (-1.0) ** d / np.sin(math.pi * d / N))
    return D


def estimate_bytes(n: int, N: int, m: int, symmetric: bool) -> int:
    """Peak memory of one discretisation: ``(5 + m)`` dense ``M×M`` arrays, ``M = N^n``
    (8 bytes each entry when symmetric, else complex: 16)."""
    M = N ** n
    item = 8 if symmetric else 16
    return int((5 + m) * item * M * M + 8 * M * M)


@dataclass
class Discretisation:
    """``L̂0``, ``L̂_k`` at ``N`` points per axis on ``domain`` and their eigen-decomposition."""

    model: SRNN
    domain: Domain
    N: int
    y: np.ndarray = field(init=False)
    #: observables sampled on this grid and their mode coordinates, keyed by ``f``
    observable_cache: dict = field(init=False, default_factory=dict, repr=False)
    x: np.ndarray = field(init=False)

    def __post_init__(self):
        num = numerics(self.model)
        n, N, dom = num.n, self.N, self.domain
        axes = [dom.lo[i] + (dom.hi[i] - dom.lo[i]) * np.arange(N) / N for i in range(n)]
        self.h = np.array([(dom.hi[i] - dom.lo[i]) / N for i in range(n)])
        self.vol = float(np.prod(self.h))
        grids = np.meshgrid(*axes, indexing="ij")
        self.y = np.stack([g.ravel() for g in grids], -1)
        self.x = dom.to_x(self.y)
        self.M = self.y.shape[0]
        R = dom.rotation
        d1 = [fourier_d1(N, dom.hi[i] - dom.lo[i]) for i in range(n)]
        eye = np.eye(N)
        if n == 1:
            partial = [d1[0]]
            second = {(0, 0): d1[0] @ d1[0]}
        else:  # tensor products: no M×M×M products
            partial = [np.kron(d1[0], eye), np.kron(eye, d1[1])]
            mixed = np.kron(d1[0], d1[1])
            second = {(0, 0): np.kron(d1[0] @ d1[0], eye), (1, 1): np.kron(eye, d1[1] @ d1[1]),
                      (0, 1): mixed, (1, 0): mixed}
        Dy = R.T @ num.D @ R
        phi = num.phi(self.x) @ R  # φ in y-coordinates (rows: R^T φ)
        if dom.kind == "reversible":
            Dinv = np.linalg.inv(Dy)
            grad_l = phi @ Dinv.T  # ∇ℓ = D⁻¹φ (in y)
            J = np.einsum("ai,pij,jb->pab", R.T, num.jac(self.x), R)
            lap_l = np.einsum("ij,pji->p", Dy, np.einsum("ij,pjk->pik", Dinv, J))
            drift = np.zeros_like(phi)
        else:
            sw = dom.weight_sd
            grad_l = -0.5 * (self.y - dom.mid) / sw ** 2
            lap_l = np.full(self.M, -0.5 * float(np.sum(np.diag(Dy) / sw ** 2)))
            drift = phi - grad_l @ Dy.T
        c = (-np.sum(phi * grad_l, -1) + 0.5 * np.einsum("pi,ij,pj->p", grad_l, Dy, grad_l)
             - 0.5 * lap_l)
        B = np.zeros((self.M, self.M))
        for i in range(n):
            for j in range(n):
                if Dy[i, j] != 0:
                    B += 0.5 * Dy[i, j] * second[(i, j)]
            B += drift[:, i:i + 1] * partial[i]
        B[np.diag_indices(self.M)] += c
        self.symmetric = dom.kind == "reversible"
        if self.symmetric:
            B = 0.5 * (B + B.T)
        self.grad_l = grad_l
        Cy = R.T @ num.C
        self.L = []
        for k in range(num.C.shape[1]):
            Lk = np.zeros((self.M, self.M))
            for i in range(n):
                if Cy[i, k] != 0:
                    Lk += Cy[i, k] * partial[i]
                    Lk[np.diag_indices(self.M)] -= Cy[i, k] * grad_l[:, i]
            self.L.append(Lk)
        self._eig(B)

    def _eig(self, B: np.ndarray) -> None:
        if self.symmetric:
            lam, V = scipy.linalg.eigh(B, overwrite_a=True, check_finite=False)
            Vinv = V.T
        else:
            lam, V = scipy.linalg.eig(B, overwrite_a=True, check_finite=False)
            Vinv = scipy.linalg.inv(V, overwrite_a=False, check_finite=False)
        j0 = int(np.argmax(np.real(lam)))  # all other modes decay
        self.null_eigenvalue = complex(lam[j0])
        # the stationary mode: V[:, j0] ∝ w, Vinv[j0] ∝ p0/w; fix phase and sign
        col = V[:, j0].copy()
        alpha = col[np.argmax(np.abs(col))]
        if self.symmetric:
            V = V.copy()
            V[:, j0] /= alpha
            Vinv = V.T.copy()
            Vinv[j0] *= alpha * alpha
        else:
            V[:, j0] /= alpha
            Vinv[j0] *= alpha
        lam = lam.copy()
        lam[j0] = 0.0
        # spurious growth is a discretisation artefact: never let a mode grow
        if np.iscomplexobj(lam):
            lam = np.minimum(lam.real, 0.0) + 1j * lam.imag
        else:
            lam = np.minimum(lam, 0.0)
        self.lam, self.V, self.Vinv, self.j0 = lam, V, Vinv, j0
        self.w = np.real(V[:, j0])
        self.psi = np.real(Vinv[j0]) / self.vol
        self.p0 = self.w * self.psi
        # κ₁(V) (cheap; within a factor M of κ₂) and ‖L̂0‖ / spectral gap: they set the
        # rounding level of mode sums (eigenvector errors ~ ε ‖L̂0‖ / gap)
        self.cond = float(np.abs(V).sum(0).max() * np.abs(Vinv).sum(0).max()) \
            if not self.symmetric else 1.0
        others = np.abs(lam[np.arange(lam.size) != j0])
        gap = float(others.min()) if others.size else 1.0
        self.sensitivity = float(np.abs(lam).max()) / max(gap, 1e-300)

    @cached_property
    def B(self) -> list[np.ndarray]:
        """``B_k = V⁻¹ L̂_k V`` (perturbations in mode coordinates; ``O(M³)`` once)."""
        return [self.Vinv @ (Lk @ self.V) for Lk in self.L]

    # -- the modal-system view (volterra_sym.backends.modal): pairing vector e_{j0}
    @property
    def dtype(self) -> np.dtype:
        return np.result_type(self.lam, self.V)

    @cached_property
    def pairing(self) -> np.ndarray:
        """``p = e_{j0}``: ``<p0, g> = a_{j0}``."""
        p = np.zeros(self.M)
        p[self.j0] = 1.0
        return p

    def p_times_B(self, k: int) -> np.ndarray:
        return self.last_row(k)

    def times_B(self, k: int, X: np.ndarray) -> np.ndarray:
        return X @ self.B[k]

    def times_Bt(self, k: int, X: np.ndarray) -> np.ndarray:
        return self.apply_transposed(k, X)

    def last_row(self, k: int) -> np.ndarray:
        """``B_k[j0]`` = ``(V⁻¹[j0] L̂_k) V``: the final ``<p0, L_k ·>`` in mode coordinates."""
        rows = self.__dict__.setdefault("_rows", {})
        if k not in rows:
            rows[k] = (self.Vinv[self.j0] @ self.L[k]) @ self.V
        return rows[k]

    def apply_transposed(self, k: int, A: np.ndarray) -> np.ndarray:
        """``A B_kᵀ`` for row vectors ``A`` ``(P, M)`` (``L_k`` on ``P`` mode vectors): with
        the cached ``B_k`` when it exists or ``P`` is large, else as ``((A Vᵀ) L̂_kᵀ) V⁻ᵀ``
        (``3PM²`` instead of ``M³``)."""
        if "B" in self.__dict__ or 3 * A.shape[0] > self.M:
            return A @ self.B[k].T
        return ((A @ self.V.T) @ self.L[k].T) @ self.Vinv.T

    def coefficients(self, fvals: np.ndarray) -> np.ndarray:
        """Mode coordinates ``a = V⁻¹ (w f)`` of an observable sampled on the grid."""
        return self.Vinv @ (self.w * fvals)

    def mean(self, fvals: np.ndarray) -> float:
        """``<p0, f> = Σ_i p0_i f_i h^n``."""
        return float(np.sum(self.p0 * fvals) * self.vol)

    def boundary_ratio(self) -> float:
        """``max p0`` on the outermost grid layer relative to ``max p0``."""
        n, N = self.model.n, self.N
        P = np.abs(self.p0).reshape((N,) * n)
        edge = 0.0
        for ax in range(n):
            edge = max(edge, float(np.take(P, [0, N - 1], axis=ax).max()))
        return edge / float(P.max())

    def weak_residual(self, g: sp.Expr) -> float:
        """Stationarity in weak form: ``|<p0, L0 g>| / ‖L0 g‖_{L²(p0)}`` for a test function
        ``g`` (``L0 g`` symbolic, then the grid quadrature with the numerical ``p0``). Zero
        for the exact ``p0`` (``L0* p0 = 0``); independent of the hat discretisation."""
        Lg = numerics(self.model).observable(sp.expand(generator(self.model, sp.sympify(g))))
        vals = Lg(self.x)
        norm = math.sqrt(max(self.mean(vals * vals), 1e-300))
        return abs(self.mean(vals)) / norm
