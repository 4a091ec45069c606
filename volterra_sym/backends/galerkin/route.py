"""The ``galerkin`` route: kernels, ``<f>_0`` and series of networks of any dimension
(docs/theory.md §9) through the propagation core and the modal forward form.

Errors (each value's estimate is their sum; the parts are in ``details``):

* truncation — the largest change of the same quantity at degrees ``d - 1`` and
  ``d - 2`` (``d - 2`` as well because parity can leave ``d - 1`` unchanged; a uniform
  bound per kernel: the largest difference over its lags);
* statistical — sampled measures only: the spread of the values computed on each of the
  ``batches`` independent batches, ``3 · sd / √batches``;
* rounding — ``64 ε κ(V) κ(G)^{1/2}`` times the size of the mode sums.

``tol`` raises the degree from 3 until the estimate is below ``tol`` (relative to the
largest ``|value|``) or the memory budget is reached, then raises
:class:`~volterra_sym.errors.AccuracyNotReachedError` with the best estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ...budget import check_memory, memory_budget
from ...errors import (
    AccuracyNotReachedError,
    InvalidInputError,
    NotApplicableError,
    ResourceLimitError,
)
from ...hierarchy.propagation import walk_kernels
from ...model import SRNN
from ...model.cache import derived
from ...results import SeriesTerms
from ..modal import (
    InputSampler,
    ModalRepresentation,
    converged_forward,
    forward_grid,
    forward_output,
)
from ..spectral.collocation import numerics
from . import measure as measures
from .basis import MonomialBasis, basis_size
from .system import Sums, Whitening, assemble, build_system, orthonormaliser

__all__ = ["BACKEND", "GalerkinOptions", "galerkin_kernels", "galerkin_series", "applies",
           "parse_options"]

_OPTIONS = ("degree", "tol", "paths", "seed", "batches", "memory_budget")
#: default degree by dimension when neither ``degree`` nor ``tol`` is given
DEFAULT_DEGREE = {1: 12, 2: 8, 3: 5, 4: 4, 5: 4}
MAX_DEGREE = 40
_LOBATTO_Q = 7
_MAX_STEPS = 1 << 15


@dataclass(frozen=True)
class GalerkinOptions:
    degree: int | None
    tol: float | None
    paths: int
    seed: int
    batches: int
    budget: int


def _int(options, name, lo, hi, default):
    v = options.get(name, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
        raise InvalidInputError(f"{name} must be an integer in [{lo}, {hi}], got {v!r}",
                                param=name)
    return int(v)


def parse_options(model: SRNN, options: dict) -> GalerkinOptions:
    unknown = set(options) - set(_OPTIONS)
    if unknown:
        raise InvalidInputError(f"method 'galerkin' got unknown options {sorted(unknown)}; "
                                f"allowed: {list(_OPTIONS)}", param="options")
    tol = options.get("tol")
    if tol is not None and (isinstance(tol, bool) or not isinstance(tol, (int, float))
                            or not (math.isfinite(tol) and 0 < tol < 1)):
        raise InvalidInputError(f"tol must be a number with 0 < tol < 1, got {tol!r}",
                                param="tol")
    degree = _int(options, "degree", 1, MAX_DEGREE, None)
    paths = _int(options, "paths", 1000, 10**8, 40_000)
    seed = _int(options, "seed", 0, 2**63 - 1, 0)
    batches = _int(options, "batches", 2, 64, 8)
    budget = memory_budget(options.get("memory_budget"))
    return GalerkinOptions(degree, None if tol is None else float(tol), paths, seed, batches,
                           budget)


def applies(model: SRNN, f: sp.Expr) -> str | None:
    if not model.is_numeric:
        return "the parameters are symbolic (substitute numbers with model.subs(...))"
    f = sp.sympify(f)
    if f.free_symbols - set(model.h):
        return "the observable has free parameters"
    try:
        val = numerics(model).observable(f)(np.zeros((1, model.n)))
    except Exception as exc:  # noqa: BLE001 - any failure means "cannot evaluate"
        return f"the observable {f} cannot be evaluated numerically ({exc})"
    if not np.all(np.isfinite(val)):
        return f"the observable {f} is not finite at h = 0"
    if basis_size(model.n, 2) ** 2 * 8 * 6 > memory_budget():
        return f"even a degree-2 basis of n = {model.n} variables exceeds the memory budget"
    return None


# ---------------------------------------------------------------------- the measure
def _whitening(meas: measures.Measure) -> Whitening:
    """``h = μ + L y`` with ``μ``, ``L Lᵀ`` the mean and covariance of the measure itself
    (robust where the linearisation is a poor guide, e.g. two wells)."""
    mu = meas.w @ meas.x
    d = meas.x - mu
    S = (d * meas.w[:, None]).T @ d
    try:
        return Whitening(mu, np.linalg.cholesky(S))
    except np.linalg.LinAlgError:
        raise NotApplicableError("galerkin: the stationary covariance is singular (the "
                                 "noise does not reach every coordinate); no whitening") \
            from None


def _measure(model: SRNN, degree: int, opts: GalerkinOptions) -> measures.Measure:
    """The best averaging measure for ``model`` (module docstring of ``measure``)."""
    if model.is_linear and (degree + 1) ** model.n <= 200_000:
        return derived(model, ("galerkin", "measure", "gh", degree + 1),
                       lambda: measures.gauss_hermite(model, degree + 1))
    if model.n == 1:
        return derived(model, ("galerkin", "measure", "q1d"),
                       lambda: measures.quadrature_1d(model))
    if model.n == 2:
        return derived(model, ("galerkin", "measure", "grid"),
                       lambda: measures.grid_2d(model))
    if measures.galerkin_density_points(model.n, degree)[1] <= measures.MAX_DENSITY_POINTS:
        return derived(model, ("galerkin", "measure", "density", degree),
                       lambda: measures.galerkin_density(model, degree))
    return derived(model, ("galerkin", "measure", "samples", opts.paths, opts.seed,
                           opts.batches),
                   lambda: measures.samples(model, opts.paths, opts.seed, opts.batches))


@dataclass
class _Assembled:
    """Sums for the full measure and per batch, for one basis degree and observable."""

    degree: int
    total: Sums
    batches: list[Sums]
    measure: measures.Measure
    extra: dict = field(default_factory=dict)


def _assemble(model: SRNN, f: sp.Expr, degree: int, opts: GalerkinOptions) -> _Assembled:
    M = basis_size(model.n, degree)
    meas = _measure(model, degree, opts)
    P = meas.x.shape[0]
    check_memory(8.0 * P * M * 4 + 16.0 * M * M * (8 + model.m),
                 f"galerkin at degree {degree} (basis of {M} functions, {P} points)",
                 "lower --degree or --paths (or raise --tol)", opts.budget)

    def build():
        basis = MonomialBasis(model.n, degree)
        white = _whitening(meas)
        p = model.numpy_params()
        Linv = np.linalg.inv(white.L)
        Dt = Linv @ p["D"] @ Linv.T
        Ct = Linv @ p["C"]
        phi = model.drift_numpy()(meas.x)
        fv = numerics(model).observable(f)(meas.x)
        if not (np.all(np.isfinite(phi)) and np.all(np.isfinite(fv))):
            raise AccuracyNotReachedError("galerkin: the drift or the observable is not "
                                          "finite on the averaging points")
        sums = assemble(basis, white, meas.x, meas.w, phi, fv, Dt, Ct)[0]
        per = assemble(basis, white, meas.x, meas.w, phi, fv, Dt, Ct, meas.batches) \
            if meas.batches else []
        return _Assembled(degree, sums, per, meas)
    return derived(model, ("galerkin", "assembled", f, degree, meas.kind,
                           opts.paths if not meas.exact else 0, opts.seed, opts.batches), build)


def _lower(model: SRNN, f: sp.Expr, asm: _Assembled, opts: GalerkinOptions
           ) -> list[tuple[int, Sums]]:
    """The sums of degrees ``d-1`` and ``d-2`` for the truncation check (``d-2`` too: parity
    can hide ``d-1`` changes): the prefix of the same measure, or — where the measure
    itself depends on the degree (``galerkin_density``) — a full assembly with the
    lower-degree density, so that the check sees the density's truncation as well."""
    out = []
    for dl in (asm.degree - 1, asm.degree - 2):
        if dl < 1:
            continue
        if asm.measure.kind == "galerkin_density":
            out.append((dl, _assemble(model, f, dl, opts).total))
        else:
            out.append((dl, asm.total.prefix(basis_size(model.n, dl))))
    return out


# ---------------------------------------------------------------------- kernels
def _system(asm: _Assembled, key: tuple, sums: Sums, Q, condG, what: str):
    """The modal system of ``sums`` in the basis ``Q``, built once per assembled measure
    (kept with the assembly in the model's derived-data cache; ``key`` names the part:
    the full measure, a lower degree or a batch)."""
    systems = asm.extra.setdefault("systems", {})
    if key not in systems:
        systems[key] = build_system(sums, Q, condG, what)
    return systems[key]


def _kernel_values(graph, requests, system):
    return walk_kernels(graph, ModalRepresentation(system, system.a0, "galerkin"), requests)


def _at_degree(model, f, graph, reqs, degree, opts):
    asm = _assemble(model, f, degree, opts)
    what = f"galerkin kernels at degree {degree}"
    Q, condG = asm.extra.get("Q") or asm.extra.setdefault("Q", orthonormaliser(asm.total.G))
    system = _system(asm, ("total",), asm.total, Q, condG, what)
    res = _kernel_values(graph, reqs, system)
    lows = []
    for dl, lowsums in _lower(model, f, asm, opts):
        Ql, condl = orthonormaliser(lowsums.G)
        low_system = _system(asm, ("low", dl), lowsums, Ql, condl,
                             what + f" (truncation check, degree {dl})")
        lows.append(_kernel_values(graph, reqs, low_system))
    stat = {k: np.zeros(v[0].shape) for k, v in res.items()}
    if asm.batches:
        vals = []
        for i, b in enumerate(asm.batches):
            vals.append(_kernel_values(graph, reqs, _system(asm, ("batch", i), b, Q, condG,
                                                            what + " (batch)")))
        B = len(vals)
        for k in res:
            stack = np.stack([np.real(v[k][0]) for v in vals])
            stat[k] = 3.0 * stack.std(axis=0, ddof=1) / math.sqrt(B)
    out, parts = {}, {}
    for k, (v, mag) in res.items():
        trunc = max((float(np.max(np.abs(v - low[k][0]), initial=0.0)) for low in lows),
                    default=float(np.max(np.abs(v), initial=0.0)))
        rnd = system.rounding(float(np.max(mag, initial=0.0)))
        err = trunc + stat[k] + rnd
        out[k] = (np.real(v), np.asarray(err, dtype=float) * np.ones_like(v))
        parts[k] = {"truncation": trunc, "statistical": float(np.max(stat[k], initial=0.0)),
                    "rounding": rnd}
    return out, parts, {"degree": degree, "basis": system.M, "measure": asm.measure.kind,
                        "cond_G": system.cond_G, "cond_V": system.cond_V}


def _degrees(model: SRNN, f: sp.Expr, opts: GalerkinOptions):
    if opts.degree is not None:
        return [opts.degree]
    deg_f = None
    if f.is_polynomial(*model.h):
        deg_f = int(sp.Poly(f, *model.h).total_degree()) if f.free_symbols else 0
    if opts.tol is None:
        if model.is_linear and deg_f is not None:
            return [max(deg_f, 2)]
        return [DEFAULT_DEGREE.get(model.n, 3)]
    start = max(3, deg_f or 3)     # two lower degrees exist for the truncation check
    return list(range(start, MAX_DEGREE + 1))


def galerkin_kernels(model: SRNN, f: sp.Expr, graph, requests, **options):
    """``{channels: (values, error)}`` (module docstring); ``details`` by degree ladder."""
    opts = parse_options(model, options)
    f = sp.sympify(f)
    reqs = {tuple(int(c) for c in k): np.asarray(v, dtype=float) for k, v in requests.items()}
    best = None
    for degree in _degrees(model, f, opts):
        try:
            out, parts, info = _at_degree(model, f, graph, reqs, degree, opts)
        except ResourceLimitError:
            if best is None or opts.tol is None:
                raise
            break
        except AccuracyNotReachedError:
            if opts.tol is None or best is None:
                raise
            break
        scale = max(max((float(np.max(np.abs(v), initial=0.0)) for v, _ in out.values()),
                        default=0.0), 1e-300)
        worst = max((float(np.max(e, initial=0.0)) for _, e in out.values()), default=0.0)
        best = (out, parts, info, worst / scale)
        if opts.tol is None or worst <= opts.tol * scale:
            return out
    out, parts, info, rel = best
    raise AccuracyNotReachedError(
        f"galerkin: tol={opts.tol:g} not reached: best relative error estimate {rel:.2g} at "
        f"degree {info['degree']} (basis {info['basis']}, {info['measure']} measure) before "
        f"the memory budget or a numerical limit; raise tol or the memory budget",
        best=out, error=rel, tol=opts.tol)


# ---------------------------------------------------------------------- series
def galerkin_series(model: SRNN, f: sp.Expr, order: int, u, times, **options) -> SeriesTerms:
    """``T_0..T_order`` through the forward form ``r_0 = mᵀ``,
    ``r_N' = r_N Λ + Σ_k u_k r_{N-1} M_k``, ``T_N = r_N c_f`` (modal coordinates)."""
    opts = parse_options(model, options)
    f = sp.sympify(f)
    times = np.asarray(times, dtype=float)
    degree = _degrees(model, f, opts)[0] if opts.tol is None else \
        max(_degrees(model, f, opts)[0], DEFAULT_DEGREE.get(model.n, 3))
    asm = _assemble(model, f, degree, opts)
    low_sums = _lower(model, f, asm, opts)
    mean, mean_err = _mean(asm, low_sums)
    tmax = float(times[-1])
    out = np.zeros((order + 1, times.size))
    err = np.zeros_like(out)
    out[0], err[0] = mean, mean_err
    if tmax <= 0:
        return SeriesTerms(out, err, "galerkin", {"degree": degree})
    theta, Lc = forward_grid(_LOBATTO_Q)
    sampler = InputSampler(u, model.m, tmax, _LOBATTO_Q)
    tol = opts.tol if opts.tol is not None else 1e-8

    def run(sums: Sums, Q, condG, K=None):
        system = build_system(sums, Q, condG, f"galerkin series at degree {degree}")
        prop, K, terr = converged_forward(
            system, system.a0, order, tmax, sampler, theta, Lc, tol=tol,
            memory_budget=opts.budget, noise_unit=system.rounding(1.0),
            max_steps=_MAX_STEPS, what="galerkin series", K=K)
        return forward_output(system, prop, system.a0, times, Lc), K, terr, system

    Q, condG = orthonormaliser(asm.total.G)
    vals, K, terr, system = run(asm.total, Q, condG)
    trunc = np.abs(vals).max(axis=1, keepdims=True)
    lows = []
    for _, lsums in low_sums:
        Ql, cl = orthonormaliser(lsums.G)
        lows.append(np.abs(vals - run(lsums, Ql, cl, K)[0]).max(axis=1, keepdims=True))
    if lows:
        trunc = np.maximum.reduce(lows)
    stat = np.zeros_like(vals)
    if asm.batches:
        stack = np.stack([run(b, Q, condG, K)[0] for b in asm.batches])
        stat = 3.0 * stack.std(axis=0, ddof=1) / math.sqrt(len(asm.batches))
    out[1:] = vals
    err[1:] = trunc + stat + terr[:, None] + system.rounding(
        float(np.abs(vals).max(initial=0.0)) + 1.0)
    return SeriesTerms(out, err, "galerkin",
                       {"degree": degree, "basis": system.M, "measure": asm.measure.kind,
                        "steps": K, "truncation": trunc.ravel().tolist()})


def _mean(asm: _Assembled, lows: list[tuple[int, Sums]] | None = None
          ) -> tuple[float, float]:
    """``<f>_0 = F_0`` (the first basis function is the constant 1) and its error: the
    batch spread of a sampled measure, the change against the lower-degree densities of a
    ``galerkin_density`` measure, else rounding."""
    val = float(asm.total.F[0])
    if asm.batches:
        b = np.array([s.F[0] for s in asm.batches])
        return val, float(3.0 * b.std(ddof=1) / math.sqrt(b.size))
    rnd = 64 * np.finfo(float).eps * max(abs(val), 1.0)
    if asm.measure.kind == "galerkin_density":
        if not lows:
            return val, float("nan")
        return val, max(abs(val - float(s.F[0])) for _, s in lows) + rnd
    return val, rnd


class _GalerkinBackend:
    """The ``galerkin`` route (see module docstring)."""

    name = "galerkin"

    def applies(self, model: SRNN, f) -> str | None:
        return applies(model, f)

    def kernels(self, model, f, graph, requests, **options):
        return galerkin_kernels(model, f, graph, requests, **options)

    def mean0(self, hierarchy) -> float:
        opts = parse_options(hierarchy.model, {})
        degree = _degrees(hierarchy.model, sp.sympify(hierarchy.f), opts)[0]
        return _mean(_assemble(hierarchy.model, sp.sympify(hierarchy.f), degree, opts))[0]

    def series_terms(self, hierarchy, u, times, **options) -> SeriesTerms:
        return galerkin_series(hierarchy.model, hierarchy.f, hierarchy.order, u, times,
                               **options)


BACKEND = _GalerkinBackend()
