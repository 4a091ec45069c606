"""Safe parsing of user-supplied expressions (observables, activations, inputs, parameters).

User strings are **never** handed to ``eval``, ``sympify`` or ``parse_expr``. They are
parsed by Python's :mod:`ast` into a syntax tree, every node is checked against a
whitelist, and the SymPy expression is built from the checked tree directly.

Allowed:

* plain decimal numbers (``16``, ``0.5``, ``1e-3``; not ``0x10``, ``1_000``, ``1j``),
  ``+ - * / **`` (``^`` is accepted as a power), unary ``+ -``, parentheses;
* variable names from an explicit set given by the caller (e.g. ``h1..hn``, ``z``, ``t``)
  or, where the caller allows free parameters, identifiers matching ``[A-Za-z][A-Za-z0-9_]*``
  that do not start or end with an underscore and are not spellings of non-finite
  numbers (``nan``, ``inf``, ``oo``, ``zoo``, any case) or ``I``;
* calls of whitelisted smooth functions (:data:`FUNCTIONS`) with positional arguments;
* the constants ``pi`` and ``E``.

Everything else (attributes, subscripts, lambdas, comprehensions, keywords, strings,
dunder names, ...) raises :class:`ExpressionError` naming what was refused.

Checks made before and after parsing (each failure is an :class:`ExpressionError`, a
:class:`~volterra_sym.errors.InvalidInputError` whose ``param`` is the ``what`` of the call):

* **characters**: the raw string may contain only the ASCII characters of the grammar
  (:data:`ALLOWED_CHARACTERS`). Python's tokenizer NFKC-normalises identifiers
  (``ｈ１`` → ``h1``, ``ℎ1`` → ``h1``, ``ſin`` → ``sin``) and drops ``#`` comments, so the
  check runs on the raw string *before* :func:`ast.parse`; the message shows the
  offending character, its code point and its column (counted from 1). Newlines and
  backslashes (line continuations) are refused the same way.
* **literals**: a float literal must lie in the float range (``1e400`` reads as ``inf``
  and is refused; a non-zero literal such as ``1e-400`` that reads as ``0.0`` is refused);
  an integer literal must satisfy ``|n| ≤`` :data:`FLOAT_MAX`.
* **constants**: every sub-expression without free symbols (``sqrt(2)``, ``exp(710)``,
  ``log(-1)``) is evaluated with mpmath at two working precisions (20 and 40 digits),
  each node from its children's values; it must be
  real, finite, ``|c| ≤`` :data:`FLOAT_MAX`, and the two values must agree (a constant
  that is zero only up to rounding, e.g. ``1/(sin(1)**2 + cos(1)**2 - 1)``, is refused).
  The check is bottom-up, so a function is never evaluated at an argument outside the
  float range (``exp(exp(exp(10)))`` is refused at ``exp(exp(10))``, no hang).

Input signals ``u(t)`` are compiled by :func:`compile_time_function`, whose callable
raises :class:`ExpressionError` where the value is not finite or not real (``1/t`` at
``t = 0``, ``sqrt(t - 1)`` at ``t < 1``, ``exp(t)`` beyond ``t ≈ 709.78``).
"""

from __future__ import annotations

import ast
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping

import mpmath
import numpy as np
import sympy as sp
from numpy.typing import ArrayLike

from .errors import InvalidInputError

__all__ = ["ExpressionError", "FUNCTIONS", "parse_expression", "as_expression", "sigmoid",
           "compile_time_function", "ALLOWED_CHARACTERS"]

MAX_LENGTH = 2000
MAX_NUMERIC_EXPONENT = 64
MAX_NUMBER_DIGITS = 300
MAX_DEPTH = 100
#: A fractional power of a number ``x**(p/q)`` is evaluated exactly by SymPy (roots by
#: factoring): ``|p|, q`` above this are refused.
MAX_ROOT_EXPONENT_PARTS = 10**6


def _short_number(x: sp.Expr, limit: int = 30) -> str:
    """``x`` as written, or to 6 digits where that is longer than ``limit``."""
    return str(sp.N(x, 6)) if len(str(x)) > limit else str(x)


#: The largest finite float, ``(2 - 2**-52) * 2**1023 ≈ 1.7977e308``.
FLOAT_MAX = sys.float_info.max
#: Every character a user expression may contain (ASCII only; see the module docstring).
ALLOWED_CHARACTERS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-*/^()., \t")
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_DECIMAL = re.compile(r"^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
#: Names refused (case-insensitively) although they are identifiers: SymPy/NumPy spellings
#: of non-finite numbers.
_NUMBER_LIKE = {"nan", "inf", "infinity", "oo", "zoo"}
_FLOAT_MAX_RATIONAL = sp.Rational(int(FLOAT_MAX))
_CHECK_DIGITS = (20, 40)


class ExpressionError(InvalidInputError):
    """A user-supplied expression was refused (syntax, unknown name, forbidden construct
    or character, or a constant that is not a finite real float). ``param`` names the
    expression (the ``what`` of :func:`parse_expression`)."""


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
    if isinstance(text, (bool, np.bool_)):
        raise ExpressionError(f"{what}: expected an expression, got a boolean {text!r}",
                              param=what)
    if isinstance(text, (int, np.integer)):
        if abs(int(text)) > FLOAT_MAX:
            raise ExpressionError(f"{what}: the integer has {len(str(abs(int(text))))} digits "
                                  f"and lies outside the float range (|x| ≤ {FLOAT_MAX:.4g})",
                                  param=what)
        return sp.Integer(int(text))
    if isinstance(text, (float, np.floating)):
        if not np.isfinite(text):
            raise ExpressionError(f"{what}: must be finite, got {text}", param=what)
        return sp.Rational(repr(float(text)))
    if isinstance(text, (complex, np.complexfloating)):
        raise ExpressionError(f"{what}: must be real, got the complex number {text}",
                              param=what)
    if isinstance(text, sp.Expr):
        expr = _check_sympy_expr(text, variables, allow_free_symbols, what)
        _check_constants(expr, lambda msg: _fail(what, msg, None))
        return expr
    if not isinstance(text, str):
        raise ExpressionError(f"{what}: expected a string or number, got {type(text).__name__}",
                              param=what)
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"{what}: longer than {MAX_LENGTH} characters "
                              f"(got {len(text)})", param=what)
    check_characters(text, what)
    if not text.strip():
        raise ExpressionError(f"{what}: empty expression", param=what)
    symbols = _symbol_table(variables, real)
    try:
        # ``^`` means power (as in LaTeX/Matlab); rewrite it before parsing, since Python's
        # grammar would give it XOR precedence (h1**2+h2^3 == (h1**2+h2)^3).
        source = text.strip().replace("^", "**")
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        # the reason before the text: a long text would push it out of a one-line message
        raise ExpressionError(f"{what}: invalid syntax ({exc.msg}) in {text!r}",
                              param=what) from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"{what}: too deeply nested to parse in {text!r}",
                              param=what) from None
    builder = _Builder(symbols, allow_free_symbols, what, text, real, source)
    try:
        expr = builder.build(tree.body)
        _check_constants(expr, builder.fail, builder.seen)
    except RecursionError:
        raise ExpressionError(f"{what}: too deeply nested in {text!r}", param=what) from None
    except (ArithmeticError, ValueError, TypeError) as exc:  # SymPy/mpmath evaluation
        if isinstance(exc, ExpressionError):
            raise
        raise ExpressionError(f"{what}: cannot be evaluated ({type(exc).__name__}: {exc}) in "
                              f"{text!r}", param=what) from None
    return expr


def check_characters(text: str, what: str = "expression") -> None:
    """Refuse any character outside :data:`ALLOWED_CHARACTERS`, naming it, its code point
    and its column (from 1). Runs on the raw string, before Python's tokenizer could fold
    lookalikes (NFKC) or drop a ``#`` comment."""
    for i, ch in enumerate(text):
        if ch not in ALLOWED_CHARACTERS:
            label = unicodedata.name(ch, "control character")
            why = {"#": " (comments are not allowed)",
                   "\\": " (line continuations are not allowed)",
                   "\n": " (an expression is one line)", "\r": " (an expression is one line)",
                   }.get(ch, " (only ASCII letters, digits, spaces and _ + - * / ^ ( ) . , "
                              "are allowed; lookalike characters are not folded)")
            raise ExpressionError(
                f"{what}: character {ch!r} (U+{ord(ch):04X} {label}) at column {i + 1} is "
                f"not allowed{why} in {text!r}", param=what)


def as_expression(value, variables: Mapping[str, sp.Symbol] | Iterable[str] = (), *,
                  what: str = "expression") -> sp.Basic:
    """Whatever a public function takes as an expression, safely: a SymPy object as it is;
    a string or number through :func:`parse_expression` (names in ``variables`` become the
    caller's symbols, other identifiers real symbols); any other object only through SymPy's
    strict conversion, which never parses a string (``sympify`` of a string is ``eval``)."""
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, (str, bool, complex, np.bool_, np.complexfloating)):
        return parse_expression(value, variables, allow_free_symbols=True, what=what)
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        raise ExpressionError(f"{what}: must be finite, got {value}", param=what)
    try:
        return sp.sympify(value, strict=True)
    except (sp.SympifyError, TypeError, ValueError):
        raise ExpressionError(f"{what}: expected a SymPy expression, a string or a number, "
                              f"got {type(value).__name__}", param=what) from None


def _fail(what: str, msg: str, text: str | None):
    where = "" if text is None else f" in {text!r}"
    raise ExpressionError(f"{what}: {msg}{where}", param=what)


def _exact_argument(c: sp.Expr) -> bool:
    """A constant SymPy may simplify a function at: a rational, ``pi``, ``E`` or a rational
    multiple of ``pi`` (``sin(pi) = 0``, ``log(1) = 0``, ``tan(pi/2) = zoo``)."""
    if c.is_Rational or c in (sp.pi, sp.E):
        return True
    coeff, rest = c.as_coeff_Mul()
    return rest is sp.pi and coeff.is_Rational


def _check_constants(expr: sp.Expr, fail: Callable[[str], None],
                     seen: dict | None = None) -> None:
    """Every sub-expression of ``expr`` without free symbols must be a finite real number
    within the float range; checked bottom-up (children before parents) so that no
    function is evaluated at an out-of-range argument. ``seen`` maps the nodes already
    checked to their values at the two working precisions (shared by the parser), so each
    node is evaluated once, from its children's values (a 95-fold ``sin(sin(…))`` costs 95
    evaluations, not 95²/2)."""
    seen = {} if seen is None else seen

    def visit(node: sp.Basic) -> None:
        if node in seen or not isinstance(node, sp.Basic):
            return
        for arg in node.args:
            visit(arg)
        if not isinstance(node, sp.Expr) or node.free_symbols:
            seen[node] = None
            return
        seen[node] = _check_constant(node, fail, seen)

    visit(expr)


#: SymPy functions of the grammar -> mpmath (for the bottom-up constant check).
_MPMATH = {sp.sin: mpmath.sin, sp.cos: mpmath.cos, sp.tan: mpmath.tan, sp.exp: mpmath.exp,
           sp.log: mpmath.log, sp.tanh: mpmath.tanh, sp.sinh: mpmath.sinh,
           sp.cosh: mpmath.cosh, sp.atan: mpmath.atan, sp.erf: mpmath.erf}


def _mp_value(c: sp.Expr, digits: int, k: int, seen: dict):
    """The value of the constant ``c`` at ``digits`` working digits, from the values
    ``seen[child][k]`` of its (already checked) children where the node is an operation of
    the grammar; other nodes are evaluated by SymPy."""
    with mpmath.workdps(digits):
        if isinstance(c, sp.Rational):
            return mpmath.mpf(c.p) / c.q
        if c is sp.pi:
            return +mpmath.pi
        if c is sp.E:
            return +mpmath.e
        kids = [seen.get(a) for a in c.args]
        if all(v is not None for v in kids):
            vals = [v[k] for v in kids]
            if isinstance(c, sp.Add):
                return mpmath.fsum(vals)
            if isinstance(c, sp.Mul):
                return mpmath.fprod(vals)
            if isinstance(c, sp.Pow):
                return mpmath.power(vals[0], vals[1])
            if c.func in _MPMATH:
                return _MPMATH[c.func](vals[0])
        return mpmath.mpmathify(complex(sp.N(c, digits)))


def _check_constant(c: sp.Expr, fail: Callable[[str], None], seen: dict) -> tuple:
    """One constant: real, finite, ``|c| ≤ FLOAT_MAX``, and stable under a change of the
    working precision (20 vs 40 digits). Returns its values at both precisions."""
    if c.has(sp.nan):
        fail("the constant is undefined (nan)")
    if c.has(sp.zoo, sp.oo, -sp.oo):
        fail(f"the constant {c} is infinite (e.g. tan(pi/2), log(0) or 1/0)")
    if isinstance(c, sp.Rational) and abs(c) > _FLOAT_MAX_RATIONAL:
        fail(f"the number {sp.N(c, 6)} lies outside the float range (|x| ≤ {FLOAT_MAX:.4g})")
    if c in (sp.I, -sp.I):
        fail(f"the constant {c} = sqrt(-1) is not real (complex constants are refused)")
    if isinstance(c, sp.Pow) and c.exp.is_integer is not True:
        base = seen.get(c.base)
        if base is not None and any(mpmath.re(b) < 0 for b in base):
            # real only for an integer exponent; an exponent within rounding of an integer
            # (2**(-atan(1e-184))) would pass the numeric check and be complex in SymPy
            fail(f"the constant {_short(c)} raises the negative number {_short(c.base)} to "
                 f"the non-integer power {_short(c.exp)}: not real (complex constants are "
                 "refused)")
    values = []
    for k, digits in enumerate(_CHECK_DIGITS):
        try:
            v = _mp_value(c, digits, k, seen)
        except (TypeError, ValueError, ArithmeticError, RecursionError):
            fail(f"the constant {_short(c)} cannot be evaluated to a number")
        if isinstance(v, mpmath.mpc):
            if v.imag != 0:
                fail(f"the constant {_short(c)} = {mpmath.nstr(v, 6)} is not real (complex "
                     "constants are refused)")
            v = v.real
        if not mpmath.isfinite(v) or abs(v) > FLOAT_MAX:
            fail(f"the constant {_short(c)} = {mpmath.nstr(v, 6)} lies outside the float "
                 f"range (|x| ≤ {FLOAT_MAX:.4g})")
        values.append(v)
    lo, hi = values
    if abs(lo - hi) > 1e-12 * max(abs(lo), abs(hi)) and abs(lo - hi) > 1e-300:
        fail(f"the constant {_short(c)} cannot be evaluated reliably (its value changes with "
             f"the working precision: {mpmath.nstr(lo, 6)} vs {mpmath.nstr(hi, 6)}; a zero "
             "up to rounding?)")
    return lo, hi


def _short(c: sp.Expr, limit: int = 60) -> str:
    text = str(c)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"


def _symbol_table(variables, real: bool) -> dict[str, sp.Symbol]:
    if isinstance(variables, Mapping):
        return dict(variables)
    return {name: sp.Symbol(name, real=real) for name in variables}


def _check_sympy_expr(expr, variables, allow_free, what):
    """Accept a SymPy expression built by the caller only if the string grammar could have
    written it: its free symbols must be allowed (a symbol named like an allowed variable
    becomes that variable: ``Symbol("h1")`` without ``real=True`` is another symbol than
    the model's ``h1``), and its nodes must be those of the grammar (:func:`_check_sympy_nodes`:
    ``+ * **``, numbers, ``pi``, ``E``, symbols and the functions of :data:`FUNCTIONS`). An
    unknown function ``g(h1)``, an ``Integral``, ``Derivative``, ``Sum``, a non-smooth
    function (:data:`NON_SMOOTH`), ``nan``, ``oo``, ``zoo`` or ``I`` is refused."""
    _check_sympy_nodes(expr, what)
    table = _symbol_table(variables, True)
    for s in expr.free_symbols:
        if s.name not in table and not allow_free:
            raise ExpressionError(
                f"{what}: unknown variable {s.name!r}; allowed: {sorted(table) or 'none'}",
                param=what)
    swap = {s: table[s.name] for s in expr.free_symbols
            if s.name in table and s != table[s.name]}
    if swap:
        expr = expr.xreplace(swap)
    return expr


_NON_SMOOTH_TYPES = (sp.Abs, sp.sign, sp.floor, sp.ceiling, sp.Heaviside, sp.Piecewise,
                     sp.Max, sp.Min, sp.DiracDelta, sp.frac, sp.re, sp.im)
#: The SymPy functions the grammar can produce (``sqrt`` is a power, ``sigmoid`` and
#: ``softplus`` are written with ``exp`` and ``log``).
_SYMPY_FUNCTIONS = frozenset(f for f, _ in FUNCTIONS.values() if isinstance(f, type))
_SYMPY_CONSTANTS = (sp.pi, sp.E)


def distinct_nodes(expr: sp.Basic, children) -> Iterator[sp.Basic]:
    """Each distinct node of the tree ``expr`` once, depth first and iteratively (no
    recursion limit); ``children(node)`` gives the nodes to visit below ``node``."""
    stack, seen = [expr], set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        yield node
        stack.extend(children(node))


def _grammar_children(node: sp.Basic) -> tuple:
    """The arguments the string grammar can nest: those of ``+ * **`` and its functions."""
    if isinstance(node, (sp.Add, sp.Mul, sp.Pow)) or type(node) in _SYMPY_FUNCTIONS:
        return node.args
    return ()


def _check_sympy_nodes(expr: sp.Basic, what: str) -> None:
    """Every node of ``expr`` must be one the string grammar produces, else
    :class:`ExpressionError` naming ``what`` and the construct (iterative, each distinct
    node once)."""
    def fail(msg: str):
        raise ExpressionError(f"{what}: {msg} (a SymPy expression is held to the grammar of "
                              f"string expressions: numbers, pi, E, symbols, + - * / ** and "
                              f"the functions {sorted(FUNCTIONS)})", param=what)

    for node in distinct_nodes(expr, _grammar_children):
        if isinstance(node, (sp.Add, sp.Mul, sp.Pow)):
            continue
        elif isinstance(node, sp.Symbol):
            if type(node) is not sp.Symbol:       # Dummy, Wild, ModelRef, ...
                fail(f"the symbol {node} is a {type(node).__name__}, not a plain Symbol")
        elif node in (sp.nan, sp.zoo, sp.oo, -sp.oo):
            fail(f"the constant {node} is not a finite number")
        elif node is sp.I:
            fail(f"the constant {node} = sqrt(-1) is not real (complex constants are refused)")
        elif isinstance(node, sp.Number):
            if not node.is_finite:                 # pragma: no cover (nan/oo are singletons)
                fail(f"the number {node} is not finite")
        elif node in _SYMPY_CONSTANTS:
            pass
        elif type(node) in _SYMPY_FUNCTIONS:
            continue
        elif isinstance(node, _NON_SMOOTH_TYPES):
            fail(f"function {type(node).__name__!r} is not smooth (the theory needs smooth "
                 f"functions): {_short(node)}")
        elif isinstance(node, sp.Expr) and isinstance(node, sp.core.function.AppliedUndef):
            fail(f"unknown function {type(node).__name__!r} in {_short(node)}")
        else:
            fail(f"{type(node).__name__} is not allowed: {_short(node)}")


class _Builder:
    def __init__(self, symbols, allow_free, what, text, real, source):
        self.symbols = symbols
        self.allow_free = allow_free
        self.what = what
        self.text = text
        self.real = real
        self.source = source
        self.seen: dict[sp.Basic, None] = {}  # constants already checked

    def fail(self, msg: str) -> None:
        _fail(self.what, msg, self.text)

    def build(self, node: ast.AST, depth: int = 0) -> sp.Expr:
        if depth > MAX_DEPTH:
            self.fail(f"nested more than {MAX_DEPTH} levels deep")
        return self._build(node, depth + 1)

    def _build(self, node: ast.AST, depth: int) -> sp.Expr:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                self.fail(f"only numeric constants are allowed, not {node.value!r}")
            return self.literal(node)
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
            left, right = self.checked(left), self.checked(right)
            if right.is_number:
                if abs(complex(right)) > MAX_NUMERIC_EXPONENT:
                    self.fail(f"numeric exponent {right} exceeds {MAX_NUMERIC_EXPONENT}")
                if (left.is_number and isinstance(right, sp.Rational) and not right.is_integer
                        and max(abs(right.p), right.q) > MAX_ROOT_EXPONENT_PARTS):
                    # SymPy takes exact roots of numbers (factoring the base, raising to the
                    # numerator): 1e-197**7.8e-15 ran out of 24 GB
                    self.fail(f"the number {_short_number(left)}**{right} is a fractional "
                              f"power with numerator or denominator above "
                              f"{MAX_ROOT_EXPONENT_PARTS:g}, which is evaluated exactly; "
                              "write its value as a decimal")
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
            args = [self.checked(self.build(a, depth)) for a in node.args]
            if all(a.is_number for a in args) and not all(_exact_argument(a) for a in args):
                # f(c) for a composite constant c (sin(sin(1))): SymPy's automatic
                # evaluation would evaluate c numerically again at every level (quadratic
                # in the nesting, 6 s for 95 levels) and can simplify nothing; keep f(c)
                with sp.evaluate(False):
                    return func(*args)
            return func(*args)
        if isinstance(node, ast.Tuple):
            self.fail("a comma outside a function's arguments is not allowed (one "
                      "expression per value)")
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
        parts = [self.checked(self.build(node, depth))]
        for op, operand in reversed(ops):
            value = self.checked(self.build(operand, depth))
            if isinstance(op, ast.Sub):
                value = -value
            elif isinstance(op, ast.Div):
                if value == 0:
                    self.fail("division by zero")
                value = 1 / value
            parts.append(value)
        # one n-ary Add/Mul: adding term by term re-sorts the growing sum each time
        return sp.Add(*parts) if additive else sp.Mul(*parts)

    def checked(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` after the constant check if it is a number: SymPy's automatic
        evaluation of ``f(c)`` may evaluate ``c`` numerically (``sin(exp(exp(exp(10))))``
        overflowed mpmath), so no operation is applied to an unchecked constant."""
        if expr.is_number:
            _check_constants(expr, self.fail, self.seen)
        return expr

    def literal(self, node: ast.Constant) -> sp.Expr:
        """A numeric literal, exact as written (0.3 -> 3/10), within the float range."""
        value = node.value
        written = ast.get_source_segment(self.source, node) or repr(value)
        if not _DECIMAL.match(written):  # 0x10, 0o7, 0b1, 1_000: not in the grammar
            self.fail(f"the number {written!r} is not a plain decimal literal (write digits, "
                      "an optional decimal point and exponent, e.g. 16, 0.5, 1e-3)")
        if isinstance(value, int):
            if abs(value) > FLOAT_MAX:
                self.fail(f"the integer literal {_short(sp.Integer(value), 30)} has "
                          f"{len(str(abs(value)))} digits and lies outside the float range "
                          f"(|x| ≤ {FLOAT_MAX:.4g})")
            return sp.Integer(value)
        if not np.isfinite(value):
            self.fail(f"the literal {written} lies outside the float range "
                      f"(|x| ≤ {FLOAT_MAX:.4g}; it would read as {value})")
        if value == 0 and any(ch in "123456789" for ch in written.lower().split("e")[0]):
            self.fail(f"the literal {written} is below the smallest float "
                      f"({sys.float_info.min * sys.float_info.epsilon:.4g}) and would read as 0")
        return sp.Rational(repr(value))

    def name(self, ident: str) -> sp.Expr:
        if ident in self.symbols:
            return self.symbols[ident]
        if ident in CONSTANTS:
            return CONSTANTS[ident]
        if ident in NON_SMOOTH:
            self.fail(f"{ident!r} is not smooth")
        if ident in FUNCTIONS:
            self.fail(f"function {ident!r} used without arguments")
        if ident.lower() in _NUMBER_LIKE or ident == "I":
            self.fail(f"{ident!r} looks like a number or constant and is not allowed as a name "
                      "(non-finite and complex values are refused)")
        if self.allow_free and _IDENT.match(ident) and not ident.endswith("_"):
            sym = sp.Symbol(ident, real=self.real)
            self.symbols[ident] = sym
            return sym
        allowed = sorted(self.symbols)
        self.fail(f"unknown variable {ident!r}; allowed: {allowed or 'none'}")
        raise AssertionError  # unreachable


def compile_time_function(text: str | sp.Expr | int | float, name: str = "input",
                          variable: str = "t") -> Callable[[ArrayLike], float | np.ndarray]:
    """Compile a safe expression in ``t`` (e.g. an input ``u(t) = sin(2*t)``) to a numeric
    callable that never returns a non-finite or complex value silently.

    ``text`` is parsed by :func:`parse_expression` (only ``t`` may appear) and lambdified
    with numpy. The callable accepts a real scalar or array ``t`` and returns a float (or a
    float array of the shape of ``t``). Where the value is not finite (``1/t`` at ``t = 0``,
    ``exp(t)`` beyond ``t ≈ 709.78``) or not real (``sqrt(t - 1)`` for ``t < 1``, which
    numpy reports as ``nan``), it raises :class:`ExpressionError` (``param = name``) naming
    the first offending time; a complex or non-finite ``t`` is refused the same way.
    """
    t = sp.Symbol(variable, real=True)
    expr = parse_expression(text, {variable: t}, what=name)
    fn = sp.lambdify(t, expr, ["scipy", "numpy"])  # scipy: erf on arrays

    def u(tt):
        arr = np.asarray(tt)
        if np.iscomplexobj(arr) or not (np.issubdtype(arr.dtype, np.number)
                                        or arr.dtype == bool):
            raise ExpressionError(f"{name}: the time {variable} must be real, got {tt!r}",
                                  param=name)
        x = arr.astype(float)
        if not np.all(np.isfinite(x)):
            raise ExpressionError(f"{name}: the time {variable} must be finite, got {tt!r}",
                                  param=name)
        with np.errstate(all="ignore"):
            try:
                val = fn(x if x.ndim else np.float64(x))
            except (ArithmeticError, ValueError, TypeError) as exc:
                raise ExpressionError(f"{name} = {expr} cannot be evaluated at "
                                      f"{variable} = {tt!r}: {exc}", param=name) from None
        val = np.asarray(val)
        if np.iscomplexobj(val):
            if np.any(val.imag != 0):
                raise ExpressionError(f"{name} = {expr} is not real at {variable} = {tt!r}",
                                      param=name)
            val = val.real
        val = np.broadcast_to(val.astype(float), x.shape)
        bad = ~np.isfinite(val)
        if bad.any():
            where = float(x[bad][0]) if x.ndim else float(x)
            raise ExpressionError(
                f"{name} = {expr} is not a finite real number at {variable} = {where:g} "
                "(division by zero, overflow, or a complex value such as the square root of "
                "a negative number)", param=name)
        return float(val) if not x.ndim else np.array(val)

    u.expr = expr  # type: ignore[attr-defined]
    return u
