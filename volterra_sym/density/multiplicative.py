"""The 1-D stationary density with state-dependent noise (docs/theory.md §11).

    p0(h) = Z⁻¹ D(h)⁻¹ exp( ∫_{h*}^{h} 2φ(s)/D(s) ds ) ,     D(h) = σ(h)² > 0 on the support,

(zero flux: ``φ p0 − ½ (D p0)' = 0``). The support ``(lo, hi)`` is bounded by zeros of ``D``
at which the drift points inwards (:meth:`SRNN.check_noise`). ``L0* p0 = 0`` is verified
symbolically with the integral left unevaluated (``d/dh ∫^h = integrand``). Numbers:
``log p0`` tabulated by the cumulative trapezoid of ``2φ/D`` on a fine grid, refined by
Richardson extrapolation (``O(Δx⁴)``), normalised by quadrature on the bracket where
``log p0 ≥ max − 60``.

The conjugate variables of docs/theory.md §10 are closed forms:
``v^{(j)}_k = −(c' + c (log p0)')`` with ``(log p0)' = 2φ/D − D'/D`` and
``c = a^{(j)}(z) C_{k_1}⋯C_{k_j} / j!`` (``<p0, L^{(j)}_k g> = E_0[v^{(j)}_k g]``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import sympy as sp

from ..errors import NotApplicableError
from ..model import SRNN
from ..model.cache import derived
from ..operators import fokker_planck, kick_conjugate
from .classify import ReadOnly

__all__ = ["MultiplicativeDensity1D", "multiplicative_density", "Verification1D"]


@dataclass(frozen=True)
class Verification1D:
    """``L0* p0 / p0`` simplified (``residual``) and whether it is 0."""

    ok: bool
    residual: sp.Expr
    exact: bool = True

    def __bool__(self) -> bool:
        return self.ok


class MultiplicativeDensity1D(ReadOnly):
    """``p0`` of a numeric 1-D model with ``σ = σ(h)`` (see module docstring)."""

    kind = "one_dim_noisy"
    has_closed_form = True

    def __init__(self, model: SRNN):
        if model.n != 1:
            raise NotApplicableError(f"the 1-D density with D(h) needs n = 1, the model has "
                                     f"n = {model.n}")
        self._init(model=model, h=model.h, support=model.check_noise())

    # ------------------------------------------------------------------ symbolic
    @cached_property
    def anchor(self) -> sp.Expr:
        """``h*``: the lower limit of the integral (a point of the support)."""
        return sp.Rational(repr(round(self._bulk_point(), 3)))

    @cached_property
    def log_unnormalised(self) -> sp.Expr:
        """``log p0 = −log D(h) + ∫_{h*}^{h} 2φ/D ds`` (+ const), the integral unevaluated."""
        h = self.h[0]
        s = sp.Dummy("s", real=True)
        D = self.model.D[0, 0]
        phi = self.model.drift[0]
        integrand = (2 * phi / D).subs(h, s)
        return -sp.log(D) + sp.Integral(integrand, (s, self.anchor, h))

    @property
    def expr(self) -> sp.Expr:
        """``p0`` up to ``Z`` (``exp(log_unnormalised)``)."""
        return sp.exp(self.log_unnormalised)

    def verify(self) -> Verification1D:
        """``L0* p0 / p0`` simplifies to 0 (computed once)."""
        return derived(self.model, ("density", "multiplicative", "verify"), self._verify)

    def _verify(self) -> Verification1D:
        """``L0*`` applied to ``exp(F(h)) / D(h)`` with ``F`` undefined, ``exp(F)`` cancelled,
        then ``F' = 2φ/D`` (the derivative of the integral) and ``F''`` substituted; the
        activation values become a symbol so that the residual is a rational function."""
        h = self.h[0]
        F = sp.Function("F")(h)
        D = self.model.D[0, 0]
        ratio = sp.expand(sp.powsimp(fokker_planck(self.model, sp.exp(F) / D) / sp.exp(F)))
        dF = sp.diff(self.log_unnormalised + sp.log(D), h)     # the integrand 2φ/D
        ratio = ratio.subs(sp.Derivative(F, (h, 2)), sp.diff(dF, h)).subs(
            sp.Derivative(F, h), dF)
        acts = sorted(ratio.atoms(sp.Function) - {F}, key=sp.default_sort_key)
        ys = sp.symbols(f"y0:{len(acts)}")
        # derivatives of the activation are rewritten through a (tanh' = 1 - tanh², ...)
        ratio = sp.cancel(sp.together(ratio.subs(dict(zip(acts, ys, strict=True)))))
        ratio = ratio.subs(dict(zip(ys, acts, strict=True)))
        return Verification1D(ratio == 0, ratio)

    def check(self) -> Verification1D:
        ver = self.verify()
        if not ver.ok:
            raise NotApplicableError(f"the 1-D density with D(h) failed verification: "
                                     f"L0* p0 / p0 = {ver.residual}")
        return ver

    def dlog(self) -> sp.Expr:
        """``(log p0)' = 2φ/D − D'/D``."""
        h = self.h[0]
        D = self.model.D[0, 0]
        return 2 * self.model.drift[0] / D - sp.diff(D, h) / D

    def conjugate_variable(self, ks) -> sp.Expr:
        """``v^{(j)}_k = −p0⁻¹ (c p0)' = −(c' + c (log p0)')`` (docs/theory.md §10)."""
        return kick_conjugate(self.model, ks, [self.dlog()])

    # ------------------------------------------------------------------ numbers
    def log_density(self, x: np.ndarray) -> np.ndarray:
        """``log p0`` up to a constant on an increasing grid ``x`` inside the support
        (cumulative trapezoid of ``2φ/D`` on ``x`` and on its midpoint refinement,
        Richardson-extrapolated)."""
        x = np.asarray(x, dtype=float)
        g = self._numpy_parts()
        x0 = self._bulk_point()

        def cum(xs):
            # from the bulk point outwards: a (near-)singular end of the support, where
            # 2φ/D blows up, never offsets the values in the bulk
            v = g["ratio"](xs)
            i0 = int(np.argmin(np.abs(xs - x0)))
            inc = 0.5 * (v[1:] + v[:-1]) * np.diff(xs)
            out = np.zeros(xs.size)
            out[i0 + 1:] = np.cumsum(inc[i0:])
            out[:i0] = -np.cumsum(inc[:i0][::-1])[::-1]
            return out
        fine = np.empty(2 * x.size - 1)
        fine[0::2] = x
        fine[1::2] = 0.5 * (x[1:] + x[:-1])
        I1, I2 = cum(x), cum(fine)[0::2]
        return -np.log(g["D"](x)) + (4 * I2 - I1) / 3

    def _numpy_parts(self) -> dict:
        def build():
            h = self.h[0]
            D = self.model.D[0, 0]
            Df = sp.lambdify(h, D, "numpy")
            rf = sp.lambdify(h, 2 * self.model.drift[0] / D, "numpy")
            return {"D": lambda x: np.asarray(Df(x), float) * np.ones_like(x),
                    "ratio": lambda x: np.asarray(rf(x), float) * np.ones_like(x)}
        return derived(self.model, ("density", "multiplicative", "numpy"), build)

    @cached_property
    def bracket(self) -> tuple[float, float]:
        """``[a, b]`` inside the support holding ``{log p0 ≥ max − 60}``."""
        lo, hi = self.support
        x0 = self._bulk_point()
        a = lo + 1e-9 * max(1.0, abs(lo)) if math.isfinite(lo) else x0 - 4.0
        b = hi - 1e-9 * max(1.0, abs(hi)) if math.isfinite(hi) else x0 + 4.0
        for _ in range(60):
            xs = np.linspace(a, b, 20001)
            with np.errstate(all="ignore"):
                lp = self.log_density(xs)
            ok = np.isfinite(lp)
            lp = np.where(ok, lp, -np.inf)
            lp -= lp.max()
            inside = np.flatnonzero(lp >= -60.0)
            grow_left = inside[0] == 0 and not math.isfinite(lo)
            grow_right = inside[-1] == xs.size - 1 and not math.isfinite(hi)
            if not (grow_left or grow_right):
                i0, i1 = max(inside[0] - 1, 0), min(inside[-1] + 1, xs.size - 1)
                return float(xs[i0]), float(xs[i1])
            if grow_left:
                a = x0 - 2 * (x0 - a)
            if grow_right:
                b = x0 + 2 * (b - x0)
        raise NotApplicableError(
            f"sigma: the 1-D density with D(h) = σ(h)² = {self.model.D[0, 0]} does not fall "
            f"to e^-60 of its peak on [{a:.3g}, {b:.3g}]: its tail is too heavy (a σ(h) "
            "growing like |h| makes p0 decay only like a power of |h|, and averages of "
            "polynomial observables may not exist); use a σ(h) that grows slower than |h| "
            "(e.g. bounded)")

    def _bulk_point(self) -> float:
        return derived(self.model, ("density", "multiplicative", "bulk"), self._bulk)

    def _bulk(self) -> float:
        fn = sp.lambdify(self.h[0], self.model.drift[0], "math")
        lo, hi = self.support
        x = 0.0 if (lo < 0 < hi) else (lo + 1.0 if math.isfinite(lo) else hi - 1.0)
        for _ in range(20000):
            x = min(max(x + 0.01 * fn(x), lo + 1e-6), hi - 1e-6)
        return x

    @cached_property
    def table(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x, p0(x))`` on 40,001 points of :attr:`bracket`, normalised (Simpson)."""
        a, b = self.bracket
        x = np.linspace(a, b, 40001)
        lp = self.log_density(x)
        p = np.exp(lp - lp.max())
        w = np.full(x.size, 2.0)
        w[1::2] = 4.0
        w[0] = w[-1] = 1.0
        Z = float(np.sum(w * p) * (x[1] - x[0]) / 3)
        return x, p / Z

    def pdf_numpy(self):
        """Normalised ``p0`` (interpolated table; 0 off the bracket)."""
        x, p = self.table
        return lambda y: np.interp(np.asarray(y, float), x, p, left=0.0, right=0.0)

    def expectation_numpy(self, g) -> float:
        """``E_0[g(h)]`` by Simpson's rule on the table (``g`` vectorised)."""
        x, p = self.table
        w = np.full(x.size, 2.0)
        w[1::2] = 4.0
        w[0] = w[-1] = 1.0
        return float(np.sum(w * p * np.asarray(g(x), float)) * (x[1] - x[0]) / 3)

    def latex(self) -> str:
        return (r"p_0(h) = \frac{1}{Z\,D(h)} \exp\left(\int_{h_*}^{h} \frac{2\varphi(s)}{D(s)}"
                r"\,ds\right),\quad D(h) = " + sp.latex(self.model.D[0, 0]))


def multiplicative_density(model: SRNN) -> MultiplicativeDensity1D:
    """The (cached) 1-D density with ``D(h)`` of ``model``."""
    return derived(model, ("density", "multiplicative"), lambda: MultiplicativeDensity1D(model))
