"""Exact backend: linear activation and polynomial observables (THEORY §4, example).

For ``φ(h) = -A h + b`` the semigroup maps polynomials of degree d to polynomials of
degree d. In centred coordinates ``y = h - μ``

    (P_s g)(y) = E[ g(E_s y + ξ) ],   E_s = e^{-A s},   ξ ~ N(0, Σ_s),   Σ_s = S - E_s S E_sᵀ ,

``L_k`` is the directional derivative along ``C_k`` and ``<p0, ·>`` the ``N(0, S)`` average.
A polynomial is held as symmetric coefficient tensors ``g(y) = Σ_d <G_d, y^{⊗d}>``
batched over lag points, and every step is an ``einsum`` — a closed form in matrix
exponentials evaluated in vectorised numpy. ``E_s`` is batched through the eigen-
decomposition of ``A`` (``scipy.linalg.expm`` when ``A`` is near-defective).

Series (THEORY §6, linear models): with additive input the driven state is
``h_t = h⁰_t + ε δ(t)``, ``δ' = -A δ + C u(t)``, ``δ(0) = 0``, and ``h⁰_t ~ p0``, so

    T_j(t) = (1/j!) < p0, (δ(t)·∇)^j f > ,

a finite linear ODE plus one Gaussian average per order: no nested quadrature.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.integrate
import scipy.linalg
import sympy as sp

from ..density import gaussian_expectation, stationary_density
from ..model import SRNN
from ..operators import perturbation

__all__ = ["BACKEND", "supports", "closed_form_is_cheap", "semigroup_closed_form",
           "kernel_closed_form", "LinearGaussianPolynomials"]


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


# ---------------------------------------------------------------------- symbolic closed form
def _closed_form_matrices(model: SRNN):
    """``(A, μ, S)`` for symbolic closed forms: exact when ``A`` has rational eigenvalues
    (or symbolic entries), else 15-digit floats (exact ``sqrt`` arithmetic would swell)."""
    cache = model.__dict__.setdefault("_closed_form_cache", {})
    if "mats" not in cache:
        dens = stationary_density(model)
        A, mu, S = model.A, dens.mean, dens.cov
        if model.is_numeric:
            lam = sp.Symbol("lam")
            roots = sp.Poly(A.charpoly(lam).as_expr(), lam).all_roots() if A.rows <= 4 else []
            if not roots or not all(r.is_rational for r in roots):
                A, mu, S = (M.evalf(15) for M in (A, mu, S))
        cache["mats"] = (A, mu, S)
    return cache["mats"]


_X = sp.Symbol("x_", nonnegative=True)


def _expm_closed_form(model: SRNN, A: sp.Matrix) -> sp.Matrix:
    """``e^{-A x}`` for a nonnegative symbol ``x``; with float entries, written in real
    form (``e^{ax}cos(bx)``, ``e^{ax}sin(bx)``) so no imaginary rounding residue remains."""
    cache = model.__dict__.setdefault("_closed_form_cache", {})
    if "expm" not in cache:
        cache["expm"] = _expm_real_float(A) if A.has(sp.Float) else (-A * _X).exp()
    return cache["expm"]


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


def semigroup_closed_form(model: SRNN, g: sp.Expr, s: sp.Expr) -> sp.Expr:
    """``(P_s g)(h) = E[g(μ + e^{-As}(h - μ) + ξ)]``, ``ξ ~ N(0, S - e^{-As} S e^{-Aᵀs})``
    as a SymPy expression (small n: uses ``Matrix.exp``)."""
    A, mu, S = _closed_form_matrices(model)
    E = _expm_closed_form(model, A).subs(_X, s)
    degree = sp.Poly(g, *model.h).total_degree() if g.free_symbols & set(model.h) else 0
    Sig = S - E * S * E.T if degree >= 2 else sp.zeros(model.n, model.n)
    xi = sp.symbols(f"_xi0:{model.n}")
    y = sp.Matrix(model.h) - mu
    m_s = mu + E * y
    shifted = g.subs({hi: m_s[i] + xi[i] for i, hi in enumerate(model.h)}, simultaneous=True)
    return gaussian_expectation(sp.expand(shifted), xi, sp.zeros(model.n, 1), Sig)


def kernel_closed_form(model: SRNN, f: sp.Expr, channels: tuple[int, ...]) -> sp.Expr:
    """``K_k(σ)`` for sorted lags as a closed form in ``σ_1..σ_N`` (exponentials)."""
    from ..hierarchy.kernel import lag_symbols

    sig = lag_symbols(len(channels))
    g = f
    for j, k in enumerate(channels):
        gap = sig[j] - (sig[j - 1] if j else 0)
        g = perturbation(model, k, semigroup_closed_form(model, g, gap))
    _, mu, S = _closed_form_matrices(model)
    K = sp.expand(gaussian_expectation(sp.expand(g), model.h, mu, S))
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


# ---------------------------------------------------------------------- numeric tensors
Poly = dict[int, np.ndarray]  # degree -> tensor of shape (P, n, ..., n)


def _symmetric_tensors(g: sp.Expr, y: tuple[sp.Symbol, ...]) -> Poly:
    """Symmetric coefficient tensors of a polynomial: ``g = Σ_d <G_d, y^{⊗d}>``."""
    n = len(y)
    poly = sp.Poly(sp.expand(g), *y)
    out: Poly = {}
    for monom, coeff in poly.terms():
        d = sum(monom)
        T = out.setdefault(d, np.zeros((1,) + (n,) * d))
        letters = tuple(itertools.chain.from_iterable([i] * e for i, e in enumerate(monom)))
        perms = set(itertools.permutations(letters))
        val = float(coeff) / len(perms)
        for p in perms:
            T[(0,) + p] += val
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
        p = self.model.numpy_params()
        dens = stationary_density(self.model)
        A = p["Gamma"] - p["W"]
        return A, dens.mean_numpy, dens.cov_numpy, p["C"]

    @cached_property
    def f_tensors(self) -> Poly:
        y = sp.symbols(f"_y0:{self.model.n}")
        dens = stationary_density(self.model)  # exact μ: the shift f(μ + y) stays exact
        shifted = self.f.subs({h: yi + dens.mean[i] for i, (h, yi) in
                               enumerate(zip(self.model.h, y, strict=True))},
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

    def kernel(self, channels: tuple[int, ...], sorted_lags: np.ndarray) -> np.ndarray:
        _, _, S, C = self.params
        P, N = sorted_lags.shape
        gaps = np.diff(sorted_lags, axis=1, prepend=0.0)
        poly: Poly = self.f_tensors
        for j, k in enumerate(channels):
            E = self.expm_neg(gaps[:, j])
            # Σ_τ = S - E S Eᵀ is needed only when a term of degree ≥ 2 remains
            Sig = S[None] - E @ S @ E.transpose(0, 2, 1) if max(poly, default=0) >= 2 else None
            poly = apply_semigroup({d: np.broadcast_to(G, (P,) + G.shape[1:])
                                    for d, G in poly.items()}, E, Sig)
            poly = apply_direction(poly, C[:, k])
        out = gaussian_average(poly, S)
        return np.broadcast_to(out, (P,)).copy() if out.ndim == 0 or out.shape == (1,) \
            else out

    def drive(self, u: Callable, times: np.ndarray) -> np.ndarray:
        """``δ(t)`` solving ``δ' = -Aδ + C u(t)``, ``δ(0) = 0``, at ``times``: ``(T, n)``."""
        A, _, _, C = self.params
        n = self.model.n
        if times[-1] == 0:
            return np.zeros((times.size, n))
        sol = scipy.integrate.solve_ivp(lambda t, d: -A @ d + C @ u(t), (0.0, times[-1]),
                                        np.zeros(n), method="DOP853", t_eval=times,
                                        rtol=1e-13, atol=1e-15, dense_output=False)
        if not sol.success:
            raise RuntimeError(f"integration of the driven mean failed: {sol.message}")
        return sol.y.T

    def series_terms(self, order: int, u: Callable, times: np.ndarray) -> np.ndarray:
        _, _, S, _ = self.params
        delta = self.drive(u, times)
        T = times.size
        out = np.empty((order + 1, T))
        poly = {d: np.broadcast_to(G, (T,) + G.shape[1:]) for d, G in self.f_tensors.items()}
        for j in range(order + 1):
            avg = gaussian_average(poly, S) if poly else np.zeros(T)
            out[j] = np.broadcast_to(avg, (T,)) / math.factorial(j)
            poly = apply_direction(poly, delta)
        return out


def _data(model: SRNN, f: sp.Expr) -> LinearGaussianPolynomials:
    cache = model.__dict__.setdefault("_exact_cache", {})
    if f not in cache:
        cache[f] = LinearGaussianPolynomials(model, f)
    return cache[f]


class _ExactLinearBackend:
    name = "exact"

    def applies(self, model: SRNN, f: sp.Expr) -> str | None:
        if not model.is_linear:
            return f"the activation is {model.activation.name!r}, not linear"
        if not sp.sympify(f).is_polynomial(*model.h):
            return f"the observable {f} is not a polynomial in the state"
        if not model.is_numeric:
            return ("the parameters are symbolic (use kernel.doit() for the symbolic "
                    "closed form, or model.subs(...))")
        if sp.sympify(f).free_symbols - set(model.h):
            return "the observable has free parameters"
        return None

    def kernel(self, model, f, channels, sorted_lags, *, return_error=False, **options):
        if options:
            raise TypeError(f"method 'exact' takes no options, got {sorted(options)}")
        val = _data(model, f).kernel(tuple(channels), np.asarray(sorted_lags, dtype=float))
        if return_error:  # exact up to floating-point rounding
            return val, 64 * np.finfo(float).eps * np.maximum(np.abs(val), 1.0)
        return val

    def mean0(self, hierarchy) -> float:
        return float(stationary_density(hierarchy.model).expectation(hierarchy.f))

    def series_terms(self, hierarchy, u, times) -> np.ndarray:
        return _data(hierarchy.model, hierarchy.f).series_terms(hierarchy.order, u, times)


BACKEND = _ExactLinearBackend()
