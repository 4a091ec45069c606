"""Control variates from the linearised network (docs/theory.md §7).

The *linearised network* replaces the activation by an affine map per unit,
``a(z_i) ≈ α_i + β_i z_i``, fitted on the nonlinear network's stationary samples of the
first seed block (the run's own initial states, so the choice is reproducible):

* ``linearization="tangent"``: the tangent at the stationary mean ``z̄ = W h̄ + b``,
  ``β = a'(z̄)``, ``α = a(z̄) - β z̄``;
* ``linearization="statistical"`` (default): the least-squares fit over the samples,
  ``β_i = Cov(a(z_i), z_i)/Var z_i`` (``= E a'(z_i)`` for Gaussian ``z``). Measured on the
  8-unit tanh network of the tests (gain 0.5, 2,048 paths): variance reductions of K₁
  101–107× (FDT) and 215–232× (Girsanov) against 50–58× and 75–81× for the tangent, and
  2.1–2.5× against 0.7× (worse than none) at gain 1 on a network whose linearisation is
  nearly critical.

It is the linear SRNN with ``W_L = diag(β) W``, ``b_L = α + β ⊙ b`` (``A_L = Γ -
diag(β) W``) and the same ``C``, ``σ``. Its kernels and responses are
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
import scipy.integrate
import scipy.linalg
import sympy as sp

from ..arrays import real_array
from ..errors import InvalidInputError, NotApplicableError
from ..model import SRNN, Z
from .integrators import model_arrays

__all__ = ["LINEARISATIONS", "linearised_model", "sync_steps", "observable_expr", "is_affine",
           "linear_kernel_exact", "linear_response_exact", "GL_NODES", "quadratic_form",
           "driven_mean"]

#: Gauss–Legendre nodes for window averages of exact kernels (error ~ (δ/τ)^16)
GL_NODES = 8


LINEARISATIONS = ("tangent", "statistical")


def check_linearisation(model: SRNN, states, kind: str) -> np.ndarray | None:
    """``kind`` one of :data:`LINEARISATIONS` (``param="linearization"``) and ``states``
    (``None`` allowed) finite states ``(N, n)`` or ``(n,)`` (``param="linearize_at"``),
    returned as ``(N, n)``."""
    if kind not in LINEARISATIONS:
        raise InvalidInputError(f"linearization must be one of {LINEARISATIONS}, got "
                                f"{kind!r}", param="linearization")
    if states is None:
        return None
    X = real_array(states, "linearize_at", finite=False,
                   what=f"finite states of shape (N, {model.n}) or ({model.n},)")
    X = X.reshape(1, -1) if X.ndim == 1 else X
    if X.ndim != 2 or X.shape[1] != model.n or not np.all(np.isfinite(X)):
        raise InvalidInputError(f"linearize_at must be finite states of shape (N, {model.n}) "
                                f"or ({model.n},)", param="linearize_at")
    return X


def linearised_model(model: SRNN, states, kind: str = "tangent"
                     ) -> tuple[SRNN, np.ndarray, np.ndarray]:
    """The linearised network (module docstring) from stationary samples ``states``
    ``(N, n)`` (or one state ``(n,)``); returns ``(model_L, α, β)`` with
    ``a(z_i) ≈ α_i + β_i z_i``.

    * ``"tangent"``: at ``z̄ = W h̄ + b`` (``h̄`` the sample mean): ``β = a'(z̄)``,
      ``α = a(z̄) - β z̄``.
    * ``"statistical"``: the least-squares affine fit of ``a(z_i)`` over the samples,
      ``β_i = Cov(a(z_i), z_i) / Var(z_i)``, ``α_i = mean a(z_i) - β_i mean z_i`` (for
      Gaussian ``z`` this is ``β_i = E a'(z_i)``, Stein's lemma): the slope the
      fluctuations actually see, smaller than ``a'(z̄)`` where they reach the saturation.
    """
    X = check_linearisation(model, states, kind)
    p = model_arrays(model)
    G, W, b = p["Gamma"], p["W"], p["b"]
    a = sp.lambdify(Z, model.activation.expr, "numpy")
    ones = np.ones(model.n)
    if kind == "tangent" or X.shape[0] < 2:
        zbar = W @ X.mean(axis=0) + b
        da = sp.lambdify(Z, sp.diff(model.activation.expr, Z), "numpy")
        beta = np.asarray(da(zbar), dtype=float) * ones
        alpha = np.asarray(a(zbar), dtype=float) * ones - beta * zbar
    else:
        z = X @ W.T + b
        az = np.asarray(a(z), dtype=float) * np.ones_like(z)
        zc = z - z.mean(axis=0)
        var = (zc ** 2).mean(axis=0)
        safe = np.where(var > 0, var, 1.0)
        beta = np.where(var > 0, ((az - az.mean(axis=0)) * zc).mean(axis=0) / safe, 0.0)
        if np.any(var == 0):  # a constant pre-activation: its tangent
            da = sp.lambdify(Z, sp.diff(model.activation.expr, Z), "numpy")
            beta = np.where(var > 0, beta, np.asarray(da(z.mean(axis=0)), float) * ones)
        alpha = az.mean(axis=0) - beta * z.mean(axis=0)
    W_L = beta[:, None] * W
    b_L = alpha + beta * b
    lin = SRNN(G, W_L, p["C"], p["sigma"], b=b_L, activation="linear",
               name=f"{model.name}_linearised")
    return lin, alpha, beta


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
    expr = model.observable(observable)     # SymPy input too: the whitelist of the parser
    by_name = {hi.name: hi for hi in model.h}
    return expr.xreplace({s: by_name[s.name] for s in expr.free_symbols if s.name in by_name})


def _require_polynomial(lin: SRNN, f: sp.Expr) -> int:
    degree = lin.polynomial_degree(f)
    if degree is None:
        raise NotApplicableError(
            f"control variates need a polynomial observable (the linearised network's "
            f"kernels are exact only for those); {f} is not polynomial in the state")
    return degree


def is_affine(model: SRNN, f: sp.Expr) -> bool:
    """``f`` is ``wᵀh + c``."""
    return bool(f.is_polynomial(*model.h)) and (
        not (f.free_symbols & set(model.h)) or sp.Poly(f, *model.h).total_degree() <= 1)


def quadratic_form(lin: SRNN, f: sp.Expr) -> tuple[np.ndarray, np.ndarray, float] | None:
    """``(Q, w, c)`` with ``f(h) = hᵀQh + wᵀh + c`` (``Q`` symmetric), or ``None`` if the
    polynomial ``f`` has degree > 2."""
    deg = _require_polynomial(lin, f)
    n = lin.n
    Q, w, c = np.zeros((n, n)), np.zeros(n), 0.0
    if deg == 0:
        return Q, w, float(f)
    if deg > 2:
        return None
    poly = sp.Poly(f, *lin.h)
    for mon, coef in poly.terms():
        idx = [i for i, e in enumerate(mon) for _ in range(e)]
        val = float(coef)
        if not idx:
            c += val
        elif len(idx) == 1:
            w[idx[0]] += val
        else:
            i, j = idx
            Q[i, j] += 0.5 * val
            Q[j, i] += 0.5 * val
    return Q, w, c


def _phi1(A: np.ndarray, delta: float) -> np.ndarray:
    """``∫_0^δ e^{-As} ds`` (Van Loan block exponential)."""
    n = A.shape[0]
    Z = np.zeros((n, n))
    F = scipy.linalg.expm(np.block([[-A, np.eye(n)], [Z, Z]]) * delta)
    return F[:n, n:]


def linear_kernel_exact(lin: SRNN, f: sp.Expr, lags: np.ndarray,
                        window: float | None) -> np.ndarray:
    """Exact first-order kernels of the linearised network, ``(J, m)``: point values
    ``K_k(σ_j)`` (``window=None``) or window averages ``δ⁻¹∫_σ^{σ+δ} K_k``.

    For ``f = hᵀQh + wᵀh + c`` (degree ≤ 2) in closed form (docs/theory.md §4: ``∇P_σ f`` is
    affine with mean ``e^{-Aᵀσ}(2Qμ + w)`` under ``p0``)::

        K(σ) = (2Qμ + w)ᵀ e^{-Aσ} C ,   δ⁻¹∫_σ^{σ+δ} K = (2Qμ + w)ᵀ e^{-Aσ} Φ₁(δ) C / δ

    with ``μ = A⁻¹b``, ``Φ₁(δ) = ∫_0^δ e^{-As} ds``. Higher degrees go through the exact
    backend (``ResponseHierarchy(...).kernel(k).evaluate(..., method="exact")``, window
    averages by :data:`GL_NODES`-point Gauss–Legendre quadrature).
    """
    lags = np.asarray(lags, dtype=float)
    qf = quadratic_form(lin, f)
    if qf is not None:
        p = model_arrays(lin)
        A, C = p["Gamma"] - p["W"], p["C"]
        mu = np.linalg.solve(A, p["b"])
        Q, w, _ = qf
        g = 2.0 * Q @ mu + w
        right = C if window is None else _phi1(A, window) @ C / window
        return np.stack([g @ scipy.linalg.expm(-A * s) @ right for s in lags])
    from ..hierarchy import ResponseHierarchy

    H = ResponseHierarchy(lin, f, 1)
    out = np.empty((lags.size, lin.m))
    if window is None:
        pts, wts = lags[:, None], np.ones((1,))
    else:
        x, wq = np.polynomial.legendre.leggauss(GL_NODES)
        pts = lags[:, None] + 0.5 * window * (x[None, :] + 1.0)
        wts = 0.5 * wq
    for k in range(lin.m):
        vals = np.asarray(H.kernel(k).evaluate(pts.reshape(-1, 1), method="exact"))
        out[:, k] = vals.reshape(pts.shape) @ wts
    return out


def driven_mean(lin: SRNN, u: Callable, times: np.ndarray) -> np.ndarray:
    """``δ(t)``, ``δ' = -Aδ + C u(t)``, ``δ(0) = 0`` at ``times`` (``(T, n)``; DOP853 at
    rtol 1e-12, as the exact backend)."""
    p = model_arrays(lin)
    A, C = p["Gamma"] - p["W"], p["C"]
    times = np.asarray(times, dtype=float)
    if times.max() == 0:
        return np.zeros((times.size, lin.n))
    order = np.argsort(times)
    sol = scipy.integrate.solve_ivp(lambda t, d: -A @ d + C @ np.atleast_1d(u(t)),
                                    (0.0, float(times.max())), np.zeros(lin.n),
                                    method="DOP853", t_eval=times[order], rtol=1e-12,
                                    atol=1e-14)
    if not sol.success:
        raise NotApplicableError(f"integration of the linear driven mean failed: "
                                 f"{sol.message}")
    out = np.empty((times.size, lin.n))
    out[order] = sol.y.T
    return out


def linear_response_exact(lin: SRNN, f: sp.Expr, u: Callable, eps: float,
                          times: np.ndarray) -> np.ndarray:
    """``E f(h^{L,ε}_t) - E f(h^{L,0}_t)`` of the linearised network, exact.

    With additive input ``h^ε_t = h^0_t + ε δ(t)`` (:func:`driven_mean`); for
    ``f = hᵀQh + wᵀh + c``: ``ε δᵀ(2Qμ + w) + ε² δᵀQδ``. Higher degrees:
    ``Σ_{N=1}^{deg f} ε^N T_N(t)`` from the exact backend (the series terminates).
    """
    times = np.asarray(times, dtype=float)
    qf = quadratic_form(lin, f)
    if qf is not None:
        p = model_arrays(lin)
        mu = np.linalg.solve(p["Gamma"] - p["W"], p["b"])
        Q, w, _ = qf
        d = driven_mean(lin, u, times)
        return float(eps) * d @ (2.0 * Q @ mu + w) + float(eps) ** 2 * np.einsum(
            "ti,ij,tj->t", d, Q, d)
    from ..hierarchy import ResponseHierarchy

    deg = _require_polynomial(lin, f)
    H = ResponseHierarchy(lin, f, deg)
    T = np.asarray(H.series_terms(u, times, method="exact"))
    powers = float(eps) ** np.arange(deg + 1)
    return (powers[1:, None] * T[1:]).sum(axis=0)
