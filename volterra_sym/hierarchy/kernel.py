"""Response kernels as unevaluated SymPy expressions (docs/theory.md §4).

``ResponseKernel(f, (k_1, …, k_N), ref)`` prints as ``K_{k_1…k_N}(σ_1, …, σ_N)`` and
stands for, with sorted lags ``σ_1 ≤ … ≤ σ_N``,

    K_k(σ) = < p0 , L_{k_N} P_{σ_N-σ_{N-1}} L_{k_{N-1}} ⋯ P_{σ_2-σ_1} L_{k_1} P_{σ_1} f > .

``.rewrite("operator")`` gives that operator tree, ``.doit()`` the closed form where one
exists (linear model, polynomial ``f``), and ``.evaluate(lags, method=...)`` numbers.
Unsorted lags use the symmetric extension: the pairs ``(k_j, σ_j)`` are sorted by ``σ_j``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import numpy as np
import sympy as sp

from ..arrays import check_flag, real_array
from ..budget import time_budget
from ..errors import (
    AccuracyNotReachedError,
    InvalidInputError,
    ResourceLimitError,
)
from ..operators import (
    OperatorExpr,
    Perturbation,
    Semigroup,
    StationaryAverage,
    check_channel,
)
from ..operators.rules import apply_rule
from ..results import KernelValues, label_points
from .propagation import prefix_graph
from .routes import check_options, run_kernels, select_route, with_fallback

__all__ = ["ResponseKernel", "lag_symbols", "gap_symbols", "check_lags", "vanishing_order",
           "channel_index", "parse_observable", "request_key", "MAX_RECURSION_NODES"]

#: refuse hierarchies (and kernel requests) needing more recursion nodes than this
MAX_RECURSION_NODES = 100_000


def parse_observable(model, spec):
    """:meth:`SRNN.observable <volterra_sym.SRNN.observable>`, its refusal naming
    ``observable`` (``param``)."""
    try:
        return model.observable(spec)
    except InvalidInputError as exc:
        if exc.param is None:
            exc.param = "observable"
        raise


def channel_index(model, c) -> int:
    """:func:`~volterra_sym.operators.check_channel` naming ``channels``."""
    return check_channel(model, c, param="channels")


@cache
def lag_symbols(N: int) -> tuple[sp.Symbol, ...]:
    """Lags ``σ_1..σ_N`` (time since the j-th kick; σ_1 the most recent)."""
    return tuple(sp.Symbol(f"sigma_{j + 1}", nonnegative=True) for j in range(N))


@cache
def gap_symbols(N: int) -> tuple[sp.Symbol, ...]:
    """Gaps ``τ_1 = σ_1``, ``τ_j = σ_j - σ_{j-1}``."""
    return tuple(sp.Symbol(f"tau_{j + 1}", nonnegative=True) for j in range(N))


def check_lags(lags, N: int, *, exact_shape: bool = False) -> np.ndarray:
    """Validate lags: real numbers of shape ``(..., N)`` (for N = 1 also ``(...)`` unless
    ``exact_shape``), finite, ≥ 0. For N = 1 a 1-D array of length 1 is read by the first
    rule, one lag point (a scalar result, as ``[s1, s2]`` is one point of order 2): pass
    ``lags[:, None]`` for a result of shape ``(L,)`` whatever ``L``. Anything else
    (complex, booleans, strings, None, ragged lists, integers beyond the float range)
    raises :class:`InvalidInputError` (``param="lags"``); nothing is cut."""
    def bad(msg: str):
        return InvalidInputError(f"lags {msg}", param="lags")

    arr = real_array(lags, "lags", objects=True, finite=False, copy=True)
    if N == 1 and not exact_shape and (arr.ndim == 0 or arr.shape[-1] != 1):
        arr = arr[..., None]
    if arr.ndim == 0 or arr.shape[-1] != N:
        raise bad(f"must have shape (..., {N}) for a kernel of order {N}, got shape "
                  f"{arr.shape}")
    arr = real_array(arr, "lags")                       # finite
    if np.any(arr < 0):
        raise bad(f"must be ≥ 0 (σ_j = t - s_j is a time since a kick), got "
                  f"{arr[arr < 0].min()}")
    return arr


class ResponseKernel(OperatorExpr):
    """The Volterra kernel ``K_{k_1…k_N}(σ_1, …, σ_N)`` of observable ``f``."""

    def __new__(cls, f, channels, ref):
        ch = sp.Tuple(*[sp.Integer(int(k)) for k in channels])
        # a string observable is parsed in the model's symbols (sympify of a string is
        # eval); SymPy input is taken as is — SymPy rebuilds kernels through here
        # (xreplace, subs) with args that are not observables (the hierarchy checks f)
        return super().__new__(cls, parse_observable(ref.model, f)
                               if not isinstance(f, sp.Basic) else f, ch, ref)

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
        """The closed form where the exact backend applies (linear model, polynomial ``f``,
        n ≤ 3), else the operator tree with every applicable step carried out. The cost
        grows fast with n, the degree of ``f`` and the order: it is estimated first
        (:func:`~volterra_sym.density.closed_form_seconds`) and a form over the hint
        ``time_budget`` (seconds, default 120) is refused with the estimate."""
        budget = hints.pop("time_budget", None)
        if budget is not None:       # checked even where no closed form applies
            budget = time_budget(budget)
        out = apply_rule("kernel", self.model, self.observable, self.channels, self.lags,
                         budget)
        return self.operator_form().doit(**hints) if out is None else out

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

    def _repr_latex_(self) -> str:
        """Jupyter: ``K_k(σ) = <p0, L_{k_N} ⋯ P_{σ_1} f>``, not only ``K_k(σ)``."""
        return "$\\displaystyle " + self.latex() + "$"

    # ------------------------------------------------------------------ numbers
    def evaluate(self, lags, method: str = "auto", *, return_error: bool = False,
                 **options) -> KernelValues:
        """Kernel values at ``lags`` of shape ``(..., N)`` (any order of the lags: the
        symmetric extension is applied), as :class:`~volterra_sym.results.KernelValues`
        of shape ``(...)`` with the error estimate and the method used
        (``np.asarray(result)`` gives the values). ``return_error=True`` returns the
        pair ``(values, error)`` of plain arrays instead. ``options`` go to the route
        (e.g. ``tol`` for ``spectral``)."""
        check_flag(return_error, "return_error")
        res = evaluate_kernels(self.model, self.observable, {self.channels: lags}, method,
                               **options)[self.channels]
        return (res.values, res.error_or_nan) if return_error else res


def evaluate_kernels(model, f, requests: Mapping[tuple, object],
                     method: str = "auto", graph=None, **options) -> dict[tuple, KernelValues]:
    """Several kernels in one walk of the hierarchy DAG.

    ``requests`` maps channel tuples (0-based) — or, with the input inside the activation,
    kicks ``((k..), (k..), ...)`` (docs/theory.md §10) — to lags of shape ``(..., N)`` (one
    lag per entry of the key) in any order; each lag point is sorted together with its
    channels (the symmetric extension), the resulting sorted-lag kernels are evaluated by one
    route through :func:`~volterra_sym.hierarchy.propagation.walk_kernels` (shared prefixes
    computed once), and the values are put back in the caller's order. ``graph`` is the
    hierarchy DAG to walk (default: the part of it the requests need). The method and the
    options are checked even when every requested kernel vanishes identically.
    """
    route = select_route(model, f, method, f"kernels of {f}")
    arrays = {}                      # key -> (batch shape, lags (P, N)), all checked first
    for key, lags in requests.items():
        key = request_key(model, key)
        arr = check_lags(lags, len(key))
        arrays[key] = (arr.shape[:-1], arr.reshape(-1, len(key)))
    zero = {k: why for k in arrays if (why := vanishing_reason(model, f, k)) is not None}
    if zero or not arrays:
        # identically zero kernels: zeros at once (no DAG walk), the rest as usual
        rest = {k: flat.reshape(*batch, len(k)) for k, (batch, flat) in arrays.items()
                if k not in zero}
        if rest:
            out = evaluate_kernels(model, f, rest, method, graph, **options)
        else:
            check_options(route, model, f, options)
            out = {}
        for k, why in zero.items():
            shape = arrays[k][0]
            out[k] = KernelValues(np.zeros(shape), np.zeros(shape), route.name,
                                  {"channels": k, "options": dict(options),
                                   "lags": label_points(arrays[k][1].reshape(*shape, len(k))),
                                   "identically_zero": why})
        return {k: out[k] for k in arrays}
    plan = []                       # (request key, rows, sorted key, part)
    sorted_requests: dict[tuple, list[np.ndarray]] = {}
    for channels, (_, flat) in arrays.items():
        N = len(channels)
        if N == 1:
            plan.append((channels, slice(None), channels, None))
            sorted_requests.setdefault(channels, []).append(flat)
            continue
        for perm, rows in _orderings(flat):
            chans = tuple(channels[p] for p in perm)
            plan.append((channels, rows, chans, len(sorted_requests.get(chans, []))))
            sorted_requests.setdefault(chans, []).append(flat[rows][:, list(perm)])
    check_node_count(sorted_requests)
    offsets = {}
    merged = {}
    for chans, parts in sorted_requests.items():
        offsets[chans] = np.cumsum([0] + [p.shape[0] for p in parts])
        merged[chans] = np.vstack(parts)
    if graph is None:
        graph = prefix_graph(merged)
    scale = observable_scale(f)
    route, results = with_fallback(
        route, model, f, method,
        lambda r: run_kernels(r, model, f / scale if scale != 1.0 else f, graph, merged,
                              **options))
    out = {}
    for channels, (batch, flat) in arrays.items():
        vals = np.empty(flat.shape[0])
        errs = np.empty(flat.shape[0])
        facts: dict = {}
        per_entry: dict[str, np.ndarray] = {}
        for key, rows, chans, part in plan:
            if key != channels:
                continue
            v, e, *more = results[chans]   # a route may add its facts (degree, ...)
            lo, hi = (0, len(v)) if part is None else offsets[chans][part:part + 2]
            if more:
                _merge_facts(facts, {k: x for k, x in more[0].items()
                                     if not k.endswith("_at")}, scale)
                for k, x in more[0].items():       # per-lag facts: placed like the values
                    if k.endswith("_at"):
                        per_entry.setdefault(k, np.full(flat.shape[0], np.nan))[rows] = \
                            np.asarray(x, dtype=float)[lo:hi] \
                            * (scale if k[:-3] in ERROR_PARTS else 1.0)
            vals[rows], errs[rows] = np.asarray(v)[lo:hi], np.asarray(e)[lo:hi]
        facts.update({k: x.reshape(batch) for k, x in per_entry.items()})
        check_finite_real(vals, f"kernel {channels} ({route.name})")
        if np.any(np.isnan(errs)) or (not getattr(route, "unbounded_error", False)
                                      and not np.all(np.isfinite(errs))):
            raise AccuracyNotReachedError(
                f"kernel {channels} ({route.name}): the error estimate is not finite "
                f"(values up to {np.max(np.abs(vals)):.3g}: an overflow in the estimate); "
                "nothing is returned — rescale the model's inputs or the observable")
        if scale != 1.0:
            # an infinite error estimate before scaling means "no bound" (taylor beyond its
            # radius with on_radius='warn'); one that becomes infinite is an overflow
            finite_err = np.isfinite(errs)
            with np.errstate(over="ignore"):
                vals, errs = vals * scale, errs * scale
            if not (np.all(np.isfinite(vals)) and np.all(np.isfinite(errs[finite_err]))):
                raise AccuracyNotReachedError(
                    f"kernel {channels} ({route.name}): the values exceed the float range "
                    f"(the observable's coefficients reach {scale:.3g}); rescale the "
                    "observable")
        out[channels] = KernelValues(vals.reshape(batch), errs.reshape(batch), route.name,
                                     {"channels": channels, "options": dict(options),
                                      "lags": label_points(arrays[channels][1].reshape(
                                          *batch, len(channels))),
                                      **({"route": facts} if facts else {})})
    return out


def request_key(model, key) -> tuple:
    """The key under which :func:`evaluate_kernels` computes and returns a request: a tuple
    of channels, or of kicks (tuples of channels) where a kick carries several channels or
    the input is inside a nonlinear activation (single-channel kicks are plain channels
    otherwise, ``L^{(1)}_k = L_k``). Every channel is checked by :func:`channel_index`."""
    key = tuple(key) if isinstance(key, (tuple, list)) else (key,)
    if not key or any(isinstance(c, (tuple, list)) and not c for c in key):
        raise InvalidInputError(f"a kernel needs at least one kick, each with a channel; got "
                                f"{key!r}", param="channels")
    if not any(isinstance(c, (tuple, list)) for c in key):
        return tuple(channel_index(model, c) for c in key)
    kicks = tuple(tuple(channel_index(model, x) for x in c) if isinstance(c, (tuple, list))
                  else (channel_index(model, c),) for c in key)
    if (model.input == "additive" or model.is_linear) and all(len(c) == 1 for c in kicks):
        return tuple(c[0] for c in kicks)
    return kicks


def _orderings(flat: np.ndarray) -> list[tuple[tuple[int, ...], np.ndarray]]:
    """The orderings of the rows of ``flat (P, N)`` that occur (``N!`` of them would not
    finish for N ≥ 10), each with the indices of its rows: one integer code per row
    (``N^N < 2^63`` for N ≤ 15), grouped through one sort (no mask per ordering)."""
    N = flat.shape[1]
    order_idx = np.argsort(flat, axis=1, kind="stable")
    if N <= 15:
        _, first, inverse = np.unique(order_idx @ (N ** np.arange(N, dtype=np.int64)),
                                      return_index=True, return_inverse=True)
    else:
        _, first, inverse = np.unique(order_idx, axis=0, return_index=True,
                                      return_inverse=True)
    inverse = inverse.ravel()
    by_group = np.argsort(inverse, kind="stable")
    cuts = np.searchsorted(inverse[by_group], np.arange(len(first) + 1))
    return [(tuple(int(i) for i in order_idx[j]), by_group[cuts[g]:cuts[g + 1]])
            for g, j in enumerate(first)]


def check_node_count(keys, limit: int = MAX_RECURSION_NODES) -> int:
    """The recursion nodes (distinct prefixes) that the sorted kernels ``keys`` need;
    more than ``limit`` is refused up front (:class:`ResourceLimitError`)."""
    prefixes: set = set()
    for k in keys:
        prefixes.update(k[:j] for j in range(1, len(k) + 1))
        if len(prefixes) > limit:
            raise ResourceLimitError(
                f"the lag points need {len(keys)} sorted kernels (one per ordering of the "
                f"lags that occurs) with more than {limit} recursion nodes (the limit); "
                "evaluate fewer lag points per call or lower the order",
                estimate=float(len(prefixes)), budget=float(limit), unit="nodes",
                option="fewer lag points or a lower order")
    return len(prefixes)


def vanishing_reason(model, f, key: tuple) -> str | None:
    """Why the kernel of request ``key`` vanishes identically (``None``: not known to):
    a kick carrying several channels where ``L^{(j≥2)} = 0`` (additive input, or a linear
    activation), or an order beyond :func:`vanishing_order`."""
    if any(isinstance(c, tuple) and len(c) > 1 for c in key) and \
            (model.input == "additive" or model.is_linear):
        return ("L^(j) = 0 for kicks of j >= 2 channels (additive input or a linear "
                "activation: a'' = 0)")
    d = vanishing_order(model, f)
    N = sum(len(c) if isinstance(c, tuple) else 1 for c in key)
    if d is not None and N > d:
        return f"order {N} > {d}, the degree of the polynomial observable of a linear model"
    return None


def observable_scale(f: sp.Expr) -> float:
    """A power of two ``s`` near the largest numerical coefficient of ``f`` when that lies
    outside ``[1e-30, 1e30]`` (else 1): kernels are linear in ``f``, so the routes evaluate
    ``f/s`` — no overflow inside them (``1e308·h1²`` used to come back as 0 ± 0 from the
    Taylor route) — and the values are multiplied back by ``s``."""
    coeffs = []
    for c in sp.sympify(f).as_coefficients_dict().values():
        try:
            coeffs.append(abs(float(c)))
        except (TypeError, ValueError):
            return 1.0
    big = max(coeffs, default=0.0)
    if not np.isfinite(big) or big == 0.0 or 1e-30 <= big <= 1e30:
        return 1.0
    return float(2.0 ** np.floor(np.log2(big)))


def vanishing_order(model, f) -> int | None:
    """``d`` such that every kernel of order ``N > d`` vanishes identically, if known: the
    total degree of a polynomial observable of a linear model with additive input and
    constant noise (each ``L_k`` lowers the
    degree by one and ``P_τ`` keeps it, so ``L_{k_N} P ⋯ L_{k_1} P f = 0`` for ``N > d``)."""
    if model.is_linear and not model.features:
        return model.polynomial_degree(f)
    return None


def check_finite_real(values: np.ndarray, what: str) -> None:
    """Refuse non-finite or complex numbers coming out of a route (never return them)."""
    if np.iscomplexobj(values) and np.any(np.imag(values) != 0):
        raise AccuracyNotReachedError(f"{what} produced complex values")
    if not np.all(np.isfinite(values)):
        raise AccuracyNotReachedError(f"{what} produced non-finite values (overflow or a "
                                      "failed evaluation); nothing is returned")


#: facts of a route that are absolute error parts (largest over the lags): scaled with the
#: observable and merged by their maximum over the sorted kernels of one request; a fact
#: named ``<part>_at`` holds the part at each lag point (placed like the values)
ERROR_PARTS = ("truncation", "statistical", "rounding")


def _merge_facts(facts: dict, new: dict, scale: float) -> None:
    """``facts`` updated with a route's ``new`` facts of one sorted kernel: the
    :data:`ERROR_PARTS` times the observable's ``scale`` (the route saw ``f / scale``) and
    the largest over the kernels, the truncation check's ``changes`` (``{compared degree:
    largest change}``, lower or higher degrees as ``check`` says) likewise per degree;
    anything else as given (the last one)."""
    for key, value in new.items():
        if key == "changes":                    # {compared degree: largest change}
            old = facts.setdefault(key, {})
            for dl, c in value.items():
                old[dl] = max(old.get(dl, 0.0), float(c) * scale)
        elif key not in ERROR_PARTS:
            facts[key] = value
        elif isinstance(value, (int, float)):
            value = float(value) * scale
            old = facts.get(key)
            facts[key] = value if not isinstance(old, float) else max(old, value)
        else:                                   # None: no estimate from this kernel
            facts.setdefault(key, value)
