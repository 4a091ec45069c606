"""The truncated short-lag series of one kernel and its error model (docs/theory.md §5).

For sorted lags ``σ_1 ≤ … ≤ σ_N`` with gaps ``τ_1 = σ_1``, ``τ_j = σ_j - σ_{j-1}``::

    K_k(σ) ≈ Σ_{|p| ≤ d} c_{k,p} Π_j τ_j^{p_j} / p_j! .

*Radius.* With the shell majorants ``m_q = Σ_{|p|=q} |c_{k,p}| / p!`` (``p! = Π p_j!``),
``|Σ_{|p|=q} c_p τ^p/p!| ≤ m_q ‖τ‖_∞^q``. On the *reliable* shells (known to 25 %), the
per-step ratios ``ρ_q = m_q / m_{q-1}`` are extrapolated linearly in ``q`` from the last two
windows (dips filled, the last shell's too), and the radius at degree ``d`` (in the largest gap
``‖τ‖_∞``) is ``1/ρ_{d+1}``. Lags beyond it are refused with
:class:`~volterra_sym.backends.BackendError` (a
:class:`~volterra_sym.errors.NotApplicableError` naming the radius; ``on_radius="warn"``:
a :class:`TaylorAccuracyWarning` and an infinite error).

*Truncation.* The terms of order ``> d`` continued from the last reliable shell with the
extrapolated ratios, summed while they decrease, times 2. For a kernel of several kicks
the shell majorant ``m_q ‖τ‖^q`` overstates the terms when the gaps differ (a coefficient
growing in ``p_2`` is counted at ``τ_1``): along the ray through the lag point
(``τ̂ = τ/‖τ‖_∞``) the terms are majorised by ``m_q(τ̂) ‖τ‖^q``,
``m_q(τ̂) = Σ_{|p|=q} |c_p| τ̂^p/p! ≤ m_q``, and the estimate is scaled by the largest share
``f(τ̂) = max_q m_q(τ̂)/m_q`` over the last (up to 3) reliable shells, times 3
(:data:`RAY_SAFETY`; never above the shells' estimate) — the growth of the
terms is still the shells', since a ray's own shells can dip and then catch up (on
``tanh1d_inside`` the ray ``τ_2 = 0`` of ``K^{(1,1)}`` falls to ``q = 6`` and rises 13× per
step after it: its own ratio model under-estimated the error 9× at degree 6).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.special

from .. import BackendError
from ..coverage import batch_error
from .options import TaylorAccuracyWarning

__all__ = ["TaylorSeries", "kernel_label"]

_EPS = np.finfo(float).eps
#: factor on the ray's share of the shell majorant (:meth:`TaylorSeries._ray_fraction`):
#: unscaled, the share under-covered 23 of 40 random lag points of the 1-D tanh K_11 at
#: degree 4 (smallest estimate/actual 0.64; the shells' own estimate missed 4 of them)
RAY_SAFETY = 3.0


def kernel_label(channels) -> str:
    """``[1, 2]`` for channels ``(0, 1)``; ``[12, 1]`` for kicks ``((0, 1), (0,))``
    (1-based, docs/theory.md §10)."""
    if any(isinstance(c, (tuple, list)) for c in channels):
        return "[" + ", ".join("".join(str(x + 1) for x in c) for c in channels) + "]"
    return str([int(c) + 1 for c in channels])


@dataclass
class TaylorSeries:
    """The truncated series of one kernel: ``K(σ) ≈ Σ_{|p|≤d} c_p Π τ_j^{p_j}/p_j!``.

    Attributes: ``channels``, ``degree``, ``powers (K, N)``, ``coeffs (K,)``, ``rounding``
    ``(K,)`` error estimates of the coefficients from floating point (and, on the ``grid``
    route, from the discretised ``p0``: ``|<p0_grid, L0 Q>|`` for the chain ``Q``, which
    vanishes for the exact ``p0``), ``batches (K, B)``
    per-batch coefficients (sampling route) or ``None``, ``route`` and ``info``.
    """

    channels: tuple[int, ...]
    degree: int
    powers: np.ndarray
    coeffs: np.ndarray
    rounding: np.ndarray
    batches: np.ndarray | None
    route: str
    info: dict = field(default_factory=dict)

    @property
    def order(self) -> int:
        return len(self.channels)

    @cached_property
    def _inv_fact(self) -> np.ndarray:
        return 1.0 / np.prod(scipy.special.factorial(self.powers), axis=1)

    @property
    def coefficients(self) -> dict[tuple[int, ...], float]:
        """``{p: c_{k,p}}``."""
        return {tuple(int(q) for q in p): float(c)
                for p, c in zip(self.powers, self.coeffs, strict=True)}

    @property
    def coefficient_stderr(self) -> np.ndarray:
        """Standard errors of the coefficients (zeros for exact routes)."""
        if self.batches is None:
            return np.zeros_like(self.coeffs)
        B = self.batches.shape[1]
        return self.batches.std(axis=1, ddof=1) / math.sqrt(B)

    def _shell(self, weights: np.ndarray) -> np.ndarray:
        q = self.powers.sum(axis=1)
        return np.bincount(q, weights=weights * self._inv_fact, minlength=self.degree + 1)

    @cached_property
    def shell_norms(self) -> np.ndarray:
        """``m_q = Σ_{|p|=q} |c_p| / p!`` for ``q = 0..degree``."""
        return self._shell(np.abs(self.coeffs))

    @cached_property
    def shell_uncertainty(self) -> np.ndarray:
        """Rounding + 2 s.e. of the shells, ``Σ_{|p|=q} (δc_p + 2 se_p) / p!``."""
        return self._shell(self.rounding + 2 * self.coefficient_stderr)

    @cached_property
    def reliable_shells(self) -> list[int]:
        """Shells ``q ≥ 1`` whose majorant is non-zero and known to 25 % (rounding + 2 s.e.);
        the radius estimate uses these only."""
        return _reliable(self.shell_norms, self.shell_uncertainty, self.degree)

    @cached_property
    def _ratio_model(self) -> tuple[int, float, float, float, float] | None:
        """``(q*, ρ*, slope, b*, m*)``: the last reliable shell ``q*``, the per-step shell
        ratio ``ρ(q) = m_q/m_{q-1} ≈ ρ* + slope (q - b*)`` and the tail's base
        (:func:`_ratio_model`)."""
        return _ratio_model(self.shell_norms, self.reliable_shells)

    @cached_property
    def radius(self) -> float:
        """Estimated radius of convergence, in the largest gap ``‖τ‖_∞``, of the series at
        this degree: ``1/ρ(d+1)`` with the shell ratios ``ρ(q) = m_q/m_{q-1}`` extrapolated
        linearly from the last two reliable shells (Domb–Sykes-like; a ratio test when the
        ratios settle). ``inf`` when the last shells vanish (a polynomial in the gaps).

        For nonlinear activations the ratios usually keep growing with ``q`` (the
        eigen-coefficients of analytic-in-a-strip activations decay sub-geometrically, so
        the series can be asymptotic): the estimate is the valid lag range *at this degree*
        and shrinks as the degree grows."""
        m = self.shell_norms
        negligible = 1e-13 * m.max()
        tail = range(max(self.degree - 1, 1), self.degree + 1)
        if all(m[q] <= negligible and self.shell_uncertainty[q] <= negligible for q in tail):
            return math.inf  # the last shells vanish: a polynomial in the gaps
        model = self._ratio_model
        if model is None:
            return 0.0
        _, rho, slope, b, _ = model
        nxt = rho + slope * (self.degree + 1 - b)
        return math.inf if nxt <= 0 else 1.0 / nxt

    def _tail(self, gap: np.ndarray) -> np.ndarray:
        """Truncation estimate: continue the last reliable shell majorant
        ``m_{q*} ‖τ‖^{q*}`` with the extrapolated ratios and sum the terms of order
        ``> degree`` while they decrease (the remainder of an asymptotic series is of the
        order of its smallest terms), times a safety factor 2 (checked against an
        independent 1-D reference, where the unscaled sum tracks the true error within a
        factor 1.5); ``inf`` when the first of them does not decrease."""
        return _tail(self._ratio_model, self.shell_norms, self.degree, gap)

    def _ray_fraction(self, tau: np.ndarray, gap: np.ndarray) -> np.ndarray:
        """``min(1, 3 f(τ̂))``, ``f(τ̂) = max_{q ∈ W} m_q(τ̂)/m_q`` (module docstring): the
        largest share of the shell majorant that the ray through each lag point carries on
        the last (up to 3) reliable shells ``W``, ``m_q(τ̂) = Σ_{|p|=q} |c_p| τ̂^p/p!`` with
        ``τ̂ = τ/‖τ‖_∞``, times :data:`RAY_SAFETY`; 1 at ``gap = 0`` or without reliable
        shells."""
        out = np.ones(gap.shape)
        window = self.reliable_shells[-3:]
        pos = gap > 0
        if not window or not pos.any():
            return out
        hat = tau[pos] / gap[pos, None]
        q = self.powers.sum(axis=1)
        cols = np.isin(q, window)
        mono = np.prod(hat[:, None, :] ** self.powers[None, cols, :], axis=2) \
            * self._inv_fact[cols]
        onehot = (q[cols][:, None] == np.asarray(window)[None, :]).astype(float)
        ray = (mono * np.abs(self.coeffs[cols])) @ onehot          # (P, |W|)
        frac = ray / self.shell_norms[np.asarray(window)][None, :]
        out[pos] = np.clip(RAY_SAFETY * frac.max(axis=1), 0.0, 1.0)
        return out

    def evaluate(self, sorted_lags: np.ndarray, on_radius: str = "raise",
                 alternatives: str = "another route that applies (exact, spectral, "
                                          "galerkin or Monte Carlo)",
                 directional: bool = True):
        """``(values, truncation_error, statistical_error, rounding_error)`` at sorted lags
        ``(P, N)``; lags beyond :attr:`radius` raise (``on_radius="warn"``: warn, error inf;
        the message suggests shorter lags or ``alternatives``). ``directional=False``: the
        truncation estimate of the shells only (a bound for *every* lag whose gaps are at
        most the largest gap of the point, not the estimate along its ray)."""
        lags = np.asarray(sorted_lags, dtype=float).reshape(-1, self.order)
        tau = np.diff(lags, axis=1, prepend=0.0)
        if np.any(tau < -1e-12 * np.maximum(1.0, np.abs(lags).max(initial=0.0))):
            raise BackendError("sorted_lags must be sorted along the last axis "
                               "(σ_1 ≤ … ≤ σ_N)")
        tau = np.maximum(tau, 0.0)
        mono = np.prod(tau[:, None, :] ** self.powers[None, :, :], axis=2) * self._inv_fact
        values = mono @ self.coeffs
        rnd = mono @ self.rounding + 16 * _EPS * (mono @ np.abs(self.coeffs))
        stat = np.zeros_like(values)
        if self.batches is not None:          # z_B batch standard errors (coverage)
            stat = batch_error(mono @ self.batches, axis=1)
        r = self.radius
        gap = tau.max(axis=1)
        trunc = np.zeros_like(values)
        if math.isfinite(r):
            trunc = self._tail(gap)
            if self.order > 1 and directional:
                trunc = trunc * self._ray_fraction(tau, gap)

            bad = (gap >= r) & (gap > 0)
            trunc[bad] = np.inf
            if bad.any() and self._ratio_model is None:
                if self.degree < MIN_LAST_SHELL:
                    msg = (f"the short-lag Taylor series of K{kernel_label(self.channels)} "
                           f"at degree {self.degree} has no estimate of its truncation "
                           "error: the ratios of its first shells are not yet those of "
                           f"its tail (the last shell must be ≥ {MIN_LAST_SHELL}) — use "
                           f"degree ≥ {MIN_LAST_SHELL}, or {alternatives}")
                else:
                    msg = (f"the short-lag Taylor series of K{kernel_label(self.channels)} "
                           f"at degree {self.degree} has no radius estimate: too few of its "
                           f"shells are known to 25 % (reliable: {self.reliable_shells}, "
                           f"the last must be ≥ {MIN_LAST_SHELL}; rounding and sampling "
                           "swamp the high-order coefficients) — lower the degree, or use "
                           f"{alternatives}")
                if on_radius == "raise":
                    raise BackendError(msg)
                warnings.warn(msg, TaylorAccuracyWarning, stacklevel=3)
            elif bad.any():
                msg = (f"lags with largest gap {gap[bad].max():.4g} are beyond the estimated "
                       f"radius of convergence r ≈ {r:.4g} of the short-lag Taylor series of "
                       f"K{kernel_label(self.channels)} at degree {self.degree} (shell "
                       f"ratio test on shells {self.reliable_shells[-3:]}); the series is "
                       f"meaningless there — use shorter lags or {alternatives}")
                if on_radius == "raise":
                    raise BackendError(msg)
                warnings.warn(msg, TaylorAccuracyWarning, stacklevel=3)
        return values, trunc, stat, rnd


def _reliable(m: np.ndarray, u: np.ndarray, degree: int) -> list[int]:
    """Shells ``q ≥ 1`` with ``m_q`` non-zero (above ``1e-13 max m``) and known to 25 %
    (``u_q ≤ m_q/4``)."""
    top = m.max() if m.size else 0.0
    return [q for q in range(1, degree + 1)
            if m[q] > 1e-13 * top and m[q] > 0 and u[q] <= 0.25 * m[q]]


#: the lowest last reliable shell of a ratio model: the shell ratios of the first orders are
#: not yet those of the tail — K₁ of a 2-unit tanh network at degree 2 (``m_0, m_1, m_2``)
#: came out 2.0–3.5× its reported error at lags 0.05–1.5 (against an independent
#: Fokker–Planck solution; at degree 3: 0.37–0.65, at 4: 0.12–0.19)
MIN_LAST_SHELL = 3


def _ratio_model(m: np.ndarray, qs: list[int]
                 ) -> tuple[int, float, float, float, float] | None:
    """``(q*, ρ*, slope, b*, m*)`` of shells ``m`` with reliable shells ``qs``: the per-step
    ratio ``ρ(q) = m_q/m_{q-1} ≈ ρ* + slope (q - b*)`` and the base ``m*`` of the tail.

    Interior dips (an accidentally small shell, ``m_q < √(m_{q-1} m_{q+1})``) are filled
    with the geometric mean of their neighbours, and a last shell below the log-linear
    extrapolation of the two before it with that extrapolation (``m*``; from four shells
    on, ``m_0`` counting where non-zero — tanh3's K₁₁ at degree 7 has three reliable
    ones and ``m_0 = 0``, 0.029, 0.13, 0.23, whose
    ratios fall as a converging series' do, and filling the third doubled the ratio and
    made verify's galerkin-vs-taylor comparison WEAK): a coefficient
    crossing 0 at the last degree made the ratios and the base too small — on a 2-unit
    softplus network, ``|c_6|/6!`` = 1.0e-4 after 4.8e-3 and 4.3e-2 put K₁'s error at
    degree 6 at 1/9 of the actual one, and at degree 8 (``m_8`` below the trend again)
    at 1/2.4 of it (``c_9, c_10`` = −3.9, 23 start the growth). ``ρ*`` is the
    geometric-mean ratio over
    the last (up to 3) steps between reliable shells, centred at ``b*``, and ``slope``
    compares it with the previous (up to 3) steps, clipped at ≥ 0."""
    pts = ([0] if m[0] > 0 else []) + qs
    if len(pts) < 2 or not qs or qs[-1] < MIN_LAST_SHELL:
        return None
    lm = np.log(np.array([m[q] for q in pts]))
    q_arr = np.array(pts, dtype=float)
    for i in range(1, len(pts) - 1):  # fill dips (log-linear interpolation)
        t = (q_arr[i] - q_arr[i - 1]) / (q_arr[i + 1] - q_arr[i - 1])
        lm[i] = max(lm[i], (1 - t) * lm[i - 1] + t * lm[i + 1])
    if len(pts) >= 4:               # a dip at the last shell (not among the first three)
        lm[-1] = max(lm[-1], lm[-2] + (lm[-2] - lm[-3]) * (q_arr[-1] - q_arr[-2])
                     / (q_arr[-2] - q_arr[-3]))
    steps = len(pts) - 1
    w = min(3, max(1, steps // 2)) if steps >= 2 else 1
    late_a, late_b = len(pts) - 1 - w, len(pts) - 1
    rho = math.exp((lm[late_b] - lm[late_a]) / (q_arr[late_b] - q_arr[late_a]))
    centre = 0.5 * (q_arr[late_a] + q_arr[late_b]) + 0.5
    slope = 0.0
    if late_a - w >= 0:
        ea = late_a - w
        rho0 = math.exp((lm[late_a] - lm[ea]) / (q_arr[late_a] - q_arr[ea]))
        c0 = 0.5 * (q_arr[ea] + q_arr[late_a]) + 0.5
        slope = max(0.0, (rho - rho0) / (centre - c0))
    return qs[-1], rho, slope, centre, float(math.exp(lm[-1]))


def _tail(model: tuple[int, float, float, float, float] | None, m: np.ndarray, degree: int,
          gap: np.ndarray) -> np.ndarray:
    """The truncation estimate of :meth:`TaylorSeries._tail` for shells ``m`` and their
    ratio ``model``, at largest gaps ``gap``."""
    if model is None:
        return np.where(gap > 0, np.inf, 0.0)
    qstar, rho, slope, b, base = model
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        term = base * gap ** qstar
        total = np.zeros_like(gap)
        alive = gap > 0
        for q in range(qstar + 1, qstar + 400):
            x = (rho + slope * (q - b)) * gap
            if q > degree:
                alive &= x < 1.0
            term = term * x
            if q > degree:
                total = np.where(alive, total + term, total)
            if q > degree and not np.any(alive & (term > 1e-17 * (total + 1e-300))):
                break
        first = (rho + slope * (degree + 1 - b)) * gap
        total = np.where(first >= 1.0, np.inf, 2.0 * total)  # ×2: safety factor
    return total
