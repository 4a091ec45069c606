"""Residual slopes of the Galerkin series against CRN Monte Carlo (docs/theory.md §8) for
coupled tanh networks of n = 3, 5 and 8 units (issue 9).

For each network: the Galerkin series terms ``T_0..T_{M+2}`` for ``u_k(t) = sin(2t)`` and
CRN Monte Carlo responses at geometric ε (one run, common random numbers, Richardson-
extrapolated in dt) go through :func:`volterra_sym.verify.series_residuals`, which fits the
log–log slope of ``R_M(ε) = y(ε) − <f>_0 − Σ_{N≤M} ε^N T_N`` over the ε whose residual is
above the Monte Carlo noise floor and where the next order is small; the slope must be the
order of the first non-vanishing omitted term (``M + 1``, or ``M + 2`` where ``T_{M+1}``
vanishes at the chosen time) ± 0.3.

Networks: the built-in ``tanh3`` (n = 3) and ``bench_galerkin_mc.network(n, g)``
(n = 5, 8; non-symmetric ``W = g·N(0,1)/√n``, ``--gain g``, default 1.2), biases replaced
with ``--bias``. Each result records ``nonlinearity``: how far K₁ is from the linearised
network's (issue 9 asks for more than 5 %).

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_galerkin_slopes.py --n 3 5 8

The terms of n = 5, 8 need a degree above the default, where the averaging measure is
sampled (``--degree 7 --galerkin-paths 160000`` at n = 5, ``--degree 4`` at n = 8)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_galerkin_slopes.py --n 5 \
        --bias 0.3 0.8 0.6 -0.5 -0.4 --paths 200000 \
        --eps 0.1 0.1468 0.2154 0.3162 0.4642 0.6813 1.0 --degree 7 \
        --galerkin-paths 160000 --tag _deg7

At n = 8 the M = 3 check passes on the even part (``--parity``) once ``T_2`` is within
``ε²|T_4|``: the responses of ::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_galerkin_slopes.py --n 8 --parity \
        --degree 5 --galerkin-paths 160000 --paths 400000 \
        --eps 0.1 0.1468 0.2154 0.3162 0.4642 0.6813 1.0 --tag _g12_deg5_parity

with the terms on 640,000 samples (``reanalyse_slopes.py --recompute-terms --degree 5
--galerkin-paths 640000 --time-budget 3000``; ``galerkin_slopes_n8_g12_deg5_parity_640k.json``).
With degree-6 terms (``--degree 6 --galerkin-paths 640000 --time-budget 5000``: 480 s,
6.2 GB) ``T_4`` is resolved and closes the range at ε ≈ 0.56; responses at ``--paths 1600000
--eps 0.27 0.32 0.38 0.46 0.56 --seed 11`` (1,715 s) then give 4.02 ± 0.09
(``galerkin_slopes_n8_g12_deg6_parity_1600k.json``, the degree-6 terms spliced in).

M = 3 on the whole residual at n = 8 needs even orders that lead the odd ones: biases that
break the near-odd symmetry of the seed-0 drift while keeping its nonlinearity above 5 %
(5.6 %); with ``sin 2t`` the slope is 3.95 ± 0.05 (2,908 s; docs/theory.md §9)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_galerkin_slopes.py --n 8 \
        --bias 0.075 0.2 0.15 -0.125 -0.1 0.125 -0.175 0.05 --degree 6 \
        --galerkin-paths 640000 --time-budget 3000 --paths 1600000 \
        --eps 0.1 0.13 0.17 0.22 0.28 0.36 0.46 0.58 0.74 0.9 --seed 11 --tag _bq_sin_deg6_1600k

(``--input "tanh(t)**2" --tag _bq_tanh2_deg6_1600k``: M = 1, 2 pass, M = 3 skipped.)

``--levels 3`` runs the CRN paths at dt/4 too and stores the measured O(dt²) remainder of
the two-level responses (``mc_remainder``). A few hundred thousand such paths measure it to
about 1/30 of the response's standard error, so ``merge_slopes.py --remainder-from`` can
subtract it from a large two-level run: the odd part of the n = 5 run above (3.2 million
paths) then passes M = 3 (4.763 ± 0.048; docs/theory.md §9)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_galerkin_slopes.py --n 5 \
        --bias 0.3 0.8 0.6 -0.5 -0.4 --parity --degree 5 --paths 160000 \
        --eps 0.4 0.44 0.5 0.58 0.68 0.8 0.95 --seed 31 --levels 3 --tag _odd_L3_s31
    python benchmarks/merge_slopes.py results/galerkin_slopes_n5_bias_odd_3200k.json \
        --remainder-from results/galerkin_slopes_n5_bias_odd_L3_s31.json \
        results/galerkin_slopes_n5_bias_odd_L3_s32.json \
        --out results/galerkin_slopes_n5_bias_odd_3200k_L3rem.json
    python benchmarks/reanalyse_slopes.py --write \
        results/galerkin_slopes_n5_bias_odd_3200k_L3rem.json

At n = 5, M = 3 passes on the whole residual (3.965 ± 0.062) for a network whose terms come
from the exact Gaussian reference (degree 9, deterministic, errors ≤ 1.8e-5 in 10 s; the
reference serves n = 5 from degree 6 where it fits ``p0``), chosen from a scan of 240 networks
as one that fits it, is 6.4 % nonlinear and has ``|T₄| ≫ |T₅|`` at t = 1.25 (1,898 s)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_galerkin_slopes.py --n 5 --gain 1.2 \
        --net-seed 10 --bias -0.679 0.215 -0.09 -0.436 0.222 --degree 9 --time-budget 3000 \
        --paths 1600000 --eps 0.3 0.35 0.4 0.46 0.53 0.61 0.7 0.81 0.9 1.0 --seed 11 \
        --tag _s10_ref_deg9_1600k

Before that, on terms from samples of ``p0``, no network tried let M = 3 pass on the whole
residual. The one with the
largest T₄/T₅ of a scan of 53 networks, 23 of them above 5 % nonlinearity
(``--net-seed 6``, 19 %, T₄/T₅ ≈ 0.03/0.0066 at t = 3), gives M = 2 2.89 ± 0.09 and leaves
M = 3 skipped: 3 ε above the floor spanning 1.61, with a local slope of 4.4 from T₅
(2,000 s)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_galerkin_slopes.py --n 5 --net-seed 6 \
        --bias 0.346 -0.046 0.691 0.256 -0.102 --degree 9 --galerkin-paths 2560000 \
        --time-budget 5000 --paths 1600000 \
        --eps 0.1 0.13 0.17 0.22 0.28 0.36 0.46 0.58 0.74 0.9 --seed 11 --tag _s6_deg9_2560k

More paths would not close that window: at ε = 0.28 (t = 3) the floor is 1.35e-4 of Monte
Carlo (3 se) plus 1.0e-4 of the engine's errors of T₁…T₃ at degree 9, against a residual of
1.15e-4 — a higher degree is needed. An input with a non-zero mean (``--input "1-cos(2*t)"``,
network of ``--bias 0.3 0.8 0.6 -0.5 -0.4``, degree 7 on 160,000 samples, 200,000 paths,
``--levels 3``, 343 s; ``galerkin_slopes_n5_bias_1mcos_deg7_L3.json``) drives T₄ 40× harder
than sin 2t, but T₅ more: |T₅/T₄| ≈ 2 at t ≥ 2, so the range closes at ε ≈ 0.07 (M = 1 and
M = 2 pass, 1.88 ± 0.10 and 3.06 ± 0.06; M = 3 skipped).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_galerkin_mc import network  # noqa: E402

from volterra_sym import ResponseHierarchy  # noqa: E402
from volterra_sym.cli import parse_input  # noqa: E402
from volterra_sym.model.catalogue import load_model  # noqa: E402
from volterra_sym.montecarlo import crn_responses, parity_matrix, parity_parts  # noqa: E402
from volterra_sym.verify import series_residuals  # noqa: E402
from volterra_sym.verify.mc_series import sine_input  # noqa: E402
from volterra_sym.verify.settings import DEFAULT_INPUT, RICHARDSON_REL  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def model_for(n: int, bias: list[float] | None = None, gain: float = 1.2,
              net_seed: int = 0):
    model = load_model("tanh3") if n == 3 else network(n, gain, net_seed)
    return model if bias is None else model.replace(b=bias[:n] + [0.0] * (n - len(bias)),
                                                    name=f"{model.name}_b")


def paths_needed(model, order: int, times, c: float = 0.042, u=None) -> dict:
    """Paths for a residual 4 se above the noise floor at the best time, from the engine's
    own terms: ``R_M ≈ ε^{a}T_a`` (``a = M + 1``) within the asymptotic range
    ``ε ≤ min(1, 0.15·|T_a/T_{a+1}|)``, CRN noise ``se ≈ c·ε/√P`` (``c`` measured on tanh3:
    se = 9.5e-6 at ε = 0.05 with 50,000 paths); ``u`` the input (default ``sin 2t``)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        T = np.asarray(galerkin_terms(model, order, times, u=u))
    out = {}
    for M in range(2, order + 1):
        a = M + 1
        eps = np.minimum(0.15 * np.abs(T[a]) / np.maximum(np.abs(T[a + 1]), 1e-300), 1.0)
        snr = eps ** (a - 1) * np.abs(T[a]) / c
        j = int(np.argmax(snr))
        out[M] = {"paths": float((4.0 / snr[j]) ** 2), "time": float(times[j]),
                  "eps_max": float(eps[j])}
    return out


def result_rows(out: dict) -> list[dict]:
    """The per-M slope results of :func:`series_residuals` as JSON-ready rows."""
    keep = ("M", "kind", "status", "slope", "slope_stderr", "expected", "time", "message",
            "residual_t", "stderr_t", "used")
    return [{k: (v.tolist() if isinstance(v, np.ndarray) else v)
             for k, v in r.items() if k in keep} for r in out["results"]]


def network_nonlinearity(model) -> float:
    """How far the network is from its linearisation (issue 9 asks > 5 %):
    :func:`bench_galerkin_kick.nonlinearity` of the Galerkin K₁ at 0.25–3 relaxation
    times."""
    from bench_galerkin_kick import K1_LAGS, nonlinearity

    from volterra_sym.density.linearisation import linearisation

    lags = np.array(K1_LAGS) / linearisation(model).rate
    k1 = ResponseHierarchy(model, "h1", 1).kernel((0,)).evaluate(lags[:, None],
                                                                  method="galerkin")
    return nonlinearity(model, k1, lags)


def input_for(model, expr: str | None):
    """``u(t) -> (m,)``: the expression ``expr`` in ``t`` (the CLI's whitelist parser) on
    every channel; ``None`` is ``sin 2t`` (the default of verify's check)."""
    if expr is None:
        return sine_input(model.m)
    return parse_input([expr] * model.m, model.m, t_max=10.0)[0]


def galerkin_terms(model, order: int, times, degree: int | None = None,
                   galerkin_paths: int | None = None, time_budget: float | None = None,
                   u=None):
    """The Galerkin series terms ``T_0..T_{order+2}`` for the input ``u`` (default
    ``sin 2t``; :func:`input_for`) (``SeriesTerms``), at ``degree`` and with
    ``galerkin_paths`` samples of the sampled measure when given (``time_budget``: the
    route's cost limit in seconds)."""
    opts = {k: v for k, v in (("degree", degree), ("paths", galerkin_paths),
                              ("time_budget", time_budget)) if v is not None}
    return ResponseHierarchy(model, "h1", order + 2).series_terms(
        input_for(model, None) if u is None else u, np.asarray(times, dtype=float),
        method="galerkin", **opts)


def series_agreement(T, E, eps, value, stderr, bias, remainder=None,
                     remainder_stderr=None) -> tuple[float, float]:
    """Agreement of the series with the responses (not only the slope): over every time and
    ε, ``max |y − Σ_{N≥1} ε^N T_N|`` and its largest ratio to ``4 se + Σ ε^N err(T_N)`` plus
    the bound on the O(dt²) remainder of the Richardson-extrapolated responses: measured,
    ``max_t(|R₁ − R₂| + 3 se)``, where a third level gave ``remainder`` (verify allows
    ``4 se`` there); else ``0.05·max_t|bias|``, as verify uses it."""
    T, E = np.asarray(T, dtype=float), np.asarray(E, dtype=float)
    eps_a = np.asarray(eps, dtype=float)[:, None]
    full = sum(eps_a ** N * T[N][None, :] for N in range(1, T.shape[0]))
    budget = sum(eps_a ** N * E[N][None, :] for N in range(1, T.shape[0]))
    if remainder is None:
        remainder = RICHARDSON_REL * np.max(np.abs(bias), axis=1, keepdims=True)
    else:
        remainder = np.max(np.abs(np.asarray(remainder))
                           + 3.0 * np.asarray(remainder_stderr), axis=1, keepdims=True)
    diff = np.abs(np.asarray(value) - full)
    return float(diff.max()), float((diff / (4 * np.asarray(stderr) + budget + remainder)).max())


def parity_responses(model, eps, times, paths: int, seed: int, dt: float = 0.01,
                     u=None, levels: int = 2) -> list:
    """CRN responses at every ``ε`` and ``−ε`` on the same paths (one run), as
    ``[(None, whole), ("even", (Δ(ε) + Δ(−ε))/2), ("odd", (Δ(ε) − Δ(−ε))/2)]``, each over
    ``eps``, with standard errors that keep the CRN covariance between ``ε`` and ``−ε``
    (docs/theory.md §8, even and odd parts); ``u`` the input (default ``sin 2t``);
    ``levels=3``: second Richardson step, with the measured remainder of the first."""
    eps = np.asarray(eps, dtype=float)
    mc = crn_responses(model, input_for(model, None) if u is None else u,
                       np.concatenate([eps, -eps]), times,
                       n_paths=paths, dt=dt, seed=seed, combine=parity_matrix(eps.size),
                       levels=levels)
    return list(parity_parts(mc, eps).items())


def run(n: int, order: int, paths: int, eps, seed: int, bias=None,
        degree: int | None = None, galerkin_paths: int | None = None,
        gain: float = 1.2, net_seed: int = 0, parity: bool = False,
        expr: str | None = None, time_budget: float | None = None, levels: int = 2) -> dict:
    model = model_for(n, bias, gain, net_seed)
    nonlin = network_nonlinearity(model)
    print(f"n={n}: K1 differs from the linearised network's by {nonlin:.1%} of its peak",
          flush=True)
    times = np.round(np.arange(0.5, 3.001, 0.25), 10)
    u = input_for(model, expr)              # parsed once per run
    need = paths_needed(model, order, times, u=u)
    for M, v in need.items():
        print(f"n={n} M={M}: about {v['paths']:.2g} paths needed (t = {v['time']:g}, "
              f"ε ≤ {v['eps_max']:.3g})", flush=True)
    t0 = time.perf_counter()
    terms = terms_error = res = None
    if degree is not None or parity:
        # the terms T_0..T_{order+2} at a fixed degree (the default degree's error, ~2e-4 at
        # n = 3, leaves ε·δT_1 in the residual, above ε^4 T_4 at small ε); with the parity
        # parts two more, so that each part's leading residual order has its successor
        # (the asymptotic range of the check)
        res = galerkin_terms(model, order + (2 if parity else 0), times, degree,
                             galerkin_paths, time_budget, u=u)
        terms, terms_error = np.asarray(res), np.asarray(res.error)
        print(f"n={n}: galerkin terms at degree {res.details.get('degree', degree)} in "
              f"{time.perf_counter() - t0:.0f} s, largest error per order "
              f"{np.max(terms_error, axis=1)}", flush=True)
    parts = (parity_responses(model, eps, times, paths, seed, u=u, levels=levels) if parity
             else [(None, None)])
    rows, extra = [], {}
    for part, mc_part in parts:
        out_part = series_residuals(model, "h1", order, eps=eps, times=times, n_paths=paths,
                                    dt=0.01, seed=seed, method="galerkin",
                                    engine_terms=terms, engine_terms_error=terms_error,
                                    mc=mc_part, parity=part, u=u, levels=levels)
        for row in result_rows(out_part):
            row["parity"] = part
            rows.append(row)
        if part is None:
            out = out_part
        else:
            extra[part] = {"mc_value": mc_part.value.tolist(),
                           "mc_stderr": mc_part.stderr.tolist(),
                           "mc_bias": np.asarray(mc_part.bias).tolist()} | _remainder(mc_part)
    wall = time.perf_counter() - t0
    T, E = np.asarray(out["terms"]), np.asarray(out["terms_error"])
    mc = out["mc"]
    max_abs, max_ratio = series_agreement(T, E, eps, mc.value, mc.stderr, mc.bias,
                                          mc.remainder, mc.remainder_stderr)
    return {"n": n, "model": model.name, "gain": gain, "net_seed": net_seed,
            "nonlinearity": nonlin, "order": order,
            "paths": paths, "seed": seed, "eps": list(eps),
            "terms": T.tolist(), "terms_error": E.tolist(), "times": times.tolist(),
            "mc_value": mc.value.tolist(), "mc_stderr": mc.stderr.tolist(),
            "mc_bias": np.asarray(mc.bias).tolist(),
            "series_vs_mc_max_ratio": max_ratio, "series_vs_mc_max_abs": max_abs,
            "method": out["method"], "seconds": wall, "radius": out["radius"],
            "bias": bias, "input": expr or DEFAULT_INPUT, "degree": degree,
            "galerkin_paths": galerkin_paths,
            "galerkin_measure": None if res is None else res.details.get("measure"),
            "paths_needed": need, "parts": extra or None, "levels": levels,
            "results": rows} | _remainder(mc)


def _remainder(mc) -> dict:
    """The measured O(dt²) remainder ``R₁ − R₂`` of a three-level run, as JSON (else {})."""
    if mc.remainder is None:
        return {}
    return {"mc_remainder": mc.remainder.tolist(),
            "mc_remainder_stderr": mc.remainder_stderr.tolist()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[3, 5, 8])
    ap.add_argument("--order", type=int, default=3)
    ap.add_argument("--paths", type=int, default=200_000)
    ap.add_argument("--eps", type=float, nargs="+",
                    default=list(np.round(np.geomspace(0.05, 0.8, 7), 4)))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--bias", type=float, nargs="+", default=None,
                    help="replace b (padded with zeros): a bias off the centre of tanh "
                         "makes the even orders large enough for the M = 3 slope")
    ap.add_argument("--degree", type=int, default=None,
                    help="Galerkin degree of the terms (default: the route's default)")
    ap.add_argument("--galerkin-paths", type=int, default=None,
                    help="samples of p0 of the Galerkin route's sampled measure (n > 5 or "
                         "degrees above the deterministic measure's; with --degree)")
    ap.add_argument("--gain", type=float, default=1.2,
                    help="gain g of W = g·N(0,1)/√n (n = 5, 8)")
    ap.add_argument("--net-seed", type=int, default=0,
                    help="seed of the random W and b of bench_galerkin_mc.network (n = 5, 8)")
    ap.add_argument("--input", default=None, metavar="EXPR",
                    help="input u(t) on every channel, an expression in t (default sin(2*t)); "
                         "an input with a non-zero mean makes the even orders larger")
    ap.add_argument("--time-budget", type=float, default=None,
                    help="the Galerkin route's cost limit in seconds (with --degree; degree 6 "
                         "at n = 8 on 640,000 samples is estimated at about 1,200 s)")
    ap.add_argument("--tag", default="", help="suffix of the result file")
    ap.add_argument("--levels", type=int, choices=(2, 3), default=2,
                    help="time-step levels of the CRN responses: 3 adds dt/4, so that the "
                         "responses are the second Richardson step and the first one's O(dt²) "
                         "remainder is measured (7/3 of the cost per path)")
    ap.add_argument("--parity", action="store_true",
                    help="simulate every ε with −ε on the same paths and check the even and "
                         "odd parts of the residual too (docs/theory.md §8): the even part "
                         "has no first-order fluctuation, which is what hides ε⁴T_4")
    args = ap.parse_args()
    if args.parity and min(args.eps) <= 0:
        ap.error("--parity takes positive ε (−ε is added)")
    if args.galerkin_paths is not None and args.degree is None:
        ap.error("--galerkin-paths needs --degree")
    out = {"OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
           "load": os.getloadavg(), "runs": []}
    for n in args.n:
        r = run(n, args.order, args.paths, args.eps, args.seed, args.bias, args.degree,
                args.galerkin_paths, args.gain, args.net_seed, args.parity, args.input,
                args.time_budget, args.levels)
        for row in r["results"]:
            print(f"n={n} M={row['M']} ({row['parity'] or 'whole'}): {row['status']} "
                  f"{row['message']}", flush=True)
        print(f"n={n}: {r['seconds']:.0f} s, method {r['method']}; series to order "
              f"{len(r['terms']) - 1} vs CRN: max |Δ| {r['series_vs_mc_max_abs']:.3g}, "
              f"max |Δ|/(4se + Σε^N err_N + remainder) = "
              f"{r['series_vs_mc_max_ratio']:.3g}",
              flush=True)
        out["runs"].append(r)
    tag = (f"_n{'_'.join(map(str, args.n))}" + ("" if args.bias is None else "_bias")
           + args.tag)
    path = ROOT / "benchmarks" / "results" / f"galerkin_slopes{tag}.json"
    path.write_text(json.dumps(out, indent=1))
    print("wrote", path)


if __name__ == "__main__":
    main()
