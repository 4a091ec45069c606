"""Adversarial inputs to the response features (volterra_sym.features): bad input gets the
project's typed errors naming the parameter, results are frozen, costs are refused before
the work, and user strings never reach ``sympify``."""

from __future__ import annotations

import contextlib
import signal

import numpy as np
import pytest

from volterra_sym.errors import InvalidInputError, NotApplicableError, ResourceLimitError
from volterra_sym.features import (
    FeatureLayout,
    expanding_signature,
    feature_kernel,
    feature_layout,
    fit_kernel_ridge,
    fit_ridge,
    functional_from_coefficients,
    kick_channels,
    loo_errors,
    response_features,
    response_functional_latex,
    restrict_index,
    select_lambda,
    signature_batch,
    signature_kernel,
    signature_size,
    signature_words,
    tensor_exp,
    word_terms,
)
from volterra_sym.features.sklearn import ResponseFeatures, reshape_sequences


def test_latex_of_an_observable_string_never_evaluates_it(tmp_path):
    marker = tmp_path / "pwned"
    evil = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    F = functional_from_coefficients({(0,): {(0,): 1.0}}, 1, 2, observable=evil)
    text = response_functional_latex(F)
    assert not marker.exists()
    assert "\\texttt{" in text and "\\_\\_import\\_\\_" in text
    ok = functional_from_coefficients({(0,): {(0,): 1.0}}, 1, 2, observable="h1**2 + tanh(h1)")
    assert "h_{1}^{2}" in response_functional_latex(ok)


T11 = np.linspace(0.0, 1.0, 11)
_F = functional_from_coefficients({(0,): {(0,): 1.0, (1,): -1.0}, (0, 0): {(0, 0): 0.5}}, 1, 2)
_LAY = feature_layout(1, 1, 2)


@pytest.mark.parametrize(("call", "param"), [
    (lambda: response_features(np.ones(11), T11, 0, 1), "depth"),
    (lambda: response_features(np.ones(11), T11, 2.0, 1), "depth"),
    (lambda: response_features(np.ones(11), T11, 2, -1), "degree"),
    (lambda: response_features(np.r_[np.nan, np.ones(10)], T11, 2, 1), "u"),
    (lambda: response_features(np.ones(11), T11[::-1], 2, 1), "times"),
    (lambda: response_features(np.ones(11), T11, 2, 1, times_out=[0.55]), "times_out"),
    (lambda: response_features(np.ones(11), T11, 2, 1, chunk_size=0), "chunk_size"),
    (lambda: response_features(lambda s: np.ones((2, 2)), T11, 2, 1), "u"),
    (lambda: response_features(lambda s: s, T11, 2, 1, rtol=-1.0), "rtol"),
    (lambda: response_features(np.ones(11), T11, 2, 1, reduce=lambda v: v[0]), "reduce"),
    (lambda: expanding_signature(np.ones(3), 2), "X"),
    (lambda: expanding_signature(np.ones((3, 2)), 2, out_index=[3]), "out_index"),
    (lambda: signature_size(0, 2), "d"),
    (lambda: _LAY.word_index([5]), "word"),
    (lambda: signature_kernel(np.ones((2, 3)), np.ones((2, 4))), "SB"),
    (lambda: restrict_index(_LAY, depth=0), "depth"),
    (lambda: fit_ridge(np.random.rand(5, 2), np.random.rand(5), -1.0), "lam"),
    (lambda: fit_kernel_ridge(np.ones((6, 3)), np.ones(6), 0.1), "K"),
    (lambda: signature_batch([], T11, 1.0, 2, 1), "inputs"),
    (lambda: _F.at(np.nan), "t"),
    (lambda: _F.at(1.0, np.nan), "eps"),
    (lambda: _F.apply(np.ones((11, 3)), T11), "signatures"),
    (lambda: _F.nonzero_words(5), "N"),
    (lambda: functional_from_coefficients({(3,): {(0,): 1.0}}, 1, 2), "coefficients"),
])
def test_bad_input_gets_the_typed_error_naming_the_parameter(call, param):
    with pytest.raises(InvalidInputError) as info:
        call()
    assert info.value.param == param, info.value


def test_kernel_error_without_taylor_series_is_not_applicable():
    with pytest.raises(NotApplicableError, match="raw coefficients"):
        _F.kernel_error(1.0)


_KR = fit_kernel_ridge(np.eye(4) + 0.1, np.arange(4.0), 0.1)
_RR = fit_ridge(np.arange(8.0).reshape(4, 2) ** 2, np.arange(4.0), 0.1)


@pytest.mark.parametrize(("call", "param"), [
    # complex values: a cast to float would silently drop the imaginary part
    (lambda: response_features(np.ones(11) + 1j, T11, 2, 1), "u"),
    (lambda: response_features(lambda s: np.exp(1j * np.asarray(s)), T11, 2, 1), "u"),
    (lambda: response_features(np.ones(11), T11 + 0j, 2, 1), "times"),
    (lambda: expanding_signature(np.ones((3, 2)) * 1j, 2), "X"),
    (lambda: tensor_exp(np.array([1j, 1.0]), 2), "increment"),
    (lambda: _F.terms(np.ones(11) + 1j, T11), "u"),
    (lambda: fit_ridge(np.random.rand(5, 2) + 1j, np.random.rand(5), 1.0), "Phi"),
    (lambda: fit_ridge(np.random.rand(5, 2), np.random.rand(5) + 1j, 1.0), "y"),
    (lambda: signature_kernel(np.ones((2, 3)) * 1j), "SA"),
    (lambda: reshape_sequences(np.ones((2, 4)) + 1j, 2), "X"),
    # NaN / inf in, never a silent NaN out
    (lambda: _RR.predict(np.full((3, 2), np.nan)), "Phi"),
    (lambda: _KR.predict(np.full((2, 4), np.nan)), "K_test"),
    (lambda: signature_kernel(np.full((2, 3), np.nan)), "SA"),
    (lambda: signature_kernel(np.ones((2, _LAY.size)), layout=_LAY, scale=np.nan), "scale"),
    (lambda: feature_kernel(np.ones((2, 3)), np.ones((2, 3)), np.full((3, 3), np.nan)), "M"),
    (lambda: _F.apply(np.ones((11, _F.layout.size)), np.full(11, np.nan)), "times"),
    (lambda: tensor_exp(np.array([np.nan, 1.0]), 2), "increment"),
    # shapes that reached numpy's own errors
    (lambda: _RR.predict(np.zeros((3, 3))), "Phi"),
    (lambda: feature_kernel(np.ones((2, 3)), np.ones((2, 3)), np.ones((4, 4))), "M"),
])
def test_complex_nonfinite_and_misshaped_input_is_refused(call, param):
    with pytest.raises(InvalidInputError) as info:
        call()
    assert info.value.param == param, info.value


@pytest.mark.parametrize("call", [
    lambda: response_features(np.ones(11) * 1e300, T11, 3, 1),
    lambda: response_features(np.ones(11), T11 * 1e300, 2, 3),
    lambda: response_features(np.ones((2, 11, 1)) * 1e300, T11, 3, 1, reduce=lambda v: v[..., :1]),
    lambda: expanding_signature(np.array([[0.0], [1e300]]), 3),
    lambda: tensor_exp(np.array([1e200]), 2),
])
def test_signature_overflow_is_refused_not_returned_as_inf_or_nan(call):
    with pytest.raises(InvalidInputError, match="overflows the float range"):
        with np.errstate(all="ignore"):
            call()


@pytest.mark.parametrize(("call", "option"), [
    (lambda: response_features(np.ones(11), T11, 40, 5), "depth"),
    (lambda: response_features(np.ones(11), T11, 2, 1, refine=10**9), "refine"),
    (lambda: response_features(lambda s: s, T11, 2, 1, refine=10**9), "refine"),
    (lambda: response_features(lambda s: s, [1e9, 1e9 + 1], 2, 1), "refine"),
    (lambda: response_features(np.ones((10**5, 11, 3)), T11, 6, 3), "chunk_size"),
    (lambda: response_features(np.ones((11, 10**4)), T11, 200, 0), "depth"),
    (lambda: expanding_signature(np.ones((1000, 50)), 5), "depth"),
    (lambda: signature_words(100, 6), "depth"),
    (lambda: tensor_exp(np.ones(100), 6), "depth"),
    (lambda: functional_from_coefficients({(0,) * 8: {(0,) * 8: 1.0}}, 10, 3), "order"),
    (lambda: ResponseFeatures(depth=30, degree=5).fit_transform(np.ones((3, 11))), "depth"),
])
def test_huge_sizes_are_refused_before_the_work_naming_what_to_lower(call, option):
    """These ran out of memory (the OOM killer, or a raw MemoryError / numpy ValueError)."""
    with pytest.raises(ResourceLimitError) as info:
        call()
    assert option in info.value.option and info.value.unit == "bytes"


def _assert_frozen(arr: np.ndarray) -> None:
    with pytest.raises(ValueError):
        arr[(0,) * arr.ndim] = 99.0
    with pytest.raises(ValueError):
        arr.setflags(write=True)


def test_returned_results_are_frozen():
    feats = response_features(np.sin(T11), T11, 2, 1)
    _assert_frozen(feats.values)
    _assert_frozen(feats.times)
    _assert_frozen(_F.coefficients)
    with pytest.raises(TypeError):
        _F.info["route"] = "forged"
    ridge = fit_ridge(np.random.rand(6, 2), np.random.rand(6, 2), 0.5)
    _assert_frozen(ridge.weights)
    _assert_frozen(ridge.intercept)
    _assert_frozen(_KR.alpha)
    _assert_frozen(_KR.col_mean)
    assert _F.mean0 == 0.0 and np.isfinite(_KR.predict(np.ones((1, 4)))).all()


def test_taylor_series_refusal_names_the_routes_options(monkeypatch):
    """The taylor series route evaluates the functional on signatures; a refusal of their
    memory names what a caller of the route (or ``volterra-sym series``) can lower."""
    import volterra_sym as vs

    hier = vs.ResponseHierarchy(vs.load_model("tanh1d"), "h1", order=2)
    times = np.linspace(0.0, 0.3, 20001)
    monkeypatch.setenv("VOLTERRA_MEMORY_BUDGET", "64M")
    with pytest.raises(ResourceLimitError) as info:
        hier.series_terms(np.sin, times, method="taylor")
    assert "--n-times" in info.value.option and "--n-times" in str(info.value)
    assert "chunk_size" not in str(info.value)


@pytest.mark.parametrize(("call", "param"), [
    # silently truncated or accepted before
    (lambda: functional_from_coefficients({(0,): {(0,): 1.0}}, 1, 2, order=1.5), "order"),
    (lambda: functional_from_coefficients({(0,): {(0,): 1.0}}, "1", 2), "m"),
    (lambda: functional_from_coefficients({(0,): {(0,): np.nan}}, 1, 2), "coefficients"),
    (lambda: functional_from_coefficients({(0,): {(0,): 1j}}, 1, 2), "coefficients"),
    (lambda: functional_from_coefficients({(0,): {(0,): 1.0}}, 1, 2, mean0=np.inf), "mean0"),
    (lambda: signature_kernel(np.ones((2, _LAY.size)), layout=_LAY, depth=1.7), "depth"),
    (lambda: restrict_index(_LAY, depth="2"), "depth"),
    (lambda: fit_ridge(np.random.rand(5, 2), np.random.rand(5), True), "lam"),
    (lambda: word_terms([0], [-1]), "powers"),
    (lambda: response_functional_latex(_F, max_words=-1), "max_words"),
    (lambda: response_functional_latex(_F, digits=0), "digits"),
    # numpy's own errors before
    (lambda: select_lambda(np.eye(4), np.arange(4.0), []), "lams"),
    (lambda: select_lambda(np.ones((6, 3)), np.ones(6)), "K"),
    (lambda: loo_errors(np.ones((6, 3)), np.ones(6), [1.0]), "K"),
    # a constant kernel: the default λ grid was scaled by 1e-300 (a subnormal λ), and the
    # fit then called K "too large"
    (lambda: select_lambda(np.zeros((5, 5)), np.arange(5.0)), "K"),
    (lambda: select_lambda(3 * np.ones((5, 5)), np.arange(5.0)), "K"),
    (lambda: select_lambda(np.eye(4), np.arange(4.0), [0.1, -1.0]), "lams"),   # was 'lam'
])
def test_loose_parameters_are_refused(call, param):
    with pytest.raises(InvalidInputError) as info:
        call()
    assert info.value.param == param, info.value


def test_numpy_scalar_tolerance_is_accepted():
    a = response_features(lambda s: np.sin(s), T11, 2, 1, rtol=np.float32(1e-6))
    b = response_features(lambda s: np.sin(s), T11, 2, 1, rtol=1e-6)
    np.testing.assert_array_equal(a.values, b.values)


def test_results_stay_frozen_after_pickling():
    import pickle

    ridge = fit_ridge(np.random.rand(6, 2), np.random.rand(6), 0.5)
    for obj, name in [(response_features(np.sin(T11), T11, 2, 1), "values"), (_F, "coefficients"),
                      (ridge, "weights"), (_KR, "alpha")]:
        back = pickle.loads(pickle.dumps(obj))
        np.testing.assert_array_equal(getattr(back, name), getattr(obj, name))
        _assert_frozen(getattr(back, name))


@contextlib.contextmanager
def _deadline(seconds: int):
    """Turn a hang into a failure (SIGALRM; the refusals below take milliseconds)."""
    def fail(*_):
        raise TimeoutError(f"no answer within {seconds} s")
    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize(("call", "option"), [
    # each looped over every level (10**30 of them) before its cost check: a hang
    (lambda: response_features(np.ones(11), T11, 10**30, 1), "depth"),
    (lambda: expanding_signature(np.ones((3, 1)), 10**30), "depth"),
    (lambda: signature_size(2, 10**30), "depth"),
    (lambda: feature_layout(1, 1, 10**30).size, "depth"),
    (lambda: signature_words(1, 10**30), "depth"),
    (lambda: tensor_exp(np.ones(1), 10**30), "depth"),
    (lambda: functional_from_coefficients({}, 1, 2, order=10**9), "order"),
    # one letter: no memory to speak of, but ~depth² numpy operations (about an hour)
    (lambda: response_features(np.ones(11) * 0.1, T11, 10**4, 0), "depth"),
    # a Gauss–Legendre rule of 10⁹ nodes: a raw MemoryError (10⁴: minutes of eigensolver)
    (lambda: response_features(np.sin, T11, 2, 1, quad_points=10**9), "quad_points"),
    (lambda: response_features(np.sin, T11, 2, 1, quad_points=10**4), "quad_points"),
])
def test_huge_counts_are_refused_at_once(call, option):
    with _deadline(20), pytest.raises(ResourceLimitError) as info:
        call()
    assert option in info.value.option


def test_small_sizes_unchanged():
    assert [signature_size(d, n) for d, n in [(1, 5), (2, 3), (3, 4)]] == [6, 15, 121]
    assert response_features(np.ones(11) * 0.1, T11, 300, 0).values.shape == (11, 301)


@pytest.mark.parametrize("cls", ["SRNNFeatures", "SRNNKernel"])
def test_srnn_features_beyond_the_taylor_radius_warn(cls):
    """t_max=5 on tanh1d (radius ≈ 0.61 at degree 6) gave features like -256 and, at
    t_max=1e6, -4.8e44 without a word; the taylor series route refuses such times."""
    import warnings

    from volterra_sym.backends.taylor import TaylorAccuracyWarning
    from volterra_sym.features import sklearn as sk

    X = np.random.default_rng(0).normal(size=(3, 11))
    with pytest.warns(TaylorAccuracyWarning, match="t_max"):
        est = getattr(sk, cls)(t_max=5.0).fit(X)
    assert 0.3 < est.taylor_radius_ < 5.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", TaylorAccuracyWarning)
        getattr(sk, cls)(t_max=0.3).fit(X)


def test_derive_features_refusal_names_the_commands_options(tmp_path, capsys):
    """``derive --features 10 --order 3`` was refused advising 'degree=, --degree' and
    method='galerkin', which derive does not have; no partial file is left."""
    from volterra_sym.cli import main

    out = tmp_path / "d.tex"
    code = main(["derive", "tanh2d", "--order", "3", "--features", "10", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and not out.exists()
    assert "--features" in err and "--order" in err
    assert "--degree" not in err and "galerkin" not in err


_PHI = np.random.default_rng(1).normal(size=(12, 3))
_Y = np.random.default_rng(2).normal(size=12)
_K = _PHI @ _PHI.T


@pytest.mark.parametrize(("call", "param"), [
    # finite but huge data: raw scipy ValueError / LinAlgError, or a silent inf prediction
    (lambda: fit_ridge(_PHI * 1e155, _Y, 0.1), "Phi"),
    (lambda: fit_kernel_ridge(_K * 1e307, _Y, 0.1), "K"),
    (lambda: fit_kernel_ridge(_K * 1e307, _Y, 0.0), "K"),
    (lambda: loo_errors(_K * 1e307, _Y, [0.0, 1.0]), "K"),
    (lambda: loo_errors(_K, _Y * 1e300, [0.0, 1.0]), "y"),
    (lambda: fit_ridge(_PHI, _Y * 1e307, 0.1).predict(_PHI * 1e10), "Phi"),
    # raw TypeError / AttributeError / numpy ValueError
    (lambda: loo_errors(_K, _Y, 0.1), "lams"),
    (lambda: select_lambda(_K, _Y, 0.1), "lams"),
    (lambda: signature_kernel(np.ones((2, 7)), layout="x"), "layout"),
    (lambda: restrict_index("x"), "layout"),
    (lambda: signature_batch([np.sin, lambda s: np.array([s, s])], T11, 1.0, 2, 1), "inputs"),
    # a truthy string extrapolated
    (lambda: signature_batch(np.ones((2, 11, 1)), T11, 1.0, 2, 1, extrapolate="no"),
     "extrapolate"),
])
def test_kernel_machine_overflow_and_loose_arguments_are_refused(call, param):
    with pytest.raises(InvalidInputError) as info:
        with np.errstate(all="ignore"):
            call()
    assert info.value.param == param, info.value


def test_signature_batch_reads_a_generator_of_inputs_once():
    """A generator was consumed by the type probe: 'need at least one array to stack'."""
    fs = [np.sin, np.cos]
    ref, _ = signature_batch(fs, T11, 1.0, 2, 1, extrapolate=True)
    got, _ = signature_batch((f for f in fs), T11, 1.0, 2, 1, extrapolate=True)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize(("call", "param"), [
    # raw TypeError / ValueError
    (lambda: response_features(np.ones(11), T11, 2, 1, times_out=[1.0 + 1j]), "times_out"),
    (lambda: response_features(np.ones(11), T11, 2, 1, times_out=["a"]), "times_out"),
    (lambda: response_features(np.ones(11), T11, 2, 1, reduce=lambda v: np.full(v.shape, "a")),
     "reduce"),
    (lambda: _LAY.describe(100), "index"),
    (lambda: _LAY.level_slice(1.5), "n"),
    (lambda: _LAY.word_index("ab"), "word"),
    # silently a NaN result, or the imaginary part dropped with only a ComplexWarning
    (lambda: response_features(np.ones(11), T11, 2, 1, reduce=lambda v: v * np.nan), "reduce"),
    (lambda: response_features(np.ones(11), T11, 2, 1, reduce=lambda v: v * 1j), "reduce"),
    # a float letter silently truncated: word_index([0.7]) was the index of word (0,)
    (lambda: _LAY.word_index([0.7]), "word"),
    (lambda: _LAY.letter_index(0.5, 0), "channel"),
])
def test_signature_layout_and_callbacks_are_checked(call, param):
    with pytest.raises(InvalidInputError) as info:
        call()
    assert info.value.param == param, info.value
    assert _LAY.word_index([(0, 1), 1]) == 6 and _LAY.describe(-1) == ((0, 1), (0, 1))


@pytest.mark.parametrize(("call", "option"), [
    # each looped over every multiset / term / letter before any cost check: a hang
    (lambda: kick_channels(2, 10**30), "order"),
    (lambda: kick_channels(10**30, 2), "m"),
    (lambda: word_terms([0], [10**30]), "powers"),
    (lambda: word_terms([0, 1], [10**4, 10**4]), "powers"),
    # 2·10^6 terms, each with two factorials of up to 10^6! (hours)
    (lambda: word_terms([0], [2 * 10**6]), "powers"),
    (lambda: feature_layout(1, 10**30, 1).letters, "degree"),
])
def test_huge_multiset_word_and_letter_counts_are_refused_at_once(call, option):
    with _deadline(20), pytest.raises(ResourceLimitError) as info:
        call()
    assert option in info.value.option


def test_counts_are_closed_forms():
    """C(m + order, order) − 1 multisets (independent route: math.comb), Π(p_j + 1) terms;
    level offsets without a loop over the levels."""
    import math

    for m, order in [(1, 1), (2, 2), (3, 5), (4, 3)]:
        assert len(kick_channels(m, order)) == math.comb(m + order, order) - 1
    assert len(word_terms([0, 1, 0], [3, 0, 5])) == 4 * 1 * 6
    with _deadline(20):
        lay = FeatureLayout(1, 0, 10**15)  # one letter: level n starts at n
        assert lay.level_slice(10**14) == slice(10**14, 10**14 + 1)


@pytest.mark.parametrize(("call", "param"), [
    # int() truncated these: power 2.7 meant 2, channel 0.5 meant channel 0
    (lambda: functional_from_coefficients({(0,): {(2.7,): 1.0}}, 1, 3), "coefficients"),
    (lambda: functional_from_coefficients({(0,): {(2.0,): 1.0}}, 1, 3), "coefficients"),
    (lambda: functional_from_coefficients({(0.5,): {(2,): 1.0}}, 1, 3), "coefficients"),
    (lambda: functional_from_coefficients({((0, 1.5),): {(1,): 1.0}}, 2, 3,
                                          channels=[(0,), (1,), (0, 1)]), "coefficients"),
    (lambda: functional_from_coefficients({((0, 1),): {(1,): 1.0}}, 2, 3,
                                          channels=[(0,), (1,), (0, 1.0)]), "channels"),
    (lambda: word_terms([0], [2.7]), "powers"),
    (lambda: word_terms([0.5], [1]), "channels"),
    # raw TypeError before
    (lambda: functional_from_coefficients({0: {(2,): 1.0}}, 1, 3), "coefficients"),
    (lambda: functional_from_coefficients({(0,): {2: 1.0}}, 1, 3), "coefficients"),
    (lambda: FeatureLayout(1, 1.5, 2), "degree"),
])
def test_non_integer_channels_and_powers_are_refused_not_truncated(call, param):
    with pytest.raises(InvalidInputError) as info:
        call()
    assert info.value.param == param, info.value


def test_integer_powers_still_work_and_large_ones_do_not_overflow():
    a = functional_from_coefficients({(0,): {(np.int64(2),): 1.0}}, 1, 3)
    b = functional_from_coefficients({(0,): {(2,): 1.0}}, 1, 3)
    np.testing.assert_array_equal(a.coefficients, b.coefficients)
    # 171! is past the floats: a raw OverflowError before; the weights 1/(a! b!) with
    # a + b = 200 are all < 1e-300 (word_terms, the loop reference, gives the same)
    with np.errstate(all="raise"):
        F = functional_from_coefficients({(0,): {(200,): 1.0}}, 1, 200)
    assert np.all(np.abs(F.coefficients[1]) < 1e-300)
    ref = {(a, w): c for a, w, c in word_terms([0], [200])}
    assert max(abs(c) for c in ref.values()) < 1e-300


@pytest.mark.parametrize("call", [
    # ~10^5 sequences of 10^4 samples: hours of Chen recursion, started without a word
    lambda: signature_batch(np.broadcast_to(np.zeros((1, 2001, 1)), (10**5, 2001, 1)),
                            np.linspace(0, 1, 2001), 1.0, 3, 3),
    lambda: response_features(np.broadcast_to(np.zeros((1, 2001, 1)), (10**5, 2001, 1)),
                              np.linspace(0, 1, 2001), 3, 3, times_out=[1.0], reduce=_first),
    lambda: signature_batch([np.sin] * 10**5, np.linspace(0, 1, 2001), 1.0, 3, 3),
    lambda: signature_batch([np.sin] * 2000, np.linspace(0, 1, 2001), 1.0, 3, 3,
                            extrapolate=True, time_budget=5),
    lambda: ResponseFeatures(depth=3, degree=3).fit(np.zeros((1, 2001))).transform(
        np.broadcast_to(np.zeros((1, 2001)), (10**5, 2001))),
])
def test_feature_batches_estimate_their_time_before_the_work(call):
    with _deadline(20), pytest.raises(ResourceLimitError) as info:
        call()
    err = info.value
    assert err.unit == "seconds" and err.estimate > err.budget
    assert "time_budget" in err.option and "time_budget" in str(err)


def _first(v):
    return v[..., :1]


def test_time_estimate_against_a_measured_batch():
    """The estimate (signature_seconds) is within a factor 5 of a measured batch, and a
    batch under the budget runs; time_budget is validated like the Galerkin route's."""
    import time

    from volterra_sym.features.signature import signature_seconds

    rng = np.random.default_rng(0)
    T = np.linspace(0, 1, 201)
    U = rng.normal(size=(256, 201, 2)) * 0.1
    t0 = time.perf_counter()
    response_features(U, T, 3, 2, times_out=[1.0])
    took = time.perf_counter() - t0
    est = signature_seconds(256, 32, 800, 6, 3, 1)
    assert est / 5 < took < 5 * est, (took, est)
    with pytest.raises(ResourceLimitError):
        response_features(U, T, 3, 2, times_out=[1.0], time_budget=est / 100)
    with pytest.raises(InvalidInputError) as info:
        response_features(U, T, 3, 2, time_budget=-1)
    assert info.value.param == "time_budget"
