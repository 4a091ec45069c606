"""Stationary densities ``p0`` of the unperturbed SRNN (docs/theory.md §3).

* Linear activation: ``φ(h) = -A h + b``, ``A = Γ - W`` Hurwitz, ``p0 = N(μ, S)`` with
  ``μ = A⁻¹ b`` and the Lyapunov equation ``A S + S Aᵀ = D``.
* n = 1: ``p0(h) = Z⁻¹ exp(2 U(h) / D)`` with ``U' = φ``; ``Z`` by quadrature.
* Gradient case (``φ = ∇U``, i.e. symmetric Jacobian, and ``D = s² I``):
  ``p0 ∝ exp(2 U / s²)``.
* Otherwise there is no closed form: ``kind == "numerical"`` and :attr:`expr` raises
  :class:`NoClosedFormError` (later work solves ``L0* p = 0`` on a grid or samples).

Numeric models are classified and their Gaussian moments computed numerically
(:mod:`.classify`, :mod:`.gradient`, :mod:`.linearisation`: a Lyapunov solve and the
Jacobian's symmetry at test points; no symbolic simplification of n×n matrices). The
symbolic verification ``L0* p0 = 0`` of a closed form (:meth:`StationaryDensity.verify`)
runs when the density is built for symbolic models and for numeric models with
``n ≤`` :data:`VERIFY_MAX_N`, and on request otherwise
(``stationary_density(model, verify=True)``; ``volterra-sym verify`` and ``derive`` ask
for it). Every density is cached per model (``derived(model, ("density", ...))``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache

import mpmath
import numpy as np
import scipy.special
import sympy as sp

from ..arrays import real_array, state_points
from ..errors import VolterraSymError
from ..model import SRNN, ModelError
from ..model.cache import derived
from ..operators import fokker_planck, kick_conjugate
from .bracket import bracket_1d
from .classify import NoClosedFormError, ReadOnly, density_kind
from .conjugate import conjugate_variables as _numeric_conjugate
from .gradient import is_gradient
from .linearisation import gaussian_moments, is_numeric

__all__ = ["StationaryDensity", "stationary_density", "NoClosedFormError",
           "Verification", "VerificationError", "gaussian_moment", "VERIFY_MAX_N",
           "EXACT_MAX_N"]

#: numeric models up to this dimension verify ``L0* p0 = 0`` symbolically when their
#: density is built (measured: n = 3 takes ≤ 1 s per kind, n = 4 up to a few seconds;
#: see benchmarks/bench_walls.py); larger ones only on request.
VERIFY_MAX_N = 3
#: numeric linear models up to this dimension get exact (rational) ``μ`` and ``S``;
#: larger ones the floating-point Lyapunov solution.
EXACT_MAX_N = 4
#: ``<p0, g>`` by quadrature (1-D) needs ``g·p0`` to decay: checked out to this many
#: widths of the bulk of ``p0`` beyond it, where ``log|g·p0|`` must lie this far below
#: its maximum
TAIL_WIDTHS = 4
TAIL_DROP = 30.0


class VerificationError(VolterraSymError, RuntimeError):
    """A closed-form stationary density failed its symbolic check ``L0* p0 = 0``."""


@dataclass(frozen=True)
class Verification:
    """Outcome of the check ``L0* p0 = 0``: ``residual`` is ``L0* p0 / p0`` simplified."""

    ok: bool
    residual: sp.Expr
    exact: bool

    def __bool__(self) -> bool:
        return self.ok


def verifies_by_default(model: SRNN) -> bool:
    """Whether building the density runs the symbolic check: symbolic models, and numeric
    models with ``n ≤`` :data:`VERIFY_MAX_N`."""
    return not is_numeric(model) or model.n <= VERIFY_MAX_N


def stationary_density(model: SRNN, verify: bool | None = None) -> StationaryDensity:
    """The (cached) :class:`StationaryDensity` of ``model``.

    ``verify``: ``True`` checks a closed form symbolically (``L0* p0 = 0``) now and raises
    :class:`VerificationError` if it fails; ``False`` never here; ``None`` (default) as
    :func:`verifies_by_default` says. The check runs once per model.
    """
    if model.state_dependent_noise and model.n == 1:
        from .multiplicative import multiplicative_density  # D(h): docs/theory.md §11
        dens1 = multiplicative_density(model)
        if verify:
            dens1.check()
        return dens1
    dens = derived(model, ("density", "stationary"),
                   lambda: StationaryDensity(model, verify=False))
    if dens.has_closed_form and (verify or (verify is None and verifies_by_default(model))):
        dens.check()
    return dens


class StationaryDensity(ReadOnly):
    """The stationary density ``p0`` of ``model`` (see module docstring for the cases).

    ``verify``: as in :func:`stationary_density` (``None``: by the model's size)."""

    def __init__(self, model: SRNN, *, verify: bool | None = None):
        self._init(model=model, h=model.h, kind=density_kind(model))
        if self.kind != "numerical" and (verify or (verify is None
                                                    and verifies_by_default(model))):
            self.check()

    def check(self) -> Verification:
        """:meth:`verify`, raising :class:`VerificationError` if the check fails."""
        ver = self.verify()
        if not ver.ok:
            raise VerificationError(f"closed-form stationary density failed verification: "
                                    f"L0* p0 / p0 = {ver.residual}")
        return ver

    # ------------------------------------------------------------------ classification
    def _is_gradient(self) -> bool:
        """``φ = ∇U`` with ``D = s² I`` (numerically for numeric models)."""
        return is_gradient(self.model)

    @property
    def has_closed_form(self) -> bool:
        return self.kind != "numerical"

    def _require_closed_form(self, what: str) -> None:
        if self.kind == "numerical":
            raise NoClosedFormError(
                f"{what}: the stationary density of {self.model!r} has no closed form "
                "(nonlinear, n > 1, not a gradient system with isotropic noise); use a "
                "numerical route (grid solution of L0* p = 0 or a long trajectory)")

    # ------------------------------------------------------------------ Gaussian case
    @cached_property
    def mean(self) -> sp.ImmutableMatrix:
        """``μ = A⁻¹ b`` (Gaussian case): exact for symbolic models and numeric ones with
        ``n ≤`` :data:`EXACT_MAX_N`, else the floats of :attr:`mean_numpy`."""
        self._require_kind("gaussian", "mean")
        m = self.model
        if is_numeric(m) and m.n > EXACT_MAX_N:
            return sp.ImmutableMatrix(self.mean_numpy)
        return sp.ImmutableMatrix(m.A.LUsolve(m.b))

    @cached_property
    def cov(self) -> sp.ImmutableMatrix:
        """``S`` solving ``A S + S Aᵀ = D`` (Gaussian case): exact for symbolic models and
        numeric ones with ``n ≤`` :data:`EXACT_MAX_N`, else the floats of
        :attr:`cov_numpy`."""
        self._require_kind("gaussian", "cov")
        m = self.model
        if is_numeric(m):
            S = self.cov_numpy  # checks stability and positive definiteness
            exact = _exact_lyapunov(m.A, m.D) if m.n <= EXACT_MAX_N else None
            return sp.ImmutableMatrix(exact if exact is not None else S)
        S = _exact_lyapunov(m.A, m.D)
        if S is None:
            raise ModelError("the Lyapunov equation A S + S Aᵀ = D has no unique solution "
                             "for these symbolic parameters (A not stable?)")
        return sp.ImmutableMatrix(S)

    @property
    def mean_numpy(self) -> np.ndarray:
        """``μ`` as floats (numeric models: ``np.linalg.solve``; cached per model)."""
        self._require_kind("gaussian", "mean")
        if is_numeric(self.model):
            return gaussian_moments(self.model)[0]
        return np.array(self.mean.evalf(), dtype=float).ravel()

    @property
    def cov_numpy(self) -> np.ndarray:
        """``S`` as floats (numeric models: Bartels–Stewart; cached per model)."""
        self._require_kind("gaussian", "cov")
        if is_numeric(self.model):
            return gaussian_moments(self.model)[1]
        return np.array(self.cov.evalf(), dtype=float)

    def _require_kind(self, kind: str, what: str) -> None:
        if self.kind != kind:
            raise ValueError(f"{what} is defined for the {kind} case; this density is "
                             f"{self.kind!r}")

    # ------------------------------------------------------------------ closed forms
    @cached_property
    def potential(self) -> sp.Expr:
        """``U`` with ``∇U = φ`` (one-dimensional and gradient cases)."""
        if self.kind not in ("one_dim", "gradient"):
            raise ValueError(f"no potential for a {self.kind!r} density")
        return _potential(self.model)

    @cached_property
    def log_unnormalised(self) -> sp.Expr:
        """``log p0`` up to an additive constant."""
        self._require_closed_form("log density")
        if self.kind == "gaussian":
            y = sp.Matrix(self.h) - self.mean
            return -sp.Rational(1, 2) * (y.T * self.cov.inv() * y)[0, 0]
        return 2 * self.potential / self.model.D[0, 0]

    @cached_property
    def normalisation(self) -> sp.Expr:
        """``Z = ∫ exp(log p0) dh`` (closed form for Gaussians, mpmath quadrature for
        numeric one-dimensional models, an unevaluated integral otherwise)."""
        self._require_closed_form("normalisation")
        if self.kind == "gaussian":
            return sp.sqrt((2 * sp.pi) ** self.model.n * self.cov.det())
        if self.kind == "one_dim" and is_numeric(self.model):
            with mpmath.workdps(30):
                logZ = mpmath.log(self._mass_1d) + self._bulk_1d[2]
                return sp.Float(mpmath.exp(logZ), 30)
        integrand = sp.exp(self.log_unnormalised)
        return sp.Integral(integrand, *[(hi, -sp.oo, sp.oo) for hi in self.h])

    @property
    def expr(self) -> sp.Expr:
        """``p0(h)`` as a SymPy expression."""
        self._require_closed_form("p0")
        return sp.exp(self.log_unnormalised) / self.normalisation

    def verify(self) -> Verification:
        """Check ``L0* p0 = 0`` symbolically: ``L0* p0 / p0`` must simplify to 0.

        ``L0*`` is applied to ``p = exp(F(h))`` with ``F`` an undefined function, so that
        ``exp(F)`` cancels exactly; then the derivatives of ``F`` are replaced by those of
        ``log p0`` and the result is simplified. Computed once per density.
        """
        self._require_closed_form("verify")
        return self._verification

    @cached_property
    def _verification(self) -> Verification:
        F = sp.Function("F")(*self.h)
        ratio = sp.expand(sp.powsimp(fokker_planck(self.model, sp.exp(F)) / sp.exp(F)))
        logp = self.log_unnormalised
        derivs = sorted(ratio.atoms(sp.Derivative), key=lambda d: -len(d.variables))
        ratio = ratio.subs({d: sp.diff(logp, *d.variables) for d in derivs})
        if self.kind == "gaussian":
            poly = sp.Poly(sp.expand(ratio), *self.h)
            coeffs = [sp.simplify(c) for c in poly.coeffs()]
            residual = sum((c * sp.prod([x**e for x, e in zip(self.h, mon, strict=True)])
                            for c, mon in zip(coeffs, poly.monoms(), strict=True)),
                           sp.Integer(0))
        else:
            residual = _simplify_zero(sp.expand_func(ratio))
        exact = not residual.has(sp.Float)
        ok = residual == 0 or (not exact and _tiny(residual))
        return Verification(bool(ok), residual, exact)

    # ------------------------------------------------------------------ fluctuation–dissipation
    def conjugate_variables(self) -> list[sp.Expr]:
        """``v_k = -C_k·∇ log p0`` for every channel ``k`` (so ``<p0, L_k g> = E_0[v_k g]``)."""
        self._require_closed_form("conjugate variables")
        logp = self.log_unnormalised
        grad = [sp.diff(logp, hi) for hi in self.h]
        C = self.model.C
        out = []
        for k in range(self.model.m):
            v = sp.expand_func(sp.expand(-sum((C[i, k] * grad[i] for i in range(self.model.n)),
                                              sp.Integer(0))))
            out.append(_sinh_to_tanh(v))  # as the activation is written
        return out

    def kick_conjugate_variables(self) -> list[sp.Expr]:
        """``v^{(1)}_k = −p0⁻¹∇·(c_k p0) = −(∇·c_k + c_k·∇log p0)`` with ``c_k`` the
        coefficients of the model's first-order kick ``L^{(1)}_k = Σ_i c_{ik}∂_i``, so that
        ``<p0, L^{(1)}_k g> = E_0[v^{(1)}_k g]`` and ``K_k(σ) = E_0[v^{(1)}_k(h_0) f(h_σ)]``:
        ``c_k = C_k`` for the additive input (:meth:`conjugate_variables`),
        ``c_{ik} = a'(z_i)C_{ik}`` with the input inside the activation (docs/theory.md §10)."""
        if self.model.input != "activation" or self.model.is_linear:
            return self.conjugate_variables()
        self._require_closed_form("conjugate variables")
        grad = [sp.diff(self.log_unnormalised, hi) for hi in self.h]
        return [_sinh_to_tanh(sp.expand(kick_conjugate(self.model, (k,), grad)))
                for k in range(self.model.m)]

    def conjugate_numpy(self):
        """Vectorised ``v``: array ``(..., n)`` -> ``(..., m)`` (numeric models: the
        numerical closed forms of :mod:`.conjugate`, no symbolic potential)."""
        self._require_closed_form("conjugate variables")
        if is_numeric(self.model):
            return _numeric_conjugate(self.model)
        fn = sp.lambdify([self.h], self.conjugate_variables(), "numpy")

        def v(x):
            x = real_array(x, "x", finite=False)
            out = fn(np.moveaxis(x, -1, 0))
            return np.stack([np.broadcast_to(o, x.shape[:-1]) for o in out], axis=-1)
        return v

    # ------------------------------------------------------------------ averages
    def expectation(self, g: sp.Expr) -> sp.Expr:
        """``<p0, g> = E_0[g(h)]``.

        Gaussian: exact (Isserlis) for polynomial ``g``. One-dimensional numeric model:
        mpmath quadrature (30 digits), where ``g·p0`` is finite in double precision and
        decays beyond the bulk of ``p0`` (:meth:`_decays_1d`). Otherwise an unevaluated
        integral.
        """
        g = self.model.expression(g, "g")
        self._require_closed_form("expectation")
        if not (g.free_symbols & set(self.h)):
            return g
        if self.kind == "gaussian" and g.is_polynomial(*self.h):
            return gaussian_expectation(g, self.h, self.mean, self.cov)
        if self.kind == "one_dim" and is_numeric(self.model) \
                and not g.free_symbols - set(self.h) and self._decays_1d(g):
            with mpmath.workdps(30):
                return sp.Float(self._quad1d(g) / self._mass_1d, 25)
        return sp.Integral(g * self.expr, *[(hi, -sp.oo, sp.oo) for hi in self.h])

    def pdf_numpy(self):
        """Vectorised normalised density (numeric models, closed-form kinds)."""
        self._require_closed_form("pdf")
        if not is_numeric(self.model):
            raise ModelError("pdf_numpy needs numeric parameters")
        logp = sp.lambdify([self.h], overflow_safe(self.log_unnormalised),
                           [NUMPY_EXTRAS, "numpy"])
        logZ = float(sp.log(self.normalisation).evalf())

        def pdf(x):
            x = state_points(x, self.model.n)
            return np.exp(logp(np.moveaxis(x, -1, 0)) - logZ)
        return pdf

    @cached_property
    def _mass_1d(self):
        """``∫ exp(2U/D - c) dh`` (30-digit mpmath number), shared by ``Z`` and averages."""
        return self._quad1d(sp.Integer(1))

    def _quad1d(self, g: sp.Expr):
        """``∫ g(h) exp(2U/D - c) dh`` (``c`` = max of ``2U/D``, see ``_bulk_1d``) by mpmath
        quadrature at 30 digits, split at the bulk of p0; returns an mpmath number."""
        h = self.h[0]
        lo, hi, c = self._bulk_1d
        f_log = sp.lambdify(h, self.log_unnormalised - c, "mpmath")
        f_g = sp.lambdify(h, g, "mpmath")
        with mpmath.workdps(30):
            pts = [-mpmath.inf] + list(np.linspace(lo, hi, 9)) + [mpmath.inf]
            return mpmath.quad(lambda x: f_g(x) * mpmath.exp(f_log(x)), pts)

    def _decays_1d(self, g: sp.Expr) -> bool:
        """Whether ``log|g| + log p0`` is finite in double precision on the bulk of ``p0``
        and out to :data:`TAIL_WIDTHS` bulk widths beyond it, and at the outermost points
        :data:`TAIL_DROP` below its largest value. ``g`` that grows like ``exp(h⁴)``
        (``<p0, g> = ∞``) or ``exp(exp(h))`` fails: mpmath's quadrature returned a finite
        number for the first and ran for ever on the second (exponents of exponents)."""
        h = self.h[0]
        lo, hi, c = self._bulk_1d
        width = max(hi - lo, 1.0)
        far = width * np.arange(1, TAIL_WIDTHS + 1)
        x = np.concatenate([lo - far[::-1], np.linspace(lo, hi, 65), hi + far])
        f_lg = complex_log(g, h)
        f_log = sp.lambdify(h, overflow_safe(self.log_unnormalised), [NUMPY_EXTRAS, "numpy"])
        with np.errstate(all="ignore"):
            lg = np.asarray(f_lg(x.astype(complex)), dtype=complex) * np.ones_like(x)
            turns = lg.imag / np.pi
            if np.any(np.abs(turns - np.rint(turns)) > 1e-9):
                return False                                # g not real
            logs = lg.real + np.asarray(f_log(x), dtype=float) - c
        if np.any(np.isnan(logs) | (logs == np.inf)):
            return False
        top = float(np.max(logs))
        return top == -np.inf or bool(max(logs[0], logs[-1]) < top - TAIL_DROP)

    @cached_property
    def _bulk_1d(self) -> tuple[float, float, float]:
        """A range holding the mass of a 1-D density (:func:`.bracket.bracket_1d`, depth
        60) and the max of the closed-form ``log p0`` on it."""
        br = bracket_1d(self.model, drop=60.0)
        f = sp.lambdify(self.h[0], overflow_safe(self.log_unnormalised),
                        [NUMPY_EXTRAS, "numpy"])
        with np.errstate(all="ignore"):
            vals = np.asarray(f(br.x), dtype=float) * np.ones_like(br.x)
        return br.lo, br.hi, float(np.nanmax(vals))

    def latex(self) -> str:
        """``p_0(h) = ...`` in LaTeX."""
        if self.kind == "numerical":
            return r"p_0 \text{ has no closed form (numerical route)}"
        if self.kind == "gaussian":
            return (r"p_0 = \mathcal{N}(\mu, S),\quad \mu = " + sp.latex(self.mean)
                    + r",\quad S = " + sp.latex(self.cov))
        body = sp.latex(sp.exp(self.log_unnormalised))
        Z = self.normalisation
        zl = sp.latex(Z) if not isinstance(Z, sp.Integral) else "Z"
        return r"p_0(h) = \frac{1}{" + zl + "}" + body


# ---------------------------------------------------------------------- helpers
def _polylog_numpy(s, x):
    """``Li_s(x)`` for s = 1, 2 and real x ≤ 1 (numpy), via ``Li_2(x) = spence(1 - x)``."""
    if s == 1:
        return -np.log1p(-x)
    if s == 2:
        return scipy.special.spence(1 - np.asarray(x, dtype=float))
    raise NotImplementedError(f"polylog({s}, x) has no numpy implementation here")


def _logcosh_numpy(x):
    """``log cosh x = |x| + log1p(e^{-2|x|}) - log 2`` without overflow."""
    a = np.abs(x)
    return a + np.log1p(np.exp(-2 * a)) - np.log(2.0)


def _li2_negexp_numpy(z):
    """``Li_2(-e^z)`` without overflow: ``spence(1 + e^z)`` for z ≤ 0, and the inversion
    ``Li_2(-x) = -π²/6 - ½ log² x - Li_2(-1/x)`` for z > 0."""
    z = np.asarray(z, dtype=float)
    e = np.exp(-np.abs(z))
    small = scipy.special.spence(1 + e)  # Li_2(-e^{-|z|})
    return np.where(z <= 0, small, -np.pi**2 / 6 - 0.5 * z**2 - small)


#: Extra functions for ``lambdify(..., [NUMPY_EXTRAS, "numpy"])``.
NUMPY_EXTRAS = {"polylog": _polylog_numpy, "logcosh": _logcosh_numpy,
                "li2negexp": _li2_negexp_numpy,
                "log1pexp": lambda x: np.logaddexp(0.0, x)}
_LOGCOSH = sp.Function("logcosh")
_LOG1PEXP = sp.Function("log1pexp")
_LI2NEGEXP = sp.Function("li2negexp")


def complex_log(g: sp.Expr, args) -> Callable:
    """``log g`` expanded (``exp(h²) -> h²``), lambdified in ``args`` for complex points:
    the real part is ``log|g|`` without the overflow of ``g`` itself, the imaginary part a
    multiple of π where ``g`` is real."""
    return sp.lambdify(args, sp.expand_log(sp.log(g), force=True), [NUMPY_EXTRAS, "numpy"])


def overflow_safe(expr: sp.Expr) -> sp.Expr:
    """Rewrite ``log(cosh z)`` and ``log(1 + e^z)`` as overflow-safe functions for numpy
    (see :data:`NUMPY_EXTRAS`)."""
    def is_logcosh(e):
        return isinstance(e, sp.log) and isinstance(e.args[0], sp.cosh)

    def is_log1pexp(e):
        if not isinstance(e, sp.log) or not isinstance(e.args[0], sp.Add):
            return False
        terms = e.args[0].args
        return len(terms) == 2 and 1 in terms and any(isinstance(t, sp.exp) for t in terms)

    def is_li2negexp(e):
        return (isinstance(e, sp.polylog) and e.args[0] == 2
                and isinstance(-e.args[1], sp.exp))

    expr = expr.replace(is_li2negexp, lambda e: _LI2NEGEXP((-e.args[1]).args[0]))
    expr = expr.replace(is_logcosh, lambda e: _LOGCOSH(e.args[0].args[0]))
    return expr.replace(is_log1pexp, lambda e: _LOG1PEXP(
        next(t for t in e.args[0].args if isinstance(t, sp.exp)).args[0]))


def _sinh_to_tanh(expr: sp.Expr) -> sp.Expr:
    """Write ``sinh x`` as ``tanh x · cosh x`` (so ``sinh x / cosh x`` becomes ``tanh x``)."""
    return expr.replace(lambda e: isinstance(e, sp.sinh),
                        lambda e: sp.tanh(e.args[0]) * sp.cosh(e.args[0]))


def _simplify_zero(expr: sp.Expr) -> sp.Expr:
    """Simplify an expression expected to vanish: cheap rewrites first, ``simplify`` last."""
    for attempt in (lambda e: sp.expand(_sinh_to_tanh(e)),
                    lambda e: sp.cancel(sp.expand(e)),
                    lambda e: sp.cancel(sp.expand(e.rewrite(sp.exp))),
                    sp.simplify):
        expr = attempt(expr)
        if expr == 0:
            break
    return expr


def _tiny(expr: sp.Expr, tol: float = 1e-12) -> bool:
    coeffs = [a for a in sp.preorder_traversal(expr) if isinstance(a, sp.Float)]
    return all(abs(float(c)) < tol for c in coeffs)


def _exact_lyapunov(A: sp.Matrix, D: sp.Matrix) -> sp.Matrix | None:
    """Solve ``A S + S Aᵀ = D`` for symmetric ``S`` by linear algebra (small n)."""
    n = A.rows
    syms = {}
    S = sp.zeros(n, n)
    for i in range(n):
        for j in range(i, n):
            syms[(i, j)] = sp.Symbol(f"_S{i}{j}")
            S[i, j] = S[j, i] = syms[(i, j)]
    eqs = list(A * S + S * A.T - D)
    sol = sp.solve(eqs, list(syms.values()), dict=True)
    if len(sol) != 1:
        return None
    out = S.subs(sol[0]).applyfunc(sp.simplify)
    if out.free_symbols & set(syms.values()):
        return None
    return out


def _potential(model: SRNN) -> sp.Expr:
    """``U`` with ``∂_i U = φ_i``, integrating component by component."""
    h, phi = model.h, model.drift
    U = sp.Integer(0)
    for i, hi in enumerate(h):
        rest = sp.simplify(phi[i] - sp.diff(U, hi))
        U += _antiderivative(rest, hi, model)
    return U


def _antiderivative(expr: sp.Expr, x: sp.Symbol, model: SRNN) -> sp.Expr:
    """``∫ expr dx`` with closed rules for the built-in activations."""
    act = model.activation
    res = sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(expr, deep=False)):
        res += _integrate_term(term, x, act)
    return res


def _integrate_term(term, x, act):
    coeff, rest = term.as_independent(x, as_Add=False)
    if rest == 1:
        return coeff * x
    if rest.is_polynomial(x):
        return coeff * sp.integrate(rest, x)
    if act.name != "custom" and act.name != "linear":
        z = _activation_argument(rest, act)
        if z is not None and sp.diff(z, x).free_symbols.isdisjoint({x}):
            w = sp.diff(z, x)
            return coeff * act.primitive(z) / w
    res = sp.integrate(rest, x, risch=False, conds="none")
    if res.has(sp.Integral):
        return coeff * sp.Integral(rest, (x, 0, x))
    return coeff * res


def _activation_argument(expr, act):
    """If ``expr == a(z)`` for the activation ``a``, return ``z``."""
    if act.name == "tanh" and isinstance(expr, sp.tanh):
        return expr.args[0]
    pattern = sp.Wild("zz")
    m = expr.match(act.expr.subs(sp.Symbol("z", real=True), pattern))
    return m.get(pattern) if m else None


# ---------------------------------------------------------------------- Gaussian moments
@lru_cache(maxsize=4096)
def _isserlis(idx: tuple[int, ...], S_key) -> sp.Expr:
    """``E[y_{i1} ⋯ y_{ik}]`` for ``y ~ N(0, S)`` (Isserlis' theorem, recursive)."""
    S = S_key.matrix
    if len(idx) == 0:
        return sp.Integer(1)
    if len(idx) % 2:
        return sp.Integer(0)
    first, rest = idx[0], idx[1:]
    out = sp.Integer(0)
    for j, other in enumerate(rest):
        if S[first, other] != 0:
            remaining = tuple(sorted(rest[:j] + rest[j + 1:]))
            out += S[first, other] * _isserlis(remaining, S_key)
    return out


class _MatrixKey:
    """Hashable wrapper of a SymPy matrix for memoisation."""

    def __init__(self, M):
        self.matrix = sp.ImmutableMatrix(M)

    def __hash__(self):
        return hash(self.matrix)

    def __eq__(self, other):
        return isinstance(other, _MatrixKey) and self.matrix == other.matrix


def gaussian_moment(exponents: tuple[int, ...], S: sp.Matrix) -> sp.Expr:
    """``E[Π y_i^{e_i}]`` for ``y ~ N(0, S)``."""
    idx = tuple(itertools.chain.from_iterable([i] * e for i, e in enumerate(exponents)))
    return _isserlis(idx, _MatrixKey(S))


def gaussian_expectation(g: sp.Expr, h, mean: sp.Matrix, cov: sp.Matrix,
                         check: Callable[[], None] | None = None) -> sp.Expr:
    """``E[g(h)]`` for ``h ~ N(mean, cov)`` and polynomial ``g`` (exact); ``check()`` is
    called between the steps (a deadline that raises)."""
    check = check or (lambda: None)
    check()
    y = sp.symbols(f"_y0:{len(h)}")
    if all(mi == 0 for mi in mean):
        # a centred Gaussian: renaming the variables keeps an expanded g expanded (the
        # closed-form semigroup's ξ; the expand of its ~1,500 terms took seconds)
        shifted = sp.expand(g.xreplace(dict(zip(h, y, strict=True))))
    else:
        shifted = sp.expand(g.subs({hi: yi + mi for hi, yi, mi in zip(h, y, mean,
                                                                     strict=True)},
                                   simultaneous=True))
    check()
    poly = sp.Poly(shifted, *y)
    key = _MatrixKey(cov)
    out = sp.Integer(0)
    for monom, coeff in poly.terms():
        check()
        if sum(monom) % 2 == 0:
            idx = tuple(itertools.chain.from_iterable([i] * e for i, e in enumerate(monom)))
            out += coeff * _isserlis(idx, key)
    return sp.expand(out)
