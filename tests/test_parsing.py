"""The safe expression parser: whitelisted names and operators only, nothing evaluated."""

import builtins
import math
import re

import numpy as np
import pytest
import sympy as sp

from volterra_sym.parsing import ExpressionError, parse_expression

HOSTILE = [
    "__import__('os').system('true')",
    "h1.__class__",
    "lambda: 0",
    "h1.__class__.__mro__[1].__subclasses__()",
    "[x for x in ()]",
    "exec('1')",
    "eval('1')",
    "open('/etc/passwd')",
    "h1 if h1 else 0",
    "'a' * 3",
    "h1[0]",
    "sin(x=h1)",
    "(lambda: 1)()",
    "__builtins__",
    "9**9**9",
    "(10**60)**60",
    "h1; h1",
    "import os",
    "h1 = 3",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_are_refused(text, monkeypatch):
    def boom(*a, **k):  # nothing may reach eval/exec/sympify
        raise AssertionError("evaluated!")

    monkeypatch.setattr(builtins, "eval", boom)
    monkeypatch.setattr(builtins, "exec", boom)
    monkeypatch.setattr(sp, "sympify", boom)
    with pytest.raises(ExpressionError):
        parse_expression(text, ["h1", "h2"])


def test_side_effect_never_happens(tmp_path):
    target = tmp_path / "pwned"
    with pytest.raises(ExpressionError):
        parse_expression(f"__import__('os').system('touch {target}')", ["h1"])
    assert not target.exists()


def test_arithmetic_and_functions():
    h1, h2 = sp.symbols("h1 h2", real=True)
    e = parse_expression("h1**2 + 0.5*h2^3 - tanh(h1)/2", ["h1", "h2"])
    assert sp.simplify(e - (h1**2 + sp.Rational(1, 2) * h2**3 - sp.tanh(h1) / 2)) == 0


def test_caret_is_power_with_power_precedence():
    h1, h2 = sp.symbols("h1 h2", real=True)
    assert parse_expression("h1**2+h2^3", ["h1", "h2"]) == h1**2 + h2**3


def test_decimals_are_exact():
    assert parse_expression("0.3", []) == sp.Rational(3, 10)


def test_unknown_variable_named():
    with pytest.raises(ExpressionError, match="unknown variable 'h3'"):
        parse_expression("h1 + h3", ["h1", "h2"])


def test_relu_refused_as_not_smooth():
    with pytest.raises(ExpressionError, match="not smooth"):
        parse_expression("relu(z)", ["z"])


def test_free_parameters_allowed_only_when_asked():
    assert parse_expression("-omega", allow_free_symbols=True) == -sp.Symbol("omega", real=True)
    with pytest.raises(ExpressionError):
        parse_expression("-omega")
    with pytest.raises(ExpressionError):
        parse_expression("__class__", allow_free_symbols=True)


def test_long_polynomials_are_fine_but_deep_nesting_is_refused():
    h1 = sp.Symbol("h1", real=True)
    assert parse_expression("+".join(["h1**2"] * 300), ["h1"]) == 300 * h1**2
    assert parse_expression("1/h1/2*3 - h1 + 4", ["h1"]) == sp.Rational(3, 2) / h1 - h1 + 4
    with pytest.raises(ExpressionError, match="nested"):
        parse_expression("-" * 1000 + "h1", ["h1"])
    with pytest.raises(ExpressionError):
        parse_expression("sin(" * 300 + "h1" + ")" * 300, ["h1"])


# ---------------------------------------------------------------------- hardening (issue 11)
from volterra_sym.errors import InvalidInputError  # noqa: E402
from volterra_sym.parsing import compile_time_function  # noqa: E402


def test_expression_error_is_the_projects_invalid_input_error():
    with pytest.raises(InvalidInputError) as info:
        parse_expression("h3", ["h1"], what="observable")
    assert isinstance(info.value, ExpressionError) and isinstance(info.value, ValueError)
    assert info.value.param == "observable"


@pytest.mark.parametrize("text, condition", [
    ("sqrt(-1)*h1", "not real"),
    ("log(-1)*h1", "not real"),
    ("(-8)**(1/3)*h1", "not real"),
    ("(-1)**0.5 + h1", "not real"),
    ("h1**sqrt(-1)", "not real"),
    ("tan(pi/2)*h1", "infinite"),
    ("log(0)*h1", "infinite"),
    ("1e400*h1", "outside the float range"),
    ("-1e400*h1", "outside the float range"),
    ("exp(710)*h1", "outside the float range"),
    ("exp(700)*h1*exp(700)", "outside the float range"),
    ("h1*1e300*1e300", "outside the float range"),
    ("9" * 400 + "*h1", "400 digits"),
    ("1e-400*h1", "would read as 0"),
    ("h1/(sin(1)**2 + cos(1)**2 - 1)", "cannot be evaluated reliably"),
])
def test_non_finite_or_complex_constants_are_refused(text, condition):
    with pytest.raises(ExpressionError, match=condition) as info:
        parse_expression(text, ["h1"], what="observable")
    assert info.value.param == "observable"
    assert str(info.value).startswith("observable:")


def test_constants_inside_the_float_range_are_kept_exactly():
    h1 = sp.Symbol("h1", real=True)
    assert parse_expression("exp(709)*h1", ["h1"]) == sp.exp(709) * h1
    assert parse_expression("1e308*h1", ["h1"]) == sp.Integer(10)**308 * h1
    assert parse_expression("1e-320*h1", ["h1"]) == h1 / sp.Integer(10)**320  # subnormal
    assert parse_expression("0e5 + 0.000*h1", ["h1"]) == 0
    assert parse_expression("sqrt(2)*h1", ["h1"]) == sp.sqrt(2) * h1


def test_nested_overflow_is_refused_without_evaluating_the_outer_function():
    # exp(exp(exp(10))) would take mpmath minutes; the inner exp(exp(10)) ≈ 9.4e9565 is
    # refused first (bottom-up check)
    import time
    t0 = time.perf_counter()
    with pytest.raises(ExpressionError, match="exp\\(exp\\(10\\)\\).*outside the float range"):
        parse_expression("exp(exp(exp(10)))*h1", ["h1"])
    with pytest.raises(ExpressionError, match="outside the float range"):
        parse_expression("h1**exp(exp(exp(10)))", ["h1"])
    assert time.perf_counter() - t0 < 5


def test_numbers_passed_directly_are_checked():
    with pytest.raises(ExpressionError, match="outside the float range"):
        parse_expression(10**400, what="gamma")
    with pytest.raises(ExpressionError, match="finite"):
        parse_expression(float("nan"))
    with pytest.raises(ExpressionError, match="real"):
        parse_expression(1 + 2j)
    with pytest.raises(ExpressionError, match="not real"):
        parse_expression(sp.I * sp.Symbol("h1", real=True), ["h1"])


@pytest.mark.parametrize("text, char, column", [
    ("ｈ１", "ｈ", 1),           # fullwidth letters: NFKC would fold them into h1
    ("ℎ1", "ℎ", 1),             # PLANCK CONSTANT
    ("ſin(h1)", "ſ", 1),        # LONG S: NFKC folds it into 's'
    ("h1 + 𝐡1", "𝐡", 6),        # mathematical bold h
    ("h1 # + h1", "#", 4),      # a comment would be dropped silently
    ("h1 + \\\nh1", "\\", 6),    # a line continuation
    ("h1\n+ h1", "\n", 3),
    ("h1\r", "\r", 3),
    ("h1 + h1\u200b", "\u200b", 8),  # zero-width space
])
def test_characters_outside_the_whitelist_are_refused_not_folded(text, char, column):
    pattern = re.escape(f"character {char!r} (U+{ord(char):04X}") + f".* at column {column} "
    with pytest.raises(ExpressionError, match=pattern) as info:
        parse_expression(text, ["h1"], what="observable")
    assert info.value.param == "observable"


def test_refusal_names_the_code_point():
    with pytest.raises(ExpressionError, match="U\\+017F LATIN SMALL LETTER LONG S"):
        parse_expression("ſin(h1)", ["h1"])


def test_time_function_checks_its_values():
    u = compile_time_function("sin(2*t) + erf(t)", "input channel 0")
    ts = np.linspace(0, 3, 7)
    assert np.allclose(u(ts), np.sin(2 * ts) + np.array([math.erf(x) for x in ts]))
    assert u(1.0) == pytest.approx(math.sin(2) + math.erf(1))
    assert isinstance(u(1.0), float)
    assert np.array_equal(compile_time_function("3")(np.zeros(4)), np.full(4, 3.0))


@pytest.mark.parametrize("text, t, condition", [
    ("1/t", 0.0, "not a finite real number at t = 0"),
    ("1/t", np.array([1.0, 0.0]), "not a finite real number at t = 0"),
    ("sqrt(t - 1)", 0.5, "not a finite real number at t = 0.5"),
    ("log(t)", 0, "not a finite real number at t = 0"),
    ("exp(t)", 800.0, "not a finite real number at t = 800"),
    ("t", 1j, "must be real"),
    ("t", float("nan"), "must be finite"),
])
def test_time_function_raises_the_projects_error(text, t, condition):
    u = compile_time_function(text, "input channel 0")
    with pytest.raises(InvalidInputError, match=condition) as info:
        u(t)
    assert info.value.param == "input channel 0"


def test_time_function_refuses_other_names_at_parse_time():
    with pytest.raises(ExpressionError, match="unknown variable 'h1'"):
        compile_time_function("h1*t")


@pytest.mark.parametrize("text", ["0x10*h1", "0o17", "0b101", "1_000*h1", "1__0", "1e1_0"])
def test_only_plain_decimal_literals(text):
    with pytest.raises(ExpressionError, match="not a plain decimal literal|invalid syntax"):
        parse_expression(text, ["h1"])


def test_plain_decimal_literals_are_exact():
    assert parse_expression(".5 + 5. + 1E2 + 2e-1") == sp.Rational(1, 2) + 5 + 100 + \
        sp.Rational(1, 5)


@pytest.mark.parametrize("name", ["nan", "NaN", "inf", "Infinity", "oo", "zoo", "I"])
def test_spellings_of_non_finite_numbers_are_not_parameter_names(name):
    with pytest.raises(ExpressionError, match="looks like a number"):
        parse_expression(f"-{name}", allow_free_symbols=True, what="Gamma[0, 0]")


def test_names_that_merely_start_like_numbers_are_fine():
    assert parse_expression("inflation*nano", allow_free_symbols=True).free_symbols == {
        sp.Symbol("inflation", real=True), sp.Symbol("nano", real=True)}


def test_negative_base_to_a_power_within_rounding_of_an_integer_is_refused():
    """Found by the nightly hypothesis run: 2**(-atan(1.8e-184)) is 1 to any working
    precision, so (-pi/4)**that passed the numeric check while SymPy holds it complex."""
    from volterra_sym.parsing import ExpressionError
    with pytest.raises(ExpressionError, match="negative number"):
        parse_expression("arctan(-1)**2**arctan(-1.8485658102623812e-184)", ["h1"])
    assert parse_expression("(-2)**3*h1", ["h1"]) == -8 * parse_expression("h1", ["h1"])


def test_fractional_power_of_a_number_with_a_huge_exponent_fraction_is_refused_quickly():
    """Found by a nightly hypothesis run (the process was killed at 24 GB):
    1.0005e-197**7.8e-15 made SymPy take an exact root with exponent numerator ~1e16."""
    import time

    from volterra_sym.parsing import ExpressionError
    t0 = time.perf_counter()
    with pytest.raises(ExpressionError, match="fractional power"):
        parse_expression("h1+1.0005069585338132e-197**7.800825861903563e-15", ["h1"])
    assert time.perf_counter() - t0 < 5
    assert parse_expression("2**0.5*h1", ["h1"]) == sp.sqrt(2) * parse_expression("h1",
                                                                                   ["h1"])


def test_sympy_observables_are_held_to_the_string_grammar():
    """A SymPy observable may not hold the non-smooth functions a string may not, and a
    symbol named like a state becomes that state (a plain ``Symbol("h1")`` is complex and
    used to be refused later by every route as a "free parameter")."""
    import sympy as sp

    import volterra_sym as vs

    m = vs.load_model("tanh1d")
    h = m.h[0]
    for f in (sp.Abs(h), sp.sign(h), sp.Heaviside(h), sp.Piecewise((1, h > 0), (0, True)),
              sp.floor(h), sp.Max(h, 0)):
        with pytest.raises(vs.InvalidInputError, match="not smooth"):
            vs.ResponseHierarchy(m, f, order=1)
    H = vs.ResponseHierarchy(m, sp.Symbol("h1") ** 2, order=1)
    assert H.f == h**2
