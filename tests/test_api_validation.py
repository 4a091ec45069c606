"""Bad input to the hierarchy API gets the project's typed error naming the parameter:
never a bare TypeError/ValueError/OverflowError, a silent cut (complex -> real, 0.9 -> 0),
NaN/inf, or work refused only after it ran (docs/theory.md, Appendix B)."""

import time
import warnings

import numpy as np
import pytest
import sympy as sp

import volterra_sym as vs
from volterra_sym import SRNN, ResponseHierarchy, load_model
from volterra_sym.errors import InvalidInputError, ResourceLimitError, VolterraSymError
from volterra_sym.hierarchy.dag import MAX_RECURSION_NODES, recursion_node_count
from volterra_sym.model import ModelError


@pytest.fixture(scope="module")
def tanh1():
    return ResponseHierarchy(load_model("tanh1d"), "h1", 2)


@pytest.fixture(scope="module")
def tanh2():
    return ResponseHierarchy(load_model("tanh2d"), "h1", 2)


def _u(t):
    return np.array([np.sin(2 * t)])


TIMES = np.linspace(0, 3, 31)


# ----------------------------------------------------------------- complex, None
def test_complex_lag_array_is_refused_not_cut(tanh1):
    # used to evaluate the lag 1j as 0 (np.asarray(..., dtype=float), a ComplexWarning)
    with pytest.raises(InvalidInputError, match="complex") as exc:
        tanh1.evaluate_kernels(np.array([[1j, 0.1]]))
    assert exc.value.param == "lags"


@pytest.mark.parametrize("u", [lambda t: np.array([1j]), lambda t: 1j if t > 0.5 else 0.1],
                         ids=["at t=0", "later"])
def test_complex_input_is_refused_not_cut(tanh1, u):
    # u = 1j used to be treated as u = 0
    with pytest.raises(InvalidInputError, match="complex") as exc:
        tanh1.series_terms(u, [0.0, 1.0])
    assert exc.value.param == "u"


@pytest.mark.parametrize("u, condition", [
    ("sin(t)", "callable"), (None, "callable"), (lambda t: None, "got None"),
    (lambda t: [None], "got"), (lambda t: "a", "real numbers"),
    (lambda t: np.array([np.nan]), "finite"), (lambda t: np.ones(3), r"shape \(1,\)"),
    (lambda t: [[1.0], [1.0, 2.0]], "real numbers"), (lambda t: True, "real numbers"),
])
def test_bad_input_u_is_typed(tanh1, u, condition):
    with pytest.raises(InvalidInputError, match=condition) as exc:
        tanh1.series_terms(u, [0.0, 1.0])
    assert exc.value.param == "u"


@pytest.mark.parametrize("lags", [None, [0.1, None]])
def test_none_lags_say_what_was_given(tanh1, lags):
    # used to say "found NaN or inf"
    with pytest.raises(InvalidInputError, match="None") as exc:
        tanh1.kernel(0).evaluate(lags)
    assert exc.value.param == "lags"


@pytest.mark.parametrize("lags", [np.array([["a", "b"]]), [[0.1], [0.1, 0.2]], [0.1],
                                  np.zeros((3, 1))])
def test_bad_lag_arrays_in_evaluate_kernels_are_typed(tanh1, lags):
    with pytest.raises(InvalidInputError) as exc:
        tanh1.evaluate_kernels(lags)
    assert exc.value.param == "lags"


# ----------------------------------------------------------------- channels
@pytest.mark.parametrize("channels", [(0.9,), (1.9,), "10", "0", 0.5, np.float64(0), None,
                                      True, (True,), np.array([0.0, 1.0]), (), [], ((),),
                                      (0, 0, 0), (2,), (-1,)],
                         ids=repr)
def test_bad_channels_are_refused_not_truncated(tanh2, channels):
    # (0.9,) used to be channel 0 and "10" the tuple (1, 0); 0.5 and None a bare TypeError
    with pytest.raises(InvalidInputError) as exc:
        tanh2.kernel(channels)
    assert exc.value.param == "channels"


def test_evaluate_kernels_checks_channels_and_accepts_an_int_key(tanh2):
    with pytest.raises(InvalidInputError) as exc:
        tanh2.evaluate_kernels({(0.7,): [0.1]})
    assert exc.value.param == "channels"
    # H.kernel(0) takes an int: so does evaluate_kernels, under the caller's key
    out = tanh2.evaluate_kernels({0: [0.1], (np.int64(1), 0): [[0.1, 0.2]]})
    assert set(out) == {0, (1, 0)}
    np.testing.assert_allclose(np.asarray(out[0]), np.asarray(tanh2.kernel(0).evaluate([0.1])))
    with pytest.raises(InvalidInputError, match="same kernel") as exc:
        tanh2.evaluate_kernels({0: [0.1], (0,): [0.2]})
    assert exc.value.param == "requests"


def test_numpy_integer_channels_are_accepted(tanh2):
    assert tanh2.kernel(np.int64(1)).channels == (1,)
    assert tanh2.kernel(np.array([0, 1])).channels == (0, 1)
    assert tanh2.kernel(sp.Integer(1)).channels == (1,)


def test_empty_requests_return_empty_on_every_route_after_checking_options(tanh1):
    # galerkin used to fail with a bare "max() arg is an empty sequence"
    assert tanh1.evaluate_kernels({}, method="galerkin") == {}
    assert tanh1.evaluate_kernels({}) == {}
    with pytest.raises(InvalidInputError, match="unknown options"):
        tanh1.evaluate_kernels({}, method="galerkin", bogus=1)


# ----------------------------------------------------------------- eps
def test_eps_whose_powers_overflow_is_refused(tanh1):
    # used to be a bare OverflowError (check=True) or NaN/-inf (check=False)
    for check in (True, False):
        with pytest.raises(InvalidInputError, match=r"\|eps\| must be ≤ 7.7") as exc:
            tanh1.series(_u, TIMES, 1e160, check=check)
        assert exc.value.param == "eps"
    with pytest.raises(InvalidInputError, match="too large"):
        tanh1.diagnose(_u, TIMES, 1e160)


def test_eps_whose_terms_overflow_is_refused():
    # ε^N is finite, ε^N T_N(t) is not (T_1 reaches 5e299)
    H = ResponseHierarchy(load_model("linear2d"), "1e300*h1", 2)
    for check in (True, False):
        with pytest.raises(InvalidInputError, match="T_N") as exc:
            H.series(_u, TIMES, 1e10, check=check)
        assert exc.value.param == "eps"
    assert np.all(np.isfinite(H.series(_u, TIMES, 1.0, check=False)))


@pytest.mark.parametrize("eps", [np.nan, np.inf, "x", 1j, None, True, [0.1, 0.2]], ids=repr)
def test_diagnose_checks_eps(tanh1, eps):
    # nan used to get a verdict; "x" and 1j bare ValueError/TypeError
    with pytest.raises(InvalidInputError) as exc:
        tanh1.diagnose(_u, TIMES, eps)
    assert exc.value.param == "eps"


def test_diagnose_series_checks_eps():
    from volterra_sym.hierarchy.convergence import diagnose_series

    terms = np.array([[1.0, 1.0], [1.0, 2.0], [3.0, 1.0]])
    for eps in (np.nan, 1e200):
        with pytest.raises(InvalidInputError) as exc:
            diagnose_series(terms, eps)
        assert exc.value.param == "eps"


# ----------------------------------------------------------------- constructor
@pytest.mark.parametrize("order", [0, -1, 2.5, "3", True, None, np.float64(2)], ids=repr)
def test_bad_order_is_typed(order):
    with pytest.raises(InvalidInputError) as exc:
        ResponseHierarchy(load_model("tanh1d"), "h1", order)
    assert exc.value.param == "order"


def test_non_model_is_typed():
    with pytest.raises(InvalidInputError, match="SRNN") as exc:
        ResponseHierarchy("linear2d")
    assert exc.value.param == "model"


@pytest.mark.parametrize("order", [10**6, 10**400])
def test_oversized_hierarchy_is_a_resource_limit(order):
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError, match="recursion nodes") as exc:
        ResponseHierarchy(load_model("tanh1d"), "h1", order)
    assert time.perf_counter() - t0 < 5
    assert exc.value.unit == "nodes" and exc.value.option == "order"


def test_activation_input_graph_counts_one_node_per_sequence_of_kicks():
    # Σ m^j = 1022 passed the limit, but the graph has one node per sequence of kicks:
    # repr(H) used to build 349,525 nodes (18 s, 750 MB) at order 9
    m = SRNN(np.eye(2), np.zeros((2, 2)), np.eye(2), 1.0, activation="tanh",
             input="activation")
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError, match="at most 8") as exc:
        ResponseHierarchy(m, "h1", 9)
    assert time.perf_counter() - t0 < 2
    assert exc.value.estimate == recursion_node_count(2, 9, kicks=True) == 174_762
    H = ResponseHierarchy(m, "h1", 3)
    assert len(H.recursion_nodes) == recursion_node_count(2, 3, kicks=True) == 42
    assert recursion_node_count(2, 8, kicks=True) <= MAX_RECURSION_NODES


# ----------------------------------------------------------------- options
def test_taylor_unknown_options_are_invalid_input(tanh1):
    # TaylorOptions.parse raised TypeError; the series a NotApplicableError
    calls = [lambda: tanh1.kernel(0).evaluate([0.1], method="taylor", bogus=1),
             lambda: tanh1.response_functional(2, bogus=1),
             lambda: tanh1.series_terms(_u, [0.0, 0.1], method="taylor", bogus=1)]
    for call in calls:
        with pytest.raises(InvalidInputError, match="bogus") as exc:
            call()
        assert exc.value.param == "options"


def test_identically_zero_shortcuts_check_method_and_options(tanh2):
    # additive input: a kick of two channels vanishes; it used to come back as 0 labelled
    # 'exact' for any method and options
    K = tanh2.kernel(((0, 1),))
    with pytest.raises(InvalidInputError) as exc:
        K.evaluate([0.1], method="no-such-method")
    assert exc.value.param == "method"
    for bad in ({"bogus": 1}, {"tol": -5}):
        with pytest.raises(InvalidInputError):
            K.evaluate([0.1], **bad)
    res = K.evaluate([0.1, 0.2])
    assert res.method == tanh2.route().name != "exact"
    assert "a''" in res.details["identically_zero"]
    np.testing.assert_array_equal(np.asarray(res), 0.0)
    assert K.evaluate([0.1], method="galerkin", degree=3).method == "galerkin"


def test_vanishing_order_shortcut_checks_options():
    H = ResponseHierarchy(load_model("linear2d"), "h1", 3)
    with pytest.raises(InvalidInputError):
        H.kernel((0, 0)).evaluate([[0.1, 0.2]], bogus=1, tol=-5)
    with pytest.raises(InvalidInputError) as exc:
        H.kernel((0, 0)).evaluate([[0.1, 0.2]], method="galerkin", degree=0)
    assert exc.value.param == "degree"
    res = H.kernel((0, 0)).evaluate([[0.1, 0.2]], method="galerkin")
    assert res.method == "galerkin" and "identically_zero" in res.details


# ----------------------------------------------------------------- input inside the activation
def test_composite_kernel_checks_options_before_any_ordering_work():
    # all r! orderings were looped over first: r = 10 took 21 s before the option error
    m = load_model("tanh1d_inside")
    r = 10
    K = ResponseHierarchy(m, "h1", r).kernel(tuple((0,) for _ in range(r)))
    t0 = time.perf_counter()
    with pytest.raises(InvalidInputError) as exc:
        K.evaluate(np.linspace(0.1, 1, r)[None, :], method="galerkin", degree=0)
    assert exc.value.param == "degree" and time.perf_counter() - t0 < 5


def test_many_orderings_are_refused_up_front():
    # a kernel built without a hierarchy (whose size limit bounds the orderings otherwise):
    # 20,000 random lag points of a 20-kick kernel order their kicks in ~19,000 ways
    from volterra_sym.hierarchy.kernel import evaluate_kernels

    m = load_model("tanh2d")
    lags = np.random.default_rng(0).random((20_000, 20))
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError, match="recursion nodes") as exc:
        evaluate_kernels(m, m.h[0], {(0, 1) * 10: lags}, method="galerkin")
    assert exc.value.unit == "nodes" and time.perf_counter() - t0 < 10


def test_evaluate_kernels_with_input_inside_the_activation():
    # used to fail with KeyError (no node for channels (0, 0)) or TypeError (kicks)
    H = ResponseHierarchy(load_model("tanh1d_inside"), "h1", 2)
    lags = np.array([[0.1, 0.3], [0.4, 0.2]])
    reqs = {(0, 0): lags, ((0, 0),): lags[:, 0]}
    # at one degree the joint request equals the separate ones; at the default settings
    # the ladder stops where the joint request's errors are small (a degree each request
    # alone need not reach), and they agree within their errors
    out = H.evaluate_kernels(reqs, method="galerkin", degree=12)
    for key in out:
        ref = H.kernel(key).evaluate(reqs[key], method="galerkin", degree=12)
        np.testing.assert_allclose(np.asarray(out[key]), np.asarray(ref), rtol=1e-12)
    out = H.evaluate_kernels(reqs, method="galerkin")
    for key in out:
        ref = H.kernel(key).evaluate(reqs[key], method="galerkin")
        assert np.all(np.abs(np.asarray(out[key]) - np.asarray(ref))
                      <= out[key].error + ref.error)
    every = H.evaluate_kernels(lags, method="galerkin")
    assert set(every) == {((0,),), ((0,), (0,)), ((0, 0),)}
    assert np.all(np.abs(np.asarray(every[((0,), (0,))]) - np.asarray(out[(0, 0)]))
                  <= every[((0,), (0,))].error + out[(0, 0)].error)
    # a linear activation: the additive kernels, multi-channel kicks vanish
    lin = SRNN(np.eye(2), 0.1 * np.ones((2, 2)), np.eye(2), 1.0, input="activation")
    HL = ResponseHierarchy(lin, "h1", 2)
    res = HL.evaluate_kernels(lags)
    assert res[((0, 1),)].details["identically_zero"]
    np.testing.assert_allclose(np.asarray(res[((0,), (1,))]),
                               np.asarray(HL.kernel((0, 1)).evaluate(lags)))


# ----------------------------------------------------------------- load_model
@pytest.mark.parametrize("spec", [None, 5, b"linear2d", "", "x" * 5000, 2.5], ids=repr)
def test_load_model_refuses_non_names(spec):
    with pytest.raises(ModelError) as exc:
        load_model(spec)
    assert exc.value.param == "model"


def test_bare_errors_table_is_typed():
    """Report section 9 (the hierarchy and load_model rows): each call raises a
    VolterraSymError."""
    m = load_model("tanh1d")
    H = ResponseHierarchy(m, "h1", 2)
    calls = [lambda: ResponseHierarchy("linear2d"), lambda: ResponseHierarchy(m, order=0),
             lambda: ResponseHierarchy(m, order=10**6), lambda: H.kernel((0, 0, 0)),
             lambda: H.kernel(0.5), lambda: H.kernel(np.float64(0)), lambda: H.kernel(None),
             lambda: H.series_terms("sin(t)", [0, 1]),
             lambda: H.evaluate_kernels(np.array([["a", "b"]])),
             lambda: vs.load_model(None)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for call in calls:
            with pytest.raises(VolterraSymError):
                call()


def test_auto_falls_back_when_its_route_does_not_reach_the_order(capsys):
    """spectral applies to tanh1d but evaluates kernels of order ≤ 3 and series of order
    ≤ 12: auto used to stop there instead of trying the next route."""
    import volterra_sym as vs
    from volterra_sym.cli import main
    from volterra_sym.errors import UnsupportedOrderError

    H = vs.ResponseHierarchy(vs.load_model("tanh1d"), "h1", order=4)
    r = H.kernel((0, 0, 0, 0)).evaluate([[0.1, 0.2, 0.3, 0.4]])
    assert r.method == "galerkin" and np.all(np.isfinite(r.error))
    with pytest.raises(UnsupportedOrderError):
        H.kernel((0, 0, 0, 0)).evaluate([[0.1, 0.2, 0.3, 0.4]], method="spectral")
    assert main(["kernel", "tanh1d", "--order", "4", "--lags", "0.1,0.2,0.3,0.4"]) == 0
    assert "method: galerkin" in capsys.readouterr().out
    assert main(["series", "tanh1d", "--order", "13", "--n-times", "3", "--input",
                 "sin(t)"]) == 0


@pytest.mark.parametrize("name", ["montecarlo", "mc"])
def test_monte_carlo_as_a_kernel_method_points_to_the_estimators(tanh1, name):
    """The command line's ``--method montecarlo`` is not a route of the kernel core; from
    Python the error names the estimators instead of only listing the routes."""
    with pytest.raises(InvalidInputError, match="kick_kernel") as exc:
        tanh1.kernel((0,)).evaluate(np.array([[0.5]]), method=name)
    assert exc.value.param == "method"
    with pytest.raises(InvalidInputError) as other:
        tanh1.kernel((0,)).evaluate(np.array([[0.5]]), method="magic")
    assert "kick_kernel" not in str(other.value)
