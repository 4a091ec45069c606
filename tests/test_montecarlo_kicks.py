"""The kick estimator (:func:`volterra_sym.montecarlo.kick_kernel`, docs/theory.md §7)
against routes that share nothing with it: the spectral backend (1-D tanh, and with the
state-dependent noise of docs/theory.md §11) and the exact
backend (a linear 3-unit network with two channels and a quadratic observable, every
channel pair, lags in both orders and equal). The comparison is the estimators' honest one,
``|value − x| ≤ 4·se + |bias| + 4·se_bias``, plus the reference's own error estimate and
the bound on the Richardson remainder that ``verify`` uses (``RICHARDSON_REL·|bias|``: the
second-order kernels of a linear network with a quadratic observable are the same on every
path, ``se = 0``, and what is left of ``value − x`` after the measured bias is the O(dt²)
term); the values must also be resolved (``|K| > 10 se`` somewhere), so a broken estimator
cannot pass on noise alone."""

from __future__ import annotations

import numpy as np
import pytest

from volterra_sym import ResponseHierarchy
from volterra_sym.errors import InvalidInputError, NotApplicableError
from volterra_sym.model.catalogue import load_model
from volterra_sym.montecarlo import kick_kernel
from volterra_sym.verify.settings import RICHARDSON_REL


def _honest(est, exact, exact_error) -> np.ndarray:
    dev = np.abs(est.value - exact)
    return dev / (4 * est.stderr + (1 + RICHARDSON_REL) * np.abs(est.bias)
                  + 4 * est.bias_stderr + exact_error + 1e-12)


def test_one_dim_tanh_against_spectral():
    model = load_model("tanh1d")
    hier = ResponseHierarchy(model, "h1", order=2)
    lags = np.array([0.0, 0.3, 0.8, 1.6])
    est = kick_kernel(model, lags, n_paths=20_000, dt=0.02, seed=3)
    ref = hier.kernel((0,)).evaluate(lags[:, None], method="spectral")
    sp, sp_err = np.asarray(ref), np.asarray(ref.error)
    assert est.method == "kick" and est.value.shape == (4, 1)
    z = _honest(est, sp[:, None], sp_err[:, None])
    assert np.all(z <= 1.0), z
    assert np.all(np.abs(sp) > 20 * est.stderr[:, 0])
    pairs = np.array([[0.2, 0.6], [0.6, 0.2], [0.4, 0.4], [0.2, 1.4]])
    est2 = kick_kernel(model, pairs, n_paths=20_000, dt=0.02, seed=4)
    ref2 = hier.kernel((0, 0)).evaluate(pairs, method="spectral")
    sp2 = np.asarray(ref2)
    z = _honest(est2, sp2[:, None, None], np.asarray(ref2.error)[:, None, None])
    assert np.all(z <= 1.0), z
    assert np.max(np.abs(sp2) / est2.stderr[:, 0, 0]) > 10
    # the symmetric extension: (σ1, σ2) and (σ2, σ1) are the same paths
    assert est2.value[0, 0, 0] == est2.value[1, 0, 0]


def test_state_dependent_noise_against_spectral():
    """σ(h) = 0.4 + 0.2 h (docs/theory.md §11): ``L_k = C_k·∇`` is still a translation, the
    chains are Euler–Maruyama with σ(h); K₁ and K₂ against the spectral route."""
    model = load_model("noisy_tanh1d")
    hier = ResponseHierarchy(model, "h1", order=2)
    lags = np.array([0.0, 0.5, 1.0, 1.5])
    est = kick_kernel(model, lags, n_paths=20_000, dt=0.02, seed=1)
    ref = hier.kernel((0,)).evaluate(lags[:, None], method="spectral")
    z = _honest(est, np.asarray(ref)[:, None], np.asarray(ref.error)[:, None])
    assert np.all(z <= 1.0), z
    assert np.all(np.abs(np.asarray(ref))[1:] > 100 * est.stderr[1:, 0])
    pairs = np.array([[0.2, 0.5], [0.5, 0.5], [0.5, 1.0]])
    est2 = kick_kernel(model, pairs, n_paths=20_000, dt=0.02, seed=2)
    ref2 = hier.kernel((0, 0)).evaluate(pairs, method="spectral")
    z = _honest(est2, np.asarray(ref2)[:, None, None], np.asarray(ref2.error)[:, None, None])
    assert np.all(z <= 1.0), z
    assert np.all(np.abs(np.asarray(ref2)) > 10 * est2.stderr[:, 0, 0])


def test_linear_two_channels_every_pair_against_the_exact_backend():
    model = load_model("linear3d")
    f = "h1*h2 + h3**2"
    hier = ResponseHierarchy(model, f, order=2)
    lags = np.array([0.1, 0.5, 1.0])
    est = kick_kernel(model, lags, observable=f, n_paths=8_000, dt=0.05, seed=5)
    refs = [hier.kernel((k,)).evaluate(lags[:, None], method="exact") for k in range(2)]
    ex = np.stack([np.asarray(r) for r in refs], axis=1)
    ex_err = np.stack([np.asarray(r.error) for r in refs], axis=1)
    z = _honest(est, ex, ex_err)
    assert np.all(z <= 1.0), z
    pairs = np.array([[0.1, 0.5], [0.5, 0.1], [0.3, 0.3], [0.0, 1.0]])
    est2 = kick_kernel(model, pairs, observable=f, n_paths=8_000, dt=0.05, seed=6)
    ex2, ex2_err = np.zeros((4, 2, 2)), np.zeros((4, 2, 2))
    for k1 in range(2):
        for k2 in range(2):
            r = hier.kernel((k1, k2)).evaluate(pairs, method="exact")
            ex2[:, k1, k2], ex2_err[:, k1, k2] = np.asarray(r), np.asarray(r.error)
    z = _honest(est2, ex2, ex2_err)
    assert np.all(z <= 1.0), z
    # the bias is resolved and removes most of the deviation (the estimate is O(dt) off)
    assert np.all(np.abs(est2.value - est2.bias - ex2) < 0.1 * np.abs(est2.value - ex2))
    # off the diagonal the channel order matters: K_12(σ1, σ2) = K_21(σ2, σ1)
    np.testing.assert_array_equal(est2.value[0], est2.value[1].T)


def test_input_inside_the_activation_against_spectral():
    """docs/theory.md §10: ``L_k = a'(W h + b) C_k·∇`` is no translation, the kick follows its
    field, ``h_0 = x + a b_k(x)``. A translation by ``aC_k`` would give ``K₁(0) = C_k = 1``
    for ``f = h``; the kernel is far below that, and the estimate meets the spectral route
    at orders 1 and 2."""
    model = load_model("tanh1d_inside")
    hier = ResponseHierarchy(model, "h1", order=2)
    lags = np.array([0.0, 0.3, 0.8, 1.6])
    est = kick_kernel(model, lags, n_paths=20_000, dt=0.02, seed=3)
    ref = hier.kernel((0,)).evaluate(lags[:, None], method="spectral")
    sp = np.asarray(ref)
    assert abs(sp[0] - 1.0) > 0.5            # the translation's value is far off
    z = _honest(est, sp[:, None], np.asarray(ref.error)[:, None])
    assert np.all(z <= 1.0), z
    assert np.all(np.abs(sp) > 50 * est.stderr[:, 0])
    pairs = np.array([[0.2, 0.6], [0.4, 0.4], [0.0, 0.0], [0.2, 1.4]])
    est2 = kick_kernel(model, pairs, n_paths=20_000, dt=0.02, seed=4)
    ref2 = hier.kernel((0, 0)).evaluate(pairs, method="spectral")
    sp2 = np.asarray(ref2)
    z = _honest(est2, sp2[:, None, None], np.asarray(ref2.error)[:, None, None])
    assert np.all(z <= 1.0), z
    assert np.all(np.abs(sp2) > 5 * est2.stderr[:, 0, 0])
    # the contact kernel K^(2)(σ) = <p0, L^(2) P_σ f>: one kick along a''(z)/2 C²
    est3 = kick_kernel(model, lags, n_paths=20_000, dt=0.02, seed=5, contact=True)
    ref3 = hier.kernel(((0, 0),)).evaluate(lags[:, None], method="spectral")
    sp3 = np.asarray(ref3)
    assert est3.value.shape == (4, 1, 1) and est3.details["contact"]
    z = _honest(est3, sp3[:, None, None], np.asarray(ref3.error)[:, None, None])
    assert np.all(z <= 1.0), z
    assert np.all(np.abs(sp3) > 10 * est3.stderr[:, 0, 0])


def test_input_inside_with_state_noise_against_galerkin_and_the_order_of_a_tie():
    """``noisy_rnn4`` (4 units, 2 channels, the input inside the activation and
    ``σ(h) = σ₁ + σ₂ diag(h)``, docs/theory.md §10–§11) against the Galerkin route. The
    fields of two channels do not commute, so at a tie ``K₁₂(σ, σ) = <p0, L₂ L₁ P_σ f>``
    differs from ``K₂₁(σ, σ)`` by ``<p0, [L₂, L₁] P_σ f>``: both routes must order the
    kicks of a tie as given (the second acts at the state the first left)."""
    model = load_model("noisy_rnn4")
    hier = ResponseHierarchy(model, "h1", order=2)
    lags = np.array([0.0, 0.5, 2.0])
    pairs = np.array([[0.0, 0.0], [0.5, 0.5], [0.25, 0.5]])
    keys = [(0,), (1,)] + [(k1, k2) for k1 in range(2) for k2 in range(2)]
    contact = [((0, 0),), ((0, 1),), ((1, 1),)]
    res = hier.evaluate_kernels({k: lags[:, None] if len(k) == 1 else pairs for k in keys}
                                | {k: lags[:, None] for k in contact},
                                method="galerkin")       # one walk: shared prefixes
    ref, err = np.zeros((3, 2)), np.zeros((3, 2))
    ref2, err2 = np.zeros((3, 2, 2)), np.zeros((3, 2, 2))
    for k in keys:
        out, out_err = (ref, err) if len(k) == 1 else (ref2, err2)
        out[(slice(None),) + k] = np.asarray(res[k])
        out_err[(slice(None),) + k] = np.asarray(res[k].error)
    est = kick_kernel(model, lags, n_paths=4_000, dt=0.05, seed=3)
    z = _honest(est, ref, err)
    assert np.all(z <= 1.0), z
    assert np.all(np.abs(ref[:, 0]) > 50 * est.stderr[:, 0])
    est2 = kick_kernel(model, pairs, n_paths=4_000, dt=0.05, seed=4)
    z = _honest(est2, ref2, err2)
    assert np.all(z <= 1.0), z
    # the commutator at the tie (0, 0) is resolved by both, and they agree on its sign
    gap = ref2[0, 0, 1] - ref2[0, 1, 0]
    gap_mc = est2.value[0, 0, 1] - est2.value[0, 1, 0]
    assert abs(gap) > 10 * (err2[0, 0, 1] + err2[0, 1, 0])
    assert abs(gap_mc - gap) < 0.2 * abs(gap)
    # contact kernels K^(2)_{k1k2}(σ): one kick carrying both channels
    est3 = kick_kernel(model, lags, n_paths=4_000, dt=0.05, seed=5, contact=True)
    ref3, err3 = np.zeros((3, 2, 2)), np.zeros((3, 2, 2))
    for (kick,) in contact:
        for k1, k2 in {kick, kick[::-1]}:
            ref3[:, k1, k2] = np.asarray(res[(kick,)])
            err3[:, k1, k2] = np.asarray(res[(kick,)].error)
    z = _honest(est3, ref3, err3)
    assert np.all(z <= 1.0), z
    assert np.all(np.abs(ref3[1:, 1, 1]) > 10 * est3.stderr[1:, 1, 1])


def test_refusals():
    model = load_model("tanh1d")
    with pytest.raises(NotApplicableError):       # L^(2) = 0: the contact kernels vanish
        kick_kernel(model, [0.5], n_paths=100, dt=0.05, contact=True)
    inside = load_model("tanh1d_inside")
    for kw, param in ((dict(lags=[[0.1, 0.2]], contact=True), "lags"),
                      (dict(lags=[0.1], contact="yes"), "contact")):
        with pytest.raises(InvalidInputError) as exc:
            kick_kernel(inside, n_paths=100, dt=0.05, **kw)
        assert exc.value.param == param
    for kw, param in ((dict(lags=[[0.1, 0.2, 0.3]]), "lags"),
                      (dict(lags=[0.13]), "lags"),
                      (dict(lags=[0.1], amplitude=0.0), "amplitude"),
                      (dict(lags=[0.1], n_paths=1), "n_paths"),
                      (dict(lags=[0.1], dt=-0.1), "dt"),
                      (dict(lags=[0.1], chunk_size=0), "chunk_size")):
        args = {"n_paths": 100, "dt": 0.05, **kw}
        with pytest.raises(InvalidInputError) as exc:
            kick_kernel(model, **args)
        assert exc.value.param == param, (kw, exc.value.param)


def test_numbers_do_not_depend_on_the_chunk_size():
    """Each block of 256 paths draws from its own generator and block sums merge in block
    order: one chunk or many give bitwise the same estimate."""
    model = load_model("tanh2d")
    kw = dict(n_paths=700, dt=0.05, seed=9)
    a = kick_kernel(model, [[0.1, 0.3], [0.2, 0.2]], **kw)
    b = kick_kernel(model, [[0.1, 0.3], [0.2, 0.2]], chunk_size=256, **kw)
    assert a.details["chunks"] == 1 and b.details["chunks"] == 3
    for x, y in ((a.value, b.value), (a.stderr, b.stderr), (a.bias, b.bias)):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("name", ["tanh2d", "tanh3", "noisy_rnn4"])
def test_the_memory_estimate_covers_the_chunk(name):
    """The memory check counted each chunk's states once; an Euler step holds the state, its
    drift, the noise term and the new state (a kick along ``a'(z)⊙C`` as many): measured
    peaks were 3.6–3.8× that count. The estimate (``details["chunk_bytes"]``) must cover
    the traced peak of a one-chunk run, and not by more than 2×."""
    import tracemalloc

    model = load_model(name)
    tracemalloc.start()
    try:
        est = kick_kernel(model, [[0.0, 0.5], [0.25, 0.5]], n_paths=2048, dt=0.05, seed=1,
                          chunk_size=2048)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert est.details["chunks"] == 1
    assert 0.5 * est.details["chunk_bytes"] <= peak <= est.details["chunk_bytes"], \
        (peak, est.details["chunk_bytes"])
