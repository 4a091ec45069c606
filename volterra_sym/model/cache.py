"""The one place where data derived from a frozen model is cached.

Every layer that derives something expensive from a model (stationary density, Gaussian
moments, grids, samplers, Galerkin matrices, ...) asks ``derived(model, key, factory)``:
the value is computed once per model (and per ``key``) and kept as long as the model
lives. Models are immutable, so a cached value can never go stale; no module sets
attributes on a model.

Keys are tuples whose first entry names the owning layer, e.g.
``("density", "stationary")`` or ``("spectral", "grid", N, cut)``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

__all__ = ["derived", "cached_keys", "forget"]

T = TypeVar("T")

_STORE: weakref.WeakKeyDictionary[Any, dict[Hashable, Any]] = weakref.WeakKeyDictionary()
_LOCK = threading.RLock()


def derived(model: Any, key: Hashable, factory: Callable[[], T]) -> T:
    """``factory()`` computed once for ``(model, key)`` and cached with the model."""
    with _LOCK:
        slot = _STORE.get(model)
        if slot is None:
            slot = _STORE[model] = {}
        if key in slot:
            return slot[key]
    value = factory()          # outside the lock: factories may call derived() again
    with _LOCK:
        return slot.setdefault(key, value)


def cached_keys(model: Any) -> list[Hashable]:
    """The keys cached for ``model`` (for tests and diagnostics)."""
    with _LOCK:
        return list(_STORE.get(model, {}))


def forget(model: Any, prefix: tuple = ()) -> None:
    """Drop cached entries of ``model`` whose key starts with ``prefix`` (all by default)."""
    with _LOCK:
        slot = _STORE.get(model)
        if slot is None:
            return
        for k in [k for k in slot if isinstance(k, tuple) and k[:len(prefix)] == prefix]:
            del slot[k]
