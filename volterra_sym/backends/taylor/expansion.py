"""Taylor coefficients on the nodes of the hierarchy DAG (docs/theory.md §4–§5).

The recursion node ``("g", (k_1..k_j))`` of the hierarchy stands for
``g_j = L_{k_j} P_{τ_j} g_{j-1}``. With ``P_τ = Σ_q τ^q L0^q / q!`` its Taylor expansion in
the gaps is

    g_j = Σ_{p ∈ ℕ^j} Π_i τ_i^{p_i}/p_i! · C_j[p] ,
    C_0[()] = f ,   C_j[p] = L_{k_j} L0^{p_j} C_{j-1}[p_1..p_{j-1}] ,

so the coefficient ``c_{k,p} = <p0, C_N[p]>`` of ``K_k`` lives on the node of ``k`` and its
integrand is built from the parent node's chains. With the input inside the activation
(docs/theory.md §10) a node is named by kicks ``κ = (κ_1..κ_r)`` and ``L_{k_j}`` is the kick
operator ``L^{(j_i)}_{κ_i}`` (:meth:`ChainSpace.L <volterra_sym.operators.powers.ChainSpace.L>`);
with ``σ(h)`` (§11) ``L0`` carries ``½ Σ D_ij(h) ∂_i∂_j``. One power ``p_i`` per kick.

:class:`TaylorChains` memoises, per DAG node, the chains ``G(node, p, q) = L0^q C_node[p]``
(``q`` the powers its children need) in the plain chain space and in the shadow spaces of
the rounding estimate; every ``G`` is computed once and shared by every kernel whose channel
tuple passes through the node. :class:`TaylorExpansion` memoises the stationary averages
``c_{k,p}`` per node. Both live in the model's derived-data cache
(:func:`volterra_sym.model.cache.derived`): the hierarchy's graph is only read (its parent
links and channels), never written.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from contextlib import contextmanager

import networkx as nx
import numpy as np
import sympy as sp

from ...budget import check_count
from ...errors import ResourceLimitError
from ...hierarchy.propagation import prefix_graph
from ...model import SRNN
from ...model.cache import derived
from ...operators.packed import LOWER_COST, ChainPoly
from ...operators.powers import ChainSpace, multi_indices
from ..coverage import batch_error
from .averages import averager, chain_space
from .options import TaylorOptions
from .series import TaylorSeries

__all__ = ["TaylorChains", "TaylorExpansion", "taylor_chains", "taylor_expansion",
           "kernel_node", "kernel_key", "coefficient_nodes", "N_SHADOWS"]

Node = Hashable
#: number of shadow (perturbed) chain spaces of the rounding estimate
N_SHADOWS = 3
#: raw terms the chains of one request may combine, all spaces together (about 30 s on one
#: core at the 0.5–0.7e6 raw terms/s measured for tanh, n = 10; small chains go faster:
#: the kernel-machine example's response functional needs 5e6)
MAX_REQUEST_WORK = 20_000_000


def kernel_key(channels) -> tuple:
    """A channel tuple ``(k_1..k_N)`` of ints, or kicks ``((k..), (k..), ...)`` (docs/theory.md
    §10), normalised to Python ints."""
    return tuple(tuple(int(x) for x in c) if isinstance(c, (tuple, list)) else int(c)
                 for c in channels)


def kernel_node(channels) -> tuple:
    """The recursion node ``("g", k)`` of the channel tuple (or kicks) ``k``."""
    return ("g", kernel_key(channels))


def _parent_and_channel(graph: nx.DiGraph, node: Node) -> tuple[Node, int | tuple[int, ...]]:
    """The parent node and the most recent kick's channel (an int, or a tuple of channels
    for a kick of the input inside the activation)."""
    if node not in graph:
        raise KeyError(f"the hierarchy graph has no node {node}")
    preds = list(graph.predecessors(node))
    if len(preds) != 1:
        raise ValueError(f"hierarchy node {node} must have exactly one parent, has {preds}")
    last = graph.nodes[node]["channels"][-1]
    return preds[0], (tuple(int(x) for x in last) if isinstance(last, (tuple, list))
                      else int(last))


class TaylorChains:
    """Memoised chains ``G(node, p, q) = L0^q C_node[p]`` of one model and observable
    (module docstring), in the plain space (``space=0``) and the shadow spaces
    ``1..N_SHADOWS``."""

    def __init__(self, model: SRNN, f: sp.Expr, shadows: int = N_SHADOWS):
        self.model = model
        self.f = sp.sympify(f)
        self.spaces: list[ChainSpace] = [chain_space(model)] + [
            chain_space(model, i) for i in range(shadows)]
        self._memo: list[dict[tuple[Node, tuple[int, ...], int], ChainPoly]] = [
            {(("f",), (), 0): sp_.from_expr(self.f)} for sp_ in self.spaces]
        self._limit: tuple[int, float] | None = None

    @property
    def space(self) -> ChainSpace:
        return self.spaces[0]

    @property
    def n_shadows(self) -> int:
        return len(self.spaces) - 1

    def get(self, graph: nx.DiGraph, node: Node, powers: Sequence[int], q: int = 0,
            space: int = 0) -> ChainPoly:
        """``G(node, p, q)``, computing (once) what is missing along the DAG path."""
        memo = self._memo[space]
        key = (node, tuple(int(x) for x in powers), int(q))
        got = memo.get(key)
        if got is not None:
            return got
        # walk up to the nearest memoised ancestor, then down again
        path = []
        cur = key
        while cur not in memo:
            path.append(cur)
            nd, p, qq = cur
            if qq > 0:
                cur = (nd, p, qq - 1)
            elif nd == ("f",) or not p:
                raise ValueError(f"no chain {cur}: the powers must have one entry per "
                                 "channel of the node")
            else:
                parent, _ = _parent_and_channel(graph, nd)
                cur = (parent, p[:-1], p[-1])
        sp_ = self.spaces[space]
        for nd, p, qq in reversed(path):
            if qq > 0:
                P = sp_.L0(memo[(nd, p, qq - 1)])
            else:
                parent, k = _parent_and_channel(graph, nd)
                P = sp_.L(k, memo[(parent, p[:-1], p[-1])])
            memo[(nd, p, qq)] = P
            if self._limit is not None:
                check_count(self.work - self._limit[0], self._limit[1],
                            "the Taylor chains of this request (so far)", "raw terms",
                            LOWER_COST + ", or use method='galerkin'")
        return memo[key]

    @property
    def work(self) -> int:
        """Raw terms combined so far in every space (:attr:`PackedAlgebra.work`)."""
        return sum(s.work for s in self.spaces)

    @contextmanager
    def work_budget(self, limit: float):
        """Refuse (:class:`~volterra_sym.errors.ResourceLimitError`) once the chains built
        inside the block have combined more than ``limit`` raw terms."""
        self._limit = (self.work, float(limit))
        try:
            yield
        finally:
            self._limit = None

    def chain(self, graph: nx.DiGraph, channels: Sequence[int], powers: Sequence[int],
              space: int = 0) -> ChainPoly:
        """``C_N[p] = L_{k_N} L0^{p_N} ⋯ L_{k_1} L0^{p_1} f`` (the integrand of
        ``c_{k,p}``)."""
        return self.get(graph, kernel_node(channels), powers, 0, space)

    def keys(self, space: int = 0) -> list[tuple[Node, tuple[int, ...], int]]:
        """The memoised ``(node, p, q)`` of one space."""
        return list(self._memo[space])

    @property
    def n_nodes(self) -> int:
        """Number of distinct chains ``G(node, p, q)`` computed in the plain space."""
        return len(self._memo[0])


def taylor_chains(model: SRNN, f: sp.Expr) -> TaylorChains:
    """The chains of ``(model, f)``, built once per model (derived-data cache)."""
    f = sp.sympify(f)
    return derived(model, ("taylor", "chains", f), lambda: TaylorChains(model, f))


class TaylorExpansion:
    """Coefficients ``c_{k,p} = <p0, C_N[p]>`` of one model, observable and density route,
    memoised per DAG node; :meth:`series` gives the :class:`TaylorSeries` of a kernel."""

    def __init__(self, model: SRNN, f: sp.Expr, density: str = "auto",
                 sampling: dict | None = None):
        self.model = model
        self.f = sp.sympify(f)
        self.density = density
        self.sampling = dict(sampling or {})
        self.chains = taylor_chains(model, self.f)
        # (node, p) -> (value, rounding, per-batch values or None)
        self._values: dict[tuple[Node, tuple[int, ...]], tuple] = {}
        self._mean0: float | None = None
        #: requests ``(order, degree)`` refused for their cost (larger ones fail at once)
        self._refused: dict[tuple[int, int], ResourceLimitError] = {}

    @property
    def space(self) -> ChainSpace:
        return self.chains.space

    @property
    def averager(self):
        """The stationary averages of the density route (built on first use)."""
        return averager(self.model, self.density, tuple(sorted(self.sampling.items())))

    # ------------------------------------------------------------------ coefficients
    def evaluate(self, graph: nx.DiGraph, items: Iterable[tuple[Node, tuple[int, ...]]]
                 ) -> None:
        """Stationary averages of the chains ``C_node[p]`` that have none yet, all in one
        pass over the density's points (the distinct monomials are shared)."""
        todo = list(dict.fromkeys((nd, tuple(int(x) for x in p)) for nd, p in items
                                  if (nd, tuple(int(x) for x in p)) not in self._values))
        if not todo:
            return
        ch = self.chains
        size = (max(len(graph.nodes[nd].get("channels", ())) for nd, _ in todo),
                max(sum(p) for _, p in todo))
        for (order, degree), exc in self._refused.items():
            if size[0] >= order and size[1] >= degree:
                raise exc  # a smaller request already exceeded the budget
        try:
            with ch.work_budget(MAX_REQUEST_WORK):
                polys = [ch.get(graph, nd, p) for nd, p in todo]
                shadows = [[ch.get(graph, nd, p, 0, s) for nd, p in todo]
                           for s in range(1, ch.n_shadows + 1)]
        except ResourceLimitError as exc:
            self._refused[size] = exc
            raise
        avg = self.averager
        vals, batches, rnd = avg.average(polys, shadows)
        if getattr(avg, "approximate", False):
            # the grid p0 (or the tabulated p0 with σ(h)) is approximate: <p0, L0 Q> = 0
            # exactly, so the computed |<p0_approx, L0 Q>| estimates its error for Q
            resid, _, _ = avg.average([self.space.L0(P) for P in polys])
            rnd = rnd + np.abs(resid)
        for i, key in enumerate(todo):
            self._values[key] = (float(vals[i]), float(rnd[i]),
                                 None if batches is None else np.array(batches[i]))

    def values(self, node: Node) -> dict[tuple[int, ...], float]:
        """``{p: c_p}`` of the coefficients computed so far on ``node``."""
        return {p: v[0] for (nd, p), v in self._values.items() if nd == node}

    def series(self, channels, degree: int,
               graph: nx.DiGraph | None = None) -> TaylorSeries:
        """The coefficients ``c_{k,p}``, ``|p| ≤ degree``, as a :class:`TaylorSeries`
        (``graph``: the hierarchy DAG holding the node of ``channels``; default the part of
        it this kernel needs). ``channels`` may be kicks (docs/theory.md §10): one power
        ``p_i`` per kick."""
        k = kernel_key(channels)
        graph = prefix_graph([k]) if graph is None else graph
        node = kernel_node(k)
        ps = multi_indices(len(k), degree)
        self.evaluate(graph, [(node, p) for p in ps])
        data = [self._values[(node, p)] for p in ps]
        coeffs = np.array([d[0] for d in data])
        rounding = np.array([d[1] for d in data])
        batches = None if data[0][2] is None else np.stack([d[2] for d in data])
        avg = self.averager
        return TaylorSeries(k, degree, np.array(ps, dtype=np.int64).reshape(len(ps), len(k)),
                            coeffs, rounding, batches, avg.route, dict(avg.info))

    def mean0(self) -> float:
        """``<p0, f>``."""
        return self.mean0_with_error()[0]

    def mean0_with_error(self) -> tuple[float, float]:
        """``(<p0, f>, error)``: rounding plus, for sampled moments, ``z_B`` batch
        standard errors (:func:`~volterra_sym.backends.coverage.batch_error`)."""
        if self._mean0 is None:
            vals, per, rnd = self.averager.average([self.chains.get(nx.DiGraph(), ("f",), ())])
            err = float(rnd[0]) if rnd is not None else 0.0
            if per is not None:
                err += float(batch_error(np.asarray(per)[0]))
            self._mean0 = (float(vals[0]), err)
        return self._mean0

    def coefficient_count(self) -> int:
        """Number of coefficients computed so far."""
        return len(self._values)


def taylor_expansion(model: SRNN, f: sp.Expr, options: TaylorOptions) -> TaylorExpansion:
    """The expansion of ``(model, f)`` for the density options, built once per model."""
    f = sp.sympify(f)
    key = ("taylor", "expansion", f, options.density, options.sampling_key)
    return derived(model, key, lambda: TaylorExpansion(model, f, options.density,
                                                       options.sampling))


def coefficient_nodes(graph: nx.DiGraph, degree: int) -> list[tuple[Node, tuple[int, ...]]]:
    """``(node, p)`` for every kernel node ``("g", k)`` of ``graph`` and ``|p| ≤ degree``."""
    out = []
    for node, data in graph.nodes(data=True):
        if data.get("kind") == "recursion":
            N = len(data["channels"])
            out.extend((node, p) for p in multi_indices(N, degree))
    return out
