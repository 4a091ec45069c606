"""Issue 12: ``verify`` and ``derive`` for the input inside the activation and σ(h)
(docs/theory.md §10–§11)."""

import shutil

import numpy as np
import pytest

import volterra_sym as vs
from volterra_sym.model import load_model
from volterra_sym.reports.latex import compile_pdf, derivation_document
from volterra_sym.verify import FAIL, PASS, verify_model


def test_composite_kernel_symmetric_extension_with_equal_kicks():
    """K^(1,1)_{1,1}(σ1, σ2) at both lag orderings in one call: rows of the two sorted
    orderings (the same kick key) must not overwrite each other."""
    m = load_model("tanh1d_inside")
    K = vs.ResponseHierarchy(m, order=2).kernel(((0,), (0,)))
    lags = np.array([[0.1, 0.2], [0.2, 0.1], [0.25, 0.5], [0.0, 0.0]])
    both = np.asarray(K.evaluate(lags, method="spectral"))
    one = np.array([float(np.asarray(K.evaluate(np.sort(r)[None], method="spectral"))[0])
                    for r in lags])
    np.testing.assert_allclose(both, one, rtol=0, atol=1e-12)
    assert both[0] == both[1] and abs(both[0] - both[2]) > 1e-3


def test_derive_prints_the_kick_operators_and_composite_kernels(tmp_path):
    tex = derivation_document(load_model("tanh1d_inside"), 2)
    assert r"\mathcal{L}^{(1)}_{1} g &=" in tex and r"\mathcal{L}^{(2)}_{11} g &=" in tex
    assert r"\tanh^{3}" in tex                  # a''/2 = tanh³ - tanh for j = 2
    assert r"K^{(2)}_{11}" in tex and r"K^{(1,1)}_{1,1}" in tex
    assert r"\models N" in tex                  # the composition sum of the series
    noisy = derivation_document(load_model("noisy_tanh1d"), 2)
    assert r"D(h) = \left(\frac{h_{1}}{5} + \frac{2}{5}\right)^{2}" in noisy
    assert r"v^{(1)}_{1}(h) &=" in noisy and r"(-2, \infty)" in noisy
    assert r"\mathcal{L}^{(2)}" not in noisy   # additive input: no contact kicks
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed")
    for name, text in (("inside", tex), ("noisy", noisy)):
        path = tmp_path / f"{name}.tex"
        path.write_text(text)
        assert compile_pdf(path).stat().st_size > 1000


def _by_name(checks):
    return {c.name: c for c in checks}


@pytest.mark.slow
def test_verify_tanh1d_inside_quick(tmp_path):
    """Every check runs; nothing fails; the contact kernel K^(2) is compared between the
    routes, the first-kick FDT identity passes, the kick estimator (kicks along
    ``a'(z)C·∇``) meets the kernels of orders 1 and 2 and the series meets CRN responses of
    the model itself — with ``parity`` also its even and odd parts
    (``crn_responses(combine=…)`` on the engine of these models)."""
    import dataclasses

    from volterra_sym.verify import settings_for

    model = load_model("tanh1d_inside")
    settings = dataclasses.replace(settings_for(True, 12345, model.n), parity=True)
    code, checks = verify_model(model, settings=settings, out=tmp_path,
                                print_table=False, figures=False, progress=False)
    assert code == 0, [(c.name, c.reason) for c in checks if c.status == FAIL]
    by = _by_name(checks)
    assert by["backends: contact kernels order 2 spectral vs galerkin"].status == PASS
    assert by["identity: <p0, L^(1)_1 g> = E0[v^(1)_1 g]"].status == PASS
    assert by["identity: K_k(0) = <p0, L_k f> [galerkin]"].status == PASS
    for N in (1, 2):
        assert by[f"MC: kernels order {N} (kick vs spectral)"].status == PASS
    assert by["MC: contact kernels order 2 (kick vs spectral)"].status == PASS
    assert by["MC: series residual M=1 (slope)"].status == PASS
    assert by["MC: series residual M=1 (slope, even part)"].status == PASS
    assert "MC: series residual M=2 (slope, odd part)" in by


@pytest.mark.slow
def test_verify_noisy_rnn4_quick(tmp_path):
    """Acceptance (issue 12): ``verify noisy_rnn4 --quick`` runs and passes; the series is
    checked against CRN Monte Carlo with σ(h) (the slope check at M = 1), the Galerkin
    kernels of orders 1 and 2 against the kick estimator."""
    code, checks = verify_model(load_model("noisy_rnn4"), quick=True, out=tmp_path,
                                print_table=False, figures=False, progress=False)
    assert code == 0, [(c.name, c.reason) for c in checks if c.status == FAIL]
    by = _by_name(checks)
    assert by["MC: series residual M=1 (slope)"].status == PASS
    assert by["identity: kernel symmetry [galerkin]"].status == PASS
    for N in (1, 2):
        assert by[f"MC: kernels order {N} (kick vs galerkin)"].status == PASS
    # the Taylor route is refused for its cost here: Monte Carlo is the contact kernels'
    # only independent check
    assert by["MC: contact kernels order 2 (kick vs galerkin)"].status == PASS


@pytest.mark.parametrize("name", ["tanh1d_inside", "noisy_tanh1d", "noisy_rnn4"])
def test_response_functional_reproduces_the_series_with_the_features(name):
    """The response functional with the contact terms (augmented input u_κ = Π_{c∈κ} u_c,
    docs/theory.md §10) and σ(h) (§11) reproduces the series of an independent route:
    spectral (n = 1; within the bound E_N B_N + the spectral error, and 1e-6 relative) and
    Galerkin (noisy_rnn4; sampled Taylor coefficients at degree 3, within the bound + the
    Galerkin error). Orders 1–2, t ≤ 0.2."""
    m = load_model(name)
    H = vs.ResponseHierarchy(m, order=2)
    times = np.linspace(0.0, 0.2, 9)
    if m.m == 1:
        def u(s):
            return 0.5 + np.sin(3 * np.asarray(s, dtype=float))
        F = H.response_functional(10)
        ref = H.series_terms(lambda s: np.atleast_1d(u(s)), times, method="spectral")
    else:
        def u(s):
            s = np.asarray(s, dtype=float)
            return np.stack([0.5 + np.sin(3 * s), np.cos(2 * s)], axis=-1)
        F = H.response_functional(3)
        ref = H.series_terms(u, times, method="galerkin")
    assert (F.channels is not None) == (m.input == "activation")
    T = F.terms(u, times, extrapolate=True)
    diff = np.abs(T - np.asarray(ref))[1:, 1:]
    bound = F.error_bound(u, times)[1:, 1:] + np.abs(ref.error)[1:, 1:]
    assert np.all(diff <= bound), (diff, bound)
    if m.m == 1:   # t = 0.1, 0.2 (earlier T_2 is below the spectral route's noise)
        assert np.all(diff[:, [3, 7]] <= 1e-6 * np.abs(np.asarray(ref))[1:, [4, 8]])


def test_kernel_figure_draws_the_contact_kernels(tmp_path):
    """verify's kernel figure gains a panel for the contact kernels ``K^(2)(σ)`` (the input
    inside the activation): the engine curve and the Monte Carlo points with ±2 s.e."""
    import matplotlib.image as mpimg

    from volterra_sym.reports.verify_plots import plot_kernels
    from volterra_sym.verify.context import Context
    from volterra_sym.verify.settings import settings_for

    ctx = Context(load_model("tanh1d_inside"), None, 2, settings_for(True, 1, 1))
    lags = np.array([0.0, 0.5, 1.0])
    res = ctx.kernel(ctx.primary, ((0, 0),), lags[:, None])
    d = {"lags": lags, "mc": np.asarray(res.values).reshape(3, 1, 1),
         "stderr": np.full((3, 1, 1), 1e-3), "estimator": "kick"}
    alone = plot_kernels(ctx, {"contact2": d}, tmp_path / "alone.png")
    k1 = {"lags": lags, "mc": np.zeros((3, 1)), "stderr": np.full((3, 1), 1e-3),
          "kinds": ["point"] * 3, "n_paths": 10, "n_origins": 1, "dt": 0.01,
          "estimator": "kick"}
    both = plot_kernels(ctx, {"kernel1": k1, "contact2": d}, tmp_path / "both.png")
    w_alone, w_both = (mpimg.imread(p).shape[1] for p in (alone, both))
    assert w_both > 1.8 * w_alone            # two panels side by side
