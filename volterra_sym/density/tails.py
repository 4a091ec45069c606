"""Whether ``<f>_0 = ∫ f p0`` exists: the observable's growth against the tail of ``p0``.

With a constant noise ``D = σσᵀ`` the tail of ``p0`` is Gaussian: at large ``|h|`` the drift
is ``-A h`` plus a bounded part, with ``A = Γ`` for a bounded activation, ``A = Γ - W`` for
the linear one and ``A = Γ - W diag(s)``, ``s_i ∈ {a'(-∞), a'(+∞)}``, for an unbounded one,
so that along a ray ``h = μ + r e``

    log p0(μ + r e) = -r² eᵀS⁻¹e / 2 + O(r),        A S + S Aᵀ = D

(``S`` the Lyapunov covariance; over the choices of ``s``, the most concentrated one). An
``f`` with ``log|f|`` growing faster than that along some ray has no average: ``exp(h⁴)``,
``exp(exp(h))``, ``exp(c h²)`` with ``c`` well above ``eᵀS⁻¹e/2``. The numeric routes would
return a number for it (the spectral grid gave ``<exp(exp(h1))>_0 ≈ 2.1e159 ± 2.1e159`` for
tanh1d, only as large as its grid is wide). The test is one-sided: it claims divergence
only where the growth beats the Gaussian tail by :data:`MARGIN` nats between two far
radii, so an ``f`` on the edge (``c`` close to ``eᵀS⁻¹e/2``) is let through.
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy as sp

from ..model import SRNN
from ..model.cache import derived
from .linearisation import linearisation, lyapunov
from .stationary import NUMPY_EXTRAS

__all__ = ["average_diverges", "TAIL_RADII", "MARGIN"]

#: the two radii of the test, in tail standard deviations ``1/√(eᵀS⁻¹e)`` along the ray:
#: ``log p0`` falls by ``(k₂² − k₁²)/2`` = 600 nats between them
TAIL_RADII = (20.0, 40.0)
#: the growth of ``log|f|`` between the radii must beat the fall of ``log p0`` by this
#: factor (the ``O(r)`` part of ``log p0`` is at most a few tens of nats there)
MARGIN = 1.5
#: random directions tried besides ``±`` the axes and ``±`` the eigenvectors of ``S``
RANDOM_DIRECTIONS = 32


def _tail_precisions(model: SRNN) -> list[np.ndarray] | None:
    """``S⁻¹`` for every tail matrix ``A`` (module docstring), or None where the tail is not
    Gaussian or not known (state-dependent noise, a singular ``S``)."""
    if model.state_dependent_noise or not model.is_numeric:
        return None
    p = model.numpy_params()
    Gamma, W, D = p["Gamma"], p["W"], p["D"]
    if model.is_linear:
        mats = [Gamma - W]
    elif model.activation.bounded:
        mats = [Gamma]
    else:
        lo, hi = model.activation.slopes_at_infinity
        slopes = itertools.product(sorted({lo, hi}), repeat=model.n) if model.n <= 10 \
            else [(lo,) * model.n, (hi,) * model.n]
        mats = [Gamma - W * np.asarray(s)[None, :] for s in slopes]
    out = []
    for A in mats:
        S = lyapunov(A, D)
        w = np.linalg.eigvalsh(S)
        if w.min() <= 1e-12 * max(w.max(), 1e-300):
            return None
        out.append(np.linalg.inv(S))
    return out


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
    if not f.free_symbols or f.free_symbols - set(model.h) or f.is_polynomial(*model.h):
        return None

    def build() -> str | None:
        precisions = _tail_precisions(model)
        if precisions is None:
            return None
        mu = np.asarray(linearisation(model).center, dtype=float).ravel()
        # log f, expanded (exp(h⁴) -> h⁴), on complex points: Re is log|f| without the
        # overflow of f itself
        try:
            lg = sp.lambdify([model.h], sp.expand_log(sp.log(f), force=True),
                             [NUMPY_EXTRAS, "numpy"])
        except Exception:  # noqa: BLE001 - not expressible numerically: no claim
            return None
        S0 = np.linalg.inv(precisions[0])
        E = _directions(model.n, S0)
        k1, k2 = TAIL_RADII
        fall = 0.5 * (k2 ** 2 - k1 ** 2)
        for P in precisions:
            q = np.einsum("ij,jk,ik->i", E, P, E)          # eᵀS⁻¹e
            r1, r2 = k1 / np.sqrt(q), k2 / np.sqrt(q)
            with np.errstate(all="ignore"):
                v1 = np.real(np.asarray(lg((mu + r1[:, None] * E).T.astype(complex)),
                                        dtype=complex)) * np.ones(len(E))
                v2 = np.real(np.asarray(lg((mu + r2[:, None] * E).T.astype(complex)),
                                        dtype=complex)) * np.ones(len(E))
                grow = v2 - v1                  # inf - inf: NaN, no claim from it
            bad = np.isposinf(v2) | (np.isfinite(grow) & (grow > MARGIN * fall))
            if np.any(bad):
                j = int(np.flatnonzero(bad)[0])
                ray = np.round(E[j], 3).tolist()
                return (f"the observable {f} grows faster than p0 decays: along the ray "
                        f"h = μ + r·{ray} (μ the linearisation's centre) log|f| rises by "
                        f"{'∞' if not np.isfinite(grow[j]) else f'{grow[j]:.3g}'} "
                        f"between r = {r1[j]:.3g} and {r2[j]:.3g}, where the Gaussian tail "
                        f"of p0 falls by {fall:.3g} (its covariance S solves A S + S Aᵀ = D), "
                        "so <f>_0 = ∞ and no average of f exists")
        return None
    return derived(model, ("density", "average_diverges", f), build)
