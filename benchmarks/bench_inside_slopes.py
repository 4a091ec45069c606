"""Residual slopes of the spectral series of ``tanh1d_inside`` (1-D tanh, input inside the
activation, docs/theory.md §10) against CRN Monte Carlo responses (issue 12 acceptance).

The spectral terms ``T_0..T_5`` for ``u(t) = sin(2t)`` and the responses of
:func:`volterra_sym.montecarlo.crn_responses` (on the engine of these models: Euler–Maruyama
with the model's own drift ``-Γh + a(Wh + b + εCu)``, Richardson-extrapolated in dt; initial
states from the exact ``p0``) go through :func:`volterra_sym.verify.series_residuals`: per
``M = 1, 2, 3`` the log–log slope of ``R_M(ε) = y(ε) − <f>_0 − Σ_{N≤M} ε^N T_N`` over the ε
whose residual is above the noise floor and where the next order is small; expected ``M + 1``
± 0.3.

``--parity`` runs every ε and −ε on the same paths and also checks the even and odd
parts of the residual (``series_residuals(parity=...)``): the even part has no first-order
pathwise fluctuation, so its noise floor is ``ε²·sd(D2)/√P`` instead of ``ε·sd(D1)/√P``;
the odd part's leading order is ε⁵ for M = 3, where ε⁴ and ε⁵ no longer mix. Terms to
order 7 then (the next order of each parity).

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_inside_slopes.py --paths 1000000
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_inside_slopes.py --paths 4000000 \
        --parity --eps 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9 1.0 --tag _parity
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
from bench_galerkin_slopes import result_rows  # noqa: E402

from volterra_sym import ResponseHierarchy
from volterra_sym.model.catalogue import load_model
from volterra_sym.montecarlo.crn import crn_responses, parity_matrix, parity_parts
from volterra_sym.verify import series_residuals
from volterra_sym.verify.mc_series import sine_input

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tanh1d_inside")
    ap.add_argument("--paths", type=int, default=1_000_000)
    ap.add_argument("--eps", type=float, nargs="+",
                    default=list(np.round(np.geomspace(0.05, 0.8, 7), 4)))
    ap.add_argument("--dt", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--tag", default="", help="suffix of the result file")
    ap.add_argument("--parity", action="store_true",
                    help="simulate ±ε and check the even and odd parts as well")
    args = ap.parse_args()
    model = load_model(args.model)
    times = np.round(np.arange(0.5, 3.001, 0.25), 10)
    u = sine_input(model.m)
    t0 = time.perf_counter()
    terms = ResponseHierarchy(model, "h1", 7 if args.parity else 5).series_terms(
        u, times, method="spectral")
    t_terms = time.perf_counter() - t0
    eps = np.asarray(args.eps, float)
    if args.parity and np.any(eps <= 0):
        ap.error("--parity takes positive ε (−ε is added)")
    E = eps.size
    sim_eps, combine = ((np.concatenate([eps, -eps]), parity_matrix(E)) if args.parity
                        else (eps, None))
    t0 = time.perf_counter()
    everything = crn_responses(model, u, sim_eps, times, n_paths=args.paths, dt=args.dt,
                               scheme="euler", seed=args.seed, chunk_size=50_000,
                               combine=combine)
    parts = parity_parts(everything, eps) if args.parity else {None: everything}
    t_mc = time.perf_counter() - t0
    rows, extra = [], {}
    for parity, mc in parts.items():
        out = series_residuals(model, "h1", 3, eps=eps, times=times, n_paths=args.paths,
                               dt=args.dt, method="spectral", engine_terms=np.asarray(terms),
                               engine_terms_error=np.asarray(terms.error), mc=mc,
                               parity=parity)
        for r in result_rows(out):
            r["parity"] = parity
            rows.append(r)
            print(f"M={r['M']} ({parity or 'whole'}): {r['status']} {r['message']}",
                  flush=True)
        if parity is not None:
            extra[parity] = {"mc_value": mc.value.tolist(), "mc_stderr": mc.stderr.tolist(),
                             "mc_bias": mc.bias.tolist(), "mc_error": mc.error.tolist()}
    mc = parts[None]
    mean, se, bias = mc.value, mc.stderr, mc.bias
    T = np.asarray(terms)
    full = sum(eps[:, None] ** N * T[N][None, :] for N in range(1, T.shape[0]))
    ratio = np.abs(mean - full) / mc.error
    print(f"terms {t_terms:.1f} s, Monte Carlo {t_mc:.0f} s ({args.paths} paths); series to "
          f"order {T.shape[0] - 1} vs CRN: max |Δ|/error = {ratio.max():.3g} (error = 4 se "
          "+ 0.05 max_t|bias|)")
    res = {"model": model.name, "paths": args.paths, "eps": eps.tolist(),
           "times": times.tolist(), "terms": T.tolist(),
           "terms_error": np.asarray(terms.error).tolist(), "mc_value": mean.tolist(),
           "mc_stderr": se.tolist(), "mc_bias": bias.tolist(),
           "mc_error": mc.error.tolist(), "seconds_terms": t_terms,
           "seconds_mc": t_mc, "series_vs_mc_max_ratio": float(ratio.max()),
           "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
           "load": os.getloadavg(), "results": rows, "parts": extra}
    path = ROOT / "benchmarks" / "results" / f"inside_slopes_{model.name}{args.tag}.json"
    path.write_text(json.dumps(res, indent=1))
    print("wrote", path)


if __name__ == "__main__":
    main()
