"""The one propagation core: kernels of any order by walking the hierarchy DAG.

Every numerical route that evaluates kernels is a :class:`Representation` of functions on
the state space (docs/theory.md §4, §6, §9): it can

* ``encode()`` the observable ``f`` (a state of batch size 1),
* ``propagate(state, gaps)`` — apply ``P_τ = e^{τ L0}`` for a batch of gaps ``τ``,
* ``perturb(k, state)`` — apply ``L_k``,
* ``pair(state)`` — ``<p0, g>`` (with a magnitude for the rounding estimate),
* ``pair_perturbed(k, state)`` — ``<p0, L_k g>`` (defaults to ``pair(perturb(k, state))``;
  representations override it when the fused form is cheaper),
* ``size(state)`` — optional: the magnitude ``pair`` would give ``state``, without the
  pairing; where given, a value's magnitude is the largest along its chain
  ``g_1 … g_N`` (the rounding of an early state is carried to the value: K₃ of 1-D
  softplus and sigmoid networks on the spectral grid deviated by up to 2.4× the rounding
  level of their last pairing alone, with a last state 30× smaller than the first).

:func:`walk_kernels` evaluates a set of kernel requests ``{channels: sorted lags}`` with
the recursion of the hierarchy,

    g_0 = f ,   g_j = L_{k_j} P_{τ_j} g_{j-1} ,   K_k(σ) = <p0, g_N> ,

visiting each recursion node ``("g", (k_1..k_j))`` of the DAG once: its state is computed
for the distinct gap prefixes ``(τ_1..τ_j)`` needed below it (one batched ``propagate`` per
node), and every kernel whose channel tuple starts with ``(k_1..k_j)`` shares it. The DAG
is read, never modified; per-representation data lives in the representation.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

__all__ = ["Representation", "walk_kernels", "prefix_graph", "KernelRequest", "unique_rows"]

State = Any
Channels = tuple[int, ...]


class Representation:
    """A numerical representation of functions on the state space (see module docstring).

    States carry a leading batch axis; a state of batch 1 broadcasts against any batch.
    Subclasses implement ``encode``, ``propagate``, ``perturb``, ``pair`` and ``take``.
    """

    #: the route's name (``"exact"``, ``"spectral"``, ...)
    name: str = ""
    #: at most this many batch rows are propagated together (memory bound)
    max_rows: int = 1 << 20

    def encode(self) -> State:
        """The observable ``f`` as a state of batch size 1."""
        raise NotImplementedError

    def propagate(self, state: State, gaps: np.ndarray) -> State:
        """``P_τ g`` for gaps ``τ`` of shape ``(Q,)``; ``state`` has batch 1 or ``Q``."""
        raise NotImplementedError

    def perturb(self, k: int, state: State) -> State:
        """``L_k g`` on every batch row."""
        raise NotImplementedError

    def pair(self, state: State) -> tuple[np.ndarray, np.ndarray]:
        """``(<p0, g>, magnitude)`` per batch row; ``magnitude`` bounds the size of the terms
        summed (it sets the rounding level of the value)."""
        raise NotImplementedError

    def pair_perturbed(self, k: int, state: State) -> tuple[np.ndarray, np.ndarray]:
        """``<p0, L_k g>`` per batch row (fused where cheaper)."""
        return self.pair(self.perturb(k, state))

    def size(self, state: State) -> np.ndarray | None:
        """The magnitude of ``pair(state)`` per batch row, for the rounding level of the
        values built on ``state``; ``None`` (the default): not tracked along the chain."""
        return None

    def take(self, state: State, rows: np.ndarray) -> State:
        """The batch rows ``rows`` of ``state`` (a state of batch 1 is repeated)."""
        raise NotImplementedError


@dataclass(frozen=True)
class KernelRequest:
    """One kernel ``K_channels`` at sorted lags ``(P, N)``."""

    channels: Channels
    sorted_lags: np.ndarray


def prefix_graph(channel_tuples: Iterable[Channels]) -> nx.DiGraph:
    """The part of the hierarchy DAG that the given kernels need: the ``observable`` node
    ``("f",)``, one ``recursion`` node ``("g", k[:j])`` per prefix and one ``kernel`` node
    ``("K", k)`` per tuple — the same nodes and edges as in
    :attr:`ResponseHierarchy.graph <volterra_sym.hierarchy.ResponseHierarchy.graph>`."""
    G = nx.DiGraph()
    G.add_node(("f",), kind="observable", order=0, channels=())
    for k in channel_tuples:
        k = _key(k)
        for j in range(1, len(k) + 1):
            node, parent = ("g", k[:j]), ("g", k[:j - 1]) if j > 1 else ("f",)
            if node not in G:
                G.add_node(node, kind="recursion", order=j, channels=k[:j])
                G.add_edge(parent, node, op=f"{_label(k[j - 1])} P_tau{j}")
        G.add_node(("K", k), kind="kernel", order=len(k), channels=k)
        G.add_edge(("g", k), ("K", k), op="<p0, .>")
    return G


def _key(k) -> tuple:
    """A request key: channel indices, or kicks ``(k_1..k_j)`` (docs/theory.md §10)."""
    return tuple(tuple(int(x) for x in c) if isinstance(c, (tuple, list)) else int(c)
                 for c in k)


def _label(c) -> str:
    return (f"L^({len(c)})_{''.join(str(x + 1) for x in c)}" if isinstance(c, tuple)
            else f"L_{c + 1}")


def _parent(graph: nx.DiGraph, node: Hashable) -> Hashable:
    preds = list(graph.predecessors(node))
    if len(preds) != 1:
        raise ValueError(f"hierarchy node {node} must have exactly one parent, has {preds}")
    return preds[0]


def unique_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(a, axis=0, return_inverse=True)`` through one ``lexsort`` (the
    ``axis=0`` form sorts a structured view: 5–10× slower on 10⁵ float rows)."""
    if a.shape[0] == 0:
        return a, np.zeros(0, dtype=np.intp)
    order = np.lexsort(a.T[::-1])
    s = a[order]
    new = np.ones(s.shape[0], dtype=bool)
    new[1:] = np.any(s[1:] != s[:-1], axis=1)
    inv = np.empty(a.shape[0], dtype=np.intp)
    inv[order] = np.cumsum(new) - 1
    return s[new], inv


def _locate(parent_rows: np.ndarray, child_rows: np.ndarray) -> np.ndarray:
    """Index into ``parent_rows`` (unique rows) of every row of ``child_rows``."""
    if parent_rows.shape[1] == 0:
        return np.zeros(child_rows.shape[0], dtype=np.intp)
    both = np.vstack([parent_rows, child_rows])
    _, inv = unique_rows(both)
    where = np.empty(int(inv.max()) + 1, dtype=np.intp)
    where[inv[:parent_rows.shape[0]]] = np.arange(parent_rows.shape[0])
    return where[inv[parent_rows.shape[0]:]]


def walk_kernels(graph: nx.DiGraph, rep: Representation,
                 requests: Mapping[Channels, np.ndarray]
                 ) -> dict[Channels, tuple[np.ndarray, np.ndarray]]:
    """Evaluate kernels by walking ``graph`` (see module docstring).

    ``requests`` maps channel tuples to sorted lags of shape ``(P, N)``. Returns, per
    tuple, ``(values, magnitudes)`` of shape ``(P,)``. Each recursion node needed by the
    requests is propagated once (per chunk of at most ``rep.max_rows`` rows).
    """
    reqs = {_key(k): np.asarray(v, dtype=float) for k, v in requests.items()}
    total = sum(v.shape[0] for v in reqs.values())
    if total == 0:
        return {k: (np.zeros(0), np.zeros(0)) for k in reqs}
    n_chunks = max(1, -(-total // max(rep.max_rows, 1)))
    if n_chunks == 1:
        return _walk(graph, rep, reqs)
    out: dict[Channels, list] = {k: [] for k in reqs}
    bounds = {k: np.linspace(0, v.shape[0], n_chunks + 1).astype(int) for k, v in reqs.items()}
    for c in range(n_chunks):
        part = {k: v[bounds[k][c]:bounds[k][c + 1]] for k, v in reqs.items()}
        for k, res in _walk(graph, rep, part).items():
            out[k].append(res)
    return {k: (np.concatenate([r[0] for r in v]), np.concatenate([r[1] for r in v]))
            for k, v in out.items()}


def _walk(graph: nx.DiGraph, rep: Representation, reqs: dict[Channels, np.ndarray]):
    # gap prefixes needed at every recursion node: (τ_1..τ_j) for node k[:j]
    gaps = {k: np.diff(v, axis=1, prepend=0.0) for k, v in reqs.items()}
    needs: dict[Channels, list[np.ndarray]] = {}
    for k, g in gaps.items():
        node = ("g", k)
        if node not in graph:
            raise KeyError(f"the hierarchy has no node for channels {k}")
        for j in range(1, len(k) + 1):
            needs.setdefault(k[:j], []).append(g[:, :j])
    if len(reqs) == 1:
        # one kernel: its prefixes need no de-duplication (rows map one to one)
        (k, g), = gaps.items()
        return {k: _walk_single(rep, k, g, reqs)}
    rows = {c: unique_rows(np.vstack(v))[0] for c, v in needs.items()}
    has_child = {c[:-1] for c in rows if len(c) > 1}
    states: dict[Channels, State] = {(): rep.encode()}
    chains: dict[Channels, np.ndarray | None] = {(): None}   # magnitudes along the chain
    values: dict[Channels, tuple[np.ndarray, np.ndarray]] = {}
    for c in sorted(rows, key=len):          # parents before children
        parent = _parent(graph, ("g", c))
        pc = () if parent == ("f",) else parent[1]
        U = rows[c]
        idx = _locate(rows[pc], U[:, :-1]) if pc else np.zeros(U.shape[0], dtype=np.intp)
        moved = rep.propagate(rep.take(states[pc], idx), U[:, -1])
        up = None if chains[pc] is None else chains[pc][idx]
        if c in has_child:
            states[c] = rep.perturb(c[-1], moved)
            chains[c] = _longest(rep.size(states[c]), up)
            if c in reqs:
                v, mag = rep.pair(states[c])
                values[c] = (v, _longest(mag, up))
        else:
            v, mag = rep.pair_perturbed(c[-1], moved)
            values[c] = (v, _longest(mag, up))
        # a parent's state is no longer needed once all its children are done
    out = {}
    for k, g in gaps.items():
        pos = _locate(rows[k], g)
        v, mag = values[k]
        out[k] = (np.asarray(v)[pos], np.asarray(mag)[pos])
    return out


def _walk_single(rep: Representation, k: Channels, g: np.ndarray, reqs) -> tuple:
    """The walk for a single kernel request: node ``k[:j]`` holds one state per lag row."""
    state = rep.encode()
    N = len(k)
    P = g.shape[0]
    state = rep.take(state, np.zeros(P, dtype=np.intp))
    chain = None
    for j in range(N):
        moved = rep.propagate(state, g[:, j])
        if j == N - 1:
            v, mag = rep.pair_perturbed(k[j], moved)
            return np.asarray(v), np.asarray(_longest(mag, chain))
        state = rep.perturb(k[j], moved)
        chain = _longest(rep.size(state), chain)
    raise AssertionError("unreachable")


def _longest(mag, chain: np.ndarray | None) -> np.ndarray | None:
    """``max(mag, chain)`` row by row (``None``: not tracked)."""
    if mag is None or chain is None:
        return chain if mag is None else np.asarray(mag)
    return np.maximum(np.asarray(mag), chain)
