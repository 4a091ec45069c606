"""The forward form of the spectral route: ``c_N' = Λ c_N + Σ_k u_k(t) B_kᵀ c_{N-1}``,
``T_N(t) = c_N(t)ᵀ a_0``, integrated by an exponential integrator (docs/theory.md §6)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ...arrays import check_int
from ...budget import Deadline
from ...errors import (
    InvalidInputError,
    UnsupportedOrderError,
)
from ...model import SRNN
from ..modal import ForwardRun, InputSampler, converged_forward, forward_grid, forward_output
from ..stepping import budget_option
from .collocation import (
    Discretisation,
)
from .options import _LOBATTO_Q, _MAX_STEPS, MAX_SERIES_ORDER, _blas_limited, _options
from .refinement import _fscale, _fvals, _refine, _rounding, discretisation


# ---------------------------------------------------------------------- series (ETD)
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
    """``T_0..T_order`` at ``times`` through the forward hierarchy (module docstring).
    Option ``time_budget`` (seconds, default
    :data:`~volterra_sym.budget.DEFAULT_TIME_BUDGET`): every forward run of the refinement
    steps under one :class:`~volterra_sym.budget.Deadline` (checked between steps; a
    doubled run whose predicted time ends past it is not started)."""
    order = check_int(order, "order", lo=1)
    if order > MAX_SERIES_ORDER:
        raise UnsupportedOrderError(f"spectral series supports orders ≤ {MAX_SERIES_ORDER}, "
                                    f"got {order}")
    times = np.asarray(times, dtype=float)
    if times.ndim != 1 or times.size == 0 or not np.all(np.isfinite(times)) \
            or times[0] < 0 or np.any(np.diff(times) < 0):
        raise InvalidInputError("times must be a non-empty 1-d array of finite, non-negative, "
                                "non-decreasing values", param="times")
    f = sp.sympify(f)
    options = dict(options)
    seconds = budget_option({"time_budget": options.pop("time_budget", None)})
    opts = _options(model, options)
    tmax = float(times[-1])
    deadline = Deadline(seconds, f"the spectral series up to t = {tmax:.6g} at order {order}",
                        "request a shorter time span (t_max), a slower input u, a looser "
                        "tol or a lower order")
    q = _LOBATTO_Q
    theta, Lc = forward_grid(q)
    sampler = InputSampler(u, model.m, tmax, q) if tmax > 0 else None
    state: dict = {}

    def time_converged(dz: Discretisation, a0: np.ndarray) -> ForwardRun:
        """Double the steps until the endpoint values of two runs agree to tol/4."""
        prop, K, err = converged_forward(
            dz, a0, order, tmax, sampler, theta, Lc, tol=opts.tol,
            memory_budget=opts.memory_budget, noise_unit=_rounding(dz, 1.0),
            max_steps=_MAX_STEPS, what="spectral series", K=state.get("K"),
            deadline=deadline)
        if "K" not in state:
            state["K"], state["time_err"] = K, err
        return prop

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
    out[1:] = forward_output(dz, prop, a0, times, Lc)
    spatial = diff[1:].max(1, keepdims=True)
    err[1:] = spatial + state.get("time_err", np.zeros(order))[:, None]
    return SeriesResult(out, err, Nf, prop.K)


