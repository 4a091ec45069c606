"""``volterra-sym verify``: every route against every other and against Monte Carlo.

Runs every check that applies to the model (docs/theory.md §3, §4, §7, §8):

1. **identities** (:mod:`.identities`, :mod:`.symmetry`) — ``L0* p0 = 0`` for a
   closed-form density; the fluctuation–dissipation identity ``<p0, L_k g> = E_0[v_k g]``;
   ``K_k(0) = <p0, L_k f>`` for every backend; the symmetry of the kernels of order ≥ 2
   under simultaneous permutation of channels and lags, and their continuity across
   ``σ1 = σ2``, for every backend.
2. **backends** (:mod:`.backends`) — kernels of orders ``1..N`` of every pair of backends
   that apply, ``|a - b| ≤ err_a + err_b + 1e-8·scale``; series terms of exact vs spectral
   with the routes' own error estimates.
3. **Monte Carlo kernels** (:mod:`.mc_kernels`) — orders 1 and 2 against the
   fluctuation–dissipation, Girsanov or kick estimator: ``|engine - MC| ≤ 4·se + |bias| +
   4·se_bias + rel·max|bias| + err`` (the estimate's ``error`` plus the engine's).
4. **Monte Carlo series** (:mod:`.mc_series`) — the residual of the truncated series
   against common-random-number responses (:func:`volterra_sym.montecarlo.crn_responses`)
   has log–log slope ``M + 1 ± 0.3`` (or is within the noise when the truncation is exact).

A check's status is PASS, FAIL, WEAK or SKIP (with the reason). An exception inside a check
is SKIP or FAIL by its *type* (:func:`.settings.status_of`): a route that does not apply, or
refuses for cost or unreachable accuracy, is SKIP; anything else is FAIL. A comparison that
found no disagreement is WEAK instead of PASS when its tolerance exceeds
``RESOLVE_FRACTION = 0.5`` of the compared magnitude (the largest ``|value|`` of either side
over the check's entries) at more than half of its entries
(:func:`.settings.agreement_status`): agreement within error bars as large as the values
cannot tell a route returning 0 from a correct one. WEAK is not a failure (exit status 0).
A SKIP carries its cause (:data:`.settings.SKIP_CAUSES`: not applicable, refused for cost or
accuracy — by the exception's type, :func:`.settings.cause_of` —, unresolved by the Monte
Carlo noise) and the summary line counts the skipped checks by cause; with ``strict`` a
WEAK check or a SKIP for any cause but "not applicable" makes the status 1
(:func:`.settings.blocking`).

Output (:mod:`.report`): a table on stdout, ``DIR/verify.json`` (every number, seed,
``dt``, ``n_paths``, methods) and the figures ``DIR/kernels.png`` and ``DIR/residuals.png``,
each written atomically; the files of an earlier run are removed first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from os import PathLike
from pathlib import Path

from ..arrays import check_flag, check_int
from ..errors import InvalidInputError, NotApplicableError
from ..model import SRNN, check_model
from ..reports.progress import StageProgress
from .backends import check_contact_kernels, check_kernels, check_series_terms
from .context import Context
from .identities import check_density, check_fdt, check_kernel_at_zero
from .mc_kernels import check_mc_kernels
from .mc_series import check_mc_series, fit_slope, series_residuals
from .report import clear_outputs, table, write_figures, write_json
from .settings import (
    FAIL,
    MIN_PATHS,
    PASS,
    RESOLVE_FRACTION,
    SKIP,
    SKIP_CAUSES,
    WEAK,
    Check,
    Settings,
    VerificationFailedError,
    VerificationIncompleteError,
    blocking,
    describe,
    error_check,
    settings_for,
    status_of,
)
from .symmetry import check_symmetry

__all__ = ["verify_model", "Check", "Settings", "settings_for", "series_residuals",
           "fit_slope", "status_of", "VerificationFailedError", "VerificationIncompleteError",
           "blocking", "summary_line", "PASS", "FAIL", "SKIP", "WEAK", "RESOLVE_FRACTION",
           "SKIP_CAUSES", "MIN_PATHS"]


def _stages(ctx: Context, plots: dict, note: Callable[[str], None]):
    """``(label, group, function)`` of every check group, in order."""
    return [
        ("identities: L0* p0 = 0 (symbolic)", "identities", lambda: check_density(ctx)),
        ("identities: fluctuation-dissipation", "identities",
         lambda: check_fdt(ctx) + check_kernel_at_zero(ctx)),
        ("identities: kernel symmetry", "identities", lambda: check_symmetry(ctx)),
        ("backends: kernels", "backends",
         lambda: check_kernels(ctx) + check_contact_kernels(ctx)),
        ("backends: series terms", "backends", lambda: check_series_terms(ctx)),
        ("Monte Carlo kernels", "mc-kernels", lambda: check_mc_kernels(ctx, plots, note)),
        ("Monte Carlo series", "mc-series", lambda: check_mc_series(ctx, plots, note)),
    ]


def summary_line(counts: dict[str, int], skip_causes: dict[str, int]) -> str:
    """``"12 passed, 0 failed, 1 weak, 3 skipped (2 not applicable, 1 refused: cost)"``:
    the skipped checks counted by cause, so that a refusal is not lost among checks that
    do not apply."""
    causes = ", ".join(f"{n} {cause}" for cause, n in skip_causes.items() if n)
    return (f"{counts[PASS]} passed, {counts[FAIL]} failed, {counts[WEAK]} weak, "
            f"{counts[SKIP]} skipped" + (f" ({causes})" if causes else ""))


def verify_model(model: SRNN, observable=None, order: int = 2, *,
                 out: str | Path = "verify_out", quick: bool = False, seed: int | None = None,
                 settings: Settings | None = None, print_table: bool = True,
                 figures: bool = True, progress: bool | None = None, strict: bool = False
                 ) -> tuple[int, list[Check]]:
    """Run every check (module docstring); returns ``(status, checks)`` with status 0 if
    no check failed and 1 otherwise, and writes ``out/verify.json`` (and the figures).
    With ``strict`` the status is also 1 when a check is WEAK or was skipped for any
    cause but "not applicable" (:func:`.settings.blocking`: refused for cost or accuracy,
    unresolved): a verification that left out what it could have checked is incomplete.

    ``seed`` (default 12345) and ``quick`` choose the default settings; with ``settings``
    its own seed is used, and a different ``seed`` beside it is refused.

    Raises :class:`~volterra_sym.errors.InvalidInputError` for a bad ``order``/``seed``,
    observable, ``model`` (not an SRNN), ``out`` (not a path), or a flag
    (``quick``/``print_table``/``figures``/``strict``) that is not a bool, before any work
    and before ``out`` is touched, :class:`~volterra_sym.errors.NotApplicableError` for a
    model with symbolic parameters, and ``OSError`` when ``out`` cannot be written. Errors inside a
    check never escape: they become FAIL or SKIP lines. ``progress``: bars on stderr
    (default: when stderr is a terminal).
    """
    t_start = time.time()
    check_model(model)
    if not isinstance(out, (str, PathLike)) or isinstance(out, bytes) or str(out) == "":
        raise InvalidInputError(f"out must be a non-empty directory path (str or "
                                f"os.PathLike), got {type(out).__name__} {out!r:.60}",
                                param="out")
    for name, flag in (("quick", quick), ("print_table", print_table), ("figures", figures)):
        check_flag(flag, name)
    if progress is not None:
        check_flag(progress, "progress")
    order = check_int(order, "order", lo=1)
    if seed is not None:
        seed = check_int(seed, "seed", lo=0)
    if settings is not None and seed is not None and seed != settings.seed:
        raise InvalidInputError(f"seed {seed} differs from settings.seed {settings.seed}: "
                                "give one (settings carry their own seed)", param="seed")
    if not model.is_numeric:
        raise NotApplicableError("verify needs numeric parameters (the model has symbols "
                                 f"{sorted(map(str, model.parameters))})")
    check_flag(strict, "strict")
    if settings is not None and not isinstance(settings, Settings):
        raise InvalidInputError(f"settings must be a verify Settings, got "
                                f"{type(settings).__name__}", param="settings")
    s = settings or settings_for(quick, 12345 if seed is None else seed, model.n)
    ctx = Context(model, observable, order, s)
    outdir = Path(out)
    clear_outputs(outdir)
    checks: list[Check] = list(ctx.setup_checks)
    plots: dict = {}
    timings: dict[str, float] = {}
    with StageProgress(7 + bool(figures), f"verify {model.name}", enabled=progress) as bar:
        for label, group, fn in _stages(ctx, plots, bar.note):
            t0 = time.time()
            with bar.stage(label):
                try:
                    checks.extend(fn())
                except Exception as exc:  # noqa: BLE001 - one broken stage must not hide
                    checks.append(error_check(f"{label}: error", group, exc))
            timings[label] = time.time() - t0
        if figures:
            with bar.stage("figures"):
                try:
                    write_figures(ctx, plots, outdir)
                except OSError:
                    raise
                except Exception as exc:  # noqa: BLE001 - a broken figure is a failure
                    checks.append(Check("figures", "output", FAIL, reason=describe(exc)))
    code = 1 if any(c.status == FAIL for c in checks) else 0
    if strict and any(blocking(c) for c in checks):
        code = 1
    counts = {st: sum(c.status == st for c in checks) for st in (PASS, FAIL, WEAK, SKIP)}
    skip_causes = {cause: sum(c.status == SKIP and c.cause == cause for c in checks)
                   for cause in SKIP_CAUSES}
    report = {"model": model.name, "observable": str(ctx.f), "order": order,
              "methods": ctx.method_info, "applicable_methods": ctx.methods,
              "primary_method": ctx.primary, "series_method": ctx.series_method,
              "seed": s.seed, "settings": s.as_dict(),
              "input": f"u_k(t) = {s.input}, every k",
              "checks": [c.as_dict() for c in checks], "summary": counts,
              "skipped_by_cause": skip_causes, "strict": bool(strict), "exit_code": code,
              "timings": timings, "seconds": time.time() - t_start}
    json_path = write_json(report, outdir)
    if print_table:
        print(f"# volterra-sym verify {model.name}: f = {ctx.f}, order {order}, methods "
              f"{', '.join(ctx.methods) or 'none'}; seed {s.seed}, dt {s.dt:g}, "
              f"{'quick' if s.quick else 'full'} run")
        print(table(checks))
        written = [str(json_path)] + ([str(outdir / "kernels.png"),
                                       str(outdir / "residuals.png")] if figures else [])
        print(f"# {summary_line(counts, skip_causes)} in {time.time() - t_start:.1f} s; "
              f"wrote {', '.join(written)}")
    return code, checks
