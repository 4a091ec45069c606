r"""Expanding-window truncated path signatures and the SRNN *response feature*.

Conventions (used everywhere in this module)
--------------------------------------------
**Signature.** For a path ``X : [0, t] -> R^d`` the level-``n`` signature term of a word
``w = (w_1, ..., w_n)`` (letters ``w_j in {0, ..., d-1}``) is the iterated integral

    S^w(X)_{0,t} = ∫_{0 < r_1 < r_2 < ... < r_n < t} dX^{w_1}(r_1) dX^{w_2}(r_2) ⋯ dX^{w_n}(r_n)

i.e. the **first letter is the earliest time**. Level 0 is the constant 1.

**Flat layout.** A truncated signature of depth ``D`` is stored as one flat vector that
concatenates levels ``0, 1, ..., D``; level ``n`` is the ``d^n`` tensor flattened in
row-major order, i.e. words in lexicographic order, word ``w`` at offset
``sum_{j<n} d^j + Σ_j w_j d^{n-j}``. :func:`signature_words` lists the words in exactly
this order, :func:`signature_size` gives ``Σ_{n=0}^{D} d^n``. This is the same layout as
``roughpy``'s ``FreeTensor`` (``numpy.array(sig)``), level by level.

**Chen's identity (expanding window).** For a piecewise-linear path with nodes
``X_0, X_1, ..., X_N`` and increments ``ΔX_i = X_{i+1} - X_i``,

    S_{0,i+1} = S_{0,i} ⊗ exp(ΔX_i) ,  exp(Δ) = Σ_{k=0}^{D} Δ^{⊗k} / k!   (truncated),

so the level-``n`` part satisfies the exact recursion::

    S^{(n)}_{0,i+1} = S^{(n)}_{0,i} + A^{(n)}_i ,
    A^{(n)}_i = Σ_{j=0}^{n-1} S^{(j)}_{0,i} ⊗ ΔX_i^{⊗(n-j)} / (n-j)!
              = (( ⋯ ((ΔX_i/n + S^{(1)}_{0,i}) ⊗ ΔX_i/(n-1) + S^{(2)}_{0,i}) ⊗ ⋯ )
                  + S^{(n-1)}_{0,i}) ⊗ ΔX_i

(Horner form). Level ``n`` at *all* nodes is therefore a cumulative sum over time of
``A^{(n)}``, which only needs the lower levels at all nodes. The implementation computes
levels ``1, 2, ..., D`` in turn, each as broadcast outer products plus a ``cumsum`` over
the time axis, for blocks of time steps (carrying the running signature across blocks)
and for a leading batch of paths at once: cost ``O(B · N · signature_size)``, memory
``O(B · block · signature_size)``, no Python loop over paths.

**Response feature (docs/theory.md §5).** For an input ``u : [0, ∞) -> R^m`` and a monomial
degree ``p`` (``degree``) the feature path has ``d = m (p + 1)`` channels

    X^{(k,q)}(s) = ∫_0^s r^q u_k(r) dr ,   k = 0..m-1 , q = 0..p ,
    letter index of channel (k, q) = k (p + 1) + q .

The term ``∫_{0<s_N<…<s_1<t} Π_j s_j^{q_j} u_{k_j}(s_j) ds`` of ``T_N(t)`` is the signature
term ``S^w(X)_{0,t}`` of the word ``w = ((k_N,q_N), …, (k_1,q_1))`` (earliest kick
first), with each pair mapped to its letter index.

**Augmented input (contact terms, docs/theory.md §10).** With the input inside the
activation a kick carries a multiset ``κ`` of channels; its factor in ``T_N`` is
``u_κ(s) = Π_{c ∈ κ} u_c(s)``. :func:`kick_channels` lists the multisets of ``1..order``
channels and :func:`augment_input` maps ``u`` to ``(u_κ)_κ``: the response feature of the
augmented input (``m' = len(channels)`` channels) is then the same construction, letter
``(κ, q)`` with index ``i_κ (p + 1) + q``.
"""

from __future__ import annotations

import html
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from itertools import combinations_with_replacement, product

import numpy as np

from ..arrays import check_int, positive_number, real_array
from ..budget import DEFAULT_TIME_BUDGET, check_count, check_memory, time_budget
from ..errors import InvalidInputError
from ..results import freeze

__all__ = [
    "DEFAULT_REFINE",
    "FeatureLayout",
    "augment_input",
    "kick_channels",
    "ResponseFeatures",
    "expanding_signature",
    "feature_layout",
    "feature_path_increments",
    "iter_response_features",
    "response_features",
    "check_signature_time",
    "signature_levels",
    "signature_seconds",
    "signature_size",
    "signature_words",
    "tensor_exp",
]

#: target number of float64 entries of the top level held per time block (~4 MB).
_BLOCK_ENTRIES = 1 << 19
#: default number of fine sub-steps per interval of ``times``.
DEFAULT_REFINE = 4
#: Gauss–Legendre node counts tried by the adaptive quadrature (each compared to the next).
_GL_NODES = (8, 16, 32, 64, 128)


# --------------------------------------------------------------------------- validation
def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_overflow(vals: np.ndarray, name: str) -> None:
    """Signatures with NaN/inf (finite input whose iterated integrals left the float range)
    are an :class:`InvalidInputError` naming ``name``, never returned."""
    if not np.all(np.isfinite(vals)):
        raise InvalidInputError(
            f"the signature overflows the float range (level n grows like |X|^n/n!): scale "
            f"{name} down (for the response feature also the times: X^(k,q) grows like "
            f"t^(q+1)), or lower depth or degree", param=name)


def _check_times(times: object) -> np.ndarray:
    t = real_array(times, "times", what="a 1-D array of real numbers")
    if t.ndim != 1 or t.size == 0:
        raise InvalidInputError(f"times must be a non-empty 1-D array, got shape {t.shape}",
                                param="times")
    if t[0] < 0:
        raise InvalidInputError(f"times must be non-negative (inputs start at 0), got "
                                f"times[0]={t[0]}", param="times")
    if t.size > 1 and np.any(np.diff(t) <= 0):
        i = int(np.argmax(np.diff(t) <= 0))
        raise InvalidInputError(
            f"times must be strictly increasing, but times[{i + 1}]={t[i + 1]} <= "
            f"times[{i}]={t[i]}", param="times",
        )
    return t


# --------------------------------------------------------------------------- cost
#: what to lower when a signature computation is refused for its memory
_LOWER = ("lower depth, degree (letters) or refine, or pass times_out / reduce / a smaller "
          "chunk_size")


def _fpow(d: float, n: int) -> float:
    """``d**n`` as a float, ``inf`` past the float range (no OverflowError)."""
    return math.inf if n * math.log(max(d, 1.0)) > 700 else float(d) ** n


def _size_estimate(d: int, depth: int) -> float:
    """``Σ_{n=0}^{depth} d^n`` as a float in O(1) (``inf`` past the float range): the cost
    estimates must not loop over a huge ``depth`` before refusing it."""
    if d <= 1:
        return float(depth) + 1.0
    top = _fpow(d, depth + 1)
    return math.inf if math.isinf(top) else (top - 1.0) / (d - 1.0)


#: signatures longer than this cannot be indexed (numpy's intp), whatever the memory
_MAX_SIZE = 2.0**62
#: numpy operations of the Chen recursion per chunk of paths (a few microseconds each: ~30 s)
_MAX_OPERATIONS = 1e7


def _n_fine(times: np.ndarray, refine: int) -> int:
    """Number of fine steps of :func:`_fine_grid` (computed, not allocated)."""
    n0 = 0
    if times[0] > 0:
        h = np.median(np.diff(times)) if times.size > 1 else times[0]
        n0 = refine * max(1, math.ceil(times[0] / h - 1e-9))
    return n0 + refine * (times.size - 1)


def _check_signature_memory(bsz: int, chunk: int, n_fine: int, d: int, depth: int, rows: int,
                            *, reduced: bool, quad_channels: int = 0,
                            quad_nodes: int | None = None, option: str = _LOWER) -> None:
    """Refuse (:class:`~volterra_sym.errors.ResourceLimitError`, before any allocation) a
    signature computation whose memory exceeds the budget: the stored rows (unless
    ``reduced``; three times: the chunks, their concatenation and its read-only copy), the
    Chen recursion's working blocks (at least one step of the top level per path of a
    chunk), the fine increments of a chunk and, for a callable input with ``quad_channels``
    values per node, its quadrature with ``quad_nodes`` nodes per fine step; then the time
    of the recursion's ``depth²/2`` operations per time block."""
    size = _size_estimate(d, depth)
    top = _fpow(d, depth)
    chunk = min(chunk, bsz)
    nodes = float(_GL_NODES[-1] if quad_nodes is None else quad_nodes)
    est = 8.0 * (6 * max(_BLOCK_ENTRIES, chunk * top) + 2 * chunk * size
                 + 6.0 * chunk * (n_fine + 1) * d
                 + 3.0 * (n_fine + 1) * nodes * quad_channels)
    if not reduced:
        est += 24.0 * bsz * rows * size
    check_memory(est, f"the signatures (depth {depth}, {d} letters, {n_fine} fine steps, "
                      f"{bsz} path(s), {rows} output row(s) of {size:.3g} terms)", option)
    # the recursion runs ~depth²/2 numpy operations per time block (of each chunk): with one
    # letter a huge depth costs no memory but hours of time
    blocks = math.ceil(max(n_fine, 1) / max(1.0, _BLOCK_ENTRIES // max(1.0, min(chunk * top,
                                                                                 2.0**62))))
    check_count(0.5 * depth * depth * blocks, _MAX_OPERATIONS,
                f"the Chen recursion at depth {depth} over {n_fine} fine steps", "operations",
                option)


#: seconds (measured, 2 shared cores, numpy/OpenBLAS): per path x fine step x signature term
#: of the Chen recursion, per path x stored row x term, per chunk x fine step x level (the
#: Python loop over the time steps of a block)
_SEC_ENTRY, _SEC_ROW, _SEC_STEP = 1.5e-9, 3e-8, 3e-6
#: what to lower when a batch of signatures is refused for its time
_LOWER_TIME = ("pass fewer inputs per call, fewer time steps, a smaller refine or a lower "
               "depth / degree, or raise time_budget")


def signature_seconds(bsz: int, chunk: int, n_fine: int, d: int, depth: int, rows: int,
                      *, reduced: bool = False) -> float:
    """Estimated seconds of the signatures of ``bsz`` paths over ``n_fine`` fine steps:

        s ≈ 1.5e-9·B·N·size + 3e-8·B·rows·size (unless reduced) + 3e-6·⌈B/chunk⌉·N·depth ,

    ``size = Σ_{n≤depth} d^n``. Measured (this machine, 2 shared cores) on sampled batches
    (B = 32..2000, N = 76..4000, d = 1..9, depth 1..6): the time taken was 0.55-2.0 times
    the estimate; on vectorised callables (one chunk per input) 0.6-1.05 times; a callable
    evaluated point by point takes ~10 times longer (the estimate is a lower bound then)."""
    size = _size_estimate(d, depth)
    chunks = math.ceil(bsz / max(chunk, 1))
    est = _SEC_ENTRY * bsz * n_fine * size + _SEC_STEP * chunks * n_fine * depth
    if not reduced:
        est += _SEC_ROW * bsz * rows * size
    return est


def check_signature_time(seconds: float, budget: object, what: str,
                         option: str = _LOWER_TIME) -> None:
    """Refuse (:class:`~volterra_sym.errors.ResourceLimitError`, unit ``"seconds"``) an
    estimate over ``budget`` (the ``time_budget`` argument: seconds in ``(0, 86400]``,
    default :data:`~volterra_sym.budget.DEFAULT_TIME_BUDGET` = 120, as the Galerkin route and
    the kernel closed forms)."""
    limit = DEFAULT_TIME_BUDGET if budget is None else time_budget(budget)
    check_count(seconds, limit, f"{what} (time_budget {limit:g} s)", "seconds", option)


# --------------------------------------------------------------------------- layout
def signature_size(d: int, depth: int) -> int:
    """Length ``Σ_{n=0}^{depth} d^n`` of the flat truncated signature (level 0 included)."""
    d = check_int(d, "d", lo=1)
    depth = check_int(depth, "depth", lo=1)
    check_count(_size_estimate(d, depth), _MAX_SIZE, f"a signature of depth {depth} in {d} "
                "letters", "terms", "lower d or depth")
    return _level_offset(d, depth + 1)


def signature_words(d: int, depth: int) -> list[tuple[int, ...]]:
    """Words matching the flat layout: ``()``, then each level in lexicographic order.

    ``signature_words(2, 2) == [(), (0,), (1,), (0, 0), (0, 1), (1, 0), (1, 1)]``.
    """
    d = check_int(d, "d", lo=1)
    depth = check_int(depth, "depth", lo=1)
    n_words = _size_estimate(d, depth)
    check_memory(n_words * (64 + 8 * depth), f"the list of {n_words:.3g} words", "lower d or depth")
    words: list[tuple[int, ...]] = []
    for n in range(depth + 1):
        words.extend(product(range(d), repeat=n))
    return words


def _level_offset(d: int, n: int) -> int:
    """Flat offset ``Σ_{j<n} d^j`` of level ``n`` (no loop over the levels)."""
    return n if d == 1 else (d**n - 1) // (d - 1)


def _level_offsets(d: int, depth: int) -> list[int]:
    offs = [0]
    for n in range(depth + 1):
        offs.append(offs[-1] + d**n)
    return offs


@dataclass(frozen=True)
class FeatureLayout:
    """Channel and word layout of the response feature of an ``m``-input signal.

    Letters are the channels ``(k, q)`` of ``X^{(k,q)}(s) = ∫_0^s r^q u_k(r) dr`` with letter
    index ``k * (degree + 1) + q``; ``words`` are tuples of letter indices in the flat
    signature order (see :func:`signature_words`).
    """

    m: int
    degree: int
    depth: int

    def __post_init__(self) -> None:
        # validated here too, not only in feature_layout (a float degree reached range())
        check_int(self.m, "m", lo=1)
        check_int(self.degree, "degree", lo=0)
        check_int(self.depth, "depth", lo=1)

    @property
    def d(self) -> int:
        """Number of letters (path channels) ``m * (degree + 1)``."""
        return self.m * (self.degree + 1)

    @property
    def size(self) -> int:
        """Length of the flat signature vector."""
        return signature_size(self.d, self.depth)

    @property
    def letters(self) -> tuple[tuple[int, int], ...]:
        """``letters[i] = (k, q)``: input channel ``k`` and monomial power ``q`` of letter ``i``
        (their memory is estimated first: ``degree = 10**30`` looped for ever)."""
        check_memory(120.0 * self.m * (self.degree + 1), f"the {self.d:.3g} letters",
                     "lower degree or m")
        return tuple((k, q) for k in range(self.m) for q in range(self.degree + 1))

    @property
    def words(self) -> tuple[tuple[int, ...], ...]:
        """All words (tuples of letter indices) in flat order, level 0 (``()``) first."""
        return tuple(signature_words(self.d, self.depth))

    def letter_index(self, k: int, q: int) -> int:
        """Letter index ``k * (degree + 1) + q`` of channel ``(k, q)``."""
        if not (_is_int(k) and _is_int(q) and 0 <= k < self.m and 0 <= q <= self.degree):
            raise InvalidInputError(f"channel (k, q)=({k}, {q}) outside m={self.m}, "
                                    f"degree={self.degree}", param="channel")
        return int(k) * (self.degree + 1) + int(q)

    def level_slice(self, n: int) -> slice:
        """Slice of level ``n`` in the flat vector."""
        if not (_is_int(n) and 0 <= n <= self.depth):
            raise InvalidInputError(f"level n must be an integer in 0..{self.depth}, got {n!r}",
                                    param="n")
        return slice(_level_offset(self.d, n), _level_offset(self.d, n + 1))

    def word_index(self, word: Sequence[int] | Sequence[tuple[int, int]]) -> int:
        """Flat index of a word given as letter indices or as ``(k, q)`` pairs."""
        if isinstance(word, (str, bytes)) or any(
                not (isinstance(a, tuple) or _is_int(a)) for a in word):
            raise InvalidInputError(f"word must hold letter indices (integers) or (k, q) pairs, "
                                    f"got {word!r}", param="word")
        letters = [self.letter_index(*a) if isinstance(a, tuple) else int(a) for a in word]
        n = len(letters)
        if n > self.depth:
            raise InvalidInputError(f"word length {n} exceeds depth {self.depth}", param="word")
        if any(not 0 <= a < self.d for a in letters):
            raise InvalidInputError(f"letters must be in 0..{self.d - 1}, got {letters}",
                                    param="word")
        idx = 0
        for a in letters:
            idx = idx * self.d + a
        return _level_offset(self.d, n) + idx

    def describe(self, index: int) -> tuple[tuple[int, int], ...]:
        """The word at flat position ``index`` as a tuple of ``(k, q)`` pairs."""
        if not (_is_int(index) and -self.size <= index < self.size):
            raise InvalidInputError(f"index must be an integer in -{self.size}..{self.size - 1}, "
                                    f"got {index!r}", param="index")
        return tuple(self.letters[a] for a in self.words[index])


def feature_layout(m: int, degree: int, depth: int) -> FeatureLayout:
    """Validated :class:`FeatureLayout`."""
    return FeatureLayout(
        check_int(m, "m", lo=1), check_int(degree, "degree", lo=0), check_int(depth, "depth", lo=1)
    )


# --------------------------------------------------------------------------- tensor algebra
def tensor_exp(increment: np.ndarray, depth: int) -> np.ndarray:
    """Truncated tensor exponential ``Σ_{k=0}^{depth} Δ^{⊗k}/k!`` in the flat layout.

    ``increment`` has shape ``(..., d)``; the result has shape ``(..., signature_size)``.
    This is the signature of the straight segment with increment ``Δ``.
    """
    depth = check_int(depth, "depth", lo=1)
    inc = real_array(increment, "increment")
    if inc.ndim >= 1:
        rows = math.prod(inc.shape[:-1])
        size = _size_estimate(inc.shape[-1], depth)
        check_memory(16.0 * rows * size, f"the tensor exponential ({rows} row(s) of "
                                          f"{size:.3g} terms)", "lower depth or d")
    if inc.ndim < 1 or inc.shape[-1] < 1:
        raise InvalidInputError(f"increment must have shape (..., d) with d >= 1, got {inc.shape}",
                                param="increment")
    levels = [np.ones(inc.shape[:-1] + (1,))]
    cur = levels[0]
    for k in range(1, depth + 1):
        cur = (cur[..., :, None] * (inc / k)[..., None, :]).reshape(inc.shape[:-1] + (-1,))
        levels.append(cur)
    out = np.concatenate(levels, axis=-1)
    _check_overflow(out, "increment")
    return out


def _expanding_from_increments(
    dx: np.ndarray,
    depth: int,
    out_pos: np.ndarray,
    out: np.ndarray | None = None,
    block: int | None = None,
    dense: bool | None = None,
    reduce: Callable[[np.ndarray], np.ndarray] | None = None,
    name: str = "X",
) -> np.ndarray:
    """Core Chen recursion on increments ``dx`` of shape ``(B, N, d)``.

    Row ``j`` of the result is the signature after ``out_pos[j]`` increments (flat
    layout). Without ``reduce`` the rows are written into ``out`` (shape
    ``(B, len(out_pos), size)``, allocated if ``None``). With ``reduce``, the rows of each
    time block are assembled in a small buffer of shape ``(B, rows, size)`` and passed to
    ``reduce``, which must return ``(B, rows, k)`` acting row by row; the result
    ``(B, len(out_pos), k)`` is returned (``out`` is ignored).

    Works time-major on blocks of ``block`` steps. Levels ``< depth`` are kept at every
    node (running sum of the Horner increments ``A^{(n)}``). The top level is needed only
    at the requested nodes: if these are sparse (``dense=False``) its increments are
    summed between consecutive requested nodes as ``Σ_i Y_i ⊗ ΔX_i`` (one batched matrix
    product per piece, ``Y_i`` the Horner prefix of ``A^{(D)}_i``), never forming the
    ``d^D``-sized per-step terms.
    """
    bsz, n_inc, d = dx.shape
    offs = _level_offsets(d, depth)
    size = offs[-1]
    out_pos = np.asarray(out_pos, dtype=np.intp)
    inc_idx = out_pos - 1  # increment after which we report; -1 = start (identity)
    result: np.ndarray | None = None

    def identity(rows: int) -> np.ndarray:
        e = np.zeros((bsz, rows, size))
        e[..., 0] = 1.0
        return e

    def store(rows_idx: np.ndarray, vals: np.ndarray) -> None:
        nonlocal result
        _check_overflow(vals, name)
        red = real_array(reduce(vals), "reduce", what="a real array (B, rows, k)",
                         finite=False)
        if not np.all(np.isfinite(red)):
            raise InvalidInputError("reduce returned NaN or inf", param="reduce")
        if red.ndim != 3 or red.shape[:2] != vals.shape[:2]:
            raise InvalidInputError(
                f"reduce must map (B, rows, size) -> (B, rows, k), got {vals.shape} -> {red.shape}",
                param="reduce",
            )
        if result is None:
            result = np.empty((bsz, out_pos.size, red.shape[2]))
        result[:, rows_idx] = red

    if reduce is None:
        if out is None:
            out = np.empty((bsz, out_pos.size, size))
        out[..., 0] = 1.0
        out[..., 1:] = 0.0  # position 0 (no increment yet) is the identity
    else:
        start_rows = np.nonzero(inc_idx < 0)[0]
        if start_rows.size or n_inc == 0:
            store(start_rows, identity(start_rows.size))
    if n_inc == 0:
        return out if reduce is None else result
    n_req = np.unique(inc_idx[inc_idx >= 0]).size
    if dense is None:
        dense = depth == 1 or n_req * 32 > n_inc
    if block is None:
        top = d**depth if dense else d ** (depth - 1) * 4
        block = max(1, _BLOCK_ENTRIES // max(1, bsz * top))
    dxt = np.ascontiguousarray(dx.transpose(1, 0, 2))  # (N, B, d)
    carry = [np.zeros((bsz, d**n)) for n in range(depth + 1)]
    for a in range(0, n_inc, block):
        b = min(n_inc, a + block)
        ln = b - a
        sel = np.nonzero((inc_idx >= a) & (inc_idx < b))[0]
        loc = inc_idx[sel] - a
        if reduce is None:
            target, rows = out, sel
        else:
            target, rows = identity(sel.size), np.arange(sel.size)
        D = dxt[a:b]  # (L, B, d)
        dk = [None] + [D if k == 1 else D * (1.0 / k) for k in range(1, depth + 1)]
        excl: list[np.ndarray | None] = [None] * (depth + 1)
        for n in range(1, depth + 1):
            acc = dk[n]
            last = n if (dense or n < depth) else n - 1
            if last == n:  # running-sum buffer: row 0 = carry, rows 1.. = A^{(n)}_i
                buf = np.empty((ln + 1, bsz, d**n))
                buf[0] = carry[n]
            for j in range(1, last):
                tmp = acc + excl[j]
                if j == n - 1:  # final outer product straight into the buffer
                    res = buf[1:].reshape(ln, bsz, d ** (n - 1), d)
                    np.multiply(tmp[..., :, None], dk[1][..., None, :], out=res)
                    acc = None
                else:
                    acc = (tmp[..., :, None] * dk[n - j][..., None, :]).reshape(ln, bsz, -1)
            if last < n:  # sparse top level: Y_i = acc_i + S^{(n-1)}_{0,i}, term Y_i ⊗ ΔX_i
                y = acc + excl[n - 1]
                run = carry[n].reshape(bsz, -1, d)
                prev = 0
                for e in [*np.unique(loc).tolist(), None]:
                    stop = ln if e is None else e + 1
                    if stop > prev:
                        yt = y[prev:stop].transpose(1, 2, 0)  # (B, d^(n-1), l)
                        run = run + np.matmul(yt, D[prev:stop].transpose(1, 0, 2))
                        prev = stop
                    if e is not None:
                        target[:, rows[loc == e], offs[n] : offs[n + 1]] = run.reshape(bsz, 1, -1)
                carry[n] = run.reshape(bsz, -1)
                continue
            if acc is not None:  # n == 1
                buf[1:] = acc
            for i in range(1, ln + 1):  # running sum; faster than np.cumsum on this layout
                np.add(buf[i - 1], buf[i], out=buf[i])
            excl[n] = buf[:-1]
            if sel.size:
                target[:, rows, offs[n] : offs[n + 1]] = buf[loc + 1].transpose(1, 0, 2)
            carry[n] = buf[-1].copy()
        if reduce is not None and sel.size:
            store(sel, target)
    if reduce is not None and result is None:  # no rows requested: still learn k
        store(np.arange(0), identity(0))
    if reduce is None:
        _check_overflow(out, name)
    return out if reduce is None else result


def _as_batch_path(X: object, name: str = "X") -> tuple[np.ndarray, bool]:
    arr = real_array(X, name, what="a real array of shape (T, d) or (B, T, d)")
    if arr.ndim not in (2, 3) or arr.shape[-1] < 1 or arr.shape[-2] < 1:
        raise InvalidInputError(
            f"{name} must have shape (T, d) or (B, T, d) with T, d >= 1, got {arr.shape}",
            param=name,
        )
    single = arr.ndim == 2
    return (arr[None] if single else arr), single


def _resolve_index(index: object, n: int, name: str) -> np.ndarray:
    if index is None:
        return np.arange(n)
    idx = np.asarray(index)
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
        raise InvalidInputError(f"{name} must be a 1-D integer array, got {idx.dtype} shape "
                                f"{idx.shape}", param=name)
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise InvalidInputError(f"{name} entries must lie in [-{n}, {n - 1}]", param=name)
    return np.where(idx < 0, idx + n, idx)


def expanding_signature(
    X: np.ndarray, depth: int, *, out_index: Sequence[int] | np.ndarray | None = None
) -> np.ndarray:
    """Flat truncated signatures ``S(X)_{t_0, t_i}`` of the piecewise-linear path ``X``.

    Parameters
    ----------
    X : array ``(T, d)`` or ``(B, T, d)``
        Path values at increasing times (the times themselves do not matter: the
        signature is reparametrisation invariant). The path is linearly interpolated.
    depth : int >= 1
        Truncation level ``D``.
    out_index : 1-D int array, optional
        Node indices ``i`` at which to report ``S_{0,i}`` (default: every node). The full
        expanding window is still computed by Chen's identity, but only these rows are
        stored, so memory is ``O(B · len(out_index) · size)``.

    Returns
    -------
    array ``(T_out, size)`` or ``(B, T_out, size)`` in the flat layout of
    :func:`signature_words`; row ``j`` is the signature from node 0 to node
    ``out_index[j]`` (so node 0 gives ``(1, 0, ..., 0)``).
    """
    depth = check_int(depth, "depth", lo=1)
    arr, single = _as_batch_path(X)
    bsz, t_len, d = arr.shape
    idx = _resolve_index(out_index, t_len, "out_index")
    _check_signature_memory(bsz, bsz, t_len - 1, d, depth, idx.size, reduced=False,
                            option="lower depth or pass fewer out_index rows or paths")
    out = np.empty((bsz, idx.size, signature_size(d, depth)))
    _expanding_from_increments(np.diff(arr, axis=1), depth, idx, out)
    return out[0] if single else out


def signature_levels(
    X: np.ndarray, depth: int, *, out_index: Sequence[int] | np.ndarray | None = None
) -> list[np.ndarray]:
    """Expanding-window signature split by level (see :func:`expanding_signature`).

    Returns ``[S0, S1, ..., SD]`` with ``Sn`` of shape ``(..., T_out, d, ..., d)`` (``n`` axes
    of length ``d``; ``S0`` has shape ``(..., T_out)``), ``Sn[..., i, w_1, ..., w_n]`` being
    the iterated integral of word ``(w_1, ..., w_n)`` (first letter earliest).
    """
    flat = expanding_signature(X, depth, out_index=out_index)
    d = np.shape(X)[-1]
    offs = _level_offsets(d, depth)
    lead = flat.shape[:-1]
    return [flat[..., offs[n] : offs[n + 1]].reshape(lead + (d,) * n) for n in range(depth + 1)]


# --------------------------------------------------------------------------- input handling
#: Gauss–Legendre nodes per fine sub-interval beyond which a rule is refused: its nodes
#: come from a dense ``quad_points²`` eigenproblem (minutes at 10⁴), far past any use
_MAX_QUAD_POINTS = 1024


def _check_quad_points(quad_points: object) -> int | None:
    if quad_points is None:
        return None
    quad_points = check_int(quad_points, "quad_points", lo=1)
    check_count(quad_points, _MAX_QUAD_POINTS, "a Gauss–Legendre rule per fine sub-interval",
                "nodes", "fewer quad_points (or a finer time grid / refine)")
    return quad_points


def _fine_grid(times: np.ndarray, refine: int) -> tuple[np.ndarray, np.ndarray]:
    """Fine grid from 0 through all ``times`` (``refine`` sub-steps per interval; the
    segment ``[0, times[0]]`` gets proportionally many) and the positions of ``times``."""
    pieces = []
    if times[0] > 0:
        h = np.median(np.diff(times)) if times.size > 1 else times[0]
        n0 = refine * max(1, math.ceil(times[0] / h - 1e-9))
        pieces.append(np.linspace(0.0, times[0], n0 + 1)[:-1])
    else:
        n0 = 0
    if times.size > 1:
        frac = np.arange(refine) / refine
        sub = times[:-1, None] + np.diff(times)[:, None] * frac[None, :]
        pieces.append(sub.ravel())
    pieces.append(times[-1:])
    grid = np.concatenate(pieces)
    pos = n0 + refine * np.arange(times.size)
    return grid, pos


def _point_value(u: Callable[..., object], t: float, m: int | None = None) -> np.ndarray:
    """``u(t)`` as a real vector ``(m,)`` (a scalar as ``(1,)``), validated."""
    val = real_array(u(t), "u", what="a real scalar or a 1-D array at every t",
                     finite=False)
    if val.ndim > 1 or val.size == 0:
        raise InvalidInputError(
            f"u(t) must return a scalar or an array of shape (m,), got {val.shape}",
            param="u",
        )
    if m is not None and val.size != m:
        raise InvalidInputError(f"u(t) returned {val.size} values at t={t}, expected "
                                f"m={m}", param="u")
    return val.reshape(-1)


class _CallableInput:
    """Wraps a user callable ``u`` into ``eval(points) -> (N, m)`` (validated, finite)."""

    def __init__(self, u: Callable[..., object], grid: np.ndarray) -> None:
        self.u = u
        self.m = self._point(float(grid[-1])).size
        self.mode = "pointwise"
        p = 3 if self.m != 3 else 4  # probe length != m makes the orientation unambiguous
        span = grid[-1] - grid[0]
        pts = grid[-1] - span * np.arange(p) / p if span > 0 else grid[-1] + np.arange(p)
        try:
            res = real_array(u(pts), "u", finite=False)
        except Exception:  # noqa: BLE001 - any failure means "not vectorised"
            return
        if res.shape == (p, self.m):
            mode = "rows"
        elif res.shape == (self.m, p):
            mode = "cols"
        elif self.m == 1 and res.shape == (p,):
            mode = "rows"
        else:
            return
        vec = res.reshape(p, self.m) if mode == "rows" else res.T
        ref = np.stack([self._point(float(t)) for t in pts])
        if np.allclose(vec, ref, rtol=1e-12, atol=1e-300, equal_nan=True):
            self.mode = mode

    def _point(self, t: float) -> np.ndarray:
        return _point_value(self.u, t, getattr(self, "m", None))

    def __call__(self, pts: np.ndarray) -> np.ndarray:
        pts = np.asarray(pts, dtype=float).ravel()
        if pts.size == 0:
            return np.zeros((0, self.m))
        if self.mode == "pointwise":
            vals = np.stack([self._point(float(t)) for t in pts])
        else:
            res = real_array(self.u(pts), "u", what="a real array", finite=False)
            n = pts.size
            if self.mode == "rows" and res.size == n * self.m and res.shape[0] == n:
                vals = res.reshape(n, self.m)
            elif self.mode == "cols" and res.shape == (self.m, n):
                vals = res.T
            else:
                raise InvalidInputError(f"vectorised u(t) returned shape {res.shape} for {n} "
                                        "points", param="u")
        if not np.all(np.isfinite(vals)):
            bad = pts[np.nonzero(~np.all(np.isfinite(vals), axis=1))[0][0]]
            raise InvalidInputError(f"u returned NaN or inf at t={bad}", param="u")
        return vals


def _multiset_count(m: int, order: int) -> float:
    """``Σ_{j=1}^{order} C(m+j-1, j) = C(m+order, order) − 1`` (multisets of ``1..order`` of
    ``m`` channels) as a float in O(1) (``inf`` past the float range)."""
    k, big = min(m, order), max(m, order)
    if k > 1000:  # C(2k, k) > 1e600: past the float range, whatever the precision
        return math.inf
    # log C(big + k, k) = Σ_i log((big + i)/i): lgamma(big + k) − lgamma(big) cancels for huge big
    log = math.fsum(math.log(float(big) + i) - math.log(i) for i in range(1, k + 1))
    return math.inf if log > 700 else max(math.exp(log) - 1.0, 0.0)


def kick_channels(m: int, order: int) -> tuple[tuple[int, ...], ...]:
    """Every multiset of ``1..order`` channels of ``0..m-1`` as a sorted tuple, by size then
    lexicographically: ``kick_channels(2, 2) = ((0,), (1,), (0, 0), (0, 1), (1, 1))``, the
    channels of the augmented input (module docstring). The first ``m`` are the plain
    channels. There are ``C(m + order, order) − 1`` of them; their memory is estimated from
    that count first (:class:`~volterra_sym.errors.ResourceLimitError` naming ``order``)."""
    m, order = check_int(m, "m", lo=1), check_int(order, "order", lo=1)
    count = _multiset_count(m, order)
    check_memory(count * (64 + 8 * min(order, 2**40)),
                 f"the {count:.3g} channel multisets of sizes 1..{order} of {m} channel(s)",
                 "lower order (or m)")
    return tuple(c for j in range(1, order + 1)
                 for c in combinations_with_replacement(range(m), j))


def _products(vals: np.ndarray, channels: Sequence[tuple[int, ...]]) -> np.ndarray:
    """``(..., m) -> (..., len(channels))``: ``Π_{c ∈ κ} vals[..., c]`` per multiset ``κ``."""
    m = vals.shape[-1]
    top = max((c for ch in channels for c in ch), default=-1)
    if top >= m:
        raise InvalidInputError(f"the input has m={m} channel(s) but the augmented channels use "
                                f"channel {top}", param="channels")
    return np.stack([np.prod(vals[..., list(ch)], axis=-1) for ch in channels], axis=-1)


def _check_channels(channels: object, param: str = "channels") -> tuple[tuple[int, ...], ...]:
    """``channels`` as a non-empty tuple of non-empty tuples of integers ≥ 0, else
    :class:`~volterra_sym.errors.InvalidInputError` naming ``param``."""
    try:
        chans = tuple(tuple(ch) for ch in channels)          # type: ignore[union-attr]
    except TypeError:
        chans = ()
    if not chans or any(not ch or not all(_is_int(c) and c >= 0 for c in ch)
                        for ch in chans):
        raise InvalidInputError(f"{param} must be non-empty tuples of channel indices "
                                f"(integers ≥ 0), got {channels!r:.80}", param=param)
    return tuple(tuple(int(c) for c in ch) for ch in chans)


class _ProductInput:
    """``t -> (u_κ(t))_κ`` for a callable ``u`` (scalar ``t``: shape ``(m',)``; an array of
    ``N`` times: ``(N, m')``, through the orientation probe of :class:`_CallableInput`)."""

    def __init__(self, u: Callable[..., object], channels: tuple[tuple[int, ...], ...]):
        self.u, self.channels = u, channels
        self._ev: _CallableInput | None = None

    def __call__(self, t: object) -> np.ndarray:
        ta = np.asarray(t, dtype=float)
        if ta.ndim == 0:
            val = real_array(_point_value(self.u, float(ta)), "u")    # finite
            return _products(val[None], self.channels)[0]
        if self._ev is None:
            self._ev = _CallableInput(self.u, np.sort(ta.ravel()))
        return _products(self._ev(ta.ravel()), self.channels)


def augment_input(u: Callable[..., object] | np.ndarray,
                  channels: Sequence[tuple[int, ...]]) -> Callable[..., object] | np.ndarray:
    """The augmented input ``u_κ = Π_{c ∈ κ} u_c`` for every channel multiset ``κ`` of
    ``channels`` (module docstring; :func:`kick_channels`). ``u`` callable (``u(t)`` a scalar
    or ``(m,)``; vectorised forms are kept vectorised) or samples ``(T,)``, ``(T, m)``,
    ``(B, T, m)``: returns a callable giving ``(m',)`` per time, resp. samples
    ``(..., T, m')``. Channel indices must be integers ≥ 0 and the input's values finite
    (else :class:`~volterra_sym.errors.InvalidInputError` naming ``channels`` or ``u``)."""
    chans = _check_channels(channels)
    if callable(u):
        return _ProductInput(u, chans)
    arr = real_array(_real_samples(u), "u")          # finite (names the first NaN/inf)
    if arr.ndim not in (2, 3):
        raise InvalidInputError(f"sampled u must have shape (T,), (T, m) or (B, T, m), got "
                                f"{arr.shape}", param="u")
    return _products(arr, chans)


def _gauss_increments(
    ev: _CallableInput, grid: np.ndarray, degree: int, n_nodes: int
) -> np.ndarray:
    """``∫_{g_i}^{g_{i+1}} r^q u_k(r) dr`` for all fine intervals: ``(N, m*(degree+1))``."""
    x, w = np.polynomial.legendre.leggauss(n_nodes)
    a, b = grid[:-1, None], grid[1:, None]
    half = 0.5 * (b - a)
    nodes = a + half * (x[None, :] + 1.0)  # (N, n)
    vals = ev(nodes).reshape(nodes.shape + (ev.m,))  # (N, n, m)
    powers = nodes[..., None] ** np.arange(degree + 1)  # (N, n, Q)
    integ = np.einsum("inm,inq,n->imq", vals, powers, w) * half[:, :, None]
    return integ.reshape(grid.size - 1, ev.m * (degree + 1))


def _callable_increments(
    ev: _CallableInput,
    grid: np.ndarray,
    degree: int,
    quad_points: int | None,
    rtol: float,
) -> np.ndarray:
    if quad_points is not None:
        return _gauss_increments(ev, grid, degree, quad_points)
    prev = _gauss_increments(ev, grid, degree, _GL_NODES[0])
    for n in _GL_NODES[1:]:
        cur = _gauss_increments(ev, grid, degree, n)
        err = np.abs(cur - prev).sum(axis=0)
        scale = np.abs(cur).sum(axis=0)
        if np.all(err <= rtol * scale):
            return cur
        prev = cur
    warnings.warn(
        f"response_features: Gauss–Legendre quadrature did not reach rtol={rtol:g} with "
        f"{_GL_NODES[-1]} nodes per sub-interval (estimated relative error "
        f"{float(np.max(err / np.maximum(scale, 1e-300))):.2e}); refine the time grid",
        RuntimeWarning,
        stacklevel=3,
    )
    return cur


def _sample_weights(times: np.ndarray, refine: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-interval local-polynomial quadrature: stencil indices ``(T-1, p)`` and weights
    ``(T-1, refine, p)`` giving ``∫`` over each of the ``refine`` sub-steps of interval i.

    The integrand is replaced on ``[t_i, t_{i+1}]`` by the Lagrange polynomial through the
    ``p = min(4, T)`` nearest samples (``t_{i-1}..t_{i+2}``, shifted at the ends).
    """
    t_len = times.size
    p = min(4, t_len)
    i = np.arange(t_len - 1)
    start = np.clip(i - 1, 0, t_len - p)  # t_{i-1}..t_{i+2}, shifted inside at the ends
    idx = start[:, None] + np.arange(p)[None, :]
    h = np.diff(times)
    xs = (times[idx] - times[i, None]) / h[:, None]  # local coords, interval is [0, 1]
    vand = xs[:, None, :] ** np.arange(p)[None, :, None]  # (T-1, p(powers), p(nodes))
    c = np.arange(1, refine + 1) / refine
    pw = np.arange(1, p + 1)
    moments = c[None, :, None] ** pw[None, None, :] / pw[None, None, :]  # ∫_0^c x^a
    moments = np.broadcast_to(moments, (t_len - 1, refine, p)).transpose(0, 2, 1)
    w_cum = np.linalg.solve(vand, moments)  # (T-1, p nodes, refine)
    w = np.diff(w_cum, axis=2, prepend=0.0) * h[:, None, None]
    return idx, w.transpose(0, 2, 1)


def _sample_increments(
    u: np.ndarray, times: np.ndarray, degree: int, idx: np.ndarray, w: np.ndarray
) -> np.ndarray:
    """``u``: ``(B, T, m)`` -> fine increments ``(B, (T-1)*refine, m*(degree+1))``."""
    bsz, t_len, m = u.shape
    powers = times[:, None] ** np.arange(degree + 1)  # (T, Q)
    g = (u[..., :, None] * powers[None, :, None, :]).reshape(bsz, t_len, -1)  # (B, T, d)
    inc = np.einsum("bisc,irs->birc", g[:, idx], w, optimize=True)
    return np.ascontiguousarray(inc.reshape(bsz, -1, g.shape[-1]))


def feature_path_increments(
    u: Callable[..., object] | np.ndarray,
    times: np.ndarray,
    degree: int,
    *,
    refine: int | None = None,
    quad_points: int | None = None,
    rtol: float = 1e-12,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Increments of the feature path ``X^{(k,q)}`` on the fine grid.

    Returns ``(dX, grid, pos, m)`` with ``dX`` of shape ``(B, N, d)`` (``B = 1`` for
    callables and 2-D arrays), ``grid`` the fine grid (starting at 0), ``pos[i]`` the
    fine-grid position of ``times[i]`` (``X(times[i]) = dX[:, :pos[i]].sum(1)``) and ``m``.
    See :func:`response_features` for the parameters.
    """
    t = _check_times(times)
    degree = check_int(degree, "degree", lo=0)
    refine = DEFAULT_REFINE if refine is None else check_int(refine, "refine", lo=1)
    quad_points = _check_quad_points(quad_points)
    rtol = positive_number(rtol, "rtol")
    if callable(u):
        _check_signature_memory(1, 1, _n_fine(t, refine), degree + 1, 1, 0, reduced=True,
                                quad_channels=degree + 2, quad_nodes=quad_points,
                                option=_LOWER + ", or fewer quad_points")
        grid, pos = _fine_grid(t, refine)
        ev = _CallableInput(u, grid)
        dx = _callable_increments(ev, grid, degree, quad_points, float(rtol))
        return dx[None], grid, pos, ev.m
    arr = _check_samples(u, t)
    _check_signature_memory(arr.shape[0], arr.shape[0], _n_fine(t, refine),
                            arr.shape[2] * (degree + 1), 1, 0, reduced=True)
    grid, pos = _fine_grid(t, refine)
    if t.size == 1:
        return np.zeros((arr.shape[0], 0, arr.shape[2] * (degree + 1))), grid, pos, arr.shape[2]
    idx, w = _sample_weights(t, refine)
    return _sample_increments(arr, t, degree, idx, w), grid, pos, arr.shape[2]


def _real_samples(u: object) -> np.ndarray:
    """Sampled input as a float array, a single channel ``(T,)`` as ``(T, 1)``."""
    arr = real_array(u, "u", what="callable or a real array", finite=False)
    return arr[:, None] if arr.ndim == 1 else arr


def _check_samples(u: object, t: np.ndarray) -> np.ndarray:
    arr = _real_samples(u)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[0] < 1 or arr.shape[1] != t.size or arr.shape[2] < 1:
        raise InvalidInputError(
            f"sampled u must have shape (T,), (T, m) or (B, T, m) with T=len(times)={t.size} "
            f"and B, m >= 1, got {np.shape(u)}",
            param="u",
        )
    real_array(arr, "u")                 # finite (names the first NaN/inf)
    if t[0] != 0:
        raise InvalidInputError(
            f"sampled u needs times[0] == 0 (X is integrated from 0 and u is unknown on "
            f"[0, times[0]]), got times[0]={t[0]}",
            param="u",
        )
    return arr


# --------------------------------------------------------------------------- response features
class FrozenResult:
    """Base of the frozen result dataclasses: unpickling rebuilds through ``__init__`` so
    that ``__post_init__`` freezes the arrays again (pickle restores them writable)."""

    def __reduce__(self) -> tuple:
        return type(self), tuple(getattr(self, f.name) for f in fields(self))

    def _html_rows(self) -> list[tuple[str, ...]]:
        """Table rows for :meth:`_repr_html_` (header first); none by default."""
        return []

    def _repr_html_(self) -> str:
        """Jupyter display: the ``repr`` and the class's table (:meth:`_html_rows`)."""
        head = f"<code>{html.escape(repr(self))}</code>"
        rows = self._html_rows()
        if not rows:
            return head
        cells = lambda r, tag: "".join(f"<{tag}>{html.escape(str(c))}</{tag}>"  # noqa: E731
                                       for c in r)
        body = "".join(f"<tr>{cells(r, 'td')}</tr>" for r in rows[1:])
        return f"{head}<table><tr>{cells(rows[0], 'th')}</tr>{body}</table>"


@dataclass(frozen=True, repr=False)
class ResponseFeatures(FrozenResult):
    """Expanding-window signature of the response-feature path.

    ``values[..., j, :]`` is the flat truncated signature ``S(X)_{0, times[j]}`` (level 0 =
    1) in the layout of ``layout.words``; leading axis ``B`` only for batched input.
    ``np.asarray(features)`` gives ``values``. If a ``reduce`` callback was used
    (``reduced=True``), ``values[..., j, :]`` is ``reduce`` applied to that signature and
    :meth:`level` / :meth:`coefficient` are unavailable.
    """

    values: np.ndarray
    times: np.ndarray
    layout: FeatureLayout
    refine: int = field(default=DEFAULT_REFINE)
    reduced: bool = False

    def __post_init__(self) -> None:
        # a result: read-only arrays that cannot be made writable (volterra_sym.results)
        object.__setattr__(self, "values", freeze(np.asarray(self.values, dtype=float)))
        object.__setattr__(self, "times", freeze(np.asarray(self.times, dtype=float)))

    def __repr__(self) -> str:
        t = self.times
        span = f"{t.size} in [{t.min():g}, {t.max():g}]" if t.size else "0"
        return (f"ResponseFeatures(shape={self.values.shape}, times={span}, "
                f"m={self.layout.m}, degree={self.layout.degree}, depth={self.layout.depth}"
                f"{', reduced' if self.reduced else ''})")

    def _html_rows(self) -> list[tuple[str, ...]]:
        t = self.times
        return [("quantity", "value"), ("values shape", str(self.values.shape)),
                ("output times", f"{t.size} in [{t.min():g}, {t.max():g}]" if t.size else "0"),
                ("channels m", str(self.layout.m)), ("monomial degree", str(self.layout.degree)),
                ("signature depth", str(self.layout.depth)), ("refine", str(self.refine)),
                ("reduced by a callback", "yes" if self.reduced else "no")]

    def _require_signature(self) -> None:
        if self.reduced:
            raise InvalidInputError("values were reduced by a callback; levels are not available",
                                    param="reduce")

    def level(self, n: int) -> np.ndarray:
        """Level ``n`` as a tensor of shape ``(..., T_out, d, ..., d)``."""
        self._require_signature()
        lead = self.values.shape[:-1]
        return self.values[..., self.layout.level_slice(n)].reshape(lead + (self.layout.d,) * n)

    def coefficient(self, word: Sequence[int] | Sequence[tuple[int, int]]) -> np.ndarray:
        """``S^w(X)_{0,t}`` at all output times for a word (letter indices or ``(k, q)``)."""
        self._require_signature()
        return self.values[..., self.layout.word_index(word)]

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        return self.values if dtype is None else self.values.astype(dtype)


def _resolve_times_out(times: np.ndarray, times_out: object) -> np.ndarray:
    if times_out is None:
        return np.arange(times.size)
    to = real_array(times_out, "times_out", what="a 1-D array of real numbers")
    if to.ndim != 1:
        raise InvalidInputError(f"times_out must be 1-D, got shape {to.shape}", param="times_out")
    j = np.clip(np.searchsorted(times, to), 0, times.size - 1)
    jm = np.clip(j - 1, 0, times.size - 1)
    j = np.where(np.abs(times[jm] - to) < np.abs(times[j] - to), jm, j)
    tol = 1e-12 * np.maximum(1.0, np.abs(to))
    if np.any(np.abs(times[j] - to) > tol):
        bad = to[np.abs(times[j] - to) > tol][0]
        raise InvalidInputError(f"times_out must be a subset of times; {bad} is not in times",
                                param="times_out")
    return j


def _signatures(
    dx: np.ndarray,
    depth: int,
    pos: np.ndarray,
    reduce: Callable[[np.ndarray], np.ndarray] | None,
) -> np.ndarray:
    return _expanding_from_increments(dx, depth, pos, reduce=reduce, name="u")


def iter_response_features(
    u: Callable[..., object] | np.ndarray,
    times: np.ndarray,
    depth: int,
    degree: int,
    *,
    times_out: np.ndarray | None = None,
    refine: int | None = None,
    quad_points: int | None = None,
    rtol: float = 1e-12,
    chunk_size: int = 32,
    reduce: Callable[[np.ndarray], np.ndarray] | None = None,
    time_budget: float | None = None,
) -> Iterator[tuple[slice, ResponseFeatures]]:
    """Like :func:`response_features` but yields ``(batch_slice, features)`` per chunk of
    ``chunk_size`` inputs (``features.values`` of shape ``(chunk, T_out, size)``), so that
    a large batch can be consumed chunk by chunk without holding all signatures in memory.
    Non-batched input yields a single chunk with ``values`` of shape ``(T_out, size)``.
    Arguments are validated when this function is called, not on first iteration, and the
    time of the whole batch (:func:`signature_seconds`) is checked against ``time_budget``.
    """
    depth = check_int(depth, "depth", lo=1)
    degree = check_int(degree, "degree", lo=0)
    chunk_size = check_int(chunk_size, "chunk_size", lo=1)
    t = _check_times(times)
    out_i = _resolve_times_out(t, times_out)
    r = DEFAULT_REFINE if refine is None else check_int(refine, "refine", lo=1)
    if reduce is not None and not callable(reduce):
        raise InvalidInputError(f"reduce must be callable or None, got {reduce!r}", param="reduce")
    red = reduce is not None
    n_fine = _n_fine(t, r)
    if callable(u):
        m = _point_value(u, float(t[-1])).size
        quad_points = _check_quad_points(quad_points)
        _check_signature_memory(1, 1, n_fine, m * (degree + 1), depth, out_i.size, reduced=red,
                                quad_channels=m + degree + 2, quad_nodes=quad_points,
                                option=_LOWER + ", or fewer quad_points")
        check_signature_time(
            signature_seconds(1, 1, n_fine, m * (degree + 1), depth, out_i.size, reduced=red),
            time_budget, f"the signature (depth {depth}, {m * (degree + 1)} letters, "
                         f"{n_fine} fine steps)")
        dx, _, pos, m = feature_path_increments(
            u, t, degree, refine=r, quad_points=quad_points, rtol=rtol
        )
        lay = FeatureLayout(m, degree, depth)
        vals = _signatures(dx, depth, pos[out_i], reduce)[0]
        return iter([(slice(0, 1), ResponseFeatures(vals, t[out_i], lay, r, red))])
    arr = _check_samples(u, t)
    single = np.ndim(u) < 3
    _check_signature_memory(arr.shape[0], chunk_size, n_fine, arr.shape[2] * (degree + 1),
                            depth, out_i.size, reduced=red)
    check_signature_time(
        signature_seconds(arr.shape[0], chunk_size, n_fine, arr.shape[2] * (degree + 1), depth,
                          out_i.size, reduced=red), time_budget,
        f"the signatures of {arr.shape[0]} input(s) (depth {depth}, "
        f"{arr.shape[2] * (degree + 1)} letters, {n_fine} fine steps)")
    lay = FeatureLayout(arr.shape[2], degree, depth)
    _, pos = _fine_grid(t, r)
    weights = _sample_weights(t, r) if t.size > 1 else None

    def chunks() -> Iterator[tuple[slice, ResponseFeatures]]:
        for s in range(0, arr.shape[0], chunk_size):
            sl = slice(s, min(arr.shape[0], s + chunk_size))
            if weights is None:
                dx = np.zeros((sl.stop - sl.start, 0, lay.d))
            else:
                dx = _sample_increments(arr[sl], t, degree, *weights)
            vals = _signatures(dx, depth, pos[out_i], reduce)
            yield sl, ResponseFeatures(vals[0] if single else vals, t[out_i], lay, r, red)

    return chunks()


def response_features(
    u: Callable[..., object] | np.ndarray,
    times: np.ndarray,
    depth: int,
    degree: int,
    *,
    times_out: np.ndarray | None = None,
    refine: int | None = None,
    quad_points: int | None = None,
    rtol: float = 1e-12,
    chunk_size: int = 32,
    reduce: Callable[[np.ndarray], np.ndarray] | None = None,
    time_budget: float | None = None,
) -> ResponseFeatures:
    r"""Expanding-window signature of the response-feature path of an input ``u``.

    Builds ``X^{(k,q)}(s) = ∫_0^s r^q u_k(r) dr`` (``k < m``, ``q = 0..degree``; letter index
    ``k*(degree+1)+q``, ``d = m*(degree+1)``) and returns the truncated signatures
    ``S(X)_{0,t}`` for every ``t`` in ``times`` (or in ``times_out``), computed along the
    whole grid with Chen's identity ``S_{0,t_{i+1}} = S_{0,t_i} ⊗ exp(ΔX_i)``.

    What is computed exactly: the signature of the **piecewise-linear interpolation** of
    ``X`` on a fine grid made of ``refine`` equal sub-steps of every interval of ``times``
    (and of ``[0, times[0]]`` when ``times[0] > 0``). Its values ``X(g_j)`` on that grid are
    accurate quadratures (below); the chord error of the signature at levels >= 2 is
    ``O(h²/refine²)`` for a smooth path (``h`` the step of ``times``); the signature of the
    true path is the limit ``refine -> ∞``. Level 1 (``X`` itself) has no chord error.

    Parameters
    ----------
    u : callable or array
        * callable ``u(t)``: for a float ``t`` returns a scalar (``m = 1``) or an array of
          shape ``(m,)``. If it also accepts a 1-D array of ``N`` times and returns shape
          ``(N, m)``, ``(m, N)`` or (``m = 1``) ``(N,)``, the vectorised form is used (it is
          detected on a probe and checked against point calls); otherwise ``u`` is called
          point by point. The integrals over each fine sub-interval use Gauss–Legendre rules:
          with ``quad_points=None`` the node count is doubled from 8 up to 128 until the
          summed change per channel is ``<= rtol ×`` the summed ``|increments|`` (a
          ``RuntimeWarning`` is emitted if that fails); an integer ``quad_points`` fixes it.
        * array of samples at ``times``: shape ``(T,)`` (``m = 1``), ``(T, m)``, or
          ``(B, T, m)`` for a batch of ``B`` inputs (processed vectorised, ``chunk_size`` at
          a time). ``times[0]`` must be 0. The integrand ``r^q u_k(r)`` is replaced on
          each ``[t_i, t_{i+1}]`` by its cubic Lagrange interpolant through the four nearest
          samples (quadratic / linear if ``T = 3 / 2``): local error ``O(h⁵)``, global error
          of ``X`` ``O(h⁴)`` for smooth ``u``. Sub-steps (``refine``) use the same interpolant.
    times : 1-D array, non-negative, strictly increasing
        Output/sample times. The path always starts at ``X(0) = 0``.
    depth : int >= 1
        Signature truncation level.
    degree : int >= 0
        Highest monomial power ``q``.
    times_out : 1-D array, optional
        Subset of ``times`` at which to return the signature (default all). Only these rows
        are stored; the expanding window is still computed over the whole grid.
    refine : int >= 1, optional
        Sub-steps per interval of ``times`` (default :data:`DEFAULT_REFINE` = 4).
    quad_points, rtol
        Quadrature control for callables (see above).
    chunk_size : int
        Batch chunk for array input (memory control).
    reduce : callable, optional
        Row-wise map applied on the fly to blocks of signatures, ``(B, rows, size) ->
        (B, rows, k)`` (e.g. a linear readout ``lambda v: v @ W``). Only the reduced values
        are stored, so all times of a large batch fit in memory; ``.reduced`` is then True.
    time_budget : float, optional
        Seconds the batch may take (default 120, at most 86400): its time is estimated
        first (:func:`signature_seconds`) and an estimate over the budget is refused.

    Returns
    -------
    ResponseFeatures
        ``.values`` of shape ``(T_out, size)`` (``(B, T_out, size)`` for batched input),
        ``.times``, ``.layout`` (:class:`FeatureLayout`), ``.level(n)``, ``.coefficient(w)``.

    Raises
    ------
    InvalidInputError
        (a ``ValueError``) naming the offending parameter (``.param``): bad shape, NaN/inf
        in ``u`` or its values, ``depth`` not an integer >= 1, ``degree`` not an integer
        >= 0, ``times`` negative / not strictly increasing / not finite, ``times_out`` not
        a subset of ``times``, ``refine`` / ``quad_points`` / ``chunk_size`` not positive
        integers, ``rtol <= 0``.
    """
    chunks = list(
        iter_response_features(
            u,
            times,
            depth,
            degree,
            times_out=times_out,
            refine=refine,
            quad_points=quad_points,
            rtol=rtol,
            chunk_size=chunk_size,
            reduce=reduce,
            time_budget=time_budget,
        )
    )
    if len(chunks) == 1:
        return chunks[0][1]
    first = chunks[0][1]
    values = np.concatenate([c.values for _, c in chunks], axis=0)
    return ResponseFeatures(values, first.times, first.layout, first.refine, first.reduced)
