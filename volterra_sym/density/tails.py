"""Whether ``<f>_0 = ∫ f p0`` exists: the observable's growth against the tail of ``p0``.

With a constant noise ``D = σσᵀ`` the tail of ``p0`` is Gaussian: at large ``|h|`` the drift
is ``-A h`` plus a bounded part, with ``A = Γ`` for a bounded activation and ``A = Γ - W``
for the linear one, so that along a ray ``h = μ + r e``

    log p0(μ + r e) = -r² eᵀS⁻¹e / 2 + O(r),        A S + S Aᵀ = D

(``S`` the Lyapunov covariance). An unbounded nonlinear activation (softplus) switches
between ``Γ - W diag(a'(-∞))`` and ``Γ - W diag(a'(+∞))`` by orthant, and the tail of such
a non-gradient drift is no single Gaussian: no claim is made there, nor with a
state-dependent noise for n ≥ 2 (for n = 1 the tabulated ``log p0`` is compared instead,
:func:`_noisy_tail_divergence`: its tails can be power laws, so that polynomials of high
degree have no average either). An
``f`` with ``log|f|`` growing faster than that along some ray has no average: ``exp(h⁴)``,
``exp(exp(h))``, ``exp(c h²)`` with ``c`` well above ``eᵀS⁻¹e/2``. The numeric routes would
return a number for it (the spectral grid gave ``<exp(exp(h1))>_0 ≈ 2.1e159 ± 2.1e159`` for
tanh1d, only as large as its grid is wide). The test is one-sided: it claims divergence
only where the growth beats the Gaussian tail by :data:`MARGIN` nats between two far
radii, so an ``f`` on the edge (``c`` close to ``eᵀS⁻¹e/2``) is let through.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..model import SRNN
from ..model.cache import derived
from .linearisation import linearisation, lyapunov
from .stationary import complex_log

__all__ = ["average_diverges", "TAIL_RADII", "MARGIN"]

#: the two radii of the test, in tail standard deviations ``1/√(eᵀS⁻¹e)`` along the ray:
#: ``log p0`` falls by ``(k₂² − k₁²)/2`` = 600 nats between them
TAIL_RADII = (20.0, 40.0)
#: the growth of ``log|f|`` between the radii must beat the fall of ``log p0`` by this
#: factor (the ``O(r)`` part of ``log p0`` is at most a few tens of nats there)
MARGIN = 1.5
#: radii of the test for n = 1 with σ(h): up to 4^NOISY_TAIL_STEPS times the bracket's reach
NOISY_TAIL_STEPS = 4
#: random directions tried besides ``±`` the axes and ``±`` the eigenvectors of ``S``
RANDOM_DIRECTIONS = 32


def _tail_precisions(model: SRNN) -> np.ndarray | None:
    """``S⁻¹`` of the tail (module docstring), or None where the tail is not known to be
    that Gaussian (state-dependent noise, an unbounded nonlinear activation, a singular
    ``S``)."""
    if model.state_dependent_noise:
        return None
    p = model.numpy_params()
    if model.is_linear:
        A = p["Gamma"] - p["W"]
    elif model.activation.bounded:
        A = p["Gamma"]
    else:
        return None
    S = lyapunov(A, p["D"])
    w = np.linalg.eigvalsh(S)
    if w.min() <= 1e-12 * max(w.max(), 1e-300):
        return None
    return np.linalg.inv(S)


def _directions(n: int, S: np.ndarray) -> np.ndarray:
    """Unit rays: ``±`` axes, ``±`` eigenvectors of ``S``, seeded random ones."""
    eye = np.eye(n)
    eig = np.linalg.eigh(S)[1].T
    rnd = np.random.default_rng(0).standard_normal((RANDOM_DIRECTIONS, n))
    rnd /= np.linalg.norm(rnd, axis=1, keepdims=True)
    base = np.vstack([eye, eig, rnd])
    return np.vstack([base, -base])


def average_diverges(model: SRNN, f: sp.Expr) -> str | None:
    """Why ``<f>_0`` does not exist (``f`` outgrows the Gaussian tail of ``p0`` along a ray),
    or None (it exists, or the test cannot tell: module docstring). Cached per model and
    observable."""
    f = sp.sympify(f)
    if not model.is_numeric or not f.free_symbols or f.free_symbols - set(model.h):
        return None
    if model.state_dependent_noise:
        if model.n != 1:
            return None
        return derived(model, ("density", "average_diverges", f),
                       lambda: _noisy_tail_divergence(model, f))
    if f.is_polynomial(*model.h):
        return None

    def build() -> str | None:
        P = _tail_precisions(model)
        if P is None:
            return None
        mu = np.asarray(linearisation(model).center, dtype=float).ravel()
        try:
            lg = complex_log(f, [model.h])
        except Exception:  # noqa: BLE001 - not expressible numerically: no claim
            return None
        E = _directions(model.n, np.linalg.inv(P))
        k1, k2 = TAIL_RADII
        fall = 0.5 * (k2 ** 2 - k1 ** 2)
        q = np.einsum("ij,jk,ik->i", E, P, E)          # eᵀS⁻¹e
        r1, r2 = k1 / np.sqrt(q), k2 / np.sqrt(q)
        with np.errstate(all="ignore"):
            v1, v2 = (np.real(np.asarray(lg((mu + r[:, None] * E).T.astype(complex)),
                                         dtype=complex)) * np.ones(len(E)) for r in (r1, r2))
            grow = v2 - v1                      # inf - inf: NaN, no claim from it
        bad = np.isposinf(v2) | (np.isfinite(grow) & (grow > MARGIN * fall))
        if not np.any(bad):
            return None
        j = int(np.flatnonzero(bad)[0])
        ray = np.round(E[j], 3).tolist()
        return (f"the observable {f} grows faster than p0 decays: along the ray "
                f"h = μ + r·{ray} (μ the linearisation's centre) log|f| rises by "
                f"{'∞' if not np.isfinite(grow[j]) else f'{grow[j]:.3g}'} "
                f"between r = {r1[j]:.3g} and {r2[j]:.3g}, where the Gaussian tail "
                f"of p0 falls by {fall:.3g} (its covariance S solves A S + S Aᵀ = D), "
                "so <f>_0 = ∞ and no average of f exists")
    return derived(model, ("density", "average_diverges", f), build)


def _noisy_tail_divergence(model: SRNN, f: sp.Expr) -> str | None:
    """n = 1 with ``σ(h)``: the tail of ``p0`` is the tabulated ``log p0`` (power laws where
    ``D`` grows quadratically, so that ``exp(c h)`` and high powers have no average). On each
    unbounded side of the support, between the edge ``r₁`` of the bracket ``{log p0 ≥ max −
    60}`` and ``r₂ = x₀ + 4^j(r₁ − x₀)``, ``j = 1 … NOISY_TAIL_STEPS`` (``x₀`` the bulk; an
    exponential outgrows a power law only far out), divergence is claimed where
    ``log|f|`` rises by more than :data:`MARGIN` times the fall of ``log p0`` (one-sided, as
    for the Gaussian tails)."""
    from .multiplicative import multiplicative_density

    dens = multiplicative_density(model)
    lo, hi = dens.support
    a, b = dens.bracket
    x0 = dens._bulk_point()
    fn = sp.lambdify(model.h[0], f, "numpy")
    for edge, bound in ((b, hi), (a, lo)):
        if np.isfinite(bound):
            continue
        r1 = edge
        for j in range(1, NOISY_TAIL_STEPS + 1):
            r2 = x0 + 4.0 ** j * (edge - x0)
            xs = np.linspace(min(r1, r2), max(r1, r2), 20001)
            with np.errstate(all="ignore"):
                lp = dens.log_density(xs)
                fall = float(lp[0] - lp[-1]) if r2 > r1 else float(lp[-1] - lp[0])
                v1, v2 = (float(np.log(np.abs(complex(fn(x))))) for x in (r1, r2))
            grow = v2 - v1
            if not np.isfinite(fall) or fall <= 0:
                break
            if np.isposinf(v2) or (np.isfinite(grow) and grow > MARGIN * fall):
                return (f"the observable {f} grows faster than p0 decays: between h = "
                        f"{r1:.3g} and {r2:.3g} log|f| rises by "
                        f"{'∞' if not np.isfinite(grow) else f'{grow:.3g}'} where log p0 "
                        f"(state-dependent noise: a heavier than Gaussian tail) falls by "
                        f"{fall:.3g}, so <f>_0 = ∞ and no average of f exists")
    return None
