"""Check group 4: the truncated Volterra series against Monte Carlo (docs/theory.md §8).

The residual ``R_M(ε) = MC response - Σ_{1≤N≤M} ε^N T_N(t)`` for the input of the settings
(``Settings.input``, default ``u_k(t) = sin(2t)``) on every channel at geometric
``ε ∈ [0.05, 0.4]``, from one run of common-random-number paths
(:func:`volterra_sym.montecarlo.crn_responses`: every ε in lockstep with ε = 0, time-step
bias removed per path by Richardson extrapolation ``2·Δ(dt/2) - Δ(dt)``, whose standard
error therefore includes the bias's). ``R_M = O(ε^{M+1})``: the fitted log–log slope must
be ``M+1 ± 0.3`` (the first order ``> M`` whose term does not vanish at the chosen time),
using only the ε whose residual is above the MC noise floor (``3·se``) and where the
engine's higher orders together are at most 15 % of the leading one (so that the slope is
that of the leading order); a slope off ``M+1`` FAILs only over the ε where that holds with
the engine's errors (``|T_N| + err_N`` against ``|T_lead| − err_lead``) — refitted there, or
no verdict (SKIP) if fewer than 3 such ε remain. The time is the one (of a grid) where the
engine predicts the most such ε above the floor. When the truncated series is exact (linear model,
polynomial observable of degree ≤ M) the check is instead
``|R_M| ≤ 4·se + rel·max_t|bias|`` (the responses' ``error``: the second term bounds the
O(dt²) remainder of the Richardson extrapolation, which matters when the response has no
noise at all; ``rel = max(0.05, rate·dt)``, :mod:`volterra_sym.montecarlo.error_bounds`).

Models with the input inside the activation or ``σ(h)`` (docs/theory.md §10–§11) are
simulated by :func:`~volterra_sym.montecarlo.crn_responses` on its Euler–Maruyama engine
for them (two levels only).

The noise floor is ``ε·sd(D1)/√P`` (``D1`` the pathwise derivative of the response), the
``M = 2`` residual ``ε³T_3``: for noisy, weakly nonlinear models the small-ε points drop out
and the check reports SKIP with the reason rather than fit noise.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import sympy as sp

from ..arrays import check_int, real_array
from ..errors import (
    AccuracyNotReachedError,
    InvalidInputError,
    NotApplicableError,
    ResourceLimitError,
)
from ..hierarchy import ResponseHierarchy, check_input, diagnose_series
from ..model import SRNN, check_model
from ..montecarlo import CRNResponses, crn_responses, parity_matrix, parity_parts
from ..montecarlo.crn import check_amplitudes
from .context import Context, fmt
from .settings import (
    DEFAULT_INPUT,
    FAIL,
    NEXT_ORDER,
    NOISE_FLOOR,
    NOT_APPLICABLE,
    PASS,
    REL_FLOOR,
    SKIP,
    SLOPE_TOL,
    SLOPE_Z,
    UNRESOLVED,
    Check,
    Z,
    agreement_status,
    annotate,
    error_check,
    input_on_channels,
    resolution,
)

__all__ = ["series_residuals", "fit_slope", "sine_input", "check_mc_series"]

GROUP = "mc-series"


def sine_input(m: int) -> Callable[[float], np.ndarray]:
    """``u_k(t) = sin(2t)`` on every channel: :data:`~.settings.DEFAULT_INPUT`, the default
    of ``Settings.input`` too."""
    return input_on_channels(DEFAULT_INPUT, m, "input")


def fit_slope(eps, r, se) -> tuple[float, float]:
    """Weighted least-squares slope of ``log|r|`` against ``log ε`` (weights ``(|r|/se)²``,
    the inverse variance of ``log|r|``) and its standard error.

    Needs at least two distinct positive ``ε``, non-zero finite residuals and positive
    finite standard errors (the weights), all of one length (else
    :class:`InvalidInputError`: a slope of NaN or a division by zero is no verdict).

    (The criterion of this check, not an estimator: it stays with verify.)"""
    eps = check_amplitudes(eps)
    r, se = (real_array(a, name, objects=True, finite=False, what="a sequence of numbers")
             for a, name in ((r, "r"), (se, "se")))
    for name, a, ok in (("eps", eps, eps > 0), ("r", r, np.isfinite(r) & (r != 0)),
                        ("se", se, np.isfinite(se) & (se > 0))):
        if a.shape != eps.shape or not np.all(ok):
            kind = "non-zero" if name == "r" else "positive"
            raise InvalidInputError(f"{name} must hold {eps.size} finite {kind} numbers "
                                    f"(one per ε), got {a}", param=name)
    if np.unique(eps).size < 2:
        raise InvalidInputError(f"eps must hold at least two distinct values to fit a slope, "
                                f"got {eps}", param="eps")
    x, y = np.log(eps), np.log(np.abs(r))
    w = (np.abs(r) / se) ** 2
    xm = np.sum(w * x) / np.sum(w)
    ym = np.sum(w * y) / np.sum(w)
    sxx = np.sum(w * (x - xm) ** 2)
    slope = float(np.sum(w * (x - xm) * (y - ym)) / sxx)
    return slope, float(1.0 / math.sqrt(sxx))


def _check_mc(mc: CRNResponses, eps: np.ndarray, times: np.ndarray) -> None:
    """Responses given to :func:`series_residuals` must be those of its ``eps`` and
    ``times`` (a mismatch used to broadcast silently into wrong residuals)."""
    if not isinstance(mc, CRNResponses):
        raise InvalidInputError(f"mc must be the CRNResponses of crn_responses or None, got "
                                f"{type(mc).__name__}", param="mc")
    value = np.asarray(mc.value)
    if value.shape != (eps.size, times.size) or np.shape(mc.stderr) != value.shape:
        raise InvalidInputError(f"mc holds responses of shape {value.shape}, expected "
                                f"(len(eps), len(times)) = ({eps.size}, {times.size})",
                                param="mc")
    for name, have, want in (("times", mc.times, times), ("eps", mc.eps, eps)):
        if not np.allclose(np.asarray(have, float), want, rtol=1e-9, atol=1e-12):
            raise InvalidInputError(f"mc holds responses at {name} {np.asarray(have)}, not at "
                                    f"the {name} {want} asked", param="mc")


def _poly_degree(model: SRNN, f: sp.Expr) -> int | None:
    return model.polynomial_degree(f)


def series_residuals(model: SRNN, observable, order: int, *, eps, times, n_paths: int,
                     dt: float = 0.01, seed=None, method: str = "auto",
                     scheme: str = "exponential", chunk_size: int = 16384,
                     engine_terms: np.ndarray | None = None, mc: CRNResponses | None = None,
                     engine_terms_error: np.ndarray | None = None,
                     parity: str | None = None, extra_orders: int = 2,
                     u: Callable | None = None, levels: int = 2) -> dict:
    """The truncation-error check of docs/theory.md §8 for the input ``ε·u(t)``: ``u(t) ->
    (m,)`` any smooth bounded input (checked as the series route checks it); default
    ``u_k(t) = sin(2t)`` on every channel. ``mc`` and ``engine_terms``, when given, must be
    for the same ``u``.

    Returns a dict with the engine terms ``T_0..T_{order+2}`` (as many as the backend
    gives), the CRN responses and, per ``M = 1..order``, the residuals at the chosen time,
    the fitted slope, the expected slope and a status (``PASS``/``FAIL``/``SKIP``, and
    ``WEAK`` for an exact truncation whose tolerance does not resolve the response,
    :func:`.settings.agreement_status`; a SKIP carries its ``cause``).

    An ε enters the slope fit only where ``|R_M(ε)|`` is above its floor
    ``3·se + Σ_{N≤M} ε^N err(T_N)``: a residual below the engine's own error of the
    subtracted terms measures that error (it scales like ``ε``), not the truncation.
    ``engine_terms_error`` gives that error for ``engine_terms`` (finite; default: none, the
    terms are taken as exact; refused without ``engine_terms``); terms computed here bring
    their own.

    ``parity="even"`` / ``"odd"``: ``mc`` holds the even part ``(y(ε) + y(−ε))/2`` or the
    odd part ``(y(ε) − y(−ε))/2`` of the CRN responses (pathwise, e.g. from
    :func:`~volterra_sym.montecarlo.crn_responses` with ``combine``), and the
    check runs on the same part of the residual, ``Σ_{N>M, N of that parity} ε^N T_N``: the
    expected slope is the first such order. The even part tests ``T_2, T_4, …``, the odd
    part ``T_1, T_3, …``; together they test the whole truncation, and each is free of the
    other parity's pathwise fluctuation (the even part of the first-order one, which is
    what makes the noise floor ``ε·sd(D1)/√P``).

    ``extra_orders``: terms computed here go to ``order + extra_orders`` where the backend
    gives them (fewer otherwise); the orders above ``order`` decide where the residual is
    asymptotic. A part of one parity needs 4 (its leading residual order ``M + 2`` and the
    next of that parity).

    ``levels=3`` (responses run here) or an ``mc`` with a third level (``dt/4``): the
    responses are the second Richardson step and the Monte Carlo's time-step remainder is
    *measured* — ``max_t(|R₁ − R₂| + 4 se)`` per ε (:meth:`CRNResponses.remainder_bound`)
    — and enters the slope check's floor and the exact check's tolerance. With two levels
    the exact check bounds it by ``rel·max_t|bias|`` and the slope check's floor leaves it
    out (docs/theory.md §8).
    """
    if not isinstance(extra_orders, int) or isinstance(extra_orders, bool) \
            or not 0 <= extra_orders <= 6:
        raise InvalidInputError(f"extra_orders must be an integer in 0..6, got "
                                f"{extra_orders!r}", param="extra_orders")
    if parity not in (None, "even", "odd"):
        raise InvalidInputError(f"parity must be None, 'even' or 'odd', got {parity!r}",
                                param="parity")
    check_model(model)
    if engine_terms is None and engine_terms_error is not None:
        raise InvalidInputError("engine_terms_error is the error of engine_terms: give both "
                                "(terms computed here bring their own error)",
                                param="engine_terms_error")

    order = check_int(order, "order", lo=1)

    def of_parity(N: int) -> bool:
        return parity is None or (N % 2 == 0) == (parity == "even")
    eps = check_amplitudes(eps)
    if np.any(eps <= 0):
        raise InvalidInputError(f"eps must be positive (the slope is fitted to log ε), got "
                                f"{eps}", param="eps")
    times = np.atleast_1d(real_array(times, "times", objects=True,
                                     what="a 1-d sequence of finite times ≥ 0"))
    if times.ndim != 1 or times.size == 0 or np.any(times < 0):
        raise InvalidInputError(f"times must be a non-empty 1-d sequence of finite times ≥ 0, "
                                f"got {times}", param="times")
    levels = check_int(levels, "levels", lo=2, hi=3, what="time-step levels of the responses")
    if mc is not None:
        _check_mc(mc, eps, times)
    u = sine_input(model.m) if u is None else check_input(u, model.m)
    f = model.observable(observable) if not isinstance(observable, sp.Basic) else observable
    used_method, terms_error = method, None
    if engine_terms is None:
        err = None
        for extra in range(extra_orders, -1, -1):
            try:
                Hx = ResponseHierarchy(model, f, order + extra)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res = Hx.series_terms(u, times, method=method)
                engine_terms, used_method = np.asarray(res), res.method
                terms_error = res.error
                break
            except (NotApplicableError, ResourceLimitError, AccuracyNotReachedError) as exc:
                err = exc       # order + extra not available: try fewer terms
        if engine_terms is None:
            raise err
    else:
        terms_error = None if engine_terms_error is None else real_array(
            engine_terms_error, "engine_terms_error", objects=True,
            what="finite errors of the terms (broadcastable to engine_terms)")
    T = real_array(engine_terms, "engine_terms", finite=False,
                   what="finite terms T_0..T_N (an array (N+1, len(times)))")
    if T.ndim != 2 or T.shape[0] < 2 or T.shape[1] != times.size \
            or not np.all(np.isfinite(T)):
        raise InvalidInputError(f"engine_terms must be finite terms T_0..T_N (N ≥ 1) at the "
                                f"{times.size} times, shape (N+1, {times.size}); got shape "
                                f"{T.shape}", param="engine_terms")
    avail = T.shape[0] - 1
    try:
        Terr = np.zeros_like(T) if terms_error is None else \
            np.broadcast_to(np.abs(np.asarray(terms_error, dtype=float)), T.shape)
    except (TypeError, ValueError):
        raise InvalidInputError(f"engine_terms_error must be numbers of the shape of the terms "
                                f"{T.shape}", param="engine_terms_error") from None
    if mc is None:
        mc = crn_responses(model, u, eps, times, observable=f, n_paths=n_paths, dt=dt,
                           scheme=scheme, seed=seed, chunk_size=chunk_size, levels=levels)
    y, se = mc.value, mc.stderr                                       # (E, T)
    diag = diagnose_series(T, float(eps.max()))      # every computed order
    inside = np.abs(eps) < diag.radius
    deg = _poly_degree(model, f)
    Tscale = float(np.max(np.abs(T[1:]))) if avail else 0.0
    # bound on the O(dt²) remainder of the Richardson extrapolation (the responses' own,
    # CRNResponses.richardson_bound): max(0.05, rate·dt)·max_t|bias| with two levels; a third
    # level measures it instead (and then the slope check's floor carries it too)
    measured = mc.remainder_bound(Z)
    remainder = mc.richardson_bound(Z)
    if remainder is None:
        raise NotApplicableError(
            f"the responses' time-step remainder is unknown at dt = {mc.dt:g} (rate·dt above "
            "0.5: the measured O(dt) bias does not bound it); lower dt or run levels=3")
    slope_rem = np.zeros_like(remainder) if measured is None else measured
    results = []
    for M in range(1, order + 1):
        sub = [N for N in range(1, M + 1) if of_parity(N)]
        higher = [N for N in range(M + 1, avail + 1) if of_parity(N)]
        S = sum((eps[:, None] ** N * T[N][None, :] for N in sub), np.zeros_like(y))
        R = y - S
        # the engine's error of the subtracted terms: residuals below it are not asymptotic
        eng = sum((eps[:, None] ** N * Terr[N][None, :] for N in sub), np.zeros_like(y))
        res = {"M": M, "parity": parity}
        # the first omitted order of this part (M + 1 for the whole residual)
        first = next(N for N in range(M + 1, M + 3) if of_parity(N))
        if model.is_linear and deg is not None and deg < first:
            # every omitted order of this part vanishes: the truncated series is exact
            floor = REL_FLOOR * max(Tscale, 1e-300)
            tol = Z * se + remainder[:, None] + floor
            ratio = np.abs(R) / tol
            resolved = resolution(tol, y, S)    # tolerance against the response's size
            res.update(kind="exact", residual=R, stderr=se, tol=tol,
                       max_ratio=float(ratio.max()), resolution=resolved,
                       status=agreement_status(bool(np.all(ratio <= 1.0)), resolved),
                       message=annotate(f"truncated series exact (linear model, degree-{deg} "
                                        f"observable): max |R|/tol = {ratio.max():.3g}",
                                        resolved))
            results.append(res)
            continue
        # the leading order of the residual, the ε where it dominates (the engine's higher
        # terms, in absolute value and together, are at most NEXT_ORDER of it: the next order
        # alone is not enough when the one after is larger, e.g. ε⁵T_5 beside ε⁴T_4 near a
        # zero of T_4) and the time to look at. Judged on the terms' values (``asym``) a
        # slope of the leading order passes; a FAIL needs the ε the engine vouches for
        # (``sure``: higher orders as |T_N| + err_N, the leading one as |T_lead| − err_lead):
        # measured on an 8-unit network at degree 5, T_6 = −1.7e-4 ± 2.8e-3 let ε = 1 in,
        # where the higher even orders were ≈ 20 % of ε⁴T_4, and correct terms FAILed with
        # the even-part slope 3.64 for 4
        nz = [N for N in higher if np.max(np.abs(T[N])) > 1e-8 * max(Tscale, 1e-300)]
        lead = nz[0] if nz else first
        asym = np.broadcast_to(inside[:, None], R.shape).copy()
        sure = asym.copy()
        if lead <= avail:
            nxt = [N for N in higher if N > lead]
            if nxt:
                asym &= _leads(eps, T, Terr, lead, nxt, with_errors=False)
                sure &= _leads(eps, T, Terr, lead, nxt, with_errors=True)
            pred = sum(eps[:, None] ** N * T[N][None, :] for N in higher)
            snr = np.abs(pred) / np.maximum(se + (eng + slope_rem[:, None]) / NOISE_FLOOR,
                                            1e-300)
            good = asym & (snr >= NOISE_FLOOR + 1.0)

            def key(t, good=good, snr=snr):
                g = good[:, t]
                n = int(g.sum())
                span = eps[g].max() / eps[g].min() if n else 0.0
                return (n >= 3 and span >= 2.0, n, float(np.sum(np.log(snr[g, t]))),
                        float(np.max(snr[:, t])))
            j = max(range(R.shape[1]), key=key)
            expected = next((N for N in higher
                             if abs(T[N, j]) > 1e-8 * max(Tscale, 1e-300)), lead)
        else:
            j = int(np.argmax(np.abs(R[-1]) / np.maximum(se[-1], 1e-300)))
            expected = first
        r, s = R[:, j], se[:, j]
        floor = NOISE_FLOOR * s + eng[:, j] + slope_rem
        above = (np.abs(r) > floor) & asym[:, j]
        below_engine = (np.abs(r) > NOISE_FLOOR * s + slope_rem) & ~(np.abs(r) > floor) \
            & asym[:, j]
        cut = "" if asym[:, j].all() else \
            (f"; ε ≥ {eps[~asym[:, j]].min():.3g} left out (higher orders > "
             f"{NEXT_ORDER:g} of leading)")
        if below_engine.any():
            cut += (f"; {int(below_engine.sum())} ε with the residual inside the engine's own "
                    "error of the subtracted terms left out")
        res.update(kind="slope", time=float(mc.times[j]), time_index=j, residual_t=r,
                   stderr_t=s, floor_t=floor, used=above, asymptotic=asym[:, j],
                   vouched=sure[:, j], expected=expected,
                   predicted_t=sum(eps ** N * T[N, j] for N in higher) if higher else None)
        part = "" if parity is None else f"{parity} part: "
        at = f"{expected} at t={mc.times[j]:g}"
        narrow = above & sure[:, j]
        if _spans(eps, above):
            slope, status = _fit_into(res, eps, r, s, above, expected, part, at, cut)
            if status != PASS and not np.array_equal(narrow, above):
                # off the expected slope over ε the engine does not vouch for: a FAIL needs
                # the ε it does vouch for, else the verdict is unknown (and a slope left
                # open by the fit's noise is refitted there too, to name the real limit)
                beyond = (f"; over all {int(above.sum())} ε above the floor the slope was "
                          f"{slope:.3f}, but for ε ≥ {eps[above & ~sure[:, j]].min():.3g} "
                          f"the higher orders, with the engine's errors, may exceed "
                          f"{NEXT_ORDER:g} of T_{lead} less its error")
                if _spans(eps, narrow):
                    _fit_into(res, eps, r, s, narrow, expected, part, at, cut + beyond)
                else:
                    res.update(slope=None, slope_stderr=None, status=SKIP, cause=UNRESOLVED,
                               message=f"{part}no verdict{beyond}; the engine vouches for "
                                       f"the leading order at only {int(narrow.sum())} of "
                                       "them (need ≥ 3 spanning a factor 2): a more "
                                       "accurate engine (degree, tol) resolving "
                                       f"T_{lead} and beyond is needed")
        else:
            res.update(slope=None, slope_stderr=None, status=SKIP, cause=UNRESOLVED,
                       message=f"{part}residual above the floor ({NOISE_FLOOR:g} se + engine "
                               f"error) at only "
                               f"{int(above.sum())}/{len(eps)} ε values at t={mc.times[j]:g} "
                               f"(need ≥ 3 spanning a factor 2){cut}: " + (
                                   "the engine's error of the subtracted terms is above the "
                                   "Monte Carlo noise, a more accurate engine (degree, tol) "
                                   "is needed" if np.median(eng[:, j] - NOISE_FLOOR * s) > 0
                                   else "more paths needed"))
        results.append(res)
    return {"method": used_method, "terms": T, "terms_error": terms_error, "mc": mc,
            "results": results,
            "richardson_remainder_bound": remainder,
            "richardson_remainder_measured": measured is not None, "radius": diag.radius,
            "diagnostic": diag.message, "inside_radius": inside}


def _leads(eps: np.ndarray, T: np.ndarray, Terr: np.ndarray, lead: int, nxt: list[int],
           with_errors: bool) -> np.ndarray:
    """``(E, times)``: where ``ε^lead T_lead`` leads the omitted orders,
    ``Σ_{N ∈ nxt} ε^{N−lead} |T_N| ≤ NEXT_ORDER·|T_lead|`` — ``with_errors`` the range the
    engine vouches for: ``|T_N| + err_N`` and ``|T_lead| − err_lead``."""
    k = 1.0 if with_errors else 0.0
    rest = sum(eps[:, None] ** (N - lead) * (np.abs(T[N]) + k * Terr[N])[None, :] for N in nxt)
    return rest <= NEXT_ORDER * np.maximum(np.abs(T[lead]) - k * Terr[lead], 0.0)[None, :]


def _spans(eps: np.ndarray, mask: np.ndarray) -> bool:
    """At least 3 of ``eps`` in ``mask``, spanning a factor 2 (what a slope fit needs)."""
    return bool(mask.sum() >= 3 and eps[mask].max() / eps[mask].min() >= 2.0)


def _slope_verdict(eps: np.ndarray, r: np.ndarray, s: np.ndarray, mask: np.ndarray,
                   expected: int) -> tuple[float, float, str]:
    """The log–log slope of ``r`` over ``eps[mask]`` (:func:`fit_slope`), its standard
    error, and PASS if it is within ``SLOPE_TOL`` of ``expected``, FAIL if it is off by
    more than ``SLOPE_TOL + SLOPE_Z·se``, else SKIP (the fit's own noise leaves it open)."""
    slope, slope_se = fit_slope(eps[mask], r[mask], s[mask])
    off = abs(slope - expected)
    return slope, slope_se, (PASS if off <= SLOPE_TOL else
                             FAIL if off > SLOPE_TOL + SLOPE_Z * slope_se else SKIP)


def _fit_into(res: dict, eps: np.ndarray, r: np.ndarray, s: np.ndarray, mask: np.ndarray,
              expected: int, part: str, at: str, tail: str) -> tuple[float, str]:
    """The slope over ``eps[mask]`` and its verdict (:func:`_slope_verdict`) written into
    ``res`` (``slope``, ``slope_stderr``, ``used``, ``status``, ``message``; ``cause``
    unresolved for a slope its own noise leaves open); returns ``(slope, status)``."""
    slope, slope_se, status = _slope_verdict(eps, r, s, mask, expected)
    res.pop("cause", None)
    res.update(slope=slope, slope_stderr=slope_se, used=mask, status=status,
               message=part + _fit_message(eps, mask, slope, slope_se, at, tail))
    if status == SKIP:
        res.update(cause=UNRESOLVED, message=res["message"] + _noisy_slope(slope_se))
    return slope, status


def _noisy_slope(slope_se: float) -> str:
    """Why a slope off by more than SLOPE_TOL has no verdict."""
    return (f": no verdict — off by more than {SLOPE_TOL:g} but not by more than "
            f"{SLOPE_TOL:g} + {SLOPE_Z:g} se = {SLOPE_TOL + SLOPE_Z * slope_se:.3g}; more "
            "paths (or more ε above the floor) needed")


def _fit_message(eps: np.ndarray, mask: np.ndarray, slope: float, slope_se: float, at: str,
                 tail: str) -> str:
    """``slope ± se vs <at> from k/E ε in [lo, hi]<tail>``."""
    return (f"slope {slope:.3f} ± {slope_se:.2g} vs {at} from {int(mask.sum())}/{len(eps)} "
            f"ε in [{eps[mask].min():.3g}, {eps[mask].max():.3g}]{tail}")


def _responses(ctx: Context) -> dict[str | None, CRNResponses | None]:
    """The CRN responses of the check, by part: ``{None: whole}`` — ``None`` for an
    additive-input model without ``--parity`` (:func:`series_residuals` runs
    :func:`~volterra_sym.montecarlo.crn_responses` itself) — or, with ``settings.parity``,
    ``{None, "even", "odd"}`` from every ε run with −ε on the same paths
    (:func:`~volterra_sym.montecarlo.parity_parts`). Models with the input inside the
    activation or ``σ(h)`` (docs/theory.md §10–§11) always run here, on
    :func:`~volterra_sym.montecarlo.crn_responses`' Euler–Maruyama engine for them (the
    model's own drift and noise, Richardson-extrapolated in ``dt``)."""
    s, u = ctx.settings, ctx.u
    eps, times = np.asarray(s.eps, float), np.asarray(s.times, float)
    sim, combine = ((np.concatenate([eps, -eps]), parity_matrix(eps.size)) if s.parity
                    else (eps, None))
    if not (ctx.model.features or s.parity):
        return {None: None}
    noisy = bool(ctx.model.features)         # the in-process engine of §10–§11 models
    mc = crn_responses(ctx.model, u, sim, times, observable=ctx.f, n_paths=s.series_paths,
                       dt=s.dt, scheme="euler" if noisy else s.scheme, seed=s.seed + 10,
                       chunk_size=min(s.chunk_size, s.series_paths) if noisy
                       else s.chunk_size, combine=combine, levels=s.levels)
    return parity_parts(mc, eps) if s.parity else {None: mc}


def check_mc_series(ctx: Context, plots: dict, progress=None) -> list[Check]:
    """The truncation-error check (module docstring) with the settings of ``ctx``."""
    s = ctx.settings
    if ctx.series_method is None:
        return [Check("MC: series residual", GROUP, SKIP, cause=NOT_APPLICABLE,
                      reason="no backend gives series terms for this model (exact: linear "
                             "model and polynomial observable; spectral: n ≤ 2)")]
    if progress is not None:
        progress(f"MC series: CRN responses at {len(s.eps)} ε"
                 + (" and −ε" if s.parity else "")
                 + f" ({s.series_paths} paths, dt={s.dt:g}, dt/2"
                 + (", dt/4)" if s.levels == 3 else ")"))
    outs = {}
    try:
        for part, mc in _responses(ctx).items():
            known = {} if not outs else {"engine_terms": outs[None]["terms"],
                                         "engine_terms_error": outs[None]["terms_error"]}
            outs[part] = series_residuals(
                ctx.model, ctx.f, ctx.order, eps=s.eps, times=s.times,
                n_paths=s.series_paths, dt=s.dt, seed=s.seed + 10, method=ctx.series_method,
                scheme=s.scheme, chunk_size=s.chunk_size, mc=mc, parity=part,
                extra_orders=4 if s.parity else 2, u=ctx.u, levels=s.levels, **known)
    except Exception as exc:  # noqa: BLE001 - status by type
        return [error_check("MC: series residual", GROUP, exc)]
    plots["series"] = outs[None]
    checks = []
    for part, out in outs.items():
        checks += _series_checks(out, s, "" if part is None else f", {part} part")
    return checks


def _series_checks(out: dict, s, suffix: str) -> list[Check]:
    """One check per ``M`` from the result of :func:`series_residuals`; ``suffix`` names
    the part (even, odd) in the check's name."""
    mc = out["mc"]
    checks = []
    for res in out["results"]:
        M = res["M"]
        data = {"method": out["method"], "eps": mc.eps, "times": mc.times,
                "n_paths": mc.n_paths, "dt": mc.dt, "scheme": mc.scheme,
                "seed": s.seed + 10, "radius": out["radius"], "seconds": mc.seconds,
                "terms": out["terms"], "terms_error": out["terms_error"],
                "mc_response": mc.value, "mc_stderr": mc.stderr, "mc_bias": mc.bias,
                "mc_levels": mc.levels, "mc_remainder": mc.remainder,
                "richardson_remainder_bound": out["richardson_remainder_bound"]}
        data.update({k: v for k, v in res.items() if k not in ("M", "cause")})
        if res["kind"] == "exact":
            checks.append(Check(f"MC: series residual M={M} (exact truncation{suffix})", GROUP,
                                res["status"], value=f"max |R|/tol = {fmt(res['max_ratio'])}",
                                tolerance="4se + " + (
                                    "max|R₁ − R₂| + 4se(R₁ − R₂)" if mc.remainder is not None
                                    else f"{mc.richardson_rel:.3g}·max|bias|"),
                                reason=res["message"], data=data))
        else:
            val = "slope " + (fmt(res["slope"]) if res["slope"] is not None else "n/a")
            checks.append(Check(f"MC: series residual M={M} (slope{suffix})", GROUP,
                                res["status"], value=val,
                                tolerance=f"{res['expected']} ± {SLOPE_TOL:g}",
                                reason=res["message"], data=data,
                                cause=res.get("cause", "")))
    return checks


