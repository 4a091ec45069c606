"""The generator, Fokker–Planck and perturbation operators (docs/theory.md §2), acting on SymPy
expressions in the state symbols ``h1..hn``.

    L0 g   =  Σ_i φ_i ∂_i g + ½ Σ_ij D_ij ∂_i ∂_j g          (backward / Kolmogorov)
    L0* p  = -Σ_i ∂_i(φ_i p) + ½ Σ_ij ∂_i ∂_j (D_ij p)       (forward / Fokker–Planck)
    L_k g  =  Σ_i C_ik ∂_i g ,      L_k* p = -Σ_i C_ik ∂_i p

``D = σσᵀ`` may depend on ``h`` (docs/theory.md §11): ``L0*`` differentiates ``D_ij p``. With the
input inside the activation (docs/theory.md §10) the ε-ordered perturbations are

    L^{(j)}_{k_1…k_j} g = (1/j!) Σ_i a^{(j)}(z_i) C_{ik_1}⋯C_{ik_j} ∂_i g ,   z = W h + b ,

(:func:`perturbation_j`; for the additive input ``L^{(1)}_k = L_k`` and ``L^{(j≥2)} = 0``).

Channels ``k`` are 0-based in the API (``k < m``); printed formulas number them from 1,
like the state variables ``h1..hn``.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import InvalidInputError
from ..model import SRNN

__all__ = ["operand", "generator", "fokker_planck", "perturbation", "perturbation_adjoint",
           "check_channel", "check_time",
           "perturbation_j", "perturbation_j_adjoint", "perturbation_j_coefficients",
           "kick_conjugate",
           "check_composite"]


def check_channel(model: SRNN, k: int, param: str = "k") -> int:
    """An input-channel index: an integer (Python, NumPy or SymPy; not a bool) in
    ``0..m-1``, else :class:`InvalidInputError` naming ``param``; nothing is cut."""
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer, sp.Integer)):
        raise InvalidInputError(f"channels must be integers (0-based input channels), got "
                                f"{type(k).__name__} {k!r}", param=param)
    if not 0 <= int(k) < model.m:
        raise InvalidInputError(f"channel k={int(k)} is out of range: the model has "
                                f"m={model.m} input channel(s), indexed 0..{model.m - 1}",
                                param=param)
    return int(k)


def operand(model: SRNN, g, what: str = "g") -> sp.Expr:
    """An operator's argument through :meth:`SRNN.expression`: a string or number parsed
    safely in the model's symbols; a SymPy expression checked (no ``nan``, ``oo``, ``zoo``
    or ``I``; ``h<k>`` must be a state of the model; not a relation, boolean or matrix),
    anything else refused (:class:`InvalidInputError` naming ``what``)."""
    return model.expression(g, what)


def generator(model: SRNN, g: sp.Expr) -> sp.Expr:
    """``L0 g = Σ_i φ_i ∂_i g + ½ Σ_ij D_ij ∂_i∂_j g``."""
    h, phi, D = model.h, model.drift, model.D
    g = operand(model, g)
    grad = [sp.diff(g, hi) for hi in h]
    out = sum((phi[i] * grad[i] for i in range(model.n)), sp.Integer(0))
    for i in range(model.n):
        for j in range(model.n):
            if D[i, j] != 0:
                out += sp.Rational(1, 2) * D[i, j] * sp.diff(grad[i], h[j])
    return out


def fokker_planck(model: SRNN, p: sp.Expr) -> sp.Expr:
    """``L0* p = -Σ_i ∂_i(φ_i p) + ½ Σ_ij ∂_i∂_j(D_ij p)`` (``D`` may depend on ``h``)."""
    h, phi, D = model.h, model.drift, model.D
    p = operand(model, p, "p")
    out = -sum((sp.diff(phi[i] * p, h[i]) for i in range(model.n)), sp.Integer(0))
    for i in range(model.n):
        for j in range(model.n):
            if D[i, j] != 0:
                out += sp.Rational(1, 2) * sp.diff(D[i, j] * p, h[i], h[j])
    return out


def perturbation(model: SRNN, k: int, g: sp.Expr) -> sp.Expr:
    """``L_k g = Σ_i C_ik ∂_i g`` (directional derivative along column ``C_k``)."""
    k = check_channel(model, k)
    g = operand(model, g)
    return sum((model.C[i, k] * sp.diff(g, model.h[i]) for i in range(model.n)
                if model.C[i, k] != 0), sp.Integer(0))


def perturbation_adjoint(model: SRNN, k: int, p: sp.Expr) -> sp.Expr:
    """``L_k* p = -Σ_i C_ik ∂_i p``."""
    return -perturbation(model, k, p)


def check_composite(model: SRNN, ks, param: str = "k") -> tuple[int, ...]:
    """Validate the channels ``(k_1, …, k_j)`` of one kick (``j ≥ 1``; one channel index
    stands for ``(k,)``), else :class:`InvalidInputError` naming ``param``."""
    if isinstance(ks, (int, np.integer, sp.Integer)) and not isinstance(ks, (bool, np.bool_)):
        ks = (ks,)
    if isinstance(ks, sp.Tuple):
        ks = tuple(ks)
    if not isinstance(ks, (tuple, list)) or not ks:
        raise InvalidInputError(f"a kick's channels must be a non-empty tuple of channel "
                                f"indices, got {type(ks).__name__} {ks!r:.60}", param=param)
    return tuple(check_channel(model, k, param) for k in ks)


def check_time(s: sp.Expr, param: str = "s") -> sp.Expr:
    """A semigroup time ``s``: refused (:class:`InvalidInputError` naming ``param``) when it
    is negative or SymPy can tell it is (``P_s`` exists for ``s ≥ 0`` only: a diffusion is
    not run backwards); symbols of unknown sign pass."""
    if sp.sympify(s).is_negative:
        raise InvalidInputError(f"the semigroup time must be ≥ 0 (P_s = e^(s L0) exists for "
                                f"s ≥ 0 only), got {s}", param=param)
    return s


def perturbation_j_coefficients(model: SRNN, ks) -> list[sp.Expr]:
    """``c_i = a^{(j)}(z_i) C_{ik_1}⋯C_{ik_j} / j!`` (``j = len(ks)``), so that
    ``L^{(j)}_{k} g = Σ_i c_i ∂_i g``."""
    ks = check_composite(model, ks)
    coef = model.input_operators(len(ks))
    return [coef[i] * sp.prod([model.C[i, k] for k in ks]) for i in range(model.n)]


def kick_conjugate(model: SRNN, ks, grad_log_p) -> sp.Expr:
    """``v = −p⁻¹∇·(c p) = −Σ_i (∂_i c_i + c_i ∂_i log p)`` for the coefficients ``c`` of
    ``L^{(j)}_{k}`` (:func:`perturbation_j_coefficients`) and ``grad_log_p`` the ``n``
    partial derivatives of ``log p``: ``<p, L^{(j)}_k g> = E_p[v g]`` (integration by
    parts; docs/theory.md §4, §10)."""
    c = perturbation_j_coefficients(model, ks)
    return -sum((sp.diff(c[i], hi) + c[i] * grad_log_p[i] for i, hi in enumerate(model.h)
                 if c[i] != 0), sp.Integer(0))


def perturbation_j(model: SRNN, ks, g: sp.Expr) -> sp.Expr:
    """``L^{(j)}_{k_1…k_j} g = (1/j!) Σ_i a^{(j)}(z_i) C_{ik_1}⋯C_{ik_j} ∂_i g``
    (docs/theory.md §10; additive input: ``L_k`` for ``j = 1``, ``0`` beyond)."""
    c = perturbation_j_coefficients(model, ks)
    g = operand(model, g)
    return sum((c[i] * sp.diff(g, model.h[i]) for i in range(model.n) if c[i] != 0),
               sp.Integer(0))


def perturbation_j_adjoint(model: SRNN, ks, p: sp.Expr) -> sp.Expr:
    """``L^{(j)*}_{k} p = -Σ_i ∂_i(c_i p)`` (the coefficients depend on ``h``)."""
    c = perturbation_j_coefficients(model, ks)
    p = operand(model, p, "p")
    return -sum((sp.diff(c[i] * p, model.h[i]) for i in range(model.n) if c[i] != 0),
                sp.Integer(0))
