"""Options of the Galerkin route (docs/theory.md §9): ``degree``, ``tol``, ``paths``,
``seed``, ``batches``, ``memory_budget``, ``time_budget``, ``measure``, ``check``, checked
once into a frozen :class:`GalerkinOptions`."""

from __future__ import annotations

from dataclasses import dataclass

from ...arrays import check_int, relative_tol
from ...budget import DEFAULT_TIME_BUDGET, SAMPLE_COUNTS, memory_budget, time_budget
from ...errors import InvalidInputError
from ...model import SRNN
from .measure import kind_for
from .truncation import CHECKS

__all__ = ["DEFAULT_CHECK", "DEFAULT_DEGREE", "GalerkinOptions", "MAX_DEGREE", "MAX_SECONDS",
           "MEASURES", "parse_options"]

_OPTIONS = ("degree", "tol", "paths", "seed", "batches", "memory_budget", "time_budget",
            "measure", "check")
#: the values of the option ``measure``: ``"auto"`` (the best available, module
#: :mod:`.measure`) or ``"samples"`` (an ensemble drawn from ``p0`` wherever the best would
#: be the Gaussian reference of :mod:`.ridge`)
MEASURES = ("auto", "samples")
#: default degree by dimension when neither ``degree`` nor ``tol`` is given
DEFAULT_DEGREE = {1: 14, 2: 8, 3: 5, 4: 4, 5: 4}
MAX_DEGREE = 40
#: the option ``check`` when not given (:data:`~.truncation.CHECKS`)
DEFAULT_CHECK = "auto"
#: estimated seconds of one Galerkin evaluation above which it is refused before it starts
MAX_SECONDS = DEFAULT_TIME_BUDGET


@dataclass(frozen=True)
class GalerkinOptions:
    """The route's options, checked: ``degree`` (``None``: by dimension or ``tol``),
    ``tol`` (relative, ``0 < tol < 1``), ``paths`` and ``seed`` of the sampled measure, its
    jackknife ``batches``."""

    degree: int | None
    tol: float | None
    paths: int
    seed: int
    batches: int
    #: the memory budget as given (bytes), ``None`` for the default (``VOLTERRA_MEMORY_BUDGET``
    #: or half of the memory available when a check is made)
    budget: int | None
    #: seconds of :func:`~.cost.estimated_seconds` above which a degree is refused
    seconds: float
    #: whether the exact Gaussian reference (:mod:`.ridge`) may replace the sampled measure:
    #: option ``measure="auto"`` and an observable polynomial in the state
    gaussian: bool = True
    #: the truncation check: against lower degrees (``"below"``), higher ones (``"above"``)
    #: or above where that applies (``"auto"``; :data:`~.truncation.CHECKS`, module
    #: :mod:`.above`)
    check: str = "auto"
    #: the Gaussian reference before the ``galerkin_density`` measure at every degree
    #: (:func:`~.measure.kind_for`): set by the route, not the user, where the check from
    #: above is made on the reference instead of the density (:func:`~.above.resolve`)
    reference_first: bool = False

    def kind(self, model: SRNN, degree: int) -> tuple[str, int]:
        """The averaging measure at ``degree`` and its points under these options
        (:func:`~.measure.kind_for`)."""
        return kind_for(model, degree, self.paths, self.gaussian, self.reference_first)


def _int(options, name, lo, hi, default):
    v = options.get(name, default)
    if v is None:
        return None
    return check_int(v, name, lo=lo, hi=hi)


def parse_options(model: SRNN, options: dict, f=None) -> GalerkinOptions:
    """``options`` checked into :class:`GalerkinOptions` (``f``: the observable, for the
    choice of measure); an unknown option or a value out of range raises
    :class:`~volterra_sym.errors.InvalidInputError` naming it."""
    unknown = set(options) - set(_OPTIONS)
    if unknown:
        raise InvalidInputError(f"method 'galerkin' got unknown options {sorted(unknown)}; "
                                f"allowed: {list(_OPTIONS)}", param="options")
    tol = options.get("tol")
    tol = None if tol is None else relative_tol(tol)
    degree = _int(options, "degree", 1, MAX_DEGREE, None)
    paths = _int(options, "paths", *SAMPLE_COUNTS)
    seed = _int(options, "seed", 0, 2**63 - 1, 0)
    batches = _int(options, "batches", 2, 64, 8)
    given = options.get("memory_budget")
    budget = None if given is None else memory_budget(given)
    seconds = time_budget(options.get("time_budget", MAX_SECONDS))
    measure = options.get("measure") or "auto"
    if not isinstance(measure, str) or measure not in MEASURES:
        raise InvalidInputError(f"measure={measure!r}: must be one of {list(MEASURES)}",
                                param="measure")
    check = options.get("check") or DEFAULT_CHECK
    if not isinstance(check, str) or check not in CHECKS:
        raise InvalidInputError(f"check={check!r}: must be one of {list(CHECKS)} (the "
                                "truncation check against lower or higher degrees)",
                                param="check")
    gaussian = measure == "auto" and (f is None or model.polynomial_degree(f) is not None)
    return GalerkinOptions(degree, tol, paths, seed, batches, budget, seconds, gaussian, check)
