"""Where the Galerkin route checks a value's truncation from above (docs/theory.md §9).

The option ``check`` (:data:`~.truncation.CHECKS`) says which degrees the value at
degree ``d`` is compared with:

* ``"above"`` — ``d + 1 … d + 3`` (:func:`~.truncation.higher_degrees`,
  :func:`~.truncation.truncation_above`): the estimate measures ``v_d``'s own error; the
  value is that of degree ``d`` and the evaluation assembles the basis of degree ``d + 3``;
* ``"below"`` — the lower degrees (:func:`~.truncation.lower_degrees`,
  :func:`~.truncation.truncation_part`): the value is the best of the degrees assembled,
  its estimate the change over the window, which exceeds its error by the convergence
  over the window (up to 10⁴× where the basis converges fast);
* ``"auto"`` (the default) — above wherever it applies (:func:`above_refusal` is None),
  else below.

The check from above applies to models without the features of docs/theory.md §10–§11
on the measures it is measured on, where the measure keeps its kind up to ``d + 3`` and
``d + 3`` is at most the largest degree: for ``"auto"`` the deterministic measures of
n ≤ 5 (:data:`~.truncation.ABOVE_MEASURES`), for ``"above"`` also the Gaussian reference
and the sampled measure of n ≥ 6 (:data:`~.truncation.ASKED_ABOVE_MEASURES`), where the
basis of degree ``d + 3`` costs far more than degree ``d`` and is assembled only when asked
for (:func:`~.cost.check_time_above` refuses, before any work, one over the time budget).
"""

from __future__ import annotations

from ...errors import InvalidInputError
from ...model import SRNN
from . import measure as measures
from .options import MAX_DEGREE, GalerkinOptions
from .truncation import ABOVE_MEASURES, ABOVE_WIDTH, ASKED_ABOVE_MEASURES, higher_degrees

__all__ = ["above_refusal", "check_at", "top_degree"]


def above_refusal(model: SRNN, degree: int, opts: GalerkinOptions) -> str | None:
    """Why the check from above does not apply at ``degree`` (None where it does): on
    :data:`~.truncation.ABOVE_MEASURES` for ``check="auto"``, on
    :data:`~.truncation.ASKED_ABOVE_MEASURES` as well for ``check="above"``."""
    if model.features:
        return ("it is not measured for models with the input inside the activation or "
                "state-dependent noise (docs/theory.md §10–§11), whose basis converges in "
                "plateaus longer than its window of three degrees")
    kind = measures.kind_for(model, degree, opts.paths, opts.gaussian)[0]
    allowed = ABOVE_MEASURES + (ASKED_ABOVE_MEASURES if opts.check == "above" else ())
    if kind in ASKED_ABOVE_MEASURES and kind not in allowed:
        return (f"on the averaging measure {kind!r} the check from above assembles the "
                f"basis of degree {degree + ABOVE_WIDTH}, which costs far more than degree "
                f"{degree}: it is used only when asked for (check='above', --check above)")
    if kind not in allowed:
        return (f"the averaging measure is {kind!r}, where the check from above is not "
                f"measured (only on {', '.join(ABOVE_MEASURES + ASKED_ABOVE_MEASURES)})")
    for dh in higher_degrees(degree):
        if dh > MAX_DEGREE:
            return f"the check compares with degree {dh}, above the largest, {MAX_DEGREE}"
        other = measures.kind_for(model, dh, opts.paths, opts.gaussian)[0]
        if other != kind:
            return (f"the check compares with degree {dh}, where the averaging measure is "
                    f"{other!r} instead of {kind!r}")
    return None


def check_at(model: SRNN, degree: int, opts: GalerkinOptions) -> str:
    """The check used at ``degree``: ``"above"`` or ``"below"`` (``opts.check`` resolved;
    ``"above"`` where it does not apply raises
    :class:`~volterra_sym.errors.InvalidInputError` naming ``check`` and why)."""
    if opts.check == "below":
        return "below"
    why = above_refusal(model, degree, opts)
    if why is None:
        return "above"
    if opts.check == "auto":
        return "below"
    raise InvalidInputError(
        f"check='above' at degree {degree}: {why}; use check='below' or 'auto' (--check "
        f"below, --check auto){' or a lower degree (--degree)' if degree > 2 else ''}",
        param="check")


def top_degree(model: SRNN, degree: int, opts: GalerkinOptions) -> int:
    """The highest basis degree an evaluation at ``degree`` assembles: ``degree + 3`` where
    it checks from above, else ``degree``."""
    above = opts.check != "below" and above_refusal(model, degree, opts) is None
    return degree + ABOVE_WIDTH if above else degree
