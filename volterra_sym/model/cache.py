"""The one place where data derived from a frozen model is cached.

Every layer that derives something expensive from a model (stationary density, Gaussian
moments, grids, samplers, Galerkin matrices, ...) asks ``derived(model, key, factory)``:
the value is computed once per model (and per ``key``) and kept as long as the model
lives. Models are immutable, so a cached value can never go stale; no module sets
attributes on a model.

Keys are tuples whose first entry names the owning layer, e.g.
``("density", "stationary")`` or ``("spectral", "grid", N, cut)``.

Where the entries live: a model that carries a ``_derived_store`` (the :class:`SRNN` does,
from :func:`shared_store` of its value key) keeps its entries itself, so they are freed
with the model even when a cached value refers back to the model (a density, a grid); every
live model of equal value holds the *same* store, so equal models share their entries.
Other objects fall back to a weak-keyed table.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

__all__ = ["derived", "cached_keys", "forget", "shared_store", "DerivedStore"]

T = TypeVar("T")

_STORE: weakref.WeakKeyDictionary[Any, dict[Hashable, Any]] = weakref.WeakKeyDictionary()
_LOCK = threading.RLock()


class DerivedStore(dict):
    """The derived data of one model value (a dict that can be weakly referenced)."""

    __slots__ = ("__weakref__",)


_SHARED: weakref.WeakValueDictionary[Hashable, DerivedStore] = weakref.WeakValueDictionary()


def shared_store(value_key: Hashable) -> DerivedStore:
    """The store shared by every live model whose value is ``value_key``: a model keeps
    the store it gets here as its ``_derived_store`` (the table holds it only weakly)."""
    with _LOCK:
        store = _SHARED.get(value_key)
        if store is None:
            store = _SHARED[value_key] = DerivedStore()
        return store


def _slot(model: Any, create: bool) -> dict[Hashable, Any] | None:
    own = getattr(model, "_derived_store", None)
    if own is not None:
        return own
    slot = _STORE.get(model)
    if slot is None and create:
        slot = _STORE[model] = {}
    return slot


def derived(model: Any, key: Hashable, factory: Callable[[], T], *,
            keep: int | None = None) -> T:
    """``factory()`` computed once for ``(model, key)`` and cached with the model.

    ``keep``: at most this many entries of the key's family (keys sharing ``key[:2]``,
    e.g. every ``("galerkin", "assembled", …)``) stay cached, the least recently used
    dropped first — for values that are large and keyed on user choices (a sampled
    measure's seed and size), which would otherwise pile up for as long as the model
    lives."""
    if keep is not None and (not isinstance(key, tuple) or keep < 1):
        raise ValueError("keep needs a tuple key and keep >= 1")
    with _LOCK:
        slot = _slot(model, create=True)
        if key in slot:
            if keep is not None:                 # most recently used last
                slot[key] = slot.pop(key)
            return slot[key]
    value = factory()          # outside the lock: factories may call derived() again
    with _LOCK:
        value = slot.setdefault(key, value)
        if keep is not None:
            family = [k for k in slot if isinstance(k, tuple) and k[:2] == key[:2]]
            for k in family[:max(0, len(family) - keep)]:
                if k != key:
                    del slot[k]
        return value


def cached_keys(model: Any) -> list[Hashable]:
    """The keys cached for ``model`` (for tests and diagnostics)."""
    with _LOCK:
        return list(_slot(model, create=False) or {})


def forget(model: Any, prefix: tuple = ()) -> None:
    """Drop cached entries of ``model`` whose key starts with ``prefix`` (all by default)."""
    with _LOCK:
        slot = _slot(model, create=False)
        if slot is None:
            return
        for k in [k for k in slot if isinstance(k, tuple) and k[:len(prefix)] == prefix]:
            del slot[k]
