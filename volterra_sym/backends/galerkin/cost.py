"""The cost model of the Galerkin route: its estimated time at a degree, and the refusal
of a degree whose estimate exceeds the time budget before any work starts::

    seconds ≈ κ·[P(a M² + b M n) + S c M³],   M = C(n+d, d),

``P`` the averaging points, ``S`` the modal systems, ``a, b, c`` fitted rates, ``κ`` a
margin (:func:`estimated_seconds`)."""

from __future__ import annotations

import math
from dataclasses import replace

from ...budget import MAX_TIME_BUDGET, SAMPLE_COUNTS, check_count
from ...model import SRNN
from . import measure as measures
from .basis import basis_size
from .options import MAX_SECONDS, GalerkinOptions
from .ridge import QUAD_NODES
from .truncation import ABOVE_WIDTH, lower_allowed, lower_degrees

__all__ = ["COST_MARGIN", "MAX_SECONDS", "TIME_UNIT", "above_seconds", "check_time",
           "check_time_above", "estimated_seconds"]


#: the unit of :func:`check_time`'s refusal (its ``ResourceLimitError.unit``)
TIME_UNIT = "s (estimated, one core)"
#: the cost model (one core, OpenBLAS): seconds per averaging point and ``M²`` (the Gram
#: and generator sums), per point and ``M·n`` (the basis and its derivatives at the
#: points), per modal system and ``M³`` (eigen-decomposition, transforms to mode
#: coordinates, kick matrices); times :data:`COST_MARGIN`. Refitted 2026-12-05 after the
#: real-basis modal transforms (the old model, 9e-11/9e-9/1.7e-9, had become 1.8–2.8×
#: pessimistic) to K₁ at 50 lags in fresh processes, one BLAS thread, load ≈ 1: n = 8 at
#: degrees 4 (40,000 and 160,000 samples) and 5; n = 5 at degrees 6 and 7; n = 12 and
#: n = 20 at degree 3 (4.4–95 s); the point-M² rate held at its flop count (the fit cannot
#: separate it from the others)
_POINT_M2, _POINT_MN, _SYSTEM_M3 = 6e-11, 7.4e-9, 9.1e-10
#: the Gaussian reference (:mod:`.ridge`): seconds per unit, quadrature node and monomial
#: of degree ≤ 2d − 1 (the conditional moments of each ridge), per monomial of degree
#: ≤ 2d (the table), and per ``M³`` of each system of the truncation check (degrees d,
#: d − 1, d − 2). Refitted 2026-12-07 to K₁ at 50 lags in fresh processes, one BLAS
#: thread: n = 8 at degrees 4–6, n = 12 at 4, n = 16 at 3 and 4, n = 20 and 24 at 3
#: (0.35–90 s; the fitted model is 0.85–1.12× the measured time). The former model
#: (1e-7, 5e-6, the sampled measures' ``M³`` rate and the top system counted twice) was
#: 3.4–4.8× the measured time: 16 units at degree 4 were estimated at 376 s for 90 s
_RIDGE_UNIT_NODE_MONOMIAL, _RIDGE_TABLE, _REFERENCE_M3 = 1e-8, 1.2e-5, 7e-10
#: the ``galerkin_density`` measure's own construction, in units of the point sums of one
#: assembly (three re-centring passes over the tensor rule, each with the generator's sums
#: alone). Fitted 2026-12-07 (benchmarks/check_galerkin_density_cost.py: K₁ at two lags,
#: one BLAS thread, alone on the machine; n = 3 at degrees 9 and 12, n = 4 at 4–10, n = 5
#: at 2 and 4, from above and below, 1.7–73 s): the runs took 0.61–0.97 of their estimate
#: in the fitting run and 0.65–1.09 in a second one (the machine's noise). Without it,
#: and without the lower degrees' own densities from below, the runs took 1.8–3.0× their
#: estimate — 4 units at degree 8 checked from above were estimated at 69 s, took 153 s
_DENSITY_PASSES = 1.5
#: safety factor of :func:`estimated_seconds` over the fitted model (machines differ; the
#: fit's largest under-estimate on the calibration runs was 1.16×)
COST_MARGIN = 1.5


def estimated_seconds(model: SRNN, degree: int, opts: GalerkinOptions, *,
                      sampling: bool = True, role: str = "below") -> float:
    """Estimated time of one evaluation at ``degree``:
    ``κ·[P(a M² + b M n) + S c M³]``, ``M = C(n+d, d)``, ``P`` the averaging points,
    ``S`` the modal systems (the full basis, up to three lower degrees and the jackknife
    batches), ``a, b, c`` the fitted rates (on the Gaussian reference, no points: the 1-D
    quadratures of its ridge functions instead, :data:`_RIDGE_UNIT_NODE_MONOMIAL`) and
    ``κ`` = :data:`COST_MARGIN`; plus, for a
    sampled measure and ``sampling``, :func:`~.measure.sampling_seconds` (its burn-in: 0.7 s
    for 40,000 samples of 8 units, 56 s of 16; cached per model, so the degree ladders,
    which have the samples already, leave it out). ``role``: the systems built at
    ``degree`` — ``"below"`` its own, the lower degrees of the truncation check and the
    jackknife replicates; ``"above"`` its own and the replicates (checked from above);
    ``"higher"`` its own alone (one of the degrees the check from above compares with:
    with all of them counted, 6 independent units on the sampled measure at degree 4
    were estimated at 130 s for 27 s measured)."""
    M = basis_size(model.n, degree)
    kind, P = opts.kind(model, degree)
    if kind == "gaussian":
        ridge = (_RIDGE_UNIT_NODE_MONOMIAL * model.n * QUAD_NODES
                 * basis_size(model.n, 2 * degree - 1)
                 + _RIDGE_TABLE * basis_size(model.n, 2 * degree))
        # one system per degree of the truncation check: d, d − 1, d − 2 (no jackknife)
        lowest = max(degree - 2, 1) if role == "below" else degree
        cubes = sum(basis_size(model.n, k) ** 3 for k in range(lowest, degree + 1))
        return COST_MARGIN * (ridge + _REFERENCE_M3 * cubes)
    if kind == "density":
        # each degree builds its own density and sums; from below the window's degrees too
        lows = lower_degrees(model, degree, "galerkin_density") if role == "below" else ()
        return COST_MARGIN * sum(_density_degree(model, k, opts)
                                 for k in (degree, *lows) if k >= 1)
    systems = (4 if role == "below" else 1) \
        + (opts.batches if kind == "samples" and role != "higher" else 0)
    burn_in = measures.sampling_seconds(model, P) if sampling and kind == "samples" else 0.0
    return COST_MARGIN * (_point_seconds(model, M, P) + systems * _SYSTEM_M3 * M ** 3
                          + burn_in)


def _point_seconds(model: SRNN, M: int, P: int) -> float:
    """Fitted seconds of one assembly's sums over ``P`` points with ``M`` functions:
    ``P(a M² + b M n)``."""
    return P * (_POINT_M2 * M * M + _POINT_MN * M * model.n)


def _density_degree(model: SRNN, degree: int, opts: GalerkinOptions) -> float:
    """Fitted seconds of one degree on the ``galerkin_density`` measure: its density
    (:func:`~.measure.galerkin_density`: the generator's sums over the tensor rule and an
    SVD, once per re-centring — :data:`_DENSITY_PASSES` of the point sums' cost and three
    ``M³``), then its own sums and modal system."""
    M = basis_size(model.n, degree)
    points = _point_seconds(model, M, opts.kind(model, degree)[1])
    return (1.0 + _DENSITY_PASSES) * points + 4 * _SYSTEM_M3 * M ** 3


def check_time(model: SRNN, degree: int, opts: GalerkinOptions, floor: int = 0,
               role: str = "below") -> None:
    """Refuse (:class:`~volterra_sym.errors.ResourceLimitError`) a degree whose
    :func:`estimated_seconds` exceed the option ``time_budget`` (default
    :data:`~.options.MAX_SECONDS`); a lower degree is offered only down to ``floor``, the
    least the request allows (:func:`~.truncation.lower_allowed`). Measured: n = 20 at
    degree 3 (M = 1771) did not finish in 300 s before this check. ``role``: the systems
    the evaluation builds at ``degree`` (:func:`estimated_seconds`)."""
    M = basis_size(model.n, degree)
    kind, P = opts.kind(model, degree)
    seconds = estimated_seconds(model, degree, opts, role=role)
    if seconds <= opts.seconds:
        return
    # only the remedies that would fit: a lower degree with an error estimate, fewer
    # samples (the M³ of the modal systems does not shrink with them), a larger budget
    ways = []
    if lower_allowed(model, degree, floor) and estimated_seconds(
            model, degree - 1, opts, role=role) <= opts.seconds:
        ways.append("lower degree (--degree)")
    fewest = replace(opts, paths=SAMPLE_COUNTS[0])
    low = estimated_seconds(model, degree, fewest, role=role)
    if kind == "samples" and low <= opts.seconds:
        # the estimate is affine in the samples: the most that fit the budget
        slope = (seconds - low) / max(opts.paths - fewest.paths, 1)
        fit = fewest.paths + (opts.seconds - low) / slope if slope > 0 else opts.paths
        unit = 10 ** max(int(math.floor(math.log10(max(fit, 1.0)))) - 1, 0)
        fit = int(fit // unit * unit)                   # two digits, rounded down
        ways.append(f"lower paths (--paths) to about {max(fit, fewest.paths):,}")
    _refuse(seconds, opts, f"galerkin at degree {degree} (basis of {M} functions, "
            f"{_points(kind, P)}{_sampling_share(model, kind, P, seconds)})", ways)


def _refuse(seconds: float, opts: GalerkinOptions, what: str, ways: list[str]) -> None:
    """The time refusal of :func:`check_time` and :func:`check_time_above`: ``what`` needs
    ``seconds``, more than the option ``time_budget``; the remedies ``ways`` that fit, then
    a larger budget (where it may be raised that far) and Monte Carlo."""
    if seconds <= MAX_TIME_BUDGET:
        ways.append(f"raise time_budget (--time-budget) to about {math.ceil(seconds)} s")
    ways.append("use method='montecarlo' (--method montecarlo)")
    check_count(seconds, opts.seconds, what, TIME_UNIT,
                ", ".join(ways[:-1]) + (" or " if len(ways) > 1 else "") + ways[-1])


def above_seconds(model: SRNN, degree: int, opts: GalerkinOptions, *,
                  sampling: bool = True) -> float:
    """:func:`estimated_seconds` of an evaluation at ``degree`` checked from above: degree
    ``d`` with its replicates, and ``d + 1 … d + 3`` with their systems alone
    (``sampling``: as for :func:`estimated_seconds`)."""
    return estimated_seconds(model, degree, opts, sampling=sampling, role="above") + sum(
        estimated_seconds(model, degree + k, opts, sampling=False, role="higher")
        for k in range(1, ABOVE_WIDTH + 1))


def check_time_above(model: SRNN, degree: int, opts: GalerkinOptions, floor: int = 0
                     ) -> None:
    """Refuse (:class:`~volterra_sym.errors.ResourceLimitError`), before any work, the
    check from above at ``degree`` (option ``check``, :mod:`.above`) whose degrees
    ``d … d + 3`` together have :func:`estimated_seconds` above the option ``time_budget``:
    each is assembled, and the top one costs the most (8 independent units of gain 1.0 on
    the sampled measure: degree 3 alone 4 s, checked from above 90 s). A lower degree is
    offered only down to ``floor`` (as :func:`check_time`)."""
    seconds = above_seconds(model, degree, opts)
    if seconds <= opts.seconds:
        return
    top = degree + ABOVE_WIDTH
    kind, P = opts.kind(model, top)
    ways = [f"check='below' (--check below: degree {degree} and lower ones)"]
    if lower_allowed(model, degree, floor) and above_seconds(model, degree - 1,
                                                             opts) <= opts.seconds:
        ways.append("lower degree (--degree)")
    _refuse(seconds, opts, f"galerkin at degree {degree} checked from above (degrees "
            f"{degree}–{top}; degree {top}: a basis of {basis_size(model.n, top)} functions, "
            f"{_points(kind, P)})", ways)


def _points(kind: str, points: int) -> str:
    """What the sums at a degree average over, for a refusal: ``"P averaging points"``,
    or the Gaussian reference (its averages exact, no points)."""
    if kind == "gaussian":
        return "exact averages over the Gaussian reference"
    return f"{points:,} averaging points"


def _sampling_share(model: SRNN, kind: str, points: int, seconds: float) -> str:
    """``", of which about X s draw the samples …"`` where drawing the samples of ``p0`` is
    at least a quarter of the estimate ``seconds`` (else empty): a network with a slow or
    metastable mode needs a long burn-in (a 14-unit network with relaxation time 15 took
    33,158 steps per sample), which only fewer samples or Monte Carlo avoid."""
    if kind != "samples":
        return ""
    share = COST_MARGIN * measures.sampling_seconds(model, points)
    facts = measures.burn_in_facts(model)
    if facts is None or share < 0.25 * seconds:
        return ""
    steps, tau, metastable = facts
    return (f", of which about {share:.0f} s draw the samples of p0: a burn-in of "
            f"{steps:,} steps each, the linearised network's relaxation time being "
            f"{tau:.3g}{' (metastable)' if metastable else ''}")
