"""Response kernels as unevaluated SymPy expressions (THEORY §4).

``ResponseKernel(f, (k_1, …, k_N), ref)`` prints as ``K_{k_1…k_N}(σ_1, …, σ_N)`` and
stands for, with sorted lags ``σ_1 ≤ … ≤ σ_N``,

    K_k(σ) = < p0 , L_{k_N} P_{σ_N-σ_{N-1}} L_{k_{N-1}} ⋯ P_{σ_2-σ_1} L_{k_1} P_{σ_1} f > .

``.rewrite("operator")`` gives that operator tree, ``.doit()`` the closed form where one
exists (linear model, polynomial ``f``), and ``.evaluate(lags, method=...)`` numbers.
Unsorted lags use the symmetric extension: the pairs ``(k_j, σ_j)`` are sorted by ``σ_j``.
"""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
import sympy as sp

from ..operators import OperatorExpr, Perturbation, Semigroup, StationaryAverage
from ..results import KernelValues

__all__ = ["ResponseKernel", "lag_symbols", "gap_symbols", "check_lags"]


@cache
def lag_symbols(N: int) -> tuple[sp.Symbol, ...]:
    """Lags ``σ_1..σ_N`` (time since the j-th kick; σ_1 the most recent)."""
    return tuple(sp.Symbol(f"sigma_{j + 1}", nonnegative=True) for j in range(N))


@cache
def gap_symbols(N: int) -> tuple[sp.Symbol, ...]:
    """Gaps ``τ_1 = σ_1``, ``τ_j = σ_j - σ_{j-1}``."""
    return tuple(sp.Symbol(f"tau_{j + 1}", nonnegative=True) for j in range(N))


def check_lags(lags, N: int) -> np.ndarray:
    """Validate lags: shape ``(..., N)`` (for N = 1 also ``(...)``), finite, ≥ 0."""
    arr = np.asarray(lags, dtype=float)
    if N == 1 and (arr.ndim == 0 or arr.shape[-1] != 1):
        arr = arr[..., None]
    if arr.ndim == 0 or arr.shape[-1] != N:
        raise ValueError(f"lags must have shape (..., {N}) for a kernel of order {N}, "
                         f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("lags must be finite (found NaN or inf)")
    if np.any(arr < 0):
        raise ValueError(f"lags must be ≥ 0 (σ_j = t - s_j is a time since a kick), "
                         f"got {arr[arr < 0].min()}")
    return arr


class ResponseKernel(OperatorExpr):
    """The Volterra kernel ``K_{k_1…k_N}(σ_1, …, σ_N)`` of observable ``f``."""

    def __new__(cls, f, channels, ref):
        ch = sp.Tuple(*[sp.Integer(int(k)) for k in channels])
        return super().__new__(cls, sp.sympify(f), ch, ref)

    @property
    def observable(self) -> sp.Expr:
        return self.args[0]

    @property
    def channels(self) -> tuple[int, ...]:
        return tuple(int(k) for k in self.args[1])

    @property
    def order(self) -> int:
        return len(self.args[1])

    @property
    def lags(self) -> tuple[sp.Symbol, ...]:
        return lag_symbols(self.order)

    # ------------------------------------------------------------------ symbolic forms
    def operator_form(self, in_gaps: bool = False) -> StationaryAverage:
        """The unevaluated tree ``<p0, L_{k_N} P_{τ_N} ⋯ L_{k_1} P_{τ_1} f>``; the gaps are
        written ``σ_j - σ_{j-1}`` unless ``in_gaps``."""
        ref = self.args[-1]
        sig = self.lags
        g = self.observable
        for j, k in enumerate(self.channels):
            gap = gap_symbols(self.order)[j] if in_gaps else sig[j] - (sig[j - 1] if j else 0)
            g = Perturbation(k, Semigroup(gap, g, ref), ref)
        return StationaryAverage(g, ref)

    def _eval_rewrite_as_operator(self, *args, **kwargs):
        return self.operator_form()

    def doit(self, **hints):
        """The closed form where the exact backend applies (n ≤ 3; the cost grows fast with
        the dimension and the degree of ``f``: about a minute for a cubic observable of a
        3-dim model), else the operator tree with every applicable step carried out."""
        from ..backends.exact_linear import kernel_closed_form, supports

        if supports(self.model, self.observable) and self.model.n <= 3:
            return kernel_closed_form(self.model, self.observable, self.channels)
        return self.operator_form().doit(**hints)

    def _latex(self, printer) -> str:
        sub = "".join(str(k + 1) for k in self.channels) if self.model.m < 10 else \
            ",".join(str(k + 1) for k in self.channels)
        args = ", ".join(printer._print(s) for s in self.lags)
        return rf"K_{{{sub}}}\left({args}\right)"

    def _sympystr(self, printer) -> str:
        return f"K{list(k + 1 for k in self.channels)}({', '.join(map(str, self.lags))})"

    def latex(self, closed_form: bool = False) -> str:
        """``K_k(σ) = <p0, …>`` (and ``= closed form`` on request) for sorted lags."""
        N = self.order
        cond = rf"\quad(\sigma_1 \le \dots \le \sigma_{N})" if N > 2 else \
            (r"\quad(\sigma_1 \le \sigma_2)" if N == 2 else "")
        out = sp.latex(self) + " = " + sp.latex(self.operator_form()) + cond
        if closed_form:
            out += r" \\ &= " + sp.latex(self.doit())
        return out

    # ------------------------------------------------------------------ numbers
    def evaluate(self, lags, method: str = "auto", *, return_error: bool = False,
                 **options) -> KernelValues:
        """Kernel values at ``lags`` of shape ``(..., N)`` (any order of the lags: the
        symmetric extension is applied), as :class:`~volterra_sym.results.KernelValues`
        of shape ``(...)`` with the error estimate and the method used
        (``np.asarray(result)`` gives the values). ``return_error=True`` returns the
        pair ``(values, error)`` of plain arrays instead. ``options`` go to the backend
        (e.g. ``tol`` for ``spectral``)."""
        from ..backends import select_kernel_backend

        N = self.order
        arr = check_lags(lags, N)
        batch = arr.shape[:-1]
        flat = arr.reshape(-1, N)
        backend = select_kernel_backend(self, method)
        out = np.empty(flat.shape[0])
        err = np.zeros(flat.shape[0])

        def run(chans, sorted_lags, mask):
            out[mask], err[mask] = backend.kernel(self.model, self.observable, chans,
                                                  sorted_lags, return_error=True, **options)

        def result():
            if return_error:
                return out.reshape(batch), err.reshape(batch)
            return KernelValues(out.reshape(batch), err.reshape(batch), backend.name,
                                {"kernel": str(self), "options": dict(options)})

        if N == 1:
            run(self.channels, flat, slice(None))
            return result()
        order_idx = np.argsort(flat, axis=1, kind="stable")
        for perm in itertools.permutations(range(N)):
            mask = np.all(order_idx == np.asarray(perm), axis=1)
            if not mask.any():
                continue
            sorted_lags = flat[mask][:, list(perm)]
            run(tuple(self.channels[p] for p in perm), sorted_lags, mask)
        return result()
