"""The one validator of user-supplied numeric arrays (volterra_sym.arrays) and the numeric
callables it guards: every refusal is an InvalidInputError naming the parameter (checked by
type and ``param``, never message text); masked arrays with masked entries never have their
hidden data read."""
from __future__ import annotations

import numpy as np
import pytest

from volterra_sym import SRNN
from volterra_sym.arrays import (
    check_int,
    check_unmasked,
    positive_number,
    real_array,
    real_number,
    state_points,
)
from volterra_sym.density.conjugate import conjugate_variables, second_conjugate_variables
from volterra_sym.density.sampling import gaussian_sampler
from volterra_sym.errors import InvalidInputError
from volterra_sym.features.kernel_machine import signature_kernel
from volterra_sym.features.signature import tensor_exp
from volterra_sym.operators.packed import PackedAlgebra
from volterra_sym.operators.powers import ChainSpace


def _masked(shape=(3, 2), where=(1, 0)):
    """A masked array whose masked entry hides a finite, plausible value (so that reading
    the hidden data gives no error of its own)."""
    data = np.arange(np.prod(shape), dtype=float).reshape(shape) * 0.1
    mask = np.zeros(shape, dtype=bool)
    mask[where] = True
    return np.ma.MaskedArray(data, mask=mask)


def _refused(param, fn, *args, **kw):
    with pytest.raises(InvalidInputError) as info:
        fn(*args, **kw)
    assert info.value.param == param
    return info.value


# ----------------------------------------------------------------------------- real_array
@pytest.mark.parametrize("value", [
    _masked(),
    np.array([1.0, 2.0 + 1e-3j]),
    [1.0, 2j],
    "1.5",
    ["1", "2"],
    np.array([1.0, None], dtype=object),
    np.array([1.0, 2.0], dtype=object),
    [[1.0], [1.0, 2.0]],
    None,
    np.array([True, False]),
    [1.0, float("nan")],
    np.array([[0.0, np.inf]]),
    {"a": 1.0},
])
def test_real_array_refusals_name_the_param(value):
    _refused("widgets", real_array, value, "widgets")


def test_real_array_shape_checks_name_the_param():
    _refused("w", real_array, np.zeros((2, 3)), "w", ndim=1)
    _refused("w", real_array, np.zeros(3), "w", ndim=(0, 2))
    _refused("w", real_array, np.zeros((2, 3)), "w", last=2)
    _refused("w", real_array, 1.0, "w", last=1)
    assert real_array(np.zeros((2, 3)), "w", ndim=(1, 2), last=3).shape == (2, 3)


def test_real_array_accepts_real_numbers_as_float():
    for value, shape in [(1, ()), (2.5, ()), ([1, 2, 3], (3,)), (np.arange(6).reshape(2, 3),
                                                                  (2, 3)),
                         (np.float32(1.5), ()), (np.array([1, 2], dtype=np.uint8), (2,))]:
        out = real_array(value, "v")
        assert isinstance(out, np.ndarray) and out.dtype == float and out.shape == shape


def test_real_array_finite_false_is_dtype_and_shape_only():
    x = np.array([np.nan, np.inf, 1.0])
    out = real_array(x, "x", finite=False)
    assert out is x                                   # no copy, no scan
    _refused("x", real_array, x, "x")
    _refused("x", real_array, np.array([1j]), "x", finite=False)
    _refused("x", real_array, _masked(), "x", finite=False)


def test_fully_unmasked_masked_array_is_its_data():
    data = np.array([[1.0, 2.0], [3.0, 4.0]])
    for ma in (np.ma.MaskedArray(data, mask=np.zeros((2, 2), bool)),
               np.ma.MaskedArray(data)):              # nomask
        out = real_array(ma, "m")
        assert not isinstance(out, np.ma.MaskedArray)
        np.testing.assert_array_equal(out, data)
        assert state_points(ma, 2).shape == (2, 2)
    assert check_unmasked(3.0, "p") == 3.0


def test_check_unmasked_names_param_and_stays_importable_from_noise():
    from volterra_sym.model.noise import check_unmasked as legacy
    assert legacy is check_unmasked
    _refused("B", check_unmasked, _masked(), "B")


def test_real_number():
    assert real_number(np.int64(3), "c") == 3.0 and real_number(0.5, "c") == 0.5
    for bad in (True, np.nan, np.inf, "1", 1j, np.array(1.0), [1.0], None):
        _refused("c", real_number, bad, "c")


def test_check_int_accepts_python_and_numpy_integers():
    assert check_int(3, "n") == 3 and type(check_int(3, "n")) is int
    assert check_int(np.int64(7), "n", lo=0, hi=7) == 7
    assert type(check_int(np.uint8(2), "n", lo=2)) is int
    assert check_int(-5, "n", hi=-5) == -5


@pytest.mark.parametrize("value", [True, False, np.bool_(True), 2.0, np.float64(2.0), "3",
                                   None, [1], np.array(1)])
def test_check_int_refuses_non_integers(value):
    with pytest.raises(InvalidInputError, match="n_paths must be an integer") as err:
        check_int(value, "n_paths")
    assert err.value.param == "n_paths"


def test_check_int_states_the_broken_bound():
    with pytest.raises(InvalidInputError, match=r"k must be an integer in \[0, 3\], got 4"):
        check_int(4, "k", lo=0, hi=3)
    with pytest.raises(InvalidInputError, match=r"k must be an integer in \[0, 3\], got -1"):
        check_int(-1, "k", lo=0, hi=3)
    with pytest.raises(InvalidInputError, match="seed must be an integer ≥ 0 \\(a seed\\), "
                                                "got .*-1") as err:
        check_int(np.int64(-1), "seed", lo=0, what="a seed")
    assert err.value.param == "seed"
    with pytest.raises(InvalidInputError, match="order must be a positive integer, got 0"):
        check_int(0, "order", lo=1)
    with pytest.raises(InvalidInputError, match="k must be an integer ≤ 2, got 3"):
        check_int(3, "k", hi=2)
    with pytest.raises(InvalidInputError, match="n_grid must be an integer in "
                                                r"\[2, 100,000\], got 100001"):
        check_int(100_001, "n_grid", lo=2, hi=100_000)


def test_check_int_truncates_long_values():
    with pytest.raises(InvalidInputError) as err:
        check_int("x" * 1000, "n")
    assert len(str(err.value)) == 300
    with pytest.raises(InvalidInputError, match="an int of"):     # beyond str()'s digit limit
        check_int(10**5000, "n", hi=10)


def test_state_points():
    assert state_points(0.3, 1).shape == (1,)
    assert state_points([0.1, 0.2], 1).shape == (2, 1)
    assert state_points(np.zeros((4, 2)), 2).shape == (4, 2)
    _refused("x", state_points, np.zeros((4, 3)), 2)
    _refused("h", state_points, _masked((4, 2)), 2, "h")
    _refused("x", state_points, [[0.1, "a"]], 2)
    _refused("x", state_points, [[0.1, 1j]], 2)
    _refused("x", state_points, [[0.1], [0.1, 0.2]], 2)


# ----------------------------------------------------------------------------- model callables
def _model(activation="tanh"):
    return SRNN(Gamma=[[1, 0.5], [0, 2]], W=[[0.3, -0.2], [0.4, 0.1]], C=[[1, 0], [0.5, 2]],
                sigma=[[0.5, 0], [0, 0.7]], b=[0.1, -0.2], activation=activation)


def _state_noise_model():
    return SRNN(Gamma=1.0, W=0.5, C=1.0, sigma="0.5 + 0.1*h1**2", activation="tanh")


@pytest.mark.parametrize("which", ["drift", "noise"])
def test_model_numpy_callables_refuse_masked_points(which):
    m = _model()
    fn = m.drift_numpy() if which == "drift" else m.noise_numpy()
    x = _masked((3, 2))
    _refused("x", fn, x)
    # a fully unmasked masked array is its data
    np.testing.assert_array_equal(fn(np.ma.MaskedArray(x.data)), fn(x.data))


@pytest.mark.parametrize("which", ["drift", "noise"])
def test_model_numpy_callables_refuse_complex_and_text(which):
    m = _state_noise_model()
    fn = m.drift_numpy() if which == "drift" else m.noise_numpy()
    assert fn(np.array([[0.3]])).shape[0] == 1
    _refused("x", fn, np.array([[0.3 + 0.1j]]))
    _refused("x", fn, np.array([["0.3"]]))
    _refused("x", fn, _masked((2, 1), (0, 0)))


# ----------------------------------------------------------------------------- packed chains
def test_packed_chains_refuse_masked_points():
    m = _model()
    space = ChainSpace(m)
    P = space.L0(space.from_expr(m.h[0] * m.h[1]))
    h = _masked((4, 2))
    _refused("h", space.variables_at, h)
    x = space.variables_at(h.data)
    xm = np.ma.MaskedArray(x, mask=np.zeros(x.shape, bool))
    xm[2, 3] = np.ma.masked
    _refused("x", space.evaluate, P, xm)
    _refused("x", space.evaluate, [P, P], xm)
    _refused("x", PackedAlgebra.evaluate, space, P, xm)
    _refused("x", space.evaluate, P, x.astype(complex))
    # unmasked: the values of the plain array
    np.testing.assert_array_equal(space.evaluate(P, np.ma.MaskedArray(x)),
                                  space.evaluate(P, x))


def test_conjugate_variables_refuse_masked_points():
    lin = _model("linear")
    v, w = conjugate_variables(lin), second_conjugate_variables(lin)
    _refused("x", v, _masked((3, 2)))
    _refused("x", w, _masked((3, 2)))
    one = SRNN(Gamma=1.0, W=0.5, C=1.0, sigma=0.5, activation="tanh")
    w1 = second_conjugate_variables(one)
    _refused("x", w1, _masked((3, 1), (2, 0)))
    w_fd = second_conjugate_variables(one, v=conjugate_variables(one))
    _refused("x", w_fd, _masked((3, 1), (2, 0)))


# ----------------------------------------------------------------------------- call sites
def test_call_sites_name_their_params():
    _refused("mean", gaussian_sampler, _masked((2,), (0,)), np.eye(2))
    _refused("cov", gaussian_sampler, [0.0, 0.0], [[1.0, 0.0], [0.0, 1j]])
    _refused("cov", gaussian_sampler, [0.0, 0.0], [[1.0, np.nan], [0.0, 1.0]])
    _refused("increment", tensor_exp, _masked((1, 2), (0, 1)), 2)
    _refused("increment", tensor_exp, np.array([[1.0, "a"]], dtype=object), 2)
    _refused("increment", tensor_exp, [[np.nan, 1.0]], 2)
    SA = np.ones((2, 3))
    _refused("SA", signature_kernel, np.ma.MaskedArray(SA, mask=[[0, 1, 0], [0, 0, 0]]))
    _refused("SB", signature_kernel, SA, [[1.0, 2.0, np.inf]])


def test_hierarchy_and_montecarlo_entry_points_refuse_masked_arrays():
    import sympy as sp

    from volterra_sym.density.linearisation import lyapunov
    from volterra_sym.hierarchy.convergence import diagnose_series
    from volterra_sym.hierarchy.dag import check_eps, check_input, check_times
    from volterra_sym.hierarchy.kernel import check_lags
    from volterra_sym.montecarlo.simulate import _resolve_initial

    _refused("lags", check_lags, _masked((3, 2)), 2)
    _refused("lags", check_lags, np.array([[10**400, 1]], dtype=object), 2)
    _refused("lags", check_lags, [["0.1", "0.2"]], 2)
    _refused("lags", check_lags, [[0.1, np.nan]], 2)
    np.testing.assert_array_equal(check_lags([[sp.Rational(1, 2), 1]], 2), [[0.5, 1.0]])
    _refused("times", check_times, np.ma.MaskedArray([0.0, 1.0, 2.0], mask=[0, 1, 0]))
    _refused("times", check_times, [0.0, "1"])
    _refused("eps", check_eps, np.ma.MaskedArray([0.1, 0.2], mask=[0, 1]))
    assert check_eps(np.ma.MaskedArray([0.1, 0.2])).tolist() == [0.1, 0.2]
    _refused("u", check_input, lambda t: np.ma.MaskedArray([1.0], mask=[True]), 1)
    _refused("terms", diagnose_series, np.ma.MaskedArray(np.ones((2, 3)),
                                                         mask=[[0, 0, 1], [0, 0, 0]]), 0.1)
    _refused("A", lyapunov, np.ma.MaskedArray(-np.eye(2), mask=[[0, 1], [0, 0]]), np.eye(2))
    _refused("D", lyapunov, -np.eye(2), [[1.0, 0.0], [0.0, 1j]])
    lin = _model("linear")
    _refused("initial", _resolve_initial, lin, _masked((2,), (1,)), 4)
    _refused("initial", _resolve_initial, lin, np.array([0.1, 0.2j]), 4)


def test_montecarlo_grids_refuse_masked_arrays():
    from volterra_sym.montecarlo.control import linearised_model
    from volterra_sym.montecarlo.kicks import kick_kernel
    from volterra_sym.montecarlo.simulate import time_indices

    grid = np.ma.MaskedArray([0.0, 0.5, 1.0], mask=[0, 1, 0])
    _refused("times", time_indices, grid, 0.5)
    _refused("t_obs", time_indices, grid, 0.5, "t_obs")
    np.testing.assert_array_equal(time_indices(np.ma.MaskedArray(grid.data), 0.5), [0, 1, 2])
    lin = _model("linear")
    _refused("lags", kick_kernel, lin, grid, n_paths=64, dt=0.5)
    _refused("linearize_at", linearised_model, lin, _masked((2, 2)))


def test_positive_number_accepts_numpy_numbers_and_refuses_the_rest():
    """``positive_number``: Python and NumPy integers and floats above 0 (``≥ 0`` with
    ``allow_zero``) as floats; bool, text, None, complex, arrays, 0, negatives, NaN and inf
    refused naming the parameter."""
    for v in (2, 0.5, np.int64(3), np.float32(0.25), np.uint8(1)):
        out = positive_number(v, "dt")
        assert type(out) is float and out == float(v)
    assert positive_number(0, "t", allow_zero=True) == 0.0
    for v in (0, -1, -0.5, np.nan, np.inf, True, np.bool_(True), "1", None, 1j,
              np.array([1.0]), [1.0]):
        with pytest.raises(InvalidInputError) as err:
            positive_number(v, "dt")
        assert err.value.param == "dt"
    with pytest.raises(InvalidInputError) as err:
        positive_number(-1e-300, "t", allow_zero=True)
    assert err.value.param == "t"


def test_time_steps_and_tolerances_share_one_positive_number_check():
    """Where ``dt``/``tol`` took only Python numbers (the σ(h) step, the Taylor ``tol``),
    NumPy integers and ``float32`` were refused as "not a positive finite number"; every
    such site now takes them, and still refuses 0, NaN and bools naming the parameter."""
    from volterra_sym import load_model
    from volterra_sym.backends.taylor.options import TaylorOptions
    from volterra_sym.montecarlo.integrators import StateNoiseStep, check_time_step, model_arrays

    noisy = load_model("noisy_rnn4")
    assert StateNoiseStep(noisy, np.float32(0.01)).dt == pytest.approx(0.01)
    assert StateNoiseStep(noisy, np.int64(1)).dt == 1.0
    model = load_model("tanh2d")
    check_time_step(model, model_arrays(model), np.float32(0.01), "euler")
    for bad in (0, np.nan, True):
        with pytest.raises(InvalidInputError) as err:
            StateNoiseStep(noisy, bad)
        assert err.value.param == "dt"
        with pytest.raises(InvalidInputError) as err:
            check_time_step(model, model_arrays(model), bad, "euler")
        assert err.value.param == "dt"
    assert TaylorOptions.parse({"tol": np.float32(1e-3)}).tol == pytest.approx(1e-3)
    for bad in (0, -1e-3, np.nan, True):
        with pytest.raises(InvalidInputError) as err:
            TaylorOptions.parse({"tol": bad})
        assert err.value.param == "tol"
