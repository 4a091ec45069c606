"""The choice of basis degree of the Galerkin route (docs/theory.md §9), for kernels and
series alike, given ``compute(d)`` at one degree:

* without ``degree`` or ``tol`` (:func:`default_climb`): from the default degree up while
  the relative error is above :data:`DEFAULT_TARGET`, its truncation part leads and the
  next degree's estimated time is within :data:`LADDER_SECONDS` (:data:`UNRESOLVED_SECONDS`
  while the relative error is above :data:`UNRESOLVED_REL`); no refusal (no accuracy was
  asked for), a warning where the values stay unresolved;
* with ``tol`` (:func:`tol_ladder`): up until ``error ≤ tol·max|value|``, the whole ladder
  within the time budget, else :class:`~volterra_sym.errors.AccuracyNotReachedError` with
  the best result and what stopped it (memory, time, the largest degree), and the samples
  that would help where sampling leads (:func:`samples_hint`).
"""

from __future__ import annotations

import time
import warnings

from ...budget import TIME_UNIT as WALL_UNIT  # wall seconds (cost.TIME_UNIT: one core)
from ...errors import (
    AccuracyNotReachedError,
    InvalidInputError,
    ResourceLimitError,
    TruncationCheckError,
    UnresolvedWarning,
)
from ...model import SRNN
from .above import resolve
from .cost import TIME_UNIT, above_seconds, estimated_seconds
from .options import MAX_DEGREE, GalerkinOptions

__all__ = ["DEFAULT_TARGET", "LADDER_SECONDS", "UNRESOLVED_REL", "UNRESOLVED_SECONDS",
           "default_climb", "leading_part", "samples_hint", "step_seconds", "tol_ladder"]


#: without ``degree`` or ``tol``: the degree rises from the default while the error estimate
#: is above this (relative to the largest ``|value|`` asked for), the truncation part
#: dominates it, and the next degree's :func:`step_seconds` are at most
#: :data:`LADDER_SECONDS`; the best degree reached is returned with its own estimate (no
#: refusal: no accuracy was asked for). 3.0 s of :func:`~.cost.estimated_seconds` stops
#: ``tanh3``'s K₁ at degree 9, checked from above (± 0.20 % of the value at lag 2); it was
#: 1.0 s until the density measure's own construction entered the cost model (2026-12-07,
#: :data:`~.cost._DENSITY_PASSES`), which raised that measure's estimates about 2.9×:
#: 1.0 s would have stopped it at degree 7 (± 2.8 %)
DEFAULT_TARGET = 1e-3
LADDER_SECONDS = 3.0
#: while the relative error is above :data:`UNRESOLVED_REL` (the values barely resolved) the
#: default ladder's next step may take up to :data:`UNRESOLVED_SECONDS`: at the 3 s limit an
#: 8-unit network's K₂ stopped at degree 4 with errors 95 % of its largest value in 1 s;
#: degree 5 (3.4 s estimated, 3 s measured) brings them to 30 % and K₁'s 11× down
UNRESOLVED_REL = 0.1
UNRESOLVED_SECONDS = 10.0


def step_seconds(model: SRNN, degree: int, opts: GalerkinOptions, *,
                 sampling: bool = True) -> float:
    """Estimated time of a ladder's step at ``degree``: :func:`~.cost.above_seconds` where
    it checks from above (degrees ``d … d + 3``: 6 independent units on samples at degree
    4, 34 s estimated for 27 s measured — the top degree's own estimate, which counts its
    jackknife and lower-degree systems, said 100 s), else :func:`~.cost.estimated_seconds`."""
    check, run, _ = resolve(model, degree, opts)
    if check == "above":
        return above_seconds(model, degree, run, sampling=sampling)
    return estimated_seconds(model, degree, opts, sampling=sampling)


def leading_part(trunc: float, stat: float, rnd: float) -> str:
    """Which part leads an error estimate, for :func:`default_climb`: ``"truncation"`` where
    it exceeds the other two together (the ladder climbs), else ``"sampling"`` where the
    statistical part exceeds rounding, else ``"rounding"``."""
    if trunc > stat + rnd:
        return "truncation"
    return "sampling" if stat > rnd else "rounding"


def default_climb(model: SRNN, opts: GalerkinOptions, degree: int, compute, what: str):
    """The default ladder of kernels and series: ``compute(d)`` → ``(result, relative
    error, the part that leads it: "truncation", "sampling" or "rounding")`` from
    ``degree`` up while the relative error is above :data:`DEFAULT_TARGET`, the truncation
    part leads and the next degree's :func:`step_seconds` are within
    :data:`LADDER_SECONDS` (:data:`UNRESOLVED_SECONDS` while the relative error is above
    :data:`UNRESOLVED_REL`); the last result. A first
    degree whose truncation check fails moves on (:func:`_past_check`); a later failure
    leaves the last result. Stopping unresolved warns (:func:`_warn_unresolved`)."""
    best = None
    while True:
        try:
            result, rel, leader = compute(degree)
            trunc_leads = leader == "truncation"
        except TruncationCheckError as exc:
            if best is not None:
                return best
            degree = _past_check(model, degree, opts, exc)
            continue
        except (ResourceLimitError, AccuracyNotReachedError):
            if best is None:
                raise
            return best
        except InvalidInputError as exc:       # check="above" ends below this degree
            if best is None or exc.param != "check":
                raise
            return best
        best = result
        # the next step assembles up to its top degree (d + 3 checked from above)
        nxt = step_seconds(model, degree + 1, opts, sampling=False)
        limit = UNRESOLVED_SECONDS if rel > UNRESOLVED_REL else LADDER_SECONDS
        if (rel <= DEFAULT_TARGET or not trunc_leads or degree + 1 > MAX_DEGREE
                or nxt > limit):
            if rel >= 1.0 and trunc_leads and degree + 1 <= MAX_DEGREE:
                _warn_unresolved(what, degree, rel, nxt, limit)
            elif rel >= 1.0 and leader == "sampling":
                _warn_unresolved_sampling(what, degree, rel, opts)
            return best
        degree += 1


def _warn_unresolved(what: str, degree: int, rel: float, nxt: float, limit: float) -> None:
    """:class:`~volterra_sym.errors.UnresolvedWarning` where a default ladder stops at its
    per-step time ``limit`` (:data:`UNRESOLVED_SECONDS` there, as the errors are above
    :data:`UNRESOLVED_REL`) with errors at least the largest value: measured
    on six independent tanh units, K₃ at lags including three equal ones came back at the
    default degree 5 as −0.20 ± 0.87 (actual error 4.7e-3) without a word; degree 7 gives
    ± 0.07 in 54 s."""
    warnings.warn(UnresolvedWarning(
        f"galerkin {what}: errors up to {rel:.2g}× the largest value at the default degree "
        f"{degree}, where the default ladder stops (degree {degree + 1} is estimated at "
        f"{nxt:.2g} s, above {limit:g} s a step): the values are not resolved; "
        "tol= (--tol) or degree= (--degree) goes further within the time budget",
        rel, "tol"), stacklevel=3)


def _warn_unresolved_sampling(what: str, degree: int, rel: float,
                              opts: GalerkinOptions) -> None:
    """:class:`~volterra_sym.errors.UnresolvedWarning` where the default ladder stops with
    errors at least the largest value and the sampling of ``p0`` leads them (the ladder
    climbs only for truncation): measured on a 3-unit network with the input inside the
    activation, K₁₂ at lags (0.3, 0.6) came back as 0.000499 ± 0.00061
    (statistical part 0.00050) without a word. More samples lower that part as 1/√paths;
    a value near 0 may stay unresolved relative to itself."""
    warnings.warn(UnresolvedWarning(
        f"galerkin {what}: errors up to {rel:.2g}× the largest value at the default degree "
        f"{degree}, led by the sampling of p0 ({opts.paths:,} samples): the values are not "
        "resolved (a kernel near 0 may stay so); paths= (--paths) lowers that part as "
        "1/√paths", rel, "paths"), stacklevel=3)


def _past_check(model: SRNN, degree: int, opts: GalerkinOptions,
                exc: TruncationCheckError) -> int:
    """The default ladders' next degree when the first one's truncation check failed at a
    lower degree: the lowest degree whose check stays above it, if its
    :func:`~.cost.estimated_seconds` are within the time budget (else ``exc`` is raised)."""
    if exc.usable > MAX_DEGREE or estimated_seconds(model, exc.usable, opts) > opts.seconds:
        raise exc
    return exc.usable


def samples_hint(parts: dict, scale: float, opts: GalerkinOptions) -> str:
    """For a ``tol`` refusal whose best estimate is mostly sampling error: the samples that
    would bring the statistical part (``∝ 1/√paths``) under what ``tol`` leaves beside the
    truncation and rounding parts, ``P·(stat / (tol·scale − trunc − rounding))²`` (``scale``
    the largest ``|value|``); or that more samples alone cannot reach ``tol``. Empty for a
    deterministic measure or a truncation-dominated estimate."""
    trunc, stat, rnd = (max(p[k] for p in parts.values())
                        for k in ("truncation", "statistical", "rounding"))
    if not stat > trunc:
        return ""
    room = opts.tol * scale - trunc - rnd
    if room <= 0:
        return (f"; its statistical part ({stat:.2g}) is larger than its truncation part "
                f"({trunc:.2g}), but the truncation part alone is above tol")
    paths = opts.paths * (stat / room) ** 2
    return (f"; its statistical part ({stat:.2g}) is larger than its truncation part "
            f"({trunc:.2g}): about {paths:,.0f} samples (paths, --paths; now "
            f"{opts.paths:,}) would bring it under what tol leaves (the truncation part, "
            "estimated from the samples too, may then change)")


def _over_budget(model: SRNN, degree: int, opts: GalerkinOptions, spent: float,
                 took: list[float]) -> str:
    """Why a ``tol`` ladder stops before ``degree`` (``""``: it goes on): ``spent`` seconds
    so far plus ``degree``'s — the cost model's estimate (:func:`step_seconds`), and at
    least the last degree's
    time grown as it grew from the one before (the measured growth guards against the cost
    model's own misses: before it counted the density measure's own assemblies, a series
    ladder on tanh3 to ``tol=1e-6`` passed the 120 s budget by 14 s when each degree was
    taken to cost what the last one did) — above the time budget."""
    nxt = step_seconds(model, degree, opts)
    if took:
        grow = took[-1] / took[-2] if len(took) > 1 and took[-2] > 0 else 1.0
        nxt = max(nxt, took[-1] * max(1.0, grow))
    if spent + nxt <= opts.seconds:
        return ""
    return (f"the time budget: {spent:.3g} s spent on the lower degrees and degree {degree} "
            f"estimated at {nxt:.3g} s exceed {opts.seconds:g} s (time_budget, --time-budget)")


def _stopped_by(degree: int, exc: ResourceLimitError) -> str:
    """What refused ``degree`` in a ``tol`` ladder (:func:`check_memory`: bytes;
    :func:`~.cost.check_time`: :data:`~.cost.TIME_UNIT`; any other: its own message), and the option
    that moves it."""
    if exc.unit == "bytes":
        return (f"the memory budget: degree {degree} needs about "
                f"{exc.estimate / 2**30:.3g} GiB, more than {exc.budget / 2**30:.3g} GiB "
                "(memory_budget, VOLTERRA_MEMORY_BUDGET)")
    if exc.unit == TIME_UNIT:
        return (f"the time budget: degree {degree} is estimated at {exc.estimate:.3g} s, "
                f"more than {exc.budget:.3g} s (time_budget, --time-budget)")
    if exc.unit == WALL_UNIT:
        return (f"the time budget: the time integrations at degree {degree} would pass "
                f"{exc.budget:.3g} s (time_budget, --time-budget)")
    return f"a cost limit: {exc}"


def tol_ladder(model: SRNN, opts: GalerkinOptions, degrees, compute, what: str):
    """The ``tol`` ladder of kernels and series: ``compute(d)`` → ``(result, relative
    error, what the degree used, a hint)`` over ``degrees`` (one where ``degree`` is given)
    until the relative error is at most ``tol``, the whole ladder within the time budget
    (:func:`_over_budget`); else :class:`~volterra_sym.errors.AccuracyNotReachedError` with
    the best result (``best``). A degree that fails before any value (a growing mode of a
    basis too coarse for two wells: independent tanh units of gain 1.6 at degree 3; a
    truncation check reaching an unstable lower degree) is skipped; a given degree that
    fails raises."""
    fixed = opts.degree is not None
    # the reason when the degrees run out (kept apart: the budget check below overwrites
    # ``stop`` with "" at every degree it lets through)
    end = (f"the fixed degree {opts.degree} (degree, --degree: without it tol raises the "
           "degree)" if fixed else f"the largest degree {MAX_DEGREE}")
    stop = end
    best = failed = None
    start, took = time.perf_counter(), []
    for d in degrees:
        if best is not None or failed is not None:   # the budget holds for the whole ladder
            stop = _over_budget(model, d, opts, time.perf_counter() - start, took)
            if stop:
                break
        took.append(-time.perf_counter())
        try:
            result, rel, about, hint = compute(d)
        except ResourceLimitError as exc:
            if best is None:
                raise
            stop = _stopped_by(d, exc)
            break
        except InvalidInputError as exc:
            if best is None or exc.param != "check":
                raise
            stop = f"the check from above ({exc})"     # check="above" ends below degree d
            break
        except AccuracyNotReachedError as exc:
            if fixed:
                raise
            if best is None:
                failed = exc
                continue
            stop = f"degree {d} failed ({exc})"
            break
        finally:
            took[-1] += time.perf_counter()
        best = (result, rel, about, hint, d)
        if rel <= opts.tol:
            return result
    else:
        stop = end
    if best is None:
        if failed is None:
            raise AccuracyNotReachedError(f"{what}: tol={opts.tol:g}: no degree was tried "
                                          f"(stopped by {stop})", tol=opts.tol)
        raise AccuracyNotReachedError(
            f"{what}: tol={opts.tol:g} not reached: no degree up to the stop ({stop}) gave "
            f"a value; the last failure: {failed}", error=failed.error, tol=opts.tol) \
            from failed
    result, rel, about, hint, d = best
    raise AccuracyNotReachedError(
        f"{what}: tol={opts.tol:g} not reached: best relative error estimate {rel:.2g} at "
        f"degree {d} ({about}); stopped by {stop}; raise tol (--tol){hint}",
        best=result, error=rel, tol=opts.tol)
