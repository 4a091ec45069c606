"""Self-contained LaTeX derivation documents for an SRNN's response theory.

The document states the SDE, the generator and perturbation operators of this model, its
stationary density with the symbolic check ``L0* p0 = 0``, the conjugate variables, the
Volterra series with its conventions (docs/theory.md §4), every kernel up to the requested order
in operator form and — where the exact backend applies — in closed form.
The output is deterministic (no dates), so committed documents can be checked for
staleness by regenerating them. It fits the page (tests/test_latex_fit.py): decimals print
as decimals, ``h1..hn`` in natural order, sums break between terms, long preactivations are
named ``z_i``, and matrices too wide for a line are written row by row.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path

import numpy as np
import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

from ..density import stationary_density
from ..errors import (
    DivergentAverageError,
    NotApplicableError,
    ResourceLimitError,
    VolterraSymError,
)
from ..hierarchy import ResponseHierarchy
from ..model import SRNN
from .atomic import write_bytes_atomic

__all__ = ["derivation_document", "compile_pdf", "LatexUnavailableError", "overfull_boxes",
           "matrix_rows", "split_lines",
           "decimal_text", "tex"]


class LatexUnavailableError(NotApplicableError, RuntimeError):
    """No ``pdflatex`` on this machine."""


class LatexError(VolterraSymError, RuntimeError):
    """``pdflatex`` failed on the document (the message ends with its log)."""


# ---------------------------------------------------------------------- printing
# Documents must fit the page: numbers that came from decimals print as decimals, the state
# variables in natural order (h1, h2, …, h10), and long sums break across lines between
# terms (tests/test_latex_fit.py compiles every committed derivation and fails on an
# overfull box wider than 10 pt).

#: a line of a display holds about this many visible characters (10 pt, 2 cm margins)
WIDTH = 78
_STATE = re.compile(r"h(\d+)")
_NATURAL = re.compile(r"h_nat(\d{4})")


def decimal_text(r: sp.Rational, max_places: int = 6) -> str | None:
    """``r`` as a terminating decimal (``2791/10000 -> "0.2791"``, ``3/2 -> "1.5"``) when
    its denominator is ``2^a 5^b`` with ``max(a, b) ≤ max_places``, else ``None``."""
    q, places = int(r.q), 0
    for base in (2, 5):
        k = 0
        while q % base == 0:
            q //= base
            k += 1
        places = max(places, k)
    if q != 1 or places > max_places:
        return None
    return format(Decimal(int(r.p)) / Decimal(int(r.q)), "f")


class DerivationPrinter(LatexPrinter):
    """SymPy's LaTeX printer with decimal coefficients and ``h_nat0007 -> h_{7}``."""

    def _print_Rational(self, expr):
        d = decimal_text(expr)
        return super()._print_Rational(expr) if d is None or expr.is_Integer else d

    def _print_Mul(self, expr):
        c, rest = expr.as_coeff_Mul()
        if (isinstance(c, sp.Rational) and not c.is_Integer and rest is not sp.S.One
                and decimal_text(c) is not None):
            body = decimal_text(abs(c)) + " " + self.parenthesize(rest, PRECEDENCE["Mul"])
            return "- " + body if c < 0 else body
        return super()._print_Mul(expr)

    def _print_Symbol(self, expr, style="plain"):
        m = _NATURAL.fullmatch(expr.name)
        return f"h_{{{int(m[1])}}}" if m else super()._print_Symbol(expr, style=style)


def natural(expr):
    """``expr`` with ``h1..hn`` renamed so that SymPy's ordering is the natural one."""
    expr = sp.sympify(expr)
    table = {x: sp.Symbol(f"h_nat{int(m[1]):04d}") for x in expr.free_symbols
             if (m := _STATE.fullmatch(x.name))}
    return expr.xreplace(table) if table else expr


def tex(expr, digits: int = 6, **settings) -> str:
    """LaTeX of ``expr`` as the derivation prints it: decimals, natural order, floating-point
    numbers to ``digits`` significant digits. Objects that are not SymPy expressions but
    print themselves (a ``latex()`` method, e.g. a composite kernel) print as they do."""
    if not isinstance(expr, sp.Basic):
        if callable(getattr(expr, "latex", None)):
            return expr.latex()
        expr = sp.sympify(expr)
    floats = expr.atoms(sp.Float)
    if floats:
        expr = expr.xreplace({x: sp.Float(x, digits) for x in floats})
    return DerivationPrinter(settings).doprint(natural(expr))


def _visible(s: str) -> float:
    """A rough count of the glyphs ``s`` shows (commands one glyph, scripts smaller)."""
    s = re.sub(r"\\(left|right|quad|qquad|,|;|!|mathcal|mathrm|operatorname)", "", s)
    s = re.sub(r"\\(tanh|log|exp|cosh|sinh|tan|sin|cos)", "xxxx", s)
    s = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}",
               lambda m: "x" * max(len(m[1]), len(m[2])), s)
    s = re.sub(r"\\[a-zA-Z]+", "x", s)
    scripts = len(re.findall(r"[_^]\{[^{}]*\}", s))
    s = re.sub(r"[{}_^ ]", "", s)
    return len(s) - 0.3 * scripts


def _pieces(expr) -> list[str]:
    """The signed terms of a sum, printed (``["a", "+ b", "- c"]``)."""
    pr = DerivationPrinter({})
    e = sp.sympify(expr)
    e = natural(e.xreplace({x: sp.Float(x, 6) for x in e.atoms(sp.Float)}))
    terms = pr._as_ordered_terms(e, order=None) if isinstance(e, sp.Add) else [e]
    out = []
    for i, t in enumerate(terms):
        if i and t.could_extract_minus_sign():
            out.append("- " + pr._print(-t))
        else:
            out.append(("+ " if i else "") + pr._print(t))
    return out


def _pack(pieces: list[str], first: float, width: float) -> list[str]:
    """Greedy lines: the first of at most ``first`` visible characters, the others of at
    most ``width`` (a piece longer than that stands alone)."""
    lines: list[str] = []
    cur: list[str] = []
    used = 0.0
    for piece in pieces:
        w = _visible(piece)
        if cur and used + w > (width if lines else first):
            lines.append(" ".join(cur))
            cur, used = [], 0.0
        cur.append(piece)
        used += w + 1
    lines.append(" ".join(cur))
    return lines


def split_lines(lhs: str, pieces: list[str], width: float = WIDTH) -> list[str]:
    r"""``lhs &= …`` rows of an ``align*``, continued on ``&\quad …`` rows as needed."""
    lines = _pack(pieces, width - _visible(lhs) - 2, width - 4)
    return [f"{lhs} &= {lines[0]}"] + [rf"&\quad {ln}" for ln in lines[1:]]


def _m(M: sp.Matrix) -> str:
    r"""A matrix; a multiple of the identity as ``c\,I`` and a diagonal one as ``diag``."""
    M = sp.Matrix(M)
    if M.is_square and M.rows > 1 and M.is_diagonal():
        d = [M[i, i] for i in range(M.rows)]
        if all(x == d[0] for x in d):
            return (tex(d[0]) + r"\,") * (d[0] != 1) + rf"I_{{{M.rows}}}"
        return r"\operatorname{diag}\left(" + ", ".join(tex(x) for x in d) + r"\right)"
    if M.cols == 1 and M.rows > 1:
        return r"\left(" + ", ".join(tex(x) for x in M) + r"\right)^{\top}"
    body = tex(M, mat_delim="(")
    # wide matrices: half the column separation (5 pt by default)
    return body if M.cols < 6 else r"{\setlength{\arraycolsep}{2.5pt}" + body + "}"


def _matrix_width(M: sp.Matrix) -> float:
    """Visible width of :func:`_m`'s matrix (widest row, separators, delimiters)."""
    M = sp.Matrix(M)
    if M.cols == 1 or (M.is_square and M.is_diagonal()):
        return _visible(_m(M))
    sep = 0.8 if M.cols >= 6 else 2.0          # column separation (see _m) in glyphs
    return max(sum(_visible(tex(x)) for x in M.row(i)) for i in range(M.rows)) \
        + sep * M.cols + 3


def matrix_rows(label: str, M, width: float = WIDTH) -> list[str]:
    r"""``label &= matrix`` as ``align*`` rows; a matrix too wide for the line is written
    row by row, ``label_{i\cdot} = (…)``, each row broken between entries as needed."""
    M = sp.Matrix(M)
    if _matrix_width(M) <= width + 6 - _visible(label) - 2:   # digits are narrow glyphs
        return [f"{label} &= {_m(M)}"]

    def bracketed(entries: list[str], close: str) -> list[str]:
        entries = ["{" + e + "}" if e.startswith("-") else e for e in entries]  # unary minus
        pieces = [e + "," for e in entries[:-1]] + [entries[-1]]
        pieces[0] = r"\bigl(" + pieces[0]
        pieces[-1] = pieces[-1] + close
        return pieces

    width *= 1.25               # numbers and commas are narrower than the average glyph
    if M.cols == 1:                                     # a column: one broken row, ^T
        return split_lines(label, bracketed([tex(x) for x in M], r"\bigr)^{\top}"), width)
    name = label.split("=")[0].strip()
    rows = [rf"{label} &= \text{{by rows:}}"]
    for i in range(M.rows):
        rows += split_lines(rf"{name}_{{{i + 1}\cdot}}",
                            bracketed([tex(x) for x in M.row(i)], r"\bigr)"), width)
    return rows


def _eq(body: str) -> str:
    return "\\begin{equation*}\n" + body + "\n\\end{equation*}\n"


def _align(lines: list[str]) -> str:
    return "\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}\n"


def _dmath(lhs: str, rhs_expr: sp.Expr, digits: int = 6) -> str:
    """``lhs = rhs`` with the right side broken between terms over as many lines as it
    needs; floats are shown to ``digits`` significant digits."""
    rhs_expr = sp.sympify(rhs_expr)
    rhs_expr = rhs_expr.xreplace({x: sp.Float(x, digits) for x in rhs_expr.atoms(sp.Float)})
    if isinstance(rhs_expr, sp.Add):
        rhs_expr = sp.expand(rhs_expr)
    rows = split_lines(lhs, _pieces(rhs_expr))
    if len(rows) == 1:
        return _eq(rows[0].replace(" &= ", " = ", 1))
    return _align(rows)


def _short_args(expr, z: list[sp.Symbol], pre: list[sp.Expr]):
    """``expr`` with every function argument equal to ``±(Wh+b)_i`` written ``±z_i``."""
    table = {}
    for zi, p in zip(z, pre, strict=True):
        table[sp.expand(p)] = zi
        table[sp.expand(-p)] = -zi

    def hit(e):
        return isinstance(e, sp.Function) and len(e.args) == 1 and \
            sp.expand(e.args[0]) in table

    return expr.replace(hit, lambda e: e.func(table[sp.expand(e.args[0])]))


def _generator_rows(model: SRNN, z, pre) -> list[str]:
    """``L0 g`` of this model, one term per derivative of ``g``, broken over lines."""
    from ..operators import generator

    g = sp.Function("g")(*model.h)
    expr = sp.expand(generator(model, g))
    pieces = []
    ders = sorted(expr.atoms(sp.Derivative),
                  key=lambda d: (len(d.variables), [model.h.index(v) for v in d.variables]))
    for k, d in enumerate(ders):
        coeff = expr.coeff(d)
        if z:
            coeff = _short_args(coeff, z, pre)
        idx = [model.h.index(v) + 1 for v in d.variables]
        dtex = (rf"\partial_{{{idx[0]}}}^{{2}} g" if len(idx) == 2 and idx[0] == idx[1]
                else "".join(rf"\partial_{{{i}}}" for i in idx) + " g")
        neg = coeff.could_extract_minus_sign() and not isinstance(coeff, sp.Add)
        c = -coeff if neg else coeff
        ctex = "" if c == 1 else (r"\left(" + tex(c) + r"\right)" if isinstance(c, sp.Add)
                                  else tex(c))
        sign = "- " if neg else ("+ " if k else "")
        pieces.append(f"{sign}{ctex} {dtex}".replace("  ", " "))
    if expr.has(g) and not isinstance(expr, sp.Add | sp.Mul | sp.Derivative):
        pieces.append(tex(expr))
    return split_lines(r"\mathcal{L}_0 g", pieces or ["0"])


def derivation_document(model: SRNN, order: int, observable: str | sp.Expr | None = None,
                        *, command: str | None = None, closed_forms: bool = True,
                        features: int | None = None) -> str:
    """The derivation of ``model``'s response kernels up to ``order`` as LaTeX source;
    with ``features = degree`` also the response functional on the path signature
    (docs/theory.md §5) built from the short-lag coefficients of total degree ≤ ``degree``."""
    hier = ResponseHierarchy(model, observable, order)
    f = hier.f
    dens = stationary_density(model)
    n, m = model.n, model.m
    out: list[str] = []
    out.append(_preamble(model, command))

    # ------------------------------------------------------------------ model
    out.append("\\section{The model}\n")
    out.append("The stochastic recurrent network is the It\\^o SDE\n")
    out.append(_eq(model.latex_sde() + r",\qquad y_t = f(h_t)"))
    out.append(f"with state $h\\in\\mathbb{{R}}^{{{n}}}$, input $u(t)\\in\\mathbb{{R}}^{{{m}}}$ "
               f"and Brownian motion $B\\in\\mathbb{{R}}^{{{model.r}}}$. The parameters are\n")
    params = [(r"\Gamma", model.Gamma), ("W", model.W), ("b", model.b), ("C", model.C),
              (r"\sigma", model.sigma), (r"D = \sigma\sigma^\top", model.D)]
    if n <= 3:
        out.append(_align([f"{a} &= {_m(A)}, & {c} &= {_m(B)}"
                           for (a, A), (c, B) in zip(params[::2], params[1::2], strict=True)]))
    else:
        out.append(_align([row for a, A in params for row in matrix_rows(a, A)]))
    # long preactivations are named z_i = (Wh+b)_i so that every line fits the page
    pre = list(model.preactivation) if n >= 4 and not model.is_linear else []
    z = [sp.Symbol(f"z_{i + 1}") for i in range(len(pre))]
    if pre:
        out.append("With the preactivations $z = Wh + b$,\n")
        out.append(_align([row for i in range(n)
                           for row in split_lines(f"z_{{{i + 1}}}", _pieces(pre[i]))]))
    out.append("the drift $\\varphi(h) = -\\Gamma h + a(Wh+b)$ is\n")
    out.append(_align([row for i in range(n) for row in split_lines(
        rf"\varphi_{{{i + 1}}}(h)",
        _pieces(_short_args(model.drift[i], z, pre) if pre else model.drift[i]))]))
    out.append(f"The observable is $f(h) = {tex(f)}$.\n")

    # ------------------------------------------------------------------ operators
    out.append("\\section{Operators}\n")
    out.append("The generator of the unperturbed ($u=0$) dynamics acts on functions as\n")
    g = sp.Function("g")(*model.h)
    from ..operators import perturbation

    out.append(_eq(r"\mathcal{L}_0 g = \sum_i \varphi_i \partial_i g + \tfrac12 \sum_{ij} "
                   r"D_{ij}\partial_i\partial_j g ,"))
    out.append("here, with $\\partial_i = \\partial/\\partial h_i$,\n")
    out.append(_align(_generator_rows(model, z, pre)))
    out.append("and its adjoint, the Fokker--Planck operator, on densities as\n"
               "$\\mathcal{L}_0^* p = -\\sum_i \\partial_i(\\varphi_i p) + \\tfrac12 "
               "\\sum_{ij} \\partial_i\\partial_j(D_{ij} p)$.\n"
               "Input channel $k$ acts through the perturbation operator "
               "$\\mathcal{L}_k g = \\sum_i C_{ik}\\partial_i g$:\n")
    out.append(_align([row for k in range(m) for row in split_lines(
        rf"\mathcal{{L}}_{{{k + 1}}} g", _perturbation_pieces(model, perturbation(model, k, g)))]))
    out.append(_kick_operators(model, order, g))
    out.append("The semigroup $P_s = e^{s\\mathcal{L}_0}$ gives "
               "$(P_s g)(x) = \\mathbb{E}[g(h_s)\\mid h_0 = x]$.\n")

    # ------------------------------------------------------------------ density
    out.append("\\section{Stationary density}\n")
    if dens.has_closed_form:
        out.append(_stationary_section(model, dens))
    else:
        out.append("This model has no closed-form stationary density (nonlinear, $n>1$, "
                   "not a gradient system with isotropic noise): $p_0$ solves "
                   "$\\mathcal{L}_0^* p_0 = 0$ numerically.\n")

    # ------------------------------------------------------------------ series
    out.append("\\section{The Volterra series}\n")
    out.append(_SERIES_TEXT)
    if _kicks_matter(model):
        out.append(_COMPOSITE_TEXT)
    if getattr(dens, "kind", "") == "one_dim_noisy" and model.is_numeric:
        mean = dens.expectation_numpy(sp.lambdify(model.h[0], f, "numpy"))
        out.append(_eq(r"\langle f\rangle_0 = " + sp.latex(sp.Float(mean, 12))
                       + r"\quad\text{(Simpson on the tabulated $p_0$)}"))
    elif dens.has_closed_form and (model.is_linear or model.n == 1) and model.is_numeric:
        mean = dens.expectation(f)
        if mean.is_number and not mean.has(sp.Integral):
            out.append(_eq(r"\langle f\rangle_0 = " + tex(_round(mean))))
        else:
            # no closed form of the average (e.g. sin(h1) under a Gaussian)
            out.append(_numeric_mean(hier))
    elif model.is_numeric and not model.features:
        # no closed-form p0 (nonlinear, n > 1): the numeric route's value and error
        out.append(_numeric_mean(hier))

    # ------------------------------------------------------------------ kernels
    out.append("\\section{Response kernels}\n")
    out.append("The recursion $g_0 = f$, $g_j = \\mathcal{L}_{k_j} P_{\\sigma_j-\\sigma_{j-1}}"
               " g_{j-1}$ shares every prefix of the channel tuple; the hierarchy up to "
               f"order {order} has {len(hier.recursion_nodes)} recursion nodes "
               f"($\\sum_{{j\\le {order}}} {m}^j$).\n")
    from ..density import closed_form_is_cheap, supports

    exact = closed_forms and closed_form_is_cheap(model, f)
    degree = sp.Poly(f, *model.h).total_degree() if exact else None
    for N in range(1, order + 1):
        out.append(f"\\subsection*{{Order {N}}}\n")
        for K in hier.kernels(N):
            out.append(_eq(tex(K) + " = " + tex(K.operator_form()) + _sorted_note(N)))
            if exact and N <= degree:       # beyond the degree of f: 0 (noted below)
                cf = K.doit()
                out.append(_dmath(tex(K), cf) if cf != 0 else _eq(tex(K) + " = 0"))
        if exact and N > degree:
            out.append(f"Every kernel of order {N} vanishes: each $\\mathcal{{L}}_k$ lowers "
                       "the degree of a polynomial by one and $P_s$ preserves it.\n")
    if not exact and closed_forms and supports(model, f):
        out.append("The kernels have closed forms in matrix exponentials (linear model, "
                   "polynomial observable); they are long at this dimension and degree and "
                   "are not printed: the exact backend evaluates them "
                   "(\\texttt{method=\"exact\"}).\n")
    elif not exact:
        out.append("No closed form: the kernels are evaluated numerically "
                   "(grid/spectral or short-lag backends).\n")
    if features is not None:
        from ..features.functional import response_functional_latex

        try:
            functional = hier.response_functional(features)
        except ResourceLimitError as exc:  # name this document's knobs, not the backend's
            option = "lower the features= degree (--features) or the order (--order)"
            what = str(exc).removesuffix(f"; {exc.option}")
            raise ResourceLimitError(f"the response features: {what}; {option}",
                                     estimate=exc.estimate, budget=exc.budget, unit=exc.unit,
                                     option=option) from None
        out.append("\\section{Response features}\n")
        out.append(response_functional_latex(functional))
        out.append(functional_accuracy_latex(functional))
    out.append("\\end{document}\n")
    return "".join(out)


#: the times at which ``derive --features`` states the error bound of the functional
FEATURE_ERROR_TIMES = (0.05, 0.1, 0.25, 0.5, 1.0)


def _sci(x: float) -> str:
    """``x`` to 2 significant digits for a table cell; ``∞`` (no bound), ``unknown`` (NaN)."""
    if math.isnan(x):
        return "unknown"
    if math.isinf(x):
        return "$\\infty$"
    return "$" + sp.latex(sp.Float(x, 2)) + "$" if x else "$0$"


#: seconds (estimated) the Galerkin route may take for a derivation's ``<f>_0``: the number
#: is a courtesy of a symbolic document (a 20-unit network's took 80 s at the route's own
#: budget)
MEAN_SECONDS = 10.0


def _numeric_mean(hier) -> str:
    """``<f>_0`` from the numeric route ``auto`` chooses, named, with its error where the
    route gives one (a divergent average and a refusal are said as such; the Galerkin
    route within :data:`MEAN_SECONDS`)."""
    galerkin = False
    try:
        route = hier.route("auto")
        galerkin = route.name == "galerkin"
        options = {"time_budget": MEAN_SECONDS} if galerkin else {}
        est = hier.mean0(route.name, **options)
    except DivergentAverageError:
        return _eq(r"\langle f\rangle_0 = \infty\quad\text{($f$ grows faster than the "
                   r"Gaussian tail of $p_0$ decays: no average exists)}")
    except ResourceLimitError as exc:
        if not galerkin:
            return ("$\\langle f\\rangle_0$ has no closed form here and no numeric route "
                    f"gives it ({type(exc).__name__}).\n")
        return ("$\\langle f\\rangle_0$ has no closed form here; the Galerkin route would "
                f"take more than the {MEAN_SECONDS:g}~s a derivation gives it "
                "(in Python \\texttt{hier.mean0()} computes it within the route's own "
                "time budget).\n")
    except VolterraSymError as exc:
        return ("$\\langle f\\rangle_0$ has no closed form here and no numeric route gives "
                f"it ({type(exc).__name__}).\n")
    value, digits, err = float(est), 12, ""
    if est.error is not None:
        e = float(est.error)
        if e > 0 and value != 0:
            # digits down to about a hundredth of the error; the rounding of the value is
            # added to the error, which is rounded up to two digits (never under-stated)
            digits = int(min(12, max(2, math.floor(math.log10(abs(value)))
                                     - math.floor(math.log10(e)) + 3)))
            e += 0.5 * 10.0 ** (math.floor(math.log10(abs(value))) - digits + 1)
            unit = 10.0 ** (math.floor(math.log10(e)) - 1)
            e = math.ceil(e / unit * (1 - 1e-12)) * unit
        err = r" \pm " + sp.latex(sp.Float(e, 2))
    return _eq(r"\langle f\rangle_0 \approx " + sp.latex(sp.Float(value, digits)) + err
               + r"\quad\text{(no closed form; route: " + est.method + ")}")


def functional_accuracy_latex(functional, times=FEATURE_ERROR_TIMES) -> str:
    r"""The error bound of the response functional at ``times`` as a LaTeX paragraph and
    table: per order ``N`` the Taylor route's estimate ``E_N(t)`` of the truncated kernels
    for every lag with gaps ``≤ t`` (:meth:`~volterra_sym.features.functional.
    ResponseFunctional.kernel_error`: truncation plus the coefficients' rounding and two
    standard errors) and the bound :meth:`~volterra_sym.features.functional.
    ResponseFunctional.error_bound` on ``|T_N(t) − <ℓ_N(t), S>|`` for every input with
    ``|u_k| ≤ 1`` (the bound is monotone in ``|u|``, so the unit input gives it). ``∞``
    beyond the estimated radius (no bound), "unknown" where no estimate exists — a
    functional built from raw coefficients has none, and says so instead of a table."""
    F = functional
    t = [float(x) for x in times]
    head = ("\\paragraph{Accuracy.} The functional integrates the Taylor kernels truncated "
            f"at degree {F.degree} exactly (up to the signature's own quadrature, not "
            "included below); its coefficients are shown to 6 significant digits. ")
    try:
        E = np.asarray(F.kernel_error(np.asarray(t)), dtype=float)

        def unit(s):
            return np.ones(F.input_m) if np.ndim(s) == 0 else np.ones((np.size(s), F.input_m))
        bound = np.asarray(F.error_bound(unit, np.asarray(t)), dtype=float)
    except VolterraSymError as exc:
        return head + ("No error bound is available for this functional "
                       f"({type(exc).__name__}: {_tex_text(str(exc))[:200]}): the error of "
                       "the coefficients above is unknown.\n")
    route = str(F.info.get("route", "?"))
    weight = ("U(t)^N/N!,\\quad U(t)=\\int_0^t\\sum_k|u_k(s)|\\,ds\\le "
              + (f"{F.input_m}t" if F.input_m > 1 else "t") if F.channels is None else
              "B_N(t),\\quad B_N(t)=\\sum_{(j_1,\\dots,j_r)\\models N}"
              "\\int_{0<s_r<\\dots<s_1<t}\\prod_i\\|u(s_i)\\|_1^{j_i}\\,ds")
    text = (head + "What it leaves out is bounded by the Taylor route's error estimate "
            "$E_N(t)$ of the order-$N$ kernels at every lag whose gaps are at most $t$ "
            "(truncation estimate, plus the rounding and two standard errors of the "
            "coefficients $c_{\\mathbf k,p}$; $\\infty$: $t$ beyond the estimated radius, "
            "no bound):\n"
            + _eq("\\bigl|T_N(t)-\\langle \\ell_N(t), S(X)_{0,t}\\rangle\\bigr|\\le "
                  "E_N(t)\\," + weight)
            + "The bound for every input with $|u_k(s)|\\le 1$ on each channel (an input "
            "bounded by $A$ multiplies order $N$ by $A^N$); the first row is the error "
            f"of $\\langle f\\rangle_0$ ({_tex_text(route)} stationary averages; unknown "
            "where that route states none):\n")
    cols = "l" + "r" * len(t)
    rows = ["$t$ & " + " & ".join(f"${x:g}$" for x in t) + " \\\\", "\\hline"]
    for N in range(F.order + 1):
        if N == 0:
            # the route's estimate (rounding; sampled: + standard error; NaN where p0 is
            # approximate); a 0 is a claim only of the exact Gaussian moments
            e0 = [x if (x > 0 or route == "gaussian") else math.nan for x in bound[0]]
            rows.append("$\\langle f\\rangle_0$ & " + " & ".join(_sci(x) for x in e0)
                        + " \\\\")
            continue
        rows.append(f"$E_{{{N}}}(t)$ & " + " & ".join(_sci(x) for x in E[N]) + " \\\\")
        rows.append(f"bound, $N={N}$ & " + " & ".join(_sci(x) for x in bound[N]) + " \\\\")
    return (text + "\\begin{center}\n\\begin{tabular}{" + cols + "}\n\\hline\n"
            + "\n".join(rows) + "\n\\hline\n\\end{tabular}\n\\end{center}\n")


def _tex_text(text: str) -> str:
    """Plain text safe inside a LaTeX paragraph."""
    special = {c: "\\" + c for c in "#$%&_{}"} | {
        "\\": "\\textbackslash{}", "^": "\\textasciicircum{}", "~": "\\textasciitilde{}"}
    return "".join(special.get(c, c) for c in text)


def _sorted_note(N: int) -> str:
    return (rf"\quad(\sigma_1 \le \dots \le \sigma_{N})" if N > 2 else
            (r"\quad(\sigma_1 \le \sigma_2)" if N == 2 else ""))


def _perturbation_pieces(model: SRNN, expr) -> list[str]:
    """``L_k g = Σ_i C_ik ∂_i g`` term by term, derivatives written ``∂_i g``."""
    pieces = []
    for i, h in enumerate(model.h):
        c = sp.expand(expr).coeff(sp.Derivative(sp.Function("g")(*model.h), h))
        if c == 0:
            continue
        neg = c.could_extract_minus_sign() and not isinstance(c, sp.Add)
        c = -c if neg else c
        ctex = "" if c == 1 else (r"\left(" + tex(c) + r"\right)" if isinstance(c, sp.Add)
                                  else tex(c) + " ")
        pieces.append(("- " if neg else ("+ " if pieces else "")) + ctex
                      + rf"\partial_{{{i + 1}}} g")
    return pieces or ["0"]


def _round(x):
    return sp.nsimplify(x) if x.is_Rational else sp.Float(x, 15)


def _stationary_section(model: SRNN, dens) -> str:
    parts = []
    if dens.kind == "one_dim_noisy":
        return _multiplicative_section(model, dens)
    if dens.kind == "gaussian":
        parts.append("The activation is linear, $\\varphi(h) = -Ah + b$ with\n")
        parts.append(_align(matrix_rows(r"A = \Gamma - W", model.A)))
        parts.append("$A$ is stable, and $p_0 = \\mathcal{N}(\\mu, S)$ with $\\mu = A^{-1}b$ "
                     "and the Lyapunov equation $AS + SA^\\top = D$"
                     + (" (floating point, shown to 6 significant digits)"
                        if (dens.mean.atoms(sp.Float) | dens.cov.atoms(sp.Float)) else "")
                     + ":\n")
        parts.append(_align(matrix_rows(r"\mu", dens.mean) + matrix_rows("S", dens.cov)))
    elif dens.kind == "one_dim":
        parts.append("In one dimension $p_0(h) = Z^{-1}\\exp(2U(h)/D)$ with $U' = "
                     "\\varphi$:\n")
        parts.append(_dmath("U(h)", dens.potential))
        Z = dens.normalisation
        ztxt = (f"$Z = {tex(sp.Float(Z, 15), digits=15)}$ (mpmath quadrature, 30 digits)"
                if Z.is_number else "$Z$ the normalising integral")
        parts.append(f"with {ztxt}.\n")
    else:
        parts.append("The drift is a gradient and the noise isotropic, so "
                     "$p_0 \\propto \\exp(2U/s^2)$ with $\\nabla U = \\varphi$:\n")
        parts.append(_dmath("U(h)", dens.potential))
    ver = dens.verify()
    parts.append(_align(split_lines(r"\log p_0(h)", _pieces(sp.expand(dens.log_unnormalised,
                                                                       log=False))
                                    + [r"+ \text{const}"])))
    parts.append("\\paragraph{Verification.} SymPy computes "
                 "$\\mathcal{L}_0^* p_0 / p_0$ for this $p_0$ and simplifies it to "
                 f"${tex(ver.residual)}$"
                 + (" exactly" if ver.exact else " (up to floating-point rounding)")
                 + ", so $\\mathcal{L}_0^* p_0 = 0$.\n")
    if _kicks_matter(model):
        parts.append("\\paragraph{Conjugate variables.} The input is inside the activation: "
                     "the first-order kick is $\\mathcal{L}^{(1)}_k = c_k\\cdot\\nabla$ with "
                     "$c_{ik} = a'(z_i)C_{ik}$, and integrating by parts, "
                     "$\\langle p_0, \\mathcal{L}^{(1)}_k g\\rangle = "
                     "\\mathbb{E}_0[v^{(1)}_k(h) g(h)]$ with $v^{(1)}_k = "
                     "-p_0^{-1}\\nabla\\cdot(c_k p_0) = -(\\nabla\\cdot c_k + "
                     "c_k\\cdot\\nabla\\log p_0)$ (fluctuation--dissipation), so "
                     "$K^{(1)}_k(\\sigma) = \\mathbb{E}_0[v^{(1)}_k(h_0) f(h_\\sigma)]$:\n")
        label = "v^{{(1)}}_{{{k}}}(h)"
    else:
        parts.append("\\paragraph{Conjugate variables.} With $v_k = -C_k\\cdot\\nabla\\log "
                     "p_0$, $\\langle p_0, \\mathcal{L}_k g\\rangle = \\mathbb{E}_0[v_k(h) "
                     "g(h)]$ (fluctuation--dissipation), so "
                     "$K_k(\\sigma) = \\mathbb{E}_0[v_k(h_0) f(h_\\sigma)]$:\n")
        label = "v_{{{k}}}(h)"
    parts.append(_align([row for k, v in enumerate(dens.kick_conjugate_variables())
                         for row in split_lines(label.format(k=k + 1), _pieces(v))]))
    return "".join(parts)


def _kicks_matter(model: SRNN) -> bool:
    """The input inside a nonlinear activation (docs/theory.md §10)."""
    return model.input == "activation" and not model.is_linear


def _kick_operators(model: SRNN, order: int, g) -> str:
    """The ε-ordered kick operators ``L^{(j)}_{k_1…k_j}`` of the input inside the activation
    (docs/theory.md §10), one per multiset of channels, ``j ≤ order``."""
    if not _kicks_matter(model):
        return ""
    import itertools

    from ..operators import perturbation_j

    lines = []
    for j in range(1, order + 1):
        for ks in itertools.combinations_with_replacement(range(model.m), j):
            sub = "".join(str(k + 1) for k in ks)
            lines.append(rf"\mathcal{{L}}^{{({j})}}_{{{sub}}} g &= "
                         + sp.latex(perturbation_j(model, ks, g)))
    return ("The input enters inside the activation, $a(Wh + b + \\varepsilon Cu(t))$. "
            "Expanding $a(z + \\varepsilon Cu) = \\sum_j \\varepsilon^j a^{(j)}(z)(Cu)^j/j!$ "
            "gives one kick operator per power of $\\varepsilon$ and multiset of channels, "
            "$\\mathcal{L}^{(j)}_{k_1\\dots k_j} g = \\frac{1}{j!}\\sum_i a^{(j)}(z_i) "
            "C_{ik_1}\\cdots C_{ik_j}\\partial_i g$ with $z = Wh + b$ (symmetric in the "
            "channels; $\\mathcal{L}^{(1)}_k$ replaces $\\mathcal{L}_k$ in the kernels):\n"
            + _align(lines))


def _multiplicative_section(model: SRNN, dens) -> str:
    """``p0`` of a 1-D model with state-dependent noise (docs/theory.md §11)."""
    ver = dens.verify()
    parts = ["The noise depends on the state, $D(h) = \\sigma(h)^2$; in one dimension the "
             "zero-flux solution of $\\mathcal{L}_0^* p_0 = 0$ is\n",
             _eq(dens.latex()),
             f"on the support $({_num(dens.support[0])}, {_num(dens.support[1])})$ "
             "bounded by zeros of $D$ at which the drift points inwards.\n",
             "\\paragraph{Verification.} SymPy computes $\\mathcal{L}_0^* p_0 / p_0$ with the "
             "integral unevaluated ($\\frac{d}{dh}\\int^h = $ integrand) and simplifies it to "
             f"${sp.latex(ver.residual)}$, so $\\mathcal{{L}}_0^* p_0 = 0$.\n",
             "\\paragraph{Conjugate variables.} "
             "$\\langle p_0, \\mathcal{L}^{(1)}_k g\\rangle = \\mathbb{E}_0[v^{(1)}_k g]$ "
             "with $v^{(1)}_k = -(c' + c\\,(\\log p_0)')$, $c = a'(z) C_k$ (input inside "
             "the activation) or $C_k$, $(\\log p_0)' = 2\\varphi/D - D'/D$:\n"]
    parts.append(_align([rf"v^{{(1)}}_{{{k + 1}}}(h) &= "
                         + sp.latex(sp.simplify(dens.conjugate_variable((k,))))
                         for k in range(model.m)]))
    return "".join(parts)


def _num(x: float) -> str:
    import math

    return ("-\\infty" if x < 0 else "\\infty") if math.isinf(x) else f"{x:.6g}"


_COMPOSITE_TEXT = r"""With the input inside the activation the Dyson series sums over compositions
$N = j_1 + \dots + j_r$: a kick at time $s_i$ carries $j_i$ channels at the same time,
\begin{equation*}
T_N(t) = \sum_{(j_1\dots j_r)\models N}\sum_k \int_{0<s_r<\dots<s_1<t}
K^{(j_1\dots j_r)}_k(t-s_1,\dots,t-s_r)\prod_i\prod_{l\le j_i} u_{k_{i,l}}(s_i)\,ds ,
\end{equation*}
\begin{equation*}
K^{(j_1\dots j_r)}_k(\sigma) = \left\langle p_0,\ \mathcal{L}^{(j_r)}_{k_r}
P_{\sigma_r-\sigma_{r-1}}\cdots\mathcal{L}^{(j_1)}_{k_1} P_{\sigma_1} f\right\rangle
\quad(\sigma\ \text{sorted});
\end{equation*}
the kernels with some $j_i\ge2$ are the contact terms.
"""


_SERIES_TEXT = r"""Started in $p_0$ with the input acting on $[0,t]$, the output mean is a power
series in $\varepsilon$,
\begin{equation*}
\mathbb{E} f(h_t) = \langle f\rangle_0 + \sum_{N\ge1}\varepsilon^N T_N(t),\qquad
T_N(t) = \sum_{k_1\dots k_N}\int_{0<s_N<\dots<s_1<t}
K_{k_1\dots k_N}(t-s_1,\dots,t-s_N)\prod_j u_{k_j}(s_j)\,ds .
\end{equation*}
The lag $\sigma_j = t-s_j$ is the time since the $j$-th kick ($\sigma_1$ the most recent).
For sorted lags $\sigma_1\le\dots\le\sigma_N$
\begin{equation*}
K_{k_1\dots k_N}(\sigma) = \left\langle p_0,\ \mathcal{L}_{k_N} P_{\sigma_N-\sigma_{N-1}}
\cdots P_{\sigma_2-\sigma_1}\mathcal{L}_{k_1} P_{\sigma_1} f\right\rangle ;
\end{equation*}
unsorted lags are sorted together with their channels, and with this symmetric extension
\begin{equation*}
T_N(t) = \frac{1}{N!}\sum_k \int_{[0,t]^N} K_k(\sigma)\prod_j u_{k_j}(t-\sigma_j)\,d\sigma .
\end{equation*}
"""


def _preamble(model: SRNN, command: str | None) -> str:
    head = "% Generated by volterra_sym; do not edit by hand.\n"
    if command:
        head += f"% command: {command}\n"
    title = model.name.replace("_", r"\_")
    return head + r"""\documentclass[10pt]{article}
\usepackage[margin=2cm]{geometry}
\usepackage{amsmath,amssymb}
\allowdisplaybreaks
\title{Response theory of the SRNN \texttt{""" + title + r"""}}
\author{volterra\_sym}
\date{}
\begin{document}
\maketitle
"""


def compile_pdf(tex_path: str | Path, *, timeout: float = 120) -> Path:
    """Compile ``tex_path`` with ``pdflatex`` (twice) next to it; return the PDF path.

    Raises :class:`LatexUnavailableError` when ``pdflatex`` is not installed, and
    :class:`LatexError` with the end of the log when compilation fails or times out.
    The PDF is written atomically (temporary file, then rename).
    """
    exe = shutil.which("pdflatex")
    if exe is None:
        raise LatexUnavailableError(
            "pdflatex is not installed; install a LaTeX engine (Debian: apt-get install -y "
            "texlive-latex-base texlive-latex-recommended) or omit --pdf")
    tex_path = Path(tex_path).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(2):
            try:
                proc = subprocess.run([exe, "-interaction=nonstopmode", "-halt-on-error",
                                       "-output-directory", tmp, str(tex_path)],
                                      capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                raise LatexError(f"pdflatex did not finish {tex_path.name} within "
                                 f"{timeout:g} s") from None
            if proc.returncode != 0:
                tail = "\n".join(proc.stdout.splitlines()[-25:])
                raise LatexError(f"pdflatex failed on {tex_path.name}:\n{tail}")
        pdf = tex_path.with_suffix(".pdf")
        write_bytes_atomic(pdf, (Path(tmp) / (tex_path.stem + ".pdf")).read_bytes())
    return pdf


_OVERFULL = re.compile(r"Overfull \\hbox \((\d+(?:\.\d+)?)pt too wide\) (.*)")


def overfull_boxes(log: str) -> list[tuple[float, str]]:
    """``(excess in pt, where)`` of every overfull ``\\hbox`` reported in a LaTeX log."""
    return [(float(m[1]), m[2].strip()) for m in _OVERFULL.finditer(log)]
