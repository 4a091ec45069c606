"""The project's typed errors (docs/theory.md, "Errors and results").

Callers branch on these types, never on message text::

    VolterraSymError
    ├── InvalidInputError (also ValueError)   a parameter breaks a stated condition
    ├── NotApplicableError                     a route cannot compute this model/observable
    │   └── UnsupportedOrderError              ... at this kernel order
    ├── AccuracyNotReachedError                the requested tolerance was not reached
    ├── ResourceLimitError                     the estimated memory/size/time exceeds a budget
    └── SimulationError                        a Monte Carlo run failed (e.g. diverged)

The command line maps :class:`InvalidInputError`, :class:`NotApplicableError` to exit
code 2 (the request cannot be served as stated) and the others to exit code 1 (the
computation failed or was refused for its cost).
"""

from __future__ import annotations

__all__ = ["VolterraSymError", "InvalidInputError", "NotApplicableError",
           "UnsupportedOrderError", "AccuracyNotReachedError", "TruncationCheckError",
           "DivergentAverageError",
           "ResourceLimitError",
           "SimulationError", "UnusedOptionsWarning", "UnresolvedWarning", "format_bytes",
           "apart"]


class VolterraSymError(Exception):
    """Base class of every error volterra_sym raises on purpose."""


class InvalidInputError(VolterraSymError, ValueError):
    """A user-supplied value breaks a stated condition; the message names the parameter.

    ``param`` (optional) is the parameter's name as the user wrote it.
    """

    def __init__(self, message: str, *, param: str | None = None):
        super().__init__(message)
        self.param = param


class DivergentAverageError(InvalidInputError):
    """The observable has no stationary average: ``<f>_0 = ∞`` (it outgrows the tail of
    ``p0``), so none of its kernels or series terms exists either."""


class NotApplicableError(VolterraSymError):
    """The requested route (backend, estimator, closed form) does not apply; the message
    says which condition fails."""


class UnsupportedOrderError(NotApplicableError):
    """The route exists but not at this kernel/series order."""


class UnresolvedWarning(UserWarning):
    """A value returned with an error estimate at least as large as the value itself (a
    default setting stopped before resolving it); ``relative`` is that ratio and ``option``
    names how to go further."""

    def __init__(self, message: str, relative: float = float("nan"), option: str = ""):
        super().__init__(message)
        self.relative, self.option = float(relative), option


class UnusedOptionsWarning(UserWarning):
    """Options a route accepted but did not use (e.g. ``paths`` for a deterministic
    averaging measure); ``options`` names them."""

    def __init__(self, message: str, options: tuple[str, ...] = ()):
        super().__init__(message)
        self.options = tuple(options)


class AccuracyNotReachedError(VolterraSymError):
    """A tolerance could not be reached within the budget. ``best`` is the best value
    obtained (or None) and ``error`` its error estimate."""

    def __init__(self, message: str, *, best=None, error=None, tol: float | None = None):
        super().__init__(message)
        self.best, self.error, self.tol = best, error, tol


class TruncationCheckError(AccuracyNotReachedError):
    """A lower degree ``degree`` of a truncation check (the values compared with, to
    estimate the truncation error) could not be computed; ``usable`` is the lowest degree
    whose check does not reach it. The asked-for degree itself may be fine: the default
    degree ladders move on to ``usable``."""

    def __init__(self, message: str, *, degree: int, usable: int, error=None):
        super().__init__(message, error=error)
        self.degree, self.usable = degree, usable


class ResourceLimitError(VolterraSymError):
    """The estimated cost exceeds a budget; refused before the work starts.

    ``estimate`` and ``budget`` are in ``unit`` (``"bytes"``, ``"terms"``, ``"nodes"``,
    ``"seconds"``, ``"entries"``, ``"degree"``, ``"path-steps"``...: what the budget counts);
    ``option`` names how to lower the cost (``"--degree"``, ``"tol"``...).
    """

    def __init__(self, message: str, *, estimate: float | None = None,
                 budget: float | None = None, unit: str = "bytes",
                 option: str | None = None):
        super().__init__(message)
        self.estimate, self.budget, self.unit, self.option = estimate, budget, unit, option


class SimulationError(VolterraSymError):
    """A Monte Carlo simulation failed (diverged, non-finite states, bad step)."""


def format_bytes(n: float, digits: int = 3) -> str:
    """``1536 -> '1.5 KiB'`` (``digits`` significant digits)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.{digits}g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.{digits}g} PiB"


def apart(estimate: float, limit: float, fmt=lambda x, d: f"{x:.{d}g}") -> tuple[str, str]:
    """``estimate`` and ``limit`` shown with 3 significant digits, or as many more (up to
    17) as make them differ: a refusal that reads "needs about 1e+13, more than the limit
    1e+13" says nothing. ``fmt(x, digits)`` formats one number."""
    for digits in range(3, 18):
        a, b = fmt(estimate, digits), fmt(limit, digits)
        if a != b:
            return a, b
    return a, b
