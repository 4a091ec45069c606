"""Conjugate variables of the fluctuation–dissipation relation (docs/theory.md §4), numerically.

    v_k(h) = -C_k·∇ log p0(h) ,   <p0, L_k g> = E_0[v_k g] ,
    w_{k1k2}(h) = v_{k1} v_{k2} - C_{k1}·∇v_{k2} ,   <p0, L_{k2} L_{k1} g> = E_0[w_{k1k2} g] .

Closed forms, vectorised over states ``(..., n)``:

* Gaussian ``N(μ, S)``: ``v = (h - μ) S⁻¹ C`` and ``C_{k1}·∇v_{k2} = C_{k1}ᵀ S⁻¹ C_{k2}``;
* one dimension and the gradient case (``D = s² I``, ``φ = ∇U``, ``log p0 = 2U/s²``):
  ``v = -(2/s²) φ(h)ᵀ C`` and ``C_{k1}·∇v_{k2} = -(2/s²) C_{k1}ᵀ J(h) C_{k2}`` with
  ``J = ∇φ = -Γ + diag(a'(Wh + b)) W``.

No symbolic potential is built: only ``φ``, its Jacobian and the Lyapunov solution.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..arrays import real_array, state_points
from ..errors import InvalidInputError
from ..model import SRNN
from .classify import NoClosedFormError, density_kind
from .linearisation import activation_derivative, arrays, drift, gaussian_moments

__all__ = ["conjugate_variables", "second_conjugate_variables", "check_conjugate"]


def _no_closed_form(model: SRNN) -> NoClosedFormError:
    return NoClosedFormError(
        f"no conjugate variable for {model!r}: the stationary density has no closed form "
        "(nonlinear, n > 1, not a gradient system with isotropic noise)")


def check_conjugate(v, m: int, param: str = "conjugate") -> Callable[[np.ndarray], np.ndarray]:
    """A caller's conjugate variable ``v(h)``, ``(..., n)`` -> ``(..., m)``, wrapped so that
    every call returns finite real values of that shape; ``v`` not callable, or returning
    anything else (NaN/inf, text, complex, another shape), is an
    :class:`~volterra_sym.errors.InvalidInputError` naming ``param`` (a NaN used to become
    a NaN kernel, a wrong shape a NumPy broadcasting error)."""
    if not callable(v):
        raise InvalidInputError(f"{param} must be a callable v(h): (..., n) -> (..., {m}), "
                                f"got {type(v).__name__} {v!r:.60}", param=param)

    def checked(x):
        out = real_array(v(x), param, what=f"finite real numbers of shape (..., {m})")
        want = np.shape(x)[:-1] + (m,)
        if out.shape != want:
            raise InvalidInputError(f"{param}(h) must return shape {want} for states of "
                                    f"shape {np.shape(x)}, got {out.shape}", param=param)
        return out
    return checked


def conjugate_variables(model: SRNN) -> Callable[[np.ndarray], np.ndarray]:
    """``v(h)``: array ``(..., n)`` -> ``(..., m)``, ``v_k = -C_k·∇ log p0``."""
    kind = density_kind(model)
    p = arrays(model)
    C = p["C"]
    if kind == "gaussian":
        mu, S = gaussian_moments(model)
        M = np.linalg.solve(S, C)  # S⁻¹ C, (n, m)
        return lambda x: (state_points(x, model.n) - mu) @ M
    if kind in ("one_dim", "gradient"):
        phi = drift(model)
        M = -2.0 / float(p["D"][0, 0]) * C
        return lambda x: phi(state_points(x, model.n)) @ M
    raise _no_closed_form(model)


def second_conjugate_variables(model: SRNN, v: Callable | None = None
                               ) -> Callable[[np.ndarray], np.ndarray]:
    """``w(h)``: ``(..., n)`` -> ``(..., m, m)``, ``w_{k1k2} = v_{k1} v_{k2} - C_{k1}·∇v_{k2}``.

    With the default ``v`` the derivative term is the closed form of the module
    docstring; for a caller's ``v`` it is a central difference along ``C_{k1}`` (step
    ``10⁻⁵(1 + max|C|)``, error ~1e-10 relative); a caller's ``v`` that is not callable
    or returns non-finite values or the wrong shape is an
    :class:`~volterra_sym.errors.InvalidInputError` naming ``v``."""
    p = arrays(model)
    C = p["C"]
    if v is not None:
        v = check_conjugate(v, C.shape[1], "v")
    if v is None:
        kind = density_kind(model)
        v = conjugate_variables(model)
        if kind == "gaussian":
            _, S = gaussian_moments(model)
            G = C.T @ np.linalg.solve(S, C)

            def w_lin(x):
                vx = v(x)
                return vx[..., :, None] * vx[..., None, :] - G
            return w_lin
        G0, W, b = p["Gamma"], p["W"], p["b"]
        da = activation_derivative(model)
        c2 = 2.0 / float(p["D"][0, 0])
        CG, WC = C.T @ G0 @ C, W @ C      # (m, m), (n, m)

        def w_grad(x):
            x = state_points(x, model.n)
            vx = v(x)
            s = da(x @ W.T + b)                                 # (..., n)
            CJC = -CG + np.einsum("ik,...i,il->...kl", C, s, WC)
            return vx[..., :, None] * vx[..., None, :] + c2 * CJC
        return w_grad
    scale = 1e-5 * (1.0 + float(np.max(np.abs(C))))

    def w_fd(x):
        x = real_array(x, "x", finite=False)
        vx = v(x)
        out = vx[..., :, None] * vx[..., None, :]
        for k1 in range(C.shape[1]):
            e = scale * C[:, k1]
            out[..., k1, :] -= (v(x + e) - v(x - e)) / (2.0 * scale)
        return out
    return w_fd
