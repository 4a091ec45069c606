"""Safe parsing of user-supplied expressions (observables, activations, inputs, parameters).

User strings are **never** handed to ``eval``, ``sympify`` or ``parse_expr``. They are
parsed by Python's :mod:`ast` into a syntax tree, every node is checked against a
whitelist, and the SymPy expression is built from the checked tree directly.

Allowed:

* numbers (int, float), ``+ - * / **`` (``^`` is accepted as a power), unary ``+ -``,
  parentheses;
* variable names from an explicit set given by the caller (e.g. ``h1..hn``, ``z``, ``t``)
  or, where the caller allows free parameters, identifiers matching ``[A-Za-z][A-Za-z0-9_]*``
  that do not start or end with an underscore;
* calls of whitelisted smooth functions (:data:`FUNCTIONS`) with positional arguments;
* the constants ``pi`` and ``E``.

Everything else (attributes, subscripts, lambdas, comprehensions, keywords, strings,
dunder names, ...) raises :class:`ExpressionError` naming what was refused.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping

import sympy as sp

__all__ = ["ExpressionError", "FUNCTIONS", "parse_expression", "sigmoid"]

MAX_LENGTH = 2000
MAX_NUMERIC_EXPONENT = 64
MAX_NUMBER_DIGITS = 300
MAX_DEPTH = 100
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class ExpressionError(ValueError):
    """A user-supplied expression was refused (syntax, unknown name or forbidden construct)."""


def sigmoid(x: sp.Expr) -> sp.Expr:
    """Logistic function ``1 / (1 + exp(-x))``."""
    return 1 / (1 + sp.exp(-x))


def _softplus(x: sp.Expr) -> sp.Expr:
    return sp.log(1 + sp.exp(x))


#: Smooth functions a user expression may call, with their arity.
FUNCTIONS: dict[str, tuple[object, int]] = {
    "sin": (sp.sin, 1),
    "cos": (sp.cos, 1),
    "tan": (sp.tan, 1),
    "exp": (sp.exp, 1),
    "log": (sp.log, 1),
    "sqrt": (sp.sqrt, 1),
    "tanh": (sp.tanh, 1),
    "sinh": (sp.sinh, 1),
    "cosh": (sp.cosh, 1),
    "atan": (sp.atan, 1),
    "arctan": (sp.atan, 1),
    "erf": (sp.erf, 1),
    "sigmoid": (sigmoid, 1),
    "softplus": (_softplus, 1),
}
#: Names refused with a specific explanation (non-smooth functions).
NON_SMOOTH = {"relu", "abs", "Abs", "max", "Max", "min", "Min", "sign", "Heaviside",
              "floor", "ceil", "Piecewise"}
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E}

_BINOPS = {ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow}


def parse_expression(
    text: str | int | float,
    variables: Mapping[str, sp.Symbol] | Iterable[str] = (),
    *,
    allow_free_symbols: bool = False,
    what: str = "expression",
    real: bool = True,
) -> sp.Expr:
    """Parse ``text`` into a SymPy expression through a whitelist.

    Parameters
    ----------
    text : the expression, e.g. ``"h1**2 + 0.5*h2"`` or ``"-omega"``. Numbers pass through.
    variables : the names the expression may use, as a mapping name -> Symbol or an
        iterable of names (symbols are then created, real).
    allow_free_symbols : also accept other identifiers (model parameters such as
        ``gamma``); they become real symbols.
    what : how to name the expression in error messages, e.g. ``"observable"``.
    """
    if isinstance(text, bool):
        raise ExpressionError(f"{what}: expected an expression, got a boolean {text!r}")
    if isinstance(text, int):
        return sp.Integer(text)
    if isinstance(text, float):
        if text != text or text in (float("inf"), float("-inf")):
            raise ExpressionError(f"{what}: must be finite, got {text}")
        return sp.Rational(repr(text))
    if isinstance(text, sp.Expr):
        return _check_sympy_expr(text, variables, allow_free_symbols, what)
    if not isinstance(text, str):
        raise ExpressionError(f"{what}: expected a string or number, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"{what}: longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise ExpressionError(f"{what}: empty expression")
    symbols = _symbol_table(variables, real)
    try:
        # ``^`` means power (as in LaTeX/Matlab); rewrite it before parsing, since Python's
        # grammar would give it XOR precedence (h1**2+h2^3 == (h1**2+h2)^3).
        tree = ast.parse(text.strip().replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"{what}: invalid syntax in {text!r} ({exc.msg})") from None
    builder = _Builder(symbols, allow_free_symbols, what, text, real)
    return builder.build(tree.body)


def _symbol_table(variables, real: bool) -> dict[str, sp.Symbol]:
    if isinstance(variables, Mapping):
        return dict(variables)
    return {name: sp.Symbol(name, real=real) for name in variables}


def _check_sympy_expr(expr, variables, allow_free, what):
    """Accept a SymPy expression built by the caller; check its free symbols."""
    allowed = set(_symbol_table(variables, True))
    for s in expr.free_symbols:
        if s.name not in allowed and not allow_free:
            raise ExpressionError(
                f"{what}: unknown variable {s.name!r}; allowed: {sorted(allowed) or 'none'}"
            )
    return expr


class _Builder:
    def __init__(self, symbols, allow_free, what, text, real):
        self.symbols = symbols
        self.allow_free = allow_free
        self.what = what
        self.text = text
        self.real = real

    def fail(self, msg: str) -> None:
        raise ExpressionError(f"{self.what}: {msg} in {self.text!r}")

    def build(self, node: ast.AST, depth: int = 0) -> sp.Expr:
        if depth > MAX_DEPTH:
            self.fail(f"nested more than {MAX_DEPTH} levels deep")
        return self._build(node, depth + 1)

    def _build(self, node: ast.AST, depth: int) -> sp.Expr:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                self.fail(f"only numeric constants are allowed, not {node.value!r}")
            if isinstance(node.value, float):  # exact decimal as written: 0.3 -> 3/10
                return sp.Rational(repr(node.value))
            return sp.Integer(node.value)
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return -self.build(node.operand, depth)
            if isinstance(node.op, ast.UAdd):
                return self.build(node.operand, depth)
            self.fail(f"operator {type(node.op).__name__} is not allowed")
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                self.fail(f"operator {type(node.op).__name__} is not allowed")
            if isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
                return self._chain(node, depth)
            left, right = self.build(node.left, depth), self.build(node.right, depth)
            # Pow: keep numeric exponents small (no 9**9**9 hangs)
            if right.is_number:
                if not right.is_finite or abs(complex(right)) > MAX_NUMERIC_EXPONENT:
                    self.fail(f"numeric exponent {right} exceeds {MAX_NUMERIC_EXPONENT}")
                if left.is_number and left != 0:
                    digits = abs(complex(right)) * abs(float(sp.log(abs(left), 10)))
                    if digits > MAX_NUMBER_DIGITS:
                        self.fail(f"the number {left}**{right} has more than "
                                  f"{MAX_NUMBER_DIGITS} digits")
            return left**right
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                self.fail("only calls of named functions are allowed")
            fname = node.func.id
            if fname in NON_SMOOTH:
                self.fail(f"function {fname!r} is not smooth; the theory needs smooth "
                          "functions (use e.g. softplus instead of relu)")
            if fname not in FUNCTIONS:
                self.fail(f"unknown function {fname!r}; allowed: {sorted(FUNCTIONS)}")
            if node.keywords:
                self.fail("keyword arguments are not allowed")
            func, arity = FUNCTIONS[fname]
            if len(node.args) != arity or any(isinstance(a, ast.Starred) for a in node.args):
                self.fail(f"{fname} takes {arity} argument(s)")
            return func(*[self.build(a, depth) for a in node.args])
        self.fail(f"construct {type(node).__name__} is not allowed")
        raise AssertionError  # unreachable

    def _chain(self, node: ast.BinOp, depth: int) -> sp.Expr:
        """A left-leaning chain ``a ± b ± c …`` or ``a */ b */ c …``, built iteratively
        (a long polynomial is a long chain, not deep nesting)."""
        additive = isinstance(node.op, (ast.Add, ast.Sub))
        kinds = (ast.Add, ast.Sub) if additive else (ast.Mult, ast.Div)
        ops = []
        while isinstance(node, ast.BinOp) and isinstance(node.op, kinds):
            ops.append((node.op, node.right))
            node = node.left
        result = self.build(node, depth)
        for op, operand in reversed(ops):
            value = self.build(operand, depth)
            if isinstance(op, ast.Add):
                result = result + value
            elif isinstance(op, ast.Sub):
                result = result - value
            elif isinstance(op, ast.Mult):
                result = result * value
            else:
                if value == 0:
                    self.fail("division by zero")
                result = result / value
        return result

    def name(self, ident: str) -> sp.Expr:
        if ident in self.symbols:
            return self.symbols[ident]
        if ident in CONSTANTS:
            return CONSTANTS[ident]
        if ident in NON_SMOOTH:
            self.fail(f"{ident!r} is not smooth")
        if ident in FUNCTIONS:
            self.fail(f"function {ident!r} used without arguments")
        if self.allow_free and _IDENT.match(ident) and not ident.endswith("_"):
            sym = sp.Symbol(ident, real=self.real)
            self.symbols[ident] = sym
            return sym
        allowed = sorted(self.symbols)
        self.fail(f"unknown variable {ident!r}; allowed: {allowed or 'none'}")
        raise AssertionError  # unreachable
