"""The one propagation core: every prefix node of the hierarchy DAG is propagated once."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg
import sympy as sp

from volterra_sym import SRNN, ResponseHierarchy
from volterra_sym.backends.exact_linear import ExactRepresentation
from volterra_sym.hierarchy.propagation import prefix_graph, walk_kernels


@pytest.fixture(scope="module")
def linear3m3() -> SRNN:
    """n = 3, m = 3 linear model (non-symmetric A)."""
    Gamma = np.diag([1.0, 1.3, 0.8])
    W = np.array([[0.0, 0.4, -0.2], [-0.3, 0.0, 0.25], [0.1, -0.35, 0.0]])
    C = np.array([[1.0, 0.0, 0.5], [0.2, 1.0, 0.0], [0.0, -0.4, 1.0]])
    return SRNN(Gamma, W, C, 0.6, [0.1, -0.2, 0.05], "linear")


def _sorted_grid(P: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sort(rng.uniform(0.0, 2.5, (P, 3)), axis=1)


class _Counting:
    """Counts ``propagate`` calls of the exact representation (class-level patch)."""

    def __init__(self, monkeypatch):
        self.calls = 0
        original = ExactRepresentation.propagate

        def counted(rep, state, gaps):
            self.calls += 1
            return original(rep, state, gaps)

        monkeypatch.setattr(ExactRepresentation, "propagate", counted)


def test_all_39_kernels_use_39_propagation_steps(linear3m3, monkeypatch):
    """Orders 1–3 with m = 3 on one lag grid: 3 + 9 + 27 = 39 propagations (one per
    recursion node), not 3 + 18 + 81 as kernel-by-kernel evaluation needs."""
    hier = ResponseHierarchy(linear3m3, "h1**3 + h1*h2 - 0.5*h3**2 + h2", order=3)
    lags = _sorted_grid(40)
    counter = _Counting(monkeypatch)
    joint = hier.evaluate_kernels(lags, method="exact")
    assert len(joint) == 39
    assert counter.calls == 39
    counter.calls = 0
    separate = {}
    for N in (1, 2, 3):
        for k in itertools.product(range(3), repeat=N):
            separate[k] = hier.kernel(k).evaluate(lags[:, :N], method="exact")
    assert counter.calls == 3 + 18 + 81
    for k, res in joint.items():
        assert res.method == "exact"
        np.testing.assert_allclose(np.asarray(res), np.asarray(separate[k]), rtol=1e-12,
                                   atol=1e-13)


def test_joint_walk_matches_closed_form(linear3m3):
    """Independent route: for f = hᵀQh, K_{k1k2}(σ1, σ2) = 2 (e^{-Aσ1}C_{k1})ᵀ Q
    (e^{-Aσ2}C_{k2}) for σ1 ≤ σ2 (docs/theory.md §4), evaluated here with scipy's expm."""
    Q = np.array([[1.0, 0.3, 0.0], [0.3, -0.5, 0.2], [0.0, 0.2, 0.7]])
    h = sp.Matrix(linear3m3.h)
    f = sp.expand((h.T * sp.Matrix(Q) * h)[0])
    hier = ResponseHierarchy(linear3m3, f, order=2)
    p = linear3m3.numpy_params()
    A, C = p["Gamma"] - p["W"], p["C"]
    lags = _sorted_grid(15, seed=3)[:, :2]
    out = hier.evaluate_kernels({k: lags for k in itertools.product(range(3), repeat=2)},
                                method="exact")
    for (k1, k2), res in out.items():
        ref = [2 * (scipy.linalg.expm(-A * s1) @ C[:, k1]) @ Q
               @ (scipy.linalg.expm(-A * s2) @ C[:, k2]) for s1, s2 in lags]
        np.testing.assert_allclose(np.asarray(res), ref, rtol=1e-10, atol=1e-12)


def test_evaluation_leaves_the_graph_unchanged(linear3m3):
    hier = ResponseHierarchy(linear3m3, "h1*h2", order=2)
    nodes = set(hier.graph.nodes)
    edges = set(hier.graph.edges)
    hier.evaluate_kernels(_sorted_grid(5)[:, :2], method="exact")
    hier.kernel((2, 1)).evaluate([[0.3, 0.1]], method="exact")
    hier.series_terms(lambda t: [np.sin(t), 0.0, 1.0], np.linspace(0, 1, 5), method="exact")
    assert set(hier.graph.nodes) == nodes and set(hier.graph.edges) == edges


def test_prefix_graph_is_the_hierarchy_subgraph(linear3m3):
    hier = ResponseHierarchy(linear3m3, "h1", order=3)
    sub = prefix_graph([(0, 2, 1), (0, 1)])
    assert set(sub.edges) <= set(hier.graph.edges)
    assert set(sub.nodes) == {("f",), ("g", (0,)), ("g", (0, 2)), ("g", (0, 2, 1)),
                              ("g", (0, 1)), ("K", (0, 2, 1)), ("K", (0, 1))}


def test_walker_refuses_a_tuple_outside_the_graph(linear3m3):
    rep = ExactRepresentation.__new__(ExactRepresentation)
    with pytest.raises(KeyError, match="no node"):
        walk_kernels(prefix_graph([(0,)]), rep, {(1,): np.zeros((1, 1))})


def test_symmetric_extension_against_closed_form_in_swapped_order(linear3m3):
    """Unsorted lags: K_{k1k2}(σ1, σ2) with σ1 > σ2 equals the sorted-lag closed form with
    the channels swapped, 2 (e^{-Aσ2}C_{k2})ᵀ Q (e^{-Aσ1}C_{k1}) — computed in the test."""
    Q = np.array([[0.5, 0.0, 0.1], [0.0, 1.0, 0.0], [0.1, 0.0, -0.3]])
    h = sp.Matrix(linear3m3.h)
    hier = ResponseHierarchy(linear3m3, sp.expand((h.T * sp.Matrix(Q) * h)[0]), order=2)
    p = linear3m3.numpy_params()
    A, C = p["Gamma"] - p["W"], p["C"]
    lags = np.array([[1.2, 0.3], [0.3, 1.2], [2.0, 0.0], [0.7, 0.7]])
    got = np.asarray(hier.kernel((0, 2)).evaluate(lags, method="exact"))
    ref = []
    for s1, s2 in lags:
        if s1 <= s2:
            a, b = scipy.linalg.expm(-A * s1) @ C[:, 0], scipy.linalg.expm(-A * s2) @ C[:, 2]
        else:   # the later kick (channel 2, lag σ2) is the most recent
            a, b = scipy.linalg.expm(-A * s2) @ C[:, 2], scipy.linalg.expm(-A * s1) @ C[:, 0]
        ref.append(2 * a @ Q @ b)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


def test_a_value_carries_the_rounding_of_the_states_before_it():
    """The magnitude of a kernel value (its rounding level) is the largest along its chain
    ``g_1 … g_N`` where the representation tracks it (``size``): K₃ of a 1-D softplus
    network on the spectral grid at equal lags deviated from the Galerkin route (degree 16,
    an independent representation; the two agree within 5e-15 at spectral tol=1e-10) by
    up to 2.3× the error reported from the last pairing's magnitude alone. The joint walk
    (several kernels sharing prefixes) gives the same magnitudes as the single one."""
    from volterra_sym.backends.spectral.kernels import SpectralRepresentation
    from volterra_sym.backends.spectral.refinement import _fvals, discretisation

    model = SRNN([[1.0]], [[0.7]], [[1.0]], [[0.6]], [0.2], "softplus")
    hier = ResponseHierarchy(model, "h1", order=3)
    lags = np.array([[x, x, x] for x in (0.5, 1.0, 3.0, 6.0, 10.0)])
    sp_ = hier.kernel((0, 0, 0)).evaluate(lags, method="spectral")
    ga = hier.kernel((0, 0, 0)).evaluate(lags, method="galerkin", degree=16)
    dev = np.abs(np.asarray(sp_) - np.asarray(ga))
    assert np.all(dev <= sp_.error), (dev / sp_.error).max()

    dz = discretisation(model, 41, 1e-20)
    rep = SpectralRepresentation(dz, _fvals(model, sp.Symbol("h1"), dz)[1])
    alone = walk_kernels(hier.graph, rep, {(0, 0, 0): lags})[(0, 0, 0)]
    joint = walk_kernels(hier.graph, rep, {(0, 0, 0): lags, (0,): lags[:, :1],
                                          (0, 0): lags[:, :2]})
    np.testing.assert_allclose(joint[(0, 0, 0)][0], alone[0], rtol=0, atol=1e-16)
    np.testing.assert_array_equal(joint[(0, 0, 0)][1], alone[1])
    # the chain's first state is larger than the last pairing's terms: that is the point
    gaps = np.diff(lags, axis=1, prepend=0.0)
    state = rep.take(rep.encode(), np.zeros(len(lags), dtype=np.intp))
    for j in range(2):
        state = rep.perturb(0, rep.propagate(state, gaps[:, j]))
    last = rep.pair_perturbed(0, rep.propagate(state, gaps[:, 2]))[1]
    assert np.all(alone[1] >= last) and np.any(alone[1] > 10 * last)
