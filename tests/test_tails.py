"""Observables without a stationary average (density/tails.py): the test against the Gaussian
tail of p0, and the refusals it gives every numeric route, Monte Carlo and derive."""

import numpy as np
import pytest
import sympy as sp

from volterra_sym import (
    SRNN,
    DivergentAverageError,
    InvalidInputError,
    ResponseHierarchy,
    load_model,
)
from volterra_sym.density import stationary_density
from volterra_sym.density.tails import average_diverges

DIVERGENT = ["exp(exp(h1))", "exp(h1**4)", "exp(10*h1**2)", "exp(exp(exp(exp(h1))))",
             "cosh(h1**3)"]
FINITE = ["h1**3", "sin(h1)", "exp(3*h1)", "exp(h1**2)", "cosh(h1)*h1**5", "1/(1 + h1**2)",
          "log(1 + h1**2)", "tanh(h1)", "h1**40"]


def _f(model, text):
    return sp.sympify(text, locals={h.name: h for h in model.h})


@pytest.mark.parametrize("name", ["tanh1d", "tanh2d", "tanh3", "linear2d"])
def test_divergent_and_finite_observables_are_told_apart(name):
    model = load_model(name)
    for text in DIVERGENT:
        reason = average_diverges(model, _f(model, text))
        assert reason is not None and "no average of f exists" in reason, text
    for text in FINITE:
        assert average_diverges(model, _f(model, text)) is None, text


def test_agrees_with_the_closed_form_density_where_it_claims_divergence():
    """tanh1d: p0 is known in closed form; wherever the tail test claims divergence of
    exp(c·h²), f·p0 does not decay on the closed form either (the test is one-sided: near
    the threshold it makes no claim)."""
    model = load_model("tanh1d")
    dens = stationary_density(model)
    h = model.h[0]
    claims = []
    for c in (0.5, 1.0, 2.0, 3.0, 4.0, 8.0):
        g = sp.exp(c * h**2)
        claims.append(average_diverges(model, g) is not None)
        if claims[-1]:
            assert not dens._decays_1d(g), c
        else:
            assert c < 3.0, c     # the claim starts at c = 3 (the threshold is 1/D = 1.5625)
    assert claims == [False, False, False, True, True, True]


def test_no_claim_where_the_tail_is_not_one_gaussian():
    """An unbounded nonlinear activation switches its asymptotic drift by orthant (no single
    Gaussian tail), a state-dependent noise reshapes it: the test claims nothing there for
    n ≥ 2 (for n = 1 the tabulated log p0 decides, the test below)."""
    model = SRNN(np.eye(2), [[0.5, -0.3], [0.4, 0.2]], np.ones((2, 1)), 0.5 * np.eye(2),
                 b=[0.1, 0.2], activation="softplus")
    assert average_diverges(model, _f(model, "exp(exp(h2))")) is None
    noisy = load_model("noisy_rnn4")
    assert average_diverges(noisy, _f(noisy, "exp(exp(h1))")) is None


@pytest.mark.parametrize("method", ["auto", "spectral", "galerkin", "taylor"])
def test_every_route_refuses_an_observable_without_average(method):
    """tanh1d's spectral route returned <exp(exp(h1))>_0 ≈ 2.1e159 ± 2.1e159 (as large as
    its grid was wide)."""
    hier = ResponseHierarchy(load_model("tanh1d"), "exp(exp(h1))", 1)
    with pytest.raises(DivergentAverageError) as info:
        hier.mean0(method)
    assert info.value.param == "f" and isinstance(info.value, InvalidInputError)
    with pytest.raises(DivergentAverageError):
        hier.kernel(0).evaluate([0.5], method=method)
    with pytest.raises(DivergentAverageError):
        hier.series_terms(lambda t: np.array([np.sin(t)]), [0.5, 1.0], method=method)


def test_monte_carlo_refuses_it_naming_the_observable():
    from volterra_sym.montecarlo.simulate import compile_observable

    with pytest.raises(DivergentAverageError) as info:
        compile_observable(load_model("tanh2d"), "exp(h2**4)")
    assert info.value.param == "observable"
    assert compile_observable(load_model("tanh2d"), "exp(h2**2)")(np.zeros((1, 2))).shape == (1,)


def test_derive_states_that_the_average_is_infinite(tmp_path):
    from volterra_sym.cli import main

    out = tmp_path / "d.tex"
    assert main(["derive", "linear2d", "--order", "1", "--observable", "exp(exp(h1))",
                 "--out", str(out)]) == 0
    text = out.read_text()
    assert r"\langle f\rangle_0 = \infty" in text and "10^{" not in text


def test_state_dependent_noise_in_one_dimension_has_its_own_tail_test():
    """``σ(h) = 0.4 + 0.2 h`` (noisy_tanh1d) gives ``p0`` a power-law tail ``≈ h^−52``: an
    exponential has no average however slowly it grows, high powers do. The test used to
    make no claim for σ(h), and ``crn_responses(observable="exp(100*h1)")`` returned
    1.1e112 ± 4.6e112 (a new-user pass); now ``DivergentAverageError`` like the constant
    noise models, from the tabulated ``log p0`` at radii up to 256 times the bracket's."""
    import volterra_sym as vs
    from volterra_sym.density.tails import average_diverges
    from volterra_sym.errors import DivergentAverageError
    from volterra_sym.montecarlo import crn_responses

    m = vs.load_model("noisy_tanh1d")
    for f in ("exp(100*h1)", "exp(h1)", "exp(0.1*h1)"):
        assert average_diverges(m, m.observable(f)) is not None, f
    for f in ("h1", "h1**8", "h1**40", "tanh(h1)", "exp(-h1)", "exp(-h1**2)"):
        assert average_diverges(m, m.observable(f)) is None, f
    with pytest.raises(DivergentAverageError) as err:
        crn_responses(m, lambda t: np.array([np.sin(t)]), [0.1], [0.5],
                      observable="exp(100*h1)", n_paths=100, dt=0.05)
    assert err.value.param == "observable"
