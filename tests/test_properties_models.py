"""Property-based tests (hypothesis): hostile matrices into ``SRNN`` and then into a kernel,
hostile lags into ``ResponseKernel.evaluate``.

Property of every target: the call returns a correct, finite, real number (checked against
an independent route: the closed form ``e1ᵀ exp(-Aσ) C e_0`` for linear models, the exact
value ``K(0) = C_{10}`` for ``f = h1`` otherwise) or raises the project's
:class:`~volterra_sym.errors.VolterraSymError`; never another exception, never a non-finite
or complex value.

The default profile (``ci``, registered in ``tests/conftest.py``) runs 200 derandomized
examples per target (reproducible in CI); the nightly profile runs 2,000 random ones::

    HYPOTHESIS_PROFILE=nightly python -m pytest -q tests/test_properties_models.py \
        tests/test_properties_parsing.py

Kernel evaluation builds and verifies the stationary density symbolically (0.2 s for
n = 1, about 1 s for a linear n = 2 model and 5 s for a nonlinear n = 2 model on a shared
2-core machine), so the generator evaluates kernels of n = 1 models of every activation and
of linear n = 2 models only; every shape (n = 0 … 3, non-square, ragged) still goes
through ``SRNN(...)``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.linalg

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import event, given, note, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from volterra_sym import SRNN  # noqa: E402
from volterra_sym.backends import get_backend  # noqa: E402
from volterra_sym.errors import VolterraSymError  # noqa: E402
from volterra_sym.hierarchy import ResponseHierarchy  # noqa: E402

# ---------------------------------------------------------------------- known bugs
# Bugs outside this test's room, narrowed out of the generators (listed in the issue-11
# report of the `harden` branch; remove the narrowing when they are fixed):
#
# (1. σ ≳ 1.3e154 overflowing D, 2. spectral's 0 ± inf for D ≈ 1e-289 and 4. integers beyond
#  the float range are fixed: check_stability refuses non-finite numeric parameters and
#  kernels refuse non-finite error estimates; their narrowings are gone. Bug 2's narrowing
#  of spectral to D ≥ 1e-12 stays: not re-measured for D < 1e-12.)
# 3. spectral under-reports its error for nearly unstable models: Γ = 1.0001, W = 1 (A = 1e-4)
#    gives K(0) = 1.40000004 ± 7.2e-9 where the exact value is C = 1.4 (error 4.5e-8).
#    -> spectral is not asked for models with Re λ_min(A) < 1e-3.
SPECTRAL_MIN_D = 1e-12
SPECTRAL_MIN_RATE = 1e-3

# ---------------------------------------------------------------------- entries
#: Hostile scalars: NaN, ±inf, complex, huge and tiny, integers beyond the float range,
#: booleans, None, strings (numbers, expressions, junk).
HOSTILE_SCALARS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.complex_numbers(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -0.0, 1e-13, -1e-13, 1e308, -1e308, 5e-324,
                     True, None, "1e400", "10**400", "nan", "inf", "sqrt(-1)", "gamma", "h1", "",
                     "__import__('os')", [1], {}]),
    st.integers(min_value=-(10**400), max_value=10**400),
)
#: Ordinary entries: small decimals (symbolic checks stay quick with short rationals).
NICE = st.decimals(min_value=-3, max_value=3, places=2, allow_nan=False,
                   allow_infinity=False).map(float)


def matrix(rows: int, cols: int, entries=NICE):
    return st.lists(st.lists(entries, min_size=cols, max_size=cols), min_size=rows,
                    max_size=rows)


def maybe_hostile(rows: int, cols: int):
    """A ``rows × cols`` matrix of nice entries, sometimes with one hostile entry, a
    wrong shape, a ragged row, a numpy array, or a scalar."""
    return st.one_of(
        matrix(rows, cols),
        matrix(rows, cols).flatmap(lambda m: st.tuples(
            st.just(m), st.integers(0, max(rows * cols - 1, 0)), HOSTILE_SCALARS)).map(
            _poke),
        st.tuples(st.integers(0, 3), st.integers(0, 3)).flatmap(lambda rc: matrix(*rc)),
        matrix(rows, cols).map(lambda m: m[:-1] + [m[-1] + [0.5]] if m else [[1.0], []]),
        matrix(rows, cols).map(lambda m: np.asarray(m, dtype=float)),
        HOSTILE_SCALARS,
    )


def _poke(args):
    m, k, value = args
    if not m or not m[0]:
        return [[value]]
    m = [list(r) for r in m]
    m[k // len(m[0])][k % len(m[0])] = value
    return m


@st.composite
def model_specs(draw):
    """Keyword arguments of ``SRNN``: n = 1 (any activation) or 2 (linear) in the main,
    plus stable / nearly unstable / unstable / singular-noise structure and hostile parts."""
    n = draw(st.sampled_from([1] * 8 + [2, 0, 3]))
    act = draw(st.sampled_from(["linear", "tanh", "sigmoid", "softplus"]) if n == 1
               else st.just("linear"))
    m = draw(st.integers(1, 2))
    kind = draw(st.sampled_from(["stable", "nearly_unstable", "unstable", "singular_noise",
                                 "hostile"]))
    W = draw(matrix(n, n))
    leak = draw(st.lists(st.decimals(min_value="0.5", max_value="3", places=2).map(float),
                         min_size=n, max_size=n))
    Gamma = [[(leak[i] + sum(abs(x) for x in W[i]) if i == j else 0.0) for j in range(n)]
             for i in range(n)]  # diagonally dominant: Γ - W and Γ are stable
    sigma = [[(0.5 if i == j else 0.0) for j in range(n)] for i in range(n)]
    C = draw(matrix(n, m))
    b = draw(st.lists(NICE, min_size=n, max_size=n))
    if kind == "nearly_unstable" and n:
        # Γ = W + tiny·I: the smallest eigenvalue of A = Γ - W is tiny (linear models)
        tiny = draw(st.sampled_from([1e-13, 1e-11, 1e-8, 1e-4]))
        Gamma = [[W[i][j] + (tiny if i == j else 0.0) for j in range(n)] for i in range(n)]
    elif kind == "unstable" and n:
        Gamma = [[W[i][j] - (0.5 if i == j else 0.0) for j in range(n)] for i in range(n)]
    elif kind == "singular_noise" and n:
        sigma = [[draw(st.sampled_from([0.0, 0.0, 1e-300, 0.5])) if i == 0 else 0.0
                  for _ in range(n)] for i in range(n)]
    elif kind == "hostile":
        part = draw(st.sampled_from(["Gamma", "W", "C", "sigma", "b"]))
        shapes = {"Gamma": (n, n), "W": (n, n), "C": (n, m), "sigma": (n, n), "b": (n, 1)}
        bad = draw(maybe_hostile(*shapes[part]))
        Gamma, W, C, sigma, b = [bad if part == p else v for p, v in
                                 zip(["Gamma", "W", "C", "sigma", "b"],
                                     [Gamma, W, C, sigma, b], strict=True)]
    return {"Gamma": Gamma, "W": W, "C": C, "sigma": sigma, "b": b, "activation": act}


LAGS = st.lists(st.sampled_from([0.0, 0.1, 0.5, 1.0, 2.5, 7.0]), min_size=1, max_size=4)


def build(spec):
    """``SRNN(**spec)`` or ``None`` if refused with the project's error."""
    try:
        return SRNN(spec["Gamma"], spec["W"], spec["C"], spec["sigma"], spec["b"],
                    spec["activation"])
    except VolterraSymError as exc:
        note(f"refused: {exc}")
        event(f"model refused: {type(exc).__name__}")
        return None


def applicable_methods(model, f):
    """The backends that apply, less the ones that take seconds per model (Taylor on a
    nonlinear model: quadrature chains, 2-5 s; spectral for n = 2: a grid solve, ~5 s)."""
    slow = {"taylor"} if not model.is_linear else set()
    if model.n == 2:
        slow.add("spectral")
    p = model.numpy_params()
    if (np.linalg.eigvalsh(p["D"]).min() < SPECTRAL_MIN_D      # known bug 2
            or (model.is_linear
                and np.linalg.eigvals(p["Gamma"] - p["W"]).real.min() < SPECTRAL_MIN_RATE)):
        slow.add("spectral")                                   # known bug 3
    return [name for name in ("exact", "spectral", "taylor")
            if name not in slow and get_backend(name).applies(model, f) is None]


def reference(model, lags):
    """An independent value of ``K_0(σ)`` for ``f = h1``: the closed form for linear
    models, ``None`` (only ``K(0) = C_10`` is known) otherwise."""
    p = model.numpy_params()
    if model.is_linear:
        A = p["Gamma"] - p["W"]
        return np.array([scipy.linalg.expm(-A * s)[0] @ p["C"][:, 0] for s in lags])
    return None


# ---------------------------------------------------------------------- properties
@given(spec=model_specs(), data=st.data())
def test_hostile_matrices_give_a_model_and_kernel_or_the_projects_error(spec, data):
    note(repr(spec))
    model = build(spec)
    if model is None:
        return
    if not model.is_numeric:  # a symbolic entry ("gamma"): a symbolic model
        assert model.parameters
        event("symbolic model")
        return
    # an accepted numeric model has finite real parameters and passed its stability check
    p = model.numpy_params()
    for key, value in p.items():
        assert np.isrealobj(value) and np.all(np.isfinite(value)), key
    if model.is_linear:
        assert np.linalg.eigvals(p["Gamma"] - p["W"]).real.min() > 0
    assert np.any(p["D"])
    if model.n > 2 or (model.n == 2 and not model.is_linear):
        return  # kernels of these cost seconds each (see the module docstring)
    hier = ResponseHierarchy(model, "h1", 1)
    f = hier.f
    # where every backend is narrowed out (tiny noise of a nonlinear model), 'auto' must
    # still give K(0) = C or the project's error
    methods = applicable_methods(model, f) or ["auto"]
    method = data.draw(st.sampled_from(methods), label="method")
    lags = data.draw(LAGS, label="lags")
    ref = reference(model, lags)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vals, errs = hier.kernel(0).evaluate(lags, method=method, return_error=True)
    except VolterraSymError as exc:
        note(f"{method}: refused: {exc}")
        event(f"kernel refused by {method}: {type(exc).__name__}")
        return
    event(f"kernel computed by {method}" + (" (checked against expm)" if ref is not None
                                            else " (checked at σ = 0)"))
    vals, errs = np.asarray(vals).reshape(-1), np.asarray(errs).reshape(-1)
    note(f"{method}: {vals} ± {errs}")
    assert vals.dtype.kind == "f" and errs.dtype.kind == "f"
    assert np.all(np.isfinite(vals)) and np.all(np.isfinite(errs)) and np.all(errs >= 0)
    c10 = p["C"][0, 0]
    # K(0) = E_p0[C ∂_1 h1] = C_10 exactly, for every model
    at0 = np.asarray(lags).reshape(-1) == 0
    assert np.all(np.abs(vals[at0] - c10) <= 1e-8 * max(1.0, abs(c10)) + 4 * errs[at0])
    if ref is not None:
        scale = np.abs(ref).max() + abs(c10) + 1e-300
        assert np.all(np.abs(vals - ref) <= 1e-8 * scale + 4 * errs), (vals, ref)


#: Hostile lag arguments: NaN, inf, negative, complex, huge, strings, None, odd shapes.
HOSTILE_LAGS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=5),
    st.complex_numbers(allow_nan=True, allow_infinity=True),
    st.lists(st.complex_numbers(max_magnitude=10), min_size=1, max_size=3),
    st.lists(st.lists(st.floats(0, 10), min_size=0, max_size=3), max_size=3),
    st.sampled_from([None, "1", "a", [], [[]], [None], ["0.5"], {}, 1e308, 1e300, -0.0,
                     10**400, True, [True, False], np.array([1.0, np.nan]),
                     np.array([1 + 0j]), np.array([0.5], dtype=np.float16),
                     np.zeros((2, 0)), np.zeros((0,)), np.ones((2, 2, 1)), object()]),
)


@pytest.fixture(scope="module")
def linear1d():
    model = SRNN([[2.0]], [[0.5]], [[1.5]], [[0.5]], [0.25])
    kernel = ResponseHierarchy(model, "h1", 1).kernel(0)
    kernel.evaluate([0.0])  # build the caches once
    return model, kernel


@given(lags=HOSTILE_LAGS)
def test_hostile_lags_give_the_closed_form_or_the_projects_error(linear1d, lags):
    model, kernel = linear1d
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # exp(-1.5 σ) underflows to 0 for huge σ: fine
            warnings.simplefilter("error", np.exceptions.ComplexWarning)  # a silent cut
            vals = kernel.evaluate(lags, method="exact")
    except VolterraSymError as exc:
        note(f"refused: {exc}")
        event(f"refused: {type(exc).__name__}")
        return
    event("computed")
    vals = np.asarray(vals)
    arr = np.asarray(lags, dtype=float)
    assert vals.dtype.kind == "f" and np.all(np.isfinite(vals))
    assert np.all(arr >= 0) and np.all(np.isfinite(arr))
    # K(σ) = C exp(-(Γ - W) σ) = 1.5 exp(-1.5 σ); -1.5 σ overflows to -inf for σ near the
    # float maximum, where exp gives the right limit 0
    with np.errstate(over="ignore"):
        expected = 1.5 * np.exp(-1.5 * arr)
    assert vals.shape == expected.reshape(vals.shape).shape
    assert np.allclose(vals, expected.reshape(vals.shape), rtol=1e-12, atol=0)


def test_reference_closed_form_is_right():
    """The oracle itself: K(σ) of a 1-d linear model is C e^{-(Γ-W)σ}."""
    model = SRNN([[2.0]], [[0.5]], [[1.5]], [[0.5]], [0.25])
    assert reference(model, [0.0, 1.0]) == pytest.approx([1.5, 1.5 * math.exp(-1.5)])


HOSTILE_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 1e300, -1.0, 5e-324, 1e4, 1e4 + 1]),
    st.complex_numbers(max_magnitude=10), st.sampled_from([None, "1", [], True]))
HOSTILE_TIMES = st.one_of(
    st.lists(st.floats(min_value=-1, max_value=20, allow_nan=False), min_size=1, max_size=5)
    .map(sorted),
    st.lists(HOSTILE_FLOATS, min_size=0, max_size=4), HOSTILE_FLOATS)
HOSTILE_EPS = st.one_of(HOSTILE_FLOATS, st.lists(HOSTILE_FLOATS, min_size=0, max_size=3))


@pytest.fixture(scope="module")
def linear1d_hier():
    return ResponseHierarchy(SRNN([[2.0]], [[0.5]], [[1.5]], [[0.5]], [0.25]), "h1", 1)


@settings(deadline=None)
@given(times=HOSTILE_TIMES, eps=HOSTILE_EPS)
def test_hostile_times_and_eps_give_the_closed_form_or_the_projects_error(linear1d_hier,
                                                                          times, eps):
    """Random observation times and amplitudes into the series of the 1-d linear model with
    u = 1: ``ε T_1(t) = ε (1 − e^{−1.5 t})`` (C/A = 1), or the project's error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", np.exceptions.ComplexWarning)  # a silent cut
            out = linear1d_hier.series(lambda t: np.array([1.0]), times, eps, method="exact")
    except VolterraSymError as exc:
        note(f"refused: {exc}")
        event(f"refused: {type(exc).__name__}")
        return
    event("computed")
    out = np.asarray(out)
    assert out.dtype.kind == "f" and np.all(np.isfinite(out))
    t = np.atleast_1d(np.asarray(times, dtype=float))
    e = np.asarray(eps, dtype=float)
    assert np.all(np.isfinite(t)) and np.all(t >= 0) and np.all(np.isfinite(e))
    first = out[..., 1, :] - out[..., 0, :]          # partial sums: S_1 − S_0 = ε T_1
    expected = (e[:, None] if e.ndim else e) * (1 - np.exp(-1.5 * t))
    # (the difference of partial sums carries the rounding of T_0 ≈ 0.33)
    assert np.allclose(first, expected, rtol=1e-9, atol=1e-15 + 1e-12 * np.max(np.abs(e)))
