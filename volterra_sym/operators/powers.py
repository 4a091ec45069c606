"""The generator ``L0`` and the perturbations ``L_k`` on packed polynomials (docs/theory.md §5).

Each activation value gets its own variable, so that the observable, the drift and every
generator power ``L0^p f`` are *polynomials*: the chain variables are

    x = (h_1..h_n)                       linear activation (a_i = z_i is polynomial in h),
    x = (h_1..h_n, a_1..a_n)              tanh, sigmoid  (a_i = a(z_i), z = W h + b),
    x = (h_1..h_n, a_1..a_n, s_1..s_n)    softplus       (s_i = sigmoid(z_i) = a'(z_i)),

with the closed derivative rules ``∂a_i/∂h_k = a'(z_i) W_ik`` and ``a' = 1 - a²`` (tanh),
``a' = a(1 - a)`` (sigmoid), ``a' = s``, ``s' = s(1 - s)`` (softplus). In ``x``-coordinates,
with the Jacobian ``J_vk = ∂x_v/∂h_k`` (a polynomial),

    L0 = Σ_v F_v ∂_v + Σ_{v≤w} Q_vw ∂_v ∂_w ,
    F_v  = Σ_k φ_k J_vk + ½ Σ_kl D_kl Σ_w J_wl ∂_w J_vk ,
    Q_vw = Σ_kl D_kl J_vk J_wl  (v < w) ,   Q_vv = ½ Σ_kl D_kl J_vk J_vl ,
    L_k  = Σ_v (Σ_i C_ik J_vi) ∂_v .

State-dependent noise (docs/theory.md §11): ``D_kl(h) = (σ(h)σ(h)ᵀ)_kl`` enters the same
formulas as a polynomial in ``h`` (``σ`` must be polynomial in the state, else the model is
refused naming ``sigma``). Input inside the activation (docs/theory.md §10): the kick of
``j`` channels ``κ = (k_1..k_j)`` is

    L^{(j)}_κ = Σ_v (Σ_i c_i J_vi) ∂_v ,   c_i = a^{(j)}(z_i) C_{ik_1}⋯C_{ik_j} / j! ,

with ``a^{(j)}(z) = P_j(a)`` (tanh, sigmoid: :meth:`Activation.derivative_poly`) or
``softplus^{(j)} = sigmoid^{(j-1)}`` (a polynomial in ``s``); for the additive input (or a
linear activation) ``L^{(1)}_k = L_k`` and ``L^{(j≥2)} = 0``.

The polynomials live in a :class:`~volterra_sym.operators.packed.PackedAlgebra` (packed
monomials, one sort per operator application, no expression swell and no ``simplify``).
:func:`lambdify_chain` gives a CSE'd ``numpy`` function of a (small) chain for export.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import sympy as sp

from ..arrays import real_array
from ..budget import check_count
from ..model import SRNN
from ..model.activations import get_activation
from .packed import ChainError, ChainPoly, PackedAlgebra, unit

__all__ = ["ChainSpace", "ChainPoly", "ChainError", "SUPPORTED_ACTIVATIONS",
           "unsupported_reason", "lambdify_chain", "multi_indices", "factorial_weights"]

#: Activations with a closed derivative rule that keeps chains polynomial.
SUPPORTED_ACTIVATIONS = ("linear", "tanh", "sigmoid", "softplus")
_EPS = np.finfo(float).eps


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
    if model.state_dependent_noise:
        for (i, j), e in np.ndenumerate(np.array(model.sigma.tolist(), dtype=object)):
            if not sp.sympify(e).is_polynomial(*model.h):
                return (f"the state-dependent noise sigma[{i + 1},{j + 1}] = {e} is not a "
                        "polynomial in the state (the short-lag chains need a polynomial "
                        "D(h) = σ(h)σ(h)ᵀ)")
    return None


class ChainSpace(PackedAlgebra):
    """The chain variables ``x`` of a model and the operators ``L0``, ``L_k`` on polynomials
    in ``x`` (module docstring).

    Attributes
    ----------
    n, V : state dimension and number of chain variables.
    symbols : SymPy symbols of ``x`` (``h1..hn``, then ``a1..an``, then ``s1..sn``).
    kind : the activation name (one of :data:`SUPPORTED_ACTIVATIONS`).
    n_L0 : number of ``L0`` applications so far (to check memoisation).

    ``perturb_seed`` builds a *shadow* space: every parameter and every combined
    coefficient carries a random relative perturbation of size ``ε`` (Monte Carlo
    arithmetic); the spread between shadow and plain results estimates the rounding error.
    """

    def __init__(self, model: SRNN, *, perturb_seed: int | None = None):
        reason = unsupported_reason(model)
        if reason is not None:
            raise ChainError(reason)
        self.model = model
        self.kind = model.activation.name
        n = self.n = model.n
        groups = {"linear": 1, "tanh": 2, "sigmoid": 2, "softplus": 3}[self.kind]
        symbols = tuple(model.h) + tuple(sp.Symbol(f"{name}{i + 1}", real=True)
                                         for name in ("a", "s")[: groups - 1]
                                         for i in range(n))
        rng = None if perturb_seed is None else np.random.default_rng(perturb_seed)
        super().__init__(symbols, rng=rng)
        self.state_noise = model.state_dependent_noise
        p = model.numpy_params(state_noise=self.state_noise)
        if rng is not None:
            p = {k: v * (1.0 + _EPS * rng.uniform(-1.0, 1.0, np.shape(v)))
                 for k, v in p.items()}
        self.Gamma, self.W, self.b = p["Gamma"], p["W"], p["b"]
        self.C = p["C"]
        #: ``D`` (n, n) constant, or ``None`` with ``σ(h)`` (then :attr:`D_poly`)
        self.D = p.get("D")
        self.D_poly = self._diffusion_polys(rng) if self.state_noise else None
        self._build_operators()
        self._kick_fields: dict[tuple[int, ...], list] = {}
        self.n_L0 = 0

    def _diffusion_polys(self, rng) -> dict[tuple[int, int], ChainPoly]:
        """``{(k, l): D_kl(h)}`` for the nonzero entries of ``D(h) = σ(h)σ(h)ᵀ`` as
        polynomials in ``h`` (shadow spaces: every coefficient perturbed by ``1 + ε u``)."""
        out = {}
        n, h = self.n, self.model.h
        for k in range(n):
            for l in range(n):
                e = sp.expand(self.model.D[k, l])
                if e == 0:
                    continue
                poly = sp.Poly(e, *h)
                terms = {}
                for mono, c in poly.terms():
                    c = float(c)
                    if rng is not None:
                        c *= 1.0 + _EPS * rng.uniform(-1.0, 1.0)
                    terms[tuple(mono) + (0,) * (self.V - n)] = c
                P = self.poly(terms)
                if not P.is_zero:
                    out[(k, l)] = P
        return out

    def _build_operators(self) -> None:
        n, V, W = self.n, self.V, self.W
        lin = self.kind == "linear"
        # drift φ_k in x
        A = self.Gamma - W if lin else self.Gamma
        phi = []
        for k in range(n):
            parts = [self.var(j, -A[k, j]) for j in range(n) if A[k, j] != 0]
            parts.append(self.const(self.b[k]) if lin else self.var(n + k))
            phi.append(self.add(*parts))
        self.drift = phi
        # Jacobian J[v][k] = ∂x_v/∂h_k
        J: list[list[ChainPoly]] = [[self.const(1.0 if v == k else 0.0) for k in range(n)]
                                    for v in range(n)]
        if not lin:
            for i in range(n):
                a, s = n + i, 2 * n + i
                if self.kind in ("tanh", "sigmoid"):  # the activation's rule a' = P(a)
                    rule = self.poly({unit(V, a, e): float(c) for (e,), c in
                                      sp.Poly(self.model.activation.derivative_in_a).terms()})
                else:  # softplus: a' = s
                    rule = self.var(s)
                J.append([self.scale(rule, W[i, k]) for k in range(n)])
            if self.kind == "softplus":
                for i in range(n):
                    s = 2 * n + i
                    rule = self.add(self.var(s), self.poly({unit(V, s, 2): -1.0}))
                    J.append([self.scale(rule, W[i, k]) for k in range(n)])
        self.J = J
        if self.D_poly is None:
            D = self.D
            pairs = [(k, l) for k in range(n) for l in range(n) if D[k, l] != 0]

            def times_D(P: ChainPoly, k: int, l: int, fac: float) -> ChainPoly:
                return self.scale(P, fac * D[k, l])
        else:   # σ(h): D_kl(h) a polynomial in h (docs/theory.md §11)
            pairs = sorted(self.D_poly)

            def times_D(P: ChainPoly, k: int, l: int, fac: float) -> ChainPoly:
                return self.scale(self.mul(self.D_poly[(k, l)], P), fac)
        F = []
        for v in range(V):
            parts = [self.mul(phi[k], J[v][k]) for k in range(n)]
            for k, l in pairs:
                dJ = self.field(J[v][k], [(w, J[w][l]) for w in range(V)])
                parts.append(times_D(dJ, k, l, 0.5))
            F.append(self.add(*parts))
        Q: dict[tuple[int, int], ChainPoly] = {}
        for v in range(V):
            for w in range(v, V):
                fac = 0.5 if v == w else 1.0
                q = self.add(*[times_D(self.mul(J[v][k], J[w][l]), k, l, fac)
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

    # ------------------------------------------------------------------ the operators
    def L0(self, P: ChainPoly) -> ChainPoly:
        """``L0 P = Σ_v F_v ∂_v P + Σ_{v≤w} Q_vw ∂_v∂_w P``."""
        self.n_L0 += 1
        return self.apply(P, self.L0_first, self.L0_second, what="L0")

    def L0_power(self, P: ChainPoly, p: int) -> ChainPoly:
        """``L0^p P`` (``p`` applications)."""
        for _ in range(int(p)):
            P = self.L0(P)
        return P

    def L(self, k, P: ChainPoly) -> ChainPoly:
        """``L_k P = Σ_i C_ik ∂_{h_i} P`` (chain rule through ``a``, ``s``) for a channel
        ``k``; for a kick ``k = (k_1..k_j)`` (a tuple, docs/theory.md §10) the kick operator
        ``L^{(j)}_k P = Σ_i a^{(j)}(z_i) C_{ik_1}⋯C_{ik_j}/j! ∂_{h_i} P`` (module
        docstring). With the input inside a nonlinear activation a plain channel ``k``
        means the kick ``(k,)``, i.e. ``L^{(1)}_k``."""
        kick = self._kick(k)
        if self._inside:
            return self.apply(P, self.kick_field(kick), what=_kick_name(kick))
        if len(kick) > 1:
            return self.zero()          # L^{(j≥2)} = 0 (additive input or a'' ≡ 0)
        return self.apply(P, self.L_fields[kick[0]], what=f"L_{kick[0] + 1}")

    @property
    def _inside(self) -> bool:
        """The input enters a nonlinear activation (kicks carry ``a^{(j)}(z)``)."""
        return self.model.input == "activation" and self.kind != "linear"

    def _kick(self, k) -> tuple[int, ...]:
        ks = tuple(k) if isinstance(k, (tuple, list)) else (k,)
        if not ks:
            raise ChainError("a kick needs at least one channel")
        for c in ks:
            if isinstance(c, bool) or not isinstance(c, (int, np.integer)) \
                    or not 0 <= c < self.model.m:
                raise ChainError(f"channel k={c!r} is out of range: the model has "
                                 f"m={self.model.m} input channel(s), indexed "
                                 f"0..{self.model.m - 1}")
        return tuple(int(c) for c in ks)

    def activation_derivative(self, j: int, i: int) -> ChainPoly:
        """``a^{(j)}(z_i)`` as a polynomial in the chain variables (``j ≥ 1``)."""
        n, V = self.n, self.V
        if self.kind == "softplus":     # softplus^{(j)} = sigmoid^{(j-1)}, in s_i
            P = get_activation("sigmoid").derivative_poly(j - 1)
            var = 2 * n + i
        else:
            P = self.model.activation.derivative_poly(j)
            var = n + i
        sym = next(iter(P.free_symbols), None) if P is not None else None
        poly = sp.Poly(P, sym) if sym is not None else sp.Poly(P, sp.Symbol("A_"))
        return self.poly({unit(V, var, int(e)): float(c) for (e,), c in poly.terms()})

    def kick_field(self, kick: tuple[int, ...]) -> list[tuple[int, ChainPoly]]:
        """The first-order field ``[(v, Σ_i c_i J_vi)]`` of ``L^{(j)}_κ`` (memoised)."""
        got = self._kick_fields.get(kick)
        if got is not None:
            return got
        n, V, j = self.n, self.V, len(kick)
        scale = 1.0 / math.factorial(j)
        coef = []
        for i in range(n):
            cik = float(np.prod([self.C[i, k] for k in kick])) * scale
            coef.append(self.zero() if cik == 0 else
                        self.scale(self.activation_derivative(j, i), cik))
        G = [self.add(*[self.mul(coef[i], self.J[v][i]) for i in range(n)
                        if not coef[i].is_zero]) for v in range(V)]
        field_ = [(v, G[v]) for v in range(V) if not G[v].is_zero]
        self._kick_fields[kick] = field_
        return field_

    # ------------------------------------------------------------------ SymPy bridge
    def to_expr(self, P: ChainPoly, *, substitute: bool = False) -> sp.Expr:
        """The polynomial as a SymPy expression in ``x``; with ``substitute`` the activation
        symbols are replaced by ``a(z_i)`` (and ``s_i`` by ``sigmoid(z_i)``)."""
        out = super().to_expr(P)
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
        h = real_array(h, "h", finite=False).reshape(-1, self.n)
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
                 chunk: int = 4096, *, split: int | None = None) -> np.ndarray:
        """Values of polynomial(s) at chain points ``x (S, V)`` (``(S,)`` or ``(K, S)``),
        the state part ``h`` and the activation part of the monomials tabulated apart."""
        return super().evaluate(polys, x, chunk, split=self.n if split is None else split)


def _kick_name(kick: tuple[int, ...]) -> str:
    return f"L^({len(kick)})_{''.join(str(k + 1) for k in kick)}"


def lambdify_chain(space: ChainSpace, P: ChainPoly, *, max_terms: int = 5000):
    """A ``numpy`` function ``h (S, n) -> (S,)`` of a chain polynomial, generated by SymPy
    with common-subexpression elimination (``lambdify(..., cse=True)``) in the chain
    variables; the activations are computed first. For export/inspection of small chains:
    more than ``max_terms`` terms are refused
    (:class:`~volterra_sym.errors.ResourceLimitError`, unit ``"terms"``); the hot path uses
    :meth:`ChainSpace.evaluate`."""
    check_count(P.nterms, max_terms, "lambdifying the chain", "terms",
                "raise max_terms or use ChainSpace.evaluate for large chains")
    expr = space.to_expr(P)
    fn = sp.lambdify([space.symbols], expr, "numpy", cse=True)

    def f(h):
        x = space.variables_at(h)
        return np.broadcast_to(np.asarray(fn(x.T), dtype=float), (x.shape[0],)).copy()
    return f


def multi_indices(N: int, degree: int) -> list[tuple[int, ...]]:
    """All ``p ∈ ℕ^N`` with ``|p| ≤ degree``, by increasing ``|p|`` (then lexicographic)."""
    out: list[tuple[int, ...]] = []
    for total in range(degree + 1):
        out.extend(_compositions(total, N))
    return out


def _compositions(total: int, N: int) -> Iterable[tuple[int, ...]]:
    if N == 0:
        if total == 0:
            yield ()
        return
    if N == 1:
        yield (total,)
        return
    for first in range(total + 1):
        for rest in _compositions(total - first, N - 1):
            yield (first,) + rest


def factorial_weights(powers: Sequence[int]) -> float:
    """``p! = Π_j p_j!``."""
    return float(math.prod(math.factorial(p) for p in powers))
