"""The generator, Fokker–Planck and perturbation operators (docs/theory.md §2), acting on SymPy
expressions in the state symbols ``h1..hn``.

    L0 g   =  Σ_i φ_i ∂_i g + ½ Σ_ij D_ij ∂_i ∂_j g          (backward / Kolmogorov)
    L0* p  = -Σ_i ∂_i(φ_i p) + ½ Σ_ij ∂_i ∂_j (D_ij p)       (forward / Fokker–Planck)
    L_k g  =  Σ_i C_ik ∂_i g ,      L_k* p = -Σ_i C_ik ∂_i p

Channels ``k`` are 0-based in the API (``k < m``); printed formulas number them from 1,
like the state variables ``h1..hn``.
"""

from __future__ import annotations

import sympy as sp

from ..model import SRNN

__all__ = ["generator", "fokker_planck", "perturbation", "perturbation_adjoint", "check_channel"]


def check_channel(model: SRNN, k: int) -> int:
    """Validate an input-channel index ``0 <= k < m``."""
    if isinstance(k, bool) or not isinstance(k, (int, sp.Integer)) or not 0 <= int(k) < model.m:
        raise ValueError(f"channel k={k!r} is out of range: the model has m={model.m} input "
                         f"channel(s), indexed 0..{model.m - 1}")
    return int(k)


def generator(model: SRNN, g: sp.Expr) -> sp.Expr:
    """``L0 g = Σ_i φ_i ∂_i g + ½ Σ_ij D_ij ∂_i∂_j g``."""
    h, phi, D = model.h, model.drift, model.D
    grad = [sp.diff(g, hi) for hi in h]
    out = sum((phi[i] * grad[i] for i in range(model.n)), sp.Integer(0))
    for i in range(model.n):
        for j in range(model.n):
            if D[i, j] != 0:
                out += sp.Rational(1, 2) * D[i, j] * sp.diff(grad[i], h[j])
    return out


def fokker_planck(model: SRNN, p: sp.Expr) -> sp.Expr:
    """``L0* p = -Σ_i ∂_i(φ_i p) + ½ Σ_ij ∂_i∂_j(D_ij p)`` (D constant)."""
    h, phi, D = model.h, model.drift, model.D
    out = -sum((sp.diff(phi[i] * p, h[i]) for i in range(model.n)), sp.Integer(0))
    for i in range(model.n):
        for j in range(model.n):
            if D[i, j] != 0:
                out += sp.Rational(1, 2) * D[i, j] * sp.diff(p, h[i], h[j])
    return out


def perturbation(model: SRNN, k: int, g: sp.Expr) -> sp.Expr:
    """``L_k g = Σ_i C_ik ∂_i g`` (directional derivative along column ``C_k``)."""
    k = check_channel(model, k)
    return sum((model.C[i, k] * sp.diff(g, model.h[i]) for i in range(model.n)
                if model.C[i, k] != 0), sp.Integer(0))


def perturbation_adjoint(model: SRNN, k: int, p: sp.Expr) -> sp.Expr:
    """``L_k* p = -Σ_i C_ik ∂_i p``."""
    return -perturbation(model, k, p)
