"""Jupyter display: models, hierarchies and kernels as LaTeX (valid: compiled with pdflatex
where it is installed), results as HTML, and ``str(model)`` a readable summary."""

import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import volterra_sym as vs

REQUIRE_LATEX = os.environ.get("VOLTERRA_REQUIRE_LATEX") == "1"


def _math(latex: str) -> str:
    m = re.fullmatch(r"\$\\displaystyle (.*)\$", latex, re.S)
    assert m, latex[:80]
    return m[1]


def _compiles(body: str, tmp_path) -> None:
    """pdflatex accepts the display (an independent check that the LaTeX is well formed)."""
    if shutil.which("pdflatex") is None:
        if REQUIRE_LATEX:
            pytest.fail("pdflatex is required (VOLTERRA_REQUIRE_LATEX=1) but not installed")
        pytest.skip("pdflatex not installed")
    src = ("\\documentclass{article}\\usepackage[margin=1cm,paperwidth=60cm]{geometry}"
           "\\usepackage{amsmath,amssymb}\\begin{document}\\[" + body + "\\]\\end{document}\n")
    (tmp_path / "d.tex").write_text(src)
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "d.tex"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-1500:]


def test_model_latex_shows_sde_and_parameters(tmp_path):
    model = vs.load_model("tanh1d")
    body = _math(model._repr_latex_())
    assert r"dh_t = \left[-\Gamma h_t + a(W h_t + b)" in body and r"\tanh z" in body
    for name, value in (("W", "1.5"), ("b", "0.2"), (r"\sigma", "0.8")):
        assert re.search(re.escape(name) + r" = \\left\(\\begin\{matrix\}" + re.escape(value),
                         body), name
    assert r"\frac" not in body                     # decimals as decimals
    _compiles(body, tmp_path)


def test_model_str_is_a_summary_not_the_repr():
    model = vs.load_model("linear2d")
    text = str(model)
    assert text != repr(model)
    assert text.splitlines()[0] == ("SRNN 'linear2d': n = 2 units, m = 1 input channel, "
                                    "r = 2 noise sources, activation linear")
    G = np.array(model.numpy_params()["Gamma"])
    assert f"Γ = [[{G[0, 0]:.6g} {G[0, 1]:.6g}]" in text
    assert "W = " in text and "σ = " in text and "f(h) = " in text


def test_model_str_states_the_sde_of_the_model():
    """The plain summary's SDE follows the model, as the LaTeX one does: it printed the
    additive input and a constant σ for noisy_rnn4 (input inside, σ(h))."""
    text = str(vs.load_model("noisy_rnn4"))
    assert "dh = [-Γ h + a(W h + b + ε C u(t))] dt + σ(h) dB" in text
    assert "σ = [[h1/10 + 3/10, 0, 0, 0],\n       [0, h2/10 + 3/10, 0, 0]," in text
    assert "dh = [-Γ h + a(W h + b) + ε C u(t)] dt + σ dB" in str(vs.load_model("tanh3"))


def test_symbolic_model_str_lists_parameters():
    model = vs.SRNN("g", 0.5, 1, "s", activation="tanh", name="sym")
    assert "parameters: g, s" in str(model)
    assert "Γ = [[g]]" in str(model)


def test_hierarchy_latex_lists_every_kernel_in_operator_form(tmp_path):
    model = vs.load_model("linear3d")
    hier = vs.ResponseHierarchy(model, "h1", order=2)
    body = _math(hier._repr_latex_())
    kernels = [K for N in (1, 2) for K in hier.kernels(N)]
    assert len(kernels) == model.m + model.m ** 2
    for K in kernels:
        sub = "".join(str(k + 1) for k in K.channels)
        assert f"K_{{{sub}}}\\left(" in body
    assert body.count(r"\left\langle p_0") == len(kernels)
    _compiles(body, tmp_path)


def test_hierarchy_latex_is_capped():
    model = vs.SRNN(np.eye(2), np.zeros((2, 2)), np.eye(2), np.eye(2), name="two")
    hier = vs.ResponseHierarchy(model, "h1", order=4)          # 2 + 4 + 8 + 16 = 30 kernels
    body = _math(hier._repr_latex_())
    shown = body.count(r"\left\langle p_0")
    assert shown == hier.LATEX_KERNELS
    assert f"and {30 - shown} more kernels" in body


def test_kernel_latex_is_the_formula_not_only_the_name(tmp_path):
    hier = vs.ResponseHierarchy(vs.load_model("linear2d"), "h1**2", order=2)
    K = hier.kernel((0, 0))
    body = _math(K._repr_latex_())
    lhs, rhs = body.split(" = ", 1)
    assert lhs == r"K_{11}\left(\sigma_{1}, \sigma_{2}\right)"
    assert rhs.startswith(r"\left\langle p_0,\ \mathcal{L}_{1} e^{")
    assert r"(\sigma_1 \le \sigma_2)" in rhs
    _compiles(body, tmp_path)


def test_results_display_as_html_tables():
    hier = vs.ResponseHierarchy(vs.load_model("linear2d"), "h1", order=1)
    res = hier.kernel((0,)).evaluate(np.array([0.0, 0.5]))
    html = res._repr_html_()
    assert "<table>" in html and "KernelValues" in html and res.method in html
    for v in np.asarray(res):
        assert f"{v:.8g}" in html
    # a route's facts (degree, measure, the parts of the error) head the table
    tanh = vs.ResponseHierarchy(vs.load_model("tanh3"), "h1", order=1)
    g = tanh.kernel((0,)).evaluate(np.array([0.5]), method="galerkin", degree=5)
    html = g._repr_html_()
    facts = g.details["route"]
    assert "degree 5" in html and f"measure {facts['measure']}" in html
    assert f"truncation {facts['truncation']:.3g}" in html


def test_html_tables_label_orders_and_times_and_cover_every_order():
    """A SeriesTerms table labels each row with its order and time index and spreads its
    20 rows over the whole array (it showed T_0 at the first 20 times, flat-indexed); an
    unknown error reads "unknown" as in the repr (it showed nan)."""
    from volterra_sym.results import KernelValues, SeriesTerms
    T = SeriesTerms(np.arange(303.0).reshape(3, 101), np.full((3, 101), 1e-3), "exact")
    html = T._repr_html_()
    for N in range(3):
        assert f"T_{N} at time #" in html
    assert "T_2 at time #100" in html and "20 of 303 entries" in html
    assert "unknown" in KernelValues(np.ones(2), None, "taylor")._repr_html_()


def test_html_tables_name_the_lags_times_and_eps_of_their_rows():
    """The tables read "entry 0", "T_1 at time #2", "ε #1: S_2 at time #0" although the
    hierarchy knows the lags, times and ε; the details stay JSON-able and comparable."""
    import json
    import pickle
    import re

    H = vs.ResponseHierarchy(vs.load_model("tanh1d"), "h1", 2)
    cells = lambda r: re.findall(r"<td>([^<]*)</td>", r._repr_html_())[::3]  # noqa: E731
    K = H.kernel((0, 0)).evaluate([[0.5, 0.2], [1.0, 0.3]])
    assert cells(K) == ["σ = (0.5, 0.2)", "σ = (1, 0.3)"]
    u = lambda t: np.array([np.sin(t)])  # noqa: E731
    T = H.series_terms(u, np.linspace(0.0, 1.0, 3))
    assert cells(T)[:3] == ["T_0 at t = 0", "T_0 at t = 0.5", "T_0 at t = 1"]
    S = H.series(u, np.linspace(0.0, 1.0, 3), [0.1, 0.2])
    assert cells(S)[-1] == "ε = 0.2: S_2 at t = 1"
    for r in (K, T, S):
        json.dumps(dict(r.details))
        assert pickle.loads(pickle.dumps(r)).details == r.details


def test_monte_carlo_estimates_display_as_html_tables():
    """ResponseEstimate and KernelEstimate showed the plain dataclass repr in Jupyter; they
    now give a table of value ± error (the bound ``.error``; "unknown" where the time-step
    bias was not measured), with the standard error and the bias beside it."""
    from volterra_sym.montecarlo import kick_kernel, response
    m = vs.load_model("tanh1d")
    k = kick_kernel(m, np.array([0.1, 0.5]), n_paths=500, dt=0.05, seed=1)
    html = k._repr_html_()
    assert "<table>" in html and "KernelEstimate" in html and "500 paths" in html
    for v, r, e in zip(np.ravel(k.value), np.ravel(k.error), np.ravel(k.stderr), strict=True):
        assert f"{v:.6g} ± {r:.2g} (se {e:.2g}, bias " in html
    from volterra_sym.montecarlo import first_order_kernel
    quick = first_order_kernel(m, np.array([0.1]), n_paths=500, dt=0.05, seed=1,
                               estimate_bias=False)
    assert f"{quick.value[0, 0]:.6g} ± unknown (se {quick.stderr[0, 0]:.2g})" in \
        quick._repr_html_()
    r = response(m, lambda t: np.array([np.sin(t)]), 0.1, np.arange(30) * 0.05,
                 n_paths=200, dt=0.05, seed=2)
    html = r._repr_html_()
    assert "ResponseEstimate" in html and "20 of 30 rows" in html and "CRN" in html
    from volterra_sym.montecarlo import crn_responses
    c = crn_responses(m, lambda t: np.array([np.sin(t)]), [0.1, 0.2], [0.5, 1.0],
                      n_paths=256, dt=0.05, seed=3, levels=3)
    html = c._repr_html_()
    assert "CRNResponses (ε = 0.1, 0.2)" in html and "3 levels" in html
    for v, r, e in zip(np.ravel(c.value.T), np.ravel(c.error.T), np.ravel(c.stderr.T),
                       strict=True):
        assert f"{v:.6g} ± {r:.2g} (se {e:.2g}, bias " in html


def test_monte_carlo_estimates_repr_is_one_short_line():
    """``print(estimate)`` at the prompt printed every array in full over dozens of lines
    (the dataclass repr); now one line with significant digits, arrays beyond 6 numbers
    summarised and ``details`` by its keys."""
    from volterra_sym.montecarlo import kick_kernel, response
    m = vs.load_model("tanh1d")
    k = kick_kernel(m, np.array([0.1, 0.5]), n_paths=500, dt=0.05, seed=1)
    text = repr(k)
    assert "\n" not in text and text.startswith("KernelEstimate(order=1, lags=[0.1 0.5]")
    assert f"{k.value[0, 0]:.6g}" in text and "n_paths=500" in text and "seed=1" in text
    assert "details={" in text and "'" not in text.split("details=")[1]
    r = response(m, lambda t: np.array([np.sin(t)]), 0.1, np.arange(30) * 0.05,
                 n_paths=200, dt=0.05, seed=2)
    text = repr(r)
    assert "\n" not in text and "..." in text and len(text) < 1500


def test_composite_kernel_displays_its_operator_form(tmp_path):
    """A kernel of kicks (input inside the activation) had no ``_repr_latex_``: Jupyter
    showed ``CompositeKernel(...)``."""
    hier = vs.ResponseHierarchy(vs.load_model("noisy_rnn4"), "h1", order=2)
    K = hier.kernel(((0, 1),))
    body = _math(K._repr_latex_())
    assert body.startswith(r"K^{(2)}_{12}\left(\sigma_{1}\right) = \left\langle p_0")
    _compiles(body, tmp_path)


def test_return_error_must_be_a_flag():
    with pytest.raises(vs.VolterraSymError) as exc:
        vs.ResponseHierarchy(vs.load_model("tanh1d"), "h1", 1).kernel(0).evaluate(
            [[0.5]], return_error="yes")
    assert exc.value.param == "return_error"


def test_feature_results_have_a_readable_repr():
    """They printed as ``<... object at 0x…>``."""
    import volterra_sym.features as F

    m1 = vs.SRNN(1.0, 1.5, 1.0, 0.8, b=0.2, activation="tanh")
    rf = vs.ResponseHierarchy(m1, "h1", order=2).response_functional(6)
    assert repr(rf) == f"ResponseFunctional(f=h1, order=2, degree=6, m=1, <f>_0={rf.mean0:.6g})"
    feats = F.response_features(lambda t: np.array([np.sin(t)]), np.linspace(0, 1, 5), 2, 1)
    assert repr(feats) == ("ResponseFeatures(shape=(5, 7), times=5 in [0, 1], m=1, degree=1, "
                           "depth=2)")
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(10, 3)), rng.normal(size=10)
    assert repr(F.fit_ridge(X, y, 0.1)) == "RidgeReadout(features=3, outputs=1, lam=0.1)"
    assert repr(F.fit_kernel_ridge(X @ X.T, y, 0.1)) == \
        "KernelRidge(training_samples=10, outputs=1, lam=0.1)"
