"""The volterra-sym command line: every subcommand, JSON output, and refusals."""

import json

import numpy as np
import pytest
import scipy.linalg

from volterra_sym.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_models_lists_builtins(capsys):
    code, out, _ = run(capsys, "models")
    assert code == 0 and "linear2d" in out and "tanh1d" in out


def test_derive_writes_document(tmp_path, capsys):
    code, out, _ = run(capsys, "derive", "tanh1d", "--order", "1", "--out",
                       str(tmp_path / "t.tex"))
    assert code == 0
    tex = (tmp_path / "t.tex").read_text()
    assert r"\begin{document}" in tex and r"K_{1}" in tex


def test_kernel_json_matches_closed_form(capsys):
    """linear2d, f = h1² + h1 h2: K_1(σ) = (wᵀ + 2μᵀQ) e^{-Aσ} C from the model file."""
    code, out, _ = run(capsys, "kernel", "linear2d", "--lags", "0.0", "0.5", "1.5", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["method"] == "exact"
    A = np.array([[2.0, -1.0], [-1.0, 2.0]])
    b = np.array([0.5, 0.0])
    C = np.array([1.0, 0.0])
    Q = np.array([[1.0, 0.5], [0.5, 0.0]])
    mu = np.linalg.solve(A, b)
    ref = [2 * mu @ Q @ scipy.linalg.expm(-A * s) @ C for s in (0.0, 0.5, 1.5)]
    np.testing.assert_allclose(data["values"], ref, rtol=1e-12)


def test_series_json_and_plot(tmp_path, capsys):
    png = tmp_path / "s.png"
    code, out, _ = run(capsys, "series", "linear2d", "--input", "sin(2*t)", "--eps", "0.1",
                       "--order", "2", "--t-max", "2", "--n-times", "21", "--json",
                       "--plot", str(png))
    assert code == 0 and png.stat().st_size > 5000
    data = json.loads(out)
    terms = np.array(data["terms"])
    partial = np.array(data["partial_sums"])
    assert terms.shape == (3, 21) and data["meaningful"]
    np.testing.assert_allclose(partial[2], terms[0] + 0.1 * terms[1] + 0.01 * terms[2])


@pytest.mark.parametrize("argv, msg", [
    (["kernel", "nosuchmodel", "--lags", "0.1"], "not a built-in example"),
    (["kernel", "linear2d", "--order", "2", "--lags", "0.1"], "order 2 needs 2"),
    (["kernel", "linear2d", "--lags", "-0.1"], "lags must be ≥ 0"),
    (["kernel", "tanh1d", "--lags", "0.1", "--method", "magic"], "unknown method"),
    (["kernel", "linear2d", "--lags", "0.1", "--observable", "h1.__class__"], "not allowed"),
    (["series", "linear2d", "--input", "__import__('os').system('true')"], "input channel 0"),
    (["series", "linear2d", "--input", "sin(t)", "--input", "cos(t)"], "m=1 input channel"),
    (["series", "linear2d", "--input", "sin(t)", "--t-max", "-1"], "--t-max must be"),
    (["verify", "linear2d", "--paths", "1"], "--paths must be an integer ≥ 2"),
    (["verify", "linear2d", "--observable", "lambda: 0"], "not allowed"),
])
def test_bad_input_exits_2_with_message(capsys, argv, msg):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert msg in err
