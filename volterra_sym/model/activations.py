"""Activation functions ``a(z)`` of an SRNN (docs/theory.md §1).

Built-ins: ``linear`` (a(z)=z), ``tanh``, ``sigmoid`` (1/(1+e^{-z})), ``softplus``
(log(1+e^z)). A custom activation is any smooth one-variable expression in ``z``, parsed
through the safe whitelist parser. ReLU is refused: the response theory needs a smooth drift.

Each activation knows its closed derivative rule in terms of its own value ``a``
(tanh: ``a' = 1 - a²``, sigmoid: ``a' = a(1 - a)``), which later keeps symbolic chains
polynomial in ``(h, a)`` instead of swelling with nested transcendental functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..parsing import ExpressionError, parse_expression, sigmoid

__all__ = ["Activation", "get_activation", "Z"]

#: The activation's argument.
Z = sp.Symbol("z", real=True)


@dataclass(frozen=True)
class Activation:
    """A smooth activation function ``a(z)``.

    Attributes
    ----------
    name : ``"linear"``, ``"tanh"``, ``"sigmoid"``, ``"softplus"`` or ``"custom"``.
    expr : the SymPy expression of ``a`` in the symbol :data:`Z`.
    derivative_in_a : ``a'(z)`` written as a polynomial in the value ``a`` itself (a symbol
        ``A_``), where such a closed rule exists, else ``None``.
    bounded : ``|a| ≤ const`` on the real line.
    slopes_at_infinity : ``(lim_{z→-∞} a'(z), lim_{z→+∞} a'(z))``, used for stability checks.
    """

    name: str
    expr: sp.Expr
    derivative_in_a: sp.Expr | None = None
    bounded: bool = False
    slopes_at_infinity: tuple[float, float] = (0.0, 0.0)
    source: str = field(default="", compare=False)

    @property
    def is_linear(self) -> bool:
        return sp.simplify(self.expr - Z) == 0

    def __call__(self, x: sp.Expr) -> sp.Expr:
        """``a(x)`` as a SymPy expression."""
        return self.expr.subs(Z, x)

    def numpy(self):
        """Vectorised numpy callable ``a(z)``."""
        return sp.lambdify(Z, self.expr, "numpy")

    def latex(self) -> str:
        if self.name == "custom":
            return sp.latex(self.expr)
        return {"linear": "z", "tanh": r"\tanh z", "sigmoid": r"\frac{1}{1+e^{-z}}",
                "softplus": r"\log(1+e^{z})"}[self.name]


_A = sp.Symbol("A_", real=True)

_BUILTIN = {
    "linear": Activation("linear", Z, sp.Integer(1), False, (1.0, 1.0)),
    "identity": Activation("linear", Z, sp.Integer(1), False, (1.0, 1.0)),
    "tanh": Activation("tanh", sp.tanh(Z), 1 - _A**2, True, (0.0, 0.0)),
    "sigmoid": Activation("sigmoid", sigmoid(Z), _A * (1 - _A), True, (0.0, 0.0)),
    "softplus": Activation("softplus", sp.log(1 + sp.exp(Z)), None, False, (0.0, 1.0)),
}
_REFUSED = {
    "relu": "ReLU is not smooth (its derivative jumps at 0) and the response theory needs "
            "a smooth drift; use 'softplus' (a smooth ReLU) instead",
    "abs": "abs is not smooth at 0",
    "step": "a step function is not smooth",
    "heaviside": "a step function is not smooth",
}


def get_activation(spec: str | Activation | sp.Expr) -> Activation:
    """Return the :class:`Activation` named or written by ``spec``.

    ``spec`` is a built-in name, an :class:`Activation`, or a smooth expression in ``z``
    (string, parsed safely, or SymPy expression).
    """
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        key = spec.strip()
        if key.lower() in _BUILTIN:
            return _BUILTIN[key.lower()]
        if key.lower() in _REFUSED:
            raise ValueError(f"activation {spec!r} refused: {_REFUSED[key.lower()]}")
    try:
        expr = parse_expression(spec, {"z": Z}, what="activation")
    except ExpressionError as exc:
        raise ValueError(str(exc)) from None
    if expr.free_symbols - {Z}:
        raise ValueError(f"activation {spec!r} must be an expression in z only")
    return _custom(expr, str(spec))


def _custom(expr: sp.Expr, source: str) -> Activation:
    """Check a custom activation numerically for smoothness and growth."""
    f = sp.lambdify(Z, expr, "numpy")
    df = sp.lambdify(Z, sp.diff(expr, Z), "numpy")
    zs = np.linspace(-30.0, 30.0, 6001)
    with np.errstate(all="ignore"):
        vals = np.asarray(f(zs), dtype=complex) * np.ones_like(zs)
        dvals = np.asarray(df(zs), dtype=complex) * np.ones_like(zs)
    if not (np.all(np.isfinite(vals)) and np.all(np.isfinite(dvals))):
        bad = zs[~(np.isfinite(vals) & np.isfinite(dvals))][0]
        raise ValueError(f"activation {source!r} is not smooth/finite on the real line "
                         f"(not finite at z = {bad:g})")
    if np.max(np.abs(vals.imag)) > 1e-12:
        raise ValueError(f"activation {source!r} is not real-valued on the real line")
    big = 1e3
    with np.errstate(all="ignore"):
        slopes = (float(np.real(df(-big))), float(np.real(df(big))))
    bounded = bool(np.max(np.abs(vals.real)) < 1e6 and all(abs(s) < 1e-8 for s in slopes))
    slopes = tuple(s if np.isfinite(s) else np.inf for s in slopes)
    return Activation("custom", expr, None, bounded, slopes, source)
