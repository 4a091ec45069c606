"""Implementations the hierarchy hands work to, registered by the layers above it.

``ResponseHierarchy.response_functional`` (the signature-based series, docs/theory.md §5) is built
by :mod:`volterra_sym.features`, which sits above the hierarchy and the backends. The
features layer registers its implementation here when it is imported; the hierarchy looks
it up by name, loading the provider packages (:data:`PROVIDERS`, a plugin list: data, not
a code dependency) on first use — so no layer imports upward and there is no import cycle.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable

from ..errors import NotApplicableError

__all__ = ["register_implementation", "implementation", "PROVIDERS"]

#: packages that register implementations when imported
PROVIDERS = ("volterra_sym.features",)
_IMPLEMENTATIONS: dict[str, Callable] = {}
_LOCK = threading.Lock()
_LOADED = False


def register_implementation(name: str, fn: Callable) -> None:
    """Register ``fn`` as the implementation of ``name`` (e.g. ``"response_functional"``)."""
    if not callable(fn):
        raise TypeError(f"the implementation of {name!r} must be callable, got {fn!r}")
    with _LOCK:
        _IMPLEMENTATIONS[name] = fn


def implementation(name: str) -> Callable:
    """The registered implementation of ``name`` (the providers are imported on first
    use); :class:`~volterra_sym.errors.NotApplicableError` when none is registered."""
    global _LOADED
    if name not in _IMPLEMENTATIONS and not _LOADED:
        _LOADED = True
        for mod in PROVIDERS:
            importlib.import_module(mod)
    fn = _IMPLEMENTATIONS.get(name)
    if fn is None:
        raise NotApplicableError(f"no implementation of {name!r} is registered (providers: "
                                 f"{', '.join(PROVIDERS)})")
    return fn
