"""Committed LaTeX derivations: never stale, and every one compiles with pdflatex."""

import os
import shlex
import shutil
from pathlib import Path

import pytest

from volterra_sym.cli import load_model
from volterra_sym.reports import compile_pdf, derivation_document

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "derivations").glob("*.tex"))
REQUIRE_LATEX = os.environ.get("VOLTERRA_REQUIRE_LATEX") == "1"


def _command(tex: Path) -> list[str]:
    for line in tex.read_text().splitlines()[:5]:
        if line.startswith("% command: "):
            return shlex.split(line[len("% command: "):])
    raise AssertionError(f"{tex.name} does not record the command that generated it")


def test_required_documents_exist():
    names = {p.stem for p in DOCS}
    assert {"linear2d", "tanh1d"} <= names


@pytest.mark.parametrize("tex", DOCS, ids=lambda p: p.stem)
def test_committed_derivation_is_not_stale(tex):
    argv = _command(tex)
    assert argv[:2] == ["volterra-sym", "derive"]
    model = argv[2]
    order = int(argv[argv.index("--order") + 1])
    obs = argv[argv.index("--observable") + 1] if "--observable" in argv else None
    features = int(argv[argv.index("--features") + 1]) if "--features" in argv else None
    cmd = " ".join(argv[:2] + [model, "--order", str(order)])
    if obs:
        cmd += f" --observable '{obs}'"
    if features is not None:
        cmd += f" --features {features}"
    if "--out" in argv:
        cmd += f" --out {shlex.quote(argv[argv.index('--out') + 1])}"
    spec = ROOT / model if (ROOT / model).is_file() else model   # a model file in the repo
    fresh = derivation_document(load_model(spec), order, obs, command=cmd,
                                features=features)
    assert fresh == tex.read_text(), (
        f"{tex.name} is stale: regenerate it with `{' '.join(argv)}` (from the repository "
        "root)")


@pytest.mark.parametrize("tex", DOCS, ids=lambda p: p.stem)
def test_derivation_compiles(tex, tmp_path):
    if shutil.which("pdflatex") is None:
        if REQUIRE_LATEX:
            pytest.fail("pdflatex is required (VOLTERRA_REQUIRE_LATEX=1) but not installed")
        pytest.skip("pdflatex not installed (apt-get install texlive-latex-base "
                    "texlive-latex-recommended)")
    copy = tmp_path / tex.name
    copy.write_text(tex.read_text())
    pdf = compile_pdf(copy)
    assert pdf.exists() and pdf.stat().st_size > 10_000


def test_missing_pdflatex_gives_clear_error(tmp_path, monkeypatch):
    from volterra_sym.reports import LatexUnavailableError

    monkeypatch.setattr(shutil, "which", lambda name: None)
    tex = tmp_path / "x.tex"
    tex.write_text("\\documentclass{article}\\begin{document}x\\end{document}")
    with pytest.raises(LatexUnavailableError, match="apt-get install"):
        compile_pdf(tex)


def test_derive_non_polynomial_observable_of_a_linear_model():
    """Used to end in 'cannot create mpf from Integral(…)': <sin(h1)>_0 has no closed form
    from the density's integral; the document gives the numeric route's value, named, which
    matches the Gaussian identity E sin(h1) = sin(μ1) e^{−S11/2}."""
    import re

    import numpy as np

    from volterra_sym.density import gaussian_moments

    model = load_model("linear2d")
    doc = derivation_document(model, 1, "sin(h1)")
    m = re.search(r"\\langle f\\rangle_0 \\approx ([-0-9.e]+) \\pm ([0-9.]+) \\cdot "
                  r"10\^\{(-?\d+)\}\\quad\\text\{\(no closed form; route: (\w+)\)\}", doc)
    assert m, doc[-2000:]
    mu, S = gaussian_moments(model)
    exact = np.sin(float(mu[0])) * np.exp(-float(S[0, 0]) / 2)
    err = float(m.group(2)) * 10.0 ** int(m.group(3))
    assert abs(float(m.group(1)) - exact) < min(err, 1e-7)      # its stated error holds
