"""Typed results: values with an error estimate, the method that produced them, details.

``KernelValues`` and ``SeriesTerms`` are frozen all the way down: values and errors are
read-only arrays that cannot be made writable, and ``details`` is a read-only
:class:`FrozenDict` whose nested mappings, lists and arrays are frozen too (it reads, and
``json.dumps``, like a dict); they pickle and deep-copy (and stay frozen).
``np.asarray(result)`` gives the plain value array (what older versions returned), and
arithmetic with numpy works on it directly (``result - reference`` is an ndarray).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

__all__ = ["Estimate", "FrozenDict", "KernelValues", "SeriesTerms", "PartialSums", "freeze",
           "short_numbers"]


def _readonly(arr: np.ndarray) -> np.ndarray:
    """A read-only copy of ``arr`` that no one can make writable: its memory is an
    immutable ``bytes`` buffer, so ``setflags(write=True)`` raises (on it and its base)."""
    arr = np.asarray(arr)
    if arr.dtype.hasobject:        # pointers cannot live in a bytes buffer
        out = arr.copy()
        out.setflags(write=False)
        return out
    return np.frombuffer(arr.tobytes(order="C"), dtype=arr.dtype).reshape(arr.shape)


def _frozen_array(x) -> np.ndarray | None:
    if x is None:
        return None
    x = np.asarray(x, dtype=float)
    return x if _frozen(x) else _readonly(x)     # a frozen array is shared, not copied


class FrozenDict(dict):
    """A read-only ``dict`` (a result's ``details``): its values frozen recursively
    (mappings → ``FrozenDict``, lists → tuples, sets → frozensets, arrays → read-only
    copies). Reading is a dict's (``[]``, ``.get``, ``dict(d)``, ``{**d}``, ``json.dumps``);
    ``d.copy()`` is a plain, mutable (shallow) dict."""

    __slots__ = ()

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        dict.update(self, ((k, freeze(v)) for k, v in dict(*args, **kwargs).items()))
        return self

    def __init__(self, *args, **kwargs):   # filled in __new__; re-calling it changes nothing
        pass

    def _readonly(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} is read-only (a result's details); "
                        "dict(details) or details.copy() is a mutable copy")

    __setitem__ = __delitem__ = __ior__ = _readonly
    clear = pop = popitem = setdefault = update = _readonly

    def __reduce__(self):
        # rebuilt through __new__ (which freezes again: unpickled arrays are writable),
        # not item by item through the refused __setitem__
        return type(self), (dict(self),)

    @classmethod
    def fromkeys(cls, iterable, value=None):
        return cls(dict.fromkeys(iterable, value))

    def __repr__(self) -> str:
        return dict.__repr__(self)


def freeze(x: Any) -> Any:
    """``x`` frozen recursively: mappings → :class:`FrozenDict`, lists and tuples →
    tuples (named tuples keep their type), sets → frozensets, bytearrays → bytes, arrays →
    read-only copies; anything else (numbers, strings, other objects) as is."""
    if isinstance(x, FrozenDict):
        return x
    if isinstance(x, Mapping):
        return FrozenDict(x)
    if isinstance(x, np.ndarray):
        return x if _frozen(x) else _readonly(x)
    if isinstance(x, list) or type(x) is tuple:
        return tuple(freeze(v) for v in x)
    if isinstance(x, tuple) and hasattr(x, "_make"):         # a named tuple
        return type(x)._make(freeze(v) for v in x)
    if isinstance(x, (set, frozenset)):
        return frozenset(x)
    if isinstance(x, bytearray):
        return bytes(x)
    return x


def _frozen(arr: np.ndarray) -> bool:
    """``arr`` is one of :func:`_readonly`'s (its memory an immutable buffer)."""
    base = arr
    while isinstance(base, np.ndarray):
        if base.flags.writeable:
            return False
        base = base.base
    return isinstance(base, bytes)


def short_numbers(arr: np.ndarray, spec: str) -> str:
    """``arr`` with ``spec`` significant digits (a non-zero number never shows as 0),
    summarised by numpy beyond 6 numbers."""
    return np.array2string(arr, threshold=6, separator=" ",
                           formatter={"float_kind": lambda x: format(x, spec)})


@dataclass(frozen=True, eq=False)
class Estimate(NDArrayOperatorsMixin):
    """Values with an error estimate.

    Attributes
    ----------
    values : the numbers (read-only array).
    error : an estimate of ``|values - truth|`` of the same shape, or ``None`` where the
        route gives none ("unknown" rather than a false claim).
    method : the route that produced them (``"exact"``, ``"spectral"``, ``"taylor"``...).
    details : route-specific facts (grid sizes, degrees, paths, ...), read-only all the
        way down (a :class:`FrozenDict`; nested lists are tuples, arrays read-only).
    """

    values: np.ndarray
    error: np.ndarray | None = None
    method: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        # read-only copies in immutable buffers (setflags(write=True) raises), details
        # frozen recursively: a frozen result cannot be changed in place
        vals = _frozen_array(self.values)
        err = None if self.error is None else np.asarray(self.error, dtype=float)
        if err is not None and err.shape != vals.shape:
            err = np.broadcast_to(err, vals.shape)
        object.__setattr__(self, "values", vals)
        object.__setattr__(self, "error", _frozen_array(err))
        object.__setattr__(self, "details", FrozenDict(self.details))

    def __reduce__(self):
        # pickle, copy and deepcopy rebuild through the constructor, which freezes again
        # (unpickled arrays are writable, owning copies)
        return type(self), (self.values, self.error, self.method, self.details)

    # --- array behaviour -------------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        out = self.values if dtype is None else self.values.astype(dtype, copy=False)
        return np.array(out, copy=True) if copy else out

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        args = [np.asarray(x) if isinstance(x, Estimate) else x for x in inputs]
        return getattr(ufunc, method)(*args, **kwargs)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.values.shape

    @property
    def ndim(self) -> int:
        return self.values.ndim

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, idx):
        return self.values[idx]

    def __iter__(self):
        return iter(self.values)

    def __float__(self) -> float:
        return float(self.values)

    @property
    def error_or_nan(self) -> np.ndarray:
        """The error estimate, NaN where unknown."""
        return np.full(self.shape, np.nan) if self.error is None else self.error

    def __repr__(self) -> str:
        # significant digits, never fixed decimals: a fixed 3-decimal error of 2.7e-4
        # printed as "0." (an error shown as zero); summarised beyond 6 numbers
        err = "unknown" if self.error is None else short_numbers(self.error, ".2g")
        vals = short_numbers(self.values, ".6g")
        return f"{type(self).__name__}(values={vals}, error={err}, method={self.method!r})"

    #: most rows of the HTML table (beyond it, rows spread evenly over the whole array)
    HTML_ROWS = 20

    def _index_label(self, index: tuple[int, ...]) -> str:
        """The row label of entry ``index`` in the HTML table."""
        return str(index[0]) if len(index) == 1 else str(index)

    def _repr_html_(self) -> str:
        v = self.values.ravel()
        e = self.error_or_nan.ravel()
        picks = np.arange(v.size) if v.size <= self.HTML_ROWS else \
            np.unique(np.linspace(0, v.size - 1, self.HTML_ROWS).round().astype(int))
        shape = self.values.shape or (1,)

        def label(i) -> str:
            return html.escape(self._index_label(tuple(int(j) for j in
                                                       np.unravel_index(i, shape))))
        rows = "".join(f"<tr><td>{label(i)}</td><td>{v[i]:.8g}</td><td>"
                       f"{'unknown' if self.error is None else format(e[i], '.2g')}</td></tr>"
                       for i in picks)
        more = (f"<tr><td colspan=3>{picks.size} of {v.size} entries, evenly spread</td></tr>"
                if picks.size < v.size else "")
        return (f"<b>{type(self).__name__}</b> (method <code>{self.method}</code>, "
                f"shape {self.shape}){self._facts_html()}<table><tr><th>entry</th>"
                f"<th>value</th><th>± error</th></tr>{rows}{more}</table>")

    @property
    def route_facts(self) -> Mapping[str, Any]:
        """The route's facts (degree, measure, samples, the parts of the error...):
        ``details["route"]`` where a backend nests them, else ``details``."""
        facts = self.details.get("route", self.details)
        return facts if isinstance(facts, Mapping) else {}

    def _facts_html(self) -> str:
        """The scalar :attr:`route_facts` as one line."""
        items = []
        for k, val in self.route_facts.items():
            if isinstance(val, (bool, np.bool_)):
                continue
            if isinstance(val, (int, np.integer)):
                items.append(f"{html.escape(str(k))} {int(val):,}")
            elif isinstance(val, (float, np.floating)):
                items.append(f"{html.escape(str(k))} {float(val):.3g}")
            elif isinstance(val, str):
                items.append(f"{html.escape(str(k))} {html.escape(val)}")
        return f"<br><small>{'; '.join(items[:12])}</small>" if items else ""


class KernelValues(Estimate):
    """Kernel values ``K_k(σ)`` at a batch of lags (shape of the lag batch);
    ``details["lags"]`` holds the lags ``(..., N)`` where the hierarchy made them."""

    def _index_label(self, index: tuple[int, ...]) -> str:
        lags = self.details.get("lags")
        if lags is None or np.shape(lags)[:-1] != self.shape:  # not kept (label_points)
            return super()._index_label(index)
        point = np.asarray(lags)[index if self.shape else ()]   # a scalar result: (0,)
        return "σ = (" + ", ".join(f"{float(x):.6g}" for x in point) + ")"


class SeriesTerms(Estimate):
    """Volterra terms ``[T_0(t), …, T_N(t)]``: shape ``(N+1, len(times))``."""

    def _index_label(self, index: tuple[int, ...]) -> str:
        if len(index) != 2:
            return str(index)
        return f"T_{index[0]} at {_time_label(self.details.get('times'), index[1])}"


class PartialSums(Estimate):
    """Partial sums ``S_N(t) = Σ_{j≤N} ε^j T_j(t)``: shape ``(N+1, len(times))`` (one ε) or
    ``(len(ε), N+1, len(times))``; ``error`` bounds ``|S_N − Σ_{j≤N} ε^j T_j^{true}|`` by
    ``Σ_{j≤N} |ε|^j err(T_j)`` — the computed terms' errors, not the remainder of the
    series beyond ``N``."""

    def _index_label(self, index: tuple[int, ...]) -> str:
        terms = self.details.get("terms")         # the series terms' details
        times = terms.get("times") if isinstance(terms, Mapping) else None
        if len(index) == 2:
            return f"S_{index[0]} at {_time_label(times, index[1])}"
        if len(index) == 3:
            eps = np.ravel(self.details.get("eps", ()))
            e = f"ε = {float(eps[index[0]]):.6g}" if index[0] < eps.size else \
                f"ε #{index[0]}"
            return f"{e}: S_{index[1]} at {_time_label(times, index[2])}"
        return str(index)


#: ``details["lags"]``/``details["times"]`` (the HTML tables' row labels) are kept, as
#: nested tuples of floats (JSON-able, comparable), up to this many numbers
LABEL_NUMBERS = 100_000


def label_points(points) -> list | None:
    """``points`` (lags ``(..., N)`` or times) as nested lists of floats for ``details``
    (which freezes them to tuples), or ``None`` beyond :data:`LABEL_NUMBERS` numbers."""
    arr = np.asarray(points, dtype=float)
    return arr.tolist() if arr.size <= LABEL_NUMBERS else None


def _time_label(times, i: int) -> str:
    """``t = 0.25`` where the times are known, else ``time #i``."""
    if times is None or not 0 <= i < np.size(times):
        return f"time #{i}"
    return f"t = {float(np.ravel(times)[i]):.6g}"
