"""Adversarial inputs to the parser, the model's observables and the operators: SymPy
objects are held to the same whitelist as strings, operator arguments are checked, and
masked arrays do not pass as plain data."""

from __future__ import annotations

import pytest
import sympy as sp

import volterra_sym as vs
from volterra_sym.errors import InvalidInputError
from volterra_sym.parsing import FUNCTIONS, parse_expression


@pytest.fixture(scope="module")
def tanh2d():
    return vs.load_model("tanh2d")


def _sympy_observables_outside_the_grammar(h1, h2):
    k, x = sp.Symbol("k", integer=True), sp.Symbol("x", real=True)
    return {
        "unknown function": sp.Function("g")(h1),
        "unknown function of two states": sp.Function("f")(h1, h2),
        "Integral": sp.Integral(h1 * h2, (h1, 0, 1)),
        "Integral in a dummy": sp.Integral(h1 * x, (x, 0, 1)),
        "Derivative": sp.Derivative(sp.sin(h1), h1),
        "Sum": sp.Sum(h1**k, (k, 0, 3)),
        "Product": sp.Product(h1, (k, 1, 3)),
        "Subs": sp.Subs(h1**2, h1, h2),
        "Limit": sp.Limit(h1 / x, x, 1),
        "Order": sp.O(h1),
        "asin (not in FUNCTIONS)": sp.asin(h1 / 2),
        "gamma": sp.gamma(h1),
        "besselj": sp.besselj(0, h1),
        "nan": sp.nan,
        "h1 + nan": h1 + sp.Float("nan"),
        "zoo": sp.zoo,
        "oo * h1": sp.oo * h1,
        "I * h1": sp.I * h1,
        "Dummy": sp.Dummy("h") * h1,
    }


def test_sympy_observables_outside_the_string_grammar_are_refused(tanh2d):
    """They used to be accepted (``g(h1)``, ``Integral``, ``Derivative``, ``Sum``...): the
    numeric routes refused them later, ``doit()`` evaluated the integral quietly."""
    h1, h2 = tanh2d.h
    for label, f in _sympy_observables_outside_the_grammar(h1, h2).items():
        with pytest.raises(InvalidInputError) as info:
            vs.ResponseHierarchy(tanh2d, f, 2)
        assert info.value.param == "observable", label
        with pytest.raises(InvalidInputError) as info:
            tanh2d.observable(f)
        assert info.value.param == "observable", label


def test_sympy_refusals_name_the_construct(tanh2d):
    h1, _ = tanh2d.h
    with pytest.raises(InvalidInputError, match="unknown function 'g'"):
        tanh2d.observable(sp.Function("g")(h1))
    with pytest.raises(InvalidInputError, match="Integral is not allowed"):
        tanh2d.observable(sp.Integral(h1, (h1, 0, 1)))
    with pytest.raises(InvalidInputError, match="not real"):
        tanh2d.observable(sp.I * h1)
    with pytest.raises(InvalidInputError, match="not a finite number"):
        tanh2d.observable(sp.zoo + h1)


def test_every_string_of_the_grammar_passes_again_as_sympy(tanh2d):
    """The whitelist is the string grammar: what the parser builds is accepted back."""
    texts = [f"{name}(h1/3 + 1)" for name in FUNCTIONS] + [
        "h1**2 + 0.5*h2 - pi*E", "sqrt(2)*h1", "(h1 - h2)**3/7", "exp(-h1**2/2)"]
    for text in texts:
        f = tanh2d.observable(text)
        assert tanh2d.observable(f) == f, text
        assert vs.ResponseHierarchy(tanh2d, f, 1).f == f, text


def test_sympy_activations_are_held_to_the_grammar_too():
    z = sp.Symbol("z", real=True)
    with pytest.raises(InvalidInputError) as info:
        vs.model.activations.get_activation(sp.Function("a")(z))
    assert info.value.param == "activation"
    with pytest.raises(InvalidInputError, match="Integral"):
        parse_expression(sp.Integral(z, (z, 0, 1)), {"z": z}, what="activation")


def _operator_calls(model):
    from volterra_sym import operators as ops

    ref = ops.model_ref(model)
    return {
        "generator": lambda g: ops.generator(model, g),
        "fokker_planck": lambda g: ops.fokker_planck(model, g),
        "perturbation": lambda g: ops.perturbation(model, 0, g),
        "perturbation_adjoint": lambda g: ops.perturbation_adjoint(model, 0, g),
        "perturbation_j": lambda g: ops.perturbation_j(model, (0,), g),
        "Generator": lambda g: ops.Generator(g, ref),
        "Perturbation": lambda g: ops.Perturbation(0, g, ref),
        "KickPerturbation": lambda g: ops.KickPerturbation((0,), g, ref),
        "Semigroup": lambda g: ops.Semigroup(1, g, ref),
        "StationaryAverage": lambda g: ops.StationaryAverage(g, ref),
    }


def test_operators_check_sympy_operands(tanh2d):
    """Raw SymPy operands were used unchecked: ``nan``/``zoo`` gave ``0`` or ``L0[nan]``,
    ``h3`` on a 2-unit model was a constant (``L0 h3 = 0``), ``I*h1`` a complex result,
    ``Eq(h1, 1)`` or ``True`` an operand or a raw TypeError."""
    h1, _ = tanh2d.h
    bad = {"nan": sp.nan, "h1 + zoo": h1 + sp.zoo, "oo*h1": sp.oo * h1, "-oo": -sp.oo,
           "h3 (2 units)": sp.Symbol("h3", real=True), "h3*h1": sp.Symbol("h3") * h1,
           "I*h1": sp.I * h1, "exp(I*h1)": sp.exp(sp.I * h1), "Eq": sp.Eq(h1, 1),
           "True": sp.true, "Matrix": sp.Matrix([h1])}
    for name, call in _operator_calls(tanh2d).items():
        for label, g in bad.items():
            with pytest.raises(InvalidInputError) as info:
                call(g)
            assert info.value.param in ("g", "p"), (name, label)
    with pytest.raises(InvalidInputError, match="h3 is not a state"):
        _operator_calls(tanh2d)["generator"](sp.Symbol("h3", real=True))
    with pytest.raises(InvalidInputError, match="not real"):
        _operator_calls(tanh2d)["generator"](sp.I * h1)


def test_operators_still_act_on_symbolic_operands(tanh2d):
    """Test functions, derivatives, parameters and lags stay allowed; a state symbol built
    without ``real=True`` is the model's state (it was another symbol: ``L1 h1`` was 0)."""
    from volterra_sym import operators as ops

    h1, h2 = tanh2d.h
    g = sp.Function("g")(h1, h2)
    assert ops.perturbation(tanh2d, 0, g) != 0
    assert ops.generator(tanh2d, sp.Symbol("x") * h1) == sp.Symbol("x") * \
        ops.generator(tanh2d, h1)
    plain = sp.Symbol("h1")
    assert ops.perturbation(tanh2d, 0, plain) == ops.perturbation(tanh2d, 0, h1) != 0
    assert ops.generator(tanh2d, plain**2) == ops.generator(tanh2d, h1**2)
    ref = ops.model_ref(tanh2d)
    inner = ops.Semigroup(sp.Symbol("tau_1", nonnegative=True), h1, ref)
    assert ops.Perturbation(0, inner, ref).operand == inner


def test_semigroup_time_is_checked(tanh2d):
    from volterra_sym import operators as ops

    ref = ops.model_ref(tanh2d)
    for s in (sp.nan, sp.oo, sp.zoo, sp.I, 1 + sp.I):
        with pytest.raises(InvalidInputError) as info:
            ops.Semigroup(s, tanh2d.h[0], ref)
        assert info.value.param == "s"


def test_masked_model_matrices_are_refused():
    """``np.asarray`` dropped the mask: the masked ``99`` of ``W`` became a weight."""
    import numpy as np

    from volterra_sym.model.noise import noisy_rnn_A

    W = np.ma.array([[0.5, 99.0], [0.1, 0.2]], mask=[[0, 1], [0, 0]])
    with pytest.raises(InvalidInputError, match=r"masked entry \(first at index \[0, 1\]\)") \
            as info:
        vs.SRNN(Gamma=1, W=W, C=[[1], [0]], sigma=0.5, b=[0, 0], activation="tanh")
    assert info.value.param == "W"
    for key in ("Gamma", "C", "sigma", "b"):
        kw = dict(Gamma=np.eye(2), W=[[0.5, 0.3], [0.1, 0.2]], C=np.array([[1.0], [0.0]]),
                  sigma=np.eye(2) / 2, b=np.array([0.0, 0.0]), activation="tanh")
        kw[key] = np.ma.array(kw[key], mask=np.ones(np.shape(kw[key]), dtype=bool))
        with pytest.raises(InvalidInputError) as info:
            vs.SRNN(**kw)
        assert info.value.param == key
    with pytest.raises(InvalidInputError) as info:
        noisy_rnn_A(np.ma.array([[1.0, 2.0], [3.0, 4.0]], mask=[[0, 0], [1, 0]]), 0.5, 1.0)
    assert info.value.param == "B"
    # a fully unmasked array stands for its data
    m = vs.SRNN(Gamma=1, W=np.ma.array([[0.5, 0.3], [0.1, 0.2]]), C=[[1], [0]], sigma=0.5,
                b=[0, 0], activation="tanh")
    assert m.W == vs.SRNN(Gamma=1, W=[[0.5, 0.3], [0.1, 0.2]], C=[[1], [0]], sigma=0.5,
                          b=[0, 0], activation="tanh").W


def test_sympy_model_entries_are_held_to_the_grammar():
    """A SymPy matrix entry was taken as is (an unknown function, an Integral, a Dummy
    passed into the model); now it follows the string grammar, as string entries and
    observables do. Parameters and the grammar's functions stay accepted."""
    import sympy as sp

    from volterra_sym import SRNN
    from volterra_sym.model import ModelError
    a = sp.Symbol("a")
    for bad in (sp.Function("g")(a), sp.Integral(a, (a, 0, 1)), sp.Dummy("d"), sp.zoo):
        with pytest.raises(ModelError) as exc:
            SRNN([[bad]], 0, 1, 1)
        assert exc.value.param == "Gamma"
    m = SRNN([[1 + a**2]], 0, 1, [[sp.sqrt(2) * sp.exp(a) / 4]])
    assert {s.name for s in m.parameters.values()} == {"a"}
    assert m.subs(a=0).is_numeric
