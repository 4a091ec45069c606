"""scikit-learn estimators of volterra_sym.features.sklearn (docs/theory.md §5).

* the standard scikit-learn estimator checks (``parametrize_with_checks``) for
  ``ResponseFeatures``, ``SRNNFeatures`` and ``SRNNKernel``;
* the time-major reshape convention and the feature names against closed-form iterated
  integrals of polynomial inputs (independent of the signature code);
* SRNN features against the independent series backends (exact for a linear model,
  spectral for tanh) within the functional's own error bound;
* the kernel against ``<S, M S>`` built by the kernel-machine route;
* typed errors for bad parameters and data.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from volterra_sym import SRNN, load_model
from volterra_sym.errors import InvalidInputError
from volterra_sym.features import (
    feature_kernel,
    hidden_unit_functionals,
    response_kernel_matrix,
    series_features,
    signature_batch,
)
from volterra_sym.features.sklearn import (
    InvalidInputTypeError,
    NotFittedError,
    ResponseFeatures,
    SRNNFeatures,
    SRNNKernel,
    reshape_sequences,
)


@parametrize_with_checks([
    ResponseFeatures(),
    ResponseFeatures(depth=3, degree=2, t_max=2.0, output_steps=[0, -1]),
    SRNNFeatures(),
    SRNNFeatures(order=3, taylor_degree=5, per_order=True, output_steps=[0, -1]),
    SRNNKernel(),
])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def linear2() -> SRNN:
    """2-dim linear SRNN, two input channels (exact Gaussian route)."""
    return SRNN(Gamma=[[1.0, 0.2], [0.0, 1.5]], W=[[0.0, 0.4], [-0.5, 0.1]],
                C=[[1.0, 0.0], [0.3, 1.0]], sigma=[[0.5, 0.0], [0.2, 0.4]], b=[0.3, -0.2])


def _poly_inputs(times: np.ndarray) -> np.ndarray:
    """Two samples of a 2-channel input, time-major flattened: u_0 = a + r, u_1 = r²."""
    rows = []
    for a in (1.0, -0.5):
        u = np.stack([a + times, times**2], axis=1)  # (T, m=2)
        rows.append(u.reshape(-1))                     # X[b, i*m + k] = u_k(t_i)
    return np.array(rows)


@pytest.mark.parametrize("make", [lambda: ResponseFeatures(), lambda: SRNNFeatures()])
def test_one_time_step_is_refused(make):
    """One sample ``u(0)`` spans no time: ResponseFeatures returned all zeros."""
    X = np.random.default_rng(0).normal(size=(3, 1))
    with pytest.raises(InvalidInputError) as e:
        make().fit_transform(X)
    assert e.value.param == "X" and "at least 2" in str(e.value)

def test_reshape_convention_and_names_against_closed_forms():
    times = np.linspace(0.0, 1.0, 201)
    X = _poly_inputs(times)
    assert np.array_equal(reshape_sequences(X, 2)[0, :, 1], times**2)
    tr = ResponseFeatures(n_channels=2, depth=2, degree=1, t_max=1.0, output_steps=[100, -1])
    F = tr.fit_transform(X)
    names = list(tr.get_feature_names_out())
    assert len(names) == F.shape[1] == 2 * (4 + 16)
    col = {n: F[:, i] for i, n in enumerate(names)}
    for b, a in enumerate((1.0, -0.5)):
        for t in (0.5, 1.0):
            lab = f"@t={t:g}"
            # level 1: X^{(k,q)}(t) = ∫_0^t r^q u_k(r) dr (cubic interpolant: exact here)
            assert col["S[u0]" + lab][b] == pytest.approx(a * t + t**2 / 2, rel=1e-12)
            assert col["S[s*u0]" + lab][b] == pytest.approx(a * t**2 / 2 + t**3 / 3, rel=1e-12)
            assert col["S[u1]" + lab][b] == pytest.approx(t**3 / 3, rel=1e-12)
            assert col["S[s*u1]" + lab][b] == pytest.approx(t**4 / 4, rel=1e-12)
            # level 2, first letter earliest: ∫_{r1<r2<t} u_0(r1) r2 u_1(r2) = ∫ r2³ (a r2 + r2²/2)
            want = a * t**5 / 5 + t**6 / 12
            assert col["S[u0,s*u1]" + lab][b] == pytest.approx(want, rel=1e-5, abs=1e-8)
            # and the reverse order: ∫_{r1<r2<t} r1 u_1(r1) u_0(r2) = ∫ (a + r2) r2⁴/4
            want = a * t**5 / 20 + t**6 / 24
            assert col["S[s*u1,u0]" + lab][b] == pytest.approx(want, rel=1e-5, abs=1e-8)


def test_srnn_features_match_the_exact_series_of_a_linear_model(linear2):
    times = np.linspace(0.0, 0.8, 161)
    inputs = [lambda s, c=c: np.stack([np.sin(2 * np.asarray(s) + c),
                                       0.5 * np.cos(np.asarray(s) - c)], axis=-1)
              for c in (0.0, 1.0, -0.7)]
    X = np.stack([u(times).reshape(-1) for u in inputs])
    est = SRNNFeatures(linear2, order=1, taylor_degree=10, eps=0.7, t_max=0.8,
                       output_steps=[80, -1])
    phi = est.fit_transform(X).reshape(3, 2, linear2.n)
    for j, t in enumerate(est.output_times_):
        ref = series_features(linear2, inputs, t, 0.7, 1, method="exact")
        np.testing.assert_allclose(phi[:, j], ref, rtol=0, atol=1e-8)
    assert list(est.get_feature_names_out()) == ["h1@t=0.4", "h2@t=0.4", "h1@t=0.8", "h2@t=0.8"]


def test_srnn_features_per_order_match_the_spectral_series_within_the_bound():
    model = load_model("tanh1d")
    from volterra_sym.backends import spectral

    t_max, order, degree = 0.25, 3, 8
    times = np.linspace(0.0, t_max, 81)
    us = [lambda s, a=a: a * np.sin(9 * np.asarray(s) + a) for a in (1.5, -2.0)]
    X = np.stack([u(times) for u in us])
    est = SRNNFeatures(model, order=order, taylor_degree=degree, t_max=t_max, per_order=True)
    phi = est.fit_transform(X)  # (2, order): T_1..T_3 at t_max (eps = 1)
    F = hidden_unit_functionals(model, order, degree)[0]
    for b, u in enumerate(us):
        ref = spectral.series_terms(model, "h1", order, lambda s, u=u: np.atleast_1d(u(s)),
                                    [0.0, t_max], tol=1e-9)
        bound = F.error_bound(X[b], times)[1:, -1] + 1e-7  # + quadrature of the signature
        assert np.all(np.isfinite(bound))
        diff = np.abs(phi[b] - ref.terms[1:, -1])
        assert np.all(diff <= bound), (diff, bound)
        # informative for orders 1-2: the bound is far below the terms themselves
        assert np.all(bound[:2] < 1e-2 * np.abs(ref.terms[1:3, -1]))


def test_srnn_features_with_the_input_inside_the_activation():
    """tanh1d_inside (docs/theory.md §10): the features read the augmented input u, u² (the
    contact term of L^(2)); per order they match the spectral series with the contact terms
    within the functional's bound; an additive model keeps its plain layout."""
    from volterra_sym import ResponseHierarchy

    model = load_model("tanh1d_inside")
    t_max, order, degree = 0.2, 2, 8
    times = np.linspace(0.0, t_max, 81)
    us = [lambda s, a=a: a * np.sin(9 * np.asarray(s) + a) for a in (1.5, -2.0)]
    X = np.stack([u(times) for u in us])
    est = SRNNFeatures(model, order=order, taylor_degree=degree, t_max=t_max, per_order=True)
    phi = est.fit_transform(X)
    assert est.input_channels_ == ((0,), (0, 0)) and est.layout_.m == 2
    F = hidden_unit_functionals(model, order, degree)[0]
    H = ResponseHierarchy(model, "h1", order)
    for b, u in enumerate(us):
        ref = H.series_terms(lambda s, u=u: np.atleast_1d(u(s)), [0.0, t_max],
                             method="spectral")
        bound = F.error_bound(X[b], times)[1:, -1] + 1e-7  # + quadrature of the signature
        diff = np.abs(phi[b] - np.asarray(ref)[1:, -1])
        assert np.all(diff <= bound), (diff, bound)
        assert np.all(bound < 1e-2 * np.abs(np.asarray(ref)[1:, -1]))
    plain = SRNNFeatures(load_model("tanh1d"), order=order, taylor_degree=degree,
                         t_max=t_max).fit(X)
    assert plain.input_channels_ is None and plain.layout_.m == 1


def test_srnn_kernel_is_the_kernel_machine_gram_matrix(linear2):
    rng = np.random.default_rng(1)
    times = np.linspace(0.0, 0.8, 41)
    U = np.cumsum(rng.normal(scale=0.2, size=(7, times.size, 2)), axis=1)
    X = U.reshape(7, -1)
    kern = SRNNKernel(linear2, order=2, taylor_degree=6, eps=0.5, t_max=0.8).fit(X[:4])
    K = kern.transform(X)
    assert K.shape == (7, 4)
    funcs = hidden_unit_functionals(linear2, 2, 6)
    S, lay = signature_batch(U, times, 0.8, 2, 6)
    M = response_kernel_matrix(funcs, 0.8, 0.5, lay)
    np.testing.assert_allclose(K, feature_kernel(S, S[:4], M), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(kern.fit_transform(X[:4]), K[:4], rtol=1e-12)
    restored = pickle.loads(pickle.dumps(kern))
    np.testing.assert_array_equal(restored.transform(X), K)


def test_unfitted_and_bad_input_raise_typed_errors(linear2):
    X = np.zeros((3, 8))
    with pytest.raises(NotFittedError) as info:
        ResponseFeatures().transform(X)
    assert isinstance(info.value, InvalidInputError)
    assert isinstance(info.value, SklearnNotFittedError)
    bad = [
        (ResponseFeatures(depth=0), "depth"),
        (ResponseFeatures(degree=1.5), "degree"),
        (ResponseFeatures(t_max=-1.0), "t_max"),
        (ResponseFeatures(n_channels=3), "X"),             # 8 columns, not a multiple of 3
        (ResponseFeatures(output_steps=[8]), "output_steps"),
        (ResponseFeatures(output_steps=[3, 2]), "output_steps"),
        (SRNNFeatures(model=3.0), "model"),
        (SRNNFeatures(model=linear2), "X"),                # m = 2: 8 columns fine ...
        (SRNNFeatures(order=0), "order"),
        (SRNNFeatures(eps=float("nan")), "eps"),
        (SRNNKernel(per_order="yes"), "per_order"),
    ]
    for est, param in bad:
        data = X if param != "X" or est.__class__ is ResponseFeatures else np.zeros((3, 7))
        with pytest.raises(InvalidInputError) as info:
            clone(est).fit(data)
        assert info.value.param == param, (est, info.value)
    Xn = X.copy()
    Xn[1, 2] = np.nan
    with pytest.raises(InvalidInputError, match="NaN") as info:
        ResponseFeatures().fit(Xn)
    assert info.value.param == "X"
    with pytest.raises(InvalidInputTypeError):
        ResponseFeatures().fit(np.array([[1.0, {"a": 1}]], dtype=object))
    fitted = ResponseFeatures().fit(X)
    with pytest.raises(InvalidInputError, match="8 features"):
        fitted.transform(np.zeros((2, 6)))
    with pytest.raises(InvalidInputError, match="input_features should have length"):
        fitted.get_feature_names_out(["a", "b"])


_XS = np.random.default_rng(0).normal(size=(3, 11))


@pytest.mark.parametrize(("make", "param"), [
    # the Taylor backend's refusal named its own "degree"
    (lambda: SRNNFeatures(taylor_degree=10**9).fit(_XS), "taylor_degree"),
    (lambda: SRNNKernel(taylor_degree=10**30).fit(_XS), "taylor_degree"),
    # the signature's overflow named the inner sequences "u"
    (lambda: SRNNFeatures().fit(_XS).transform(_XS * 1e200), "X"),
    (lambda: SRNNKernel().fit(_XS * 1e300), "X"),
    (lambda: ResponseFeatures(depth=3).fit_transform(_XS * 1e200), "X"),
    # φ(X) φ(X_fit)ᵀ overflowed to inf, returned silently
    (lambda: SRNNKernel().fit_transform(_XS * 1e150), "X"),
    (lambda: SRNNKernel().fit(_XS * 1e70).transform(_XS * 1e90), "X"),
    # ε^N overflowed to inf: NaN/inf features
    (lambda: SRNNFeatures(eps=1e200).fit_transform(_XS), "eps"),
])
def test_errors_name_the_estimators_own_parameters(make, param):
    import warnings

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        with pytest.raises(InvalidInputError) as info:
            make()
    assert info.value.param == param, info.value
    assert param in str(info.value)


def test_taylor_chain_refusal_names_the_estimators_knobs_only():
    """SRNNFeatures on a 3-unit network at a high taylor_degree was refused with the kernel
    API's remedies ("degree=, --degree ... or use method='galerkin'"), none of which is a
    parameter of the estimator (features need the short-lag functional); the remedy is now
    its own taylor_degree and order, with their values."""
    from volterra_sym.errors import ResourceLimitError

    with pytest.raises(ResourceLimitError) as info:
        SRNNFeatures(model="tanh3", taylor_degree=16).fit(_XS)
    assert info.value.option == "lower taylor_degree (now 16) or order (now 2)"
    assert str(info.value).endswith(info.value.option) and "galerkin" not in str(info.value)
    assert info.value.unit == "raw terms" and info.value.estimate > info.value.budget


def test_srnn_resource_refusal_names_order_and_taylor_degree():
    from volterra_sym.errors import ResourceLimitError

    with pytest.raises(ResourceLimitError) as info:
        SRNNFeatures(refine=10**9).fit_transform(_XS)
    assert "taylor_degree" in info.value.option and "order" in info.value.option


def test_kernel_fit_does_not_build_the_training_kernel_and_transform_checks_its_memory(
        monkeypatch):
    """``SRNNKernel.fit`` built the ``(B_fit, B_fit)`` matrix only to test it for overflow
    (6.7 GiB at 30,000 inputs, numpy's MemoryError): it now checks the rows' squared norms,
    and ``transform`` refuses a kernel matrix beyond the memory budget before computing it."""
    from volterra_sym.errors import ResourceLimitError

    monkeypatch.setenv("VOLTERRA_MEMORY_BUDGET", "40M")
    X = np.random.default_rng(0).normal(size=(3000, 2))
    est = SRNNKernel(order=1, taylor_degree=2, t_max=0.1).fit(X)     # 72 MB as a matrix
    assert est.features_fit_.shape[0] == 3000
    with pytest.raises(ResourceLimitError, match="kernel matrix"):
        est.transform(X)
    K = est.transform(X[:100])                                       # 2.4 MB
    np.testing.assert_allclose(K, est.features_fit_[:100] @ est.features_fit_.T, rtol=1e-12)
    with pytest.raises(InvalidInputError, match="overflow"):
        SRNNKernel(order=1, taylor_degree=2, t_max=0.1).fit(np.full((2, 10), 1e200))


def test_feature_names_of_close_output_times_are_distinct():
    """Output times 1234567 and 1234568 were both named ``t=1.23457e+06`` (duplicate
    pandas columns); the labels take as many digits as keeps them apart."""
    est = ResponseFeatures(t_max=2e6, output_steps=[1234567, 1234568], refine=1, depth=1,
                           degree=0).fit(np.zeros((1, 2000001)))
    names = list(est.get_feature_names_out())
    assert names == ["S[u0]@t=1234567", "S[u0]@t=1234568"]
    assert "t=0.5" in " ".join(ResponseFeatures(t_max=1.0, output_steps=[5], depth=1, degree=0)
                               .fit(np.zeros((1, 11))).get_feature_names_out())


def test_a_high_order_is_refused_naming_order_and_taylor_degree():
    """``order=50`` needs 3.25e7 Taylor coefficients per kernel: the refusal named only the
    kernel API's ``degree=, --degree`` (so a user lowered ``taylor_degree`` and met the next
    refusal); it names the estimator's ``taylor_degree`` and ``order``."""
    from volterra_sym.errors import ResourceLimitError

    X = np.random.default_rng(0).normal(size=(3, 26))
    with pytest.raises(ResourceLimitError, match=r"lower taylor_degree \(now 6\) or order "
                                                 r"\(now 50\)"):
        SRNNFeatures(order=50).fit(X)


def test_srnn_features_warn_outside_the_radius_of_the_eps_series():
    """The features are partial sums of the ε-series: where ε is at or beyond its
    estimated radius (ratio test within each parity class, as ``diagnose_series``) for
    some input, transform warns (ConvergenceWarning) naming how many inputs; inputs 1,000
    times larger than the default scale are there (radius 0.28–0.95 at ε = 1), unit-size
    ones are not (radius ≥ 284). ``eps = 0`` warns that every feature is ``<h_i>_0``.
    Before, all three were silent."""
    import warnings

    from volterra_sym.hierarchy.convergence import ConvergenceWarning

    X = np.random.default_rng(0).standard_normal((5, 26))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SRNNFeatures(order=3).fit_transform(X)
    with pytest.warns(ConvergenceWarning, match=r"for 5 of 5 inputs"):
        SRNNFeatures(order=3).fit_transform(1000 * X)
    with pytest.warns(UserWarning, match="eps = 0"):
        SRNNFeatures(order=3, eps=0.0).fit_transform(X)


def test_taylor_degree_below_three_warns_that_nothing_is_estimated():
    """At taylor_degree 2 the kernels' Taylor series have no radius or error estimate
    (docs/theory.md §6): the warning says so and names taylor_degree ≥ 3 — it said the
    output time was "beyond the estimated radius 0"."""
    from volterra_sym.backends.taylor import TaylorAccuracyWarning

    X = np.random.default_rng(0).standard_normal((3, 26))
    with pytest.warns(TaylorAccuracyWarning, match=r"no radius or error estimate.*"
                                                   r"taylor_degree ≥ 3"):
        SRNNFeatures(order=1, taylor_degree=2).fit(X)
