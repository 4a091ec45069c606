"""Numerical backends: lowering kernels and truncated series to numbers.

A backend is an object with

* ``name`` and ``applies(model, f) -> str | None`` (``None`` if it applies, else the reason);
* ``kernel(model, f, channels, sorted_lags, *, return_error=False, **options)`` ->
  ndarray ``(P,)`` (or ``(values, error_estimate)`` with ``return_error``) for lags of
  shape ``(P, N)`` sorted along the last axis (the symmetric extension is the caller's);
* ``mean0(hierarchy) -> float`` and ``series_terms(hierarchy, u, times) -> ndarray``
  of shape ``(order+1, len(times))``.

``method="auto"`` picks the first that applies in the order exact → spectral → taylor;
results carry the method that produced them (``result.method``).
"""

from __future__ import annotations

import importlib

from ..errors import InvalidInputError, NotApplicableError

__all__ = ["available_methods", "get_backend", "select_backend", "select_kernel_backend",
           "BackendError"]

#: method name -> module holding ``BACKEND``; tried in this order by ``auto``.
_MODULES = {"exact": "exact_linear", "spectral": "spectral", "taylor": "taylor"}


class BackendError(NotApplicableError):
    """No backend can do what was asked (the message says why for each)."""


def available_methods() -> list[str]:
    """Backends installed in this version."""
    out = []
    for name in _MODULES:
        try:
            get_backend(name)
            out.append(name)
        except BackendError:
            pass
    return out


def get_backend(name: str):
    if name not in _MODULES:
        raise InvalidInputError(f"unknown method {name!r}; choose one of "
                           f"{['auto', *_MODULES]}")
    try:
        mod = importlib.import_module(f".{_MODULES[name]}", __name__)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.endswith(_MODULES[name]):
            raise BackendError(f"method {name!r} is not available in this version") from None
        raise
    return mod.BACKEND


def _select(model, f, method: str, what: str):
    if method != "auto":
        backend = get_backend(method)
        reason = backend.applies(model, f)
        if reason is not None:
            raise BackendError(f"method {method!r} does not apply to {what}: {reason}")
        return backend
    reasons = []
    for name in _MODULES:
        try:
            backend = get_backend(name)
        except BackendError as exc:
            reasons.append(f"{name}: {exc}")
            continue
        reason = backend.applies(model, f)
        if reason is None:
            return backend
        reasons.append(f"{name}: {reason}")
    raise BackendError(f"no method applies to {what}: " + "; ".join(reasons))


def select_backend(hierarchy, method: str, what: str):
    """The backend for a hierarchy-level computation (``mean0``, ``series_terms``)."""
    return _select(hierarchy.model, hierarchy.f, method, what)


def select_kernel_backend(kernel, method: str):
    """The backend for evaluating one kernel."""
    return _select(kernel.model, kernel.observable, method, f"kernel {kernel}")

