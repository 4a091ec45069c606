"""The error bound of a Monte Carlo estimate (docs/theory.md §7).

An estimate ``v(dt)`` at time step ``dt`` whose O(dt) bias ``b ≈ 2[v(dt) − v(dt/2)]`` was
measured on the same Brownian paths (standard error ``se_b``) is within::

    ERROR_Z·se + |b| + ERROR_Z·se_b + rel·max|b| + MC_ROUNDING·max|v|

of the continuous-time quantity; a Richardson-extrapolated ``v − b`` within
``ERROR_Z·se + rel·max|b|`` (+ the rounding floor). ``rel`` (:func:`richardson_rel`) bounds
the bias estimate's own O(dt²) error: ``max(RICHARDSON_REL, κ)``, ``κ = (rate + ω)·dt``, and
is unknown (``None``, so is the bound) beyond ``κ = RICHARDSON_RATE_MAX``. The maxima run
over the times or lags.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..budget import check_memory
from ..model import SRNN
from .integrators import fastest_rate
from .simulate import input_table

__all__ = ["ERROR_Z", "RICHARDSON_REL", "RICHARDSON_RATE_MAX", "MC_ROUNDING",
           "richardson_rel", "input_rate", "table_rate", "rounding_floor", "time_step_error"]


#: standard errors in the Monte Carlo results' ``error`` (and in ``verify``'s comparisons):
#: from ≥ 30 paths ``|Δ|/se`` exceeds 4 with probability below 1e-3
ERROR_Z = 4.0
#: bound of the O(dt²) remainder left by the measured O(dt) bias, relative to the largest
#: ``|bias|`` over the times or lags: ``b ≈ c₁dt`` leaves ``≈ c₂dt²/2``; with ``|c₂/c₁|`` a
#: few input or relaxation rates and ``dt = 0.01`` that is ≲ 2 % of ``max|b|`` (measured
#: ≤ 1.6 % on linear2d with ``f = h1``, whose response has no noise at all); the constant
#: adds a margin. The largest ``|bias|``, not each entry's own: where the bias crosses 0 its
#: remainder does not (a noise-free linear response at dt = 0.02 was 9.8e-5 off with a
#: measured bias of 8.6e-5 there and 3.8e-3 elsewhere)
RICHARDSON_REL = 0.05


#: beyond this ``κ = rate·dt`` the measured O(dt) bias says nothing of its remainder (the
#: expansion in ``dt`` is not asymptotic): the ``error`` is unknown (``None``)
RICHARDSON_RATE_MAX = 0.5


def richardson_rel(model: SRNN, dt: float, input_rate: float = 0.0) -> float | None:
    """The bound of the remainder left by a measured O(dt) bias, relative to ``max|bias|``:
    ``max(RICHARDSON_REL, κ)`` with ``κ = (r + ω)·dt``, ``r`` the drift's fastest rate
    (:func:`.integrators.fastest_rate`) and ``ω`` the input's (:func:`input_rate`); ``None``
    (unknown) for ``κ > RICHARDSON_RATE_MAX``. The weak error ``c₁dt + c₂dt² + …`` leaves,
    after the measured ``c₁dt``, a remainder ``≈ (c₂/c₁)(dt/2)·|bias|`` with ``|c₂/c₁|`` of
    the order of those rates: ``κ`` has a factor 2 to spare. Measured (Monte Carlo with
    the exact response): ``linear2d`` with ``u = sin 20t`` at ``dt = 0.02`` needed 0.059
    (``κ = 0.44``); ``sin 10t`` and ``sin 20t`` at ``dt = 0.05`` (``κ ≥ 0.5``) and ``tanh1d``
    at ``dt = 0.5–1`` needed 0.07–0.14, which no fixed constant can promise."""
    p = model.numpy_params(state_noise=True)
    kappa = (fastest_rate(model, p) + float(input_rate)) * float(dt)
    return None if kappa > RICHARDSON_RATE_MAX else max(RICHARDSON_REL, kappa)


def input_rate(u: Callable, m: int, dt: float, steps: int) -> float:
    """``max |u(t + dt/2) − u(t)| / (dt/2 · max|u|)`` over the run's half steps: the input's
    rate (``ω`` for ``sin ωt``; 0 for a constant or absent input)."""
    if u is None or steps < 1:
        return 0.0
    check_memory(8.0 * 2 * steps * m, f"the input at {2 * steps:,} half steps",
                 "lower the times")
    return table_rate(input_table(u, np.arange(2 * steps + 1) * (dt / 2), m), dt / 2)


def table_rate(tab: np.ndarray, spacing: float) -> float:
    """``max |u_{i+1} − u_i| / (spacing · max|u|)`` of an input table ``(T, m)`` on a grid
    of ``spacing`` (:func:`input_rate` of a table the engine already has)."""
    top = float(np.max(np.abs(tab), initial=0.0))
    if top == 0.0 or tab.shape[0] < 2:
        return 0.0
    return float(np.max(np.abs(np.diff(tab, axis=0)))) / spacing / top


#: relative floating-point floor of the Monte Carlo errors: the time stepping rounds at
#: every step (the exponential scheme on a linear model with a constant input, exact but for
#: rounding, was 9e-16 off with a statistical error of 1e-16)
MC_ROUNDING = 1e3 * np.finfo(float).eps


def rounding_floor(values, axis: int = 0) -> np.ndarray:
    """``MC_ROUNDING·max|values|`` along ``axis`` (the times or lags)."""
    v = np.abs(np.asarray(values, float))
    return MC_ROUNDING * (np.max(v, axis=axis, keepdims=True) if v.ndim else v)


def time_step_error(stderr, bias, bias_stderr, z: float = ERROR_Z, axis: int = 0, *,
                    rel: float | None) -> np.ndarray | None:
    """``z·se + |bias| + z·se_bias + rel·max|bias|`` (the maximum along ``axis``, the times
    or lags): a bound on ``|value − x|`` for an estimate ``value`` at ``dt`` whose O(dt)
    bias ``bias ≈ 2[v(dt) − v(dt/2)]`` was measured (standard error ``se_bias``) — the bias
    estimate is itself O(dt²) off, which the last term bounds (``rel``, always given:
    :func:`richardson_rel` of the run; ``None``: unknown, and so is the bound)."""
    if rel is None:
        return None
    b = np.abs(np.asarray(bias, float))
    rem = rel * np.max(b, axis=axis, keepdims=True) if b.ndim else rel * b
    return z * np.asarray(stderr, float) + b + z * np.asarray(bias_stderr, float) + rem
