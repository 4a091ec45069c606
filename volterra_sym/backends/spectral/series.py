"""The forward form of the spectral route: ``c_N' = Λ c_N + Σ_k u_k(t) B_kᵀ c_{N-1}``,
``T_N(t) = c_N(t)ᵀ a_0``, integrated by an exponential integrator (docs/theory.md §6)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ...errors import (
    AccuracyNotReachedError,
    InvalidInputError,
    UnsupportedOrderError,
)
from ...model import SRNN
from .collocation import (
    Discretisation,
)
from .options import _LOBATTO_Q, _MAX_STEPS, MAX_SERIES_ORDER, _blas_limited, _options
from .refinement import _fscale, _fvals, _refine, _rounding, discretisation


# ---------------------------------------------------------------------- series (ETD)
def _phi_functions(z: np.ndarray, pmax: int) -> np.ndarray:
    """``φ_0..φ_pmax`` at ``z``: ``φ_0 = e^z``, ``φ_{p+1}(z) = (φ_p(z) - 1/p!)/z``,
    ``φ_p(z) = Σ_k z^k/(k+p)!`` (Taylor, 30 terms, for ``|z| < 2``: no cancellation)."""
    z = np.asarray(z)
    out = np.empty((pmax + 1,) + z.shape, dtype=np.result_type(z, float))
    with np.errstate(over="ignore", under="ignore"):
        out[0] = np.exp(z)
    small = np.abs(z) < 2.0
    zb = np.where(small, 1.0, z)
    for p in range(pmax):
        out[p + 1] = (out[p] - 1.0 / math.factorial(p)) / zb
    if np.any(small):
        zs = z[small]
        for p in range(pmax + 1):
            acc = np.zeros_like(zs) + 1.0 / math.factorial(p + 30)
            for k in range(29, -1, -1):
                acc = acc * zs + 1.0 / math.factorial(p + k)
            out[p][small] = acc
    return out


def _lobatto(q: int) -> np.ndarray:
    """Chebyshev–Lobatto nodes on ``[0, 1]`` (increasing)."""
    return 0.5 * (1.0 - np.cos(np.pi * np.arange(q) / (q - 1)))


def _etd_weights(z: np.ndarray, theta: np.ndarray, Lc: np.ndarray) -> np.ndarray:
    """``W_l = ∫_0^θ e^{z(θ-v)} ℓ_l(v) dv`` (per unit step) for Lagrange polynomials
    ``ℓ_l(v) = Σ_p Lc[p, l] v^p``: ``W_l = θ Σ_p Lc[p, l] θ^p p! φ_{p+1}(zθ)``.
    ``z`` ``(M,)``, ``theta`` ``(T,)`` -> ``(T, q, M)``."""
    q = Lc.shape[0]
    x = theta[:, None] * z[None, :]
    ph = _phi_functions(x, q)  # (q+1, T, M)
    fact = np.array([math.factorial(p) for p in range(q)], dtype=float)
    powers = theta[None, :] ** np.arange(q)[:, None]  # (q, T)
    terms = ph[1:] * (fact[:, None, None] * powers[:, :, None])  # (q, T, M): p, T, M
    return theta[:, None, None] * np.einsum("pl,ptm->tlm", Lc, terms)


@dataclass
class _Propagation:
    """One run of the forward hierarchy on a grid with ``K`` uniform steps."""

    K: int
    delta: float
    ends: list[np.ndarray]  # per order: c_N at step endpoints (K+1, M)
    forcing: list[np.ndarray]  # per order: F_N at the nodes (K, q, M)

    def endpoint_terms(self, a0: np.ndarray) -> np.ndarray:
        """``T_N`` at the step ends: ``(order, K+1)``."""
        return np.array([np.real(c @ a0) for c in self.ends])

    def magnitudes(self, a0: np.ndarray) -> np.ndarray:
        """``max_t ‖c_N(t)‖ ‖a0‖`` per order: the size rounding acts on (Cauchy–Schwarz;
        the aligned ``Σ|c_j a0_j|`` misses errors across symmetry classes)."""
        na = float(np.linalg.norm(a0))
        return np.array([float(np.linalg.norm(c, axis=1).max()) * na for c in self.ends])


class _InputSampler:
    """``u`` at the Lobatto nodes of ``K`` uniform steps (cached per K)."""

    def __init__(self, u: Callable, m: int, tmax: float, q: int):
        self.u, self.m, self.tmax, self.q = u, m, tmax, q
        self.theta = _lobatto(q)
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


def _propagate(dz: Discretisation, order: int, K: int, tmax: float, usamp: np.ndarray,
               Lc: np.ndarray, theta: np.ndarray) -> _Propagation:
    """Exponential integrator for ``c_N' = Λ c_N + Σ_k u_k B_kᵀ c_{N-1}``, ``c_0 = e_{j0}``."""
    q = theta.size
    M, lam = dz.M, dz.lam
    delta = tmax / K
    z = lam * delta
    E = np.exp(z)
    Wend = _etd_weights(z, np.array([1.0]), Lc)[0] * delta  # (q, M)
    inner = theta[1:-1]
    Wint = _etd_weights(z, inner, Lc) * delta  # (q-2, q, M)
    Eint = np.exp(inner[:, None] * z[None, :])  # (q-2, M)
    dtype = np.result_type(lam, dz.V)
    ends, forcing = [], []
    nodes = None
    for N in range(1, order + 1):
        F = np.zeros((K, q, M), dtype=dtype)
        for k in range(usamp.shape[2]):
            uk = usamp[:, :, k]
            if not np.any(uk):
                continue
            if N == 1:  # c_0 = e_{j0}: the forcing is the row B_k[j0]
                F += uk[:, :, None] * dz.last_row(k)[None, None, :]
            else:  # rows c_{N-1}ᵀ B_k
                F += uk[:, :, None] * (nodes.reshape(-1, M) @ dz.B[k]).reshape(K, q, M)
        b = np.einsum("kqm,qm->km", F, Wend)
        c = np.zeros((K + 1, M), dtype=dtype)
        for i in range(K):
            c[i + 1] = E * c[i] + b[i]
        nodes = np.empty((K, q, M), dtype=dtype)
        nodes[:, 0] = c[:-1]
        nodes[:, -1] = c[1:]
        nodes[:, 1:-1] = Eint[None] * c[:-1, None, :] + np.einsum("kqm,jqm->kjm", F, Wint)
        ends.append(c)
        forcing.append(F)
    return _Propagation(K, delta, ends, forcing)


def _output(dz: Discretisation, prop: _Propagation, a0: np.ndarray, times: np.ndarray,
            Lc: np.ndarray) -> np.ndarray:
    """``T_N`` at arbitrary ``times`` from the step data: partial step from the left end."""
    K, delta = prop.K, prop.delta
    z = dz.lam * delta
    out = np.empty((len(prop.ends), times.size))
    idx = np.minimum((times / delta).astype(int), K - 1) if delta > 0 else \
        np.zeros(times.size, dtype=int)
    theta = np.clip(times / delta - idx, 0.0, 1.0) if delta > 0 else np.zeros(times.size)
    ca = [c * a0 for c in prop.ends]
    Fa = [F * a0 for F in prop.forcing]
    chunk = max(1, int(2e6 // (dz.M * (Lc.shape[0] + 2))))
    for s in range(0, times.size, chunk):
        sl = slice(s, s + chunk)
        th, ii = theta[sl], idx[sl]
        W = _etd_weights(z, th, Lc) * delta  # (T, q, M)
        Eth = np.exp(th[:, None] * z[None, :])
        for N in range(len(prop.ends)):
            val = np.sum(Eth * ca[N][ii], axis=1) + np.einsum("tlm,tlm->t", W, Fa[N][ii])
            out[N, sl] = np.real(val)
    return out


@dataclass
class SeriesResult:
    """``terms`` ``(order+1, T)``; ``error`` (same shape) = spatial + temporal estimates;
    ``resolution`` (points per axis) and ``steps`` (uniform ETD steps)."""

    terms: np.ndarray
    error: np.ndarray
    resolution: int
    steps: int


@_blas_limited
def series_terms(model: SRNN, f: sp.Expr, order: int, u: Callable, times,
                 **options) -> SeriesResult:
    """``T_0..T_order`` at ``times`` through the forward hierarchy (module docstring)."""
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise InvalidInputError(f"order must be a positive integer, got {order!r}")
    if order > MAX_SERIES_ORDER:
        raise UnsupportedOrderError(f"spectral series supports orders ≤ {MAX_SERIES_ORDER}, "
                                    f"got {order}")
    times = np.asarray(times, dtype=float)
    if times.ndim != 1 or times.size == 0 or not np.all(np.isfinite(times)) \
            or times[0] < 0 or np.any(np.diff(times) < 0):
        raise InvalidInputError("times must be a non-empty 1-d array of finite, non-negative, "
                         "non-decreasing values")
    f = sp.sympify(f)
    opts = _options(model, options)
    tmax = float(times[-1])
    q = _LOBATTO_Q
    theta = _lobatto(q)
    Lc = np.linalg.inv(theta[:, None] ** np.arange(q)[None, :])
    sampler = _InputSampler(u, model.m, tmax, q) if tmax > 0 else None
    state: dict = {}

    def time_converged(dz: Discretisation, a0: np.ndarray) -> _Propagation:
        """Double the steps until the endpoint values of two runs agree to tol/4."""
        if "K" in state:
            return _propagate(dz, order, state["K"], tmax, sampler(state["K"]), Lc, theta)
        slow = np.abs(np.real(dz.lam[np.arange(dz.M) != dz.j0]))
        rate = float(slow.min()) if slow.size else 1.0
        itemsize = 16 if np.iscomplexobj(dz.V) else 8
        kmax = int(min(_MAX_STEPS, opts.memory_budget / (3 * q * dz.M * itemsize * order)))
        K = int(min(max(8, math.ceil(tmax * max(rate, 1e-3))), max(kmax, 8)))
        prev = None
        while True:
            prop = _propagate(dz, order, K, tmax, sampler(K), Lc, theta)
            ends = prop.endpoint_terms(a0)
            if prev is not None:
                scale = np.maximum(np.abs(ends).max(1), 1e-300)
                noise = _rounding(dz, 1.0) * prop.magnitudes(a0)
                diff = np.abs(ends[:, ::2] - prev).max(1)
                if np.all(diff <= opts.tol / 4 * scale + noise):
                    state["K"], state["time_err"] = K, diff
                    return prop
            if 2 * K > kmax:
                raise AccuracyNotReachedError(
                    f"spectral series: the time integration did not reach tol={opts.tol:g} "
                    f"with {K} steps of Δt={tmax / K:.3g} (the step limit from "
                    f"memory_budget={opts.memory_budget / 1e9:.3g} GB and at most "
                    f"{_MAX_STEPS} steps); is the input u smooth?")
            prev, K = ends, 2 * K

    def evaluate(Nres: int):
        dz = discretisation(model, Nres, opts.cut)
        fv, a0 = _fvals(model, f, dz)
        fsc = _fscale(dz, fv)
        m0 = dz.mean(fv)
        noise = np.full((order + 1, 1), _rounding(dz, fsc))
        if sampler is None:
            vals = np.zeros((order + 1, 1))
            vals[0] = m0
            return vals, np.full((order + 1, 1), max(fsc, abs(m0))), noise
        prop = time_converged(dz, a0)
        ends = prop.endpoint_terms(a0)
        noise[1:, 0] = _rounding(dz, 1.0) * prop.magnitudes(a0)
        state.setdefault("props", {})[Nres] = prop
        vals = np.vstack([[np.full(ends.shape[1], m0)], ends])
        scale = np.maximum(np.abs(vals).max(1, keepdims=True), 1e-300)
        return vals, scale, noise

    val, diff, Nf = _refine(model, opts, evaluate, f"series of order {order}")
    dz = discretisation(model, Nf, opts.cut)
    fv, a0 = _fvals(model, f, dz)
    out = np.empty((order + 1, times.size))
    out[0] = dz.mean(fv)
    err = np.empty_like(out)
    err[0] = diff[0].max()
    if sampler is None:
        out[1:] = 0.0
        err[1:] = 0.0
        return SeriesResult(out, err, Nf, 0)
    prop = state["props"][Nf]
    out[1:] = _output(dz, prop, a0, times, Lc)
    spatial = diff[1:].max(1, keepdims=True)
    err[1:] = spatial + state.get("time_err", np.zeros(order))[:, None]
    return SeriesResult(out, err, Nf, prop.K)


