"""The Galerkin route (docs/theory.md §9) against independent routes: the exact backend
(linear models: the polynomial space is invariant, so Galerkin *is* exact), the spectral
backend (n ≤ 2), and honest error estimates."""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass

import numpy as np
import pytest

from volterra_sym import SRNN, ResponseHierarchy
from volterra_sym.errors import AccuracyNotReachedError, InvalidInputError, ResourceLimitError


@pytest.fixture(scope="module")
def linear3m2() -> SRNN:
    Gamma = np.diag([1.0, 1.4, 0.9])
    W = np.array([[0.0, 0.5, -0.2], [-0.4, 0.0, 0.3], [0.2, -0.3, 0.0]])
    C = np.array([[1.0, 0.0], [0.3, 1.0], [0.0, -0.5]])
    return SRNN(Gamma, W, C, 0.7, [0.2, -0.1, 0.0], "linear")


def tanh1(w: float = 0.8, b: float = 0.3, s: float = 0.7) -> SRNN:
    """1-D tanh with a single stable fixed point (w < γ)."""
    return SRNN([[1.0]], [[w]], [[1.0]], [[s]], [b], "tanh")


def test_linear_models_are_exact(linear3m2):
    """Invariance: for a linear model and a polynomial f of degree ≤ d the Galerkin kernels
    with exact Gaussian moments equal the exact ones (orders 1–3, m = 2) to 1e-10."""
    f = "h1**2 - 0.5*h1*h3 + h2 + 0.3*h3**2"
    hier = ResponseHierarchy(linear3m2, f, order=3)
    rng = np.random.default_rng(0)
    for N in (1, 2, 3):
        lags = rng.uniform(0, 3, (12, N))
        for k in itertools.product(range(2), repeat=N):
            ex = hier.kernel(k).evaluate(lags, method="exact")
            ga = hier.kernel(k).evaluate(lags, method="galerkin", degree=2)
            assert ga.method == "galerkin"
            scale = max(np.abs(np.asarray(ex)).max(), 1e-3)
            np.testing.assert_allclose(np.asarray(ga), np.asarray(ex), rtol=0,
                                       atol=1e-10 * scale)
    u = lambda t: np.array([np.sin(t), np.cos(2 * t)])  # noqa: E731
    times = np.linspace(0, 4, 41)
    Te = np.asarray(hier.series_terms(u, times, method="exact"))
    Tg = hier.series_terms(u, times, method="galerkin", degree=2)
    np.testing.assert_allclose(np.asarray(Tg), Te, rtol=0,
                               atol=1e-9 * np.abs(Te).max())


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "softplus"])
def test_one_dim_against_spectral(act):
    """K₁, K₂, K₃ of 1-D networks with one stable fixed point, lags up to 3 relaxation
    times (τ = 2.10, 1.19, 3.33; one row at 3τ in every lag): galerkin vs spectral to 1e-6
    of max |K| at the default degree (measured: tanh 1.1e-9, 1.9e-8, 3.1e-7; sigmoid and
    softplus ≤ 7.3e-11); the reported errors cover the difference (softplus K₃ did not
    until the spectral route's rounding followed the whole chain) and, where the difference
    is resolved by the reference (above 10× the spectral route's own estimate), the
    Galerkin route's is within 100× of it (tanh: 2.8–3.4×). Until 2026-12-07 the lags went
    to 3 time units only, 1.4τ for tanh."""
    from volterra_sym.density.linearisation import linearisation

    model = SRNN([[1.0]], [[0.7]], [[1.0]], [[0.6]], [0.2], act)
    tau = 1.0 / linearisation(model).rate
    hier = ResponseHierarchy(model, "h1", order=3)
    rng = np.random.default_rng(1)
    for N in (1, 2, 3):
        lags = rng.uniform(0, 3.0 * tau, (20, N))
        lags[0] = 3.0 * tau
        k = (0,) * N
        sp_ = hier.kernel(k).evaluate(lags, method="spectral")
        ga = hier.kernel(k).evaluate(lags, method="galerkin")
        scale = np.abs(np.asarray(sp_)).max()
        diff = np.abs(np.asarray(ga) - np.asarray(sp_))
        assert diff.max() <= 1e-6 * scale, (act, N, diff.max() / scale)
        assert np.all(diff <= ga.error + sp_.error), (act, N)
        if diff.max() > 10 * sp_.error.max():
            assert ga.error.max() <= 100 * diff.max(), (act, N, ga.error.max() / diff.max())


def test_one_dim_series_against_spectral():
    model = tanh1()
    hier = ResponseHierarchy(model, "h1", order=3)
    u = lambda t: np.array([np.sin(1.3 * t)])  # noqa: E731
    times = np.linspace(0, 10, 101)
    Ts = hier.series_terms(u, times, method="spectral")
    Tg = hier.series_terms(u, times, method="galerkin")
    diff = np.abs(np.asarray(Tg) - np.asarray(Ts))
    scale = np.abs(np.asarray(Ts)[1:]).max()
    assert diff[1:].max() <= 1e-6 * scale
    assert np.all(diff <= Tg.error + Ts.error + 1e-14)


def test_two_dim_against_spectral():
    """2-D tanh, lags up to 3 relaxation times (τ = 1.72): to 1e-4 of max |K| (measured
    ≤ 1.8e-7), within the two routes' errors."""
    from volterra_sym.density.linearisation import linearisation

    model = SRNN(np.eye(2), [[0.5, -0.4], [0.3, 0.4]], np.eye(2), 0.6 * np.eye(2),
                 [0.1, -0.2], "tanh")
    tau = 1.0 / linearisation(model).rate
    hier = ResponseHierarchy(model, "h1", order=2)
    rng = np.random.default_rng(2)
    for k in [(0,), (1,), (0, 1), (1, 1)]:
        lags = rng.uniform(0, 3.0 * tau, (10, len(k)))
        lags[0] = 3.0 * tau
        sp_ = hier.kernel(k).evaluate(lags, method="spectral")
        ga = hier.kernel(k).evaluate(lags, method="galerkin")
        scale = np.abs(np.asarray(sp_)).max()
        diff = np.abs(np.asarray(ga) - np.asarray(sp_))
        assert diff.max() <= 1e-4 * scale, (k, diff.max() / scale)
        assert np.all(diff <= ga.error + sp_.error), k


def test_bistable_error_says_so_and_tol_refuses():
    """w = 1.55 > γ: two wells; the polynomial basis converges slowly. The estimate must
    cover the actual error, and an unreachable tol is refused, not answered."""
    model = SRNN([[1.0]], [[1.55]], [[1.0]], [[0.6]], [0.0], "tanh")
    hier = ResponseHierarchy(model, "h1", order=1)
    lags = np.linspace(0, 2, 9)
    sp_ = hier.kernel(0).evaluate(lags, method="spectral")
    for degree in (6, 10):
        ga = hier.kernel(0).evaluate(lags, method="galerkin", degree=degree)
        diff = np.abs(np.asarray(ga) - np.asarray(sp_))
        assert np.all(diff <= ga.error + sp_.error), degree
        assert ga.error.max() > 1e-6 * np.abs(np.asarray(sp_)).max()
    with pytest.raises(AccuracyNotReachedError) as info:
        hier.kernel(0).evaluate(lags, method="galerkin", tol=1e-12)
    # the ladder ran out of degrees: the refusal says so (it said "stopped by ;")
    assert "stopped by the largest degree" in str(info.value), str(info.value)


def test_an_unreached_tol_names_what_stopped_the_degree():
    """``tol`` raises the degree until a budget refuses the next one; the refusal says
    which budget and the option that moves it (a time limit used to be reported as "the
    memory budget or a numerical limit"), and carries the best values."""
    from volterra_sym.model.catalogue import load_model

    hier = ResponseHierarchy(load_model("tanh3"), "h1", order=1)
    with pytest.raises(AccuracyNotReachedError) as info:
        hier.kernel(0).evaluate([0.5, 2.0], method="galerkin", tol=1e-9, time_budget=0.05)
    msg = str(info.value)
    assert "stopped by the time budget" in msg and "--time-budget" in msg, msg
    assert info.value.best is not None
    with pytest.raises(AccuracyNotReachedError) as info:
        hier.kernel(0).evaluate([0.5, 2.0], method="galerkin", tol=1e-9,
                                memory_budget="30M")
    assert "stopped by the memory budget" in str(info.value), str(info.value)


@pytest.mark.parametrize("bad", ["x", "inf", float("inf"), float("nan"), -1, True, [1]])
def test_a_bad_memory_budget_is_refused_naming_it(bad):
    hier = ResponseHierarchy(tanh1(), "h1", order=1)
    with pytest.raises(InvalidInputError) as info:
        hier.kernel(0).evaluate([0.5], method="galerkin", memory_budget=bad)
    assert info.value.param == "memory_budget"


def test_tol_raises_the_degree():
    model = tanh1()
    hier = ResponseHierarchy(model, "h1", order=1)
    lags = np.linspace(0, 3, 7)
    res = hier.kernel(0).evaluate(lags, method="galerkin", tol=1e-6)
    assert res.error.max() <= 1e-6 * np.abs(np.asarray(res)).max()
    ref = hier.kernel(0).evaluate(lags, method="spectral")
    assert np.all(np.abs(np.asarray(res) - np.asarray(ref)) <= res.error + ref.error)


def test_bad_options():
    hier = ResponseHierarchy(tanh1(), "h1", order=1)
    with pytest.raises(InvalidInputError, match="degree"):
        hier.kernel(0).evaluate([0.1], method="galerkin", degree=0)
    with pytest.raises(InvalidInputError, match="tol"):
        hier.kernel(0).evaluate([0.1], method="galerkin", tol=2.0)
    with pytest.raises(InvalidInputError, match="unknown options"):
        hier.kernel(0).evaluate([0.1], method="galerkin", resolution=3)


def test_tanh3_default_degree_rises_until_the_error_is_small(tmp_path):
    """Acceptance (issue 9, as a new user): ``kernel tanh3 --lags 2`` — K₁ of the built-in
    3-unit network at a near zero crossing — has an error below 1 % of its value (the
    fixed default degree 5 gave 0.0188 ± 0.0046); the degree used is reported."""
    from volterra_sym.model.catalogue import load_model

    hier = ResponseHierarchy(load_model("tanh3"), "h1", order=1)
    res = hier.kernel(0).evaluate(2.0, method="galerkin")
    facts = res.details["route"]
    assert facts["degree"] > 5 and facts["measure"] == "galerkin_density"
    value, error = float(res.values), float(res.error)
    assert error < 0.01 * abs(value)
    # the next degree, independently assembled, stays within the reported error
    hi = hier.kernel(0).evaluate(2.0, method="galerkin", degree=facts["degree"] + 1)
    assert abs(float(hi.values) - value) <= error


def test_error_estimates_are_honest_against_a_higher_degree():
    """Acceptance (issue 9): the reported error is above the actual error and within 100×
    of it. The actual error of degrees 5–7 is taken against degree 14 (degrees 5–8 against
    11 until the ``galerkin_density`` measure compared with a window of lower degrees,
    which raised the reference's estimate above half the difference; measured: 9.1e-3,
    1.0e-2, 3.5e-3 reported for 8.7e-4, 2.4e-4, 1.6e-4 at degrees 5–7), whose own reported
    error ``r`` brackets it: the true error lies in ``[actual − r, actual + r]``; the
    estimate must be above the upper end (``r`` at most half the difference, so the bracket
    is informative) and within 100× of the difference. Since the density's change is
    tripled (DENSITY_SAFETY, for the under-estimates of
    benchmarks/check_galerkin_independent_units.py) the estimate at degree 6, 1.56e-2, is
    64× the difference, 2.4e-4, but 100.0× its lower end (this test asked ≤ 100× of the
    lower end until then: still short of the acceptance's 100× there). Degree 7 (1.6e-4
    off) is no longer compared: the reference's own estimate, 8.8e-5 tripled, is above
    half of it."""
    from volterra_sym.model.catalogue import load_model

    hier = ResponseHierarchy(load_model("tanh3"), "h1", order=1)
    lags = np.array([0.5, 1.0, 2.0, 3.0])
    ref = hier.kernel(0).evaluate(lags, method="galerkin", degree=14)
    r = float(ref.error.max())
    for degree in (5, 6):
        res = hier.kernel(0).evaluate(lags, method="galerkin", degree=degree)
        actual = float(np.max(np.abs(res.values - ref.values)))
        est = float(res.error.max())
        assert r <= 0.5 * actual, degree
        assert actual + r <= est <= 100 * actual, (degree, actual, r, est)


def test_density_window_leaves_degree_one_out_from_degree_four():
    """Acceptance (issue 9, "within 100×"): on the ``galerkin_density`` measure the window of
    lower degrees stops at degree 2 from ``d ≥ 4`` — the degree-1 density resolves none of
    the nonlinearity. Four independent tanh units at half gain (each ``h1 + … + h4``
    quantity is the sum of the units' own, from the 1-D spectral route): at degree 4 the
    estimates of K₁, ``<f>_0``, ``T_1``, ``T_2`` stay above their actual errors and within
    100× of them (with degree 1 in the window ``<f>_0`` was 506×, K₁ 149×, ``T_1`` 228×;
    now 22×, 51×, 59×, 66×)."""
    from volterra_sym.backends.galerkin import truncation

    model4 = SRNN(np.eye(4), np.diag(0.5 * np.array([1.2, 0.9, 1.1, 1.0])), np.ones((4, 1)),
                  0.6 * np.eye(4), b=[0.3, -0.2, 0.1, 0.25], activation="tanh")
    assert truncation.lower_degrees(model4, 4, "galerkin_density") == (3, 2)
    assert 1 in truncation.lower_degrees(model4, 3, "galerkin_density")
    units = [SRNN(np.eye(1), model4.numpy_params()["W"][i:i + 1, i:i + 1], np.ones((1, 1)),
                  0.6 * np.eye(1), b=[model4.numpy_params()["b"][i]], activation="tanh")
             for i in range(4)]
    lags = np.array([[0.1], [0.5], [1.0], [2.0], [3.0]])
    times = np.linspace(0.0, 4.0, 41)
    u = lambda t: np.array([np.sin(2 * t)])  # noqa: E731
    ref_k1 = sum(np.asarray(ResponseHierarchy(m, "h1", 1).kernel((0,)).evaluate(
        lags, method="spectral")) for m in units)
    ref_T = sum(np.asarray(ResponseHierarchy(m, "h1", 2).series_terms(
        u, times, method="spectral")) for m in units)
    H = ResponseHierarchy(model4, "h1 + h2 + h3 + h4", 2)
    k1 = H.kernel((0,)).evaluate(lags, method="galerkin", degree=4)
    T = H.series_terms(u, times, method="galerkin", degree=4)
    assert T.details["measure"] == "galerkin_density"
    pairs = [(np.asarray(k1), k1.error, ref_k1)] + [
        (np.asarray(T)[N], np.asarray(T.error)[N], ref_T[N]) for N in range(3)]
    for N, (val, err, ref) in enumerate(pairs):
        actual, est = float(np.max(np.abs(val - ref))), float(np.max(err))
        assert actual <= est <= 100 * actual, (N, actual, est)

def _coupled3(b=(-0.2531, -0.1247, 0.0083)) -> SRNN:
    """``benchmarks/bench_galerkin_mc.network(3, 1.2)`` (non-symmetric ``W``, small biases)."""
    W = [[0.0871, -0.0915, 0.4437], [0.0727, -0.3711, 0.2505],
         [0.9034, 0.6562, -0.4876]]
    return SRNN(np.eye(3), W, np.ones((3, 1)), 0.6 * np.eye(3), b=list(b), activation="tanh")


def test_second_order_error_is_not_taken_from_degree_one():
    """A kernel with two lags is identically 0 at degree 1 (``C·∇`` maps ``{1, y}`` to the
    constants, which ``Λ`` keeps and the next ``C·∇`` annihilates), so the truncation check
    leaves degree 1 out: K₂ at degree 3 was reported ± 3.8e-2 (its own size) for an actual
    error of 7e-5; now (degree 4: two informative lower degrees) the estimate covers the
    error against degree 10 (degree 8's own estimate, 3.5e-6 since the window of lower
    degrees, is no longer below a quarter of the difference, 1.4e-5) and is below a tenth of
    the kernel. Not within 100× of it since the density's change is tripled
    (DENSITY_SAFETY): at degrees 4–8 142×, 1051×, 272×, 476×, 67× the difference to
    degree 12 (94× at degree 4 when doubled) — short of the acceptance's 100× at the
    explicit low degrees, on the safe side."""
    from volterra_sym.backends.galerkin import truncation

    model = _coupled3()
    assert truncation.informative_from(model, 2) == 2
    assert truncation.estimable_degree(model, 2) == 4
    hier = ResponseHierarchy(model, "h1", order=2)
    lags = np.array([[1.0, 0.5], [2.0, 0.5], [3.0, 2.0]])
    ref = hier.kernel((0, 0)).evaluate(lags, method="galerkin", degree=10)
    res = hier.kernel((0, 0)).evaluate(lags, method="galerkin", degree=4)
    actual = float(np.abs(res.values - ref.values).max())
    est = float(res.error.max())
    assert ref.error.max() <= 0.25 * actual
    assert actual <= est, (actual, est)
    assert est < 0.1 * np.abs(ref.values).max()


def test_parity_hidden_terms_are_refused_below_their_degree():
    """With ``b = 0`` the tanh drift is odd, each ``C·∇`` flips the parity, and ``T_3`` is
    identically 0 in a basis of degree 2 (it came out 0 ± 0 before): an explicit degree
    below the order is refused naming it; without one the degree starts high enough."""
    hier = ResponseHierarchy(_coupled3((0.0, 0.0, 0.0)), "h1", order=3)
    u = lambda t: np.array([np.sin(2 * t)])  # noqa: E731
    times = np.linspace(0, 3, 7)
    with pytest.raises(InvalidInputError) as exc:
        hier.series_terms(u, times, method="galerkin", degree=2)
    assert exc.value.param == "degree"
    hi = hier.series_terms(u, times, method="galerkin", degree=9)
    assert np.abs(np.asarray(hi)[3]).max() > 1e-4
    lo = hier.series_terms(u, times, method="galerkin", degree=4)
    assert np.all(np.abs(np.asarray(lo) - np.asarray(hi)) <= lo.error)


def _linear8(m: int) -> SRNN:
    """A linear 8-unit network (seeded) with ``m`` input channels."""
    rng = np.random.default_rng(4)
    n = 8
    W = np.round(0.5 * rng.standard_normal((n, n)) / np.sqrt(n), 3)
    return SRNN(Gamma=np.eye(n), W=W, C=np.eye(n)[:, :m], sigma=0.7 * np.eye(n),
                b=np.round(0.3 * rng.standard_normal(n), 3), activation="linear")


def test_sampled_measure_pairs_with_the_stationary_functional():
    """Invariance (docs/theory.md §9): for a linear network the polynomial span is invariant
    under L0, so the Galerkin generator and its stationary functional ℓ are exact whatever
    the measure; paired with ℓ, a kernel of f = h1² on a *sampled* measure (n = 8, degree 4:
    too many points for Gauss–Hermite) equals the exact backend to rounding, while the
    sample mean of C·∇P_τ f would carry the O(1/√P) sampling error of p0 (≈ 1e-2 here)."""
    H = ResponseHierarchy(_linear8(1), "h1**2", 1)
    lags = np.array([[0.2], [1.0], [2.5]])
    g = H.kernel((0,)).evaluate(lags, method="galerkin", degree=4, paths=8000, seed=1,
                                measure="samples")
    assert g.details["route"]["measure"] == "samples"
    ex = H.kernel((0,)).evaluate(lags, method="exact")
    scale = float(np.max(np.abs(ex.values)))
    assert np.max(np.abs(g.values - ex.values)) <= 1e-9 * scale
    assert np.all(np.abs(g.values - ex.values) <= g.error)


def _tanh_net(n: int, seed: int = 0) -> SRNN:
    rng = np.random.default_rng(seed)
    return SRNN(np.eye(n), np.round(1.2 * rng.standard_normal((n, n)) / np.sqrt(n), 4),
                np.ones((n, 1)), 0.6 * np.eye(n),
                b=np.round(0.2 * rng.standard_normal(n), 4), activation="tanh")


def test_time_estimate_admits_degree_5_at_8_units_and_refuses_20_units_at_degree_3():
    """The cost model (fitted: 8 units at degree 5 took 49–80 s with 40k–160k samples)
    lets degree 5 run at n = 8 with the default samples, and refuses n = 20 at degree 3
    (basis 1,771) before any work, as a ResourceLimitError."""
    from volterra_sym.backends.galerkin import cost
    from volterra_sym.backends.galerkin.options import parse_options
    from volterra_sym.errors import ResourceLimitError

    sampled = {"measure": "samples"}
    net8 = _tanh_net(8)
    assert cost.estimated_seconds(net8, 5, parse_options(net8, sampled)) \
        < cost.MAX_SECONDS
    net20 = _tanh_net(20)
    assert cost.estimated_seconds(net20, 3, parse_options(net20, sampled)) \
        > cost.MAX_SECONDS
    with pytest.raises(ResourceLimitError):
        ResponseHierarchy(net20, "h1", 1).kernel((0,)).evaluate(np.array([[1.0]]),
                                                                method="galerkin", **sampled)
    # time_budget moves the limit (checked before any work), and is validated
    cost.check_time(net20, 3, parse_options(net20, {"time_budget": 1000, **sampled}))
    with pytest.raises(ResourceLimitError):
        cost.check_time(net8, 5, parse_options(net8, {"time_budget": 5, **sampled}))
    for bad in (0, -1.0, float("nan"), True, "60", 1e6):
        with pytest.raises(InvalidInputError) as exc:
            parse_options(net8, {"time_budget": bad})
        assert exc.value.param == "time_budget"


def test_a_cost_refusal_says_when_drawing_the_samples_dominates():
    """A 14-unit network with a slow mode (relaxation time 15) was refused at degree 3 with
    "needs about 437 s" and no hint that 426 s of it were the burn-in of the p0 sampler
    (33,158 steps per sample), which only fewer samples or Monte Carlo avoid. The refusal
    now names that share where it is at least a quarter; a fast network's does not."""
    from volterra_sym.backends.galerkin import cost
    from volterra_sym.backends.galerkin import measure as measures
    from volterra_sym.backends.galerkin.options import parse_options
    from volterra_sym.errors import ResourceLimitError

    n, rng = 6, np.random.default_rng(0)
    slow = SRNN(1.0, 0.93 * np.eye(n) + 0.05 * rng.standard_normal((n, n)), np.ones((n, 1)),
                0.5, activation="tanh", name="slow6")
    steps, tau, _ = measures.burn_in_facts(slow)
    assert tau > 30 and steps > 1000
    with pytest.raises(ResourceLimitError) as exc:
        cost.check_time(slow, 4, parse_options(slow, {"time_budget": 5, "measure": "samples"}))
    msg = str(exc.value)
    share = float(msg.split("of which about ")[1].split(" s")[0])
    assert share >= 0.25 * exc.value.estimate and f"{steps:,} steps" in msg
    assert f"relaxation time being {tau:.3g}" in msg
    # the samples that fit are named, and they do fit
    fit = int(re.match(r"[\d,]*\d", msg.split("lower paths (--paths) to about ")[1])
              .group(0).replace(",", ""))
    assert cost.estimated_seconds(slow, 4, parse_options(slow, {
        "time_budget": 5, "paths": fit, "measure": "samples"})) <= 5
    assert cost.estimated_seconds(slow, 4, parse_options(slow, {
        "time_budget": 5, "paths": 2 * fit, "measure": "samples"})) > 5
    fast = SRNN(1.0, 0.3 * rng.standard_normal((n, n)) / np.sqrt(n), np.ones((n, 1)), 0.5,
                activation="tanh", name="fast6")
    with pytest.raises(ResourceLimitError) as exc:
        cost.check_time(fast, 7, parse_options(fast, {"time_budget": 5, "measure": "samples"}))
    assert "draw the samples" not in str(exc.value)


def test_a_degree_with_one_comparison_is_refused_for_nonlinear_networks():
    """The truncation part needs two informative lower degrees: with one (K₁ at degree 2
    against degree 1; K₂ at degree 3 against degree 2) the change under-estimated the
    actual error up to 3.8× (8-unit networks; 2.4× for K₂ of network(8, 1.3, 2) against
    the kick estimator). An explicit such degree is refused naming ``degree`` for a
    nonlinear network, kernels and series alike (checked from below; from above, the
    default where it applies, the degrees above are compared instead and these degrees
    are kept); without one the degree starts high enough; no remedy of a cost refusal
    points below degree 3; a linear network keeps every degree (exact)."""
    from volterra_sym.backends.galerkin import truncation

    model = _coupled3()
    hier = ResponseHierarchy(model, "h1", order=2)
    u = lambda t: np.array([np.sin(t)])  # noqa: E731
    times = np.linspace(0, 2, 5)
    below = {"method": "galerkin", "check": "below"}
    for call in (lambda: hier.kernel((0,)).evaluate([[1.0]], degree=2, **below),
                 lambda: hier.kernel((0,)).evaluate([[1.0]], degree=1, **below),
                 lambda: hier.kernel((0, 0)).evaluate([[1.0, 0.5]], degree=3, **below),
                 lambda: hier.series_terms(u, times, degree=3, **below)):
        with pytest.raises(InvalidInputError) as exc:
            call()
        assert exc.value.param == "degree"
    above = hier.kernel((0, 0)).evaluate([[1.0, 0.5]], method="galerkin", degree=3)
    assert above.details["route"]["check"] == "above"
    assert hier.kernel((0,)).evaluate([[1.0]], method="galerkin", degree=3).values.size == 1
    assert hier.series_terms(u, times, method="galerkin", degree=4).details["degree"] == 4
    default = hier.kernel((0, 0)).evaluate([[1.0, 0.5]], method="galerkin")
    assert default.details["route"]["degree"] >= 4
    assert not truncation.lower_allowed(model, 3) and truncation.lower_allowed(model, 4)
    lin = SRNN(np.eye(3), 0.3 * np.eye(3), np.ones((3, 1)), 0.6 * np.eye(3),
               activation="linear")
    assert truncation.lower_allowed(lin, 3)
    ex = ResponseHierarchy(lin, "h1", 2)
    lags = np.array([[1.0, 0.5], [2.0, 0.3]])
    np.testing.assert_allclose(
        np.asarray(ex.kernel((0, 0)).evaluate(lags, method="galerkin", degree=2)),
        np.asarray(ex.kernel((0, 0)).evaluate(lags, method="exact")), rtol=1e-10, atol=1e-14)


def test_norm_2_matches_the_singular_values():
    """The power-iteration norm behind cond(V) against numpy's SVD (a lower bound, close)."""
    from volterra_sym.backends.modal import operator_norm

    rng = np.random.default_rng(3)
    for M in (7, 60, 300):
        A = rng.standard_normal((M, M)) + 1j * rng.standard_normal((M, M))
        exact = float(np.linalg.svd(A, compute_uv=False)[0])
        est = operator_norm(A.__matmul__, A.conj().T.__matmul__, M, iterations=30)
        assert est <= exact * (1 + 1e-12)
        assert est >= exact * (1 - 1e-3)


def test_dense_series_errors_from_the_nodes_match_the_per_time_errors():
    """Asked at more times than the forward form has nodes, the series compares its lower
    degrees and jackknife replicates at the nodes; its values are the same and its errors
    at shared times stay within a small factor of the per-time comparison (the statistical
    part is the largest over each step, so never much below it)."""
    from volterra_sym.model.catalogue import load_model

    model = load_model("noisy_rnn4")          # sampled measure: jackknife replicates
    H = ResponseHierarchy(model, "h1", 2)

    def u(t):
        return np.sin(2.0 * t) * np.ones(model.m)
    sparse = np.array([0.6, 1.5, 3.0])
    dense = np.linspace(0.0, 3.0, 2001)           # 0.6, 1.5, 3.0 are on this grid
    at = [int(round(t / 3.0 * 2000)) for t in sparse]
    a = H.series_terms(u, sparse, method="galerkin", degree=4)
    b = H.series_terms(u, dense, method="galerkin", degree=4)
    assert b.details["steps"] * 7 < dense.size < a.details["steps"] * 7 * 1000
    va, vb = np.asarray(a), np.asarray(b)[:, at]
    assert np.max(np.abs(va - vb)) <= 1e-12 * np.max(np.abs(va))
    ea, eb = np.asarray(a.error)[1:], np.asarray(b.error)[1:, at]
    assert np.all(eb >= 0.98 * ea) and np.all(eb <= 5.0 * ea)


def test_slow_convergence_of_a_two_well_density_is_in_the_error():
    """The bistable tanh1d's K₃ converges slowly in a polynomial basis (its error contracts
    by about 0.5 per two degrees from degree 15 to 19): the change against degrees d − 1,
    d − 2 alone fell 1.01–1.47× below the actual error at degrees 18 and 19 (``verify
    tanh1d --order 3`` failed its spectral-vs-galerkin check). With the contraction factor
    the reported error covers the spectral route's value at every degree, within 4×."""
    from volterra_sym.backends.galerkin.truncation import slow_convergence_factor
    from volterra_sym.model.catalogue import load_model

    hier = ResponseHierarchy(load_model("tanh1d"), "h1", order=3)
    lags = np.array([[0.5, 1.0, 1.5], [0.5, 0.5, 0.5], [0.25, 0.5, 0.75]])
    sp_ = hier.kernel((0, 0, 0)).evaluate(lags, method="spectral")
    for degree in (17, 18, 19):
        ga = hier.kernel((0, 0, 0)).evaluate(lags, method="galerkin", degree=degree,
                                             check="below")
        diff = np.abs(np.asarray(ga) - np.asarray(sp_))
        bound = np.asarray(ga.error) + np.asarray(sp_.error)
        assert np.all(diff <= bound), (degree, diff, bound)
        assert bound.max() <= 4 * diff.max(), (degree, diff, bound)
    assert slow_convergence_factor(1.0, 10.0) == 1.0          # fast: the change alone
    assert slow_convergence_factor(1.0, 2.0) == pytest.approx(3.0)
    assert slow_convergence_factor(2.0, 1.0) == pytest.approx(27.0)   # not shrinking
    assert slow_convergence_factor(0.0, 0.0) == 1.0


@pytest.mark.parametrize("f", ["1/(h1-0.3)**2", "tan(h1)", "sqrt(h1)", "1/h1", "log(h1**2 + h1)"])
def test_observables_singular_on_the_state_space_are_refused(f):
    """``p0 > 0`` on the whole line, so an observable with a pole (or leaving the real
    domain) there has no average: galerkin and spectral refuse it instead of returning
    finite numbers (galerkin used to report T₀ = 493.18 ± 7e-12 for ``1/(h1-0.3)**2``)."""
    import volterra_sym as vs
    from volterra_sym.errors import NotApplicableError

    H = vs.ResponseHierarchy(vs.load_model("tanh1d"), f, order=1)
    for method in ("galerkin", "spectral"):
        with pytest.raises(NotApplicableError, match="singular on the state space|not finite"):
            H.kernel(0).evaluate([0.5], method=method)
        with pytest.raises(NotApplicableError):
            H.mean0(method)
    with pytest.raises(NotApplicableError):
        H.series_terms(lambda t: np.array([1.0]), [0.0, 1.0], method="galerkin")


@pytest.mark.parametrize("f", ["1/(2 + sin(h1))", "tan(tanh(h1))", "log(1 + h1**2)",
                               "sigmoid(h1)", "sqrt(1 + h1**2)"])
def test_smooth_observables_with_guarded_parts_are_accepted(f):
    import volterra_sym as vs

    H = vs.ResponseHierarchy(vs.load_model("tanh1d"), f, order=1)
    g = H.kernel(0).evaluate([0.5], method="galerkin")
    s = H.kernel(0).evaluate([0.5], method="spectral")
    assert abs(float(g.values) - float(s.values)) <= float(g.error) + float(s.error) + 1e-12


def test_sampling_options_without_a_sampled_measure_warn():
    """tanh3 averages over the deterministic density: ``paths``/``seed`` change nothing,
    and the caller is told so instead of believing they did."""
    import warnings

    import volterra_sym as vs

    H = vs.ResponseHierarchy(vs.load_model("tanh3"), "h1", order=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        base = H.kernel(0).evaluate([0.5], method="galerkin", degree=5)
    with pytest.warns(UserWarning, match="paths, seed had no effect"):
        again = H.kernel(0).evaluate([0.5], method="galerkin", degree=5, paths=1000, seed=7)
    assert float(again.values) == float(base.values)
    with pytest.warns(UserWarning, match="paths had no effect"):
        H.series_terms(lambda t: np.array([1.0]), [0.0, 1.0], method="galerkin", degree=5,
                       paths=1000)


def test_singular_noise_in_two_dimensions():
    """A 2-unit network whose noise drives one unit: the grid density (spectral) needs a
    regular D, so galerkin averages over its own density — K₁ of the driven OU unit is
    exactly exp(-2σ) — and where the noise reaches nothing else p0 has no density and
    galerkin says so (it used to say "method 'spectral' does not apply")."""
    import volterra_sym as vs
    from volterra_sym.errors import NotApplicableError

    sigma = [[1, 0], [0, 0]]
    coupled = vs.SRNN(np.eye(2) * 2, [[0, 0], [1, 0]], [1, 0], sigma, activation="tanh",
                      b=[0.1, 0.2])
    r = vs.ResponseHierarchy(coupled, "h1").kernel(0).evaluate([0.5, 1.0], method="galerkin")
    exact = np.exp(-2 * np.array([0.5, 1.0]))
    assert np.all(np.abs(r.values - exact) <= r.error + 1e-12)
    alone = vs.SRNN(np.eye(2) * 2, np.zeros((2, 2)), [1, 0], sigma, activation="tanh",
                    b=[0.1, 0.2])
    with pytest.raises(NotApplicableError, match="galerkin.*p0 has no density"):
        vs.ResponseHierarchy(alone, "h1").kernel(0).evaluate([0.5], method="galerkin")


def test_coincident_kicks_need_a_degree_that_resolves_them():
    """r kicks at one time are r derivatives in a row: below degree r the kernel and its
    lower-degree comparisons are all exactly 0, which used to come back as 0 ± 1e-14
    (tanh1d K₈ at eight equal lags, degree 5; the value is about −2.3)."""
    import volterra_sym as vs
    from volterra_sym.backends.galerkin.truncation import coincident_kicks
    from volterra_sym.errors import InvalidInputError

    assert coincident_kicks(np.array([[0.3, 0.3, 0.3], [0.1, 0.2, 0.2]])) == 3
    assert coincident_kicks(np.array([[0.1, 0.2, 0.3]])) == 1
    m = vs.load_model("tanh1d")
    H = vs.ResponseHierarchy(m, "h1", order=8)
    with pytest.raises(InvalidInputError, match="kicks at the same time"):
        H.kernel((0,) * 8).evaluate([[0.05] * 8], method="galerkin", degree=5)
    H3 = vs.ResponseHierarchy(m, "h1", order=3)
    g = H3.kernel((0, 0, 0)).evaluate([[0.3, 0.3, 0.3]], method="galerkin")
    s = H3.kernel((0, 0, 0)).evaluate([[0.3, 0.3, 0.3]], method="spectral")
    assert np.all(np.abs(g.values - s.values) <= g.error + s.error)
    assert g.details["route"]["degree"] >= 5


def test_the_time_budget_bounds_a_tol_ladder():
    """--time-budget held for each degree, not for the ladder: tanh3 at tol=1e-9 with a
    20 s budget ran 50 s before giving up."""
    import time

    import volterra_sym as vs
    from volterra_sym.errors import AccuracyNotReachedError

    H = vs.ResponseHierarchy(vs.load_model("tanh3"), "h1", order=1)
    t0 = time.perf_counter()
    with pytest.raises(AccuracyNotReachedError, match="stopped by the time budget"):
        H.kernel(0).evaluate([0.5], method="galerkin", tol=1e-12, time_budget=3)
    assert time.perf_counter() - t0 < 3 * 2.5


@pytest.mark.parametrize("kind", ["complex_pairs", "all_real", "symmetric", "unpaired"])
def test_eigenbasis_kicks_equal_the_formed_complex_products(kind):
    """The kicks applied through ``V = T P`` and the LU factors of ``T``
    (:class:`~volterra_sym.backends.galerkin.eigenbasis.ModalKick`: ``X B``, ``X Bᵀ``,
    ``V⁻¹ c``, ``κ(V)``) equal the formed ``B = V⁻¹ M V`` — an independent route
    (``np.linalg.inv``, complex GEMMs, the SVD) — to rounding, for dense and sparse ``M``;
    ``unpaired``: a complex ``V`` whose pairs are not adjacent (the complex fallback)."""
    import scipy.linalg
    import scipy.sparse

    from volterra_sym.backends.galerkin.eigenbasis import Eigenbasis, ModalKick

    rng = np.random.default_rng(3)
    M = 60
    A = rng.standard_normal((M, M))
    if kind == "all_real":
        A = np.triu(A) + np.diag(np.arange(M))      # real spectrum, real V
    elif kind == "symmetric":
        A = A + A.T
    lam, V = scipy.linalg.eig(A)
    if kind == "unpaired":
        order = rng.permutation(M)
        lam, V = lam[order], V[:, order]
    basis = Eigenbasis.of(lam, V)
    assert basis.first.size == (np.count_nonzero(lam.imag) // 2 if kind in (
        "complex_pairs", "symmetric") else 0)
    if kind == "complex_pairs":
        assert np.iscomplexobj(V) and basis.first.size > 5 and np.isrealobj(basis.T)
    if kind == "unpaired":
        assert np.iscomplexobj(basis.T)
    ref = np.linalg.inv(V)
    sparse = scipy.sparse.random(M, M, density=0.05, random_state=4, format="csr")
    X = rng.standard_normal((7, M)) + 1j * rng.standard_normal((7, M))
    for Mk in (rng.standard_normal((M, M)), sparse):
        want = ref @ np.asarray(Mk.todense() if scipy.sparse.issparse(Mk) else Mk) @ V
        kick = ModalKick(basis, Mk)
        scale = np.abs(X).max() * np.abs(want).max() * M
        assert np.abs(kick.rows_times(X) - X @ want).max() < 1e-11 * scale
        assert np.abs(kick.rows_times_t(X) - X @ want.T).max() < 1e-11 * scale
        assert np.abs(kick.dense() - want).max() < 1e-11 * np.abs(want).max()
    c = rng.standard_normal(M)
    assert np.abs(basis.solve(c) - ref @ c).max() < 1e-11 * np.abs(ref @ c).max()
    C = rng.standard_normal((M, 3))
    assert np.abs(basis.solve(C) - ref @ C).max() < 1e-11 * np.abs(ref @ C).max()
    exact = np.linalg.cond(V)
    assert exact * (1 - 1e-2) <= basis.condition() <= exact * (1 + 1e-12)
    # ‖B‖₂ through the modal system's row products (the forward form's rounding scale)
    from volterra_sym.backends.modal import kick_norm

    class Kicked:
        M, dtype = basis.M, complex

        def times_B(self, k, X):
            return kick.rows_times(X)

        def times_Bt(self, k, X):
            return kick.rows_times_t(X)
    svd = float(np.linalg.svd(kick.dense(), compute_uv=False)[0])
    assert svd * (1 - 1e-2) <= kick_norm(Kicked(), 0) <= svd * (1 + 1e-12)


def test_eigenbasis_refuses_a_singular_eigenvector_matrix():
    """A singular ``V`` (a defective generator's repeated eigenvector) is a ``LinAlgError``
    (build_system then refuses with cond(V) = inf), not a silent inf/NaN."""
    from volterra_sym.backends.galerkin.eigenbasis import Eigenbasis

    V = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    with pytest.raises(np.linalg.LinAlgError):
        Eigenbasis.of(np.array([-1.0, -1.0, -2.0]), V)


def test_modal_system_does_not_depend_on_the_basis_of_the_span():
    """build_system with Q = None (a jackknife replicate in the basis as it is) gives the
    same modal invariants as with the orthonormalising Q: the spectrum, p·e^{τΛ}a₀ and
    p·e^{τΛ}B e^{τΛ}a₀ — against the independent route through Q."""
    from volterra_sym.backends.galerkin.system import Sums, build_system, orthonormaliser

    rng = np.random.default_rng(5)
    M = 40
    X = rng.standard_normal((M, M))
    G = X @ X.T / M + 0.5 * np.eye(M)
    Lam = -np.diag(np.arange(M, dtype=float)) + 0.3 * rng.standard_normal((M, M))
    Lam[:, 0] = 0.0                                  # a constant mode: λ = 0
    sums = Sums(G, G @ Lam, {0: G @ rng.standard_normal((M, M))},
                G[:, 0].copy(), G @ rng.standard_normal(M))
    Q, cond = orthonormaliser(G)
    assert Q.shape == (M, M)
    a = build_system(sums, Q, cond, "test", "stationary")
    b = build_system(sums, None, cond, "test", "stationary")
    assert np.allclose(np.sort_complex(a.lam), np.sort_complex(b.lam), atol=1e-9)
    for tau in (0.05, 0.3, 1.0):
        ea, eb = np.exp(tau * a.lam), np.exp(tau * b.lam)
        k1a, k1b = a.pairing @ (ea * a.a0), b.pairing @ (eb * b.a0)
        k2a = a.pairing @ (ea * a.times_Bt(0, (ea * a.a0)[None])[0])
        k2b = b.pairing @ (eb * b.times_Bt(0, (eb * b.a0)[None])[0])
        assert abs(k1a - k1b) <= 1e-10 * max(1.0, abs(k1a))
        assert abs(k2a - k2b) <= 1e-10 * max(1.0, abs(k2a))


@pytest.mark.parametrize("noise", ["constant", "state_dependent"])
def test_chunked_assembly_equals_the_sums_written_out(monkeypatch, noise):
    """``assemble`` accumulates ``G, A, B^k, m, F`` over chunks of points (memory independent
    of their number); against the averages written out from ``ψ_α(y) = Π_i He_{α_i}(y_i)
    /√α_i!`` (numpy's Hermite–E polynomials), ``∂_h = L⁻ᵀ∂_y`` and
    ``L0ψ = φ·∇ψ + ½ tr(D ∇²ψ)``, per group of points, with one group of signed weights
    (the ``galerkin_density`` measure), at many chunks (256 rows) and at one."""
    import math

    from numpy.polynomial import hermite_e as He

    from volterra_sym.backends.galerkin import system
    from volterra_sym.backends.galerkin.basis import MonomialBasis

    rng = np.random.default_rng(7)
    n, d, P = 2, 3, 2100
    basis = MonomialBasis(n, d)
    L = np.array([[1.3, 0.0], [0.4, 0.8]])
    white = system.Whitening(np.array([0.2, -0.1]), L)
    x = white.mu + rng.standard_normal((P, n)) @ L.T
    phi = np.tanh(x @ np.array([[0.5, -0.7], [0.9, 0.2]]).T) - x
    fv = x[:, 0] ** 2 - x[:, 1]
    if noise == "constant":
        D = np.array([[0.5, 0.1], [0.1, 0.3]])
        Dp = np.broadcast_to(D, (P, n, n))
    else:
        S = 0.4 * np.eye(n) + 0.2 * np.tanh(x)[:, :, None] * np.eye(n)
        D = Dp = S @ np.swapaxes(S, 1, 2)
    kicks = {0: np.array([1.0, -0.5]), (0, 0): 0.3 * (1 - np.tanh(x) ** 2)}
    w = rng.random(P)
    w[1500] = -0.05                             # the last group's weights are signed
    groups = [np.arange(0, 700), np.arange(700, 1400), np.arange(1400, P)]

    # the averages written out
    y = white.to_y(x)
    Linv = np.linalg.inv(L)

    def he(k, t, der=0):
        c = np.zeros(k + 1)
        c[k] = 1.0
        return He.hermeval(t, He.hermeder(c, der) if der else c) / math.sqrt(math.factorial(k))

    E = basis.exponents
    psi = np.ones((P, len(E)))
    grad = np.ones((P, len(E), n))
    hess = np.ones((P, len(E), n, n))
    for b, a in enumerate(E):
        for i in range(n):
            psi[:, b] *= he(a[i], y[:, i])
            for j in range(n):
                grad[:, b, j] *= he(a[i], y[:, i], 1 if i == j else 0)
                for k in range(n):
                    hess[:, b, j, k] *= he(a[i], y[:, i], (i == j) + (i == k))
    Dt = np.einsum("ab,pbc,dc->pad", Linv, Dp, Linv)
    L0psi = (np.einsum("pbi,pi->pb", grad, phi @ Linv.T)
             + 0.5 * np.einsum("pbij,pij->pb", hess, Dt))
    Lk = {0: grad @ (Linv @ kicks[0]),
          (0, 0): np.einsum("pbi,pi->pb", grad, kicks[(0, 0)] @ Linv.T)}
    for rows_per_chunk in (256, 10 ** 6):
        monkeypatch.setattr(system, "CHUNK_BYTES", 8 * basis.size * rows_per_chunk)
        got = system.assemble(basis, white, x, w, phi, fv, D, kicks, groups)
        for rows, s in zip(groups, got, strict=True):
            ww = w[rows] / w[rows].sum()
            want = {"G": psi[rows].T @ (ww[:, None] * psi[rows]),
                    "A": psi[rows].T @ (ww[:, None] * L0psi[rows]),
                    "m": ww @ psi[rows], "F": psi[rows].T @ (ww * fv[rows]),
                    **{f"B{k}": psi[rows].T @ (ww[:, None] * v[rows]) for k, v in Lk.items()}}
            have = {"G": s.G, "A": s.A, "m": s.m, "F": s.F,
                    **{f"B{k}": np.asarray(s.B[k]) for k in Lk}}
            for key, ref in want.items():
                assert np.abs(have[key] - ref).max() < 1e-12 * np.abs(ref).max(), key
            assert np.array_equal(s.G, s.G.T)


def test_samples_hint_of_a_tol_refusal():
    """``P·(stat / (tol·scale − trunc − rounding))²`` samples where the statistical part
    dominates; nothing where the truncation part does; and no number where the truncation
    part alone is above ``tol``."""
    from volterra_sym.backends.galerkin.ladder import samples_hint
    from volterra_sym.backends.galerkin.options import GalerkinOptions

    opts = GalerkinOptions(5, 2e-4, 40_000, 0, 8, 2**30, 120.0)
    parts = {(0,): {"truncation": 1e-4, "statistical": 3e-4, "rounding": 0.0}}
    # scale 1: room = 2e-4 − 1e-4, paths = 40,000·3² = 360,000
    assert "about 360,000 samples" in samples_hint(parts, 1.0, opts)
    assert samples_hint({(0,): {"truncation": 3e-4, "statistical": 1e-4, "rounding": 0.0}},
                         1.0, opts) == ""
    hint = samples_hint({(0,): {"truncation": 2.5e-4, "statistical": 3e-4, "rounding": 0.0}},
                         1.0, opts)
    assert "alone is above tol" in hint and "samples" not in hint


def test_a_tol_refusal_dominated_by_sampling_names_paths_and_more_paths_reach_it():
    """A 6-unit network (sampled measure): with 2,000 samples and a short time budget
    ``tol=4e-4`` is refused with the advice to raise ``--paths``; with 30 times the samples
    the same ``tol`` is reached (measured: at degree 3, statistical part 5.9e-5)."""
    rng = np.random.default_rng(0)        # benchmarks/bench_galerkin_mc.py's network(6, 1.0)
    W = np.round(rng.standard_normal((6, 6)) / np.sqrt(6), 4)
    b = np.round(0.2 * rng.standard_normal(6), 4)
    model = SRNN(np.eye(6), W, np.ones((6, 1)), 0.6 * np.eye(6), b=b, activation="tanh")
    hier = ResponseHierarchy(model, "h1", order=1)
    lags = [[0.5], [1.5]]
    with pytest.raises(AccuracyNotReachedError) as info:
        hier.kernel((0,)).evaluate(lags, method="galerkin", tol=4e-4, paths=2000,
                                   time_budget=2, measure="samples")
    assert "--paths" in str(info.value), str(info.value)
    k = hier.kernel((0,)).evaluate(lags, method="galerkin", tol=4e-4, paths=60_000,
                                   time_budget=10, measure="samples")
    assert np.max(k.error) <= 4e-4 * np.max(np.abs(k.values))


def test_a_cost_refusal_offers_a_lower_degree_only_where_the_request_allows_it():
    """A degree refused for its estimated time offers a lower degree only down to the least
    the request allows: K₁ at degree 4 may go to 3, K₂ may not (its estimate needs two
    informative lower degrees from degree 2) — a 16-unit K₂ at degree 4 was told "lower
    degree (--degree)", and degree 3 is refused for K₂. A budget between the degree-3 and
    degree-4 estimates of a 3-unit network, checked from below (from above:
    tests/test_galerkin_check_above.py)."""
    from volterra_sym.backends.galerkin.cost import estimated_seconds
    from volterra_sym.backends.galerkin.options import parse_options

    model = _coupled3().replace(name="coupled3_cost")    # no cached assembly: a fresh cache
    opts = parse_options(model, {}, model.h[0])
    budget = math.sqrt(estimated_seconds(model, 3, opts) * estimated_seconds(model, 4, opts))
    H = ResponseHierarchy(model, "h1", 2)
    offered = {}
    for key, lags in (((0,), [[1.0]]), ((0, 0), [[1.0, 0.5]])):
        with pytest.raises(ResourceLimitError) as exc:
            H.kernel(key).evaluate(lags, method="galerkin", degree=4, time_budget=budget,
                                   check="below")
        offered[key] = "--degree" in exc.value.option
    assert offered == {(0,): True, (0, 0): False}
    with pytest.raises(InvalidInputError):
        H.kernel((0, 0)).evaluate([[1.0, 0.5]], method="galerkin", degree=3, check="below")
    with pytest.raises(ResourceLimitError) as exc:
        H.series_terms(lambda t: np.array([np.sin(t)]), np.linspace(0, 2, 5),
                       method="galerkin", degree=4, time_budget=budget, check="below")
    assert "--degree" not in exc.value.option


def test_a_memory_refusal_offers_samples_only_on_a_sampled_measure(monkeypatch):
    """The memory refusal's remedies: fewer samples only where the measure is sampled (the
    Gaussian reference has none to lower — an 8-unit refusal there said "lower paths
    (--paths)"), a lower degree only where the request allows it, else Monte Carlo."""
    net8 = _tanh_net(8).replace(name="tanh8_memory")    # no cached assembly: a fresh cache
    H = ResponseHierarchy(net8, "h1", 2)
    assert H.kernel((0,)).evaluate([[1.0]], method="galerkin", degree=3).details[
        "route"]["measure"] == "gaussian"
    # 2 MB: the 4,000 samples fit (0.6 MB), no degree-4 assembly does (≥ 40 MB)
    monkeypatch.setenv("VOLTERRA_MEMORY_BUDGET", "2M")
    offered = {}
    for name, model, key, lags, opts in (
            ("reference K1", net8, (0,), [[1.0]], {}),
            ("reference K2", net8, (0, 0), [[1.0, 0.5]], {}),
            ("samples K1", _sampled_network("tanh6_memory"), (0,), [[1.0]],
             {"measure": "samples", "paths": 4000})):
        with pytest.raises(ResourceLimitError) as exc:
            ResponseHierarchy(model, "h1", 2).kernel(key).evaluate(
                lags, method="galerkin", degree=4, **opts)
        assert exc.value.unit == "bytes"
        offered[name] = tuple(w for w in ("--degree", "--paths", "--method")
                              if w in exc.value.option)
    assert offered == {"reference K1": ("--degree",), "reference K2": ("--method",),
                       "samples K1": ("--degree", "--paths")}


def _sampled_network(name: str):
    """A 6-unit tanh network, whose averaging measure is sampled (degree 3: M = 84)."""
    rng = np.random.default_rng(3)
    W = np.round(rng.standard_normal((6, 6)) / np.sqrt(6), 4)
    return SRNN(np.eye(6), W, np.ones((6, 1)), 0.6 * np.eye(6), activation="tanh",
                b=[0.2, -0.1, 0.3, 0.0, 0.1, -0.2], name=name)


def test_a_cached_assembly_is_not_refused_for_memory_again(monkeypatch):
    """The memory check of the Galerkin sums runs where they are computed: a second request
    on the same model and measure (other lags) is served from the cached assembly even
    when the memory left would not hold a new one (measured on a 5-unit network: the
    series for a second input was refused at degree 9 after the first had been computed,
    the caches then holding what the check asked for)."""
    model = _sampled_network("tanh6_cached")
    K = ResponseHierarchy(model, "h1", 1).kernel((0,))
    opts = {"method": "galerkin", "degree": 3, "paths": 4000, "measure": "samples"}
    first = K.evaluate(np.array([[0.5]]), **opts)
    # 100 kB: a degree-2 basis still fits (the route applies), 4,000 points do not
    monkeypatch.setenv("VOLTERRA_MEMORY_BUDGET", "100K")
    second = K.evaluate(np.array([[0.5], [1.0]]), **opts)
    assert np.isclose(np.asarray(second)[0], np.asarray(first)[0], rtol=1e-13, atol=0)
    with pytest.raises(ResourceLimitError) as exc:      # a new assembly is still checked
        K.evaluate(np.array([[0.5]]), **{**opts, "paths": 4008})
    assert exc.value.unit == "bytes"


def test_a_default_memory_budget_is_not_called_given(monkeypatch):
    """Without ``memory_budget`` the refusal names where the budget came from
    (``VOLTERRA_MEMORY_BUDGET`` here), not "as given" (the route had resolved the default
    into a number and passed it on as the user's); with it, "as given" — and the sampling
    of ``p0`` keeps to it too (it had checked against the default)."""
    model = _sampled_network("tanh6_budget")       # nothing of it cached
    K = ResponseHierarchy(model, "h1", 1).kernel((0,))
    monkeypatch.setenv("VOLTERRA_MEMORY_BUDGET", "100K")
    with pytest.raises(ResourceLimitError) as exc:
        K.evaluate(np.array([[0.5]]), method="galerkin", degree=3, paths=4000,
                   measure="samples")
    assert "VOLTERRA_MEMORY_BUDGET" in str(exc.value) and "as given" not in str(exc.value)
    with pytest.raises(ResourceLimitError) as exc:
        K.evaluate(np.array([[0.5]]), method="galerkin", degree=3, paths=4000,
                   memory_budget=100_000, measure="samples")
    assert "as given" in str(exc.value)


def _tanh1d_sin2t(order: int):
    """tanh1d's hierarchy to ``order``, the input sin 2t, times 0.5–2.5 and the spectral
    route's terms there (tol 1e-10): the reference of the series tests below."""
    import math

    from volterra_sym.cli import load_model

    model = load_model("tanh1d")
    H = ResponseHierarchy(model, None, order)

    def u(t):
        return np.full(model.m, math.sin(2 * t))
    times = np.round(np.arange(0.5, 2.501, 0.25), 10)
    return H, u, times, H.series_terms(u, times, method="spectral", tol=1e-10)


def test_high_order_series_terms_are_within_their_estimates_at_the_default_degree():
    """tanh1d, the series for sin 2t to order 10 without degree or tol: the default degree
    is at least order + SERIES_DEGREE_MARGIN on the 1-D quadrature, and every T_N is within
    its reported error of the spectral route. At the former default degree 14, T_10 was
    3.9e-7 off with 2.2e-7 reported (its convergence plateaus at degrees 12–15), and
    ``verify tanh1d --order 10`` failed its spectral-vs-galerkin check."""
    from volterra_sym.backends.galerkin.route import SERIES_DEGREE_MARGIN

    H, u, times, spec = _tanh1d_sin2t(10)
    res = H.series_terms(u, times, method="galerkin")
    assert res.details["degree"] >= 10 + SERIES_DEGREE_MARGIN - 2     # conditioning may lower
    tol = np.asarray(res.error) + np.asarray(spec.error)
    off = np.abs(np.asarray(res) - np.asarray(spec))
    assert np.all(off <= tol), (off / tol).max(axis=1)


def test_series_tol_raises_the_degree_until_every_error_is_below_it():
    """``tol`` on the series is the target of every term's error relative to the largest
    ``|T_N(t)|`` (issue 9: "tol= raises the degree until the estimate is below it"). It was
    only handed to the forward form as its step tolerance: ``series tanh3 --tol 1e-3`` came
    back at degree 5 with errors up to 2.5e-2 on terms up to 0.94. Checked against the
    spectral route on tanh1d."""
    H, u, times, spec = _tanh1d_sin2t(3)
    degrees = []
    for tol in (1e-2, 1e-4):
        res = H.series_terms(u, times, method="galerkin", tol=tol)
        vals, err = np.asarray(res), np.asarray(res.error)
        assert err.max() <= tol * np.abs(vals).max()
        off = np.abs(vals - np.asarray(spec))
        assert np.all(off <= err + np.asarray(spec.error)), (off / err).max()
        degrees.append(res.details["degree"])
    assert degrees[1] > degrees[0]
    # beyond what the basis can vouch for (degree 20 is ill-conditioned): a refusal with
    # the best terms, which are within their own errors
    with pytest.raises(AccuracyNotReachedError) as exc:
        H.series_terms(u, times, method="galerkin", tol=1e-7)
    best = exc.value.best
    assert exc.value.error > 1e-7
    assert np.all(np.abs(np.asarray(best) - np.asarray(spec))
                  <= np.asarray(best.error) + np.asarray(spec.error))


def test_series_tol_at_a_fixed_degree_refuses_with_the_best_terms():
    """``degree`` and ``tol`` together: the terms at that degree if they reach ``tol``, else
    AccuracyNotReachedError naming the fixed degree, with the terms as ``best``."""
    from volterra_sym.cli import load_model
    from volterra_sym.results import SeriesTerms

    model = load_model("tanh3")
    H = ResponseHierarchy(model, "h1", 2)

    def u(t):
        return np.array([np.sin(t)])
    times = np.linspace(0.0, 5.0, 21)
    with pytest.raises(AccuracyNotReachedError) as exc:
        H.series_terms(u, times, method="galerkin", degree=5, tol=1e-3)
    assert "fixed degree 5" in str(exc.value) and exc.value.tol == 1e-3
    assert isinstance(exc.value.best, SeriesTerms) and exc.value.error > 1e-3
    res = H.series_terms(u, times, method="galerkin", degree=5, tol=0.1)
    assert np.asarray(res.error).max() <= 0.1 * np.abs(np.asarray(res)).max()


@pytest.mark.parametrize("name", ["tanh1d", "tanh3"])
def test_a_huge_lag_gives_zero_without_overflow_warnings(name):
    """``exp(σλ)`` at σ = 1e308 overflowed in the product (six RuntimeWarnings); the value
    is the decayed 0 within its error."""
    import warnings

    from volterra_sym.model.catalogue import load_model

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        res = ResponseHierarchy(load_model(name), "h1", 1).kernel(0).evaluate([[1e308]])
    assert np.all(np.abs(res.values) <= res.error)


def test_mean0_carries_the_route_facts_like_kernels():
    """``mean0()`` details held only the observable (no degree, measure or error parts);
    with a rescaled observable (``1e40·h1``) the parts are in the caller's units."""
    from volterra_sym.model.catalogue import load_model

    H = ResponseHierarchy(load_model("tanh3"), "h1", 1)
    e = H.mean0("galerkin", degree=6)
    facts = e.details["route"]
    assert facts["degree"] == 6 and facts["measure"] == "galerkin_density"
    assert math.isclose(facts["truncation"] + facts["statistical"] + facts["rounding"],
                        float(e.error), rel_tol=1e-12)
    big = ResponseHierarchy(load_model("tanh3"), "1e40*h1", 1).mean0("galerkin", degree=6)
    assert math.isclose(float(big.values), 1e40 * float(e.values), rel_tol=1e-12)
    assert math.isclose(big.details["route"]["truncation"], 1e40 * facts["truncation"],
                        rel_tol=1e-9)


def test_jackknife_error_has_the_coverage_of_three_normal_deviations():
    """The statistical part of a sampled measure is ``z_B`` jackknife standard errors with
    ``z_B`` the Student-t quantile of ``B − 1`` degrees of freedom (the standard error is
    estimated from ``B`` batches). For the mean of normal data (truth 0) it must miss at the
    rate of ±3σ, 0.27 %; with ``z = 3`` and 8 batches it missed 2 % (``P(|t₇| > 3)``)."""
    from volterra_sym.backends.coverage import stat_z
    from volterra_sym.backends.galerkin.route import jackknife_error

    assert stat_z(8) == pytest.approx(4.53, abs=0.01)
    assert stat_z(10**6) == pytest.approx(3.0, abs=1e-4)
    rng = np.random.default_rng(5)
    for B in (4, 8, 16):
        batch_means = rng.standard_normal((20_000, B))
        # leave-one-out means: the replicates of the jackknife
        reps = (batch_means.sum(1, keepdims=True) - batch_means) / (B - 1)
        err = jackknife_error(np.moveaxis(reps, 1, 0))
        # for a plain average the jackknife is the batch spread z_B·sd/√B
        assert np.allclose(err, stat_z(B) * batch_means.std(1, ddof=1) / math.sqrt(B))
        miss = float(np.mean(np.abs(batch_means.mean(1)) > err))
        assert miss < 0.0045, (B, miss)          # 0.27 % expected (± 0.04 %)


# ------------------------------------------------------------ the Gaussian reference (ridge)
def _independent_units(n: int, gain: float) -> tuple[SRNN, list[SRNN]]:
    """``n`` uncoupled tanh units of gains ``gain·(0.9 … 1.2)`` and the units alone (1-D)."""
    rng = np.random.default_rng(n)
    w = np.round(gain * (0.9 + 0.3 * rng.random(n)), 3)
    b = np.round(0.4 * rng.random(n) - 0.2, 3)
    model = SRNN(np.eye(n), np.diag(w), np.ones((n, 1)), 0.6 * np.eye(n), b=list(b),
                 activation="tanh")
    units = [SRNN(np.eye(1), [[w[i]]], np.ones((1, 1)), 0.6 * np.eye(1), b=[b[i]],
                  activation="tanh") for i in range(n)]
    return model, units


@pytest.mark.parametrize("act", ["tanh", "softplus", "sigmoid"])
def test_ridge_sums_equal_a_tensor_gauss_hermite_rule(act):
    """The exact sums on the Gaussian reference (1-D quadrature of each ridge function
    ``a(w_l·h + b_l)`` times the conditional Gaussian moments, then monomials to Hermite
    products) against an independent route: the point assembly on a tensor Gauss–Hermite
    rule of the same Gaussian with 40 nodes per axis (n = 3, degree 4, f = h1² + h2)."""
    from volterra_sym.backends.galerkin.basis import MonomialBasis
    from volterra_sym.backends.galerkin.measure import _gh_rule
    from volterra_sym.backends.galerkin.ridge import reference_whitening, ridge_sums
    from volterra_sym.backends.galerkin.system import assemble

    model = _coupled3().replace(activation=act)
    f = model.expression("h1**2 + h2", "f")
    white = reference_whitening(model)
    C = model.numpy_params()["C"]
    exact, facts = ridge_sums(model, f, 4, white, {0: C[:, 0]})
    assert facts["quadrature_change"] < 1e-12
    Y, W = _gh_rule(40, 3)
    x = white.mu + Y @ white.L.T
    fv = x[:, 0] ** 2 + x[:, 1]
    ref = assemble(MonomialBasis(3, 4), white, x, W, model.drift_numpy()(x), fv,
                   model.numpy_params()["D"], {0: C[:, 0]})[0]
    for name in ("G", "A", "m", "F"):
        a, b = getattr(exact, name), getattr(ref, name)
        assert np.max(np.abs(a - b)) <= 1e-12 * max(1.0, np.max(np.abs(b))), name
    assert np.max(np.abs(exact.B[0] - ref.B[0])) <= 1e-12 * np.max(np.abs(ref.B[0]))


def test_gaussian_reference_is_exact_for_a_linear_network():
    """Invariance (docs/theory.md §9) on the Gaussian reference: a linear network of 8 units
    at degree 4 (too many points for the tensor rule) — K₁ and K₂ of f = h1² equal the exact
    backend to 1e-10 relative, with no statistical part."""
    H = ResponseHierarchy(_linear8(2), "h1**2", 2)
    for key, lags in (((0,), [[0.2], [1.0], [2.5]]), ((0, 1), [[0.3, 0.1], [1.5, 0.7]])):
        g = H.kernel(key).evaluate(lags, method="galerkin", degree=4)
        assert g.details["route"]["measure"] == "gaussian"
        assert g.details["route"]["statistical"] == 0.0
        ex = H.kernel(key).evaluate(lags, method="exact")
        scale = float(np.max(np.abs(ex.values)))
        assert np.max(np.abs(g.values - ex.values)) <= 1e-10 * scale


def test_gaussian_reference_errors_are_honest_on_independent_units():
    """Acceptance (issue 9, honest errors) on the Gaussian reference: six independent tanh
    units of gains 0.54–0.72 (each ``h1 + … + h6`` quantity the sum of the units' own from
    the 1-D spectral route). At degrees 4 and 5 every K₁, K₂, ``T_0 … T_2`` estimate is above
    its actual error and within 100× of it (measured: 4–73×)."""
    model, units = _independent_units(6, 0.6)
    f = " + ".join(f"h{i + 1}" for i in range(6))
    lags = np.array([[0.1], [0.5], [1.0], [2.0], [3.0]])
    pairs = np.array([[0.3, 0.3], [1.0, 0.5], [2.0, 1.0], [3.0, 0.2]])
    times = np.linspace(0.0, 6.0, 61)
    u = lambda t: np.array([np.sin(2 * t)])  # noqa: E731
    ref_k1 = sum(np.asarray(ResponseHierarchy(m, "h1", 1).kernel((0,)).evaluate(
        lags, method="spectral")) for m in units)
    ref_k2 = sum(np.asarray(ResponseHierarchy(m, "h1", 2).kernel((0, 0)).evaluate(
        pairs, method="spectral")) for m in units)
    ref_T = sum(np.asarray(ResponseHierarchy(m, "h1", 2).series_terms(
        u, times, method="spectral")) for m in units)
    H = ResponseHierarchy(model, f, 2)
    for d in (4, 5):
        k1 = H.kernel((0,)).evaluate(lags, method="galerkin", degree=d)
        k2 = H.kernel((0, 0)).evaluate(pairs, method="galerkin", degree=d)
        T = H.series_terms(u, times, method="galerkin", degree=d)
        assert k1.details["route"]["measure"] == "gaussian" == T.details["measure"]
        checks = [(np.asarray(k1), k1.error, ref_k1), (np.asarray(k2), k2.error, ref_k2)] + [
            (np.asarray(T)[N], np.asarray(T.error)[N], ref_T[N]) for N in range(3)]
        for i, (val, err, ref) in enumerate(checks):
            actual, est = float(np.max(np.abs(val - ref))), float(np.max(err))
            assert actual <= est <= 100 * actual, (d, i, actual, est)


def test_the_gaussian_reference_is_used_only_where_it_fits_p0():
    """The reference is the averaging measure only where the stationary functional puts
    ``p0``'s mean within 0.3 reference standard deviations and its variances within 1.35×
    (six units near their critical gain, 0.77–1.02: K₁ at degree 4 was 7.1e-2 off on the
    reference, 4.0e-3 on samples); not for a metastable network, a non-polynomial
    observable or ``measure="samples"``; a bad ``measure`` is refused naming it."""
    from volterra_sym.backends.galerkin.measure import kind_for
    from volterra_sym.backends.galerkin.options import parse_options

    fits, _ = _independent_units(6, 0.6)
    near, _ = _independent_units(6, 0.85)
    wells, _ = _independent_units(6, 1.2)
    assert kind_for(fits, 4, 1000)[0] == "gaussian"
    assert kind_for(near, 4, 1000)[0] == "samples"
    assert kind_for(wells, 4, 1000)[0] == "samples"
    assert kind_for(fits, 4, 1000, parse_options(fits, {"measure": "samples"}).gaussian
                    )[0] == "samples"
    tanh_f = fits.expression("tanh(h1)", "f")
    assert not parse_options(fits, {}, tanh_f).gaussian
    assert parse_options(fits, {}, fits.expression("h1*h2", "f")).gaussian
    H = ResponseHierarchy(near, "h1", 1)
    k = H.kernel((0,)).evaluate([[1.0]], method="galerkin", degree=3, paths=4000)
    assert k.details["route"]["measure"] == "samples"
    with pytest.raises(InvalidInputError) as exc:
        H.kernel((0,)).evaluate([[1.0]], method="galerkin", measure="gauss")
    assert exc.value.param == "measure"


def test_a_degree_the_reference_cannot_vouch_for_is_refused():
    """On the Gaussian reference ``T_N`` and K_N need degree ``N + 1``: independent units
    left ``T_6`` at degree 4 7.8× and ``T_5`` at degree 5 1.1× above their estimates. An
    explicit lower degree is refused naming ``degree`` and the remedies; the default
    starts there; ``measure="samples"`` keeps the old rules."""
    model, _ = _independent_units(6, 0.6)
    H = ResponseHierarchy(model, "h1", 5)
    u = lambda t: np.array([np.sin(2 * t)])  # noqa: E731
    with pytest.raises(InvalidInputError) as exc:
        H.series_terms(u, [0.0, 1.0], method="galerkin", degree=5)
    assert exc.value.param == "degree" and "degree >= 6" in str(exc.value)
    assert "measure='samples'" in str(exc.value)
    T = H.series_terms(u, [0.0, 1.0], method="galerkin", degree=5, measure="samples",
                       paths=2000)
    assert T.details["measure"] == "samples"
    T = H.series_terms(u, [0.0, 1.0], method="galerkin")
    assert T.details["measure"] == "gaussian" and T.details["degree"] >= 6


def test_measure_samples_where_nothing_is_sampled_says_so():
    """``measure="samples"`` replaces only the Gaussian reference (n ≥ 6); on tanh3 (the
    tensor-rule density) it had no effect and said nothing, while ``paths`` warned. Now it
    warns too, and the CLI names ``--measure`` in its header; ``measure=None`` is the
    default."""
    import warnings

    import volterra_sym as vs
    from volterra_sym.errors import UnusedOptionsWarning

    H = vs.ResponseHierarchy(vs.load_model("tanh3"), "h1", order=1)
    with pytest.warns(UnusedOptionsWarning, match="measure had no effect"):
        k = H.kernel(0).evaluate([0.5], method="galerkin", degree=5, measure="samples")
    assert k.details["route"]["measure"] == "galerkin_density"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = H.kernel(0).evaluate([0.5], method="galerkin", degree=5, measure=None)
    assert float(again.values) == float(k.values)
    import contextlib
    import io

    from volterra_sym.cli import main
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["kernel", "tanh3", "--method", "galerkin", "--degree", "5", "--lags", "1",
                     "--measure", "samples"])
    assert code == 0 and "--measure not used by galerkin" in out.getvalue()


@pytest.mark.parametrize("n,K", [(1, 7), (3, 8), (8, 10)])
def test_standard_moments_are_the_recursion_at_zero_mean(n, K):
    """The closed form ``Π (β_i − 1)!!`` of the standard normal's moments equals the
    moment recursion at ``mean = 0, cov = I`` exactly (odd entries 0)."""
    from volterra_sym.backends.galerkin.ridge import MonomialTable

    table = MonomialTable(n, K)
    want = table.gaussian_moments(np.zeros((1, n)), np.eye(n))[0]
    got = table.standard_moments()
    assert np.array_equal(got, want)
    assert np.count_nonzero(got) < got.size and got.max() >= 3.0


def test_moments_along_a_line_are_the_pointwise_moments():
    """``E[y^β]`` of ``N(t e, cov)`` as polynomials in ``t`` (the ridge sums' route since
    2026-12-06) equals the batch recursion at each ``t`` (n = 4, degree ≤ 7)."""
    from volterra_sym.backends.galerkin.ridge import MonomialTable

    rng = np.random.default_rng(3)
    table = MonomialTable(4, 7)
    e = rng.standard_normal(4)
    e /= np.linalg.norm(e)
    cov = np.eye(4) - np.outer(e, e)
    t = np.linspace(-4.0, 4.0, 9)
    P = table.gaussian_moments_along(e, cov)
    pointwise = table.gaussian_moments(np.outer(t, e), cov)
    via_poly = (t[:, None] ** np.arange(table.K + 1)[None, :]) @ P
    assert P.shape == (8, table.size)
    np.testing.assert_allclose(via_poly, pointwise, rtol=1e-12,
                               atol=1e-12 * np.abs(pointwise).max())


@dataclass
class _DenseModal:
    """A modal system with formed kick matrices (for the forward form's tests)."""

    lam: np.ndarray
    Bm: dict
    pairing: np.ndarray
    M: int = 40
    dtype: type = complex

    def p_times_B(self, k):
        return self.pairing @ self.Bm[k]

    def times_B(self, k, X):
        return X @ self.Bm[k]

    def times_Bt(self, k, X):
        return X @ self.Bm[k].T


def _random_modal(seed: int, scale: float = 1.0):
    """``(system, λ, a0, rng)`` of a random real 40 × 40 generator ``(A/3 − 2I)·scale`` with
    one random kick, diagonalised by LAPACK (conjugate modes adjacent)."""
    import scipy.linalg

    rng = np.random.default_rng(seed)
    A = (rng.standard_normal((40, 40)) / 3.0 - 2.0 * np.eye(40)) * scale
    lam, V = scipy.linalg.eig(A)
    Vinv = np.linalg.inv(V)
    kicks = {0: Vinv @ rng.standard_normal((40, 40)) @ V}
    a0 = Vinv @ rng.standard_normal(40)
    return _DenseModal(lam, kicks, rng.standard_normal(40) @ V), lam, a0, rng


def test_conjugate_pairs_folded_give_the_full_mode_sum():
    """:func:`~volterra_sym.backends.modal.forward_output` sums a conjugate pair of modes as
    one; on a real generator with complex modes (a random 40 × 40 matrix) the output equals
    the plain sum over every mode (folding switched off) to rounding."""
    from volterra_sym.backends import modal

    dz, lam, a0, _ = _random_modal(5)
    assert np.count_nonzero(lam.imag) >= 10
    theta, Lc = modal.forward_grid(7)
    sampler = modal.InputSampler(lambda t: np.array([np.sin(3 * t)]), 1, 2.0, 7)
    prop = modal.propagate_forward(dz, 2, 16, 2.0, sampler(16), Lc, theta)
    times = np.linspace(0.0, 2.0, 301)
    folded = modal.forward_output(dz, prop, a0, times, Lc)
    every = np.arange(40)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(modal, "conjugate_fold", lambda lam, data: (every, data))
        plain = modal.forward_output(dz, prop, a0, times, Lc)
    assert modal.conjugate_fold(lam, [a0])[0].size < 40
    np.testing.assert_allclose(folded, plain, rtol=0, atol=1e-12 * np.abs(plain).max())
    assert np.abs(plain).max() > 1e-3


@pytest.mark.parametrize("scale,chunk", [(1.0, None), (60.0, None), (1.0, 1000)])
def test_taylor_output_equals_the_mode_by_mode_phi_sums(scale, chunk, monkeypatch):
    """:func:`~volterra_sym.backends.modal.forward_output` sums the slow modes as a power
    series from the Lobatto node below each time; on random real generators (every mode
    slow at scale 1; at scale 60 about one in eight, the rest mode by mode) the output of
    orders 1–3 equals the mode-by-mode φ-function sums (the Taylor route switched off) to
    rounding, at times on and between the nodes and at the step ends; ``chunk``: the steps
    and times in chunks of one step and 37 times."""
    from volterra_sym.backends import modal
    if chunk is not None:
        monkeypatch.setattr(modal, "CHUNK_ELEMENTS", chunk)

    dz, lam, a0, rng = _random_modal(6, scale)
    theta, Lc = modal.forward_grid(7)
    sampler = modal.InputSampler(lambda t: np.array([np.sin(3 * t)]), 1, 2.0, 7)
    prop = modal.propagate_forward(dz, 3, 16, 2.0, sampler(16), Lc, theta)
    nodes = ((np.arange(16)[:, None] + theta[None, :]) * 2.0 / 16).ravel()
    times = np.concatenate([np.linspace(0.0, 2.0, 1001), nodes, rng.uniform(0, 2.0, 200)])
    near = np.abs(lam) * (2.0 / 16) * np.diff(theta).max() <= modal.TAYLOR_REACH
    assert near.all() if scale == 1.0 else 0 < near.sum() < 40
    taylor = modal.forward_output(dz, prop, a0, times, Lc)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(modal, "TAYLOR_REACH", -1.0)
        plain = modal.forward_output(dz, prop, a0, times, Lc)
    for N in range(3):
        assert np.abs(plain[N]).max() > 1e-3
        np.testing.assert_allclose(taylor[N], plain[N], rtol=0,
                                   atol=1e-12 * np.abs(plain[N]).max())
    # at the nodes both equal the integrator's own node values
    at_nodes = modal.forward_output(dz, prop, a0, nodes, Lc)
    np.testing.assert_allclose(at_nodes, prop.node_terms(a0).reshape(3, -1), rtol=0,
                               atol=1e-12 * np.abs(plain).max())


@pytest.mark.parametrize("n, d", [(1, 6), (3, 12), (5, 9), (8, 6), (20, 3)])
def test_monomial_exponents_are_the_sorted_index_tuples_degree_by_degree(n, d):
    """The graded order of the basis (its prefixes are the lower degrees): degree by
    degree, the index tuples of ``combinations_with_replacement(range(n), k)`` in their
    order, as exponent vectors."""
    from volterra_sym.backends.galerkin.basis import MonomialBasis, basis_size

    want = [np.bincount(np.array(c, dtype=int), minlength=n) for k in range(d + 1)
            for c in itertools.combinations_with_replacement(range(n), k)]
    got = MonomialBasis(n, d).exponents
    assert got.shape == (basis_size(n, d), n)
    np.testing.assert_array_equal(got, np.array(want).reshape(-1, n))
