"""Committed LaTeX derivations: never stale, and every one compiles with pdflatex."""

import os
import shlex
import shutil
from pathlib import Path

import pytest

from volterra_sym import ResponseHierarchy
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


def test_conjugate_variable_with_the_input_inside_the_activation_gives_the_kernel():
    """The document's conjugate variable of ``tanh1d_inside`` is ``v⁽¹⁾ = −(c' + c(log p0)')``,
    ``c = a'(z)C``, so that ``E_0[v⁽¹⁾ f] = K₁(0)``: 1-D quadrature of the closed-form ``p0``
    against the spectral route. It printed the additive ``−C(log p0)'`` (``E_0[v h] = 1``
    against K₁(0) = 0.343)."""
    import numpy as np
    import sympy as sp
    from scipy.integrate import quad

    from volterra_sym.density import stationary_density

    model = load_model("tanh1d_inside")
    doc = derivation_document(model, 1)
    dens = stationary_density(model)
    (v,) = dens.kick_conjugate_variables()
    assert "v^{(1)}_{1}(h) &= " in doc and sp.latex(sp.Float(3.125) * model.h[0]) in doc
    h = model.h[0]
    logp, vf = sp.lambdify(h, dens.log_unnormalised), sp.lambdify(h, v)
    Z = quad(lambda x: np.exp(logp(x)), -20, 20, limit=200)[0]
    ev = quad(lambda x: vf(x) * x * np.exp(logp(x)), -20, 20, limit=200)[0] / Z
    k0 = ResponseHierarchy(model, "h1", 1).kernel((0,)).evaluate(
        np.array([[0.0]]), method="spectral")
    assert abs(ev - float(np.ravel(k0.values)[0])) <= 1e-8 + float(np.ravel(k0.error)[0])
    assert abs(ev - 1.0) > 0.5                     # not the additive input's E_0[v h] = 1


@pytest.mark.parametrize("name", ["tanh2d", "tanh3"])
def test_derive_states_the_stationary_mean_without_a_closed_form_density(name):
    """A network with no closed-form p0 (nonlinear, n > 1) got no <f>_0 in its derivation;
    it now states the numeric route's value, named, with an error never below the route's
    own (the value's rounding added, rounded up to two digits), and the value agrees with
    the sample mean of p0 (independent: 100,000 samples, 4 standard errors)."""
    import re

    import numpy as np

    from volterra_sym.backends.galerkin import measure as measures

    model = load_model(name)
    doc = derivation_document(model, 1, "h1")
    m = re.search(r"\\langle f\\rangle_0 \\approx ([-0-9.]+) \\pm ([0-9.]+)(?: \\cdot "
                  r"10\^\{(-?\d+)\})?\\quad\\text\{\(no closed form; route: (\w+)\)\}", doc)
    assert m, doc[-1500:]
    value, err = float(m.group(1)), float(m.group(2)) * 10.0 ** int(m.group(3) or 0)
    est = ResponseHierarchy(model, "h1", 1).mean0("auto")
    assert m.group(4) == est.method and err >= float(est.error)
    assert abs(value - float(est)) <= err - float(est.error)
    draws = [measures.samples(model, 50_000, seed=s) for s in (1, 2)]
    means = np.array([float(d.w @ d.x[:, 0]) for d in draws])
    se = np.std(np.concatenate([d.x[:, 0] for d in draws])) / np.sqrt(100_000)
    assert abs(value - means.mean()) <= 4 * se + err


def _table_row(tex: str, label: str) -> list[float]:
    """The numbers of the row starting with ``label`` in the accuracy table (∞ → inf,
    "unknown" → nan; ``a \\cdot 10^{b}`` read as a·10^b)."""
    import math
    import re

    line = next(x for x in tex.splitlines() if x.startswith(label + " & "))
    out = []
    for cell in line.removesuffix(r" \\").split(" & ")[1:]:
        if "infty" in cell:
            out.append(math.inf)
        elif "unknown" in cell:
            out.append(math.nan)
        else:
            m = re.fullmatch(r"\$([0-9.]+)(?: \\cdot 10\^\{(-?\d+)\})?\$", cell.strip())
            assert m, cell
            out.append(float(m[1]) * 10.0 ** int(m[2] or 0))
    return out


@pytest.mark.parametrize("name", ["tanh1d", "tanh2d"])
def test_derive_features_states_the_error_bound_of_the_functional(name):
    """``derive --features`` printed the coefficients of ℓ_N(t) with no error at all. The
    document now states, at the stated times, the Taylor route's kernel error E_N(t) and
    the bound E_N(t)·U(t)^N/N! on |T_N − <ℓ_N, S>| for |u_k| ≤ 1 — checked here against
    that formula with U = m·t (the document takes it from ``error_bound`` on the unit
    input, through signatures); ∞ beyond the radius, and ⟨f⟩_0's error the averaging
    route's own (quadrature: rounding of the exact p0's averages) or "unknown" where p0
    itself is approximate (the 2-D grid) instead of a claimed 0."""
    import math

    import numpy as np

    from volterra_sym.hierarchy import ResponseHierarchy
    from volterra_sym.reports.latex import FEATURE_ERROR_TIMES

    model = load_model(name)
    doc = derivation_document(model, 2, features=4)
    assert r"\paragraph{Accuracy.}" in doc
    t = np.array(FEATURE_ERROR_TIMES)
    assert _table_row(doc, "$t$") == list(t)
    F = ResponseHierarchy(model, None, 2).response_functional(4)
    E = F.kernel_error(t)
    for N in (1, 2):
        shown_E = np.array(_table_row(doc, f"$E_{{{N}}}(t)$"))
        shown = np.array(_table_row(doc, f"bound, $N={N}$"))
        expected = E[N] * (model.m * t) ** N / math.factorial(N)
        assert np.array_equal(np.isinf(shown), np.isinf(expected)), (N, shown)
        fin = np.isfinite(expected)
        assert fin.sum() >= 3
        np.testing.assert_allclose(shown_E[fin], E[N][fin], rtol=0.05)   # 2 digits
        np.testing.assert_allclose(shown[fin], expected[fin], rtol=0.05)
    e0 = np.array(_table_row(doc, r"$\langle f\rangle_0$"))
    if F.info["route"] == "grid":
        assert np.all(np.isnan(e0))
    else:
        assert F.info["route"] == "quadrature" and np.all(e0 > 0)
        np.testing.assert_allclose(e0, F.info["mean0_error"], rtol=0.05)


def test_functional_without_error_estimates_says_unknown():
    """A functional built from raw coefficients has no Taylor error estimates: the
    document says the error is unknown rather than printing a table of zeros."""
    from volterra_sym.features.functional import functional_from_coefficients
    from volterra_sym.reports.latex import functional_accuracy_latex

    F = functional_from_coefficients({(0,): {(0,): 1.0, (1,): -0.5}}, 1, 2, 1, 0.3)
    text = functional_accuracy_latex(F)
    assert "No error bound is available" in text and "unknown" in text
    assert "tabular" not in text
