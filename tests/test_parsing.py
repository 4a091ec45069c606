"""The safe expression parser: whitelisted names and operators only, nothing evaluated."""

import builtins

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
