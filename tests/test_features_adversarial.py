"""Adversarial inputs to the response features (volterra_sym.features): bad input gets the
project's typed errors naming the parameter, results are frozen, costs are refused before
the work, and user strings never reach ``sympify``."""

from __future__ import annotations

import numpy as np
import pytest

from volterra_sym.errors import InvalidInputError, NotApplicableError
from volterra_sym.features import (
    expanding_signature,
    feature_layout,
    fit_kernel_ridge,
    fit_ridge,
    functional_from_coefficients,
    response_features,
    response_functional_latex,
    restrict_index,
    signature_batch,
    signature_kernel,
    signature_size,
)


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
