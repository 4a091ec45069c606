"""Tests of the response functional ``T_N(t) ≈ <ℓ_N(t), S(X)_{0,t}>`` (docs/theory.md §5).

Independent references computed here: hand-expanded binomials, the loop reference
:func:`word_terms`, Dirichlet integrals over the simplex (closed form), the OU response
``∫_0^t c e^{-γ(t-s)} u(s) ds`` (closed form), nested Gauss–Legendre quadrature of the
truncated Taylor kernels over the ordered simplex, and the spectral series backend.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import warnings

import numpy as np
import pytest

from volterra_sym import SRNN, ResponseHierarchy
from volterra_sym.backends import spectral
from volterra_sym.backends.taylor import TaylorAccuracyWarning, taylor_series
from volterra_sym.features import (
    ResponseFunctional,
    functional_from_coefficients,
    response_features,
    response_functional,
    response_functional_latex,
    word_terms,
)

# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def tanh1() -> SRNN:
    """1-D tanh model, relaxation time 1/Γ = 1 (same as the Taylor backend tests)."""
    return SRNN(1.0, 0.8, 1.0, 0.8, b=0.2, activation="tanh", name="tanh1")


@pytest.fixture(scope="module")
def tanh_functionals(tanh1: SRNN) -> dict[int, ResponseFunctional]:
    hier = ResponseHierarchy(tanh1, None, 3)
    return {d: response_functional(hier, d) for d in (2, 6, 10, 12)}


def u_smooth(s: float | np.ndarray) -> np.ndarray:
    return 0.5 + np.sin(3 * np.asarray(s, dtype=float))


def simplex_quadrature(kernel, u, t: float, N: int, n: int = 24) -> float:
    """``∫_{0<s_N<…<s_1<t} K(t-s_1, …, t-s_N) Π u(s_j) ds`` by nested Gauss–Legendre:
    ``s_1 = t x_1``, ``s_j = s_{j-1} x_j`` (Jacobian ``t s_1 ⋯ s_{N-1}``)."""
    x, w = np.polynomial.legendre.leggauss(n)
    x, w = 0.5 * (x + 1), 0.5 * w
    X = np.meshgrid(*([x] * N), indexing="ij")
    Wt = np.prod(np.meshgrid(*([w] * N), indexing="ij"), axis=0)
    s, prev, jac = [], t, np.ones_like(Wt)
    for j in range(N):
        sj = prev * X[j]
        jac = jac * prev
        s.append(sj)
        prev = sj
    lags = np.stack([t - sj for sj in s], axis=-1).reshape(-1, N)
    K = kernel(lags).reshape(Wt.shape)
    return float(np.sum(Wt * jac * K * np.prod([u(sj) for sj in s], axis=0)))


# ----------------------------------------------------------------------------- bookkeeping


def test_word_terms_by_hand() -> None:
    """(t - s1)(s1 - s2) = t s1 - t s2 - s1² + s1 s2; words earliest kick (s2) first."""
    got = {}
    for a1, word, w in word_terms((0, 1), (1, 1)):
        got[(a1, word)] = got.get((a1, word), 0.0) + w
    expect = {
        (1, ((1, 0), (0, 1))): 1.0,  # t s1
        (1, ((1, 1), (0, 0))): -1.0,  # -t s2
        (0, ((1, 0), (0, 2))): -1.0,  # -s1²
        (0, ((1, 1), (0, 1))): 1.0,  # s1 s2
    }
    assert {k: v for k, v in got.items() if v != 0} == expect
    # τ1²/2 = (t - s1)²/2 = t²/2 - t s1 + s1²/2
    got1 = {(a, w): c for a, w, c in word_terms((0,), (2,))}
    assert got1 == {(2, ((0, 0),)): 0.5, (1, ((0, 1),)): -1.0, (0, ((0, 2),)): 0.5}


def test_vectorised_bookkeeping_matches_loops() -> None:
    rng = np.random.default_rng(3)
    m, D, order = 2, 4, 3
    coeffs = {}
    for N in range(1, order + 1):
        for k in np.ndindex(*(m,) * N):
            ps = [p for p in np.ndindex(*(D + 1,) * N) if sum(p) <= D]
            coeffs[tuple(k)] = {p: float(rng.normal()) for p in ps}
    F = functional_from_coefficients(coeffs, m, D, order, mean0=0.7)
    ref = np.zeros_like(F.coefficients)
    ref[0, 0, 0] = 0.7
    for k, cp in coeffs.items():
        for p, c in cp.items():
            for a1, word, w in word_terms(k, p):
                ref[len(k), a1, F.layout.word_index(word)] += c * w
    np.testing.assert_allclose(F.coefficients, ref, rtol=1e-13, atol=1e-13)
    assert F.mean0 == 0.7 and F.order == 3 and F.degree == D and F.m == 2
    # level N lives only on level N of the signature
    for N in range(order + 1):
        outside = np.ones(F.layout.size, bool)
        outside[F.layout.level_slice(N)] = False
        assert not np.any(F.coefficients[N][:, outside])


@pytest.mark.parametrize("p", [(0,), (3,), (0, 0), (2, 1), (1, 0, 2), (0, 3, 1)])
def test_dirichlet_closed_form(p: tuple[int, ...]) -> None:
    """K = Π τ_j^{p_j}/p_j!, u ≡ (1, 2): the simplex integral is a Dirichlet integral,
    ∫ Π τ^p/p! dτ over {Σ τ ≤ t} = t^{|p|+N}/(|p|+N)!, times Π u_{k_j}."""
    N = len(p)
    k = tuple(j % 2 for j in range(N))
    F = functional_from_coefficients({k: {p: 1.0}}, m=2, degree=sum(p), order=N)
    times = np.linspace(0.0, 1.3, 131)
    T = F.terms(lambda s: np.array([1.0, 2.0]), times, extrapolate=True)
    tot = sum(p) + N
    expect = times**tot / math.factorial(tot) * math.prod(1.0 + kj for kj in k)
    # the relative chord error after n intervals is ~ 1.6e-4 n^-4 (scale-free path shape)
    late = times >= 0.5
    np.testing.assert_allclose(T[N, late], expect[late], rtol=1e-8)
    np.testing.assert_allclose(T[N], expect, rtol=1e-3, atol=1e-14)
    assert np.all(T[:N] == 0)


# ----------------------------------------------------------------------------- OU closed form


def ou_response(c: float, g: float, w: float, t: np.ndarray) -> np.ndarray:
    """∫_0^t c e^{-g(t-s)} sin(w s) ds."""
    return c * (g * np.sin(w * t) - w * np.cos(w * t) + w * np.exp(-g * t)) / (g**2 + w**2)


def test_ou_closed_form_from_coefficients() -> None:
    c, g, w, D = 1.3, 0.4, 2.0, 14
    F = functional_from_coefficients({(0,): {(p,): c * (-g) ** p for p in range(D + 1)}},
                                     1, D)
    times = np.linspace(0.0, 2.0, 101)
    T = F.terms(lambda s: np.sin(w * s), times)
    # truncation (g t)^{D+1}/(D+1)! c ∫|u| ≈ 1e-14 at g t = 0.8
    np.testing.assert_allclose(T[1], ou_response(c, g, w, times), rtol=0, atol=1e-12)


def test_ou_closed_form_from_linear_srnn() -> None:
    """1-D linear SRNN: K(σ) = c e^{-γσ}, K_2 ≡ 0, <h>_0 = b/γ; Taylor backend coefficients."""
    c, g, b, w = 0.9, 0.3, 0.15, 1.5
    model = SRNN(g, 0.0, c, 0.5, b=b, activation="linear")
    F = response_functional(ResponseHierarchy(model, "h1", 2), 12)
    ser = F.taylor[(0,)]
    np.testing.assert_allclose(ser.coeffs, c * (-g) ** ser.powers[:, 0], rtol=1e-12)
    times = np.linspace(0.0, 1.0, 41)
    T = F.terms(lambda s: np.sin(w * s), times)
    assert abs(T[0, 0] - b / g) < 1e-12
    err = np.abs(T[1] - ou_response(c, g, w, times)).max()
    assert err < 1e-13 * max(1.0, np.abs(T[1]).max()) + 1e-14, err
    assert np.abs(T[2]).max() < 1e-14
    assert np.all(F.kernel_error([0.5, 1.0])[1] < 1e-12)


# ----------------------------------------------------------------------------- tanh acceptance


@pytest.mark.parametrize("degree", [10, 12])
def test_tanh_matches_taylor_quadrature(tanh1, tanh_functionals, degree) -> None:
    """<ℓ_N(t), S> vs the truncated Taylor kernels (same c_{k,p}) integrated against u by
    nested Gauss–Legendre over the ordered simplex: 1e-6 relative, orders 1–3, t ≤ 0.5."""
    F = tanh_functionals[degree]
    times = np.linspace(0.0, 0.5, 21)
    T = F.terms(u_smooth, times, extrapolate=True)
    worst = 0.0
    for t in (0.25, 0.5):
        i = int(np.argmin(np.abs(times - t)))
        assert times[i] == t
        ref = [F.mean0]
        for N in (1, 2, 3):
            ser = taylor_series(tanh1, None, (0,) * N, degree)
            with warnings.catch_warnings():  # the estimated radius at degree 12 is ≈ 0.496
                warnings.simplefilter("ignore", TaylorAccuracyWarning)
                ref.append(simplex_quadrature(
                    lambda lag, s=ser: s.evaluate(lag, on_radius="warn")[0], u_smooth, t, N))
        ref = np.array(ref)
        rel = np.abs(T[:, i] - ref) / np.abs(ref)
        worst = max(worst, rel[1:].max())
        assert np.all(rel < 1e-6), (t, rel)
        for eps in (1.0, 0.5):  # the ε-summed functional
            total = F.series(u_smooth, times, eps, extrapolate=True)[-1, i]
            expect = float(eps ** np.arange(4) @ ref)
            assert abs(total - expect) < 1e-6 * abs(expect)
    print(f"degree {degree}: max relative deviation from Taylor quadrature {worst:.2e}")


def test_tanh_matches_spectral_within_truncation(tanh1, tanh_functionals, tmp_path) -> None:
    """Against the independent spectral series: the deviation is the Taylor truncation; it is
    below the backend's bound E_N U^N/N!, falls with the degree, and is < 1e-6 relative at
    degree ≥ 10 for t ≤ 0.5 relaxation times."""
    times = np.linspace(0.0, 0.5, 21)
    ref = spectral.series_terms(tanh1, tanh1.h[0], 3, lambda s: np.atleast_1d(u_smooth(s)),
                                times, tol=1e-10)
    sel = [10, 20]  # t = 0.25, 0.5
    rel = {}
    for deg, F in sorted(tanh_functionals.items()):
        T = F.terms(u_smooth, times, extrapolate=True)
        diff = np.abs(T - ref.terms)[:, sel]
        bound = F.error_bound(u_smooth, times)[:, sel]
        noise = ref.error[:, sel] + 1e-12 * np.abs(ref.terms[:, sel])
        assert np.all(diff <= bound + noise), (deg, diff, bound)
        rel[deg] = diff[1:] / np.abs(ref.terms[1:, sel])
        if deg >= 10:
            assert np.all(rel[deg] < 1e-6), (deg, rel[deg])
    degs = sorted(rel)
    for a, b in zip(degs, degs[1:], strict=False):
        assert np.all(rel[b][:, 1] < rel[a][:, 1]), (a, b)  # t = 0.5: decreasing
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    for N in range(3):
        ax.semilogy(degs, [rel[d][N, 1] for d in degs], "o-", label=f"N = {N + 1}")
    ax.set_xlabel("degree")
    ax.set_ylabel("relative error at t = 0.5")
    ax.legend()
    fig.savefig(tmp_path / "functional_vs_degree.png")
    plt.close(fig)
    print({d: rel[d][:, 1].tolist() for d in degs})


# ----------------------------------------------------------------------------- API


def test_eps_layouts_and_apply(tanh_functionals) -> None:
    F = tanh_functionals[6]
    times = np.linspace(0.0, 0.5, 11)
    T = F.terms(u_smooth, times)
    # apply() on full signatures of a larger layout (embedding) gives the same terms
    feats = response_features(u_smooth, times, depth=4, degree=8)
    np.testing.assert_allclose(F.apply(feats), T, rtol=1e-12, atol=1e-15)
    own = response_features(u_smooth, times, depth=3, degree=6)
    np.testing.assert_allclose(F.apply(own.values, times), T, rtol=1e-12, atol=1e-15)
    # combined functional ℓ^ε(t) = Σ ε^N ℓ_N(t)
    eps = 0.7
    lt = F.at(times, eps)  # (T, size)
    np.testing.assert_allclose(np.einsum("ts,ts->t", own.values, lt),
                               eps ** np.arange(4) @ T, rtol=1e-12)
    np.testing.assert_allclose(F.apply(feats, eps=eps), eps ** np.arange(4) @ T, rtol=1e-12)
    S = F.series(u_smooth, times, eps)
    np.testing.assert_allclose(S[-1], eps ** np.arange(4) @ T, rtol=1e-12)
    assert F.matrix().shape == (4, 7, F.layout.size)
    assert F.matrix(eps).shape == (7, F.layout.size)
    assert F.at(0.3).shape == (4, F.layout.size)
    # batch of samples
    U = np.stack([u_smooth(times), 2 * u_smooth(times)])[..., None]
    TB = F.terms(U, times)
    assert TB.shape == (2, 4, times.size)
    np.testing.assert_allclose(TB[1, 1], 2 * TB[0, 1], rtol=1e-12)
    np.testing.assert_allclose(TB[1, 2], 4 * TB[0, 2], rtol=1e-12)
    words = F.nonzero_words(1)
    assert all(len(w) == 1 for w in words) and len(words) == 7


def test_hierarchy_graph_and_latex(tanh1, tmp_path) -> None:
    hier = ResponseHierarchy(tanh1, None, 2)
    nodes, edges = set(hier.graph.nodes), set(hier.graph.edges)
    F = response_functional(hier, 4)
    # the coefficients are computed on the hierarchy's nodes; the graph stays a description
    assert set(hier.graph.nodes) == nodes and set(hier.graph.edges) == edges
    assert hier.response_functional(4).coefficients.tobytes() == F.coefficients.tobytes()
    assert len(F.taylor[(0,)].coeffs) == 5 and len(F.taylor[(0, 0)].coeffs) == 15
    tex = response_functional_latex(F)
    assert "\\ell_1(t)" in tex and "\\section" not in tex and "radius" in tex
    assert tex == response_functional_latex(F)  # deterministic
    if shutil.which("pdflatex") is None:
        pytest.skip("no pdflatex")
    doc = ("\\documentclass{article}\\usepackage{amsmath,amssymb}\\begin{document}\n"
           "\\section{Response functional}\n" + tex + "\\end{document}\n")
    (tmp_path / "f.tex").write_text(doc)
    res = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "f.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout[-2000:]


def test_bad_inputs(tanh_functionals) -> None:
    F = tanh_functionals[2]
    times = np.linspace(0.0, 0.5, 11)
    with pytest.raises(ValueError, match="NaN"):
        F.terms(np.where(times > 0.2, np.nan, 1.0), times)
    with pytest.raises(ValueError, match="shape"):
        F.terms(np.ones(5), times)
    with pytest.raises(ValueError, match="channels"):
        F.terms(np.ones((times.size, 2)), times)
    with pytest.raises(ValueError, match="increasing"):
        F.terms(u_smooth, times[::-1])
    with pytest.raises(ValueError, match="increasing"):
        F.terms(u_smooth, np.array([0.0, 0.2, 0.2, 0.3]))
    with pytest.raises(ValueError, match="NaN"):
        F.terms(lambda s: np.nan * s, times)
    with pytest.raises(ValueError, match="eps"):
        F.series(u_smooth, times, float("nan"))
    with pytest.raises(ValueError, match="cannot hold"):
        F.apply(response_features(u_smooth, times, depth=2, degree=2))
    with pytest.raises(ValueError, match="order N"):
        F.nonzero_words(4)
    with pytest.raises(ValueError, match="depth"):
        response_features(u_smooth, times, depth=0, degree=2)
    with pytest.raises(ValueError, match="depth"):
        response_features(u_smooth, times, depth=-1, degree=2)
    with pytest.raises(ValueError, match=r"\|p\|"):
        functional_from_coefficients({(0,): {(5,): 1.0}}, 1, 3)
    with pytest.raises(ValueError, match="channel"):
        functional_from_coefficients({(1,): {(0,): 1.0}}, 1, 3)


def test_batch_terms_match_single_inputs(tanh_functionals) -> None:
    """All T_N at 2000 times for a batch of 16 sampled inputs (degree 10, depth 3) equal
    the terms of each input alone, sampled and as a callable (its wall-clock target is in
    benchmarks/bench_kernel_machine.py)."""
    F = tanh_functionals[10]
    times = np.linspace(0.0, 0.5, 2000)
    U = np.sin(np.outer(np.arange(1, 17), times))[..., None]
    T = F.terms(U, times)
    assert T.shape == (16, 4, 2000)
    for j in (0, 3, 15):
        np.testing.assert_allclose(F.terms(U[j], times), T[j], rtol=0, atol=1e-14)
        callable_terms = F.terms(lambda s, j=j: np.sin((j + 1) * np.asarray(s)), times)
        np.testing.assert_allclose(callable_terms, T[j], rtol=1e-10, atol=1e-13)


# ----------------------------------------------------------------------------- contact terms
# docs/theory.md §10–§11 (issue 12): the input inside the activation (kicks carrying several
# channels: the augmented input u_κ = Π_{c∈κ} u_c) and σ(h).


def _inside_m2() -> SRNN:
    """1-D tanh, two channels inside the activation (the spectral route treats it)."""
    return SRNN(Gamma=1.0, W=1.5, C=[[1.0, -0.6]], sigma=0.8, b=0.2, activation="tanh",
                input="activation", name="inside_m2")


def _u2(s: float | np.ndarray) -> np.ndarray:
    s = np.asarray(s, dtype=float)
    return np.stack([0.5 + np.sin(3 * s), np.cos(2 * s)], axis=-1)


def _contact_models():
    from volterra_sym.model import load_model

    return {"tanh1d_inside": (load_model("tanh1d_inside"), u_smooth),
            "noisy_tanh1d": (load_model("noisy_tanh1d"), u_smooth),
            "inside_m2": (_inside_m2(), _u2)}


@pytest.fixture(scope="module")
def contact_functionals():
    out = {}
    for name, (model, u) in _contact_models().items():
        hier = ResponseHierarchy(model, None, 2)
        out[name] = (model, u, hier, response_functional(hier, 10))
    return out


@pytest.mark.parametrize("name", ["tanh1d_inside", "noisy_tanh1d", "inside_m2"])
def test_contact_functional_matches_simplex_quadrature(contact_functionals, name) -> None:
    """<ℓ_N(t), S> against the truncated Taylor kernels of every kick sequence (all ordered
    channel tuples, no multiplicities) integrated by nested Gauss–Legendre over the ordered
    simplex with Π_i Π_{c∈κ_i} u_c(s_i): 1e-6 relative, orders 1–2, t ≤ 0.2."""
    from volterra_sym.hierarchy.composite import kick_sequences

    model, u, hier, F = contact_functionals[name]
    assert (F.channels is None) == (model.input == "additive")
    times = np.linspace(0.0, 0.2, 9)
    T = F.terms(u, times, extrapolate=True)
    for t in (0.1, 0.2):
        i = int(np.argmin(np.abs(times - t)))
        ref = [F.mean0]
        for N in (1, 2):
            total = 0.0
            for kicks in kick_sequences(model.m, N):
                ser = taylor_series(model, None, kicks, 10)
                facs = [lambda s, c=c: _channel_product(u, model.m, c, s) for c in kicks]
                total += _simplex_kicks(lambda lag, s=ser: s.evaluate(lag)[0], facs, t)
            ref.append(total)
        ref = np.array(ref)
        rel = np.abs(T[:, i] - ref) / np.abs(ref)
        assert np.all(rel < 1e-6), (name, t, rel)


def _channel_product(u, m: int, channels, s: np.ndarray) -> np.ndarray:
    """``Π_{c ∈ channels} u_c(s)`` (``u(s)`` of shape ``s.shape`` for m = 1, else
    ``s.shape + (m,)``)."""
    v = np.asarray(u(s), dtype=float)
    if m == 1:
        v = v[..., None]
    return np.prod(v[..., list(channels)], axis=-1)


def _simplex_kicks(kernel, factors, t: float, n: int = 24) -> float:
    """``∫_{0<s_r<…<s_1<t} K(t-s_1, …) Π_i g_i(s_i) ds`` (nested Gauss–Legendre)."""
    r = len(factors)
    x, w = np.polynomial.legendre.leggauss(n)
    x, w = 0.5 * (x + 1), 0.5 * w
    X = np.meshgrid(*([x] * r), indexing="ij")
    Wt = np.prod(np.meshgrid(*([w] * r), indexing="ij"), axis=0)
    s, prev, jac = [], t, np.ones_like(Wt)
    for j in range(r):
        sj = prev * X[j]
        jac = jac * prev
        s.append(sj)
        prev = sj
    lags = np.stack([t - sj for sj in s], axis=-1).reshape(-1, r)
    K = kernel(lags).reshape(Wt.shape)
    return float(np.sum(Wt * jac * K * np.prod([g(sj) for g, sj in zip(factors, s,
                                                                      strict=True)], axis=0)))


@pytest.mark.parametrize("name", ["tanh1d_inside", "noisy_tanh1d", "inside_m2"])
def test_contact_functional_matches_spectral_series(contact_functionals, name) -> None:
    """Against the spectral series with the contact terms (forward hierarchy, n = 1): the
    deviation is below the bound E_N B_N (+ the spectral error) and < 1e-6 relative at
    t = 0.1, 0.2; series_terms(method="taylor") is the functional at degree 10."""
    model, u, hier, F = contact_functionals[name]
    times = np.linspace(0.0, 0.2, 9)
    uu = (lambda s: np.atleast_1d(u(s))) if model.m == 1 else u
    ref = hier.series_terms(uu, times, method="spectral")
    T = F.terms(u, times, extrapolate=True)
    sel = [4, 8]
    diff = np.abs(T - np.asarray(ref))[:, sel]
    bound = F.error_bound(u, times)[:, sel]
    noise = ref.error[:, sel] + 1e-12 * np.abs(np.asarray(ref)[:, sel])
    # <f>_0's error is unknown (NaN) where p0 is approximate (a tabulated log p0 with σ(h)):
    # then only the orders N ≥ 1 are compared and T_0 to the spectral route's accuracy
    if F.info["route"] == "quadrature" and np.isnan(F.info["mean0_error"]):
        assert model.state_dependent_noise and np.all(np.isnan(bound[0]))
        bound[0] = 0.0
    assert np.all(diff <= bound + noise), (diff, bound, noise)
    rel = diff[1:] / np.abs(np.asarray(ref)[1:, sel])
    assert np.all(rel < 1e-6), rel
    tay = hier.series_terms(uu, times, method="taylor")
    assert tay.method == "taylor"
    np.testing.assert_allclose(np.asarray(tay), T, rtol=1e-12, atol=1e-15)


def test_contact_functional_layout_and_error_bound(contact_functionals) -> None:
    """The augmented layout (channel multisets of size ≤ order), kick multiplicities, a
    functional with K ≡ 1 (T_1 = ∫u, T_2 = ∫u² + (∫u)²/2) and the factor B_N of the error
    bound of the contact terms (m = 1: B_1 = U_1, B_2 = U_2 + U_1²/2, U_j = ∫|u|^j)."""
    from volterra_sym.features import augment_input, kick_channels, kick_multiplicity

    assert kick_channels(2, 2) == ((0,), (1,), (0, 0), (0, 1), (1, 1))
    assert kick_multiplicity(((0, 1), (0,))) == 2 and kick_multiplicity(((0, 0, 1),)) == 3
    np.testing.assert_allclose(augment_input(np.array([[1.0, 2.0], [3.0, -1.0]]),
                                             kick_channels(2, 2)),
                               [[1, 2, 1, 2, 4], [3, -1, 9, -3, 1]])
    F = functional_from_coefficients({((0,),): {(0,): 1.0}, ((0, 0),): {(0,): 1.0},
                                      ((0,), (0,)): {(0, 0): 1.0}}, 1, 2, 2,
                                     channels=kick_channels(1, 2))
    assert F.m == 2 and F.input_m == 1 and F.channels == ((0,), (0, 0))
    times = np.linspace(0.0, 1.0, 41)
    T = F.terms(u_smooth, times, extrapolate=True)
    s = np.linspace(0, 1, 200001)
    U1 = np.trapezoid(u_smooth(s), s)
    U2 = np.trapezoid(u_smooth(s) ** 2, s)
    np.testing.assert_allclose(T[1:, -1], [U1, U2 + U1 ** 2 / 2], rtol=1e-7)
    _, _, _, G = contact_functionals["tanh1d_inside"]
    assert G.channels == ((0,), (0, 0))
    t = np.linspace(0.0, 0.2, 9)
    B = G.error_bound(u_smooth, t)[1:, -1] / G.kernel_error(t)[1:, -1]
    s = np.linspace(0, 0.2, 200001)
    A1 = np.trapezoid(np.abs(u_smooth(s)), s)
    A2 = np.trapezoid(u_smooth(s) ** 2, s)
    np.testing.assert_allclose(B, [A1, A2 + A1 ** 2 / 2], rtol=1e-7)


def test_terms_beyond_the_radius_warn_and_negative_times_are_refused():
    """``terms`` past the Taylor radius returned T_1(5) = 42.8 and T_2(5) = -29.6 without a
    word (SRNNFeatures warned in the same case); ``at(-0.3)`` returned coefficients."""
    from volterra_sym.errors import InvalidInputError

    rf = ResponseHierarchy(SRNN(1.0, 1.5, 1.0, 0.8, b=0.2, activation="tanh"), "h1",
                           order=2).response_functional(6)
    radius = dict(rf.info["radius"])
    u = lambda t: np.array([np.sin(2 * t)])  # noqa: E731
    with pytest.warns(TaylorAccuracyWarning, match=r"T_2 beyond 0\.6") as rec:
        rf.terms(u, np.linspace(0.0, 5.0, 11))
    assert "T_1 beyond" in str(rec[0].message)            # 5 > its radius too
    inside = 0.9 * min(radius.values())
    with warnings.catch_warnings():
        warnings.simplefilter("error", TaylorAccuracyWarning)
        rf.terms(u, np.linspace(0.0, inside, 5))
        rf.at(inside)
    with pytest.raises(InvalidInputError) as exc:
        rf.at(-0.3)
    assert exc.value.param == "t"


def test_feature_results_display_in_jupyter():
    """``_repr_html_`` of the feature results: the functional's table has one row per
    order with its nonzero words and the smallest Taylor radius of its kernels (the
    ``info`` the warnings use), ``<f>_0`` escaped; the signature result lists its shape
    and layout; the readouts show their repr. None had one before."""
    import volterra_sym as vs
    from volterra_sym.features import fit_ridge, response_features, response_functional

    F = response_functional(vs.ResponseHierarchy(vs.load_model("tanh1d"), "h1", order=2),
                            degree=6)
    page = F._repr_html_()
    radius = {}
    for k, r in F.info["radius"].items():
        radius[len(k)] = min(radius.get(len(k), np.inf), r)
    for N in (1, 2):
        assert f"<td>{N}</td><td>{len(F.nonzero_words(N))}</td><td>{radius[N]:.3g}</td>" in page
    assert "&lt;f&gt;_0" in page and "<f>_0" not in page
    t = np.linspace(0.0, 1.0, 11)
    R = response_features(np.sin(t)[:, None], t, 2, 3)
    assert "<td>values shape</td><td>(11, 21)</td>" in R._repr_html_()
    W = fit_ridge(np.eye(3), np.arange(3.0), lam=0.1)
    assert W._repr_html_() == f"<code>{repr(W)}</code>"
