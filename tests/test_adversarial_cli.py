"""Adversarial user input at the command line that the other CLI tests do not cover:
output paths (empty, trailing slash, the PDF over its own LaTeX source), high orders in
``verify``, floating-point notes of the routes, and expressions that break the parser's
own limits. Each refusal is one line on stderr with the option named, exit status 2, and
no file written."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy as sp

from volterra_sym.cli import main
from volterra_sym.verify import symmetry


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# ---------------------------------------------------------------------- verify --order
class _Kernel:
    values = np.zeros(3)


class _Ctx:
    """The two things ``_permutations`` asks of a verify context."""

    taylor_degrees: dict = {}

    def channel_tuples(self, N: int):
        return [(0,) * N]

    def kernel(self, method, ch, lags):
        return _Kernel()


def test_symmetry_check_takes_five_permutations_without_listing_all(monkeypatch):
    """``verify --order 12`` listed all 12! permutations to take five of them: 20 GB and
    the process was killed by the kernel's OOM killer (no message, no exit status)."""
    taken = []
    original = itertools.permutations

    def permutations(items):
        for k, p in enumerate(original(items)):
            taken.append(k)
            if k > 100:
                raise AssertionError("more than 100 permutations listed")
            yield p

    monkeypatch.setattr(symmetry.itertools, "permutations", permutations)
    rows: list = []
    problems: list = []
    symmetry._permutations(_Ctx(), "galerkin", 12, np.random.default_rng(0), rows, problems)
    monkeypatch.undo()
    assert [r["perm"] for r in rows] == [list(p) for p in itertools.islice(
        itertools.permutations(range(12)), 1, 6)]
    assert len(taken) <= 7 and not problems


# ---------------------------------------------------------------------- output paths
S = ["series", "tanh1d", "--input", "sin(t)", "--n-times", "5", "--order", "1", "--t-max",
     "1"]
M = ["simulate", "tanh1d", "--input", "sin(t)", "--eps", "0.1", "--paths", "50", "--t-max",
     "0.1"]

#: (id, argv, the start of the stderr line after "error: ")
BAD_OUTPUTS = [
    # an empty --out/--plot was taken as "none": exit 0 and nothing written (verify: the
    # report went into the working directory)
    ("derive --out ''", ["derive", "tanh1d", "--order", "1", "--out", ""],
     "--out must name a file, got an empty path"),
    ("series --plot ''", S + ["--plot", ""], "--plot must name a file, got an empty path"),
    ("simulate --out ''", M + ["--out", ""], "--out must name a file, got an empty path"),
    ("simulate --plot ''", M + ["--plot", ""], "--plot must name a file, got an empty path"),
    ("verify --out ''", ["verify", "tanh1d", "--quick", "--out", ""],
     "--out must name a directory, got an empty path"),
    ("verify --out ' '", ["verify", "tanh1d", "--quick", "--out", " "],
     "--out must name a directory"),
    # a trailing '/' was dropped: x.tex/ wrote the file x.tex
    ("derive --out x.tex/", ["derive", "tanh1d", "--order", "1", "--out", "x.tex/"],
     "--out 'x.tex/' ends in '/': it names a directory, not a file"),
    ("simulate --out x.json/", M + ["--out", "x.json/"], "--out 'x.json/' ends in '/'"),
    ("series --plot figs/", S + ["--plot", "figs/"], "--plot 'figs/' ends in '/'"),
    # '.' as a figure name: ValueError from pathlib ("internal error")
    ("series --plot .", S + ["--plot", "."], "--plot .: is a directory, not a file"),
    # the file-system refusals name the option (they named only the path)
    ("derive --out a directory", ["derive", "tanh1d", "--order", "1", "--out", "."],
     "--out .: is a directory, not a file"),
    ("simulate --out a device", M + ["--out", "/dev/null"],
     "--out /dev/null: is not a regular file"),
    # --pdf replaced the LaTeX source d.pdf by the compiled PDF
    ("derive --out d.pdf --pdf", ["derive", "tanh1d", "--order", "1", "--out", "d.pdf",
                                  "--pdf"], "--out 'd.pdf': --pdf writes the PDF beside"),
]


@pytest.mark.parametrize("case", BAD_OUTPUTS, ids=[c[0] for c in BAD_OUTPUTS])
def test_bad_output_paths_are_refused_first(tmp_path, capsys, monkeypatch, case):
    _, argv, start = case
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2, err
    assert one_line(err).startswith("error: " + start), err
    assert out == "" and list(tmp_path.iterdir()) == []


def test_verify_output_directory_that_cannot_be_created(tmp_path, capsys):
    (tmp_path / "a_file").write_text("x")
    code, _, err = run(capsys, "verify", "tanh1d", "--quick", "--out",
                       tmp_path / "a_file" / "sub")
    assert code == 2
    assert "cannot create the output directory (Not a directory)" in one_line(err)
    assert [p.name for p in tmp_path.iterdir()] == ["a_file"]


# ---------------------------------------------------------------------- stderr, messages
def test_route_floating_point_notes_stay_off_stderr(capsys):
    """numpy's overflow notes from inside a route (lag 1e308) reached stderr as six
    'warning: overflow encountered in multiply' lines on a successful run: the route's
    warnings were recorded with every filter replaced by 'always'."""
    for method in ("spectral", "galerkin"):
        code, out, err = run(capsys, "kernel", "tanh1d", "--lags", "1e308", "--method",
                             method)
        assert code == 0 and err == "", (method, err)
        assert "1e+308" in out


def test_a_syntax_refusal_keeps_its_reason_in_the_line(capsys):
    """Python's reason came after the echoed expression, cut off the one-line message for a
    long expression."""
    expr = "sin(" * 300 + "t" + ")" * 300
    code, _, err = run(capsys, *S[:2], "--input", expr)
    line = one_line(err)
    assert code == 2
    assert line.startswith("error: --input channel 0: invalid syntax (too many nested "
                           "parentheses) in 'sin(sin("), line


def test_model_from_a_closed_standard_input(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", None)
    code, _, err = run(capsys, "kernel", "-", "--lags", "0.5")
    assert code == 2 and "standard input, which is closed" in one_line(err)


# ---------------------------------------------------------------------- cost refusals
def test_a_monte_carlo_grid_too_long_for_any_dt_says_to_lower_the_times(capsys):
    """``--lags 1e30`` needs 1e32 steps at dt = 0.01 and 1e30 at the largest dt = 1; the
    refusal advised only 'raise dt'."""
    from volterra_sym.errors import ResourceLimitError
    from volterra_sym.montecarlo.simulate import time_indices

    with pytest.raises(ResourceLimitError) as info:
        time_indices([1e30], 0.01, "lags")
    assert info.value.option == "raise dt or lower the lags"
    assert info.value.estimate == pytest.approx(1e32) and info.value.unit == "steps"
    code, _, err = run(capsys, "kernel", "tanh1d", "--lags", "1e30", "--method", "montecarlo")
    assert code == 1 and one_line(err).endswith("; raise dt or lower the lags")


@pytest.mark.parametrize("argv", [["kernel", "a" * 3000, "--lags", "0.5"],
                                  ["models", "b" * 3000]])
def test_a_long_unknown_model_name_keeps_the_builtins_in_the_line(capsys, argv):
    """The name was echoed in full and the one-line message cut before the built-ins."""
    code, _, err = run(capsys, *argv)
    line = one_line(err)
    assert code == 2 and "…" in line and "(built-ins: linear2d, " in line, line


def test_a_pgf_figure_without_its_tex_system_is_refused_first(capsys, monkeypatch,
                                                             tmp_path):
    """``--plot fig.pgf`` ran the series, then failed in matplotlib: 'internal error:
    RuntimeError: 'xelatex' not found', exit 1."""
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    for argv in (S, M):
        code, out, err = run(capsys, *argv, "--plot", tmp_path / "fig.pgf")
        assert code == 2 and out == ""
        assert "a .pgf figure needs" in one_line(err) and "--plot" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [
    ["series", "linear2d", "--input", "exp(t)", "--t-max", "1000"],
    ["simulate", "linear2d", "--input", "exp(t)", "--eps", "0.1", "--t-max", "1000",
     "--paths", "20"]])
def test_an_input_that_overflows_on_the_range_is_refused_first(capsys, argv):
    """exp(t) overflows beyond t ≈ 709.8: the exact series failed in its integrator at
    t = 707 and the simulation diverged (both exit 1, no option named)."""
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert one_line(err).startswith("error: --input channel 0 (exp(t)) cannot be evaluated "
                                    "at t = 710.9"), err


# ---------------------------------------------------------------------- observables
@pytest.mark.parametrize("obs", ["exp(exp(h1))", "exp(exp(exp(exp(h1))))", "exp(h1**4)"])
def test_derive_with_an_observable_p0_cannot_average(tmp_path, capsys, obs):
    """derive's <f>_0 of a 1-D model was mpmath quadrature of f·p0 whatever f: for
    exp(exp(h1)) it ran for ever (no output after 90 s, --order 1), for exp(h1**4) (whose
    average is infinite) it printed a finite number. Such an f now gets no quadrature, and
    the numeric routes refuse it too (density/tails.py: the spectral route printed
    ≈ 2.1e159 ± 2.1e159 for exp(exp(h1))): the document says the average is infinite, in
    about a second."""
    import time

    t0 = time.monotonic()
    out = tmp_path / "d.tex"
    code, _, err = run(capsys, "derive", "tanh1d", "--order", "1", "--observable", obs,
                       "--out", out)
    assert code == 0, err
    assert time.monotonic() - t0 < 30
    text = out.read_text()
    assert r"\langle f\rangle_0 = \infty" in text and r"\approx" not in text


def test_the_quadrature_still_averages_observables_p0_can_average():
    from volterra_sym.density import stationary_density
    from volterra_sym.model import load_model

    dens = stationary_density(load_model("tanh1d"))
    h = dens.h[0]
    for g in (h, h**8, sp.exp(h**2), sp.exp(10 * h), sp.sin(h)):
        assert dens._decays_1d(g), g
        assert dens.expectation(g).is_Float, g
    for g in (sp.exp(h**4), sp.exp(sp.exp(h)), sp.log(h), sp.sqrt(h)):
        assert not dens._decays_1d(g), g


def test_simulate_leaves_no_results_file_when_its_figure_fails(tmp_path, monkeypatch, capsys):
    """simulate --out A --plot B: the figure is drawn before A is written, so a figure that
    cannot be drawn leaves neither file (A used to stay behind alone)."""
    import volterra_sym.cli_montecarlo as cm

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(cm, "_plot_responses", broken)
    out, plot = tmp_path / "r.json", tmp_path / "r.png"
    assert main(M + ["--out", str(out), "--plot", str(plot)]) != 0
    assert not out.exists() and not plot.exists()
    assert list(tmp_path.iterdir()) == []               # no temporary file either
    capsys.readouterr()


@pytest.mark.parametrize("argv", [S, M], ids=["series", "simulate"])
def test_an_eps_figure_has_no_translucent_artists(tmp_path, capsys, caplog, argv):
    """PostScript has no transparency: ``--plot fig.eps`` printed matplotlib's 'The
    PostScript backend does not support transparency' on stderr, and simulate's ±2 s.e.
    bands (alpha 0.25, drawn after the curves) came out opaque over them. Grids, legends
    and bands are opaque colours now (reports.plots.blend), the bands under the curves."""
    fig = tmp_path / "fig.eps"
    with caplog.at_level("WARNING"):
        code, _, err = run(capsys, *argv, "--plot", fig)
    assert code == 0, err
    assert not [r for r in caplog.records if "transparency" in r.getMessage()]
    assert "transparency" not in err
    assert fig.read_bytes().startswith(b"%!PS")
