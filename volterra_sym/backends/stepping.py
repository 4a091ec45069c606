"""Forward integrations under a time budget: step an ODE solver one step at a time, read
the requested times off each step's dense output, and stop cleanly between steps with a
:class:`~volterra_sym.errors.ResourceLimitError` when the run would exceed its budget.

The cost of an adaptive integration is set by the step control — by how fast the input
``u(t)`` oscillates, which no formula knows before ``u`` has been sampled. It is therefore
estimated by measurement: every :data:`PROBE_SECONDS` of work (or :data:`PROBE_FRACTION`
of the budget, whichever is less) the rate of progress in the integrated time over that
window is extrapolated to the rest of the run (not from the first window, whose start-up
steps are small), and a run whose estimate exceeds the budget is refused with that
estimate — after about a second of work; the budget itself is a hard deadline for inputs
whose oscillation grows later (a chirp). Measured on ``linear2d`` (DOP853, ``rtol = 1e-13``,
2 shared cores): 13–15 µs per right-hand side evaluation, 12 evaluations a step; 17 steps
per unit of time for ``u = sin(0.1 t)``, 22 for ``sin(t)``, 54 for ``sin(10 t)``, 255 for
``sin(50 t)`` — ``sin(50 t)`` up to ``t = 10⁴`` is about 430 s for the two runs of the
exact route, refused after 1 s with an estimate of 450–640 s.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import scipy.integrate

from ..budget import DEFAULT_TIME_BUDGET, check_count, time_budget
from ..errors import AccuracyNotReachedError

__all__ = ["Deadline", "integrate", "budget_option", "PROBE_SECONDS", "PROBE_FRACTION",
           "TIME_UNIT"]

#: work after which the time of the whole run is extrapolated and checked
PROBE_SECONDS = 0.5
#: ... or this fraction of the budget, whichever is less
PROBE_FRACTION = 0.05
#: the unit of the time refusals (wall-clock seconds, measured and extrapolated)
TIME_UNIT = "s (wall clock, extrapolated)"


def budget_option(options: dict) -> float:
    """The option ``time_budget`` (seconds; default
    :data:`~volterra_sym.budget.DEFAULT_TIME_BUDGET`), checked by
    :func:`~volterra_sym.budget.time_budget` (``InvalidInputError`` naming it)."""
    value = options.get("time_budget")
    return DEFAULT_TIME_BUDGET if value is None else time_budget(value)


class Deadline:
    """The time budget of one computation made of forward integrations.

    Each run calls :meth:`begin`, then :meth:`check` between steps with its progress: the
    fraction done of all the planned work (``open_ended=False``), or of this run alone
    (``open_ended=True``: later runs are not counted, the estimate is a lower bound). The
    time spent is a hard deadline; the rest of the work is extrapolated from the rate of
    progress over the last window of :attr:`probe` seconds — not the first window of a run,
    whose small start-up steps (and, for Radau, the first factorisations) over-state it —
    and a run whose estimate exceeds the budget is refused (``ResourceLimitError``, unit
    :data:`TIME_UNIT`). ``what`` says what runs, ``option`` how to lower the cost."""

    def __init__(self, seconds: float, what: str, option: str):
        self.seconds, self.what, self.option = float(seconds), what, option
        self.start = time.perf_counter()
        self.probe = min(PROBE_SECONDS, PROBE_FRACTION * self.seconds)
        self.begin()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def begin(self, open_ended: bool = False) -> None:
        """A run starts: the rate is measured afresh."""
        self._open, self._mark, self._windows = open_ended, None, 0

    def check(self, progress: float) -> None:
        spent = self.elapsed()
        if spent > self.seconds:
            self._refuse(spent, spent, progress)
        if self._mark is None:
            self._mark = (spent, progress)
            return
        t0, p0 = self._mark
        if spent - t0 < self.probe:
            return
        self._mark, self._windows = (spent, progress), self._windows + 1
        if self._windows < 2 or progress >= 1:
            return
        rate = (progress - p0) / (spent - t0)
        estimate = spent + (1 - progress) / rate if rate > 0 else np.inf
        if estimate > self.seconds:
            self._refuse(estimate, spent, progress)

    def _refuse(self, estimate: float, spent: float, progress: float) -> None:
        done = (f"{100 * min(progress, 1.0):.3g} % "
                f"{'of the run under way done' if self._open else 'done'} after "
                f"{spent:.3g} s")
        raise_to = ("raise time_budget, --time-budget" + (
            f" (to about {int(np.ceil(estimate * 1.2))} s)" if np.isfinite(estimate) else ""))
        check_count(estimate, self.seconds, f"{self.what} ({done}; the step control "
                    "follows the input's oscillation)", TIME_UNIT,
                    f"{self.option}, or {raise_to}")


def integrate(method: str, fun: Callable, y0: np.ndarray, times: np.ndarray,
              deadline: Deadline, progress: tuple[float, float | None] = (0.0, 1.0), *,
              what: str, **solver_options) -> np.ndarray:
    """``y`` at ``times`` (non-decreasing, ``≥ 0``) of ``y' = fun(t, y)``, ``y(0) = y0``,
    by the scipy solver ``method`` (``"DOP853"``, ``"Radau"``, …) stepped one step at a
    time (as ``solve_ivp`` with ``t_eval`` does: each step's dense output gives the times
    inside it), with ``deadline.check`` between steps; ``progress = (done, share)``: the
    fraction of the deadline's work done before this run and this run's share of it
    (``share = None``: unknown, the estimate extrapolates this run alone).
    Returns ``(len(times), len(y0))``."""
    y0 = np.asarray(y0)
    out = np.empty((times.size, y0.size), dtype=y0.dtype)
    t_end = float(times[-1]) if times.size else 0.0
    i = int(np.searchsorted(times, 0.0, side="right"))
    out[:i] = y0
    if t_end <= 0:
        return out
    solver = getattr(scipy.integrate, method)(fun, 0.0, y0, t_end, **solver_options)
    done, share = progress
    deadline.begin(open_ended=share is None)
    while solver.status == "running":
        message = solver.step()
        if solver.status == "failed":
            raise AccuracyNotReachedError(f"{what}: the integration failed at t = "
                                          f"{solver.t:.6g}: {message}")
        j = int(np.searchsorted(times, solver.t, side="right"))
        if j > i:
            out[i:j] = solver.dense_output()(times[i:j]).T
            i = j
        deadline.check(solver.t / t_end if share is None else done + share * solver.t / t_end)
    return out
