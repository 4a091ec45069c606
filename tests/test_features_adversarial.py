"""Adversarial inputs to the response features (volterra_sym.features): bad input gets the
project's typed errors naming the parameter, results are frozen, costs are refused before
the work, and user strings never reach ``sympify``."""

from __future__ import annotations

from volterra_sym.features import functional_from_coefficients, response_functional_latex


def test_latex_of_an_observable_string_never_evaluates_it(tmp_path):
    marker = tmp_path / "pwned"
    evil = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    F = functional_from_coefficients({(0,): {(0,): 1.0}}, 1, 2, observable=evil)
    text = response_functional_latex(F)
    assert not marker.exists()
    assert "\\texttt{" in text and "\\_\\_import\\_\\_" in text
    ok = functional_from_coefficients({(0,): {(0,): 1.0}}, 1, 2, observable="h1**2 + tanh(h1)")
    assert "h_{1}^{2}" in response_functional_latex(ok)
