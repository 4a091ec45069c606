"""Evaluation rules for the unevaluated operators, supplied by the layers that know them.

``Semigroup(s, g).doit()``, ``StationaryAverage(g).doit()`` and
``ResponseKernel.doit()`` need facts about the stationary law (a Gaussian semigroup in
closed form, an expectation under ``p0``) that belong to the density layer above this one.
As ``sympy.stats`` hands ``Expectation.doit()`` to the probability space, the density
layer registers its rules here when it is imported; the operators never import it.

A rule is ``rule(model, *args) -> sympy.Expr | None`` (``None``: does not apply, the
expression stays unevaluated).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

__all__ = ["register_rule", "apply_rule", "RULE_KINDS"]

#: ``semigroup(model, g, s)``, ``average(model, g)``, ``kernel(model, f, channels, lags)``
RULE_KINDS = ("semigroup", "average", "kernel")
_RULES: dict[str, list[Callable]] = {k: [] for k in RULE_KINDS}
#: packages that register rules when imported (a plugin list, see module docstring)
PROVIDERS = ("volterra_sym.density",)
_LOADED = False


def register_rule(kind: str, rule: Callable) -> None:
    """Add ``rule`` for ``kind`` (tried after the rules registered before it)."""
    if kind not in _RULES:
        raise ValueError(f"unknown rule kind {kind!r}; kinds: {RULE_KINDS}")
    if rule not in _RULES[kind]:
        _RULES[kind].append(rule)


def apply_rule(kind: str, model, *args):
    """The first registered rule of ``kind`` that applies, or ``None``."""
    global _LOADED
    if not _LOADED:
        _LOADED = True
        for name in PROVIDERS:
            importlib.import_module(name)
    for rule in _RULES[kind]:
        out = rule(model, *args)
        if out is not None:
            return out
    return None
