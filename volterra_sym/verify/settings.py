"""Settings, constants and the report line of ``volterra-sym verify``; how an exception
inside a check becomes SKIP or FAIL (by its type, never by its message)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..arrays import check_flag, check_int
from ..errors import (
    AccuracyNotReachedError,
    InvalidInputError,
    NotApplicableError,
    ResourceLimitError,
    VolterraSymError,
)
from ..model.domain import input_singularity
from ..montecarlo.crn import check_amplitudes
from ..montecarlo.error_bounds import ERROR_Z, RICHARDSON_REL
from ..montecarlo.integrators import SCHEMES
from ..montecarlo.simulate import time_indices
from ..parsing import compile_time_function

__all__ = ["DEFAULT_INPUT", "input_on_channels",
           "PASS", "FAIL", "SKIP", "WEAK", "RESOLVE_FRACTION", "Resolution", "resolution",
           "agreement_status", "annotate", "NOT_APPLICABLE", "REFUSED_COST", "REFUSED_ACCURACY",
           "UNRESOLVED", "UNCLASSIFIED", "SKIP_CAUSES", "cause_of", "worst_cause", "blocking",
           "VerificationIncompleteError", "REL_FLOOR", "SLOPE_TOL", "SLOPE_Z", "NOISE_FLOOR",
           "NEXT_ORDER", "RICHARDSON_REL", "Z", "Settings", "settings_for", "Check", "status_of",
           "error_check", "describe", "VerificationFailedError"]

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
#: a comparison that found no disagreement but could not tell the values from 0: its
#: tolerance is above RESOLVE_FRACTION of the compared magnitude at most of its entries
#: (:func:`agreement_status`, docs/theory.md §8 "What a PASS means")
WEAK = "WEAK"
#: why a check was skipped (``Check.cause``; docs/theory.md §8 "Skipped checks"): the route
#: or estimator does not cover this model/observable/order — nothing can enable the check
NOT_APPLICABLE = "not applicable"
#: refused before the work for its cost (:class:`ResourceLimitError`: memory, size, the
#: Monte Carlo time budget); the reason names the option that lowers it
REFUSED_COST = "refused: cost"
#: the route could not reach its tolerance and returned no number
#: (:class:`AccuracyNotReachedError`)
REFUSED_ACCURACY = "refused: accuracy"
#: the check ran but its data do not decide it (too few ε above the Monte Carlo noise
#: floor, or the engine's error of the subtracted terms above it)
UNRESOLVED = "unresolved"
#: a SKIP that no code path classified (counted as blocking by ``--strict``)
UNCLASSIFIED = "unclassified"
SKIP_CAUSES = (NOT_APPLICABLE, REFUSED_COST, REFUSED_ACCURACY, UNRESOLVED, UNCLASSIFIED)
#: an entry of a comparison *resolves* the compared values when its tolerance is at most
#: this fraction of their magnitude (a route returning 0 or the wrong sign there would fail)
RESOLVE_FRACTION = 0.5
#: relative floor added to every engine-vs-engine tolerance (× the kernel's scale)
REL_FLOOR = 1e-8
#: slope tolerance of the truncation-error check (docs/theory.md §8)
SLOPE_TOL = 0.3
#: a slope off by more than SLOPE_TOL FAILs only beyond SLOPE_TOL + SLOPE_Z·(its standard
#: error); in between the check has no verdict (the fit's noise, not the engine)
SLOPE_Z = 3.0
#: a residual is "above the MC noise floor" when ``|R| > NOISE_FLOOR · se``
NOISE_FLOOR = 3.0
#: the slope fit uses only ε where the engine's higher orders together are at most this
#: fraction of the leading one
NEXT_ORDER = 0.15
#: z-score multiplier of the Monte Carlo comparisons: the Monte Carlo results' own (their
#: ``error``; RICHARDSON_REL, the bound of the Richardson remainder relative to the measured
#: time-step bias, is theirs too), so that a comparison and a result's error bar are one rule
Z = ERROR_Z
#: fewest paths of a Monte Carlo ensemble of verify: ``Z·se`` is a tolerance only where
#: ``se`` is estimated well — from P paths ``|Δ|/se`` follows Student's t with P − 1
#: degrees of freedom, beyond ``Z = 4`` with probability 0.16 at 2 paths (a correct engine
#: FAILed with ``--kernel-paths 2``), 4e-4 at 30 (6e-5 for the normal limit)
MIN_PATHS = 30


class VerificationFailedError(VolterraSymError):
    """At least one verify check failed (the command line's exit status 1)."""


class VerificationIncompleteError(VerificationFailedError):
    """``verify --strict``: no check failed, but one is WEAK or was skipped for a reason
    other than not applying (refused for cost or accuracy, unresolved): exit status 1."""


# ====================================================================== settings
#: the input of the series checks unless the user gives one (``--input``)
DEFAULT_INPUT = "sin(2*t)"


def input_on_channels(text: str, m: int, name: str = "settings.input"
                      ) -> Callable[[float], np.ndarray]:
    """``u(t) -> (m,)``: the expression ``text`` in ``t`` (whitelist parser) on each of the
    ``m`` channels."""
    u = compile_time_function(text, name)

    def on_every_channel(t: float) -> np.ndarray:
        return np.full(m, u(float(t)))
    return on_every_channel


@dataclass(frozen=True)
class Settings:
    """Everything that fixes the numbers of a run (written to ``verify.json``); checked
    when made (also by :func:`dataclasses.replace`)."""

    quick: bool
    seed: int
    dt: float = 0.01
    scheme: str = "exponential"
    kernel_paths: int = 40_000
    kernel_origins: int = 20
    origin_stride: float = 0.5
    window: float = 0.1
    series_paths: int = 600_000
    eps: tuple[float, ...] = tuple(np.geomspace(0.05, 0.4, 6))
    times: tuple[float, ...] = tuple(np.round(np.arange(0.5, 3.001, 0.25), 10))
    mc_lags1: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0)
    mc_lags2: tuple[tuple[float, float], ...] = ((0.0, 0.0), (0.25, 0.25), (0.5, 0.5),
                                                (1.0, 1.0), (0.25, 0.5), (0.25, 0.75),
                                                (0.25, 1.25), (0.25, 2.0))
    continuity_step: float = 0.01
    chunk_size: int = 16384
    #: also simulate −ε on the same paths and check the even and odd parts of the series
    #: residual (docs/theory.md §8): twice the series Monte Carlo
    parity: bool = False
    #: the input ``u_k(t)`` of the series checks on every channel: an expression in ``t``
    #: (the whitelist parser), smooth and bounded on ``[0, max(times)]``
    input: str = DEFAULT_INPUT
    #: time-step levels of the series Monte Carlo: 2 (``dt``, ``dt/2``: Richardson) or 3
    #: (also ``dt/4``: the second Richardson step, whose measured remainder enters the
    #: check's floor; 7/3 of the cost per path)
    levels: int = 2

    def __post_init__(self):
        """Refuse settings that no check could run with (an :class:`InvalidInputError`
        naming the field, before any work — they used to surface as FAIL lines, i.e. as a
        failed verification of a correct engine)."""
        def bad(name: str, condition: str):
            return InvalidInputError(f"settings.{name} must be {condition}, got "
                                     f"{getattr(self, name)!r}"[:300], param=name)

        def is_pos(x) -> bool:
            return isinstance(x, (int, float, np.integer, np.floating)) \
                and not isinstance(x, bool) and math.isfinite(x) and x > 0

        for name in ("quick", "parity"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise bad(name, "True or False")
        for name, lo, hi in (("seed", 0, None), ("kernel_paths", MIN_PATHS, None),
                             ("series_paths", MIN_PATHS, None), ("kernel_origins", 1, None),
                             ("chunk_size", 1, None), ("levels", 2, 3)):
            try:
                check_int(getattr(self, name), f"settings.{name}", lo=lo, hi=hi)
            except InvalidInputError as exc:
                raise InvalidInputError(str(exc), param=name) from None
        for name in ("dt", "origin_stride", "window", "continuity_step"):
            if not is_pos(getattr(self, name)):
                raise bad(name, "a positive finite number")
        if self.scheme not in SCHEMES:
            raise bad("scheme", f"one of {SCHEMES}")
        try:
            eps = check_amplitudes(self.eps, "settings.eps")
        except InvalidInputError as exc:
            raise InvalidInputError(str(exc), param="eps") from None
        if np.any(eps <= 0):
            raise bad("eps", "positive amplitudes (the slope is fitted to log ε)")
        object.__setattr__(self, "eps", tuple(float(e) for e in eps))
        lags2 = np.asarray(self.mc_lags2, dtype=float) if len(self.mc_lags2) else None
        if lags2 is None or lags2.ndim != 2 or lags2.shape[1] != 2:
            raise bad("mc_lags2", "a non-empty sequence of lag pairs")
        # times, lags, window and stride on the grid of dt (the Monte Carlo's condition)
        for name, value in (("times", self.times), ("mc_lags1", self.mc_lags1),
                            ("mc_lags2", lags2.ravel()), ("window", [self.window]),
                            ("origin_stride", [self.origin_stride])):
            try:
                time_indices(value, self.dt, f"settings.{name}")
            except InvalidInputError as exc:
                raise InvalidInputError(str(exc), param=name) from None

        if not isinstance(self.input, str):
            raise bad("input", "an expression in t (text)")
        try:
            u = compile_time_function(self.input, "settings.input")
            why = input_singularity(u.expr, sp.Symbol("t", real=True), max(self.times))
        except InvalidInputError as exc:
            raise InvalidInputError(str(exc), param="input") from None
        if why is not None:
            raise InvalidInputError(f"settings.input = {u.expr} is singular on [0, "
                                    f"{max(self.times):g}]: {why}", param="input")

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def input_function(self, m: int) -> Callable[[float], np.ndarray]:
        """``u(t) -> (m,)``: :attr:`input` on each of the ``m`` channels."""
        return input_on_channels(self.input, m)


def settings_for(quick: bool, seed: int, n: int = 1) -> Settings:
    """Defaults: the full run takes a minute or two on two cores, ``--quick`` a few seconds
    for small networks. ``--quick`` keeps the Monte Carlo work (paths × units) of a
    2-unit network: for ``n > 2`` units the kernel paths scale by ``2/n`` and the series
    paths (whose steps cost ``~n²``) by ``(2/n)²`` — wider error bars, the same tolerances
    in standard errors. ``quick`` must be a bool and ``n`` an integer ≥ 1 (else
    :class:`InvalidInputError`; ``seed`` is checked by :class:`Settings`)."""
    check_flag(quick, "quick")
    n = check_int(n, "n", lo=1, what="the number of units")
    if quick:
        scale = min(1.0, 2.0 / max(int(n), 1))
        return Settings(quick=True, seed=seed,
                        kernel_paths=max(int(10_000 * scale), MIN_PATHS),
                        kernel_origins=10, series_paths=max(int(100_000 * scale**2), 2000),
                        eps=(0.05, 0.1, 0.2, 0.4),
                        times=tuple(np.round(np.arange(0.5, 2.501, 0.25), 10)))
    return Settings(quick=False, seed=seed)


# ====================================================================== checks
@dataclass
class Check:
    """One line of the report."""

    name: str
    group: str
    status: str
    value: str = ""
    tolerance: str = ""
    reason: str = ""
    data: dict = field(default_factory=dict)
    #: why a SKIP was skipped (one of :data:`SKIP_CAUSES`; ``""`` for the other statuses);
    #: a SKIP made without one is :data:`UNCLASSIFIED`
    cause: str = ""

    def __post_init__(self):
        if self.status == SKIP and not self.cause:
            self.cause = UNCLASSIFIED

    def as_dict(self) -> dict:
        return {"name": self.name, "group": self.group, "status": self.status,
                "value": self.value, "tolerance": self.tolerance, "reason": self.reason,
                "cause": self.cause, "data": self.data}


def blocking(check: Check) -> bool:
    """Whether ``verify --strict`` fails on ``check``: FAIL, WEAK, or a SKIP for any
    cause but :data:`NOT_APPLICABLE` (a refusal for cost or accuracy, an unresolved or an
    unclassified check: the verification is incomplete)."""
    if check.status == SKIP:
        return check.cause != NOT_APPLICABLE
    return check.status != PASS


@dataclass(frozen=True)
class Resolution:
    """How many entries of a comparison resolve the compared values (:func:`resolution`):
    ``resolved`` of ``total`` have ``tol ≤ RESOLVE_FRACTION · scale``; ``scale`` is the
    largest ``|value|`` of either side over the compared entries, ``worst`` the largest
    ``tol / scale`` (``inf`` when every value is 0 and some tolerance is not)."""

    resolved: int
    total: int
    scale: float
    worst: float

    @property
    def weak(self) -> bool:
        """Fewer than half of the entries resolve the values (and at least one was
        compared): agreement within such tolerances says little."""
        return self.total > 0 and 2 * self.resolved < self.total

    def note(self) -> str:
        """One phrase for the report line ("" when every entry resolves)."""
        if self.resolved == self.total:
            return ""
        return (f"tolerance > {RESOLVE_FRACTION:g} × max |value| ({self.scale:.3g}) at "
                f"{self.total - self.resolved}/{self.total} entries (max tol/|value| "
                f"{self.worst:.3g})")


def resolution(tol, *values) -> Resolution:
    """The :class:`Resolution` of a comparison with tolerances ``tol`` (one per compared
    entry; non-finite entries are not counted) between the arrays ``values`` (both sides,
    any shapes; NaN ignored). The magnitude is the largest ``|value|`` over every compared
    entry of every side: one scale per check, so that an entry where the kernel crosses 0
    is judged against the kernel's size, not its own. Where every value is 0 and every
    tolerance is below the smallest normal number (both routes exact, errors 0: a kernel
    that vanishes identically, e.g. order 2 of a linear model with a linear observable),
    the comparison demanded exact agreement: every entry resolves."""
    tol = np.abs(np.asarray(tol, dtype=float)).ravel()
    tol = tol[np.isfinite(tol)]
    parts = [np.abs(np.asarray(v, dtype=float)).ravel() for v in values]
    allv = np.concatenate(parts) if parts else np.zeros(0)
    scale = float(np.max(allv[np.isfinite(allv)], initial=0.0))
    if scale == 0 and np.all(tol < np.finfo(float).tiny):
        return Resolution(int(tol.size), int(tol.size), 0.0, 0.0)
    resolved = int(np.sum(tol <= RESOLVE_FRACTION * scale))
    if tol.size == 0:
        worst = 0.0
    elif scale > 0:
        worst = float(np.max(tol) / scale)
    else:
        worst = 0.0 if np.all(tol == 0) else math.inf
    return Resolution(resolved, int(tol.size), scale, worst)


def annotate(reason: str, res: Resolution) -> str:
    """``reason`` with the note of ``res`` appended (entries that do not resolve)."""
    note = res.note()
    return f"{reason}; {note}" if note else reason


def agreement_status(ok: bool, res: Resolution) -> str:
    """The status of a comparison ``|a − b| ≤ tol`` (docs/theory.md §8): FAIL if an entry
    disagrees (``ok`` False) — a disagreement is conclusive whatever the tolerances —;
    otherwise WEAK when fewer than half of the compared entries resolve the values
    (``tol ≤ RESOLVE_FRACTION · max |value|``: agreement within error bars about as large
    as the values themselves could not tell a route returning 0 from a correct one), else
    PASS."""
    if not ok:
        return FAIL
    return WEAK if res.weak else PASS


def status_of(exc: BaseException) -> str:
    """SKIP or FAIL for an exception raised inside a check, decided by its type:

    * :class:`NotApplicableError` (incl. ``UnsupportedOrderError``): the route does not
      cover this model/observable/order — nothing was computed, nothing can be wrong: SKIP;
    * :class:`ResourceLimitError`: refused *before* the work for its cost: SKIP (the reason
      names the option that lowers the cost);
    * :class:`AccuracyNotReachedError`: SKIP. The route reports honestly that it cannot
      deliver its tolerance here and returns no number; verify exists to catch numbers that
      are wrong *within* their claimed error, and an honest refusal is not such a number.
      (A route that returns a value whose error estimate is too small is still caught: its
      comparison FAILs.)
    * anything else — ``SimulationError`` (a Monte Carlo run diverged), an invalid-input
      error raised from inside verify's own calls, or a crash (``TypeError``,
      ``LinAlgError``, ...): FAIL. A check that cannot run for a reason other than
      "does not apply" or "too expensive" is a failure.
    """
    if isinstance(exc, (NotApplicableError, ResourceLimitError, AccuracyNotReachedError)):
        return SKIP
    return FAIL


def cause_of(exc: BaseException) -> str:
    """The :attr:`Check.cause` of an exception that :func:`status_of` makes SKIP, by its
    type (``""`` for the others): cost or accuracy refusals, else not applicable."""
    if isinstance(exc, ResourceLimitError):
        return REFUSED_COST
    if isinstance(exc, AccuracyNotReachedError):
        return REFUSED_ACCURACY
    if isinstance(exc, NotApplicableError):
        return NOT_APPLICABLE
    return ""


def worst_cause(causes) -> str:
    """The most actionable of several skip causes (cost, accuracy, unresolved,
    unclassified before not applicable); :data:`NOT_APPLICABLE` for none."""
    for c in (REFUSED_COST, REFUSED_ACCURACY, UNRESOLVED, UNCLASSIFIED):
        if c in causes:
            return c
    return NOT_APPLICABLE


def describe(exc: BaseException, limit: int = 300) -> str:
    """``"TypeName: message"`` on one line, at most ``limit`` characters."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text[:limit]


def error_check(name: str, group: str, exc: BaseException, prefix: str = "") -> Check:
    """A report line for an exception raised by a check (status by :func:`status_of`, the
    cause of a SKIP by :func:`cause_of`)."""
    return Check(name, group, status_of(exc), reason=(prefix + describe(exc))[:300],
                 cause=cause_of(exc))
