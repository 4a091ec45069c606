"""Polynomials on packed monomials: the algebra behind the short-lag chains (docs/theory.md §5).

A polynomial in ``V`` variables ``x_1..x_V`` is a vectorised dictionary of monomials
(:class:`ChainPoly`): the exponent vector of each term packed into 64-bit words (8 bits,
i.e. exponents ≤ 255, per variable: byte ``v % 8`` of word ``v // 8`` is ``e_v``) and a
float64 coefficient,

    P(x) = Σ_t c_t Π_v x_v^{e_tv} .

Derivatives are shifts of the packed words (``∂_v`` lowers byte ``v`` by one and multiplies
by the old exponent), products are word additions (no carry: the degree bound is checked
first), and like terms are combined by one sort per operation. A combined coefficient with
``|Σ c| ≤ 8 ε Σ |c|`` is dropped as rounding noise of an exact cancellation.

Second-order differential operators with polynomial coefficients,

    A P = Σ_v M_v ∂_v P + Σ_{v≤w} M_vw ∂_v ∂_w P ,

are applied by :meth:`PackedAlgebra.apply`; the generator ``L0`` and the perturbations
``L_k`` of a model in these coordinates are built by :mod:`volterra_sym.operators.powers`.

Every operation whose raw (uncombined) term count could need more than the memory budget
estimates it first and refuses with :class:`~volterra_sym.errors.ResourceLimitError`
(:func:`volterra_sym.budget.check_memory`).

*Monte Carlo arithmetic.* An algebra built with a random generator (``rng``) multiplies
every combined coefficient by ``1 + ε u``, ``u ~ U(-1, 1)``: running a computation in a few
such *shadow* algebras and comparing estimates its floating-point error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse
import sympy as sp

from ..arrays import real_array
from ..budget import check_count, check_memory
from ..errors import NotApplicableError
from ..parsing import as_expression

__all__ = ["ChainPoly", "PackedAlgebra", "ChainError", "MAX_EXPONENT", "MAX_RAW_TERMS",
           "LOWER_COST"]

#: largest exponent of one variable in the packed representation (8 bits)
MAX_EXPONENT = 255
#: how to make a refused chain computation cheaper (the ResourceLimitError's option)
LOWER_COST = "lower the Taylor degree (degree=, --degree) or the kernel order"
#: raw terms one operator application may combine (about 10 s of sorting on one core;
#: measured 0.7e6 terms/s at 1.4e6 and 0.3e6/s at 2.1e7 raw terms, tanh n = 10): a larger
#: application is refused before it starts (chains grow ~15x per L0 at n = 10)
MAX_RAW_TERMS = 5_000_000
_EPS = np.finfo(float).eps
#: bytes per raw term while combining: the parts, their concatenation, the sorted copy
#: (keys and coefficients each) and the sort permutation
_BYTES_PER_RAW_WORD = 3 * 8
_BYTES_PER_RAW_TERM = 3 * 8 + 8 + 2


class ChainError(NotApplicableError):
    """A short-lag chain cannot be built (unsupported model/observable or degree too high)."""


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

    @property
    def nbytes(self) -> int:
        """Memory held by the keys and coefficients."""
        return int(self.keys.nbytes + self.coeffs.nbytes)

    def __repr__(self) -> str:
        return f"ChainPoly(nterms={self.nterms}, degree≤{self.degree})"


def _shift(v: int) -> tuple[int, np.uint64]:
    return v // 8, np.uint64(8 * (v % 8))


def raw_bytes(n_terms: int, words: int) -> int:
    """Estimated peak bytes of combining ``n_terms`` raw terms of ``words`` packed words."""
    return int(n_terms) * (_BYTES_PER_RAW_WORD * words + _BYTES_PER_RAW_TERM)


class PackedAlgebra:
    """Polynomials in the variables ``symbols`` on packed monomials (module docstring).

    ``rng`` (optional): a ``numpy`` generator; every combined coefficient is then perturbed
    by a relative ``ε u``, ``u ~ U(-1, 1)`` (Monte Carlo arithmetic).
    """

    def __init__(self, symbols: Sequence[sp.Symbol], *, rng: np.random.Generator | None = None):
        self.symbols: tuple[sp.Symbol, ...] = tuple(symbols)
        self.V = len(self.symbols)
        self.words = max(1, (self.V + 7) // 8)
        #: raw terms combined by :meth:`apply` so far (the work meter of cost budgets)
        self.work = 0
        self._rng = rng

    # ------------------------------------------------------------------ construction
    def _monomial_key(self, exps: Sequence[int]) -> np.ndarray:
        key = np.zeros(self.words, dtype=np.uint64)
        for v, e in enumerate(exps):
            if e:
                if not 0 <= e <= MAX_EXPONENT:
                    raise ChainError(f"exponent {e} of {self.symbols[v]} exceeds "
                                     f"{MAX_EXPONENT}, the largest of the packed monomials")
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
        """``c x_v``."""
        return self.poly({unit(self.V, v): c})

    # ------------------------------------------------------------------ algebra
    def _combine(self, keys: np.ndarray, coeffs: np.ndarray, degree: int) -> ChainPoly:
        """Sort, add like terms, drop exact cancellations (``|Σc| ≤ 8ε Σ|c|``). In a
        perturbed algebra every result is multiplied by ``1 + ε u``, ``u ~ U(-1, 1)``."""
        if keys.shape[0] == 0:
            return self.zero()
        bits = max(1, int(degree).bit_length())   # every exponent is ≤ the degree bound
        if self.words == 1 or bits * self.V <= 64:
            k1 = keys[:, 0] if self.words == 1 else self._compress(keys, bits)
            order = np.argsort(k1)
            k1 = k1[order]
            new = np.empty(k1.shape[0], dtype=bool)
            new[0] = True
            np.not_equal(k1[1:], k1[:-1], out=new[1:])
            ks = keys[order]
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

    def _compress(self, keys: np.ndarray, bits: int) -> np.ndarray:
        """One uint64 per monomial with ``bits`` bits per exponent (``bits · V ≤ 64``):
        injective for exponents below ``2^bits``, so sorting it groups like terms with one
        1-d sort instead of a multi-word ``lexsort``."""
        out = np.zeros(keys.shape[0], dtype=np.uint64)
        mask = np.uint64(0xFF)
        for v in range(self.V):
            w, s = _shift(v)
            out |= ((keys[:, w] >> s) & mask) << np.uint64(bits * v)
        return out

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
        check_memory(raw_bytes(P.nterms * Q.nterms, self.words),
                     f"the product of polynomials with {P.nterms} and {Q.nterms} terms",
                     LOWER_COST)
        keys = (P.keys[:, None, :] + Q.keys[None, :, :]).reshape(-1, self.words)
        coeffs = (P.coeffs[:, None] * Q.coeffs[None, :]).ravel()
        return self._combine(keys, coeffs, P.degree + Q.degree)

    def exponents(self, P: ChainPoly) -> np.ndarray:
        """Exponent matrix ``(T, V)`` (int64)."""
        return self.unpack(P.keys)

    def unpack(self, keys: np.ndarray) -> np.ndarray:
        """Exponent matrix ``(T, V)`` (int64) of packed keys ``(T, words)``."""
        out = np.empty((keys.shape[0], self.V), dtype=np.int64)
        for v in range(self.V):
            w, s = _shift(v)
            out[:, v] = ((keys[:, w] >> s) & np.uint64(0xFF)).astype(np.int64)
        return out

    def _exponent(self, keys: np.ndarray, v: int) -> np.ndarray:
        w, s = _shift(v)
        return ((keys[:, w] >> s) & np.uint64(0xFF)).astype(np.float64)

    def _check_degree(self, deg: int) -> None:
        if deg > MAX_EXPONENT:
            raise ChainError(f"chain degree {deg} exceeds {MAX_EXPONENT}, the largest exponent "
                             "of the packed monomial representation; lower the Taylor degree")

    def _derivative_mask(self, P: ChainPoly, v: int, w: int | None):
        ev = self._exponent(P.keys, v)
        if w is None:
            mask = ev > 0
            return mask, ev[mask], [(v, 1)]
        if v == w:
            mask = ev > 1
            return mask, ev[mask] * (ev[mask] - 1), [(v, 2)]
        ew = self._exponent(P.keys, w)
        mask = (ev > 0) & (ew > 0)
        return mask, ev[mask] * ew[mask], [(v, 1), (w, 1)]

    def _raw_derivative(self, P: ChainPoly, v: int, w: int | None = None):
        """``∂_v P`` (or ``∂_v ∂_w P``) as raw terms ``(keys, coeffs)``; distinct monomials
        stay distinct (no combining needed)."""
        mask, fac, shifts = self._derivative_mask(P, v, w)
        keys = P.keys[mask].copy()
        for var, e in shifts:
            wv, sv = _shift(var)
            keys[:, wv] -= np.uint64(e) << sv
        return keys, P.coeffs[mask] * fac

    def raw_terms(self, P: ChainPoly, first, second=()) -> int:
        """Number of raw terms :meth:`apply` combines for ``P`` (for memory estimates)."""
        total = 0
        for idx, M in [((v, None), M) for v, M in first] + [((v, w), M)
                                                           for (v, w), M in second]:
            mask, _, _ = self._derivative_mask(P, *idx)
            total += int(np.count_nonzero(mask)) * M.nterms
        return total

    def apply(self, P: ChainPoly, first, second=(), *, what: str = "an operator") -> ChainPoly:
        """``Σ_v M_v ∂_v P + Σ_{(v,w)} M_vw ∂_v∂_w P`` with polynomial coefficients ``M``
        (``first``: pairs ``(v, M_v)``; ``second``: pairs ``((v, w), M_vw)``). Refuses
        (:class:`~volterra_sym.errors.ResourceLimitError`) when combining the raw terms
        would exceed the memory budget."""
        if P.is_zero:
            return P
        raw = self.raw_terms(P, first, second)
        check_count(raw, MAX_RAW_TERMS, f"applying {what} to a polynomial of {P.nterms} "
                    "terms", "raw terms", LOWER_COST + ", or use method='galerkin'")
        check_memory(raw_bytes(raw, self.words),
                     f"applying {what} to a polynomial of {P.nterms} terms", LOWER_COST)
        self.work += raw
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
        return self.apply(P, [(v, M) for v, M in first if not M.is_zero])

    # ------------------------------------------------------------------ SymPy bridge
    def from_expr(self, expr: sp.Expr | str) -> ChainPoly:
        """A polynomial in :attr:`symbols` (e.g. any polynomial observable in ``h``)."""
        expr = as_expression(expr, {str(v): v for v in self.symbols}, what="expression")
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

    def to_expr(self, P: ChainPoly) -> sp.Expr:
        """The polynomial as a SymPy expression in :attr:`symbols`."""
        E = self.exponents(P)
        x = self.symbols
        return sp.Add(*[sp.Float(c) * sp.Mul(*[x[v] ** int(e) for v, e in enumerate(row) if e])
                        for row, c in zip(E, P.coeffs, strict=True)])

    # ------------------------------------------------------------------ numbers
    def evaluate(self, polys: ChainPoly | Sequence[ChainPoly], x: np.ndarray,
                 chunk: int = 4096, *, split: int | None = None) -> np.ndarray:
        """Values of polynomial(s) at points ``x (S, V)``: ``(S,)`` or ``(K, S)``.

        Shared subexpressions: per-variable power tables, the distinct parts ``H`` (first
        ``split`` variables) and ``A`` (the rest) of all monomials, and
        ``g_K = Σ_u H_u (C_K A)_u`` with one sparse matrix ``C`` per polynomial."""
        single = isinstance(polys, ChainPoly)
        plist = [polys] if single else list(polys)
        x = real_array(x, "x", finite=False)     # dtype/shape only, O(1) for ndarrays
        S = x.shape[0]
        plan = _EvalPlan(self, plist, self.V if split is None else split)
        check_memory(8.0 * len(plist) * S, f"the values of {len(plist)} polynomials at "
                     f"{S} points", "evaluate at fewer points")
        out = np.empty((len(plist), S))
        for lo in range(0, S, chunk):
            out[:, lo:lo + chunk] = plan(x[lo:lo + chunk])
        return out[0] if single else out


def unit(V: int, v: int, e: int = 1) -> tuple[int, ...]:
    """The exponent tuple of ``x_v^e`` in ``V`` variables."""
    t = [0] * V
    t[v] = e
    return tuple(t)


class _EvalPlan:
    """Shared-subexpression evaluation of several polynomials (see ``evaluate``)."""

    def __init__(self, alg: PackedAlgebra, polys: list[ChainPoly], split: int):
        V = alg.V
        self.split = split
        all_E = [alg.exponents(P) for P in polys]
        E = np.concatenate(all_E) if all_E else np.zeros((0, V), dtype=np.int64)
        self.maxe = E.max(axis=0) if E.shape[0] else np.zeros(V, dtype=np.int64)
        h_parts, h_idx = np.unique(E[:, :split], axis=0, return_inverse=True)
        a_parts, a_idx = np.unique(E[:, split:], axis=0, return_inverse=True)
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
