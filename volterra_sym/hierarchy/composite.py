"""Kernels indexed by compositions: kicks carrying several channels (docs/theory.md §10).

With the input inside the activation a kick at time ``s_i`` carries ``j_i ≥ 1`` channels at
once. A kernel is named by its kicks, most recent first, each a tuple of 0-based channels:
``((0, 1), (0,))`` is ``K^{(2,1)}_{12,1}(σ_1, σ_2) = <p0, L^{(1)}_1 P_{σ_2−σ_1}
L^{(2)}_{12} P_{σ_1} f>`` (σ sorted). A plain channel tuple ``(0, 1)`` means single-channel
kicks ``((0,), (1,))``. Orders: ``N = Σ_i j_i``; the lags are one per kick.

For the additive input, and for a linear activation (``a'' = 0``), ``L^{(1)}_k = L_k`` and
``L^{(j≥2)} = 0`` exactly: such kernels are the additive kernels of docs/theory.md §4, or 0.
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy as sp

from ..errors import InvalidInputError
from ..operators import KickPerturbation, Semigroup, StationaryAverage
from ..results import KernelValues
from .kernel import channel_index, evaluate_kernels, lag_symbols, request_key

__all__ = ["CompositeKernel", "kick_sequences", "is_composite", "normalise_kicks"]


def is_composite(spec) -> bool:
    """Whether ``spec`` names kicks (a sequence of tuples) rather than channels."""
    return isinstance(spec, (tuple, list)) and any(isinstance(c, (tuple, list)) for c in spec)


def normalise_kicks(model, spec) -> tuple[tuple[int, ...], ...]:
    """``((k..), (k..), ...)`` from the composite form or a plain channel tuple; anything
    else (empty kicks, non-integer channels, strings) is refused
    (:class:`InvalidInputError`, ``param="channels"``)."""
    if isinstance(spec, (int, np.integer, sp.Integer)) and not isinstance(spec, bool):
        spec = (spec,)
    if not isinstance(spec, (tuple, list)) or not spec:
        raise InvalidInputError(f"kicks must be a non-empty tuple such as ((0, 1), (0,)), got "
                                f"{spec!r}", param="channels")
    out = []
    for c in spec:
        kick = c if isinstance(c, (tuple, list)) else (c,)
        if not kick:
            raise InvalidInputError(f"every kick carries at least one channel, got {spec!r}",
                                    param="channels")
        out.append(tuple(channel_index(model, k) for k in kick))
    return tuple(out)


def kick_sequences(m: int, order: int) -> list[tuple[tuple[int, ...], ...]]:
    """Every kernel of total order ``order``: compositions ``(j_1..j_r)`` of ``order`` and
    channels ``[m]^{j_i}`` per kick (ordered by the number of kicks, then lexicographic)."""
    out = []
    for r in range(order, 0, -1):
        for comp in _compositions(order, r):
            for chans in itertools.product(*[itertools.product(range(m), repeat=j)
                                             for j in comp]):
                out.append(tuple(chans))
    return out


def _compositions(N: int, r: int):
    if r == 1:
        yield (N,)
        return
    for first in range(1, N - r + 2):
        for rest in _compositions(N - first, r - 1):
            yield (first, *rest)


class CompositeKernel:
    """``K^{(j_1…j_r)}_{k}(σ_1..σ_r)`` (module docstring)."""

    def __init__(self, model, f: sp.Expr, kicks, ref):
        self.model, self.ref = model, ref
        self.f = model.observable(f)      # SymPy input too: the parser's whitelist
        self.kicks = normalise_kicks(model, kicks)

    @property
    def order(self) -> int:
        return sum(len(c) for c in self.kicks)

    @property
    def lags(self):
        return lag_symbols(len(self.kicks))

    def operator_form(self) -> StationaryAverage:
        """``<p0, L^{(j_r)}_{k_r} P_{σ_r−σ_{r−1}} ⋯ L^{(j_1)}_{k_1} P_{σ_1} f>``."""
        g = self.f
        sig = self.lags
        for i, ks in enumerate(self.kicks):
            g = KickPerturbation(ks, Semigroup(sig[i] - (sig[i - 1] if i else 0), g, self.ref),
                                 self.ref)
        return StationaryAverage(g, self.ref)

    def latex(self) -> str:
        sup = ",".join(str(len(c)) for c in self.kicks)
        sub = ",".join("".join(str(k + 1) for k in c) for c in self.kicks)
        args = ", ".join(sp.latex(s) for s in self.lags)
        return (rf"K^{{({sup})}}_{{{sub}}}\left({args}\right) = "
                + sp.latex(self.operator_form()))

    def evaluate(self, lags, method: str = "auto", **options) -> KernelValues:
        """Values at lags ``(..., r)`` (one lag per kick, any order: kicks and lags are
        sorted together, only the orderings that occur). Kicks of several channels vanish
        for the additive input or a linear activation (``L^{(j≥2)} = 0``); then the
        method and options are still checked and ``details["identically_zero"]`` says why."""
        key = request_key(self.model, self.kicks)
        res = evaluate_kernels(self.model, self.f, {key: lags}, method, **options)[key]
        return KernelValues(res.values, res.error, res.method,
                            {**res.details, "kicks": self.kicks})

    def _repr_latex_(self) -> str:
        """Jupyter: ``K^{(j…)}_κ(σ) = <p0, L^{(j)}_κ ⋯ P_σ f>``, as a plain kernel shows."""
        return "$\\displaystyle " + self.latex() + "$"

    def __repr__(self) -> str:
        return f"CompositeKernel({self.kicks}, f={self.f})"
