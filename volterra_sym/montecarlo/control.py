"""Control variates from the linearised network (THEORY §7).

The *linearised network* replaces the activation by its tangent at a point ``z̄`` of the
pre-activation (default: ``z̄ = W h̄ + b`` at the mean ``h̄`` of the nonlinear network's
stationary samples of the first seed block)::

    a(W h + b) ≈ a(z̄) + a'(z̄) ⊙ (W h + b - z̄)

so it is the linear SRNN with ``W_L = diag(a'(z̄)) W``, ``b_L = a(z̄) + a'(z̄) ⊙ (b - z̄)``
(``A_L = Γ - diag(a'(z̄)) W``) and the same ``C``, ``σ``. Its kernels and responses are
known exactly (:mod:`volterra_sym.backends.exact_linear`). For any per-path estimator
``X`` of a nonlinear quantity and the *same* estimator ``Y`` computed on the linearised
copy, driven by the same Brownian increments,

    value = E[Y]_exact + mean(X - Y)

is unbiased whatever the coupling, and its variance ``Var(X - Y)/N`` is small when the
two copies stay close; the result reports ``Var X / Var(X - Y)`` (the variance-reduction
factor, measured on the same paths).

Initial states (the choice that makes ``X - Y`` small, and keeps ``E[Y]`` exact): the
nonlinear copy starts from its own stationary law (``stationary_sampler``), the linear copy
*exactly* from its Gaussian stationary law ``N(μ_L, S_L)`` — independently. Both copies
are then run together, unperturbed and with common noise, for a *synchronisation* time
``t_sync`` before the estimator's origin (the input starts, resp. the first kernel origin
lies, at ``t_sync``). Each copy stays stationary, so no bias is introduced, while the
difference of the two forgets the independent start like ``‖e^{-A_L t}‖`` (contraction
under common noise). Default ``t_sync``: the smallest multiple of ``dt`` with
``‖e^{-A_L t_sync}‖₂ ≤ 0.01`` (the initial mismatch then contributes ≤ 1e-4 of the plain
variance). Starting both copies at the same point instead would make ``E[Y]`` unknown
(the linear copy would not be stationary).

Linear observables and CRN responses: for ``f(h) = wᵀh + c`` the linearised network's CRN
difference ``f(h^{L,ε}_t) - f(h^{L,0}_t) = ε wᵀ∫_0^t e^{-A_L(t-s)} C u(s) ds`` does not
depend on the noise or the initial state: it is a constant and cannot reduce any variance.
The response estimator then runs without the linear copy and says so in its result
(``details["control_variate"]``) instead of reporting a factor 1 as a gain.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.linalg
import sympy as sp

from ..errors import InvalidInputError, NotApplicableError
from ..model import SRNN, Z
from .integrators import model_arrays

__all__ = ["linearised_model", "sync_steps", "observable_expr", "is_affine",
           "linear_kernel_exact", "linear_response_exact", "GL_NODES"]

#: Gauss–Legendre nodes for window averages of exact kernels (error ~ (δ/τ)^16)
GL_NODES = 8


def linearised_model(model: SRNN, h_bar) -> tuple[SRNN, np.ndarray]:
    """The linearised network at ``z̄ = W h̄ + b`` (module docstring) and ``z̄``."""
    p = model_arrays(model)
    h_bar = np.asarray(h_bar, dtype=float).reshape(-1)
    if h_bar.shape != (model.n,) or not np.all(np.isfinite(h_bar)):
        raise InvalidInputError(f"linearize_at must be a finite state of shape ({model.n},)",
                                param="linearize_at")
    G, W, b = p["Gamma"], p["W"], p["b"]
    zbar = W @ h_bar + b
    a = sp.lambdify(Z, model.activation.expr, "numpy")
    da = sp.lambdify(Z, sp.diff(model.activation.expr, Z), "numpy")
    slope = np.asarray(da(zbar), dtype=float) * np.ones(model.n)
    a_z = np.asarray(a(zbar), dtype=float) * np.ones(model.n)
    W_L = slope[:, None] * W
    b_L = a_z + slope * (b - zbar)
    lin = SRNN(G, W_L, p["C"], p["sigma"], b=b_L, activation="linear",
               name=f"{model.name}_linearised")
    return lin, zbar


def sync_steps(lin: SRNN, dt: float, tol: float = 1e-2) -> int:
    """Smallest ``k`` with ``‖e^{-A_L k dt}‖₂ ≤ tol`` (synchronisation time in steps)."""
    p = model_arrays(lin)
    A = p["Gamma"] - p["W"]
    rate = float(np.min(np.linalg.eigvals(A).real))
    k = max(1, int(np.ceil(np.log(1.0 / tol) / (rate * dt))))
    E1 = scipy.linalg.expm(-A * dt)
    for _ in range(60):                       # non-normal A: grow until the bound holds
        if np.linalg.norm(np.linalg.matrix_power(E1, k), 2) <= tol:
            return k
        k = int(np.ceil(k * 1.25))
    return k


def observable_expr(model: SRNN, observable) -> sp.Expr:
    """The observable as a SymPy expression in ``h1..hn`` (control variates need it)."""
    if callable(observable) and not isinstance(observable, sp.Basic):
        raise NotApplicableError("control variates need the observable as an expression "
                                 "(the linearised network's exact kernels are symbolic); "
                                 "got a Python callable")
    expr = model.observable(observable) if not isinstance(observable, sp.Basic) \
        else sp.sympify(observable)
    by_name = {hi.name: hi for hi in model.h}
    return expr.xreplace({s: by_name[s.name] for s in expr.free_symbols if s.name in by_name})


def _require_polynomial(lin: SRNN, f: sp.Expr) -> int:
    if not f.is_polynomial(*lin.h):
        raise NotApplicableError(
            f"control variates need a polynomial observable (the linearised network's "
            f"kernels are exact only for those); {f} is not polynomial in the state")
    return int(sp.Poly(f, *lin.h).total_degree()) if f.free_symbols & set(lin.h) else 0


def is_affine(model: SRNN, f: sp.Expr) -> bool:
    """``f`` is ``wᵀh + c``."""
    return bool(f.is_polynomial(*model.h)) and (
        not (f.free_symbols & set(model.h)) or sp.Poly(f, *model.h).total_degree() <= 1)


def linear_kernel_exact(lin: SRNN, f: sp.Expr, lags: np.ndarray,
                        window: float | None) -> np.ndarray:
    """Exact first-order kernels of the linearised network, ``(J, m)``: point values
    ``K_k(σ_j)`` (``window=None``) or window averages ``δ⁻¹∫_σ^{σ+δ} K_k`` by
    :data:`GL_NODES`-point Gauss–Legendre quadrature (the kernel is analytic)."""
    from ..hierarchy import ResponseHierarchy

    _require_polynomial(lin, f)
    H = ResponseHierarchy(lin, f, 1)
    lags = np.asarray(lags, dtype=float)
    out = np.empty((lags.size, lin.m))
    if window is None:
        pts, wts = lags[:, None], np.ones((1,))
    else:
        x, w = np.polynomial.legendre.leggauss(GL_NODES)
        pts = lags[:, None] + 0.5 * window * (x[None, :] + 1.0)
        wts = 0.5 * w
    for k in range(lin.m):
        vals = np.asarray(H.kernel(k).evaluate(pts.reshape(-1, 1), method="exact"))
        out[:, k] = vals.reshape(pts.shape) @ wts
    return out


def linear_response_exact(lin: SRNN, f: sp.Expr, u: Callable, eps: float,
                          times: np.ndarray) -> np.ndarray:
    """``E f(h^{L,ε}_t) - E f(h^{L,0}_t) = Σ_{N=1}^{deg f} ε^N T_N(t)`` of the linearised
    network (exact: its series terminates at the degree of ``f``)."""
    from ..hierarchy import ResponseHierarchy

    deg = _require_polynomial(lin, f)
    if deg == 0:
        return np.zeros(len(times))
    H = ResponseHierarchy(lin, f, deg)
    T = np.asarray(H.series_terms(u, np.asarray(times, float), method="exact"))
    powers = float(eps) ** np.arange(deg + 1)
    return (powers[1:, None] * T[1:]).sum(axis=0)
