"""Cost budgets: estimate before allocating, refuse with the estimate and how to lower it.

The memory budget defaults to half of the memory available when the check runs
(``/proc/meminfo``'s ``MemAvailable``; 8 GiB where that cannot be read) and can be set
with the environment variable ``VOLTERRA_MEMORY_BUDGET`` (bytes, or with a suffix
``K``, ``M``, ``G``) or per call.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from threadpoolctl import threadpool_limits

from .errors import InvalidInputError, ResourceLimitError, apart, format_bytes

__all__ = ["available_memory", "memory_budget", "check_memory", "check_count", "time_budget",
           "MAX_TIME_BUDGET", "DEFAULT_TIME_BUDGET", "SAMPLE_COUNTS", "montecarlo_seconds",
           "DEFAULT_MONTECARLO_SECONDS", "blas_threads", "BLAS_THREADS", "Deadline",
           "PROBE_SECONDS", "PROBE_FRACTION", "TIME_UNIT"]

#: default and largest time budget (seconds of a cost estimate) of the Galerkin route
DEFAULT_TIME_BUDGET, MAX_TIME_BUDGET = 120.0, 86_400.0
#: default time budget of a Monte Carlo run (``VOLTERRA_TIME_BUDGET`` moves it)
DEFAULT_MONTECARLO_SECONDS = 3600.0
#: samples of ``p0`` a sampled averaging measure may take: least, most, default
SAMPLE_COUNTS = (1000, 10**8, 40_000)

#: BLAS threads of the deterministic routes' dense linear algebra (kernels, series and
#: ``<f>_0`` of every route run through one thread; ``VOLTERRA_BLAS_THREADS`` moves it,
#: ``0`` leaves BLAS alone). A multi-threaded OpenBLAS on a busy machine spins: on 2
#: shared cores (load ≈ 4) an 8-unit Galerkin K₁ at degree 4 took 14–107 s with two
#: threads against 5–14 s with one, and the 3-unit CLI kernel 6–11 s against 2.4–2.6 s.
BLAS_THREADS = 1

_SUFFIX = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable``), or 8 GiB if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 8 * 1024**3


def _parse_bytes(text: str, param: str = "VOLTERRA_MEMORY_BUDGET") -> int:
    """``'4G'``, ``'500M'``, ``'123456'`` (bytes): a finite positive byte count."""
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = t[-1:] if t[-1:] in _SUFFIX and t[-1:] else ""
    num = t[: len(t) - len(unit)] if unit else t
    try:
        val = float(num) * _SUFFIX[unit]
    except ValueError:
        raise InvalidInputError(f"{param} must be a byte count such as '4G' or '500M', got "
                                f"{text!r}", param=param) from None
    if not (math.isfinite(val) and val > 0):
        raise InvalidInputError(f"{param} must be a finite positive byte count, got "
                                f"{text!r}", param=param)
    return int(val)


def _positive_number(x, most: float = math.inf) -> bool:
    """``x`` is a real number (not a bool) with ``0 < x ≤ most``, finite."""
    return (not isinstance(x, bool) and isinstance(x, (int, float, np.integer, np.floating))
            and math.isfinite(x) and 0 < x <= most)


def memory_budget(budget: float | str | None = None) -> int:
    """The memory budget in bytes: ``budget`` if given (bytes, or text such as ``'4G'``),
    else ``VOLTERRA_MEMORY_BUDGET``, else half of the available memory."""
    if budget is not None:
        if isinstance(budget, str):
            return _parse_bytes(budget, "memory_budget")
        if not _positive_number(budget):
            raise InvalidInputError(f"memory_budget must be a finite positive number of "
                                    f"bytes or text such as '4G', got {budget!r}",
                                    param="memory_budget")
        return int(budget)
    env = os.environ.get("VOLTERRA_MEMORY_BUDGET")
    if env:
        return _parse_bytes(env)
    return available_memory() // 2


def time_budget(seconds, param: str = "time_budget") -> float:
    """``seconds`` as a time budget: a number in ``(0, MAX_TIME_BUDGET]``, else
    :class:`InvalidInputError` naming ``param``."""
    if not _positive_number(seconds, MAX_TIME_BUDGET):
        raise InvalidInputError(f"{param} must be a number of seconds in (0, "
                                f"{MAX_TIME_BUDGET:g}], got {seconds!r}", param=param)
    return float(seconds)


def montecarlo_seconds() -> float:
    """The time budget of a Monte Carlo run in seconds: ``VOLTERRA_TIME_BUDGET`` if set
    (a number in ``(0, MAX_TIME_BUDGET]``), else :data:`DEFAULT_MONTECARLO_SECONDS`."""
    env = os.environ.get("VOLTERRA_TIME_BUDGET")
    if not env:
        return DEFAULT_MONTECARLO_SECONDS
    try:
        val = float(env)
    except ValueError:
        val = math.nan
    return time_budget(val, "VOLTERRA_TIME_BUDGET")


def _blas_thread_count() -> int | None:
    """:data:`BLAS_THREADS`, or ``VOLTERRA_BLAS_THREADS`` (a whole number ≥ 0; ``0``:
    ``None``, leave BLAS alone)."""
    env = os.environ.get("VOLTERRA_BLAS_THREADS")
    if not env:
        return BLAS_THREADS
    if not env.strip().isdigit() or int(env) > 4096:
        raise InvalidInputError(f"VOLTERRA_BLAS_THREADS must be a whole number in [0, 4096] "
                                f"(0: leave BLAS alone), got {env!r}",
                                param="VOLTERRA_BLAS_THREADS")
    return int(env) or None


@contextmanager
def blas_threads(n: int | None = None) -> Iterator[None]:
    """Limit the BLAS thread count of every loaded BLAS (OpenBLAS, MKL, BLIS, through
    ``threadpoolctl``) to ``n`` (default :data:`BLAS_THREADS` or
    ``VOLTERRA_BLAS_THREADS``) while the block runs; restores it afterwards."""
    n = _blas_thread_count() if n is None else n
    if n is None:
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield


#: work after which the time of the whole run is extrapolated and checked
PROBE_SECONDS = 0.5
#: ... or this fraction of the budget, whichever is less
PROBE_FRACTION = 0.05
#: the unit of the time refusals (wall-clock seconds, measured and extrapolated)
TIME_UNIT = "s (wall clock, extrapolated)"


class Deadline:
    """The time budget of one computation: ``check()`` between its steps refuses it
    (``ResourceLimitError``) once ``seconds`` have passed since construction (closed forms,
    :mod:`volterra_sym.density.semigroup`); a forward integration
    (:mod:`volterra_sym.backends.stepping`) also passes its progress and is refused early.

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

    def check(self, progress: float | None = None) -> None:
        """Refuse once the budget has passed; with ``progress`` also when the rest of the
        work, extrapolated from the last window's rate, would exceed it."""
        spent = self.elapsed()
        if spent > self.seconds:
            self._refuse(spent, spent, progress)
        if progress is None:
            return
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

    def expect(self, seconds: float, what: str) -> None:
        """Refuse (``ResourceLimitError``, unit :data:`TIME_UNIT`) before ``what``, estimated
        at ``seconds`` more work, when it would end past the budget: a step of work whose
        cost a finished one predicts (a run of twice the steps of the last) is not started
        to be stopped half-way."""
        spent = self.elapsed()
        estimate = spent + float(seconds)
        check_count(estimate, self.seconds, f"{self.what}: {what} after {spent:.3g} s",
                    TIME_UNIT, f"{self.option}, or raise time_budget, --time-budget (to "
                    f"about {int(np.ceil(estimate * 1.2))} s)")

    def _refuse(self, estimate: float, spent: float, progress: float | None) -> None:
        if progress is None:
            raise ResourceLimitError(
                f"{self.what} was stopped after {spent:.3g} s, over the time budget "
                f"{self.seconds:g} s; {self.option}", estimate=spent, budget=self.seconds,
                unit="seconds", option=self.option)
        done = (f"{100 * min(progress, 1.0):.3g} % "
                f"{'of the run under way done' if self._open else 'done'} after "
                f"{spent:.3g} s")
        raise_to = ("raise time_budget, --time-budget" + (
            f" (to about {int(np.ceil(estimate * 1.2))} s)" if np.isfinite(estimate) else ""))
        check_count(estimate, self.seconds, f"{self.what} ({done}; the step control "
                    "follows the input's oscillation)", TIME_UNIT,
                    f"{self.option}, or {raise_to}")


def check_memory(estimate_bytes: float, what: str, option: str,
                 budget: float | None = None) -> None:
    """Refuse (``ResourceLimitError``) if ``estimate_bytes`` exceeds the memory budget.

    ``what`` says what would be allocated, ``option`` how to lower it
    (e.g. ``"lower --degree or raise --tol"``).
    """
    limit = memory_budget(budget)
    if estimate_bytes > limit:
        source = ("as given" if budget is not None else
                  "VOLTERRA_MEMORY_BUDGET" if os.environ.get("VOLTERRA_MEMORY_BUDGET") else
                  "half of the available memory; set VOLTERRA_MEMORY_BUDGET to change it")
        shown = apart(estimate_bytes, limit, format_bytes)
        raise ResourceLimitError(
            f"{what} needs about {shown[0]}, more than the memory budget "
            f"{shown[1]} ({source}); {option}",
            estimate=float(estimate_bytes), budget=float(limit), unit="bytes", option=option)


def check_count(estimate: float, limit: float, what: str, unit: str, option: str) -> None:
    """Refuse (``ResourceLimitError``) if a count (terms, nodes, steps) exceeds ``limit``."""
    if estimate > limit:
        shown = apart(estimate, limit)
        raise ResourceLimitError(
            f"{what} needs about {shown[0]} {unit}, more than the limit {shown[1]}; "
            f"{option}", estimate=float(estimate), budget=float(limit), unit=unit,
            option=option)
