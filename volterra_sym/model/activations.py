"""Activation functions ``a(z)`` of an SRNN (docs/theory.md §1).

Built-ins: ``linear`` (a(z)=z), ``tanh``, ``sigmoid`` (1/(1+e^{-z})), ``softplus``
(log(1+e^z)). A custom activation is any smooth one-variable expression in ``z``, parsed
through the safe whitelist parser. ReLU is refused: the response theory needs a smooth drift.

One :class:`Activation` object is the single place that knows ``a``:

* its value, symbolically (``a(x)``) and vectorised (:meth:`Activation.numpy`, overflow-safe
  closed forms for the built-ins, :meth:`Activation.numpy_inplace` for ``x ← a(x)``);
* its derivatives ``a^{(j)}(z)`` (:meth:`Activation.derivative`,
  :meth:`Activation.numpy_derivative`) and the closed rule of ``a'`` in terms of the value
  ``a`` itself (tanh: ``a' = 1 - a²``, sigmoid: ``a' = a(1 - a)``), which keeps symbolic
  chains polynomial in ``(h, a)``; for those two ``a^{(j)} = P_j(a)`` with
  ``P_1 = a'(a)`` and ``P_{j+1} = P_j'(a) · P_1(a)``; softplus has ``a' = sigmoid``;
* its linearity (:attr:`Activation.is_linear`: ``a(z) ≡ z``, decided once), its Lipschitz
  constant ``sup_z |a'(z)|``, boundedness and the slopes ``a'(±∞)`` used for stability;
* its primitive ``∫ a dz`` where a closed one exists (used by the 1-D stationary density).

A custom expression that equals a built-in (``"z"``, ``"1*z"``, ``"z + 0"``,
``"1/(1+exp(-z))"``) *is* that built-in: it gets the built-in's name, rules and routes.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
import sympy as sp

from ..arrays import check_int
from ..errors import InvalidInputError
from ..parsing import ExpressionError, parse_expression, sigmoid

__all__ = ["Activation", "get_activation", "Z"]

#: The activation's argument.
Z = sp.Symbol("z", real=True)

#: The value ``a`` as a polynomial variable in :attr:`Activation.derivative_in_a`.
_A = sp.Symbol("A_", real=True)

#: Points where a custom activation is compared numerically with ``z`` and the built-ins.
_PROBE = np.array([-2.3, -0.7, 0.0, 0.4, 1.9])


def _sigmoid_np(z: np.ndarray) -> np.ndarray:
    """``1/(1 + e^{-z}) = (1 + tanh(z/2))/2`` without overflow."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))


def _as_float_array(value, z: np.ndarray) -> np.ndarray:
    """``value`` (possibly a scalar from a constant lambdified expression) as a float array
    of the shape of ``z``."""
    out = np.empty(np.shape(z), dtype=float)
    out[...] = np.real_if_close(np.asarray(value))
    return out


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
    source : the text the user wrote (not part of the value).
    lipschitz : ``sup_z |a'(z)|`` (closed for the built-ins; a dense grid on ``[-60, 60]``
        for a custom activation, computed at construction when not given).
    is_linear : ``a(z) ≡ z`` (decided once, at construction).
    """

    name: str
    expr: sp.Expr
    derivative_in_a: sp.Expr | None = None
    bounded: bool = False
    slopes_at_infinity: tuple[float, float] = (0.0, 0.0)
    source: str = field(default="", compare=False)
    lipschitz: float = field(default=float("nan"), compare=False)
    is_linear: bool = field(init=False, compare=False, default=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "is_linear", _equals(self.expr, Z))
        if not np.isfinite(self.lipschitz):
            object.__setattr__(self, "lipschitz", _lipschitz_on_grid(self.expr))

    # ------------------------------------------------------------------ symbolic
    def __call__(self, x: sp.Expr) -> sp.Expr:
        """``a(x)`` as a SymPy expression."""
        return self.expr.subs(Z, x)

    def derivative(self, j: int = 1) -> sp.Expr:
        """``a^{(j)}(z) = d^j a / dz^j`` as a SymPy expression in :data:`Z` (``j = 0``: ``a``).
        For tanh and sigmoid it is written through ``a`` itself (``P_j(a(z))``, see the
        module docstring), so it stays short."""
        return _derivative(self, _order(j))

    def derivative_poly(self, j: int = 1) -> sp.Expr | None:
        """``P_j`` with ``a^{(j)}(z) = P_j(a(z))``: a polynomial in ``A_`` for activations
        with a closed rule :attr:`derivative_in_a` (``None`` otherwise)."""
        return _derivative_poly(self, _order(j))

    def primitive(self, x: sp.Expr = Z) -> sp.Expr | None:
        """A closed primitive ``F(x)`` with ``F' = a`` (``None`` for a custom activation):
        ``x²/2``, ``log cosh x`` (tanh), ``log(1 + e^x)`` (sigmoid), ``-Li₂(-e^x)``
        (softplus)."""
        return {"linear": x**2 / 2, "tanh": sp.log(sp.cosh(x)),
                "sigmoid": sp.log(1 + sp.exp(x)),
                "softplus": -sp.polylog(2, -sp.exp(x))}.get(self.name)

    # ------------------------------------------------------------------ numbers
    def numpy(self) -> Callable[[np.ndarray], np.ndarray]:
        """Vectorised ``a(z)``: float array in, float array of the same shape out
        (overflow-safe closed forms for the built-ins)."""
        return _numpy(self)

    def numpy_derivative(self, j: int = 1) -> Callable[[np.ndarray], np.ndarray]:
        """Vectorised ``a^{(j)}(z)`` (float array of the shape of ``z``). For tanh and
        sigmoid ``a^{(j)} = a'(z) · P_{j-1}'(a)`` with ``a'`` in a cancellation-free form
        (``sech² z = 4e^{-2|z|}/(1+e^{-2|z|})²``, resp. ``σ(z)σ(-z)``); softplus uses
        ``softplus^{(j)} = σ^{(j-1)}``. So large ``|z|`` gives neither ``inf/inf`` nor a
        loss of relative accuracy in the tails; a custom activation is lambdified."""
        return _numpy_derivative(self, _order(j))

    def numpy_inplace(self) -> Callable[[np.ndarray], None] | None:
        """``x ← a(x)`` in place on a float array (``None`` for the identity)."""
        if self.name == "linear":
            return None
        if self.name == "tanh":
            return lambda x: np.tanh(x, out=x)
        if self.name == "sigmoid":
            def sig(x: np.ndarray) -> None:  # σ(z) = (1 + tanh(z/2)) / 2
                x *= 0.5
                np.tanh(x, out=x)
                x += 1.0
                x *= 0.5
            return sig
        if self.name == "softplus":
            return lambda x: np.logaddexp(0.0, x, out=x)
        a = self.numpy()

        def custom(x: np.ndarray) -> None:
            x[...] = a(x)
        return custom

    def latex(self) -> str:
        if self.name == "custom":
            return sp.latex(self.expr)
        return {"linear": "z", "tanh": r"\tanh z", "sigmoid": r"\frac{1}{1+e^{-z}}",
                "softplus": r"\log(1+e^{z})"}[self.name]


# ---------------------------------------------------------------------- helpers
def _order(j) -> int:
    return check_int(j, "j", lo=0, what="a derivative order")


def _equals(expr: sp.Expr, other: sp.Expr) -> bool:
    """``expr ≡ other`` as functions of ``z``: a numeric probe rejects quickly, a symbolic
    simplification confirms."""
    try:
        f = sp.lambdify(Z, expr - other, "numpy")
        with np.errstate(all="ignore"):
            vals = np.asarray(f(_PROBE), dtype=complex) * np.ones_like(_PROBE)
    except (TypeError, ValueError, NameError, ZeroDivisionError, OverflowError):
        vals = None
    if vals is not None and not np.all(np.abs(vals) <= 1e-12 * (1 + np.abs(_PROBE))):
        return False
    return sp.simplify(expr - other) == 0


def _lipschitz_on_grid(expr: sp.Expr) -> float:
    """``max |a'(z)|`` on 120001 points of ``[-60, 60]`` (``inf`` if not finite there)."""
    da = sp.lambdify(Z, sp.diff(expr, Z), "numpy")
    zs = np.linspace(-60.0, 60.0, 120001)
    with np.errstate(all="ignore"):
        vals = np.abs(np.asarray(da(zs), dtype=complex) * np.ones_like(zs))
    vals = vals[np.isfinite(vals)]
    return float(np.max(vals)) if vals.size else float("inf")


@lru_cache(maxsize=256)
def _derivative_poly(act: Activation, j: int) -> sp.Expr | None:
    if act.derivative_in_a is None:
        return None
    if j == 0:
        return _A
    prev = _derivative_poly(act, j - 1)
    return sp.expand(sp.diff(prev, _A) * act.derivative_in_a)


@lru_cache(maxsize=256)
def _derivative(act: Activation, j: int) -> sp.Expr:
    poly = _derivative_poly(act, j)
    if poly is not None:
        return poly.subs(_A, act.expr)
    return sp.diff(act.expr, Z, j)


_NUMPY_VALUE: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda z: np.array(z, dtype=float),
    "tanh": lambda z: np.tanh(np.asarray(z, dtype=float)),
    "sigmoid": _sigmoid_np,
    "softplus": lambda z: np.logaddexp(0.0, np.asarray(z, dtype=float)),
}


@lru_cache(maxsize=256)
def _numpy(act: Activation) -> Callable[[np.ndarray], np.ndarray]:
    if act.name in _NUMPY_VALUE:
        return _NUMPY_VALUE[act.name]
    fn = sp.lambdify(Z, act.expr, "numpy")

    def a(z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=float)
        return _as_float_array(fn(z), z)
    return a


def _sech2_np(z: np.ndarray) -> np.ndarray:
    """``tanh'(z) = sech² z = 4e/(1 + e)²`` with ``e = e^{-2|z|}`` (no overflow, and
    accurate where ``1 - tanh² z`` would cancel)."""
    e = np.exp(-2.0 * np.abs(np.asarray(z, dtype=float)))
    return 4.0 * e / (1.0 + e) ** 2


#: ``a'(z)`` of the built-ins with a rule ``a' = R(a)``, evaluated without cancellation
_FIRST_DERIVATIVE: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tanh": _sech2_np,
    "sigmoid": lambda z: _sigmoid_np(z) * _sigmoid_np(-np.asarray(z, dtype=float)),
}


@lru_cache(maxsize=256)
def _numpy_derivative(act: Activation, j: int) -> Callable[[np.ndarray], np.ndarray]:
    if j == 0:
        return _numpy(act)
    if act.name == "linear":
        return lambda z: np.full(np.shape(z), 1.0 if j == 1 else 0.0)
    if act.name == "softplus":           # softplus^{(j)} = sigmoid^{(j-1)}
        return _numpy_derivative(_BUILTIN["sigmoid"], j - 1)
    if act.name in _FIRST_DERIVATIVE:
        # a^{(j)} = P_{j-1}'(a) · R(a): the factor R = a' evaluated stably, so the tails
        # (a → ±1 or 0, 1) keep their relative accuracy
        first = _FIRST_DERIVATIVE[act.name]
        q = sp.diff(_derivative_poly(act, j - 1), _A)
        coeffs = [float(c) for c in sp.Poly(q, _A).all_coeffs()]
        value = _numpy(act)

        def dpoly(z: np.ndarray) -> np.ndarray:
            z = np.asarray(z, dtype=float)
            return _as_float_array(first(z) * np.polyval(coeffs, value(z)), z)
        return dpoly
    fn = sp.lambdify(Z, sp.diff(act.expr, Z, j), "numpy")

    def d(z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=float)
        return _as_float_array(fn(z), z)
    return d


_BUILTIN = {
    "linear": Activation("linear", Z, sp.Integer(1), False, (1.0, 1.0), lipschitz=1.0),
    "tanh": Activation("tanh", sp.tanh(Z), 1 - _A**2, True, (0.0, 0.0), lipschitz=1.0),
    "sigmoid": Activation("sigmoid", sigmoid(Z), _A * (1 - _A), True, (0.0, 0.0),
                          lipschitz=0.25),
    "softplus": Activation("softplus", sp.log(1 + sp.exp(Z)), None, False, (0.0, 1.0),
                           lipschitz=1.0),
}
_ALIASES = {"identity": "linear"}
_REFUSED = {
    "relu": "ReLU is not smooth (its derivative jumps at 0) and the response theory needs "
            "a smooth drift; use 'softplus' (a smooth ReLU) instead",
    "abs": "abs is not smooth at 0",
    "step": "a step function is not smooth",
    "heaviside": "a step function is not smooth",
}


def _invalid(message: str) -> InvalidInputError:
    return InvalidInputError(message, param="activation")


def get_activation(spec: str | Activation | sp.Expr) -> Activation:
    """Return the :class:`Activation` named or written by ``spec``.

    ``spec`` is a built-in name, an :class:`Activation`, or a smooth expression in ``z``
    (string, parsed safely, or SymPy expression). An expression or activation equal to a
    built-in (``"z"``, ``"1*z"``, ``"z + 0"``, ``tanh(z)``...) returns that built-in (its
    ``source`` keeps what was written).
    """
    if isinstance(spec, Activation):
        if spec.name == "custom" or (spec.is_linear and spec.name != "linear"):
            return _canonical(spec.expr, spec.source) or spec
        return spec
    if isinstance(spec, str):
        key = spec.strip().lower()
        key = _ALIASES.get(key, key)
        if key in _BUILTIN:
            return _BUILTIN[key]
        if key in _REFUSED:
            raise _invalid(f"activation {spec!r} refused: {_REFUSED[key]}")
    try:
        expr = parse_expression(spec, {"z": Z}, what="activation")
    except ExpressionError as exc:
        hint = ""
        if isinstance(spec, str) and spec.strip().isidentifier():
            close = difflib.get_close_matches(spec.strip().lower(),
                                              [*_BUILTIN, *_ALIASES], n=1)
            hint = (f" (did you mean {close[0]!r}?)" if close else "") + \
                f"; built-in activations: {sorted(_BUILTIN)}, or an expression in z"
        raise _invalid(str(exc) + hint) from None
    if expr.free_symbols - {Z}:
        raise _invalid(f"activation {spec!r} must be an expression in z only")
    source = str(spec)
    return _canonical(expr, source) or _custom(expr, source)


def _canonical(expr: sp.Expr, source: str) -> Activation | None:
    """The built-in equal to ``expr`` (with ``source`` recorded), if any."""
    for act in _BUILTIN.values():
        if _equals(expr, act.expr):
            return replace(act, source=source) if source else act
    return None


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
        raise _invalid(f"activation {source!r} is not smooth/finite on the real line "
                         f"(not finite at z = {bad:g})")
    if np.max(np.abs(vals.imag)) > 1e-12:
        raise _invalid(f"activation {source!r} is not real-valued on the real line")
    big = 1e3
    with np.errstate(all="ignore"):
        slopes = (float(np.real(df(-big))), float(np.real(df(big))))
        # |a(z)|/|z| still growing tenfold out (z³: 1e4 at 100, 1e6 at 1000) is faster
        # than linear, whatever a'(±1000) happens to be
        growth = [abs(complex(f(sgn * big))) / big
                  / max(abs(complex(f(sgn * big / 10))) / (big / 10), 1e-300)
                  for sgn in (-1.0, 1.0)]
    bounded = bool(np.max(np.abs(vals.real)) < 1e6 and all(abs(s) < 1e-8 for s in slopes))
    slopes = tuple(s if np.isfinite(s) and not (g > 2.0 and abs(s) > 1.0) else np.inf
                   for s, g in zip(slopes, growth, strict=True))
    return Activation("custom", expr, None, bounded, slopes, source)
