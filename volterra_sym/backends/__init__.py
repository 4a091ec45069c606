"""Numerical routes (representations of the propagation core) for kernels and series.

Each route registers itself with :mod:`volterra_sym.hierarchy.routes`, so that the
hierarchy layer (below this one) can hand ``kernel.evaluate``, ``mean0`` and
``series_terms`` to it without importing it. ``method="auto"`` tries them in the order
exact → spectral → galerkin → taylor; results carry the method that produced them
(``result.method``).

Kernel routes implement :class:`~volterra_sym.hierarchy.propagation.Representation`
(encode ``f``, ``P_τ`` on a batch of gaps, ``L_k``, ``<p0, ·>``) and evaluate kernels with
the one DAG walker :func:`~volterra_sym.hierarchy.propagation.walk_kernels`.
"""

from __future__ import annotations

from ..errors import NotApplicableError
from ..hierarchy.routes import (
    available_routes,
    get_route,
    register_route,
    select_route,
    with_fallback,
)

__all__ = ["available_methods", "get_backend", "select_route", "with_fallback", "BackendError"]

register_route("exact", "volterra_sym.backends.exact_linear:BACKEND", priority=10)
register_route("spectral", "volterra_sym.backends.spectral:BACKEND", priority=20)
register_route("galerkin", "volterra_sym.backends.galerkin:BACKEND", priority=30)
register_route("taylor", "volterra_sym.backends.taylor:BACKEND", priority=40)


class BackendError(NotApplicableError):
    """A route cannot do what was asked (the message says why)."""


def available_methods() -> list[str]:
    """Routes installed in this version, in ``auto`` order."""
    return available_routes()


def get_backend(name: str):
    """The route object registered as ``name``."""
    return get_route(name)
