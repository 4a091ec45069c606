"""Operators of docs/theory.md §2 against hand-written formulas, and the unevaluated objects."""

import pytest
import scipy.integrate
import sympy as sp

from volterra_sym import (
    SRNN,
    Generator,
    Perturbation,
    Semigroup,
    StationaryAverage,
    fokker_planck,
    generator,
    perturbation,
    perturbation_adjoint,
)
from volterra_sym.operators import model_ref


@pytest.fixture
def tanh2():
    return SRNN(Gamma=[[1, 0.5], [0, 2]], W=[[0.3, -0.2], [0.4, 0.1]], C=[[1, 0], [0.5, 2]],
                sigma=[[0.4, 0], [0.3, 0.2]], b=[0.1, -0.3], activation="tanh")


def test_generator_matches_hand_formula(tanh2):
    h1, h2 = tanh2.h
    g = h1**2 * sp.sin(h2)
    z1 = sp.Rational(3, 10) * h1 - sp.Rational(1, 5) * h2 + sp.Rational(1, 10)
    z2 = sp.Rational(2, 5) * h1 + sp.Rational(1, 10) * h2 - sp.Rational(3, 10)
    phi1 = -h1 - h2 / 2 + sp.tanh(z1)
    phi2 = -2 * h2 + sp.tanh(z2)
    D = sp.Matrix([[0.16, 0.12], [0.12, 0.13]]).applyfunc(sp.nsimplify)
    hand = (phi1 * sp.diff(g, h1) + phi2 * sp.diff(g, h2)
            + sp.Rational(1, 2) * (D[0, 0] * sp.diff(g, h1, 2) + 2 * D[0, 1] * sp.diff(g, h1, h2)
                                   + D[1, 1] * sp.diff(g, h2, 2)))
    assert sp.simplify(generator(tanh2, g) - hand) == 0


def test_perturbations(tanh2):
    h1, h2 = tanh2.h
    g = h1**3 + h1 * h2
    # C_2 = (0, 2): L_2 g = 2 ∂_2 g
    assert sp.expand(perturbation(tanh2, 1, g) - 2 * h1) == 0
    # C_1 = (1, 1/2): L_1 g = ∂_1 g + ∂_2 g / 2
    assert sp.expand(perturbation(tanh2, 0, g) - (3 * h1**2 + h2 + h1 / 2)) == 0
    assert perturbation_adjoint(tanh2, 0, g) == -perturbation(tanh2, 0, g)
    with pytest.raises(ValueError, match="channel k=2 is out of range"):
        perturbation(tanh2, 2, g)


def test_fokker_planck_is_the_adjoint_of_the_generator():
    """∫ p L0 g = ∫ g L0* p for a rapidly decaying p (1-D, quadrature)."""
    m = SRNN(Gamma=1.0, W=0.7, C=1.0, sigma=0.6, b=0.2, activation="sigmoid")
    h = m.h[0]
    p = sp.exp(-(h - sp.Rational(1, 3)) ** 2) * (1 + h**2)
    g = sp.cos(h) + h**3
    lhs = sp.lambdify(h, p * generator(m, g))
    rhs = sp.lambdify(h, g * fokker_planck(m, p))
    a, _ = scipy.integrate.quad(lhs, -15, 15)
    b, _ = scipy.integrate.quad(rhs, -15, 15)
    assert a == pytest.approx(b, rel=1e-10)


def test_unevaluated_objects_print_and_evaluate():
    m = SRNN(Gamma="gamma", W=0, C=1, sigma="s")
    ref = model_ref(m)
    h, gam = m.h[0], m.parameters["gamma"]
    s = sp.Symbol("s_", nonnegative=True)
    L = Generator(h**2, ref)
    assert sp.latex(L) == r"\mathcal{L}_0 \left[h_{1}^{2}\right]"
    assert sp.expand(L.doit() - (-2 * gam * h**2 + m.parameters["s"] ** 2)) == 0
    P = Semigroup(s, h, ref)
    assert sp.latex(Semigroup(sp.Symbol("tau"), h, ref)) == r"e^{\tau\,\mathcal{L}_0} h_{1}"
    assert sp.simplify(P.doit() - h * sp.exp(-gam * s)) == 0   # OU: P_s h = e^{-γs} h
    A = StationaryAverage(Perturbation(0, Semigroup(s, h**2, ref), ref), ref)
    assert sp.latex(A).startswith(r"\left\langle p_0,\ \mathcal{L}_{1} e^{")
    assert sp.simplify(A.doit()) == 0    # <p0, ∂(P_s h²)> = 2 e^{-2γs} E[h] = 0
    # SymPy's reconstruction keeps the model
    assert A.func(*A.args) == A and A.func(*A.args).model is m


def test_string_operands_are_parsed_in_the_models_symbols():
    """A string argument of an operator or an average is parsed (never sympified, which
    would evaluate it and build a complex ``h1`` that is not the model's state)."""
    import volterra_sym as vs
    from volterra_sym.errors import InvalidInputError

    m = vs.load_model("linear2d")
    h1 = m.h[0]
    assert vs.generator(m, "h1**2") == vs.generator(m, h1**2) != 0
    assert vs.fokker_planck(m, "h1") == vs.fokker_planck(m, h1)
    assert vs.perturbation(m, 0, "h1*h2") == vs.perturbation(m, 0, h1 * m.h[1])
    assert vs.stationary_density(m).expectation("h1**2") == \
        vs.stationary_density(m).expectation(h1**2)
    assert m.polynomial_degree("h1**3*h2") == 4
    with pytest.raises(InvalidInputError, match="h3 is not a state of this 2-unit model"):
        vs.generator(m, "h3 + h1")
    with pytest.raises(InvalidInputError):
        vs.generator(m, [1, 2])


def test_numpy_integer_channels():
    """perturbation(m, np.int64(0), …) was refused as "channel k=0 is out of range"."""
    import numpy as np

    import volterra_sym as vs
    from volterra_sym.errors import InvalidInputError

    m = vs.load_model("linear2d")
    assert vs.perturbation(m, np.int64(0), m.h[0]) == vs.perturbation(m, 0, m.h[0])
    with pytest.raises(InvalidInputError):
        vs.perturbation(m, np.True_, m.h[0])
