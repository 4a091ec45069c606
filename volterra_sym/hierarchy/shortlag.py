"""Short-lag (Taylor) chains of the response hierarchy (docs/theory.md §5).

With gaps ``τ_1 = σ_1``, ``τ_j = σ_j - σ_{j-1}`` and ``P_τ = Σ_p τ^p L0^p / p!``,

    K_k(σ) = Σ_{p ∈ ℕ^N} c_{k,p} Π_j τ_j^{p_j} / p_j! ,
    c_{k,p} = < p0, L_{k_N} L0^{p_N} ⋯ L_{k_1} L0^{p_1} f > .

The functions inside the brackets are built by the recursion (the same prefix sharing as the
``g_j`` recursion of :mod:`volterra_sym.hierarchy.dag`)

    G(∅, 0) = f ,   G(π, q) = L0 G(π, q-1) ,   G(π + ((p, k),), 0) = L_k G(π, p) ,

where the *prefix* ``π = ((p_1, k_1), …, (p_j, k_j))`` lists the powers and channels used so
far, and ``c_{k,p} = <p0, G(((p_1, k_1), …, (p_N, k_N)), 0)>``. Every ``G(π, q)`` is computed
once and stored as a node ``("L0^p", π, q)`` (``kind="taylor"``) of the hierarchy graph.

Representation (no expression swell, no ``simplify``)
------------------------------------------------------
Each activation value gets its own variable: the chain variables are

    x = (h_1..h_n)                       linear activation (a_i = z_i is polynomial in h),
    x = (h_1..h_n, a_1..a_n)              tanh, sigmoid  (a_i = a(z_i), z = W h + b),
    x = (h_1..h_n, a_1..a_n, s_1..s_n)    softplus       (s_i = sigmoid(z_i) = a'(z_i)),

with the closed derivative rules ``∂a_i/∂h_k = a'(z_i) W_ik`` and ``a' = 1 - a²`` (tanh),
``a' = a(1 - a)`` (sigmoid), ``a' = s``, ``s' = s(1 - s)`` (softplus). Then ``f``, ``φ`` and
every chain function are *polynomials* in ``x``, and so are all generator powers. In
``x``-coordinates, with the Jacobian ``J_vk = ∂x_v/∂h_k`` (a polynomial),

    L0 = Σ_v F_v ∂_v + Σ_{v≤w} Q_vw ∂_v ∂_w ,
    F_v  = Σ_k φ_k J_vk + ½ Σ_kl D_kl Σ_w J_wl ∂_w J_vk ,
    Q_vw = Σ_kl D_kl J_vk J_wl  (v < w) ,   Q_vv = ½ Σ_kl D_kl J_vk J_vl ,
    L_k  = Σ_v (Σ_i C_ik J_vi) ∂_v .

A polynomial is a vectorised dictionary of monomials (:class:`ChainPoly`): the exponent
vector of each term packed into 64-bit words (8 bits, i.e. exponents ≤ 255, per variable)
and a float64 coefficient. Derivatives are shifts of the packed words, products with the
small coefficient polynomials ``F_v, Q_vw`` are word additions, and like terms are
combined by one sort per operator application. A combined coefficient smaller than
``8 ε Σ|contributions|`` is dropped as rounding noise of an exact cancellation.

Evaluation at sample points shares subexpressions: the powers of every variable and the
distinct ``h``- and activation-parts of the monomials are computed once and combined with a
sparse matrix product (:meth:`ChainSpace.evaluate`); :func:`lambdify_chain` gives a
CSE'd ``numpy`` function of a (small) chain for export.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
import scipy.sparse
import sympy as sp

from ..errors import NotApplicableError
from ..model import SRNN

__all__ = ["ChainPoly", "ChainSpace", "ChainError", "ShortLagChains", "lambdify_chain",
           "SUPPORTED_ACTIVATIONS", "chain_prefixes"]

#: Activations with a closed derivative rule that keeps chains polynomial.
SUPPORTED_ACTIVATIONS = ("linear", "tanh", "sigmoid", "softplus")
_MAX_EXP = 255
_EPS = np.finfo(float).eps


class ChainError(NotApplicableError):
    """A short-lag chain cannot be built (unsupported model/observable or degree too high)."""


# ====================================================================== polynomials
@dataclass(frozen=True, eq=False)
class ChainPoly:
    """``Σ_t c_t Π_v x_v^{e_tv}``: packed exponents ``keys (T, words)`` (uint64, byte ``v % 8``
    of word ``v // 8`` is ``e_v``), coefficients ``coeffs (T,)``, a bound ``degree`` on the
    total degree. Terms are unique and sorted by key."""

    keys: np.ndarray
    coeffs: np.ndarray
    degree: int

    @property
    def nterms(self) -> int:
        """Number of monomials."""
        return int(self.coeffs.shape[0])

    @property
    def is_zero(self) -> bool:
        return self.nterms == 0

    def __repr__(self) -> str:
        return f"ChainPoly(nterms={self.nterms}, degree≤{self.degree})"


def _shift(v: int) -> tuple[int, np.uint64]:
    return v // 8, np.uint64(8 * (v % 8))


class ChainSpace:
    """The chain variables ``x`` of a model and the operators ``L0``, ``L_k`` on polynomials
    in ``x`` (see the module docstring for the formulas).

    Attributes
    ----------
    n, V : state dimension and number of chain variables.
    symbols : SymPy symbols of ``x`` (``h1..hn``, then ``a1..an``, then ``s1..sn``).
    kind : the activation name (one of :data:`SUPPORTED_ACTIVATIONS`).
    """

    def __init__(self, model: SRNN, *, perturb_seed: int | None = None):
        reason = unsupported_reason(model)
        if reason is not None:
            raise ChainError(reason)
        self.model = model
        self.kind = model.activation.name
        p = model.numpy_params()
        # a *shadow* space (perturb_seed given) perturbs every parameter and every combined
        # coefficient by a relative ε u, u ~ U(-1, 1) (Monte Carlo arithmetic): the spread
        # between shadow and plain results estimates the floating-point error
        self._rng = None if perturb_seed is None else np.random.default_rng(perturb_seed)
        if self._rng is not None:
            p = {k: v * (1.0 + _EPS * self._rng.uniform(-1.0, 1.0, np.shape(v)))
                 for k, v in p.items()}
        self.Gamma, self.W, self.b = p["Gamma"], p["W"], p["b"]
        self.C, self.D = p["C"], p["D"]
        n = self.n = model.n
        groups = {"linear": 1, "tanh": 2, "sigmoid": 2, "softplus": 3}[self.kind]
        self.V = groups * n
        self.words = (self.V + 7) // 8
        self.symbols: tuple[sp.Symbol, ...] = tuple(model.h) + tuple(
            sp.Symbol(f"{name}{i + 1}", real=True)
            for name in ("a", "s")[: groups - 1] for i in range(n))
        self._build_operators()
        self.n_L0 = 0  # number of L0 applications (to check memoisation)

    # ------------------------------------------------------------------ construction
    def _monomial_key(self, exps: Sequence[int]) -> np.ndarray:
        key = np.zeros(self.words, dtype=np.uint64)
        for v, e in enumerate(exps):
            if e:
                if not 0 <= e <= _MAX_EXP:
                    raise ChainError(f"exponent {e} of {self.symbols[v]} exceeds {_MAX_EXP}")
                w, s = _shift(v)
                key[w] += np.uint64(e) << s
        return key

    def poly(self, terms: dict[tuple[int, ...], float]) -> ChainPoly:
        """A polynomial from ``{exponent tuple (V,): coefficient}``."""
        if not terms:
            return self.zero()
        keys = np.stack([self._monomial_key(e) for e in terms])
        coeffs = np.array([float(c) for c in terms.values()])
        deg = max(sum(e) for e in terms)
        return self._combine(keys, coeffs, deg)

    def zero(self) -> ChainPoly:
        return ChainPoly(np.zeros((0, self.words), dtype=np.uint64), np.zeros(0), 0)

    def const(self, c: float) -> ChainPoly:
        return self.poly({(0,) * self.V: c}) if c != 0 else self.zero()

    def var(self, v: int, c: float = 1.0) -> ChainPoly:
        e = [0] * self.V
        e[v] = 1
        return self.poly({tuple(e): c})

    def _build_operators(self) -> None:
        n, V, W = self.n, self.V, self.W
        lin = self.kind == "linear"
        # drift φ_k in x
        A = self.Gamma - W if lin else self.Gamma
        phi = []
        for k in range(n):
            parts = [self.var(j, -A[k, j]) for j in range(n) if A[k, j] != 0]
            if lin:
                parts.append(self.const(self.b[k]))
            else:
                parts.append(self.var(n + k))
            phi.append(self.add(*parts))
        self.drift = phi
        # Jacobian J[v][k] = ∂x_v/∂h_k
        J: list[list[ChainPoly]] = [[self.const(1.0 if v == k else 0.0) for k in range(n)]
                                    for v in range(n)]
        if not lin:
            for i in range(n):
                a, s = n + i, 2 * n + i
                if self.kind in ("tanh", "sigmoid"):  # the activation's rule a' = P(a)
                    rule = self.poly({_unit(V, a, e): float(c) for (e,), c in
                                      sp.Poly(self.model.activation.derivative_in_a).terms()})
                else:  # softplus: a' = s
                    rule = self.var(s)
                J.append([self.scale(rule, W[i, k]) for k in range(n)])
            if self.kind == "softplus":
                for i in range(n):
                    s = 2 * n + i
                    rule = self.add(self.var(s), self.poly({_unit(V, s, 2): -1.0}))
                    J.append([self.scale(rule, W[i, k]) for k in range(n)])
        self.J = J
        D = self.D
        pairs = [(k, l) for k in range(n) for l in range(n) if D[k, l] != 0]
        # first-order coefficients F_v
        F = []
        for v in range(V):
            parts = [self.mul(phi[k], J[v][k]) for k in range(n)]
            for k, l in pairs:
                dJ = self.field(J[v][k], [(w, J[w][l]) for w in range(V)])
                parts.append(self.scale(dJ, 0.5 * D[k, l]))
            F.append(self.add(*parts))
        Q: dict[tuple[int, int], ChainPoly] = {}
        for v in range(V):
            for w in range(v, V):
                fac = 0.5 if v == w else 1.0
                q = self.add(*[self.scale(self.mul(J[v][k], J[w][l]), fac * D[k, l])
                               for k, l in pairs])
                if not q.is_zero:
                    Q[(v, w)] = q
        self.L0_first = [(v, F[v]) for v in range(V) if not F[v].is_zero]
        self.L0_second = sorted(Q.items())
        self.L_fields = []
        for k in range(self.model.m):
            G = [self.add(*[self.scale(J[v][i], self.C[i, k]) for i in range(n)])
                 for v in range(V)]
            self.L_fields.append([(v, G[v]) for v in range(V) if not G[v].is_zero])

    # ------------------------------------------------------------------ algebra
    def _combine(self, keys: np.ndarray, coeffs: np.ndarray, degree: int) -> ChainPoly:
        """Sort, add like terms, drop exact cancellations (``|Σc| ≤ 8ε Σ|c|``). In a
        perturbed space every result is multiplied by ``1 + ε u``, ``u ~ U(-1, 1)``."""
        if keys.shape[0] == 0:
            return self.zero()
        if self.words == 1:
            k1 = keys[:, 0]
            order = np.argsort(k1)
            ks = k1[order]
            new = np.empty(ks.shape[0], dtype=bool)
            new[0] = True
            np.not_equal(ks[1:], ks[:-1], out=new[1:])
            ks = ks[:, None]
        else:
            order = np.lexsort(keys.T[::-1])
            ks = keys[order]
            new = np.empty(ks.shape[0], dtype=bool)
            new[0] = True
            np.any(ks[1:] != ks[:-1], axis=1, out=new[1:])
        starts = np.flatnonzero(new)
        cs = coeffs[order]
        total = np.add.reduceat(cs, starts)
        mags = np.add.reduceat(np.abs(cs), starts)
        keep = np.abs(total) > 8 * _EPS * mags
        total = total[keep]
        if self._rng is not None:
            total *= 1.0 + _EPS * self._rng.uniform(-1.0, 1.0, total.shape[0])
        return ChainPoly(np.ascontiguousarray(ks[starts[keep]]), total, int(degree))

    def add(self, *polys: ChainPoly) -> ChainPoly:
        polys = [p for p in polys if not p.is_zero]
        if not polys:
            return self.zero()
        if len(polys) == 1:
            return polys[0]
        return self._combine(np.concatenate([p.keys for p in polys]),
                             np.concatenate([p.coeffs for p in polys]),
                             max(p.degree for p in polys))

    def scale(self, P: ChainPoly, c: float) -> ChainPoly:
        if c == 0 or P.is_zero:
            return self.zero()
        return ChainPoly(P.keys, P.coeffs * float(c), P.degree)

    def mul(self, P: ChainPoly, Q: ChainPoly) -> ChainPoly:
        """Product (outer sum of the packed exponents)."""
        if P.is_zero or Q.is_zero:
            return self.zero()
        self._check_degree(P.degree + Q.degree)
        keys = (P.keys[:, None, :] + Q.keys[None, :, :]).reshape(-1, self.words)
        coeffs = (P.coeffs[:, None] * Q.coeffs[None, :]).ravel()
        return self._combine(keys, coeffs, P.degree + Q.degree)

    def exponents(self, P: ChainPoly) -> np.ndarray:
        """Exponent matrix ``(T, V)`` (int64)."""
        out = np.empty((P.nterms, self.V), dtype=np.int64)
        for v in range(self.V):
            w, s = _shift(v)
            out[:, v] = ((P.keys[:, w] >> s) & np.uint64(0xFF)).astype(np.int64)
        return out

    def _exponent(self, keys: np.ndarray, v: int) -> np.ndarray:
        w, s = _shift(v)
        return ((keys[:, w] >> s) & np.uint64(0xFF)).astype(np.float64)

    def _check_degree(self, deg: int) -> None:
        if deg > _MAX_EXP:
            raise ChainError(f"chain degree {deg} exceeds {_MAX_EXP}, the largest exponent of "
                             "the packed monomial representation; lower the Taylor degree")

    def _raw_derivative(self, P: ChainPoly, v: int, w: int | None = None):
        """``∂_v P`` (or ``∂_v ∂_w P``) as raw terms ``(keys, coeffs)``; distinct monomials
        stay distinct (no combining needed)."""
        ev = self._exponent(P.keys, v)
        if w is None:
            mask = ev > 0
            fac = ev[mask]
            shifts = [(v, 1)]
        elif v == w:
            mask = ev > 1
            fac = ev[mask] * (ev[mask] - 1)
            shifts = [(v, 2)]
        else:
            ew = self._exponent(P.keys, w)
            mask = (ev > 0) & (ew > 0)
            fac = ev[mask] * ew[mask]
            shifts = [(v, 1), (w, 1)]
        keys = P.keys[mask].copy()
        for var, e in shifts:
            wv, sv = _shift(var)
            keys[:, wv] -= np.uint64(e) << sv
        return keys, P.coeffs[mask] * fac

    def _apply(self, P: ChainPoly, first, second=()) -> ChainPoly:
        """``Σ_v M_v ∂_v P + Σ_{vw} M_vw ∂_v∂_w P`` with polynomial coefficients ``M``."""
        if P.is_zero:
            return P
        kparts, cparts = [], []
        deg = 0
        for idx, M in [((v, None), M) for v, M in first] + [((v, w), M) for (v, w), M
                                                            in second]:
            keys, coeffs = self._raw_derivative(P, *idx)
            if keys.shape[0] == 0:
                continue
            order = 1 if idx[1] is None else 2
            deg = max(deg, P.degree - order + M.degree)
            for t in range(M.nterms):
                kparts.append(keys + M.keys[t])
                cparts.append(coeffs * M.coeffs[t])
        if not kparts:
            return self.zero()
        self._check_degree(deg)
        return self._combine(np.concatenate(kparts), np.concatenate(cparts), deg)

    def field(self, P: ChainPoly, first) -> ChainPoly:
        """A first-order operator ``Σ_v M_v ∂_v`` applied to ``P``."""
        return self._apply(P, [(v, M) for v, M in first if not M.is_zero])

    def L0(self, P: ChainPoly) -> ChainPoly:
        """``L0 P = Σ_v F_v ∂_v P + Σ_{v≤w} Q_vw ∂_v∂_w P``."""
        self.n_L0 += 1
        return self._apply(P, self.L0_first, self.L0_second)

    def L(self, k: int, P: ChainPoly) -> ChainPoly:
        """``L_k P = Σ_i C_ik ∂_{h_i} P`` (chain rule through ``a``, ``s``)."""
        if not 0 <= k < self.model.m:
            raise ChainError(f"channel k={k} is out of range: the model has m={self.model.m} "
                             f"input channel(s), indexed 0..{self.model.m - 1}")
        return self._apply(P, self.L_fields[k])

    # ------------------------------------------------------------------ SymPy bridge
    def from_expr(self, expr: sp.Expr | str) -> ChainPoly:
        """A polynomial in the chain symbols (in particular any polynomial observable in h)."""
        expr = sp.sympify(expr)
        extra = expr.free_symbols - set(self.symbols)
        if extra:
            raise ChainError(f"the expression {expr} has symbols {sorted(map(str, extra))} "
                             f"outside the chain variables {[str(s) for s in self.symbols]}")
        try:
            poly = sp.Poly(sp.expand(expr), *self.symbols)
        except sp.PolynomialError:
            raise ChainError(f"the observable {expr} is not a polynomial in the state "
                             f"(the short-lag chains need polynomial f)") from None
        if poly.is_zero:
            return self.zero()
        return self.poly({m: float(c) for m, c in poly.terms()})

    def to_expr(self, P: ChainPoly, *, substitute: bool = False) -> sp.Expr:
        """The polynomial as a SymPy expression in ``x``; with ``substitute`` the activation
        symbols are replaced by ``a(z_i)`` (and ``s_i`` by ``sigmoid(z_i)``)."""
        E = self.exponents(P)
        x = self.symbols
        out = sp.Add(*[sp.Float(c) * sp.Mul(*[x[v] ** int(e) for v, e in enumerate(row) if e])
                       for row, c in zip(E, P.coeffs, strict=True)])
        if substitute and self.kind != "linear":
            out = out.subs(self.activation_substitution(), simultaneous=True)
        return out

    def activation_substitution(self) -> dict[sp.Symbol, sp.Expr]:
        """``{a_i: a(z_i), s_i: sigmoid(z_i)}`` with ``z = W h + b`` (exact model entries)."""
        if self.kind == "linear":
            return {}
        z = self.model.preactivation
        n = self.n
        rep = {self.symbols[n + i]: self.model.activation(z[i]) for i in range(n)}
        if self.kind == "softplus":
            rep.update({self.symbols[2 * n + i]: 1 / (1 + sp.exp(-z[i])) for i in range(n)})
        return rep

    # ------------------------------------------------------------------ numbers
    def variables_at(self, h: np.ndarray) -> np.ndarray:
        """Chain variables ``x`` at states ``h (S, n)``: ``(S, V)``."""
        h = np.asarray(h, dtype=float).reshape(-1, self.n)
        if self.kind == "linear":
            return h
        z = h @ self.W.T + self.b
        if self.kind == "tanh":
            return np.concatenate([h, np.tanh(z)], axis=1)
        sig = 0.5 * (1.0 + np.tanh(0.5 * z))
        if self.kind == "sigmoid":
            return np.concatenate([h, sig], axis=1)
        return np.concatenate([h, np.logaddexp(0.0, z), sig], axis=1)

    def evaluate(self, polys: ChainPoly | Sequence[ChainPoly], x: np.ndarray,
                 chunk: int = 4096) -> np.ndarray:
        """Values of polynomial(s) at chain points ``x (S, V)``: ``(S,)`` or ``(K, S)``.

        Shared subexpressions: per-variable power tables, the distinct ``h``-parts ``H`` and
        activation parts ``A`` of all monomials, and ``g_K = Σ_u H_u (C_K A)_u`` with one
        sparse matrix ``C`` per polynomial."""
        single = isinstance(polys, ChainPoly)
        plist = [polys] if single else list(polys)
        x = np.asarray(x, dtype=float)
        S = x.shape[0]
        plan = _EvalPlan(self, plist)
        out = np.empty((len(plist), S))
        for lo in range(0, S, chunk):
            out[:, lo:lo + chunk] = plan(x[lo:lo + chunk])
        return out[0] if single else out


def _unit(V: int, v: int, e: int = 1) -> tuple[int, ...]:
    t = [0] * V
    t[v] = e
    return tuple(t)


class _EvalPlan:
    """Shared-subexpression evaluation of several chain polynomials (see ``evaluate``)."""

    def __init__(self, space: ChainSpace, polys: list[ChainPoly]):
        self.space = space
        V = space.V
        self.split = space.n if V > space.n else V
        all_E = [space.exponents(P) for P in polys]
        E = np.concatenate(all_E) if all_E else np.zeros((0, V), dtype=np.int64)
        self.maxe = E.max(axis=0) if E.shape[0] else np.zeros(V, dtype=np.int64)
        h_parts, h_idx = np.unique(E[:, :self.split], axis=0, return_inverse=True)
        a_parts, a_idx = np.unique(E[:, self.split:], axis=0, return_inverse=True)
        self.h_parts, self.a_parts = h_parts, a_parts
        h_idx, a_idx = h_idx.ravel(), a_idx.ravel()
        self.mats = []
        lo = 0
        for P in polys:
            hi = lo + P.nterms
            self.mats.append(scipy.sparse.csr_matrix(
                (P.coeffs, (h_idx[lo:hi], a_idx[lo:hi])),
                shape=(h_parts.shape[0], max(a_parts.shape[0], 1))))
            lo = hi

    def _monomials(self, parts: np.ndarray, x: np.ndarray, offset: int) -> np.ndarray:
        S = x.shape[0]
        out = np.ones((parts.shape[0], S))
        for j in range(parts.shape[1]):
            v = offset + j
            emax = int(self.maxe[v])
            if emax == 0:
                continue
            pw = np.ones((emax + 1, S))
            for e in range(1, emax + 1):
                pw[e] = pw[e - 1] * x[:, v]
            out *= pw[parts[:, j]]
        return out

    def __call__(self, x: np.ndarray) -> np.ndarray:
        H = self._monomials(self.h_parts, x, 0)
        if self.a_parts.shape[1]:
            A = self._monomials(self.a_parts, x, self.split)
        else:
            A = np.ones((1, x.shape[0]))
        return np.stack([np.einsum("us,us->s", H, M @ A) for M in self.mats])


def unsupported_reason(model: SRNN) -> str | None:
    """Why short-lag chains cannot be built for ``model`` (``None`` if they can)."""
    if not isinstance(model, SRNN):
        return f"model must be an SRNN, got {type(model).__name__}"
    name = model.activation.name
    if name not in SUPPORTED_ACTIVATIONS:
        return (f"the activation {model.activation.source or name!r} has no closed derivative "
                f"rule keeping chains polynomial (supported: {', '.join(SUPPORTED_ACTIVATIONS)})")
    if not model.is_numeric:
        return (f"the parameters {sorted(model.parameters)} are symbolic; substitute values "
                "with model.subs(...)")
    return None


def lambdify_chain(space: ChainSpace, P: ChainPoly, *, max_terms: int = 5000):
    """A ``numpy`` function ``h (S, n) -> (S,)`` of a chain polynomial, generated by SymPy
    with common-subexpression elimination (``lambdify(..., cse=True)``) in the chain
    variables; the activations are computed first. For export/inspection of small chains
    (``max_terms``); the hot path uses :meth:`ChainSpace.evaluate`."""
    if P.nterms > max_terms:
        raise ChainError(f"the chain has {P.nterms} terms > max_terms={max_terms}; use "
                         "ChainSpace.evaluate for large chains")
    expr = space.to_expr(P)
    fn = sp.lambdify([space.symbols], expr, "numpy", cse=True)

    def f(h):
        x = space.variables_at(h)
        return np.broadcast_to(np.asarray(fn(x.T), dtype=float), (x.shape[0],)).copy()
    return f


# ====================================================================== the DAG of chains
Prefix = tuple[tuple[int, int], ...]


def chain_prefixes(channels: Sequence[int], powers: Sequence[int]) -> list[tuple[Prefix, int]]:
    """The ``(prefix, q)`` pairs that ``c_{k,p}`` needs: ``(π_{j-1}, q)`` for ``q ≤ p_j``
    and the final ``(π_N, 0)``, with ``π_j = ((p_1, k_1), …, (p_j, k_j))``."""
    out = []
    pref: Prefix = ()
    for p, k in zip(powers, channels, strict=True):
        out.extend((pref, q) for q in range(p + 1))
        pref = pref + ((int(p), int(k)),)
    out.append((pref, 0))
    return out


class ShortLagChains:
    """Memoised chains ``G(π, q)`` for one model and observable, written into a graph.

    Parameters
    ----------
    space : the :class:`ChainSpace` of the model.
    f : the observable (polynomial in ``h``).
    graph : a ``networkx.DiGraph`` (e.g. ``ResponseHierarchy.graph``) receiving the nodes
        ``("L0^p", π, q)`` (``kind="taylor"``, attributes ``expr`` — the local step as an
        unevaluated operator in terms of the parent's symbol —, ``poly``, ``degree`` = q,
        ``nterms``, ``prefix``) with edges labelled ``"L0"`` or ``"L_k"`` from the node they
        are derived from; ``("L0^p", (), 0)`` hangs off the observable node ``("f",)``.
    """

    def __init__(self, space: ChainSpace, f: sp.Expr, graph: nx.DiGraph | None = None, *,
                 shadows: int = 0):
        self.space = space
        self.f = sp.sympify(f)
        self.graph = nx.DiGraph() if graph is None else graph
        self._cache: dict[tuple[Prefix, int], ChainPoly] = {}
        #: perturbed copies of the computation (Monte Carlo arithmetic), for error estimates
        self.shadow_spaces = [ChainSpace(space.model, perturb_seed=1000 + i)
                              for i in range(shadows)]
        self._shadow_cache: list[dict[tuple[Prefix, int], ChainPoly]] = [
            {} for _ in range(shadows)]
        base = space.from_expr(self.f)
        for i, sh in enumerate(self.shadow_spaces):
            self._shadow_cache[i][((), 0)] = sh.from_expr(self.f)
        self._store((), 0, base, parent=("f",), op="identity")

    def attach(self, graph: nx.DiGraph) -> None:
        """Copy the stored nodes into another graph (e.g. a larger hierarchy)."""
        if graph is self.graph:
            return
        for node, data in self.graph.nodes(data=True):
            if data.get("kind") in ("taylor", "taylor_coefficient"):
                graph.add_node(node, **data)
        for u, v, data in self.graph.edges(data=True):
            if v in graph and (u in graph or u == ("f",)):
                graph.add_edge(u, v, **data)
        self.graph = graph

    def _store(self, prefix: Prefix, q: int, P: ChainPoly, parent, op: str) -> None:
        from ..operators import Generator, Perturbation, model_ref

        self._cache[(prefix, q)] = P
        ref = model_ref(self.space.model)
        psym = sp.Symbol(_node_name(*parent[1:]) if parent[0] == "L0^p" else "f")
        if op == "L0":
            expr = Generator(psym, ref)
        elif op.startswith("L_"):
            expr = Perturbation(prefix[-1][1], psym, ref)
        else:
            expr = psym
        node = ("L0^p", prefix, q)
        self.graph.add_node(node, kind="taylor", order=len(prefix), prefix=prefix, degree=q,
                            expr=expr, poly=P, nterms=P.nterms,
                            symbol=sp.Symbol(_node_name(prefix, q)))
        self.graph.add_edge(parent, node, op=op)

    def get(self, prefix: Prefix, q: int) -> ChainPoly:
        """``G(π, q)``, computing (and storing) missing ancestors once."""
        key = (prefix, q)
        if key in self._cache:
            return self._cache[key]
        if q > 0:
            P = self.space.L0(self.get(prefix, q - 1))
            self._store(prefix, q, P, ("L0^p", prefix, q - 1), "L0")
        else:
            if not prefix:
                raise AssertionError("the base node is created in __init__")
            (p, k) = prefix[-1]
            P = self.space.L(k, self.get(prefix[:-1], p))
            self._store(prefix, 0, P, ("L0^p", prefix[:-1], p), f"L_{k + 1}")
        return P

    def get_shadow(self, i: int, prefix: Prefix, q: int) -> ChainPoly:
        """The same chain computed in the ``i``-th perturbed (shadow) space."""
        cache = self._shadow_cache[i]
        key = (prefix, q)
        if key not in cache:
            sp_ = self.shadow_spaces[i]
            if q > 0:
                cache[key] = sp_.L0(self.get_shadow(i, prefix, q - 1))
            else:
                (p, k) = prefix[-1]
                cache[key] = sp_.L(k, self.get_shadow(i, prefix[:-1], p))
        return cache[key]

    def shadow_chains(self, channels: Sequence[int], powers: Sequence[int]) -> list[ChainPoly]:
        """The chain of ``c_{k,p}`` in every shadow space."""
        prefix = tuple((int(p), int(k)) for p, k in zip(powers, channels, strict=True))
        return [self.get_shadow(i, prefix, 0) for i in range(len(self.shadow_spaces))]

    def chain(self, channels: Sequence[int], powers: Sequence[int]) -> ChainPoly:
        """``L_{k_N} L0^{p_N} ⋯ L_{k_1} L0^{p_1} f`` (the integrand of ``c_{k,p}``)."""
        prefix = tuple((int(p), int(k)) for p, k in zip(powers, channels, strict=True))
        return self.get(prefix, 0)

    @property
    def n_nodes(self) -> int:
        """Number of distinct chain nodes ``G(π, q)`` computed so far."""
        return len(self._cache)

    def coefficient_node(self, channels: Sequence[int], powers: Sequence[int]) -> tuple:
        """Add (idempotently) the node ``("c", k, p)`` (``kind="taylor_coefficient"``) for
        ``c_{k,p} = <p0, chain>``, with an edge from its chain node and, when the graph holds
        the kernel node ``("K", k)``, an edge to it. Returns the node key."""
        k = tuple(int(c) for c in channels)
        p = tuple(int(q) for q in powers)
        node = ("c", k, p)
        if node not in self.graph:
            from ..operators import StationaryAverage, model_ref

            prefix = tuple(zip(p, k, strict=True))
            self.chain(k, p)
            self.graph.add_node(node, kind="taylor_coefficient", order=len(k), channels=k,
                                powers=p, degree=sum(p), value=None, stderr=None,
                                expr=StationaryAverage(sp.Symbol(_node_name(prefix, 0)),
                                                       model_ref(self.space.model)))
            self.graph.add_edge(("L0^p", prefix, 0), node, op="<p0, .>")
            if ("K", k) in self.graph:
                self.graph.add_edge(node, ("K", k), op="Σ_p c τ^p/p!")
        return node

    def build(self, order: int, degree: int, channel_tuples=None) -> int:
        """Build every chain of ``c_{k,p}`` for all channel tuples of length ``1..order``
        (or ``channel_tuples``) and ``|p| ≤ degree``; returns the number of chain nodes."""
        import itertools

        m = self.space.model.m
        tuples = channel_tuples if channel_tuples is not None else [
            k for N in range(1, order + 1) for k in itertools.product(range(m), repeat=N)]
        for k in tuples:
            for p in multi_indices(len(k), degree):
                self.coefficient_node(k, p)
        return self.n_nodes

    @classmethod
    def for_hierarchy(cls, hierarchy, degree: int, *, build: bool = True) -> ShortLagChains:
        """Chains of a :class:`~volterra_sym.hierarchy.ResponseHierarchy`, written into
        ``hierarchy.graph`` (all kernels up to ``hierarchy.order``, ``|p| ≤ degree``)."""
        chains = cls(ChainSpace(hierarchy.model), hierarchy.f, hierarchy.graph)
        if build:
            chains.build(hierarchy.order, degree)
        return chains


def _node_name(prefix: Prefix, q: int) -> str:
    inner = "f"
    for p, k in prefix:
        inner = f"L{k + 1} L0^{p} {inner}" if p else f"L{k + 1} {inner}"
    return f"L0^{q}({inner})" if q else inner


def multi_indices(N: int, degree: int) -> list[tuple[int, ...]]:
    """All ``p ∈ ℕ^N`` with ``|p| ≤ degree``, by increasing ``|p|`` (then lexicographic)."""
    out: list[tuple[int, ...]] = []
    for total in range(degree + 1):
        out.extend(_compositions(total, N))
    return out


def _compositions(total: int, N: int) -> Iterable[tuple[int, ...]]:
    if N == 1:
        yield (total,)
        return
    for first in range(total + 1):
        for rest in _compositions(total - first, N - 1):
            yield (first,) + rest


def factorial_weights(powers: Sequence[int]) -> float:
    return float(math.prod(math.factorial(p) for p in powers))
