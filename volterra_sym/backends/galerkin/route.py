"""The ``galerkin`` route: kernels, ``<f>_0`` and series of networks of any dimension
(docs/theory.md §9) through the propagation core and the modal forward form.

Errors (each value's estimate is their sum; the parts are in ``details``):

* truncation — with the check from above (option ``check``, module :mod:`.above`; the
  default ``"auto"`` wherever it applies) the change of the same quantity against degrees
  ``d + 1 … d + 3``, tripled (:func:`~.truncation.truncation_above`); otherwise the change
  against lower degrees (a uniform bound
  per kernel: the largest difference over its lags), by the rules of :mod:`.truncation`
  (which lower degrees, the safety factor by measure and model, the geometric tail where
  the basis converges slowly, the degrees at which a quantity has an estimate at all); a
  lower degree that cannot be computed refuses the degree with
  :class:`~volterra_sym.errors.TruncationCheckError` (the default ladders move on to a
  degree whose check stays above it); the changes themselves are in ``details`` too
  (``changes``: ``{compared degree: largest change}`` for a kernel, ``{compared degree:
  [one per term T_1 … T_N, None where not compared]}`` for a series; ``check``: ``"above"``
  or ``"below"``), so that a reader can see which comparison set the estimate;
* statistical — sampled measures only: ``z_B`` jackknife standard errors over the
  ``batches`` independent batches, ``z_B·[(B−1)/B Σ_i (v_(i) − v̄)²]^{1/2}`` with ``v_(i)``
  the value computed without batch ``i`` (for a plain average this is the batch spread
  ``z_B·sd/√B``; the values are nonlinear in the averages, and with the stationary pairing
  their sampling error is of second order, which the spread of single batches, each
  ``B`` times smaller, over-states). ``z_B`` (:func:`~volterra_sym.backends.coverage.stat_z`)
  is the Student-t quantile with ``B − 1`` degrees of freedom of the coverage of three
  normal standard deviations (4.53 for the default 8 batches): the standard error is
  itself estimated from ``B`` numbers;
* rounding — ``64 ε κ(V) κ(G)^{1/2}`` times the size of the mode sums; for kernels
  through a Krylov system (from :data:`KRYLOV_FROM` basis functions: no
  eigendecomposition, :mod:`~volterra_sym.backends.krylov`) ``64 ε κ(G)^{1/2}`` times
  ``‖c‖‖π‖(1 + ‖Λ‖₁τ_max)``, the largest along the chain (``details["route"]
  ["propagator"]`` says which).

Series asked at more times than the forward form has nodes (``K q``: ``K`` steps, ``q``
Lobatto nodes each) compare the lower degrees and the replicates at those nodes: the
truncation part is the largest change over them, the statistical part the largest over
the step that holds each time.

A sampled measure pairs with ``p0`` through the stationary functional of the Galerkin
generator, kernels, series and ``<f>_0`` alike (:func:`pairing_for`; the system module says
why); the other measures through their own averages.

``tol`` raises the degree from 3 until the estimate is below ``tol`` (relative to the
largest ``|value|``; for a series, every term's error relative to the largest ``|T_N(t)|``,
from the default degree: :func:`_series_to_tol`), the memory budget or the time estimate is
reached, then raises
:class:`~volterra_sym.errors.AccuracyNotReachedError` with the best estimate (and, where
its statistical part is the larger, the samples that would lower it enough:
:func:`samples_hint`).
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import sympy as sp

from ...budget import (
    Deadline,
    check_memory,
    memory_budget,
)
from ...density.linearisation import linearisation, regular_noise
from ...errors import (
    AccuracyNotReachedError,
    InvalidInputError,
    NotApplicableError,
    TruncationCheckError,
    UnusedOptionsWarning,
)
from ...hierarchy.propagation import walk_kernels
from ...model import SRNN
from ...model.cache import cached_keys, derived
from ...model.noise import FEATURE_ACTIVATION_INPUT, FEATURE_STATE_NOISE
from ...model.srnn import SYMBOLIC_PARAMETERS
from ...results import SeriesTerms
from ..coverage import batch_error, stat_z
from ..krylov import KrylovRepresentation
from ..modal import (
    InputSampler,
    ModalRepresentation,
    converged_forward,
    forward_grid,
    forward_output,
    step_index,
)
from ..scaling import scaled_mean0, scaled_series
from ..spectral.collocation import numerics, observable_reason
from . import measure as measures
from .above import plan, resolve
from .basis import MonomialBasis, OrthonormalBasis1D, basis_size
from .cost import check_time, check_time_above, estimated_seconds
from .ladder import default_climb, leading_part, samples_hint, tol_ladder
from .options import DEFAULT_DEGREE, MAX_DEGREE, GalerkinOptions, parse_options
from .reduction import NoReduction, reduced_series_system
from .ridge import MAX_TABLE, reference_whitening, ridge_sums, table_size
from .system import (
    MAX_COND_G,
    GalerkinSystem,
    KrylovGalerkinSystem,
    Sums,
    Whitening,
    assemble,
    assembly_bytes,
    build_krylov_system,
    build_system,
    orthonormaliser,
)
from .truncation import (
    ABOVE_SAFETY,
    DENSITY_SAFETY,
    check_resolved,
    coincident_kicks,
    degree_hint,
    higher_degrees,
    informative_from,
    kernel_informative_from,
    kernels_need,
    lower_degrees,
    most_kicks,
    needed_degree,
    reference_degree,
    safety,
    truncation_above,
    truncation_part,
)

__all__ = ["BACKEND", "GalerkinOptions", "galerkin_kernels", "galerkin_series", "applies",
           "parse_options"]

_LOBATTO_Q = 7
_MAX_STEPS = 1 << 15


def applies(model: SRNN, f: sp.Expr) -> str | None:
    if not model.is_numeric:
        return SYMBOLIC_PARAMETERS
    reason = observable_reason(model, f)
    if reason is not None:
        return reason
    if not model.state_dependent_noise and not regular_noise(model):
        cov = linearisation(model).cov
        w = None if cov is None else np.linalg.eigvalsh(0.5 * (cov + cov.T))
        if w is None or w.min() <= WHITENING_RTOL * max(w.max(), 1e-300):
            return ("D = σσᵀ is singular and the linearised network's stationary covariance "
                    "is too: the noise does not reach every direction, so p0 has no density "
                    "to average over")
    if basis_size(model.n, 2) ** 2 * 8 * 6 > memory_budget():
        return f"even a degree-2 basis of n = {model.n} variables exceeds the memory budget"
    return None


#: smallest eigenvalue of the linearised covariance, relative to the largest, that the
#: whitening accepts: stricter than the exact Gaussian density's 1e-14
#: (``density.linearisation``), because the basis is polynomial in ``L⁻¹(h − μ)`` and a
#: condition number above 1e10 leaves degree-d products with no correct digits
WHITENING_RTOL = 1e-10


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
    """The best averaging measure for ``model`` (module docstring of ``measure``;
    :func:`~.measure.kind_for` says which)."""
    kind, _ = opts.kind(model, degree)
    if kind == "gaussian":
        return derived(model, ("galerkin", "measure", "gaussian"),
                       lambda: measures.Measure("gaussian", np.zeros((0, model.n)),
                                                np.zeros(0), True,
                                                details={"reference": "linearised network"}))
    if kind == "gh":
        return derived(model, ("galerkin", "measure", "gh", degree + 1),
                       lambda: measures.gauss_hermite(model, degree + 1, opts.budget))
    if kind == "q1d":
        return derived(model, ("galerkin", "measure", "q1d"),
                       lambda: measures.quadrature_1d(model))
    if kind == "grid":
        return derived(model, ("galerkin", "measure", "grid"),
                       lambda: measures.grid_2d(model))
    if kind == "density":
        return derived(model, ("galerkin", "measure", "density", degree),
                       lambda: measures.galerkin_density(model, degree))
    return derived(model, ("galerkin", "samples", opts.paths, opts.seed, opts.batches),
                   lambda: measures.samples(model, opts.paths, opts.seed, opts.batches,
                                            opts.budget),
                   keep=ASSEMBLIES_KEPT)


@dataclass
class _Assembled:
    """Sums for the full measure and per batch, for one basis degree and observable."""

    degree: int
    total: Sums
    batches: list[Sums]
    measure: measures.Measure
    extra: dict = field(default_factory=dict)
    #: how the systems pair with ``p0`` (:func:`pairing_for`)
    pairing: str = "measure"

    @cached_property
    def replicates(self) -> list[Sums]:
        """The averages without batch ``i``, for every ``i`` (jackknife replicates)."""
        w = [float(self.measure.w[rows].sum()) for rows in self.measure.batches]
        return [Sums.combine(self.batches[:i] + self.batches[i + 1:], w[:i] + w[i + 1:])
                for i in range(len(self.batches))]


def pairing_for(model: SRNN, measure_kind: str) -> str:
    """``"stationary"`` (the left null vector of the Galerkin generator, system module) for
    a sampled measure of a model without the features of docs/theory.md §10–§11, else
    ``"measure"``. With ``σ(h)`` the polynomial basis converges slowly and not
    monotonically for the skewed ``p0`` (see :data:`~.truncation.FEATURE_SAFETY`), and the
    stationary functional's own truncation error escapes the degree comparison: measured on
    ``noisy_rnn4``, K₁ at lag 0.1 came out 6.0e-4 off the Taylor route with an estimate of
    3.9e-5; the measure's average is unbiased there."""
    sampled = measure_kind == "samples" and not model.features
    return "stationary" if sampled or measure_kind == "gaussian" else "measure"


def jackknife_error(stack: np.ndarray) -> np.ndarray:
    """``z_B`` (:func:`~volterra_sym.backends.coverage.stat_z`) jackknife standard errors
    of the replicates ``stack`` ``(B, ...)``: ``z_B·[(B−1)/B Σ_i (v_(i) − v̄)²]^{1/2}``."""
    B = stack.shape[0]
    return stat_z(B) * np.sqrt((B - 1) / B
                               * np.sum((stack - stack.mean(axis=0)) ** 2, axis=0))


def _diffusion(model: SRNN, x: np.ndarray) -> np.ndarray:
    """``D`` ``(n, n)``, or ``D(x) = σ(x)σ(x)ᵀ`` ``(P, n, n)`` for state-dependent noise."""
    if not model.state_dependent_noise:
        return model.numpy_params()["D"]
    S = model.noise_numpy()(x)
    return S @ np.swapaxes(S, -1, -2)


def kick_keys(model: SRNN, order: int) -> list:
    """The perturbation operators a series of ``order`` needs: channels ``0..m-1``
    (additive input) or every kick ``(k_1..k_j)``, ``j ≤ order`` (input inside the
    activation, docs/theory.md §10)."""
    if model.input != "activation":
        return list(range(model.m))
    return [ks for j in range(1, order + 1)
            for ks in itertools.product(range(model.m), repeat=j)]


def _kick_coefficients(model: SRNN, key, x: np.ndarray) -> np.ndarray:
    """Coefficients ``c`` of the kick ``key`` (``Σ_i c_i ∂_i``): ``C_k`` ``(n,)`` for a channel;
    ``a^{(j)}(z)C_{k_1}⋯C_{k_j}/j!`` at the points ``(P, n)`` for a tuple
    (:meth:`~volterra_sym.model.SRNN.input_operators_numpy`; constant ``(n,)`` where it does
    not depend on ``h``: additive input, a linear activation)."""
    C = model.numpy_params(state_noise=True)["C"]
    if not isinstance(key, tuple):
        return C[:, key]
    direction = np.prod(C[:, list(key)], axis=1)
    if model.input == "additive" or model.is_linear:
        return direction * (1.0 if len(key) == 1 else 0.0)
    return model.input_operators_numpy(len(key))(x) * direction


#: the jackknife replicates skip the orthonormalising ``Q`` (system.build_system with
#: ``Q = None``) when the full system kept every function and ``cond(G)`` is at most this:
#: the Gram solve then loses at most 4 digits and ``κ(V)`` grows by at most ``√cond(G)``
#: = 100 (8 units at degree 5: cond(G) = 99)
RAW_COND_G = 1e4
def _assemble(model: SRNN, f: sp.Expr, degree: int, opts: GalerkinOptions,
              kicks=None, floor: int = 0, role: str = "below") -> _Assembled:
    """Galerkin sums at ``degree`` for the kicks ``kicks`` (default: the channels); kicks
    with the same channels in another order share one matrix (``L^{(j)}`` is symmetric in
    them). ``floor``: the least degree the request allows, the lowest a cost refusal
    offers (:func:`_request_floor`); ``role``: which systems the evaluation builds from
    them, for the cost check (:func:`~.cost.estimated_seconds`)."""
    kicks = tuple(range(model.m)) if kicks is None else tuple(kicks)
    M = basis_size(model.n, degree)
    kind, _ = opts.kind(model, degree)

    def canonical(k):
        return tuple(sorted(k)) if isinstance(k, tuple) else k

    def build():
        # the cost checks only where the sums are computed: a cached assembly (another
        # input or lags on the same model) costs nothing, and the memory free by then is
        # less by what the caches hold
        check_time(model, degree, opts, floor, role)
        meas = _measure(model, degree, opts)
        P = meas.x.shape[0]
        # the chunked assembly, the sums of the full measure and of each batch (with their
        # jackknife replicates), and the modal systems built from them
        groups = len(meas.batches) * 2 + 1 if batched else 1
        check_memory(assembly_bytes(M, P, len(kicks)) + 8.0 * P * meas.x.shape[1] * 3
                     + 8.0 * M * M * (3 + len(kicks)) * groups
                     + 16.0 * M * M * (8 + len(kicks)),
                     f"galerkin at degree {degree} (basis of {M} functions, {P} points)",
                     f"{degree_hint(model, degree, floor, meas.kind == 'samples')} (or "
                     f"raise tol, --tol)", opts.budget)
        if meas.kind == "gaussian":
            return _gaussian_assembly(model, f, degree, kicks, meas)
        white = _whitening(meas)
        # n = 1: the polynomials orthonormal under the quadrature itself (the same span as
        # the Hermite products, whose Gram matrix was refused from degree 14 on
        # noisy_tanh1d); otherwise the Hermite products of the whitened coordinates
        basis = OrthonormalBasis1D.on(white.to_y(meas.x), meas.w, degree) \
            if meas.kind == "quadrature_1d" else MonomialBasis(model.n, degree)
        phi = model.drift_numpy()(meas.x)
        D = _diffusion(model, meas.x)
        fv = numerics(model).observable(f)(meas.x)
        coefs = {}
        for k in kicks:
            if canonical(k) not in coefs:
                coefs[canonical(k)] = _kick_coefficients(model, canonical(k), meas.x)
        if not all(np.all(np.isfinite(v)) for v in (phi, D, fv, *coefs.values())):
            raise AccuracyNotReachedError("galerkin: the drift, the noise, the input "
                                          "operators or the observable is not finite on the "
                                          "averaging points")

        def alias(sums: Sums) -> Sums:
            return Sums(sums.G, sums.A, {k: sums.B[canonical(k)] for k in kicks}, sums.m,
                        sums.F)
        if meas.batches and batched:
            # one pass over the points: the batches' averages, and their weighted mean
            per = [alias(b) for b in assemble(basis, white, meas.x, meas.w, phi, fv, D,
                                              coefs, meas.batches)]
            sums = Sums.combine(per, [float(meas.w[rows].sum()) for rows in meas.batches])
        else:
            sums, per = alias(assemble(basis, white, meas.x, meas.w, phi, fv, D, coefs)[0]), []
        return _Assembled(degree, sums, per, meas,
                          {"f_max": float(np.max(np.abs(fv), initial=0.0))},
                          pairing_for(model, meas.kind))
    key = ("galerkin", "assembled", f, degree, kind, opts.paths if kind == "samples" else 0,
           opts.seed, opts.batches, kicks)
    # a degree the check from above compares with needs the full measure's sums alone:
    # no batches on a sampled measure (8 units at degree 6: 4.9 GB of batch sums), unless
    # the batched sums are cached already
    batched = role != "higher" or kind != "samples" or key in cached_keys(model)
    return derived(model, key if batched else key + ("unbatched",), build,
                   keep=ASSEMBLIES_KEPT)


def _gaussian_assembly(model: SRNN, f: sp.Expr, degree: int, kicks: tuple,
                       meas: measures.Measure) -> _Assembled:
    """The exact sums on the Gaussian reference (:func:`~.ridge.ridge_sums`): no points,
    no batches, paired through the stationary functional."""
    C = model.numpy_params()["C"]
    white = reference_whitening(model)
    sums, facts = ridge_sums(model, f, degree, white, {k: C[:, k] for k in kicks})
    fmax = float(np.max(np.abs(sums.F), initial=0.0))
    return _Assembled(degree, sums, [], meas, {"f_max": fmax, **facts},
                      pairing_for(model, meas.kind))


def _on_reference(model: SRNN, opts: GalerkinOptions, degree: int) -> bool:
    """Whether the route averages over the Gaussian reference at ``degree``."""
    return opts.kind(model, degree)[0] == "gaussian"


def _reference_need(model: SRNN, opts: GalerkinOptions, kicks: int) -> int:
    """:func:`~.truncation.reference_degree` for a quantity with ``kicks`` kicks where the
    route would average over the Gaussian reference there, else 0."""
    d = reference_degree(kicks)
    return d if _on_reference(model, opts, d) else 0


def _reference_options(model: SRNN, opts: GalerkinOptions, kicks: int) -> GalerkinOptions:
    """``opts`` without the Gaussian reference where it could not reach the degree a
    quantity with ``kicks`` kicks needs on it (its table of moments too large there: an
    8-unit series of order 6 needs degree 7): the request is then served on samples of
    ``p0`` at every degree, as before the reference existed."""
    if opts.gaussian and table_size(model.n, reference_degree(kicks)) > MAX_TABLE:
        return replace(opts, gaussian=False)
    return opts


#: assemblies (with their modal systems, up to ~1 GB each at 1,287 functions) kept per
#: model: evaluating one degree needs it and its lower degrees; without a bound, a loop
#: over seeds or sample sizes kept every one (K₁ of an 8-unit network at degree 5 was
#: refused for memory at the 13th seed, the cache holding the other twelve)
ASSEMBLIES_KEPT = 4


def _request_floor(model: SRNN, opts: GalerkinOptions, kick_counts, need: int = 0) -> int:
    """The least degree a request with quantities of ``kick_counts`` kicks allows (where
    the ladders start, the lowest a cost refusal offers): :func:`~.truncation.needed_degree`,
    the Gaussian reference's (:func:`_reference_need`) and ``need`` (the kernels' coincident
    kicks, :func:`_kernels_floor`)."""
    counts = list(kick_counts)
    return max(needed_degree(model, counts), _reference_need(model, opts, most_kicks(counts)),
               need)


def _kernels_floor(model: SRNN, opts: GalerkinOptions, reqs, need: int | None = None) -> int:
    """:func:`_request_floor` of the kernels ``reqs``, with their coincident kicks
    (:func:`~.truncation.kernels_need`, ``need`` where already computed)."""
    return _request_floor(model, opts, (len(k) for k in reqs),
                          kernels_need(model, reqs) if need is None else need)


def _request_kicks(reqs) -> list:
    """The kicks (channels or channel tuples) the requested kernels apply."""
    out = []
    for key in reqs:
        for c in key:
            if c not in out:
                out.append(c)
    return out


def _normalise_key(k) -> tuple:
    return tuple(tuple(int(x) for x in c) if isinstance(c, (tuple, list)) else int(c)
                 for c in k)


def _lower(model: SRNN, f: sp.Expr, asm: _Assembled, opts: GalerkinOptions, kicks,
           check: str) -> list[tuple[int, Sums]]:
    """The sums of the lower degrees of the truncation check
    (:func:`~.truncation.lower_degrees`): the prefix of the same measure, or — where the
    measure itself depends on the degree (``galerkin_density``) — a full assembly with the
    lower-degree density, so that the check sees the density's truncation as well. With
    ``check`` ``"above"`` (:func:`~.above.plan`) the higher degrees instead
    (:func:`_higher`)."""
    if check == "above":
        return _higher(model, f, asm, opts, kicks)
    out = []
    for dl in lower_degrees(model, asm.degree, asm.measure.kind):
        if dl < 1:
            continue
        if asm.measure.kind == "galerkin_density":
            out.append((dl, _assemble(model, f, dl, opts, kicks).total))
        else:
            out.append((dl, asm.total.prefix(basis_size(model.n, dl))))
    return out


def _higher(model: SRNN, f: sp.Expr, asm: _Assembled, opts: GalerkinOptions, kicks
            ) -> list[tuple[int, Sums]]:
    """The sums of the higher degrees of the truncation check from above
    (:func:`~.truncation.higher_degrees`, where :func:`~.above.plan` says so), each a
    full assembly on its own measure of the same kind (the ``galerkin_density`` of each
    degree: the check sees the density's truncation too)."""
    return [(dh, _assemble(model, f, dh, opts, kicks, role="higher").total)
            for dh in higher_degrees(asm.degree)]


def _rate_low(model: SRNN, asm: _Assembled, check: str) -> tuple[int, Sums] | None:
    """The sums at degree ``d − 4`` for the contraction of the truncation changes
    (:func:`~.truncation.slow_convergence_factor`), from ``d ≥ 6``, for the measures of n ≤ 2
    that are ``p0`` itself (the 1-D quadrature, the 2-D grid; ``exact`` Gaussian moments make linear
    models exact) — where the truncation is the only error and a two-well ``p0`` makes the
    basis converge slowly and steadily. Not for a sampled measure (its changes carry the
    sampling noise its statistical part counts) nor the ``galerkin_density`` measure of
    3 ≤ n ≤ 5, whose change is doubled already and whose values approach their limit
    non-monotonically: there the contraction of the changes says little (tanh3's K₁ at
    lag 2 moved by 7.5e-5, 1.3e-5, 1.5e-5 over two degrees at degrees 10, 11, 13 while
    staying within 1.8e-5 of its degree-14 value). None with the check from above."""
    if asm.measure.kind not in ("quadrature_1d", "grid_2d") or asm.degree < 6 \
            or check == "above":
        return None
    dl = asm.degree - 4
    return dl, asm.total.prefix(basis_size(model.n, dl))


# ---------------------------------------------------------------------- kernels
@dataclass(frozen=True)
class _Systems:
    """The modal systems of one assembly: the full measure, each lower degree of the
    truncation check ``(d_l, system)``, and each jackknife replicate (sampled measures)."""

    total: GalerkinSystem
    lows: list[tuple[int, GalerkinSystem]]
    replicates: list[GalerkinSystem]
    #: degree ``d − 4`` for the contraction of the changes (:func:`_rate_low`), or None
    rate: tuple[int, GalerkinSystem] | None = None


def _low_system(model: SRNN, asm: _Assembled, dl: int, what: str, make):
    """The system of the truncation check's compared degree ``dl``, ``make()``; one that
    cannot be built (a growing mode: the density of a low degree can be too coarse for the
    generator — measured on a 3-unit tanh network of gains up to 1.44, degree 4 of the
    ``galerkin_density`` measure while degrees 5–15 were stable) raises
    :class:`~volterra_sym.errors.TruncationCheckError` naming the lowest degree whose check
    stays above ``dl`` (:func:`_check_refusal`)."""
    try:
        return make()
    except AccuracyNotReachedError as exc:
        raise _check_refusal(model, asm, dl, what, exc) from exc


def _check_refusal(model: SRNN, asm: _Assembled, dl: int, what: str,
                   exc: AccuracyNotReachedError) -> TruncationCheckError:
    """The refusal of a degree whose truncation check compares with a degree ``dl`` that
    cannot be computed (``exc``, its system's or its Krylov propagation's refusal)."""
    if dl > asm.degree:                 # check="above": no higher start avoids it
        return TruncationCheckError(
            f"{what}: the truncation check from above compares with degree {dl}, which "
            f"cannot be computed ({exc}); use check='below' (--check below) or a lower "
            f"degree", degree=dl, usable=MAX_DEGREE + 1, error=exc.error)
    usable = asm.degree + 1
    while min(lower_degrees(model, usable, asm.measure.kind)) <= dl:
        usable += 1
    return TruncationCheckError(
        f"{what}: the truncation check compares with degree {dl}, which cannot be "
        f"computed ({exc}); without it degree {asm.degree} has no error estimate: use "
        f"degree >= {usable} (its check starts above degree {dl})",
        degree=dl, usable=usable, error=exc.error)


def _systems(model: SRNN, asm: _Assembled, lows: list[tuple[int, Sums]], what: str,
             rate: tuple[int, Sums] | None = None, krylov: bool = False,
             horizon: float | None = None) -> _Systems:
    """:class:`_Systems` of ``asm`` and the lower-degree sums ``lows``, each system and
    basis built once per assembly (kept with it in the model's derived-data cache, so that
    kernels, series and ``<f>_0`` of one assembly share them). The full measure and the
    replicates share its orthonormal basis; a lower degree has its own.

    Every system of :data:`KRYLOV_FROM` functions or more (the full basis, the replicates,
    the compared degrees — those of a check from above are the largest) is, with
    ``krylov``, a Krylov system (kernels, ``<f>_0``), with a ``horizon`` (a series of order
    ≤ 2 up to that time) a modal system reduced from the same Krylov system to the series'
    Krylov spaces (:mod:`.reduction`); where either cannot be built, the modal system,
    which refuses for itself where it must (an ill-conditioned basis, a growing mode).
    The Krylov systems and modal ones are cached under their own keys, so kernels and a
    series of one assembly share what they have in common."""
    cache = asm.extra.setdefault("systems", {})

    def built(key, make):
        if key not in cache:
            cache[key] = make()
        return cache[key]

    def system(key: tuple, degree: int, sums: Sums, Q, condG: float, what: str):
        """Degree ``degree``'s system of ``sums`` in the basis ``Q`` (cache ``key``)."""
        def modal():
            return built(key, lambda: build_system(sums, Q, condG, what, asm.pairing))
        if basis_size(model.n, degree) < KRYLOV_FROM or not (krylov or horizon is not None):
            return modal()

        def large():
            try:
                kry = built(key + ("krylov",), lambda: build_krylov_system(
                    sums, Q, condG, what, asm.pairing))
                return kry if horizon is None else reduced_series_system(kry, what, horizon)
            except (NoReduction, AccuracyNotReachedError):
                return modal()
        return large() if horizon is None else built(key + ("reduced", horizon), large)

    def low(dl: int, sums: Sums):
        Ql, condl = built(("Q", dl), lambda: orthonormaliser(sums.G))
        return _low_system(model, asm, dl, what, lambda: system(
            ("low", dl), dl, sums, Ql, condl, what + f" (truncation check, degree {dl})"))

    Q, condG = built("Q", lambda: orthonormaliser(asm.total.G))
    if asm.measure.kind == "gaussian":
        what += " (Gaussian reference; measure='samples' averages over p0 itself)"
    return _Systems(
        system(("total",), asm.degree, asm.total, Q, condG, what),
        [(dl, low(dl, s)) for dl, s in lows],
        [system(("jackknife", i), asm.degree, asm.replicates[i],
                None if Q.shape[1] == Q.shape[0] and condG <= RAW_COND_G else Q, condG,
                what + " (jackknife)")
         for i in range(len(asm.batches))],
        None if rate is None else (rate[0], built(("rate", rate[0]), lambda: build_system(
            rate[1], *orthonormaliser(rate[1].G), what + f" (truncation rate, degree "
            f"{rate[0]})", asm.pairing))))


def _sampling_facts(asm: _Assembled, opts: GalerkinOptions) -> dict:
    """``{"samples": P, "seed": s}`` for a sampled measure (reproduce it with ``paths=P,
    seed=s``), else nothing."""
    if asm.measure.kind != "samples":
        return {}
    return {"samples": int(asm.measure.x.shape[0]), "seed": opts.seed}


#: kernels go through a Krylov system (no eigendecomposition) from this many basis
#: functions on: the ``geev`` of ``Λ`` takes 1.2 s at M = 1,287 (8 units, degree 5), 60
#: Arnoldi vectors per start vector 0.03 s; below, the eigendecomposition is cheap and
#: shared with the series and ``<f>_0``
KRYLOV_FROM = 700
#: ... as long as ``‖Λ‖₁ × (largest lag)`` stays below this (beyond it the Arnoldi steps
#: would outnumber the ``M`` products of an eigendecomposition)
KRYLOV_MAX_NORM_TIME = 5_000.0


def _horizon(reqs) -> float:
    return max((float(np.max(v, initial=0.0)) for v in reqs.values()), default=0.0)


def _low_values(model, asm, dl: int, graph, requests, system, what: str):
    """:func:`_kernel_values` of a compared degree ``dl``; a growing mode its Krylov
    propagation finds refuses the degree as its system would have
    (:func:`_check_refusal`)."""
    try:
        return _kernel_values(graph, requests, system, what)
    except AccuracyNotReachedError as exc:
        raise _check_refusal(model, asm, dl, what, exc) from exc


def _kernel_values(graph, requests, system, what: str = "galerkin kernels"):
    if isinstance(system, KrylovGalerkinSystem):
        rep = KrylovRepresentation(system, _horizon(requests), "galerkin", what)
        return walk_kernels(graph, rep, requests)
    return walk_kernels(graph, ModalRepresentation(system, system.a0, "galerkin"), requests)


def _at_degree(model, f, graph, reqs, degree, opts):
    check, opts = plan(model, degree, opts)
    check_resolved(model, degree, (len(k) for k in reqs), "kernel of order", "",
                   _on_reference(model, opts, degree), check == "above")
    need = kernels_need(model, reqs)
    least = kernels_need(model, reqs, above=True) if check == "above" else need
    if degree < least:
        zero = "would be 0" if check == "above" else \
            "and the lower degrees it is compared with would all be 0"
        raise InvalidInputError(
            f"degree={degree}: {max(coincident_kicks(v) for v in reqs.values())} kicks at the "
            f"same time (equal lags) are as many derivatives in a row, which annihilate every "
            f"polynomial below that degree: the kernel {zero}; use degree >= {least}",
            param="degree")
    kicks = _request_kicks(reqs)
    floor = _kernels_floor(model, opts, reqs, need)
    if check == "above":
        check_time_above(model, degree, opts, floor)
    asm = _assemble(model, f, degree, opts, kicks, floor, check)      # role: the check
    what = f"galerkin kernels at degree {degree}"
    lowered = _lower(model, f, asm, opts, kicks, check)
    systems = _systems(model, asm, lowered, what, _rate_low(model, asm, check), krylov=True)
    if any(isinstance(s, KrylovGalerkinSystem) and
           s.norm * _horizon(reqs) > KRYLOV_MAX_NORM_TIME
           for s in (systems.total, *(s for _, s in systems.lows))):
        systems = _systems(model, asm, lowered, what, _rate_low(model, asm, check))
    system = systems.total
    res = _kernel_values(graph, reqs, system, what)
    lows = [(dl, _low_values(model, asm, dl, graph, reqs, s, what))
            for dl, s in systems.lows]
    rate = None if systems.rate is None else (
        systems.rate[0], _kernel_values(graph, reqs, systems.rate[1]))
    by_degree = dict(lows)
    stat = {k: np.zeros(v[0].shape) for k, v in res.items()}
    if systems.replicates:
        vals = [_kernel_values(graph, reqs, s) for s in systems.replicates]
        for k in res:
            stat[k] = jackknife_error(np.stack([np.real(v[k][0]) for v in vals]))
    info = {"degree": degree, "check": check, "basis": system.M,
            "measure": asm.measure.kind,
            **_sampling_facts(asm, opts), "pairing": asm.pairing,
            "cond_G": float(system.cond_G),
            **({"propagator": "krylov"} if isinstance(system, KrylovGalerkinSystem) else
               {"propagator": "modal", "cond_V": float(system.cond_V)})}
    out, parts = {}, {}
    for k, (v, mag) in res.items():
        least = kernel_informative_from(model, k, reqs[k])
        contraction = None if rate is None or rate[0] < least or degree - 2 not in by_degree \
            else (by_degree[degree - 2][k][0], rate[1][k][0])
        if check == "above":
            trunc, steps = truncation_above(asm.measure.kind, v,
                                            [low[k][0] for _, low in sorted(lows)])
            changes = {degree + j: c for j, c in steps.items()}
        else:
            changes = {dl: float(np.max(np.abs(v - low[k][0]), initial=0.0))
                       for dl, low in lows if dl >= least}
            trunc = truncation_part(model, asm.measure.kind, degree, v, changes, contraction)
        rnd = system.rounding(float(np.max(mag, initial=0.0)))
        err = trunc + stat[k] + rnd
        parts[k] = {"truncation": trunc, "statistical": float(np.max(stat[k], initial=0.0)),
                    "rounding": rnd, "changes": changes}
        out[k] = (np.real(v), np.asarray(err, dtype=float) * np.ones_like(v),
                  {**info, **parts[k]})
    return out, parts, info


def _degrees(model: SRNN, f: sp.Expr, opts: GalerkinOptions):
    if opts.degree is not None:
        return [opts.degree]
    deg_f = model.polynomial_degree(f)
    if opts.tol is None:
        if model.is_linear and not model.state_dependent_noise and deg_f is not None:
            return [max(deg_f, 2)]
        return [DEFAULT_DEGREE.get(model.n, 3)]
    start = max(3, deg_f or 3)     # two lower degrees exist for the truncation check
    return list(range(start, MAX_DEGREE + 1))


def _conditioned_degree(model: SRNN, f: sp.Expr, opts: GalerkinOptions, kicks,
                        start: int | None = None) -> int:
    """The default degree (or ``start``), lowered while the basis is ill-conditioned under
    the measure (``cond(G) > MAX_COND_G`` or functions below the cutoff: a skewed ``p0``,
    e.g. ``σ(h)`` vanishing at the edge of the support, docs/theory.md §11). The lower bases
    are prefixes of the default one, so one assembly decides."""
    degree = _degrees(model, f, opts)[0] if start is None else start
    if opts.degree is not None or opts.tol is not None:
        return degree
    # on the measure the evaluation at that degree uses (the reference put first: G = I)
    G = _assemble(model, f, degree, resolve(model, degree, opts)[1], kicks).total.G
    for d in range(degree, 2, -1):
        M = basis_size(model.n, d)
        Q, cond = orthonormaliser(G[:M, :M])
        if Q.shape[1] == M and cond <= MAX_COND_G:
            return d
    return degree


def _relative(out) -> tuple[float, float]:
    """``(largest error / largest |value|, largest |value|)`` over all requested kernels."""
    scale = max(max((float(np.max(np.abs(v), initial=0.0)) for v, *_ in out.values()),
                    default=0.0), 1e-300)
    worst = max((float(np.max(e, initial=0.0)) for _, e, *_ in out.values()), default=0.0)
    return worst / scale, scale


def _default_ladder(model, f, graph, reqs, opts: GalerkinOptions):
    """Kernels without ``degree`` or ``tol`` (:data:`~.ladder.DEFAULT_TARGET`): a 3-unit network's
    K₁ at a zero crossing needs degree 11 for an error below 1 % of the value, while the
    default degree 5 gave 24 %."""
    degree = max(_conditioned_degree(model, f, opts, _request_kicks(reqs)),
                 _kernels_floor(model, opts, reqs))

    def compute(d: int):
        out, parts, _ = _at_degree(model, f, graph, reqs, d, opts)
        trunc = max(p["truncation"] for p in parts.values())
        stat = max(p["statistical"] for p in parts.values())
        rnd = max(p["rounding"] for p in parts.values())
        return out, _relative(out)[0], leading_part(trunc, stat, rnd)
    return default_climb(model, opts, degree, compute, "kernels")


def galerkin_kernels(model: SRNN, f: sp.Expr, graph, requests, **options):
    """``{channels: (values, error, details)}`` (module docstring; ``details``: the degree,
    basis size, measure and the parts of the error); without ``degree`` or ``tol`` the
    degree rises towards :data:`~.ladder.DEFAULT_TARGET` within
    :data:`~.ladder.LADDER_SECONDS`."""
    f = sp.sympify(f)
    opts = parse_options(model, options, f)
    reqs = {_normalise_key(k): np.asarray(v, dtype=float) for k, v in requests.items()}
    kicks = most_kicks(len(k) for k in reqs)
    opts = _reference_options(model, opts, kicks)
    if opts.degree is None and opts.tol is None:
        return _default_ladder(model, f, graph, reqs, opts)
    if opts.tol is None:                               # degree alone
        return _at_degree(model, f, graph, reqs, opts.degree, opts)[0]
    need = _kernels_floor(model, opts, reqs)

    def compute(degree: int):
        out, parts, info = _at_degree(model, f, graph, reqs, degree, opts)
        rel, scale = _relative(out)
        return (out, rel, f"basis {info['basis']}, {info['measure']} measure",
                samples_hint(parts, scale, opts))
    return tol_ladder(model, opts, [d for d in _degrees(model, f, opts)
                                     if opts.degree is not None or d >= need],
                       compute, "galerkin")


# ---------------------------------------------------------------------- series
#: without ``degree`` or ``tol``, on the measures of n ≤ 2 that are ``p0`` itself (1-D
#: quadrature, 2-D grid; cheap at any degree) the series starts at degree ``order + 8`` at
#: least (lowered while ill-conditioned): ``T_N`` needs ``N`` derivatives of the projected
#: observable, and where ``d − N`` is small its convergence in ``d`` plateaus, which the
#: change against ``d − 1, d − 2`` does not see — on tanh1d, ``T_10`` for ``sin 2t`` stayed
#: 3.7–5.0e-7 off the spectral route at degrees 12–15 and was reported at 2.2e-7 at the
#: default degree 14 (``verify tanh1d --order 10`` failed its spectral-vs-galerkin check);
#: from ``d − N ≥ 6`` every ``T_N`` (N ≤ 12) was within 0.05–0.72 of its estimate
SERIES_DEGREE_MARGIN = 8
#: the same margin on the ``galerkin_density`` measure (3 ≤ n ≤ 5) where its degree is
#: estimated within the time budget: on a 3-unit tanh network of independent units against
#: the 1-D spectral route, ``T_6`` for ``sin 2t`` stayed 8.5e-4 off at degrees 7–11 (above
#: ``|T_6|`` = 3.3e-4) and at degree 11 was 1.16× its doubled change over the lower
#: degrees' window; from ``d − N ≥ 6`` every ``T_N`` (N ≤ 6, degrees 12–15, n = 3 and 4,
#: two gains) was within 0.79 of that
SERIES_DENSITY_MARGIN = 6


def _series_margin(model: SRNN, f: sp.Expr, opts: GalerkinOptions, kicks, order: int,
                   degree: int) -> int:
    """The default series degree: at least ``order +`` :data:`SERIES_DEGREE_MARGIN` on the
    1-D quadrature and the 2-D grid, ``order +`` :data:`SERIES_DENSITY_MARGIN` on the
    ``galerkin_density`` measure where its estimated time fits the budget (the conditioning
    of the measure may lower either: :func:`_conditioned_degree`)."""
    for kinds, margin, timed in ((("q1d", "grid"), SERIES_DEGREE_MARGIN, False),
                                 (("density",), SERIES_DENSITY_MARGIN, True)):
        start = order + margin
        kind = opts.kind(model, start)[0]
        if degree < start and kind in kinds and (
                not timed or estimated_seconds(model, start, opts) <= opts.seconds):
            degree = max(degree, _conditioned_degree(model, f, opts, kicks, start=start))
    return degree


def galerkin_series(model: SRNN, f: sp.Expr, order: int, u, times, **options) -> SeriesTerms:
    """``T_0..T_order`` through the forward form ``r_0 = mᵀ``,
    ``r_N' = r_N Λ + Σ_k u_k r_{N-1} M_k``, ``T_N = r_N c_f`` (modal coordinates).

    Without ``degree`` or ``tol`` the degree rises from the default as for kernels
    (:data:`~.ladder.DEFAULT_TARGET` of the largest ``|T_N|``, N ≥ 1, within
    :data:`~.ladder.LADDER_SECONDS` per step): on ``tanh3`` the default degree 5 left ``T_1`` off by
    5e-4 (inside its estimate 4e-3), enough to bend the residual slopes of docs/theory.md §8
    at ε = 0.05. The option ``time_budget`` (seconds) also bounds the time integrations of
    every degree tried (one :class:`~volterra_sym.budget.Deadline`); a degree the ladder
    cannot finish in it leaves the last finished one. With ``tol`` the degree rises until
    every error is below ``tol·max_{N,t}|T_N(t)|`` (:func:`_series_to_tol`; with ``degree``
    too, that degree or a refusal)."""
    f = sp.sympify(f)
    opts = parse_options(model, options, f)
    times = np.asarray(times, dtype=float)
    opts = _reference_options(model, opts, order)
    kicks = kick_keys(model, order)
    degree = _conditioned_degree(model, f, opts, kicks) if opts.tol is None else \
        max(_degrees(model, f, opts)[0], DEFAULT_DEGREE.get(model.n, 3))
    if opts.degree is None:
        degree = max(degree, _request_floor(model, opts, range(1, order + 1)))
    if opts.degree is None and opts.tol is None:
        degree = _series_margin(model, f, opts, kicks, order, degree)
    # the time integrations of every degree tried under one budget
    deadline = Deadline(opts.seconds, f"the galerkin series up to t = {float(times[-1]):.6g} "
                        f"at order {order}", "request a shorter time span (t_max), a slower "
                        "input u, a looser tol, a lower order or degree")
    if opts.tol is not None:
        return _series_to_tol(model, f, order, u, times, degree, opts, kicks, deadline)
    if opts.degree is not None:
        return _series_at_degree(model, f, order, u, times, degree, opts, kicks, deadline)

    def compute(d: int):
        # judged on T_N, N ≥ 1 (T_0 = <f>_0 is not what the ladder is for)
        res = _series_at_degree(model, f, order, u, times, d, opts, kicks, deadline)
        vals, errs = np.asarray(res)[1:], np.asarray(res.error)[1:]
        scale = max(float(np.max(np.abs(vals), initial=0.0)), 1e-300)
        worst = float(np.max(errs, initial=0.0))
        trunc = float(np.max(res.details.get("truncation", [0.0]), initial=0.0))
        other = max(worst - trunc, 0.0)     # truncation leads where trunc > worst/2
        stat = other if res.details.get("measure") == "samples" else 0.0
        return res, worst / scale, leading_part(trunc, stat, other - stat)
    return default_climb(model, opts, degree, compute, "series")


def _series_relative(res: SeriesTerms) -> float:
    """``max error / max |T_N(t)|`` over every term and time."""
    scale = max(float(np.max(np.abs(np.asarray(res)), initial=0.0)), 1e-300)
    return float(np.max(np.asarray(res.error), initial=0.0)) / scale


def _series_to_tol(model: SRNN, f: sp.Expr, order: int, u, times: np.ndarray, degree: int,
                   opts: GalerkinOptions, kicks, deadline: Deadline) -> SeriesTerms:
    """The series with ``tol``: from ``degree`` up (at ``degree`` only where ``degree`` is
    given) until every error is below ``tol·max_{N,t}|T_N(t)|``, the whole ladder within
    the time budget; else :class:`~volterra_sym.errors.AccuracyNotReachedError` with the
    best terms (``best``) and their relative error. A degree that fails before any value
    (a growing mode, an unstable lower degree of its check) is skipped, as for kernels."""
    def compute(d: int):
        res = _series_at_degree(model, f, order, u, times, d, opts, kicks, deadline)
        return res, _series_relative(res), f"{res.details.get('measure')} measure", ""
    return tol_ladder(model, opts, [degree] if opts.degree is not None
                       else range(degree, MAX_DEGREE + 1), compute, "galerkin series")


def _series_at_degree(model: SRNN, f: sp.Expr, order: int, u, times: np.ndarray,
                      degree: int, opts: GalerkinOptions, kicks,
                      deadline: Deadline) -> SeriesTerms:
    """:func:`galerkin_series` at one basis degree (its errors: module docstring); the
    forward runs — the full basis, the lower degrees, the replicates — checked against
    ``deadline`` (:func:`~volterra_sym.backends.modal.converged_forward`)."""
    check, opts = plan(model, degree, opts)
    check_resolved(model, degree, range(1, order + 1), "series term of order", "",
                   _on_reference(model, opts, degree), check == "above")
    floor = _request_floor(model, opts, range(1, order + 1))
    if check == "above":
        check_time_above(model, degree, opts, floor)
    asm = _assemble(model, f, degree, opts, kicks, floor, check)      # role: the check
    forward_kicks = kicks if model.input == "activation" else None
    low_sums = _lower(model, f, asm, opts, kicks, check)
    reduce = order <= 2 and times[-1] > 0      # from KRYLOV_FROM functions (_systems)
    systems = _systems(model, asm, low_sums, f"galerkin series at degree {degree}",
                       _rate_low(model, asm, check),
                       horizon=float(times[-1]) if reduce else None)
    mean, *mean_parts = _paired_mean(model, asm, systems, check) \
        if asm.pairing == "stationary" \
        else _mean(asm, low_sums, check)
    mean_err = sum(mean_parts)
    tmax = float(times[-1])
    out = np.zeros((order + 1, times.size))
    err = np.zeros_like(out)
    out[0], err[0] = mean, mean_err
    if tmax <= 0:
        return SeriesTerms(out, err, "galerkin", {"degree": degree})
    theta, Lc = forward_grid(_LOBATTO_Q)
    sampler = InputSampler(u, model.m, tmax, _LOBATTO_Q)
    # the forward form's own tolerance: well below the series' tol
    tol = 1e-8 if opts.tol is None else min(1e-8, 0.1 * opts.tol)

    def run(system: GalerkinSystem, K=None):
        return converged_forward(
            system, system.a0, order, tmax, sampler, theta, Lc, tol=tol,
            memory_budget=memory_budget(opts.budget), noise_unit=system.rounding(1.0),
            max_steps=_MAX_STEPS, what="galerkin series", K=K, kicks=forward_kicks,
            deadline=deadline)

    system = systems.total
    prop, K, terr = run(system)
    vals = forward_output(system, prop, system.a0, times, Lc)
    # the lower degrees and the jackknife replicates are compared where the values are: at
    # the requested times, or — more of them than the integrator's nodes — at the nodes,
    # the statistical part then carried to the times as its largest value over each step
    # (:func:`_on_nodes`)
    on_nodes = times.size > K * _LOBATTO_Q

    def compared(s: GalerkinSystem) -> np.ndarray:
        p = run(s, K)[0]
        return p.node_terms(s.a0).reshape(order, -1) if on_nodes else \
            forward_output(s, p, s.a0, times, Lc)
    ref = prop.node_terms(system.a0).reshape(order, -1) if on_nodes else vals
    # T_N against the lower degrees informative for N kicks (:func:`~.truncation.informative_from`);
    # none: the value itself
    trunc = np.abs(vals).max(axis=1, keepdims=True)
    at = {dl: compared(s) for dl, s in systems.lows}
    changes = [(dl, np.abs(ref - v).max(axis=1)) for dl, v in at.items()]
    rate = None if systems.rate is None else (systems.rate[0], compared(systems.rate[1]))
    seen = {dl: [None] * order for dl, _ in changes}
    for N in range(1, order + 1):
        least = informative_from(model, N)
        use = {dl: float(c[N - 1]) for dl, c in changes if dl >= least}
        for dl, c in use.items():
            seen[dl][N - 1] = c
        if use and check == "above":
            trunc[N - 1, 0] = truncation_above(asm.measure.kind, ref[N - 1],
                                               [at[dh][N - 1] for dh in sorted(at)])[0]
        elif use:
            contraction = None if rate is None or rate[0] < least or degree - 2 not in at \
                else (at[degree - 2][N - 1], rate[1][N - 1])
            trunc[N - 1, 0] = truncation_part(model, asm.measure.kind, degree, ref[N - 1],
                                              use, contraction)
    stat = np.zeros_like(vals)
    if systems.replicates:
        stat = jackknife_error(np.stack([compared(s) for s in systems.replicates]))
        if on_nodes:
            stat = _on_nodes(stat.reshape(order, K, _LOBATTO_Q), times, tmax / K)
    out[1:] = vals
    err[1:] = trunc + stat + terr[:, None] + system.rounding(
        float(np.abs(vals).max(initial=0.0)) + 1.0)
    M = basis_size(model.n, degree)
    return SeriesTerms(out, err, "galerkin",
                       {"degree": degree, "check": check, "basis": M,
                        **({"reduced_to": system.M} if system.M < M else {}),
                        "measure": asm.measure.kind, **_sampling_facts(asm, opts),
                        "pairing": asm.pairing, "steps": K,
                        "truncation": trunc.ravel().tolist(), "changes": seen})


def _on_nodes(values: np.ndarray, times: np.ndarray, delta: float) -> np.ndarray:
    """A quantity known at the Lobatto nodes of ``K`` steps of length ``delta``,
    ``values`` ``(order, K, q)``, at ``times``: its largest value over the step holding each
    time (the steps' nodes are ``K q`` points; ten thousand requested times would cost the
    series output of every jackknife replicate and lower degree as much as the value's
    own)."""
    return values.max(axis=2)[:, step_index(times, delta, values.shape[1])]


def _paired_mean(model: SRNN, asm: _Assembled, systems: _Systems, check: str | None
                 ) -> tuple[float, float, float]:
    """``<f>_0 = ℓ(f)`` with the stationary pairing of a sampled measure or the Gaussian
    reference (system module): its error is the change against the compared degrees —
    lower ones times :func:`~.truncation.safety`, with ``check="above"`` the higher ones
    times :data:`~.truncation.ABOVE_SAFETY` — plus ``z_B`` jackknife standard errors plus
    rounding — the sample mean ``F_0`` carries the full ``O(1/√P)`` sampling error instead
    (measured on an 8-unit tanh network: ± 9.4e-3 at 40,000 samples). Returns
    ``(value, truncation part, the other parts)``."""
    def value(system: GalerkinSystem) -> float:
        return float(np.real(system.pairing @ system.a0))
    val = value(systems.total)
    changes = [abs(val - value(s)) for _, s in systems.lows]
    factor = ABOVE_SAFETY if check == "above" else safety(model, asm.measure.kind)
    trunc = factor * max(changes) if changes else abs(val)
    stat = float(jackknife_error(np.array([value(s) for s in systems.replicates]))) \
        if systems.replicates else 0.0
    return val, trunc, stat + systems.total.rounding(abs(val) + 1.0)


def _mean(asm: _Assembled, lows: list[tuple[int, Sums]] | None = None,
          check: str | None = None) -> tuple[float, float, float]:
    """``<f>_0 = F_0`` (the first basis function is the constant 1) and its error: the
    batch spread of a sampled measure, the change against the lower-degree densities of a
    ``galerkin_density`` measure (times :data:`~.truncation.DENSITY_SAFETY`: on a 3-unit tanh
    network ``<f>_0`` at degree 10 was 1.14× its undoubled change off the 1-D spectral route;
    against the higher degrees of ``check="above"`` :data:`~.truncation.ABOVE_SAFETY`), else
    rounding (plus a tabulated density's weight error). Returns ``(value, truncation part,
    the other parts)``."""
    val = float(asm.total.F[0])
    if asm.batches:
        b = np.array([s.F[0] for s in asm.batches])
        return val, 0.0, float(batch_error(b))
    if asm.measure.kind == "galerkin_density":
        rnd = 64 * np.finfo(float).eps * max(abs(val), 1.0)
        if not lows:         # no lower degree left: the value itself (module docstring)
            return val, abs(val), rnd
        return val, (ABOVE_SAFETY if check == "above" else DENSITY_SAFETY) * max(
            abs(val - float(s.F[0])) for _, s in lows), rnd
    # a tabulated density (σ(h), docs/theory.md §11): its weights' error times max |f|
    werr = asm.measure.details.get("weight_error", 0.0) * asm.extra.get("f_max", 0.0)
    return val, 0.0, 64 * np.finfo(float).eps * max(abs(val), 1.0) + werr


class _GalerkinBackend:
    """The ``galerkin`` route (see module docstring)."""

    name = "galerkin"
    #: docs/theory.md §10–§11: kicks ``L^{(j)}`` and ``D(h)`` in the Galerkin matrices
    features = frozenset({FEATURE_ACTIVATION_INPUT, FEATURE_STATE_NOISE})

    def applies(self, model: SRNN, f) -> str | None:
        return applies(model, f)

    def kernels(self, model, f, graph, requests, **options):
        out = galerkin_kernels(model, f, graph, requests, **options)
        _warn_unsampled(options, {d.get("measure") for _, _, d in out.values()})
        return out

    def mean0(self, hierarchy, **options) -> tuple[float, float, dict]:
        """``(<f>_0, error estimate, facts)`` (docs/theory.md §9; ``f`` rescaled,
        :mod:`..scaling`); ``options`` as for kernels (:func:`_mean0`)."""
        kinds: set = set()
        out = scaled_mean0(hierarchy.f, lambda f: _mean0(hierarchy.model, f, options, kinds),
                           self.name)
        _warn_unsampled(options, kinds)
        return out

    def series_terms(self, hierarchy, u, times, **options) -> SeriesTerms:
        out = scaled_series(hierarchy.f, lambda f: galerkin_series(
            hierarchy.model, f, hierarchy.order, u, times, **options), self.name)
        _warn_unsampled(options, {out.details.get("measure")})
        return out


def _mean0(model: SRNN, f: sp.Expr, options: dict | None = None,
           kinds: set | None = None) -> tuple[float, float, dict]:
    """``(<f>_0, error estimate, facts)`` (degree, measure, the parts of the error), the
    degree chosen as for kernels: ``degree`` alone is
    that degree, ``tol`` the ``tol`` ladder (:func:`~.ladder.tol_ladder`), neither the
    default climb (:func:`~.ladder.default_climb`: while the error is above
    :data:`~.ladder.DEFAULT_TARGET` of ``|<f>_0|``, its truncation part leads and the next
    degree is estimated within :data:`~.ladder.LADDER_SECONDS`). At the default degree
    alone ``tanh3``'s ``<h1>_0`` came out 0.2185 ± 7.2e-3 while its series gave
    ``T_0`` = 0.217645 ± 3.5e-5 at degree 12. ``kinds`` collects the measures used."""
    opts = parse_options(model, options or {}, f)
    kinds = set() if kinds is None else kinds

    def at(degree: int) -> tuple[float, float, float, str, str | None]:
        """``(value, truncation part, the other parts, the measure's kind, the check)``."""
        run = resolve(model, degree, opts)[1]
        asm = _assemble(model, f, degree, run)
        kind = asm.measure.kind
        kinds.add(kind)
        # the compared degrees only where they enter the estimate (a quadrature's or
        # grid's <f>_0 is their own average: no truncation part, no check)
        compared = asm.pairing == "stationary" or kind == "galerkin_density"
        check = plan(model, degree, opts)[0] if compared else None
        if check == "above":
            check_time_above(model, degree, run)
        lows = _lower(model, f, asm, run, [], check) if compared else []
        if asm.pairing == "stationary":
            # ℓ(f) needs no eigendecomposition: Krylov systems from KRYLOV_FROM functions
            return *_paired_mean(model, asm, _systems(
                model, asm, lows, f"galerkin <f>_0 at degree {degree}", krylov=True),
                check), kind, check
        return *_mean(asm, lows, check), kind, check     # as T_0 of the series

    if opts.tol is not None:
        def to_tol(degree: int):
            val, trunc, other, kind, check = at(degree)
            facts = _mean_facts(degree, kind, trunc, other, check)
            parts = {"<f>_0": {k: facts[k] for k in ("truncation", "statistical", "rounding")}}
            return ((val, trunc + other, facts), (trunc + other) / max(abs(val), 1e-300),
                    f"{kind} measure", samples_hint(parts, abs(val), opts))
        return tol_ladder(model, opts, _degrees(model, f, opts), to_tol, "galerkin <f>_0")
    if opts.degree is not None:
        val, trunc, other, kind, check = at(opts.degree)
        return val, trunc + other, _mean_facts(opts.degree, kind, trunc, other, check)

    def compute(degree: int):
        val, trunc, other, kind, check = at(degree)
        facts = _mean_facts(degree, kind, trunc, other, check)
        err = trunc + other
        return ((val, err, facts), err / max(abs(val), 1e-300),
                leading_part(trunc, facts["statistical"], facts["rounding"]))
    return default_climb(model, opts, max(_conditioned_degree(model, f, opts, None),
                                          needed_degree(model, [])), compute, "<f>_0")


def _mean_facts(degree: int, kind: str, trunc: float, other: float,
                check: str | None) -> dict:
    """The facts of a ``<f>_0`` (``Estimate.details["route"]``, as kernels carry theirs):
    the degree, the measure, the truncation check (where other degrees were compared) and
    the parts of the error (the parts beside truncation are sampling error only on a
    sampled measure)."""
    stat = other if kind == "samples" else 0.0
    return {"degree": degree, **({"check": check} if check else {}), "measure": kind,
            "truncation": float(trunc), "statistical": float(stat),
            "rounding": float(other - stat)}


def _warn_unsampled(options: dict, measures_used: set) -> None:
    """``paths``/``seed``/``batches`` (or ``measure="samples"``) passed where the measure was
    not sampled (the deterministic density of 3 ≤ n ≤ 5, a quadrature, a grid, a Gaussian
    rule — ``measure="samples"`` replaces only the Gaussian reference of n ≥ 6): they had no
    effect, which the caller should hear rather than believe they did."""
    unused = [k for k in ("paths", "seed", "batches") if k in options]
    if options.get("measure") == "samples":
        unused.append("measure")
    if unused and "samples" not in measures_used:
        kinds = ", ".join(sorted(str(k) for k in measures_used if k))
        warnings.warn(UnusedOptionsWarning(
            f"galerkin: {', '.join(unused)} had no effect — the averaging measure ({kinds}) "
            "is deterministic, not sampled (docs/theory.md §9)", tuple(unused)), stacklevel=4)


BACKEND = _GalerkinBackend()
