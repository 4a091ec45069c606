"""The ``taylor`` route object and the public functions of the Taylor backend."""

from __future__ import annotations

import networkx as nx
import numpy as np
import sympy as sp

from ...errors import (
    AccuracyNotReachedError,
    InvalidInputError,
    ResourceLimitError,
    VolterraSymError,
)
from ...hierarchy.propagation import prefix_graph
from ...model import SRNN
from ...model.cache import derived
from ...model.noise import FEATURE_ACTIVATION_INPUT, FEATURE_STATE_NOISE
from ...operators.powers import multi_indices
from .. import BackendError
from ..scaling import scaled_mean0
from .expansion import TaylorExpansion, coefficient_nodes, kernel_node, taylor_expansion
from .options import (
    DEFAULT_DEGREE,
    TaylorOptions,
    applies,
    check_coefficient_count,
    check_request,
)
from .series import MIN_LAST_SHELL, TaylorSeries, kernel_label

__all__ = ["BACKEND", "taylor_series", "taylor_coefficients", "taylor_radius",
           "taylor_hierarchy"]


def taylor_series(model: SRNN, f=None, channels=(0,), degree: int = DEFAULT_DEGREE,
                  **options) -> TaylorSeries:
    """The short-lag series of ``K_{channels}`` for observable ``f`` (default the model's)
    with all ``c_{k,p}``, ``|p| ≤ degree`` (``options``: ``density`` and sampling keys)."""
    f = model.observable(f)
    k = check_request(model, f, channels)
    o = TaylorOptions.parse({"degree": degree, **options})
    check_coefficient_count(o.degree, len(k))
    return taylor_expansion(model, f, o).series(k, o.degree)


def taylor_coefficients(model: SRNN, f=None, channels=(0,), degree: int = DEFAULT_DEGREE,
                        **options) -> dict[tuple[int, ...], float]:
    """``{p: c_{k,p}}`` for ``|p| ≤ degree``."""
    return taylor_series(model, f, channels, degree, **options).coefficients


def taylor_radius(model: SRNN, f=None, channels=(0,), degree: int = DEFAULT_DEGREE,
                  **options) -> float:
    """Estimated radius of convergence (in the largest gap ``max_j τ_j``) of the short-lag
    series of ``K_{channels}``: lags whose largest gap exceeds it are refused."""
    return taylor_series(model, f, channels, degree, **options).radius


def taylor_hierarchy(hierarchy, degree: int = DEFAULT_DEGREE, *, evaluate: bool = True,
                     kernels=None, **options) -> TaylorExpansion:
    """The Taylor expansion of every kernel of ``hierarchy`` (orders ``1..order``,
    ``|p| ≤ degree``) on the nodes of ``hierarchy.graph``: the chains of every recursion
    node and, with ``evaluate``, their stationary averages. ``kernels`` (channel tuples or
    kicks, docs/theory.md §10): only the nodes of these kernels (and their prefixes, built on
    the way). Everything is kept in the model's derived-data cache (later
    ``method="taylor"`` evaluations of the same model, observable and density options reuse
    it); the graph itself is not modified."""
    model, f = hierarchy.model, hierarchy.f
    reason = applies(model, f)
    if reason is not None:
        raise BackendError(f"method 'taylor' does not apply: {reason}")
    o = TaylorOptions.parse({"degree": degree, **options})
    check_coefficient_count(o.degree, hierarchy.order)
    exp = taylor_expansion(model, f, o)
    if kernels is None:
        items = coefficient_nodes(hierarchy.graph, o.degree)
    else:
        items = [(kernel_node(k), p) for k in kernels
                 for p in multi_indices(len(k), o.degree)]
    if evaluate:
        exp.evaluate(hierarchy.graph, items)
    else:
        for s in range(exp.chains.n_shadows + 1):
            for node, p in items:
                exp.chains.get(hierarchy.graph, node, p, 0, s)
    return exp


def other_routes(model: SRNN, f) -> str:
    """The routes other than taylor that apply to ``(model, f)``, and Monte Carlo, as the
    text of a refusal (``"method='galerkin' or Monte Carlo (...)"``)."""
    from ...hierarchy.routes import get_route, route_names

    names = []
    for name in route_names():
        if name == "taylor":
            continue
        try:
            if get_route(name).applies(model, f) is None:
                names.append(f"method={name!r}")
        except (VolterraSymError, ImportError):   # a route that cannot say is not named
            continue
    if model.is_numeric:
        names.append("Monte Carlo (volterra-sym kernel --method montecarlo; "
                     "volterra_sym.montecarlo)")
    return " or ".join(names) if names else "no other route (none applies)"


def _kernel_values(exp: TaylorExpansion, graph: nx.DiGraph, k: tuple[int, ...],
                   lags: np.ndarray, o: TaylorOptions,
                   alternatives: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """Values and error estimates of ``K_k`` at sorted lags, and the route's facts (the
    degree, the truncation part at each lag, the largest truncation — over the lags where
    it is finite —, statistical and rounding parts); with ``tol`` the degree is raised by
    2 up to ``max_degree`` while the truncation error dominates."""
    degree = o.degree
    if o.tol is not None and degree < MIN_LAST_SHELL:   # no truncation estimate below it
        degree = min(MIN_LAST_SHELL, o.max_degree)
    stuck = False
    while True:
        check_coefficient_count(degree, len(k))
        ser = exp.series(k, degree, graph)
        vals, trunc, stat, rnd = ser.evaluate(lags, o.on_radius, alternatives)
        err = trunc + stat + rnd
        if o.tol is None or not np.any(err > o.tol) or degree >= o.max_degree:
            break
        if np.all(stat + rnd > o.tol) or not np.any(trunc > 0.1 * o.tol):
            stuck = True   # raising the degree cannot help: statistical/rounding error
            break
        degree = min(degree + 2, o.max_degree)
    if o.tol is not None and np.any(err > o.tol):
        if stuck:
            remedy = ("the statistical and rounding parts alone exceed tol where it is "
                      "missed, and a higher degree lowers neither: loosen tol" +
                      (" or sample more (paths=)" if np.any(stat > 0) else ""))
        else:
            remedy = "use shorter lags, a higher max_degree, more samples or a looser tol"
        raise AccuracyNotReachedError(
            f"method 'taylor': estimated error {np.max(err):.3g} of K"
            f"{kernel_label(k)} exceeds tol={o.tol:g} at degree {degree} (truncation "
            f"{np.max(trunc):.3g}, statistical {np.max(stat):.3g}, rounding "
            f"{np.max(rnd):.3g}); {remedy}", best=vals, error=err, tol=o.tol)
    finite = trunc[np.isfinite(trunc)]
    facts = {"degree": degree, "truncation_at": trunc,
             "truncation": float(np.max(finite)) if finite.size else None,
             "statistical": float(np.max(stat, initial=0.0)),
             "rounding": float(np.max(rnd, initial=0.0))}
    return vals, err, facts


class _TaylorBackend:
    """The route ``method="taylor"`` (see :mod:`volterra_sym.backends.taylor`)."""

    name = "taylor"
    #: an infinite error estimate means "no bound" (beyond the radius, on_radius='warn')
    unbounded_error = True
    #: docs/theory.md §10–§11: the chains carry the kicks ``L^{(j)}`` and ``D(h)``
    features = frozenset({FEATURE_ACTIVATION_INPUT, FEATURE_STATE_NOISE})

    #: monomial degree of the response functional used by :meth:`series_terms`
    series_degree = 10

    def applies(self, model: SRNN, f) -> str | None:
        return applies(model, f)

    def kernels(self, model: SRNN, f, graph: nx.DiGraph, requests, **options):
        """``{channels: (values, errors)}`` for ``{channels: sorted lags (P, N)}``: the
        coefficients of every requested kernel on the nodes of ``graph``, averaged in one
        pass over the density's points, then each series evaluated."""
        o = TaylorOptions.parse(options)
        reqs = {check_request(model, f, k): np.asarray(v, dtype=float).reshape(-1, len(k))
                for k, v in requests.items()}
        exp = taylor_expansion(model, f, o)
        for k in reqs:
            check_coefficient_count(o.degree, len(k))
        exp.evaluate(graph, [(kernel_node(k), p) for k in reqs
                             for p in multi_indices(len(k), o.degree)])
        alt = other_routes(model, f)
        return {k: _kernel_values(exp, graph, k, lags, o, alt) for k, lags in reqs.items()}

    def kernel(self, model: SRNN, f, channels, sorted_lags, *, return_error: bool = False,
               **options):
        """One kernel at sorted lags ``(P, N)``."""
        k = check_request(model, f, channels)
        lags = np.asarray(sorted_lags, dtype=float).reshape(-1, len(k))
        vals, err, _ = self.kernels(model, f, prefix_graph([k]), {k: lags}, **options)[k]
        return (vals, err) if return_error else vals

    def mean0(self, hierarchy, **options) -> tuple[float, float]:
        """``(<f>_0, error)`` over the density's points; ``options`` as for kernels."""
        o = TaylorOptions.parse(options)
        reason = self.applies(hierarchy.model, hierarchy.f)
        if reason is not None:
            raise BackendError(f"method 'taylor' does not apply: {reason}")
        return scaled_mean0(hierarchy.f, lambda f: taylor_expansion(
            hierarchy.model, f, o).mean0_with_error(), self.name)

    def series_terms(self, hierarchy, u, times, **options) -> np.ndarray:
        """``T_N(t)`` from the short-lag coefficients through the response functional on the
        path signature (docs/theory.md §5): ``T_N(t) ≈ <ℓ_N(t), S(X)_{0,t}>`` with monomial
        degree :attr:`series_degree` (option ``degree`` replaces it; Richardson-extrapolated
        signatures), obtained from ``hierarchy.response_functional`` (registered by
        :mod:`volterra_sym.features`). Valid only while every gap ``≤ t`` lies inside the
        estimated radius of the Taylor series: a later time is refused
        (:class:`~volterra_sym.errors.NotApplicableError` naming the radius), pointing to the
        spectral/exact routes."""
        if set(options) - {"degree"}:
            raise InvalidInputError(f"the taylor series takes only the option 'degree', got "
                                    f"{sorted(options)}", param="options")
        degree = TaylorOptions.parse({"degree": options.get("degree", self.series_degree)}
                                     ).degree
        key = ("taylor", "functional", sp.sympify(hierarchy.f), hierarchy.order, degree)
        functional = derived(hierarchy.model, key,
                             lambda: hierarchy.response_functional(degree))
        radius = min(functional.info["radius"].values())
        if times[-1] >= radius:
            raise BackendError(
                f"method 'taylor' gives series terms only for t below the estimated radius "
                f"{radius:.3g} of its short-lag expansion; got t = {times[-1]:g}: use "
                f"{other_routes(hierarchy.model, hierarchy.f)}")
        if times.size > 1 and np.any(np.diff(times) <= 0):
            raise BackendError("method 'taylor' needs strictly increasing times for its series")
        try:
            return functional.terms(u, times, extrapolate=True)
        except ResourceLimitError as exc:   # name this route's knobs, not the signature's
            option = "fewer times (--n-times), a lower degree (degree=, --degree) or order"
            what = str(exc).removesuffix(f"; {exc.option}")
            raise ResourceLimitError(f"method 'taylor': {what}; {option}", estimate=exc.estimate,
                                     budget=exc.budget, unit=exc.unit, option=option) from None


BACKEND = _TaylorBackend()
