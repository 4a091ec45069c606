"""Numerical routes, registered by the layers that implement them.

The hierarchy describes kernels and series; it does not know how to compute them. Routes
(the backends layer: ``exact``, ``spectral``, ``taylor``, ...) register themselves here,
in the way ``sympy.stats`` hands ``doit()`` to the probability space that knows, so the
hierarchy never imports the layers above it. A route object has

* ``name`` and ``applies(model, f) -> str | None`` (``None`` if it applies, else why not);
* ``features``: the model features of docs/theory.md §10–§11 it treats (``SRNN.features``;
  default none: such models are refused naming the feature);
* ``kernels(model, f, graph, requests, **options)`` -> ``{channels: (values, errors)}``
  for ``requests = {channels: sorted lags (P, N)}``, walking ``graph`` with
  :func:`~volterra_sym.hierarchy.propagation.walk_kernels` (routes that only provide the
  older per-kernel ``kernel(model, f, channels, sorted_lags, return_error=True, **options)``
  are called once per channel tuple);
* ``mean0(hierarchy) -> (value, error)`` (or a bare float: no estimate) and
  ``series_terms(hierarchy, u, times)`` ->
  :class:`~volterra_sym.results.SeriesTerms` (or an array, wrapped with error unknown).

``method="auto"`` tries the registered routes by increasing ``priority`` and uses the
first that applies; every result records the route that produced it.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..budget import blas_threads
from ..density.tails import average_diverges
from ..errors import (
    DivergentAverageError,
    InvalidInputError,
    NotApplicableError,
    UnsupportedOrderError,
)
from .propagation import prefix_graph

__all__ = ["register_route", "get_route", "select_route", "available_routes",
           "route_names", "run_kernels", "check_options"]


@dataclass(frozen=True)
class _Entry:
    name: str
    priority: float
    load: Callable[[], object]
    auto: bool


_ROUTES: dict[str, _Entry] = {}
_LOCK = threading.Lock()
#: packages that register routes when imported (a plugin list: data, not a code
#: dependency — the hierarchy never calls into them except through the registry)
PROVIDERS = ("volterra_sym.backends",)
_LOADED = False


def _load_providers() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        for name in PROVIDERS:
            importlib.import_module(name)


def register_route(name: str, load: Callable[[], object] | str, *, priority: float,
                   auto: bool = True) -> None:
    """Register route ``name``: ``load`` returns the route object (or is the dotted path
    ``"package.module:ATTRIBUTE"`` to import lazily). ``auto`` routes take part in
    ``method="auto"`` in order of ``priority`` (lowest first)."""
    if isinstance(load, str):
        mod_name, _, attr = load.partition(":")

        def load(mod_name=mod_name, attr=attr):  # noqa: ANN202
            return getattr(importlib.import_module(mod_name), attr or "BACKEND")
    with _LOCK:
        _ROUTES[name] = _Entry(name, float(priority), load, auto)


def route_names(*, auto_only: bool = False) -> list[str]:
    """Registered route names in ``auto`` order."""
    _load_providers()
    entries = sorted(_ROUTES.values(), key=lambda e: e.priority)
    return [e.name for e in entries if e.auto or not auto_only]


#: method names a user may try for the Monte Carlo estimators
MONTE_CARLO_NAMES = ("montecarlo", "monte_carlo", "monte-carlo", "mc")


def get_route(name: str):
    """The route object registered as ``name``."""
    _load_providers()
    entry = _ROUTES.get(name)
    if entry is None:
        mc = ("; Monte Carlo kernels are estimates outside the kernel core: "
              "volterra_sym.montecarlo.kick_kernel (first_order_kernel, second_order_kernel) "
              "or the command line's --method montecarlo") if name in MONTE_CARLO_NAMES else ""
        raise InvalidInputError(f"unknown method {name!r}; choose one of "
                                f"{['auto', *route_names()]}{mc}", param="method")
    return entry.load()


def available_routes() -> list[str]:
    """Routes whose implementation can be loaded in this installation."""
    out = []
    for name in route_names():
        try:
            get_route(name)
        except (ImportError, NotApplicableError):
            continue
        out.append(name)
    return out


def select_route(model, f: sp.Expr, method: str, what: str):
    """The route for ``what``: ``method`` itself if it applies, or with ``"auto"`` the first
    registered route that applies. Raises :class:`NotApplicableError` saying why each
    candidate does not apply."""
    if not isinstance(method, str):
        raise InvalidInputError(f"method must be a string, got {type(method).__name__}",
                                param="method")
    diverges = average_diverges(model, f)
    if diverges is not None:
        raise DivergentAverageError(f"{what}: {diverges}", param="f")
    if method != "auto":
        route = get_route(method)
        reason = _applies(route, model, f)
        if reason is not None:
            raise NotApplicableError(f"method {method!r} does not apply to {what}: {reason}")
        return route
    reasons = []
    for name in route_names(auto_only=True):
        route = get_route(name)
        reason = _applies(route, model, f)
        if reason is None:
            return route
        reasons.append(f"{name}: {reason}")
    if not reasons:
        raise NotApplicableError(f"no numerical route is registered (import volterra_sym "
                                 f"to register them) for {what}")
    raise NotApplicableError(f"no method applies to {what}: " + "; ".join(reasons))


def with_fallback(route, model, f: sp.Expr, method: str, call):
    """``(route', call(route'))`` for ``route' = route``, or — with ``method="auto"``, where
    that route cannot reach the order (:class:`~volterra_sym.errors.UnsupportedOrderError`:
    spectral kernels of order ≤ 3, series ≤ 12) — the next route that applies
    (:func:`next_route`); with an explicit method the refusal stands. Every route runs
    with :func:`~volterra_sym.budget.blas_threads` (one BLAS thread by default)."""
    while True:
        try:
            with blas_threads():
                return route, call(route)
        except UnsupportedOrderError:
            nxt = next_route(model, f, route.name) if method == "auto" else None
            if nxt is None:
                raise
            route = nxt


def next_route(model, f: sp.Expr, after: str):
    """The first ``auto`` route after ``after`` (in priority order) that applies, or
    ``None``: where ``auto``'s choice cannot serve a request (an order beyond its limit,
    :class:`~volterra_sym.errors.UnsupportedOrderError`), the next one takes it."""
    names = route_names(auto_only=True)
    for name in names[names.index(after) + 1:] if after in names else []:
        route = get_route(name)
        if _applies(route, model, f) is None:
            return route
    return None


def _applies(route, model, f) -> str | None:
    """``route.applies``, after the features of docs/theory.md §10–§11: a route treats only
    the model features it lists in its ``features`` attribute (default none), so no route
    silently computes the additive, constant-noise answer for another model."""
    missing = sorted(getattr(model, "features", frozenset())
                     - set(getattr(route, "features", ())))
    if missing:
        return f"it does not support {' and '.join(missing)} (docs/theory.md §10–§11)"
    return route.applies(model, f)


def run_kernels(route, model, f, graph, requests, **options):
    """``route.kernels(...)``, or the per-kernel ``route.kernel(...)`` for older routes:
    ``{channels: (values, error)}`` or ``(values, error, facts)`` (a mapping of the route's
    facts, e.g. the Galerkin degree, kept in the result's ``details["route"]``)."""
    if hasattr(route, "kernels"):
        return route.kernels(model, f, graph, requests, **options)
    return {k: route.kernel(model, f, k, lags, return_error=True, **options)
            for k, lags in requests.items()}


def check_options(route, model, f, options: dict) -> None:
    """Validate ``options`` for ``route`` when no lag point is computed (every requested
    kernel vanishes identically, or nothing was requested): the route on a request of no
    lag points (every route checks its options before any work on lags)."""
    if options:
        run_kernels(route, model, f, prefix_graph([(0,)]), {(0,): np.zeros((0, 1))}, **options)
