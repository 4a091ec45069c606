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
* ``"auto"`` (the default) — above wherever it applies (:func:`resolve`), else below.

The check from above applies to models without the features of docs/theory.md §10–§11
on the measures it is measured on, where the measure keeps its kind up to ``d + 3`` and
``d + 3`` is at most the largest degree: for ``"auto"`` the deterministic measures of
n ≤ 5 (:data:`~.truncation.ABOVE_MEASURES`), for ``"above"`` also the Gaussian reference
and the sampled measure (:data:`~.truncation.ASKED_ABOVE_MEASURES`, n ≥ 6),
where the basis of degree ``d + 3`` costs far more than degree ``d`` and is assembled only
when asked for (:func:`~.cost.check_time_above` refuses, before any work, one over the
time budget). Where the ``galerkin_density`` measure of degree ``d`` cannot reach
``d + 3`` (n = 5 from degree 3), or its check from above is estimated above
:data:`DENSITY_ABOVE_SECONDS` (n = 4 from degree 6, n = 3 from 13), but the Gaussian reference fits
``p0``, the evaluation averages over the reference at every degree (``reference_first``,
:func:`resolve`) and checks from above there: from below, the density's values at
degrees 3–5 came with estimates 10–8,800× their actual error on fitting 5-unit networks
(median 230; benchmarks/check_galerkin_reference_above_n5.py).
"""

from __future__ import annotations

from dataclasses import replace

from ...errors import InvalidInputError
from ...model import SRNN
from .cost import above_seconds
from .options import MAX_DEGREE, GalerkinOptions
from .truncation import ABOVE_MEASURES, ABOVE_WIDTH, ASKED_ABOVE_MEASURES, higher_degrees

__all__ = ["DENSITY_ABOVE_SECONDS", "REFERENCE_ABOVE_MAX_N", "above_refusal", "plan", "resolve"]


def above_refusal(model: SRNN, degree: int, opts: GalerkinOptions) -> str | None:
    """Why the check from above does not apply at ``degree`` (None where it does): on
    :data:`~.truncation.ABOVE_MEASURES` for ``check="auto"``, on
    :data:`~.truncation.ASKED_ABOVE_MEASURES` as well for ``check="above"``, and on the
    Gaussian reference where the route put it first (``opts.reference_first``,
    :func:`resolve`)."""
    if model.features:
        return ("it is not measured for models with the input inside the activation or "
                "state-dependent noise (docs/theory.md §10–§11), whose basis converges in "
                "plateaus longer than its window of three degrees")
    kind = opts.kind(model, degree)[0]
    allowed = ABOVE_MEASURES + (ASKED_ABOVE_MEASURES if opts.check == "above" else
                                ("gaussian",) if opts.reference_first else ())
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
        other = opts.kind(model, dh)[0]
        if other != kind:
            return (f"the check compares with degree {dh}, where the averaging measure is "
                    f"{other!r} instead of {kind!r}")
    return None


def _reference_first(model: SRNN, degree: int, opts: GalerkinOptions
                     ) -> GalerkinOptions | None:
    """``opts`` with the Gaussian reference first (``reference_first``) where the value at
    ``degree`` would be on the ``galerkin_density`` measure, the reference applies at
    ``d … d + 3`` and their estimated time fits the time budget; else None.
    :func:`resolve` uses it where the density cannot reach ``d + 3`` (n = 5 from degree
    3: its tensor rule of degree 6 has 13⁵ points; n = 4 from 9) — there it costs about
    what the density's degree ``d`` does from below (:func:`~.cost.above_seconds`: 1.2 s
    against 0.9 s at n = 5, degree 4) — or is slow there. Where the reference is the measure
    of degree ``d`` itself, up to :data:`REFERENCE_ABOVE_MAX_N` units (n = 5 from degree 6,
    n = 4 from 12), it is kept where the check from above is estimated within
    :data:`DENSITY_ABOVE_SECONDS` (n = 5: degree 6, 13 s estimated, 10 s measured; degree 7,
    42 s estimated, 27 s measured, checks from below, as at n ≥ 6)."""
    if opts.reference_first:
        return None
    kind = opts.kind(model, degree)[0]
    native = kind == "gaussian" and model.n <= REFERENCE_ABOVE_MAX_N
    if kind != "density" and not native:
        return None
    ref = replace(opts, reference_first=True)
    if above_refusal(model, degree, ref) is not None:
        return None
    limit = min(DENSITY_ABOVE_SECONDS, opts.seconds) if native else opts.seconds
    return ref if above_seconds(model, degree, ref) <= limit else None


def resolve(model: SRNN, degree: int, opts: GalerkinOptions
            ) -> tuple[str, GalerkinOptions, str | None]:
    """``(check, options, why not above)`` at ``degree``: ``"above"`` where
    :func:`above_refusal` allows it, or where the Gaussian reference put first allows it
    (:func:`_reference_first`, with those options) — also in place of a check from above
    on the density measure estimated above :data:`DENSITY_ABOVE_SECONDS` where the
    reference's is less (:func:`_slow_density`) —, else ``"below"`` and the reason."""
    if opts.check == "below":
        return "below", opts, None
    why = above_refusal(model, degree, opts)
    ref = _reference_first(model, degree, opts)
    if why is None:
        return "above", ref if ref is not None and _slow_density(model, degree, opts, ref) \
            else opts, None
    if ref is not None:
        return "above", ref, None
    return "below", opts, why


#: a check from above on the ``galerkin_density`` measure estimated above this many
#: seconds gives way to the Gaussian reference where that fits ``p0`` and is estimated at
#: less: the density's degrees ``d … d + 3`` each build their own tensor rule (4 units at
#: degree 8: 153 s, against 3.3 s on the reference; 5 units at degree 2: 9 s), and on
#: the reference the check from above is as close to the error (4 independent units of
#: gain 0.6 at degrees 6–9: 32 values at 2.2–12.1× against their spectral sums;
#: benchmarks/check_galerkin_reference_above_n5.py). 15 s: there 4 units at degree 5 stay
#: on the density (11.7 s estimated), degree 6 goes to the reference (29.7 s estimated on
#: the density, 0.9 s on the reference; 4 units of gain 1.0 took 24 s on the density)
DENSITY_ABOVE_SECONDS = 15.0
#: up to this many units the Gaussian reference, where it is the measure of degree ``d``
#: itself, is checked from above by ``auto`` where that is estimated within
#: :data:`DENSITY_ABOVE_SECONDS` (:func:`_reference_first`): five fitting 5-unit networks
#: at degree 6 were 1.4–220× their actual error from below (4 of 30 above 100×), 2.6–6.7×
#: from above (benchmarks/check_galerkin_reference_above_n5.py); beyond
#: five units the basis of degree ``d + 3`` is large (8 units at degree 6: 3,003 functions)
#: and the check from above is used when asked for
REFERENCE_ABOVE_MAX_N = 5


def _slow_density(model: SRNN, degree: int, opts: GalerkinOptions,
                  ref: GalerkinOptions) -> bool:
    """Whether the check from above on the density measure at ``degree`` is estimated
    above :data:`DENSITY_ABOVE_SECONDS` and above the same check on the reference
    (options ``ref``)."""
    slow = above_seconds(model, degree, opts, sampling=False)
    return slow > DENSITY_ABOVE_SECONDS and above_seconds(model, degree, ref,
                                                          sampling=False) < slow


def plan(model: SRNN, degree: int, opts: GalerkinOptions) -> tuple[str, GalerkinOptions]:
    """The check used at ``degree`` and the options to run it with (:func:`resolve`);
    ``check="above"`` where it does not apply raises
    :class:`~volterra_sym.errors.InvalidInputError` naming ``check`` and why."""
    check, run, why = resolve(model, degree, opts)
    if why is None or opts.check == "auto":
        return check, run
    raise InvalidInputError(
        f"check='above' at degree {degree}: {why}; use check='below' or 'auto' (--check "
        f"below, --check auto){' or a lower degree (--degree)' if degree > 2 else ''}",
        param="check")

