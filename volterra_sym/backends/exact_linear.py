"""Exact backend: linear activation and polynomial observables (docs/theory.md §4, example).

For ``φ(h) = -A h + b`` the semigroup maps polynomials of degree d to polynomials of
degree d. In centred coordinates ``y = h - μ``

    (P_s g)(y) = E[ g(E_s y + ξ) ],   E_s = e^{-A s},   ξ ~ N(0, Σ_s),   Σ_s = S - E_s S E_sᵀ ,

``L_k`` is the directional derivative along ``C_k`` and ``<p0, ·>`` the ``N(0, S)`` average.
A polynomial is held as symmetric coefficient tensors ``g(y) = Σ_d <G_d, y^{⊗d}>``
batched over lag points, and every step is an ``einsum`` — a closed form in matrix
exponentials evaluated in vectorised numpy. ``E_s`` is batched through the eigen-
decomposition of ``A`` (``scipy.linalg.expm`` when ``A`` is near-defective).

Series (docs/theory.md §6, linear models): with additive input the driven state is
``h_t = h⁰_t + ε δ(t)``, ``δ' = -A δ + C u(t)``, ``δ(0) = 0``, and ``h⁰_t ~ p0``, so

    T_j(t) = (1/j!) < p0, (δ(t)·∇)^j f > ,

a finite linear ODE plus one Gaussian average per order: no nested quadrature.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.linalg
import sympy as sp

from ..budget import DEFAULT_TIME_BUDGET, Deadline, check_count, check_memory
from ..density import gaussian_moments, stationary_density
from ..density.linearisation import arrays, is_numeric
from ..density.stationary import EXACT_MAX_N
from ..errors import InvalidInputError, ResourceLimitError
from ..hierarchy.propagation import Representation, walk_kernels
from ..model import SRNN
from ..model.cache import derived
from ..results import SeriesTerms
from .scaling import scaled_mean0, scaled_series
from .stepping import budget_option, integrate

__all__ = ["BACKEND", "supports", "LinearGaussianPolynomials", "ExactRepresentation"]


def supports(model: SRNN, g: sp.Expr) -> bool:
    """Linear activation and ``g`` polynomial in the state ``h``."""
    return model.is_linear and sp.sympify(g).is_polynomial(*model.h)


# ---------------------------------------------------------------------- numeric tensors
Poly = dict[int, np.ndarray]  # degree -> tensor of shape (P, n, ..., n)


#: numpy arrays have at most 64 axes; a batch axis plus ``d`` state axes
MAX_TENSOR_DEGREE = 60
#: entries of one row's tensors (``Σ_d n^d``); above it the filling and propagation
#: take minutes (n = 2, degree 24: 1.7e7 entries, 347 s)
MAX_TENSOR_ENTRIES = 2_000_000


def tensor_entries(n: int, degrees) -> int:
    """Entries of the dense symmetric tensors ``Σ_d n^d`` (one batch row)."""
    return sum(n ** d for d in set(degrees))


def check_tensor_cost(n: int, degree: int) -> None:
    """Refuse, before anything is allocated, a polynomial whose dense coefficient
    tensors (``n^d`` entries for degree ``d``) the exact backend cannot hold."""
    option = "lower the observable's polynomial degree or use fewer units"
    if degree > MAX_TENSOR_DEGREE:
        raise ResourceLimitError(
            f"the exact backend holds a degree-d polynomial as a tensor with d axes; "
            f"degree {degree} is above its limit {MAX_TENSOR_DEGREE}; {option}",
            estimate=float(degree), budget=float(MAX_TENSOR_DEGREE), unit="degree",
            option=option)
    entries = tensor_entries(n, range(degree + 1))
    check_count(entries, MAX_TENSOR_ENTRIES, f"the exact backend's coefficient tensors of "
                f"degree {degree} in {n} states", "entries per row", option)
    # the propagated batch holds a few copies of each row; 4 rows is the least it needs
    check_memory(32.0 * entries, f"the exact backend's coefficient tensors of degree "
                 f"{degree} in {n} states ({entries:.3g} entries per row)", option)


def _symmetric_tensors(g: sp.Expr, y: tuple[sp.Symbol, ...]) -> Poly:
    """Symmetric coefficient tensors of a polynomial: ``g = Σ_d <G_d, y^{⊗d}>``
    (the cost is checked first). The entry at a multi-index with exponent pattern ``e``
    is the coefficient of ``y^e`` over the number of its orderings ``d!/Π e_i!``."""
    n = len(y)
    poly = sp.Poly(sp.expand(g), *y)
    check_tensor_cost(n, poly.total_degree())
    by_degree: dict[int, list[tuple[tuple[int, ...], float]]] = {}
    for monom, coeff in poly.terms():
        by_degree.setdefault(sum(monom), []).append((monom, float(coeff)))
    out: Poly = {}
    for d, terms in by_degree.items():
        if d == 0:
            out[0] = np.array([sum(c for _, c in terms)])
            continue
        # key of a multi-index: its sorted letters read as a base-n number (< n^d)
        idx = np.sort(np.indices((n,) * d, dtype=np.int64).reshape(d, -1), axis=0)
        key = np.zeros(idx.shape[1], dtype=np.int64)
        for row in idx:
            key = key * n + row
        keys = np.empty(len(terms), dtype=np.int64)
        vals = np.empty(len(terms))
        for t, (monom, coeff) in enumerate(terms):
            k, count = 0, math.factorial(d)
            for i, e in enumerate(monom):
                for _ in range(e):
                    k = k * n + i
                count //= math.factorial(e)
            keys[t], vals[t] = k, coeff / count
        order = np.argsort(keys)
        keys, vals = keys[order], vals[order]
        pos = np.clip(np.searchsorted(keys, key), 0, len(keys) - 1)
        flat = np.where(keys[pos] == key, vals[pos], 0.0)
        out[d] = flat.reshape((1,) + (n,) * d)
    return out


def _contract_pairs(G: np.ndarray, S: np.ndarray, j: int) -> np.ndarray:
    """Contract the last ``j`` (even) axes of ``G`` pairwise with ``S`` (batched or not)."""
    for _ in range(j // 2):
        G = np.einsum("p...ab,pab->p...", G, S) if S.ndim == 3 else \
            np.einsum("p...ab,ab->p...", G, S)
    return G


def _transform_axes(H: np.ndarray, E: np.ndarray) -> np.ndarray:
    """``H[b1..br] -> Σ H[b1..br] E[b1,a1] ⋯ E[br,ar]`` (batched E)."""
    r = H.ndim - 1
    if r == 1:
        return (H[:, None, :] @ E)[:, 0, :]
    if r == 2:
        return E.transpose(0, 2, 1) @ H @ E
    for _ in range(r):
        H = np.einsum("pb...,pba->p...a", H, E)
    return H


def _double_factorial(k: int) -> int:
    return 1 if k <= 0 else k * _double_factorial(k - 2)


def apply_semigroup(poly: Poly, E: np.ndarray, Sig: np.ndarray | None) -> Poly:
    """``P_s`` on symmetric tensors: ``g(E y + ξ)`` averaged over ``ξ ~ N(0, Σ)``
    (``Sig`` may be ``None`` when every degree is below 2)."""
    out: Poly = {}
    for d, G in poly.items():
        for j in range(0, d + 1, 2):
            coef = math.comb(d, j) * _double_factorial(j - 1)
            H = _transform_axes(_contract_pairs(G, Sig, j), E)
            out[d - j] = out.get(d - j, 0) + coef * H
    return out


def apply_direction(poly: Poly, c: np.ndarray) -> Poly:
    """``c·∇`` on symmetric tensors; ``c`` of shape ``(n,)`` or batched ``(P, n)``."""
    out: Poly = {}
    for d, G in poly.items():
        if d == 0:
            continue
        H = d * (np.einsum("pa...,pa->p...", G, c) if c.ndim == 2 else
                 np.einsum("pa...,a->p...", G, c))
        out[d - 1] = out.get(d - 1, 0) + H
    return out


def gaussian_average(poly: Poly, S: np.ndarray) -> np.ndarray:
    """``E[g(y)]`` for ``y ~ N(0, S)``: ``Σ_{d even} (d-1)!! <G_d, S^{⊗d/2}>``."""
    total = 0.0
    for d, G in poly.items():
        if d % 2 == 0:
            total = total + _double_factorial(d - 1) * _contract_pairs(G, S, d)
    return np.asarray(total, dtype=float)


@dataclass
class LinearGaussianPolynomials:
    """Precomputed numeric data of a linear model and a polynomial observable."""

    model: SRNN
    f: sp.Expr

    @cached_property
    def params(self):
        """``(A, μ, S, C)`` as floats: ``μ = A⁻¹b`` and the Lyapunov solution ``S`` of the
        density layer (numerical; no symbolic solve or verification at any n)."""
        p = arrays(self.model)
        mu, S = gaussian_moments(self.model)
        A = p["Gamma"] - p["W"]
        return A, mu, S, p["C"]

    @cached_property
    def f_tensors(self) -> Poly:
        """Tensors of ``f(μ + y)``: the shift by the exact ``μ`` for small models (so it
        stays exact), by the floats of :attr:`params` beyond
        :data:`volterra_sym.density.stationary.EXACT_MAX_N`; only the states ``f`` uses
        are substituted."""
        n = self.model.n
        y = sp.symbols(f"_y0:{n}")
        used = self.f.free_symbols
        if n <= EXACT_MAX_N:
            mean = stationary_density(self.model, verify=False).mean
        else:
            mean = [sp.Float(float(x), 17) for x in self.params[1]]
        shifted = self.f.subs({h: yi + mean[i] for i, (h, yi) in
                               enumerate(zip(self.model.h, y, strict=True)) if h in used},
                              simultaneous=True)
        return _symmetric_tensors(shifted, y)

    @cached_property
    def _eig(self):
        A = self.params[0]
        lam, V = np.linalg.eig(A)
        cond = np.linalg.cond(V)
        return (lam, V, np.linalg.inv(V)) if cond < 1e8 else None

    def expm_neg(self, tau: np.ndarray) -> np.ndarray:
        """``e^{-A τ}`` batched over ``τ`` of shape ``(P,)`` -> ``(P, n, n)``."""
        A = self.params[0]
        if self._eig is None:
            return np.stack([scipy.linalg.expm(-A * t) for t in tau])
        lam, V, Vi = self._eig
        E = (V[None, :, :] * np.exp(-np.outer(tau, lam))[:, None, :]) @ Vi
        return E.real if np.isrealobj(A) else E

    def drive(self, u: Callable, times: np.ndarray, rtol: float = 1e-13,
              deadline: Deadline | None = None,
              progress: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
        """``δ(t)`` solving ``δ' = -Aδ + C u(t)``, ``δ(0) = 0``, at ``times``: ``(T, n)``
        (DOP853 stepped under ``deadline``, default :data:`DEFAULT_TIME_BUDGET`; see
        :mod:`volterra_sym.backends.stepping`)."""
        A, _, _, C = self.params
        if deadline is None:
            deadline = Deadline(DEFAULT_TIME_BUDGET, "the exact route's driven mean",
                                SERIES_COST_OPTION)
        return integrate("DOP853", lambda t, d: -A @ d + C @ u(t), np.zeros(self.model.n),
                         times, deadline, progress, rtol=rtol, atol=rtol * 1e-2,
                         what="exact series: the driven mean δ' = -Aδ + Cu")

    def _terms(self, order: int, delta: np.ndarray) -> np.ndarray:
        _, _, S, _ = self.params
        T = delta.shape[0]
        out = np.empty((order + 1, T))
        poly = {d: np.broadcast_to(G, (T,) + G.shape[1:]) for d, G in self.f_tensors.items()}
        for j in range(order + 1):
            avg = gaussian_average(poly, S) if poly else np.zeros(T)
            out[j] = np.broadcast_to(avg, (T,)) / math.factorial(j)
            poly = apply_direction(poly, delta)
        return out

    def series_terms(self, order: int, u: Callable, times: np.ndarray,
                     seconds: float = DEFAULT_TIME_BUDGET) -> SeriesTerms:
        """``T_j(t) = <p0, (δ(t)·∇)^j f> / j!`` (module docstring); the error estimate is the
        change of the terms when the ODE tolerance is loosened from 1e-13 to 1e-10 (an
        over-estimate of the error at 1e-13) plus rounding.

        Cost: the memory of the terms (``len(times)`` rows of the coefficient tensors) is
        checked first; the two integrations of ``δ`` run under one budget of ``seconds``
        (:class:`~volterra_sym.budget.Deadline`: refused with the measured,
        extrapolated estimate after about 1 s of work, or at the deadline). The run at
        1e-10 takes :data:`COARSE_SHARE` of the work (measured: 0.4–0.5 of the time of the
        run at 1e-13 for ``sin(ω t)``, ω = 0.1…50, on ``linear2d``)."""
        entries = tensor_entries(self.model.n, self.f_tensors.keys())
        check_memory(8.0 * 4 * times.size * entries + 16.0 * times.size * self.model.n,
                     f"the exact series at {times.size} times ({entries} tensor entries "
                     "per time)", "request fewer times")
        deadline = Deadline(seconds, f"the exact series up to t = {float(times[-1]):.6g} "
                            f"({times.size} times, {self.model.n} states)", SERIES_COST_OPTION)
        fine_share = 1.0 - COARSE_SHARE
        fine = self._terms(order, self.drive(u, times, 1e-13, deadline, (0.0, fine_share)))
        coarse = self._terms(order, self.drive(u, times, 1e-10, deadline,
                                               (fine_share, COARSE_SHARE)))
        # an overflowing input gives inf terms: refused, naming u, by the hierarchy layer
        with np.errstate(invalid="ignore", over="ignore"):
            scale = np.maximum(np.abs(fine).max(axis=1, keepdims=True), 1e-300)
            err = np.abs(fine - coarse) + 64 * np.finfo(float).eps * scale
        return SeriesTerms(fine, err, "exact", {"ode": "DOP853", "rtol": 1e-13,
                                                "seconds": deadline.elapsed()})


#: share of the exact series' work in its second (``rtol = 1e-10``) integration
COARSE_SHARE = 1.0 / 3.0
#: how to lower the cost of a series integration
SERIES_COST_OPTION = "request a shorter time span (t_max) or a slower input u"


class ExactRepresentation(Representation):
    """Polynomials as symmetric coefficient tensors in ``y = h - μ`` (module docstring):
    ``P_τ`` is ``g ↦ E[g(E_τ y + ξ)]``, ``L_k`` the derivative along ``C_k``, and
    ``<p0, ·>`` the ``N(0, S)`` average — exact up to rounding."""

    name = "exact"
    max_rows = 200_000

    def __init__(self, data: LinearGaussianPolynomials):
        self.data = data
        # rows per propagated chunk: about 2e8 tensor entries in all
        degrees = data.f_tensors.keys()
        self.max_rows = max(1, min(200_000, int(2e8 // max(1, tensor_entries(
            data.model.n, degrees)))))

    def encode(self) -> Poly:
        return self.data.f_tensors

    def propagate(self, state: Poly, gaps: np.ndarray) -> Poly:
        _, _, S, _ = self.data.params
        Q = gaps.shape[0]
        E = self.data.expm_neg(gaps)
        # Σ_τ = S - E S Eᵀ is needed only when a term of degree ≥ 2 remains
        Sig = S[None] - E @ S @ E.transpose(0, 2, 1) if max(state, default=0) >= 2 else None
        return apply_semigroup({d: np.broadcast_to(G, (Q,) + G.shape[1:])
                                for d, G in state.items()}, E, Sig)

    def perturb(self, k: int, state: Poly) -> Poly:
        out = apply_direction(state, self.data.params[3][:, k])
        if not out:         # L_k of a constant: keep the batch as an explicit zero
            return {0: np.zeros(max((G.shape[0] for G in state.values()), default=1))}
        return out

    def pair(self, state: Poly) -> tuple[np.ndarray, np.ndarray]:
        Q = max((G.shape[0] for G in state.values()), default=1)
        val = np.broadcast_to(gaussian_average(state, self.data.params[2]), (Q,)).copy()
        return val, np.maximum(np.abs(val), 1.0)

    def take(self, state: Poly, rows: np.ndarray) -> Poly:
        return {d: G[rows] if G.shape[0] > 1 else
                np.broadcast_to(G, (len(rows),) + G.shape[1:]) for d, G in state.items()}


def _data(model: SRNN, f: sp.Expr) -> LinearGaussianPolynomials:
    return derived(model, ("exact", "polynomials", f), lambda: LinearGaussianPolynomials(model, f))


class _ExactLinearBackend:
    name = "exact"

    def applies(self, model: SRNN, f: sp.Expr) -> str | None:
        if not model.is_linear:
            return f"the activation is {model.activation.name!r}, not linear"
        if not sp.sympify(f).is_polynomial(*model.h):
            return f"the observable {f} is not a polynomial in the state"
        if not is_numeric(model):
            return ("the parameters are symbolic (use kernel.doit() for the symbolic "
                    "closed form, or model.subs(...))")
        if sp.sympify(f).free_symbols - set(model.h):
            return "the observable has free parameters"
        return None

    def representation(self, model: SRNN, f: sp.Expr) -> ExactRepresentation:
        """The exact representation of ``f`` (cached with the model)."""
        return ExactRepresentation(_data(model, f))

    def kernels(self, model, f, graph, requests, **options):
        """Kernels through the propagation core; error = rounding, ``64 ε max(|K|, 1)``."""
        if options:
            raise InvalidInputError(f"method 'exact' takes no options, got {sorted(options)}",
                                    param="options")
        res = walk_kernels(graph, self.representation(model, f), requests)
        return {k: (v, 64 * np.finfo(float).eps * mag) for k, (v, mag) in res.items()}

    def mean0(self, hierarchy, **options) -> tuple[float, float]:
        """``(<f>_0, rounding)``: the closed form, evaluated in floating point (``f``
        rescaled, :mod:`.scaling`); no options."""
        if options:
            raise InvalidInputError(f"method 'exact' gives <f>_0 in closed form and takes "
                                    f"no options, got {sorted(options)}", param="options")
        def compute(f):
            v = float(stationary_density(hierarchy.model).expectation(f))
            return v, 64 * np.finfo(float).eps * abs(v)
        return scaled_mean0(hierarchy.f, compute, self.name)

    def series_terms(self, hierarchy, u, times, **options) -> SeriesTerms:
        """Series terms (:meth:`LinearGaussianPolynomials.series_terms`); the one option
        ``time_budget`` (seconds, default :data:`~volterra_sym.budget.DEFAULT_TIME_BUDGET`)
        bounds the integration of the driven mean."""
        if set(options) - {"time_budget"}:
            raise InvalidInputError(f"method 'exact' takes only the series option "
                                    f"'time_budget', got {sorted(options)}", param="options")
        seconds = budget_option(options)
        times = np.asarray(times, float)
        return scaled_series(hierarchy.f, lambda f: _data(hierarchy.model, f).series_terms(
            hierarchy.order, u, times, seconds), self.name)


BACKEND = _ExactLinearBackend()
