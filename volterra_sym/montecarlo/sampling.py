"""Initial states drawn from the stationary density ``p0`` and the conjugate variables
``v_k = -C_k·∇ log p0`` of the fluctuation–dissipation relation (docs/theory.md §3, §4, §7).

A *sampler* is a callable ``sampler(rng, size) -> array (size, n)``. The engine calls it once
per fixed block of paths with that block's own generator, so initial states do not depend
on how paths are chunked.

* :func:`gaussian_sampler` — exact, ``h = μ + S^{1/2} z`` (linear models: ``μ = A⁻¹b``,
  ``A S + S Aᵀ = D``).
* :func:`inverse_cdf_sampler` — one dimension: the normalised density tabulated on a grid,
  its CDF by the trapezoidal rule, ``h = F⁻¹(U)`` by linear interpolation.
* :func:`burn_in_sampler` — anything else: a long unperturbed run from a fixed start.
* :func:`stationary_sampler` — picks one of the above for a model (closed forms for linear
  and one-dimensional models are computed here; other models go through
  :func:`volterra_sym.density.stationary_density`, imported lazily).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.linalg

from ..model import SRNN
from .integrators import (
    EstimatorNotApplicableError,
    Integrator,
    SimulationError,
    check_time_step,
    model_arrays,
    psd_sqrt,
)

__all__ = ["Sampler", "BurnInSampler", "gaussian_sampler", "inverse_cdf_sampler", "burn_in_sampler",
           "stationary_sampler", "ou_stationary", "one_dim_density", "conjugate_variables",
           "second_conjugate_variables"]

Sampler = Callable[[np.random.Generator, int], np.ndarray]


# ---------------------------------------------------------------------- closed forms
def ou_stationary(model: SRNN) -> tuple[np.ndarray, np.ndarray]:
    """``(μ, S)`` of a linear model: ``μ = A⁻¹ b``, ``A S + S Aᵀ = D``, ``A = Γ - W``."""
    if not model.is_linear:
        raise SimulationError("ou_stationary needs a linear activation")
    p = model_arrays(model)
    A = p["Gamma"] - p["W"]
    mu = np.linalg.solve(A, p["b"])
    S = scipy.linalg.solve_continuous_lyapunov(A, p["D"])
    return mu, 0.5 * (S + S.T)


def one_dim_density(model: SRNN, n_grid: int = 20001) -> tuple[Callable, float, float]:
    """Normalised ``p0`` of a one-dimensional model and a range ``[lo, hi]`` holding its mass.

    ``p0 ∝ exp(2U/D)`` with ``U' = φ``. The closed form of
    :mod:`volterra_sym.density` is used when available; otherwise ``U`` is the cumulative
    trapezoidal integral of ``φ`` on a fine grid (error O(grid step²)).
    """
    if model.n != 1:
        raise SimulationError(f"one_dim_density needs n = 1, the model has n = {model.n}")
    p = model_arrays(model)
    phi = model.drift_numpy()
    Dv = float(p["D"][0, 0])
    R = 1.0 + abs(float(p["b"][0])) + abs(float(p["W"][0, 0]))
    g = max(abs(float(p["Gamma"][0, 0] - (p["W"][0, 0] if model.is_linear else 0.0))), 1e-3)
    half = R / g + 40.0 * np.sqrt(Dv / (2.0 * g))
    for _ in range(30):  # widen until the log-density has dropped by > 60 at both ends
        xs = np.linspace(-half, half, n_grid)
        f = phi(xs[:, None])[:, 0]
        logp = 2.0 / Dv * np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1])
                                                           * np.diff(xs))])
        top = logp.max()
        if logp[0] < top - 60 and logp[-1] < top - 60:
            break
        half *= 2.0
    else:
        raise SimulationError("could not bracket the mass of the one-dimensional density")
    keep = logp > top - 60
    lo, hi = float(xs[keep].min()), float(xs[keep].max())
    try:
        from ..density import stationary_density
        dens = stationary_density(model)
        pdf = dens.pdf_numpy()
        pdf(np.array([[0.5 * (lo + hi)]]))
        return (lambda x: np.asarray(pdf(np.asarray(x, float)[..., None]), float)), lo, hi
    except (ImportError, NotImplementedError):
        pass
    w = np.exp(logp - top)
    Z = float(np.trapezoid(w, xs))

    def pdf_grid(x):
        return np.interp(np.asarray(x, float), xs, w / Z, left=0.0, right=0.0)
    return pdf_grid, lo, hi


# ---------------------------------------------------------------------- samplers
def gaussian_sampler(mean, cov) -> Sampler:
    """Exact draws from ``N(mean, cov)`` (``cov`` positive semi-definite)."""
    mean = np.atleast_1d(np.asarray(mean, dtype=float))
    cov = np.atleast_2d(np.asarray(cov, dtype=float))
    if cov.shape != (mean.size, mean.size):
        raise SimulationError(f"cov has shape {cov.shape}, expected {(mean.size, mean.size)}")
    root = psd_sqrt(cov, "cov")

    def sample(rng: np.random.Generator, size: int) -> np.ndarray:
        return mean + rng.standard_normal((size, mean.size)) @ root
    return sample


def inverse_cdf_sampler(pdf: Callable, lo: float, hi: float, n_grid: int = 20001) -> Sampler:
    """One-dimensional draws ``F⁻¹(U)`` from a density tabulated on ``[lo, hi]``.

    The CDF is the cumulative trapezoidal integral of ``pdf`` on ``n_grid`` points,
    renormalised to 1 on the grid; ``F⁻¹`` is interpolated linearly.
    """
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise SimulationError(f"need a finite range lo < hi, got [{lo}, {hi}]")
    xs = np.linspace(lo, hi, int(n_grid))
    ps = np.asarray(pdf(xs), dtype=float).reshape(-1)
    if ps.shape != xs.shape or not np.all(np.isfinite(ps)) or np.any(ps < 0):
        raise SimulationError("pdf must return finite non-negative values of the grid's shape")
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (ps[1:] + ps[:-1]) * np.diff(xs))])
    if cdf[-1] <= 0:
        raise SimulationError("pdf has no mass on [lo, hi]")
    cdf /= cdf[-1]

    def sample(rng: np.random.Generator, size: int) -> np.ndarray:
        return np.interp(rng.random(size), cdf, xs)[:, None]
    return sample


def _relaxation_time(model: SRNN, p: dict) -> float:
    L = p["Gamma"] - p["W"] if model.is_linear else p["Gamma"]
    rate = float(np.min(np.linalg.eigvals(L).real))
    return 1.0 / max(rate, 1e-6)


def burn_in_sampler(model: SRNN, *, t_burn: float | None = None, dt: float | None = None,
                    scheme: str = "exponential", start=None) -> Sampler:
    """States after an unperturbed run of length ``t_burn`` from ``start`` (default 0).

    Default ``t_burn = 50 τ`` with ``τ = 1 / min Re λ(Γ)`` (``λ(A)`` for linear models);
    default ``dt = min(0.01, τ/20)``, halved until the stability check accepts it. The result
    is distributed as the *discretised* chain's stationary law (bias O(dt) for Euler) and
    only approximately stationary when the dynamics is metastable: choose ``t_burn`` well
    beyond the slowest relaxation.
    """
    p = model_arrays(model)
    tau = _relaxation_time(model, p)
    t_burn = 50.0 * tau if t_burn is None else float(t_burn)
    if dt is None:
        dt = min(0.01, tau / 20.0)
        for _ in range(40):
            try:
                check_time_step(model, p, dt, scheme)
                break
            except SimulationError:
                dt /= 2.0
    check_time_step(model, p, dt, scheme)
    n_steps = max(1, int(np.ceil(t_burn / dt)))
    integ = Integrator(model, p, scheme, dt)
    h_start = np.zeros(model.n) if start is None else np.asarray(start, float).reshape(model.n)
    return BurnInSampler(integ, h_start, n_steps)


class BurnInSampler:
    """Sampler by burn-in (see :func:`burn_in_sampler`).

    ``sampler(rng, size)`` runs one block; ``sample_blocks(rngs, sizes)`` runs several
    blocks side by side (vectorised over all their paths) with the same numbers: each block
    consumes its own generator in the order (step, noise coordinate, path).
    """

    def __init__(self, integ: Integrator, h_start: np.ndarray, n_steps: int):
        self.integ, self.h_start, self.n_steps = integ, h_start, n_steps

    def __call__(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.sample_blocks([rng], [size])

    def sample_blocks(self, rngs: list, sizes: list[int]) -> np.ndarray:
        integ, K = self.integ, 16
        P, d = sum(sizes), integ.noise_dim
        h = np.tile(self.h_start[:, None], (1, P))      # layout (n, P)
        nxt = np.empty_like(h)
        eta = np.empty((K, integ.n, P))
        z = np.empty(K * d * max(sizes))
        const = integ.const[:, None]
        integ.allocate(h.shape)
        for k0 in range(0, self.n_steps, K):
            kb = min(K, self.n_steps - k0)
            pos = 0
            for rng, size in zip(rngs, sizes, strict=True):
                zb = z[:kb * d * size].reshape(kb, d, size)
                rng.standard_normal(out=zb)
                integ.noise(zb, eta[:kb, :, pos:pos + size], None)
                pos += size
            for kk in range(kb):
                integ.step(h, nxt)
                nxt += eta[kk]
                nxt += const
                h, nxt = nxt, h
        if not np.all(np.isfinite(h)):
            raise SimulationError("burn-in diverged (non-finite states)")
        return np.ascontiguousarray(h.T)


def stationary_sampler(model: SRNN, method: str = "auto", **burn_in) -> Sampler:
    """A sampler of ``p0`` for ``model``.

    ``method``: ``"auto"`` (exact Gaussian for linear models, inverse CDF for n = 1,
    the density module's Gaussian if it reports one, otherwise burn-in), ``"gaussian"``,
    ``"inverse_cdf"`` or ``"burn_in"`` (keyword arguments go to :func:`burn_in_sampler`).
    """
    if method not in ("auto", "gaussian", "inverse_cdf", "burn_in"):
        raise SimulationError(f"method must be auto/gaussian/inverse_cdf/burn_in, got {method!r}")
    if method == "burn_in":
        return burn_in_sampler(model, **burn_in)
    if method in ("auto", "gaussian") and model.is_linear:
        return gaussian_sampler(*ou_stationary(model))
    if method in ("auto", "inverse_cdf") and model.n == 1:
        pdf, lo, hi = one_dim_density(model)
        return inverse_cdf_sampler(pdf, lo, hi)
    if method != "auto":
        raise SimulationError(f"method {method!r} does not apply to {model!r}")
    try:
        from ..density import stationary_density
        dens = stationary_density(model)
        if dens.kind == "gaussian":
            mean, cov = (getattr(dens, a) for a in ("mean_numpy", "cov_numpy"))
            mean, cov = (x() if callable(x) else x for x in (mean, cov))
            return gaussian_sampler(mean, cov)
    except (ImportError, NotImplementedError):
        pass
    return burn_in_sampler(model, **burn_in)


# ---------------------------------------------------------------------- conjugate variables
def conjugate_variables(model: SRNN) -> Callable[[np.ndarray], np.ndarray]:
    """``v(h)``: array ``(..., n)`` -> ``(..., m)``, ``v_k = -C_k·∇ log p0`` (docs/theory.md §4).

    Linear: ``v_k(h) = C_kᵀ S⁻¹ (h - μ)``. One dimension: ``v_k = -2 C_k φ(h) / D``.
    Otherwise from :func:`volterra_sym.density.stationary_density` (closed-form kinds only).
    """
    p = model_arrays(model)
    C = p["C"]
    if model.is_linear:
        mu, S = ou_stationary(model)
        try:
            M = np.linalg.solve(S, C)  # S⁻¹ C, (n, m)
        except np.linalg.LinAlgError:
            raise EstimatorNotApplicableError(
                "the stationary covariance S is singular (degenerate noise): "
                "no conjugate variable; use method='girsanov'") from None
        return lambda x: (np.asarray(x, float) - mu) @ M
    if model.n == 1:
        phi = model.drift_numpy()
        Dv = float(p["D"][0, 0])
        row = -2.0 * C[0] / Dv
        return lambda x: phi(np.asarray(x, float)) * row
    try:
        from ..density import stationary_density
        return stationary_density(model).conjugate_numpy()
    except NotImplementedError as exc:
        raise EstimatorNotApplicableError(f"no conjugate variable for {model!r}: {exc}; "
                                          "use method='girsanov' (needs C = σB)") from None


def second_conjugate_variables(model: SRNN, v: Callable | None = None
                               ) -> Callable[[np.ndarray], np.ndarray]:
    """``w(h)``: ``(..., n)`` -> ``(..., m, m)``, ``w_{k1k2} = v_{k1} v_{k2} - C_{k1}·∇v_{k2}``.

    ``<p0, L_{k2} L_{k1} g> = E_0[w_{k1k2}(h) g(h)]`` (integrate by parts twice:
    ``(C_{k1}·∇)(C_{k2}·∇)p0 = w_{k1k2} p0``). Linear: ``C_{k1}·∇v_{k2} = C_{k1}ᵀS⁻¹C_{k2}``
    (constant); otherwise a central difference of ``v`` along ``C_{k1}`` (step 1e-5, error
    ~1e-10 relative).
    """
    p = model_arrays(model)
    C = p["C"]
    v = conjugate_variables(model) if v is None else v
    if model.is_linear:
        _, S = ou_stationary(model)
        G = C.T @ np.linalg.solve(S, C)

        def w_lin(x):
            vx = v(x)
            return vx[..., :, None] * vx[..., None, :] - G
        return w_lin
    scale = 1e-5 * (1.0 + float(np.max(np.abs(C))))

    def w_fd(x):
        x = np.asarray(x, float)
        vx = v(x)
        out = vx[..., :, None] * vx[..., None, :]
        for k1 in range(C.shape[1]):
            e = scale * C[:, k1]
            out[..., k1, :] -= (v(x + e) - v(x - e)) / (2.0 * scale)
        return out
    return w_fd
