"""Self-contained LaTeX derivation documents for an SRNN's response theory.

The document states the SDE, the generator and perturbation operators of this model, its
stationary density with the symbolic check ``L0* p0 = 0``, the conjugate variables, the
Volterra series with its conventions (docs/theory.md §4), every kernel up to the requested order
in operator form and — where the exact backend applies — in closed form.
The output is deterministic (no dates), so committed documents can be checked for
staleness by regenerating them.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import sympy as sp

from ..density import stationary_density
from ..errors import NotApplicableError, VolterraSymError
from ..hierarchy import ResponseHierarchy
from ..model import SRNN
from .atomic import write_bytes_atomic

__all__ = ["derivation_document", "compile_pdf", "LatexUnavailableError"]


class LatexUnavailableError(NotApplicableError, RuntimeError):
    """No ``pdflatex`` on this machine."""


class LatexError(VolterraSymError, RuntimeError):
    """``pdflatex`` failed on the document (the message ends with its log)."""


def _m(M: sp.Matrix) -> str:
    return sp.latex(M, mat_delim="(")


def _eq(body: str) -> str:
    return "\\begin{equation*}\n" + body + "\n\\end{equation*}\n"


def _align(lines: list[str]) -> str:
    return "\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}\n"


def _dmath(lhs: str, rhs_expr: sp.Expr, width: int = 110, digits: int = 6) -> str:
    """An equation whose right side may be long: broken over lines with ``multline*``;
    floats are shown to ``digits`` significant digits."""
    rhs_expr = rhs_expr.xreplace({x: sp.Float(x, digits) for x in rhs_expr.atoms(sp.Float)})
    terms = sp.Add.make_args(sp.expand(rhs_expr)) if isinstance(rhs_expr, sp.Add) else \
        (rhs_expr,)
    chunks, cur = [], ""
    for i, t in enumerate(terms):
        s = sp.latex(t)
        if i and not s.startswith("-"):
            s = "+ " + s
        if cur and len(cur) + len(s) > width:
            chunks.append(cur)
            cur = ""
        cur += s + " "
    chunks.append(cur)
    if len(chunks) == 1:
        return _eq(lhs + " = " + chunks[0].strip())
    return ("\\begin{multline*}\n" + lhs + " = " + " \\\\\n".join(c.strip() for c in chunks)
            + "\n\\end{multline*}\n")


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
    out.append(f"with state $h\\in\\mathbb{{R}}^{n}$, input $u(t)\\in\\mathbb{{R}}^{m}$ "
               f"and Brownian motion $B\\in\\mathbb{{R}}^{model.r}$. The parameters are\n")
    b = model.b
    out.append(_align([
        r"\Gamma &= " + _m(model.Gamma) + r", & W &= " + _m(model.W),
        r"b &= " + _m(b) + r", & C &= " + _m(model.C),
        r"\sigma &= " + _m(model.sigma) + r", & D = \sigma\sigma^\top &= " + _m(model.D),
    ]))
    out.append("so the drift $\\varphi(h) = -\\Gamma h + a(Wh+b)$ is\n")
    out.append(_align([rf"\varphi_{{{i + 1}}}(h) &= {sp.latex(model.drift[i])}"
                       for i in range(n)]))
    out.append(f"The observable is $f(h) = {sp.latex(f)}$.\n")

    # ------------------------------------------------------------------ operators
    out.append("\\section{Operators}\n")
    out.append("The generator of the unperturbed ($u=0$) dynamics acts on functions as\n")
    g = sp.Function("g")(*model.h)
    from ..operators import generator, perturbation

    out.append(_eq(r"\mathcal{L}_0 g = \sum_i \varphi_i \partial_i g + \tfrac12 \sum_{ij} "
                   r"D_{ij}\partial_i\partial_j g = " + sp.latex(generator(model, g))))
    out.append("and its adjoint, the Fokker--Planck operator, on densities as\n"
               "$\\mathcal{L}_0^* p = -\\sum_i \\partial_i(\\varphi_i p) + \\tfrac12 "
               "\\sum_{ij} \\partial_i\\partial_j(D_{ij} p)$.\n"
               "Input channel $k$ acts through the perturbation operator "
               "$\\mathcal{L}_k g = \\sum_i C_{ik}\\partial_i g$:\n")
    out.append(_align([rf"\mathcal{{L}}_{{{k + 1}}} g &= {sp.latex(perturbation(model, k, g))}"
                       for k in range(m)]))
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
        out.append(_eq(r"\langle f\rangle_0 = " + sp.latex(_round(dens.expectation(f)))))

    # ------------------------------------------------------------------ kernels
    out.append("\\section{Response kernels}\n")
    out.append("The recursion $g_0 = f$, $g_j = \\mathcal{L}_{k_j} P_{\\sigma_j-\\sigma_{j-1}}"
               " g_{j-1}$ shares every prefix of the channel tuple; the hierarchy up to "
               f"order {order} has {len(hier.recursion_nodes)} recursion nodes "
               f"($\\sum_{{j\\le {order}}} {m}^j$).\n")
    from ..density import closed_form_is_cheap, supports

    exact = closed_forms and closed_form_is_cheap(model, f)
    for N in range(1, order + 1):
        out.append(f"\\subsection*{{Order {N}}}\n")
        for K in hier.kernels(N):
            out.append(_eq(K.latex()))
            if exact:
                cf = K.doit()
                out.append(_dmath(sp.latex(K), cf) if cf != 0 else _eq(sp.latex(K) + " = 0"))
        if exact and N > sp.Poly(f, *model.h).total_degree():
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

        out.append("\\section{Response features}\n")
        out.append(response_functional_latex(hier.response_functional(features)))
    out.append("\\end{document}\n")
    return "".join(out)


def _round(x):
    return sp.nsimplify(x) if x.is_Rational else sp.Float(x, 15)


def _stationary_section(model: SRNN, dens) -> str:
    parts = []
    if dens.kind == "one_dim_noisy":
        return _multiplicative_section(model, dens)
    if dens.kind == "gaussian":
        parts.append("The activation is linear, $\\varphi(h) = -Ah + b$ with "
                     "$A = \\Gamma - W = " + _m(model.A) + "$. $A$ is stable, and "
                     "$p_0 = \\mathcal{N}(\\mu, S)$ with $\\mu = A^{-1}b$ and the Lyapunov "
                     "equation $AS + SA^\\top = D$:\n")
        parts.append(_eq(r"\mu = " + _m(dens.mean) + r",\qquad S = " + _m(dens.cov)))
    elif dens.kind == "one_dim":
        parts.append("In one dimension $p_0(h) = Z^{-1}\\exp(2U(h)/D)$ with $U' = "
                     "\\varphi$:\n")
        parts.append(_eq(r"U(h) = " + sp.latex(dens.potential)))
        Z = dens.normalisation
        ztxt = (f"$Z = {sp.latex(sp.Float(Z, 15))}$ (mpmath quadrature, 30 digits)"
                if Z.is_number else "$Z$ the normalising integral")
        parts.append(f"with {ztxt}.\n")
    else:
        parts.append("The drift is a gradient and the noise isotropic, so "
                     "$p_0 \\propto \\exp(2U/s^2)$ with $\\nabla U = \\varphi$:\n")
        parts.append(_eq(r"U(h) = " + sp.latex(dens.potential)))
    ver = dens.verify()
    parts.append(_eq(r"\log p_0(h) = " + sp.latex(dens.log_unnormalised) + r" + \text{const}"))
    parts.append("\\paragraph{Verification.} SymPy computes "
                 "$\\mathcal{L}_0^* p_0 / p_0$ for this $p_0$ and simplifies it to "
                 f"${sp.latex(ver.residual)}$"
                 + (" exactly" if ver.exact else " (up to floating-point rounding)")
                 + ", so $\\mathcal{L}_0^* p_0 = 0$.\n")
    parts.append("\\paragraph{Conjugate variables.} With $v_k = -C_k\\cdot\\nabla\\log p_0$, "
                 "$\\langle p_0, \\mathcal{L}_k g\\rangle = \\mathbb{E}_0[v_k(h) g(h)]$ "
                 "(fluctuation--dissipation), so "
                 "$K_k(\\sigma) = \\mathbb{E}_0[v_k(h_0) f(h_\\sigma)]$:\n")
    parts.append(_align([rf"v_{{{k + 1}}}(h) &= {sp.latex(v)}"
                         for k, v in enumerate(dens.conjugate_variables())]))
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
$T_N(t) = \frac{1}{N!}\sum_k \int_{[0,t]^N} K_k(\sigma)\prod_j u_{k_j}(t-\sigma_j)\,d\sigma$.
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
