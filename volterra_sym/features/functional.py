r"""The response functional: the output mean as a linear functional of the signature
(docs/theory.md §5).

Conventions (binding, docs/theory.md §4–§5)
-------------------------------------------
Kicks at ``0 < s_N < … < s_1 < t`` (``s_1`` the most recent), lags ``σ_j = t - s_j``, gaps
``τ_1 = σ_1 = t - s_1`` and ``τ_j = σ_j - σ_{j-1} = s_{j-1} - s_j``. The short-lag series of
the kernel of channel tuple ``k = (k_1, …, k_N)`` is::

    K_k(σ) ≈ Σ_{|p| ≤ D} c_{k,p} Π_j τ_j^{p_j} / p_j! ,
    c_{k,p} = < p0, L_{k_N} L0^{p_N} ⋯ L_{k_1} L0^{p_1} f > ,

and ``T_N(t) = Σ_k ∫_{0<s_N<…<s_1<t} K_k(t-s_1, …, t-s_N) Π_j u_{k_j}(s_j) ds``.

Derivation of the functional (index bookkeeping)
------------------------------------------------
Expand every gap binomially, ``τ_j^{p_j}/p_j! = Σ_{a_j + b_j = p_j} x^{a_j} (-y)^{b_j} /
(a_j! b_j!)`` with ``(x, y) = (t, s_1)`` for ``j = 1`` and ``(s_{j-1}, s_j)`` for ``j ≥ 2``.
Collecting the powers of each ``s_j`` gives, for every choice ``b ∈ Π_j [0, p_j]``
(``a = p - b``),

    Π_j τ_j^{p_j}/p_j! = Σ_b w(p, b) t^{a_1} Π_j s_j^{q_j} ,
    w(p, b) = Π_j (-1)^{b_j} / (a_j! b_j!) ,
    q_j = b_j + a_{j+1}  (j < N) ,   q_N = b_N .

The iterated integral ``∫_{0<s_N<…<s_1<t} Π_j s_j^{q_j} u_{k_j}(s_j) ds`` is the signature
term ``S^w(X)_{0,t}`` of the feature path ``X^{(k,q)}(s) = ∫_0^s r^q u_k(r) dr`` for the word
(earliest kick first, :mod:`volterra_sym.features.signature`)

    w = ((k_N, q_N), (k_{N-1}, q_{N-1}), …, (k_1, q_1)) ,  letter (k, q) -> k (D + 1) + q .

Hence ``T_N(t) ≈ <ℓ_N(t), S(X)_{0,t}> = Σ_{a=0}^{D} t^a <L_{N,a}, S(X)_{0,t}>`` where the
coefficient matrix ``L_{N,a}[w] = Σ_{k,p,b: a_1 = a, word = w} c_{k,p} w(p, b)`` lives on level
``N`` of the signature. Every ``q_j ≤ |p| ≤ D`` and ``a_1 ≤ D``, so a signature of depth
``≥ N`` with monomial degree ``≥ D`` (the Taylor degree) holds every word; the layout of the
functional is ``FeatureLayout(m, degree=D, depth=order)``. Level 0 carries ``T_0 = <f>_0``
(coefficient of the empty word, power ``t^0``). The coefficients are stored as one array
``coefficients[N, a, i]`` of shape ``(order + 1, D + 1, size)`` (``i`` the flat signature
index), so ``<ℓ(t), S>`` at all times is one matrix product ``S @ L.reshape(-1, size).T``
followed by a contraction with the powers ``t^a`` — applied on the fly while the signatures
are computed (``reduce=`` of :func:`~volterra_sym.features.signature.response_features`).

With ``ε``: ``Σ_{N ≤ order} ε^N T_N(t) ≈ <ℓ^ε(t), S>``, ``ℓ^ε = Σ_N ε^N ℓ_N``
(:meth:`ResponseFunctional.matrix` / :meth:`ResponseFunctional.at` with ``eps``).

Contact terms (input inside the activation, docs/theory.md §10)
----------------------------------------------------------------
A kernel is then named by kicks ``κ = (κ_1, …, κ_r)`` (``κ_1`` the most recent; each a
tuple of channels, total order ``N = Σ_i |κ_i|``; one gap per kick) and

    T_N(t) = Σ_{κ ⊨ N} ∫_{0<s_r<…<s_1<t} K_κ(t-s_1, …, t-s_r) Π_i u_{κ_i}(s_i) ds ,
    u_{κ_i} = Π_{c ∈ κ_i} u_c ,

the sum over every composition of ``N`` and every ordered channel tuple per kick. ``K_κ``
and ``u_{κ_i}`` depend on each kick's channels only as a multiset, so the terms are
collected on the canonical (sorted) kicks with the multiplicity ``Π_i |κ_i|!/Π_c μ_c!``
(``μ_c`` the multiplicity of channel ``c`` in ``κ_i``). The feature path is that of the
*augmented* input ``(u_κ)_κ`` (``κ`` over the channel multisets of size ``1..order``,
:func:`~volterra_sym.features.signature.kick_channels`), and the bookkeeping above applies
unchanged with the letters ``(κ_i, q)``: a kernel with ``r`` kicks lives on signature level
``r ≤ N`` of ``ℓ_N``. For the additive input (or a linear activation) ``L^{(j≥2)} = 0``, and
the layout is the plain one (``m`` channels, :attr:`ResponseFunctional.channels` ``None``).

Accuracy: the functional equals the truncated Taylor kernels integrated against the input
exactly (up to the signature's quadrature/chord error and floating point). The truncation
error of the Taylor kernels themselves is bounded by :meth:`ResponseFunctional.error_bound`:
``|T_N - <ℓ_N, S>| ≲ E_N(t) U(t)^N / N!`` with ``E_N(t)`` the backend's error estimate of
the kernels for gaps ``≤ t`` (truncation + rounding + 2 s.e.) and ``U(t) = ∫_0^t ‖u‖_1``.
The binomial expansion costs a factor of at most ``2^D`` in relative rounding at ``t`` where
the terms are of size ``t^D/D!``: harmless inside the radius of the Taylor series, which is
where the functional means anything at all.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from ..arrays import check_int, real_array, real_number
from ..backends.taylor import TaylorAccuracyWarning, taylor_hierarchy
from ..backends.taylor.series import MIN_LAST_SHELL
from ..budget import check_count, check_memory
from ..errors import InvalidInputError, NotApplicableError
from ..hierarchy.composite import kick_sequences
from ..hierarchy.hooks import register_implementation
from ..model.noise import FEATURE_ACTIVATION_INPUT
from ..parsing import as_expression
from ..results import freeze
from .signature import (
    DEFAULT_REFINE,
    FeatureLayout,
    FrozenResult,
    ResponseFeatures,
    _check_channels,
    _size_estimate,
    augment_input,
    feature_layout,
    kick_channels,
    response_features,
)

if TYPE_CHECKING:
    from ..hierarchy.dag import ResponseHierarchy

__all__ = [
    "ResponseFunctional",
    "functional_channels",
    "kick_multiplicity",
    "functional_from_coefficients",
    "response_functional",
    "response_functional_latex",
    "word_terms",
]


# --------------------------------------------------------------------------- bookkeeping
#: terms :func:`word_terms` may expand (a Python loop of ~5 µs a term: ~5 s)
MAX_WORD_TERMS = 10**6


def word_terms(
    channels: Sequence[int], powers: Sequence[int]
) -> list[tuple[int, tuple[tuple[int, int], ...], float]]:
    """The binomial expansion of ``Π_j τ_j^{p_j}/p_j!`` for one channel tuple and power.

    Returns ``[(a_1, word, weight), …]``: the power of ``t``, the word
    ``((k_N, q_N), …, (k_1, q_1))`` as ``(k, q)`` pairs (earliest kick first) and the weight
    ``Π_j (-1)^{b_j}/(a_j! b_j!)`` (see the module docstring). Terms with the same ``(a_1,
    word)`` are *not* merged. Reference implementation (loops), used by the tests.
    """
    k = _int_tuple(channels, "channels")
    p = _int_tuple(powers, "powers")
    if min(p, default=0) < 0:
        raise InvalidInputError(f"powers must be integers >= 0, got {p}", param="powers")
    if min(k, default=0) < 0:
        raise InvalidInputError(f"channels must be integers >= 0, got {k}", param="channels")
    if len(k) != len(p) or not k:
        raise InvalidInputError(f"channels {k} and powers {p} must have the same length >= 1",
                                param="channels")
    count = math.prod(float(pj) + 1.0 for pj in p)  # Π (p_j + 1) terms, no loop over them
    check_memory(count * (100 + 120 * len(p)), f"the {count:.3g} terms of word_terms",
                 "lower powers")
    check_count(count, MAX_WORD_TERMS, "word_terms (a Python loop, ~5 µs a term)", "terms",
                "lower powers")
    # 1/(a! b!) in floats: a factorial past 170 is inf (its weight underflows to 0 anyway)
    fact = [float(math.factorial(i)) if i <= 170 else math.inf for i in range(max(p) + 1)]
    N = len(k)
    out = []
    for b in product(*(range(pj + 1) for pj in p)):
        a = [pj - bj for pj, bj in zip(p, b, strict=True)]
        q = [b[j] + (a[j + 1] if j + 1 < N else 0) for j in range(N)]
        w = math.prod((-1) ** b[j] / (fact[a[j]] * fact[b[j]]) for j in range(N))
        word = tuple((k[j], q[j]) for j in reversed(range(N)))
        out.append((a[0], word, w))
    return out


def _int_tuple(values: object, name: str) -> tuple[int, ...]:
    """``values`` as a tuple of integers; a float (``2.7``, also ``2.0``), bool or string is an
    :class:`InvalidInputError` naming ``name`` (``int()`` truncated 2.7 to 2)."""
    if isinstance(values, (str, bytes)):
        raise InvalidInputError(f"{name} must be a sequence of integers, got {values!r}",
                                param=name)
    try:
        items = tuple(values)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidInputError(f"{name} must be a sequence of integers, got {values!r}",
                                param=name) from None
    bad = [x for x in items if isinstance(x, bool) or not isinstance(x, (int, np.integer))]
    if bad:
        raise InvalidInputError(f"{name} must hold integers, got {bad[0]!r} in {values!r}",
                                param=name)
    return tuple(int(x) for x in items)


def _expand(powers: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised :func:`word_terms` for all rows of ``powers (K, N)``.

    Returns ``(row, a1, q, weight)``: for every term the row of ``powers`` it comes from, the
    power of ``t``, the monomial powers ``q (terms, N)`` (``q[:, j]`` for kick ``j + 1``) and
    the weight ``Π_j (-1)^{b_j}/(a_j! b_j!)``.
    """
    K, N = powers.shape
    row = np.arange(K)
    b = np.zeros((K, 0), dtype=np.int64)
    for j in range(N):
        cnt = powers[row, j] + 1
        start = np.repeat(np.cumsum(cnt) - cnt, cnt)
        bj = np.arange(int(cnt.sum())) - start
        row = np.repeat(row, cnt)
        b = np.concatenate([np.repeat(b, cnt, axis=0), bj[:, None]], axis=1)
    p = powers[row]
    a = p - b
    q = b.copy()
    q[:, :-1] += a[:, 1:]
    fact = np.array([float(math.factorial(i)) if i <= 170 else np.inf
                     for i in range(int(p.max(initial=0)) + 1)])  # 171! is past the floats
    with np.errstate(over="ignore"):  # a! b! past the floats: the weight is 0 (< 1e-308)
        weight = np.prod(np.where(b % 2 == 1, -1.0, 1.0) / (fact[a] * fact[b]), axis=1)
    return row, a[:, 0], q, weight


def _level_index(layout: FeatureLayout, letters: np.ndarray) -> np.ndarray:
    """Flat indices of words given as letter-index rows ``(terms, n)`` (first = earliest)."""
    n = letters.shape[1]
    idx = np.zeros(letters.shape[0], dtype=np.int64)
    for i in range(n):
        idx = idx * layout.d + letters[:, i]
    return idx + layout.level_slice(n).start


def _embed_index(src: FeatureLayout, dst: FeatureLayout) -> np.ndarray:
    """``dst`` flat index of every ``src`` flat index (same ``m``; ``dst`` at least as deep
    and of at least the same monomial degree)."""
    if dst.m != src.m or dst.degree < src.degree or dst.depth < src.depth:
        raise InvalidInputError(
            f"signature layout (m={dst.m}, degree={dst.degree}, depth={dst.depth}) cannot hold "
            f"the functional (m={src.m}, degree={src.degree}, depth={src.depth}): it needs the "
            f"same m, degree >= {src.degree} and depth >= {src.depth}",
            param="layout",
        )
    out = [np.zeros(1, dtype=np.int64)]
    for n in range(1, src.depth + 1):
        loc = np.arange(src.d**n)
        digits = np.stack([(loc // src.d ** (n - 1 - i)) % src.d for i in range(n)], axis=1)
        k, q = np.divmod(digits, src.degree + 1)
        out.append(_level_index(dst, k * (dst.degree + 1) + q))
    return np.concatenate(out)


# --------------------------------------------------------------------------- the functional
@dataclass(frozen=True, repr=False)
class ResponseFunctional(FrozenResult):
    r"""Per-order linear functionals ``ℓ_N(t)`` with ``T_N(t) ≈ <ℓ_N(t), S(X)_{0,t}>``.

    Attributes
    ----------
    layout : :class:`~volterra_sym.features.signature.FeatureLayout`
        ``(m, degree = Taylor degree D, depth = order)``: the smallest signature holding ℓ.
    coefficients : array ``(order + 1, D + 1, layout.size)``
        ``coefficients[N, a]`` is the vector multiplying ``t^a`` in ``ℓ_N(t)``, i.e.
        ``ℓ_N(t) = Σ_a t^a coefficients[N, a]``; nonzero only on signature level ``N``.
        ``coefficients[0, 0, 0] = <f>_0``.
    observable : str
        Display name of ``f``.
    taylor : dict
        ``{k: TaylorSeries}`` of the Taylor backend (coefficients ``c_{k,p}`` with their
        rounding / statistical errors and radius), or empty if built from raw coefficients.
    info : dict
        Provenance (density route, model name, ...).
    channels : tuple of channel multisets, or ``None``
        ``None``: the letters are the input channels ``0..m-1``. Otherwise (contact terms,
        module docstring) letter channel ``i`` is the product ``Π_{c ∈ channels[i]} u_c``
        of the augmented input, and :meth:`terms`, :meth:`series`, :meth:`error_bound`
        augment ``u`` themselves (:meth:`feature_input`); :meth:`apply` takes signatures
        of the augmented input.
    """

    layout: FeatureLayout
    coefficients: np.ndarray
    observable: str = "f"
    taylor: Mapping[tuple, object] = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    channels: tuple[tuple[int, ...], ...] | None = None

    def __post_init__(self) -> None:
        # frozen all the way down, like the package's results (volterra_sym.results)
        object.__setattr__(self, "coefficients",
                           freeze(np.asarray(self.coefficients, dtype=float)))
        object.__setattr__(self, "taylor", freeze(dict(self.taylor)))
        object.__setattr__(self, "info", freeze(dict(self.info)))

    def __repr__(self) -> str:
        return (f"ResponseFunctional(f={self.observable}, order={self.order}, "
                f"degree={self.degree}, m={self.m}, <f>_0={self.mean0:.6g})")

    def _html_rows(self) -> list[tuple[str, ...]]:
        """Per order ``N``: the nonzero signature words of ``ℓ_N`` and the smallest estimated
        radius of its kernels' Taylor series (``unknown`` without one)."""
        radius: dict[int, float] = {}
        for k, r in dict(self.info.get("radius") or {}).items():
            radius[_total_order(k)] = min(radius.get(_total_order(k), math.inf), float(r))
        rows = [("order N", "nonzero words of ℓ_N", "Taylor radius (smallest kernel)")]
        rows.append(("0", "1 (<f>_0 = " + f"{self.mean0:.6g})", "—"))
        for N in range(1, self.order + 1):
            r = radius.get(N)
            rows.append((str(N), str(len(self.nonzero_words(N))),
                         "unknown" if r is None else f"{r:.3g}"))
        return rows

    # ------------------------------------------------------------------ shape
    @property
    def order(self) -> int:
        """Highest Volterra order ``N`` held."""
        return self.coefficients.shape[0] - 1

    @property
    def degree(self) -> int:
        """Taylor degree ``D`` (= monomial degree of the feature path, = top power of t)."""
        return self.layout.degree

    @property
    def m(self) -> int:
        """Number of channels of the feature path (``len(channels)`` when augmented)."""
        return self.layout.m

    @property
    def input_m(self) -> int:
        """Number of channels of the input ``u`` itself."""
        if self.channels is None:
            return self.layout.m
        return 1 + max(c for ch in self.channels for c in ch)

    def feature_input(self, u: Callable[..., object] | np.ndarray
                      ) -> Callable[..., object] | np.ndarray:
        """The input of the feature path: ``u`` itself, or the augmented input
        ``(Π_{c ∈ κ} u_c)_κ`` (:func:`~volterra_sym.features.signature.augment_input`)."""
        return u if self.channels is None else augment_input(u, self.channels)

    @property
    def mean0(self) -> float:
        """``T_0 = <f>_0``."""
        return float(self.coefficients[0, 0, 0])

    def nonzero_words(self, N: int) -> list[tuple[tuple[int, int], ...]]:
        """Words (as ``(k, q)`` pairs) with a nonzero coefficient in ``ℓ_N`` at some power."""
        self._check_order(N)
        idx = np.flatnonzero(np.any(self.coefficients[N] != 0, axis=0))
        return [self.layout.describe(int(i)) for i in idx]

    def _check_order(self, N: int) -> None:
        check_int(N, "N", lo=0, hi=self.order, what="the order N of a kernel")

    # ------------------------------------------------------------------ coefficients
    def matrix(self, eps: float | None = None, layout: FeatureLayout | None = None) -> np.ndarray:
        """Coefficient array in ``layout`` (default :attr:`layout`).

        ``eps=None``: per order, shape ``(order + 1, D + 1, size)``; with ``eps``: the combined
        ``Σ_N ε^N coefficients[N]``, shape ``(D + 1, size)``.
        """
        coef = self.coefficients
        if layout is not None and layout != self.layout:
            dst = np.zeros(coef.shape[:2] + (layout.size,))
            dst[..., _embed_index(self.layout, layout)] = coef
            coef = dst
        if eps is None:
            return coef
        e = _check_eps(eps)
        return np.tensordot(e ** np.arange(self.order + 1), coef, axes=(0, 0))

    def at(
        self, t: float | np.ndarray, eps: float | None = None,
        layout: FeatureLayout | None = None,
    ) -> np.ndarray:
        """``ℓ_N(t)`` as flat vectors: shape ``(order + 1, size)`` (``(len(t), order + 1,
        size)`` for an array ``t``); with ``eps`` the combined ``ℓ^ε(t)``, shape ``(size,)``
        (``(len(t), size)``)."""
        tt = real_array(t, "t", what="a finite scalar or 1-D array")
        if tt.ndim > 1:
            raise InvalidInputError(f"t must be a finite scalar or 1-D array, got {t!r}", param="t")
        if np.any(tt < 0):
            raise InvalidInputError(f"t must be ≥ 0 (the time since the input was switched "
                                    f"on), got {float(tt.min()):g}", param="t")
        self._warn_beyond_radius(tt, "t")
        powers = tt[..., None] ** np.arange(self.degree + 1)
        return np.tensordot(powers, self.matrix(eps, layout), axes=(-1, -2))

    # ------------------------------------------------------------------ evaluation
    def apply(
        self,
        signatures: ResponseFeatures | np.ndarray,
        times: np.ndarray | None = None,
        eps: float | None = None,
        layout: FeatureLayout | None = None,
    ) -> np.ndarray:
        """``<ℓ_N(t), S(X)_{0,t}>`` from precomputed signatures.

        ``signatures``: a :class:`ResponseFeatures` (its ``layout`` and ``times`` are used; any
        depth ``≥ order`` and degree ``≥ D`` with the same ``m``) or an array ``(..., T, size)``
        with ``times`` (length ``T``) and ``layout`` (default :attr:`layout`). Returns
        ``(..., order + 1, T)`` (the terms ``T_N``), or ``(..., T)`` — the sum
        ``Σ_N ε^N T_N`` — with ``eps``.
        """
        if isinstance(signatures, ResponseFeatures):
            if signatures.reduced:
                raise InvalidInputError("signatures were reduced by a callback; pass full "
                                        "signatures", param="signatures")
            vals, times, layout = signatures.values, signatures.times, signatures.layout
        else:
            vals = real_array(signatures, "signatures", finite=False)
            layout = self.layout if layout is None else layout
            if times is None:
                raise InvalidInputError("times are required when signatures is an array",
                                        param="times")
        times = real_array(times, "times", finite=False)
        vals, times = real_array(vals, "signatures"), real_array(times, "times")
        if vals.ndim < 2 or vals.shape[-1] != layout.size or vals.shape[-2] != times.size:
            raise InvalidInputError(
                f"signatures must have shape (..., T={times.size}, size={layout.size}), "
                f"got {vals.shape}",
                param="signatures",
            )
        coef = self.matrix(None, layout)
        flat = vals @ coef.reshape(-1, layout.size).T  # (..., T, (N+1)(D+1))
        return self._contract(flat, times, eps)

    def _contract(self, flat: np.ndarray, times: np.ndarray, eps: float | None) -> np.ndarray:
        """``(..., T, (order+1)(D+1))`` products with ``L_{N,a}`` -> ``(..., order+1, T)``."""
        res = flat.reshape(flat.shape[:-1] + (self.order + 1, self.degree + 1))
        powers = times[:, None] ** np.arange(self.degree + 1)  # (T, D+1)
        terms = np.einsum("...tna,ta->...nt", res, powers)
        if eps is None:
            return terms
        e = _check_eps(eps)
        return np.tensordot(e ** np.arange(self.order + 1), terms, axes=(0, -2))

    def terms(self, u: Callable[..., object] | np.ndarray, times: np.ndarray, *,
              extrapolate: bool = False, **feature_options: object) -> np.ndarray:
        """``[T_0(t), …, T_order(t)]`` at ``times``: shape ``(order + 1, T)`` (``(B, order + 1,
        T)`` for a batch of sampled inputs ``(B, T, m)``).

        The signatures of depth ``order`` and degree ``D`` are computed by
        :func:`~volterra_sym.features.signature.response_features` (``u`` callable or samples
        at ``times``; ``feature_options``: ``times_out``, ``refine``, ``quad_points``,
        ``rtol``, ``chunk_size``) and reduced on the fly, so only ``(order+1)(D+1)`` numbers
        per time are kept. The signature of the piecewise-linear fine path has a chord error
        ``O(h²)`` at levels ≥ 2 (``h`` the fine step); ``extrapolate=True`` removes it by
        Richardson extrapolation ``(4 T_{2r} - T_r)/3`` over ``refine = r`` and ``2r``
        (error ``O(h⁴)``, twice the cost). Raises
        :class:`~volterra_sym.errors.InvalidInputError` for bad inputs (see
        ``response_features``).
        """
        if "reduce" in feature_options:
            raise TypeError("terms() sets reduce itself")
        self._warn_beyond_radius(real_array(times, "times", finite=False), "times")
        return self._terms(self.feature_input(u), times, extrapolate, **feature_options)

    def _warn_beyond_radius(self, t: np.ndarray, name: str) -> None:
        """:class:`~volterra_sym.backends.taylor.TaylorAccuracyWarning` where ``t`` reaches
        the estimated radius of the kernels' short-lag Taylor series (``info["radius"]``,
        as :class:`~volterra_sym.features.sklearn.SRNNFeatures` warns): beyond it the
        truncated series — and every ``T_N`` from it — is meaningless, and
        :meth:`kernel_error` is infinite."""
        radius = self.info.get("radius")
        if not radius or t.size == 0:
            return
        top, per_order = float(np.max(t)), {}
        for k, r in dict(radius).items():
            N = _total_order(k)
            per_order[N] = min(per_order.get(N, math.inf), float(r))
        beyond = {N: r for N, r in sorted(per_order.items()) if top >= r}
        if beyond and self.degree < MIN_LAST_SHELL and not any(beyond.values()):
            warnings.warn(f"at degree {self.degree} the kernels' short-lag Taylor series have "
                          "no radius or error estimate (their first shells' ratios are not "
                          f"yet the tail's; kernel_error is inf): use degree ≥ "
                          f"{MIN_LAST_SHELL}", TaylorAccuracyWarning, stacklevel=3)
        elif beyond:
            where = ", ".join(f"T_{N} beyond {r:.3g}" for N, r in beyond.items())
            warnings.warn(f"{name} reaches {top:g}, beyond the estimated radius of the "
                          f"short-lag Taylor series of the kernels at degree {self.degree} "
                          f"({where}): those terms are meaningless there (kernel_error is "
                          "inf); stay below the radius", TaylorAccuracyWarning, stacklevel=3)

    def _terms(self, u: Callable[..., object] | np.ndarray, times: np.ndarray,
               extrapolate: bool, **feature_options: object) -> np.ndarray:
        """:meth:`terms` for the input of the feature path (already augmented)."""
        if extrapolate:
            r = feature_options.pop("refine", None)
            r = DEFAULT_REFINE if r is None else r
            coarse = self._terms(u, times, False, refine=r, **feature_options)
            fine = self._terms(u, times, False, refine=2 * r, **feature_options)
            return (4.0 * fine - coarse) / 3.0
        lf = self.coefficients.reshape(-1, self.layout.size).T.copy()

        def reduce(v: np.ndarray) -> np.ndarray:
            if v.shape[-1] != lf.shape[0]:
                raise InvalidInputError(
                    f"the input has a different number of channels than the functional "
                    f"(m={self.m}): signature size {v.shape[-1]} != {lf.shape[0]}", param="u")
            return v @ lf

        feats = response_features(
            u, times, self.layout.depth, self.degree, reduce=reduce, **feature_options,
        )
        return self._contract(feats.values, feats.times, None)

    def series(self, u: Callable[..., object] | np.ndarray, times: np.ndarray, eps: float,
               *, extrapolate: bool = False, **feature_options: object) -> np.ndarray:
        """Partial sums ``S_N(t) = Σ_{j ≤ N} ε^j T_j(t)``, ``N = 0..order`` (same layout as
        :meth:`volterra_sym.hierarchy.dag.ResponseHierarchy.series`): ``(order + 1, T)``."""
        e = _check_eps(eps)
        terms = self.terms(u, times, extrapolate=extrapolate, **feature_options)
        return np.cumsum((e ** np.arange(self.order + 1))[:, None] * terms, axis=-2)

    # ------------------------------------------------------------------ errors
    def kernel_error(self, t: float | np.ndarray) -> np.ndarray:
        """``E_N(t)``: error estimate of the truncated Taylor kernels of order ``N`` for all
        lags with every gap ``≤ t`` (max over channel tuples): the backend's truncation
        estimate at largest gap ``t`` plus ``Σ_p (δc_p + 2 se_p) t^{|p|}/p!`` (rounding and
        statistical errors of the coefficients). Shape ``(order + 1, len(t))``; row 0 is the
        error of ``<f>_0`` — ``NaN`` (unknown) where ``p0`` itself is approximate (the 2-D
        grid, a tabulated ``log p0``: ``info["mean0_error"]``); ``inf`` beyond the estimated
        radius. Needs :attr:`taylor`."""
        if not self.taylor:
            raise NotApplicableError("kernel_error needs the Taylor series of the kernels; this "
                                     "functional was built from raw coefficients")
        tt = np.atleast_1d(np.asarray(t, dtype=float))
        out = np.zeros((self.order + 1, tt.size))
        out[0] = float(self.info.get("mean0_error", 0.0))
        for k, ser in self.taylor.items():
            N = _total_order(k)
            if N > self.order:
                continue
            lags = np.repeat(tt[:, None], len(k), axis=1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # every lag with gaps ≤ t: the shells' estimate, not one ray's
                _, trunc, _, _ = ser.evaluate(lags, on_radius="warn", directional=False)
            fact = np.prod([[math.factorial(int(x)) for x in row] for row in ser.powers], axis=1)
            dc = (np.asarray(ser.rounding) + 2 * np.asarray(ser.coefficient_stderr)) / fact
            tot = ser.powers.sum(axis=1)
            rnd = (tt[:, None] ** tot[None, :]) @ dc
            out[N] = np.maximum(out[N], trunc + rnd)
        return out

    def error_bound(self, u: Callable[..., object] | np.ndarray, times: np.ndarray,
                    **feature_options: object) -> np.ndarray:
        """Bound on ``|T_N(t) - <ℓ_N(t), S>|`` from the kernel truncation:
        ``E_N(t) U(t)^N / N!`` with ``U(t) = ∫_0^t Σ_k |u_k|`` (because
        ``Σ_k ∫_{simplex} Π_j |u_{k_j}(s_j)| ds = U(t)^N / N!``). With contact terms
        (:attr:`channels`) ``E_N(t) B_N(t)``, ``B_N = Σ_{(j_1..j_r) ⊨ N} ∫_{0<s_r<…<s_1<t}
        Π_i ‖u(s_i)‖_1^{j_i} ds`` — the sum of the signature terms of the path
        ``Y_j(s) = ∫_0^s ‖u‖_1^j`` (``j = 1..order``) over the words of weight ``N``
        (``= U^N/N!`` when only ``j = 1`` occurs). Shape as :meth:`terms`; row 0 (``<f>_0``)
        is ``NaN`` where its error is unknown (:meth:`kernel_error`). Does not include the
        signature's own quadrature error."""
        t = real_array(times, "times", finite=False)
        if callable(u):
            def uabs(s: object) -> np.ndarray:
                return np.abs(real_array(u(s), "u", finite=False))
            absu: Callable[..., object] | np.ndarray = uabs
        else:
            absu = np.abs(real_array(u, "u", finite=False))
        fac = np.array([math.factorial(N) for N in range(self.order + 1)], dtype=float)
        if self.channels is None:
            feats = response_features(absu, t, 1, 0, **feature_options)
            U = feats.values[..., 1:].sum(axis=-1)  # (..., T)
            E = self.kernel_error(feats.times)  # (N+1, T)
            return E * U[..., None, :] ** np.arange(self.order + 1)[:, None] / fac[:, None]
        # ‖u‖_1^j, j = 1..order: the augmented input of the single channel ‖u‖_1
        norm = _l1_input(absu, self.input_m)
        powers = augment_input(norm, [(0,) * j for j in range(1, self.order + 1)])
        feats = response_features(powers, t, self.order, 0, **feature_options)
        lay = feats.layout
        weight = np.array([sum(a + 1 for a in w) for w in lay.words])
        B = np.stack([feats.values[..., weight == N].sum(axis=-1)
                      for N in range(self.order + 1)], axis=-2)   # (..., N+1, T)
        E = self.kernel_error(feats.times)
        return E * B


def _l1_input(absu: Callable[..., object] | np.ndarray, m: int
              ) -> Callable[..., object] | np.ndarray:
    """``‖u‖_1`` as a one-channel input (callable or samples ``(..., T, 1)``)."""
    if callable(absu):
        def norm(s: object) -> np.ndarray:
            v = np.asarray(absu(s), dtype=float)
            sa = np.asarray(s)
            if sa.ndim == 0:
                return np.atleast_1d(v.sum())
            n = sa.size
            if v.shape == (n, m) or (m == 1 and v.shape == (n,)):
                return v.reshape(n, m).sum(axis=1)
            if v.shape == (m, n):
                return v.sum(axis=0)
            raise InvalidInputError(f"vectorised u(t) returned shape {v.shape} for {n} points",
                                    param="u")
        return norm
    arr = absu if absu.ndim > 1 else absu[:, None]
    return arr.sum(axis=-1, keepdims=True)


def _total_order(k: Sequence) -> int:
    """``N = Σ_i |κ_i|`` for kicks, ``len(k)`` for a channel tuple."""
    return sum(len(c) if isinstance(c, (tuple, list)) else 1 for c in k)


def kick_multiplicity(kicks: Sequence[Sequence[int]]) -> int:
    """The number of ordered channel tuples of each kick with the same multisets:
    ``Π_i |κ_i|! / Π_c μ_c!`` (module docstring). Each kick is a non-empty sequence of
    channel indices (integers ≥ 0), else :class:`~volterra_sym.errors.InvalidInputError`
    naming ``kicks``."""
    out = 1
    for kick in _check_channels(kicks, "kicks"):
        out *= math.factorial(len(kick))
        for c in set(kick):
            out //= math.factorial(list(kick).count(c))
    return out


def functional_channels(model: object, order: int) -> tuple[tuple[int, ...], ...] | None:
    """The channels of the feature path of a model's functional: ``None`` (the input
    channels) unless the input is inside a nonlinear activation (docs/theory.md §10), then
    every channel multiset of size ``1..order`` (:func:`kick_channels`). ``order`` must be
    an integer ≥ 1 (:class:`~volterra_sym.errors.InvalidInputError`)."""
    order = check_int(order, "order", lo=1)
    if FEATURE_ACTIVATION_INPUT in getattr(model, "features", frozenset()):
        return kick_channels(model.m, order)
    return None


def _check_eps(eps: object) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating, np.integer)) \
            or not np.isfinite(eps):
        raise InvalidInputError(f"eps must be a finite real number, got {eps!r}", param="eps")
    return float(eps)


# --------------------------------------------------------------------------- constructors
def functional_from_coefficients(
    coefficients: Mapping[tuple, Mapping[tuple[int, ...], float]],
    m: int,
    degree: int,
    order: int | None = None,
    mean0: float = 0.0,
    *,
    observable: str = "f",
    taylor: Mapping[tuple, object] | None = None,
    info: dict | None = None,
    channels: Sequence[Sequence[int]] | None = None,
) -> ResponseFunctional:
    """Build ``ℓ_N(t)`` from short-lag coefficients ``{k: {p: c_{k,p}}}``.

    ``k = (k_1, …, k_N)`` 0-based channel tuples (``k_1`` the most recent kick), ``p`` power
    tuples of the same length with ``|p| ≤ degree`` (missing ones are zero); channels and
    powers are integers (a float is refused, not truncated). ``order`` defaults to the
    longest ``k``. See the module docstring for the bookkeeping.

    With ``channels`` (channel multisets, the letters of the augmented input, e.g.
    :func:`~volterra_sym.features.signature.kick_channels`) the keys are kicks
    ``κ = ((k..), …)`` (most recent first; order ``Σ_i |κ_i|``, one power per kick) and kick
    ``κ_i`` is the letter of the multiset ``sorted(κ_i)``; coefficients of kicks with the
    same multisets add up (so pass either every ordered kick or the canonical ones times
    :func:`kick_multiplicity`).
    """
    m = check_int(m, "m", lo=1)
    if not isinstance(coefficients, Mapping) or any(
            not isinstance(k, (tuple, list)) or not isinstance(cp, Mapping)
            for k, cp in coefficients.items()):
        raise InvalidInputError("coefficients must map channel tuples k to {power tuple p: "
                                "c_kp} mappings", param="coefficients")
    if channels is None:
        lens = [len(k) for k in coefficients]
    else:
        lens = [_total_order(k) for k in coefficients]
    order = max(lens, default=1) if order is None else check_int(order, "order", lo=1)
    mean0 = real_number(mean0, "mean0")
    chans = None
    if channels is not None:
        chans = tuple(tuple(sorted(_int_tuple(ch, "channels"))) for ch in channels)
        if len(set(chans)) != len(chans) or any(not ch or not all(0 <= c < m for c in ch)
                                                for ch in chans):
            raise InvalidInputError(f"channels must be distinct non-empty multisets of channels "
                                    f"0..{m - 1}, got {channels!r}", param="channels")
    letters_m = m if chans is None else len(chans)
    layout = feature_layout(letters_m, degree, order)
    D = layout.degree
    size = _size_estimate(layout.d, layout.depth)  # O(1): layout.size would first build it
    check_memory(8.0 * (order + 1) * (D + 1) * size,
                 f"the functional's coefficients ({order + 1} orders x {D + 1} powers x "
                 f"{size:.3g} signature terms)", "lower the order or the degree")
    coef = np.zeros((order + 1, D + 1, layout.size))
    coef[0, 0, 0] = float(mean0)
    index = None if chans is None else {ch: i for i, ch in enumerate(chans)}
    for k, cp in coefficients.items():
        if chans is None:
            k = _int_tuple(k, "coefficients")
            N, r = len(k), len(k)
            if not 1 <= N <= order or any(not 0 <= c < m for c in k):
                raise InvalidInputError(f"channel tuple {k} invalid for m={m}, order={order}",
                                        param="coefficients")
            letter = np.asarray(k, dtype=np.int64)
        else:
            kicks = tuple(tuple(sorted(_int_tuple(
                kick if isinstance(kick, (tuple, list)) else (kick,), "coefficients")))
                for kick in k)
            N, r = _total_order(kicks), len(kicks)
            if not 1 <= N <= order or any(kick not in index for kick in kicks):
                raise InvalidInputError(f"kicks {k} invalid for the channels {chans} and "
                                        f"order={order}", param="coefficients")
            letter = np.array([index[kick] for kick in kicks], dtype=np.int64)
        if not cp:
            continue
        powers = np.array([_int_tuple(p, "coefficients") for p in cp], dtype=np.int64)
        vals = np.array([real_number(v, "coefficients") for v in cp.values()])
        if powers.shape[1] != r or powers.min() < 0 or powers.sum(axis=1).max() > D:
            raise InvalidInputError(f"powers of {k} must be length-{r} tuples with |p| <= {D}",
                                    param="coefficients")
        row, a1, q, w = _expand(powers)
        letters = letter[None, :] * (D + 1) + q  # kick order 1..r
        idx = _level_index(layout, letters[:, ::-1])  # word: earliest kick (r) first
        np.add.at(coef[N], (a1, idx), vals[row] * w)
    return ResponseFunctional(layout, coef, observable, dict(taylor or {}), dict(info or {}),
                              chans)


def response_functional(hier: ResponseHierarchy, degree: int,
                        **taylor_opts: object) -> ResponseFunctional:
    """The response functional of a :class:`~volterra_sym.hierarchy.dag.ResponseHierarchy`.

    Computes ``c_{k,p}`` for every channel tuple of order ``1..hier.order`` and ``|p| ≤
    degree`` with the Taylor backend (:func:`volterra_sym.backends.taylor.taylor_hierarchy`,
    on the nodes of ``hier.graph``, which stays unchanged; ``taylor_opts``: ``density`` and
    the sampling keys) and ``<f>_0`` from the same stationary averages, and
    returns the :class:`ResponseFunctional` with ``T_N(t) ≈ <ℓ_N(t), S(X)_{0,t}>``,
    ``N = 0..hier.order``; signatures of depth ``hier.order`` and monomial degree ``degree``.

    Models with ``σ(h)`` (docs/theory.md §11) have the plain layout (the chains carry
    ``D(h)``). With the input inside a nonlinear activation (§10) the kernels are those of
    the canonical kicks (each kick's channels sorted) of every composition of ``N``, weighted
    by :func:`kick_multiplicity`, on the augmented input (:attr:`ResponseFunctional.channels`;
    module docstring: contact terms).
    """
    from ..hierarchy.dag import ResponseHierarchy

    if not isinstance(hier, ResponseHierarchy):
        raise InvalidInputError(f"hier must be a ResponseHierarchy(model, observable, order), "
                                f"got {type(hier).__name__}", param="hier")
    model = hier.model
    channels = functional_channels(model, hier.order)
    if channels is None:
        keys = [k for N in range(1, hier.order + 1)
                for k in product(range(model.m), repeat=N)]
        # a linear activation with input="activation" is the additive model; its hierarchy
        # names the nodes by kicks ((k_1,), (k_2,), ...)
        inside = model.input == "activation"
        node_key = {k: tuple((c,) for c in k) if inside else k for k in keys}
    else:
        keys = [k for N in range(1, hier.order + 1) for k in kick_sequences(model.m, N)
                if all(tuple(sorted(c)) == tuple(c) for c in k)]
        node_key = {k: k for k in keys}
    exp = taylor_hierarchy(hier, degree, kernels=list(node_key.values()), **taylor_opts)
    series = {k: exp.series(node_key[k], degree, hier.graph) for k in keys}
    if channels is None:
        coeffs = {k: s.coefficients for k, s in series.items()}
    else:
        coeffs = {k: {p: kick_multiplicity(k) * c for p, c in s.coefficients.items()}
                  for k, s in series.items()}
    # the route's own estimate of <f>_0: rounding, plus the batch standard error of sampled
    # moments; unknown (NaN) where p0 itself is approximate (the 2-D grid, a tabulated
    # log p0), whose error in <f>_0 no residual bounds — 0 claimed exactness for those
    mean0, mean0_error = exp.mean0_with_error()
    if getattr(exp.averager, "approximate", False):
        mean0_error = float("nan")
    first = next(iter(series.values()))
    info = {"route": first.route, "model": getattr(model, "name", None) or repr(model),
            "radius": {k: float(s.radius) for k, s in series.items()},
            "mean0_error": float(mean0_error)}
    return functional_from_coefficients(
        coeffs, model.m, degree, hier.order, mean0,
        observable=str(hier.f), taylor=series, info=info, channels=channels,
    )


# the hierarchy hands ResponseHierarchy.response_functional (and through it the taylor
# route's series terms) to this implementation: no layer below imports this module
register_implementation("response_functional", response_functional)


# --------------------------------------------------------------------------- LaTeX
def _fmt(x: float, digits: int = 6) -> str:
    return sp.latex(sp.Float(x, digits))


def _observable_latex(observable: object) -> str:
    """``$f=…$`` for the observable: a SymPy object or a string read by the whitelist parser
    (never ``sympify``, which evaluates strings); text the parser refuses is shown verbatim
    (LaTeX-escaped)."""
    try:
        return f"$f={sp.latex(as_expression(observable, what='observable'))}$"
    except InvalidInputError:
        text = "".join(_TEX_SPECIAL.get(c, c) for c in str(observable))
        return f"$f$ = \\texttt{{{text}}}"


_TEX_SPECIAL = {c: "\\" + c for c in "#$%&_{}"} | {
    "\\": "\\textbackslash{}", "^": "\\textasciicircum{}", "~": "\\textasciitilde{}"}


def _word_latex(word: Sequence[tuple[int, int]],
                channels: Sequence[tuple[int, ...]] | None = None) -> str:
    def lab(k: int) -> str:
        return str(k + 1) if channels is None else "".join(str(c + 1) for c in channels[k])
    return "(" + ",".join(f"({lab(k)},{q})" for k, q in word) + ")"


def _key_latex(k: Sequence) -> str:
    return ",".join("".join(str(x + 1) for x in c) if isinstance(c, (tuple, list))
                    else str(c + 1) for c in k)


def _poly_latex(vals: np.ndarray, digits: int = 6) -> str:
    t = sp.Symbol("t")
    expr = sum((sp.Float(float(v), digits) * t**a for a, v in enumerate(vals) if v != 0),
               sp.Integer(0))
    return sp.latex(expr, order="rev-lex") if expr != 0 else "0"


def response_functional_latex(
    functional: ResponseFunctional, *, max_words: int = 12, digits: int = 6
) -> str:
    r"""A LaTeX section body (no ``\section`` line) describing the response functional:
    the feature path, the word bookkeeping, the per-order coefficient polynomials
    (at most ``max_words`` words per order, largest first) and the accuracy data.
    Deterministic output (no dates)."""
    if not isinstance(functional, ResponseFunctional):
        raise InvalidInputError(f"functional must be a ResponseFunctional, got "
                                f"{type(functional).__name__}", param="functional")
    F = functional
    max_words = check_int(max_words, "max_words", lo=1)
    digits = check_int(digits, "digits", lo=1)
    D, lay = F.degree, F.layout
    out: list[str] = []
    out.append(
        "Expanding the short-lag series $K_{\\mathbf k}(\\sigma)=\\sum_{|p|\\le "
        f"{D}" "} c_{\\mathbf k,p}\\prod_j \\tau_j^{p_j}/p_j!$ binomially in the gaps "
        "$\\tau_1=t-s_1$, $\\tau_j=s_{j-1}-s_j$ turns every Volterra term into a linear "
        "functional of the signature of the feature path\n"
    )
    ks = "k=1" if F.m == 1 else f"k=1,\\dots,{F.m}"
    out.append("\\begin{equation*}\nX^{(k,q)}(s)=\\int_0^s r^q u_k(r)\\,dr,\\qquad "
               f"{ks},\\ q=0,\\dots,{D},\n" "\\end{equation*}\n")
    out.append(
        "with coefficients polynomial in $t$:\n\\begin{equation*}\n"
        "T_N(t)\\approx\\langle \\ell_N(t), S(X)_{0,t}\\rangle,\\qquad "
        "\\ell_N(t)=\\sum_{a=0}^{" f"{D}" "} t^a L_{N,a},\\qquad "
        "E f(h_t)\\approx \\sum_{N=0}^{" f"{F.order}" "}\\varepsilon^N "
        "\\langle \\ell_N(t), S(X)_{0,t}\\rangle .\n\\end{equation*}\n"
        "For $p=a+b$ (componentwise), $q_j=b_j+a_{j+1}$ ($q_N=b_N$), the term "
        "$c_{\\mathbf k,p}\\prod_j (-1)^{b_j}/(a_j!\\,b_j!)$ is added to the coefficient of "
        "$t^{a_1}$ on the word $\\big((k_N,q_N),\\dots,(k_1,q_1)\\big)$ (earliest kick "
        "first; $S^w=\\int_{r_1<\\dots<r_n<t} dX^{w_1}\\cdots dX^{w_n}$), channels "
        "numbered from 1.\n"
    )
    out.append(
        f"Observable {_observable_latex(F.observable)}, Taylor degree {D}, signature "
        f"depth {lay.depth} with {lay.d} letters ({lay.size} terms); "
        f"$\\langle f\\rangle_0 = {_fmt(F.mean0, digits)}$.\n"
    )
    for N in range(1, F.order + 1):
        c = F.coefficients[N]
        idx = np.flatnonzero(np.any(c != 0, axis=0))
        mag = np.abs(c[:, idx]).max(axis=0) if idx.size else np.zeros(0)
        sel = idx[np.argsort(-mag, kind="stable")][:max_words]
        out.append(f"\\paragraph{{Order {N}.}} {idx.size} words carry a nonzero coefficient"
                   + (f"; the {sel.size} largest:" if idx.size > sel.size else ":") + "\n")
        if sel.size:
            lines = [f"\\ell_{N}(t)_{{{_word_latex(lay.describe(int(i)), F.channels)}}} &= "
                     f"{_poly_latex(c[:, i], digits)}" for i in sorted(sel.tolist())]
            out.append("\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}\n")
    if F.taylor:
        rows = []
        for k, s in F.taylor.items():
            r = float(s.radius)
            rr = "\\infty" if math.isinf(r) else _fmt(r, 3)
            rows.append(f"({_key_latex(k)}) & {len(s.coeffs)} & ${rr}$ \\\\")
        out.append(
            "Short-lag coefficients ("
            f"{F.info.get('route', '?')} stationary averages) and the estimated radius of the "
            "Taylor series in the largest gap; the functional is meaningful only for "
            "$t$ below it.\n\\begin{center}\n\\begin{tabular}{lrr}\n\\hline\n"
            "$\\mathbf k$ & coefficients & radius \\\\\n\\hline\n"
            + "\n".join(rows) + "\n\\hline\n\\end{tabular}\n\\end{center}\n"
        )
    return "".join(out)
