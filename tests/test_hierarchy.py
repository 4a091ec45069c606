"""The response-kernel hierarchy: DAG structure, sharing, printing, symmetric extension."""

import itertools
import math

import numpy as np
import pytest
import sympy as sp

from volterra_sym import SRNN, ResponseHierarchy
from volterra_sym.errors import ResourceLimitError
from volterra_sym.hierarchy import ResponseKernel
from volterra_sym.operators import Perturbation, Semigroup, StationaryAverage


@pytest.mark.parametrize("m, order", [(1, 3), (2, 3), (3, 2), (2, 4)])
def test_recursion_node_count_is_sum_of_powers(m, order):
    model = SRNN(Gamma=np.eye(2), W=0.3 * np.ones((2, 2)), C=np.ones((2, m)),
                 sigma=0.5, activation="tanh")
    hier = ResponseHierarchy(model, "h1", order)
    assert len(hier.recursion_nodes) == sum(m**j for j in range(1, order + 1))
    kernels = [n for n, d in hier.graph.nodes(data=True) if d["kind"] == "kernel"]
    assert len(kernels) == len(hier.recursion_nodes)


def test_prefixes_are_shared():
    model = SRNN(Gamma=np.eye(2), W=np.zeros((2, 2)), C=np.eye(2), sigma=0.5)
    hier = ResponseHierarchy(model, "h1*h2", 3)
    G = hier.graph
    # each recursion node has exactly one parent and m children (except at the top order)
    for node, data in G.nodes(data=True):
        if data["kind"] == "recursion":
            assert G.in_degree(node) == 1
            rec_children = [c for c in G.successors(node) if G.nodes[c]["kind"] == "recursion"]
            assert len(rec_children) == (2 if data["order"] < 3 else 0)
    # the node of (0, 1) is an ancestor of the kernels (0, 1, 0) and (0, 1, 1): computed once
    import networkx as nx
    anc = nx.descendants(G, ("g", (0, 1)))
    assert {("K", (0, 1, 0)), ("K", (0, 1, 1)), ("K", (0, 1))} <= anc


def test_kernel_operator_form_matches_theory():
    model = SRNN(Gamma=np.eye(2), W=np.zeros((2, 2)), C=np.eye(2), sigma=0.5)
    hier = ResponseHierarchy(model, "h1**2", 2)
    K = hier.kernel((1, 0))
    s1, s2 = K.lags
    ref = hier.ref
    f = model.h[0] ** 2
    expected = StationaryAverage(Perturbation(0, Semigroup(s2 - s1, Perturbation(
        1, Semigroup(s1, f, ref), ref), ref), ref), ref)
    assert K.rewrite("operator") == expected
    assert isinstance(K, ResponseKernel) and isinstance(K, sp.Expr)
    assert sp.latex(K) == r"K_{21}\left(\sigma_{1}, \sigma_{2}\right)"
    tex = K.latex()
    assert r"\mathcal{L}_{1} e^{\left(- \sigma_{1} + \sigma_{2}\right)\,\mathcal{L}_0}" in tex
    assert r"\mathcal{L}_{2} e^{\sigma_{1}\,\mathcal{L}_0}" in tex


def test_nodes_carry_expressions():
    model = SRNN(Gamma=1.0, W=0.5, C=1.0, sigma=0.5, activation="tanh")
    hier = ResponseHierarchy(model, "h1", 2)
    data = hier.graph.nodes[("g", (0, 0))]
    assert data["order"] == 2 and data["channels"] == (0, 0)
    assert sp.latex(data["expr"]) == r"\mathcal{L}_{1} e^{\tau_{2}\,\mathcal{L}_0} g_{1}"


def _sym3(T: np.ndarray) -> np.ndarray:
    """The symmetric part of a 3-tensor."""
    return sum(np.transpose(T, p) for p in itertools.permutations(range(3))) / 6


def test_symmetric_extension_against_closed_form(linear2):
    """Independent of the code's sort. For a linear model ``(P_s g)(x) = E g(μ + e^{-As}(x-μ)
    + ξ)``, so ``L_k P_s g = P_s ∂_{e^{-As}C_k} g`` and ``<p0, P_s g> = <p0, g>``; for sorted
    lags the recursion collapses to ``K_k(σ) = E_0[∂_{a_N} ⋯ ∂_{a_1} f]``, ``a_j = e^{-Aσ_j}
    C_{k_j}``, whose right side is symmetric in the pairs ``(k_j, σ_j)``: it is the symmetric
    extension. For ``f = hᵀQh + T(h, h, h)`` (T symmetric):
    ``K_{k1k2} = 2 a_1ᵀQa_2 + 6 T(a_1, a_2, μ)`` and ``K_{k1k2k3} = 6 T(a_1, a_2, a_3)``.
    The code is evaluated at unsorted lags (all orderings occur) and again with the pairs
    listed in another order; the closed form is evaluated with the lags as drawn."""
    import scipy.linalg

    rng = np.random.default_rng(0)
    n = linear2.n
    Q = np.array([[1.0, 0.5], [0.5, -0.25]])
    T = _sym3(np.round(rng.normal(size=(n, n, n)), 2))
    h = linear2.h
    f = sum(sp.Float(Q[i, j]) * h[i] * h[j] for i in range(n) for j in range(n)) + sum(
        sp.Float(T[i, j, k]) * h[i] * h[j] * h[k]
        for i in range(n) for j in range(n) for k in range(n))
    hier = ResponseHierarchy(linear2, sp.expand(f), 3)
    p = linear2.numpy_params()
    A, C = p["Gamma"] - p["W"], p["C"]
    mu = np.linalg.solve(A, p["b"])

    def a(sig, k):  # e^{-Aσ} C_k for a batch of lags σ (P,), channel k
        return scipy.linalg.expm(-A[None] * sig[:, None, None]) @ C[:, k]

    closed = {
        2: lambda s, k: 2 * np.einsum("pi,ij,pj->p", a(s[:, 0], k[0]), Q, a(s[:, 1], k[1]))
        + 6 * np.einsum("ijk,pi,pj,k->p", T, a(s[:, 0], k[0]), a(s[:, 1], k[1]), mu),
        3: lambda s, k: 6 * np.einsum("ijk,pi,pj,pk->p", T, a(s[:, 0], k[0]),
                                      a(s[:, 1], k[1]), a(s[:, 2], k[2])),
    }
    for N in (2, 3):
        lags = rng.uniform(0, 2, size=(60, N))
        lags[0] = lags[0, 0]  # a tie
        assert len({tuple(np.argsort(r)) for r in lags}) == math.factorial(N)
        for k in itertools.product(range(linear2.m), repeat=N):
            ref = closed[N](lags, k)
            got = hier.kernel(k).evaluate(lags, method="exact")
            np.testing.assert_allclose(got, ref, rtol=1e-11, atol=1e-13)
            for perm in itertools.permutations(range(N)):
                got_perm = hier.kernel(tuple(k[q] for q in perm)).evaluate(
                    lags[:, list(perm)], method="exact")
                np.testing.assert_allclose(got_perm, ref, rtol=1e-11, atol=1e-13)
    # a non-symmetric control: swapping the channels but not the lags changes K_{01}
    lags = np.array([[0.1, 1.5]])
    assert abs(closed[2](lags, (0, 1)) - closed[2](lags, (1, 0)))[0] > 1e-3


def test_bad_hierarchy_input():
    model = SRNN(Gamma=1.0, W=0.5, C=1.0, sigma=0.5)
    with pytest.raises(ValueError, match="order must be a positive integer"):
        ResponseHierarchy(model, "h1", 0)
    hier = ResponseHierarchy(model, "h1", 2)
    with pytest.raises(ValueError, match="channel k=1 is out of range"):
        hier.kernel((0, 1))
    with pytest.raises(ValueError, match="holds orders 1..2"):
        hier.kernel((0, 0, 0))
    with pytest.raises(ValueError, match="lags must be ≥ 0"):
        hier.kernel(0).evaluate([-0.1])
    with pytest.raises(ValueError, match="finite"):
        hier.kernel(0).evaluate([np.nan])
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 2\)"):
        hier.kernel((0, 0)).evaluate([0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="unknown variable"):
        ResponseHierarchy(model, "h2", 1)


def test_convergence_diagnostic_flags_large_eps():
    """Ratio test: terms growing like (ε/ε*)^N are flagged beyond ε*, not inside it."""
    import warnings

    from volterra_sym.hierarchy import ConvergenceWarning, diagnose_series

    t = np.linspace(0, 1, 5)
    terms = np.array([np.ones_like(t)] + [2.0**N * np.sin(t + 1) for N in range(1, 4)])
    inside = diagnose_series(terms, 0.25)
    # three orders cannot show convergence: unknown, never "meaningful"
    assert inside.meaningful is None and inside.radius == pytest.approx(0.5)
    longer = np.array([np.ones_like(t)] + [2.0**N * np.sin(t + 1) for N in range(1, 6)])
    assert diagnose_series(longer, 0.2).meaningful is True
    assert diagnose_series(longer, 0.4).meaningful is None     # ratios 0.8: no evidence
    with pytest.warns(ConvergenceWarning, match="outside the estimated radius"):
        outside = diagnose_series(terms, 0.8, warn=True)
    assert outside.meaningful is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        finite = diagnose_series(terms, 10.0, warn=True, terminates_at=3)
    assert finite.meaningful and finite.radius == np.inf


def test_radius_is_estimated_within_each_parity_class():
    """A nearly odd series (small even terms): neighbouring orders would give a_2/a_3 ≪ the
    radius; the ratio test within each parity class gives the radius of the odd terms, and
    the smaller of the two classes' radii when the even terms grow faster."""
    from volterra_sym.hierarchy import diagnose_series

    t = np.linspace(0, 1, 5)
    odd_r, even_r = 2.0, 0.7                     # radii of the odd and of the even part

    def series(scale_even, orders):
        return np.array([np.ones_like(t)] + [
            (odd_r ** -N if N % 2 else scale_even * even_r ** -N) * np.cos(t)
            for N in range(1, orders + 1)])
    # orders 1-3: only the odd class has two orders; a_2/a_3 = 1e-3·8/0.49 would say 0.016
    d = diagnose_series(series(1e-3, 3), 0.5)
    assert d.radius == pytest.approx(odd_r) and d.meaningful is not False
    # orders 1-5: the even class (2, 4) grows faster and sets the radius
    d = diagnose_series(series(1e-3, 5), 0.5)
    assert d.radius == pytest.approx(even_r)
    assert diagnose_series(series(1e-3, 5), 0.8).meaningful is False
    # an exactly odd series: the even orders vanish and do not enter
    d = diagnose_series(series(0.0, 5), 1.0)
    assert d.radius == pytest.approx(odd_r)


def test_finite_series_is_not_flagged(linear2):
    import warnings

    hier = ResponseHierarchy(linear2, "h1**2", 2)
    assert hier.terminates_at == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hier.series(lambda t: np.array([np.sin(t), 0.0]), np.linspace(0, 2, 11), 10.0)


def test_huge_hierarchy_refused_not_hung():
    model = SRNN(Gamma=np.eye(2), W=np.zeros((2, 2)), C=np.eye(2), sigma=0.5)
    with pytest.raises(ResourceLimitError, match="recursion nodes, more than the limit"):
        ResponseHierarchy(model, "h1", 30)


def test_eps3_tanh1d_series_is_not_called_meaningful():
    """Reproducer (issue: the order-3 sum is 0.109 while Monte Carlo gives 0.497 ± 0.003):
    three orders cannot vouch for eps = 3."""
    from volterra_sym.cli import load_model

    hier = ResponseHierarchy(load_model("tanh1d"), None, 3)
    diag = hier.diagnose(lambda t: [np.sin(2 * t)], np.linspace(0, 5, 51), 3.0,
                         method="spectral")
    assert diag.meaningful is not True and diag.status in ("unknown", "diverging")


def test_a_large_mean_does_not_make_the_response_terms_vanish():
    """f = h1 + 1e13: T_2 ~ 1e-2 was called vanishing against T_0 = 1e13."""
    from volterra_sym.hierarchy.convergence import diagnose_series

    terms = np.array([[1e13, 1e13, 1e13], [0.0, 0.3, 0.5], [0.0, 0.01, 0.02]])
    d = diagnose_series(terms, 0.1)
    assert "vanishes" not in d.message


def test_a_term_dominant_early_does_not_vanish_beside_a_later_giant():
    """u = exp(exp(t)) on [0, 5]: sup|T_1| ~ 1e61 is 1e-58 of sup|T_2| ~ 1e119, so a sup-norm
    test called T_1 vanishing ("only one non-vanishing order: convergence unknown") though
    it dominates at early times; judged at each time, the ratio test sees the divergence."""
    from volterra_sym.hierarchy.convergence import diagnose_series

    terms = np.array([[0.3, 0.3, 0.3], [1.0, 1e3, 1e61], [1e-3, 1.0, 1e119]])
    d = diagnose_series(terms, 0.1)
    assert d.status == "diverging" and d.meaningful is False
    assert d.radius < 1e-50
    # a term below rtol of the others at every time still vanishes
    tiny = np.array([[0.3, 0.3], [1.0, 2.0], [1e-14, 1e-13]])
    assert "highest computed order vanishes" in diagnose_series(tiny, 0.1).message


def test_partial_sums_carry_the_terms_errors_and_agree_across_routes():
    """``series`` returns PartialSums whose error, ``Σ |ε|^j err(T_j)``, covers the
    difference between two independent routes (Galerkin at a low degree against spectral)."""
    from volterra_sym import load_model
    from volterra_sym.results import PartialSums
    hier = ResponseHierarchy(load_model("tanh1d"), "h1", 2)
    times = np.linspace(0.0, 3.0, 31)
    u = lambda t: np.array([np.sin(t)])  # noqa: E731
    eps = np.array([0.3, -0.5])
    gal = hier.series(u, times, eps, method="galerkin", degree=6, check=False)
    spec = hier.series(u, times, eps, method="spectral", check=False)
    assert isinstance(gal, PartialSums) and gal.shape == (2, 3, 31)
    assert gal.method == "galerkin" and spec.method == "spectral"
    terms = hier.series_terms(u, times, method="galerkin", degree=6)
    want = np.cumsum(np.abs(eps)[:, None, None] ** np.arange(3)[None, :, None]
                     * np.asarray(terms.error)[None], axis=1)
    np.testing.assert_allclose(gal.error, want, rtol=1e-12)
    actual = np.abs(np.asarray(gal) - np.asarray(spec))
    assert np.all(actual <= gal.error + spec.error)
    # honest, not inflated: within 100x of the actual error where the difference is resolved
    resolved = actual > 10 * spec.error
    assert resolved.any()
    assert np.all(gal.error[resolved] <= 100 * actual[resolved].max())
    with pytest.raises(ValueError):
        gal.values[0, 0, 0] = 1.0


def test_parity_radii_is_diagnose_series_radius_vectorised():
    """``parity_radii`` (many series at once, for the feature transformer's warning) gives
    the radius of ``diagnose_series`` for every order 1–6 when no order vanishes, and no
    evidence (inf) where a pair's order is 0."""
    from volterra_sym.hierarchy.convergence import diagnose_series, parity_radii

    rng = np.random.default_rng(3)
    for order in range(1, 7):
        a = rng.uniform(0.01, 2.0, (40, order))
        got = parity_radii(a)
        want = [diagnose_series(np.vstack([[1.0], row[:, None]]), 0.1).radius for row in a]
        assert np.allclose(got, want), order
    assert parity_radii(np.array([1.0, 0.5, 0.0])) == np.inf    # a_3 = 0: odd pair silent
    assert parity_radii(np.array([0.4, 0.1])) == pytest.approx(4.0)
