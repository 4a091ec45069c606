"""The volterra-sym command line: every subcommand, JSON output, refusals and exit codes.

The bad-input corpus (:data:`BAD_INPUTS`) runs in-process through ``main``; every case
must give exactly one line on stderr, no traceback, and the documented exit status (2 for
invalid input or a request that cannot be served, 1 for a computation refused for its
cost or failed). A few cases also run as real processes.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg

from volterra_sym.cli import main
from volterra_sym.hierarchy.kernel import ResponseKernel


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line(err: str) -> None:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err


# ---------------------------------------------------------------------- success paths
def test_models_lists_builtins(capsys):
    code, out, _ = run(capsys, "models")
    assert code == 0 and "linear2d" in out and "tanh1d" in out


def test_version_and_help_document_exit_codes(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("volterra-sym ")
    for cmd in ([], ["kernel"], ["series"], ["verify"], ["derive"]):
        code, out, _ = run(capsys, *cmd, "--help")
        assert code == 0
        assert "exit status:" in out and "130" in out and "VOLTERRA_DEBUG" in out
        assert "``" not in out                       # no reST markup in help texts


@pytest.mark.parametrize("cmd", ["kernel", "series", "verify", "derive"])
def test_every_option_has_help_and_default(capsys, cmd):
    from volterra_sym.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[cmd]
    for action in sub._actions:
        if action.dest == "help":
            continue
        assert action.help, (cmd, action.dest)
        if action.option_strings and action.default not in (None, False):
            help_text = sub.formatter_class(cmd)._get_help_string(action)
            assert "default" in help_text, (cmd, action.dest)
    text = sub.format_help()
    if cmd in ("kernel", "series"):
        assert "--tol" in text and "--degree" in text


def test_derive_writes_document(tmp_path, capsys):
    code, out, _ = run(capsys, "derive", "tanh1d", "--order", "1", "--out",
                       tmp_path / "t.tex")
    assert code == 0
    tex = (tmp_path / "t.tex").read_text()
    assert r"\begin{document}" in tex and r"K_{1}" in tex
    assert [p.name for p in tmp_path.iterdir()] == ["t.tex"]      # no temporary left


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


def test_kernel_tol_reaches_the_spectral_backend(capsys):
    """--tol is passed to spectral: a looser tol gives a larger error estimate, and both
    agree with the exact kernel of the same (linear) model within their estimates."""
    base = ["kernel", "linear2d", "--observable", "h1", "--lags", "0.3", "1.0", "--json"]
    code, out, _ = run(capsys, *base, "--method", "exact")
    exact = np.array(json.loads(out)["values"])
    res = {}
    for tol in ("1e-3", "1e-8"):
        code, out, err = run(capsys, *base, "--method", "spectral", "--tol", tol)
        assert code == 0, err
        data = json.loads(out)
        assert data["options"] == {"tol": float(tol)}
        vals, errs = np.array(data["values"]), np.array(data["errors"])
        assert np.all(np.abs(vals - exact) <= errs + 1e-12)
        res[tol] = errs.max()
    assert res["1e-3"] > res["1e-8"]


def test_kernel_degree_reaches_the_taylor_backend(capsys):
    """--degree is passed to taylor: degree 3 and degree 10 differ, degree 10 agrees with
    the exact kernel within its estimate (linear2d at a short lag; below degree 3 the
    route has no truncation estimate)."""
    base = ["kernel", "linear2d", "--lags", "0.2", "--json"]
    code, out, _ = run(capsys, *base, "--method", "exact")
    exact = json.loads(out)["values"][0]
    vals = {}
    for deg in (3, 10):
        code, out, err = run(capsys, *base, "--method", "taylor", "--degree", deg)
        assert code == 0, err
        data = json.loads(out)
        assert data["options"] == {"degree": deg}
        vals[deg] = (data["values"][0], data["errors"][0])
    assert abs(vals[10][0] - exact) <= vals[10][1] + 1e-12
    assert abs(vals[3][0] - exact) > abs(vals[10][0] - exact)


def test_tol_ignored_by_exact_under_auto(capsys):
    code, out, err = run(capsys, "kernel", "linear2d", "--lags", "0.1", "--tol", "1e-3")
    assert code == 0 and "--tol not used by exact" in out


def test_series_json_and_plot(tmp_path, capsys):
    png = tmp_path / "s.png"
    code, out, err = run(capsys, "series", "linear2d", "--input", "sin(2*t)", "--eps", "0.1",
                         "--order", "2", "--t-max", "2", "--n-times", "21", "--json",
                         "--plot", png)
    assert code == 0 and png.stat().st_size > 5000
    assert f"wrote {png}" in err
    data = json.loads(out)
    terms = np.array(data["terms"])
    partial = np.array(data["partial_sums"])
    assert terms.shape == (3, 21) and data["meaningful"]
    np.testing.assert_allclose(partial[2], terms[0] + 0.1 * terms[1] + 0.01 * terms[2])
    terr = np.array(data["terms_error"])
    np.testing.assert_allclose(data["partial_sum_error"],
                               terr[0] + 0.1 * terr[1] + 0.01 * terr[2])
    np.testing.assert_allclose(data["partial_sums_error"],
                               np.cumsum(0.1 ** np.arange(3)[:, None] * terr, axis=0))
    # the table shows every partial sum with its error, and says what the error contains
    code, out, _ = run(capsys, "series", "tanh1d", "--input", "sin(2*t)", "--order", "2",
                       "--t-max", "2", "--n-times", "3")
    rows = [r.split() for r in out.splitlines() if not r.startswith("#")]
    assert code == 0 and "error of S_N" in out and "remainder of the series" in out
    assert all(len(r) == 7 and all(0 < float(r[k]) < 1e-6 for k in (2, 4, 6))
               for r in rows), rows
    assert all(float(r[2]) <= float(r[4]) <= float(r[6]) for r in rows)


def test_series_tol_reaches_spectral_and_error_is_reported(capsys):
    """Spectral series with --tol: the JSON carries the route's error estimate, which
    bounds the distance to the exact route's terms (linear model)."""
    base = ["series", "linear2d", "--observable", "h1", "--input", "sin(2*t)", "--t-max", "1",
            "--n-times", "5", "--json"]
    code, out, _ = run(capsys, *base, "--method", "exact")
    exact = np.array(json.loads(out)["terms"])
    code, out, err = run(capsys, *base, "--method", "spectral", "--tol", "1e-6")
    assert code == 0, err
    data = json.loads(out)
    assert data["options"] == {"tol": 1e-6}
    terms, errs = np.array(data["terms"]), np.array(data["terms_error"])
    assert np.all(np.abs(terms - exact) <= errs + 1e-9)


def test_plot_prints_the_real_filename(tmp_path, capsys):
    code, _, err = run(capsys, "series", "linear2d", "--input", "sin(t)", "--n-times", "11",
                       "--plot", tmp_path / "myplot")
    assert code == 0
    assert (tmp_path / "myplot.png").is_file() and not (tmp_path / "myplot").exists()
    assert f"wrote {tmp_path / 'myplot.png'}" in err
    assert "has no image suffix matplotlib writes: the figure goes to" in err   # up front
    assert sorted(p.name for p in tmp_path.iterdir()) == ["myplot.png"]


def test_out_through_symlink_writes_target(tmp_path, capsys):
    target = tmp_path / "real.tex"
    target.write_text("old")
    link = tmp_path / "link.tex"
    link.symlink_to(target)
    code, _, err = run(capsys, "derive", "tanh1d", "--order", "1", "--out", link)
    assert code == 0, err
    assert link.is_symlink() and r"\begin{document}" in target.read_text()


# ---------------------------------------------------------------------- bad inputs
def _files(tmp: Path) -> dict[str, Path]:
    (tmp / "bad.toml").write_text("name = [\n")
    (tmp / "nonsquare.toml").write_text(
        'name = "ns"\nactivation = "tanh"\nGamma = [[1.0, 0.0]]\nW = [[0.5]]\nb = [0.0]\n'
        'C = [[1.0]]\nsigma = [[0.5]]\n')
    (tmp / "binary.toml").write_bytes(b"\xff\xfe\x00n\x00a\x00m\x00e\x00")
    (tmp / "a_file.txt").write_text("x")
    (tmp / "fig.png").mkdir()
    (tmp / "dangling.tex").symlink_to(tmp / "elsewhere" / "target.tex")
    return {"bad": tmp / "bad.toml", "nonsquare": tmp / "nonsquare.toml",
            "binary": tmp / "binary.toml", "file": tmp / "a_file.txt",
            "dangling": tmp / "dangling.tex", "dir": tmp, "dirpng": tmp / "fig.png"}


CANARY = "/tmp/volterra_cli_canary"
S = ["series", "linear2d", "--input", "sin(t)"]
K = ["kernel", "linear2d", "--lags", "0.1"]

#: (id, argv with {placeholders}, exit status, substring of the one stderr line)
BAD_INPUTS = [
    ("unknown model", ["kernel", "nosuchmodel", "--lags", "0.1"], 2, "not a built-in example"),
    ("missing model file", ["kernel", "{dir}/missing.toml", "--lags", "0.1"], 2,
     "does not exist"),
    ("model path is a directory", ["kernel", "{dir}", "--lags", "0.1"], 2, "directory"),
    ("bad TOML", ["kernel", "{bad}", "--lags", "0.1"], 2, "not valid TOML"),
    ("non-square Gamma", ["kernel", "{nonsquare}", "--lags", "0.1"], 2, "Gamma must be square"),
    ("binary model file", ["kernel", "{binary}", "--lags", "0.1"], 2, "UTF-"),
    ("unknown subcommand", ["frobnicate"], 2, "invalid choice"),
    ("unknown method", K + ["--method", "magic"], 2, "invalid choice"),
    ("spectral on n = 3", ["kernel", "linear3d", "--lags", "0.1", "--method", "spectral"], 2,
     "n ≤ 2"),
    ("order 0", ["kernel", "linear2d", "--order", "0", "--lags", "0.1"], 2, "--order"),
    ("order 99", ["kernel", "linear2d", "--order", "99", "--lags", "0.1"], 2, "--order"),
    ("order not an integer", ["kernel", "linear2d", "--order", "two", "--lags", "0.1"], 2,
     "invalid int"),
    ("missing --lags", ["kernel", "linear2d"], 2, "--lags"),
    ("negative lags", ["kernel", "linear2d", "--lags", "-0.1"], 2, "≥ 0"),
    ("NaN lags", ["kernel", "linear2d", "--lags", "nan"], 2, "finite"),
    ("infinite lags", ["kernel", "linear2d", "--lags", "inf"], 2, "finite"),
    ("unparseable lags", ["kernel", "linear2d", "--lags", "a,b"], 2, "not a comma-separated"),
    ("lags of the wrong arity", ["kernel", "linear2d", "--order", "2", "--lags", "0.1"], 2,
     "needs 2 per lag point"),
    ("channel out of range", K + ["--channels", "5"], 2, "--channels"),
    ("wrong number of channels", ["kernel", "linear2d", "--order", "2", "--lags", "0.1,0.2",
                                  "--channels", "0"], 2, "--channels"),
    ("--tol 2", K + ["--method", "spectral", "--tol", "2"], 2, "--tol"),
    ("--tol nan", K + ["--tol", "nan"], 2, "--tol"),
    ("--degree 0", K + ["--method", "taylor", "--degree", "0"], 2, "--degree"),
    ("--tol with method exact", K + ["--method", "exact", "--tol", "1e-3"], 2, "not used"),
    ("taylor beyond its radius", ["kernel", "tanh1d", "--lags", "5", "--method", "taylor"], 2,
     "radius"),
    ("hostile observable (attribute)", K + ["--observable", "h1.__class__"], 2, "not allowed"),
    ("hostile observable (import)",
     K + ["--observable", f"__import__('os').system('touch {CANARY}')"], 2, "observable"),
    ("hostile observable (lambda)", K + ["--observable", "(lambda: 0)()"], 2, "observable"),
    ("unparseable input", ["series", "linear2d", "--input", "sin("], 2, "input channel 0"),
    ("hostile input", ["series", "linear2d", "--input", f"__import__('os').system('touch "
                       f"{CANARY}')"], 2, "input channel 0"),
    ("input count", S + ["--input", "cos(t)"], 2, "m=1 input channel"),
    ("two inputs in one flag", ["series", "tanh2d", "--input", "sin(t), cos(2*t)"], 2,
     "repeating the flag (--input 'sin(t)' --input 'cos(2*t)'), got 1"),
    ("a tuple as the input", ["series", "linear2d", "--input", "sin(t), cos(t)"], 2,
     "--input channel 0: a comma outside a function's arguments is not allowed"),
    ("input 1/t", ["series", "linear2d", "--input", "1/t"], 2, "t = 0"),
    ("input not real", ["series", "linear2d", "--input", "sqrt(t - 1)"], 2,
     "fractional power t - 1 is ≤ 0 at t = 0"),
    # a pole inside [0, T] (the integrator used to step into it and report a missed tol)
    ("input pole", ["series", "tanh1d", "--input", "1/(t - 1)", "--t-max", "3"], 2,
     "singular on [0, 3]: its denominator t - 1 vanishes between t = 0.9999 and 1.00005"),
    ("input tan pole", ["series", "tanh1d", "--input", "tan(t)", "--t-max", "3"], 2,
     "cos(t) vanishes between t = 1.57"),
    ("input overflowing the terms", ["series", "tanh1d", "--input", "sin(t)*1e300"], 2,
     "the terms overflow the float range"),
    ("simulate input pole", ["simulate", "tanh1d", "--input", "1/(t - 2)", "--eps", "0.1",
                             "--t-max", "3"], 2, "denominator t - 2 vanishes"),
    ("--t-max 0", S + ["--t-max", "0"], 2, "--t-max"),
    ("--t-max -1", S + ["--t-max", "-1"], 2, "--t-max"),
    ("--t-max inf", S + ["--t-max", "inf"], 2, "--t-max"),
    ("--t-max nan", S + ["--t-max", "nan"], 2, "--t-max"),
    ("--t-max 1e300", S + ["--t-max", "1e300"], 2, "--t-max"),
    ("--n-times 1", S + ["--n-times", "1"], 2, "--n-times"),
    ("--eps nan", S + ["--eps", "nan"], 2, "--eps"),
    ("--eps inf", S + ["--eps", "inf"], 2, "--eps"),
    ("--eps 1e300 overflows", S + ["--eps", "1e300", "--order", "3"], 2, "--eps"),
    ("--degree on the exact series", S + ["--method", "exact", "--degree", "3"], 2,
     "not used"),
    ("derive --out a directory", ["derive", "tanh1d", "--order", "1", "--out", "{dir}"], 2,
     "directory"),
    ("derive --out under a file", ["derive", "tanh1d", "--order", "1", "--out",
                                   "{file}/x.tex"], 2, "not a directory"),
    ("derive --out a dangling symlink", ["derive", "tanh1d", "--order", "1", "--out",
                                         "{dangling}"], 2, "dangling"),
    ("derive --out a device", ["derive", "tanh1d", "--order", "1", "--out", "/dev/null"], 2,
     "not a regular file"),
    ("derive --features -1", ["derive", "tanh1d", "--out", "{dir}/x.tex", "--features", "-1"],
     2, "--features"),
    ("series --plot a directory", S + ["--plot", "{dirpng}"], 2, "directory"),
    ("verify --paths 1", ["verify", "linear2d", "--paths", "1"], 2, "--paths"),
    ("verify --seed -1", ["verify", "linear2d", "--seed", "-1"], 2, "--seed"),
    ("verify --order 0", ["verify", "linear2d", "--order", "0"], 2, "--order"),
    ("verify bad observable", ["verify", "linear2d", "--observable", "lambda: 0"], 2,
     "not allowed"),
    ("verify --out a file", ["verify", "linear2d", "--out", "{file}"], 2, "not a directory"),
    ("MemoryError-sized series request", S + ["--n-times", "10000000", "--order", "16"], 1,
     "memory budget"),
    ("galerkin --paths below 1000", ["kernel", "tanh3", "--lags", "1", "--method", "galerkin",
                                     "--paths", "20"], 2, "--paths must be an integer between"),
    ("--paths with spectral", ["kernel", "tanh2d", "--lags", "1", "--method", "spectral",
                               "--paths", "5000"], 2,
     "--paths is not used by method 'spectral' (only by galerkin, montecarlo)"),
    ("series --seed -1", S + ["--method", "galerkin", "--seed", "-1"], 2, "--seed"),
    ("series --paths with exact", S + ["--method", "exact", "--paths", "5000"], 2,
     "--paths is not used by method 'exact'"),
    ("--time-budget with montecarlo", K + ["--method", "montecarlo", "--time-budget", "3"], 2,
     "--time-budget is not used by method 'montecarlo'"),
    ("--measure with montecarlo", K + ["--method", "montecarlo", "--measure", "samples"], 2,
     "--measure is not used by method 'montecarlo'"),
    ("--measure with spectral", ["kernel", "tanh2d", "--lags", "1", "--method", "spectral",
                                 "--measure", "samples"], 2,
     "--measure is not used by method 'spectral'"),
    ("--time-budget nan", ["kernel", "tanh3", "--lags", "1", "--method", "galerkin",
                           "--time-budget", "nan"], 2, "--time-budget must be"),
    # an observable no other test uses: a cached assembly is never re-checked for its time,
    # and tanh3's h1 at degree 5 is cached by whichever test ran before in the same worker
    ("galerkin over its --time-budget", ["kernel", "tanh3", "--lags", "1", "--method",
                                         "galerkin", "--degree", "5", "--observable",
                                         "h3 - h2", "--time-budget", "0.001"], 1,
     "raise time_budget (--time-budget) to about"),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_one_line_and_exit_code(tmp_path, capsys, monkeypatch, case):
    _, argv, expected, msg = case
    files = _files(tmp_path)
    monkeypatch.setenv("VOLTERRA_MEMORY_BUDGET", "200M")
    if os.path.exists(CANARY):
        os.unlink(CANARY)
    argv = [a.format(**files) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == expected, (code, err)
    assert_one_line(err)
    assert err.startswith("error: ") and msg in err, err
    assert not os.path.exists(CANARY)
    # nothing written by a refused command (the inputs' own files aside)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["bad.toml", "nonsquare.toml", "binary.toml", "a_file.txt", "dangling.tex",
         "fig.png"])


def test_galerkin_samples_from_the_command_line(capsys):
    """``--paths``/``--seed`` reach the galerkin route's sampled measure (issue 9: options
    degree, tol, paths, seed; ``--measure samples`` where the Gaussian reference would
    serve): the output names them, one seed reproduces its value bitwise, and two seeds
    differ by less than their combined error estimates."""
    model = str(Path(__file__).parent / "data" / "tanh10.toml")
    argv = ["kernel", model, "--method", "galerkin", "--lags", "1", "--paths", "5000",
            "--measure", "samples"]
    runs = []
    for seed in (1, 1, 2):
        code, out, _ = run(capsys, *argv, "--seed", seed, "--json")
        assert code == 0
        runs.append(json.loads(out))
    a, b, c = runs
    assert a["options"] == {"paths": 5000, "seed": 1, "measure": "samples"}
    assert a["details"]["samples"] == 5000 and a["details"]["seed"] == 1
    assert a["details"]["measure"] == "samples"
    assert a["values"] == b["values"]
    assert a["values"] != c["values"]
    assert abs(a["values"][0] - c["values"][0]) < a["errors"][0] + c["errors"][0]
    code, out, _ = run(capsys, *argv, "--seed", 1)
    assert code == 0 and "5,000 samples (seed 1)" in out
    # checked from below for its cost only: the check from above is offered
    degree = a["details"]["degree"]
    assert (f"# (--check above compares degree {degree} with {degree + 1}–{degree + 3} "
            "instead") in out
    parts = a["details"]
    line = next(r for r in out.splitlines() if r.startswith("# largest error parts"))
    assert f"truncation {parts['truncation']:.3g}" in line
    assert f"statistical {parts['statistical']:.3g}" in line
    # a measure that is not sampled (tanh3: the tensor rule) does not use them: said so
    code, out, _ = run(capsys, "kernel", "tanh3", "--method", "galerkin", "--degree", "4",
                       "--lags", "1", "--paths", "5000")
    assert code == 0 and "--paths not used by galerkin" in out
    # series: the same options, and its JSON carries the route's facts
    code, out, _ = run(capsys, "series", model, "--input", "sin(t)", "--t-max", "1",
                       "--n-times", "3", "--order", "1", "--paths", "5000", "--seed", "4",
                       "--measure", "samples", "--json")
    d = json.loads(out)
    assert code == 0 and d["options"] == {"paths": 5000, "seed": 4, "measure": "samples"}
    assert d["details"]["samples"] == 5000 and d["details"]["seed"] == 4


def test_the_corpus_is_thirty_or_more():
    assert len(BAD_INPUTS) >= 30
    assert {c[2] for c in BAD_INPUTS} == {1, 2}


# ---------------------------------------------------------------------- failures, crashes
def _raise(exc):
    def f(*a, **k):
        raise exc
    return f


@pytest.mark.parametrize("exc, code, msg", [
    (MemoryError(), 1, "out of memory"),
    (KeyboardInterrupt(), 130, "interrupted"),
    (ZeroDivisionError("boom"), 1, "internal error: ZeroDivisionError: boom"),
    (RuntimeError("multi\nline\nmessage"), 1, "internal error: RuntimeError: multi line"),
])
def test_errors_inside_a_computation(capsys, monkeypatch, exc, code, msg):
    monkeypatch.delenv("VOLTERRA_DEBUG", raising=False)
    monkeypatch.setattr(ResponseKernel, "evaluate", _raise(exc))
    c, out, err = run(capsys, *K)
    assert c == code
    assert_one_line(err)
    assert msg in err


def test_typed_errors_map_to_documented_codes(capsys, monkeypatch):
    from volterra_sym.errors import (
        AccuracyNotReachedError,
        InvalidInputError,
        NotApplicableError,
        ResourceLimitError,
        SimulationError,
        UnsupportedOrderError,
    )

    for exc, code in [(InvalidInputError("x"), 2), (NotApplicableError("x"), 2),
                      (UnsupportedOrderError("x"), 2), (ResourceLimitError("x"), 1),
                      (AccuracyNotReachedError("x"), 1), (SimulationError("x"), 1),
                      (PermissionError(13, "Permission denied", "/some/file"), 2)]:
        monkeypatch.setattr(ResponseKernel, "evaluate", _raise(exc))
        c, _, err = run(capsys, *K)
        assert c == code, (exc, c)
        assert_one_line(err)
    assert "/some/file" in err


def test_debug_env_prints_traceback(capsys, monkeypatch):
    monkeypatch.setenv("VOLTERRA_DEBUG", "1")
    monkeypatch.setattr(ResponseKernel, "evaluate", _raise(ZeroDivisionError("boom")))
    c, _, err = run(capsys, *K)
    assert c == 1 and "Traceback" in err and "internal error" in err.splitlines()[-1]


def test_interrupted_write_leaves_no_partial_file(tmp_path, capsys, monkeypatch):
    """A KeyboardInterrupt while the figure is written: exit 130, the older file untouched,
    no temporary file left."""
    import volterra_sym.reports.plots as plots

    old = tmp_path / "p.png"
    old.write_bytes(b"older figure")

    def interrupted(times, partial, path, **kw):
        Path(path).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(plots, "plot_series", interrupted)
    code, _, err = run(capsys, *S, "--n-times", "11", "--plot", old)
    assert code == 130 and err.strip() == "interrupted"
    assert old.read_bytes() == b"older figure"
    assert [p.name for p in tmp_path.iterdir()] == ["p.png"]


# ---------------------------------------------------------------------- real processes
@pytest.mark.parametrize("argv, code", [
    (["kernel", "linear2d", "--lags", "nan"], 2),
    (["series", "linear2d", "--input", "sin(t)", "--eps", "inf"], 2),
    (["series", "linear2d", "--input", "sin(t)", "--n-times", "10000000", "--order", "16"], 1),
])
def test_subprocess_exit_codes(argv, code):
    env = dict(os.environ, VOLTERRA_MEMORY_BUDGET="200M")
    env.pop("VOLTERRA_DEBUG", None)
    proc = subprocess.run([sys.executable, "-m", "volterra_sym.cli", *argv], env=env,
                          capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == code, proc.stderr
    assert_one_line(proc.stderr)
    assert proc.stdout == ""


@pytest.mark.parametrize("argv", [
    ("kernel", "tanh1d", "--lags", "0.5", "--observable", "exp(100*h1)"),
    ("series", "tanh1d", "--n-times", "5", "--input", "exp(3*t)", "--t-max", "200")])
def test_a_refusal_is_one_line(capsys, argv):
    """numpy's floating-point notes (overflow in a lambdified observable or input) used to
    precede the error line on stderr: 2 and 6 lines."""
    code, _, err = run(capsys, *argv)
    assert code in (1, 2)
    assert len(err.strip().splitlines()) == 1 and err.startswith("error:")


def test_values_starting_with_a_dash(capsys):
    """``--observable -h1`` used to fail with argparse's "expected one argument"."""
    code, out, _ = run(capsys, "kernel", "tanh1d", "--lags", "0.5", "--observable", "-h1")
    assert code == 0
    code2, out2, _ = run(capsys, "kernel", "tanh1d", "--lags", "0.5", "--observable", "h1")
    assert out.split()[-2] == "-" + out2.split()[-2]
    code, _, err = run(capsys, "series", "tanh1d", "--n-times", "3", "--input", "sin(t)",
                       "--eps", "-inf")
    assert code == 2 and "--eps must be a finite number" in err


@pytest.mark.parametrize("var", ["VOLTERRA_MEMORY_BUDGET", "VOLTERRA_TIME_BUDGET"])
def test_a_malformed_budget_variable_is_refused_by_every_command(capsys, monkeypatch, var):
    """kernel tanh1d (spectral) never read VOLTERRA_MEMORY_BUDGET and ran with 'abc'."""
    monkeypatch.setenv(var, "abc")
    code, _, err = run(capsys, "kernel", "tanh1d", "--lags", "0.5")
    assert code == 2 and var in err


def test_an_output_directory_that_refuses_new_files_is_refused_first(capsys):
    """/proc passes access(W_OK) for root but refuses new files: the error used to come
    after the work and name the internal temporary file."""
    import os

    if not os.path.isdir("/proc"):
        pytest.skip("no /proc")
    code, _, err = run(capsys, "derive", "tanh1d", "--out", "/proc/x.tex")
    assert code == 2 and "cannot create files in '/proc'" in err and ".part" not in err


def test_guarded_inputs_without_a_singularity_on_the_range_are_accepted(capsys):
    """The singularity check of ``--input`` is on [0, --t-max] only: a pole beyond it, a
    denominator that never vanishes and a log of a positive argument pass."""
    for expr, t_max in (("1/(2 + sin(t))", "3"), ("log(t + 1)", "3"), ("1/(t - 5)", "3")):
        code, out, err = run(capsys, "series", "tanh1d", "--input", expr, "--t-max", t_max,
                             "--order", "1", "--n-times", "5")
        assert code == 0, err


def test_series_time_budget_reaches_the_exact_route(capsys):
    """``--time-budget`` bounds the exact series' integration (it was refused as 'not used
    by method exact'): a fast input passes, a fast oscillation over a long span is
    refused in seconds naming the option."""
    import time as _time

    from volterra_sym.cli import main
    assert main(["series", "linear2d", "--input", "sin(t)", "--t-max", "3", "--n-times", "4",
                 "--method", "exact", "--time-budget", "30"]) == 0
    t0 = _time.perf_counter()
    assert main(["series", "linear2d", "--input", "sin(50*t)", "--t-max", "10000",
                 "--method", "exact", "--time-budget", "3"]) == 1
    assert _time.perf_counter() - t0 < 30
    assert "--time-budget" in capsys.readouterr().err


def test_an_order_beyond_the_node_limit_is_a_cost_refusal(capsys, tmp_path):
    """``--order 16`` with two channels needs 131,070 recursion nodes: a refusal for cost,
    exit 1 as documented (it was exit 2, 'invalid input'), naming --order."""
    code, out, err = run(capsys, "derive", "tanh2d", "--order", "16", "--out",
                         tmp_path / "x.tex")
    assert code == 1 and "recursion nodes" in err and "--order" in err, err
    assert_one_line(err)
    assert not (tmp_path / "x.tex").exists()


def test_taylor_kernel_json_and_table_carry_its_error_parts(capsys):
    """The Taylor route's facts (degree, error parts, the truncation part at each lag, a
    numpy array) go into ``--json`` as lists (``null`` where infinite) and the table names
    the degree: both raised (a TypeError, a KeyError 'measure') when the route began
    reporting them."""
    base = ["kernel", "tanh3", "--method", "taylor", "--lags", "0.1", "0.2"]
    code, out, _ = run(capsys, *base, "--json")
    assert code == 0
    data = json.loads(out)
    d = data["details"]
    assert d["degree"] == 8 and len(d["truncation_at"]) == 2
    assert max(data["errors"]) >= d["statistical"]
    code, out, _ = run(capsys, *base)
    assert code == 0 and "(method: taylor, degree 8)" in out
    assert "statistical leads: the sampled moments of p0" in out
