"""Samplers of the stationary density ``p0`` (docs/theory.md §3, §7): the one place that draws
initial states for Monte Carlo, the spectral grid's box and the Taylor sampling route.

A *sampler* is a callable ``sampler(rng, size) -> array (size, n)``. Callers that split
their paths into blocks call it once per block with that block's own generator, so the
states do not depend on how paths are chunked.

* :func:`gaussian_sampler` — exact, ``h = μ + S^{1/2} ζ`` (linear models: ``μ = A⁻¹b``,
  ``A S + S Aᵀ = D``, from :func:`.linearisation.gaussian_moments`).
* :func:`inverse_cdf_sampler` — one dimension: the normalised density tabulated on a grid,
  its CDF by the trapezoidal rule, ``h = F⁻¹(U)`` by linear interpolation
  (:func:`one_dim_density` gives the density and its bracket).
* :func:`burn_in_sampler` — anything else: unperturbed paths started from the
  *linearised* density and run for a few relaxation times.
* :func:`state_noise_burn_in` — state-dependent noise ``σ(h)`` (docs/theory.md §11):
  seeded Euler–Maruyama burn-in (:class:`StateNoiseBurnIn`); for n = 1 the inverse CDF of
  the 1-D density with ``D(h)`` is used instead.
* :func:`stationary_sampler` — picks one of the above.

Burn-in (:class:`BurnInSampler`). With ``h*`` the fixed point and ``J = ∇φ(h*)``
(:func:`.linearisation.linearisation`), write ``φ(h) = J(h - h*) + R(h)``; for the SRNN
``R(h) = a(z) - s*⊙z + r₀`` with ``z = Wh + b``, ``s* = a'(z*)``, ``r₀ = s*⊙z* - Γh*``.
The exponential Euler step with ``L = -J``

    h_{i+1} = E h_i + Φ₁ (a(z_i) - s*⊙z_i) + c + ξ_i ,    ξ_i ~ N(0, Q) ,
    E = e^{-L dt},  Φ₁ = ∫_0^dt e^{-Ls} ds,  Q = ∫_0^dt e^{-Ls} D e^{-Lᵀs} ds,
    c = h* - E h* + Φ₁ r₀ ,

integrates the linearised dynamics exactly (for a linear model it *is* the exact OU
transition) and only the remainder ``R`` explicitly. Paths start from
``N(h* + δ, S_lin)`` (``-J S_lin - S_lin Jᵀ = D``; ``δ = -J⁻¹(E[a(z)] - a(z*))`` with the
activation averaged over the linearised density). Defaults: ``t_burn = 5/κ``
(:data:`RELAXATION_TIMES`; ``κ`` the relaxation rate of the linearisation, bounded by the
tail drift's), ``dt = min(1/(4κ), 0.05/λ_R)`` with ``λ_R`` the 90 % quantile of
``‖diag(a'(z) - s*) W‖₂`` over the linearised density (:data:`ACCURACY`). Where it is
cheaper (diagonal ``Γ`` and ``D`` make ``E``, ``Φ₁``, ``Q`` diagonal, so one n×n product per
step instead of four) the *leak* split ``L = Γ`` (``s* = 0``, ``h* = 0``: ``a(Wh + b)``
explicit, ``λ = q₉₀‖diag(a'(z)) W‖₂``, ``dt ≤ 1/(Lip(a)‖W‖₂)``) is used with the same start
and length. Without a unique stable fixed point (metastable
models, :attr:`.linearisation.Linearisation.metastable`) the split is the leak split,
paths start from ``N(0, D/(2κ))`` with ``κ`` the tail rate,
``t_burn = 50/κ`` and ``dt = min(1/(4κ), 0.05/(Lip(a)‖W‖₂))``. The states follow the
discretised chain's stationary law: the bias is ``O(dt)`` times the size of ``R`` (zero
for linear models; measured ≤ 0.3 % of a standard deviation on the 1-D and 2-D tanh test
models, ``tests/test_density_sampling.py``), and only approximately stationary when the
dynamics is metastable: pass a longer ``t_burn`` then.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..arrays import check_int, positive_number, real_array, real_number
from ..budget import check_count, check_memory, montecarlo_seconds
from ..errors import (
    InvalidInputError,
    NotApplicableError,
    ResourceLimitError,
    SimulationError,
)
from ..model import SRNN, check_model
from ..model.euler_maruyama import NoiseMap, euler_maruyama_step
from .bracket import bracket_1d
from .classify import density_kind
from .linearisation import (
    activation_derivative,
    activation_lipschitz,
    arrays,
    gaussian_moments,
    linear_step,
    linearisation,
    psd_sqrt,
)
from .stationary import stationary_density

__all__ = ["Sampler", "BurnInSampler", "BurnInDiagnostic", "gaussian_sampler",
           "inverse_cdf_sampler",
           "one_dim_density", "burn_in_sampler", "stationary_sampler", "RELAXATION_TIMES",
           "ACCURACY", "StateNoiseBurnIn", "state_noise_burn_in", "STATE_NOISE_ACCURACY",
           "STATE_NOISE_RELAXATION_TIMES", "MAX_BURN_IN_STEPS", "MAX_GRID",
           "SAMPLING_METHODS"]

Sampler = Callable[[np.random.Generator, int], np.ndarray]

#: default burn-in length in relaxation times ``1/κ`` (the start is already the
#: linearised density, so only its distance to ``p0`` has to relax: e^{-5} ≈ 0.7 %)
RELAXATION_TIMES = 5.0
#: burn-in length in relaxation times ``1/κ`` when the flow has several stable fixed
#: points (metastable: the linearisation does not give the relaxation time)
METASTABLE_RELAXATION_TIMES = 50.0
#: default ``dt · λ_R`` of the explicit remainder (``λ_R`` its Lipschitz factor on the bulk)
ACCURACY = 0.05
#: time steps of noise drawn at once
_TIME_BLOCK = 16
#: state-dependent noise: default ``dt · ρ`` of the Euler–Maruyama burn-in (``ρ`` the
#: drift's Lipschitz bound ``ρ(Γ) + Lip(a)‖W‖₂``); the stationary law of the chain is
#: biased by ``O(dt)``
STATE_NOISE_ACCURACY = 0.02
#: state-dependent noise: burn-in length in relaxation times (the start is only a
#: Gaussian around the fixed point with the noise frozen there)
STATE_NOISE_RELAXATION_TIMES = 10.0


#: the most burn-in steps a sampler takes (refused beforehand: dt = 1e-12 meant 5·10^12);
#: a step costs at least ~15 µs of interpreter time (measured on 2 shared cores), so this
#: is already ≥ 15 s; the built-in models take 20–6,250
MAX_BURN_IN_STEPS = 10**6
#: lower estimate of a burn-in's seconds: per step, and per path and dimension of a step
#: (measured 15 µs and 23 ns on 2 shared cores; a third of that is charged)
_STEP_SECONDS, _ELEMENT_SECONDS = 5e-6, 7e-9
#: the most grid points of :func:`inverse_cdf_sampler`
MAX_GRID = 10**7


def _check_draw(rng, size, n: int, arrays: float = 2.0) -> int:
    """A sampler's ``(rng, size)``: ``rng`` a :class:`numpy.random.Generator`, ``size`` an
    integer ≥ 0 whose ``(size, n)`` draw (``arrays`` float arrays of it) fits the memory
    budget; else :class:`InvalidInputError` naming ``rng``/``size``
    (:class:`~volterra_sym.errors.ResourceLimitError` for the memory)."""
    if not isinstance(rng, np.random.Generator):
        raise InvalidInputError(f"rng must be a numpy.random.Generator "
                                f"(np.random.default_rng(seed)), got {type(rng).__name__} "
                                f"{rng!r:.60}", param="rng")
    size = check_int(size, "size", lo=0)
    check_memory(8.0 * arrays * float(size) * max(n, 1), f"a draw of {size} states in {n} "
                 "dimensions", "draw fewer states per call")
    return int(size)


# ---------------------------------------------------------------------- closed forms
def gaussian_sampler(mean, cov) -> Sampler:
    """Exact draws from ``N(mean, cov)`` (``mean``, ``cov`` finite and real, ``cov``
    symmetric positive semi-definite; else :class:`InvalidInputError` naming them)."""
    mean = np.atleast_1d(real_array(mean, "mean", copy=True))  # scalars promoted, not cut
    cov = np.atleast_2d(real_array(cov, "cov", copy=True))
    if mean.ndim != 1:
        raise InvalidInputError(f"mean must be a vector, got shape {mean.shape}",
                                param="mean")
    if cov.shape != (mean.size, mean.size):
        raise InvalidInputError(f"cov has shape {cov.shape}, expected "
                                f"{(mean.size, mean.size)}", param="cov")
    scale = float(np.abs(cov).max(initial=0.0))
    if np.abs(cov - cov.T).max(initial=0.0) > 1e-9 * scale:
        raise InvalidInputError("cov must be symmetric (a covariance matrix), got "
                                f"{cov.tolist()!r:.80}", param="cov")
    try:
        root = psd_sqrt(cov, "cov")
    except InvalidInputError as exc:
        exc.param = "cov"
        raise

    def sample(rng: np.random.Generator, size: int) -> np.ndarray:
        size = _check_draw(rng, size, mean.size)
        return mean + rng.standard_normal((size, mean.size)) @ root
    return sample


def inverse_cdf_sampler(pdf: Callable, lo: float, hi: float, n_grid: int = 20001) -> Sampler:
    """One-dimensional draws ``F⁻¹(U)`` from a density tabulated on ``[lo, hi]``.

    The CDF is the cumulative trapezoidal integral of ``pdf`` on ``n_grid`` points,
    renormalised to 1 on the grid; ``F⁻¹`` is interpolated linearly. ``lo``, ``hi`` must
    be finite real numbers and ``pdf`` a callable returning finite non-negative reals
    (else :class:`~volterra_sym.errors.InvalidInputError` naming them).
    """
    lo, hi = real_number(lo, "lo"), real_number(hi, "hi")
    if not callable(pdf):
        raise InvalidInputError(f"pdf must be a callable pdf(x) -> densities, got "
                                f"{type(pdf).__name__}", param="pdf")
    if not hi > lo:
        raise InvalidInputError(f"need a finite range lo < hi, got [{lo}, {hi}]",
                                param="lo, hi")
    n_grid = check_int(n_grid, "n_grid", lo=2, hi=MAX_GRID)
    xs = np.linspace(lo, hi, int(n_grid))
    ps = real_array(pdf(xs), "pdf", objects=True, finite=False,
                    what="finite non-negative real densities").reshape(-1)
    if ps.shape != xs.shape or not np.all(np.isfinite(ps)) or np.any(ps < 0):
        raise InvalidInputError("pdf must return finite non-negative values of the grid's "
                                "shape", param="pdf")
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (ps[1:] + ps[:-1]) * np.diff(xs))])
    if cdf[-1] <= 0:
        raise InvalidInputError("pdf has no mass on [lo, hi]", param="pdf")
    cdf /= cdf[-1]

    def sample(rng: np.random.Generator, size: int) -> np.ndarray:
        size = _check_draw(rng, size, 1)
        return np.interp(rng.random(size), cdf, xs)[:, None]
    return sample


def one_dim_density(model: SRNN) -> tuple[Callable, float, float]:
    """Normalised ``p0`` of a numeric one-dimensional model and a range ``[lo, hi]``
    holding its mass (:func:`.bracket.bracket_1d`, depth 60).

    ``p0 ∝ exp(2U/D)`` with ``U' = φ``: the closed form of
    :class:`.stationary.StationaryDensity` (``pdf_numpy``) when it evaluates, else the
    bracket's trapezoidal table (error ``O(Δx²)``)."""
    if model.n != 1:
        raise NotApplicableError(f"one_dim_density needs n = 1, the model has n = {model.n}")
    br = bracket_1d(model, drop=60.0)
    try:
        pdf = stationary_density(model).pdf_numpy()
        test = np.asarray(pdf(np.array([[br.mode]])), dtype=float)
        if test.size == 1 and np.isfinite(test).all() and float(test.ravel()[0]) > 0:
            return (lambda x: np.asarray(pdf(np.asarray(x, float)[..., None]), float),
                    br.lo, br.hi)
    except (NotApplicableError, NotImplementedError, TypeError, ValueError):
        pass
    return br.pdf, br.lo, br.hi


# ---------------------------------------------------------------------- burn-in
def _inplace_activation(model: SRNN) -> Callable[[np.ndarray], None] | None:
    """``x ← a(x)`` in place (``None`` for the identity): :meth:`Activation.numpy_inplace`."""
    return model.activation.numpy_inplace()


def _diagonal(M: np.ndarray) -> np.ndarray | None:
    """The diagonal as a column if ``M`` is diagonal (off-diagonal exactly 0), else None."""
    if np.count_nonzero(M - np.diag(np.diag(M))) == 0:
        return np.diag(M)[:, None].copy()
    return None


@dataclass(frozen=True)
class BurnInDiagnostic:
    """Result of :meth:`BurnInSampler.diagnose`: the largest ``z`` of the means and of the
    variances between the end of the burn-in and a second leg, the test level, whether the
    chain counts as converged, and a one-line message."""

    t_burn: float
    relaxation_time: float
    paths: int
    max_z_mean: float
    max_z_var: float
    level: float
    converged: bool
    message: str


class BurnInSampler:
    """Sampler by burn-in of the unperturbed SDE (see the module docstring).

    ``sampler(rng, size)`` runs one block; ``sample_blocks(rngs, sizes)`` runs several
    blocks side by side (vectorised over all their paths) with the same numbers: each
    block consumes its own generator, first ``n·size`` normals for the start, then per
    step in the order (noise coordinate, path). ``snapshots(rng, paths, count, every)``
    continues the burnt-in paths and records ``count`` states every ``every`` steps.

    Attributes: ``dt``, ``n_steps`` (burn-in steps), ``t_burn = n_steps·dt``,
    ``relaxation_time`` ``1/κ``, ``split`` (``"linearised"`` or ``"leak"``), ``metastable``.
    """

    def __init__(self, model: SRNN, *, t_burn: float | None = None, dt: float | None = None,
                 start=None):
        p = arrays(check_model(model))
        lin = linearisation(model)
        self.model, self.n = model, model.n
        self.metastable = lin.metastable
        G, W, b, D = p["Gamma"], p["W"], p["b"], p["D"]
        linear = model.is_linear
        w_norm = float(np.linalg.norm(W, 2))
        lip = activation_lipschitz(model) * w_norm
        self.relaxation_time = lin.relaxation_time
        leak = (np.zeros(self.n), np.zeros(self.n), G, np.zeros(self.n))   # h*, s*, L, r0
        if lin.cov is not None and not lin.metastable:
            hstar = lin.center
            zstar = W @ hstar + b
            s = np.ones(self.n) if linear else _slope(model, zstar)
            start_mean = hstar if linear else hstar + _mean_shift(model, lin, zstar)
            start_cov = lin.cov
            t_default = RELAXATION_TIMES * self.relaxation_time
            tau4 = 0.25 * self.relaxation_time
            if linear:
                self.split, dt_auto = "linearised", tau4
            else:
                lam_lin, lam_leak = _remainder_rates(model, zstar, W @ lin.cov @ W.T, s)
                dt_lin = min(tau4, ACCURACY / max(lam_lin, 1e-300))
                dt_leak = min(tau4, ACCURACY / max(lam_leak, 1e-300), 1.0 / max(lip, 1e-300))
                dense_leak = sum(_diagonal(M) is None for M in (G, G, D))  # E, Φ₁, noise
                cost_lin, cost_leak = (_step_cost(self.n, 4) / dt_lin,
                                       _step_cost(self.n, 1 + dense_leak) / dt_leak)
                self.split = "linearised" if cost_lin <= cost_leak else "leak"
                dt_auto = dt_lin if self.split == "linearised" else dt_leak
            if self.split == "linearised":
                L, r0 = -lin.jacobian, s * zstar - G @ hstar
            else:
                hstar, s, L, r0 = leak
        else:
            self.split = "leak"
            hstar, s, L, r0 = leak
            start_mean = np.zeros(self.n)
            start_cov = D / (2.0 * lin.rate) + 1e-300 * np.eye(self.n)
            dt_auto = min(0.25 * self.relaxation_time, ACCURACY / max(lip, 1e-300))
            t_default = METASTABLE_RELAXATION_TIMES * self.relaxation_time
        dt = dt_auto if dt is None else _positive(dt, "dt")
        if not linear and self.split == "leak" and dt * lip > 2.0:
            raise InvalidInputError(f"dt = {dt:g} is too large for the burn-in: "
                                    f"dt·Lip(a)·‖W‖₂ = {dt * lip:.3g} > 2; use "
                                    f"dt < {2.0 / lip:.3g}", param="dt")
        t_burn = t_default if t_burn is None else _positive(t_burn, "t_burn", allow_zero=True)
        self.dt = dt
        self.n_steps = _burn_in_steps(t_burn, dt)
        self.t_burn = self.n_steps * dt
        E, Phi1, Q = linear_step(L, D, dt)
        self.E, self.Phi1 = np.ascontiguousarray(E), np.ascontiguousarray(Phi1)
        self.const = (hstar - E @ hstar + Phi1 @ r0)[:, None].copy()
        self.slope = s[:, None].copy()
        self.W, self.b = np.ascontiguousarray(W), b[:, None].copy()
        self.has_b = bool(np.any(b))
        self.act = _inplace_activation(model)
        self.linear = linear
        root = psd_sqrt(Q, "the one-step noise covariance Q")
        self.noise_diag = _diagonal(root)
        self.noise_root = root
        self.E_diag, self.Phi1_diag = _diagonal(self.E), _diagonal(self.Phi1)
        if start is None:
            self.start_mean = np.asarray(start_mean, dtype=float)
            self.start_root = psd_sqrt(start_cov, "the linearised covariance")
        else:
            h0 = real_array(start, "start", finite=False, copy=True)
            if h0.shape not in ((self.n,), (1, self.n)) or not np.all(np.isfinite(h0)):
                raise InvalidInputError(f"start must be a finite state of shape ({self.n},), "
                                        f"got shape {h0.shape}", param="start")
            self.start_mean, self.start_root = h0.reshape(self.n), None

    # -------------------------------------------------------------- stepping
    def _step(self, h: np.ndarray, out: np.ndarray, pre: np.ndarray, tmp: np.ndarray) -> None:
        """``out ← E h + Φ₁(a(z) - s*⊙z) + c`` for ``h (n, P)`` (noise added by the caller)."""
        if self.E_diag is not None:
            np.multiply(h, self.E_diag, out=out)
        else:
            np.matmul(self.E, h, out=out)
        out += self.const
        if self.linear:
            return
        np.matmul(self.W, h, out=pre)
        if self.has_b:
            pre += self.b
        np.multiply(pre, self.slope, out=tmp)
        self.act(pre)
        pre -= tmp
        if self.Phi1_diag is not None:
            pre *= self.Phi1_diag
            out += pre
        else:
            np.matmul(self.Phi1, pre, out=tmp)
            out += tmp

    def _noise(self, z: np.ndarray, eta: np.ndarray) -> None:
        if self.noise_diag is not None:
            np.multiply(z, self.noise_diag, out=eta)
        else:
            np.matmul(self.noise_root.T, z, out=eta)

    def _check_memory(self, P: int, extra: int = 0) -> None:
        n = self.n
        need = 8.0 * (P * n * (5 + 2 * _TIME_BLOCK) + extra)
        if need > 1024**3:
            check_memory(need, f"the burn-in of {P} paths in {n} dimensions",
                         "lower the number of paths (--paths)")

    def _run(self, h: np.ndarray, steps: int, rngs: Sequence[np.random.Generator],
             sizes: Sequence[int]) -> np.ndarray:
        """Advance ``h (n, P)`` by ``steps`` steps; block ``j`` draws from ``rngs[j]``."""
        n, P = h.shape
        nxt, pre, tmp = np.empty_like(h), np.empty_like(h), np.empty_like(h)
        K = _TIME_BLOCK
        z = np.empty(K * n * max(sizes))
        zz = np.empty((K, n, P))
        eta = np.empty((K, n, P))
        for k0 in range(0, steps, K):
            kb = min(K, steps - k0)
            pos = 0
            for rng, size in zip(rngs, sizes, strict=True):
                zb = z[:kb * n * size].reshape(kb, n, size)
                rng.standard_normal(out=zb)
                zz[:kb, :, pos:pos + size] = zb
                pos += size
            self._noise(zz[:kb], eta[:kb])
            for kk in range(kb):
                self._step(h, nxt, pre, tmp)
                nxt += eta[kk]
                h, nxt = nxt, h
            if not np.all(np.isfinite(h)):
                raise SimulationError("the burn-in diverged (non-finite states); pass a "
                                      "smaller dt")
        return h

    def _start(self, rngs: Sequence[np.random.Generator], sizes: Sequence[int]) -> np.ndarray:
        parts = []
        for rng, size in zip(rngs, sizes, strict=True):
            if self.start_root is None:
                parts.append(np.broadcast_to(self.start_mean[:, None], (self.n, size)))
            else:
                zeta = rng.standard_normal((self.n, size))
                parts.append(self.start_mean[:, None] + self.start_root @ zeta)
        return np.ascontiguousarray(np.concatenate(parts, axis=1))   # layout (n, P)

    # -------------------------------------------------------------- public
    def __call__(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.sample_blocks([rng], [size])

    def sample_blocks(self, rngs: Sequence[np.random.Generator], sizes: Sequence[int]
                      ) -> np.ndarray:
        """States ``(Σ sizes, n)`` after the burn-in, block ``j`` from ``rngs[j]``."""
        rngs = _check_rngs(rngs)
        sizes = [_count(s, "size") for s in sizes]
        self._check_memory(sum(sizes))
        _check_burn_in_time(self.n_steps, sum(sizes), self.n)
        h = self._run(self._start(rngs, sizes), self.n_steps, rngs, sizes)
        return np.ascontiguousarray(h.T)

    def diagnose(self, rng: np.random.Generator, paths: int = 4096) -> BurnInDiagnostic:
        """Has the burn-in forgotten its start? Every coordinate's mean and variance over
        ``paths`` paths after the burn-in (``t_burn``) and after a second leg of the same
        length (at least :data:`RELAXATION_TIMES` relaxation times) on the same paths::

            z_mean = |m₁ − m₂| / √((v₁ + v₂)/P) ,
            z_var  = |v₁ − v₂| / √((μ₄,₁ − v₁² + μ₄,₂ − v₂²)/P)

        (``μ₄`` the fourth central moment). A chain still drifting from its start moves
        its moments between the two; a converged one changes them by noise only. Converged
        when both maxima are below the Bonferroni level of a two-sided 0.1 % test over the
        ``2n`` statistics (3.5 for n = 1, 4.6 for n = 256)."""
        paths = _count(paths, "paths")
        if paths < 16:
            raise InvalidInputError(f"paths must be at least 16 for moments, got {paths}",
                                    param="paths")
        self._check_memory(paths, extra=self.n * paths)
        first = self._run(self._start([rng], [paths]), self.n_steps, [rng], [paths])
        a = first.copy()                         # _run reuses its input as a buffer
        leg = max(self.n_steps, math.ceil(RELAXATION_TIMES * self.relaxation_time / self.dt))
        b = self._run(first, leg, [rng], [paths])

        def moments(x):
            m = x.mean(axis=1)
            c = x - m[:, None]
            v = (c ** 2).mean(axis=1)
            return m, v, (c ** 4).mean(axis=1)

        (m1, v1, q1), (m2, v2, q2) = moments(a), moments(b)
        tiny = 1e-300
        z_mean = np.abs(m1 - m2) / np.sqrt(np.maximum((v1 + v2) / paths, tiny))
        z_var = np.abs(v1 - v2) / np.sqrt(np.maximum((q1 - v1 ** 2 + q2 - v2 ** 2) / paths,
                                                     tiny))
        level = statistics.NormalDist().inv_cdf(1.0 - 0.001 / (4 * self.n))
        zm, zv = float(z_mean.max()), float(z_var.max())
        ok = zm <= level and zv <= level
        msg = (f"burn-in of {self.t_burn:.3g} ({self.t_burn / self.relaxation_time:.2g} "
               f"relaxation times, {self.n_steps} steps of {self.dt:.3g}), {paths} paths: "
               f"moments after it and {leg * self.dt:.3g} later differ by max z = "
               f"{max(zm, zv):.2f} (mean {zm:.2f}, variance {zv:.2f}; level {level:.2f})"
               + ("" if ok else ": not converged, pass a longer t_burn"))
        return BurnInDiagnostic(self.t_burn, self.relaxation_time, paths, zm, zv, level, ok,
                                msg)

    def snapshots(self, rng: np.random.Generator, paths: int, count: int, every: int
                  ) -> np.ndarray:
        """``count`` states of each of ``paths`` burnt-in paths, ``every`` steps apart (the
        first one ``every`` steps after the burn-in): array ``(count, paths, n)``."""
        paths, count, every = (_count(v, name) for v, name in
                               ((paths, "paths"), (count, "snapshots"), (every, "every")))
        self._check_memory(paths, extra=count * paths * self.n)
        h = self._run(self._start([rng], [paths]), self.n_steps, [rng], [paths])
        out = np.empty((count, paths, self.n))
        for i in range(count):
            h = self._run(h, every, [rng], [paths])
            out[i] = h.T
        return out


def _slope(model: SRNN, z: np.ndarray) -> np.ndarray:
    return np.asarray(activation_derivative(model)(z), dtype=float)


def _remainder_rates(model: SRNN, zstar: np.ndarray, Sz: np.ndarray, s: np.ndarray
                     ) -> tuple[float, float]:
    """Lipschitz factors on the bulk of the explicit parts of the two splits: the 90 %
    quantile over 64 seeded ``z ~ N(z*, Sz)`` of ``‖diag(a'(z) - s*) W‖₂`` (linearised
    split, remainder ``R``) and of ``‖diag(a'(z)) W‖₂`` (leak split, ``a(Wh + b)``)."""
    W = arrays(model)["W"]
    rng = np.random.default_rng(4242)
    z = zstar + rng.standard_normal((64, zstar.size)) @ psd_sqrt(Sz, "W S_lin Wᵀ")
    d = _slope(model, z)
    lin = np.linalg.norm((d - s)[:, :, None] * W[None], ord=2, axis=(1, 2))
    leak = np.linalg.norm(d[:, :, None] * W[None], ord=2, axis=(1, 2))
    return float(np.quantile(lin, 0.9)), float(np.quantile(leak, 0.9))


def _mean_shift(model: SRNN, lin, zstar: np.ndarray) -> np.ndarray:
    """Start-mean correction ``δ = -J⁻¹ (E[a(z)] - a(z*))``, ``z_i ~ N(z*_i, (W S_lin Wᵀ)_ii)``
    (20-point Gauss–Hermite per unit): the mean of the linearised dynamics with the
    activation averaged over the linearised density (0 for a linear activation)."""
    W = arrays(model)["W"]
    v = np.maximum(np.einsum("ij,jk,ik->i", W, lin.cov, W), 0.0)
    x, w = np.polynomial.hermite_e.hermegauss(20)
    a = model.activation.numpy()
    z = zstar[:, None] + np.sqrt(v)[:, None] * x[None, :]
    Ea = (np.asarray(a(z), dtype=float) * np.ones_like(z)) @ w / w.sum()
    a0 = np.asarray(a(zstar), dtype=float) * np.ones_like(zstar)
    delta = -np.linalg.solve(lin.jacobian, Ea - a0)
    return delta if np.all(np.isfinite(delta)) else np.zeros_like(zstar)


def _step_cost(n: int, dense: int) -> float:
    """Relative cost of one step on ``P`` paths: ~12 element-wise passes (activation,
    normals, updates) plus ``dense`` n×n products at ~n/5 passes each (BLAS runs ~10× the
    element-wise rate)."""
    return 12.0 + dense * n / 5.0


def _positive(val, name: str, allow_zero: bool = False) -> float:
    return positive_number(val, name, what="a positive finite time", allow_zero=allow_zero)


def _burn_in_steps(t_burn: float, dt: float) -> int:
    """``⌈t_burn / dt⌉`` steps, refused beyond :data:`MAX_BURN_IN_STEPS`
    (:class:`~volterra_sym.errors.ResourceLimitError`) before any is taken."""
    if t_burn <= 0:
        return 0
    steps = math.ceil(t_burn / dt - 1e-9)
    check_count(steps, MAX_BURN_IN_STEPS, f"a burn-in of t_burn = {t_burn:g} with dt = "
                f"{dt:g}", "steps", "shorten t_burn or raise dt")
    return int(steps)


def _check_burn_in_time(steps: int, paths: int, n: int) -> None:
    """Refuse (:class:`~volterra_sym.errors.ResourceLimitError`) a burn-in whose lower
    time estimate exceeds the Monte Carlo time budget
    (:func:`~volterra_sym.budget.montecarlo_seconds`) before it starts."""
    est = steps * (_STEP_SECONDS + _ELEMENT_SECONDS * paths * n)
    limit = montecarlo_seconds()
    if est > limit:
        raise ResourceLimitError(
            f"a burn-in of {steps:,} steps on {paths:,} paths in {n} dimensions needs at "
            f"least about {est:.3g} s, more than the time budget {limit:g} s "
            "(VOLTERRA_TIME_BUDGET); lower the paths, shorten t_burn or raise dt",
            estimate=est, budget=limit, unit="seconds", option="paths, t_burn or dt")


def _check_rngs(rngs) -> list:
    """The generators of :meth:`sample_blocks` (each a :class:`numpy.random.Generator`)."""
    rngs = list(rngs)
    for rng in rngs:
        if not isinstance(rng, np.random.Generator):
            raise InvalidInputError(f"rng must be a numpy.random.Generator "
                                    f"(np.random.default_rng(seed)), got "
                                    f"{type(rng).__name__} {rng!r:.60}", param="rng")
    return rngs


def _count(val, name: str) -> int:
    return check_int(val, name, lo=1)


def burn_in_sampler(model: SRNN, *, t_burn: float | None = None, dt: float | None = None,
                    start=None) -> BurnInSampler:
    """The :class:`BurnInSampler` of a numeric model (defaults in the module docstring;
    ``start``: a fixed initial state instead of the linearised density)."""
    return BurnInSampler(model, t_burn=t_burn, dt=dt, start=start)


# ---------------------------------------------------------------------- σ(h): §11
class StateNoiseBurnIn:
    """Burn-in sampler for state-dependent noise ``σ(h)`` (docs/theory.md §11), seeded
    Euler–Maruyama

        h_{i+1} = h_i + dt φ(h_i) + σ(h_i) ΔB_i ,     ΔB_i ~ N(0, dt I_r) ,

    from ``h* + N(0, D(h*)/(2κ))`` (``h*`` the fixed point the deterministic flow reaches
    from the origin, ``κ`` the relaxation rate: the slower of the tail drift's and
    ``-∇φ(h*)``'s), run for ``t_burn`` (default :data:`STATE_NOISE_RELAXATION_TIMES` ``/κ``;
    when the flow from 9 starts reaches several stable points, ``metastable``:
    :data:`METASTABLE_RELAXATION_TIMES` ``/κ_tail``, starting from the origin's basin)
    with ``dt = STATE_NOISE_ACCURACY / ρ`` by default, ``ρ = ρ(Γ) + Lip(a)‖W‖₂``. The
    states follow the chain's stationary law, ``O(dt)`` from ``p0``. ``sampler(rng, size)``
    runs one block; ``sample_blocks(rngs, sizes)`` several side by side, block ``j``
    drawing from ``rngs[j]`` (start first, then per step), so the states do not depend on
    how paths are chunked. Attributes ``dt``, ``n_steps``, ``t_burn``, ``relaxation_time``,
    ``center``."""

    def __init__(self, model: SRNN, *, t_burn: float | None = None, dt: float | None = None,
                 start=None):
        if not model.state_dependent_noise:
            raise NotApplicableError("StateNoiseBurnIn is for state-dependent noise σ(h); "
                                     "use burn_in_sampler")
        p = model.numpy_params(state_noise=True)
        self.model, self.n, self.r = model, model.n, model.r
        self.G, self.W, self.b = p["Gamma"], p["W"], p["b"]
        self.act = model.activation.numpy()
        self.sig = model.noise_numpy()
        self.noise = NoiseMap(model)
        lip = activation_lipschitz(model) * float(np.linalg.norm(self.W, 2))
        L = self.G - self.W if model.is_linear else self.G
        fast = float(np.max(np.abs(np.linalg.eigvals(L)))) + (0.0 if model.is_linear else lip)
        rate = self._tail_rate(model, self.G, self.W)
        if not rate > 0:
            raise InvalidInputError(f"the tail drift is not stable (slowest rate {rate:.3g}):"
                                    " no stationary density", param="model")
        ends = self._fixed_points(fast, rate)
        center = ends[0] if ends.shape[0] else np.zeros(self.n)
        tol = 1e-4 * (1.0 + float(np.abs(ends).max(initial=0.0)))
        distinct = [e for i, e in enumerate(ends)
                    if all(np.abs(e - g).max() > tol for g in ends[:i])]
        #: several stable fixed points: relaxation by barrier crossing (as BurnInSampler)
        self.metastable = len(distinct) != 1
        z = self.W @ center + self.b
        J = -self.G + np.asarray(activation_derivative(model)(z), float)[:, None] * self.W \
            if not model.is_linear else -(self.G - self.W)
        lin_rate = float(np.min(np.linalg.eigvals(-J).real))
        if lin_rate > 0 and not self.metastable:
            rate = min(rate, lin_rate)
        self.center, self.relaxation_time = center, 1.0 / rate
        S0 = self.sig(center[None, :])[0]
        self.start_root = psd_sqrt(S0 @ S0.T / (2.0 * rate), "D(h*)/(2κ)")
        self.start_mean = center
        if start is not None:
            h0 = real_array(start, "start", finite=False, copy=True)
            if h0.shape not in ((self.n,), (1, self.n)) or not np.all(np.isfinite(h0)):
                raise InvalidInputError(f"start must be a finite state of shape ({self.n},), "
                                        f"got shape {h0.shape}", param="start")
            self.start_mean, self.start_root = h0.reshape(self.n), None
        dt = STATE_NOISE_ACCURACY / max(fast, rate) if dt is None else _positive(dt, "dt")
        if dt * max(fast, rate) > 2.0:
            raise InvalidInputError(f"dt = {dt:g} is too large for the Euler–Maruyama burn-in: "
                                    f"dt·ρ = {dt * max(fast, rate):.3g} > 2; use dt < "
                                    f"{2.0 / max(fast, rate):.3g}", param="dt")
        times = METASTABLE_RELAXATION_TIMES if self.metastable else \
            STATE_NOISE_RELAXATION_TIMES
        t_burn = times / rate if t_burn is None else \
            _positive(t_burn, "t_burn", allow_zero=True)
        self.dt = dt
        self.n_steps = _burn_in_steps(t_burn, dt)
        self.t_burn = self.n_steps * dt

    @staticmethod
    def _tail_rate(model: SRNN, G: np.ndarray, W: np.ndarray) -> float:
        """Slowest rate of the tail drift: ``Γ`` (bounded activation), ``Γ - W`` (linear),
        else ``Γ - W diag(s)`` for the uniform limiting slopes ``s``."""
        if model.is_linear:
            mats = [G - W]
        elif model.activation.bounded:
            mats = [G]
        else:
            mats = [G - W * float(s) for s in model.activation.slopes_at_infinity]
        return min(float(np.min(np.linalg.eigvals(M).real)) for M in mats)

    def _drift(self, h: np.ndarray) -> np.ndarray:
        return -h @ self.G.T + self.act(h @ self.W.T + self.b)

    def _fixed_points(self, fast: float, rate: float) -> np.ndarray:
        """Ends of the deterministic flow (explicit Euler, step ``0.5/ρ``, time ``30/κ``)
        from 0 (first row) and 8 seeded starts on the noise scale."""
        rng = np.random.default_rng(977)
        S0 = self.sig(np.zeros((1, self.n)))[0]
        spread = 3.0 * math.sqrt(float(np.abs(np.diag(S0 @ S0.T)).max()) / (2.0 * rate)) \
            + float(np.abs(self.b).max(initial=0.0))
        x = np.vstack([np.zeros(self.n), spread * rng.standard_normal((8, self.n))])
        dt = 0.5 / max(fast, rate)
        with np.errstate(all="ignore"):
            for _ in range(int(min(math.ceil(30.0 / (rate * dt)), 20000))):
                x = x + dt * self._drift(x)
        return x[np.all(np.isfinite(x), axis=1)]

    def step(self, h: np.ndarray, dB: np.ndarray) -> np.ndarray:
        """One Euler–Maruyama step of states ``h (P, n)`` with increments ``dB (P, r)``."""
        return euler_maruyama_step(h, self._drift(h), self.dt, dB, self.noise)

    def __call__(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.sample_blocks([rng], [size])

    def sample_blocks(self, rngs: Sequence[np.random.Generator], sizes: Sequence[int]
                      ) -> np.ndarray:
        """States ``(Σ sizes, n)`` after the burn-in, block ``j`` from ``rngs[j]``."""
        rngs = _check_rngs(rngs)
        sizes = [_count(s, "size") for s in sizes]
        P = sum(sizes)
        _check_burn_in_time(self.n_steps, P, self.n)
        check_memory(8.0 * P * (self.n * (4 + self.r) + self.r), f"the burn-in of {P} paths "
                     f"in {self.n} dimensions with σ(h)", "lower the number of paths")
        parts = []
        for rng, size in zip(rngs, sizes, strict=True):
            if self.start_root is None:
                parts.append(np.broadcast_to(self.start_mean, (size, self.n)))
            else:
                parts.append(self.start_mean + rng.standard_normal((size, self.n))
                             @ self.start_root)
        h = self._run(np.vstack(parts), self.n_steps, rngs, sizes)
        return np.ascontiguousarray(h)

    def _run(self, h: np.ndarray, steps: int, rngs, sizes) -> np.ndarray:
        sq = math.sqrt(self.dt)
        for i in range(steps):
            dB = np.vstack([rng.standard_normal((size, self.r)) for rng, size
                            in zip(rngs, sizes, strict=True)]) * sq
            h = self.step(h, dB)
            if i % 64 == 63 and not np.all(np.isfinite(h)):
                raise SimulationError("the burn-in with σ(h) diverged (non-finite states); "
                                      "pass a smaller dt")
        if not np.all(np.isfinite(h)):
            raise SimulationError("the burn-in with σ(h) diverged (non-finite states); pass "
                                  "a smaller dt")
        return h

    def snapshot_blocks(self, rngs: Sequence[np.random.Generator], paths: int, count: int,
                        every: int | None = None) -> list[np.ndarray]:
        """Per block ``j``: ``count`` states of each of ``paths`` burnt-in paths drawn from
        ``rngs[j]``, ``every`` steps apart (default one relaxation time), as an array
        ``(count·paths, n)``. Blocks are independent; states within a block are correlated
        along each path (use whole blocks as the units of a statistical error)."""
        paths, count = _count(paths, "paths"), _count(count, "snapshots")
        every = max(1, int(math.ceil(self.relaxation_time / self.dt))) if every is None \
            else _count(every, "every")
        sizes = [paths] * len(rngs)
        h = self.sample_blocks(rngs, sizes)
        out = np.empty((count, h.shape[0], self.n))
        for i in range(count):
            h = self._run(h, every, rngs, sizes)
            out[i] = h
        return [np.ascontiguousarray(out[:, j * paths:(j + 1) * paths].reshape(-1, self.n))
                for j in range(len(rngs))]


def state_noise_burn_in(model: SRNN, *, t_burn: float | None = None,
                        dt: float | None = None, start=None) -> StateNoiseBurnIn:
    """The :class:`StateNoiseBurnIn` of a numeric model with ``σ(h)``."""
    return StateNoiseBurnIn(model, t_burn=t_burn, dt=dt, start=start)


def _multiplicative_1d_sampler(model: SRNN) -> Sampler:
    """Inverse CDF of the 1-D density with ``D(h)`` (:mod:`.multiplicative`, its table)."""
    from .multiplicative import multiplicative_density

    dens = multiplicative_density(model)
    x, p = dens.table
    return inverse_cdf_sampler(dens.pdf_numpy(), float(x[0]), float(x[-1]))


# ---------------------------------------------------------------------- choice
#: the ``method`` of :func:`stationary_sampler`
SAMPLING_METHODS = ("auto", "gaussian", "inverse_cdf", "burn_in")


def stationary_sampler(model: SRNN, method: str = "auto", **burn_in) -> Sampler:
    """A sampler of ``p0`` for ``model``.

    ``method``: ``"auto"`` (exact Gaussian for linear models, inverse CDF for n = 1,
    otherwise burn-in), ``"gaussian"``, ``"inverse_cdf"`` or ``"burn_in"`` (keyword
    arguments go to :func:`burn_in_sampler`).
    """
    check_model(model)
    if method not in SAMPLING_METHODS:
        raise InvalidInputError(f"method must be {'/'.join(SAMPLING_METHODS)}, got "
                                f"{method!r}", param="method")
    unknown = sorted(set(burn_in) - {"t_burn", "dt", "start"})
    if unknown:
        raise InvalidInputError(f"unknown burn-in option(s) {unknown}; allowed: t_burn, dt, "
                                "start", param=unknown[0])
    if burn_in and method not in ("auto", "burn_in"):
        raise InvalidInputError(f"burn-in options {sorted(burn_in)} need method='burn_in'",
                                param="method")
    if model.state_dependent_noise:     # docs/theory.md §11: Euler–Maruyama with σ(h)
        if method == "gaussian":
            raise NotApplicableError("method 'gaussian' does not apply: p0 is not Gaussian "
                                     "with state-dependent noise")
        if method == "inverse_cdf" and model.n != 1:
            raise NotApplicableError("method 'inverse_cdf' does not apply: inverse CDF needs "
                                     "n = 1")
        if model.n == 1 and method != "burn_in" and not burn_in:
            return _multiplicative_1d_sampler(model)
        return state_noise_burn_in(model, **burn_in)
    kind = density_kind(model)
    if method == "burn_in" or (method == "auto" and burn_in):
        return burn_in_sampler(model, **burn_in)
    if method in ("auto", "gaussian") and kind == "gaussian":
        return gaussian_sampler(*gaussian_moments(model))
    if method in ("auto", "inverse_cdf") and model.n == 1:
        return inverse_cdf_sampler(*one_dim_density(model))
    if method != "auto":
        raise NotApplicableError(f"method {method!r} does not apply to {model!r}: "
                                 + ("p0 is Gaussian only for a linear activation"
                                    if method == "gaussian" else "inverse CDF needs n = 1"))
    return burn_in_sampler(model)
