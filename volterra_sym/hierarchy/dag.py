"""The response-kernel hierarchy as a DAG of shared sub-results (docs/theory.md §4).

For a channel tuple ``k = (k_1, …, k_N)`` and sorted lags ``σ_1 ≤ … ≤ σ_N`` (gaps
``τ_j = σ_j - σ_{j-1}``, ``σ_0 = 0``) the recursion

    g_0 = f ,   g_j = L_{k_j} P_{τ_j} g_{j-1} ,   K_k(σ) = <p0, g_N>

shares every prefix: the node of ``(k_1, …, k_j)`` is used by all kernels whose channel
tuple starts with it. ``ResponseHierarchy.graph`` is a ``networkx.DiGraph`` with

* one ``observable`` node ``("f",)``;
* one ``recursion`` node ``("g", k)`` per channel tuple of length 1..order
  (exactly ``Σ_{j≤N} m^j`` of them), edge parent → child labelled ``L_{k_j} P_{τ_j}``;
* one ``kernel`` node ``("K", k)`` per tuple, edge ``("g", k)`` → ``("K", k)``.

Node attributes: ``kind``, ``order``, ``channels``, ``expr`` (the local step, in terms of
the parent's symbol) and ``tree`` (the full unevaluated operator tree).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence

import networkx as nx
import numpy as np
import sympy as sp

from ..arrays import check_int, real_array
from ..density import stationary_density
from ..errors import (
    AccuracyNotReachedError,
    InvalidInputError,
    ResourceLimitError,
)
from ..model import SRNN
from ..operators import (
    KickPerturbation,
    Perturbation,
    Semigroup,
    StationaryAverage,
    model_ref,
)
from ..results import Estimate, PartialSums, SeriesTerms, label_points
from .composite import CompositeKernel, is_composite, kick_sequences
from .convergence import check_eps_range, diagnose_series
from .hooks import implementation
from .kernel import (
    MAX_RECURSION_NODES,
    ResponseKernel,
    channel_index,
    check_lags,
    evaluate_kernels,
    gap_symbols,
    lag_symbols,
    parse_observable,
    request_key,
    vanishing_order,
)
from .routes import select_route, with_fallback

__all__ = ["ResponseHierarchy", "MAX_RECURSION_NODES", "recursion_node_count"]


def recursion_node_count(m: int, order: int, kicks: bool = False) -> int:
    """Recursion nodes of the hierarchy DAG: ``m^N`` of order ``N`` (``Σ_{N≤order} m^N``),
    or with the input inside the activation one per sequence of kicks, ``2^{N-1} m^N`` of
    order ``N`` (one of the ``2^{N-1}`` compositions ``(j_1..j_r)`` of ``N``, and a channel
    for each of the ``N`` slots)."""
    base = 2 * m if kicks else m
    return order if base == 1 else m * (base**order - 1) // (base - 1)


def _count_text(n: int) -> str:
    return f"{n:,}" if n < 10**15 else f"about 10^{math.floor(math.log10(n))}"


def _is_index(c) -> bool:
    return isinstance(c, (int, np.integer, sp.Integer)) and not isinstance(c, bool)


def _channel_spec(channels) -> tuple:
    """``channels`` as a tuple (an index ``k`` as ``(k,)``); anything but an integer or a
    sequence (tuple, list, 1-d array) of them or of kicks is refused. The entries are checked
    against the model by :meth:`ResponseHierarchy.kernel`."""
    if _is_index(channels):
        return (channels,)
    if isinstance(channels, np.ndarray) and channels.ndim == 1:
        channels = list(channels)
    if not isinstance(channels, (tuple, list)) or not channels:
        raise InvalidInputError(f"channels must be an integer or a non-empty tuple of "
                                f"integers such as (0, 1) (0-based), got "
                                f"{type(channels).__name__} {channels!r:.60}",
                                param="channels")
    return tuple(tuple(c) if isinstance(c, list) else c for c in channels)


def _check_size(model: SRNN, order: int) -> None:
    """Refuse (:class:`ResourceLimitError`) a hierarchy whose DAG would have more than
    :data:`MAX_RECURSION_NODES` recursion nodes (:func:`recursion_node_count`)."""
    kicks = model.input == "activation"
    # the count is ≥ order: refuse a huge order before raising m to it (10**400 for m = 1)
    n_nodes = order if order > MAX_RECURSION_NODES else \
        recursion_node_count(model.m, order, kicks)
    if n_nodes <= MAX_RECURSION_NODES:
        return
    most = 1
    while recursion_node_count(model.m, most + 1, kicks) <= MAX_RECURSION_NODES:
        most += 1
    how = " (input inside the activation: one node per sequence of kicks)" if kicks else ""
    raise ResourceLimitError(
        f"order {_count_text(order)} with m = {model.m} channel(s) needs "
        f"{'at least ' if order > MAX_RECURSION_NODES else ''}{_count_text(n_nodes)} "
        f"recursion nodes{how}, more than the limit {MAX_RECURSION_NODES:,}; lower the order "
        f"to at most {most}", estimate=float(min(n_nodes, 10**300)),
        budget=float(MAX_RECURSION_NODES), unit="nodes", option="order")


def _node_symbol(channels: tuple[int, ...]) -> sp.Symbol:
    if not channels:
        return sp.Symbol("f")
    sep = "," if any(k >= 9 for k in channels) else ""
    return sp.Symbol("g_{" + sep.join(str(k + 1) for k in channels) + "}")


class ResponseHierarchy:
    """All response kernels of ``model`` for ``observable`` up to ``order``.

    Parameters
    ----------
    model : the :class:`~volterra_sym.SRNN`.
    observable : ``f(h1..hn)``, a string (parsed safely) or SymPy expression; default the
        model's observable (``h1`` unless the model file says otherwise).
    order : the highest kernel order ``N ≥ 1``.
    """

    def __init__(self, model: SRNN, observable: str | sp.Expr | None = None, order: int = 1):
        if not isinstance(model, SRNN):
            raise InvalidInputError(f"model must be an SRNN (volterra_sym.SRNN(...) or "
                                    f"load_model(name)), got {type(model).__name__} "
                                    f"{model!r:.60}", param="model")
        order = check_int(order, "order", lo=1)
        _check_size(model, int(order))
        self.model = model
        self.f: sp.Expr = parse_observable(model, observable)
        self.order = int(order)
        self.ref = model_ref(model)
        self.sigma = lag_symbols(self.order)
        self.tau = gap_symbols(self.order)
        self._graph: nx.DiGraph | None = None

    # ------------------------------------------------------------------ construction
    @property
    def graph(self) -> nx.DiGraph:
        """The hierarchy DAG (module docstring), built on first use (a single kernel's
        evaluation walks only its own prefix path and never needs it); frozen
        (``networkx.freeze``: adding or removing nodes or edges raises)."""
        if self._graph is None:
            # frozen: the evaluations walk this DAG, so no caller may change its nodes
            # or edges (networkx raises NetworkXError)
            self._graph = nx.freeze(self._build_kicks() if self.model.input == "activation"
                                    else self._build())
        return self._graph

    def _build(self) -> nx.DiGraph:
        G, ref = nx.DiGraph(), self.ref
        G.add_node(("f",), kind="observable", order=0, channels=(), expr=self.f, tree=self.f,
                   symbol=_node_symbol(()))
        for N in range(1, self.order + 1):
            for k in itertools.product(range(self.model.m), repeat=N):
                parent = ("g", k[:-1]) if N > 1 else ("f",)
                pdata = G.nodes[parent]
                tau = self.tau[N - 1]
                local = Perturbation(k[-1], Semigroup(tau, pdata["symbol"], ref), ref)
                tree = Perturbation(k[-1], Semigroup(tau, pdata["tree"], ref), ref)
                node = ("g", k)
                G.add_node(node, kind="recursion", order=N, channels=k, expr=local, tree=tree,
                           symbol=_node_symbol(k))
                G.add_edge(parent, node, op=f"L_{k[-1] + 1} P_tau{N}")
                G.add_node(("K", k), kind="kernel", order=N, channels=k,
                           expr=StationaryAverage(_node_symbol(k), ref),
                           tree=StationaryAverage(tree, ref))
                G.add_edge(node, ("K", k), op="<p0, .>")
        return G

    def _build_kicks(self) -> nx.DiGraph:
        """Input inside the activation (docs/theory.md §10): node ``("g", kicks)`` for every
        sequence of kicks of total order ≤ ``order``; its children are ``L^{(j)}_k P_τ``
        for every ``j`` up to the order left."""
        G, ref = nx.DiGraph(), self.ref
        G.add_node(("f",), kind="observable", order=0, channels=(), expr=self.f, tree=self.f,
                   symbol=_node_symbol(()))
        for N in range(1, self.order + 1):
            for kicks in kick_sequences(self.model.m, N):
                r = len(kicks)
                parent = ("g", kicks[:-1]) if r > 1 else ("f",)
                pdata = G.nodes[parent]
                tau = self.tau[r - 1]
                local = KickPerturbation(kicks[-1], Semigroup(tau, pdata["symbol"], ref), ref)
                tree = KickPerturbation(kicks[-1], Semigroup(tau, pdata["tree"], ref), ref)
                sym = sp.Symbol("g_{" + "|".join("".join(str(k + 1) for k in c)
                                                 for c in kicks) + "}")
                node = ("g", kicks)
                G.add_node(node, kind="recursion", order=N, channels=kicks, expr=local,
                           tree=tree, symbol=sym)
                G.add_edge(parent, node, op=f"L^({len(kicks[-1])}) P_tau{r}")
                G.add_node(("K", kicks), kind="kernel", order=N, channels=kicks,
                           expr=StationaryAverage(sym, ref), tree=StationaryAverage(tree, ref))
                G.add_edge(node, ("K", kicks), op="<p0, .>")
        return G

    @property
    def recursion_nodes(self) -> list:
        """The ``g_j`` nodes (``Σ_{j≤order} m^j`` of them)."""
        return [n for n, d in self.graph.nodes(data=True) if d["kind"] == "recursion"]

    @property
    def density(self):
        return stationary_density(self.model)

    # ------------------------------------------------------------------ kernels
    def kernel(self, channels: int | Sequence[int]) -> ResponseKernel | CompositeKernel:
        """The kernel ``K_{k_1…k_N}`` (``channels`` 0-based integers, length ``N ≤ order``);
        with the input inside the activation also the composite form ``((0, 1), (0,))``
        (kicks carrying several channels, docs/theory.md §10: a
        :class:`~volterra_sym.hierarchy.composite.CompositeKernel`). Anything else (floats,
        strings, bools, an empty or too long tuple) is refused (:class:`InvalidInputError`,
        ``param="channels"``)."""
        spec = _channel_spec(channels)
        if is_composite(spec) or (self.model.input == "activation" and self.model.features
                                  and len(spec) > 0 and not _is_index(channels)):
            ck = CompositeKernel(self.model, self.f, spec, self.ref)
            if ck.order > self.order:
                raise InvalidInputError(f"kicks {ck.kicks} have order {ck.order}; this "
                                        f"hierarchy holds orders 1..{self.order}",
                                        param="channels")
            return ck
        if not 1 <= len(spec) <= self.order:
            raise InvalidInputError(f"channels {spec} has length {len(spec)}; this hierarchy "
                                    f"holds orders 1..{self.order}", param="channels")
        return ResponseKernel(self.f, tuple(channel_index(self.model, c) for c in spec),
                              self.ref)

    def _request_key(self, channels) -> tuple:
        """The key of :func:`~volterra_sym.hierarchy.kernel.evaluate_kernels` for
        ``channels`` (validated by :meth:`kernel`): the channel tuple, or the kicks."""
        K = self.kernel(channels)
        return request_key(self.model, K.channels if isinstance(K, ResponseKernel)
                           else K.kicks)

    def kernels(self, order: int) -> list[ResponseKernel]:
        """All kernels of one order, channel tuples in lexicographic order (input inside
        the activation: every composition, :func:`~volterra_sym.hierarchy.composite.
        kick_sequences`)."""
        if self.model.input == "activation":
            return [self.kernel(k) for k in kick_sequences(self.model.m, order)]
        return [self.kernel(k) for k in itertools.product(range(self.model.m), repeat=order)]

    def evaluate_kernels(self, requests, method: str = "auto", **options):
        """Several kernels ``{channels: lags (..., N)}`` in one walk of :attr:`graph`
        (every shared prefix ``g_j`` computed once); returns ``{channels: KernelValues}``
        under the caller's keys (``channels`` as for :meth:`kernel`). ``requests`` may also
        be a lag array ``(..., order)``: then every kernel of orders ``1..order`` is
        evaluated, one with ``N`` lags at the first ``N`` lags of each point (input inside
        the activation: every sequence of kicks, :meth:`kernels`)."""
        if not isinstance(requests, Mapping):
            lags = check_lags(requests, self.order, exact_shape=True)
            every = [K.kicks if isinstance(K, CompositeKernel) else K.channels
                     for N in range(1, self.order + 1) for K in self.kernels(N)]
            requests = {k: lags[..., :len(k)] for k in every}
        keys: dict[tuple, object] = {}
        for key in requests:
            canon = self._request_key(key)
            if canon in keys:
                raise InvalidInputError(f"requests {keys[canon]!r} and {key!r} name the same "
                                        "kernel", param="requests")
            keys[canon] = key
        graph = self.graph if self.model.input == "additive" else None
        res = evaluate_kernels(self.model, self.f, {k: requests[key] for k, key in keys.items()},
                               method, graph=graph, **options)
        return {key: res[k] for k, key in keys.items()}

    # ------------------------------------------------------------------ numbers
    def mean0(self, method: str = "auto", **options) -> Estimate:
        """``<f>_0 = E_0[f(h)]``, the stationary mean of the observable, as an
        :class:`~volterra_sym.results.Estimate` (a 0-d value with the route's error estimate,
        ``None`` where it gives none, and the route's name); ``float(...)`` is the number.
        ``options`` go to the route as for kernels (galerkin: ``degree``, ``tol``,
        ``paths``, ``seed``, ``time_budget``, ``measure``, ``check``; spectral: ``tol``;
        exact: none)."""
        route = self.route(method, f"<{self.f}>_0")
        out = route.mean0(self, **options)
        # (value, error) or (value, error, the route's facts: degree, measure, ...)
        value, err, *facts = out if isinstance(out, tuple) else (out, None)
        value = float(value)
        if not math.isfinite(value):
            raise AccuracyNotReachedError(f"<{self.f}>_0 ({route.name}): the value is not "
                                          f"finite ({value})")
        return Estimate(value, None if err is None else float(err), route.name,
                        {"observable": str(self.f), **({"route": facts[0]} if facts else {})})

    def series_terms(self, u: Callable, times, method: str = "auto",
                     **options) -> SeriesTerms:
        """``[T_0(t), T_1(t), …, T_order(t)]`` at ``times`` as
        :class:`~volterra_sym.results.SeriesTerms` of shape ``(order+1, len(times))``
        (``np.asarray`` gives the values; ``.error`` the estimate, ``None`` = unknown;
        ``.method`` the route used). ``options`` go to the backend (``tol`` for
        spectral, ``degree`` for taylor).

        ``T_0 = <f>_0``; ``T_N`` (no power of ε) is the N-th Volterra term of docs/theory.md §4
        for the input ``u(t) -> array (m,)`` switched on at ``t = 0``.
        """
        times = check_times(times)
        u = check_input(u, self.model.m)
        backend = self.route(method, f"the series of {self.f}")
        # the routes integrate forward through strictly increasing times: repeated ones are
        # computed once and copied
        uniq, inverse = np.unique(times, return_inverse=True)
        backend, res = with_fallback(backend, self.model, self.f, method,
                                     lambda r: r.series_terms(self, u, uniq, **options))
        if not isinstance(res, SeriesTerms):
            res = SeriesTerms(res, None, backend.name, {"order": self.order})
        _check_series_finite(res, backend.name)
        details = {**res.details, "times": label_points(times)}   # the HTML rows' labels
        if uniq.size == times.size:
            return SeriesTerms(res.values, res.error, res.method, details)
        err = None if res.error is None else np.asarray(res.error)[:, inverse]
        return SeriesTerms(np.asarray(res.values)[:, inverse], err, res.method, details)

    def series(self, u: Callable, times, eps, method: str = "auto", *,
               check: bool = True, **options) -> PartialSums:
        """Partial sums ``S_N(t) = Σ_{j≤N} ε^j T_j(t)`` for ``N = 0..order``.

        Returns :class:`~volterra_sym.results.PartialSums` of shape
        ``(order+1, len(times))`` for scalar ``eps`` and ``(len(eps), order+1, len(times))``
        for an array of ε, with the error ``Σ_{j≤N} |ε|^j err(T_j)`` of the computed terms
        (``None`` where a term's error is unknown; the remainder beyond ``order`` is not in
        it: see :meth:`diagnose`). With ``check`` a :class:`ConvergenceWarning` is issued
        for every ε outside the estimated radius of convergence. ``options`` go to the
        route as in :meth:`series_terms`.
        """
        eps_arr = check_eps(eps, self.order)
        res = self.series_terms(u, times, method=method, **options)
        terms = np.asarray(res)
        check_eps_range(eps_arr, self.order, np.max(np.abs(terms[1:]), axis=1))
        if check:
            for e in np.atleast_1d(eps_arr):
                diagnose_series(terms, float(e), warn=True, terminates_at=self.terminates_at)
        powers = eps_arr[..., None] ** np.arange(self.order + 1)
        out = np.cumsum(powers[..., :, None] * terms, axis=-2)
        err = None if res.error is None else np.cumsum(
            np.abs(powers)[..., :, None] * np.asarray(res.error), axis=-2)
        if not np.all(np.isfinite(out)) or (err is not None and not np.all(np.isfinite(err))):
            raise AccuracyNotReachedError(f"the partial sums of {self.f} exceed the float "
                                          "range; rescale the observable")
        return PartialSums(out, err, res.method,
                           {"eps": eps_arr.tolist(), "terms": dict(res.details)})

    def response_functional(self, degree: int, **taylor_options):
        """The linear functional ``ℓ(t)`` with ``Σ_{N≤order} ε^N T_N(t) ≈ <ℓ(t), S(X)_{0,t}>``
        on the response feature ``X^{(k,q)}(s) = ∫_0^s r^q u_k(r) dr`` (docs/theory.md §5), built
        from the short-lag coefficients ``c_{k,p}`` with ``|p| ≤ degree``; see
        :func:`volterra_sym.features.functional.response_functional` (registered by the
        features layer, :mod:`volterra_sym.hierarchy.hooks`)."""
        return implementation("response_functional")(self, degree, **taylor_options)

    @property
    def terminates_at(self) -> int | None:
        """The order beyond which every kernel vanishes identically, if known: the degree
        of a polynomial observable of a linear model (``L_k`` lowers it, ``P_s`` keeps it)."""
        return vanishing_order(self.model, self.f)

    def diagnose(self, u: Callable, times, eps: float, method: str = "auto"):
        """Ratio-test diagnostics of the partial sums at ``eps`` (one real number)
        (:class:`~volterra_sym.hierarchy.convergence.SeriesDiagnostics`)."""
        eps_arr = check_eps(eps, self.order)
        if eps_arr.ndim != 0:
            raise InvalidInputError(f"eps must be one real number for diagnose, got shape "
                                    f"{eps_arr.shape}", param="eps")
        return diagnose_series(np.asarray(self.series_terms(u, times, method=method)),
                               float(eps_arr), terminates_at=self.terminates_at)

    def route(self, method: str = "auto", what: str | None = None):
        """The route that evaluates this hierarchy's numbers for ``method`` (``"auto"``: the
        first that applies, docs/theory.md); its ``name`` says which. Refusals are the
        route's typed errors, naming ``what`` (default: ``<f>_0``)."""
        return select_route(self.model, self.f, method, what or f"<{self.f}>_0")

    def __repr__(self) -> str:
        return (f"ResponseHierarchy({self.model!r}, f={self.f}, order={self.order}, "
                f"nodes={self.graph.number_of_nodes()})")

    #: at most this many kernels are written out by :meth:`_repr_latex_`
    LATEX_KERNELS = 24

    def _repr_latex_(self) -> str:
        """Jupyter: every kernel up to ``order`` in operator form (the first
        :attr:`LATEX_KERNELS`, then how many more)."""
        rows, total = [], 0
        for N in range(1, self.order + 1):
            for K in self.kernels(N):
                total += 1
                if len(rows) < self.LATEX_KERNELS:
                    rows.append(K.latex().replace(" = ", " &= ", 1))
        if total > len(rows):
            rows.append(rf"&\dots\ \text{{and {total - len(rows)} more kernels}}")
        head = (rf"\text{{response hierarchy of {self.model.name}, }} f = {sp.latex(self.f)}"
                rf",\ \text{{orders }} 1..{self.order}")
        return ("$\\displaystyle \\begin{aligned}&" + head + r" \\ "
                + r" \\ ".join(rows) + r"\end{aligned}$")


def _check_series_finite(res: SeriesTerms, route: str) -> None:
    """Refuse series terms (or their error estimate) that left the float range: a route
    integrating a huge input ``u`` can overflow to inf/NaN, and such terms are never
    returned (:class:`InvalidInputError` naming ``u``, as the routes that check it)."""
    vals = np.asarray(res.values)
    err = None if res.error is None else np.asarray(res.error)
    if np.all(np.isfinite(vals)) and (err is None or np.all(np.isfinite(err))):
        return
    bad = [N for N in range(vals.shape[0])
           if not (np.all(np.isfinite(vals[N]))
                   and (err is None or np.all(np.isfinite(err[N]))))]
    raise InvalidInputError(
        f"{route} series: the terms of order {bad} (or their error estimates) overflow the "
        "float range (order N grows like |u|^N; the input u is too large): scale u down and "
        "eps up, or lower the order", param="u")


#: the longest observation time accepted (in the model's time unit): the forward forms
#: integrate the input over [0, t], so their cost grows with t
MAX_TIME = 1e4


def check_times(times) -> np.ndarray:
    """Validate an observation-time grid: 1-d, real, finite, ``0 ≤ t ≤ MAX_TIME``,
    non-decreasing (``InvalidInputError`` naming ``times``)."""
    def bad(msg: str) -> InvalidInputError:
        return InvalidInputError(msg, param="times")
    t = real_array(times, "times", objects=True, finite=False)
    if t.ndim == 0:
        t = t[None]
    if t.ndim != 1 or t.size == 0:
        raise bad(f"times must be a non-empty 1-d array, got shape {t.shape}")
    if not np.all(np.isfinite(t)):
        raise bad("times must be finite (found NaN or inf)")
    if t[0] < 0:
        raise bad(f"times must be ≥ 0 (the input starts at t = 0), got {t[0]}")
    if np.any(np.diff(t) < 0):
        i = int(np.argmax(np.diff(t) < 0))
        raise bad(f"times must be non-decreasing: times[{i + 1}] = {t[i + 1]} < "
                  f"times[{i}] = {t[i]}")
    if t[-1] > MAX_TIME:
        raise bad(f"times must be ≤ {MAX_TIME:g} (the series integrates the input over "
                  f"[0, t]), got {t[-1]:g}; observe over a shorter horizon")
    return t


def check_eps(eps, order: int | None = None) -> np.ndarray:
    """Validate input amplitudes: a real finite number or a non-empty 1-d array of them,
    with ``ε^order`` in the float range when ``order`` is given
    (:func:`~volterra_sym.hierarchy.convergence.check_eps_range`; ``InvalidInputError``
    naming ``eps``)."""
    def bad(msg: str) -> InvalidInputError:
        return InvalidInputError(msg, param="eps")
    arr = real_array(eps, "eps", objects=True, finite=False,
                     what="a real number or an array of them")
    if arr.ndim > 1 or arr.size == 0:
        raise bad(f"eps must be a number or a non-empty 1-d array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise bad(f"eps must be finite, got {eps!r}")
    if order is not None:
        check_eps_range(arr, order)
    return arr


def check_input(u: Callable, m: int) -> Callable[[float], np.ndarray]:
    """Wrap an input ``u(t)`` so that it returns a real, finite float array of shape
    ``(m,)``; anything else (not callable, complex, None, strings, booleans, the wrong
    shape, NaN/inf) is refused (``InvalidInputError`` naming ``u``) at ``t = 0`` and at
    every later call. Nothing is cut to its real part."""
    if not callable(u):
        raise InvalidInputError(f"the input u must be callable u(t) -> array of shape ({m},), "
                                f"got {type(u).__name__} {u!r:.60}", param="u")

    def bad(msg: str, t: float) -> InvalidInputError:
        return InvalidInputError(f"the input u(t) must return {msg} at t={t}", param="u")

    def wrapped(t: float) -> np.ndarray:
        out = u(t)
        try:
            val = real_array(out, "u", objects=True, finite=False,
                             what="an array of real numbers (nothing is cut to its real part)")
        except InvalidInputError as exc:
            raise InvalidInputError(f"the input u(t) at t={t}: {exc}", param="u") from None
        if val.shape != (m,):
            if m == 1 and val.size == 1:
                val = val.reshape(1)
            else:
                raise bad(f"an array of shape ({m},) (one value per channel), got shape "
                          f"{val.shape}", t)
        if not np.all(np.isfinite(val)):
            raise InvalidInputError(f"the input u(t) is not finite at t={t}: {val}", param="u")
        return val

    wrapped(0.0)
    return wrapped
