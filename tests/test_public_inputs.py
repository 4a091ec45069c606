"""Bad input to the public API (montecarlo, features, verify) gets an
:class:`InvalidInputError` naming the parameter — found by fuzzing the exported functions
with NaN, inf, strings, None, complex numbers, wrong shapes and non-models; each case
below raised a bare ``AttributeError``/``TypeError``/``ValueError`` (or returned NaN)
before its fix."""
from __future__ import annotations

import numpy as np
import pytest

import volterra_sym.montecarlo as M
from volterra_sym import load_model
from volterra_sym.errors import InvalidInputError


@pytest.fixture(scope="module")
def tanh1():
    return load_model("tanh1d")


def _u(t):
    return np.array([np.sin(2 * t)])


# ------------------------------------------------------------------ model is not an SRNN
MODEL_CALLS = {
    "simulate": lambda m: M.simulate(m, [0.5], n_paths=10, dt=0.05),
    "response": lambda m: M.response(m, _u, 0.1, [0.5], n_paths=10, dt=0.05),
    "first_order_kernel": lambda m: M.first_order_kernel(m, [0.5], n_paths=10, dt=0.05),
    "second_order_kernel": lambda m: M.second_order_kernel(m, [[0.5, 0.5]], n_paths=10,
                                                           dt=0.05),
    "crn_responses": lambda m: M.crn_responses(m, _u, [0.1], [0.5], n_paths=10, dt=0.05),
    "kick_kernel": lambda m: M.kick_kernel(m, [0.5], n_paths=10, dt=0.05),
    "stationary_sampler": M.stationary_sampler,
    "burn_in_sampler": M.burn_in_sampler,
    "ou_stationary": M.ou_stationary,
    "one_dim_density": M.one_dim_density,
    "compile_observable": lambda m: M.compile_observable(m, "h1"),
}


@pytest.mark.parametrize("model", ["tanh1d", None, 3])
@pytest.mark.parametrize("name", sorted(MODEL_CALLS))
def test_montecarlo_model_not_an_srnn(name, model):
    with pytest.raises(InvalidInputError) as e:
        MODEL_CALLS[name](model)
    assert e.value.param == "model"



@pytest.mark.parametrize("u", [None, 3.0, "sin(t)"])
@pytest.mark.parametrize("call", ["response", "crn_responses"])
def test_a_response_needs_an_input(tanh1, call, u):
    """``u=None`` returned zeros with zero standard errors (the response to ``ε·0``)."""
    run = {"response": lambda: M.response(tanh1, u, 0.1, [0.5, 1.0], n_paths=10, dt=0.05),
           "crn_responses": lambda: M.crn_responses(tanh1, u, [0.1], [0.5], n_paths=10,
                                                    dt=0.05)}[call]
    with pytest.raises(InvalidInputError) as e:
        run()
    assert e.value.param == "u"


def test_a_misspelt_initial_names_initial(tanh1):
    """It named ``method``, a parameter the caller never passed."""
    with pytest.raises(InvalidInputError) as e:
        M.simulate(tanh1, [0.5], n_paths=10, dt=0.05, initial="stationry")
    assert e.value.param == "initial" and "'stationry'" in str(e.value)

# ------------------------------------------------------------ a caller's conjugate variable
BAD_CONJUGATES = {
    "text": "abc",
    "number": 3,
    "nan": lambda x: np.full(np.shape(x)[:-1] + (1,), np.nan),
    "wrong_shape": lambda x: np.zeros(3),
}


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("bad", sorted(BAD_CONJUGATES))
def test_kernel_conjugate_refused(tanh1, order, bad):
    lags = [0.0, 0.1] if order == 1 else [[0.0, 0.0]]
    run = M.first_order_kernel if order == 1 else M.second_order_kernel
    with pytest.raises(InvalidInputError) as e:
        run(tanh1, lags, conjugate=BAD_CONJUGATES[bad], n_paths=20, dt=0.05, seed=1,
            estimate_bias=False)
    assert e.value.param == "conjugate"


@pytest.mark.parametrize("bad", ["abc", 3])
def test_second_conjugate_variables_v_refused(tanh1, bad):
    with pytest.raises(InvalidInputError) as e:
        M.second_conjugate_variables(tanh1, bad)
    assert e.value.param == "v"


# ------------------------------------------------------- CRN combinations and parity parts
@pytest.mark.parametrize("combine", ["a", 1j, [["a", 1.0]], np.zeros((0, 2))])
def test_crn_responses_combine_refused(tanh1, combine):
    with pytest.raises(InvalidInputError) as e:
        M.crn_responses(tanh1, _u, [0.1, 0.2], [0.5], n_paths=10, dt=0.05, combine=combine)
    assert e.value.param == "combine"


@pytest.mark.parametrize("n_eps", [0, -1, 1.5, np.nan, np.inf, "3", True, 1j, None, [1, 2]])
def test_parity_matrix_n_eps_refused(n_eps):
    with pytest.raises(InvalidInputError) as e:
        M.parity_matrix(n_eps)
    assert e.value.param == "n_eps"


def test_parity_matrix_too_large_refused():
    from volterra_sym.errors import ResourceLimitError
    with pytest.raises(ResourceLimitError):
        M.parity_matrix(10**9)


@pytest.mark.parametrize("mc", ["abc", None, 3])
def test_parity_parts_mc_refused(mc):
    with pytest.raises(InvalidInputError) as e:
        M.parity_parts(mc, [0.1])
    assert e.value.param == "mc"


@pytest.fixture(scope="module")
def parity_mc(tanh1):
    return M.crn_responses(tanh1, _u, [0.1, -0.1], [0.5], n_paths=10, dt=0.05, seed=1,
                           combine=M.parity_matrix(1))


@pytest.mark.parametrize("eps", ["a", [1j], [np.nan], [], None])
def test_parity_parts_eps_refused(parity_mc, eps):
    with pytest.raises(InvalidInputError) as e:
        M.parity_parts(parity_mc, eps)
    assert e.value.param == "eps"


# ------------------------------------------------------------------------------ run_paths
RUN_PATHS_BAD = [
    ("eps", []),
    ("coupled", "no"), ("coupled", None), ("coupled", 2.0),
    ("prefetch_noise", "no"), ("prefetch_noise", np.nan),
    ("input_delay", -1), ("input_delay", np.nan), ("input_delay", np.inf),
    ("input_delay", None), ("input_delay", 1j), ("input_delay", 1.5), ("input_delay", "10"),
    ("input_delay", True), ("input_delay", [1, 2]),
    ("hook", "abc"), ("hook", 3),
    ("companion", "abc"), ("companion", 3),
    ("B", np.nan), ("B", "a"), ("B", 1j), ("B", [[np.nan]]), ("B", np.zeros((5, 5))),
]


@pytest.mark.parametrize("param, value", RUN_PATHS_BAD)
def test_run_paths_refused(tanh1, param, value):
    kw = dict(n_paths=10, dt=0.05, n_steps=3, seed=1, u=_u, eps=(0.0, 0.1))
    kw[param] = value
    with pytest.raises(InvalidInputError) as e:
        M.run_paths(tanh1, **kw)
    assert e.value.param == param


@pytest.mark.parametrize("tol", ["0.1", 1j, None, [0.1, 0.2], np.nan, np.inf, -1.0, True])
def test_girsanov_matrix_tol_refused(tanh1, tol):
    with pytest.raises(InvalidInputError) as e:
        M.girsanov_matrix(tanh1, tol=tol)
    assert e.value.param == "tol"


# ------------------------------------------------- samplers, time-step check, chunk map
def _gauss(x):
    return np.exp(-x * x)


@pytest.mark.parametrize("param, value", [
    ("lo", "a"), ("lo", 1j), ("lo", None), ("hi", "a"), ("hi", 1j), ("hi", None),
    ("pdf", "abc"), ("pdf", lambda x: np.array(["a"] * len(x))),
])
def test_inverse_cdf_sampler_refused(param, value):
    kw = dict(pdf=_gauss, lo=-5.0, hi=5.0)
    kw[param] = value
    with pytest.raises(InvalidInputError) as e:
        M.inverse_cdf_sampler(**kw)
    assert e.value.param == param


@pytest.mark.parametrize("p", [None, "abc", {}, 3])
def test_check_time_step_p_refused(tanh1, p):
    with pytest.raises(InvalidInputError) as e:
        M.check_time_step(tanh1, p, 0.05, "euler")
    assert e.value.param == "p"


@pytest.mark.parametrize("n_chunks", [-1, 1.5, np.nan, np.inf, "10", True, 1j, None, [1, 2],
                                      np.float64(3.0)])
def test_map_chunks_n_chunks_refused(tanh1, n_chunks):
    job = M.PathJob(tanh1, n_paths=10, dt=0.05, n_steps=2, seed=1)
    with pytest.raises(InvalidInputError) as e:
        M.map_chunks(job, n_chunks)
    assert e.value.param == "n_chunks"


@pytest.mark.parametrize("job", [None, "abc"])
def test_map_chunks_job_refused(job):
    with pytest.raises(InvalidInputError) as e:
        M.map_chunks(job, 1)
    assert e.value.param == "job"


@pytest.mark.parametrize("x", ["a", 1j, None, [[0.0, "a"]]])
def test_compiled_observable_refuses_non_states(tanh1, x):
    f = M.compile_observable(tanh1, "h1")
    with pytest.raises(InvalidInputError) as e:
        f(x)
    assert e.value.param == "x"


# ------------------------------------------------------------------ features: augmented input
import volterra_sym.features as F  # noqa: E402


@pytest.mark.parametrize("channels", ["a", [("a",)], None, [(1.5,)], 3])
def test_augment_input_channels_refused(channels):
    with pytest.raises(InvalidInputError) as e:
        F.augment_input(_u, channels)
    assert e.value.param == "channels"


@pytest.mark.parametrize("channels", ["a", [("a",)]])
def test_signature_batch_channels_refused(channels):
    with pytest.raises(InvalidInputError) as e:
        F.signature_batch([_u], np.linspace(0, 1, 11), 1.0, 2, 1, channels=channels)
    assert e.value.param == "channels"


@pytest.mark.parametrize("u", [lambda t: np.nan, lambda t: np.array([np.inf]),
                               lambda t: np.zeros((1, 2)), np.full((10, 1), np.nan)])
def test_augment_input_u_refused(u):
    with pytest.raises(InvalidInputError) as e:
        out = F.augment_input(u, [(0,), (0, 0)])
        out(0.3) if callable(out) else out
    assert e.value.param == "u"


# --------------------------------------------------------------- features: SRNN features
@pytest.fixture(scope="module")
def functional():
    return F.functional_from_coefficients({(0,): {(0,): 1.0}}, m=1, degree=1, order=1)


UNIT_VECTOR_BAD = [
    ("functionals", "abc"), ("functionals", ["abc"]), ("functionals", [None]),
    ("layout", "abc"), ("layout", 3),
    ("t", -1.0), ("t", [0.1, 0.2]), ("t", np.array([0.1])),
    ("eps", None),
    ("per_order", "no"), ("per_order", None), ("per_order", 2.0),
]


@pytest.mark.parametrize("name", ["unit_vectors", "response_kernel_matrix"])
@pytest.mark.parametrize("param, value", UNIT_VECTOR_BAD)
def test_unit_vectors_refused(functional, name, param, value):
    kw = dict(functionals=[functional], t=1.0, eps=0.5)
    kw[param] = value
    with pytest.raises(InvalidInputError) as e:
        getattr(F, name)(**kw)
    assert e.value.param == param


@pytest.mark.parametrize("param, value", [("t", -1.0), ("eps", None)])
def test_srnn_features_refused(functional, param, value):
    kw = dict(functionals=[functional], S=np.ones((2, functional.layout.size)), t=1.0, eps=0.5)
    kw[param] = value
    with pytest.raises(InvalidInputError) as e:
        F.srnn_features(**kw)
    assert e.value.param == param


SERIES_FEATURES_BAD = [
    ("model", "tanh1d"), ("model", None),
    ("inputs", None), ("inputs", "abc"), ("inputs", [None]),
    ("t", "0.1"), ("t", 1j), ("t", None), ("t", [0.1, 0.2]), ("t", np.array([0.1])),
    ("t", -1.0), ("t", np.nan), ("t", -np.inf), ("t", True),
    ("eps", np.nan), ("eps", np.inf), ("eps", "a"), ("eps", 1j), ("eps", None), ("eps", True),
    ("observables", 3), ("observables", "h1"),
]


@pytest.mark.parametrize("param, value", SERIES_FEATURES_BAD)
def test_series_features_refused(tanh1, param, value):
    kw = dict(model=tanh1, inputs=[_u], t=0.5, eps=0.1, order=1)
    kw[param] = value
    with pytest.raises(InvalidInputError) as e:
        F.series_features(**kw)
    assert e.value.param == param


@pytest.mark.parametrize("model", ["tanh1d", None])
def test_hidden_unit_functionals_model_refused(model):
    with pytest.raises(InvalidInputError) as e:
        F.hidden_unit_functionals(model, 1, 1)
    assert e.value.param == "model"


# ------------------------------------------------------------- features: functionals
@pytest.mark.parametrize("kicks", [None, [3], "a", [["a"]], [[1.5]], [[-1]], [[True]]])
def test_kick_multiplicity_refused(kicks):
    with pytest.raises(InvalidInputError) as e:
        F.kick_multiplicity(kicks)
    assert e.value.param == "kicks"


@pytest.mark.parametrize("hier", ["abc", None, 3])
def test_response_functional_hier_refused(hier):
    with pytest.raises(InvalidInputError) as e:
        F.response_functional(hier, 1)
    assert e.value.param == "hier"


@pytest.mark.parametrize("functional", ["abc", None])
def test_response_functional_latex_refused(functional):
    with pytest.raises(InvalidInputError) as e:
        F.response_functional_latex(functional)
    assert e.value.param == "functional"


@pytest.mark.parametrize("order", [0, -1, 1.5, np.nan, "10", True, 1j, None, [1, 2]])
def test_functional_channels_order_refused(tanh1, order):
    with pytest.raises(InvalidInputError) as e:
        F.functional_channels(tanh1, order)
    assert e.value.param == "order"


# ------------------------------------------------------------------------------- verify
import volterra_sym.verify as V  # noqa: E402


@pytest.mark.parametrize("param, value", [
    ("quick", "yes"), ("quick", None), ("quick", 1), ("quick", np.nan),
    ("n", 0), ("n", -1), ("n", 1.5), ("n", np.nan), ("n", np.inf), ("n", "abc"), ("n", True),
    ("n", 1j), ("n", None), ("n", [1, 2]),
])
def test_settings_for_refused(param, value):
    kw = dict(quick=True, seed=1, n=1)
    kw[param] = value
    with pytest.raises(InvalidInputError) as e:
        V.settings_for(**kw)
    assert e.value.param == param


@pytest.mark.parametrize("param, value", [("r", [True, True]), ("se", [True, True])])
def test_fit_slope_refused(param, value):
    kw = dict(eps=[0.1, 0.2], r=[0.01, 0.04], se=[0.001, 0.001])
    kw[param] = value
    with pytest.raises(InvalidInputError) as e:
        V.fit_slope(**kw)
    assert e.value.param == param


@pytest.fixture(scope="module")
def linear2():
    return load_model("linear2d")


@pytest.mark.parametrize("param, value", [
    ("times", "abc"), ("times", [0.1, "a"]), ("times", [1 + 1j]), ("times", 0.1j),
    ("engine_terms", "a"), ("engine_terms", 1j),
    ("mc", "abc"), ("mc", 3),
    ("model", "tanh1d"), ("model", None),
    ("levels", 1), ("levels", 4), ("levels", "3"), ("levels", True),
])
def test_series_residuals_refused(linear2, param, value):
    kw = dict(model=linear2, observable="h1", order=1, eps=[0.1, 0.2], times=[0.5],
              n_paths=10, dt=0.05, seed=1)
    kw[param] = value
    with pytest.raises(InvalidInputError) as e:
        V.series_residuals(**kw)
    assert e.value.param == param


@pytest.mark.parametrize("param, value", [
    ("model", "tanh1d"), ("model", None), ("model", 3),
    ("out", None), ("out", 3), ("out", b"x"), ("out", 1j), ("out", ""),
    ("quick", "yes"), ("quick", None),
    ("print_table", "no"), ("print_table", None), ("figures", "no"), ("figures", 2),
    ("progress", "no"), ("progress", 2),
])
def test_verify_model_refused(tanh1, tmp_path, monkeypatch, param, value):
    monkeypatch.chdir(tmp_path)
    kw = dict(model=tanh1, order=1, out=str(tmp_path / "v"), seed=1, quick=True,
              print_table=False, figures=False, progress=False)
    kw[param] = value
    with pytest.raises(InvalidInputError) as e:
        V.verify_model(**kw)
    assert e.value.param == param
    assert not list(tmp_path.iterdir())          # nothing written


# ------------------------------------------------------------ progress is a bool or None
PROGRESS_CALLS = {
    "simulate": lambda m, p: M.simulate(m, [0.5], n_paths=10, dt=0.05, progress=p),
    "response": lambda m, p: M.response(m, _u, 0.1, [0.5], n_paths=10, dt=0.05, progress=p),
    "first_order_kernel": lambda m, p: M.first_order_kernel(m, [0.5], n_paths=10, dt=0.05,
                                                            progress=p),
    "crn_responses": lambda m, p: M.crn_responses(m, _u, [0.1], [0.5], n_paths=10, dt=0.05,
                                                  progress=p),
    "kick_kernel": lambda m, p: M.kick_kernel(m, [0.5], n_paths=10, dt=0.05, progress=p),
}


@pytest.mark.parametrize("progress", ["yes", 2, np.nan])
@pytest.mark.parametrize("name", sorted(PROGRESS_CALLS))
def test_montecarlo_progress_refused(tanh1, name, progress):
    with pytest.raises(InvalidInputError) as e:
        PROGRESS_CALLS[name](tanh1, progress)
    assert e.value.param == "progress"


# ------------------------------------------- an observable undefined at finite states
@pytest.mark.parametrize("observable", ["sqrt(-1 - h1**2)",
                                        lambda x: np.full(np.shape(x)[:-1], np.nan),
                                        lambda x: np.full(np.shape(x)[:-1], "a")])
@pytest.mark.parametrize("name", ["simulate", "response", "crn_responses"])
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_montecarlo_observable_not_finite_refused(tanh1, name, observable):
    kw = dict(n_paths=10, dt=0.05, seed=1, observable=observable)
    with pytest.raises(InvalidInputError) as e:
        if name == "simulate":
            M.simulate(tanh1, [0.5], **kw)
        elif name == "response":
            M.response(tanh1, _u, 0.1, [0.5], **kw)
        else:
            M.crn_responses(tanh1, _u, [0.1], [0.5], **kw)
    assert e.value.param == "observable"


@pytest.mark.parametrize("with_terms, value", [
    (False, np.zeros((2, 1))), (False, "a"), (True, np.full((2, 1), np.nan)),
    (True, [[True], [False]]),
])
def test_series_residuals_engine_terms_error_refused(linear2, with_terms, value):
    kw = dict(eps=[0.1, 0.2], times=[0.5], n_paths=10, dt=0.05, seed=1,
              engine_terms_error=value)
    if with_terms:
        kw["engine_terms"] = np.array([[0.3], [0.2]])
    with pytest.raises(InvalidInputError) as e:
        V.series_residuals(linear2, "h1", 1, **kw)
    assert e.value.param == "engine_terms_error"


def test_close_lags_are_printed_as_numbers(tanh1):
    """The refusal printed ``(np.float64(0.2), np.float64(0.205))``."""
    with pytest.raises(InvalidInputError, match=r"lags \(0\.2, 0\.205\): the two lags") as e:
        M.second_order_kernel(tanh1, [[0.2, 0.205]], n_paths=200, dt=0.005, window=0.01)
    assert e.value.param == "lags"
