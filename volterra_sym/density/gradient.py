"""Is the drift a gradient with isotropic noise? (the closed-form case of docs/theory.md §3)

``p0 ∝ exp(2U/s²)`` holds when ``φ = ∇U`` and ``D = s² I``. ``φ`` is a gradient (on the
simply connected ``ℝⁿ``) iff its Jacobian ``J = ∇φ`` is symmetric everywhere. For the SRNN

    J(h) = -Γ + diag(a'(z)) W ,   z = W h + b ,

so the numerical test evaluates ``J`` at the origin, the fixed point and a few seeded
random points on the scale of the noise and asks ``max |J - Jᵀ| ≤ 10⁻¹² max(1, max|J|)``
at every one. ``J - Jᵀ`` is analytic in ``h``, so a non-gradient drift vanishes at random
points only on a measure-zero set; the tolerance is rounding level for entries of order 1.
Symbolic models keep the symbolic test (``simplify`` of ``J_ij - J_ji``).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..model import SRNN
from ..model.cache import derived
from .linearisation import activation_derivative, arrays, is_numeric, linearisation

__all__ = ["isotropic_noise", "is_gradient", "jacobian_asymmetry"]

#: random test points of the numerical gradient test (plus the origin and the fixed point)
TEST_POINTS = 8
#: relative tolerance on ``|J - Jᵀ|``
TOLERANCE = 1e-12


def isotropic_noise(model: SRNN) -> bool:
    """``D = s² I`` with ``s² > 0`` (exactly, for numeric and symbolic models alike)."""
    D = model.D
    s2 = D[0, 0]
    return s2 != 0 and D == s2 * sp.eye(model.n)


def jacobian_asymmetry(model: SRNN, points: np.ndarray) -> np.ndarray:
    """``max_ij |J_ij - J_ji| / max(1, max|J|)`` at each point (rows of ``points``)."""
    p = arrays(model)
    G, W, b = p["Gamma"], p["W"], p["b"]
    da = activation_derivative(model)
    x = np.atleast_2d(np.asarray(points, dtype=float))
    z = x @ W.T + b
    J = -G[None] + da(z)[:, :, None] * W[None]
    asym = np.abs(J - np.swapaxes(J, 1, 2)).max(axis=(1, 2))
    return asym / np.maximum(1.0, np.abs(J).max(axis=(1, 2)))


def _numeric_gradient(model: SRNN) -> bool:
    n = model.n
    p = arrays(model)
    rng = np.random.default_rng(20240611)
    scale = 1.0 + float(np.sqrt(np.abs(np.diag(p["D"])).max())) \
        + float(np.abs(p["b"]).max(initial=0.0))
    try:
        center = linearisation(model).center
    except Exception:  # noqa: BLE001 - the test points do not need the fixed point
        center = np.zeros(n)
    pts = np.vstack([np.zeros(n), center, center + scale * rng.standard_normal((TEST_POINTS, n))])
    return bool(np.all(jacobian_asymmetry(model, pts) <= TOLERANCE))


def _symbolic_gradient(model: SRNN) -> bool:
    J = model.drift.jacobian(model.h)
    return all(sp.simplify(J[i, j] - J[j, i]) == 0
               for i in range(model.n) for j in range(i + 1, model.n))


def is_gradient(model: SRNN) -> bool:
    """``φ = ∇U`` and ``D = s² I`` (cached): numerically for numeric models, symbolically
    (``simplify``) for symbolic ones. ``n = 1`` is always a gradient."""
    if not isotropic_noise(model):
        return False
    if model.n == 1:
        return True
    if is_numeric(model):
        return derived(model, ("density", "is_gradient"), lambda: _numeric_gradient(model))
    return derived(model, ("density", "is_gradient"), lambda: _symbolic_gradient(model))
