"""Closed forms of the Gaussian semigroup and of kernels (docs/theory.md §4, example).

For a linear activation ``φ(h) = -A h + b`` the stationary law is ``N(μ, S)`` and the
semigroup maps polynomials of degree d to polynomials of degree d:

    (P_s g)(h) = E[ g(μ + e^{-As}(h - μ) + ξ) ] ,   ξ ~ N(0, S - e^{-As} S e^{-Aᵀs}) ,

so every kernel of a polynomial observable is a closed form in matrix exponentials. These
are the density layer's answers to ``Semigroup(s, g).doit()`` and ``ResponseKernel.doit()``
(registered with :mod:`volterra_sym.operators.rules`).
"""

from __future__ import annotations

from collections.abc import Callable
from math import comb

import numpy as np
import sympy as sp

from ..budget import DEFAULT_TIME_BUDGET, Deadline, time_budget
from ..errors import ResourceLimitError
from ..model import SRNN
from ..model.cache import derived
from ..operators import check_time, perturbation
from .stationary import gaussian_expectation, stationary_density

__all__ = ["supports", "closed_form_is_cheap", "closed_form_seconds", "closed_form_deadline",
           "semigroup_closed_form", "kernel_closed_form", "chop", "semigroup_rule", "kernel_rule"]


def supports(model: SRNN, g: sp.Expr) -> bool:
    """Linear activation and ``g`` polynomial in the state ``h``."""
    return model.is_linear and sp.sympify(g).is_polynomial(*model.h)


def closed_form_is_cheap(model: SRNN, f: sp.Expr) -> bool:
    """Whether a symbolic closed form is quick to build and short enough to print:
    measured ≤ 5 s for n ≤ 2 with degree ≤ 4 and for n = 3 with degree ≤ 2 (a degree-3
    observable of a 3-dim model takes about a minute)."""
    if not supports(model, f):
        return False
    deg = sp.Poly(f, *model.h).total_degree() if f.free_symbols & set(model.h) else 0
    return (model.n <= 2 and deg <= 4) or (model.n == 3 and deg <= 2)


#: seconds per term of the expanded shifted polynomial (measured on 2 shared cores)
_SECONDS_PER_TERM = 0.015


def closed_form_seconds(model: SRNN, f: sp.Expr, order: int) -> float:
    """A lower estimate of the seconds :func:`kernel_closed_form` of order ``N`` takes:
    ``0.015 s · C(n² + n + d, d) · (1 + 2(min(N, d) − 1))``, ``d = deg f``. The first
    factor counts the terms of ``f(μ + e^{-As}(h − μ) + ξ)`` expanded (``e^{-As}`` has
    about ``n²`` exponential terms); each deeper level costs at least twice the first (its
    coefficients are products of exponentials of several lags) and up to 20 times
    (3 units, ``d = 4``). Measured on linear 2- and 3-unit models (``d ≤ 6``, ``N ≤ 3``,
    0.3–90 s): order 1 took 0.5–0.95 of the estimate; orders 2 and 3 took 0.8–1.5 of it,
    and more than 5 times it for 3 units with ``d = 4`` — which is why
    :func:`kernel_closed_form` also keeps a deadline."""
    n = model.n
    d = sp.Poly(f, *model.h).total_degree() if f.free_symbols & set(model.h) else 0
    levels = max(min(int(order), d), 1)
    return _SECONDS_PER_TERM * comb(n * n + n + d, d) * (1 + 2 * (levels - 1))


#: how to lower the cost of a closed form
CLOSED_FORM_OPTION = ("evaluate numbers with .evaluate(lags, method='exact'), lower the degree "
                      "of the observable, or pass doit(time_budget=...)")


def closed_form_deadline(budget: float, estimate: float, what: str) -> Deadline:
    """The :class:`~volterra_sym.budget.Deadline` of a closed form (``check()`` between its
    steps), refused at once when its estimate ``estimate`` (seconds) exceeds ``budget``."""
    if estimate > budget:
        raise ResourceLimitError(
            f"{what} needs at least about {estimate:.3g} s (estimated from its terms), "
            f"more than the time budget {budget:g} s; {CLOSED_FORM_OPTION}",
            estimate=estimate, budget=budget, unit="seconds", option=CLOSED_FORM_OPTION)
    return Deadline(budget, f"{what} (estimated beforehand at {estimate:.3g} s)",
                    CLOSED_FORM_OPTION)


# ---------------------------------------------------------------------- symbolic closed form
def _closed_form_matrices(model: SRNN):
    """``(A, μ, S)`` for symbolic closed forms: exact when ``A`` has rational eigenvalues
    (or symbolic entries), else 15-digit floats (exact ``sqrt`` arithmetic would swell)."""
    def build():
        dens = stationary_density(model)
        A, mu, S = model.A, dens.mean, dens.cov
        if model.is_numeric:
            lam = sp.Symbol("lam")
            roots = sp.Poly(A.charpoly(lam).as_expr(), lam).all_roots() if A.rows <= 4 else []
            if not roots or not all(r.is_rational for r in roots):
                A, mu, S = (M.evalf(15) for M in (A, mu, S))
        return A, mu, S
    return derived(model, ("density", "closed_form_matrices"), build)


_X = sp.Symbol("x_", nonnegative=True)


def _expm_closed_form(model: SRNN, A: sp.Matrix) -> sp.Matrix:
    """``e^{-A x}`` for a nonnegative symbol ``x``; with float entries, written in real
    form (``e^{ax}cos(bx)``, ``e^{ax}sin(bx)``) so no imaginary rounding residue remains."""
    return derived(model, ("density", "closed_form_expm"),
                   lambda: _expm_real_float(A) if A.has(sp.Float) else (-A * _X).exp())


def _expm_real_float(A: sp.Matrix) -> sp.Matrix:
    """``e^{-Ax} = Σ_j M_j e^{-λ_j x}`` (``M_j = v_j w_jᵀ`` from the numeric eigen-
    decomposition), written as ``e^{-a x}(Re M cos bx + Im M sin bx)`` for ``λ = a + ib``."""
    An = np.array(A.tolist(), dtype=float)
    lam, V = np.linalg.eig(An)
    if np.linalg.cond(V) > 1e8:
        raise NotImplementedError("A is (nearly) defective: no float closed form of e^{-Ax}")
    Vi = np.linalg.inv(V)
    n = An.shape[0]
    E = sp.zeros(n, n)
    done = np.zeros(len(lam), bool)
    for j, lj in enumerate(lam):
        if done[j]:
            continue
        M = np.outer(V[:, j], Vi[j])
        a, b = float(lj.real), float(lj.imag)
        if abs(b) < 1e-12 * max(1.0, abs(a)):
            E += sp.Matrix(M.real) * sp.exp(-sp.Float(a, 15) * _X)
            done[j] = True
            continue
        k = next(i for i in range(len(lam)) if not done[i] and i != j
                 and abs(lam[i] - np.conj(lj)) < 1e-9 * abs(lj))
        done[[j, k]] = True
        E += sp.exp(-sp.Float(a, 15) * _X) * (
            sp.Matrix(2 * M.real) * sp.cos(sp.Float(b, 15) * _X)
            + sp.Matrix(2 * M.imag) * sp.sin(sp.Float(b, 15) * _X))
    return E.applyfunc(lambda e: sp.Float(0) if e == 0 else e).evalf(15)


def semigroup_closed_form(model: SRNN, g: sp.Expr, s: sp.Expr,
                          check: Callable[[], None] | None = None) -> sp.Expr:
    """``(P_s g)(h) = E[g(μ + e^{-As}(h - μ) + ξ)]``, ``ξ ~ N(0, S - e^{-As} S e^{-Aᵀs})``
    as a SymPy expression (small n: uses ``Matrix.exp``); ``check()`` between the steps."""
    check_time(s)
    A, mu, S = _closed_form_matrices(model)
    E = _expm_closed_form(model, A).subs(_X, s)
    degree = sp.Poly(g, *model.h).total_degree() if g.free_symbols & set(model.h) else 0
    Sig = S - E * S * E.T if degree >= 2 else sp.zeros(model.n, model.n)
    xi = sp.symbols(f"_xi0:{model.n}")
    y = sp.Matrix(model.h) - mu
    m_s = mu + E * y
    if check is None:
        shifted = sp.expand(g.subs({hi: m_s[i] + xi[i] for i, hi in enumerate(model.h)},
                                   simultaneous=True))
    else:
        # term by term and factor by factor, check() between the partial products: one
        # expand of h1³h3 shifted took 6 s, past a deadline the check could not see
        check()
        sub = {hi: m_s[i] + xi[i] for i, hi in enumerate(model.h)}
        shifted = sp.Add(*[_expand_checked(t.subs(sub, simultaneous=True), check)
                           for t in sp.Add.make_args(sp.expand(g))])
    return gaussian_expectation(shifted, xi, sp.zeros(model.n, 1), Sig, check)


def _expand_checked(term: sp.Expr, check: Callable[[], None]) -> sp.Expr:
    """``sp.expand(term)`` of a product of sums and their integer powers, multiplied out one
    factor at a time with ``check()`` in between."""
    factors: list[sp.Expr] = []
    for f in sp.Mul.make_args(term):
        if f.is_Pow and f.exp.is_Integer and f.exp > 1 and f.base.is_Add:
            factors += [f.base] * int(f.exp)
        else:
            factors.append(f)
    acc: sp.Expr = sp.Integer(1)
    for f in sorted(factors, key=lambda f: f.is_Add):        # numbers and symbols first
        acc = sp.expand(acc * f)
        check()
    return acc


def kernel_closed_form(model: SRNN, f: sp.Expr, channels: tuple[int, ...],
                       lags: tuple[sp.Symbol, ...], budget: float | None = None) -> sp.Expr:
    """``K_k(σ)`` for sorted lags ``σ_1 ≤ … ≤ σ_N`` (the symbols ``lags``) as a closed form
    in exponentials: ``g_j = L_{k_j} P_{σ_j-σ_{j-1}} g_{j-1}`` with the closed-form
    semigroup, then the Gaussian average. Refused beforehand when
    :func:`closed_form_seconds` exceeds ``budget`` seconds (default 120), and stopped
    between its steps once ``budget`` has passed
    (:class:`~volterra_sym.errors.ResourceLimitError` either way)."""
    limit = DEFAULT_TIME_BUDGET if budget is None else time_budget(budget)
    N = len(channels)
    check = closed_form_deadline(limit, closed_form_seconds(model, f, N),
                                 f"the closed form of this order-{N} kernel").check
    sig = tuple(lags)
    g = f
    for j, k in enumerate(channels):
        if g == 0:              # P_s and L_k keep 0: every deeper level is 0 as well
            return sp.Integer(0)
        gap = sig[j] - (sig[j - 1] if j else 0)
        g = perturbation(model, k, semigroup_closed_form(model, g, gap, check))
        check()
    _, mu, S = _closed_form_matrices(model)
    K = sp.expand(gaussian_expectation(sp.expand(g), model.h, mu, S, check))
    check()
    if K.has(sp.Float):
        return chop(K)
    return sp.simplify(K) if sp.count_ops(K) < 400 else K


def chop(expr: sp.Expr, rtol: float = 1e-12) -> sp.Expr:
    """Drop the terms of a float closed form whose coefficient is rounding residue
    (below ``rtol`` times the largest coefficient)."""
    terms = sp.Add.make_args(sp.expand(expr))
    coeffs = [abs(complex(t.as_coeff_Mul()[0])) for t in terms]
    big = max(coeffs, default=0.0)
    return sp.Add(*[t for t, c in zip(terms, coeffs, strict=True) if c > rtol * big])


#: closed forms are attempted for n ≤ 3 only (the cost grows fast with n and the degree)
MAX_CLOSED_FORM_DIM = 3


def semigroup_rule(model: SRNN, g: sp.Expr, s: sp.Expr) -> sp.Expr | None:
    """Rule for ``Semigroup(s, g).doit()``: the closed form where it applies."""
    return semigroup_closed_form(model, g, s) if supports(model, g) else None


def kernel_rule(model: SRNN, f: sp.Expr, channels, lags,
                budget: float | None = None) -> sp.Expr | None:
    """Rule for ``ResponseKernel.doit()``: the closed form for n ≤ 3 where it applies,
    within the time budget ``budget`` (see :func:`kernel_closed_form`)."""
    if not (supports(model, f) and model.n <= MAX_CLOSED_FORM_DIM):
        return None
    return kernel_closed_form(model, f, tuple(channels), tuple(lags), budget)


def average_rule(model: SRNN, g: sp.Expr) -> sp.Expr | None:
    """Rule for ``StationaryAverage(g).doit()``: ``<p0, g>`` from the stationary density."""
    return stationary_density(model).expectation(g)
