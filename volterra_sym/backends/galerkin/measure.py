"""The stationary averaging measure of the Galerkin route as weighted points
(docs/theory.md §9): ``E_0[g] ≈ Σ_p w_p g(x_p)``, by the best route available.

* ``gauss_hermite`` — linear activation: ``p0 = N(μ, S)`` exactly; a tensor Gauss–Hermite
  rule in whitened coordinates with ``q`` nodes per axis integrates every polynomial of
  degree ≤ ``2q - 1`` per variable exactly (so the Galerkin matrices of a degree-``d``
  basis are exact with ``q = d + 1``);
* ``quadrature_1d`` — n = 1: Gauss–Legendre panels over the bracket of the closed-form
  ``p0 ∝ exp(2U/D)`` (state-dependent noise: ``p0 ∝ D(h)⁻¹ exp(∫2φ/D)``, docs/theory.md §11);
* ``grid_2d`` — n = 2: the converged grid density of the spectral route;
* ``galerkin_density`` — any n with a small enough tensor rule (n ≤ 5): ``p0 ≈ ρ·(ψᵀc)`` on
  a Gaussian reference ``ρ``, with ``c`` the left null vector of the Galerkin generator
  (``E_ρ[(ψᵀc) L0 ψ_j] = 0`` for every basis function: ``<p0, L0 g> = 0`` on the span),
  integrated by a tensor Gauss–Hermite rule of ``ρ`` — deterministic, no sampling error;
* ``gaussian`` — any n where the tensor rule is too large, without the features of
  docs/theory.md §10–§11, with one stable fixed point (a Gaussian centred in one well of
  a multistable network is no weight for the others: six independent tanh units of gains
  1.1–1.4 had a growing Galerkin mode at degree 4) and with a polynomial observable: the
  Gaussian reference
  ``N(μ, S)`` of the linearised network, every average exact (:mod:`.ridge`: the drift is
  a sum of ridge functions ``a(w_l·h + b_l)``, integrated by a 1-D rule each), paired
  with ``p0`` through the stationary functional of the Galerkin generator — deterministic,
  no sampling error, no points;
* ``samples`` — any n: an ensemble drawn from ``p0`` (exact Gaussian, inverse CDF, or
  burn-in), split into ``batches`` for the jackknife of the statistical error. With
  state-dependent noise the burn-in is Euler–Maruyama with ``σ(h)``
  (:class:`~volterra_sym.density.sampling.StateNoiseBurnIn`) and each batch holds
  :data:`SNAPSHOTS` states, one relaxation time apart, of its own paths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.special

from ...budget import check_memory
from ...density.bracket import bracket_1d
from ...density.linearisation import (
    arrays,
    gaussian_moments,
    linearisation,
    lyapunov,
    regular_noise,
)
from ...density.multiplicative import multiplicative_density
from ...density.sampling import stationary_sampler
from ...density.stationary import stationary_density
from ...errors import AccuracyNotReachedError, NotApplicableError
from ...model import SRNN
from .ridge import MAX_TABLE, reference_fits, table_size

__all__ = ["Measure", "gauss_hermite", "quadrature_1d", "grid_2d", "samples",
           "galerkin_density", "galerkin_density_points", "MAX_DENSITY_POINTS", "kind_for",
           "reference_applies",
           "burn_in_facts", "sampling_seconds"]

#: largest tensor rule (points) of the ``galerkin_density`` measure
MAX_DENSITY_POINTS = 200_000
#: covariance inflation of the Gaussian reference (measured on tanh2d against the grid
#: density: 1.0 converges fastest once the reference is re-centred on the approximation)
REFERENCE_INFLATION = 1.0

#: state-dependent noise: states recorded per burnt-in path (one relaxation time apart)
SNAPSHOTS = 16


@dataclass(frozen=True)
class Measure:
    """Points ``x`` ``(P, n)`` with weights ``w`` ``(P,)`` (``Σ w = 1``); ``batches`` splits
    the points into independent groups (sampled measures only); ``exact`` says whether
    averages of polynomials up to the basis degree are exact."""

    kind: str
    x: np.ndarray
    w: np.ndarray
    exact: bool
    batches: list[np.ndarray] = field(default_factory=list)
    details: dict = field(default_factory=dict)


def gauss_hermite(model: SRNN, q: int, budget: int | None = None) -> Measure:
    """Tensor Gauss–Hermite rule of ``N(μ, S)`` with ``q`` nodes per axis (``q^n`` points);
    ``budget``: the memory budget in bytes (default :func:`~volterra_sym.budget.memory_budget`)."""
    mu, S = gaussian_moments(model)
    n = model.n
    check_memory(8.0 * (n + 1) * q ** n, f"a Gauss–Hermite rule with {q}^{n} points",
                 "lower the degree (the rule needs degree + 1 nodes per axis)", budget)
    Y, W = _gh_rule(q, n)
    L = np.linalg.cholesky(S)
    return Measure("gauss_hermite", mu + Y @ L.T, W, True, details={"nodes_per_axis": q})


def quadrature_1d(model: SRNN, panels: int = 48, nodes: int = 20) -> Measure:
    """Gauss–Legendre panels over the bracket of the closed-form one-dimensional ``p0``."""
    if model.state_dependent_noise:
        # p0 ∝ D⁻¹ exp(∫2φ/D) (docs/theory.md §11): log p0 at the increasing nodes by the
        # Richardson-extrapolated cumulative trapezoid of the density module
        dens = multiplicative_density(model)
        lo, hi = dens.bracket
    else:
        br = bracket_1d(model)
        lo, hi = br.lo, br.hi
    edges = np.linspace(lo, hi, panels + 1)
    z, wz = np.polynomial.legendre.leggauss(nodes)
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[1:] + edges[:-1])
    x = (mid[:, None] + half[:, None] * z[None, :]).ravel()
    wq = (half[:, None] * wz[None, :]).ravel()
    extra = {}
    if model.state_dependent_noise:
        def weights(k: int) -> np.ndarray:
            fine = np.unique(np.concatenate([x, np.linspace(lo, hi, k * panels * nodes + 1)]))
            lp = dens.log_density(fine)
            p = np.exp(lp - lp.max())[np.searchsorted(fine, x)]
            return wq * p / float((wq * p).sum())
        w8 = weights(8)
        # the tabulated log p0 is a Richardson-extrapolated trapezoid: its error is bounded
        # by the change from the grid of half the resolution (total variation of weights)
        extra["weight_error"] = float(np.abs(w8 - weights(4)).sum())
        p = w8 / wq                     # Gauss–Legendre weights are positive
    else:
        pdf = stationary_density(model).pdf_numpy()
        p = np.asarray(pdf(x), dtype=float).ravel()
    w = wq * p
    mass = float(w.sum())
    return Measure("quadrature_1d", x[:, None], w / mass, True,
                   details={"panels": panels, "nodes": nodes, "mass_before_normalising": mass,
                            "bracket": (lo, hi), **extra})


def grid_2d(model: SRNN) -> Measure:
    """The converged grid density of the spectral route (n = 2)."""
    from ..spectral import grid_density  # same layer: the spectral route's p0

    dz = grid_density(model)
    w = np.clip(dz.p0 * dz.vol, 0.0, None)
    return Measure("grid_2d", dz.x, w / w.sum(), True, details={"resolution": dz.N})


#: seconds per burn-in path-step and per unit (fitted to the burn-in of 40,000 samples:
#: 8 units, 146 steps, 0.7 s; 16 units, 5,715 steps, 56 s)
_STEP_SECONDS, _STEP_SECONDS_PER_UNIT = 6e-8, 1.1e-8


def burn_in_facts(model: SRNN) -> tuple[int, float, bool] | None:
    """``(steps, relaxation time, metastable)`` of the burn-in that draws the samples of
    ``p0`` (None where ``p0`` is sampled exactly): what makes :func:`sampling_seconds`
    large — a slow mode of the linearised network, or a metastable one."""
    sampler = stationary_sampler(model)
    if not hasattr(sampler, "n_steps"):
        return None
    return (int(sampler.n_steps), float(sampler.relaxation_time),
            bool(getattr(sampler, "metastable", False)))


def sampling_seconds(model: SRNN, n_samples: int) -> float:
    """Estimated seconds of :func:`samples`: burn-in path-steps times
    ``6e-8 + 1.1e-8·n`` s (snapshots of σ(h) paths: ``P/S`` paths run the burn-in and
    ``S`` relaxation times more)."""
    sampler = stationary_sampler(model)
    steps = int(getattr(sampler, "n_steps", 0))
    if hasattr(sampler, "snapshot_blocks"):
        every = max(1, math.ceil(sampler.relaxation_time / sampler.dt))
        path_steps = math.ceil(n_samples / SNAPSHOTS) * (steps + SNAPSHOTS * every)
    else:
        path_steps = n_samples * steps
    return path_steps * (_STEP_SECONDS + _STEP_SECONDS_PER_UNIT * model.n)


def samples(model: SRNN, n_samples: int, seed: int, n_batches: int = 8,
            budget: int | None = None) -> Measure:
    """``n_samples`` draws from ``p0`` in ``n_batches`` independent batches (seeded);
    ``budget``: the memory budget in bytes (default :func:`~volterra_sym.budget.memory_budget`)."""
    check_memory(8.0 * n_samples * model.n * 3, f"{n_samples} stationary samples",
                 "lower paths", budget)
    sampler = stationary_sampler(model)
    root = np.random.SeedSequence(seed)
    size = -(-n_samples // n_batches)
    details = {"batches": n_batches, "seed": seed}
    if hasattr(sampler, "snapshot_blocks"):
        # σ(h) (docs/theory.md §11): each batch is SNAPSHOTS states, one relaxation time
        # apart, of size/SNAPSHOTS Euler–Maruyama paths (the batches stay independent)
        paths = -(-size // SNAPSHOTS)
        parts = sampler.snapshot_blocks([np.random.default_rng(c)
                                         for c in root.spawn(n_batches)], paths, SNAPSHOTS)
        size = paths * SNAPSHOTS
        details.update(snapshots=SNAPSHOTS, burn_in_dt=sampler.dt, t_burn=sampler.t_burn)
    else:
        parts = [np.asarray(sampler(np.random.default_rng(c), size), dtype=float)
                 for c in root.spawn(n_batches)]
    xs = [np.asarray(x, dtype=float).reshape(size, model.n) for x in parts]
    batches = [np.arange(i * size, (i + 1) * size) for i in range(n_batches)]
    x = np.vstack(xs)
    details["samples"] = x.shape[0]
    return Measure("samples", x, np.full(x.shape[0], 1.0 / x.shape[0]), False, batches,
                   details=details)


def _gh_rule(q: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Tensor Gauss–Hermite rule of ``N(0, I_n)``: nodes ``(q^n, n)`` and weights."""
    z, wz = scipy.special.roots_hermitenorm(q)
    wz = wz / math.sqrt(2 * math.pi)
    Y = np.stack([g.ravel() for g in np.meshgrid(*([z] * n), indexing="ij")], -1)
    W = np.ones(Y.shape[0])
    for g in np.meshgrid(*([wz] * n), indexing="ij"):
        W = W * g.ravel()
    return Y, W


def galerkin_density_points(n: int, degree: int) -> tuple[int, int]:
    """``(q, q^n)``: nodes per axis of the tensor rule of :func:`galerkin_density` — the
    products ``ψ_i ψ_j (ψᵀc)`` have degree ``3d``, exact for ``2q - 1 ≥ 3d``, and three
    more nodes for the non-polynomial drift."""
    q = (3 * degree + 2) // 2 + 3
    return q, q ** n


def galerkin_density(model: SRNN, degree: int, refinements: int = 2) -> Measure:
    """``p0 ≈ ρ·(ψᵀc)`` (module docstring): ``ρ = N(μ, S)`` starts from the linearised
    network's mean and the average of its covariance and the tail covariance
    (``Γ S + S Γᵀ = 2D``), and is re-centred ``refinements`` times on the mean and
    covariance of the previous approximation. The weights ``w_p ρ-rule × (ψᵀc)(x_p)`` are
    clipped at zero where the polynomial factor dips below it (``details`` records the
    clipped mass and the null-vector residual ``s_min/s_max`` of the Galerkin generator)."""
    from .basis import MonomialBasis  # same package; the measure needs the basis
    from .system import Whitening, assemble, chunk_rows

    n = model.n
    q, P = galerkin_density_points(n, degree)
    if P > MAX_DENSITY_POINTS:
        raise NotApplicableError(f"galerkin density: a tensor rule of {q}^{n} = {P} points "
                                 f"exceeds {MAX_DENSITY_POINTS}")
    p = arrays(model)
    lin = linearisation(model)
    tail = lyapunov(np.asarray(p["Gamma"]), np.asarray(p["D"]))
    S = tail if lin.cov is None else 0.5 * (np.asarray(lin.cov) + tail)
    mu = np.asarray(lin.center, dtype=float)
    Y, W = _gh_rule(q, n)
    basis = MonomialBasis(n, degree)
    drift = model.drift_numpy()
    details: dict = {"nodes_per_axis": q, "points": P, "degree": degree}
    for _ in range(refinements + 1):
        L = np.linalg.cholesky(REFERENCE_INFLATION * 0.5 * (S + S.T))
        X = mu + Y @ L.T
        phi = drift(X)
        if not np.all(np.isfinite(phi)):
            raise AccuracyNotReachedError("galerkin density: the drift is not finite on the "
                                          "quadrature points")
        white = Whitening(mu, L)
        # only A = E_ρ[ψ (L0 ψ)ᵀ] is needed: no kicks
        sums = assemble(basis, white, X, W, phi, np.zeros(P), np.asarray(p["D"]), {})[0]
        # c with Σ_i c_i A_ij = 0 for every j: the right singular vector of Aᵀ for s_min
        _, sv, vt = np.linalg.svd(sums.A.T)
        c = vt[-1]
        # in the assembly's chunks: the basis at all points at once was a (P, M) array
        # (325 MB at n = 5, degree 5) mapped afresh at every refinement
        y, rows = white.to_y(X), chunk_rows(basis.size)
        dens = np.concatenate([basis.evaluate(y[i:i + rows]) @ c for i in range(0, P, rows)])
        mass = float(W @ dens)
        if not (np.isfinite(mass) and abs(mass) > 0):
            raise AccuracyNotReachedError("galerkin density: the stationary solution has "
                                          "no mass on the reference measure")
        dens = dens / mass
        w = W * dens
        neg = float(-w[w < 0].sum())
        w = np.clip(w, 0.0, None)
        w = w / w.sum()
        details.update(null_residual=float(sv[-1] / sv[0]), clipped_mass=neg)
        mu_new = w @ X
        d = X - mu_new
        S_new = (d * w[:, None]).T @ d
        if not np.all(np.isfinite(S_new)) or np.linalg.eigvalsh(S_new).min() <= 0:
            break
        mu, S = mu_new, S_new
    return Measure("galerkin_density", X, w, True, details=details)


def reference_applies(model: SRNN, degree: int, gaussian: bool = True) -> bool:
    """Whether the exact Gaussian reference (:mod:`.ridge`) may average ``model`` at
    ``degree``: allowed (``gaussian``: option ``measure="auto"`` and a polynomial
    observable), no features of docs/theory.md §10–§11, regular noise, one stable fixed
    point, its table of moments within :data:`~.ridge.MAX_TABLE` and the reference fitting
    ``p0`` (:func:`~.ridge.reference_fits`)."""
    if not (gaussian and not model.features and regular_noise(model)):
        return False
    lin = linearisation(model)
    return (not lin.metastable and lin.cov is not None
            and table_size(model.n, degree) <= MAX_TABLE and reference_fits(model))


def kind_for(model: SRNN, degree: int, paths: int, gaussian: bool = True,
             reference_first: bool = False) -> tuple[str, int]:
    """Which averaging measure the route uses for ``model`` at ``degree`` (``"gh"``,
    ``"q1d"``, ``"grid"``, ``"density"``, ``"gaussian"`` — the exact Gaussian reference of
    :mod:`.ridge`, no points — or ``"samples"``, ``paths`` of them), and about how many
    points it has (for the cost estimate, :mod:`.cost`); with state-dependent noise
    (docs/theory.md §11) ``p0`` is not Gaussian and the 2-D grid does not treat it: the 1-D
    quadrature of ``p0 ∝ D⁻¹exp(∫2φ/D)`` or samples. ``gaussian=False`` (option
    ``measure="samples"``, or an observable that is not a polynomial in the state) puts the
    samples where the Gaussian reference would be; ``reference_first`` puts the reference
    before the ``galerkin_density`` measure where it applies (:func:`reference_applies`;
    the check from above where the density cannot reach ``d + 3`` or would be slow, module
    :mod:`.above`)."""
    linear_gaussian = model.is_linear and not model.state_dependent_noise
    if linear_gaussian and (degree + 1) ** model.n <= 200_000:
        return "gh", (degree + 1) ** model.n
    if model.n == 1:
        return "q1d", 48 * 20
    if model.n == 2 and not model.state_dependent_noise and regular_noise(model):
        return "grid", 4096
    if reference_first and reference_applies(model, degree, gaussian):
        return "gaussian", 0
    points = galerkin_density_points(model.n, degree)[1]
    if not model.features and points <= MAX_DENSITY_POINTS:
        return "density", points
    if reference_applies(model, degree, gaussian):
        return "gaussian", 0
    return "samples", paths
