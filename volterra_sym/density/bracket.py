"""Where the mass of a one-dimensional ``p0`` lies (docs/theory.md §3, ``n = 1``).

For ``n = 1``, ``p0 ∝ exp(2U/D)`` with ``U' = φ``. On a window ``[c - R, c + R]`` of
``points`` equispaced nodes ``log p0`` is tabulated as ``2/D`` times the cumulative
trapezoidal integral of ``φ`` (error ``O(Δx²)``, no closed form needed) and shifted so
that its maximum is 0. The window is moved to the maximum and doubled while the set
``{log p0 ≥ -drop}`` touches its edge, halved while ``log p0`` overflows, and zoomed in
while that set is narrower than 1/20 of the window (so the bracket is resolved by at
least ~400 nodes). The bracket ``[lo, hi]`` is that set widened by one node on each side.

This is the one bracketing routine of the package: the inverse-CDF sampler, the spectral
grid's 1-D box, the Taylor backend's quadrature and the density's own 30-digit quadrature
all start from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError, NotApplicableError
from ..model import SRNN
from ..model.cache import derived
from .linearisation import arrays, drift

__all__ = ["Bracket1D", "bracket_1d", "log_density_1d"]


@dataclass(frozen=True)
class Bracket1D:
    """A resolved bracket of a 1-D ``p0``.

    ``lo, hi``: the bracket; ``x, logp``: the last window and ``log p0 - max`` on it
    (trapezoidal); ``mode``: the grid argmax; ``mean, sd``: moments of the tabulated
    density (Riemann sums on the window); ``drop``: the log-depth of the bracket.
    """

    lo: float
    hi: float
    x: np.ndarray
    logp: np.ndarray
    mode: float
    mean: float
    sd: float
    drop: float

    def pdf(self, x) -> np.ndarray:
        """The tabulated density, normalised on the window (linear interpolation, 0 off
        the window)."""
        w = np.exp(self.logp)
        Z = float(np.trapezoid(w, self.x))
        return np.interp(np.asarray(x, dtype=float), self.x, w / Z, left=0.0, right=0.0)


def log_density_1d(model: SRNN, x: np.ndarray) -> np.ndarray:
    """``2U(x)/D`` up to a constant, ``U`` the cumulative trapezoid of ``φ`` on the
    increasing grid ``x``."""
    phi = drift(model)(np.asarray(x, dtype=float)[:, None])[:, 0]
    U = np.concatenate([[0.0], np.cumsum(0.5 * (phi[1:] + phi[:-1]) * np.diff(x))])
    return 2.0 * U / float(arrays(model)["D"][0, 0])


def _bracket(model: SRNN, drop: float, points: int) -> Bracket1D:
    if model.n != 1:
        raise NotApplicableError(f"the 1-D bracket needs n = 1, the model has n = {model.n}")
    p = arrays(model)
    Dv = float(p["D"][0, 0])
    if not Dv > 0:
        raise NotApplicableError("D = σσᵀ is zero: no stationary density without noise")
    c = 0.0
    R = 8.0 * (1.0 + math.sqrt(Dv) + abs(float(p["b"][0])))
    for _ in range(80):
        xs = np.linspace(c - R, c + R, points)
        with np.errstate(over="ignore", invalid="ignore"):
            lp = log_density_1d(model, xs)
        if not np.all(np.isfinite(lp)):
            R /= 2
            continue
        top = int(np.argmax(lp))
        lp = lp - lp[top]
        inside = np.flatnonzero(lp >= -drop)
        if inside[0] == 0 or inside[-1] == xs.size - 1:  # mass reaches the window edge
            c, R = float(xs[top]), 2 * R
            continue
        i0, i1 = max(inside[0] - 1, 0), min(inside[-1] + 1, xs.size - 1)
        a, b = float(xs[i0]), float(xs[i1])
        if (b - a) < R / 20:  # zoom in for a sharper boundary
            c, R = 0.5 * (a + b), 0.75 * (b - a)
            continue
        w = np.exp(lp)
        mean = float(np.sum(w * xs) / w.sum())
        sd = math.sqrt(float(np.sum(w * (xs - mean) ** 2) / w.sum()))
        for arr in (xs, lp):
            arr.flags.writeable = False
        return Bracket1D(a, b, xs, lp, float(xs[top]), mean, sd, float(drop))
    raise NotApplicableError("could not locate the bulk of the stationary density (n = 1): "
                             "the drift does not confine the state")


def bracket_1d(model: SRNN, drop: float = 60.0, points: int = 8001) -> Bracket1D:
    """The (cached) :class:`Bracket1D` of a numeric one-dimensional model: the smallest
    grid interval holding ``{log p0 ≥ max log p0 - drop}``, widened by one node."""
    if not (math.isfinite(drop) and drop > 0):
        raise InvalidInputError(f"drop must be a positive log-depth, got {drop!r}",
                                param="drop")
    return derived(model, ("density", "bracket_1d", float(drop), int(points)),
                   lambda: _bracket(model, float(drop), int(points)))
