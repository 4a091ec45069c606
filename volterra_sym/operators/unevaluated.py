"""Unevaluated operator expressions, in the style of ``sympy.stats.Expectation``.

``Generator(g, ref)``, ``Semigroup(s, g, ref)``, ``Perturbation(k, g, ref)`` and
``StationaryAverage(g, ref)`` (``ref = model_ref(model)``) are SymPy ``Expr`` objects that
print as the formula they stand for

    \\mathcal{L}_0 g ,   e^{s\\mathcal{L}_0} g ,   \\mathcal{L}_k g ,   \\langle p_0, g \\rangle

and evaluate on request with ``doit()``. The model they refer to travels in the
expression as a :class:`ModelRef` symbol (printing ignores it), so that SymPy's
``func(*args)`` reconstruction keeps it.
"""

from __future__ import annotations

import itertools
import weakref

import sympy as sp

from ..model import SRNN
from ..model.cache import derived
from .generator import (
    check_channel,
    check_composite,
    check_time,
    generator,
    operand,
    perturbation,
    perturbation_j,
)
from .rules import apply_rule

__all__ = ["ModelRef", "model_ref", "Generator", "Semigroup", "Perturbation",
           "StationaryAverage", "OperatorExpr", "KickPerturbation"]

_REGISTRY: weakref.WeakValueDictionary[str, SRNN] = weakref.WeakValueDictionary()
_COUNTER = itertools.count()


class ModelRef(sp.Symbol):
    """A symbol naming an :class:`SRNN` inside operator expressions."""

    @property
    def model(self) -> SRNN:
        strong = self.__dict__.get("_model")      # set once, when the ref is created
        if strong is not None:
            return strong
        try:
            return _REGISTRY[self.name]
        except KeyError:
            raise RuntimeError(f"the model behind {self.name} no longer exists") from None

    def _latex(self, printer) -> str:
        return r"\mathcal{M}"


def model_ref(model: SRNN) -> ModelRef:
    """The (cached) :class:`ModelRef` of ``model``."""
    def build() -> ModelRef:
        name = f"_srnn{next(_COUNTER)}_{model.name.replace(' ', '_')}"
        _REGISTRY[name] = model
        ref = ModelRef(name)
        # expressions holding the ref keep the model alive (a ResponseKernel may outlive
        # every other reference to its model)
        ref.__dict__["_model"] = model
        return ref
    ref = derived(model, ("operators", "model_ref"), build)
    return ref


def _operand_latex(printer, g) -> str:
    s = printer._print(g)
    if isinstance(g, (sp.Add, sp.Mul)) or (isinstance(g, sp.Pow) and not g.is_Symbol):
        return r"\left[" + s + r"\right]"
    return s


class OperatorExpr(sp.Expr):
    """Base class: the last argument is the :class:`ModelRef`."""

    is_commutative = True
    #: the operand was checked when the expression was built (:func:`operand`); the
    #: operand check does not walk into it again
    operand_checked = True

    @property
    def model(self) -> SRNN:
        return self.args[-1].model

    @property
    def operand(self) -> sp.Expr:
        return self.args[-2]

    def _eval_operand(self, **hints):
        g = self.operand
        return g.doit(**hints) if hints.get("deep", True) else g


class Generator(OperatorExpr):
    """``\\mathcal{L}_0 g``: the generator of the unperturbed dynamics applied to ``g``."""

    def __new__(cls, g, ref: ModelRef):
        return super().__new__(cls, operand(ref.model, g), ref)

    def doit(self, **hints):
        return generator(self.model, self._eval_operand(**hints))

    def _latex(self, printer) -> str:
        return r"\mathcal{L}_0 " + _operand_latex(printer, self.operand)

    def _sympystr(self, printer) -> str:
        return f"L0[{printer._print(self.operand)}]"


class Perturbation(OperatorExpr):
    """``\\mathcal{L}_k g = C_k · ∇g`` (channel ``k`` 0-based, printed 1-based)."""

    def __new__(cls, k, g, ref: ModelRef):
        k = check_channel(ref.model, k)        # before int(): '0', 1.0, True are refused
        return super().__new__(cls, sp.Integer(k), operand(ref.model, g), ref)

    @property
    def channel(self) -> int:
        return int(self.args[0])

    def doit(self, **hints):
        return perturbation(self.model, self.channel, self._eval_operand(**hints))

    def _latex(self, printer) -> str:
        k = self.channel + 1
        return rf"\mathcal{{L}}_{{{k}}} " + _operand_latex(printer, self.operand)

    def _sympystr(self, printer) -> str:
        return f"L{self.channel + 1}[{printer._print(self.operand)}]"


class KickPerturbation(OperatorExpr):
    """``\\mathcal{L}^{(j)}_{k_1…k_j} g`` (docs/theory.md §10): one kick carrying the channels
    ``(k_1, …, k_j)`` (0-based, printed 1-based)."""

    def __new__(cls, ks, g, ref: ModelRef):
        ks = check_composite(ref.model, ks)
        return super().__new__(cls, sp.Tuple(*map(sp.Integer, ks)), operand(ref.model, g), ref)

    @property
    def channels(self) -> tuple[int, ...]:
        return tuple(int(k) for k in self.args[0])

    def doit(self, **hints):
        return perturbation_j(self.model, self.channels, self._eval_operand(**hints))

    def _latex(self, printer) -> str:
        sep = "," if any(k >= 9 for k in self.channels) else ""
        sub = sep.join(str(k + 1) for k in self.channels)
        return (rf"\mathcal{{L}}^{{({len(self.channels)})}}_{{{sub}}} "
                + _operand_latex(printer, self.operand))

    def _sympystr(self, printer) -> str:
        sub = ",".join(str(k + 1) for k in self.channels)
        return f"L^({len(self.channels)})_{sub}[{printer._print(self.operand)}]"


class Semigroup(OperatorExpr):
    """``P_s g = e^{s\\mathcal{L}_0} g``, ``(P_s g)(x) = E[g(h_s) | h_0 = x]``.

    ``doit()`` returns the closed form where the exact backend applies (linear model,
    polynomial ``g``), else the unevaluated object.
    """

    def __new__(cls, s, g, ref: ModelRef):
        time = check_time(ref.model.expression(s, "s"))
        return super().__new__(cls, time, operand(ref.model, g), ref)

    @property
    def time(self) -> sp.Expr:
        return self.args[0]

    def doit(self, **hints):
        g = self._eval_operand(**hints)
        if self.time == 0:
            return g
        out = apply_rule("semigroup", self.model, g, self.time)
        return self.func(self.time, g, self.args[-1]) if out is None else out

    def _latex(self, printer) -> str:
        s = printer._print(self.time)
        if isinstance(self.time, sp.Add):
            s = r"\left(" + s + r"\right)"
        return rf"e^{{{s}\,\mathcal{{L}}_0}} " + _operand_latex(printer, self.operand)

    def _sympystr(self, printer) -> str:
        s = printer._print(self.time)
        if isinstance(self.time, sp.Add):       # exp((a - b)*L0), not exp(a - b*L0)
            s = f"({s})"
        return f"exp({s}*L0)[{printer._print(self.operand)}]"


class StationaryAverage(OperatorExpr):
    """``\\langle p_0, g \\rangle = E_0[g(h)]``, the average over the stationary density."""

    def __new__(cls, g, ref: ModelRef):
        return super().__new__(cls, operand(ref.model, g), ref)

    def doit(self, **hints):
        g = self._eval_operand(**hints)
        if g.has(OperatorExpr):
            return self.func(g, self.args[-1])
        out = apply_rule("average", self.model, g)
        return self.func(g, self.args[-1]) if out is None else out

    def _latex(self, printer) -> str:
        return r"\left\langle p_0,\ " + printer._print(self.operand) + r"\right\rangle"

    def _sympystr(self, printer) -> str:
        return f"<p0, {printer._print(self.operand)}>"
